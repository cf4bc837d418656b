"""A residual detection must not end up fitting a star that is already fitted."""

import numpy as np
from scipy.spatial import cKDTree

from psfkit.datasets import (
    make_gaussian_sources,
    make_noise_image,
    make_random_gaussians,
)
from psfkit.photometry import (
    DAOGroup,
    DAOStarFinder,
    IntegratedGaussianPRF,
    IterativelySubtractedPSFPhotometry,
)


def test_no_two_sources_converge_onto_one_star():
    # in this field a pass-2 detection in the wing of one star used to walk
    # (within its 13x13 box) onto a bright star of another group: both
    # fits then claimed that star's light and the residual showed a hole
    truth = make_random_gaussians(60, (3000, 20000), (12, 116), (12, 116),
                                  (1.7, 1.7), (1.7, 1.7), random_state=5)
    truth["theta"] = 0.0
    noise = 5.0
    image = (make_gaussian_sources((128, 128), truth, oversample=4)
             + make_noise_image((128, 128), mean=0.0, stddev=noise,
                                random_state=6))
    psf = IntegratedGaussianPRF(sigma=4.0 / 2.3548)
    phot = IterativelySubtractedPSFPhotometry(
        DAOGroup(8.0), None, psf, (13, 13),
        finder=DAOStarFinder(5 * noise, 4.0), niters=3)
    result = phot.run(image)
    table = result.table
    xy = np.column_stack([table["x_fit"], table["y_fit"]])
    assert len(cKDTree(xy).query_pairs(0.5 * psf.fwhm)) == 0
    assert np.std(result.residual_image) < 1.1 * noise
    # each star is fitted once; a source matching no star is a noise
    # detection whose flux is consistent with zero; the fluxes add up
    dist, index = cKDTree(np.column_stack([truth["x_mean"], truth["y_mean"]])
                          ).query(xy)
    real = dist < 1.0
    assert len(np.unique(index[real])) == np.count_nonzero(real) >= 58
    spurious = table[~real]
    assert np.all(np.abs(spurious["flux_fit"]) < 3 * spurious["flux_unc"])
    # (a pair closer than half a FWHM is one source with both fluxes)
    total = np.sum(table["flux_fit"]) / np.sum(truth["flux"])
    assert abs(total - 1) < 0.005
