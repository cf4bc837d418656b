"""
photutils' grouper tests, re-expressed for psfkit's `SourceGrouper` and
`SourceGroups`.

The cases below restate, in psfkit's own code, the inputs and expected
behaviour of ``photutils/psf/tests/test_groupers.py`` (photutils 3.0).
photutils is distributed under the BSD 3-Clause licence.  Each test names
the photutils test it mirrors.
"""

import numpy as np
from numpy.testing import assert_equal
import pytest

from psfkit.photometry import DAOGroup, DBSCANGroup, SourceGrouper, SourceGroups

R = np.sqrt(2) / 4
#: five sources in an X (photutils' "cross" of one group)
CROSS_X = np.array([0, R, R, -R, -R])
CROSS_Y = np.array([0, R, -R, R, -R])


def test_initialization_and_repr():
    # mirrors TestSourceGrouper::test_initialization and ::test_repr
    grouper = SourceGrouper(min_separation=10.0)
    assert grouper.min_separation == 10.0
    assert "SourceGrouper" in repr(SourceGrouper(min_separation=5.5))
    assert "5.5" in repr(SourceGrouper(min_separation=5.5))


def test_invalid_positions():
    # mirrors TestSourceGrouper::test_empty_input, ::test_mismatched_shapes,
    # ::test_non_finite_x, ::test_non_finite_x_inf, ::test_non_finite_y and
    # ::test_non_finite_y_inf
    grouper = SourceGrouper(min_separation=10)
    with pytest.raises(ValueError, match="x and y must not be empty"):
        grouper(np.array([]), np.array([]))
    with pytest.raises(ValueError, match="x and y must have the same shape"):
        grouper(np.array([1, 2, 3, 4]), np.array([1, 2]))
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="x coordinates must be finite"):
            grouper(np.array([1, 2, bad]), np.array([1, 2, 3]))
        with pytest.raises(ValueError, match="y coordinates must be finite"):
            grouper(np.array([1, 2, 3]), np.array([1, bad, 3]))


def test_single_source():
    # mirrors TestSourceGrouper::test_single_source and
    # ::test_single_source_return_groups_object
    grouper = SourceGrouper(min_separation=10)
    result = grouper(np.array([0]), np.array([0]))
    assert isinstance(result, np.ndarray)
    assert_equal(result, [1])
    groups = grouper(np.array([0]), np.array([0]), return_groups_object=True)
    assert isinstance(groups, SourceGroups)
    assert (groups.n_sources, groups.n_groups) == (1, 1)


def test_all_isolated_sources():
    # mirrors TestSourceGrouper::test_all_isolated_sources
    result = SourceGrouper(min_separation=0.01)(CROSS_X, CROSS_Y)
    assert_equal(result, np.arange(1, 6))


@pytest.mark.parametrize(("xs", "ys", "sep", "expected"), [
    # mirrors TestSourceGrouper::test_two_groups_horizontal
    ((CROSS_X, CROSS_X + 2.0), (CROSS_Y, CROSS_Y), 0.6, [1] * 5 + [2] * 5),
    # mirrors TestSourceGrouper::test_two_groups_vertical
    ((np.zeros(5), np.zeros(5)), (np.linspace(0, 1, 5), np.linspace(2, 3, 5)),
     0.3, [1] * 5 + [2] * 5),
    # mirrors TestSourceGrouper::test_two_groups_horizontal_separated
    ((np.linspace(0, 1, 5), np.linspace(2, 3, 5)), (np.zeros(5), np.zeros(5)),
     0.3, [1] * 5 + [2] * 5),
    # mirrors TestSourceGrouper::test_three_groups_horizontal
    ((CROSS_X, CROSS_X + 2.0, CROSS_X + 4.0), (CROSS_Y,) * 3, 0.6,
     [1] * 5 + [2] * 5 + [3] * 5),
    # mirrors TestSourceGrouper::test_four_groups_cross_pattern
    ((1.5 * np.ones(5), 1.5 * np.ones(5), np.linspace(0, 1, 5),
      np.linspace(2, 3, 5)),
     (np.linspace(0, 1, 5), np.linspace(2, 3, 5), 1.5 * np.ones(5),
      1.5 * np.ones(5)), 0.3, [1] * 5 + [2] * 5 + [3] * 5 + [4] * 5),
])
def test_group_patterns(xs, ys, sep, expected):
    x = np.hstack(xs)
    y = np.hstack(ys)
    assert_equal(SourceGrouper(min_separation=sep)(x, y), expected)
    # psfkit's DAOGroup and DBSCANGroup agree when no pair is exactly
    # sep apart (DAOGroup's link is strict)
    assert_equal(DBSCANGroup(sep)(x, y), expected)


def test_circular_group():
    # mirrors TestSourceGrouper::test_circular_group
    x = np.linspace(-1.0, 1.0, 5)
    y = np.sqrt(1.0 - x**2)
    result = SourceGrouper(min_separation=2.5)(np.hstack((x, x)),
                                               np.hstack((y, -y)))
    assert_equal(result, np.ones(10, dtype=int))


def test_list_input_and_return_types():
    # mirrors TestSourceGrouper::test_list_input,
    # ::test_return_groups_object_parameter,
    # ::test_return_groups_object_false_explicit,
    # ::test_returns_array_by_default and
    # ::test_returns_sourcegroups_object_when_requested
    grouper = SourceGrouper(min_separation=5)
    result = grouper([0, 10, 20], [0, 10, 20])
    assert isinstance(result, np.ndarray)
    assert_equal(result, [1, 2, 3])
    groups = grouper(np.array([0, 10, 20]), np.array([0, 10, 20]),
                     return_groups_object=True)
    assert (groups.n_sources, groups.n_groups) == (3, 3)
    assert_equal(groups.groups, [1, 2, 3])
    for name in ("groups", "x", "y", "n_sources", "n_groups"):
        assert hasattr(groups, name)
    assert_equal(SourceGrouper(min_separation=10)(
        np.array([10, 15, 50]), np.array([20, 25, 60]),
        return_groups_object=False), [1, 1, 2])


def test_different_min_separations():
    # mirrors TestSourceGrouper::test_different_min_separations (sources
    # exactly min_separation apart are grouped)
    x = np.array([0, 5, 10])
    y = np.zeros(3)
    assert len(np.unique(SourceGrouper(min_separation=5)(x, y))) == 1
    assert len(np.unique(SourceGrouper(min_separation=4)(x, y))) == 3
    assert len(np.unique(SourceGrouper(min_separation=20)(x, y))) == 1
    # DAOGroup (the seed's) links strictly closer sources only
    assert len(np.unique(DAOGroup(5)(x, y))) == 3


def test_clustered_with_isolated_and_tiny_separation():
    # mirrors TestSourceGrouper::test_clustered_with_isolated and
    # ::test_very_small_separation
    x = np.array([0, 0.1, 0.2, 0.1, 0.2, 10, 20, 30])
    y = np.array([0, 0.1, 0.0, 0.0, 0.1, 10, 20, 30])
    result = SourceGrouper(min_separation=1.0)(x, y)
    assert len(np.unique(result)) == 4
    assert len(np.unique(result[:5])) == 1
    tiny = SourceGrouper(min_separation=0.01)(np.array([0, 0.001, 0.002]),
                                              np.array([0, 0.001, 0.002]))
    assert_equal(tiny, [1, 1, 1])


@pytest.fixture
def sample_groups():
    x = np.array([0, 0.1, 0.2, 10, 10.1, 20])
    y = np.array([0, 0.1, 0.0, 10, 10.1, 20])
    return SourceGrouper(min_separation=1.0)(x, y, return_groups_object=True)


def test_source_groups_properties(sample_groups):
    # mirrors TestSourceGroups::test_initialization, ::test_repr, ::test_len,
    # ::test_sizes_property, ::test_group_centers_property
    groups = sample_groups
    assert_equal(groups.groups, [1, 1, 1, 2, 2, 3])
    assert (groups.n_sources, groups.n_groups, len(groups)) == (6, 3, 6)
    assert "n_sources=6" in repr(groups) and "n_groups=3" in repr(groups)
    assert_equal(groups.sizes, [3, 3, 3, 2, 2, 1])
    centers = groups.group_centers
    assert np.allclose(centers[1], (0.1, 1 / 30))
    assert np.allclose(centers[2], (10.05, 10.05))
    assert np.allclose(centers[3], (20.0, 20.0))


def test_source_groups_access_and_errors(sample_groups):
    # mirrors TestSourceGroups::test_get_group_sources,
    # ::test_get_group_sources_invalid_id,
    # ::test_initialization_mismatched_shapes,
    # ::test_initialization_groups_mismatch, ::test_single_source,
    # ::test_all_isolated_sources and ::test_all_in_one_group
    x, y = sample_groups.get_group_sources(2)
    assert_equal(x, [10, 10.1]) and assert_equal(y, [10, 10.1])
    with pytest.raises(ValueError, match="Group ID 99 not found"):
        sample_groups.get_group_sources(99)
    with pytest.raises(ValueError, match="same shape"):
        SourceGroups([1, 2, 3], [1, 2], [1, 1, 1])
    with pytest.raises(ValueError, match="same shape"):
        SourceGroups([1, 2, 3], [1, 2, 3], [1, 1])
    assert SourceGroups([5], [5], [1]).n_groups == 1
    assert SourceGroups([0, 5, 9], [0, 5, 9], [1, 2, 3]).n_groups == 3
    assert SourceGroups([0, 1, 2], [0, 1, 2], [1, 1, 1]).size_map == {1: 3}


def test_source_groups_plot(sample_groups):
    # mirrors TestSourceGroups::test_plot_basic, ::test_plot_cmap,
    # ::test_plot_with_label_offset, ::test_plot_with_custom_kwargs and
    # ::test_plot_no_axes
    import matplotlib.pyplot as plt

    for kwargs in ({}, {"cmap": "viridis"},
                   {"label_groups": True, "label_offset": (1, -1)},
                   {"linewidth": 2, "linestyle": "--"}):
        fig, ax = plt.subplots()
        assert sample_groups.plot(1.5, ax=ax, **kwargs) is ax
        plt.close(fig)
    ax = sample_groups.plot(1.5)
    assert ax is not None
    plt.close("all")
