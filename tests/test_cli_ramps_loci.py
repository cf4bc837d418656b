"""The ``psfkit ramps`` and ``psfkit loci`` subcommands on FITS files."""

import subprocess
import sys

from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty
from astropy.table import Table
import astropy.units as u
import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit.cli import main
from psfkit.datasets import make_adi_sequence, make_ramp_cube
from psfkit.modelsets import JUMP_DET


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
    proc = run_cli("ramps", path, "--read-noise", 5, "--frame-time", 1,
                   "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout
    slope = CCDData.read(out)
    # 'DN/frame' could not be parsed by astropy; int32 data give float64
    assert slope.unit == u.Unit("DN / s")
    assert slope.data.dtype.name == "float64"
    assert isinstance(slope.uncertainty, StdDevUncertainty)
    assert not slope.mask.any()
    assert slope.header["PSFKITV"] and slope.header["NREADS"] == 10
    assert slope.header["FRMTIME"] == 1.0
    with fits.open(out) as hdul:
        assert hdul["FLAGS"].data.shape == (24, 20)
        assert np.all(hdul["N_USED"].data == 10)
    pull = (slope.data - truth.rate) / slope.uncertainty.array
    assert abs(np.mean(pull)) < 0.2
    assert 0.8 < np.std(pull) < 1.2


@pytest.mark.parametrize(("bunit", "frame_time", "header_key", "unit", "scale"), [
    (None, None, None, "DN / s", 1.0),
    ("electron", "2.5", None, "electron / s", 2.5),
    ("adu", None, "TGROUP", "adu / s", 10.6),
    (None, None, "TFRAME", "DN / s", 0.5),
])
def test_ramps_units_and_frame_time(tmp_path, bunit, frame_time, header_key,
                                    unit, scale):
    cube, truth = make_ramp_cube((8, 6), 6, rate=30.0, read_noise=2.0,
                                 random_state=4)
    header = fits.Header()
    if bunit:
        header["BUNIT"] = bunit
    if header_key:
        header[header_key] = scale
    data = np.round(cube).astype(">i2")
    fits.PrimaryHDU(data, header=header).writeto(tmp_path / "c.fits")
    argv = ["ramps", str(tmp_path / "c.fits"), "-q", "-o", str(tmp_path / "s.fits")]
    if frame_time:
        argv += ["--frame-time", frame_time]
    assert main(argv) == 0
    slope = CCDData.read(tmp_path / "s.fits")
    assert slope.unit == u.Unit(unit)
    # 16-bit integers in, float32 out
    assert slope.data.dtype.name == "float32"
    assert slope.header["FRMTIME"] == scale
    # per second: the rate per read divided by the time between reads
    expected = np.polyfit(np.arange(6), data.reshape(6, -1).astype(float), 1)[0]
    assert_allclose(slope.data.ravel(), expected / scale, rtol=1e-5)


def test_ramps_progress_with_verbose(ramp_file, tmp_path, capsys):
    # off a terminal a command is quiet; -v shows the bar of the chunks
    pytest.importorskip("tqdm")
    path, _ = ramp_file
    out = tmp_path / "slope.fits"
    assert main(["ramps", str(path), "--read-noise", "5", "--frame-time", "1",
                 "-o", str(out)]) == 0
    assert "pixel/s" not in capsys.readouterr().err
    assert main(["ramps", str(path), "--read-noise", "5", "--frame-time", "1",
                 "-o", str(out), "--overwrite", "-v"]) == 0
    err = capsys.readouterr().err
    assert "fit_ramps: 100%" in err and "480/480" in err


def test_ramps_match_the_library_with_a_mask(tmp_path):
    from psfkit.modelsets import fit_ramps

    cube, truth = make_ramp_cube((300, 250), 5, rate=20.0, read_noise=4.0,
                                 jump_fraction=0.05, random_state=9)
    mask = np.zeros(cube.shape, bool)
    mask[2, 17, :] = True
    fits.HDUList([fits.PrimaryHDU(cube),
                  fits.ImageHDU(mask.astype(np.uint8), name="MASK")]
                 ).writeto(tmp_path / "c.fits")
    assert main(["ramps", str(tmp_path / "c.fits"), "--read-noise", "4",
                 "--jumps", "--frame-time", "1", "-q",
                 "-o", str(tmp_path / "s.fits")]) == 0
    whole = fit_ramps(cube, np.arange(5.0), read_noise=4.0, mask=mask,
                      weighting="optimal", detect_jumps=True)
    with fits.open(tmp_path / "s.fits") as hdul:
        assert_allclose(hdul[0].data, whole.slope, rtol=1e-12, equal_nan=True)
        assert np.array_equal(hdul["FLAGS"].data, whole.flags)
        assert np.array_equal(hdul["N_USED"].data, whole.n_used)
        # the masked read (and a read more where a jump was found)
        jumped = (whole.flags[17] & JUMP_DET) > 0
        assert np.all(hdul["N_USED"].data[17][~jumped] == 4)


def test_ramps_errors(ramp_file, tmp_path, capsys):
    path, _ = ramp_file
    # --jumps needs the read noise
    assert main(["ramps", str(path), "--jumps", "-o",
                 str(tmp_path / "a.fits")]) == 2
    assert "--jumps needs --read-noise" in capsys.readouterr().err
    # a thread count below one
    assert main(["ramps", str(path), "-j", "0", "-o",
                 str(tmp_path / "j.fits")]) == 2
    assert "-j/--jobs: must be at least 1, got 0" in capsys.readouterr().err
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
    assert "flat.fits: the image must be a 3-D array, got a 2-D array" in \
        capsys.readouterr().err
    # BUNIT of psfkit 0.1's own output, which astropy cannot parse
    header = fits.Header()
    header["BUNIT"] = "DN/frame"
    fits.PrimaryHDU(np.zeros((3, 4, 4)), header=header).writeto(
        tmp_path / "old.fits")
    assert main(["ramps", str(tmp_path / "old.fits"), "-o",
                 str(tmp_path / "o.fits")]) == 2
    assert "BUNIT 'DN/frame' is not a unit astropy can read" in \
        capsys.readouterr().err
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
    residual = CCDData.read(folder / "res.fits")
    assert residual.unit == u.Unit("DN")
    assert np.array_equal(residual.mask, ~good)
    assert residual.header["NREFS"] == 9 and residual.header["METHOD"] == "LOCI"
    # the residual is much fainter than the star
    assert np.nanstd(written) < 0.2 * np.std(cube[0])


def test_loci_single_target_shows_a_bar_over_the_regions(adi_files, capsys):
    # one target showed only the elapsed time; now a bar counts the regions
    # fitted (as the ADI path counts frames), and without -v off a
    # terminal nothing is drawn
    pytest.importorskip("tqdm")
    from psfkit.fitpsf import LOCI

    folder, cube, _ = adi_files
    n = len(LOCI(cube[1:], cube[0]).regions())
    argv = ["loci", str(folder / "target.fits"), "--refs",
            str(folder / "refs.fits"), "-o", str(folder / "r.fits")]
    assert main([*argv, "-v"]) == 0
    err = capsys.readouterr().err
    assert "PSF regions: 100%" in err and f"{n}/{n}" in err
    assert "fitting and subtracting" not in err
    assert main([*argv, "--overwrite"]) == 0
    assert "PSF regions" not in capsys.readouterr().err


@pytest.mark.parametrize("parangs", ["PARANG", "parangs.txt"])
def test_loci_adi_klip(adi_files, parangs, capsys):
    folder, cube, angles = adi_files
    out = folder / f"adi_{parangs}.fits"
    assert main(["loci", str(folder / "adi.fits"), "--parangs",
                 parangs if parangs == "PARANG" else str(folder / parangs),
                 "--method", "klip", "--klip-k", "3", "-q", "-o", str(out)]) == 0
    assert fits.getdata(out).shape == cube.shape[1:]


def _write_parangs(path, kind, angles):
    if kind == "savetxt":
        np.savetxt(path, angles)
    elif kind == "savetxt-header":
        np.savetxt(path, angles, header="parang")  # '# parang': a comment
    elif kind == "savetxt-names":
        np.savetxt(path, angles, header="parang", comments="")
    elif kind == "ecsv":
        Table({"parang": angles}).write(path, format="ascii.ecsv")
    elif kind == "csv":
        Table({"angle": angles}).write(path, format="ascii.csv")
    elif kind == "csv-columns":
        Table({"frame": np.arange(angles.size), "parang": angles}).write(
            path, format="ascii.csv")
    elif kind == "fits":
        Table({"PARANG": angles}).write(path)
    else:  # plain text, with a comment and a blank line
        path.write_text("# angles in degrees\n\n" + "\n".join(
            f"{a:.10f}" for a in angles) + "\n")


@pytest.mark.parametrize("kind", ["savetxt", "savetxt-header", "savetxt-names",
                                  "ecsv", "csv", "csv-columns", "fits", "plain"])
def test_parangs_files(tmp_path, kind):
    from psfkit._commands.loci import read_parangs

    angles = np.linspace(-20.0, 41.5, 30)
    path = tmp_path / ("angles.fits" if kind == "fits" else f"angles.{kind}")
    _write_parangs(path, kind, angles)
    assert_allclose(read_parangs(path), angles, rtol=1e-9)


def test_loci_adi_drops_the_frames_wcs(adi_files):
    # frame 0's celestial WCS was copied onto the derotated image
    folder, cube, _ = adi_files
    header = fits.getheader(folder / "adi.fits")
    header.update({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRPIX1": 21.0,
                   "CRPIX2": 21.0, "CRVAL1": 10.0, "CRVAL2": 20.0,
                   "CDELT1": -1e-5, "CDELT2": 1e-5})
    fits.PrimaryHDU(cube, header=header).writeto(folder / "wcs.fits")
    assert main(["loci", str(folder / "wcs.fits"), "--parangs", "PARANG",
                 "-q", "-o", str(folder / "adi_wcs.fits")]) == 0
    out = fits.getheader(folder / "adi_wcs.fits")
    assert not any(key.startswith(("CTYPE", "CRVAL", "CRPIX", "CDELT"))
                   for key in out)
    assert any("WCS dropped" in card for card in out["HISTORY"])
    # the reference-star mode keeps the target's WCS
    fits.PrimaryHDU(cube[0], header=fits.Header(
        [c for c in header.cards if not c.keyword.startswith(("NAXIS", "PARANG"))]
    )).writeto(folder / "target_wcs.fits")
    assert main(["loci", str(folder / "target_wcs.fits"), "--refs",
                 str(folder / "refs.fits"), "-q", "-o",
                 str(folder / "rdi_wcs.fits")]) == 0
    assert fits.getheader(folder / "rdi_wcs.fits")["CTYPE1"] == "RA---TAN"


def test_parangs_table_with_an_angle_unit(adi_files):
    # a column in radians was read as degrees
    folder, _, angles = adi_files
    Table({"parang": np.deg2rad(angles) * u.rad}).write(
        folder / "rad.ecsv", format="ascii.ecsv")
    for name in ("rad.ecsv", "parangs.txt"):
        assert main(["loci", str(folder / "adi.fits"), "--parangs",
                     str(folder / name), "-q", "-o",
                     str(folder / f"{name}.fits")]) == 0
    assert_allclose(fits.getdata(folder / "rad.ecsv.fits"),
                    fits.getdata(folder / "parangs.txt.fits"), rtol=1e-9,
                    atol=1e-9, equal_nan=True)


def test_loci_parangs_without_header_line(adi_files):
    # a numpy.savetxt file of 10 angles was read as a column name and 9 angles
    folder, _, angles = adi_files
    np.savetxt(folder / "plain.txt", angles)
    assert main(["loci", str(folder / "adi.fits"), "--parangs",
                 str(folder / "plain.txt"), "-q", "-o", str(folder / "a.fits")]) == 0
    # the same angles with a line of column names (parangs.txt) were read right
    assert main(["loci", str(folder / "adi.fits"), "--parangs",
                 str(folder / "parangs.txt"), "-q", "-o", str(folder / "b.fits")]) == 0
    assert_allclose(fits.getdata(folder / "a.fits"), fits.getdata(folder / "b.fits"),
                    rtol=1e-12, equal_nan=True)


def test_parangs_numbered_header_keywords(adi_files, capsys):
    # the documented form KEY1 .. KEYn (one angle per keyword) gives the
    # same residual as the list in one keyword
    folder, cube, angles = adi_files
    header = fits.Header()
    for i, angle in enumerate(angles):
        header[f"PA{i + 1}"] = float(f"{angle:.6f}")
    fits.PrimaryHDU(cube, header=header).writeto(folder / "numbered.fits")
    assert main(["loci", str(folder / "numbered.fits"), "--parangs", "PA", "-q",
                 "-o", str(folder / "n.fits")]) == 0
    assert main(["loci", str(folder / "adi.fits"), "--parangs", "PARANG", "-q",
                 "-o", str(folder / "l.fits")]) == 0
    assert_allclose(fits.getdata(folder / "n.fits"), fits.getdata(folder / "l.fits"),
                    rtol=1e-12, equal_nan=True)
    del header["PA10"]
    fits.PrimaryHDU(cube, header=header).writeto(folder / "short.fits")
    assert main(["loci", str(folder / "short.fits"), "--parangs", "PA",
                 "-o", str(folder / "s.fits")]) == 2
    assert "header has PA1 but not PA1..PA10" in capsys.readouterr().err


def test_parangs_file_errors(adi_files, capsys):
    folder, _, angles = adi_files
    bad = folder / "bad.txt"
    bad.write_text("parang\n1.0\ntwo\n")
    assert main(["loci", str(folder / "adi.fits"), "--parangs", str(bad),
                 "-o", str(folder / "x.fits")]) == 2
    assert "bad.txt: line 3 does not hold an angle in column 1: 'two'" in \
        capsys.readouterr().err
    np.savetxt(folder / "short.txt", angles[:-1])
    assert main(["loci", str(folder / "adi.fits"), "--parangs",
                 str(folder / "short.txt"), "-o", str(folder / "x.fits")]) == 2
    assert "10 parallactic angles are needed (one per frame), got 9" in \
        capsys.readouterr().err


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


def test_loci_failure_prints_its_error_line_only(adi_files, capsys):
    # angles that never rotate a frame far enough from another: the fit
    # fails, and nothing but the error line is printed
    folder, cube, _ = adi_files
    np.savetxt(folder / "still.txt", np.zeros(len(cube)))
    assert main(["loci", str(folder / "adi.fits"), "--parangs",
                 str(folder / "still.txt"), "-o",
                 str(folder / "none.fits")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "error" in captured.err
    assert not (folder / "none.fits").exists()
