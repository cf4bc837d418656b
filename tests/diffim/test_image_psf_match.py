"""End-to-end tests of ImagePsfMatch on simulated pairs with known truth."""

from astropy.nddata import NDData, VarianceUncertainty
import numpy as np
import pytest
from scipy import ndimage

from psfkit.datasets import make_diffim_pair
from psfkit.diffim import (
    CandidateStatus,
    ImagePsfMatch,
    NoKernelCandidatesError,
    PsfMatchConfig,
)
from psfkit.utils import InputDataError, PsfkitWarning

CELL = dict(size_cell_x=64, size_cell_y=64, kernel_size_min=11)
BRIGHT = dict(n_stars=300, flux_range=(3e3, 3e5), science_gain=4.0,
              template_gain=16.0)


def detect_transients(result, truth, sigma):
    """Matched-filter detections (> 5 sigma) matched to the true transients."""
    diff = result.difference
    var = diff.uncertainty.array
    good = ~diff.mask
    yy, xx = np.mgrid[-6:7, -6:7]
    psf = np.exp(-0.5 * (xx ** 2 + yy ** 2) / sigma ** 2)
    psf /= psf.sum()
    num = ndimage.convolve(np.where(good, diff.data / var, 0.0), psf,
                           mode="constant")
    den = ndimage.convolve(np.where(good, 1.0 / var, 0.0), psf ** 2,
                           mode="constant")
    snr = np.where(good, num / np.sqrt(np.maximum(den, 1e-300)), 0.0)
    peaks = (snr == ndimage.maximum_filter(snr, size=5)) & (snr > 5.0)
    py, px = np.nonzero(peaks)
    found = []
    usable = []
    for x, y in zip(truth.transients["x"], truth.transients["y"], strict=True):
        found.append(bool(np.any(np.hypot(px - x, py - y) < 3.0)))
        usable.append(not diff.mask[int(round(y)), int(round(x))])
    # transients on masked pixels (e.g. the grown bad column) are not counted
    return np.array(found)[usable], np.asarray(truth.transients["snr"])[usable]


@pytest.fixture(scope="module")
def pair():
    return make_diffim_pair((256, 256), random_state=2, **BRIGHT)


@pytest.fixture(scope="module")
def result(pair):
    template, science, _ = pair
    return ImagePsfMatch(PsfMatchConfig(**CELL)).subtract_images(template,
                                                                 science)


def test_difference_noise_is_unit(result):
    assert abs(result.difference_std - 1.0) < 0.05
    d = result.difference
    z = (d.data / np.sqrt(d.uncertainty.array))[~d.mask]
    mad = 1.4826 * np.median(np.abs(z - np.median(z)))
    assert abs(mad - 1.0) < 0.05


def test_per_stamp_statistics(result):
    table = result.candidates
    good = table[table["status"] == "good"]
    assert len(good) == result.n_candidates_used >= 10
    assert np.all(np.abs(good["spatial_residual_mean"]) <= 0.25)
    assert np.all(good["spatial_residual_std"] <= 1.5)
    assert abs(result.residual_mean) < 0.1
    assert abs(result.residual_std - 1.0) < 0.1


def test_kernel_sum_and_background(pair, result):
    _, _, truth = pair
    assert abs(result.kernel_sum / truth.flux_scale - 1.0) < 0.005
    # the kernel sum is the same everywhere
    ksum = result.kernel.kernel_sum_image()
    assert np.ptp(ksum) < 1e-9
    bg_err = (result.background - truth.background)[~result.difference.mask]
    noise = np.sqrt(np.median(pair[1].uncertainty.array))
    assert abs(np.mean(bg_err)) < 0.25 * noise
    assert np.std(bg_err) < 0.25 * noise


def test_transients_recovered(pair, result):
    _, _, truth = pair
    sigma = truth.science_fwhm / 2.3548
    found, snr = detect_transients(result, truth, sigma)
    assert len(found) >= 15
    assert found[snr >= 10].mean() >= 0.95


def test_masks_propagated(pair, result):
    template, science, _ = pair
    mask = result.difference.mask
    k = result.kernel.kernel_size
    col = np.flatnonzero(template.mask.all(axis=0))[0]
    # the bad template column is grown by the kernel footprint
    assert mask[k:-k, col - k // 2:col + k // 2 + 1].all()
    assert not mask[k:-k, col + k].all()
    assert np.all(mask[science.mask])
    # the border the kernel cannot reach is masked
    assert mask[:k // 2].all() and mask[:, -(k // 2):].all()
    # no candidate touches a masked pixel
    for cand in result.cell_set.candidates:
        h = cand.stamp_size // 2
        y, x = int(cand.y), int(cand.x)
        assert not (template.mask | science.mask)[y - h:y + h + 1,
                                                  x - h:x + h + 1].any()


def test_match_images_returns_matched(pair):
    template, science, truth = pair
    res = ImagePsfMatch(PsfMatchConfig(**CELL)).match_images(template, science)
    assert res.convolved == "template"
    assert not hasattr(res, "difference")
    good = ~res.matched_image.mask
    # matched template + science background ~ science on sky pixels
    sky = good & (np.abs(science.data - truth.science_sky) < 30)
    resid = (science.data - res.matched_image.data)[sky]
    assert abs(np.median(resid)) < 1.0
    assert abs(res.template_fwhm - truth.template_fwhm) < 0.3


def test_convolve_science_when_template_is_worse():
    template, science, truth = make_diffim_pair(
        (256, 256), random_state=4, template_fwhm=4.0, science_fwhm=2.5,
        template_gain=8.0, science_gain=2.0, n_stars=300,
        flux_range=(3e3, 3e5))
    res = ImagePsfMatch(PsfMatchConfig(**CELL)).subtract_images(
        template, science, convolve="auto")
    assert res.convolved == "science"
    assert abs(res.difference_std - 1.0) < 0.05
    assert abs(res.kernel_sum * truth.flux_scale - 1.0) < 0.03
    found, snr = detect_transients(res, truth, truth.template_fwhm / 2.3548)
    assert found[snr >= 10].mean() >= 0.95
    # a positive transient stays positive in the science-minus-template sense
    tx = np.round(truth.transients["x"]).astype(int)
    ty = np.round(truth.transients["y"]).astype(int)
    assert np.median(res.difference.data[ty, tx]) > 0


def test_warns_when_convolving_the_wider_psf():
    template, science, _ = make_diffim_pair(
        (160, 160), random_state=5, template_fwhm=4.0, science_fwhm=2.5,
        n_stars=150, flux_range=(3e3, 3e5))
    config = PsfMatchConfig(**CELL, spatial_kernel_order=0, spatial_bg_order=0,
                            single_kernel_clipping=False,
                            spatial_kernel_clipping=False)
    with pytest.warns(PsfkitWarning, match="wider PSF"):
        ImagePsfMatch(config).match_images(template, science,
                                           convolve="template")


def test_given_sources_and_plain_arrays(pair):
    template, science, truth = pair
    stars = truth.stars[~truth.stars["saturated"] & ~truth.stars["masked"]]
    stars = stars[np.argsort(-stars["flux"])][:60]
    res = ImagePsfMatch(PsfMatchConfig(**CELL)).subtract_images(
        template.data, science.data, sources=stars,
        template_fwhm=truth.template_fwhm, science_fwhm=truth.science_fwhm)
    assert res.n_candidates_used >= 8
    assert abs(res.kernel_sum / truth.flux_scale - 1.0) < 0.02
    # constant variance from the image noise: right on the sky
    d = res.difference
    sky = ~d.mask & (ndimage.maximum_filter(template.data, 9) < 300)
    z = d.data[sky] / np.sqrt(d.uncertainty.array[sky])
    # (the noise estimated from an image with stars is a little high)
    assert 0.8 < 1.4826 * np.median(np.abs(z - np.median(z))) < 1.05


@pytest.mark.parametrize("options", [
    dict(kernel_basis_set="delta-function", kernel_size=9,
         spatial_kernel_order=1),
    dict(use_pca_for_spatial_kernel=True, num_principal_components=4),
    dict(spatial_model_type="polynomial", constant_variance_weighting=False),
])
def test_other_bases_and_options(pair, options):
    template, science, truth = pair
    res = ImagePsfMatch(PsfMatchConfig(**CELL, **options)).subtract_images(
        template, science)
    assert abs(res.difference_std - 1.0) < 0.06
    assert abs(res.kernel_sum / truth.flux_scale - 1.0) < 0.01


def test_no_candidates_errors(pair):
    rng = np.random.default_rng(0)
    noise = NDData(rng.normal(100, 5, (96, 96)),
                   uncertainty=VarianceUncertainty(np.full((96, 96), 25.0)))
    with pytest.raises(NoKernelCandidatesError, match="no source above") as err:
        ImagePsfMatch().subtract_images(noise, noise)
    assert err.value.n_tried == 0

    template, science, truth = pair
    edge = np.array([[2.0, 3.0], [250.0, 128.0]])
    with pytest.raises(NoKernelCandidatesError, match="off the image edge"):
        ImagePsfMatch(PsfMatchConfig(**CELL)).match_images(
            template, science, sources=edge)

    strict = PsfMatchConfig(**CELL, candidate_residual_std_max=0.2)
    with pytest.raises(NoKernelCandidatesError, match="residual std") as err:
        ImagePsfMatch(strict).match_images(template, science)
    assert err.value.n_tried > 5
    assert all(s == "bad" for s in err.value.table["status"])


def test_input_validation(pair):
    template, science, _ = pair
    matcher = ImagePsfMatch(PsfMatchConfig(**CELL))
    with pytest.raises(ValueError, match="convolve must be one of"):
        matcher.match_images(template, science, convolve="both")
    with pytest.raises(ValueError, match="same shape"):
        matcher.match_images(template.data[:100], science)
    with pytest.raises(ValueError, match="template_fwhm"):
        matcher.match_images(template, science, template_fwhm=-1)
    with pytest.raises(TypeError, match="config must be a PsfMatchConfig"):
        ImagePsfMatch({"kernel_size": 21})


@pytest.mark.parametrize("shape", [(1, 1), (1, 64), (20, 20)])
def test_image_smaller_than_the_kernel_says_so(shape):
    # a 1x1 image used to fail on its statistics ("is constant", "is
    # empty") instead of its size
    rng = np.random.default_rng(1)
    small = rng.normal(100.0, 5.0, shape)
    with pytest.raises(InputDataError, match=rf"template is {shape[0]}x"
                       rf"{shape[1]} pixels; PSF matching needs at least "
                       r"21x21 \(the smallest kernel"):
        ImagePsfMatch().subtract_images(small, small.copy())
    with pytest.raises(InputDataError, match="science is 1x1 pixels.*11x11"):
        ImagePsfMatch(PsfMatchConfig(**CELL)).match_images(
            rng.normal(100.0, 5.0, (64, 64)), np.ones((1, 1)))


def test_negative_variance_names_the_image(pair):
    # a negative variance used to mask its pixels silently
    template, science, _ = pair
    var = np.array(science.uncertainty.array, copy=True)
    var[10, 20:23] = -1.0
    bad = NDData(science.data, uncertainty=VarianceUncertainty(var),
                 mask=science.mask)
    matcher = ImagePsfMatch(PsfMatchConfig(**CELL))
    with pytest.raises(ValueError, match=r"science.uncertainty "
                       r"\(VarianceUncertainty\) holds 3 negative value\(s\)"):
        matcher.subtract_images(template, bad)


@pytest.mark.parametrize("size", [256, 384])
def test_working_memory_follows_the_image_size(size):
    # the batched stamp fits used about 8 MB a thread whatever the image
    # (7.8x the two 256 x 256 inputs); the difference's statistics took
    # three image-sized temporaries.  One thread: with more, the peak
    # depends on how the threads' buffers happen to overlap in time
    import tracemalloc

    template, science, _ = make_diffim_pair(
        (size, size), n_stars=int(12000 * (size / 2048) ** 2),
        flux_range=(3e3, 3e5), science_gain=4.0, template_gain=16.0,
        random_state=1)
    matcher = ImagePsfMatch()
    tracemalloc.start()
    try:
        res = matcher.subtract_images(template, science, executor=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.n_candidates_used > 10
    assert peak < 4 * (template.data.nbytes + science.data.nbytes)


def test_cell_set_statuses(result):
    cells = result.cell_set
    n = 5
    for cell in cells.cells:
        ratings = [c.rating for c in cell.candidates]
        assert ratings == sorted(ratings, reverse=True)
        usable = cell.usable(n)
        assert len(usable) <= n
        assert all(c.status is not CandidateStatus.BAD for c in usable)
    bad = [c for c in cells.candidates if c.status is CandidateStatus.BAD]
    assert all(c.reason for c in bad)


def test_units_wcs_and_dtype_follow_the_science_image(pair):
    """CCDData in electrons (float32, with a WCS): the difference and the
    matched image keep the unit, the WCS and the float type."""
    from astropy.nddata import CCDData
    import astropy.units as u
    from astropy.wcs import WCS

    template, science, truth = pair
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [10.0, -5.0]
    wcs.wcs.crpix = [128.0, 128.0]
    wcs.wcs.cdelt = [-5e-5, 5e-5]

    def ccd(nd):
        return CCDData(nd.data.astype(np.float32), unit=u.electron,
                       mask=nd.mask, wcs=wcs,
                       uncertainty=VarianceUncertainty(
                           nd.uncertainty.array.astype(np.float32)))

    res = ImagePsfMatch(PsfMatchConfig(**CELL)).subtract_images(
        ccd(template), ccd(science), warp=False)
    diff = res.difference
    assert diff.unit == u.electron
    assert res.matched_image.unit == u.electron
    assert diff.data.dtype == np.float32
    assert diff.uncertainty.array.dtype == np.float32
    assert diff.wcs is not None and diff.wcs.wcs.crval[0] == 10.0
    assert abs(res.kernel_sum / truth.flux_scale - 1) < 0.005
    assert abs(res.difference_std - 1) < 0.05
    # a Quantity works the same way
    q = ImagePsfMatch(PsfMatchConfig(**CELL)).subtract_images(
        template.data * u.adu, science.data * u.adu)
    assert q.difference.unit == u.adu


def test_result_repr_is_a_summary(result):
    text = repr(result)
    assert text.startswith("SubtractionResult(")
    assert "kernel_sum=" in text and "difference_std=" in text
    assert "[[" not in text and len(text) < 1000
    assert "<table>" in result._repr_html_()
    assert result.background.shape == (256, 256)
    with pytest.raises(AttributeError):
        result.kernel_sum = 1.0
    assert repr(PsfMatchConfig(**CELL)) == (
        "PsfMatchConfig(kernel_size_min=11, size_cell_x=64, size_cell_y=64)")
    assert repr(ImagePsfMatch()) == "ImagePsfMatch(config=PsfMatchConfig())"


@pytest.fixture(scope="module")
def unit_pair():
    template, science, _ = make_diffim_pair(
        (256, 256), n_stars=300, flux_range=(3e3, 3e5), random_state=2)
    return template, science


def _in_units(image, scale, with_variance):
    var = image.uncertainty.array * scale ** 2 if with_variance else None
    return NDData(image.data * scale, mask=image.mask,
                  uncertainty=None if var is None else VarianceUncertainty(var))


@pytest.mark.parametrize("with_variance", [True, False])
@pytest.mark.parametrize("scale", [1e-20, 1e-22, 1e17])
def test_the_flux_unit_does_not_matter(unit_pair, scale, with_variance):
    """The same pair in erg/s/cm2/A-like units (noise 1e-19 and below) or
    in huge units gives the kernel, the difference and its variance of the
    pair in counts, scaled."""
    template, science = unit_pair
    config = PsfMatchConfig(**CELL)
    ref = ImagePsfMatch(config).subtract_images(
        _in_units(template, 1.0, with_variance),
        _in_units(science, 1.0, with_variance))
    res = ImagePsfMatch(config).subtract_images(
        _in_units(template, scale, with_variance),
        _in_units(science, scale, with_variance))
    assert res.kernel_sum == pytest.approx(ref.kernel_sum, rel=1e-6)
    assert res.n_candidates_used == ref.n_candidates_used
    good = ~ref.difference.mask
    assert np.array_equal(res.difference.mask, ref.difference.mask)
    sigma = np.sqrt(ref.difference.uncertainty.array[good])
    assert np.allclose(res.difference.data[good] / scale,
                       ref.difference.data[good], rtol=0, atol=1e-3 * sigma)
    assert np.allclose(res.difference.uncertainty.array[good] / scale ** 2,
                       sigma ** 2, rtol=1e-4)
    assert res.difference_std == pytest.approx(ref.difference_std, abs=1e-3)


def _header():
    from astropy.io import fits

    header = fits.Header([("EXPTIME", 30.0, "seconds")])
    header.add_history("flat-fielded")
    header.add_history("bias-subtracted")
    return header


def _check_header(meta):
    assert meta["EXPTIME"] == 30.0
    assert meta.comments["EXPTIME"] == "seconds"
    assert list(meta["HISTORY"]) == ["flat-fielded", "bias-subtracted"]


def test_a_fits_header_survives_into_the_difference(pair, tmp_path):
    """The science image's Header (a card comment, HISTORY cards) reaches
    the difference as a Header that writes to FITS and reads back."""
    from astropy.io import fits
    from astropy.nddata import CCDData

    template, science, _ = pair
    header = _header()
    sci = CCDData(science.data, unit="electron", mask=science.mask,
                  uncertainty=science.uncertainty, meta=header)
    tmp = CCDData(template.data, unit="electron", mask=template.mask,
                  uncertainty=template.uncertainty,
                  meta={"OBJECT": "template"})
    res = ImagePsfMatch(PsfMatchConfig(**CELL)).subtract_images(tmp, sci)
    diff = res.difference
    assert isinstance(diff.meta, fits.Header) and diff.meta is not header
    path = tmp_path / "difference.fits"
    CCDData(diff.data, unit=diff.unit, meta=diff.meta).write(path)
    _check_header(fits.getheader(path))
    # the matched image carries the convolved image's meta, as a copy
    assert res.matched_image.meta == {"OBJECT": "template"}
    assert res.matched_image.meta is not tmp.meta
    _check_header(header)      # the input is left as it was
    assert len(header) == 3


def test_tiled_difference_keeps_wcs_and_meta(pair):
    from astropy.io import fits
    from astropy.wcs import WCS

    from psfkit.diffim.tiled import tiled_subtract_images

    template, science, _ = pair
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [10.0, -5.0]
    sci = NDData(science.data, mask=science.mask, wcs=wcs, meta=_header(),
                 uncertainty=science.uncertainty)
    config = PsfMatchConfig(kernel_size=15, scale_by_fwhm=False,
                            size_cell_x=48, size_cell_y=48,
                            spatial_kernel_order=1)
    res = tiled_subtract_images(template, sci, tile_size=128, overlap=16,
                                config=config)
    assert res.tiles["ok"].all()
    assert res.difference.wcs is not None
    assert res.difference.wcs.wcs.crval[0] == 10.0
    assert isinstance(res.difference.meta, fits.Header)
    _check_header(res.difference.meta)


def test_one_pixel_kernel_masks_only_the_bad_pixels():
    """A 1x1 kernel (equal PSFs) has no border to mask: the difference's
    mask is the inputs' masks, here and tile by tile."""
    from psfkit.diffim.tiled import tiled_subtract_images

    template, science, truth = make_diffim_pair(
        (256, 256), template_fwhm=3.0, science_fwhm=3.0, fwhm_variation=0.0,
        n_stars=300, flux_range=(3e3, 3e5), random_state=2)
    config = PsfMatchConfig(kernel_size=1, kernel_size_min=1,
                            kernel_basis_set="delta-function", size_cell_x=64,
                            size_cell_y=64)
    res = ImagePsfMatch(config).subtract_images(template, science)
    inputs_bad = template.mask | science.mask
    np.testing.assert_array_equal(res.difference.mask, inputs_bad)
    assert res.kernel_sum == pytest.approx(truth.flux_scale, rel=0.01)
    assert abs(res.difference_std - 1) < 0.05
    tiled = tiled_subtract_images(
        template, science, tile_size=128, overlap=0,
        config=PsfMatchConfig(kernel_size=1, scale_by_fwhm=False,
                              kernel_basis_set="delta-function",
                              size_cell_x=64, size_cell_y=64))
    assert tiled.tiles["ok"].all()
    np.testing.assert_array_equal(tiled.difference.mask, inputs_bad)


def _shifted_wcs(dx):
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [10.0, -5.0]
    wcs.wcs.crpix = [128.0 + dx, 128.0]
    wcs.wcs.cdelt = [-5e-5, 5e-5]
    return wcs


@pytest.mark.parametrize("case", ["float32-template", "warped-template",
                                  "decorrelated", "tiled"])
def test_difference_has_the_science_float_type(pair, case):
    """Whatever the template's type, warped or not, decorrelated or not,
    the difference (data and variance) has the science image's float type
    and the values of the same subtraction in double precision."""
    from psfkit.diffim.tiled import tiled_subtract_images

    template, science, _ = pair

    def nd(image, dtype, dx=None):
        return NDData(image.data.astype(dtype), mask=image.mask,
                      uncertainty=VarianceUncertainty(
                          image.uncertainty.array.astype(dtype)),
                      wcs=None if dx is None else _shifted_wcs(dx))

    sci_type = np.float64 if case == "float32-template" else np.float32
    tmp_type = np.float32 if case == "float32-template" else np.float64
    dx = 0.3 if case == "warped-template" else None
    kwargs = {"decorrelate": True} if case == "decorrelated" else {}

    def run(t, s):
        if case == "tiled":
            return tiled_subtract_images(
                t, s, tile_size=128, overlap=16, config=PsfMatchConfig(
                    kernel_size=15, scale_by_fwhm=False, size_cell_x=48,
                    size_cell_y=48, spatial_kernel_order=1))
        return ImagePsfMatch(PsfMatchConfig(**CELL)).subtract_images(
            t, s, **kwargs)

    res = run(nd(template, tmp_type, dx), nd(science, sci_type,
                                             None if dx is None else 0.0))
    ref = run(nd(template, np.float64, dx), nd(science, np.float64,
                                               None if dx is None else 0.0))
    if case == "warped-template":
        assert res.warped
    diff = res.difference
    assert diff.data.dtype == sci_type
    assert diff.uncertainty.array.dtype == sci_type
    if case != "tiled":
        assert res.matched_image.data.dtype == sci_type
    good = ~ref.difference.mask
    np.testing.assert_array_equal(diff.mask, ref.difference.mask)
    sigma = np.sqrt(ref.difference.uncertainty.array[good])
    assert np.abs(diff.data[good] - ref.difference.data[good]).max() < (
        0.01 * sigma.min())
    assert np.allclose(diff.uncertainty.array[good], sigma ** 2, rtol=1e-3)


def _bright_stars(truth, n):
    stars = truth.stars[~truth.stars["saturated"] & ~truth.stars["masked"]]
    return stars[np.argsort(-stars["flux"])][:n]


def test_sources_masked_rows_dicts_and_units(pair):
    """Masked rows of a sources table are left out; a dict of columns is
    a table; a file name, or positions in other units than pixels, are
    errors naming sources."""
    from astropy.table import MaskedColumn, QTable, Table
    import astropy.units as u

    template, science, truth = pair
    stars = _bright_stars(truth, 60)
    x, y = np.asarray(stars["x"]), np.asarray(stars["y"])
    hidden = np.zeros(len(x), dtype=bool)
    hidden[::2] = True
    table = Table({"x": MaskedColumn(x, mask=hidden), "y": y})
    matcher = ImagePsfMatch(PsfMatchConfig(**CELL))
    res = matcher.match_images(template, science, sources=table)
    used = {(int(c.x), int(c.y)) for c in res.cell_set.candidates}
    shown = {(int(round(a)), int(round(b)))
             for a, b in zip(x[~hidden], y[~hidden], strict=True)}
    assert used and used <= shown
    # the same positions as a dict of columns, and as an (N, 2) array
    as_dict = matcher.match_images(template, science,
                                   sources={"x": x[~hidden], "y": y[~hidden]})
    as_array = matcher.match_images(template, science, sources=np.column_stack(
        [x[~hidden], y[~hidden]]))
    assert as_dict.kernel_sum == as_array.kernel_sum == res.kernel_sum
    table["x"].mask = True
    with pytest.raises(NoKernelCandidatesError, match="sources is empty"):
        matcher.match_images(template, science, sources=table)
    with pytest.raises(TypeError, match="sources must be a table, a dict of "
                                        "columns or an"):
        matcher.match_images(template, science, sources="stars.txt")
    in_pixels = matcher.match_images(
        template, science, sources=QTable({"x": x * u.pix, "y": y * u.pix}))
    assert in_pixels.n_candidates == len(
        matcher.match_images(template, science, sources=stars).candidates)
    with pytest.raises(u.UnitsError, match=r"sources\['x'\] must be in "
                                           "pixels"):
        matcher.match_images(template, science,
                             sources=QTable({"x": x * u.deg, "y": y * u.deg}))


def test_fwhm_in_pixels_and_numpy_booleans(pair):
    import astropy.units as u

    template, science, truth = pair
    matcher = ImagePsfMatch(PsfMatchConfig(**CELL))
    plain = matcher.match_images(template, science,
                                 template_fwhm=truth.template_fwhm)
    quantity = matcher.match_images(template, science,
                                    template_fwhm=truth.template_fwhm * u.pix)
    assert quantity.template_fwhm == plain.template_fwhm
    assert quantity.kernel_sum == plain.kernel_sum
    with pytest.raises(u.UnitsError, match="template_fwhm must be in pixels"):
        matcher.match_images(template, science, template_fwhm=0.5 * u.arcsec)
    with pytest.raises(u.UnitsError, match="science_fwhm must be in pixels"):
        matcher.match_images(template, science, science_fwhm=3 * u.mm)
    res = matcher.subtract_images(template, science, decorrelate=np.True_)
    assert res.decorrelation_kernel is not None
    with pytest.raises(TypeError, match="decorrelate must be True or False"):
        matcher.subtract_images(template, science, decorrelate=1)
    config = PsfMatchConfig(**CELL, use_pca_for_spatial_kernel=np.True_)
    assert config.validate().use_pca_for_spatial_kernel is True
