"""The ``psfkit ramps`` and ``psfkit loci`` subcommands on FITS files."""

import subprocess
import sys

from astropy.io import fits
import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit.cli import main
from psfkit.datasets import make_adi_sequence, make_ramp_cube


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "psfkit.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def ramp_file(tmp_path):
    cube, truth = make_ramp_cube((24, 20), 10, rate=40.0, read_noise=5.0,
                                 gain=1.0, random_state=3)
    path = tmp_path / "cube.fits"
    # FITS data from detectors are big-endian integers
    fits.PrimaryHDU(np.round(cube).astype(">i4")).writeto(path)
    return path, truth


def test_ramps_subprocess(ramp_file, tmp_path):
    path, truth = ramp_file
    out = tmp_path / "slope.fits"
    proc = run_cli("ramps", path, "--read-noise", 5, "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout
    with fits.open(out) as hdul:
        slope = hdul[0].data
        err = hdul["SLOPE_ERR"].data
        assert hdul[0].header["PSFKITV"]
        assert hdul["FLAGS"].data.shape == (24, 20)
        assert np.all(hdul["N_USED"].data == 10)
    pull = (slope - truth.rate) / err
    assert abs(np.mean(pull)) < 0.2
    assert 0.8 < np.std(pull) < 1.2


def test_ramps_errors(ramp_file, tmp_path, capsys):
    path, _ = ramp_file
    # --jumps needs the read noise
    assert main(["ramps", str(path), "--jumps", "-o",
                 str(tmp_path / "a.fits")]) == 2
    assert "--jumps needs --read-noise" in capsys.readouterr().err
    # a thread count below one
    assert main(["ramps", str(path), "-j", "0", "-o",
                 str(tmp_path / "j.fits")]) == 2
    assert "-j/--jobs must be at least 1, got 0" in capsys.readouterr().err
    # two threads give the single-thread result
    assert main(["ramps", str(path), "-j", "2", "-q", "-o",
                 str(tmp_path / "j2.fits")]) == 0
    assert main(["ramps", str(path), "-j", "1", "-q", "-o",
                 str(tmp_path / "j1.fits")]) == 0
    assert_allclose(fits.getdata(tmp_path / "j2.fits"),
                    fits.getdata(tmp_path / "j1.fits"), rtol=1e-6)
    # a 2-D image where a cube is needed
    flat = tmp_path / "flat.fits"
    fits.PrimaryHDU(np.zeros((5, 5))).writeto(flat)
    assert main(["ramps", str(flat), "-o", str(tmp_path / "b.fits")]) == 2
    assert "expected a 3-D image" in capsys.readouterr().err
    # existing output without --overwrite, then with it
    out = tmp_path / "c.fits"
    assert main(["ramps", str(path), "-q", "-o", str(out)]) == 0
    assert main(["ramps", str(path), "-q", "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["ramps", str(path), "-q", "-o", str(out), "--overwrite"]) == 0
    # never overwrite the input, even with --overwrite
    assert main(["ramps", str(path), "-q", "-o", str(path), "--overwrite"]) == 2
    assert "refusing to overwrite an input" in capsys.readouterr().err


@pytest.fixture
def adi_files(tmp_path):
    cube, parangs, truth = make_adi_sequence(n_frames=10, shape=(41, 41),
                                             random_state=0)
    cube = np.asarray(cube, dtype=float)
    header = fits.Header()
    header["PARANG"] = " ".join(f"{a:.6f}" for a in parangs)
    fits.PrimaryHDU(cube, header=header).writeto(tmp_path / "adi.fits")
    fits.PrimaryHDU(cube[1:]).writeto(tmp_path / "refs.fits")
    fits.PrimaryHDU(cube[0]).writeto(tmp_path / "target.fits")
    np.savetxt(tmp_path / "parangs.txt", parangs, header="parang", comments="")
    return tmp_path, cube, parangs


def test_loci_rdi_subprocess_matches_library(adi_files):
    from psfkit.fitpsf import LOCI

    folder, cube, _ = adi_files
    proc = run_cli("loci", "target.fits", "--refs", "refs.fits", "-o", "res.fits",
                   cwd=folder)
    assert proc.returncode == 0, proc.stderr
    written = fits.getdata(folder / "res.fits")
    expected = LOCI(cube[1:]).remove_psf(cube[0])
    good = ~np.ma.getmaskarray(expected)
    assert_allclose(written[good], expected.data[good], rtol=1e-10, atol=1e-8)
    assert np.all(np.isnan(written[~good]))
    # the residual is much fainter than the star
    assert np.nanstd(written) < 0.2 * np.std(cube[0])


@pytest.mark.parametrize("parangs", ["PARANG", "parangs.txt"])
def test_loci_adi_klip(adi_files, parangs, capsys):
    folder, cube, angles = adi_files
    out = folder / f"adi_{parangs}.fits"
    assert main(["loci", str(folder / "adi.fits"), "--parangs",
                 parangs if parangs == "PARANG" else str(folder / parangs),
                 "--method", "klip", "--klip-k", "3", "-q", "-o", str(out)]) == 0
    assert fits.getdata(out).shape == cube.shape[1:]


def test_loci_errors(adi_files, capsys):
    folder, _, _ = adi_files
    assert main(["loci", str(folder / "target.fits"), "-o",
                 str(folder / "x.fits")]) == 2
    assert "needs --refs" in capsys.readouterr().err
    assert main(["loci", str(folder / "adi.fits"), "-o",
                 str(folder / "y.fits")]) == 2
    assert "needs --parangs" in capsys.readouterr().err
    assert main(["loci", str(folder / "adi.fits"), "--parangs", "NOPE", "-o",
                 str(folder / "z.fits")]) == 2
    assert "neither a file nor a header keyword" in capsys.readouterr().err
    small = folder / "small.fits"
    fits.PrimaryHDU(np.zeros((3, 10, 10))).writeto(small)
    assert main(["loci", str(folder / "target.fits"), "--refs", str(small),
                 "-o", str(folder / "w.fits")]) == 2
    assert "reference images are (10, 10)" in capsys.readouterr().err


def test_missing_file_no_traceback(tmp_path):
    proc = run_cli("ramps", "missing.fits", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "psfkit ramps: error: missing.fits: no such file"
    assert "Traceback" not in proc.stderr
    proc = run_cli("ramps", "missing.fits", "--debug", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_unreadable_fits_subprocess(tmp_path):
    bad = tmp_path / "broken.fits"
    bad.write_bytes(b"SIMPLE  =                    T" + b"\0" * 100)
    proc = run_cli("photometry", bad, "--fwhm", 3, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("psfkit photometry: error: ")
    assert "broken.fits" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
