"""
Bit flags describing the quality of each PSF fit.

The ``flags`` column of a photometry table is the bitwise OR of the values
below; zero means a clean fit.  `PSFFlags` is an `enum.IntFlag`, so
``PSFFlags(row['flags'])`` lists the conditions by name.  The photutils 3.x
API classes (`~psfkit.photometry.PSFPhotometry`) write photutils' bits
instead (`PSF_FLAGS`), decoded by `decode_psf_flags`:

>>> from psfkit.photometry import PSF_FLAGS
>>> PSF_FLAGS.NO_CONVERGENCE
8
>>> PSF_FLAGS.get_name(128)
'fully_masked'
>>> PSF_FLAGS.names[:3]
['n_pixels_fit_partial', 'outside_bounds', 'negative_flux']
>>> PSF_FLAGS['negative_flux'] | PSF_FLAGS.NO_OVERLAP
68
"""

from collections.abc import Mapping
import enum
from typing import NamedTuple

import numpy as np

from ...utils import PsfkitDeprecationWarning, warn

__all__ = ["PSFFlags", "PSF_FLAGS", "decode_psf_flags"]


class _FlagDefinition(NamedTuple):
    """One bit of `PSF_FLAGS`: its value, name and what it means."""

    bit_value: int
    name: str
    description: str
    detailed_description: str


#: photutils 3.x's bits, in bit order
_DEFINITIONS = tuple(_FlagDefinition(*d) for d in (
    (1, "n_pixels_fit_partial", "fewer fitted pixels than fit_shape",
     "Fewer pixels were fitted than the fit_shape box holds: part of the "
     "box is outside the image, masked or not finite."),
    (2, "outside_bounds", "fitted centre outside the image",
     "The fitted centre lies outside the image."),
    (4, "negative_flux", "flux zero or negative",
     "The fitted flux is zero or negative."),
    (8, "no_convergence", "fit may not have converged",
     "The fitter stopped before converging (or reported a failure)."),
    (16, "no_covariance", "no parameter uncertainties",
     "The parameters have no uncertainties (no covariance matrix)."),
    (32, "near_bound", "fitted parameter on or near a bound",
     "A fitted centre ended within 0.01 pixel of an xy_bounds limit or at "
     "the edge of its fit box, or a parameter on its model bounds."),
    (64, "no_overlap", "fit box misses the image",
     "The fit box of the source does not overlap the image."),
    (128, "fully_masked", "fit box fully masked",
     "Every pixel of the fit box is masked or not finite."),
    (256, "too_few_pixels", "too few pixels to fit",
     "The fit box holds fewer usable pixels than free parameters."),
    (512, "non_finite_position", "fitted centre not finite",
     "The fitted x or y is NaN or infinite."),
    (1024, "non_finite_flux", "flux not finite",
     "The fitted (or given) flux is NaN or infinite."),
    (2048, "non_finite_localbkg", "local background not finite",
     "The local background is NaN or infinite; it was not subtracted."),
))

#: names of photutils before 3.0, kept with a deprecation warning
_OLD_NAMES = {"npixfit_partial": "n_pixels_fit_partial"}


class _PSFFlagBits(Mapping):
    """
    photutils 3.x's bits of the ``flags`` column (the class of `PSF_FLAGS`).

    Each bit is an upper-case attribute (``PSF_FLAGS.NO_CONVERGENCE ==
    8``); ``names``, ``bit_values`` and ``flag_dict`` (names by bit) list
    them, and ``get_name``, ``get_bit_value``, ``get_description`` and
    ``get_definition`` look one up.  It is also a read-only mapping of the
    names to the bits (``PSF_FLAGS['no_convergence'] == 8``).
    """

    def __init__(self, definitions):
        self._by_bit = {d.bit_value: d for d in definitions}
        self._by_name = {d.name: d for d in definitions}
        for d in definitions:
            setattr(self, d.name.upper(), d.bit_value)

    def __getattr__(self, name):
        # only called for names that are not attributes
        old = {k.upper(): v.upper() for k, v in _OLD_NAMES.items()}
        if name in old:
            warn(f"PSF_FLAGS.{name} is deprecated; use "
                 f"PSF_FLAGS.{old[name]} instead", PsfkitDeprecationWarning)
            return getattr(self, old[name])
        msg = f"PSF_FLAGS has no attribute {name!r}"
        raise AttributeError(msg)

    # the mapping: name -> bit
    def __getitem__(self, name):
        return self.get_bit_value(name)

    def __iter__(self):
        return iter(self._by_name)

    def __len__(self):
        return len(self._by_name)

    def __repr__(self):
        items = ", ".join(f"{d.name}={d.bit_value}"
                          for d in self._by_bit.values())
        return f"PSF_FLAGS({items})"

    @property
    def all_flags(self):
        """The definitions of all bits (see `get_definition`), in order."""
        return list(self._by_bit.values())

    @property
    def bit_values(self):
        """The bit values, in order."""
        return list(self._by_bit)

    @property
    def names(self):
        """The names of the bits, in bit order."""
        return list(self._by_name)

    @property
    def flag_dict(self):
        """A dict of the names by bit value."""
        return {bit: d.name for bit, d in self._by_bit.items()}

    def get_definition(self, identifier):
        """
        The definition of a bit, given its value or its name.

        Parameters
        ----------
        identifier : int or str
            A bit value (``8``) or a name (``'no_convergence'``).

        Returns
        -------
        definition : tuple
            A named tuple ``(bit_value, name, description,
            detailed_description)``.

        Raises
        ------
        KeyError
            When there is no such bit.
        TypeError
            When ``identifier`` is neither an integer nor a string.
        """
        if isinstance(identifier, str):
            if identifier in _OLD_NAMES:
                warn(f"the flag name {identifier!r} is deprecated; use "
                     f"{_OLD_NAMES[identifier]!r} instead",
                     PsfkitDeprecationWarning)
                identifier = _OLD_NAMES[identifier]
            table, what = self._by_name, "name"
        elif isinstance(identifier, int | np.integer) and not isinstance(
                identifier, bool):
            identifier = int(identifier)
            table, what = self._by_bit, "bit value"
        else:
            msg = ("identifier must be an int (a bit value) or a str (a "
                   f"name), got {identifier!r}")
            raise TypeError(msg)
        if identifier not in table:
            msg = f"no PSF flag with {what} {identifier!r}"
            raise KeyError(msg)
        return table[identifier]

    def get_name(self, bit_value):
        """The name of a bit value."""
        return self.get_definition(bit_value).name

    def get_bit_value(self, name):
        """The bit value of a name."""
        return self.get_definition(name).bit_value

    def get_description(self, bit_value):
        """The short description of a bit value."""
        return self.get_definition(bit_value).description

    def get_detailed_description(self, bit_value):
        """The long description of a bit value."""
        return self.get_definition(bit_value).detailed_description


#: photutils 3.x's bits of the ``flags`` column of
#: `~psfkit.photometry.PSFPhotometry`: attributes ``PSF_FLAGS.NO_CONVERGENCE``,
#: ``names``, ``flag_dict``, ``get_name()``..., and a mapping of the names
#: to the bits
PSF_FLAGS = _PSFFlagBits(_DEFINITIONS)


def _decode_one(value, return_bit_values):
    if not isinstance(value, int | np.integer):
        msg = f"Flag value must be an integer, got {value!r}"
        raise TypeError(msg)
    if value < 0:
        msg = f"Flag value must be a non-negative integer, got {value}"
        raise ValueError(msg)
    return [bit if return_bit_values else name
            for bit, name in PSF_FLAGS.flag_dict.items() if value & bit]


def decode_psf_flags(flags, return_bit_values=False):
    """
    The names (or bits) set in photutils 3.x-style PSF photometry flags.

    Parameters
    ----------
    flags : int or array-like of int
        One ``flags`` value, or a column of them.
    return_bit_values : bool, optional
        Give the bit values instead of the names (see `PSF_FLAGS`).

    Returns
    -------
    decoded : list
        For one value, the list of the names (or bits) set in it; for a
        column, one such list per value.

    Examples
    --------
    >>> from psfkit.photometry import decode_psf_flags
    >>> decode_psf_flags(5)
    ['n_pixels_fit_partial', 'negative_flux']
    >>> decode_psf_flags([0, 136], return_bit_values=True)
    [[], [8, 128]]
    """
    if np.isscalar(flags) or np.ndim(flags) == 0:
        value = flags.item() if hasattr(flags, "item") else flags
        return _decode_one(value, return_bit_values)
    return [_decode_one(v, return_bit_values)
            for v in np.asarray(flags).ravel()]


class PSFFlags(enum.IntFlag):
    """
    Quality flags of a PSF fit (bit values of the ``flags`` column).

    Attributes
    ----------
    PARTIAL_BOX : 1
        The fit box extends beyond the image; only the pixels that exist
        were fitted.
    OUTSIDE_IMAGE : 2
        The initial or the fitted centre lies outside the image.
    NONPOSITIVE_FLUX : 4
        The fitted flux is zero or negative.
    NOT_CONVERGED : 8
        The fitter stopped at its iteration limit (or reported failure).
    NO_COVARIANCE : 16
        The normal matrix is singular: no uncertainties (NaN).
    TOO_FEW_PIXELS : 32
        The fit box holds fewer usable (unmasked, finite) pixels than free
        parameters, e.g. it is fully masked; the source was not fitted and
        its results are NaN.
    NONFINITE : 64
        A fitted value is not finite.
    AT_BOUND : 128
        A fitted parameter ended on a bound: for the centre, the edge of
        its fit box (the limit of its movement), which usually means a
        spurious or badly blended source.
    MASKED_PIXELS : 256
        Some pixels of the fit box inside the image are masked or not
        finite: the fit used fewer pixels than the box (how many is in
        ``npix_masked``).  Together with ``PARTIAL_BOX`` this is bit 1 of
        photutils 3.x.
    MASKED_CENTER : 512
        The central pixel of the fit box is masked or not finite: the
        source was fitted on the pixels around it.

    Examples
    --------
    >>> from psfkit.photometry import PSFFlags
    >>> int(PSFFlags.PARTIAL_BOX | PSFFlags.NONPOSITIVE_FLUX)
    5
    >>> PSFFlags.NOT_CONVERGED in PSFFlags(9)
    True
    """

    PARTIAL_BOX = 1
    OUTSIDE_IMAGE = 2
    NONPOSITIVE_FLUX = 4
    NOT_CONVERGED = 8
    NO_COVARIANCE = 16
    TOO_FEW_PIXELS = 32
    NONFINITE = 64
    AT_BOUND = 128
    MASKED_PIXELS = 256
    MASKED_CENTER = 512
