"""
Checks of the port of photutils' PSF photometry tests: the copied tests
are photutils' own, changed in their imports only, none is missing, and the
ones that cannot pass are the ones the docs list.
"""

import ast
from pathlib import Path
import re

from photutils_psfphot_port import PORT_XFAILS
import pytest

HERE = Path(__file__).parent
DOCS = HERE.parents[1] / "docs" / "photometry" / "psf_photometry.rst"
SHIM = HERE / "photutils_psfphot_port.py"

#: photutils' test file -> the psfkit modules holding its copied tests
PORTED = {
    "test_photometry.py": [
        "test_psfphotometry_photutils_cases.py",
        "test_psfphotometry_photutils_cases_params.py",
        "test_psfphotometry_photutils_cases_bounds.py",
        "test_psfphotometry_photutils_cases_results.py",
    ],
    "test_iterative.py": ["test_iterative_psfphotometry_photutils_cases.py"],
}
#: the definitions photutils' test files share, copied once into the shared
#: module (test_iterative.py's fixture and mock finder under new names,
#: since test_photometry.py has different ones of the same names)
SHARED = {
    "test_photometry.py": {name: name for name in (
        "fixture_test_data", "make_mock_finder", "FINDER_COLUMN_NAMES",
        "_compare_lists_with_arrays")},
    "test_iterative.py": {"fixture_iterative_test_data": "fixture_test_data",
                          "make_iterative_mock_finder": "make_mock_finder",
                          "FINDER_COLUMN_NAMES": "FINDER_COLUMN_NAMES"},
}
#: the one line inside a test body that imports from photutils
IMPORT_CHANGES = {"from photutils.psf.flags import decode_psf_flags":
                  "from psfkit.photometry import decode_psf_flags"}


def _definitions(path):
    """Top-level functions and assignments of a file: name -> source text."""
    text = Path(path).read_text()
    lines = text.splitlines()
    found = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef):
            name = node.name
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0],
                                                          ast.Name):
            name = node.targets[0].id
        else:
            continue
        first = min([node.lineno]
                    + [d.lineno for d in getattr(node, "decorator_list", [])])
        found[name] = "\n".join(lines[first - 1:node.end_lineno])
    return found


def _photutils_tests():
    pytest.importorskip("photutils")
    import photutils

    if photutils.__version__ != "3.0.0":
        pytest.skip(f"the port copies photutils 3.0.0's tests; photutils "
                    f"{photutils.__version__} is installed")
    return Path(photutils.__file__).parent / "psf" / "tests"


@pytest.mark.parametrize("source", sorted(PORTED))
def test_copied_verbatim_and_complete(source):
    original = _definitions(_photutils_tests() / source)
    shim = _definitions(SHIM)
    copied = {new: shim[old].replace(old, new, 1)
              for old, new in SHARED[source].items()}
    for module in PORTED[source]:
        for name, text in _definitions(HERE / module).items():
            assert name not in copied, f"{name} is copied twice"
            copied[name] = text
    assert sorted(copied) == sorted(original)
    for name, text in original.items():
        for old, new in IMPORT_CHANGES.items():
            text = text.replace(old, new)
        assert copied[name] == text, f"{name} differs from photutils' {source}"


def _documented_section():
    text = DOCS.read_text()
    match = re.search(r"\nphotutils tests that do not pass\n-+\n(.*?)"
                      r"\n[^\s][^\n]*\n[-=]+\n", text, re.S)
    assert match, f"{DOCS.name} has no section 'photutils tests that do not pass'"
    return match.group(1)


def test_docs_list_the_xfails():
    section = _documented_section()
    listed = set(re.findall(r"^``(test_\w+\.py::test_\w+(?:\[[^\]]*\])?)``",
                            section, re.M))
    source_of = {module: source for source, modules in PORTED.items()
                 for module in modules}
    expected = set()
    for key in PORT_XFAILS:
        module, test = key.split("::")
        expected.add(f"{source_of[module]}::{test}")
    assert listed == expected
