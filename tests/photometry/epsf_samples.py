"""An oversampled integrated-Gaussian ePSF image, shared by the ePSF tests."""

import numpy as np

from psfkit.photometry import IntegratedGaussianPRF


def gaussian_epsf_samples(sigma, over, half):
    """
    The integrated Gaussian of width ``sigma`` sampled ``over`` times per
    pixel, ``half`` pixels on each side of the centre: an ePSF image.
    """
    n = half * over
    py, px = np.mgrid[-n:n + 1, -n:n + 1] / over
    return IntegratedGaussianPRF(sigma=sigma)(px, py)
