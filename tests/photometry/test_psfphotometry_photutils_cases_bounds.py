"""
photutils' tests of ``PSFPhotometry``, run against psfkit:
part 3 of 4 (xy bounds, positions, column names, flags).

Copied from photutils 3.0.0 (https://github.com/astropy/photutils), file
``photutils/psf/tests/test_photometry.py`` (lines 1047-1563), with only the
imports changed: the class under test and its components are psfkit's.
photutils is Copyright (c) 2011-2026, Photutils Developers, and distributed
under the BSD 3-Clause licence (``LICENSE-photutils.rst`` beside this file).
The fixtures and helpers shared by the copied tests, and the tests that
cannot pass against psfkit with the reasons, are in
``photutils_psfphot_port.py``.
"""


from astropy.modeling.models import Gaussian2D
from astropy.table import QTable, Table
import astropy.units as u
from astropy.utils.exceptions import AstropyUserWarning
import numpy as np
from numpy.testing import assert_allclose, assert_equal
from photutils_psfphot_port import (
    FINDER_COLUMN_NAMES,
    fixture_test_data,  # noqa: F401
    make_mock_finder,
    make_model_image,
    make_psf_model,
)
import pytest

from psfkit.photometry import (
    CircularGaussianPRF,
    DAOStarFinder,
    PSFPhotometry,
    SourceGrouper,
)


def test_xy_bounds(test_data):
    data, error, _ = test_data

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    fit_shape = (5, 5)
    init_params = QTable()
    init_params['x'] = [65]
    init_params['y'] = [51]
    xy_bounds = (1, 1)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=None,
                            aperture_radius=4, xy_bounds=xy_bounds)
    phot = psfphot(data, error=error, init_params=init_params)
    assert len(phot) == len(init_params)
    assert_allclose(phot['x_fit'], 64.0)  # at lower bound
    assert_allclose(phot['y_fit'], 50.0)  # at lower bound

    psfphot2 = PSFPhotometry(psf_model, fit_shape, finder=None,
                             aperture_radius=4, xy_bounds=1)
    phot2 = psfphot2(data, error=error, init_params=init_params)
    cols = ('x_fit', 'y_fit', 'flux_fit')
    for col in cols:
        assert np.all(phot[col] == phot2[col])

    xy_bounds = (None, 1)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=None,
                            aperture_radius=4, xy_bounds=xy_bounds)
    phot = psfphot(data, error=error, init_params=init_params)
    assert phot['x_fit'] < 64.0
    assert_allclose(phot['y_fit'], 50.0)  # at lower bound

    xy_bounds = (1, None)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=None,
                            aperture_radius=4, xy_bounds=xy_bounds,
                            fitter_maxiters=500)
    phot = psfphot(data, error=error, init_params=init_params)
    assert_allclose(phot['x_fit'], 64.0)  # at lower bound
    assert phot['y_fit'] < 50.0

    xy_bounds = (None, None)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=None,
                            aperture_radius=4, xy_bounds=xy_bounds)
    init_params['x'] = [63]
    init_params['y'] = [49]
    phot = psfphot(data, error=error, init_params=init_params)
    assert phot['x_fit'] < 63.3
    assert phot['y_fit'] < 48.7
    assert phot['flags'] == 0

    # test invalid inputs
    match = 'xy_bounds must have 1 or 2 elements'
    with pytest.raises(ValueError, match=match):
        PSFPhotometry(psf_model, fit_shape, xy_bounds=(1, 2, 3))
    match = 'xy_bounds must be a 1D array'
    with pytest.raises(ValueError, match=match):
        PSFPhotometry(psf_model, fit_shape, xy_bounds=np.ones((1, 1)))
    match = 'xy_bounds must be strictly positive'
    with pytest.raises(ValueError, match=match):
        PSFPhotometry(psf_model, fit_shape, xy_bounds=(-1, 2))
    match = 'xy_bounds must be finite'
    with pytest.raises(ValueError, match=match):
        PSFPhotometry(psf_model, fit_shape, xy_bounds=(np.nan, 2))


def test_grouper_with_xy_bounds(test_data):
    """
    Test source grouping functionality with xy_bounds applied.
    """
    data, error, _ = test_data

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    fit_shape = (5, 5)

    init_params = QTable()
    init_params['x_init'] = [20.0, 22.0, 25.0]
    init_params['y_init'] = [20.0, 21.0, 23.0]
    init_params['flux_init'] = [1000.0, 800.0, 600.0]

    # Test with grouper and xy_bounds
    grouper = SourceGrouper(min_separation=5)
    xy_bounds = (1.0, 1.5)  # Different bounds for x and y

    psfphot = PSFPhotometry(psf_model, fit_shape, finder=None,
                            grouper=grouper, xy_bounds=xy_bounds,
                            aperture_radius=4)

    phot = psfphot(data, error=error, init_params=init_params)

    # verify sources were grouped
    assert len(phot) == len(init_params)
    assert len(np.unique(phot['group_id'])) < len(phot)

    # Verify that xy_bounds were applied during fitting
    # The fitted positions should be constrained
    for i, row in enumerate(phot):
        x_init = init_params['x_init'][i]
        y_init = init_params['y_init'][i]
        x_fit = row['x_fit']
        y_fit = row['y_fit']

        # Check that fitted positions are within bounds
        # (allowing some tolerance for fitting convergence)
        assert abs(x_fit - x_init) <= xy_bounds[0] + 0.1
        assert abs(y_fit - y_init) <= xy_bounds[1] + 0.1

    # Test that the flat model creation worked with xy_bounds
    flat_model = psfphot._psf_fitter.make_psf_model(init_params)
    if len(init_params) > 1:
        # For multiple sources, check flat model has correct structure
        assert hasattr(flat_model, 'flux_0')
        assert hasattr(flat_model, 'x_0_0')
        assert hasattr(flat_model, 'y_0_0')
        if len(init_params) > 1:
            assert hasattr(flat_model, 'flux_1')
            assert hasattr(flat_model, 'x_0_1')
            assert hasattr(flat_model, 'y_0_1')


def test_negative_xy():
    sources = Table()
    sources['id'] = np.arange(3) + 1
    sources['flux'] = 1
    sources['x_0'] = [-1.4, 15.2, -0.7]
    sources['y_0'] = [-0.3, -0.4, 18.7]
    sources['sigma'] = 3.1
    shape = (31, 31)
    psf_model = CircularGaussianPRF(flux=1, fwhm=3.1)
    data = make_model_image(shape, psf_model, sources)
    fit_shape = (11, 11)
    psfphot = PSFPhotometry(psf_model, fit_shape, aperture_radius=10)
    phot = psfphot(data, init_params=sources)
    assert_equal(phot['x_init'], sources['x_0'])
    assert_equal(phot['y_init'], sources['y_0'])


def test_init_params_xy_with_units():
    """
    Test that init_params table x/y columns with units are accepted.
    """
    shape = (41, 41)
    psf_model = CircularGaussianPRF(flux=500, fwhm=3.0)
    data = np.zeros(shape)
    init_params = QTable()
    init_params['x'] = [20.0] * u.pixel  # units should be stripped
    init_params['y'] = [20.0] * u.pixel
    init_params['flux'] = [500]
    fit_shape = (5, 5)
    psfphot = PSFPhotometry(psf_model, fit_shape, aperture_radius=None)
    phot = psfphot(data, init_params=init_params)
    assert len(phot) == 1
    assert_equal(phot['x_init'][0], 20.0)
    assert_equal(phot['y_init'][0], 20.0)

    finder = make_mock_finder('x', 'y', units=True)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            aperture_radius=4)
    phot = psfphot(data, init_params=None)
    assert len(phot) == 1
    assert_equal(phot['x_init'][0], 25.1)
    assert_equal(phot['y_init'][0], 24.9)


def test_out_of_bounds_centroids():
    sources = Table()
    sources['id'] = np.arange(8) + 1
    sources['flux'] = 1
    sources['x_0'] = [-1.4, 34.5, 14.2, -0.7, 34.5, 14.2, 51.3, 52.0]
    sources['y_0'] = [13, -0.2, -1.6, 40, 51.1, 50.9, 12.2, 42.3]
    sources['sigma'] = 3.1

    shape = (51, 51)
    psf_model = CircularGaussianPRF(flux=1, fwhm=3.1)
    data = make_model_image(shape, psf_model, sources)
    fit_shape = (11, 11)
    psfphot = PSFPhotometry(psf_model, fit_shape, aperture_radius=10)

    phot = psfphot(data, init_params=sources)

    # at least one of the best-fit centroids should be
    # out of the bounds of the dataset, producing a
    # masked value in the `cfit` column:
    assert np.any(np.isnan(phot['cfit']))


def test_make_psf_model():
    normalize = False
    sigma = 3.0
    amplitude = 1.0 / (2 * np.pi * sigma**2)
    xcen = ycen = 0.0
    psf0 = Gaussian2D(amplitude, xcen, ycen, sigma, sigma)
    psf1 = make_psf_model(psf0, x_name='x_mean', y_name='y_mean',
                          normalize=normalize)
    psf2 = make_psf_model(psf0, normalize=normalize)
    psf3 = make_psf_model(psf0, x_name='x_mean', normalize=normalize)
    psf4 = make_psf_model(psf0, y_name='y_mean', normalize=normalize)

    yy, xx = np.mgrid[0:101, 0:101]
    psf = psf1.copy()
    xval = 48
    yval = 52
    flux = 14.51
    psf.x_mean_2 = xval
    psf.y_mean_2 = yval
    data = psf(xx, yy) * flux

    fit_shape = 7
    init_params = Table([[46.1], [57.3], [7.1]],
                        names=['x_0', 'y_0', 'flux_0'])
    phot1 = PSFPhotometry(psf1, fit_shape, aperture_radius=None)
    tbl1 = phot1(data, init_params=init_params)

    phot2 = PSFPhotometry(psf2, fit_shape, aperture_radius=None)
    tbl2 = phot2(data, init_params=init_params)

    phot3 = PSFPhotometry(psf3, fit_shape, aperture_radius=None)
    tbl3 = phot3(data, init_params=init_params)

    phot4 = PSFPhotometry(psf4, fit_shape, aperture_radius=None)
    tbl4 = phot4(data, init_params=init_params)

    assert_allclose((tbl1['x_fit'][0], tbl1['y_fit'][0],
                     tbl1['flux_fit'][0]), (xval, yval, flux))
    assert_allclose((tbl2['x_fit'][0], tbl2['y_fit'][0],
                     tbl2['flux_fit'][0]), (xval, yval, flux))
    assert_allclose((tbl3['x_fit'][0], tbl3['y_fit'][0],
                     tbl3['flux_fit'][0]), (xval, yval, flux))
    assert_allclose((tbl4['x_fit'][0], tbl4['y_fit'][0],
                     tbl4['flux_fit'][0]), (xval, yval, flux))


@pytest.mark.parametrize(('x_col', 'y_col'), FINDER_COLUMN_NAMES)
def test_finder_column_names(x_col, y_col):
    """
    Test that PSFPhotometry works correctly with a finder that returns
    different column names for source positions.
    """
    finder = make_mock_finder(x_col, y_col)

    sources = Table()
    sources['id'] = [1]
    sources['flux'] = 7.0
    sources['x_0'] = 25.0
    sources['y_0'] = 25.0
    shape = (31, 31)
    psf_model = CircularGaussianPRF(flux=1.0, fwhm=3.1)
    data = make_model_image(shape, psf_model, sources)

    fit_shape = (9, 9)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            aperture_radius=10)

    # invalid column names should raise an error
    if x_col == 'x_invalid' or y_col == 'y_invalid':
        match = 'must contain columns for x and y coordinates'
        with pytest.raises(ValueError, match=match):
            psfphot(data)
        return

    phot_tbl = psfphot(data)

    assert len(phot_tbl) == 1
    assert_allclose(phot_tbl['x_init'][0], 25.1)
    assert_allclose(phot_tbl['y_init'][0], 24.9)
    assert_allclose(phot_tbl['x_fit'][0], 25.0, atol=1e-6)
    assert_allclose(phot_tbl['y_fit'][0], 25.0, atol=1e-6)
    assert_allclose(phot_tbl['flux_fit'][0], 7.0, rtol=1e-6)


def test_repr():
    psf_model = CircularGaussianPRF(flux=1.0, fwhm=3.1)
    fit_shape = (9, 9)
    finder = DAOStarFinder(6.0, 2.0)

    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            aperture_radius=10)
    cls_repr = repr(psfphot)
    assert cls_repr.startswith(f'{psfphot.__class__.__name__}(')


def test_group_warning_threshold(test_data):
    data, error, sources = test_data
    sources['group_id'] = [1, 1, 1, 1, 1, 1, 1, 2, 2, 2]
    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    fit_shape = (5, 5)
    finder = DAOStarFinder(6.0, 2.0)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            aperture_radius=4, group_warning_threshold=6)
    match = 'Some groups have more than 6 sources'
    with pytest.warns(AstropyUserWarning, match=match):
        phot = psfphot(data, error=error, init_params=sources)

    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            aperture_radius=4, group_warning_threshold=7)
    phot = psfphot(data, error=error, init_params=sources)
    assert len(phot) == 10


def test_flag2_boundaries():
    shape = (35, 21)
    psf_model = CircularGaussianPRF(fwhm=3.0)
    init_params = QTable()
    init_params['x_0'] = [-0.4, 20.4, -1.0, 21.0, 5.0, 5.0, 15.0, 15.0]
    init_params['y_0'] = [10.0, 10.0, 20.0, 20.0, -0.4, 34.4, -1.0, 35.0]
    init_params['flux'] = 500
    data = make_model_image(shape, psf_model, init_params)

    fit_shape = (5, 5)
    psfphot = PSFPhotometry(psf_model, fit_shape)
    phot = psfphot(data, init_params=init_params)
    assert len(phot) == 8
    assert_equal(phot['flags'][[2, 3, 6, 7]], [3, 3, 3, 3])
    assert_equal(phot['flags'][[0, 1, 4, 5]], [1, 1, 1, 1])


def test_flag64_no_overlap():
    """
    Test flag=64 for source with no overlap (completely outside).
    """
    shape = (21, 21)
    psf_model = CircularGaussianPRF(fwhm=3.0)
    data = np.zeros(shape)
    init_params = QTable()
    # place source completely outside (beyond + side)
    init_params['x_0'] = [100.0]
    init_params['y_0'] = [100.0]
    init_params['flux'] = [500.0]
    fit_shape = (5, 5)
    psfphot = PSFPhotometry(psf_model, fit_shape)
    phot = psfphot(data, init_params=init_params)
    assert len(phot) == 1
    # Expect bits include 64 (no overlap). Others (2,1,16,32) may also
    # be present. Only assert 64 is set.
    assert (phot['flags'][0] & 64) == 64
    assert phot['n_pixels_fit'][0] == 0


def test_flag128_fully_masked():
    """
    Test flag=128 for fully masked source region.
    """
    shape = (25, 25)
    psf_model = CircularGaussianPRF(fwhm=3.0)
    data = np.zeros(shape)
    init_params = QTable()
    init_params['x_0'] = [12.0]
    init_params['y_0'] = [12.0]
    init_params['flux'] = [500.0]
    mask = np.ones(shape, dtype=bool)  # fully masked image
    fit_shape = (5, 5)
    psfphot = PSFPhotometry(psf_model, fit_shape)
    phot = psfphot(data, init_params=init_params, mask=mask)
    assert len(phot) == 1
    assert phot['n_pixels_fit'][0] == 0
    assert (phot['flags'][0] & 128) == 128


def test_flag256_too_few_pixels():
    """
    Test flag=256 for too few unmasked pixels to perform a fit.
    """
    shape = (25, 25)
    psf_model = CircularGaussianPRF(fwhm=3.0)
    data = np.zeros(shape)
    init_params = QTable()
    init_params['x_0'] = [12.0]
    init_params['y_0'] = [12.0]
    init_params['flux'] = [500.0]
    mask = np.ones(shape, dtype=bool)
    # Unmask only a single pixel inside the fit box (fewer than params)
    mask[12, 12] = False
    fit_shape = (5, 5)
    psfphot = PSFPhotometry(psf_model, fit_shape)
    phot = psfphot(data, init_params=init_params, mask=mask)
    assert len(phot) == 1
    assert phot['n_pixels_fit'][0] == 1
    # Ensure 256 bit set (too few pixels); not fully masked (no 128).
    assert (phot['flags'][0] & 256) == 256


def test_flag16_missing_covariance():
    """
    Test flag=16 when fitter does not provide a covariance matrix.
    """
    shape = (21, 21)
    psf_model = CircularGaussianPRF(fwhm=2.5)
    data = np.zeros(shape)
    init_params = QTable()
    init_params['x_0'] = [10.0, 20.0]
    init_params['y_0'] = [10.0, 20.0]
    init_params['flux'] = [500.0, 500.0]
    init_params['group_id'] = [1, 1]

    # mock fitter that does not return a covariance matrix
    def mock_fitter(model, *args, **kwargs):  # noqa: ARG001
        mock_fitter.fit_info = {'status': 1}
        return model

    mock_fitter.fit_info = {}
    fit_shape = (5, 5)

    match = r"'maxiters' will be ignored because it is not accepted"
    with pytest.warns(AstropyUserWarning, match=match):
        psfphot = PSFPhotometry(psf_model, fit_shape, fitter=mock_fitter)

    phot = psfphot(data, init_params=init_params)
    assert len(phot) == 2
    cols = ('x_err', 'y_err', 'flux_err')
    for col in cols:
        assert col in phot.colnames
        assert np.all(np.isnan(phot[col]))
    assert (phot['flags'][0] & 16) == 16


def test_flag32_parameter_at_bounds():
    """
    Test flag=32 when fitted x/y are exactly at imposed bounds.
    """
    shape = (21, 21)
    psf_model = CircularGaussianPRF(fwhm=2.5)
    data = np.zeros(shape)
    data[11, 11] = 1000.0
    init_params = QTable()
    init_params['x_0'] = [10.0]
    init_params['y_0'] = [10.0]
    init_params['flux'] = [500.0]

    fit_shape = (5, 5)
    psfphot = PSFPhotometry(psf_model, fit_shape, xy_bounds=0.1)
    phot = psfphot(data, init_params=init_params)
    assert len(phot) == 1
    assert (phot['flags'][0] & 32) == 32


def test_flag512_non_finite_position():
    """
    Test flag=512 for non-finite fitted position.

    When a source has non-finite initial position or when the fit fails
    to converge properly, the fitted x or y position can be non-finite.
    """
    shape = (25, 25)
    psf_model = CircularGaussianPRF(fwhm=3.0)
    data = np.zeros(shape)

    # Create init_params with non-finite initial position
    init_params = QTable()
    init_params['x_init'] = [12.0, np.nan, 12.0]
    init_params['y_init'] = [12.0, 12.0, np.inf]
    init_params['flux_init'] = [500.0, 500.0, 500.0]

    fit_shape = (5, 5)
    psfphot = PSFPhotometry(psf_model, fit_shape, aperture_radius=3)
    phot = psfphot(data, init_params=init_params)

    assert len(phot) == 3

    # First source should be valid (no flag 512)
    assert np.isfinite(phot['x_fit'][0])
    assert np.isfinite(phot['y_fit'][0])
    assert (phot['flags'][0] & 512) == 0

    # Second source should have non-finite x_fit (flag 512 set)
    assert not np.isfinite(phot['x_fit'][1])
    assert (phot['flags'][1] & 512) == 512

    # Third source should have non-finite y_fit (flag 512 set)
    assert not np.isfinite(phot['y_fit'][2])
    assert (phot['flags'][2] & 512) == 512


def test_flag1024_non_finite_flux():
    """
    Test flag=1024 for non-finite flux in init_params.

    When a source has non-finite initial flux (NaN or inf), the code
    should handle it gracefully and set flag 1024.
    """
    shape = (25, 25)
    psf_model = CircularGaussianPRF(fwhm=3.0)
    data = np.zeros(shape)

    # Create init_params with non-finite initial flux
    init_params = QTable()
    init_params['x_init'] = [12.0, 12.0, 12.0]
    init_params['y_init'] = [12.0, 12.0, 12.0]
    init_params['flux_init'] = [500.0, np.nan, np.inf]

    fit_shape = (5, 5)
    psfphot = PSFPhotometry(psf_model, fit_shape, aperture_radius=3)
    phot = psfphot(data, init_params=init_params)

    assert len(phot) == 3

    # First source should be valid (no flag 1024)
    assert np.isfinite(phot['flux_fit'][0])
    assert (phot['flags'][0] & 1024) == 0

    # Second source should have non-finite flux_fit (flag 1024 set)
    assert not np.isfinite(phot['flux_fit'][1])
    assert (phot['flags'][1] & 1024) == 1024

    # Third source should have non-finite flux_fit (flag 1024 set)
    assert not np.isfinite(phot['flux_fit'][2])
    assert (phot['flags'][2] & 1024) == 1024

