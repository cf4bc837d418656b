"""The ``psfkit photometry`` and ``psfkit diffim`` subcommands on FITS files."""

import subprocess
import sys

from astropy.io import fits
from astropy.nddata import CCDData, VarianceUncertainty
from astropy.table import QTable, Table
import astropy.units as u
from astropy.wcs import WCS
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest
from scipy.spatial import cKDTree

from psfkit.cli import main
from psfkit.datasets import (
    make_diffim_pair,
    make_gaussian_sources,
    make_noise_image,
    make_random_gaussians,
)


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "psfkit.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def star_field(tmp_path_factory):
    folder = tmp_path_factory.mktemp("field")
    truth = make_random_gaussians(60, (3000, 20000), (12, 116), (12, 116),
                                  (1.7, 1.7), (1.7, 1.7), random_state=5)
    truth["theta"] = 0.0
    image = (make_gaussian_sources((128, 128), truth, oversample=4)
             + make_noise_image((128, 128), mean=100.0, stddev=5.0,
                                random_state=6))
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [64.0, 64.0]
    wcs.wcs.cdelt = [-1e-4, 1e-4]
    # big-endian integers in a compressed extension, with a celestial WCS
    ints = np.round(image).astype(">i4")
    fits.HDUList([fits.PrimaryHDU(),
                  fits.CompImageHDU(ints, header=wcs.to_header(),
                                    compression_type="RICE_1")]
                 ).writeto(folder / "field.fits")
    return folder, truth, wcs


def _match(catalog, truth):
    tree = cKDTree(np.column_stack([truth["x_mean"], truth["y_mean"]]))
    dist, index = tree.query(np.column_stack([catalog["x_fit"], catalog["y_fit"]]))
    return dist, index


def test_photometry_subprocess_with_wcs(star_field):
    folder, truth, wcs = star_field
    proc = run_cli("photometry", "field.fits", "--fwhm", 4.0, "-o", "cat.ecsv",
                   "--residual", "res.fits", "--plot", "fig.png", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    catalog = QTable.read(folder / "cat.ecsv")
    dist, index = _match(catalog, truth)
    assert np.sum(dist < 0.5) >= 58
    good = dist < 0.5
    ratio = catalog["flux_fit"][good] / truth["flux"][index[good]]
    assert abs(np.median(ratio) - 1) < 0.02
    # sky coordinates follow the header's WCS
    ra, dec = wcs.pixel_to_world_values(catalog["x_fit"], catalog["y_fit"])
    np.testing.assert_allclose(catalog["ra"].to_value("deg"), ra, rtol=0, atol=1e-9)
    np.testing.assert_allclose(catalog["dec"].to_value("deg"), dec, rtol=0, atol=1e-9)
    assert catalog.meta["fwhm"] == 4.0
    residual = fits.getdata(folder / "res.fits")
    assert residual.shape == (128, 128)
    assert np.std(residual) < 8.0  # noise is 5; unsubtracted stars would add a lot
    assert (folder / "fig.png").stat().st_size > 10_000


def test_photometry_epsf(star_field, tmp_path):
    folder, truth, _ = star_field
    out = tmp_path / "epsf.ecsv"
    assert main(["photometry", str(folder / "field.fits"), "--fwhm", "4",
                 "--psf", "epsf", "-q", "-o", str(out)]) == 0
    catalog = QTable.read(out)
    dist, _ = _match(catalog, truth)
    assert np.sum(dist < 0.5) >= 55


def test_photometry_errors(star_field, tmp_path, capsys):
    folder, _, _ = star_field
    image = str(folder / "field.fits")
    assert main(["photometry", image, "--fwhm", "-1", "-o",
                 str(tmp_path / "a.ecsv")]) == 2
    assert "--fwhm: must be a positive number" in capsys.readouterr().err
    assert main(["photometry", image, "--fwhm", "4", "--fitshape", "4", "-o",
                 str(tmp_path / "b.ecsv")]) == 2
    assert "--fitshape must be an odd integer" in capsys.readouterr().err
    cube = tmp_path / "cube.fits"
    fits.PrimaryHDU(np.zeros((2, 8, 8))).writeto(cube)
    assert main(["photometry", str(cube), "--fwhm", "3", "-o",
                 str(tmp_path / "c.ecsv")]) == 2
    assert "the image must be a 2-D array, got a 3-D array" in \
        capsys.readouterr().err
    table = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(),
                  fits.BinTableHDU(Table({"a": [1]}))]).writeto(table)
    assert main(["photometry", str(table), "--fwhm", "3", "-o",
                 str(tmp_path / "d.ecsv")]) == 2
    assert "no HDU holds image data" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.ecsv"))


def test_photometry_units_mask_and_error_from_the_file(tmp_path):
    # BUNIT was ignored: the catalog's fluxes had no unit
    truth = make_random_gaussians(25, (2000, 8000), (10, 54), (10, 54),
                                  (1.5, 1.5), (1.5, 1.5), random_state=2)
    truth["theta"] = 0.0
    rng = np.random.default_rng(3)
    image = make_gaussian_sources((64, 64), truth) + rng.normal(20.0, 3.0,
                                                                (64, 64))
    mask = np.zeros((64, 64), np.uint8)
    mask[:, 40] = 1  # a bad column, set to garbage in the data
    image[:, 40] = 1e6
    header = fits.Header()
    header["BUNIT"] = "electron"
    fits.HDUList([fits.PrimaryHDU(image.astype(np.float32), header=header),
                  fits.ImageHDU(mask, name="MASK"),
                  fits.ImageHDU(np.full((64, 64), 3.0, np.float32), name="ERR")]
                 ).writeto(tmp_path / "e.fits")
    assert main(["photometry", str(tmp_path / "e.fits"), "--fwhm", "3.5", "-q",
                 "-o", str(tmp_path / "e.ecsv"), "--residual",
                 str(tmp_path / "r.fits")]) == 0
    catalog = QTable.read(tmp_path / "e.ecsv")
    assert catalog["flux_fit"].unit == u.electron
    assert catalog["flux_unc"].unit == u.electron
    # the garbage in the masked column made no detection: every star found
    # is a true one, and the stars away from the column are all found
    dist, index = _match(catalog, truth)
    assert np.all(dist < 1.0)
    near_column = np.abs(truth["x_mean"] - 40) < 3
    assert len(set(index[dist < 0.5])) >= np.count_nonzero(~near_column) - 1
    residual = CCDData.read(tmp_path / "r.fits")
    assert residual.unit == u.electron
    assert residual.data.dtype.name == "float32"
    assert residual.mask[:, 40].all()
    assert_allclose(residual.uncertainty.array, 3.0)
    assert residual.header["NSTARS"] == len(catalog)


def test_photometry_image_smaller_than_the_fit_box(tmp_path, capsys):
    # a 1x1 image ran and reported an empty catalog
    fits.PrimaryHDU(np.ones((1, 1))).writeto(tmp_path / "one.fits")
    assert main(["photometry", str(tmp_path / "one.fits"), "--fwhm", "3",
                 "-o", str(tmp_path / "o.ecsv")]) == 2
    err = capsys.readouterr().err
    assert "one.fits: the image is 1x1 pixels; photometry with a 9x9 fit " \
           "box needs at least 9x9" in err
    assert not (tmp_path / "o.ecsv").exists()


@pytest.fixture(scope="module")
def pair_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pair")
    template, science, truth = make_diffim_pair(random_state=4)
    fits.PrimaryHDU(template.data.astype(np.float32)).writeto(folder / "tmpl.fits")
    fits.PrimaryHDU(science.data.astype(">f4")).writeto(folder / "sci.fits")
    fits.PrimaryHDU(science.data[:200]).writeto(folder / "small.fits")
    return folder, truth


def test_diffim_subprocess(pair_files):
    folder, truth = pair_files
    proc = run_cli("diffim", "tmpl.fits", "sci.fits", "-o", "diff.fits",
                   "--plot", "qa.png", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    # astropy's reader gets the difference with its unit, mask and variance
    diff = CCDData.read(folder / "diff.fits")
    assert diff.unit == u.Unit("DN")  # assumed: the inputs have no BUNIT
    assert "no BUNIT" in diff.header.comments["BUNIT"]
    assert isinstance(diff.uncertainty, VarianceUncertainty)
    # float32 in, float32 out (it was float64)
    assert diff.data.dtype.name == "float32"
    assert diff.uncertainty.array.dtype.name == "float32"
    # the kernel sum is a keyword, not only HISTORY
    assert abs(diff.header["KERNSUM"] / truth.flux_scale - 1) < 0.03
    assert diff.header["NCANDUSE"] <= diff.header["NCANDS"]
    good = ~diff.mask
    z = diff.data[good] / np.sqrt(diff.uncertainty.array[good])
    mad_std = 1.4826 * np.median(np.abs(z - np.median(z)))
    assert abs(mad_std - 1) < 0.1
    assert abs(diff.header["DIFFSTD"] - mad_std) < 0.02
    assert (folder / "qa.png").stat().st_size > 10_000


def test_diffim_reads_mask_error_wcs_and_unit(pair_files, tmp_path):
    folder, truth = pair_files
    template = fits.getdata(folder / "tmpl.fits")
    # the simulator's own per-pixel errors and mask (as in pair_files)
    _, simulated, _ = make_diffim_pair(random_state=4)
    science = simulated.data.astype(np.float32)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [30.0, -10.0]
    wcs.wcs.crpix = [128.0, 128.0]
    wcs.wcs.cdelt = [-5e-5, 5e-5]
    header = wcs.to_header()
    header["BUNIT"] = "electron"
    mask = np.asarray(simulated.mask, np.uint8)
    mask[:, 100] = 4
    science[:, 100] = 1e7  # a dead column holding garbage
    err = np.sqrt(simulated.uncertainty.array).astype(np.float32)
    fits.HDUList([fits.PrimaryHDU(science, header=header),
                  fits.ImageHDU(mask, name="DQ"),
                  fits.ImageHDU(err, name="ERR")]).writeto(tmp_path / "s.fits")
    fits.PrimaryHDU(template, header=header).writeto(tmp_path / "t.fits")
    assert main(["diffim", str(tmp_path / "t.fits"), str(tmp_path / "s.fits"),
                 "-q", "-o", str(tmp_path / "d.fits")]) == 0
    diff = CCDData.read(tmp_path / "d.fits")
    assert diff.unit == u.electron
    assert diff.mask[:, 100].all()
    assert np.all(np.isfinite(diff.data[~diff.mask]))
    # the variance carries the science image's own errors (plus a little
    # from the convolved template)
    good = ~diff.mask
    ratio = diff.uncertainty.array[good] / err[good] ** 2
    assert 1.0 < np.median(ratio) < 1.1 and ratio.min() > 0.95
    with fits.open(tmp_path / "d.fits") as hdul:
        for name in ("PRIMARY", "MASK", "UNCERT"):
            assert hdul[name].header["CTYPE1"] == "RA---TAN"
        assert hdul["UNCERT"].header["BUNIT"] == "electron2"
    assert_allclose(diff.wcs.pixel_to_world_values(127.0, 127.0), (30.0, -10.0))


def test_diffim_errors(pair_files, tmp_path, capsys):
    folder, _ = pair_files
    assert main(["diffim", str(folder / "tmpl.fits"), str(folder / "small.fits"),
                 "-o", str(tmp_path / "x.fits")]) == 2
    err = capsys.readouterr().err
    assert "need a celestial WCS" in err and "(200, 256)" in err
    assert main(["diffim", str(folder / "tmpl.fits"), str(folder / "nope.fits"),
                 "-o", str(tmp_path / "y.fits")]) == 2
    assert "nope.fits: no such file" in capsys.readouterr().err
    # a 1x1 image said "data is empty (shape (0,))"
    fits.PrimaryHDU(np.ones((1, 1))).writeto(tmp_path / "one.fits")
    assert main(["diffim", str(tmp_path / "one.fits"), str(tmp_path / "one.fits"),
                 "-o", str(tmp_path / "z.fits")]) == 2
    assert ("one.fits: the image is 1x1 pixels; image differencing needs at "
            "least") in capsys.readouterr().err
    # a truncated file gave numpy's reshape message without the file name
    data = (folder / "sci.fits").read_bytes()
    (tmp_path / "cut.fits").write_bytes(data[: len(data) // 2])
    assert main(["diffim", str(folder / "tmpl.fits"), str(tmp_path / "cut.fits"),
                 "-o", str(tmp_path / "w.fits")]) == 2
    assert "cut.fits: the data of HDU 0 cannot be read: the file is truncated" \
        in capsys.readouterr().err
    assert not list(tmp_path.glob("[xyzw].fits"))


def test_photometry_jobs_tiles_match_single_pass(tmp_path):
    truth = make_random_gaussians(120, (3000, 20000), (8, 248), (8, 248),
                                  (1.7, 1.7), (1.7, 1.7), random_state=8)
    truth["theta"] = 0.0
    image = (make_gaussian_sources((256, 256), truth, oversample=4)
             + make_noise_image((256, 256), mean=50.0, stddev=4.0,
                                random_state=9))
    fits.PrimaryHDU(image).writeto(tmp_path / "big.fits")
    one, two = tmp_path / "one.ecsv", tmp_path / "two.ecsv"
    assert main(["photometry", str(tmp_path / "big.fits"), "--fwhm", "4", "-q",
                 "-o", str(one)]) == 0
    assert main(["photometry", str(tmp_path / "big.fits"), "--fwhm", "4", "-q",
                 "-j", "2", "-o", str(two)]) == 0
    a, b = QTable.read(one), QTable.read(two)
    assert len(a) == len(b)
    dist, index = cKDTree(np.column_stack([a["x_fit"], a["y_fit"]])).query(
        np.column_stack([b["x_fit"], b["y_fit"]]))
    assert np.median(dist) < 1e-6
    assert np.sum(dist > 0.05) <= 2  # blends split by a tile edge may differ
    assert main(["photometry", str(tmp_path / "big.fits"), "--fwhm", "4", "-q",
                 "-j", "0", "-o", str(tmp_path / "x.ecsv")]) == 2


def test_tile_plan_costs_the_margins():
    from psfkit._commands.photometry import MIN_TILE_GAIN, tile_plan
    from psfkit.utils import tile_grid

    # two halves of 300 x (150 + 29) px: each process measures one
    core, n_tiles, gain = tile_plan((300, 300), 2, 29)
    assert (core, n_tiles) == ((300, 150), 2)
    assert gain == pytest.approx(300 / 179)
    # four quarters of 2048**2 for two processes: two of 1053 x 1053 each
    core, n_tiles, gain = tile_plan((2048, 2048), 2, 29)
    assert (core, n_tiles) == ((1024, 1024), 4)
    assert gain == pytest.approx(2048 ** 2 / (2 * 1053 ** 2))
    for jobs in (2, 3, 4, 8):
        core, n_tiles, gain = tile_plan((2048, 1536), jobs, 29)
        assert 0.85 * jobs < gain <= jobs
        # the cost, against the tiles tile_grid lays out: the cores cover
        # the image once, and the busiest process measures what was costed
        tiles = tile_grid((2048, 1536), core, (29, 29))
        assert len(tiles) == n_tiles >= jobs
        cover = np.zeros((2048, 1536), dtype=int)
        for (rows, cols), _ in tiles:
            cover[rows, cols] += 1
        assert np.all(cover == 1)
        largest = max((t[0].stop - t[0].start) * (t[1].stop - t[1].start)
                      for _, t in tiles)
        assert gain == pytest.approx(
            2048 * 1536 / (-(-n_tiles // jobs) * largest))
    # an image a few margins wide: tiles would be mostly margin
    assert tile_plan((60, 60), 2, 29)[2] < MIN_TILE_GAIN
    assert tile_plan((20, 20), 2, 29)[2] == 1.0
    # many processes: the cost is counted, not laid out
    core, n_tiles, gain = tile_plan((4096, 4096), 32, 29)
    assert n_tiles >= 32 and gain > 20


def test_photometry_jobs_on_a_small_image_runs_one_pass(small_field, tmp_path,
                                                        capsys):
    image, _ = small_field
    fits.PrimaryHDU(image).writeto(tmp_path / "small.fits")
    one, two = tmp_path / "one.ecsv", tmp_path / "two.ecsv"
    assert main(["photometry", str(tmp_path / "small.fits"), "--fwhm", "3.5",
                 "-q", "-o", str(one)]) == 0
    capsys.readouterr()
    assert main(["photometry", str(tmp_path / "small.fits"), "--fwhm", "3.5",
                 "-v", "-j", "2", "-o", str(two)]) == 0
    out = capsys.readouterr().out
    assert "one pass: the 64x64 image is too small to gain from tiles" in out
    a, b = QTable.read(one), QTable.read(two)
    assert len(a) == len(b) > 10
    assert_array_equal(a["x_fit"], b["x_fit"])
    assert_array_equal(a["flux_fit"], b["flux_fit"])


@pytest.fixture(scope="module")
def small_field():
    truth = make_random_gaussians(20, (4000, 12000), (8, 56), (8, 56),
                                  (1.5, 1.5), (1.5, 1.5), random_state=11)
    truth["theta"] = 0.0
    image = (make_gaussian_sources((64, 64), truth)
             + make_noise_image((64, 64), mean=30.0, stddev=3.0,
                                random_state=12))
    return image.astype(np.float32), truth


def _sky_header(kind):
    wcs = WCS(naxis=2)
    if kind == "swapped":
        # declination on the first axis: the catalog's ra and dec were swapped
        wcs.wcs.ctype = ["DEC--TAN", "RA---TAN"]
        wcs.wcs.crval = [-30.0, 210.0]
        wcs.wcs.cdelt = [2e-4, -2e-4]
    else:
        # Galactic longitude and latitude were labelled ra and dec
        wcs.wcs.ctype = ["GLON-TAN", "GLAT-TAN"]
        wcs.wcs.crval = [45.0, 10.0]
        wcs.wcs.cdelt = [-2e-4, 2e-4]
    wcs.wcs.crpix = [32.0, 32.0]
    return wcs.to_header()


@pytest.mark.parametrize("kind", ["swapped", "galactic"])
def test_photometry_ra_dec_are_icrs_whatever_the_axes(small_field, tmp_path,
                                                      kind):
    from astropy.coordinates import SkyCoord

    image, _ = small_field
    fits.PrimaryHDU(image, header=_sky_header(kind)).writeto(tmp_path / "s.fits")
    assert main(["photometry", str(tmp_path / "s.fits"), "--fwhm", "3.5",
                 "-q", "-o", str(tmp_path / "s.ecsv")]) == 0
    catalog = QTable.read(tmp_path / "s.ecsv")
    assert len(catalog) >= 15
    # astropy's own reading of the header's axes and frame
    first, second = WCS(fits.getheader(tmp_path / "s.fits")).wcs_pix2world(
        np.asarray(catalog["x_fit"]), np.asarray(catalog["y_fit"]), 0)
    if kind == "swapped":
        expected = SkyCoord(ra=second * u.deg, dec=first * u.deg, frame="icrs")
    else:
        expected = SkyCoord(l=first * u.deg, b=second * u.deg,
                            frame="galactic").icrs
    assert_allclose(catalog["ra"].to_value(u.deg), expected.ra.deg, rtol=0,
                    atol=1e-9)
    assert_allclose(catalog["dec"].to_value(u.deg), expected.dec.deg, rtol=0,
                    atol=1e-9)


def _with_error(image, kind):
    """The image with an error extension where column 20 has no error."""
    if kind == "IVAR":
        values = np.full(image.shape, 1 / 9.0, np.float32)
        values[:, 20] = 0.0
    else:
        values = np.full(image.shape, 3.0, np.float32)
        values[:, 20] = 0.0 if kind == "ERR=0" else np.nan
    mask = np.zeros(image.shape, np.uint8)
    mask[30, :] = 1
    return fits.HDUList([fits.PrimaryHDU(image),
                         fits.ImageHDU(mask, name="MASK"),
                         fits.ImageHDU(values, name=kind.split("=")[0])])


@pytest.mark.parametrize("kind", ["ERR=0", "ERR=NaN", "IVAR"])
def test_photometry_pixels_without_error_are_masked(small_field, tmp_path,
                                                   capsys, kind):
    # a zero ERR failed the run; a NaN ERR or zero IVAR was left out of the
    # fit but not marked in the residual's MASK, and masked pixels were not
    # NaN in the residual
    image, truth = small_field
    _with_error(image, kind).writeto(tmp_path / "e.fits")
    assert main(["photometry", str(tmp_path / "e.fits"), "--fwhm", "3.5", "-v",
                 "-o", str(tmp_path / "e.ecsv"), "--residual",
                 str(tmp_path / "r.fits")]) == 0
    # the 64 pixels of column 20, one of them in the masked row 30
    assert "masked 63 pixels with a zero or non-finite error" in \
        capsys.readouterr().out
    residual = CCDData.read(tmp_path / "r.fits")
    bad = np.zeros(image.shape, bool)
    bad[30, :] = bad[:, 20] = True
    assert_array_equal(residual.mask, bad)
    assert np.all(np.isnan(residual.data[bad]))
    assert np.all(np.isfinite(residual.data[~bad]))
    catalog = QTable.read(tmp_path / "e.ecsv")
    dist, _ = _match(catalog, truth)
    assert np.sum(dist < 0.5) >= 15


def test_photometry_error_kinds_agree(small_field, tmp_path):
    # a zero ERR, a NaN ERR and a zero IVAR mean the same: no usable error
    image, _ = small_field
    catalogs = []
    for kind in ("ERR=0", "ERR=NaN", "IVAR"):
        path = tmp_path / f"{len(catalogs)}.fits"
        _with_error(image, kind).writeto(path)
        assert main(["photometry", str(path), "--fwhm", "3.5", "-q", "-o",
                     str(path.with_suffix(".ecsv"))]) == 0
        catalogs.append(QTable.read(path.with_suffix(".ecsv")))
    for other in catalogs[1:]:
        assert len(other) == len(catalogs[0])
        assert_allclose(np.asarray(other["flux_fit"]),
                        np.asarray(catalogs[0]["flux_fit"]), rtol=1e-4)


def test_photometry_failure_prints_only_the_error(small_field, tmp_path,
                                                  capsys):
    # the background line was printed before a failed ePSF build
    image, _ = small_field
    few = np.array(image)
    few[:, 24:] = np.median(image)  # too few isolated stars remain
    fits.PrimaryHDU(few).writeto(tmp_path / "few.fits")
    assert main(["photometry", str(tmp_path / "few.fits"), "--fwhm", "3.5",
                 "--psf", "epsf", "-o", str(tmp_path / "f.ecsv")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "isolated stars were found for an empirical PSF" in captured.err


def test_photometry_all_nan_image_names_the_file(tmp_path, capsys):
    fits.PrimaryHDU(np.full((32, 32), np.nan, np.float32)).writeto(
        tmp_path / "blank.fits")
    assert main(["photometry", str(tmp_path / "blank.fits"), "--fwhm", "3",
                 "-o", str(tmp_path / "b.ecsv")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'blank.fits'}: the image has no usable values" in err


def test_photometry_flags_scheme_is_recorded(small_field, tmp_path):
    from psfkit.photometry import PSFFlags

    image, _ = small_field
    fits.PrimaryHDU(image).writeto(tmp_path / "p.fits")
    assert main(["photometry", str(tmp_path / "p.fits"), "--fwhm", "3.5", "-q",
                 "-o", str(tmp_path / "p.ecsv")]) == 0
    catalog = QTable.read(tmp_path / "p.ecsv")
    description = catalog["flags"].description
    assert "psfkit.photometry.PSFFlags" in description
    for flag in PSFFlags:
        assert f"{int(flag)} {flag.name}" in description
    assert catalog.meta["flags"] == "psfkit.photometry.PSFFlags"


def test_photometry_of_a_degenerate_cube(small_field, tmp_path):
    # a (1, ny, nx) cube was refused as 3-D
    image, _ = small_field
    header = _sky_header("swapped")
    header["CTYPE3"] = "FREQ"
    header["CRVAL3"] = 1.4e9
    header["CDELT3"] = 1e6
    header["CRPIX3"] = 1.0
    fits.PrimaryHDU(image[None], header=header).writeto(tmp_path / "c.fits")
    fits.PrimaryHDU(image, header=_sky_header("swapped")).writeto(
        tmp_path / "p.fits")
    for name in ("c", "p"):
        assert main(["photometry", str(tmp_path / f"{name}.fits"), "--fwhm",
                     "3.5", "-q", "-o", str(tmp_path / f"{name}.ecsv"),
                     "--residual", str(tmp_path / f"{name}_r.fits")]) == 0
    cube, plane = (QTable.read(tmp_path / f"{n}.ecsv") for n in ("c", "p"))
    assert len(cube) == len(plane)
    for name in ("x_fit", "y_fit", "flux_fit", "ra", "dec"):
        assert_allclose(np.asarray(cube[name]), np.asarray(plane[name]))
    with fits.open(tmp_path / "c_r.fits") as residual:
        assert residual[0].data.shape == (64, 64)
        assert residual[0].header["NAXIS"] == 2
        assert "CTYPE3" not in residual[0].header


def test_photometry_workers_draw_no_bars(small_field, tmp_path, capsys):
    # with -v -j N every worker drew its own bars on the same terminal
    image, _ = small_field
    big = np.tile(image, (3, 3))
    fits.PrimaryHDU(big).writeto(tmp_path / "big.fits")
    assert main(["photometry", str(tmp_path / "big.fits"), "--fwhm", "3.5",
                 "-v", "-j", "2", "-o", str(tmp_path / "b.ecsv")]) == 0
    err = capsys.readouterr().err
    assert "tiles" in err and "photometry passes" not in err


def test_photometry_single_run_bars_do_not_fight(small_field, tmp_path,
                                                 capsys):
    # an elapsed-time display was refreshed from a thread over the engine's
    # own bars; now only the engine's (nested) bars are drawn
    image, _ = small_field
    fits.PrimaryHDU(image).writeto(tmp_path / "one.fits")
    assert main(["photometry", str(tmp_path / "one.fits"), "--fwhm", "3.5",
                 "-v", "-o", str(tmp_path / "o.ecsv")]) == 0
    err = capsys.readouterr().err
    assert "photometry passes" in err
    assert "finding and fitting stars" not in err
