"""Reading and writing FITS images: psfkit.fitsio."""

from astropy.io import fits
from astropy.nddata import (
    CCDData,
    InverseVariance,
    NDData,
    StdDevUncertainty,
    VarianceUncertainty,
)
from astropy.table import Table
import astropy.units as u
from astropy.wcs import WCS
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

import psfkit
from psfkit.fitsio import (
    FitsInputError,
    check_output_path,
    check_output_paths,
    read_fits_image,
    read_fits_nddata,
    working_dtype,
    write_fits_image,
    write_fits_nddata,
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
    with pytest.raises(FitsInputError, match="cube.fits: the image must be a 2-D "
                       "array, got a 3-D array with shape"):
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


# --- images with their mask, uncertainty, unit and WCS ---------------------


def test_ccddata_file_round_trip(tmp_path, celestial_wcs):
    rng = np.random.default_rng(1)
    data = rng.normal(size=(20, 20)).astype(np.float32)
    mask = rng.random((20, 20)) < 0.1
    ccd = CCDData(data, unit="electron / s", mask=mask, wcs=celestial_wcs,
                  uncertainty=VarianceUncertainty(np.full((20, 20), 4.0)))
    ccd.write(tmp_path / "ccd.fits")
    image = read_fits_nddata(tmp_path / "ccd.fits")
    assert image.data.dtype == np.float32
    assert_array_equal(image.data, data)
    assert_array_equal(image.mask, mask)
    assert isinstance(image.uncertainty, VarianceUncertainty)
    assert_array_equal(image.uncertainty.array, 4.0)
    assert image.unit == u.electron / u.s
    assert_allclose(image.wcs.pixel_to_world_values(9.0, 9.0), (150.0, 2.0))
    # and back: what psfkit writes, astropy's reader reads whole
    out = write_fits_nddata(tmp_path / "again.fits", image, header=image.meta)
    again = CCDData.read(out)
    assert again.unit == u.electron / u.s and again.data.dtype.name == "float32"
    assert_array_equal(again.data, data)
    assert_array_equal(again.mask, mask)
    assert isinstance(again.uncertainty, VarianceUncertainty)
    assert_array_equal(again.uncertainty.array, 4.0)
    assert_allclose(again.wcs.pixel_to_world_values(9.0, 9.0), (150.0, 2.0))


@pytest.mark.parametrize(("name", "cls", "values", "sigma"), [
    ("ERR", StdDevUncertainty, 2.0, 2.0),
    ("VARIANCE", VarianceUncertainty, 4.0, 2.0),
    ("VAR", VarianceUncertainty, 4.0, 2.0),
    ("IVAR", InverseVariance, 0.25, 2.0),
])
def test_error_extensions_of_other_pipelines(tmp_path, name, cls, values, sigma):
    from psfkit.utils import uncertainty_to_error

    data = np.ones((6, 7))
    dq = np.zeros((6, 7), np.uint32)
    dq[2, 3] = 1 << 5
    fits.HDUList([fits.PrimaryHDU(),
                  fits.ImageHDU(data, name="SCI"),
                  fits.ImageHDU(np.full((6, 7), values), name=name),
                  fits.ImageHDU(dq, name="DQ")]).writeto(tmp_path / "f.fits")
    image = read_fits_nddata(tmp_path / "f.fits")
    assert isinstance(image.uncertainty, cls)
    assert_allclose(uncertainty_to_error(image.uncertainty), sigma)
    assert image.mask.sum() == 1 and image.mask[2, 3]


def test_auxiliary_extension_shape_and_bad_bunit(tmp_path):
    fits.HDUList([fits.PrimaryHDU(np.ones((6, 7))),
                  fits.ImageHDU(np.ones((6, 6)), name="MASK")]
                 ).writeto(tmp_path / "m.fits")
    with pytest.raises(FitsInputError, match=r"m.fits: the MASK extension has "
                       r"shape \(6, 6\) but the data have shape \(6, 7\)"):
        read_fits_nddata(tmp_path / "m.fits")
    header = fits.Header()
    header["BUNIT"] = "DN/frame"
    fits.PrimaryHDU(np.ones((3, 3)), header=header).writeto(tmp_path / "u.fits")
    with pytest.raises(FitsInputError, match="BUNIT 'DN/frame' is not a unit"):
        read_fits_nddata(tmp_path / "u.fits")
    header["BUNIT"] = "ADU"  # a spelling astropy's CCDData reader accepts too
    fits.PrimaryHDU(np.ones((3, 3)), header=header).writeto(tmp_path / "a.fits")
    assert read_fits_nddata(tmp_path / "a.fits").unit == u.adu


def test_truncated_file_names_the_file(tmp_path):
    # a truncated file gave numpy's "cannot reshape array of size ..."
    path = tmp_path / "full.fits"
    fits.PrimaryHDU(np.zeros((64, 64))).writeto(path)
    cut = tmp_path / "cut.fits"
    cut.write_bytes(path.read_bytes()[:2880 + 2000])
    for reader in (read_fits_nddata, read_fits_image):
        with pytest.raises(FitsInputError, match=r"cut.fits: the data of HDU 0 "
                           r"cannot be read: the file is truncated or damaged"):
            reader(cut)


@pytest.mark.parametrize(("dtype", "expected"), [
    (">i2", np.float32), ("u1", np.float32), (">u2", np.float32),
    (">i4", np.float64), (">f4", np.float32), (">f8", np.float64),
])
def test_dtype_follows_the_file(tmp_path, dtype, expected):
    fits.PrimaryHDU(np.arange(12).reshape(3, 4).astype(dtype)).writeto(
        tmp_path / "d.fits")
    image = read_fits_nddata(tmp_path / "d.fits")
    assert image.data.dtype == expected and image.data.dtype.isnative
    assert working_dtype(np.dtype(dtype)) == expected
    assert_array_equal(image.data, np.arange(12).reshape(3, 4))
    assert image.unit is None and image.mask is None and image.uncertainty is None


def test_cube_keeps_celestial_wcs_of_the_image_plane(tmp_path, celestial_wcs):
    header = celestial_wcs.to_header()
    header["CTYPE3"] = "TIME"
    header["CRVAL3"] = 0.0
    header["CDELT3"] = 10.0
    header["CRPIX3"] = 1.0
    fits.PrimaryHDU(np.zeros((3, 20, 20)), header=header).writeto(tmp_path / "c.fits")
    cube = read_fits_nddata(tmp_path / "c.fits", ndim=3)
    assert cube.wcs.pixel_n_dim == 2 and cube.wcs.has_celestial


def test_degenerate_leading_axes_are_dropped(tmp_path, celestial_wcs):
    # a (1, 1, ny, nx) radio image was refused as a 4-D array
    header = celestial_wcs.to_header()
    for axis, (ctype, crval) in enumerate([("FREQ", 1.4e9), ("STOKES", 1.0)],
                                          start=3):
        header[f"CTYPE{axis}"] = ctype
        header[f"CRVAL{axis}"] = crval
        header[f"CDELT{axis}"] = 1.0
        header[f"CRPIX{axis}"] = 1.0
    data = np.arange(12 * 14, dtype=np.float32).reshape(1, 1, 12, 14)
    mask = np.zeros((1, 1, 12, 14), np.uint8)
    mask[..., 3, 4] = 1
    fits.HDUList([fits.PrimaryHDU(data, header=header),
                  fits.ImageHDU(mask, name="MASK"),
                  fits.ImageHDU(np.full((1, 12, 14), 2.0), name="ERR")]
                 ).writeto(tmp_path / "radio.fits")
    image = read_fits_nddata(tmp_path / "radio.fits")
    assert image.data.shape == (12, 14)
    assert_array_equal(image.data, data[0, 0])
    assert image.mask.shape == (12, 14) and image.mask[3, 4]
    assert image.mask.sum() == 1
    assert_allclose(image.uncertainty.array, 2.0)
    assert image.wcs.pixel_n_dim == 2
    x, y = [0.0, 13.0], [0.0, 11.0]
    assert_allclose(image.wcs.pixel_to_world_values(x, y),
                    celestial_wcs.pixel_to_world_values(x, y), rtol=0,
                    atol=1e-12)
    data2, _, wcs = read_fits_image(tmp_path / "radio.fits")
    assert data2.shape == (12, 14) and wcs.pixel_n_dim == 2
    # a cube stays a cube where cubes are read, and a real cube is refused
    assert read_fits_nddata(tmp_path / "radio.fits", ndim=(2, 3)).data.shape \
        == (1, 12, 14)
    fits.PrimaryHDU(np.zeros((2, 12, 14))).writeto(tmp_path / "two.fits")
    with pytest.raises(FitsInputError, match="must be a 2-D array, got a 3-D"):
        read_fits_nddata(tmp_path / "two.fits")


def test_write_puts_wcs_and_units_on_every_extension(tmp_path, celestial_wcs):
    header = celestial_wcs.to_header()
    header["OBSERVER"] = "me"
    image = NDData(np.ones((20, 20), np.float32), unit="adu",
                   wcs=celestial_wcs, mask=np.zeros((20, 20), bool),
                   uncertainty=VarianceUncertainty(np.ones((20, 20))))
    path = write_fits_nddata(tmp_path / "w.fits", image, header=header,
                             keywords={"KERNSUM": (1.25, "a result")},
                             extensions={"FLAGS": np.zeros((20, 20), np.int16)})
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "MASK", "UNCERT", "FLAGS"]
        assert hdul[0].header["KERNSUM"] == 1.25
        assert hdul[0].header["OBSERVER"] == "me"
        assert hdul[0].header["BUNIT"] == "adu"
        assert hdul["UNCERT"].header["BUNIT"] == "adu2"
        assert hdul["UNCERT"].header["UTYPE"] == "VarianceUncertainty"
        assert hdul[0].data.dtype == np.dtype(">f4")
        assert hdul["UNCERT"].data.dtype == np.dtype(">f4")
        for hdu in hdul:
            assert hdu.header["CTYPE1"] == "RA---TAN"
            assert hdu.header["CRVAL2"] == 2.0


def test_check_output_paths(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    same = [tmp_path / "a.fits", tmp_path / "sub" / ".." / "a.fits"]
    with pytest.raises(FitsInputError, match="the same file as output"):
        check_output_paths(same)
    link = tmp_path / "link.fits"
    (tmp_path / "in.fits").write_bytes(b"")
    link.symlink_to(tmp_path / "in.fits")
    with pytest.raises(FitsInputError, match="refusing to overwrite an input"):
        check_output_paths([link], inputs=[tmp_path / "in.fits"], overwrite=True)
    with pytest.raises(FitsInputError, match="is a folder"):
        check_output_paths([tmp_path / "sub"], overwrite=True)
    assert check_output_paths([None, tmp_path / "b.fits"]) == [
        None, tmp_path / "b.fits"]
    monkeypatch.setattr("psfkit.fitsio.outputs.os.access", lambda *args: False)
    with pytest.raises(FitsInputError, match="is not writable"):
        check_output_paths([tmp_path / "c.fits"])


def test_float_errors_of_integer_data_are_written_as_floats(tmp_path):
    # errors below one beside integer data were cast to the data's type
    image = NDData(np.arange(100, dtype="int16").reshape(10, 10),
                   uncertainty=StdDevUncertainty(np.full((10, 10), 0.4)),
                   unit="adu")
    write_fits_nddata(tmp_path / "a.fits", image)
    back = read_fits_nddata(tmp_path / "a.fits")
    assert_allclose(back.uncertainty.array, 0.4, rtol=1e-6)
    assert_array_equal(back.data, image.data)


def test_extensions_of_the_data_version_are_used(tmp_path):
    # SCI, ERR and DQ of each chip (EXTVER 1, 2): a chip reads its own
    ones = np.ones((6, 5))
    dq1 = np.zeros((6, 5), np.int16)
    dq2 = dq1.copy()
    dq2[2, 3] = 4
    fits.HDUList([fits.PrimaryHDU(),
                  fits.ImageHDU(ones, name="SCI", ver=1),
                  fits.ImageHDU(np.full((6, 5), 2.0), name="ERR", ver=1),
                  fits.ImageHDU(dq1, name="DQ", ver=1),
                  fits.ImageHDU(5 * ones, name="SCI", ver=2),
                  fits.ImageHDU(np.full((6, 5), 7.0), name="ERR", ver=2),
                  fits.ImageHDU(dq2, name="DQ", ver=2)]).writeto(
        tmp_path / "m.fits")
    first = read_fits_nddata(tmp_path / "m.fits", hdu=("SCI", 1))
    second = read_fits_nddata(tmp_path / "m.fits", hdu=("SCI", 2))
    assert np.all(first.uncertainty.array == 2.0)
    assert np.all(second.uncertainty.array == 7.0)
    assert not first.mask.any()
    assert second.mask.sum() == 1 and second.mask[2, 3]
    assert np.all(second.data == 5.0)
