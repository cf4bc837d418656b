"""Tests of the groupers against brute-force clustering."""

import sys

from astropy.table import QTable, Table
import astropy.units as u
from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
from numpy.testing import assert_array_equal
import pytest

from psfkit.photometry import DAOGroup, DBSCANGroup, SourceGrouper, SourceGroups
from psfkit.utils import PsfkitDeprecationWarning, find_xy_columns


def _brute_force_groups(x, y, radius, *, strict=True):
    """O(N^2) union-find over all pairs, ids by first appearance."""
    n = len(x)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            d = np.hypot(x[i] - x[j], y[i] - y[j])
            if (d < radius) if strict else (d <= radius):
                parent[find(i)] = find(j)
    roots = [find(i) for i in range(n)]
    ids = {}
    return np.array([ids.setdefault(r, len(ids) + 1) for r in roots],
                    dtype=np.int64)


def _brute_force_dbscan(x, y, eps, min_samples):
    """Sequential DBSCAN as in the original paper, noise as singletons."""
    n = len(x)
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    neigh = [np.nonzero(d[i] <= eps)[0] for i in range(n)]
    core = np.array([len(nb) >= min_samples for nb in neigh])
    labels = np.full(n, -1)
    k = 0
    for i in range(n):
        if labels[i] != -1 or not core[i]:
            continue
        labels[i] = k
        stack = [i]
        while stack:
            j = stack.pop()
            if not core[j]:
                continue
            for m in neigh[j]:
                if labels[m] == -1:
                    labels[m] = k
                    stack.append(m)
        k += 1
    noise = labels < 0
    labels[noise] = k + np.arange(noise.sum())
    ids = {}
    return np.array([ids.setdefault(v, len(ids) + 1) for v in labels])


def _table(x, y, names=("x_0", "y_0")):
    return QTable({names[0]: np.asarray(x, float),
                   names[1]: np.asarray(y, float)})


@pytest.mark.parametrize("seed", range(4))
def test_daogroup_matches_brute_force_random(seed):
    rng = np.random.default_rng(seed)
    n = 300
    x = rng.uniform(0, 200, n)
    y = rng.uniform(0, 200, n)
    radius = rng.uniform(3, 12)
    got = DAOGroup(radius)(_table(x, y))["group_id"]
    assert_array_equal(got, _brute_force_groups(x, y, radius))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)),
                min_size=0, max_size=40),
       st.sampled_from([1.0, 2.0, 3.0, 5.0, 2.5]))
def test_daogroup_matches_brute_force_on_integer_grid(points, radius):
    # integer positions put many pairs at exactly the critical distance
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    got = DAOGroup(radius)(_table(x, y))["group_id"]
    assert_array_equal(got, _brute_force_groups(x, y, radius))
    incl = DBSCANGroup(radius)(_table(x, y))["group_id"]
    assert_array_equal(incl, _brute_force_groups(x, y, radius, strict=False))


def test_strict_separation_and_ids():
    table = _table([0, 2, 4, 10, 12.5], [0, 0, 0, 0, 0])
    assert DAOGroup(2.0)(table)["group_id"].tolist() == [1, 2, 3, 4, 5]
    assert DAOGroup(2.0001)(table)["group_id"].tolist() == [1, 1, 1, 2, 3]
    assert DBSCANGroup(2.0)(table)["group_id"].tolist() == [1, 1, 1, 2, 3]
    # ids follow first appearance, not position
    shuffled = _table([10, 0, 12, 1], [0, 0, 0, 0])
    assert DAOGroup(3.0)(shuffled)["group_id"].tolist() == [1, 2, 1, 2]


def test_input_not_modified_and_columns_kept():
    table = _table([0, 1, 5], [0, 0, 0])
    table["flux"] = [1.0, 2.0, 3.0]
    before = table.copy()
    out = DAOGroup(2.0)(table)
    assert "group_id" not in table.colnames
    assert all(np.all(table[c] == before[c]) for c in before.colnames)
    assert out.colnames == ["x_0", "y_0", "flux", "group_id"]
    assert out["group_id"].dtype == np.int64
    assert isinstance(out, QTable)
    assert isinstance(DAOGroup(2.0)(Table(table)), Table)


@pytest.mark.parametrize("grouper", [DAOGroup(4.0), DBSCANGroup(4.0),
                                     SourceGrouper(min_separation=4.0)])
def test_positions_read_like_every_other_function(grouper):
    # a table with both x and x_0 is read as x, as find_column, the
    # photometry classes' initial guesses and extract_stars read it (the
    # groupers used to prefer x_0)
    table = QTable({"x": [0.0, 100.0, 101.0], "y": [0.0, 0.0, 0.0],
                    "x_0": [0.0, 1.0, 200.0], "y_0": [0.0, 0.0, 0.0]})
    assert find_xy_columns(table) == ("x", "y")
    assert grouper(table)["group_id"].tolist() == [1, 2, 2]


@pytest.mark.parametrize("grouper", [DAOGroup(3.0), DBSCANGroup(3.0),
                                     DBSCANGroup(3.0, min_samples=3)])
def test_empty_single_and_duplicates(grouper):
    empty = grouper(_table([], []))
    assert len(empty) == 0 and "group_id" in empty.colnames
    assert empty["group_id"].dtype.kind == "i"
    single = grouper(_table([4.0], [5.0]))
    assert single["group_id"].tolist() == [1]
    dup = grouper(_table([1.0, 1.0, 1.0, 50.0], [2.0, 2.0, 2.0, 2.0]))
    assert dup["group_id"].tolist() == [1, 1, 1, 2]


def test_fallback_columns_and_errors():
    finder_like = _table([0, 1, 9], [0, 0, 0], names=("xcentroid", "ycentroid"))
    assert DAOGroup(2.0)(finder_like)["group_id"].tolist() == [1, 1, 2]
    with_units = QTable({"x_0": [0, 1, 9] * u.pix, "y_0": [0, 0, 0] * u.pix})
    assert DAOGroup(2.0)(with_units)["group_id"].tolist() == [1, 1, 2]
    with pytest.raises(ValueError, match="has no x column"):
        DAOGroup(2.0)(QTable({"a": [1.0]}))
    with pytest.raises(ValueError, match="x_0"):
        DAOGroup(2.0)(_table([np.nan, 1.0], [0.0, 0.0]))
    with pytest.raises(TypeError, match="Table"):
        DAOGroup(2.0)({"x_0": [1.0], "y_0": [1.0]})
    with pytest.raises(ValueError, match="crit_separation"):
        DAOGroup(0.0)
    with pytest.raises(ValueError, match="min_samples"):
        DBSCANGroup(1.0, min_samples=0)
    with pytest.raises(ValueError, match="engine"):
        DBSCANGroup(1.0, engine="fast")
    # method aliases
    table = _table([0, 1, 9], [0, 0, 0])
    assert DAOGroup(2.0).group_stars(table)["group_id"].tolist() == [1, 1, 2]
    assert DBSCANGroup(2.0).group_stars(table)["group_id"].tolist() == [1, 1, 2]


def _force_builtin(monkeypatch):
    # a None entry in sys.modules makes `import sklearn.cluster` fail
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.cluster", None)


@pytest.mark.parametrize("min_samples", [1, 2, 4, 6])
@pytest.mark.parametrize("seed", range(3))
def test_dbscan_builtin_matches_brute_force_and_sklearn(monkeypatch, seed,
                                                        min_samples):
    rng = np.random.default_rng(100 + seed)
    n = 250
    x = rng.uniform(0, 100, n)
    y = rng.uniform(0, 100, n)
    table = _table(x, y)
    eps = 4.0
    truth = _brute_force_dbscan(x, y, eps, min_samples)
    pytest.importorskip("sklearn")
    with_sklearn = DBSCANGroup(eps, min_samples=min_samples,
                               engine="sklearn")(table)["group_id"]
    explicit = DBSCANGroup(eps, min_samples=min_samples,
                           engine="builtin")(table)["group_id"]
    auto = DBSCANGroup(eps, min_samples=min_samples)(table)["group_id"]
    _force_builtin(monkeypatch)
    builtin = DBSCANGroup(eps, min_samples=min_samples)(table)["group_id"]
    assert_array_equal(builtin, truth)
    assert_array_equal(explicit, truth)
    assert_array_equal(with_sklearn, truth)
    assert_array_equal(auto, truth)
    with pytest.raises(ImportError, match="scikit-learn"):
        DBSCANGroup(eps, engine="sklearn")(table)


def test_dbscan_builtin_metrics(monkeypatch):
    _force_builtin(monkeypatch)
    table = _table([0, 3, 6, 6], [0, 3, 3, 20])
    # Chebyshev distance of (0,0)-(3,3) is 3, Euclidean 4.24
    assert DBSCANGroup(3.0, metric="chebyshev")(table)["group_id"].tolist() == [
        1, 1, 1, 2]
    assert DBSCANGroup(3.0)(table)["group_id"].tolist() == [1, 2, 2, 3]
    assert DBSCANGroup(6.0, metric="manhattan")(table)["group_id"].tolist() == [
        1, 1, 1, 2]
    with pytest.raises(ValueError, match="scikit-learn"):
        DBSCANGroup(3.0, metric="cosine")(table)


def test_agreement_with_photutils_grouper():
    psf = pytest.importorskip("photutils.psf")
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 300, 500)
    y = rng.uniform(0, 300, 500)
    theirs = psf.SourceGrouper(min_separation=6.0)(x, y)
    # SourceGrouper is the same grouping, numbered the same way
    assert_array_equal(SourceGrouper(6.0)(x, y), theirs)
    # DAOGroup only differs for pairs exactly 6 apart (none here)
    assert_array_equal(DAOGroup(6.0)(_table(x, y))["group_id"], theirs)
    # on an integer grid ties are common: photutils links them (<=)
    gx = np.arange(0, 60, 5.0)
    gy = np.zeros(gx.size)
    assert_array_equal(SourceGrouper(5.0)(gx, gy),
                       psf.SourceGrouper(min_separation=5.0)(gx, gy))
    assert DAOGroup(5.0)(gx, gy).max() == gx.size


@pytest.mark.parametrize("grouper", [DAOGroup(4.0), DBSCANGroup(4.0),
                                     SourceGrouper(4.0)])
def test_both_calling_conventions(grouper):
    rng = np.random.default_rng(8)
    x = rng.uniform(0, 50, 40)
    y = rng.uniform(0, 50, 40)
    by_table = grouper(_table(x, y))["group_id"]
    by_xy = grouper(x, y)
    assert_array_equal(by_xy, by_table)
    groups = grouper(list(x), list(y), return_groups_object=True)
    assert isinstance(groups, SourceGroups)
    assert_array_equal(groups.groups, by_xy)
    with pytest.raises(ValueError, match="same shape"):
        grouper(x, y[:-1])
    with pytest.raises(ValueError, match="x coordinates must be finite"):
        grouper(np.append(x[:3], np.nan), y[:4])
    with pytest.raises(TypeError, match="positions"):
        grouper(_table(x, y), return_groups_object=True)


def test_photutils_grouper_gives_the_same_ids():
    # a photutils grouper takes positions; psfkit's take both
    psf = pytest.importorskip("photutils.psf")
    x = np.array([0.0, 1.0, 9.0])
    y = np.zeros(3)
    assert_array_equal(psf.SourceGrouper(2.0)(x, y), DAOGroup(2.0)(x, y))


def test_grouper_settings_and_reprs():
    grouper = DBSCANGroup(3.0, min_samples=2)
    assert repr(grouper) == "DBSCANGroup(crit_separation=3, min_samples=2)"
    assert repr(DAOGroup(2.5)) == "DAOGroup(crit_separation=2.5)"
    assert repr(SourceGrouper(7)) == "SourceGrouper(min_separation=7)"
    assert "engine" in grouper._repr_html_()
    for obj, name, bad in ((grouper, "crit_separation", -1.0),
                           (grouper, "min_samples", 0),
                           (grouper, "engine", "fast"),
                           (DAOGroup(2.0), "crit_separation", np.nan),
                           (SourceGrouper(2.0), "min_separation", -1.0)):
        before = getattr(obj, name)
        with pytest.raises((ValueError, TypeError), match=name):
            setattr(obj, name, bad)
        assert getattr(obj, name) == before


def test_source_groups():
    import matplotlib.pyplot as plt

    groups = SourceGroups([10, 15, 50, 55, 100], [20, 25, 60, 65, 90],
                          [1, 1, 2, 2, 3])
    assert (groups.n_sources, groups.n_groups, len(groups)) == (5, 3, 5)
    assert groups.size_map == {1: 2, 2: 2, 3: 1}
    assert_array_equal(groups.sizes, [2, 2, 2, 2, 1])
    assert groups.group_centers == {1: (12.5, 22.5), 2: (52.5, 62.5),
                                    3: (100.0, 90.0)}
    x1, y1 = groups.get_group_sources(1)
    assert_array_equal(x1, [10, 15]) and assert_array_equal(y1, [20, 25])
    with pytest.raises(ValueError, match="Group ID 7 not found"):
        groups.get_group_sources(7)
    with pytest.raises(ValueError, match="same shape"):
        SourceGroups([1, 2], [1, 2], [1])
    fig, ax = plt.subplots()
    groups.plot(3.0, ax=ax, label_groups=True, cmap="viridis")
    assert len(ax.texts) == 3 and len(ax.collections) == 1
    plt.close(fig)
    # random_state= as everywhere in psfkit; photutils' seed= is a
    # deprecated alias giving the same colours
    colours = []
    for kwargs in ({"random_state": 4}, {"seed": 4}):
        fig, ax = plt.subplots()
        if "seed" in kwargs:
            with pytest.warns(PsfkitDeprecationWarning, match="seed="):
                groups.plot(3.0, ax=ax, **kwargs)
        else:
            groups.plot(3.0, ax=ax, **kwargs)
        colours.append(ax.collections[0].get_edgecolor())
        plt.close(fig)
    assert_array_equal(colours[0], colours[1])


def test_separations_in_pixels_and_zero():
    import astropy.units as u

    psf = pytest.importorskip("photutils.psf")
    x = np.array([1.0, 1.0, 5.0, 5.3, 9.0])
    y = np.array([2.0, 2.0, 3.0, 3.0, 3.0])
    # zero groups the sources at the same position only, as photutils
    assert_array_equal(SourceGrouper(0)(x, y), psf.SourceGrouper(0)(x, y))
    assert_array_equal(SourceGrouper(0)(x, y), [1, 1, 2, 3, 4])
    # a distance in pixels is a distance; another unit is an error
    assert_array_equal(SourceGrouper(0.5 * u.pix)(x, y),
                       SourceGrouper(0.5)(x, y))
    assert_array_equal(DAOGroup(1 * u.pix)(x, y), DAOGroup(1.0)(x, y))
    with pytest.raises(u.UnitsError, match="min_separation must be a "
                       "distance in pixels"):
        SourceGrouper(3 * u.arcsec)
    with pytest.raises(ValueError, match="crit_separation must be a positive"):
        DAOGroup(0)
