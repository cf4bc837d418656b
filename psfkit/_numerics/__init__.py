"""
The numerical core shared by every psfkit subpackage (private).

Plain NumPy arrays in and out, no astropy objects:

- `~psfkit._numerics.linalg`: batched normal equations, the one policy for
  singular systems, covariances, condition numbers;
- `~psfkit._numerics.gaussian`: FWHM/sigma conversion (astropy's
  constants) and the Gaussian integrated over square pixels;
- `~psfkit._numerics.lm`: the damped Levenberg-Marquardt loop of the
  photometry fitters and the ePSF star fit;
- `~psfkit._numerics.peaks`: local maxima, smoothing with a detection
  kernel, and cutout stacks.

The photometry fitters, the ePSF builder, the star finders, image
differencing, LOCI and the simulators build on these functions, so each
formula and each numerical policy has one implementation.  The model-set
fitter keeps its own solver, specialised for one design shared by millions
of models (the shared one is 1.7 to 3.5 times slower there, as
``benchmarks/bench_modelsets.py`` measures).
"""
