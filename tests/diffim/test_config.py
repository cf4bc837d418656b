"""PsfMatchConfig validation and the demo section."""

import pytest

from psfkit.diffim import (
    PsfMatchConfig,
    make_kernel_basis,
    scaled_alard_lupton_parameters,
)


def test_defaults():
    c = PsfMatchConfig()
    assert c.kernel_size == 21 and c.alard_n_gauss == 3
    assert c.kernel_basis_set == "alard-lupton"
    assert c.alard_sig_gauss == (0.7, 1.5, 3.0)
    assert c.alard_deg_gauss == (4, 2, 2)
    assert (c.spatial_kernel_order, c.spatial_bg_order) == (2, 1)
    assert (c.size_cell_x, c.size_cell_y, c.n_star_per_cell) == (128, 128, 5)
    assert (c.candidate_residual_mean_max, c.candidate_residual_std_max,
            c.max_ksum_sigma) == (0.25, 1.5, 3.0)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(kernel_size=20), ValueError, "kernel_size must be odd"),
    (dict(alard_sig_gauss=(1.0, 2.0)), ValueError, "alard_sig_gauss must have"),
    (dict(alard_deg_gauss=(4, 2)), ValueError, "alard_deg_gauss must have"),
    (dict(size_cell_x=0), ValueError, "size_cell_x must be >= 1"),
    (dict(size_cell_y=-5), ValueError, "size_cell_y must be >= 1"),
    (dict(kernel_basis_set="gauss"), ValueError, "kernel_basis_set must be one of"),
    (dict(spatial_model_type="legendre"), ValueError, "spatial_model_type"),
    (dict(candidate_residual_std_max=0), ValueError, "candidate_residual_std_max"),
    (dict(fit_for_background="yes"), TypeError, "fit_for_background must be True"),
    (dict(kernel_size_min=35, kernel_size_max=21), ValueError, "must not exceed"),
    (dict(alard_gauss_beta=1.0), ValueError, "alard_gauss_beta must be > 1"),
    (dict(central_regularization_stencil=7), ValueError, "stencil"),
    (dict(spatial_kernel_order=1.5), ValueError, "spatial_kernel_order"),
])
def test_validation_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        PsfMatchConfig(**kwargs)


def test_validate_after_edit():
    c = PsfMatchConfig()
    c.kernel_size = 4
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        c.validate()


def test_fwhm_scaling():
    c = PsfMatchConfig()
    size, sig = scaled_alard_lupton_parameters(c, 2.0, 6.0)
    fwhm = 2.3548200450309493
    sk = ((6.0 / fwhm) ** 2 - (2.0 / fwhm) ** 2) ** 0.5
    assert sig == pytest.approx((sk / 2, sk, sk * 2))
    assert size == 29  # ceil(6 * 2 * sk) = 29, odd, inside [21, 35]
    # equal FWHMs: the ladder starts at the minimum width
    size, sig = scaled_alard_lupton_parameters(c, 3.0, 3.0)
    assert sig == pytest.approx((0.7, 1.4, 2.8))
    assert size == 21
    basis, reg = make_kernel_basis(c, convolved_fwhm=2.0, target_fwhm=6.0)
    assert basis.shape == (27, 29, 29) and reg is None
    basis, reg = make_kernel_basis(PsfMatchConfig(
        kernel_basis_set="delta-function", kernel_size=5))
    assert basis.shape == (25, 5, 5) and reg.shape == (25, 25)


def test_demo_quick(tmp_path):
    from psfkit.demo.diffim import demo

    section = demo(tmp_path, quick=True)
    assert section.figures
    for name in section.figures:
        assert (tmp_path / name).exists()
    ratio = float(section.metrics["kernel sum / true flux ratio"])
    assert ratio == pytest.approx(1, abs=0.01)
