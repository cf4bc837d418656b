# Project-wide pytest configuration.
import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

# Tests compare results computed here with those of thread pools and dask
# workers bit for bit.  Older OpenBLAS builds (numpy 1.24's) sum in an order
# that depends on how many BLAS threads run, so the comparison is only fair
# with the same BLAS threading everywhere: one thread, here (threadpoolctl)
# and in worker processes started by the tests (the environment).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
try:
    from threadpoolctl import threadpool_limits as _threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl is required
    pass
else:
    _BLAS_LIMIT = _threadpool_limits(limits=1, user_api="blas")

# docs/conf.py is Sphinx configuration, not a module with doctests.
collect_ignore = ["docs/conf.py"]
collect_ignore_glob = ["docs/_build/*", "docs/api/*", "build/*", "benchmarks/*"]

# Property tests draw the same examples on every run (a failure can be
# replayed, and the suite never passes or fails by the luck of the draw);
# HYPOTHESIS_PROFILE=explore searches afresh each time.
try:
    from hypothesis import settings as _hypothesis_settings
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass
else:
    _hypothesis_settings.register_profile("psfkit", derandomize=True,
                                          database=None)
    _hypothesis_settings.register_profile("explore", derandomize=False)
    _hypothesis_settings.load_profile(
        os.environ.get("HYPOTHESIS_PROFILE", "psfkit"))

#: With PSFKIT_REQUIRE_PEERS=1 (set by CI, which installs the ``compare``
#: extra), a test skipped because an optional package is missing fails
#: instead: the comparisons with photutils, scikit-learn and stcal must
#: really run there.
REQUIRE_PEERS = os.environ.get("PSFKIT_REQUIRE_PEERS", "") not in ("", "0")


def _fail_missing_peer(report):
    """Turn a skip for a missing optional package into a failure."""
    if not (REQUIRE_PEERS and report.skipped):
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    if "could not import" in reason:
        report.outcome = "failed"
        report.longrepr = (f"PSFKIT_REQUIRE_PEERS is set but the test was "
                           f"skipped: {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_missing_peer(outcome.get_result())


# a module-level ``pytest.importorskip`` skips the whole module while it is
# collected, before any test runs
@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_missing_peer(outcome.get_result())


def pytest_report_header(config):
    return [f"psfkit: peer comparisons required: {REQUIRE_PEERS}"]
