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
from psfkit.utils import PsfkitDeprecationWarning

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


def test_psf_flags_interface():
    """`PSF_FLAGS` answers photutils' attributes and methods alike."""
    mine, theirs = pk.PSF_FLAGS, pu_psf.PSF_FLAGS
    assert mine.names == theirs.names
    assert mine.bit_values == theirs.bit_values
    assert mine.flag_dict == theirs.flag_dict
    for bit, name in theirs.flag_dict.items():
        assert getattr(mine, name.upper()) == getattr(theirs, name.upper())
        assert mine.get_name(bit) == theirs.get_name(bit) == name
        assert mine.get_bit_value(name) == theirs.get_bit_value(name) == bit
        assert mine.get_definition(bit).bit_value == bit
        assert mine.get_description(bit)
        assert mine.get_detailed_description(bit)
        # and, as before, a mapping of the names to the bits
        assert mine[name] == bit
    assert [d.name for d in mine.all_flags] == theirs.names
    assert dict(mine) == {n: b for b, n in theirs.flag_dict.items()}
    for bad, error in ((3, KeyError), ("nope", KeyError), (2.0, TypeError)):
        with pytest.raises(error):
            theirs.get_definition(bad)
        with pytest.raises(error, match="bit value|name|identifier"):
            mine.get_definition(bad)
    with pytest.warns(PsfkitDeprecationWarning, match="N_PIXELS_FIT"):
        assert mine.NPIXFIT_PARTIAL == 1
    with pytest.warns(PsfkitDeprecationWarning, match="n_pixels_fit"):
        assert mine.get_bit_value("npixfit_partial") == 1
    with pytest.raises(AttributeError, match="NOPE"):
        mine.NOPE  # noqa: B018
    assert pk.decode_psf_flags(4095) == pu_psf.decode_psf_flags(4095)


def test_decode_flags_positional():
    """``decode_flags(True)`` as photutils' (positional) signature allows."""
    yy, xx = np.mgrid[:40, :40]
    psf = pu_psf.CircularGaussianPRF(fwhm=FWHM)
    data = (psf.evaluate(xx, yy, 500.0, 20.2, 19.7, FWHM)
            + psf.evaluate(xx, yy, 300.0, 38.6, 10.3, FWHM))
    init = QTable({"x": [20.0, 38.0], "y": [20.0, 10.0]})
    out = {}
    for name, module in (("photutils", pu_psf), ("psfkit", pk)):
        phot = module.PSFPhotometry(module.CircularGaussianPRF(fwhm=FWHM), 7,
                                    aperture_radius=3)
        _quiet(phot, data, init_params=init)
        out[name] = (_quiet(phot.decode_flags, True),
                     phot.decode_flags(return_bit_values=True))
    assert out["psfkit"] == out["photutils"]
    assert out["psfkit"][0] == [[], [1]]
