"""
The bit flags of `~psfkit.modelsets.fit_ramps`.

Each pixel's ``flags`` is the bitwise OR of the conditions met while its
ramp was fitted; test one with ``(result.flags & SATURATED) > 0``.
"""

__all__ = ["SATURATED", "JUMP_DET", "TOO_FEW_READS", "NAN_INPUT",
           "UNDETERMINED_ERR", "RAMP_FLAGS"]

#: A read of the pixel reached the saturation level (it and later reads
#: were not used).
SATURATED = 1
#: A cosmic-ray jump was found; the ramp was split into segments.
JUMP_DET = 2
#: Too few usable reads for a slope; the results are NaN.
TOO_FEW_READS = 4
#: At least one read was NaN, infinite or masked on input.
NAN_INPUT = 8
#: The slope was measured but its uncertainty could not be: without
#: ``read_noise`` it comes from the scatter of the reads about the fit, and
#: the ramp had no read to spare (as many usable reads as fitted
#: coefficients, e.g. two reads for a line); ``slope_err`` is NaN.
UNDETERMINED_ERR = 16
#: The flag bits by name.
RAMP_FLAGS = {"SATURATED": SATURATED, "JUMP_DET": JUMP_DET,
              "TOO_FEW_READS": TOO_FEW_READS, "NAN_INPUT": NAN_INPUT,
              "UNDETERMINED_ERR": UNDETERMINED_ERR}
