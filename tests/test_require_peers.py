"""
With PSFKIT_REQUIRE_PEERS=1 (as CI runs), a test skipped because an
optional package is missing fails, whether the skip comes from inside a
test or from a module-level ``pytest.importorskip`` while the module is
collected.
"""

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

ROOT = Path(__file__).parents[1]

INSIDE = '''
import pytest


def test_peer():
    pytest.importorskip("psfkit_no_such_peer")
'''
MODULE_LEVEL = '''
import pytest

pytest.importorskip("psfkit_no_such_peer")


def test_peer():
    pass
'''


def _run(tmp_path, source, require):
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_peer.py").write_text(source)
    env = dict(os.environ, PSFKIT_REQUIRE_PEERS="1" if require else "0")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "no:randomly", "-p", "no:xdist", "test_peer.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout


@pytest.mark.parametrize("source", [INSIDE, MODULE_LEVEL],
                         ids=["in-test", "module-level"])
def test_missing_peer_fails_when_required(tmp_path, source):
    code, out = _run(tmp_path, source, require=True)
    assert code != 0, out
    assert "PSFKIT_REQUIRE_PEERS is set but the test was skipped" in out
    # without it the skip stays a skip (exit status 5 when the whole module
    # was skipped: no test collected)
    code, out = _run(tmp_path, source, require=False)
    assert code in (0, 5), out
    assert "1 skipped" in out
