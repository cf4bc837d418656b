"""
Gridded PSF files: GriddedPSFModel.read of the 'webbpsf' (WebbPSF/STPSF)
and 'stdpsf' (Jay Anderson's libraries) formats, GriddedPSFModel.write and
STDPSFGrid, on small synthetic files of Gaussian PSFs of known widths at
known grid nodes; and, when photutils is installed, the same files read by
photutils.
"""

from astropy.io import fits
from astropy.nddata import NDData
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

from psfkit.fitsio import FitsInputError
from psfkit.photometry import (
    CircularGaussianPSF,
    GriddedPSFModel,
    ImagePSF,
    STDPSFGrid,
)
from psfkit.utils import PsfkitWarning

OS = 4  # the oversampling of every synthetic file (STDPSF's own)
HALF = 40  # oversampled pixels on each side of the centre: 81 x 81 images
XS = (0.0, 1000.0, 2000.0)  # the grid's columns (0-based detector pixels)
YS = (0.0, 1500.0)  # and rows
SIGMA_TO_FWHM = 2.0 * np.sqrt(2.0 * np.log(2.0))


def _width(x, y):
    """The known Gaussian sigma (pixels) of the PSF at node (x, y): it
    grows twice as fast along x as along y, so a grid read transposed
    shows."""
    return 1.0 + 4e-4 * x + 2e-4 * y


def _gaussian_image(sigma, *, oversampling=OS, half=HALF):
    """A Gaussian PSF sampled at the centres of the oversampled pixels,
    normalised as photutils expects (it sums to oversampling**2)."""
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1] / oversampling
    return (np.exp(-(xx ** 2 + yy ** 2) / (2.0 * sigma ** 2))
            / (2.0 * np.pi * sigma ** 2))


def _nodes():
    """Every node (x, y) of the grid, y varying slowest."""
    return [(x, y) for y in YS for x in XS]


def _write_webbpsf(path, positions, *, images=None, oversampling=OS,
                   num_psfs=True, edit=None):
    """
    A file as STPSF writes it: the cube, NUM_PSFS, OVERSAMP and DET_YX<k>
    holding '(x, y)' (the order photutils reads and current STPSF files
    hold, whatever the keyword's comment says).
    """
    if images is None:
        images = [_gaussian_image(_width(x, y)) for x, y in positions]
    hdu = fits.PrimaryHDU(np.array(images))
    header = hdu.header
    header["INSTRUME"] = "NIRCam"
    header["FILTER"] = "F200W"
    if num_psfs:
        header["NUM_PSFS"] = len(positions)
    header["OVERSAMP"] = oversampling
    for k, (x, y) in enumerate(positions):
        header[f"DET_YX{k}"] = (str((float(x), float(y))),
                                f"The #{k} PSF's (y,x) detector pixel position")
    if edit is not None:
        edit(hdu)
    hdu.writeto(path)
    return path


def _write_stdpsf(path, xs_1based, ys_1based, *, images=None, strings=False,
                  edit=None):
    """
    A file as the STDPSF libraries are: the cube (x varying fastest),
    NXPSFS, NYPSFS and the 1-based positions in IPSFX01.. and JPSFY01..
    (padded with 9999 to ten, as the HST files are), or in strings of
    IPSFXA5.. and JPSFYA5.. (as NIRCam's short wavelength library).
    """
    if images is None:
        images = [_gaussian_image(_width(x - 1, y - 1))
                  for y in ys_1based for x in xs_1based]
    hdu = fits.PrimaryHDU(np.array(images, dtype=np.float32))
    header = hdu.header
    header["NXPSFS"] = len(xs_1based)
    header["NYPSFS"] = len(ys_1based)
    if strings:
        for prefix, values in (("IPSFX", xs_1based), ("JPSFY", ys_1based)):
            for n, start in enumerate(range(0, len(values), 5)):
                chunk = " ".join(f"{int(v):04d}" for v in values[start:start + 5])
                header[f"{prefix}{'ABCD'[n]}5"] = f" {chunk} "
    else:
        for prefix, values in (("IPSFX", xs_1based), ("JPSFY", ys_1based)):
            padded = list(values) + [9999] * max(0, 10 - len(values))
            for i, value in enumerate(padded, start=1):
                header[f"{prefix}{i:02d}"] = int(value)
    if edit is not None:
        edit(hdu)
    hdu.writeto(path)
    return path


def _truth(x, y, x_0, y_0):
    """The Gaussian PSF of the node (x_0, y_0) at detector pixels (x, y)."""
    model = CircularGaussianPSF(flux=1.0, x_0=x_0, y_0=y_0,
                                fwhm=SIGMA_TO_FWHM * _width(x_0, y_0))
    return model(x, y)


def _pixels(x_0, y_0, half=8):
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    return xx + np.round(x_0), yy + np.round(y_0)


def _check_nodes(model, nodes):
    """At each node: that node's image, and the known Gaussian."""
    for x_0, y_0 in nodes:
        k = np.flatnonzero((model.grid_xypos[:, 0] == x_0)
                           & (model.grid_xypos[:, 1] == y_0))
        assert k.size == 1, (x_0, y_0)
        # pixels at a fraction of a pixel from the centre: between the
        # samples of the images
        x, y = _pixels(x_0, y_0)
        x, y = x + 0.3, y - 0.2
        model.x_0, model.y_0 = x_0, y_0
        node = ImagePSF(model.data[k[0]], oversampling=OS, x_0=x_0, y_0=y_0)
        values = model(x, y)
        assert_allclose(values, node(x, y), rtol=0, atol=1e-15)
        # the image is a Gaussian of the node's width: the spline through
        # its samples is that Gaussian to 2e-4 of the peak
        truth = _truth(x, y, x_0, y_0)
        assert_allclose(values, truth, rtol=0, atol=2e-4 * truth.max())
        assert_allclose(values.sum(), truth.sum(), rtol=1e-5)


def _check_blend(model, x_0, y_0):
    """Between nodes: the bilinear blend of the four images around."""
    x, y = _pixels(x_0, y_0)
    model.x_0, model.y_0 = x_0, y_0
    i = np.searchsorted(XS, x_0) - 1
    j = np.searchsorted(YS, y_0) - 1
    tx = (x_0 - XS[i]) / (XS[i + 1] - XS[i])
    ty = (y_0 - YS[j]) / (YS[j + 1] - YS[j])
    expected = 0.0
    for xn, yn, weight in ((XS[i], YS[j], (1 - tx) * (1 - ty)),
                           (XS[i + 1], YS[j], tx * (1 - ty)),
                           (XS[i], YS[j + 1], (1 - tx) * ty),
                           (XS[i + 1], YS[j + 1], tx * ty)):
        node = ImagePSF(_gaussian_image(_width(xn, yn)), oversampling=OS,
                        x_0=x_0, y_0=y_0)
        expected = expected + weight * node(x, y)
    assert_allclose(model(x, y), expected, rtol=1e-12, atol=1e-16)


# --------------------------------------------------------------------------
# 'webbpsf'


def test_read_webbpsf(tmp_path):
    nodes = _nodes()
    # the file's order need not be the grid's
    order = [4, 0, 5, 2, 1, 3]
    positions = [nodes[k] for k in order]
    path = _write_webbpsf(tmp_path / "nircam_nrca1_f200w_npsf6.fits",
                          positions)
    model = GriddedPSFModel.read(path, format="webbpsf")
    assert isinstance(model, GriddedPSFModel)
    assert_array_equal(model.grid_xypos, positions)
    assert_array_equal(model.oversampling, [OS, OS])
    assert model.grid_shape == (2, 3)
    for k, (x, y) in enumerate(positions):
        assert_array_equal(model.data[k], _gaussian_image(_width(x, y)))
    assert model.meta["oversampling"] == OS
    assert model.meta["grid_xypos"] == [tuple(p) for p in positions]
    assert model.meta["num_psfs"] == 6
    assert model.meta["instrume"] == "NIRCam"
    assert model.meta["det_yx1"] == "(0.0, 0.0)"
    _check_nodes(model, nodes)
    _check_blend(model, 1234.5, 321.0)
    _check_blend(model, 400.0, 1499.0)
    # recognised without format=, and with the name 'stpsf'; str paths too
    for other in (GriddedPSFModel.read(str(path)),
                  GriddedPSFModel.read(path, format="STPSF")):
        assert_array_equal(other.grid_xypos, model.grid_xypos)
        assert_array_equal(other.data, model.data)


def test_read_webbpsf_single_image(tmp_path):
    # one PSF, as a 2-D image (STPSF's num_psfs=1)
    image = _gaussian_image(1.5)
    path = tmp_path / "one.fits"
    _write_webbpsf(path, [(1023.5, 1023.5)], images=image)
    model = GriddedPSFModel.read(path)
    assert model.grid_shape == (1, 1)
    assert_array_equal(model.grid_xypos, [(1023.5, 1023.5)])
    assert_array_equal(model.data, image[np.newaxis])
    model.x_0, model.y_0 = 10.2, 12.7  # the one image everywhere
    x, y = _pixels(10.2, 12.7)
    single = ImagePSF(image, oversampling=OS, x_0=10.2, y_0=12.7)
    assert_allclose(model(x, y), single(x, y), rtol=0, atol=1e-15)


def _drop(key):
    def edit(hdu):
        del hdu.header[key]
    return edit


def _set(key, value):
    def edit(hdu):
        hdu.header[key] = value
    return edit


@pytest.mark.parametrize(("edit", "match"), [
    (_drop("OVERSAMP"), "header keyword OVERSAMP is missing"),
    (_set("OVERSAMP", 2.5), "OVERSAMP must be a positive integer, got 2.5"),
    (_set("OVERSAMP", 0), "OVERSAMP must be a positive integer"),
    (_set("NUM_PSFS", 5), r"NUM_PSFS = 5 but the cube holds 6 PSF image"),
    (_drop("DET_YX3"), r"gives 5 position\(s\) \(DET_YX keywords\) for the 6"),
    (_set("DET_YX6", "(1.0, 2.0)"),
     r"gives 7 position\(s\) \(DET_YX keywords\) for the 6"),
    (lambda hdu: hdu.header.rename_keyword("DET_YX5", "DET_YX9"),
     "header keyword DET_YX5 is missing"),
    (_set("DET_YX2", "(12.0; 4.0)"), r"DET_YX2 must be a detector position"),
    (_set("DET_YX2", "(nan, 4.0)"), r"DET_YX2 must be a detector position"),
])
def test_read_webbpsf_header_errors(tmp_path, edit, match):
    path = _write_webbpsf(tmp_path / "bad.fits", _nodes(), edit=edit)
    with pytest.raises(FitsInputError, match=match) as info:
        GriddedPSFModel.read(path, format="webbpsf")
    assert "bad.fits" in str(info.value)


def test_read_webbpsf_data_errors(tmp_path):
    images = np.array([_gaussian_image(1.2)] * 6)
    images[4, 3, 3] = np.nan
    path = _write_webbpsf(tmp_path / "nan.fits", _nodes(), images=images)
    with pytest.raises(FitsInputError, match=r"nan.fits: PSF image\(s\) \[4\]"):
        GriddedPSFModel.read(path)
    path = tmp_path / "four_d.fits"
    _write_webbpsf(path, _nodes(), images=np.zeros((1, 6, 5, 5)))
    with pytest.raises(FitsInputError, match="holds a 4-D array"):
        GriddedPSFModel.read(path)
    # the positions must fill a grid
    for positions in ([(0, 0), (1, 0), (0, 1), (5, 5)],
                      [(0, 0), (1, 0), (0, 1), (0, 1)]):
        path = _write_webbpsf(tmp_path / "ragged.fits", positions,
                              images=[_gaussian_image(1.0)] * 4)
        with pytest.raises(FitsInputError, match=r"ragged.fits: the positions "
                           r"DET_YX0..DET_YX3 must fill a rectangular grid"):
            GriddedPSFModel.read(path)
        path.unlink()


def test_read_argument_errors(tmp_path):
    path = _write_webbpsf(tmp_path / "grid.fits", _nodes())
    with pytest.raises(ValueError, match="format must be 'webbpsf'"):
        GriddedPSFModel.read(path, format="ascii")
    with pytest.raises(ValueError, match="detector_id applies to the 'stdpsf'"):
        GriddedPSFModel.read(path, detector_id=1)
    with pytest.raises(FitsInputError, match="missing.fits: no such file"):
        GriddedPSFModel.read(tmp_path / "missing.fits")
    with pytest.raises(FitsInputError, match="is a folder"):
        GriddedPSFModel.read(tmp_path)
    with pytest.raises(ValueError, match="psfkit does not download"):
        GriddedPSFModel.read("https://example.org/STDPSF_WFC3UV_F814W.fits")
    with pytest.raises(TypeError, match="filename must be a path"):
        GriddedPSFModel.read(3)
    text = tmp_path / "notes.fits"
    text.write_text("not a FITS file")
    with pytest.raises(FitsInputError, match="notes.fits: not a readable FITS"):
        GriddedPSFModel.read(text)
    plain = tmp_path / "image.fits"
    fits.PrimaryHDU(np.zeros((3, 5, 5))).writeto(plain)
    with pytest.raises(FitsInputError, match="neither DET_YX0"):
        GriddedPSFModel.read(plain)
    empty = tmp_path / "empty.fits"
    fits.PrimaryHDU().writeto(empty)
    with pytest.raises(FitsInputError, match="primary HDU holds no data"):
        GriddedPSFModel.read(empty, format="webbpsf")


# --------------------------------------------------------------------------
# write


def test_write_round_trip(tmp_path):
    nodes = _nodes()
    order = [3, 1, 5, 0, 2, 4]
    stack = np.array([_gaussian_image(_width(*nodes[k])) for k in order])
    model = GriddedPSFModel(stack, grid_xypos=[nodes[k] for k in order],
                            oversampling=OS, flux=3.0, x_0=900.0, y_0=700.0,
                            meta={"instrume": "NIRCam", "filter": "F200W",
                                  "nxpsfs": 3, "a_long_name": 1.0,
                                  "shape": (1, 2), "det_yx0": "(9, 9)"})
    path = model.write(tmp_path / "grid.fits")
    assert path == tmp_path / "grid.fits"
    header = fits.getheader(path)
    assert header["NUM_PSFS"] == 6 and header["OVERSAMP"] == OS
    # in the grid's order, y slowest, each DET_YX the image's (x, y)
    assert [header[f"DET_YX{k}"] for k in range(6)] == [
        str((float(x), float(y))) for x, y in nodes]
    assert header["INSTRUME"] == "NIRCam" and header["FILTER"] == "F200W"
    # layout keywords and values FITS cannot hold are not copied from meta
    assert "NXPSFS" not in header and "SHAPE" not in header
    again = GriddedPSFModel.read(path)
    assert_array_equal(again.grid_xypos, nodes)
    assert_array_equal(again.oversampling, model.oversampling)
    assert again.meta["filter"] == "F200W"
    x, y = _pixels(900.0, 700.0)
    again.flux, again.x_0, again.y_0 = 3.0, 900.0, 700.0
    assert_array_equal(again(x, y), model(x, y))
    # positions that are not whole numbers survive exactly
    odd = GriddedPSFModel(stack[:2], grid_xypos=[(0.1, 1 / 3), (2 / 3, 1 / 3)],
                          oversampling=OS)
    assert_array_equal(GriddedPSFModel.read(
        odd.write(tmp_path / "odd.fits")).grid_xypos, odd.grid_xypos)


def test_write_errors(tmp_path):
    stack = np.array([_gaussian_image(1.0)] * 2)
    model = GriddedPSFModel(stack, grid_xypos=[(0, 0), (10, 0)],
                            oversampling=OS)
    path = model.write(tmp_path / "grid.fits")
    with pytest.raises(FitsInputError, match="grid.fits"):
        model.write(path)
    model.write(path, overwrite=True)
    with pytest.raises(FitsInputError):
        model.write(tmp_path / "no_such_folder" / "grid.fits")
    squashed = GriddedPSFModel(stack[:, :, 1:], grid_xypos=[(0, 0), (10, 0)],
                               oversampling=(OS, 2))
    with pytest.raises(ValueError, match=r"oversampling must be the same .* "
                                         r"\(y, x\) = \(4, 2\)"):
        squashed.write(tmp_path / "squashed.fits")
    shifted = GriddedPSFModel(stack, grid_xypos=[(0, 0), (10, 0)],
                              oversampling=OS, origin=(40.5, 40.0))
    with pytest.raises(ValueError, match=r"origin must be the image centre"):
        shifted.write(tmp_path / "shifted.fits")
    assert not (tmp_path / "squashed.fits").exists()


# --------------------------------------------------------------------------
# 'stdpsf'

XS_1 = [x + 1 for x in XS]  # the header's 1-based positions
YS_1 = [y + 1 for y in YS]


@pytest.mark.parametrize("strings", [False, True], ids=["numbered", "strings"])
def test_read_stdpsf(tmp_path, strings):
    path = _write_stdpsf(tmp_path / "STDPSF_NRCA1_F150W.fits", XS_1, YS_1,
                         strings=strings)
    model = GriddedPSFModel.read(path, format="stdpsf")
    # 0-based positions, x varying fastest as in the file
    assert_array_equal(model.grid_xypos, _nodes())
    assert_array_equal(model.oversampling, [4, 4])
    assert model.grid_shape == (2, 3)
    with fits.open(path) as hdul:
        assert_array_equal(model.data, hdul[0].data)
    assert model.meta["detector"] == "NRCA1"
    assert model.meta["filter"] == "F150W"
    assert model.meta["instrument"] == "JWST/NIRCam"
    assert model.meta["oversampling"] == 4
    assert (model.meta["nxpsfs"], model.meta["nypsfs"]) == (3, 2)
    assert model.meta["grid_xypos"] == [tuple(p) for p in _nodes()]
    _check_nodes(model, _nodes())
    # recognised without format=
    assert_array_equal(GriddedPSFModel.read(path).grid_xypos, _nodes())


@pytest.mark.parametrize(("edit", "match"), [
    (_drop("NXPSFS"), "header keyword NXPSFS is missing"),
    (_set("NYPSFS", 3), r"NXPSFS x NYPSFS = 3 x 3 = 9 PSFs, but the cube "
                        r"holds 6"),
    (_drop("IPSFX03"), "header keyword IPSFX03 is missing"),
    (_drop("JPSFY01"), "header keyword JPSFY01 is missing"),
    (_set("JPSFY02", 1), r"the grid positions JPSFY01..JPSFY02 must increase"),
    (_set("IPSFX02", "1001"), "the x positions IPSFX01..IPSFX03 must be numbers"),
    (_set("NXPSFS", -3), "NXPSFS must be a positive integer"),
])
def test_read_stdpsf_header_errors(tmp_path, edit, match):
    path = _write_stdpsf(tmp_path / "STDPSF_NRCA1_F150W.fits", XS_1, YS_1,
                         edit=edit)
    with pytest.raises(FitsInputError, match=match) as info:
        GriddedPSFModel.read(path, format="stdpsf")
    assert "STDPSF_NRCA1_F150W.fits" in str(info.value)


def test_read_stdpsf_string_errors(tmp_path):
    def short(hdu):
        hdu.header["IPSFXA5"] = " 0001 1001 "
    path = _write_stdpsf(tmp_path / "STDPSF_NRCSW_F150W.fits", XS_1, YS_1,
                         strings=True, edit=short)
    with pytest.raises(FitsInputError, match="IPSFXA5 give 2 x positions but "
                                             "NXPSFS = 3"):
        GriddedPSFModel.read(path)

    def words(hdu):
        hdu.header["JPSFYA5"] = " 0001 x "
    path = _write_stdpsf(tmp_path / "words.fits", XS_1, YS_1, strings=True,
                         edit=words)
    with pytest.raises(FitsInputError, match="JPSFYA5 must list whole numbers"):
        GriddedPSFModel.read(path)


def _tagged_images(n):
    """Small images whose values name their plane: plane k is all k."""
    return np.arange(n, dtype=float)[:, None, None] + np.zeros((n, 5, 5))


# Files of several detectors, as laid out in the STDPSF libraries: the
# 1-based positions of the whole frame, and for some detector ids the
# block of the grid that holds that detector (its columns and rows) and
# the offset of the detector's pixels in the frame.
MOSAICS = {
    "WFPC2": dict(
        xs=[50, 425, 800, 850, 1225, 1600], ys=[50, 425, 800, 850, 1225, 1600],
        cases={1: ((3, 6), (3, 6), (800, 800)),  # PC: upper right
               2: ((0, 3), (3, 6), (0, 800)),  # WF2: upper left
               3: ((0, 3), (0, 3), (0, 0)),  # WF3: lower left
               4: ((3, 6), (0, 3), (800, 0))}),  # WF4: lower right
    "ACSWFC": dict(
        xs=[0, 512, 1024, 1536, 2168, 2800, 3192, 3584, 4096],
        ys=[0, 512, 1024, 1536, 2048, 2048, 2560, 3072, 3584, 4096],
        cases={1: ((0, 9), (0, 5), (0, 0)),  # WFC2, ('SCI', 1): lower
               2: ((0, 9), (5, 10), (0, 2048))}),  # WFC1: upper
    "WFC3UV": dict(
        xs=[0, 682, 1365, 2048, 2731, 3413, 4096],
        ys=[0, 682, 1365, 2048, 2049, 2731, 3413, 4096],
        cases={1: ((0, 7), (0, 4), (0, 0)), 2: ((0, 7), (4, 8), (0, 2048))}),
    # the header comment of NIRCam's library: A1 A3 B4 B2 along the bottom,
    # A2 A4 B3 B1 along the top
    "NRCSW": dict(
        xs=[1, 512, 1024, 1536, 2048, 2049, 2560, 3072, 3584, 4096,
            4097, 4608, 5120, 5632, 6144, 6145, 6656, 7168, 7680, 8192],
        ys=[1, 512, 1024, 1536, 2048, 2049, 2560, 3072, 3584, 4096],
        strings=True,
        cases={1: ((0, 5), (0, 5), (0, 0)),  # A1
               4: ((5, 10), (5, 10), (2048, 2048)),  # A4
               5: ((15, 20), (5, 10), (6144, 2048)),  # B1
               6: ((15, 20), (0, 5), (6144, 0)),  # B2
               8: ((10, 15), (0, 5), (4096, 0))}),  # B4
}


@pytest.mark.parametrize("name", list(MOSAICS))
def test_read_stdpsf_detectors(tmp_path, name):
    spec = MOSAICS[name]
    xs, ys = spec["xs"], spec["ys"]
    n = len(xs) * len(ys)
    path = _write_stdpsf(tmp_path / f"STDPSF_{name}_F814W.fits", xs, ys,
                         images=_tagged_images(n),
                         strings=spec.get("strings", False))
    for detector_id, ((c0, c1), (r0, r1), (dx, dy)) in spec["cases"].items():
        model = GriddedPSFModel.read(path, detector_id=detector_id)
        planes = [r * len(xs) + c for r in range(r0, r1) for c in range(c0, c1)]
        assert_array_equal(model.data[:, 0, 0], planes)
        expected = [(xs[c] - 1 - dx, ys[r] - 1 - dy)
                    for r in range(r0, r1) for c in range(c0, c1)]
        assert_array_equal(model.grid_xypos, expected)
        assert model.meta["detector_id"] == detector_id
    with pytest.raises(ValueError, match="detector_id is required") as info:
        GriddedPSFModel.read(path)
    assert f"STDPSF_{name}_F814W.fits" in str(info.value)
    for bad in (0, 9, 1.0, True):
        with pytest.raises(ValueError, match="detector_id must be one of 1 "):
            GriddedPSFModel.read(path, detector_id=bad)
    grid = STDPSFGrid(path)
    assert grid.grid_shape == (len(ys), len(xs))
    assert len(grid.detector_ids) in (2, 4, 8)
    assert_array_equal(grid.data[:, 0, 0], np.arange(n))


def test_read_stdpsf_detector_names(tmp_path):
    spec = MOSAICS["WFC3UV"]
    path = _write_stdpsf(tmp_path / "STDPSF_WFC3UV_F814W.fits", spec["xs"],
                         spec["ys"], images=_tagged_images(56))
    model = GriddedPSFModel.read(path, detector_id=1)
    assert model.meta["detector"] == "UVIS2"
    assert model.meta["instrument"] == "HST/WFC3"
    assert model.meta["filter"] == "F814W"
    with pytest.raises(ValueError, match=r"1 \(UVIS2, the lower chip, FLT "
                                         r"extension \('SCI', 1\)\)"):
        GriddedPSFModel.read(path)


def test_read_stdpsf_one_detector_ignores_detector_id(tmp_path):
    # a single detector's 6 x 6 grid is not WFPC2's four detectors: it
    # stays within one detector's 800 pixels
    xs = [1, 160, 320, 480, 640, 800]
    path = _write_stdpsf(tmp_path / "STDPSF_WFC3IR_F160W.fits", xs, xs,
                         images=_tagged_images(36))
    with pytest.warns(PsfkitWarning, match="detector_id=2 is ignored"):
        model = GriddedPSFModel.read(path, detector_id=2)
    assert model.grid_shape == (6, 6)
    assert model.meta["instrument"] == "HST/WFC3"
    assert STDPSFGrid(path).detector_ids == {}


def test_stdpsf_grid(tmp_path):
    spec = MOSAICS["ACSWFC"]
    path = _write_stdpsf(tmp_path / "STDPSF_ACSWFC_F606W.fits", spec["xs"],
                         spec["ys"], images=_tagged_images(90))
    grid = STDPSFGrid(path)
    assert grid.data.shape == (90, 5, 5)
    assert_array_equal(grid.oversampling, [4, 4])
    # every plane's position in the file's frame, 0-based, x fastest
    expected = [(x - 1.0, y - 1.0) for y in spec["ys"] for x in spec["xs"]]
    assert_array_equal(grid.grid_xypos, expected)
    assert grid.meta["grid_xypos"] == expected
    assert grid.meta["grid_shape"] == (10, 9)
    assert grid.meta["oversampling"] == 4
    assert grid.meta["STDPSF"] == str(path)
    assert (grid.meta["detector"], grid.meta["filter"],
            grid.meta["instrument"]) == ("ACSWFC", "F606W", "HST/ACS")
    assert grid.detector_ids == {1: "WFC2", 2: "WFC1"}
    text = repr(grid)
    assert text == str(grid)
    for part in ("STDPSF: ", "Grid_shape: (10, 9)", "Number of PSFs: 90",
                 "PSF shape (oversampled pixels): (5, 5)", "Oversampling",
                 "{1: 'WFC2', 2: 'WFC1'}"):
        assert part in text
    with pytest.raises(FitsInputError, match="header keyword NXPSFS"):
        STDPSFGrid(_write_webbpsf(tmp_path / "webb.fits", _nodes()))


# --------------------------------------------------------------------------
# photutils reads the same files


def _photutils_psf():
    return pytest.importorskip("photutils.psf")


def _assert_same_models(ours, theirs, points):
    """The same grid, and the same model values around random points."""
    assert_array_equal(sorted(map(tuple, ours.grid_xypos)),
                       sorted(map(tuple, np.asarray(theirs.grid_xypos, float))))
    assert_array_equal(ours.oversampling, theirs.oversampling)
    for x_0, y_0 in points:
        x, y = _pixels(x_0, y_0)
        ours.x_0, ours.y_0 = x_0, y_0
        theirs.x_0, theirs.y_0 = x_0, y_0
        mine, peer = ours(x, y), theirs(x, y)
        # the two splines differ by 1e-9 of the peak for dark image borders
        assert_allclose(mine, peer, rtol=0, atol=1e-7 * peer.max())


def _random_points(n, xs, ys, seed):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(min(xs), max(xs), n),
                            rng.uniform(min(ys), max(ys), n)])


def test_photutils_reads_webbpsf_alike(tmp_path):
    psf = _photutils_psf()
    nodes = _nodes()
    positions = [nodes[k] for k in (4, 0, 5, 2, 1, 3)]
    path = _write_webbpsf(tmp_path / "nircam_nrca1_f200w_npsf6.fits",
                          positions)
    ours = GriddedPSFModel.read(path, format="webbpsf")
    theirs = psf.GriddedPSFModel.read(path, format="webbpsf")
    points = [*nodes, *_random_points(6, XS, YS, seed=1)]
    _assert_same_models(ours, theirs, points)
    assert ours.meta["oversampling"] == theirs.meta["oversampling"]
    # and the file psfkit writes
    written = ours.write(tmp_path / "written.fits")
    _assert_same_models(GriddedPSFModel.read(written),
                        psf.GriddedPSFModel.read(written), points)


def test_photutils_reads_stdpsf_alike(tmp_path):
    psf = _photutils_psf()
    path = _write_stdpsf(tmp_path / "STDPSF_NRCA1_F150W.fits", XS_1, YS_1)
    ours = GriddedPSFModel.read(path, format="stdpsf")
    theirs = psf.GriddedPSFModel.read(path, format="stdpsf")
    points = [*_nodes(), *_random_points(6, XS, YS, seed=2)]
    _assert_same_models(ours, theirs, points)
    for key in ("detector", "filter", "oversampling", "nxpsfs", "nypsfs"):
        assert ours.meta[key] == theirs.meta[key], key


@pytest.mark.parametrize("name", list(MOSAICS))
def test_photutils_reads_stdpsf_detectors_alike(tmp_path, name):
    psf = _photutils_psf()
    spec = MOSAICS[name]
    n = len(spec["xs"]) * len(spec["ys"])
    path = _write_stdpsf(tmp_path / f"STDPSF_{name}_F150W.fits", spec["xs"],
                         spec["ys"], images=_tagged_images(n),
                         strings=spec.get("strings", False))
    for detector_id in spec["cases"]:
        ours = GriddedPSFModel.read(path, detector_id=detector_id)
        theirs = psf.GriddedPSFModel.read(path, format="stdpsf",
                                          detector_id=detector_id)
        # the same image at every position (photutils sorts its grid)
        pu_xy = np.asarray(theirs.grid_xypos, float)
        for (x, y), image in zip(ours.grid_xypos, ours.data, strict=True):
            k = np.flatnonzero((pu_xy[:, 0] == x) & (pu_xy[:, 1] == y))
            assert k.size == 1
            assert_array_equal(image, theirs.data[k[0]])
        assert ours.meta["detector"] == theirs.meta["detector"]
        assert ours.meta["instrument"] == theirs.meta["instrument"]
    ours, theirs = STDPSFGrid(path), psf.STDPSFGrid(path)
    assert_array_equal(ours.grid_xypos, np.asarray(theirs.grid_xypos, float))
    assert_array_equal(ours.data, theirs.data)
    assert_array_equal(ours.oversampling, theirs.oversampling)
    assert ours.meta["grid_shape"] == theirs.meta["grid_shape"]


def test_nddata_meta_is_the_model_meta():
    stack = np.random.default_rng(0).uniform(size=(4, 9, 9))
    meta = {"grid_xypos": [(0, 0), (10, 0), (0, 10), (10, 10)],
            "oversampling": 2, "detector": "NRCA1", "filter": "F200W"}
    data = NDData(stack, meta=meta)
    psf = GriddedPSFModel(data)
    assert psf.meta["detector"] == "NRCA1" and psf.meta["filter"] == "F200W"
    psf.meta["filter"] = "F150W"  # a copy: the NDData keeps its own
    assert data.meta["filter"] == "F200W"
    assert GriddedPSFModel(data, meta={"filter": "F090W"}).meta == {
        "filter": "F090W"}


def test_nddata_meta_as_photutils_keeps_it():
    pu_psf = pytest.importorskip("photutils.psf")
    stack = np.random.default_rng(1).uniform(size=(4, 9, 9))
    data = NDData(stack, meta={"grid_xypos": [(0, 0), (10, 0), (0, 10),
                                              (10, 10)],
                               "oversampling": 2, "detector": "NRCB4"})
    theirs = pu_psf.GriddedPSFModel(data)
    mine = GriddedPSFModel(data)
    for key in ("detector", "oversampling", "grid_xypos"):
        assert mine.meta[key] == theirs.meta[key]
