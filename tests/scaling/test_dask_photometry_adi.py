"""Tiled PSF photometry and ADI subtraction on a dask cluster."""

from concurrent.futures import ThreadPoolExecutor
import warnings

from astropy.table import QTable
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest
from scipy.spatial import cKDTree

from psfkit.datasets import make_adi_sequence
from psfkit.fitpsf import KLIP, LOCI, adi_subtract
from psfkit.photometry import (
    BasicPSFPhotometry,
    DAOPhotPSFPhotometry,
    DAOStarFinder,
    IntegratedGaussianPRF,
    TiledPhotometryResult,
    tiled_photometry,
)
from psfkit.utils import NoDetectionsWarning, PsfkitWarning

SIGMA = 1.5


@pytest.fixture(scope="module")
def field():
    """A 150 x 190 star field with a sky level, and its true catalogue."""
    rng = np.random.default_rng(1)
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    ny, nx, n = 150, 190, 80
    truth = QTable({"x": rng.uniform(2, nx - 3, n),
                    "y": rng.uniform(2, ny - 3, n),
                    "flux": rng.uniform(2000, 6000, n)})
    yy, xx = np.mgrid[0:ny, 0:nx]
    image = np.full((ny, nx), 10.0)
    for x, y, f in truth:
        image += psf.evaluate(xx, yy, f, x, y, SIGMA)
    image += rng.normal(0.0, 3.0, image.shape)
    phot = DAOPhotPSFPhotometry(6.0, 40.0, 3.5, psf, (7, 7))
    return image, phot, truth


def _match(table, reference):
    """Indices in ``table`` of the nearest star to every reference row."""
    dist, index = cKDTree(np.c_[table["x_fit"], table["y_fit"]]).query(
        np.c_[reference["x_fit"], reference["y_fit"]])
    return dist, index


def test_tiled_matches_single_pass_on_cluster(client, field):
    image, phot, truth = field
    single = phot.run(image)
    tiled = tiled_photometry(image, phot, tile_size=50, overlap=16,
                             executor=client)
    assert isinstance(tiled, TiledPhotometryResult)
    tab = tiled.table
    assert len(single.table) == len(truth) == len(tab)
    # the same stars, each once, within the fit tolerance
    dist, index = _match(tab, single.table)
    assert np.unique(index).size == len(tab)
    assert dist.max() < 0.01
    flux = np.asarray(tab["flux_fit"])[index]
    ref = np.asarray(single.table["flux_fit"])
    unc = np.asarray(single.table["flux_unc"])
    assert np.all(np.abs(flux - ref) < 0.5 * unc)
    # ... and both recover the truth
    dist_truth, _ = cKDTree(np.c_[truth["x"], truth["y"]]).query(
        np.c_[tab["x_fit"], tab["y_fit"]])
    assert np.median(dist_truth) < 0.02 and dist_truth.max() < 0.25
    # ids renumbered, groups unique over the image, each star in its core
    assert_array_equal(tab["id"], np.arange(1, len(tab) + 1))
    tiles = tiled.tiles
    assert len(tiles) == 12 and tiles["n_sources"].sum() == len(tab)
    assert np.all(tiles["n_fitted"] >= tiles["n_sources"])
    row = tiles[np.asarray(tab["tile_id"])]
    x, y = np.asarray(tab["x_fit"]), np.asarray(tab["y_fit"])
    inside = ((np.floor(x + 0.5) >= row["x_min"]) | (row["x_min"] == 0)) & \
        ((np.floor(x + 0.5) < row["x_max"]) | (row["x_max"] == 190)) & \
        ((np.floor(y + 0.5) >= row["y_min"]) | (row["y_min"] == 0)) & \
        ((np.floor(y + 0.5) < row["y_max"]) | (row["y_max"] == 150))
    assert inside.all()
    # a group id never spans two tiles
    for group in np.unique(tab["group_id"]):
        assert np.unique(tab["tile_id"][tab["group_id"] == group]).size == 1
    # the residual mosaic is the single-pass residual up to each tile's
    # own sky level and small fit differences
    diff = tiled.residual_image - single.residual_image
    assert np.abs(diff).max() < 0.5
    assert np.abs(np.median(diff)) < 0.1
    assert np.std(tiled.residual_image) < 3.3


def test_executors_give_identical_results(client, field):
    image, phot, _ = field
    image = image[:100, :120]
    mask = np.zeros(image.shape, bool)
    mask[40:44, 60:70] = True
    error = np.full(image.shape, 3.0)
    kw = dict(tile_size=(40, 60), overlap=(12, 10), mask=mask, error=error)
    here = tiled_photometry(image, phot, **kw)
    # a photometry object that has been called once still ships
    phot(image)
    remote = tiled_photometry(image, phot, executor=client, **kw)
    with ThreadPoolExecutor(2) as pool:
        threads = tiled_photometry(image, phot, executor=pool, **kw)
    for other in (remote, threads):
        assert other.table.colnames == here.table.colnames
        for name in here.table.colnames:
            assert_array_equal(other.table[name], here.table[name])
        assert_array_equal(other.residual_image, here.residual_image)
    assert "reduced_chi2" in here.table.colnames  # errors were used
    # the caller's object keeps its last result
    assert phot.last_result is not None


def test_empty_tiles_and_errors():
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    phot = BasicPSFPhotometry(None, None, psf, (7, 7),
                              finder=DAOStarFinder(5.0, 3.5))
    yy, xx = np.mgrid[0:40, 0:64]
    one = psf.evaluate(xx, yy, 800.0, 50.4, 31.2, SIGMA)
    res = tiled_photometry(one, phot, tile_size=32, overlap=8)
    assert len(res.table) == 1 and res.table["tile_id"][0] == 1
    assert_allclose([res.table["x_fit"][0], res.table["y_fit"][0]],
                    [50.4, 31.2], atol=1e-4)
    with pytest.warns(NoDetectionsWarning, match="no tile found a star"):
        empty = tiled_photometry(np.zeros((40, 64)), phot, tile_size=32,
                                 overlap=8)
    assert len(empty.table) == 0 and "tile_id" in empty.table.colnames
    with pytest.raises(ValueError, match="overlap"):
        tiled_photometry(one, phot, tile_size=32, overlap=2)
    with pytest.raises(ValueError, match="tile_size"):
        tiled_photometry(one, phot, tile_size=0, overlap=8)
    with pytest.raises(TypeError, match="photometry must be"):
        tiled_photometry(one, object(), tile_size=32, overlap=8)
    with pytest.raises(ValueError, match="image"):
        tiled_photometry(np.zeros(5), phot, tile_size=32, overlap=8)


class WarningPhotometry(BasicPSFPhotometry):
    """Photometry that warns on every tile (module level: it pickles)."""

    def run(self, image, **kwargs):
        warnings.warn("a tile-level remark", PsfkitWarning, stacklevel=2)
        return super().run(image, **kwargs)


def test_tile_warnings_reach_the_caller_once(client):
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    phot = WarningPhotometry(None, None, psf, (7, 7),
                             finder=DAOStarFinder(5.0, 3.5))
    yy, xx = np.mgrid[0:40, 0:64]
    image = psf.evaluate(xx, yy, 800.0, 50.4, 31.2, SIGMA)
    for executor in (None, client):
        with pytest.warns(PsfkitWarning) as record:
            tiled_photometry(image, phot, tile_size=32, overlap=8,
                             executor=executor)
        messages = [str(w.message) for w in record]
        assert messages == ["tile 0: a tile-level remark"]


@pytest.mark.parametrize("fitter_class, settings", [
    (LOCI, None), (KLIP, {"klip_modes": 4})])
def test_adi_subtract_on_cluster(client, fitter_class, settings):
    cube, parangs, _ = make_adi_sequence(n_frames=8, shape=(33, 33),
                                         random_state=4)
    kw = dict(n_delta=0.5, fwhm=4.0, combine="mean", settings=settings)
    here = adi_subtract(cube, parangs, fitter_class, **kw)
    remote = adi_subtract(cube, parangs, fitter_class, executor=client, **kw)
    assert_allclose(remote.image, here.image, rtol=0, atol=1e-10)
    assert_array_equal(np.ma.getmaskarray(remote.image),
                       np.ma.getmaskarray(here.image))
    assert_allclose(remote.residuals, here.residuals, rtol=0, atol=1e-10)
