"""Fitters and coefficient solvers against independent computations."""

import pickle

from astropy.nddata import NDData
import numpy as np
import pytest

from psfkit.fitpsf import (
    KLIP,
    LOCI,
    BasePSFFitter,
    LOCIAllPixelsSubtraction,
    SimpleSubtraction,
    SkippedRegionWarning,
    UseAllPixelsSubtraction,
    region_to_indices,
)
from psfkit.fitpsf import findbase as fb
from psfkit.fitpsf import fitpsfcoeff as fc
from psfkit.fitpsf import optregion as opt
from psfkit.fitpsf import regions as rg


@pytest.fixture
def data():
    rng = np.random.default_rng(42)
    base = rng.normal(size=(8, 30, 34))
    image = (base[:3] * np.array([1.0, -0.5, 2.0])[:, None, None]).sum(0) \
        + 0.05 * rng.normal(size=(30, 34))
    return base, image


def _brute_force(fitter, image, solver):
    """A straightforward per-region loop with its own solver."""
    shape = fitter.image_shape
    base = fitter.psfbase
    b1 = np.ma.getdata(base).reshape(base.shape[0], -1).T
    bm = np.ma.getmaskarray(base).reshape(base.shape[0], -1).T
    img = np.ma.asarray(image)
    t = np.ma.getdata(img).ravel()
    tm = np.ma.getmaskarray(img).ravel()
    psf = np.full(t.size, np.nan)
    for reg in fitter.regions():
        reg = region_to_indices(reg, shape)
        sel = np.asarray(fitter.findbase(reg))
        ind = np.flatnonzero(sel) if sel.dtype == bool else np.unique(sel)
        o = region_to_indices(fitter.optregion(reg, ind), shape)
        o = [p for p in o if not tm[p] and not bm[p, ind].any()]
        coeff = solver(t[o], b1[np.ix_(o, ind)])
        psf[reg] = b1[np.ix_(reg, ind)] @ coeff
    return psf.reshape(shape)


def _np_lstsq(t, b):
    return np.linalg.lstsq(b, t, rcond=None)[0]


def _klip_soummer(k):
    def solve(t, b):
        # eigen-decomposition of the covariance in pixel space
        m = b.mean(axis=1)
        rc = b - m[:, None]
        w, v = np.linalg.eigh(rc.T @ rc)
        order = np.argsort(w)[::-1][:k]
        z = rc @ v[:, order] / np.sqrt(w[order])
        psf = m + z @ (z.T @ (t - m))
        # express the PSF in the bases (exact: psf lies in their span)
        return np.linalg.lstsq(b, psf, rcond=None)[0]
    return solve


@pytest.mark.parametrize("cls", [SimpleSubtraction, UseAllPixelsSubtraction,
                                 LOCI, LOCIAllPixelsSubtraction])
def test_fitters_equal_per_region_lstsq(data, cls):
    base, image = data
    f = cls(base)
    f.sector_radius_n = 3
    f.sector_phi = 4
    f.dilation_region = 3
    got = f.fit_psf(image)
    want = _brute_force(f._bound(image), image, _np_lstsq)
    assert not got.mask.any()
    np.testing.assert_allclose(got.data, want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_klip_equals_soummer_projection(data, k):
    base, image = data
    f = KLIP(base)
    f.klip_modes = k
    f.sector_radius_n = 2
    got = f.fit_psf(image)
    want = _brute_force(f._bound(image), image, _klip_soummer(k))
    np.testing.assert_allclose(got.data, want, rtol=0, atol=1e-8)


def test_klip_more_modes_fit_better(data):
    base, image = data
    f = KLIP(base)
    f.sector_radius_n = 2
    res = []
    for k in (1, 3, 7):
        f.klip_modes = k
        res.append(float(np.std(f.remove_psf(image))))
    assert res[0] > res[1] > res[2]


def test_lstsq_plugin_recovers_coefficients():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(200, 5))
    coeff = np.array([1.0, -2.0, 0.5, 3.0, 0.0])
    f = SimpleSubtraction(np.ones((1, 2, 2)))
    np.testing.assert_allclose(fc.lstsq(f, base @ coeff, base), coeff, atol=1e-12)
    f.rcond = 1e-3
    np.testing.assert_allclose(fc.lstsq(f, base @ coeff, base), coeff, atol=1e-10)
    with pytest.raises(ValueError, match="base must have shape"):
        fc.lstsq(f, np.ones(3), base)


def test_singular_bases_duplicated_frames(data):
    base, image = data
    dup = np.concatenate([base, base[:3], 2 * base[4:5]])
    for cls in (SimpleSubtraction, LOCI, KLIP):
        f = cls(dup)
        f.sector_radius_n = 3
        got = f.remove_psf(image)
        assert np.all(np.isfinite(got.data))
        if cls is not KLIP:
            ref = cls(base)
            ref.sector_radius_n = 3
            # the projection is unique even though the coefficients are not
            np.testing.assert_allclose(got, ref.remove_psf(image), atol=1e-8)
    zero = np.concatenate([base, np.zeros((2, *base.shape[1:]))])
    np.testing.assert_allclose(SimpleSubtraction(zero).remove_psf(image),
                               SimpleSubtraction(base).remove_psf(image),
                               atol=1e-9)


def test_masked_image_and_bases(data):
    base, image = data
    bmask = np.zeros(base.shape, dtype=bool)
    bmask[2, 5:9, 10:14] = True
    bmask[:, 0, 0] = True  # no base valid here
    mbase = np.ma.MaskedArray(base, mask=bmask)
    img = image.copy()
    img[20, 3] = np.nan
    imask = np.zeros(image.shape, dtype=bool)
    imask[10:12, 20:25] = True
    mimg = np.ma.MaskedArray(img, mask=imask | np.isnan(img))
    f = UseAllPixelsSubtraction(mbase)
    psf = f.fit_psf(mimg)
    want = _brute_force(f._bound(mimg), mimg, _np_lstsq)
    ok = ~psf.mask
    np.testing.assert_allclose(psf.data[ok], want[ok], atol=1e-9)
    # the pixel with no valid base is masked; group_by_basis leaves masked
    # image pixels out of every region
    assert psf.mask[0, 0] and psf.mask[10, 20]
    res = f.remove_psf(mimg)
    assert res.mask[10, 20] and res.mask[20, 3] and res.mask[0, 0]
    assert not np.any(np.isnan(res.compressed()))
    # where base 2 is masked the image cannot be fitted exactly
    assert float(np.std(res[~bmask[2]].compressed())) < 0.1
    assert float(np.std(res[bmask[2]].compressed())) > 0.3
    # LOCI variant that splits by base availability
    g = LOCIAllPixelsSubtraction(mbase, mimg)
    g.sector_radius_n = 2
    g.dilation_region = 4
    r2 = g.remove_psf()
    assert float(np.std(r2[~bmask[2]].compressed())) < 0.1
    # plain sectors keep masked image pixels: they get a PSF, not a residual
    h = LOCI(base, mimg)
    h.sector_radius_n = 2
    assert not h.fit_psf().mask[10, 20] and h.remove_psf().mask[10, 20]


def test_nan_marked_bases_as_list(data):
    base, image = data
    images = [b.copy() for b in base]
    images[1][3, 4] = np.nan
    f = SimpleSubtraction(images)
    assert f.n_bases == 8
    assert f.psfbase.mask[1, 3, 4] and f.psfbase.mask.sum() == 1
    res = f.remove_psf(image)
    assert res.mask[3, 4] and res.mask.sum() == 1


def test_nddata_image(data):
    base, image = data
    mask = np.zeros(image.shape, dtype=bool)
    mask[0, :] = True
    res = SimpleSubtraction(base).remove_psf(NDData(image, mask=mask))
    assert np.all(res.mask[0]) and res.mask.sum() == image.shape[1]


@pytest.mark.parametrize("cls", [KLIP, LOCI, SimpleSubtraction])
def test_units_of_bases_and_image(data, cls):
    import astropy.units as u

    from psfkit.fitpsf import map_remove_psf

    base, image = data
    # KLIP subtracts the mean base: the image must be in the bases' unit
    base = base + 5.0
    image = image + 5.0
    image[3, 4] = np.nan
    plain = cls(base).remove_psf(image)
    plain_psf = cls(base).fit_psf(image)
    for bases in (base * u.Jy, NDData(base, unit="Jy"),
                  [base[0] * u.Jy, *(b * 1000 * u.mJy for b in base[1:])]):
        f = cls(bases)
        assert f.unit == u.Jy
        for given in (image * 1000 * u.mJy, NDData(image * 1e-3, unit="kJy")):
            res = f.remove_psf(given)
            assert isinstance(res, u.Quantity) and res.unit == u.Jy
            np.testing.assert_allclose(res.value, plain.filled(np.nan),
                                       rtol=1e-9, atol=1e-9, equal_nan=True)
            assert np.array_equal(np.isnan(res.value), plain.mask)
        psf = f.fit_psf(image * u.Jy)
        assert psf.unit == u.Jy
        np.testing.assert_allclose(psf.value, plain_psf.filled(np.nan),
                                   rtol=1e-9, atol=1e-9, equal_nan=True)
    got = map_remove_psf(cls(base * u.Jy), [image * u.Jy], executor=2)[0]
    assert got.unit == u.Jy
    with pytest.raises(u.UnitsError, match=r"image is in m, which does not "
                       r"convert to the unit of psfbase \(Jy\)"):
        cls(base * u.Jy).remove_psf(image * u.m)
    with pytest.raises(u.UnitsError, match=r"psfbase has a unit \(Jy\) but "
                       "image does not"):
        cls(base * u.Jy, image)
    with pytest.raises(u.UnitsError, match=r"image has a unit \(Jy\) but "
                       "psfbase does not"):
        cls(base).fit_psf(image * u.Jy)
    with pytest.raises(u.UnitsError, match=r"psfbase\[1\] is in s"):
        cls([base[0] * u.Jy, base[1] * u.s])


def test_optmask_leaves_a_companion_out_of_every_fit(data):
    base, _ = data
    # an exact combination of the bases plus a companion
    image = 1.5 * base[0] - 0.7 * base[4]
    companion = np.zeros(image.shape)
    companion[10:13, 20:23] = 5.0
    optmask = companion > 0
    f = SimpleSubtraction(base)
    assert np.abs(f.remove_psf(image + companion) - companion).max() > 0.1
    f.optmask = optmask
    np.testing.assert_allclose(f.remove_psf(image + companion), companion,
                               atol=1e-10)
    # the fit equals one on the image without those pixels, where that one
    # is defined (the optmask pixels are still subtracted)
    noisy = image + companion + 0.1 * np.random.default_rng(1).normal(
        size=image.shape)
    for cls in (LOCI, KLIP, UseAllPixelsSubtraction):
        f = cls(base)
        plain = f.fit_psf(noisy)
        f.optmask = optmask
        got = f.fit_psf(noisy)
        want = cls(base).fit_psf(np.where(optmask, np.nan, noisy))
        assert not got.mask.any() and want.mask.sum() <= optmask.sum()
        np.testing.assert_allclose(got[~want.mask], want[~want.mask],
                                   atol=1e-10)
        assert np.abs(got - plain).max() > 1e-3
        f.optmask = np.ones((3, 3), dtype=bool)
        with pytest.raises(ValueError, match=r"optmask must have the image "
                           r"shape \(30, 34\), got \(3, 3\)"):
            f.fit_psf(noisy)


def test_skipped_regions_warn_and_are_masked(data):
    base, image = data
    f = LOCI(base)
    f.optregion = opt.identity
    f.sector_radius_n = 3
    f.sector_phi = 12
    with pytest.warns(SkippedRegionWarning, match="too few usable"):
        psf = f.fit_psf(image)
    small = [r for r in f.regions() if r.size < base.shape[0]]
    assert small
    for r in small:
        assert np.all(psf.mask.ravel()[r])
    f.warn_skipped = False
    f.fit_psf(image)  # silent


def test_validation_errors(data):
    base, image = data
    with pytest.raises(ValueError, match="psfbase must be a 3-D"):
        LOCI(base[0])
    with pytest.raises(ValueError, match="same shape"):
        LOCI([base[0], base[1, :10]])
    with pytest.raises(ValueError, match="empty"):
        LOCI([])
    with pytest.raises(ValueError, match="psfbase has no usable"):
        LOCI(np.full((2, 3, 3), np.nan))
    with pytest.raises(TypeError, match="psfbase"):
        LOCI(np.array([[["a"]]]))
    f = LOCI(base)
    with pytest.raises(ValueError, match="image must have the shape"):
        f.remove_psf(image[:5])
    with pytest.raises(ValueError, match="no image to fit"):
        f.remove_psf()
    f.findbase = lambda self, region: [99]
    with pytest.raises(ValueError, match="findbase result"):
        f.fit_psf(image)


def test_two_paradigms_identical(data):
    base, image = data
    rng = np.random.default_rng(9)
    images = [image, image[::-1, ::-1] + rng.normal(size=image.shape),
              base[5] - base[6]]

    loop_fitter = LOCI(base)
    loop_fitter.sector_radius_n = 5
    loop_fitter.sector_phi = np.linspace(0.1, 6.1, 10)
    loop_fitter.dilation_region = 4
    looped = [loop_fitter.remove_psf(im) for im in images]
    # once more: now the cached operators are used
    looped_again = [loop_fitter.remove_psf(im) for im in images]

    class MyFitter(LOCI):
        sector_radius_n = 5
        sector_phi = np.linspace(0.1, 6.1, 10)
        dilation_region = 4

    per_image = [MyFitter(base, im).remove_psf() for im in images]
    for a, b, c in zip(looped, looped_again, per_image, strict=True):
        np.testing.assert_allclose(a, c, rtol=0, atol=1e-10)
        np.testing.assert_allclose(b, c, rtol=0, atol=1e-10)
        assert np.array_equal(a.mask, c.mask)


def test_configuration_change_invalidates_cache(data):
    base, image = data
    f = LOCI(base)
    f.sector_radius_n = 2
    first = f.remove_psf(image)
    f.remove_psf(image)
    f.dilation_region = 2
    changed = f.remove_psf(image)
    fresh = LOCI(base)
    fresh.sector_radius_n = 2
    fresh.dilation_region = 2
    np.testing.assert_allclose(changed, fresh.remove_psf(image), atol=1e-12)
    assert not np.allclose(first, changed)


def test_per_instance_plugins_and_subclass_attributes(data):
    base, image = data
    f = LOCI(base, image)
    f.regions = rg.image_unmasked
    f.optregion = opt.all_unmasked
    f.findbase = fb.allbases
    np.testing.assert_allclose(f.remove_psf(),
                               SimpleSubtraction(base, image).remove_psf(),
                               atol=1e-12)
    # the class is untouched
    assert LOCI.regions is rg.sectors

    class Best3(SimpleSubtraction):
        findbase = fb.best_correlated(3)

    corr = [np.corrcoef(image.ravel(), b.ravel())[0, 1] for b in base]
    want = sorted(np.argsort(corr)[-3:])
    g = Best3(base, image)
    assert list(g.findbase(np.arange(image.size))) == want
    h = SimpleSubtraction(base, image)
    h.findbase = fb.best_correlated(3)
    assert list(h.findbase(np.arange(image.size))) == want


def test_custom_fitpsfcoeff_without_prepare(data):
    base, image = data

    def mean_only(self, img, b):
        return np.full(b.shape[1], img.mean() / b.mean() / b.shape[1])

    f = SimpleSubtraction(base, image)
    f.fitpsfcoeff = mean_only
    psf = f.fit_psf()
    np.testing.assert_allclose(psf.mean(), image.mean(), rtol=1e-10)


def test_pickle_is_small_and_equivalent(data):
    base, image = data
    f = LOCI(base)
    f.sector_radius_n = 4
    f.findbase = fb.best_correlated(4)
    before = f.remove_psf(image)
    f.remove_psf(image)  # fills the cache with operators
    blob = pickle.dumps(f)
    assert len(blob) < base.nbytes * 1.3
    g = pickle.loads(blob)
    np.testing.assert_allclose(g.remove_psf(image), before, atol=1e-12)


def test_klip_sector_geometry_defaults():
    base = np.random.default_rng(0).normal(size=(5, 64, 64))
    # an affine combination of the bases is reproduced exactly by KLIP
    f = KLIP(base, 0.7 * base[0] + 0.3 * base[1])
    counts = np.zeros(64 * 64, dtype=int)
    for r in f.regions():
        counts[r] += 1
    assert np.all(counts == 1)
    assert float(abs(f.remove_psf()).max()) < 1e-8


def test_klip_default_inner_radius_in_both_conventions():
    # the default inner radius (5 pixels) was read as 10**5 pixels in the
    # psfsubtraction convention, which raised an error
    import astropy.units as u

    base = np.random.default_rng(0).normal(size=(5, 30, 30))
    f = KLIP(base, 0.7 * base[0] + 0.3 * base[1])
    f.convention = "psfsubtraction"
    res = f.remove_psf()
    # psfsubtraction's geometry: centre (15, 15), radii from 5 pixels
    # (10 ** log10(5), as psfsubtraction computes it) to 30
    yy, xx = np.mgrid[0:30, 0:30]
    r = np.hypot(yy - 15, xx - 15)
    inner = np.logspace(np.log10(5), np.log10(30), 5)[0]
    np.testing.assert_array_equal(res.mask, (r < inner) | (r >= 30))
    assert 60 < res.mask.sum() < 90
    assert float(abs(res).max()) < 1e-8
    # the same explicit settings give the same geometry
    g = KLIP(base, 0.7 * base[0] + 0.3 * base[1])
    g.convention = "psfsubtraction"
    g.sector_radius_inner = np.log10(5.0)
    np.testing.assert_array_equal(g.remove_psf().mask, res.mask)
    f.sector_radius_inner = 5 * u.s
    with pytest.raises(u.UnitsError, match="sector_radius_inner must be a "
                       "number or a Quantity in pixels"):
        f.remove_psf()


def test_base_class_example():
    rng = np.random.default_rng(1)
    psfbase = rng.normal(size=(3, 10, 10))
    f = BasePSFFitter(psfbase)
    assert repr(f) == "<BasePSFFitter: 3 bases of shape (10, 10)>"
    assert f.image is None


def test_ill_conditioned_bases_match_lstsq_in_both_paths():
    # bases dominated by one common bright PSF: condition numbers ~1e4-1e5,
    # where plain normal equations lose about 8 digits
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:40, 0:40]
    star = 1e4 * np.exp(-((xx - 19.5) ** 2 + (yy - 19.5) ** 2) / 20.0)
    base = star * (1 + 0.01 * rng.normal(size=(12, 1, 1))) \
        + rng.normal(size=(12, 40, 40))
    images = [star + rng.normal(size=(40, 40)) for _ in range(3)]

    class Fitter(LOCI):
        optregion = opt.dilated_region
        dilation_region = 4
        sector_radius_n = 4
        sector_phi = 6

    f = Fitter(base)
    for path in range(3):  # first use, operator formation, cached operator
        for im in images:
            got = f.remove_psf(im)
            want = im - _brute_force(f._bound(im), im, _np_lstsq)
            scale = float(np.std(want))
            assert float(np.max(np.abs(got - want))) / scale < 1e-8, path


@pytest.mark.parametrize("cls", [LOCI, KLIP, LOCIAllPixelsSubtraction])
def test_progress_bar_counts_the_regions(data, cls, capsys):
    # one image showed no count of its work (the command line ticked the
    # elapsed time); a bar now counts the regions, with their total
    pytest.importorskip("tqdm")
    base, image = data
    fitter = cls(base, image)
    n = len(fitter.regions())
    quiet = fitter.remove_psf(progress_bar=False)
    assert capsys.readouterr().err == ""
    shown = fitter.remove_psf(progress_bar=True)
    err = capsys.readouterr().err
    assert "PSF regions: 100%" in err and f"{n}/{n}" in err
    # (the second image of a fitter uses its cached operators)
    np.testing.assert_allclose(shown, quiet, atol=1e-12)
    assert np.array_equal(shown.mask, quiet.mask)
    psf = fitter.fit_psf(progress_bar=True)
    assert f"{n}/{n}" in capsys.readouterr().err
    np.testing.assert_allclose(psf, image - quiet, atol=1e-12)


def test_progress_bar_over_generated_regions(data, capsys):
    # a regions plug-in that yields: counted as done, without a total
    pytest.importorskip("tqdm")
    base, image = data
    fitter = SimpleSubtraction(base[:, :4, :5], image[:4, :5])
    fitter.regions = rg.pixel_by_pixel
    fitter.optregion = opt.all_unmasked
    fitter.remove_psf(progress_bar=True)
    err = capsys.readouterr().err
    assert "PSF regions: 20region" in err and "/20" not in err
