"""Demo section: a simulated star field with its truth."""

import numpy as np

from ..datasets import make_gaussian_sources, make_noise_image, make_random_gaussians
from ..utils import show_image
from .section import DemoSection


def demo(outdir, *, quick=False):
    import matplotlib.pyplot as plt

    shape = (128, 128) if quick else (256, 256)
    nstars = 40 if quick else 150
    truth = make_random_gaussians(nstars, (500, 5000), (5, shape[1] - 5),
                                  (5, shape[0] - 5), (1.5, 2.5), (1.5, 2.5),
                                  random_state=42)
    stars = make_gaussian_sources(shape, truth)
    noise = make_noise_image(shape, type="gaussian", mean=10.0, stddev=3.0,
                             random_state=42)
    image = stars + noise
    fig, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    show_image(ax, image, label="simulated counts", cmap="viridis",
               title=f"Simulated field, the whole {shape[0]}x{shape[1]} image "
                     "(+ = true positions)")
    ax.plot(truth["x_mean"], truth["y_mean"], "+", color="tab:red", ms=6)
    fig.savefig(outdir / "datasets_field.png", dpi=90)
    plt.close(fig)
    flux_err = abs(stars.sum() - np.sum(truth["flux"])) / np.sum(truth["flux"])
    return DemoSection(
        title="Simulated data (psfkit.datasets)",
        summary=(f"{nstars} Gaussian stars on a {shape[0]}x{shape[1]} image "
                 "with Gaussian sky noise, drawn from a random table."),
        metrics={"stars": nstars,
                 "relative total-flux error (stars near edges lose flux)":
                     f"{flux_err:.2e}",
                 "noise std (expected 3.0)": f"{noise.std():.3f}"},
        figures=["datasets_field.png"],
    )
