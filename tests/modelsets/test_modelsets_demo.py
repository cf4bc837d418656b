"""The modelsets demo section runs and reports numbers."""

import pytest


def test_demo_quick(tmp_path):
    pytest.importorskip("matplotlib")
    from psfkit.demo.modelsets import demo

    section = demo(tmp_path, quick=True)
    assert section.figures
    for name in section.figures:
        assert (tmp_path / name).stat().st_size > 0
    pull_std = float(section.metrics[
        "slope pull std, pixels without a missed jump (ideal 1)"])
    assert 0.9 < pull_std < 1.1
