"""Demo section: PSF matching and subtraction of a simulated pair."""

import time

import numpy as np

from ..datasets import make_diffim_pair
from ..diffim import ImagePsfMatch, PsfMatchConfig
from .report import DemoSection


def demo(outdir, *, quick=False):
    import matplotlib.pyplot as plt

    shape = (256, 256) if quick else (1024, 1024)
    n_stars = 300 if quick else 4000
    template, science, truth = make_diffim_pair(
        shape, n_stars=n_stars, flux_range=(3e3, 3e5), science_gain=4.0,
        template_gain=16.0, n_transients=20 if quick else 60,
        random_state=2 if quick else 11)
    config = PsfMatchConfig(size_cell_x=64 if quick else 128,
                            size_cell_y=64 if quick else 128,
                            kernel_size_min=11)
    t0 = time.perf_counter()
    result = ImagePsfMatch(config).subtract_images(template, science)
    seconds = time.perf_counter() - t0
    diff = result.difference
    bg_err = (result.background - truth.background)[~diff.mask]

    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    view = (slice(0, 256), slice(0, 256))
    for ax, img, title in ((axes[0], template.data, "template"),
                           (axes[1], science.data, "science"),
                           (axes[2], np.where(diff.mask, np.nan,
                                              diff.data / np.sqrt(
                                                  diff.uncertainty.array)),
                            "difference / sigma")):
        sub = img[view]
        lo, hi = ((-5, 5) if "difference" in title
                  else np.nanpercentile(sub, [1, 99.5]))
        ax.imshow(sub, origin="lower", vmin=lo, vmax=hi, cmap="gray")
        ax.set_title(title)
    tx, ty = truth.transients["x"], truth.transients["y"]
    inside = (tx < 256) & (ty < 256)
    axes[2].plot(tx[inside], ty[inside], "o", mfc="none", mec="r", ms=10)
    fig.tight_layout()
    fig.savefig(outdir / "diffim_subtraction.png", dpi=80)
    plt.close(fig)

    table = result.candidates
    fig, ax = plt.subplots(figsize=(5, 5))
    good = table["status"] == "good"
    ax.plot(table["x"][good], table["y"][good], "g+", label="used")
    ax.plot(table["x"][~good], table["y"][~good], "rx", label="rejected / spare")
    for edge in range(0, shape[1] + 1, config.size_cell_x):
        ax.axvline(edge - 0.5, color="0.8", lw=0.5)
    for edge in range(0, shape[0] + 1, config.size_cell_y):
        ax.axhline(edge - 0.5, color="0.8", lw=0.5)
    ax.set_xlim(-0.5, shape[1] - 0.5)
    ax.set_ylim(-0.5, shape[0] - 0.5)
    ax.set_title("kernel candidates and spatial cells")
    ax.legend(loc="upper right", fontsize=8)
    fig.savefig(outdir / "diffim_cells.png", dpi=80, bbox_inches="tight")
    plt.close(fig)

    return DemoSection(
        title="Image differencing (psfkit.diffim)",
        summary=(f"ImagePsfMatch on a simulated {shape[0]}x{shape[1]} pair with "
                 "spatially varying Gaussian PSFs (FWHM 2.5 and 3.5 px), a "
                 "flux scale of 1.2, a sloped sky offset, saturated and masked "
                 "stars and point-source transients (circled)."),
        metrics={
            "kernel sum / true flux ratio":
                f"{result.kernel_sum / truth.flux_scale:.4f}",
            "robust std of difference / sigma (ideal 1)":
                f"{result.difference_std:.3f}",
            "background error (mean, counts; pixel noise ~10)":
                f"{np.mean(bg_err):.2f}",
            "candidates made / used":
                f"{result.n_candidates} / {result.n_candidates_used}",
            "match + subtract time (s)": f"{seconds:.2f}",
        },
        figures=["diffim_subtraction.png", "diffim_cells.png"],
    )
