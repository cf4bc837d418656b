"""
The ``psfkit demo`` report: every capability run on simulated data.

This package sits on top of the library: it imports psfkit's public API
and is never imported by it.  Each section module holds one function
``demo(outdir, *, quick) -> DemoSection``; `run_demo` runs the sections of
``DEMO_SECTIONS`` in turn, times them, and writes ``report.html`` with the
figures and the key numbers.
"""

from . import detection, diffim, epsf, fitpsf, modelsets, photometry, stars  # noqa: F401
from .report import DEMO_SECTIONS, run_demo, write_report
from .section import DemoSection

__all__ = ["DemoSection", "run_demo", "write_report", "DEMO_SECTIONS"]
