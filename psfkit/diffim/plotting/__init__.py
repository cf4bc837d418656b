"""
Figures of PSF matching (needs matplotlib).

One function per view of the solve: the candidates over the image (good
green, rejected red), the kernel basis, the kernel realised across the
image, the spatial model of the coefficients, the spatial cells, and the
template / science / matched / difference images side by side.  Each
function returns the matplotlib ``Figure``, ready for a paper: every image
has a colour bar labelled with its quantity and unit, the axes are
labelled (sky coordinates when the image has a celestial WCS, pixels
otherwise, in the coordinates of the full image), and the titles say which
part of the image is shown.  matplotlib is imported only when one of them
is called, so it stays an optional dependency of psfkit.

This module is not imported by ``psfkit.diffim``; import it explicitly::

    from psfkit.diffim import plotting
"""

from .cells import *  # noqa: F401,F403
from .cells import __all__ as _cells_all
from .images import *  # noqa: F401,F403
from .images import __all__ as _images_all
from .kernels import *  # noqa: F401,F403
from .kernels import __all__ as _kernels_all

__all__ = _cells_all + _kernels_all + _images_all
