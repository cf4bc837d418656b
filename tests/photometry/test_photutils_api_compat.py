"""
photutils 3.x names and behaviours of psfkit's photometry API, each
checked against photutils' own on the same inputs: the passes kept by
`IterativePSFPhotometry`, `PSF_FLAGS`, the model and simulation helpers
(`make_psf_model`, `make_psf_model_image`, `fit_2dgaussian`, `fit_fwhm`),
the ePSF inputs and the smaller spellings.
"""

import warnings

from astropy.table import QTable
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

import psfkit.photometry as pk

pu_psf = pytest.importorskip("photutils.psf")
pu_det = pytest.importorskip("photutils.detection")

FWHM = 3.0


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def pairs_image():
    """15 bright stars, each with a faint companion 3 pixels away."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:120, :120]
    psf = pu_psf.CircularGaussianPRF(fwhm=FWHM)
    image = rng.normal(0.0, 2.0, xx.shape)
    for x, y in rng.uniform(10, 110, (15, 2)):
        image += psf.evaluate(xx, yy, 8000.0, x, y, FWHM)
        image += psf.evaluate(xx, yy, 600.0, x + 2.6, y + 1.4, FWHM)
    return image


def _iterative(module, mode):
    return module.IterativePSFPhotometry(
        module.CircularGaussianPRF(fwhm=FWHM), 7,
        pu_det.DAOStarFinder(12.0, FWHM, min_separation=3),
        grouper=module.SourceGrouper(8), mode=mode, aperture_radius=3,
        maxiters=3)


@pytest.mark.parametrize("mode", ["new", "all"])
def test_iterative_fit_results_per_pass(pairs_image, mode):
    """Each kept pass holds its own tables, as photutils' do."""
    error = np.full(pairs_image.shape, 2.0)
    theirs, mine = _iterative(pu_psf, mode), _iterative(pk, mode)
    _quiet(theirs, pairs_image, error=error)
    _quiet(mine, pairs_image, error=error)
    assert len(mine.fit_results) == len(theirs.fit_results) >= 2
    for a, b in zip(theirs.fit_results, mine.fit_results, strict=True):
        assert type(b) is pk.PSFPhotometry
        assert b.results.colnames == a.results.colnames
        for phot in (a, b):
            # numbered from 1 in each pass, as its initial values are
            assert_array_equal(phot.results["id"],
                               np.arange(1, len(phot.results) + 1))
            assert_array_equal(phot.init_params["id"], phot.results["id"])
        assert (b.finder_results is None) == (a.finder_results is None)
    for phot in (*theirs.fit_results[1:], *mine.fit_results[1:]):
        # a later pass keeps the finder's table of the residual image
        assert "x_centroid" in phot.finder_results.colnames
        if mode == "new":
            assert len(phot.finder_results) == len(phot.results)
        else:
            assert len(phot.finder_results) < len(phot.results)
    # the entries are not the running table
    first = mine.fit_results[0]
    assert first.results is not mine.results
    assert len(mine.results) > len(first.results)
    # a later call starts afresh
    n = len(mine.fit_results)
    _quiet(mine, pairs_image, error=error)
    assert len(mine.fit_results) == n


def test_iterative_warns_once(pairs_image):
    """A warning of every pass is given once, as in photutils."""
    data = pairs_image.copy()
    data[:, 60] = np.nan
    told = {}
    for name, module in (("photutils", pu_psf), ("psfkit", pk)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _iterative(module, "new")(data)
        told[name] = [str(w.message) for w in caught
                      if "non-finite" in str(w.message)]
    assert len(told["photutils"]) == 1
    assert told["psfkit"] == told["photutils"]
