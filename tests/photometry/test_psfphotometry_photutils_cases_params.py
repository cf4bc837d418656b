"""
photutils' tests of ``PSFPhotometry``, run against psfkit:
part 2 of 4 (masks, init_params, groups, local backgrounds, fitters).

Copied from photutils 3.0.0 (https://github.com/astropy/photutils), file
``photutils/psf/tests/test_photometry.py`` (lines 523-1044), with only the
imports changed: the class under test and its components are psfkit's.
photutils is Copyright (c) 2011-2026, Photutils Developers, and distributed
under the BSD 3-Clause licence (``LICENSE-photutils.rst`` beside this file).
The fixtures and helpers shared by the copied tests, and the tests that
cannot pass against psfkit with the reasons, are in
``photutils_psfphot_port.py``.
"""


from astropy.modeling.fitting import LMLSQFitter, SimplexLSQFitter
from astropy.table import QTable, Table
import astropy.units as u
from astropy.utils.exceptions import AstropyUserWarning
import numpy as np
from numpy.testing import assert_allclose, assert_equal
from photutils_psfphot_port import (
    fixture_test_data,  # noqa: F401
    make_psf_model_image,
)
import pytest

from psfkit.photometry import (
    CircularGaussianPRF,
    DAOStarFinder,
    LocalBackground,
    MMMBackground,
    PSFPhotometry,
    SourceGrouper,
)
from psfkit.utils import NoDetectionsWarning


def test_psf_photometry_mask(test_data):
    data, error, sources = test_data

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    fit_shape = (5, 5)
    finder = DAOStarFinder(6.0, 2.0)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            aperture_radius=4)

    # test np.ma.nomask
    phot = psfphot(data, error=error, mask=None)
    photm = psfphot(data, error=error, mask=np.ma.nomask)
    assert np.all(phot == photm)

    # masked near source at ~(63, 49)
    data_orig = data.copy()
    data = data.copy()
    data[55, 60:70] = np.nan

    match = 'Input data contains unmasked non-finite values'
    with pytest.warns(AstropyUserWarning, match=match):
        phot1 = psfphot(data, error=error, mask=None)
    assert len(phot1) == len(sources)

    mask = ~np.isfinite(data)
    phot2 = psfphot(data, error=error, mask=mask)
    assert np.all(phot1 == phot2)

    # unmasked NaN with mask not None
    match = 'Input data contains unmasked non-finite values'
    mask = ~np.isfinite(data)
    mask[55, 65] = False
    with pytest.warns(AstropyUserWarning, match=match):
        phot = psfphot(data, error=error, mask=mask)
    assert len(phot) == len(sources)

    # mask all True; finder returns no sources
    match = 'No sources were found'
    mask = np.ones(data.shape, dtype=bool)
    with pytest.warns(NoDetectionsWarning, match=match):
        psfphot(data, mask=mask)

    # completely masked source should return NaNs and not raise
    init_params = QTable()
    init_params['x'] = [63]
    init_params['y'] = [49]
    mask = np.ones(data.shape, dtype=bool)
    phot_masked = psfphot(data_orig, mask=mask, init_params=init_params)
    assert len(phot_masked) == 1

    colnames = ('x_fit', 'y_fit', 'flux_fit', 'x_err', 'y_err', 'flux_err',
                'qfit', 'cfit', 'reduced_chi2')
    for col in colnames:
        assert np.isnan(phot_masked[col][0])
    assert phot_masked['n_pixels_fit'][0] == 0
    assert phot_masked['group_size'][0] == 1
    # new flag 128 for fully masked
    assert (phot_masked['flags'][0] & 128) == 128

    # masked central pixel
    init_params = QTable()
    init_params['x'] = [63]
    init_params['y'] = [49]
    mask = np.zeros(data.shape, dtype=bool)
    mask[49, 63] = True
    phot = psfphot(data_orig, mask=mask, init_params=init_params)
    assert len(phot) == 1
    assert np.isnan(phot['cfit'][0])

    # this should not raise a warning because the non-finite pixel was
    # explicitly masked
    psfphot = PSFPhotometry(psf_model, (3, 3), aperture_radius=3)
    data = np.ones((11, 11))
    data[5, 5] = np.nan
    mask = np.zeros(data.shape, dtype=bool)
    mask[5, 5] = True
    init_params = Table()
    init_params['x_init'] = [1, 2]
    init_params['y_init'] = [1, 2]
    psfphot(data, mask=mask, init_params=init_params)


def test_psf_photometry_init_params(test_data):
    data, error, _ = test_data
    data = data.copy()

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    fit_shape = (5, 5)
    finder = DAOStarFinder(6.0, 2.0)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            aperture_radius=4)

    init_params = QTable()
    init_params['x'] = [63]
    init_params['y'] = [49]
    phot = psfphot(data, error=error, init_params=init_params)
    assert isinstance(phot, QTable)
    assert len(phot) == 1

    match = 'aperture_radius must be defined if a flux column is not'
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            aperture_radius=None)
    with pytest.raises(ValueError, match=match):
        _ = psfphot(data, error=error, init_params=init_params)

    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            aperture_radius=4)
    init_params['flux'] = 650
    phot = psfphot(data, error=error, init_params=init_params)
    assert len(phot) == 1

    init_params['group_id'] = 1
    phot = psfphot(data, error=error, init_params=init_params)
    assert len(phot) == 1

    colnames = ('flux', 'local_bkg')
    for col in colnames:
        init_params2 = init_params.copy()
        init_params2.remove_column('flux')
        init_params2[col] = [650 * u.Jy]
        match = 'column has units, but the input data does not have units'
        with pytest.raises(ValueError, match=match):
            _ = psfphot(data, error=error, init_params=init_params2)

        init_params2[col] = [650 * u.Jy]
        match = 'column has units that are incompatible with the input data'
        with pytest.raises(ValueError, match=match):
            _ = psfphot(data << u.m, init_params=init_params2)

        init_params2[col] = [650]
        match = 'The input data has units, but the init_params'
        with pytest.raises(ValueError, match=match):
            _ = psfphot(data << u.Jy, init_params=init_params2)

    colnames = ('x_fit', 'y_fit', 'flux_fit', 'x_err', 'y_err', 'flux_err',
                'qfit', 'cfit', 'reduced_chi2')

    # no-overlap source should return NaNs and not raise; also test
    # too-few-pixels
    init_params = QTable()
    init_params['x'] = [-63]
    init_params['y'] = [-49]
    init_params['flux'] = [100]
    phot_no_overlap = psfphot(data, init_params=init_params)
    assert len(phot_no_overlap) == 1
    for col in colnames:
        assert np.isnan(phot_no_overlap[col][0])
    assert phot_no_overlap['n_pixels_fit'][0] == 0
    assert phot_no_overlap['group_size'][0] == 1
    # new flag 64 for no overlap
    assert (phot_no_overlap['flags'][0] & 64) == 64

    # too-few pixels (unmasking only 2 pixels < 3 free params) should
    # give NaNs
    init_params = QTable()
    init_params['x'] = [63]
    init_params['y'] = [49]
    mask = np.ones(data.shape, dtype=bool)
    mask[49, 63] = False
    mask[49, 64] = False
    phot_few = psfphot(data, error=error, mask=mask, init_params=init_params)
    assert len(phot_few) == 1
    for col in colnames:
        assert np.isnan(phot_few[col][0])
    assert phot_few['n_pixels_fit'][0] == 2
    assert phot_few['group_size'][0] == 1
    # new flag 256 for too few pixels
    assert (phot_few['flags'][0] & 256) == 256

    # check that the first matching column name is used
    init_params = QTable()
    x = 63
    y = 49
    flux = 680
    init_params['x'] = [x]
    init_params['y'] = [y]
    init_params['flux'] = [flux]
    init_params['x_cen'] = [x + 0.1]
    init_params['y_cen'] = [y + 0.1]
    init_params['flux0'] = [flux + 0.1]
    phot = psfphot(data, error=error, init_params=init_params)
    assert isinstance(phot, QTable)
    assert len(phot) == 1
    assert phot['x_init'][0] == x
    assert phot['y_init'][0] == y
    assert phot['flux_init'][0] == flux


def test_psf_photometry_init_params_units(test_data):
    data, error, _ = test_data
    data2 = data.copy()
    error2 = error.copy()

    unit = u.Jy
    data2 <<= unit
    error2 <<= unit

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    fit_shape = (5, 5)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=None,
                            aperture_radius=4)

    init_params = QTable()
    init_params['x'] = [63]
    init_params['y'] = [49]
    init_params['flux'] = [650 * unit]
    init_params['local_bkg'] = [0.001 * unit]
    phot = psfphot(data2, error=error2, init_params=init_params)
    assert isinstance(phot, QTable)
    assert len(phot) == 1

    for val in (True, False):
        im = psfphot.make_model_image(data2.shape, psf_shape=fit_shape,
                                      include_local_bkg=val)
        assert isinstance(im, u.Quantity)
        assert im.unit == unit
        resid = psfphot.make_residual_image(data2, psf_shape=fit_shape,
                                            include_local_bkg=val)
        assert isinstance(resid, u.Quantity)
        assert resid.unit == unit

    # test invalid units
    colnames = ('flux', 'local_bkg')
    for col in colnames:
        init_params2 = init_params.copy()
        init_params2.remove_column('flux')
        init_params2.remove_column('local_bkg')
        init_params2[col] = [650 * u.Jy]
        match = 'column has units, but the input data does not have units'
        with pytest.raises(ValueError, match=match):
            _ = psfphot(data, error=error, init_params=init_params2)

        init_params2[col] = [650 * u.Jy]
        match = 'column has units that are incompatible with the input data'
        with pytest.raises(ValueError, match=match):
            _ = psfphot(data << u.m, init_params=init_params2)

        init_params2[col] = [650]
        match = 'The input data has units, but the init_params'
        with pytest.raises(ValueError, match=match):
            _ = psfphot(data << u.Jy, init_params=init_params2)


def test_psf_photometry_init_params_columns(test_data):
    data, error, _ = test_data
    data = data.copy()

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    fit_shape = (5, 5)
    finder = DAOStarFinder(6.0, 2.0)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder)

    xy_suffixes = ('_init', 'init', 'centroid', '_centroid', '_peak', '',
                   'cen', '_cen', 'pos', '_pos', '_0', '0')
    flux_cols = ['flux_init', 'flux_0', 'flux0', 'flux', 'source_sum',
                 'segment_flux', 'kron_flux']
    pad = len(xy_suffixes) - len(flux_cols)
    flux_cols += flux_cols[0:pad]  # pad to have same length as xy_suffixes

    xcols = ['x' + i for i in xy_suffixes]
    ycols = ['y' + i for i in xy_suffixes]

    phots = []
    for xcol, ycol, fluxcol in zip(xcols, ycols, flux_cols, strict=True):
        init_params = QTable()
        init_params[xcol] = [42]
        init_params[ycol] = [36]
        init_params[fluxcol] = [680]
        phot = psfphot(data, error=error, init_params=init_params)
        assert isinstance(phot, QTable)
        assert len(phot) == 1
        phots.append(phot)

    for phot in phots[1:]:
        assert_allclose(phot['x_fit'], phots[0]['x_fit'])
        assert_allclose(phot['y_fit'], phots[0]['y_fit'])
        assert_allclose(phot['flux_fit'], phots[0]['flux_fit'])


def test_grouper(test_data):
    data, error, sources = test_data

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    fit_shape = (5, 5)
    finder = DAOStarFinder(6.0, 2.0)
    grouper = SourceGrouper(min_separation=20)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            grouper=grouper, aperture_radius=4)
    phot = psfphot(data, error=error)
    assert isinstance(phot, QTable)
    assert len(phot) == len(sources)
    assert_equal(phot['group_id'], (1, 2, 3, 4, 5, 5, 5, 6, 6, 7))
    assert_equal(phot['group_size'], (1, 1, 1, 1, 3, 3, 3, 2, 2, 1))


def test_grouper_init_params(test_data):
    data, error, _ = test_data

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    fit_shape = (5, 5)
    finder = DAOStarFinder(6.0, 2.0)
    grouper = SourceGrouper(min_separation=20)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            grouper=grouper, aperture_radius=4)
    phot0 = psfphot(data, error=error)

    init_params = QTable()
    init_params['id'] = phot0['id']
    init_params['group_id'] = 1
    init_params['x'] = phot0['x_init']
    init_params['y'] = phot0['y_init']
    init_params['flux'] = phot0['flux_init']
    phot1 = psfphot(data, error=error, init_params=init_params)
    nsources = len(phot1)
    assert isinstance(phot1, QTable)
    assert_equal(phot1['group_id'], np.ones(nsources, dtype=int))
    assert_equal(phot1['group_size'], np.ones(nsources, dtype=int) * nsources)

    # test with grouper=None
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            grouper=None, aperture_radius=4)
    phot2 = psfphot(data, error=error, init_params=init_params)
    assert isinstance(phot2, QTable)
    assert_equal(phot1['group_id'], np.ones(nsources, dtype=int))
    assert_equal(phot1['group_size'], np.ones(nsources, dtype=int) * nsources)


def test_large_group_warning():
    psf_model = CircularGaussianPRF(flux=1, fwhm=2)
    grouper = SourceGrouper(min_separation=50)
    model_shape = (5, 5)
    fit_shape = (5, 5)
    n_sources = 50
    shape = (301, 301)
    data, true_params = make_psf_model_image(shape, psf_model, n_sources,
                                             model_shape=model_shape,
                                             flux=(500, 700),
                                             min_separation=10, seed=0)
    match = 'Some groups have more than'
    psfphot = PSFPhotometry(psf_model, fit_shape, grouper=grouper)
    with pytest.warns(AstropyUserWarning, match=match):
        psfphot(data, init_params=true_params)


def test_local_bkg(test_data):
    data, error, sources = test_data

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    fit_shape = (5, 5)
    finder = DAOStarFinder(6.0, 2.0)
    grouper = SourceGrouper(min_separation=20)
    bkgstat = MMMBackground()
    local_bkg_estimator = LocalBackground(5, 10, bkg_estimator=bkgstat)
    finder = DAOStarFinder(10.0, 2.0)

    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            grouper=grouper, aperture_radius=4,
                            local_bkg_estimator=local_bkg_estimator)
    phot = psfphot(data, error=error)
    assert np.count_nonzero(phot['local_bkg']) == len(sources)


def test_local_bkg_nonfinite(test_data):
    """
    Test that non-finite local background values are handled correctly.

    When local_bkg is NaN or inf, the code should:
    1. Report the actual local_bkg value in the output table
    2. Not subtract it from the data before fitting
    3. Set a flag indicating non-finite local background
    """
    data, error, _ = test_data

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    fit_shape = (5, 5)
    finder = DAOStarFinder(10.0, 2.0)

    # Find sources using the finder
    sources = finder(data)

    # Add non-finite local_bkg values to init_params
    sources['local_bkg'] = np.zeros(len(sources))
    sources['local_bkg'][0] = np.nan
    sources['local_bkg'][1] = np.inf
    sources['local_bkg'][2] = -np.inf

    # Perform PSF photometry with init_params containing non-finite local_bkg
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            aperture_radius=4)
    phot = psfphot(data, error=error, init_params=sources)

    # Check that non-finite local_bkg values are preserved in output
    assert np.isnan(phot['local_bkg'][0])
    assert np.isinf(phot['local_bkg'][1])
    assert np.isinf(phot['local_bkg'][2])

    # Check that flags are set correctly (bit 2048 for non-finite local_bkg)
    assert phot['flags'][0] & 2048
    assert phot['flags'][1] & 2048
    assert phot['flags'][2] & 2048

    # Check that sources with finite local_bkg don't have this flag
    if len(phot) > 3:
        assert not (phot['flags'][3] & 2048)


def test_local_bkg_nonfinite_measured(test_data):
    """
    Test that non-finite local background values measured from the image
    are handled correctly.

    When the LocalBackground estimator returns NaN (e.g., due to a fully
    masked region), the code should:
    1. Report the NaN local_bkg value in the output table
    2. Not subtract it from the data before fitting
    3. Set a flag (bit 2048) indicating non-finite local background
    """
    data, error, _ = test_data

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    fit_shape = (5, 5)
    finder = DAOStarFinder(10.0, 2.0)

    # Create a mask that will cause LocalBackground to return NaN for
    # some sources (mask out a large region around a source)
    mask = np.ones(data.shape, dtype=bool)
    mask[44:54, 58:68] = False  # around source at ~(63, 49)
    mask[70:, :20] = False  # two sources

    bkgstat = MMMBackground()
    local_bkg_estimator = LocalBackground(10, 25, bkg_estimator=bkgstat)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            aperture_radius=4,
                            local_bkg_estimator=local_bkg_estimator)
    phot = psfphot(data, error=error, mask=mask)

    assert_equal(phot['flags'], [2048, 0, 0])
    assert np.isnan(phot['local_bkg'][0])
    assert np.all(np.isfinite(phot['local_bkg'][1:]))
    assert np.all(phot['flux_fit'] > 0)
    assert np.all(phot['flux_err'] > 0)


def test_fixed_params(test_data):
    data, error, _ = test_data

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    psf_model.x_0.fixed = True
    psf_model.y_0.fixed = True
    psf_model.flux.fixed = True
    fit_shape = (5, 5)
    finder = DAOStarFinder(6.0, 2.0)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            aperture_radius=4)

    match = r'`bounds` must contain 2 elements'
    with pytest.raises(ValueError, match=match):
        psfphot(data, error=error)


def test_fixed_params_units(test_data):
    data, error, _ = test_data
    unit = u.nJy

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    psf_model.x_0.fixed = False
    psf_model.y_0.fixed = False
    psf_model.flux.fixed = True
    fit_shape = (5, 5)
    finder = DAOStarFinder(6.0 * unit, 2.0)
    psfphot = PSFPhotometry(psf_model, fit_shape, finder=finder,
                            aperture_radius=4)

    phot = psfphot(data << unit, error=error << unit)
    assert phot['local_bkg'].unit == unit
    assert phot['flux_init'].unit == unit
    assert phot['flux_fit'].unit == unit
    assert phot['flux_err'].unit == unit


def test_fit_warning(test_data):
    data, _, _ = test_data

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    psf_model.flux.fixed = False
    psf_model.fwhm.bounds = (None, None)
    fit_shape = (5, 5)
    fitter = LMLSQFitter()  # uses "status" instead of "ierr"
    finder = DAOStarFinder(6.0, 2.0)
    # set fitter_maxiters = 1 so that the fit error status is set
    psfphot = PSFPhotometry(psf_model, fit_shape, fitter=fitter,
                            fitter_maxiters=1, finder=finder,
                            aperture_radius=4)

    match = r'One or more fit\(s\) may not have converged.'
    with pytest.warns(AstropyUserWarning, match=match):
        phot = psfphot(data)

    # check that flag=8 is set for these sources
    assert_equal(phot['flags'][0] & 8, np.ones(len(phot)) * 8)


def test_fitter_no_maxiters_no_metrics(test_data):
    """
    Test with a fitter that does not have a maxiters parameter and does
    not produce a residual array.
    """
    data, error, _ = test_data

    psf_model = CircularGaussianPRF(flux=1, fwhm=2.7)
    psf_model.flux.fixed = False
    fit_shape = (5, 5)
    fitter = SimplexLSQFitter()  # does not produce residual array
    finder = DAOStarFinder(6.0, 2.0)
    match = "'maxiters' will be ignored because it is not accepted by"
    with pytest.warns(AstropyUserWarning, match=match):
        psfphot = PSFPhotometry(psf_model, fit_shape, fitter=fitter,
                                finder=finder, aperture_radius=4)
    phot = psfphot(data, error=error)
    colnames = ('qfit', 'cfit', 'reduced_chi2')
    for col in colnames:
        assert np.all(np.isnan(phot[col]))
