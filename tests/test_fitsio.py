from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
import numpy as np
from numpy.testing import assert_array_equal
import pytest

import psfkit
from psfkit.fitsio import (
    FitsInputError,
    check_output_path,
    read_fits_image,
    write_fits_image,
)


@pytest.fixture
def celestial_wcs():
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.0, 2.0]
    w.wcs.crpix = [10.0, 10.0]
    w.wcs.cdelt = [-1e-4, 1e-4]
    return w


def test_big_endian_integers(tmp_path):
    raw = (np.arange(20, dtype=">i2") - 5).reshape(4, 5)
    path = tmp_path / "int.fits"
    fits.PrimaryHDU(raw).writeto(path)
    data, header, wcs = read_fits_image(path)
    assert data.dtype == np.float64 and data.dtype.isnative
    assert_array_equal(data, raw.astype(float))
    assert wcs is None
    assert header["NAXIS1"] == 5


def test_bzero_applied(tmp_path):
    path = tmp_path / "u16.fits"
    fits.PrimaryHDU(np.array([[0, 40000]], dtype=np.uint16)).writeto(path)
    data, _, _ = read_fits_image(path)
    assert_array_equal(data, [[0.0, 40000.0]])


def test_compressed_hdu_found_by_default(tmp_path):
    # integer data compress losslessly (floats would be quantised)
    img = np.random.default_rng(0).integers(-500, 500, size=(32, 32)).astype(np.int32)
    path = tmp_path / "comp.fits"
    fits.HDUList([fits.PrimaryHDU(),
                  fits.CompImageHDU(img, compression_type="GZIP_1")]).writeto(path)
    data, _, _ = read_fits_image(path)
    assert_array_equal(data, img.astype(float))


def test_wcs_and_named_hdu(tmp_path, celestial_wcs):
    path = tmp_path / "wcs.fits"
    hdus = fits.HDUList([fits.PrimaryHDU(),
                         fits.ImageHDU(np.ones((20, 20)),
                                       header=celestial_wcs.to_header(), name="SCI")])
    hdus.writeto(path)
    data, _, wcs = read_fits_image(path, hdu="SCI")
    assert wcs is not None and wcs.has_celestial
    ra, dec = wcs.pixel_to_world_values(9.0, 9.0)
    assert abs(ra - 150.0) < 1e-9 and abs(dec - 2.0) < 1e-9
    data1, _, _ = read_fits_image(path, hdu=1)
    assert_array_equal(data, data1)


def test_errors(tmp_path):
    with pytest.raises(FitsInputError, match="no such file"):
        read_fits_image(tmp_path / "missing.fits")
    bad = tmp_path / "bad.fits"
    bad.write_text("this is not FITS")
    with pytest.raises(FitsInputError, match="not a readable FITS file"):
        read_fits_image(bad)
    table_only = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(),
                  fits.BinTableHDU(Table({"a": [1, 2]}))]).writeto(table_only)
    with pytest.raises(FitsInputError, match="no HDU holds image data"):
        read_fits_image(table_only)
    with pytest.raises(FitsInputError, match="HDU 1 holds no image data"):
        read_fits_image(table_only, hdu=1)
    with pytest.raises(FitsInputError, match="there is no HDU 5"):
        read_fits_image(table_only, hdu=5)
    cube = tmp_path / "cube.fits"
    fits.PrimaryHDU(np.zeros((3, 4, 5))).writeto(cube)
    with pytest.raises(FitsInputError, match="expected a 2-D image, got 3-D"):
        read_fits_image(cube)
    data, _, _ = read_fits_image(cube, ndim=3)
    assert data.shape == (3, 4, 5)
    with pytest.raises(FitsInputError, match="is a folder"):
        read_fits_image(tmp_path)


def test_write_records_version_and_never_overwrites_inputs(tmp_path, celestial_wcs):
    src = tmp_path / "in.fits"
    fits.PrimaryHDU(np.ones((5, 5)), header=celestial_wcs.to_header()).writeto(src)
    data, header, _ = read_fits_image(src)
    out = write_fits_image(tmp_path / "out.fits", np.ma.MaskedArray(data, data > 2),
                           header=header, parameters={"fwhm": 3.0})
    hdr = fits.getheader(out)
    assert hdr["PSFKITV"] == psfkit.__version__
    assert any("fwhm = 3.0" in str(card) for card in hdr["HISTORY"])
    assert hdr["CTYPE1"] == "RA---TAN"
    with pytest.raises(FitsInputError, match="already exists"):
        write_fits_image(out, data)
    write_fits_image(out, 2 * data, overwrite=True)
    assert fits.getdata(out)[0, 0] == 2.0
    with pytest.raises(FitsInputError, match="refusing to overwrite an input"):
        write_fits_image(src, data, overwrite=True, inputs=[src])
    assert fits.getdata(src)[0, 0] == 1.0
    with pytest.raises(FitsInputError, match="does not exist"):
        check_output_path(tmp_path / "nope" / "x.fits")
    masked = write_fits_image(tmp_path / "m.fits", np.ma.MaskedArray([1.0, 2.0],
                                                                     [False, True]))
    assert np.isnan(fits.getdata(masked)[1])
