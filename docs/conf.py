# Sphinx configuration for the psfkit documentation.
import datetime

import psfkit

project = "psfkit"
author = "The psfkit developers"
copyright = f"{datetime.date.today().year}, {author}"  # noqa: A001
version = psfkit.__version__
release = psfkit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_automodapi.automodapi",
    "sphinx_automodapi.smart_resolver",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
    "pytest_doctestplus.sphinx.doctestplus",
]

exclude_patterns = ["_build"]
default_role = "obj"
templates_path = []

# automodapi / numpydoc
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
automodapi_toctreedirnm = "api"
automodapi_inheritance_diagram = False
automodsumm_inherited_members = False
autodoc_typehints = "none"

# plots in the docs are run at build time
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 90)]
plot_rcparams = {"figure.figsize": (6, 4.5)}

html_theme = "alabaster"
html_static_path = []
html_title = f"psfkit {release}"
