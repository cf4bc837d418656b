"""Images of Gaussian and Poisson noise."""

import astropy.units as u

from ..utils import as_pair, check_in, get_rng, renamed_keyword
from ._inputs import finite, poisson, positive

__all__ = ["make_noise_image"]


@renamed_keyword(seed="random_state")
def make_noise_image(shape, type="gaussian", mean=None, stddev=None,  # noqa: A002
                     random_state=None):
    """
    Make an image of Gaussian or Poisson noise.

    Parameters
    ----------
    shape : int or tuple of 2 int
        The ``(ny, nx)`` shape of the image.
    type : {'gaussian', 'poisson'}, optional
        The noise distribution.
    mean : float or `~astropy.units.Quantity`
        The mean of the distribution; required.  For Poisson noise this is
        the expected count per pixel (above 1e15 the Gaussian
        approximation of the Poisson distribution is drawn, which NumPy
        needs and which is exact far below the noise).  The unit of a
        Quantity is that of the image.
    stddev : float or `~astropy.units.Quantity`, optional
        The standard deviation of Gaussian noise; required for
        ``type='gaussian'``, ignored for Poisson.  A Quantity needs a
        ``mean`` in a compatible unit.
    random_state : int or `numpy.random.Generator`, optional
        Seed or generator (see `~psfkit.utils.get_rng`); the same seed
        gives the same output.
    seed : int, optional
        Deprecated spelling of ``random_state``.

    Returns
    -------
    image : `~numpy.ndarray` or `~astropy.units.Quantity`
        The noise image, of float64; a Quantity in the unit of ``mean``
        if that has one.

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
    unit = mean.unit if isinstance(mean, u.Quantity) else None
    if unit is not None:
        mean = mean.value
    if type == "gaussian":
        if stddev is None:
            msg = "stddev must be given for Gaussian noise"
            raise ValueError(msg)
        mean = finite("mean", mean)
        stddev = positive("stddev", stddev, unit, strict=False)
        rng = get_rng(random_state)
        image = rng.normal(mean, stddev, size=shape)
    else:
        mean = positive("mean", mean, strict=False)
        rng = get_rng(random_state)
        image = poisson(rng, mean, size=shape).astype(float)
    return image if unit is None else image * unit
