import subprocess
import sys

import pytest

import psfkit
from psfkit.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert psfkit.__version__ in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "psfkit.cli", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"psfkit {psfkit.__version__}"


def test_demo_section_datasets(tmp_path):
    from psfkit.demo import DemoSection
    from psfkit.demo.stars import demo

    section = demo(tmp_path, quick=True)
    assert isinstance(section, DemoSection)
    for fig in section.figures:
        assert (tmp_path / fig).stat().st_size > 1000


def test_demo_report(tmp_path, monkeypatch):
    import psfkit.demo as demo_mod

    monkeypatch.setattr(demo_mod, "DEMO_SECTIONS", (demo_mod.stars,))
    lines = []
    report = demo_mod.run_demo(tmp_path / "out", quick=True, log=lines.append)
    text = report.read_text()
    assert "Simulated data" in text and "<img" in text
    assert any("report written" in line for line in lines)


def test_top_level_lazy_attributes():
    assert psfkit.datasets.make_noise_image is not None
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        psfkit.nonexistent  # noqa: B018
