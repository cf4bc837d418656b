"""
The images of ``photutils3_cases_data`` are photutils 3.0's test images:
the expected values of the re-expressed photutils cases hold only on them.
"""

from astropy.table import QTable
import numpy as np
from numpy.testing import assert_allclose, assert_equal
from photutils3_cases_data import (
    draw_stars,
    fixed_position_finder,
    iterative_field,
    photometry_field,
    simulated_star_image,
)
import pytest

from psfkit.photometry import CircularGaussianPRF

photutils_psf = pytest.importorskip("photutils.psf")
photutils_datasets = pytest.importorskip("photutils.datasets")


def reference_stars(shape, fwhm, n_sources, box, min_separation, flux):
    return photutils_psf.make_psf_model_image(
        shape, photutils_psf.CircularGaussianPRF(flux=1, fwhm=fwhm),
        n_sources, model_shape=box, flux=flux,
        min_separation=min_separation, seed=0)


def assert_same_stars(table, expected):
    assert table.colnames == expected.colnames
    for name in table.colnames:
        assert_allclose(table[name], expected[name], rtol=1e-14)


def test_photometry_field_is_photutils_image():
    image, error, truth = photometry_field()
    expected, expected_truth = reference_stars((101, 101), 2.7, 10, (9, 9),
                                               10, (500, 700))
    expected += photutils_datasets.make_noise_image((101, 101), mean=0,
                                                    stddev=0.9, seed=0)
    assert_allclose(image, expected, rtol=0, atol=1e-10)
    assert_same_stars(truth, expected_truth)
    assert_equal(error, 0.9)


def test_iterative_field_is_photutils_image():
    image, error, _ = iterative_field()
    expected, _ = reference_stars((101, 101), 2.7, 10, (9, 9), 10,
                                  (500, 700))
    noise = photutils_datasets.make_noise_image((101, 101), mean=0,
                                                stddev=1, seed=0)
    assert_allclose(image, expected + noise, rtol=0, atol=1e-10)
    assert_allclose(error, np.abs(noise), rtol=0, atol=0)


@pytest.mark.parametrize(("shape", "fwhm", "n_sources", "box", "separation"),
                         [((150, 150), 3.5, 300, (11, 11), 1),
                          ((301, 301), 2.0, 50, (5, 5), 10),
                          ((25, 25), 2.5, 1, (7, 7), 1)])
def test_crowded_and_sparse_fields_are_photutils_images(shape, fwhm, n_sources,
                                                        box, separation):
    model = CircularGaussianPRF(flux=1, fwhm=fwhm)
    image, truth = simulated_star_image(shape, model, n_sources, box=box,
                                        min_separation=separation,
                                        flux=(50, 100))
    expected, expected_truth = reference_stars(shape, fwhm, n_sources, box,
                                               separation, (50, 100))
    assert_allclose(image, expected, rtol=0, atol=1e-10)
    assert_same_stars(truth, expected_truth)


@pytest.mark.parametrize("box", [(41, 41), None])
def test_drawn_table_is_photutils_image(box):
    stars = QTable({"x_0": [50, 45, 3, 27], "y_0": [50, 52.5, 48, 99.7],
                    "flux": [1000, 100, 50, 10]})
    model = CircularGaussianPRF(flux=1, fwhm=3.1)
    expected = photutils_datasets.make_model_image(
        (101, 101), photutils_psf.CircularGaussianPRF(flux=1, fwhm=3.1),
        stars, model_shape=box)
    assert_allclose(draw_stars((101, 101), model, stars, box=box), expected,
                    rtol=0, atol=1e-10)


@pytest.mark.parametrize("units", [False, True])
def test_fixed_position_finder(units):
    found = fixed_position_finder("xcen", "ycen", units=units)(np.zeros((3, 3)))
    assert found.colnames == ["xcen", "ycen"]
    assert_allclose(getattr(found["xcen"], "value", found["xcen"]), [25.1])
    assert (getattr(found["ycen"], "unit", None) is not None) == units
