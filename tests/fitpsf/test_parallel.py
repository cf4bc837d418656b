"""map_remove_psf with serial, thread, process and dask execution."""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
import pickle

import numpy as np
import pytest

from psfkit.fitpsf import LOCI, map_remove_psf


class SmallLOCI(LOCI):
    sector_radius_n = 3
    sector_phi = 6
    dilation_region = 3


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    base = rng.normal(size=(6, 24, 26))
    images = [base[:3].sum(0) + 0.1 * rng.normal(size=(24, 26))
              for _ in range(4)]
    images[2] = np.ma.MaskedArray(images[2], mask=np.zeros((24, 26), bool))
    images[2].mask[3:6, 4:9] = True
    expected = [SmallLOCI(base, im).remove_psf() for im in images]
    return base, images, expected


def _check(result, expected):
    assert len(result) == len(expected)
    for r, e in zip(result, expected, strict=True):
        assert isinstance(r, np.ma.MaskedArray)
        np.testing.assert_allclose(r, e, rtol=0, atol=1e-10)
        assert np.array_equal(np.ma.getmaskarray(r), np.ma.getmaskarray(e))


def test_serial_both_paradigms(data):
    base, images, expected = data
    _check(map_remove_psf(SmallLOCI(base), images), expected)
    _check(map_remove_psf(SmallLOCI(base), images, chunksize=3), expected)
    _check(map_remove_psf([SmallLOCI(base, im) for im in images]), expected)
    assert map_remove_psf(SmallLOCI(base), []) == []


def test_thread_pool(data):
    base, images, expected = data
    fitter = SmallLOCI(base)
    with ThreadPoolExecutor(2) as pool:
        _check(map_remove_psf(fitter, images, executor=pool), expected)
        _check(map_remove_psf([SmallLOCI(base, im) for im in images],
                              executor=pool), expected)
    # the shared fitter was not changed by the threads
    assert fitter.image is None


def test_process_pool(data):
    base, images, expected = data
    with ProcessPoolExecutor(2) as pool:
        _check(map_remove_psf(SmallLOCI(base), images, executor=pool,
                              chunksize=2), expected)
        _check(map_remove_psf([SmallLOCI(base, im) for im in images],
                              executor=pool), expected)


@pytest.mark.parametrize("kind", ["threads", "process pool"])
def test_warnings_of_workers_reach_the_caller(kind):
    from psfkit.fitpsf import SkippedRegionWarning

    # half of the image masked: the sectors at its edge have too few
    # usable pixels around them
    base = np.random.default_rng(1).normal(size=(8, 21, 21))
    image = np.ma.MaskedArray(base[0], mask=np.zeros((21, 21), bool))
    image[:, :10] = np.ma.masked
    fitter = LOCI(base)
    fitter.dilation_region = 1
    pool = ProcessPoolExecutor(2) if kind == "process pool" else None
    try:
        with pytest.warns(SkippedRegionWarning) as record:
            map_remove_psf(fitter, [image, image], executor=pool or 2)
    finally:
        if pool is not None:
            pool.shutdown()
    assert len(record) == 2
    assert {w.filename for w in record} == {__file__}


def test_dask_local_cluster(data):
    distributed = pytest.importorskip("distributed")
    base, images, expected = data
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2,
                                  processes=False, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        _check(map_remove_psf(SmallLOCI(base), images, executor=client),
               expected)
        _check(map_remove_psf([SmallLOCI(base, im) for im in images],
                              executor=client), expected)


def test_errors(data):
    base, images, _ = data
    with pytest.raises(ValueError, match="images must be given"):
        map_remove_psf(SmallLOCI(base))
    with pytest.raises(ValueError, match="images must be None"):
        map_remove_psf([SmallLOCI(base, images[0])], images)
    with pytest.raises(ValueError, match="has no image"):
        map_remove_psf([SmallLOCI(base)])
    with pytest.raises(TypeError, match="not a PSF fitter"):
        map_remove_psf([1, 2])
    with pytest.raises(TypeError, match="executor must be"):
        map_remove_psf(SmallLOCI(base), images, executor=object())
    with pytest.raises(ValueError, match="chunksize"):
        map_remove_psf(SmallLOCI(base), images, chunksize=0)


def test_ipyparallel_style_view(data):
    # ipyparallel is not a dependency; a view is anything with map_sync
    # (called with a picklable module-level function and a list of tasks)
    base, images, expected = data

    class SerialView:
        def map_sync(self, func, seq):
            return [func(pickle.loads(pickle.dumps(item))) for item in seq]

    _check(map_remove_psf([SmallLOCI(base, im) for im in images],
                          executor=SerialView()), expected)
