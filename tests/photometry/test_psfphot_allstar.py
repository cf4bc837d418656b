"""
The all-star fit's own rules: residual detections removed as they fit to
nothing or onto a brighter star, whole clusters first, and the
neighbourhoods of the marginal uncertainties.
"""

from dataclasses import replace

from astropy.table import QTable
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest
from scipy.spatial import cKDTree

from psfkit._numerics.gaussian import FWHM_PER_SIGMA, integrated_gaussian_image
from psfkit.photometry import (
    BasicPSFPhotometry,
    DAOStarFinder,
    IntegratedGaussianPRF,
    IterativelySubtractedPSFPhotometry,
    SparseLMFitter,
)
from psfkit.photometry.fitting import _engine
from psfkit.photometry.fitting._block_system import neighbourhoods

SIGMA = 1.5
FWHM = SIGMA * FWHM_PER_SIGMA


def _image(shape, x, y, flux, rng, sky=3.0):
    stars = integrated_gaussian_image(shape, x, y, flux, SIGMA, extent=10.0)
    error = np.sqrt(sky ** 2 + stars)
    return stars + rng.normal(size=shape) * error, error


def _patch(rng, n=18):
    """A compact crowded patch (one cluster of about ``n`` stars)."""
    x, y = [], []
    while len(x) < n:
        px, py = rng.uniform(12, 48, 2)
        if all(np.hypot(px - a, py - b) > 0.9 * FWHM
               for a, b in zip(x, y, strict=True)):
            x.append(px)
            y.append(py)
    return np.array(x), np.array(y), rng.uniform(2000, 9000, n)


def _fit(phot, image, error, start, **kwargs):
    setup = phot._fit_setup()
    theta = np.zeros((len(start["x_0"]), len(setup.param_names)))
    for k, name in enumerate(setup.param_names):
        theta[:, k] = start[name] if name in start else getattr(
            phot.psf_model, name).value
    return setup, _engine.fit_image(setup, image, 1.0 / error, theta,
                                    model_shape=phot._model_shape(),
                                    weights_are_errors=True, **kwargs)


def test_removed_sources_leave_the_fit_as_if_never_given():
    # a crowded patch plus three spurious sources: two on bright stars
    # (0.3 and 0.6 pixel away), one between stars; removable, they are
    # taken out during the fit, and the stars end where a fit without
    # them ends, uncertainties included
    rng = np.random.default_rng(3)
    x, y, flux = _patch(rng)
    image, error = _image((60, 60), x, y, flux, rng)
    bright = np.argsort(flux)[-2:]
    sx = np.r_[x[bright] + [0.3, 0.0], 30.0]
    sy = np.r_[y[bright] + [0.0, 0.6], 30.0]
    true_start = {"flux": flux * rng.uniform(0.8, 1.2, len(x)),
                  "x_0": x + rng.normal(0, 0.2, len(x)),
                  "y_0": y + rng.normal(0, 0.2, len(x))}
    start = {k: np.r_[v, [150.0, 80.0, -20.0] if k == "flux" else
                      (sx if k == "x_0" else sy)]
             for k, v in true_start.items()}
    removable = np.r_[np.zeros(len(x), bool), np.ones(3, bool)]
    phot = BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=SIGMA),
                              (9, 9), fitter=SparseLMFitter(tol=1e-12))
    setup, fits = _fit(phot, image, error, start, removable=removable,
                       min_separation=0.5 * FWHM)
    _, ref = _fit(phot, image, error, true_start)
    assert max(fits.cluster_sizes) >= 10  # the crowded path, not islands
    assert_array_equal(fits.removed, removable)
    n = len(x)
    assert_allclose(fits.theta[:n], ref.theta, rtol=1e-6, atol=1e-6)
    assert_allclose(fits.unc[:n], ref.unc, rtol=1e-6)
    assert np.all(fits.flags[:n] == ref.flags)


def test_user_sources_are_never_removed():
    # without `removable` two sources on one star both stay (and share it)
    rng = np.random.default_rng(4)
    x, y, flux = _patch(rng)
    image, error = _image((60, 60), x, y, flux, rng)
    start = {"flux": np.r_[flux, 100.0], "x_0": np.r_[x, x[0] + 0.2],
             "y_0": np.r_[y, y[0]]}
    phot = BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=SIGMA),
                              (9, 9))
    _, fits = _fit(phot, image, error, start)
    assert not fits.removed.any()
    assert np.all(np.isfinite(fits.theta))


def test_iterative_mode_all_keeps_no_spurious_residual_detections():
    # a crowded field found and fitted from scratch: no residual detection
    # left with no flux or within half a FWHM of a brighter source, and the
    # stars still measured as the truth says
    rng = np.random.default_rng(8)
    shape, n = (120, 120), 260
    x, y = rng.uniform(4, 115, n), rng.uniform(4, 115, n)
    flux = 10 ** rng.uniform(2.8, 4.3, n)
    image, error = _image(shape, x, y, flux, rng, sky=4.0)
    phot = IterativelySubtractedPSFPhotometry(
        None, None, IntegratedGaussianPRF(sigma=SIGMA), (7, 7),
        finder=DAOStarFinder(20.0, FWHM), niters=3)
    res = phot.run(image, error=error)
    tab = res.table
    later = np.asarray(tab["iter_detected"]) > 1
    assert later.any()
    fx, fy = np.asarray(tab["x_fit"]), np.asarray(tab["y_fit"])
    f = np.asarray(tab["flux_fit"])
    assert np.all(f[later] > 0)
    # with an error array, no residual detection below its flux error
    assert np.all(f[later] >= np.asarray(tab["flux_unc"])[later])
    pairs = cKDTree(np.c_[fx, fy]).query_pairs(0.5 * FWHM,
                                               output_type="ndarray")
    for i, j in pairs:
        fainter = i if f[i] < f[j] else j
        assert not later[fainter]
    dist, idx = cKDTree(np.c_[x, y]).query(np.c_[fx, fy])
    good = (dist < 0.5) & (np.asarray(tab["flags"]) == 0)
    # isolated from other true stars: no unmodelled neighbour
    nn = cKDTree(np.c_[x, y]).query(np.c_[x, y], k=2)[0][:, 1]
    clean = good & (nn[idx] > 1.5 * FWHM)
    pull = (f[clean] - flux[idx[clean]]) / np.asarray(tab["flux_unc"])[clean]
    assert clean.sum() > 30
    robust = 1.4826 * np.median(np.abs(pull - np.median(pull)))
    assert 0.8 < robust < 1.2
    assert res.diagnostics["n_not_converged"] == 0


def test_a_chain_of_blends_converges_as_one_system():
    # 60 stars in a chain one FWHM apart: the first round fits the whole
    # chain, which converges in a few iterations
    rng = np.random.default_rng(6)
    n = 60
    x = 10 + np.arange(n) * FWHM
    y = 20 + 2 * np.sin(np.arange(n) / 3.0)
    flux = rng.uniform(2000, 6000, n)
    image, error = _image((40, int(x.max()) + 12), x, y, flux, rng)
    init = QTable({"x": x + rng.normal(0, 0.2, n),
                   "y": y + rng.normal(0, 0.2, n)})
    phot = BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=SIGMA),
                              (9, 9))
    res = phot.run(image, error=error, init_guesses=init)
    assert res.diagnostics["largest_cluster"] == n
    assert res.diagnostics["median_fit_iterations"] <= 8
    assert res.diagnostics["n_not_converged"] == 0
    tab = res.table
    for fit, truth, unc in (("flux_fit", flux, "flux_unc"),
                            ("x_fit", x, "x_0_unc"), ("y_fit", y, "y_0_unc")):
        pull = (tab[fit] - truth) / tab[unc]
        assert 0.6 < np.std(pull) < 1.5, fit


@pytest.mark.parametrize("cap", [40, 6])
def test_neighbourhoods_match_a_breadth_first_search(cap):
    rng = np.random.default_rng(2)
    n = 300
    xy = rng.uniform(0, 50, (n, 2))
    pairs = np.sort(cKDTree(xy).query_pairs(3.5, output_type="ndarray"),
                    axis=1)
    adjacent = [set() for _ in range(n)]
    for i, j in pairs:
        adjacent[i].add(j)
        adjacent[j].add(i)
    stars = rng.choice(n, 120, replace=False)
    hoods, lengths = neighbourhoods(stars, pairs, n, cap=cap)
    for k, star in enumerate(stars):
        first = sorted(adjacent[star])
        second = sorted(set().union(*(adjacent[j] for j in first))
                        - set(first) - {star}) if first else []
        expect = ([star] + first + second)[:cap]
        assert lengths[k] == len(expect)
        assert_array_equal(hoods[k, :lengths[k]], expect)
        assert np.all(hoods[k, lengths[k]:] == -1)


@pytest.mark.parametrize("side", [-1, 1])
def test_a_box_follows_a_fit_held_at_its_edge(side):
    # a guess 4.6 px from its star: the first fit stops on the edge of
    # its 7x7 box; mode 'all' centres the box on that fit for the next
    # pass, and the source reaches its star, unflagged
    rng = np.random.default_rng(11)
    image, error = _image((41, 41), np.array([20.3]), np.array([19.8]),
                          np.array([8000.0]), rng)
    guess = QTable({"x_0": [20.3 + side * 4.6], "y_0": [19.8],
                    "flux_0": [3000.0]})
    phot = IterativelySubtractedPSFPhotometry(
        None, None, IntegratedGaussianPRF(sigma=SIGMA), (7, 7),
        finder=DAOStarFinder(30.0, FWHM), niters=3)
    first = BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=SIGMA),
                               (7, 7)).run(image, error=error,
                                           init_guesses=guess).table
    assert first["flags"][0] & 128  # held at the edge of its box
    tab = phot.run(image, error=error, init_guesses=guess).table
    assert len(tab) == 1
    row = tab[0]
    assert row["flags"] == 0
    assert abs(row["x_fit"] - 20.3) < 5 * row["x_0_unc"]
    assert abs(row["y_fit"] - 19.8) < 5 * row["y_0_unc"]
    assert abs(row["flux_fit"] - 8000.0) < 4 * row["flux_unc"]


def test_mode_new_reports_the_clusters_of_every_pass():
    rng = np.random.default_rng(8)
    x, y, flux = _patch(rng, n=24)
    image, error = _image((60, 60), x, y, flux, rng)
    phot = IterativelySubtractedPSFPhotometry(
        None, None, IntegratedGaussianPRF(sigma=SIGMA), (7, 7),
        finder=DAOStarFinder(20.0, FWHM), niters=3, mode="new")
    res = phot.run(image, error=error)
    diag = res.diagnostics
    assert diag["iterations"] >= 2
    # the passes' clusters add up (they were reported as none)
    assert diag["iterations"] <= diag["n_clusters"] <= diag["n_sources"]
    assert 2 <= diag["largest_cluster"] <= diag["n_sources"]


def test_a_refit_found_at_its_minimum_has_converged():
    # a cluster flagged not converged by an earlier fit, refitted from
    # where it stopped (its minimum): the refit finds it there at once,
    # and it is reported converged, not with the earlier flag
    from psfkit.photometry.fitting.flags import PSFFlags

    rng = np.random.default_rng(5)
    x, y, flux = _patch(rng)
    image, error = _image((60, 60), x, y, flux, rng)
    start = {"flux": flux, "x_0": x, "y_0": y}
    phot = BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=SIGMA),
                              (9, 9))
    setup, first = _fit(phot, image, error, start)
    assert not np.any(first.flags & PSFFlags.NOT_CONVERGED)
    prior = replace(first, flags=first.flags | PSFFlags.NOT_CONVERGED)
    again = {name: first.theta[:, k]
             for k, name in enumerate(setup.param_names)}
    box = np.column_stack([x, y])
    settled = np.zeros(len(x), dtype=bool)
    settled[:3] = True  # these keep their earlier (flagged) fits
    _, refit = _fit(phot, image, error, again, box_xy=box, settled=settled,
                    prior=prior)
    assert np.all(refit.flags[3:] & PSFFlags.NOT_CONVERGED == 0)
    # (where the fit stopped, to a thousandth of the uncertainties)
    free = setup.free
    assert np.all(np.abs(refit.theta[3:, free] - first.theta[3:, free])
                  < 1e-3 * first.unc[3:, free])


def test_the_signal_to_noise_rule_needs_real_errors():
    # spurious sources in a crowded patch: with inverse errors as weights
    # those that fall below their flux error (with the neighbours held)
    # during the fit are removed;
    # with plain weights (no error array) the rule has no noise scale and
    # is not applied
    rng = np.random.default_rng(9)
    x, y, flux = _patch(rng)
    sx, sy = np.array([30.0, 22.0, 38.0]), np.array([30.0, 38.0, 22.0])
    # (with three stars as faint as their flux errors there)
    image, error = _image((60, 60), np.r_[x, sx], np.r_[y, sy],
                          np.r_[flux, 15.0, 15.0, 15.0], rng)
    start = {"flux": np.r_[flux, 30.0, 30.0, 30.0], "x_0": np.r_[x, sx],
             "y_0": np.r_[y, sy]}
    removable = np.r_[np.zeros(len(x), bool), np.ones(3, bool)]
    phot = BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=SIGMA),
                              (7, 7))
    setup = phot._fit_setup()
    theta = np.column_stack([start[n] if n in start else
                             np.full(len(removable), SIGMA)
                             for n in setup.param_names])
    kwargs = {"model_shape": phot._model_shape(), "removable": removable,
              "min_separation": 0.5 * FWHM}
    for weights_are_errors in (True, False):
        fits = [_engine.fit_image(setup, image, 1.0 / error, theta,
                                  weights_are_errors=weights_are_errors,
                                  min_snr=snr, **kwargs)
                for snr in (None, 1.0)]
        if weights_are_errors:
            plain, rule = fits[0].removed, fits[1].removed
            extra = rule & ~plain
            assert extra.any() and not (plain & ~rule).any()
            # what the rule took out (at its flux with the neighbours held,
            # during the fit) is faint: within twice its error of nothing
            # when fitted to the end
            f = fits[0].theta[extra, setup.flux_col]
            assert np.all(f < 2.0 * fits[0].unc[extra, setup.flux_col])
        else:
            assert_array_equal(fits[1].removed, fits[0].removed)
            assert_allclose(fits[1].theta, fits[0].theta, equal_nan=True)


def test_offset_maps_by_rows_equal_the_whole_table():
    from psfkit.photometry.fitting._geometry import offset_index, offset_maps

    shape = (5, 7)
    table = offset_maps(shape)
    dy, dx = np.meshgrid(np.arange(-4, 5), np.arange(-6, 7), indexing="ij")
    rows = offset_index(dy.ravel(), dx.ravel(), shape)
    assert_array_equal(offset_maps(shape, rows), table[rows])
    # against a loop: pixel (r, c) of the first box is pixel (r - dy, c - dx)
    # of a second box whose centre is (dy, dx) away
    for k in rows[::7]:
        oy, ox = divmod(int(k), 2 * shape[1] - 1)
        oy, ox = oy - (shape[0] - 1), ox - (shape[1] - 1)
        for p in range(shape[0] * shape[1]):
            r, c = divmod(p, shape[1])
            r2, c2 = r - oy, c - ox
            inside = 0 <= r2 < shape[0] and 0 <= c2 < shape[1]
            assert table[k, p] == (r2 * shape[1] + c2 if inside else -1)
    # the table every all-star fit shares: made once per shape, read-only
    from psfkit.photometry.fitting._geometry import offset_table

    shared = offset_table(shape)
    assert_array_equal(shared, table)
    assert offset_table(tuple(np.int64(v) for v in shape)) is shared
    with pytest.raises(ValueError, match="read-only"):
        shared[0, 0] = 1


def test_large_model_boxes_map_only_their_pairs_offsets(monkeypatch):
    # the whole table of offset maps grows as the square of a model box's
    # pixels (gigabytes for a wide PSF): beyond a size only the pairs'
    # rows are made, with the same fit
    from psfkit.photometry.fitting import _allstar

    rng = np.random.default_rng(8)
    x, y, flux = _patch(rng)
    image, error = _image((60, 60), x, y, flux, rng)
    phot = BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=SIGMA),
                              (7, 7))
    start = {"x_0": x + 0.2, "y_0": y - 0.2, "flux": flux * 0.9}
    _, whole = _fit(phot, image, error, start)
    monkeypatch.setattr(_allstar, "_ALL_MAPS", 0)
    made = []

    def spy(shape, rows=None):
        made.append(rows is None)
        return offset_maps(shape, rows)

    offset_maps = _allstar.offset_maps
    monkeypatch.setattr(_allstar, "offset_maps", spy)
    _, rows = _fit(phot, image, error, start)
    assert made and not any(made)
    assert_array_equal(rows.theta, whole.theta)
    assert_array_equal(rows.unc, whole.unc)


def test_flux_prefit_only_for_residual_detections(monkeypatch):
    # the fluxes alone are solved first only when residual detections
    # (removable sources) are fitted; a first fit starts from its guesses
    from psfkit.photometry.fitting import _allstar

    calls = []
    original = _allstar.AllStarProblem.prefit_fluxes

    def spy(problem):
        calls.append(len(problem.stars))
        return original(problem)

    monkeypatch.setattr(_allstar.AllStarProblem, "prefit_fluxes", spy)
    rng = np.random.default_rng(8)
    x, y, flux = _patch(rng)
    image, error = _image((60, 60), x, y, flux, rng)
    start = {"flux": flux * rng.uniform(0.7, 1.3, len(x)),
             "x_0": x + rng.normal(0, 0.3, len(x)),
             "y_0": y + rng.normal(0, 0.3, len(x))}
    phot = BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=SIGMA),
                              (9, 9))
    _, fits = _fit(phot, image, error, start)
    assert calls == []
    # the first fit reaches the truth within its errors all the same
    pull = (fits.theta[:, 0] - flux) / fits.unc[:, 0]
    assert np.all(np.abs(pull) < 4.0)
    extra = {k: np.r_[v, 50.0 if k == "flux" else 30.0]
             for k, v in start.items()}
    removable = np.r_[np.zeros(len(x), bool), True]
    _fit(phot, image, error, extra, removable=removable,
         min_separation=0.5 * FWHM)
    assert len(calls) == 1
