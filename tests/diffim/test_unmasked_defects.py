"""Plain arrays carry no mask: defects must not drag the kernel solution."""

import pytest

from psfkit.datasets import make_diffim_pair
from psfkit.diffim import ImagePsfMatch


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
