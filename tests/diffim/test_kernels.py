"""Bases, spatial kernels, candidates and the spatial solve against
independent computations."""

import numpy as np
import pytest
from scipy import ndimage
from scipy.special import erf

from psfkit.diffim import (
    BuildSingleKernelVisitor,
    CandidateStatus,
    KernelCandidate,
    PsfMatchConfig,
    SpatialCellSet,
    SpatialFunction,
    SpatialKernel,
    alard_lupton_basis,
    delta_function_basis,
    delta_function_regularization,
    pca_kernel_basis,
    solve_spatial_kernel,
)


def gaussian_stamp(size, sigma, flux=1.0, x0=0.0, y0=0.0):
    h = size // 2
    x = np.arange(-h, h + 1)
    px = 0.5 * (erf((x + 0.5 - x0) / np.sqrt(2) / sigma)
                - erf((x - 0.5 - x0) / np.sqrt(2) / sigma))
    py = 0.5 * (erf((x + 0.5 - y0) / np.sqrt(2) / sigma)
                - erf((x - 0.5 - y0) / np.sqrt(2) / sigma))
    return flux * np.outer(py, px)


def test_alard_lupton_basis_properties():
    basis = alard_lupton_basis(21)
    assert basis.shape == (27, 21, 21)
    sums = basis.sum(axis=(1, 2))
    assert sums[0] == pytest.approx(1.0)
    np.testing.assert_allclose(sums[1:], 0.0, atol=1e-12)
    np.testing.assert_allclose(np.sqrt((basis[1:] ** 2).sum(axis=(1, 2))), 1.0)
    # the bases are linearly independent
    assert np.linalg.matrix_rank(basis.reshape(27, -1)) == 27
    assert alard_lupton_basis(11, [1.0, 2.0], [2, 1]).shape == (9, 11, 11)


def test_basis_errors():
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        alard_lupton_basis(20)
    with pytest.raises(ValueError, match="same non-zero length"):
        alard_lupton_basis(11, [1.0, 2.0], [2])
    with pytest.raises(ValueError, match="duplicates the first"):
        alard_lupton_basis(11, [1.0, 1.0], [0, 0])


def test_delta_basis_and_regularization_match_brute_force():
    k = 7
    basis = delta_function_basis(k)
    rng = np.random.default_rng(1)
    coeffs = rng.normal(size=k * k)
    kernel = np.einsum("i,ikl->kl", coeffs, basis)
    # the first coefficient is the kernel sum
    assert kernel.sum() == pytest.approx(coeffs[0])
    lap9 = np.array([[1, 4, 1], [4, -20, 4], [1, 4, 1]]) / 6.0
    lap5 = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float)
    for stencil, lap in ((9, lap9), (5, lap5)):
        h = delta_function_regularization(k, stencil=stencil)
        want = np.sum(ndimage.correlate(kernel, lap, mode="constant") ** 2)
        assert coeffs @ h @ coeffs == pytest.approx(want, rel=1e-10)
    h = delta_function_regularization(k, regularization_type="forward-difference")
    padded = np.pad(kernel, 1)
    want = (np.sum(np.diff(padded, axis=1)[1:-1, 1:] ** 2)
            + np.sum(np.diff(padded, axis=0)[1:, 1:-1] ** 2))
    assert coeffs @ h @ coeffs == pytest.approx(want, rel=1e-10)


def test_spatial_function_terms():
    f = SpatialFunction(2, (50, 80))
    x = np.array([-0.5, 79.5, 20.0])
    y = np.array([-0.5, 49.5, 30.0])
    u = 2 * (x + 0.5) / 80 - 1
    v = 2 * (y + 0.5) / 50 - 1
    want = np.stack([np.ones(3), u, v, 2 * u ** 2 - 1, u * v, 2 * v ** 2 - 1], 1)
    np.testing.assert_allclose(f.terms(x, y), want)
    p = SpatialFunction(2, (50, 80), kind="polynomial")
    np.testing.assert_allclose(p.terms(x, y)[:, 3], u ** 2)
    img = f.evaluate(np.arange(6.0))
    np.testing.assert_allclose(img[30, 20], want[2] @ np.arange(6.0))


def test_spatial_kernel_convolution_matches_per_pixel_loop():
    rng = np.random.default_rng(3)
    shape = (30, 26)
    basis = alard_lupton_basis(5, [0.8, 1.6], [1, 1])
    kfun = SpatialFunction(1, shape)
    coeffs = rng.normal(size=(len(basis), 3)) * [1.0, 0.1, 0.1]
    coeffs[0] = [1.3, 0.0, 0.0]
    bfun = SpatialFunction(1, shape)
    kernel = SpatialKernel(basis, coeffs, kfun,
                           background_coefficients=[2.0, 1.0, -1.0],
                           background_function=bfun)
    image = rng.normal(size=shape)
    fast = kernel.convolve(image)
    slow = np.zeros(shape)
    padded = np.pad(image, 2)
    for yy in range(shape[0]):
        for xx in range(shape[1]):
            kern = kernel.kernel_image(xx, yy)
            patch = padded[yy:yy + 5, xx:xx + 5]
            slow[yy, xx] = np.sum(patch * kern[::-1, ::-1])
    np.testing.assert_allclose(fast, slow, atol=1e-10)
    assert kernel.kernel_sum == pytest.approx(1.3)
    np.testing.assert_allclose(kernel.kernel_sum_image(), 1.3)
    np.testing.assert_allclose(kernel.background_image()[10, 5],
                               kernel.background_at(5, 10)[0])
    # variance propagation: K**2 of a slowly varying kernel on a flat image
    var = kernel.convolve_variance(np.full(shape, 4.0))
    k2 = np.sum(kernel.kernel_image(13, 15) ** 2)
    assert var[15, 13] == pytest.approx(4.0 * k2, rel=0.02)


def test_single_kernel_recovers_gaussian_kernel_from_psfs():
    # Gaussian (s1) convolved with Gaussian kernel (sk) is Gaussian sqrt(s1^2+sk^2)
    s1, sk, flux_ratio = 1.2, 1.5, 1.7
    size = 45
    t = gaussian_stamp(size, s1)
    s = gaussian_stamp(size, np.hypot(s1, sk), flux_ratio)
    cand = KernelCandidate.from_psfs(50, 60, t, s)
    config = PsfMatchConfig(kernel_size=15, scale_by_fwhm=False,
                            alard_sig_gauss=(0.75, 1.5, 3.0),
                            fit_for_background=False)
    basis = alard_lupton_basis(15, config.alard_sig_gauss, config.alard_deg_gauss)
    BuildSingleKernelVisitor(basis, config).visit([cand])
    assert cand.status is CandidateStatus.GOOD
    assert cand.kernel_sum == pytest.approx(flux_ratio, rel=1e-4)
    yy, xx = np.mgrid[-7:8, -7:8]
    true = np.exp(-0.5 * (xx ** 2 + yy ** 2) / sk ** 2)
    true *= flux_ratio / true.sum()
    assert np.abs(cand.kernel - true).max() < 0.01 * true.max()


def test_spatial_solve_recovers_known_coefficients():
    rng = np.random.default_rng(7)
    shape = (200, 200)
    basis = alard_lupton_basis(9, [1.0, 2.0], [1, 1])
    kfun = SpatialFunction(1, shape)
    truth = np.zeros((len(basis), 3))
    truth[0, 0] = 1.25
    truth[1:] = rng.normal(scale=0.05, size=(len(basis) - 1, 3))
    true_kernel = SpatialKernel(basis, truth, kfun)
    cells = SpatialCellSet(shape, 50, 50)
    cands = []
    for i in range(30):
        x, y = rng.uniform(10, 190, 2)
        star = gaussian_stamp(27, 1.3, 1000.0, *rng.uniform(-0.5, 0.5, 2))
        kern = true_kernel.kernel_image(x, y)
        sci = ndimage.convolve(star, kern, mode="constant")
        cand = KernelCandidate(x=x, y=y, template=star, science=sci,
                               rating=float(i))
        cands.append(cand)
        cells.insert_candidate(cand)
    config = PsfMatchConfig(kernel_size=9, scale_by_fwhm=False,
                            fit_for_background=False,
                            single_kernel_clipping=False)
    BuildSingleKernelVisitor(basis, config).visit(cands)
    kernel, cond = solve_spatial_kernel(cands, basis, shape=shape,
                                        spatial_kernel_order=1,
                                        fit_for_background=False)
    assert np.isfinite(cond)
    np.testing.assert_allclose(kernel.coefficients, truth, atol=1e-6)
    # cells sort by rating and hand out the first n usable ones
    for cell in cells.cells:
        r = [c.rating for c in cell.usable(2)]
        assert r == sorted((c.rating for c in cell.candidates), reverse=True)[:2]


def test_pca_basis_spans_the_kernels():
    rng = np.random.default_rng(2)
    al = alard_lupton_basis(9, [1.0, 2.0], [1, 1])
    weights = rng.normal(size=(30, 2)) @ rng.normal(size=(2, len(al)))
    weights[:, 0] = 1.0
    offset = np.eye(len(al))[0]
    kernels = np.einsum("ni,ikl->nkl", 0.1 * weights + offset, al)
    basis = pca_kernel_basis(kernels, 2)
    assert basis.shape == (3, 9, 9)
    assert basis[0].sum() == pytest.approx(1.0)
    flat = basis.reshape(3, -1)
    norm = kernels.reshape(30, -1) / kernels.sum(axis=(1, 2))[:, None]
    coef = np.linalg.lstsq(flat.T, norm.T, rcond=None)[0]
    np.testing.assert_allclose(flat.T @ coef, norm.T, atol=1e-10)


def test_candidate_validation():
    with pytest.raises(ValueError, match="odd size"):
        KernelCandidate(x=0, y=0, template=np.ones((10, 10)),
                        science=np.ones((10, 10)))
    with pytest.raises(ValueError, match="science stamp"):
        KernelCandidate(x=0, y=0, template=np.ones((11, 11)),
                        science=np.ones((9, 9)))


def test_ill_conditioned_spatial_system_warns():
    # four candidates cannot constrain six spatial terms per basis image
    from psfkit.diffim import IllConditionedKernelWarning, solve_matching_kernel

    cells = SpatialCellSet((200, 200), 100, 100)
    for i, (x, y) in enumerate([(50, 50), (150, 50), (50, 150), (150, 150)]):
        cells.insert_candidate(KernelCandidate.from_psfs(
            x, y, gaussian_stamp(45, 1.5), gaussian_stamp(45, 2.5, 2.0),
            candidate_id=i))
    config = PsfMatchConfig(kernel_size=15, scale_by_fwhm=False,
                            spatial_kernel_order=2, fit_for_background=False)
    with pytest.warns(IllConditionedKernelWarning, match="ill-conditioned"):
        solution = solve_matching_kernel(cells, alard_lupton_basis(15), config)
    assert solution.condition_number > config.max_spatial_condition_number
    # the truncated pseudo-inverse still gives the right kernel sum
    assert solution.kernel.kernel_sum == pytest.approx(2.0, rel=1e-3)


def test_kernel_image_positions_of_different_lengths():
    kernel = SpatialKernel(np.ones((2, 3, 3)) / 9, np.zeros((2, 3)),
                           SpatialFunction(1, (64, 64)))
    with pytest.raises(ValueError, match=r"x and y must have the same length"
                                         r".*\(3,\) and \(2,\)"):
        kernel.kernel_image([1, 2, 3], [3, 4])
    # a number goes with any length
    assert kernel.kernel_image(5, [1, 2]).shape == (2, 3, 3)
