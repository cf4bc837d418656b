"""ModelPsfMatch on simulated PSF pairs with known target PSFs."""

import warnings

from astropy.nddata import NDData, VarianceUncertainty
from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
from scipy.signal import fftconvolve

from psfkit.diffim import (
    CandidateStatus,
    IllConditionedKernelWarning,
    KernelChoice,
    KernelSizeWarning,
    ModelPsfMatch,
    PsfMatchConfig,
    PsfMismatchWarning,
    realize_psf,
)
from psfkit.photometry import GaussianPSF, GriddedPSFModel, MoffatPSF
from psfkit.utils import InputDataError, PsfkitWarning

SHAPE = (256, 256)
CELL_CENTRES = (32.0, 96.0, 160.0, 224.0)


def gaussian_image(sx, sy, half):
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    return np.exp(-0.5 * (xx ** 2 / sx ** 2 + yy ** 2 / sy ** 2))


def moffat_image(alpha, beta, half):
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    return (1.0 + (xx ** 2 + yy ** 2) / alpha ** 2) ** (-beta)


def varying_gaussian(x, y, half=15):
    """Widths that grow linearly across the image, differently in x and y."""
    u, v = x / (SHAPE[1] - 1), y / (SHAPE[0] - 1)
    return gaussian_image(1.2 * (1 + 0.3 * u), 1.2 * (1 + 0.2 * v), half)


def varying_moffat_grid():
    """A GriddedPSFModel whose core width varies across (and beyond) the
    image; the grid spans the one-cell margin the solve realises PSFs in."""
    nodes = (-40.0, 296.0)
    images, pos = [], []
    for y in nodes:
        for x in nodes:
            alpha = 2.0 * (1 + 0.25 * (x + y) / (2 * (SHAPE[0] - 1)))
            images.append(moffat_image(alpha, 3.0, 30))
            pos.append((x, y))
    return GriddedPSFModel(NDData(np.array(images), meta={"grid_xypos": pos}))


def matched_psf_errors(result, image_psf, target_psf):
    """Independent check: the image PSF (large realisation) convolved with
    the kernel at each cell centre, against the target PSF, in units of
    the target peak."""
    errors = []
    for x in CELL_CENTRES:
        for y in CELL_CENTRES:
            a = realize_psf(image_psf, x, y, 61)
            if a.shape[0] < 61:
                a = np.pad(a, (61 - a.shape[0]) // 2)
            b = realize_psf(target_psf, x, y, 61)
            kern = result.kernel.kernel_image(x, y)
            matched = fftconvolve(a, kern, mode="same") / kern.sum()
            errors.append(np.abs(matched - b).max() / b.max())
    return np.array(errors)


@pytest.fixture(scope="module")
def noise_image():
    return np.random.default_rng(0).normal(size=SHAPE)


CASES = {
    "gaussian-constant": (GaussianPSF(x_fwhm=2.5, y_fwhm=2.5),
                          GaussianPSF(x_fwhm=4.5, y_fwhm=4.5), 11),
    "moffat-constant": (MoffatPSF(alpha=2.0, beta=3.0),
                        MoffatPSF(alpha=3.5, beta=3.0), 21),
    "gaussian-varying": (varying_gaussian,
                         GaussianPSF(x_fwhm=4.5, y_fwhm=4.5), 11),
    "moffat-varying": (varying_moffat_grid(),
                       MoffatPSF(alpha=3.5, beta=3.0), 21),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matched_psf_equals_target(case, noise_image):
    image_psf, target_psf, ksize = CASES[case]
    cfg = PsfMatchConfig(kernel_size=ksize, size_cell_x=64, size_cell_y=64)
    result = ModelPsfMatch(cfg, kernel="config").match(noise_image, image_psf,
                                                       target_psf)
    errors = matched_psf_errors(result, image_psf, target_psf)
    assert errors.max() < 0.01
    # the built-in QA number agrees with the independent check
    assert result.max_psf_residual < 0.015
    assert abs(result.kernel_sum - 1) < 0.01
    # every PSF pair was used: 4 x 4 cells grown by one cell = 36 pairs
    table = result.candidates
    assert len(table) == 36
    assert np.all(table["status"] == CandidateStatus.GOOD.value)


def test_spatial_variation_is_followed(noise_image):
    """A constant kernel cannot match a varying PSF: the spatial model must
    be doing the work (order 0 fails where order 2 succeeds)."""
    target = GaussianPSF(x_fwhm=4.5, y_fwhm=4.5)
    cfg0 = PsfMatchConfig(kernel_size=11, size_cell_x=64, size_cell_y=64,
                          spatial_kernel_order=0)
    # the misfit is reported, not silent
    with pytest.warns(PsfMismatchWarning, match="differs from the target"):
        res0 = ModelPsfMatch(cfg0).match(noise_image, varying_gaussian, target)
    assert matched_psf_errors(res0, varying_gaussian, target).max() > 0.03
    assert res0.max_psf_residual > 0.03


def test_matched_image_stars_have_target_psf():
    """Stars convolved from the image PSF come out with the target PSF and
    their flux; the variance is propagated."""
    shape = (128, 128)
    sigma_in, sigma_out = 1.2, 2.0
    image = np.zeros(shape)
    stars = [(40, 40), (90, 40), (40, 90), (90, 90)]
    half = 20
    psf_in = gaussian_image(sigma_in, sigma_in, half)
    psf_in /= psf_in.sum()
    for x, y in stars:
        image[y - half:y + half + 1, x - half:x + half + 1] += 1000 * psf_in
    variance = np.full(shape, 4.0)
    psf_out = gaussian_image(sigma_out, sigma_out, half)
    psf_out /= psf_out.sum()
    cfg = PsfMatchConfig(kernel_size=11, size_cell_x=64, size_cell_y=64)
    res = ModelPsfMatch(cfg).match(NDData(image, uncertainty=VarianceUncertainty(
        variance)), psf_in, psf_out)
    out = res.matched_image
    for x, y in stars:
        stamp = out.data[y - half:y + half + 1, x - half:x + half + 1]
        assert abs(stamp.sum() / 1000 - 1) < 2e-3
        assert np.abs(stamp / 1000 - psf_out).max() < 0.01 * psf_out.max()
    # white noise of variance 4 through a unit-sum kernel: 4 * sum(K**2)
    k = res.kernel.kernel_image(64, 64)
    expect = 4.0 * np.sum(k ** 2) / k.sum() ** 2
    inner = ~out.mask
    assert np.allclose(out.uncertainty.array[inner], expect, rtol=0.02)
    # the kernel border is masked
    assert out.mask[:5].all() and not out.mask[64, 64]


def test_delta_function_basis_with_the_default_regularisation(noise_image):
    """Unit-sum PSF stamps make small normal matrices: the default
    regularisation must scale with them, not swamp them (an absolute
    lambda of 0.2 left 19% of the peak)."""
    image_psf = GaussianPSF(x_fwhm=3.0, y_fwhm=3.0)
    target_psf = GaussianPSF(x_fwhm=5.0, y_fwhm=5.0)
    cfg = PsfMatchConfig(kernel_basis_set="delta-function", size_cell_x=64,
                         size_cell_y=64)
    assert cfg.lambda_type == "absolute"
    res = ModelPsfMatch(cfg, kernel="config").match(noise_image, image_psf,
                                                    target_psf)
    assert res.max_psf_residual < 1e-3
    assert matched_psf_errors(res, image_psf, target_psf).max() < 1e-3
    assert abs(res.kernel_sum - 1) < 1e-4


@pytest.mark.parametrize("psf_size", [15, 21, 61])
def test_given_psf_size_is_used_for_models(noise_image, psf_size):
    """The models are realised at the psf_size the caller gives, also when
    the kernel is chosen automatically."""
    image_psf = GaussianPSF(x_fwhm=3.0, y_fwhm=3.0)
    target_psf = GaussianPSF(x_fwhm=5.0, y_fwhm=5.0)
    res = ModelPsfMatch(PsfMatchConfig(size_cell_x=64, size_cell_y=64)).match(
        noise_image, image_psf, target_psf, psf_size=psf_size)
    assert res.psf_size == psf_size
    assert res.max_psf_residual < 0.01
    assert matched_psf_errors(res, image_psf, target_psf).max() < 0.01


def test_mask_is_grown(noise_image):
    mask = np.zeros(SHAPE, dtype=bool)
    mask[100, 100] = True
    res = ModelPsfMatch(PsfMatchConfig(kernel_size=11, size_cell_x=128,
                                       size_cell_y=128)).match(
        noise_image, GaussianPSF(x_fwhm=2.5, y_fwhm=2.5),
        GaussianPSF(x_fwhm=4.0, y_fwhm=4.0), mask=mask)
    m = res.matched_image.mask
    h = res.kernel.kernel_size // 2
    assert m[100 - h:101 + h, 100 - h:101 + h].all()
    assert not m[100, 102 + h] and not m[98 - h, 100]


def test_kernel_size_warning_and_error(noise_image):
    small = gaussian_image(1.0, 1.0, 7)  # 15 x 15 PSF images
    target = gaussian_image(2.0, 2.0, 7)
    cfg = PsfMatchConfig(kernel_size=21, size_cell_x=128, size_cell_y=128)
    with pytest.warns(KernelSizeWarning,
                      match=r"kernel_size 21 is much larger than psf_size "
                            r"// 2 = 7 \(PSF images of 15 pixels"):
        ModelPsfMatch(cfg, kernel="config").match(noise_image, small, target)
    assert issubclass(KernelSizeWarning, PsfkitWarning)
    with pytest.raises(ValueError, match="kernel_size 21 .* psf_size // 2 = 7"):
        ModelPsfMatch(cfg, kernel="config", on_large_kernel="raise").match(
            noise_image, small, target)
    # a kernel within the limit passes silently (warnings are errors here)
    ok = PsfMatchConfig(kernel_size=9, size_cell_x=128, size_cell_y=128)
    ModelPsfMatch(ok, kernel="config", on_large_kernel="raise").match(
        noise_image, small, target)
    # the automatic choice stays within the limit the PSF images set
    auto = ModelPsfMatch(cfg).match(noise_image, small, target)
    assert auto.kernel_choice.kernel_size <= 9
    assert auto.max_psf_residual < 0.01


def test_config_is_forced_for_models():
    cfg = PsfMatchConfig(kernel_size=15, scale_by_fwhm=True)
    forced = ModelPsfMatch(cfg).config
    assert not forced.scale_by_fwhm and not forced.fit_for_background
    assert not (forced.single_kernel_clipping or forced.kernel_sum_clipping
                or forced.spatial_kernel_clipping)
    assert forced.kernel_size == 15
    assert forced.lambda_type == "relative"
    assert cfg.scale_by_fwhm  # the caller's object is untouched


def test_bad_inputs(noise_image):
    matcher = ModelPsfMatch()
    with pytest.raises(TypeError, match="config must be a PsfMatchConfig"):
        ModelPsfMatch(config={"kernel_size": 11})
    with pytest.raises(ValueError, match="on_large_kernel must be one of"):
        ModelPsfMatch(on_large_kernel="maybe")
    with pytest.raises(ValueError, match="image_psf must give a 2-D PSF"):
        matcher.match(noise_image, np.ones(5), GaussianPSF())
    with pytest.raises(TypeError, match="image_psf must be a 2-D array, a PSF "
                                        "model or a callable"):
        matcher.match(noise_image, "gaussian", GaussianPSF())
    with pytest.raises(ValueError, match="target_psf gives a PSF image with a "
                                         "non-positive sum"):
        matcher.match(noise_image, GaussianPSF(), -np.ones((9, 9)))
    with pytest.raises(ValueError, match="psf_size must be odd"):
        matcher.match(noise_image, GaussianPSF(), GaussianPSF(), psf_size=20)
    with pytest.raises(ValueError, match="variance must have the image's "
                                         "shape"):
        matcher.match(noise_image, GaussianPSF(), GaussianPSF(),
                      variance=np.ones((3, 3)))
    from astropy.modeling.models import Const2D
    with pytest.raises(TypeError, match="x_0/y_0"):
        matcher.match(noise_image, Const2D(1.0), GaussianPSF())


@pytest.mark.parametrize("kernel", ["auto", "config"])
def test_image_smaller_than_the_kernel_says_so(kernel):
    """An image smaller than the kernel would come out all masked."""
    rng = np.random.default_rng(0)
    matcher = ModelPsfMatch(kernel=kernel)
    psfs = GaussianPSF(x_fwhm=3, y_fwhm=3), GaussianPSF(x_fwhm=5, y_fwhm=5)
    big = matcher.match(rng.normal(size=(40, 40)), *psfs)
    k = big.kernel.kernel_size
    assert k > 8 and not big.matched_image.mask.all()
    with pytest.raises(InputDataError, match=rf"image is 8x{k - 1} pixels; "
                       rf"PSF matching needs at least {k}x{k} \(the {k}-pixel "
                       "matching kernel"):
        matcher.match(rng.normal(size=(8, k - 1)), *psfs)


def test_realize_psf_centred_and_normalised():
    img = realize_psf(GaussianPSF(x_fwhm=3, y_fwhm=3), 10.3, 20.7, 15)
    yy, xx = np.mgrid[0:15, 0:15]
    assert abs(img.sum() - 1) < 1e-12
    assert abs((img * xx).sum() - 7) < 1e-6
    assert abs((img * yy).sum() - 7) < 1e-6
    # astropy's own models work too (x_mean / y_mean are the position)
    from astropy.modeling.models import Gaussian2D
    g = realize_psf(Gaussian2D(x_mean=0, y_mean=0, x_stddev=1.3, y_stddev=1.3),
                    10.3, 20.7, 15)
    assert np.allclose(g, realize_psf(GaussianPSF(x_fwhm=1.3 * 2.3548200450309493,
                                                  y_fwhm=1.3 * 2.3548200450309493),
                                      10.3, 20.7, 15), atol=1e-9)
    grid = varying_moffat_grid()
    a = realize_psf(grid, 0.0, 0.0, 31)
    b = realize_psf(grid, 255.0, 255.0, 31)
    # the PSF at the far corner is wider: a lower peak
    assert b.max() < 0.9 * a.max()


def test_narrower_target_warns(noise_image):
    cfg = PsfMatchConfig(kernel_size=11, size_cell_x=128, size_cell_y=128)
    with pytest.warns(PsfkitWarning) as record:
        ModelPsfMatch(cfg).match(noise_image, GaussianPSF(x_fwhm=4.0, y_fwhm=4.0),
                                 GaussianPSF(x_fwhm=3.0, y_fwhm=3.0))
    messages = [str(w.message) for w in record]
    assert any("target PSF is narrower than the image PSF" in m
               for m in messages)


# ---------------------------------------------------------------------------
# matched stars against the truth: stars drawn with the image PSF, matched,
# and compared with the same stars drawn with the target PSF

def moffat_with_fwhm(fwhm, beta):
    alpha = fwhm / (2 * np.sqrt(2 ** (1 / beta) - 1))
    return MoffatPSF(alpha=alpha, beta=beta)


def draw_stars(psf, shape, xs, ys, flux=1e4, half=25):
    """Stars of the model ``psf`` (a GriddedPSFModel gives its local PSF)."""
    image = np.zeros(shape)
    for x, y in zip(xs, ys, strict=True):
        x0, y0 = int(round(x)), int(round(y))
        yy, xx = np.mgrid[y0 - half:y0 + half + 1, x0 - half:x0 + half + 1]
        ok = (yy >= 0) & (yy < shape[0]) & (xx >= 0) & (xx < shape[1])
        params = [flux, x, y] + [getattr(psf, p).value
                                 for p in psf.param_names[3:]]
        np.add.at(image, (yy[ok], xx[ok]), psf.evaluate(xx, yy, *params)[ok])
    return image


def worst_star_residual(matched, target, xs, ys, flux=1e4, half=12):
    worst = 0.0
    for x, y in zip(xs, ys, strict=True):
        x0, y0 = int(round(x)), int(round(y))
        yy, xx = np.mgrid[y0 - half:y0 + half + 1, x0 - half:x0 + half + 1]
        params = [flux, x, y] + [getattr(target, p).value
                                 for p in target.param_names[3:]]
        truth = target.evaluate(xx, yy, *params)
        worst = max(worst, np.abs(matched[yy, xx] - truth).max() / truth.max())
    return worst


def star_positions(shape, n_side, seed=0):
    rng = np.random.default_rng(seed)
    ny, nx = shape
    xs = (np.arange(n_side) + 0.5) * nx / n_side
    ys = (np.arange(n_side) + 0.5) * ny / n_side
    xs, ys = (a.ravel() + rng.uniform(-0.5, 0.5, a.size)
              for a in np.meshgrid(xs, ys))
    return xs, ys


def gridded_gaussian(shape):
    """A 3 x 3 GriddedPSFModel of Gaussians widening (and elongating)
    across the image."""
    ny, nx = shape
    nodes = [(x, y) for y in (0, (ny - 1) / 2, ny - 1)
             for x in (0, (nx - 1) / 2, nx - 1)]
    yy, xx = np.mgrid[0:51, 0:51]
    stack = [GaussianPSF(x_0=25, y_0=25, x_fwhm=2.5 + x / (nx - 1),
                         y_fwhm=2.5 + 0.6 * y / (ny - 1))(xx, yy)
             for x, y in nodes]
    return GriddedPSFModel(NDData(np.array(stack), meta={"grid_xypos": nodes}))


GAUSS_15 = GaussianPSF(x_fwhm=1.5 * 2.3548, y_fwhm=1.5 * 2.3548)
STAR_CASES = {
    # the case of the issue: a Gaussian (sigma 1.5) to Moffats of FWHM 3.4
    "gaussian-moffat2.5": (GAUSS_15, moffat_with_fwhm(3.4, 2.5)),
    "gaussian-moffat3.5": (GAUSS_15, moffat_with_fwhm(3.4, 3.5)),
    "gaussian-moffat4.5": (GAUSS_15, moffat_with_fwhm(3.4, 4.5)),
    "moffat-moffat": (moffat_with_fwhm(3.5, 4.0), moffat_with_fwhm(5.0, 3.0)),
    "gridded-moffat": ("gridded", moffat_with_fwhm(4.5, 3.0)),
}


@pytest.mark.parametrize("case", sorted(STAR_CASES))
def test_matched_stars_equal_target(case):
    shape = (256, 256)
    image_psf, target = STAR_CASES[case]
    if image_psf == "gridded":
        image_psf = gridded_gaussian(shape)
    xs, ys = star_positions(shape, 4)
    image = draw_stars(image_psf, shape, xs, ys)
    res = ModelPsfMatch(PsfMatchConfig(size_cell_x=64, size_cell_y=64)).match(
        image, image_psf, target)
    assert worst_star_residual(res.matched_image.data, target, xs, ys) < 0.01
    assert res.max_psf_residual < 0.01
    choice = res.kernel_choice
    assert isinstance(choice, KernelChoice)
    assert choice.method == "auto" and choice.basis == "alard-lupton"
    assert choice.kernel_size % 2 == 1
    assert choice.probe_residual < 0.01
    assert choice.target_radius > 0 and choice.image_radius > 0


def test_kernel_choice_follows_the_wings():
    """Broader wings (smaller beta) need a larger kernel; the choice and its
    reasons are reported."""
    image = np.zeros((128, 128))
    sizes = {}
    for beta in (2.5, 4.5):
        res = ModelPsfMatch(PsfMatchConfig(size_cell_x=64, size_cell_y=64)
                            ).match(image, GAUSS_15, moffat_with_fwhm(3.4, beta))
        sizes[beta] = res.kernel_choice.kernel_size
        assert res.kernel_choice.encircled_energy == pytest.approx(0.99)
        assert "kernel_choice" in repr(res)
    assert sizes[2.5] > sizes[4.5]


def test_unreachable_target_warns():
    """A kernel capped below what the wings need cannot reach the target:
    a warning with the numbers, not a silent misfit."""
    cfg = PsfMatchConfig(size_cell_x=64, size_cell_y=64, kernel_size_max=9,
                         kernel_size_min=9)
    with pytest.warns(PsfMismatchWarning, match=r"differs from the target by "
                                                r".*% of its peak .* 9-pixel"):
        res = ModelPsfMatch(cfg).match(np.zeros((128, 128)), GAUSS_15,
                                       moffat_with_fwhm(3.4, 2.5))
    assert res.max_psf_residual > 0.01
    assert res.kernel_choice.kernel_size == 9


def test_even_sized_psf_image_is_rejected():
    """An even-sized PSF image has its centre between pixels; it used to
    shift the matched image by half a pixel without a word."""
    half = 11
    yy, xx = np.mgrid[0:2 * half, 0:2 * half] - (half - 0.5)
    even = np.exp(-0.5 * (xx ** 2 + yy ** 2) / 1.5 ** 2)   # 22 x 22, centred
    image = np.zeros((64, 64))
    image[32, 32] = 1.0
    with pytest.raises(ValueError, match=r"image_psf gives a PSF image of "
                                         r"22x22 pixels: an even size"):
        ModelPsfMatch().match(image, even, GaussianPSF(x_fwhm=5, y_fwhm=5))
    with pytest.raises(ValueError, match="target_psf .* even size"):
        ModelPsfMatch().match(image, GaussianPSF(x_fwhm=3, y_fwhm=3), even)
    # an odd image keeps the star where it is
    odd = np.exp(-0.5 * (xx[:-1, :-1] + 0.5) ** 2 / 1.5 ** 2
                 - 0.5 * (yy[:-1, :-1] + 0.5) ** 2 / 1.5 ** 2)  # 21 x 21
    image = draw_stars(GaussianPSF(x_fwhm=1.5 * 2.3548, y_fwhm=1.5 * 2.3548),
                       (64, 64), [32.0], [32.0], flux=1.0)
    res = ModelPsfMatch().match(image, odd, GaussianPSF(x_fwhm=5, y_fwhm=5))
    out = res.matched_image.data
    ry, rx = np.mgrid[0:64, 0:64]
    w = np.where(res.matched_image.mask, 0.0, out)
    assert (w * rx).sum() / w.sum() == pytest.approx(32.0, abs=1e-3)
    assert (w * ry).sum() / w.sum() == pytest.approx(32.0, abs=1e-3)



def centred_gaussian(ny, nx, sigma):
    """A Gaussian on an ``ny x nx`` grid, centred on the grid's middle (a
    pixel centre for odd sizes, between pixels for even ones)."""
    yy, xx = np.mgrid[0:ny, 0:nx]
    return np.exp(-0.5 * ((xx - (nx - 1) / 2) ** 2
                          + (yy - (ny - 1) / 2) ** 2) / sigma ** 2)


@settings(max_examples=40, deadline=None)
@given(ny=st.integers(3, 31), nx=st.integers(3, 31),
       which=st.sampled_from(["image_psf", "target_psf", "both"]),
       dx=st.floats(-0.5, 0.5), dy=st.floats(-0.5, 0.5))
def test_psf_arrays_of_every_parity(ny, nx, which, dx, dy):
    """PSF images of every size and parity: an even side is refused,
    naming the argument and the size; odd sizes never move a star nor
    change its flux, and a PSF image too small to reach the target is
    reported, never a silent misfit."""
    x0, y0 = 31.0 + dx, 32.0 + dy
    yy, xx = np.mgrid[0:64, 0:64]
    image = np.exp(-0.5 * ((xx - x0) ** 2 + (yy - y0) ** 2) / 1.2 ** 2)
    image /= image.sum()
    source, target = (GaussianPSF(x_fwhm=1.2 * 2.3548, y_fwhm=1.2 * 2.3548),
                      GaussianPSF(x_fwhm=2.0 * 2.3548, y_fwhm=2.0 * 2.3548))
    if which in ("image_psf", "both"):
        source = centred_gaussian(ny, nx, 1.2)
    if which in ("target_psf", "both"):
        target = centred_gaussian(ny, nx, 2.0)
    matcher = ModelPsfMatch()
    if ny % 2 == 0 or nx % 2 == 0:
        name = "image_psf" if which != "target_psf" else "target_psf"
        with pytest.raises(ValueError, match=rf"{name} gives a PSF image of "
                                             rf"{ny}x{nx} pixels: an even "
                                             r"size"):
            matcher.match(image, source, target)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = matcher.match(image, source, target)
    kinds = {w.category for w in caught}
    assert kinds <= {PsfMismatchWarning, IllConditionedKernelWarning}
    assert (PsfMismatchWarning in kinds) == (res.max_psf_residual
                                             > matcher.tolerance)
    out = np.where(res.matched_image.mask, 0.0, res.matched_image.data)
    assert out.sum() == pytest.approx(1.0, rel=1e-9)
    assert (out * xx).sum() / out.sum() == pytest.approx(x0, abs=1e-6)
    assert (out * yy).sum() / out.sum() == pytest.approx(y0, abs=1e-6)


def test_result_reprs_are_short(noise_image):
    res = ModelPsfMatch(PsfMatchConfig(size_cell_x=128, size_cell_y=128)).match(
        noise_image, GaussianPSF(x_fwhm=2.5, y_fwhm=2.5),
        GaussianPSF(x_fwhm=4.0, y_fwhm=4.0))
    text = repr(res)
    assert text.startswith("ModelMatchResult(") and len(text) < 800
    assert "max_psf_residual" in text and "[[" not in text
    assert "<table>" in res._repr_html_()
    assert "KernelChoice(" in repr(res.kernel_choice)
    with pytest.raises(AttributeError):
        res.kernel_sum = 2.0
