"""A small dask.distributed cluster shared by the scaling tests."""

import pytest


@pytest.fixture(scope="session")
def client():
    """Two single-threaded worker processes, started once and closed."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True,
                                  threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as dask_client:
        yield dask_client
