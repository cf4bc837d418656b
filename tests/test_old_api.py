"""
The public API of psfkit before the reorganisation into subpackages (the
``__all__`` of every public module of the 0.1 layout) still imports from
the same module paths.
"""

import importlib

import pytest

OLD_API = {
    "psfkit.cli": ("build_parser", "main"),
    "psfkit.datasets": (
        "DiffimTruth", "RampTruth", "make_adi_sequence", "make_diffim_pair",
        "make_gaussian_sources", "make_noise_image", "make_ramp_cube",
        "make_random_gaussians",
    ),
    "psfkit.datasets.adi": ("make_adi_sequence",),
    "psfkit.datasets.diffim": ("DiffimTruth", "make_diffim_pair"),
    "psfkit.datasets.gaussians": ("make_gaussian_sources", "make_random_gaussians"),
    "psfkit.datasets.noise": ("make_noise_image",),
    "psfkit.datasets.ramps": ("RampTruth", "make_ramp_cube"),
    "psfkit.demo": ("DEMO_SECTIONS", "DemoSection", "run_demo"),
    "psfkit.diffim": (
        "AssessSpatialKernelVisitor", "BuildSingleKernelVisitor",
        "BuildSpatialKernelVisitor", "CandidateStatus", "DecorrelationResult",
        "IllConditionedKernelWarning", "ImageMatchResult", "ImagePsfMatch",
        "KernelCandidate", "KernelSizeWarning", "KernelSolution", "KernelSumVisitor",
        "ModelMatchResult", "ModelPsfMatch", "NoKernelCandidatesError",
        "PsfMatchConfig", "SpatialCell", "SpatialCellSet", "SpatialFunction",
        "SpatialKernel", "SubtractionResult", "TileMatchFailedWarning",
        "TiledSubtractionResult", "WarpResult", "alard_lupton_basis", "align_template",
        "build_kernel_equations", "decorrelate_difference", "decorrelation_filter",
        "delta_function_basis", "delta_function_regularization", "lanczos_kernel",
        "lanczos_resample", "make_kernel_basis", "pca_kernel_basis", "pixel_mapping",
        "realize_psf", "scaled_alard_lupton_parameters", "solve_matching_kernel",
        "solve_spatial_kernel", "tiled_subtract_images", "warp_image", "wcs_differ",
    ),
    "psfkit.diffim.basis": (
        "alard_lupton_basis", "delta_function_basis", "delta_function_regularization",
        "make_kernel_basis", "pca_kernel_basis", "scaled_alard_lupton_parameters",
    ),
    "psfkit.diffim.candidates": (
        "CandidateStatus", "KernelCandidate", "SpatialCell", "SpatialCellSet",
        "build_kernel_equations",
    ),
    "psfkit.diffim.config": ("PsfMatchConfig",),
    "psfkit.diffim.decorrelation": (
        "DecorrelationResult", "decorrelate_difference", "decorrelation_filter",
    ),
    "psfkit.diffim.image_psf_match": (
        "ImageMatchResult", "ImagePsfMatch", "SubtractionResult",
    ),
    "psfkit.diffim.model_psf_match": (
        "KernelSizeWarning", "ModelMatchResult", "ModelPsfMatch", "realize_psf",
    ),
    "psfkit.diffim.plotting": (
        "plot_candidates", "plot_kernel_basis", "plot_kernel_mosaic",
        "plot_spatial_cells", "plot_spatial_coefficients", "plot_subtraction",
    ),
    "psfkit.diffim.solve": (
        "KernelSolution", "NoKernelCandidatesError", "solve_matching_kernel",
    ),
    "psfkit.diffim.spatial": (
        "IllConditionedKernelWarning", "SpatialFunction", "SpatialKernel",
        "solve_spatial_kernel",
    ),
    "psfkit.diffim.tiled": (
        "TileMatchFailedWarning", "TiledSubtractionResult", "tiled_subtract_images",
    ),
    "psfkit.diffim.visitors": (
        "AssessSpatialKernelVisitor", "BuildSingleKernelVisitor",
        "BuildSpatialKernelVisitor", "KernelSumVisitor",
    ),
    "psfkit.diffim.warping": (
        "WarpResult", "align_template", "lanczos_kernel", "lanczos_resample",
        "pixel_mapping", "warp_image", "wcs_differ",
    ),
    "psfkit.fitpsf": (
        "ADIResult", "BasePSFFitter", "KLIP", "LOCI", "LOCIAllPixelsSubtraction",
        "PluginCallable", "SNRResult", "SimpleSubtraction", "SkippedRegionWarning",
        "UseAllPixelsSubtraction", "adi_subtract", "aperture_sums", "base_indices",
        "classical_adi", "contrast_curve", "derotate_cube", "inject_planet",
        "map_remove_psf", "region_to_indices", "region_to_mask",
        "rotation_exclusion_mask", "snr",
    ),
    "psfkit.fitpsf.adi": (
        "ADIResult", "adi_subtract", "classical_adi", "derotate_cube",
        "rotation_exclusion_mask",
    ),
    "psfkit.fitpsf.evaluation": (
        "SNRResult", "aperture_sums", "contrast_curve", "inject_planet", "snr",
    ),
    "psfkit.fitpsf.findbase": (
        "allbases", "best_correlated", "nonmaskedbases", "rotation_exclusion",
    ),
    "psfkit.fitpsf.fitpsfcoeff": ("klip", "klip_operator", "lstsq", "lstsq_operator"),
    "psfkit.fitpsf.fitters": (
        "BasePSFFitter", "KLIP", "LOCI", "LOCIAllPixelsSubtraction",
        "SimpleSubtraction", "UseAllPixelsSubtraction",
    ),
    "psfkit.fitpsf.optregion": (
        "all_unmasked", "around_region", "dilate_indices", "dilated_region", "identity",
        "wrapper_ignore_all_masked", "wrapper_optmask",
    ),
    "psfkit.fitpsf.parallel": ("map_remove_psf",),
    "psfkit.fitpsf.regions": (
        "group_by_basis", "image_at_once", "image_unmasked", "pixel_by_pixel",
        "sector_labels", "sectors", "sectors_by_basis", "wrapper_min_size",
        "wrapper_overlap_region",
    ),
    "psfkit.fitpsf.utils": (
        "PluginCallable", "SkippedRegionWarning", "base_indices", "region_to_indices",
        "region_to_mask",
    ),
    "psfkit.fitsio": (
        "FitsInputError", "check_output_path", "read_fits_image", "write_fits_image",
    ),
    "psfkit.modelsets": (
        "JUMP_DET", "LazyModelSetFit", "LinearModelSetFitter", "ModelSetFitWarning",
        "NAN_INPUT", "RAMP_FLAGS", "RampFitResult", "SATURATED", "TOO_FEW_READS",
        "cube_to_model_set", "fit_ramps", "model_set_to_cube",
    ),
    "psfkit.modelsets.fitter": (
        "LazyModelSetFit", "LinearModelSetFitter", "ModelSetFitWarning",
    ),
    "psfkit.modelsets.ramps": (
        "JUMP_DET", "NAN_INPUT", "RAMP_FLAGS", "RampFitResult", "SATURATED",
        "TOO_FEW_READS", "fit_ramps",
    ),
    "psfkit.modelsets.shapes": ("cube_to_model_set", "model_set_to_cube"),
    "psfkit.photometry": (
        "Background2D", "BasicPSFPhotometry", "BatchedLMFitter",
        "BiweightLocationBackground", "BiweightScaleBackgroundRMS", "DAOGroup",
        "DAOPhotPSFPhotometry", "DAOStarFinder", "DBSCANGroup", "EPSFBuilder",
        "EPSFStar", "EPSFStars", "GaussianPSF", "GriddedPSFModel", "IRAFStarFinder",
        "ImagePSF", "IntegratedGaussianPRF", "IterativelySubtractedPSFPhotometry",
        "MADStdBackgroundRMS", "MMMBackground", "MeanBackground", "MedianBackground",
        "MoffatPSF", "PSFFlags", "PSFPhotometryResult", "PreparedPSFModel",
        "SExtractorBackground", "StarExcludedWarning", "StdBackgroundRMS",
        "TiledPhotometryResult", "evaluate_stack", "extract_stars", "find_peaks",
        "prepare_psf_model", "tiled_photometry",
    ),
    "psfkit.photometry.background": (
        "Background2D", "BiweightLocationBackground", "BiweightScaleBackgroundRMS",
        "MADStdBackgroundRMS", "MMMBackground", "MeanBackground", "MedianBackground",
        "SExtractorBackground", "StdBackgroundRMS",
    ),
    "psfkit.photometry.epsf": (
        "EPSFBuilder", "EPSFStar", "EPSFStars", "StarExcludedWarning", "extract_stars",
    ),
    "psfkit.photometry.finders": ("DAOStarFinder", "IRAFStarFinder", "find_peaks"),
    "psfkit.photometry.groupers": ("DAOGroup", "DBSCANGroup"),
    "psfkit.photometry.models": (
        "GaussianPSF", "GriddedPSFModel", "ImagePSF", "IntegratedGaussianPRF",
        "MoffatPSF", "PreparedPSFModel", "evaluate_stack", "prepare_psf_model",
    ),
    "psfkit.photometry.psf_photometry": (
        "BasicPSFPhotometry", "BatchedLMFitter", "DAOPhotPSFPhotometry",
        "IterativelySubtractedPSFPhotometry", "PSFFlags", "PSFPhotometryResult",
    ),
    "psfkit.photometry.tiled": ("TiledPhotometryResult", "tiled_photometry"),
    "psfkit.utils": (
        "ArrayData", "InputDataError", "NoDetectionsWarning", "NonFiniteValueWarning",
        "PsfkitError", "PsfkitWarning", "as_pair", "available_cpus", "check_in",
        "check_integer", "check_odd", "check_positive", "coerce_data", "executor_kind",
        "get_rng", "resolve_threads", "run_chunked", "run_tasks",
        "single_threaded_blas", "uncertainty_to_error",
    ),
    "psfkit.utils.exceptions": (
        "InputDataError", "NoDetectionsWarning", "NonFiniteValueWarning", "PsfkitError",
        "PsfkitWarning",
    ),
    "psfkit.utils.inputs": ("ArrayData", "coerce_data", "uncertainty_to_error"),
    "psfkit.utils.parallel": ("executor_kind", "run_tasks"),
    "psfkit.utils.random": ("get_rng",),
    "psfkit.utils.threads": (
        "available_cpus", "resolve_threads", "run_chunked", "single_threaded_blas",
    ),
    "psfkit.utils.validation": (
        "as_pair", "check_in", "check_integer", "check_odd", "check_positive",
    ),
}


@pytest.mark.parametrize("module", sorted(OLD_API))
def test_old_module_paths_import_their_names(module):
    imported = importlib.import_module(module)
    missing = [name for name in OLD_API[module] if not hasattr(imported, name)]
    assert not missing, f"{module} no longer provides {missing}"
