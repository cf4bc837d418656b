# Sphinx configuration for the psfkit documentation.
import datetime
import glob
import inspect
import os

import psfkit

project = "psfkit"
author = "The psfkit developers"
copyright = f"{datetime.date.today().year}, {author}"  # noqa: A001
version = psfkit.__version__
release = psfkit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
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
# class pages list the methods a class inherits (for example the
# photometry classes' run/__call__ from their base classes)
automodsumm_inherited_members = True
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

# Links into the Python, NumPy, SciPy, astropy and matplotlib docs.  The
# build never needs the network: each project's inventory is read from a
# local copy when one is installed (Debian's python3-doc, python-*-doc
# packages, or files placed in docs/_inventories/), and a project without
# one is left out, its names shown as plain text.  Set
# PSFKIT_INTERSPHINX_ONLINE=1 to fetch every inventory from its site.
_INTERSPHINX = {
    "python": ("https://docs.python.org/3/",
               ["/usr/share/doc/python3*/html/objects.inv"]),
    "numpy": ("https://numpy.org/doc/stable/",
              ["/usr/share/doc/python-numpy*/html/objects.inv"]),
    "scipy": ("https://docs.scipy.org/doc/scipy/",
              ["/usr/share/doc/python-scipy-doc/html/objects.inv"]),
    "astropy": ("https://docs.astropy.org/en/stable/",
                ["/usr/share/doc/python-astropy-doc/html/objects.inv"]),
    "matplotlib": ("https://matplotlib.org/stable/",
                   ["/usr/share/doc/python-matplotlib-doc/html/objects.inv"]),
}
_here = os.path.dirname(os.path.abspath(__file__))
_online = os.environ.get("PSFKIT_INTERSPHINX_ONLINE", "") not in ("", "0")
intersphinx_mapping = {}
for _name, (_url, _patterns) in _INTERSPHINX.items():
    _found = sorted(glob.glob(os.path.join(_here, "_inventories", f"{_name}.inv")))
    for _pattern in _patterns:
        _found += sorted(glob.glob(_pattern))
    if _online:
        intersphinx_mapping[_name] = (_url, None)
    elif _found:
        intersphinx_mapping[_name] = (_url, _found[0])
intersphinx_timeout = 10


def _unavailable_inventory(app, env, node, contnode):
    """
    Show a reference into a project whose inventory is not available here
    (``:ref:`astropy:...``` in an inherited astropy docstring) as plain
    text instead of failing the build.
    """
    target = node.get("reftarget", "")
    project = target.split(":", 1)[0] if ":" in target else None
    if project in _INTERSPHINX and project not in intersphinx_mapping:
        return contnode
    return None


def _builtin_docstring(app, what, name, obj, options, lines):
    """
    Members inherited from Python's built-in types (``int.to_bytes`` on a
    flag enum) carry docstrings that are not reStructuredText: name the
    origin instead.
    """
    if inspect.isbuiltin(obj) or inspect.ismethoddescriptor(obj):
        lines[:] = [f"Inherited from Python's built-in ``{name.rsplit('.', 1)[-1]}``."]


def setup(app):
    app.connect("missing-reference", _unavailable_inventory)
    app.connect("autodoc-process-docstring", _builtin_docstring)

# substitutions used in the docstrings of astropy classes that psfkit's
# classes inherit (astropy's own docs define them the same way)
rst_epilog = """
.. |Table| replace:: :class:`~astropy.table.Table`
.. |QTable| replace:: :class:`~astropy.table.QTable`
.. |Quantity| replace:: :class:`~astropy.units.Quantity`
.. |Row| replace:: :class:`~astropy.table.Row`
"""
