"""The ``psfkit photometry`` and ``psfkit diffim`` subcommands on FITS files."""

import subprocess
import sys

from astropy.io import fits
from astropy.table import QTable, Table
from astropy.wcs import WCS
import numpy as np
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
    assert "--fwhm must be a positive number" in capsys.readouterr().err
    assert main(["photometry", image, "--fwhm", "4", "--fitshape", "4", "-o",
                 str(tmp_path / "b.ecsv")]) == 2
    assert "--fitshape must be an odd integer" in capsys.readouterr().err
    cube = tmp_path / "cube.fits"
    fits.PrimaryHDU(np.zeros((2, 8, 8))).writeto(cube)
    assert main(["photometry", str(cube), "--fwhm", "3", "-o",
                 str(tmp_path / "c.ecsv")]) == 2
    assert "expected a 2-D image, got 3-D" in capsys.readouterr().err
    table = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(),
                  fits.BinTableHDU(Table({"a": [1]}))]).writeto(table)
    assert main(["photometry", str(table), "--fwhm", "3", "-o",
                 str(tmp_path / "d.ecsv")]) == 2
    assert "no HDU holds image data" in capsys.readouterr().err


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
    with fits.open(folder / "diff.fits") as hdul:
        diff = hdul[0].data
        var = hdul["VARIANCE"].data
        mask = hdul["MASK"].data.astype(bool)
        ksum = float([c for c in hdul[0].header["HISTORY"]
                      if "kernel_sum" in str(c)][0].split("=")[1])
    assert abs(ksum / truth.flux_scale - 1) < 0.03
    z = diff[~mask] / np.sqrt(var[~mask])
    mad_std = 1.4826 * np.median(np.abs(z - np.median(z)))
    assert abs(mad_std - 1) < 0.1
    assert (folder / "qa.png").stat().st_size > 10_000


def test_diffim_errors(pair_files, capsys):
    folder, _ = pair_files
    assert main(["diffim", str(folder / "tmpl.fits"), str(folder / "small.fits"),
                 "-o", str(folder / "x.fits")]) == 2
    err = capsys.readouterr().err
    assert "need a celestial WCS" in err and "(200, 256)" in err
    assert main(["diffim", str(folder / "tmpl.fits"), str(folder / "nope.fits"),
                 "-o", str(folder / "y.fits")]) == 2
    assert "nope.fits: no such file" in capsys.readouterr().err


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
