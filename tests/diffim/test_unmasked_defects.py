"""Plain arrays carry no mask: defects must not drag the kernel solution."""

from astropy.nddata import NDData
import numpy as np
import pytest

from psfkit.datasets import make_diffim_pair
from psfkit.diffim import ImagePsfMatch, PsfMatchConfig
from psfkit.diffim._select import saturated


@pytest.mark.parametrize("seed", [1, 2])
def test_plain_arrays_with_unmasked_hot_column_and_dead_region(seed):
    template, science, truth = make_diffim_pair(random_state=seed)
    # the simulator's defects: a hot template column and dead science pixels
    assert template.mask.any() and science.mask.any()
    result = ImagePsfMatch().subtract_images(template.data, science.data)
    # without the masks some candidates cross the defects; they must be
    # rejected, not pull the kernel sum away from the true flux ratio
    assert abs(result.kernel_sum / truth.flux_scale - 1) < 0.03
    assert abs(result.difference_std - 1) < 0.1
    rejected = result.candidates[result.candidates["status"] == "bad"]
    assert len(rejected) > 0


def test_clipped_stars_left_unmasked_are_not_candidates():
    """Stars clipped at one level in both images, without a mask: none of
    them (nor a stamp holding one) may pull the kernel sum."""
    template, science, truth = make_diffim_pair(
        (256, 256), n_stars=150, flux_range=(2e3, 2e6), saturation_level=1e12,
        n_masked=0, n_transients=0, template_gain=16.0, science_gain=4.0,
        random_state=0)
    level = 2e4
    assert (template.data >= level).sum() > 2 and (science.data >= level).sum() > 2

    def clipped(image):
        return NDData(np.minimum(image.data, level), mask=image.mask,
                      uncertainty=image.uncertainty)

    result = ImagePsfMatch(PsfMatchConfig(size_cell_x=64, size_cell_y=64)
                           ).subtract_images(clipped(template), clipped(science))
    assert abs(result.kernel_sum / truth.flux_scale - 1) < 0.003
    half = result.cell_set.candidates[0].stamp_size // 2
    for cand in result.cell_set.candidates:
        x, y = int(cand.x), int(cand.y)
        box = (slice(y - half, y + half + 1), slice(x - half, x + half + 1))
        assert template.data[box].max() < level
        assert science.data[box].max() < level


def test_saturation_is_seen_anywhere_in_the_stamp():
    """A pixel at the image's clipping level at the edge of a box flags it;
    two equal top pixels of a star centred between them do not."""
    data = np.random.default_rng(0).normal(size=(40, 40))
    bad = np.zeros(data.shape, dtype=bool)
    data[20, 20] = data[20, 21] = 5.0           # star centred between them
    data[5, 5] = data[30, 35] = data[30, 36] = 9.0   # clipped at 9
    x, y = np.array([20, 30, 10]), np.array([20, 25, 10])
    # box of half-width 5: the second holds one clipped pixel at its edge
    assert saturated(data, bad, x, y, 5).tolist() == [False, True, True]
    # one pixel at the largest value is a star's peak, not a clipping level
    data[5, 5] = data[30, 36] = 0.0
    assert saturated(data, bad, x, y, 5).tolist() == [False, False, False]
    # a flat top of three pixels at a level of its own
    data[12, 9:12] = 7.0
    assert saturated(data, bad, x, y, 5).tolist() == [False, False, True]
