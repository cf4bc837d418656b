"""
The ``psfkit demo`` report: every capability run on simulated data.

This package sits on top of the library: it imports psfkit's public API
and is never imported by it.  Each module holds one section, a function
``demo(outdir, *, quick) -> DemoSection``; `run_demo` runs the sections of
``DEMO_SECTIONS`` in turn, times them, and writes ``report.html`` with the
figures and the key numbers.
"""

from . import detection, diffim, epsf, fitpsf, modelsets, photometry, stars
from .report import DemoSection, run_demo, write_report

__all__ = ["DemoSection", "run_demo", "write_report", "DEMO_SECTIONS"]

#: The section modules, in report order.
DEMO_SECTIONS = (stars, detection, epsf, photometry, modelsets, diffim, fitpsf)
