"""
Output files of the commands: every path is checked before any work, two
outputs never share a file, inputs are never replaced, and a command that
fails leaves no partial result.
"""

import os
from pathlib import Path
import tempfile

from astropy.io import fits
from astropy.table import QTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from psfkit.cli import main
from psfkit.datasets import make_gaussian_sources, make_random_gaussians


def _field(path):
    truth = make_random_gaussians(6, (2000, 5000), (8, 40), (8, 40), (1.5, 1.5),
                                  (1.5, 1.5), random_state=1)
    rng = np.random.default_rng(2)
    image = make_gaussian_sources((48, 48), truth) + rng.normal(10, 2, (48, 48))
    fits.PrimaryHDU(image.astype(np.float32)).writeto(path)


def _snapshot(folder):
    """Every file below ``folder`` with its content."""
    return {p.relative_to(folder): p.read_bytes()
            for p in Path(folder).rglob("*") if p.is_file()}


@pytest.fixture
def field(tmp_path):
    _field(tmp_path / "img.fits")
    return tmp_path


def test_two_outputs_on_one_path(field, capsys):
    # '-o cat.ecsv --residual cat.ecsv --overwrite' left a FITS file named
    # cat.ecsv; without --overwrite the catalog was written, then exit 2
    (field / "cat.ecsv").write_text("earlier catalog")
    before = _snapshot(field)
    for extra in ([], ["--overwrite"]):
        assert main(["photometry", str(field / "img.fits"), "--fwhm", "3.5",
                     "-o", str(field / "cat.ecsv"), "--residual",
                     str(field / "cat.ecsv"), *extra]) == 2
        err = capsys.readouterr().err
        assert "the same file as output" in err or "already exists" in err
        assert _snapshot(field) == before
    (field / "cat.ecsv").unlink()
    assert main(["photometry", str(field / "img.fits"), "--fwhm", "3.5",
                 "-o", str(field / "cat.ecsv"), "--residual",
                 str(field / "cat.ecsv")]) == 2
    assert "cat.ecsv: the same file as output" in capsys.readouterr().err
    assert not (field / "cat.ecsv").exists()


def test_diffim_difference_and_plot_on_one_path(field, capsys):
    # '-o d.png --plot d.png --overwrite' lost the difference
    assert main(["diffim", str(field / "img.fits"), str(field / "img.fits"),
                 "-o", str(field / "d.png"), "--plot", str(field / "d.png"),
                 "--overwrite"]) == 2
    assert "d.png: the same file as output" in capsys.readouterr().err
    assert not (field / "d.png").exists()


def test_existing_later_output_stops_before_any_work(field, capsys):
    (field / "fig.png").write_bytes(b"earlier figure")
    assert main(["photometry", str(field / "img.fits"), "--fwhm", "3.5",
                 "-o", str(field / "cat.ecsv"), "--plot",
                 str(field / "fig.png")]) == 2
    assert "fig.png: already exists" in capsys.readouterr().err
    assert not (field / "cat.ecsv").exists()
    assert (field / "fig.png").read_bytes() == b"earlier figure"


def test_failure_after_the_checks_leaves_nothing(field, capsys):
    # too few isolated stars for an empirical PSF: the command fails after
    # its outputs were checked; the earlier outputs stay as they were
    (field / "cat.ecsv").write_text("earlier catalog")
    before = _snapshot(field)
    assert main(["photometry", str(field / "img.fits"), "--fwhm", "3.5",
                 "--psf", "epsf", "-o", str(field / "cat.ecsv"),
                 "--residual", str(field / "res.fits"), "--overwrite"]) == 2
    assert "empirical PSF" in capsys.readouterr().err
    assert _snapshot(field) == before


def test_figure_file_type_checked_first(field, capsys):
    # a figure named .fits failed in matplotlib after all the work was done
    assert main(["photometry", str(field / "img.fits"), "--fwhm", "3.5",
                 "-o", str(field / "cat.ecsv"), "--plot",
                 str(field / "fig.fits")]) == 2
    assert "fig.fits: a figure needs a file type matplotlib can write" in \
        capsys.readouterr().err
    assert not (field / "cat.ecsv").exists()


def test_output_folder_problems(field, capsys):
    assert main(["photometry", str(field / "img.fits"), "--fwhm", "3.5",
                 "-o", str(field / "cat.ecsv"), "--residual",
                 str(field / "nowhere" / "res.fits")]) == 2
    assert "the folder" in capsys.readouterr().err
    assert main(["photometry", str(field / "img.fits"), "--fwhm", "3.5",
                 "-o", str(field)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert not (field / "cat.ecsv").exists()


# --- property: any combination of output names ----------------------------

# spellings of a few files, some naming the same file in different ways
_NAMES = ["cat.ecsv", "./cat.ecsv", "sub/../cat.ecsv", "res.fits", "fig.png",
          "img.fits", "./img.fits", "sub/res.fits", "old.fits"]


def _expected_failure(folder, names, overwrite):
    """Whether the outputs must be refused, by the documented rules."""
    plot = names[-1]
    if plot is not None and not plot.endswith(".png"):
        return True  # not a file type for a figure
    real = [os.path.realpath(folder / n) for n in names if n is not None]
    if len(set(real)) != len(real):
        return True
    if os.path.realpath(folder / "img.fits") in real:
        return True
    return not overwrite and any(os.path.exists(r) for r in real)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(output=st.sampled_from(_NAMES),
       residual=st.none() | st.sampled_from(_NAMES),
       plot=st.none() | st.sampled_from(_NAMES),
       overwrite=st.booleans())
def test_outputs_property(output, residual, plot, overwrite):
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "sub").mkdir()
        _field(folder / "img.fits")
        (folder / "old.fits").write_bytes(b"an earlier result")
        before = _snapshot(folder)
        refused = _expected_failure(folder, [output, residual, plot], overwrite)
        argv = ["photometry", str(folder / "img.fits"), "--fwhm", "3.5", "-q",
                "-o", str(folder / output)]
        if residual is not None:
            argv += ["--residual", str(folder / residual)]
        if plot is not None:
            argv += ["--plot", str(folder / plot)]
        if overwrite:
            argv.append("--overwrite")
        status = main(argv)
        after = _snapshot(folder)
        # never a partial or temporary file, never a changed input
        assert not [p for p in after if ".partial-" in str(p)]
        assert after[Path("img.fits")] == before[Path("img.fits")]
        if refused:
            assert status == 2
            assert after == before
            return
        assert status == 0
        assert len(QTable.read(folder / output, format="ascii.ecsv")) > 0
        if residual is not None:
            assert fits.getdata(folder / residual).shape == (48, 48)
        if plot is not None:
            assert (folder / plot).read_bytes()[:4] == b"\x89PNG"
        written = {os.path.realpath(folder / n)
                   for n in (output, residual, plot) if n is not None}
        for path, content in before.items():
            if os.path.realpath(folder / path) not in written:
                assert after[path] == content


@pytest.mark.parametrize(("error", "status", "message"), [
    (KeyboardInterrupt, 130, "psfkit ramps: interrupted; no output was written"),
    (MemoryError, 1, "psfkit ramps: error: out of memory"),
])
def test_interrupt_and_memory_leave_nothing(tmp_path, monkeypatch, capsys,
                                            error, status, message):
    import psfkit._commands.ramps as ramps

    def fail(*args, **kwargs):
        raise error

    fits.PrimaryHDU(np.zeros((4, 5, 5))).writeto(tmp_path / "cube.fits")
    (tmp_path / "slope.fits").write_bytes(b"earlier slope")
    monkeypatch.setattr(ramps, "_fit", fail)
    assert main(["ramps", str(tmp_path / "cube.fits"), "--frame-time", "1",
                 "-o", str(tmp_path / "slope.fits"), "--overwrite"]) == status
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cube.fits", "slope.fits"]
    assert (tmp_path / "slope.fits").read_bytes() == b"earlier slope"
