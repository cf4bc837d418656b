"""
psfkit: point-spread-function tools for astronomy.

Subpackages
-----------
photometry
    DAOPHOT-style crowded-field PSF photometry (finders, groupers,
    backgrounds, PSF models and the photometry classes).
modelsets
    One linear model fitted to millions of independent data sets at once
    (up-the-ramp fitting of IR detector cubes).
diffim
    Image differencing with PSF-matching kernels solved over spatial cells.
fitpsf
    LOCI/KLIP-style PSF subtraction for high-contrast imaging.
datasets
    Simulated data with known truth.
utils
    Input coercion, validation, warnings and errors shared by all of the above.

The pixel convention everywhere is ``(x, y) = (column, row)`` with ``(0, 0)``
the centre of the first pixel.
"""

import importlib

from .version import __version__

__all__ = ["__version__"]

_SUBPACKAGES = ("photometry", "modelsets", "diffim", "fitpsf", "datasets", "utils")


def __getattr__(name):
    # Subpackages are imported on first use so that ``import psfkit`` stays
    # cheap.  Public names of ``psfkit.photometry`` (for example
    # ``MMMBackground``) are also reachable from the top level, as the
    # classic ``from photutils import MMMBackground`` spelling expects.
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    photometry = importlib.import_module(f"{__name__}.photometry")
    if name in getattr(photometry, "__all__", ()):
        return getattr(photometry, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))
