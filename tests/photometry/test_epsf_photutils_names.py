"""
photutils 3.x's attributes of the ePSF star classes and of
`GriddedPSFModel.plot_grid`, checked against photutils on the same inputs
or against the truth.
"""

import warnings

from astropy.nddata import NDData
from astropy.table import QTable
from epsf_samples import gaussian_epsf_samples
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

from psfkit.photometry import (
    EPSFStar,
    GriddedPSFModel,
    ImagePSF,
    IntegratedGaussianPRF,
    extract_stars,
)

SIGMA = 1.5


def _image(rng, n=6):
    yy, xx = np.mgrid[0:80, 0:100]
    x = rng.uniform(10, 90, n)
    y = rng.uniform(10, 70, n)
    flux = rng.uniform(1e3, 1e4, n)
    image = sum(IntegratedGaussianPRF(sigma=SIGMA, flux=f, x_0=a, y_0=b)(xx, yy)
                for a, b, f in zip(x, y, flux, strict=True))
    return image, x, y, flux


def _epsf(over=4, half=8):
    return gaussian_epsf_samples(SIGMA, over, half)


def test_star_boxes_and_registered_epsf_equal_photutils():
    pu_psf = pytest.importorskip("photutils.psf")
    rng = np.random.default_rng(1)
    image, x, y, flux = _image(rng)
    catalog = QTable({"x": x, "y": y})
    mine = extract_stars(image, catalog, size=13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pu_psf.extract_stars(NDData(image), catalog, size=13)
    their_epsf = pu_psf.ImagePSF(_epsf(), oversampling=4)
    for a, b in zip(mine, theirs, strict=True):
        box = a.bbox
        assert (box.ixmin, box.ixmax, box.iymin, box.iymax) == (
            b.bbox.ixmin, b.bbox.ixmax, b.bbox.iymin, b.bbox.iymax)
        assert a.slices == b.slices == box.slices
        assert box.shape == a.shape == (13, 13)
        assert_array_equal(image[a.slices], a.data)
        # photutils' ePSF registered on the star: the same numbers
        assert_allclose(a.register_epsf(their_epsf),
                        b.register_epsf(their_epsf), rtol=1e-10,
                        atol=1e-12 * b.flux)
        assert_allclose(a.compute_residual_image(their_epsf),
                        b.compute_residual_image(their_epsf),
                        atol=1e-9 * b.flux)
    # a cutout that is not square: its box and slices are (ny, nx) =
    # (11, 13), and hold its data (photutils 3.0's bbox and slices swap the
    # two sizes, and do not)
    for star in extract_stars(image, catalog, size=(11, 13)):
        assert star.bbox.shape == star.shape == (11, 13)
        assert_array_equal(image[star.slices], star.data)
    # the flux of a star with masked pixels, filled in as photutils does
    # (the same interpolation; the fallback beyond the valid pixels' hull
    # reads the nearest valid pixel where photutils' may read a filled one)
    data = mine[0].data
    mask = np.zeros(data.shape, dtype=bool)
    mask[7, 5:8] = mask[0, :4] = True
    holed = EPSFStar(np.ma.MaskedArray(data, mask=mask))
    peer = pu_psf.EPSFStar(data, weights=(~mask).astype(float))
    assert holed.estimate_flux() == pytest.approx(peer.estimate_flux(),
                                                  rel=2e-4)
    # the star sets' names
    assert mine.n_all_stars == mine.n_good_stars == len(theirs) == 6
    assert len(mine.all_stars) == len(mine.all_good_stars) == 6
    assert_allclose(mine.cutout_center_flat, theirs.cutout_center_flat,
                    atol=1e-12)


def test_registered_epsf_against_the_truth_and_estimate_flux():
    rng = np.random.default_rng(2)
    image, x, y, flux = _image(rng, n=1)
    star = extract_stars(image, QTable({"x": x, "y": y}), size=15)[0]
    epsf = ImagePSF(_epsf(), oversampling=4, normalize=True)
    yy, xx = np.mgrid[0:15, 0:15]
    cx, cy = star.cutout_center
    truth = IntegratedGaussianPRF(sigma=SIGMA, flux=star.flux, x_0=cx,
                                  y_0=cy)(xx, yy)
    assert_allclose(star.register_epsf(epsf), truth,
                    atol=1e-4 * truth.max())
    # the flux defaults to the cutout's sum; masked pixels are filled in
    assert star.estimate_flux() == pytest.approx(star.flux, rel=1e-12)
    holes = star.data.copy()
    mask = np.zeros(holes.shape, dtype=bool)
    mask[int(round(cy)) + 1, int(round(cx)) - 1:int(round(cx)) + 2] = True
    holed = EPSFStar(np.ma.MaskedArray(holes, mask=mask),
                     cutout_center=star.cutout_center, origin=star.origin)
    lost = holes[mask].sum() / holes.sum()
    assert lost > 0.1  # three pixels next to the peak
    assert holed.flux == pytest.approx(star.flux * (1 - lost))
    assert holed.estimate_flux() == pytest.approx(star.flux, rel=0.01)
    residual = holed.compute_residual_image(epsf)
    assert np.all(np.isnan(residual[mask]))
    assert np.nanmax(np.abs(residual)) < 0.25 * truth.max()
    # a row of pixels left: the nearest values fill the rest
    line = np.ones(holes.shape, dtype=bool)
    line[3] = False
    thin = EPSFStar(np.ma.MaskedArray(holes, mask=line), flux=1.0)
    assert thin.estimate_flux() == pytest.approx(15 * holes[3].sum())
    with pytest.raises(TypeError, match="epsf must be an ImagePSF"):
        star.register_epsf(np.ones((5, 5)))


def _grid(peaks=(1.0, 1.0, 1.0, 1.0, 1.0, 1.0)):
    yy, xx = np.mgrid[-12:13, -12:13] / 2
    images = [p * IntegratedGaussianPRF(sigma=s)(xx, yy)
              for s, p in zip((1.2, 1.3, 1.4, 1.5, 1.6, 1.7), peaks,
                              strict=True)]
    # listed out of grid order: the figure places each at its node
    xypos = [(1000, 0), (0, 0), (2000, 0), (0, 900), (1000, 900),
             (2000, 900)]
    return GriddedPSFModel(np.array(images), oversampling=2,
                           grid_xypos=xypos), images, xypos


def test_plot_grid_places_each_psf_at_its_node():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    model, images, xypos = _grid()
    fig = model.plot_grid()
    ax = fig.axes[0]
    shown = np.ma.filled(ax.images[0].get_array(), np.nan)
    assert shown.shape == (2 * 25, 3 * 25)
    xs, ys = [0, 1000, 2000], [0, 900]
    for k, (gx, gy) in enumerate(xypos):
        j, i = ys.index(gy), xs.index(gx)
        tile = shown[j * 25:(j + 1) * 25, i * 25:(i + 1) * 25]
        assert_allclose(tile, np.where(images[k] > 0, images[k], np.nan))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1000",
                                                            "2000"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "900"]
    # a logarithmic scale down to 1e-4 of the largest value, dividers
    norm = ax.images[0].norm
    assert norm.vmax == pytest.approx(np.max(images))
    assert norm.vmin == pytest.approx(1e-4 * np.max(images))
    assert len(ax.lines) == 3
    plt.close(fig)

    # differences from the mean, on a symmetric linear scale, divided by
    # their largest value (photutils' order); a blank node (off a
    # detector's field) is left out of the mean and drawn as zero
    fig, ax = plt.subplots()
    model, images, xypos = _grid(peaks=(1, 2, 3, 4, 5, 0))
    out = model.plot_grid(ax=ax, deltas=True, peak_norm=True,
                          vmax_scale=0.5, dividers=False)
    assert out is fig and len(ax.lines) == 0
    stack = np.array(images)
    deltas = stack[:5] - stack[:5].mean(axis=0)
    deltas /= deltas.max()
    shown = np.ma.filled(ax.images[0].get_array(), np.nan)
    for k, (gx, gy) in enumerate(xypos):
        j, i = [0, 900].index(gy), [0, 1000, 2000].index(gx)
        tile = shown[j * 25:(j + 1) * 25, i * 25:(i + 1) * 25]
        assert_allclose(tile, deltas[k] if k < 5 else 0.0, atol=1e-15)
    norm = ax.images[0].norm
    assert norm.vmax == pytest.approx(0.5 * np.abs(deltas).max())
    assert norm.vmin == pytest.approx(-norm.vmax)
    assert "largest = 1" in fig.axes[-1].get_ylabel()
    plt.close(fig)
    with pytest.raises(ValueError, match="vmax_scale"):
        model.plot_grid(vmax_scale=0)
    from psfkit.photometry.plotting import plot_psf_grid

    with pytest.raises(TypeError, match="model must be a psfkit GriddedPSFModel"):
        plot_psf_grid(ImagePSF(_epsf()))
