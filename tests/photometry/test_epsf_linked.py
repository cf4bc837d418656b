"""
Stars of one sky catalogue in several dithered images: `LinkedEPSFStar`,
`extract_stars` linking them, and `EPSFBuilder` keeping each at one sky
position, against the truth and photutils.
"""

import warnings

from astropy.coordinates import SkyCoord
from astropy.nddata import NDData
from astropy.table import QTable
import astropy.units as u
from astropy.wcs import WCS
import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit._numerics.gaussian import integrated_gaussian_image
from psfkit.photometry import (
    EPSFBuilder,
    EPSFFitter,
    EPSFStar,
    EPSFStars,
    LinkedEPSFStar,
    StarExcludedWarning,
    extract_stars,
)

SIGMA = 1.4
SCALE = 0.1 / 3600  # degrees per pixel
SHAPE = (160, 160)


def _wcs(crpix, rotation=0.0):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [210.0, -30.0]
    w.wcs.crpix = crpix
    c, s = np.cos(np.radians(rotation)), np.sin(np.radians(rotation))
    w.wcs.cd = SCALE * np.array([[-c, s], [s, c]])
    return w


def _dithers(n=40, *, seed=3, noise=2.0):
    """
    One field of ``n`` isolated stars on a sky grid, seen in three dithered
    images (sub-pixel offsets, one rotated); each image with its WCS.
    """
    rng = np.random.default_rng(seed)
    gy, gx = np.divmod(np.arange(n), 8)
    base = _wcs([80.0, 80.0])
    # the first column is 9 px from the edge: off by a dither in some
    px = 9.0 + 20.0 * gx + rng.uniform(-0.3, 0.3, n)
    py = 9.0 + 20.0 * gy + rng.uniform(-0.3, 0.3, n)
    sky = base.pixel_to_world(px, py)
    flux = rng.uniform(2e4, 6e4, n)
    wcs_list = [_wcs([80.0, 80.0]), _wcs([83.37, 78.61]),
                _wcs([77.71, 82.23], rotation=0.8)]
    images = []
    for w in wcs_list:
        x, y = w.world_to_pixel(sky)
        clean = integrated_gaussian_image(SHAPE, x, y, flux, SIGMA)
        data = rng.poisson(np.clip(clean, 0, None)) + rng.normal(
            0.0, noise, SHAPE)
        images.append(NDData(data, wcs=w))
    return images, sky, flux


def test_linked_stars_are_cut_out_as_photutils_does():
    pu_psf = pytest.importorskip("photutils.psf")
    images, sky, _ = _dithers()
    catalog = QTable({"skycoord": sky})
    stars = extract_stars(images, catalog, size=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pu_psf.extract_stars(images, catalog, size=15)
    assert len(stars) == len(theirs) > 30
    assert stars.n_all_stars == theirs.n_all_stars
    kinds = [type(s).__name__ for s in stars]
    assert kinds == [type(s).__name__ for s in theirs]
    assert kinds.count("LinkedEPSFStar") > 25
    # every cutout: the same place in its image, the same centre
    for ours, other in zip(stars.all_stars, theirs.all_stars, strict=True):
        assert_allclose(ours.cutout_center, other.cutout_center, atol=1e-9)
        assert_allclose(ours.center, other.center, atol=1e-9)
        assert ours.wcs_large is not None
    # the stars near the edge of the dithers lie in fewer images
    sizes = [len(s) if isinstance(s, LinkedEPSFStar) else 1 for s in stars]
    assert set(sizes) >= {3} and min(sizes) < 3


def test_builder_keeps_linked_stars_at_one_sky_position():
    images, sky, _ = _dithers()
    stars = extract_stars(images, QTable({"skycoord": sky}), size=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarExcludedWarning)
        result = EPSFBuilder(oversampling=2, maxiters=8)(stars)
    fitted = result.fitted_stars
    linked = [s for s in fitted if isinstance(s, LinkedEPSFStar)]
    assert len(linked) > 25
    for star in linked:
        positions = SkyCoord([m.wcs_large.pixel_to_world(*m.center)
                              for m in star.all_stars])
        assert positions[0].separation(positions).max() < 1e-6 * u.arcsec
    # the centres of the linked cutouts, measured from all their images,
    # against those of the same cutouts fitted image by image (one
    # pixel catalogue per image: no links)
    flat = fitted.all_stars
    per_image = []
    for image in images:
        x, y = image.wcs.world_to_pixel(sky)
        per_image.append(QTable({"x": x, "y": y,
                                 "id": np.arange(1, len(sky) + 1)}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarExcludedWarning)
        free = EPSFBuilder(oversampling=2, maxiters=8)(
            extract_stars(images, per_image, size=15)).fitted_stars

    def errors(cutouts):
        out = []
        for star in cutouts:
            truth = sky[star.id_label - 1]
            out.append(star.wcs_large.pixel_to_world(*star.center)
                       .separation(truth).to_value(u.arcsec))
        return np.array(out)

    err_linked = errors(flat)
    err_free = errors(free.all_stars)
    rms_linked = np.sqrt(np.mean(err_linked ** 2))
    assert rms_linked < 0.003  # arcsec: 0.03 px
    # three images measure a centre sqrt(3) times better than one (the
    # cutouts near the edge lie in fewer)
    assert rms_linked < 0.7 * np.sqrt(np.mean(err_free ** 2))
    assert result.epsf.data.shape[0] % 2 == 1


def test_constrain_centers_takes_the_mean_sky_position():
    # (one orientation: the two offsets are opposite on the sky)
    wa, wb = _wcs([50.0, 50.0]), _wcs([53.5, 48.25])
    truth = wa.pixel_to_world(40.3, 41.7)
    xa, ya = wa.world_to_pixel(truth)
    xb, yb = wb.world_to_pixel(truth)
    a = EPSFStar(np.ones((7, 7)), cutout_center=(xa - 37 + 0.2, ya - 38),
                 origin=(37, 38), wcs_large=wa)
    b = EPSFStar(np.ones((7, 7)), cutout_center=(xb - 40 - 0.2, yb - 37),
                 origin=(40, 37), wcs_large=wb)
    star = LinkedEPSFStar([a, b])
    star.constrain_centers()
    # +0.2 px in one image and -0.2 px in the other: the mean is the truth
    for member in star.all_stars:
        pos = member.wcs_large.pixel_to_world(*member.center)
        assert pos.separation(truth) < 1e-3 * u.mas
    assert star.n_all_stars == len(star) == 2
    assert "LinkedEPSFStar: 2 cutouts" in repr(star)
    # inside EPSFStars: one item, two cutouts
    both = EPSFStars([star, EPSFStar(np.ones((5, 5)))])
    assert len(both) == 2 and both.n_all_stars == 3
    assert both.center_flat.shape == (3, 2)
    assert len(both.to_table()) == 3


def test_fitter_keeps_the_links_and_bad_input_is_named():
    images, sky, _ = _dithers(n=16)
    stars = extract_stars(images, QTable({"skycoord": sky}), size=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarExcludedWarning)
        epsf = EPSFBuilder(oversampling=2, maxiters=4)(stars).epsf
    fitted = EPSFFitter()(epsf, stars)
    assert [type(s) for s in fitted] == [type(s) for s in stars]
    assert fitted.n_all_stars == stars.n_all_stars

    with pytest.raises(ValueError, match=r"stars_list\[0\] has no wcs_large"):
        LinkedEPSFStar([EPSFStar(np.ones((5, 5)))])
    with pytest.raises(TypeError, match=r"stars_list\[1\] must be an EPSFStar"):
        LinkedEPSFStar([stars.all_stars[0], "star"])
    with pytest.raises(TypeError, match=r"stars\[0\] must be an EPSFStar or "
                                        r"LinkedEPSFStar, got int"):
        EPSFStars([3])
    with pytest.raises(ValueError, match="one catalogue for 3 images must "
                                         "give sky positions"):
        extract_stars(images, QTable({"x": [10.0], "y": [10.0]}))
    bare = [images[0], NDData(images[1].data)]
    with pytest.raises(ValueError, match=r"data\[1\] has no WCS"):
        extract_stars(bare, QTable({"skycoord": sky}))
    with pytest.raises(ValueError, match="2 image.* and 3 catalogue"):
        extract_stars(images[:2], [QTable({"skycoord": sky})] * 3)


def test_a_star_in_no_image_is_reported():
    images, sky, _ = _dithers(n=8)
    far = SkyCoord(sky.ra[:1] + 1 * u.deg, sky.dec[:1])
    catalog = QTable({"skycoord": SkyCoord([*sky, *far]),
                      "id": np.arange(101, 110)})
    with pytest.warns(StarExcludedWarning, match=r"ids: 109\)"):
        stars = extract_stars(images, catalog, size=15)
    assert len(stars) == 8
    assert {s.id_label for s in stars[0].all_stars} == {101}
    assert 109 not in {s.id_label for s in stars.all_stars}
