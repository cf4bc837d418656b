"""
The numerical core shared by every psfkit subpackage (private).

Plain NumPy arrays in and out, no astropy objects:

- `~psfkit._numerics.linalg`: batched normal equations, the one policy for
  singular systems, covariances, condition numbers;
- `~psfkit._numerics.gaussian`: FWHM/sigma conversion (astropy's
  constants) and the Gaussian integrated over square pixels;
- `~psfkit._numerics.peaks`: local maxima, smoothing with a detection
  kernel, and cutout stacks.

The photometry fitter, the ePSF builder, image differencing, LOCI and the
model-set fitter all build on these functions, so each formula and each
numerical policy has one implementation.
"""
