"""
The photometry's ``executor=``: parts of an image fitted at once, with the
fits of the whole image.
"""

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
import pickle

from astropy.modeling.fitting import LevMarLSQFitter
from astropy.table import QTable
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

from psfkit._numerics.gaussian import FWHM_PER_SIGMA, integrated_gaussian_image
from psfkit.photometry import (
    BasicPSFPhotometry,
    BatchedLMFitter,
    CircularGaussianPRF,
    DAOGroup,
    DAOStarFinder,
    IntegratedGaussianPRF,
    IterativelySubtractedPSFPhotometry,
    PSFFlags,
    PSFPhotometry,
    SourceGrouper,
)
from psfkit.photometry.fitting import _engine, _parts
from psfkit.utils import executor_workers

SIGMA = 1.5
FWHM = SIGMA * FWHM_PER_SIGMA


@pytest.fixture
def small_parts(monkeypatch):
    """Parts of a few dozen stars, so that small test fields are split."""
    monkeypatch.setattr(_parts, "MIN_PART_STARS", 40)
    monkeypatch.setattr(_engine, "MIN_PART_STARS", 40)


@pytest.fixture(scope="module")
def field():
    """
    A crowded 160x100 field, coupled from edge to edge (one connected set
    of stars), with blends, a masked column, and a few guesses off the
    image; the image is wider than high, so the strips are cut along x.
    """
    rng = np.random.default_rng(31)
    shape, n = (100, 160), 240
    x = rng.uniform(2, shape[1] - 3, n)
    y = rng.uniform(2, shape[0] - 3, n)
    flux = 10 ** rng.uniform(2.9, 4.0, n)
    stars = integrated_gaussian_image(shape, x, y, flux, SIGMA, extent=10.0)
    error = np.sqrt(16.0 + stars)
    image = stars + rng.normal(size=shape) * error
    mask = np.zeros(shape, dtype=bool)
    mask[:, 77] = True
    init = QTable({"x_0": np.r_[x + rng.normal(0, 0.2, n), -3.0, 170.0],
                   "y_0": np.r_[y + rng.normal(0, 0.2, n), 50.0, 20.0]})
    return image, error, mask, init


def _run(field, *, executor=None, fitter=None, group=2.0 * FWHM):
    image, error, mask, init = field
    phot = BasicPSFPhotometry(DAOGroup(group), None,
                              IntegratedGaussianPRF(sigma=SIGMA), 9,
                              fitter=fitter, executor=executor)
    return phot.run(image, error=error, mask=mask, init_guesses=init)


def _same_fits(a, b, *, sigmas, unc_rtol=1e-9):
    """Fits equal to ``sigmas`` of their uncertainties, flags identical."""
    assert_array_equal(a["flags"], b["flags"])
    for name, unc in (("flux_fit", "flux_unc"), ("x_fit", "x_0_unc"),
                      ("y_fit", "y_0_unc")):
        fa, fb = np.asarray(a[name]), np.asarray(b[name])
        assert_array_equal(np.isfinite(fa), np.isfinite(fb))
        ok = np.isfinite(fa) & np.isfinite(np.asarray(b[unc]))
        assert np.all(np.abs(fa[ok] - fb[ok])
                      <= sigmas * np.asarray(b[unc])[ok]), name
    # an uncertainty is its cluster's: a cluster running far beyond a
    # strip's margin is cut there, which changes its stars' by a per cent
    assert_allclose(np.asarray(a["flux_unc"]), np.asarray(b["flux_unc"]),
                    rtol=unc_rtol, equal_nan=True)


def _mostly_same(a, b, *, unc):
    """Stars measured at all (S/N > 3 in ``b``) measured alike in ``a``."""
    real = np.asarray(b["flux_fit"] / b[unc] > 3)
    assert real.mean() > 0.8
    pull = np.asarray(np.abs(a["flux_fit"] - b["flux_fit"]) / b[unc])[real]
    assert np.mean(pull < 0.01) > 0.9
    assert np.all(pull < 2.0)
    assert np.mean(np.asarray(a["flags"] == b["flags"])[real]) > 0.98


# ------------------------------------------------------------ the parts
def test_strips_own_every_star_once_with_margins():
    rng = np.random.default_rng(2)
    xy = np.column_stack([rng.uniform(0, 300, 500), rng.uniform(0, 80, 500)])
    parts = _parts.strip_parts(xy, [0.2, 0.5, 0.3], margin=10.0)
    owned = np.concatenate([idx[own] for idx, own in parts])
    assert_array_equal(np.sort(owned), np.arange(500))
    assert [int(own.sum()) for _, own in parts] == [100, 250, 150]
    # along x (the longer axis): every star within the margin of a strip
    # is fitted by it, none beyond
    for idx, own in parts:
        lo, hi = xy[idx[own], 0].min(), xy[idx[own], 0].max()
        near = np.flatnonzero((xy[:, 0] >= lo - 10.0) & (xy[:, 0] <= hi + 10.0))
        assert_array_equal(np.sort(idx), near)
    assert _parts.strip_parts(xy, [0.0, 1.0], margin=5.0)[0] is None


def test_balanced_parts_keep_islands_whole_and_share_the_cost():
    rng = np.random.default_rng(5)
    # a crowded band (one component) and scattered pairs (islands)
    band = np.column_stack([rng.uniform(0, 400, 600), rng.uniform(0, 30, 600)])
    pairs = np.column_stack([rng.uniform(0, 400, 150), rng.uniform(100, 300, 150)])
    xy = np.vstack([band, pairs, pairs + [3.0, 0.0]])
    label, sizes = _parts.components(xy, (9, 9), (17, 17))
    assert sizes[label[0]] == 600
    parts = _parts.balanced_parts(xy, label, sizes, 3, island_max=8,
                                  margin=30.0)
    owner = np.full(len(xy), -1)
    for k, (idx, own) in enumerate(parts):
        assert np.all(owner[idx[own]] == -1)
        owner[idx[own]] = k
        # a part fits whole islands, never part of one
        small = sizes[label[idx]] <= 8
        for lab in np.unique(label[idx][small]):
            assert np.isin(np.flatnonzero(label == lab), idx[own]).all()
    assert np.all(owner >= 0)
    cost = [np.sum(np.where(sizes[label[idx[own]]] > 8,
                            _parts.CROWDED_COST, 1.0)) for idx, own in parts]
    assert max(cost) < 1.1 * np.mean(cost)


def test_group_parts_keep_groups_whole():
    rng = np.random.default_rng(3)
    group = rng.integers(0, 60, 400)
    xy = rng.uniform(0, 100, (400, 2))
    parts = _parts.group_parts(group, xy, 3)
    assert_array_equal(np.sort(np.concatenate(parts)), np.arange(400))
    seen = [set(group[p]) for p in parts]
    for i in range(len(seen)):
        for j in range(i + 1, len(seen)):
            assert not seen[i] & seen[j]


def test_cutout_moves_positions_exactly():
    cut = _parts.Cutout.around([np.array([[40.3, 12.7], [90.5, 30.0]])],
                               (11, 11), (50, 120))
    # 90.5 is in pixel 90 (pixel centres at integers, edges to the lower)
    assert (cut.cols, cut.rows) == (slice(35, 96), slice(8, 36))
    theta = np.array([[5.0, 40.3, 12.7], [7.0, 90.5, 30.0]])
    inside = cut.params(theta, 1, 2)
    assert_array_equal(cut.params(inside, 1, 2, sign=1), theta)
    assert_array_equal(inside[:, 1:] + [35, 8], theta[:, 1:])
    # boxes beyond the image are clipped to it
    edge = _parts.Cutout.around([np.array([[-2.0, 1.0]])], (11, 11), (50, 120))
    assert (edge.cols, edge.rows) == (slice(0, 4), slice(0, 7))


def test_small_images_are_not_split():
    setup_like = type("S", (), {"solver": None, "fitshape": (9, 9)})()
    start = np.zeros((_parts.MIN_PART_STARS * 2 - 1, 3))
    parts = _engine._parts(setup_like, start, start[:, 1:], None, (17, 17),
                           None, workers=4)
    assert len(parts) == 1 and parts[0][1].all()


# ------------------------------------------------------------ the fits
@pytest.mark.usefixtures("small_parts")
def test_all_star_fit_in_strips_equals_the_whole_image(field):
    serial = _run(field)
    threads = _run(field, executor=2)
    assert threads.table["flags"].tolist() == serial.table["flags"].tolist()
    # stars near a cut see their neighbours' neighbours, and fits of close
    # blends stop anywhere along their flat valleys: the fits agree far
    # within their errors, and the uncertainties of blends 1.5 px apart
    # (which change fast with the separation) to a few per cent
    _same_fits(threads.table, serial.table, sigmas=0.03, unc_rtol=0.04)
    assert len(threads.table) == 242
    off = np.asarray(serial.table["flags"])[-2:]
    # the guesses off the image, judged against the whole image
    assert np.all(off & PSFFlags.OUTSIDE_IMAGE)


@pytest.mark.usefixtures("small_parts")
def test_process_pool_equals_threads(field):
    with ProcessPoolExecutor(2) as pool:
        procs = _run(field, executor=pool)
    threads = _run(field, executor=ThreadPoolExecutor(2))
    # the same parts, fitted alike wherever they run
    for name in ("flux_fit", "x_fit", "y_fit", "flux_unc", "flags"):
        assert_array_equal(procs.table[name], threads.table[name])


@pytest.mark.usefixtures("small_parts")
@pytest.mark.parametrize("fitter", [BatchedLMFitter(), LevMarLSQFitter()],
                         ids=["batched", "astropy"])
def test_group_fitters_split_by_groups_give_the_same_fits(field, fitter):
    image, error, mask, init = field
    # fewer stars for the astropy fitter (one group at a time)
    sub = (image, error, mask, init[:120] if isinstance(
        fitter, LevMarLSQFitter) else init)
    serial = _run(sub, fitter=fitter, group=FWHM)
    with ProcessPoolExecutor(2) as pool:
        parts = _run(sub, fitter=fitter, group=FWHM, executor=pool)
    assert_array_equal(parts.table["group_id"], serial.table["group_id"])
    # each group is fitted as on the whole image (the astropy fitters take
    # pixel coordinates of the cutout: rounding differs, within their tol)
    batched = isinstance(fitter, BatchedLMFitter)
    _same_fits(parts.table, serial.table, sigmas=1e-6 if batched else 1e-3,
               unc_rtol=1e-9 if batched else 1e-5)


@pytest.mark.usefixtures("small_parts")
def test_iterative_photometry_with_an_executor(field):
    image, error, mask, _ = field

    def run(executor):
        phot = IterativelySubtractedPSFPhotometry(
            DAOGroup(2.0 * FWHM), None, IntegratedGaussianPRF(sigma=SIGMA),
            9, finder=DAOStarFinder(20.0, FWHM), niters=2, executor=executor)
        return phot(image, error=error, mask=mask)

    serial, threads = run(None), run(2)
    assert len(threads) == len(serial)
    assert_array_equal(threads["iter_detected"], serial["iter_detected"])
    _same_fits(threads, serial, sigmas=0.01, unc_rtol=0.02)


@pytest.mark.usefixtures("small_parts")
def test_photutils_api_takes_an_executor(field, monkeypatch):
    image, error, mask, init = field
    init = QTable({"x": init["x_0"][:-2], "y": init["y_0"][:-2]})
    used = []
    run_beside = _engine.run_beside

    def spy(func, here, tasks, executor, **kwargs):
        used.append((len(tasks), executor))
        return run_beside(func, here, tasks, executor, **kwargs)

    monkeypatch.setattr(_engine, "run_beside", spy)

    def run(executor):
        phot = PSFPhotometry(CircularGaussianPRF(fwhm=FWHM), 9,
                             grouper=SourceGrouper(2.0 * FWHM),
                             aperture_radius=FWHM, executor=executor)
        return phot(image, error=error, mask=mask, init_params=init)

    serial = run(None)
    assert not used
    threads = run(2)
    # one part here, one on the executor
    assert used == [(1, 2)]
    # a star measured at all (S/N > 3) is measured alike, but for the few
    # next to a spurious one (S/N 1.5) that wanders in a flat valley of
    # chi-square and ends elsewhere from a start that differs by rounding,
    # as after any change in the order of operations
    _mostly_same(threads, serial, unc="flux_err")


def test_dask_client_runs_the_parts(field, small_parts):
    distributed = pytest.importorskip("distributed")
    serial = _run(field)
    with distributed.Client(processes=False, n_workers=1,
                            threads_per_worker=2,
                            dashboard_address=None) as client:
        assert executor_workers(client) == 2
        parts = _run(field, executor=client)
    _same_fits(parts.table, serial.table, sigmas=0.03, unc_rtol=0.04)


# ------------------------------------------------------------ the option
@pytest.mark.parametrize(("value", "error"), [
    ("two", TypeError), (0, ValueError), (True, TypeError), (2.5, TypeError)])
def test_bad_executor_is_refused_by_name(value, error):
    with pytest.raises(error, match="executor"):
        BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=1.0), 5,
                           executor=value)
    phot = PSFPhotometry(CircularGaussianPRF(fwhm=2.0), 5)
    with pytest.raises(error, match="executor"):
        phot.executor = value


def test_a_pool_stays_behind_when_the_photometry_travels():
    with ThreadPoolExecutor(1) as pool:
        phot = BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=1.0),
                                  5, executor=pool)
        assert "executor=" in repr(phot)
        copy = pickle.loads(pickle.dumps(phot))
    assert copy.executor is None
    phot.executor = 3
    assert pickle.loads(pickle.dumps(phot)).executor == 3
    with ThreadPoolExecutor(1) as pool:
        api = PSFPhotometry(CircularGaussianPRF(fwhm=2.0), 5, executor=pool)
        assert pickle.loads(pickle.dumps(api)).executor is None
    assert "executor" not in repr(BasicPSFPhotometry(
        None, None, IntegratedGaussianPRF(sigma=1.0), 5))


@pytest.mark.usefixtures("small_parts")
def test_progress_shows_the_part_fitted_here(field, capsys):
    pytest.importorskip("tqdm")
    image, error, mask, init = field
    phot = BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=SIGMA),
                              9, progress_bar=True, executor=2)
    phot(image, error=error, mask=mask, init_guesses=init)
    err = capsys.readouterr().err
    assert "fit 242 of 242 stars" in err
    assert "clusters moving" in err


@pytest.mark.usefixtures("small_parts")
def test_model_boxes_smaller_than_fit_boxes_reach_as_far(field):
    # the fit enlarges a 5x5 model box to the 9x9 fit box: the parts'
    # islands and cutouts must too, or an island would be cut in two
    image, error, mask, init = field

    def run(executor):
        phot = BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=SIGMA),
                                  9, subshape=5, executor=executor)
        return phot(image, error=error, mask=mask, init_guesses=init)

    # the truncated models leave some faint stars in flat valleys
    _mostly_same(run(2), run(None), unc="flux_unc")
    label, sizes = _parts.components(np.column_stack([[10.0, 18.0],
                                                      [10.0, 10.0]]),
                                     (9, 9), (5, 5))
    assert sizes.tolist() == [2]
