"""Images of Gaussian and Poisson noise."""


from ..utils import as_pair, check_in, check_positive, get_rng

__all__ = ["make_noise_image"]


def make_noise_image(shape, type="gaussian", mean=None, stddev=None,  # noqa: A002
                     random_state=None, *, seed=None):
    """
    Make an image of Gaussian or Poisson noise.

    Parameters
    ----------
    shape : int or tuple of 2 int
        The ``(ny, nx)`` shape of the image.
    type : {'gaussian', 'poisson'}, optional
        The noise distribution.
    mean : float
        The mean of the distribution; required.  For Poisson noise this is
        the expected count per pixel.
    stddev : float, optional
        The standard deviation of Gaussian noise; required for
        ``type='gaussian'``, ignored for Poisson.
    random_state : int or `numpy.random.Generator`, optional
        Seed or generator (see `~psfkit.utils.get_rng`); the same seed
        gives the same output.
    seed : int, optional
        Deprecated spelling of ``random_state``.

    Returns
    -------
    image : `~numpy.ndarray`
        The noise image, of float64.

    Examples
    --------
    >>> from psfkit.datasets import make_noise_image
    >>> img = make_noise_image((200, 200), type='gaussian', mean=5.,
    ...                        stddev=2., random_state=1)
    >>> print(f"{img.mean():.1f} {img.std():.1f}")
    5.0 2.0
    """
    shape = as_pair("shape", shape, lower_bound=(0, False))
    check_in("type", type, ("gaussian", "poisson"))
    if mean is None:
        msg = "mean must be given"
        raise ValueError(msg)
    rng = get_rng(random_state, seed=seed)
    if type == "gaussian":
        if stddev is None:
            msg = "stddev must be given for Gaussian noise"
            raise ValueError(msg)
        stddev = check_positive("stddev", stddev, strict=False)
        return rng.normal(float(mean), stddev, size=shape)
    mean = check_positive("mean", mean, strict=False)
    return rng.poisson(mean, size=shape).astype(float)
