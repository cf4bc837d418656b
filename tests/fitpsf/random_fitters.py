"""A fitter on random bases and image, for the plug-in tests."""

import numpy as np

from psfkit.fitpsf import BasePSFFitter


def random_fitter(shape, n, *, seed=0, base_mask=None, image_mask=None):
    """`BasePSFFitter` of ``n`` random bases and a random image."""
    rng = np.random.default_rng(seed)
    base = np.ma.MaskedArray(rng.normal(size=(n, *shape)))
    if base_mask is not None:
        base.mask = base_mask
    img = np.ma.MaskedArray(rng.normal(size=shape))
    if image_mask is not None:
        img.mask = image_mask
    return BasePSFFitter(base, img, bases_axis=0)
