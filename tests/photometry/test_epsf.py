from astropy.nddata import NDData
from astropy.table import QTable
import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit.photometry import (
    EPSFBuilder,
    EPSFBuildResult,
    EPSFStar,
    EPSFStars,
    ImagePSF,
    IntegratedGaussianPRF,
    StarExcludedWarning,
    extract_stars,
)
from psfkit.photometry.epsf._stacking import polynomial_smoothing_kernel
from psfkit.utils import NonFiniteValueWarning, PsfkitWarning

# --------------------------------------------------------------------------
# simulation helpers (vectorised: all stars rendered in one np.add.at)


def _moffat_ring(dx, dy):
    """A non-Gaussian PRF: Moffat core plus a diffraction-like ring."""
    r2 = dx ** 2 + dy ** 2
    moffat = 1.5 / (np.pi * 4.0) * (1 + r2 / 4.0) ** -2.5
    ring = 0.004 * np.exp(-(np.sqrt(r2) - 5.0) ** 2 / (2 * 0.7 ** 2))
    return moffat + ring


def _star_field(prf, n, *, spacing=40, half=20, flux_range=(2e4, 1e5),
                read_noise=5.0, seed=1):
    rng = np.random.default_rng(seed)
    ncol = 15
    nrow = int(np.ceil(n / ncol))
    shape = ((nrow + 1) * spacing, (ncol + 1) * spacing)
    k = np.arange(n)
    x = spacing * (1 + k % ncol) + rng.uniform(-0.5, 0.5, n)
    y = spacing * (1 + k // ncol) + rng.uniform(-0.5, 0.5, n)
    flux = rng.uniform(*flux_range, n)
    span = np.arange(-half, half + 1)
    cols = np.rint(x).astype(int)[:, None, None] + span[None, None, :]
    rows = np.rint(y).astype(int)[:, None, None] + span[None, :, None]
    values = flux[:, None, None] * prf(cols - x[:, None, None],
                                       rows - y[:, None, None])
    image = np.zeros(shape)
    np.add.at(image, (rows, cols), values)
    if read_noise:
        # Gaussian read noise plus the (Gaussian-approximated) photon noise
        image = image + rng.normal(0, 1, shape) * np.sqrt(read_noise ** 2
                                                          + image)
    return image, x, y, flux, rng


def _truth_on_grid(prf, shape, oversampling):
    ny, nx = shape
    fy, fx = np.mgrid[0:ny, 0:nx]
    truth = prf((fx - (nx - 1) / 2) / oversampling,
                (fy - (ny - 1) / 2) / oversampling)
    return truth * oversampling ** 2 / truth.sum()


def _gaussian_prf(sigma):
    model = IntegratedGaussianPRF(sigma=sigma)
    return lambda dx, dy: model.evaluate(dx, dy, 1.0, 0.0, 0.0, sigma)


# --------------------------------------------------------------------------
# EPSFBuilder


@pytest.mark.slow
def test_epsf_recovers_non_gaussian_psf():
    image, x, y, flux, rng = _star_field(_moffat_ring, 200)
    # a catalogue with 0.3-pixel position errors
    catalog = QTable({"x": x + rng.normal(0, 0.3, x.size),
                      "y": y + rng.normal(0, 0.3, y.size)})
    stars = extract_stars(image, catalog, size=25)
    assert len(stars) == 200
    epsf, fitted = EPSFBuilder(oversampling=4)(stars)
    assert isinstance(epsf, ImagePSF)
    assert epsf.data.shape == (101, 101)
    assert tuple(epsf.oversampling) == (4, 4)
    assert_allclose(epsf.data.sum() / 16, 1.0, rtol=1e-12)
    truth = _truth_on_grid(_moffat_ring, epsf.data.shape, 4)
    residual = np.abs(epsf.data - truth).max() / truth.max()
    assert residual < 0.01
    # fitted centres and fluxes against the truth
    assert fitted.meta["converged"]
    d = fitted.center_flat - np.column_stack([x, y])
    assert np.sqrt(np.mean(d ** 2)) < 0.01
    fy, fx = np.mgrid[0:101, 0:101]
    enclosed = _moffat_ring((fx - 50) / 4, (fy - 50) / 4).sum() / 16
    assert_allclose(np.median(fitted.flux / (flux * enclosed)), 1.0,
                    atol=0.005)


def _gaussian_stars(n, *, sigma=1.4, seed=3, read_noise=2.0):
    image, x, y, flux, rng = _star_field(_gaussian_prf(sigma), n, spacing=30,
                                         half=12, read_noise=read_noise,
                                         seed=seed)
    return image, x, y, flux, rng


def _crowded_stars(n=80, size=420, *, sigma=1.6, noise=0.0, seed=2):
    """Gaussian stars at random positions: neighbours inside the cutouts."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(15, size - 15, n)
    y = rng.uniform(15, size - 15, n)
    flux = rng.uniform(2e4, 1e5, n)
    prf = _gaussian_prf(sigma)
    span = np.arange(-13, 14)
    cols = np.rint(x).astype(int)[:, None, None] + span[None, None, :]
    rows = np.rint(y).astype(int)[:, None, None] + span[None, :, None]
    image = np.zeros((size, size))
    np.add.at(image, (rows, cols), flux[:, None, None] * prf(
        cols - x[:, None, None], rows - y[:, None, None]))
    image += rng.normal(0, noise, image.shape) if noise else 0.0
    return image, x, y, flux


def _crowded_scores(epsf, fitted, x, y, flux, sigma, over):
    truth = _truth_on_grid(_gaussian_prf(sigma), epsf.data.shape, over)
    err = np.abs(epsf.data - truth).max() / truth.max()
    d = np.hypot(fitted.center_flat[:, None, 0] - x[None],
                 fitted.center_flat[:, None, 1] - y[None])
    ratio = np.median(fitted.flux / flux[np.argmin(d, axis=1)])
    return err, ratio


@pytest.mark.slow
@pytest.mark.parametrize(("over", "max_err", "max_bias"),
                         [(2, 0.01, 0.01), (4, 0.15, 0.025)])
def test_epsf_rejects_neighbours_inside_cutouts(over, max_err, max_bias):
    # 80 stars on 420 x 420: about a quarter of the 25-pixel cutouts hold a
    # neighbour, and at oversampling 4 a grid cell gets about five
    # residuals, too few for a per-cell standard deviation to reject one
    # (the ePSF then drifted: 75% of the peak off, fluxes 41% high)
    image, x, y, flux = _crowded_stars()
    stars = extract_stars(image, QTable({"x": x, "y": y}), size=25)
    result = EPSFBuilder(oversampling=over, maxiters=20)(stars)
    assert result.converged
    err, ratio = _crowded_scores(result.epsf, result.fitted_stars, x, y,
                                 flux, 1.6, over)
    assert err < max_err
    assert abs(ratio - 1) < max_bias


def test_clip_cells_rejects_single_outliers_keeps_faint_stars():
    # 400 cells of five residuals from five of 40 stars, a fifth of them
    # five times noisier (faint); a neighbour's light in one residual of a
    # fifth of the cells.  A per-cell standard deviation cannot reject it
    # (it stays within 4 / sqrt(5) = 1.8 of them); the width expected from
    # the ring and the star's noise level rejects it and keeps the faint
    # stars' pixels
    from psfkit.photometry.epsf._stacking import clip_cells

    rng = np.random.default_rng(4)
    n_cells, per = 400, 5
    cell = np.repeat(np.arange(n_cells), per)
    rank = np.tile(np.arange(per), n_cells)
    star = rng.integers(0, 40, cell.size)
    noise = np.where(star % 5 == 0, 5.0, 1.0)
    resid = rng.normal(0.0, 1.0, cell.size) * noise
    bad = (rank == 2) & (rng.random(cell.size) < 0.2)
    resid[bad] += 60.0
    rings = np.repeat(np.arange(4), n_cells // 4)
    kept, level = clip_cells(resid, cell, rank, star, rings, n_cells, 4.0,
                             4.0, 10)
    # the faint stars' noise levels stand out from the bright ones' (they
    # are measured on the residuals a first run with one level kept, which
    # cuts the faint stars' tails: about 3.5 for 5)
    assert_allclose(np.median(level[np.arange(40) % 5 != 0]), 1.0, rtol=0.1)
    assert np.all(level[np.arange(40) % 5 == 0] > 2.0)
    assert not np.any(kept[bad])
    faint = ~bad & (noise == 5.0)
    bright = ~bad & (noise == 1.0)
    assert np.mean(kept[faint]) > 0.97 and np.mean(kept[bright]) > 0.97
    # with one width for all stars the faint stars' pixels are lost
    same, _ = clip_cells(resid, cell, rank, np.zeros_like(star), rings,
                         n_cells, 4.0, 4.0, 10)
    assert np.mean(same[faint]) < 0.8
    # the per-cell standard deviation keeps every neighbour
    rows = resid.reshape(n_cells, per)
    z = np.abs(rows - rows.mean(axis=1, keepdims=True)) / rows.std(
        axis=1, keepdims=True)
    assert np.all(z.ravel()[bad] < 3.0)


def test_epsf_ignores_masked_and_nan_pixels():
    sigma = 1.4
    image, x, y, flux, rng = _gaussian_stars(120, sigma=sigma)
    catalog = QTable({"x": x, "y": y})
    clean, _ = EPSFBuilder(oversampling=2, maxiters=5)(
        extract_stars(image, catalog, size=15))
    # corrupt 3% of the pixels with huge values, and mark them bad: half
    # through a mask, half as NaN
    bad = rng.random(image.shape) < 0.03
    image[bad] = 1e7
    as_nan = bad & (rng.random(image.shape) < 0.5)
    image[as_nan] = np.nan
    data = NDData(image, mask=bad & ~as_nan)
    with pytest.warns(NonFiniteValueWarning):
        stars = extract_stars(data, catalog, size=15)
    assert any(s.mask.any() for s in stars)
    epsf, fitted = EPSFBuilder(oversampling=2, maxiters=5)(stars)
    truth = _truth_on_grid(_gaussian_prf(sigma), epsf.data.shape, 2)
    # noise-limited with 120 stars: about 0.5% of the peak either way
    assert np.abs(epsf.data - truth).max() / truth.max() < 0.015
    assert np.abs(epsf.data - clean.data).max() / truth.max() < 0.015
    d = fitted.center_flat - np.column_stack([x, y])
    assert np.sqrt(np.mean(d ** 2)) < 0.02


@pytest.mark.parametrize("kernel", ["quadratic", None,
                                    np.full((3, 3), 1 / 9)])
def test_epsf_other_smoothing_kernels(kernel):
    sigma = 2.0
    image, x, y, _, _ = _gaussian_stars(45, sigma=sigma, read_noise=0.0)
    stars = extract_stars(image, QTable({"x": x, "y": y}), size=15)
    epsf, fitted = EPSFBuilder(oversampling=2, maxiters=4,
                               smoothing_kernel=kernel)(stars)
    truth = _truth_on_grid(_gaussian_prf(sigma), epsf.data.shape, 2)
    # smoothing the ePSF itself flattens the peak a little (the quadratic
    # and box kernels most); the positions stay accurate
    assert np.abs(epsf.data - truth).max() / truth.max() < 0.05
    d = fitted.center_flat - np.column_stack([x, y])
    assert np.abs(d).max() < 0.02


def test_epsf_excludes_unfit_stars_and_progress_bar():
    pytest.importorskip("tqdm")
    image, x, y, _, _ = _gaussian_stars(20, read_noise=0.0)
    stars = list(extract_stars(image, QTable({"x": x, "y": y}), size=15))
    # a "star" with negative flux cannot be used
    stars.append(EPSFStar(-np.ones((15, 15)), id_label="negative"))
    # a star whose fit box is entirely masked cannot be fitted either
    masked = np.ma.MaskedArray(stars[0].data, mask=np.zeros((15, 15), bool))
    masked.mask[4:11, 4:11] = True
    stars.append(EPSFStar(masked, cutout_center=stars[0].cutout_center,
                          id_label="masked-core"))
    with pytest.warns(StarExcludedWarning, match="negative, masked-core"):
        epsf, fitted = EPSFBuilder(oversampling=2, maxiters=3,
                                   progress_bar=True, sigma_clip=None)(stars)
    assert len(fitted) == 20
    assert [s.id_label for s in fitted] == [s.id_label for s in stars[:20]]
    assert epsf.data.shape == (31, 31)


def test_epsf_builder_options_and_errors():
    with pytest.raises(ValueError, match="smoothing_kernel"):
        EPSFBuilder(smoothing_kernel="cubic")
    with pytest.raises(ValueError, match="smoothing_kernel"):
        EPSFBuilder(smoothing_kernel=np.ones((2, 2)))
    with pytest.raises(ValueError, match="oversampling"):
        EPSFBuilder(oversampling=0)
    with pytest.raises(ValueError, match="maxiters"):
        EPSFBuilder(maxiters=0)
    with pytest.raises(ValueError, match="fit_boxsize"):
        EPSFBuilder(fit_boxsize=4)
    with pytest.raises(TypeError):
        EPSFBuilder(4)
    with pytest.raises(ValueError, match="empty"):
        EPSFBuilder()(EPSFStars([]))
    with pytest.raises(TypeError, match="EPSFStar"):
        EPSFBuilder()([np.ones((5, 5))])
    builder = EPSFBuilder(oversampling=(2, 3), shape=(41, 51))
    image, x, y, _, _ = _gaussian_stars(15, read_noise=0.0)
    stars = extract_stars(image, QTable({"x": x, "y": y}), size=11)
    epsf, _ = builder(stars)
    assert epsf.data.shape == (41, 51)
    assert tuple(epsf.oversampling) == (2, 3)
    # cutouts of different sizes: the default grid covers the largest
    mixed = list(stars[:8]) + list(extract_stars(image, QTable(
        {"x": x[8:], "y": y[8:]}), size=15))
    epsf, fitted = EPSFBuilder(oversampling=2, maxiters=3)(mixed)
    assert epsf.data.shape == (31, 31)
    assert np.abs(fitted.center_flat - np.column_stack([x, y])).max() < 0.01


def test_polynomial_smoothing_kernel_preserves_polynomials():
    yy, xx = np.mgrid[-2:3, -2:3]
    for degree in (2, 4):
        kernel = polynomial_smoothing_kernel(degree)
        assert_allclose(kernel.sum(), 1.0)
        for i in range(degree + 1):
            for j in range(degree + 1 - i):
                # value of the polynomial at the centre is reproduced
                poly = (xx + 0.3) ** i * (yy - 0.7) ** j
                assert_allclose(np.sum(kernel * poly), 0.3 ** i * (-0.7) ** j,
                                atol=1e-12)
        # and it is the least-squares fit: compare with numpy.linalg.lstsq
        rng = np.random.default_rng(degree)
        values = rng.normal(size=(5, 5))
        design = np.stack([(xx ** i * yy ** j).ravel()
                           for i in range(degree + 1)
                           for j in range(degree + 1 - i)], axis=1)
        coef = np.linalg.lstsq(design, values.ravel(), rcond=None)[0]
        assert_allclose(np.sum(kernel * values), coef[0], atol=1e-12)


# --------------------------------------------------------------------------
# extract_stars and the star containers


def test_extract_stars_cutouts_and_edge_warning():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(60, 80))
    catalog = QTable({"id": [10, 11, 12, 13],
                      "xcentroid": [40.3, 2.0, 77.9, 20.6],
                      "ycentroid": [30.6, 30.0, 10.0, 49.4]})
    with pytest.warns(StarExcludedWarning, match="2 star") as record:
        stars = extract_stars(image, catalog, size=11)
    assert issubclass(record[0].category, PsfkitWarning)
    assert "11, 12" in str(record[0].message)
    assert len(stars) == 2
    s = stars[0]
    assert s.id_label == 10
    assert s.origin == (35.0, 26.0)
    assert_allclose(s.data, image[26:37, 35:46])
    assert_allclose(s.cutout_center, (5.3, 4.6))
    assert_allclose(s.center, (40.3, 30.6))
    assert_allclose(s.flux, image[26:37, 35:46].sum())
    table = stars.to_table()
    assert list(table["id"]) == [10, 13]
    assert_allclose(table["x_center"], [40.3, 20.6])
    assert isinstance(stars[:1], EPSFStars)
    assert stars.n_stars == 2


def test_extract_stars_masks_and_errors():
    image = np.ones((40, 40))
    image[10, 10] = np.nan
    mask = np.zeros((40, 40), dtype=bool)
    mask[25:36, 25:36] = True
    data = np.ma.MaskedArray(image, mask=mask)
    with pytest.warns(StarExcludedWarning, match="1 fully masked"), \
            pytest.warns(NonFiniteValueWarning):
        stars = extract_stars(data, QTable({"x": [10.0, 30.0],
                                            "y": [10.0, 30.0]}), size=11)
    assert len(stars) == 1
    assert stars[0].mask[5, 5] and stars[0].mask.sum() == 1
    assert_allclose(stars[0].flux, 120.0)
    with pytest.raises(ValueError, match="odd"):
        extract_stars(image, QTable({"x": [20.0], "y": [20.0]}), size=10)
    with pytest.raises(ValueError, match="has no x column"):
        extract_stars(image, QTable({"a": [20.0], "b": [20.0]}))
    with pytest.raises(ValueError, match="finite"):
        extract_stars(image, QTable({"x": [np.nan], "y": [20.0]}))
    with pytest.raises(TypeError, match="catalog"):
        extract_stars(image, [(20.0, 20.0)])


def test_epsf_star_basics():
    cutout = np.zeros((7, 9))
    cutout[3, 4] = 5.0
    star = EPSFStar(cutout, origin=(10, 20), id_label=7)
    assert star.shape == (7, 9)
    assert star.cutout_center == (4.0, 3.0)
    assert star.center == (14.0, 23.0)
    assert star.flux == 5.0
    moved = star.with_fit((4.5, 3.25), 6.0)
    assert moved.center == (14.5, 23.25) and moved.flux == 6.0
    assert star.flux == 5.0
    assert "EPSFStar id=7" in repr(star)
    with pytest.raises(ValueError, match="cutout_center"):
        EPSFStar(cutout, cutout_center=(1.0,))


def test_demo_quick(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from psfkit.demo.epsf import demo

    section = demo(tmp_path, quick=True)
    assert (tmp_path / "photometry_epsf.png").exists()
    assert float(section.metrics["ePSF max |error| (% of peak)"]) < 2.0


def test_build_result_and_photutils_keywords():
    from astropy.stats import SigmaClip

    image, x, y, _, _ = _gaussian_stars(40)
    stars = extract_stars(image, QTable({"x": x, "y": y}), size=15)
    result = EPSFBuilder(oversampling=2, maxiters=4)(stars)
    assert isinstance(result, EPSFBuildResult)
    epsf, fitted = result
    assert result[0] is epsf and result[1] is fitted and len(result) == 2
    assert result.iterations == len(result.center_shifts) <= 4
    assert result.final_center_accuracy == result.center_shifts[-1]
    assert result.n_excluded_stars == 0 and result.excluded_star_indices == []
    text = repr(result)
    assert text.startswith("EPSFBuildResult(") and len(text.splitlines()) < 10
    assert "array(" not in text and "converged" in result._repr_html_()
    # photutils 3.x's keywords give the same build
    same = EPSFBuilder(oversampling=2, maxiters=4, fit_shape=5,
                       sigma_clip=SigmaClip(sigma=4.0),
                       recentering_boxsize=5)(stars)
    assert_allclose(same.epsf.data, epsf.data, rtol=1e-12)
    limited = EPSFBuilder(oversampling=2, maxiters=2, fitter_maxiters=3)(stars)
    assert limited.iterations <= 2
    assert repr(EPSFBuilder(oversampling=2, fit_shape=7)) == (
        "EPSFBuilder(oversampling=(2, 2), fit_boxsize=7)")
    with pytest.raises(TypeError, match="astropy fitter instance"):
        EPSFBuilder(fitter=object())
    with pytest.raises(TypeError, match="give only one"):
        EPSFBuilder(fit_boxsize=7, fit_shape=9)


def test_extract_stars_default_size_and_finder_columns():
    image = np.zeros((60, 60))
    image[30, 31] = 10.0
    catalog = QTable({"x_centroid": [31.2], "y_centroid": [29.9]})
    stars = extract_stars(image, catalog)
    assert stars[0].shape == (11, 11)
    assert_allclose(stars[0].center, (31.2, 29.9))
