"""The ``psfkit`` command: parsing, error reporting, warnings and the demo."""

import subprocess
import sys

from astropy.io import fits
import numpy as np
import pytest

import psfkit
from psfkit.cli import main


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "psfkit.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def test_version(capsys):
    assert main(["--version"]) == 0
    assert psfkit.__version__ in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "psfkit.cli", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"psfkit {psfkit.__version__}"


@pytest.mark.parametrize(("argv", "expected"), [
    (["photometry"], "the following arguments are required: IMAGE.fits, --fwhm"),
    (["photometry", "x.fits", "--fwhm", "abc"], "argument --fwhm: must be a number"),
    (["photometry", "x.fits", "--fwhm", "-1"],
     "argument --fwhm: must be a positive number, got -1"),
    (["photometry", "x.fits", "--fwhm", "nan"],
     "argument --fwhm: must be a finite number"),
    (["ramps", "c.fits", "--frame-time", "0"],
     "argument --frame-time: must be a positive number"),
    (["ramps", "c.fits", "--read-noise", "-2"],
     "argument --read-noise: must be a non-negative number"),
    (["loci", "t.fits", "--klip-k", "0"], "argument --klip-k: must be at least 1"),
    (["diffim", "a.fits", "b.fits", "--convolve", "both"],
     "argument --convolve: invalid choice"),
    (["nonsense"], "argument COMMAND: invalid choice"),
])
def test_usage_errors_one_line(argv, expected, capsys):
    # argparse printed the usage block before the error: several lines
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("psfkit")
    assert ": error: " in err and expected in err


@pytest.mark.parametrize("argv", [
    ["photometry", "x.fits", "--fwhm", "3"],
    ["ramps", "x.fits"],
    ["loci", "x.fits", "--refs", "r.fits"],
])
def test_jobs_zero_rejected_by_every_command(argv, capsys):
    # loci accepted -j 0 (and ran serially)
    assert main([*argv, "-j", "0"]) == 2
    err = capsys.readouterr().err
    assert "argument -j/--jobs: must be at least 1, got 0" in err


def test_usage_error_subprocess_is_one_line(tmp_path):
    proc = run_cli("photometry", "--fwhm", "3", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "psfkit photometry: error: the following arguments are required: "
        "IMAGE.fits (see psfkit photometry --help)"]


def test_failed_command_prints_only_its_error(tmp_path):
    # all-zero images: numpy's RuntimeWarning and a non-finite-value
    # warning used to be printed before the real error
    zeros = np.zeros((64, 64), dtype=np.float32)
    fits.PrimaryHDU(zeros).writeto(tmp_path / "a.fits")
    fits.PrimaryHDU(zeros).writeto(tmp_path / "b.fits")
    proc = run_cli("diffim", "a.fits", "b.fits", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("psfkit diffim: error: ")
    assert not list(tmp_path.glob("b_diff*"))
    assert not list(tmp_path.glob(".*partial*"))


def test_successful_command_prints_warnings_in_one_line(tmp_path, capsys):
    cube = np.cumsum(np.full((4, 6, 5), 3.0), axis=0)
    fits.PrimaryHDU(cube).writeto(tmp_path / "cube.fits")
    assert main(["ramps", str(tmp_path / "cube.fits"), "-o",
                 str(tmp_path / "s.fits")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["psfkit ramps: warning: no --frame-time and no TGROUP, "
                   "TFRAME, FRMTIME in the header: assuming 1 s between reads"]
    # -q silences warnings too
    assert main(["ramps", str(tmp_path / "cube.fits"), "-q", "-o",
                 str(tmp_path / "t.fits")]) == 0
    assert capsys.readouterr().err == ""


def test_demo_section_datasets(tmp_path):
    from psfkit.demo import DemoSection
    from psfkit.demo.stars import demo

    section = demo(tmp_path, quick=True)
    assert isinstance(section, DemoSection)
    for fig in section.figures:
        assert (tmp_path / fig).stat().st_size > 1000


@pytest.fixture
def one_section_demo(monkeypatch):
    import psfkit.demo as demo_mod

    monkeypatch.setattr(demo_mod.report, "DEMO_SECTIONS", (demo_mod.stars,))
    return demo_mod


def test_demo_report(tmp_path, one_section_demo):
    lines = []
    report = one_section_demo.run_demo(tmp_path / "out", quick=True,
                                       log=lines.append)
    text = report.read_text()
    assert "Simulated data" in text and "<img" in text
    assert any("report written" in line for line in lines)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "datasets_field.png", "report.html"]


def test_demo_keeps_existing_report_without_overwrite(tmp_path, one_section_demo,
                                                     capsys):
    # psfkit demo used to replace an existing report silently
    out = tmp_path / "psfkit-demo"
    out.mkdir()
    (out / "report.html").write_text("earlier report")
    (out / "notes.txt").write_text("mine")
    assert main(["demo", "--quick", "--outdir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "the folder is not empty" in err and "--overwrite" in err
    assert (out / "report.html").read_text() == "earlier report"
    assert main(["demo", "--quick", "-q", "--outdir", str(out), "--overwrite"]) == 0
    assert "Simulated data" in (out / "report.html").read_text()
    # files that are not the report's are left alone
    assert (out / "notes.txt").read_text() == "mine"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_failed_demo_leaves_earlier_report(tmp_path, monkeypatch):
    import psfkit.demo as demo_mod

    def broken(outdir, *, quick=False):
        (outdir / "half.png").write_bytes(b"partial")
        raise RuntimeError("section failed")

    broken_section = type("Broken", (), {"demo": staticmethod(broken)})
    monkeypatch.setattr(demo_mod.report, "DEMO_SECTIONS",
                        (demo_mod.stars, broken_section))
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.html").write_text("earlier report")
    with pytest.raises(RuntimeError, match="section failed"):
        demo_mod.run_demo(out, quick=True, log=None, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["report.html"]
    assert (out / "report.html").read_text() == "earlier report"
    # a folder the run created is removed again
    with pytest.raises(RuntimeError, match="section failed"):
        demo_mod.run_demo(tmp_path / "new", quick=True, log=None)
    assert not (tmp_path / "new").exists()


def test_demo_outdir_is_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["demo", "--quick", "--outdir", str(target), "--overwrite"]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


def test_top_level_lazy_attributes():
    assert psfkit.datasets.make_noise_image is not None
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        psfkit.nonexistent  # noqa: B018
