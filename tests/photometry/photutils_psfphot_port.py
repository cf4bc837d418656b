"""
Shared part of the port of photutils' PSF photometry tests.

The modules ``test_psfphotometry_photutils_cases*.py`` and
``test_iterative_psfphotometry_photutils_cases.py`` are photutils' own
tests of ``PSFPhotometry`` and ``IterativePSFPhotometry``, copied from
photutils 3.0.0 (https://github.com/astropy/photutils), files
``photutils/psf/tests/test_photometry.py`` and
``photutils/psf/tests/test_iterative.py``, with only their imports changed:
they run against psfkit's photutils-3 API.  The fixtures and helpers the
copied tests share are copied below from the same two files.

photutils is Copyright (c) 2011-2026, Photutils Developers, and distributed
under the BSD 3-Clause licence, reproduced in ``LICENSE-photutils.rst``
beside this file.

What comes from where:

* the classes under test and the components they are given (finder,
  grouper, background estimators, PSF models, warnings, flag decoding) are
  psfkit's, imported in the test modules from `psfkit.photometry` and
  `psfkit.utils`;
* the test images are simulated with photutils' own ``make_psf_model_image``,
  ``make_model_image`` and ``make_noise_image`` (re-exported here): psfkit
  has no functions of those names, and drawing the images with photutils
  keeps every expected number of the copied tests valid, since each was
  worked out on photutils' images (same seeds, same pixels);
* ``make_psf_model`` (an astropy model turned into a PSF model) is
  photutils' too: the tests that use it run a photutils model inside
  psfkit's photometry.

Tests that cannot pass against psfkit are listed in `PORT_XFAILS` with the
reason; ``conftest.py`` marks them as strict xfails, and
``docs/photometry/psf_photometry.rst`` lists them for users
(``test_photutils_port_docs.py`` checks that the two lists agree).
"""

from astropy.table import Table
import astropy.units as u
import numpy as np
import pytest

# photutils draws the test images; psfkit does everything else
pytest.importorskip("photutils")
from photutils.datasets import make_model_image, make_noise_image  # noqa: E402
from photutils.psf import make_psf_model, make_psf_model_image  # noqa: E402

from psfkit.photometry import CircularGaussianPRF  # noqa: E402

__all__ = [
    "FINDER_COLUMN_NAMES",
    "PORT_XFAILS",
    "_compare_lists_with_arrays",
    "apply_port_xfails",
    "fixture_iterative_test_data",
    "fixture_test_data",
    "make_iterative_mock_finder",
    "make_mock_finder",
    "make_model_image",
    "make_noise_image",
    "make_psf_model",
    "make_psf_model_image",
]

#: ``"<module file>::<test name>"`` (every parametrization) or
#: ``"<module file>::<test name>[<parameters>]"`` -> why the test cannot
#: pass against psfkit.
PORT_XFAILS = {
    "test_iterative_psfphotometry_photutils_cases.py::test_move_column": (
        "tests photutils' private helper IterativePSFPhotometry._move_column, "
        "which psfkit does not have"),
    "test_psfphotometry_photutils_cases_bounds.py::test_grouper_with_xy_bounds": (
        "its checks of the fitted positions pass; it then calls photutils' "
        "private psfphot._psf_fitter.make_psf_model, the astropy compound "
        "model photutils builds for each group; psfkit's engine fits arrays "
        "and builds no such model"),
    "test_psfphotometry_photutils_cases_results.py::"
    "test_should_skip_source_coverage": (
        "tests photutils' private psfphot._data_processor and "
        "psfphot._param_mapper, which psfkit does not have"),
    "test_psfphotometry_photutils_cases_results.py::"
    "test_get_source_cutout_data_no_overlap": (
        "tests photutils' private psfphot._data_processor, which psfkit "
        "does not have"),
    "test_psfphotometry_photutils_cases_bounds.py::"
    "test_flag16_missing_covariance": (
        "photutils takes the parameter errors from the fitter's covariance "
        "matrix (NaN and flag 16 when the fitter gives none); psfkit computes "
        "them from its own normal matrix at the fitted values whatever the "
        "fitter (flag 16 means that matrix is singular), so a fitter without "
        "a covariance still gets finite errors"),
    "test_psfphotometry_photutils_cases_bounds.py::test_make_psf_model": (
        "the initial y (57.3) is 5.3 pixels from the star (52.0), outside "
        "the 7x7 fit box; psfkit keeps a fitted centre within its fit box, so "
        "the fit stops at the box edge (y = 53.5) where photutils' "
        "unconstrained fit reaches the star"),
    "test_psfphotometry_photutils_cases_params.py::"
    "test_fitter_no_maxiters_no_metrics": (
        "SimplexLSQFitter stops at its 100-iteration limit on every star and "
        "astropy warns 'Maximum number of iterations reached'; photutils "
        "silences the fitter's warnings and reports the fits as converged, "
        "psfkit flags them (8) and warns 'One or more fit(s) may not have "
        "converged'; the fitted values agree with photutils' to 1e-8"),
    "test_psfphotometry_photutils_cases_params.py::test_fixed_params": (
        "with every parameter fixed photutils fails inside the astropy fitter "
        "('`bounds` must contain 2 elements'); psfkit raises a ValueError of "
        "its own before fitting, 'psf_model has no free parameter'"),
}


def apply_port_xfails(items):
    """Mark the collected tests named in `PORT_XFAILS` as strict xfails."""
    for item in items:
        name = item.path.name
        reason = (PORT_XFAILS.get(f"{name}::{item.name}")
                  or PORT_XFAILS.get(f"{name}::{item.originalname}"))
        if reason:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))


# ---------------------------------------------------------------------------
# copied from photutils 3.0.0, photutils/psf/tests/test_photometry.py

@pytest.fixture(name='test_data')
def fixture_test_data():
    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    model_shape = (9, 9)
    n_sources = 10
    shape = (101, 101)
    data, true_params = make_psf_model_image(shape, psf_model, n_sources,
                                             model_shape=model_shape,
                                             flux=(500, 700),
                                             min_separation=10, seed=0)
    sigma = 0.9
    noise = make_noise_image(data.shape, mean=0, stddev=sigma, seed=0)
    data += noise
    error = np.full(data.shape, sigma)

    return data, error, true_params


def make_mock_finder(x_col, y_col, *, units=False):
    def finder(data, *, mask=None):  # noqa: ARG001
        source_table = Table()
        x_val = [25.1]
        y_val = [24.9]
        if units:
            x_val *= u.pixel
            y_val *= u.pixel
        source_table[x_col] = x_val
        source_table[y_col] = y_val
        return source_table
    return finder


FINDER_COLUMN_NAMES = [
    ('x', 'y'),
    ('x_init', 'y_init'),
    ('xcentroid', 'ycentroid'),
    ('x_centroid', 'y_centroid'),
    ('xpos', 'ypos'),
    ('x_peak', 'y_peak'),
    ('xcen', 'ycen'),
    ('x_fit', 'y_fit'),
    ('x_invalid', 'y_invalid'),
]


def _compare_lists_with_arrays(list1, list2):
    if len(list1) != len(list2):
        return False
    for item1, item2 in zip(list1, list2, strict=True):
        if isinstance(item1, dict) and isinstance(item2, dict):
            if item1.keys() != item2.keys():
                return False
            for key in item1:
                if isinstance(item1[key], np.ndarray):
                    if not np.array_equal(item1[key], item2[key],
                                          equal_nan=True):
                        return False
                elif item1[key] != item2[key]:
                    return False
        elif item1 != item2:
            return False
    return True


# ---------------------------------------------------------------------------
# copied from photutils 3.0.0, photutils/psf/tests/test_iterative.py
# (its fixture and mock finder differ from test_photometry.py's: imported
# there under photutils' names)

@pytest.fixture(name='test_data')
def fixture_iterative_test_data():
    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    model_shape = (9, 9)
    n_sources = 10
    shape = (101, 101)
    data, true_params = make_psf_model_image(shape, psf_model, n_sources,
                                             model_shape=model_shape,
                                             flux=(500, 700),
                                             min_separation=10, seed=0)
    noise = make_noise_image(data.shape, mean=0, stddev=1, seed=0)
    data += noise
    error = np.abs(noise)

    return data, error, true_params


def make_iterative_mock_finder(x_col, y_col):
    def finder(data, *, mask=None):  # noqa: ARG001
        source_table = Table()
        source_table[x_col] = [25.1]
        source_table[y_col] = [24.9]
        return source_table
    return finder
