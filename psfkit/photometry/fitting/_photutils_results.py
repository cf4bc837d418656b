"""
The methods the photutils 3.x classes share on their results.

`PSFPhotometry` and `IterativePSFPhotometry` both keep their last table in
``results``; decoding its flags and drawing its model and residual images
are the same for both, given the PSF model, the fit shape and the data
unit that each class supplies through ``_model_setup``.
"""

from astropy.nddata import NDData
import astropy.units as u
import numpy as np

from ...utils import renamed_keyword
from ._photutils_columns import model_image
from .flags import decode_psf_flags

__all__ = []


class ResultImagesMixin:
    """``decode_flags``, ``make_model_image`` and ``make_residual_image``."""

    def _model_setup(self):
        """The PSF model, fit shape and data unit of the results."""
        msg = (f"{type(self).__name__} must give its PSF model, fit shape "
               "and data unit through _model_setup")
        raise NotImplementedError(msg)

    def _require_results(self):
        if self.results is None:
            msg = (f"No results available. Please run the "
                   f"{type(self).__name__} instance first.")
            raise ValueError(msg)

    def decode_flags(self, return_bit_values=False):
        """
        The flag names (or bit values) set for each source of the results.

        Parameters
        ----------
        return_bit_values : bool, optional
            Return the bit values instead of the names.

        Returns
        -------
        flags : list of list
        """
        self._require_results()
        return decode_psf_flags(self.results["flags"],
                                return_bit_values=return_bit_values)

    @renamed_keyword(include_localbkg="include_local_bkg")
    def make_model_image(self, shape, *, psf_shape=None,
                         include_local_bkg=False):
        """
        The image of the fitted PSFs (and optionally local backgrounds).

        Parameters
        ----------
        shape : tuple of 2 int
            The shape of the image.
        psf_shape : int or tuple of 2 int, optional
            The odd box around each fitted centre over which its model is
            drawn; default: the model's bounding box (at least
            ``fit_shape``).
        include_local_bkg : bool, optional
            Add each source's local background over its ``psf_shape``
            box (overlapping boxes add it more than once, as photutils
            does).
        include_localbkg : bool, optional
            The name of ``include_local_bkg`` before photutils 3.0
            (deprecated).

        Returns
        -------
        image : `~numpy.ndarray` or `~astropy.units.Quantity`
            In the unit of the data of the last call.
        """
        self._require_results()
        psf_model, fit_shape, unit = self._model_setup()
        image = model_image(psf_model, self.results, shape, psf_shape,
                            fit_shape, include_local_bkg)
        return image if unit is None else image * unit

    @renamed_keyword(include_localbkg="include_local_bkg")
    def make_residual_image(self, data, *, psf_shape=None,
                            include_local_bkg=False):
        """
        The data minus the fitted PSFs (and optionally local backgrounds).

        Parameters
        ----------
        data : 2-D array, `~astropy.units.Quantity` or `~astropy.nddata.NDData`
            The image the photometry was run on.
        psf_shape, include_local_bkg, include_localbkg
            As for `make_model_image`.

        Returns
        -------
        residual : same type as ``data``
            Floating point (an integer image's residual is not rounded).
            Data with a unit get the model in that unit.

        Raises
        ------
        astropy.units.UnitConversionError
            When ``data`` has a unit that the fitted fluxes cannot be
            converted to.
        """
        if isinstance(data, NDData):
            arr = np.asanyarray(data.data)
            model = self._model_in(data.unit, arr.shape, psf_shape,
                                   include_local_bkg)
            residual = arr - model
            if residual.dtype == arr.dtype:
                out = data.__class__(data, copy=True)
                out.data[...] = residual
                return out
            # (an integer image: a new one of floating point)
            return data.__class__(residual, uncertainty=data.uncertainty,
                                  mask=data.mask, wcs=data.wcs,
                                  meta=data.meta, unit=data.unit, copy=True)
        unit = data.unit if isinstance(data, u.Quantity) else None
        model = self._model_in(unit, np.shape(data), psf_shape,
                               include_local_bkg)
        if unit is not None:
            return data - model * unit
        return np.asarray(data, dtype=float) - model

    def _model_in(self, unit, shape, psf_shape, include_local_bkg):
        """The model image's values in ``unit`` (the fit's own if `None`)."""
        model = self.make_model_image(shape, psf_shape=psf_shape,
                                      include_local_bkg=include_local_bkg)
        if unit is None or not isinstance(model, u.Quantity):
            return np.asarray(getattr(model, "value", model), dtype=float)
        try:
            return model.to_value(unit)
        except u.UnitConversionError:
            msg = (f"data is in {unit}, which the fitted fluxes (in "
                   f"{model.unit}) cannot be converted to: give the image "
                   "the photometry was run on")
            raise u.UnitConversionError(msg) from None
