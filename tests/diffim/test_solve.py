"""The solve steps as plain functions, their visitor wrappers, and the
regressions found by running the peers' cases and bad inputs."""

from concurrent.futures import ThreadPoolExecutor

from astropy.io import fits
from astropy.nddata import NDData, VarianceUncertainty
import numpy as np
import pytest

from psfkit.cli import main
from psfkit.diffim import (
    AssessSpatialKernelVisitor,
    BuildSingleKernelVisitor,
    BuildSpatialKernelVisitor,
    CandidateStatus,
    ImagePsfMatch,
    KernelCandidate,
    KernelSolution,
    KernelSumVisitor,
    NoKernelCandidatesError,
    PsfMatchConfig,
    SpatialCellSet,
    alard_lupton_basis,
    assess_spatial_kernel,
    clip_kernel_sums,
    fit_single_kernels,
    fit_spatial_kernel,
    solve_matching_kernel,
)
from psfkit.diffim.tiled import TileMatchFailedWarning, tiled_subtract_images
from psfkit.utils import InputDataError, PsfkitDeprecationWarning


def candidates_with_sums(sums):
    out = []
    for i, s in enumerate(sums):
        cand = KernelCandidate(x=10.0 * i, y=0.0, template=np.ones((5, 5)),
                               science=np.ones((5, 5)), candidate_id=i)
        cand.kernel_sum = float(s)
        cand.status = CandidateStatus.GOOD
        out.append(cand)
    return out


# The two cases below mirror the kernel-sum visitor test of LSST ip_diffim
# (tests/test_kernelSumVisitor.py, GPL-3.0): re-expressed here, they expect
# exactly one rejection each.
@pytest.mark.parametrize("sums, outlier", [
    ([1, 1, 1, 1, 2, 3, 4, 50], 7),
    ([1.0] * 8 + [100.0], 8),
])
def test_kernel_sum_clipping_rejects_the_outlier(sums, outlier):
    """Equal kernel sums give a zero width; that must not turn clipping
    off (it used to: nothing was rejected)."""
    config = PsfMatchConfig()
    cands = candidates_with_sums(sums)
    mean, std, n_rejected = clip_kernel_sums(cands, config)
    assert n_rejected == 1
    bad = [c.candidate_id for c in cands if c.status is CandidateStatus.BAD]
    assert bad == [outlier]
    assert "kernel sum" in cands[outlier].reason
    # the visitor wrapper does the same
    cands = candidates_with_sums(sums)
    visitor = KernelSumVisitor(config).visit(cands)
    assert visitor.n_rejected == 1
    assert visitor.mean == pytest.approx(mean)
    assert visitor.std == pytest.approx(std)


def test_kernel_sum_statistics_are_robust():
    # a large minority of corrupted candidates cannot hide in a wide std
    rng = np.random.default_rng(1)
    sums = np.concatenate([1.2 + 0.002 * rng.normal(size=30),
                           [1.5, 1.6, 1.7, 0.9, 2.5]])
    cands = candidates_with_sums(sums)
    mean, std, n_rejected = clip_kernel_sums(cands, PsfMatchConfig())
    assert mean == pytest.approx(1.2, abs=0.002)
    assert std < 0.005
    status = [c.status for c in cands]
    assert all(s is CandidateStatus.BAD for s in status[30:])
    assert sum(s is CandidateStatus.GOOD for s in status[:30]) >= 28
    # switched off: statistics only
    cands = candidates_with_sums(sums)
    _, _, n = clip_kernel_sums(cands, PsfMatchConfig(kernel_sum_clipping=False))
    assert n == 0


def gaussian(size, sigma, flux=1.0):
    half = size // 2
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    g = np.exp(-0.5 * (xx ** 2 + yy ** 2) / sigma ** 2)
    return flux * g / g.sum()


def test_functions_and_visitors_agree():
    """The visitors are thin wrappers: same statuses, same kernel."""
    config = PsfMatchConfig(kernel_size=11, scale_by_fwhm=False,
                            spatial_kernel_order=1, fit_for_background=False)
    basis = alard_lupton_basis(11, (0.8, 1.6, 3.2), (2, 1, 1))
    positions = [(40, 40), (160, 40), (40, 160), (160, 160), (100, 100)]

    def make():
        cells = SpatialCellSet((200, 200), 100, 100)
        for i, (x, y) in enumerate(positions):
            width = 2.0 + 0.002 * x
            cells.insert_candidate(KernelCandidate.from_psfs(
                x, y, gaussian(33, 1.2), gaussian(33, width, 1.5),
                candidate_id=i))
        return cells

    cells_f, cells_v = make(), make()
    cands_f = cells_f.usable_candidates(5)
    fit_single_kernels(cands_f, basis, config)
    clip_kernel_sums(cands_f, config)
    kernel_f, cond_f, n_f = fit_spatial_kernel(cands_f, basis, config,
                                               (200, 200))
    rejected_f = assess_spatial_kernel(cands_f, kernel_f, config)

    cells_v.visit_candidates(BuildSingleKernelVisitor(basis, config), 5)
    cells_v.visit_candidates(KernelSumVisitor(config), 5)
    spatial = cells_v.visit_candidates(
        BuildSpatialKernelVisitor(basis, config, (200, 200)), 5)
    assess = cells_v.visit_candidates(
        AssessSpatialKernelVisitor(spatial.kernel, config), 5)
    assert assess.n_rejected == rejected_f == 0
    assert spatial.n_used == n_f == 5
    np.testing.assert_allclose(spatial.kernel.coefficients,
                               kernel_f.coefficients)
    assert kernel_f.kernel_sum == pytest.approx(1.5, rel=3e-3)
    # the spatial statistics from the stored quadratic forms equal those
    # computed on the stamps themselves
    from psfkit.diffim.solve import direct_statistics

    kernels = kernel_f.kernel_image(np.array([c.x for c in cands_f]),
                                    np.array([c.y for c in cands_f]))
    mean, std = direct_statistics(cands_f, kernels, np.zeros(len(cands_f)))
    np.testing.assert_allclose([c.spatial_residual_mean for c in cands_f],
                               mean, atol=1e-6)
    np.testing.assert_allclose([c.spatial_residual_std for c in cands_f],
                               std, rtol=1e-4, atol=1e-6)
    solution = solve_matching_kernel(make(), basis, config)
    assert isinstance(solution, KernelSolution)
    assert "KernelSolution(" in repr(solution) and "[[" not in repr(solution)


def noise_pair(shape, stars, rng, flux=2e5):
    """A template/science pair of Gaussian stars at integer positions."""
    sky = 100.0
    images = []
    for sigma, scale in ((1.2, 1.0), (1.6, 1.3)):
        img = np.full(shape, sky)
        yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
        for x, y in stars:
            img += scale * flux * np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2)
                                         / sigma ** 2) / (2 * np.pi * sigma ** 2)
        img += rng.normal(0.0, 10.0, shape)
        images.append(NDData(img, uncertainty=VarianceUncertainty(
            np.full(shape, 100.0))))
    return images


def test_all_peaks_on_the_border_is_no_candidates():
    """Peaks only on the image border used to crash in the saturation test
    with a numpy reshape error."""
    rng = np.random.default_rng(4)
    border = [(0, 20), (63, 40), (30, 0), (45, 63)]
    template, science = noise_pair((64, 64), border, rng)
    with pytest.raises(NoKernelCandidatesError, match="off the image edge"):
        ImagePsfMatch(PsfMatchConfig(kernel_size=11, scale_by_fwhm=False)
                      ).subtract_images(template, science)


def test_tile_with_border_peaks_only_is_marked_failed():
    rng = np.random.default_rng(5)
    inner = [(x, y) for x in range(24, 96, 24) for y in range(24, 120, 24)]
    edge = [(255, 30), (255, 90)]          # the right tile's outer border
    template, science = noise_pair((128, 256), inner + edge, rng)
    config = PsfMatchConfig(kernel_size=11, scale_by_fwhm=False,
                            size_cell_x=64, size_cell_y=64,
                            spatial_kernel_order=0, spatial_bg_order=0)
    with pytest.warns(TileMatchFailedWarning, match=r"tile\(s\) \[1\]"):
        res = tiled_subtract_images(template, science, tile_size=(128, 128),
                                    overlap=16, config=config)
    assert res.tiles["ok"].tolist() == [True, False]
    assert "no kernel candidates" in res.tiles["message"][1]
    assert res.difference.mask[:, 128:].all()
    assert "tiles_ok=1 of 2" in repr(res)


def test_tiled_executor_and_deprecated_client():
    rng = np.random.default_rng(6)
    stars = [(x, y) for x in range(20, 256, 26) for y in range(20, 128, 26)]
    template, science = noise_pair((128, 256), stars, rng)
    config = PsfMatchConfig(kernel_size=11, scale_by_fwhm=False,
                            size_cell_x=64, size_cell_y=64,
                            spatial_kernel_order=0, spatial_bg_order=0)
    kw = dict(tile_size=(128, 128), overlap=16, config=config)
    serial = tiled_subtract_images(template, science, **kw)
    threads = tiled_subtract_images(template, science, executor=2, **kw)
    np.testing.assert_array_equal(serial.difference.data,
                                  threads.difference.data)
    assert serial.tiles["ok"].all()
    with ThreadPoolExecutor(2) as pool:
        with pytest.warns(PsfkitDeprecationWarning,
                          match="client= is deprecated"):
            old = tiled_subtract_images(template, science, client=pool, **kw)
        with pytest.raises(TypeError, match="give executor= only"):
            tiled_subtract_images(template, science, client=pool, executor=2,
                                  **kw)
    np.testing.assert_array_equal(old.difference.data, serial.difference.data)


def test_tiled_progress_bar(capsys):
    # progress_bar= counts the finished tiles, here and on threads, with
    # the same difference image as without a bar
    pytest.importorskip("tqdm")
    rng = np.random.default_rng(6)
    stars = [(x, y) for x in range(20, 256, 26) for y in range(20, 128, 26)]
    template, science = noise_pair((128, 256), stars, rng)
    config = PsfMatchConfig(kernel_size=11, scale_by_fwhm=False,
                            size_cell_x=64, size_cell_y=64,
                            spatial_kernel_order=0, spatial_bg_order=0)
    kw = dict(tile_size=(128, 128), overlap=16, config=config)
    quiet = tiled_subtract_images(template, science, **kw)
    assert capsys.readouterr().err == ""
    for executor in (None, 2):
        shown = tiled_subtract_images(template, science, executor=executor,
                                      progress_bar=True, **kw)
        assert "tiles: 100%" in capsys.readouterr().err
        np.testing.assert_array_equal(shown.difference.data,
                                      quiet.difference.data)


def test_constant_images_give_one_clear_error(tmp_path, capsys):
    """All-zero inputs used to print a RuntimeWarning and a bogus
    non-finite-value warning before the real error (warnings are errors in
    this suite, so any of them fails the test)."""
    zeros = np.zeros((64, 64))
    with pytest.raises(InputDataError, match=r"science is constant \(every "
                                             r"unmasked pixel is 0\)"):
        ImagePsfMatch().subtract_images(zeros + 1.0 + np.arange(64), zeros)
    with pytest.raises(InputDataError, match="template is constant"):
        ImagePsfMatch().subtract_images(zeros, zeros)
    fits.writeto(tmp_path / "a.fits", zeros.astype(np.float32))
    fits.writeto(tmp_path / "b.fits", zeros.astype(np.float32))
    status = main(["diffim", str(tmp_path / "a.fits"), str(tmp_path / "b.fits"),
                   "-o", str(tmp_path / "d.fits")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "is constant" in err


def test_solve_functions_take_executor():
    # executor= as everywhere else (an int or a ThreadPoolExecutor);
    # n_threads= is a deprecated alias; the answers do not depend on threads
    basis = alard_lupton_basis(11, (0.8, 1.6, 3.2), (2, 1, 1))
    config = PsfMatchConfig(kernel_size=11, scale_by_fwhm=False,
                            spatial_kernel_order=1, fit_for_background=False)

    def cells():
        cell_set = SpatialCellSet((200, 200), 100, 100)
        for i, (x, y) in enumerate([(40, 40), (160, 40), (40, 160),
                                    (160, 160), (100, 100)]):
            cell_set.insert_candidate(KernelCandidate.from_psfs(
                x, y, gaussian(33, 1.2), gaussian(33, 2.0 + 0.002 * x, 1.5),
                candidate_id=i))
        return cell_set

    one = solve_matching_kernel(cells(), basis, config)
    with ThreadPoolExecutor(2) as pool:
        two = solve_matching_kernel(cells(), basis, config, executor=pool)
    with pytest.warns(PsfkitDeprecationWarning, match="n_threads= is deprecated"):
        old = solve_matching_kernel(cells(), basis, config, n_threads=2)
    np.testing.assert_allclose(two.kernel.coefficients, one.kernel.coefficients,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(old.kernel.coefficients, one.kernel.coefficients,
                               rtol=1e-10, atol=1e-12)
    cands = cells().usable_candidates(5)
    assert fit_single_kernels(cands, basis, config, executor=2) == (5, 0)
    with pytest.raises(TypeError, match="give executor= only"):
        fit_single_kernels(cands, basis, config, executor=2, n_threads=2)

    kernel = one.kernel
    image = np.random.default_rng(3).normal(size=(200, 200))
    ref = kernel.convolve(image)
    np.testing.assert_allclose(kernel.convolve(image, executor=2), ref,
                               rtol=1e-12, atol=1e-12)
    with pytest.warns(PsfkitDeprecationWarning):
        np.testing.assert_allclose(kernel.convolve(image, n_threads=2), ref,
                                   rtol=1e-12, atol=1e-12)
    var = np.full((200, 200), 4.0)
    np.testing.assert_allclose(kernel.convolve_variance(var, executor=None),
                               kernel.convolve_variance(var),
                               rtol=1e-12, atol=1e-12)


def test_no_candidates_message_shows_numbers():
    """Each kind of rejection is shown with its first instance's numbers
    (they used to read '#')."""
    cands = candidates_with_sums([1.0, 1.1, 1.2])
    cands[0].reason = "spatial kernel: residual std 4.21 > 3"
    cands[1].reason = "spatial kernel: residual std 5.5 > 3"
    cands[2].reason = "kernel sum 1.2 more than 3 sigma from the mean 1"
    err = NoKernelCandidatesError.from_candidates(cands)
    assert str(err) == (
        "no good kernel candidates: 3 tried; rejected: 2 x e.g. spatial "
        "kernel: residual std 4.21 > 3; 1 x kernel sum 1.2 more than 3 "
        "sigma from the mean 1")
    assert "#" not in str(err)
    assert err.reasons["spatial kernel: residual std # > #"] == 2

