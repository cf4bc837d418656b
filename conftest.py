# Project-wide pytest configuration.
import os

os.environ.setdefault("MPLBACKEND", "Agg")

# docs/conf.py is Sphinx configuration, not a module with doctests.
collect_ignore = ["docs/conf.py"]
collect_ignore_glob = ["docs/_build/*", "docs/api/*", "build/*", "benchmarks/*"]
