"""
The all-star fitting engine: exactness against the dense solution, crowded
fields against the truth, the real M13 image, flags, progress and refits.
"""

import pickle
import warnings

from astropy.table import QTable
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest
from scipy.spatial import cKDTree

from psfkit._numerics.gaussian import FWHM_PER_SIGMA, integrated_gaussian_image
from psfkit.datasets import load_m13
from psfkit.photometry import (
    BasicPSFPhotometry,
    BatchedLMFitter,
    DAOGroup,
    DAOPhotPSFPhotometry,
    DAOStarFinder,
    ImagePSF,
    IntegratedGaussianPRF,
    IterativelySubtractedPSFPhotometry,
    MADStdBackgroundRMS,
    MMMBackground,
    PSFFlags,
    PSFPhotometry,
    SourceGrouper,
    SparseLMFitter,
    tiled_photometry,
)
from psfkit.photometry.fitting import _allstar, _block_system, _engine
from psfkit.photometry.fitting._fit_boxes import gather, make_boxes
from psfkit.utils import PsfkitDeprecationWarning

SIGMA = 1.5
FWHM = SIGMA * FWHM_PER_SIGMA


def star_field(shape, x, y, flux, *, sky_noise, rng, sigma=SIGMA):
    """Integrated-Gaussian stars, sky and photon noise, and the errors."""
    stars = integrated_gaussian_image(shape, x, y, flux, sigma, extent=10.0)
    error = np.sqrt(sky_noise ** 2 + stars)
    return stars + rng.normal(size=shape) * error, error


def crowded_positions(rng, shape, n, min_sep):
    """Uniform positions, none closer than ``min_sep`` to another."""
    xy = np.zeros((0, 2))
    while len(xy) < n:
        cand = np.column_stack([rng.uniform(4, shape[1] - 5, 4 * n),
                                rng.uniform(4, shape[0] - 5, 4 * n)])
        for p in cand:
            if len(xy) == n:
                break
            if len(xy) == 0 or np.min(np.hypot(*(xy - p).T)) >= min_sep:
                xy = np.vstack([xy, p])
    return xy[:, 0], xy[:, 1]


@pytest.fixture
def crowded_field():
    """
    A small crowded field at the density of a globular cluster's outskirts:
    the stars are coupled across the whole field, and 40 per cent of them
    have a neighbour closer than one FWHM (but not closer than half of it,
    where no fit can tell two stars from one).
    """
    rng = np.random.default_rng(12)
    shape, n = (110, 110), 190
    x, y = crowded_positions(rng, shape, n, 0.5 * FWHM)
    flux = 10 ** rng.uniform(2.9, 4.2, n)
    image, error = star_field(shape, x, y, flux, sky_noise=4.0, rng=rng)
    init = QTable({"x_0": x + rng.normal(0, 0.2, n),
                   "y_0": y + rng.normal(0, 0.2, n)})
    return image, error, init, (x, y, flux)


# ------------------------------------------------------------ exactness
@pytest.mark.parametrize("solver", ["dense stacks", "sparse factorisation"])
def test_sparse_engine_equals_dense_solution(monkeypatch, solver):
    # a compact group with a blend of 0.7 FWHM, fitted once by the dense
    # group solver and once by the all-star engine forced onto its sparse
    # path (no island shortcut; with or without the stacked solves); each
    # star's model box covers every fitted pixel, so both solve exactly the
    # same least-squares problem (with every coupled pair in the normal
    # matrix: the default leaves out pairs coupled less than 2 per cent,
    # which changes the uncertainties by a few parts in a million)
    monkeypatch.setattr(_engine, "ISLAND_MAX", 0)
    if solver == "sparse factorisation":
        monkeypatch.setattr(_block_system, "DENSE_MAX", 0)
    rng = np.random.default_rng(4)
    shape = (36, 40)
    x = np.array([14.2, 16.6, 22.3, 19.1, 26.8, 12.5])
    y = np.array([15.3, 15.9, 17.2, 22.6, 20.4, 21.9])
    flux = np.array([5000.0, 2500.0, 4000.0, 3000.0, 6000.0, 1500.0])
    image, error = star_field(shape, x, y, flux, sky_noise=3.0, rng=rng)
    init = QTable({"x_0": x + rng.normal(0, 0.25, 6),
                   "y_0": y + rng.normal(0, 0.25, 6)})
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    common = {"aperture_radius": FWHM, "subshape": (41, 41)}
    dense = BasicPSFPhotometry(DAOGroup(100.0), None, psf, (9, 9),
                               fitter=BatchedLMFitter(tol=1e-12), **common)
    sparse = BasicPSFPhotometry(None, None, psf, (9, 9),
                                fitter=SparseLMFitter(tol=1e-12,
                                                      min_coupling=1e-9),
                                **common)
    a = dense.run(image, error=error, init_guesses=init)
    b = sparse.run(image, error=error, init_guesses=init)
    assert a.diagnostics["group_sizes"] == {6: 1}
    assert b.diagnostics["largest_cluster"] == 6
    assert np.all(a.table["flags"] == 0) and np.all(b.table["flags"] == 0)
    for col in ("flux_fit", "x_fit", "y_fit", "flux_unc", "x_0_unc",
                "y_0_unc", "qfit", "reduced_chi2"):
        assert_allclose(b.table[col], a.table[col], rtol=1e-6, err_msg=col)


def test_isolated_islands_match_the_group_fit():
    # well-separated stars form islands of one star: the engine hands them
    # to the stacked dense solver and must agree with the group fitter
    rng = np.random.default_rng(5)
    g = np.arange(10, 100, 20.0)
    gx, gy = np.meshgrid(g, g)
    x = gx.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    y = gy.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    flux = rng.uniform(1000, 5000, x.size)
    image, error = star_field((110, 110), x, y, flux, sky_noise=3.0, rng=rng)
    init = QTable({"x": x + 0.3, "y": y - 0.2})
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    fast = BasicPSFPhotometry(None, None, psf, (9, 9),
                              fitter=SparseLMFitter(tol=1e-12))
    ref = BasicPSFPhotometry(None, None, psf, (9, 9),
                             fitter=BatchedLMFitter(tol=1e-12))
    a = fast(image, error=error, init_guesses=init)
    b = ref(image, error=error, init_guesses=init)
    for col in ("flux_fit", "x_fit", "y_fit", "flux_unc"):
        assert_allclose(a[col], b[col], rtol=1e-7)


def test_islands_still_iterating_go_on_in_the_all_star_fit(monkeypatch):
    # islands of two stars one FWHM apart; with the hand-off after two
    # iterations every island goes on in the all-star fit, which must reach
    # the minimum the group fitter reaches on its own
    monkeypatch.setattr(_engine, "ISLAND_ITERATIONS", 2)
    handed = []
    crowded = _engine._fit_crowded

    def spy(setup, data, geom, theta, lower, upper, idx, *args, **kwargs):
        handed.append(len(idx))
        return crowded(setup, data, geom, theta, lower, upper, idx, *args,
                       **kwargs)

    monkeypatch.setattr(_engine, "_fit_crowded", spy)
    rng = np.random.default_rng(8)
    g = np.arange(15, 120, 30.0)
    gx, gy = np.meshgrid(g, g)
    cx = gx.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    cy = gy.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    angle = rng.uniform(0, np.pi, gx.size)
    dx, dy = 0.5 * FWHM * np.cos(angle), 0.5 * FWHM * np.sin(angle)
    x, y = np.r_[cx - dx, cx + dx], np.r_[cy - dy, cy + dy]
    flux = rng.uniform(2000, 8000, x.size)
    image, error = star_field((130, 130), x, y, flux, sky_noise=3.0, rng=rng)
    init = QTable({"x": x + rng.normal(0, 0.3, x.size),
                   "y": y + rng.normal(0, 0.3, x.size)})
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    # (model boxes covering every fitted pixel: the two engines then solve
    # exactly the same least-squares problem)
    fast = BasicPSFPhotometry(None, None, psf, (9, 9), subshape=(31, 31),
                              fitter=SparseLMFitter(tol=1e-12,
                                                    min_coupling=1e-9))
    ref = BasicPSFPhotometry(None, None, psf, (9, 9), subshape=(31, 31),
                             fitter=BatchedLMFitter(tol=1e-12))
    a = fast(image, error=error, init_guesses=init)
    b = ref(image, error=error, init_guesses=init)
    assert handed == [x.size]
    assert_array_equal(a["flags"], b["flags"])
    for col in ("flux_fit", "x_fit", "y_fit", "flux_unc", "x_0_unc",
                "y_0_unc"):
        assert_allclose(a[col], b[col], rtol=1e-6, err_msg=col)


def test_residual_image_stays_data_minus_every_model(monkeypatch):
    # the all-star fit keeps its residual image up to date step by step
    # (whole-array updates when every star moves, scatters of the accepted
    # ones otherwise); at the end it must equal the data minus every star's
    # model summed independently over its box, on every pixel: those of
    # boxes reaching off the image (stars at the corners and edges) and
    # pixel (0, 0), where the pixels off the image are parked, included
    monkeypatch.setattr(_engine, "ISLAND_MAX", 0)
    problems = []
    run = _allstar.run

    def spy(problem, *args, **kwargs):
        problems.append(problem)
        return run(problem, *args, **kwargs)

    monkeypatch.setattr(_engine, "run", spy)
    rng = np.random.default_rng(21)
    shape = (40, 46)
    x = np.r_[0.4, 2.1, 44.8, 43.0, 1.0, 45.3, 20.0, 22.8, 12.5, 30.2, 25.1]
    y = np.r_[0.6, 3.0, 1.2, 38.7, 39.2, 20.1, 0.3, 21.4, 18.9, 24.0, 22.2]
    flux = rng.uniform(2000, 9000, x.size)
    image, error = star_field(shape, x, y, flux, sky_noise=3.0, rng=rng)
    init = QTable({"x": x + rng.normal(0, 0.3, x.size),
                   "y": y + rng.normal(0, 0.3, x.size)})
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    phot = BasicPSFPhotometry(None, None, psf, (7, 7), subshape=(15, 15))
    phot(image, error=error, init_guesses=init)
    (problem,) = problems
    theta, geom = problem.theta, problem.geom
    expect = problem.data_flat.copy()
    for k in range(len(theta)):
        rows = geom.rows[k][:, None] + 0.0 * geom.cols[k][None, :]
        cols = geom.cols[k][None, :] + 0.0 * geom.rows[k][:, None]
        inside = ((rows >= 0) & (rows < shape[0]) & (cols >= 0)
                  & (cols < shape[1]))
        model = psf.evaluate(cols, rows, theta[k, 0], theta[k, 1],
                             theta[k, 2], SIGMA)
        np.subtract.at(expect, (rows[inside] * shape[1]
                                + cols[inside]).astype(int), model[inside])
    assert problem._edge.sum() >= 7
    assert_allclose(problem.resid, expect, rtol=0,
                    atol=1e-9 * np.abs(expect).max())


@pytest.mark.parametrize("one_stack", [0, 10 ** 9])
def test_cluster_solver_equals_numpy_per_cluster(monkeypatch, one_stack):
    # clusters of several sizes, their stacks kept apart or merged into one
    # padded stack: every cluster's damped step equals numpy's solve of its
    # own assembled matrix
    monkeypatch.setattr(_block_system, "_ONE_STACK_WORK", one_stack)
    rng = np.random.default_rng(9)
    nf, sizes = 3, [1, 2, 3, 5, 8, 2]
    label = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(label)
    n = len(label)
    pairs = np.array([(i, j) for i in range(n) for j in range(i + 1, n)
                      if label[i] == label[j] and rng.random() < 0.7])
    jac = rng.normal(size=(n, 20, nf))
    diag = np.einsum("npa,npb->nab", jac, jac) + 5.0 * np.eye(nf)
    blocks = 0.3 * rng.normal(size=(len(pairs), nf, nf))
    grad = rng.normal(size=(n, nf))
    lam = rng.uniform(0.0, 0.1, len(sizes))
    damp = np.repeat(lam[label][:, None], nf, axis=1)
    solver = _block_system.ClusterSolver(label, pairs, nf)
    assert len(solver.plans) == (1 if one_stack else 4)
    step = solver.solve(diag, blocks, grad, damp)
    for c in range(len(sizes)):
        members = np.flatnonzero(label == c)
        where = {s: k for k, s in enumerate(members)}
        a = np.zeros((len(members) * nf, len(members) * nf))
        for s in members:
            r = where[s] * nf
            a[r:r + nf, r:r + nf] = diag[s]
        for (i, j), b in zip(pairs, blocks, strict=True):
            if label[i] == c:
                ri, rj = where[i] * nf, where[j] * nf
                a[ri:ri + nf, rj:rj + nf] = b
                a[rj:rj + nf, ri:ri + nf] = b.T
        a[np.diag_indices_from(a)] *= 1.0 + lam[c]
        expect = np.linalg.solve(a, grad[members].ravel())
        assert_allclose(step[members].ravel(), expect, rtol=1e-9)


def test_coupling_table_equals_a_loop_over_offsets():
    # the coupling of two boxes at every offset of their centres, by brute
    # force: shift one box's normalised derivative images over the other's,
    # sum the products over the shared pixels, keep the largest over the
    # pairs of parameters, then widen by one pixel in each direction
    from psfkit.photometry.fitting._couplings import coupling_table

    rng = np.random.default_rng(3)
    my, mx, nf = 7, 9, 3
    jac = rng.normal(size=(my * mx, nf))
    img = (jac / np.sqrt(np.sum(jac ** 2, axis=0))).reshape(my, mx, nf)
    raw = np.zeros((2 * my - 1, 2 * mx - 1))
    for dy in range(-(my - 1), my):
        for dx in range(-(mx - 1), mx):
            best = 0.0
            for a in range(nf):
                for b in range(nf):
                    total = 0.0
                    for r in range(my):
                        for c in range(mx):
                            r2, c2 = r - dy, c - dx
                            if 0 <= r2 < my and 0 <= c2 < mx:
                                total += img[r, c, a] * img[r2, c2, b]
                    best = max(best, abs(total))
            raw[dy + my - 1, dx + mx - 1] = best
    expect = np.zeros_like(raw)
    for i in range(raw.shape[0]):
        for j in range(raw.shape[1]):
            expect[i, j] = raw[max(i - 1, 0):i + 2, max(j - 1, 0):j + 2].max()
    assert_allclose(coupling_table(jac, (my, mx)), expect, rtol=1e-12)


def test_fit_boxes_equal_a_loop_over_pixels():
    # boxes are built as outer sums of rows and columns and gathered with
    # take: each pixel's index, coordinates and gathered value must be
    # those of a plain loop, -1 and the fill value off the image
    rng = np.random.default_rng(8)
    image = rng.normal(size=(13, 21))
    xc = np.r_[rng.uniform(-3, 23, 40), 0.49, 20.5]
    yc = np.r_[rng.uniform(-3, 15, 40), -0.5, 12.49]
    for shape in ((3, 5), (7, 7)):
        boxes = make_boxes(xc, yc, shape, image.shape)
        values = gather(image.ravel(), boxes.flat, fill=np.nan)
        for k, (x, y) in enumerate(zip(xc, yc, strict=True)):
            # (a coordinate on a pixel edge belongs to the lower pixel)
            cx, cy = int(np.ceil(x - 0.5)), int(np.ceil(y - 0.5))
            m = 0
            for row in range(cy - shape[0] // 2, cy + shape[0] // 2 + 1):
                for col in range(cx - shape[1] // 2, cx + shape[1] // 2 + 1):
                    inside = 0 <= row < 13 and 0 <= col < 21
                    assert boxes.flat[k, m] == (row * 21 + col if inside
                                                else -1)
                    assert (boxes.x[k, m], boxes.y[k, m]) == (col, row)
                    if inside:
                        assert values[k, m] == image[row, col]
                    else:
                        assert np.isnan(values[k, m])
                    m += 1
            assert boxes.partial[k] == bool(np.any(boxes.flat[k] < 0))


@pytest.mark.parametrize("n_groups", [1, 3, 50])
def test_distinct_pairs_equal_a_sort(n_groups):
    # items shared by one group, by a few and by many: the same pairs and
    # the same mapping of entries as np.unique of the combined keys
    rng = np.random.default_rng(n_groups)
    n, n_items = 5000, 700
    group = rng.integers(0, n_groups, n)
    item = rng.integers(0, n_items, n)
    first, inverse = _allstar.distinct_pairs(
        group, item, np.empty(n_items, dtype=np.int64))
    keys = group * n_items + item
    unique, inverse_sorted = np.unique(keys, return_inverse=True)
    assert_array_equal(np.sort(keys[first]), unique)
    assert_array_equal(keys[first][inverse], keys)
    assert_array_equal(np.diff(first) > 0, True)
    assert len(np.unique(inverse_sorted)) == len(first)


# ------------------------------------------------------ crowded fields
def test_crowded_field_against_truth(crowded_field):
    image, error, init, (x, y, flux) = crowded_field
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    phot = BasicPSFPhotometry(DAOGroup(2 * FWHM), None, psf, (7, 7),
                              aperture_radius=FWHM)
    res = phot.run(image, error=error, init_guesses=init)
    tab = res.table
    # the stars are coupled across the whole field: one dense system of
    # that size is what made such fields slow (the grouper's own groups
    # leave out the couplings between them)
    assert max(res.diagnostics["group_sizes"]) >= 15
    assert res.diagnostics["largest_cluster"] > 30
    ok = tab["flags"] == 0
    assert ok.mean() > 0.95
    nn = cKDTree(np.c_[x, y]).query(np.c_[x, y], k=2)[0][:, 1]
    blend = nn < FWHM
    assert blend.sum() >= 60
    for fit, true, unc in (("flux_fit", flux, "flux_unc"),
                           ("x_fit", x, "x_0_unc"), ("y_fit", y, "y_0_unc")):
        pull = (np.asarray(tab[fit]) - true) / np.asarray(tab[unc])
        assert 0.85 < np.std(pull[ok]) < 1.15, fit
        assert abs(np.mean(pull[ok])) < 0.2, fit
        # blends closer than a FWHM get the larger errors their
        # correlation implies: their pulls are calibrated too
        assert 0.6 < np.std(pull[ok & blend]) < 1.4, fit
    rel = np.abs(np.asarray(tab["flux_fit"]) / flux - 1)
    assert np.median(rel[ok]) < 0.03
    # the residual is noise
    resid = res.residual_image / error
    assert abs(np.std(resid[5:-5, 5:-5]) - 1) < 0.05


def test_group_maker_is_not_needed(crowded_field):
    # without a grouper every star still sees its neighbours
    image, error, init, _ = crowded_field
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    kw = {"aperture_radius": FWHM}
    grouped = BasicPSFPhotometry(DAOGroup(2 * FWHM), None, psf, (7, 7), **kw)
    alone = BasicPSFPhotometry(None, None, psf, (7, 7), **kw)
    a = grouped(image, error=error, init_guesses=init)
    b = alone(image, error=error, init_guesses=init)
    assert_allclose(b["flux_fit"], a["flux_fit"], rtol=1e-6)
    # the reported groups join stars whose 7x7 fit boxes overlap: checked
    # against every pair (brute force)
    c = np.floor(np.c_[init["x_0"], init["y_0"]] + 0.5)
    overlap = np.all(np.abs(c[:, None] - c[None]) < 7, axis=2)
    gid = np.asarray(b["group_id"])
    assert np.all((gid[:, None] == gid[None])[overlap])
    assert 1 < len(np.unique(gid)) < len(b)


def test_no_grouper_joins_overlapping_boxes_for_group_fitters():
    # two guesses for one star, fitted group by group: the light is shared
    # and the degenerate pair flagged, not each given the full flux
    psf = IntegratedGaussianPRF(sigma=2.0)
    yy, xx = np.mgrid[0:40, 0:40]
    image = psf.evaluate(xx, yy, 1000.0, 20.0, 20.0, 2.0)
    init = QTable({"x_0": [20.2, 20.2, 5.0], "y_0": [20.1, 20.1, 33.0]})
    tab = BasicPSFPhotometry(None, None, psf, (9, 9),
                             fitter=BatchedLMFitter())(image,
                                                       init_guesses=init)
    assert tab["group_id"].tolist() == [1, 1, 2]
    assert_allclose(tab["flux_fit"][:2].sum(), 1000.0, rtol=1e-6)
    assert np.all(tab["flags"][:2] & PSFFlags.NO_COVARIANCE)


# ------------------------------------------------------------- real data
def test_m13_end_to_end():
    # the crowded DSS plate of M13 with the DAOPHOT-style classes
    image = load_m13()
    data = image.data
    std = MADStdBackgroundRMS()(data)
    phot = DAOPhotPSFPhotometry(crit_separation=2.5 * 3.44,
                                threshold=5 * std, fwhm=3.44,
                                psf_model=IntegratedGaussianPRF(sigma=1.46),
                                fitshape=(9, 9), niters=2)
    res = phot.run(image)
    tab = res.table
    diag = res.diagnostics
    assert len(tab) > 480
    assert diag["detections_per_iteration"][0] > 400
    # the core is one crowded cluster of coupled stars
    assert diag["largest_cluster"] > 100
    assert diag["n_not_converged"] <= 0.02 * len(tab)
    resid = np.asarray(res.residual_image)
    core = resid[100:200, 100:200]
    sky = resid[:60, :60]
    # the fit leaves little of the core (the saturated plate cores are
    # not Gaussian) and nothing of the sky around it
    assert np.std(core) < 45
    assert np.std(sky) < 1.5 * std
    assert np.all(np.isfinite(tab["flux_fit"]))


def test_m13_against_photutils_same_finder():
    # photutils 3's IterativePSFPhotometry on the same image with the same
    # finder (photutils 3 keeps detections 2.5 FWHM apart by default, so
    # psfkit's finder is given the same minimum separation), grouping
    # distance, fit box, PSF and iterations
    pdet = pytest.importorskip("photutils.detection")
    ppsf = pytest.importorskip("photutils.psf")
    data = load_m13().data
    std = MADStdBackgroundRMS()(data)
    fwhm, sigma = 3.44, 1.46
    sep = 2.5 * fwhm
    peer = ppsf.IterativePSFPhotometry(
        ppsf.CircularGaussianPRF(fwhm=sigma * FWHM_PER_SIGMA), (9, 9),
        pdet.DAOStarFinder(5 * std, fwhm, min_separation=sep),
        grouper=ppsf.SourceGrouper(sep), maxiters=3, aperture_radius=fwhm)
    sky = MMMBackground()(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ptab = peer(data - sky)
        presid = np.asarray(peer.make_residual_image(data - sky))
    phot = DAOPhotPSFPhotometry(crit_separation=sep, threshold=5 * std,
                                fwhm=fwhm,
                                psf_model=IntegratedGaussianPRF(sigma=sigma),
                                fitshape=(9, 9), niters=3, mode="new")
    phot.finder.min_separation = sep
    res = phot.run(data)
    tab = res.table

    def measured(flux, flags):
        return np.count_nonzero((np.asarray(flux) > 0)
                                & (np.asarray(flags) == 0))

    # the same finder finds the same stars in the first pass
    first_peer = np.count_nonzero(np.asarray(ptab["iter_detected"]) == 1)
    first = res.diagnostics["detections_per_iteration"][0]
    assert abs(first - first_peer) <= 3
    # at least as many stars measured, none with a negative flux, and a
    # core residual no worse
    assert measured(tab["flux_fit"], tab["flags"]) >= measured(
        ptab["flux_fit"], ptab["flags"])
    assert np.all(np.asarray(tab["flux_fit"]) > 0)
    core = (slice(100, 200), slice(100, 200))
    assert (np.std(np.asarray(res.residual_image)[core])
            <= 1.02 * np.std(presid[core]))


# ------------------------------------------------------------- flags
def test_masked_pixels_are_flagged_and_counted():
    rng = np.random.default_rng(8)
    x, y = np.array([12.0, 30.3]), np.array([14.0, 15.6])
    flux = np.array([4000.0, 4000.0])
    image, error = star_field((30, 44), x, y, flux, sky_noise=2.0, rng=rng)
    mask = np.zeros(image.shape, dtype=bool)
    mask[10:19, 14] = True  # a bad column through the first box
    mask[16, 30] = True  # the second star's central pixel
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    phot = BasicPSFPhotometry(None, None, psf, (9, 9))
    tab = phot(image, mask=mask, error=error,
               init_guesses=QTable({"x": x, "y": y}))
    f = [PSFFlags(int(v)) for v in tab["flags"]]
    assert f[0] == PSFFlags.MASKED_PIXELS
    assert tab["npix_masked"][0] == 9 and tab["npix_fit"][0] == 72
    # a star whose centre is masked is fitted on the pixels around it
    assert PSFFlags.MASKED_CENTER in f[1] and PSFFlags.MASKED_PIXELS in f[1]
    assert tab["npix_masked"][1] == 1
    assert_allclose(tab["flux_fit"], flux, rtol=0.03)
    assert_allclose(tab["x_fit"], x, atol=0.1)
    # non-finite pixels count as masked
    nan = image.copy()
    nan[mask] = np.nan
    tab2 = phot(nan, error=error, init_guesses=QTable({"x": x, "y": y}))
    assert_array_equal(tab2["flags"], tab["flags"])
    assert_allclose(tab2["flux_fit"], tab["flux_fit"], rtol=1e-9)


# ------------------------------------------------- progress and refits
def test_progress_bar_for_the_default_fitter(capsys):
    pytest.importorskip("tqdm")
    rng = np.random.default_rng(2)
    x, y = np.array([15.0, 30.2]), np.array([16.0, 18.7])
    image, _ = star_field((36, 44), x, y, np.array([6000.0, 3000.0]),
                          sky_noise=2.0, rng=rng)
    phot = IterativelySubtractedPSFPhotometry(
        None, None, IntegratedGaussianPRF(sigma=SIGMA), (7, 7),
        finder=DAOStarFinder(10.0, FWHM), niters=2, progress_bar=True)
    with warnings.catch_warnings():
        # tqdm's own notices are not psfkit's concern here
        warnings.simplefilter("ignore", DeprecationWarning)
        phot(image)
    err = capsys.readouterr().err
    assert "photometry passes" in err
    assert "fit 2 of 2 stars" in err and "iter" in err
    # the second pass finds nothing new: the passes' bar ends full at the
    # passes made, not part-full at the limit
    phot.niters = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        phot(image)
    last = capsys.readouterr().err.replace("\r", "\n").splitlines()
    passes = [line for line in last if line.startswith("photometry passes")]
    assert "100%" in passes[-1] and "2/2" in passes[-1]


def test_refit_touches_only_changed_neighbourhoods():
    # a second pass adds a star: the fits of the stars whose models share
    # no pixel with it are kept exactly as they were
    rng = np.random.default_rng(6)
    x = np.array([15.3, 45.2, 75.8, 20.1, 60.4, 40.7])
    y = np.array([14.6, 15.2, 16.3, 50.9, 48.7, 33.4])
    flux = np.array([9000.0, 5000.0, 6000.0, 4000.0, 7000.0, 20000.0])
    xs, ys = np.r_[x, 43.4], np.r_[y, 35.6]
    # the companion of the bright star is found on the residual only
    image, error = star_field((64, 92), xs, ys, np.r_[flux, 5000.0],
                              sky_noise=3.0, rng=rng)
    kw = {"finder": DAOStarFinder(35.0, FWHM)}
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    one = IterativelySubtractedPSFPhotometry(None, None, psf, (9, 9),
                                             niters=1, **kw).run(image,
                                                                 error=error)
    two = IterativelySubtractedPSFPhotometry(None, None, psf, (9, 9),
                                             niters=2, **kw).run(image,
                                                                 error=error)
    first = one.table
    assert two.diagnostics["detections_per_iteration"] == (len(first), 1)
    new = two.table[two.table["iter_detected"] == 2]
    assert len(new) == 1
    assert_allclose([new["x_fit"][0], new["y_fit"][0]], [43.4, 35.6], atol=0.1)
    again = two.table[:len(first)]
    # model boxes of 13 pixels (the PSF's 4-sigma bounding box): centres
    # 13 pixels or more apart on some axis share no pixel
    dx = np.abs(np.round(first["x_0"])[:, None] - np.round(new["x_0"])[None])
    dy = np.abs(np.round(first["y_0"])[:, None] - np.round(new["y_0"])[None])
    near = np.any((dx < 13) & (dy < 13), axis=1)
    assert 0 < near.sum() < len(first)
    for col in ("x_fit", "y_fit", "flux_fit", "flux_unc"):
        assert_array_equal(again[col][~near], first[col][~near])
        assert not np.allclose(again[col][near], first[col][near], rtol=1e-6)


def test_refit_uncertainties_equal_a_full_computation(monkeypatch):
    # a refit after new detections (or dropped duplicates) recomputes the
    # uncertainties of the clusters near a change only; the others keep
    # their earlier ones, which must be those a computation over every
    # cluster gives (here about a third of the stars are near a change)
    rng = np.random.default_rng(12)
    shape, n = (160, 160), 190
    x, y = crowded_positions(rng, shape, n, 0.5 * FWHM)
    flux = 10 ** rng.uniform(2.9, 4.2, n)
    image, error = star_field(shape, x, y, flux, sky_noise=4.0, rng=rng)
    psf = IntegratedGaussianPRF(sigma=SIGMA)

    def run():
        return IterativelySubtractedPSFPhotometry(
            None, None, psf, (9, 9), finder=DAOStarFinder(30.0, FWHM),
            niters=2).run(image, error=error).table

    tab = run()
    assert np.any(tab["iter_detected"] == 2)
    every = _engine._fit_crowded

    def recompute_all(*args, **kwargs):
        return every(*args, **{**kwargs, "prior": None})

    monkeypatch.setattr(_engine, "_fit_crowded", recompute_all)
    full = run()
    assert_array_equal(tab["flags"], full["flags"])
    for col in ("x_fit", "flux_fit", "flux_unc", "x_0_unc", "y_0_unc"):
        assert_allclose(tab[col], full[col], rtol=1e-10)


# --------------------------------------------------- results and API
def test_result_repr_and_pickle():
    rng = np.random.default_rng(9)
    image, error = star_field((30, 30), [14.6], [15.2], [3000.0],
                              sky_noise=2.0, rng=rng)
    mask = np.zeros(image.shape, dtype=bool)
    mask[15, 15] = True
    res = BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=SIGMA),
                             7).run(image, mask=mask,
                                    init_guesses=QTable({"x": [15.0],
                                                         "y": [15.0]}))
    text = repr(res)
    assert "table=<QTable: 1 rows" in text
    assert "MASKED_PIXELS: 1" in text and "MASKED_CENTER: 1" in text
    assert "image_shape=(30, 30)" in text
    assert "array(" not in text
    clone = pickle.loads(pickle.dumps(res))
    assert_allclose(clone.residual_image, res.residual_image)
    with pytest.raises(TypeError, match="read-only"):
        res.diagnostics["n_sources"] = 3


def test_tiled_photometry_executor_and_old_client():
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    yy, xx = np.mgrid[0:40, 0:64]
    image = psf.evaluate(xx, yy, 800.0, 50.4, 21.2, SIGMA)
    phot = BasicPSFPhotometry(None, None, psf, 7,
                              finder=DAOStarFinder(5.0, FWHM))
    new = tiled_photometry(image, phot, tile_size=32, overlap=8, executor=2)
    with pytest.warns(PsfkitDeprecationWarning, match="client= is deprecated"):
        old = tiled_photometry(image, phot, tile_size=32, overlap=8,
                               client=None or 2)
    assert_allclose(old.table["x_fit"], new.table["x_fit"])
    assert "tiles=4" in repr(new)


def test_tiled_photometry_progress_bar(capsys):
    # progress_bar= counts the finished tiles, with the same table as
    # without a bar
    pytest.importorskip("tqdm")
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    yy, xx = np.mgrid[0:40, 0:64]
    image = (psf.evaluate(xx, yy, 800.0, 50.4, 21.2, SIGMA)
             + psf.evaluate(xx, yy, 600.0, 12.7, 30.6, SIGMA))
    phot = BasicPSFPhotometry(None, None, psf, 7,
                              finder=DAOStarFinder(5.0, FWHM))
    quiet = tiled_photometry(image, phot, tile_size=32, overlap=8)
    assert capsys.readouterr().err == ""
    shown = tiled_photometry(image, phot, tile_size=32, overlap=8,
                             progress_bar=True)
    assert "tiles: 100%" in capsys.readouterr().err
    assert_array_equal(shown.table["flux_fit"], quiet.table["flux_fit"])
    assert len(shown.table) == 2
    # on an executor only the tiles' bar shows: the tiles' photometry draws
    # none (the user's object keeps its setting)
    phot.progress_bar = True
    pooled = tiled_photometry(image, phot, tile_size=32, overlap=8,
                              executor=2, progress_bar=True)
    err = capsys.readouterr().err
    assert "tiles: 100%" in err and "fit " not in err
    assert phot.progress_bar is True
    assert_array_equal(pooled.table["flux_fit"], quiet.table["flux_fit"])


def test_photometry_reprs_are_short():
    phot = IterativelySubtractedPSFPhotometry(
        DAOGroup(5.0), None, IntegratedGaussianPRF(sigma=SIGMA), 7,
        finder=DAOStarFinder(5.0, FWHM), niters=None)
    text = repr(phot)
    assert text.startswith("IterativelySubtractedPSFPhotometry(")
    assert "niters=None" in text and "fitshape=(7, 7)" in text
    assert "object at 0x" not in text and len(text) < 600
    assert "<table>" in phot._repr_html_()


def test_quality_columns_print_four_digits():
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    yy, xx = np.mgrid[0:30, 0:30]
    image = psf.evaluate(xx, yy, 1000.0, 14.3, 15.2, SIGMA) + 0.1 * np.cos(xx)
    tab = BasicPSFPhotometry(None, None, psf, 7)(
        image, init_guesses=QTable({"x_0": [14.0], "y_0": [15.0]}))
    assert tab["cfit"].info.format == ".4g"
    line = tab["qfit", "cfit"].pformat()[-1].split()
    assert all(len(v.lstrip("-").replace(".", "").replace("e", "")) <= 8
               for v in line)


def test_init_guess_columns_follow_the_one_resolver():
    # a table with both ``x`` and ``x_0`` is read as ``x`` everywhere in
    # psfkit (the photutils 3.x order of priority)
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    yy, xx = np.mgrid[0:30, 0:30]
    image = psf.evaluate(xx, yy, 1000.0, 14.3, 15.2, SIGMA)
    guesses = QTable({"x": [14.0], "y": [15.0], "x_0": [3.0], "y_0": [3.0],
                      "flux_0": [900.0]})
    tab = BasicPSFPhotometry(None, None, psf, 7)(image, init_guesses=guesses)
    assert tab["x_0"][0] == 14.0 and tab["flux_0"][0] == 900.0
    assert_allclose([tab["x_fit"][0], tab["flux_fit"][0]], [14.3, 1000.0],
                    rtol=1e-6)


class _PointImagePSF(ImagePSF):
    """`ImagePSF` evaluated pixel by pixel (its grid path switched off)."""

    grid_separable = False


@pytest.mark.parametrize("fitter", [None, BatchedLMFitter()])
def test_image_psf_grid_evaluation_gives_the_point_fit(fitter):
    # an oversampled, non-Gaussian ePSF: the fit of a crowded field with
    # the per-grid spline evaluation equals the one evaluated point by
    # point, and both recover the truth
    rng = np.random.default_rng(12)
    shape = (120, 120)
    x, y = crowded_positions(rng, shape, 70, 2.0)
    flux = rng.uniform(2e3, 2e4, x.size)
    over = 3
    half = 8 * over
    py, px = np.mgrid[-half:half + 1, -half:half + 1] / over
    r = np.hypot(px, py)
    shape_psf = np.exp(-r ** 2 / (2 * SIGMA ** 2)) + 0.02 * np.exp(
        -(r - 3.5) ** 2 / 0.5)
    kwargs = {"oversampling": over, "normalize": True}
    model = ImagePSF(shape_psf, **kwargs)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    stars = sum(model.evaluate(xx, yy, f, xi, yi)
                for xi, yi, f in zip(x, y, flux, strict=True))
    error = np.sqrt(5.0 ** 2 + stars)
    image = stars + rng.normal(size=shape) * error
    init = QTable({"x": x + rng.normal(0, 0.2, x.size),
                   "y": y + rng.normal(0, 0.2, y.size)})
    tables = []
    for psf in (model, _PointImagePSF(shape_psf, **kwargs)):
        phot = PSFPhotometry(psf, (7, 7), grouper=SourceGrouper(6.0),
                             aperture_radius=3.0, fitter=fitter)
        tables.append(phot(image, error=error, init_params=init))
    grid, point = tables
    assert_array_equal(grid["flags"], point["flags"])
    for col in ("x_fit", "y_fit"):
        assert_allclose(grid[col], point[col], rtol=0, atol=1e-7)
    for col in ("flux_fit", "flux_err", "x_err"):
        assert_allclose(grid[col], point[col], rtol=1e-7)
    pull = (grid["flux_fit"] - flux) / grid["flux_err"]
    # (the groups fitted alone miss their neighbours' light: wider pulls)
    assert 0.85 < np.std(pull) < (1.15 if fitter is None else 1.3)
    assert np.sqrt(np.mean((grid["x_fit"] - x) ** 2)) < 0.1
