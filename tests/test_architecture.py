"""
The layout rules of docs/architecture.rst, enforced on the import
statements of every module of psfkit (parsed, not executed; imports inside
functions count as much as those at the top of a module).

    command line (cli, _commands)
      -> demo report (demo)
        -> subpackages (photometry, modelsets, diffim, fitpsf), fitsio
          -> foundation (utils, _numerics)
    datasets -> foundation only
"""

import ast
from pathlib import Path

import pytest

import psfkit

ROOT = Path(psfkit.__file__).parent

ALGORITHMS = {"photometry", "modelsets", "diffim", "fitpsf"}
FOUNDATION = {"utils", "_numerics", "version"}
COMMAND_LINE = {"cli", "_commands"}


def _modules():
    """Dotted module name -> (path, is_package) for every file of psfkit."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = ["psfkit", *path.relative_to(ROOT).with_suffix("").parts]
        package = parts[-1] == "__init__"
        if package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, package)
    return found


MODULES = _modules()


def _targets(module, package, node):
    """The psfkit modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = module.split(".") if package else module.split(".")[:-1]
        if node.level:
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module
        # 'from package import submodule' loads the submodule
        names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES
                 else source for alias in node.names]
    for name in names:
        if name == "psfkit" or name.startswith("psfkit."):
            while name not in MODULES:
                name = name.rsplit(".", 1)[0]
            yield name


def _graph():
    graph = {}
    for module, (path, package) in MODULES.items():
        edges = graph.setdefault(module, {})
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(module, package, node):
                    if target != module:
                        edges.setdefault(target, node.lineno)
    return graph


GRAPH = _graph()


def _part(module):
    """The top-level part of psfkit a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "psfkit"


def _edges():
    for module, targets in GRAPH.items():
        for target, line in targets.items():
            yield module, target, line


def _describe(bad):
    return "\n".join(f"{m} (line {line}) imports {t}" for m, t, line in bad)


def test_graph_is_complete():
    # the parser sees the imports it must see (a broken resolver would let
    # every rule below pass vacuously)
    assert "psfkit.utils" in GRAPH["psfkit.datasets.gaussians"]
    assert "psfkit._numerics.gaussian" in GRAPH["psfkit.datasets.gaussians"]
    assert "psfkit.demo" in GRAPH["psfkit._commands.demo"]
    assert len(GRAPH) > 80


def test_no_import_cycles():
    # Tarjan's strongly connected components of the whole import graph
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize(("layer", "allowed"), [
    # simulators depend only on the foundation
    ("datasets", FOUNDATION | {"datasets"}),
    # the foundation depends on nothing above it
    ("utils", FOUNDATION),
    ("_numerics", FOUNDATION),
    # FITS input and output serve the command line and scripts alike
    ("fitsio", FOUNDATION | {"fitsio"}),
])
def test_layer_imports_only_below(layer, allowed):
    bad = [(m, t, line) for m, t, line in _edges()
           if _part(m) == layer and _part(t) not in allowed]
    assert not bad, _describe(bad)


def test_algorithms_do_not_import_upper_layers():
    upper = {"demo", "datasets"} | COMMAND_LINE
    bad = [(m, t, line) for m, t, line in _edges()
           if _part(m) in ALGORITHMS and _part(t) in upper]
    assert not bad, _describe(bad)


def test_only_the_command_line_imports_the_demo():
    bad = [(m, t, line) for m, t, line in _edges()
           if _part(t) == "demo" and _part(m) not in COMMAND_LINE | {"demo"}]
    assert not bad, _describe(bad)


def test_nothing_imports_the_command_line():
    bad = [(m, t, line) for m, t, line in _edges()
           if _part(t) in COMMAND_LINE and _part(m) not in COMMAND_LINE]
    assert not bad, _describe(bad)


def test_no_private_module_of_another_subpackage():
    # psfkit._numerics is the shared private core, open to every part;
    # any other private module is private to its own subpackage
    bad = []
    for module, target, line in _edges():
        parts = target.split(".")
        private = [i for i, p in enumerate(parts[2:], start=2) if p.startswith("_")]
        if private and _part(module) != _part(target):
            bad.append((module, target, line))
    assert not bad, _describe(bad)


@pytest.mark.parametrize("package", [
    "psfkit.photometry", "psfkit.modelsets", "psfkit.diffim", "psfkit.fitpsf",
    "psfkit.datasets", "psfkit.utils", "psfkit.fitsio", "psfkit.demo",
    "psfkit.photometry.plotting", "psfkit.modelsets.plotting",
    "psfkit.diffim.plotting", "psfkit.fitpsf.plotting",
])
def test_public_names_are_defined_in_public_modules(package):
    # a reader finds a public class or function in a module whose name does
    # not start with "_" (SourceTable and KernelChoice used to live in
    # private ones)
    import importlib

    module = importlib.import_module(package)
    bad = []
    for name in module.__all__:
        home = getattr(getattr(module, name), "__module__", None) or ""
        if home.startswith("psfkit.") and any(
                part.startswith("_") for part in home.split(".")[1:]):
            bad.append(f"{package}.{name} is defined in {home}")
    assert not bad, "\n".join(bad)
