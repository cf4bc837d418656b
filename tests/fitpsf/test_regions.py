"""Region plug-ins against brute-force versions."""

from collections import defaultdict

import astropy.units as u
from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from psfkit.fitpsf import LOCI, BasePSFFitter, region_to_indices, region_to_mask
from psfkit.fitpsf import regions as rg


def _counts(fitter):
    shape = fitter.image_shape
    counts = np.zeros(int(np.prod(shape)), dtype=int)
    for reg in fitter.regions():
        counts[region_to_indices(reg, shape)] += 1
    return counts


def _fitter(shape=(23, 30), n=4, seed=0, base_mask=None, image_mask=None):
    rng = np.random.default_rng(seed)
    base = np.ma.MaskedArray(rng.normal(size=(n, *shape)))
    if base_mask is not None:
        base.mask = base_mask
    img = np.ma.MaskedArray(rng.normal(size=shape))
    if image_mask is not None:
        img.mask = image_mask
    return BasePSFFitter(base, img, bases_axis=0)


@pytest.mark.parametrize("shape", [(23, 30), (40, 40), (1, 7)])
@pytest.mark.parametrize("phi", [1, 5, 12, np.linspace(0.1, 6.1, 10),
                                 [3.0, 1.0, 5.5], [0, 90, 200] * u.deg])
@pytest.mark.parametrize("center", [None, (0.0, 0.0), (11.3, 4.7), (-5, 50)])
def test_sectors_tile_every_pixel_once(shape, phi, center):
    f = _fitter(shape)
    f.regions = rg.sectors
    f.sector_phi = phi
    f.sector_center = center
    f.sector_radius_n = 4
    assert np.all(_counts(f) == 1)


@pytest.mark.parametrize("edges", [[2.0, 5.0, 9.0], [0.0, 3.0], [30.0, 31.0]])
def test_sectors_explicit_radius_tile(edges):
    f = _fitter((25, 25))
    f.regions = rg.sectors
    f.sector_radius = edges
    f.sector_phi = 6
    assert np.all(_counts(f) == 1)


def test_sectors_against_brute_force():
    shape = (17, 21)
    f = _fitter(shape)
    f.regions = rg.sectors
    f.sector_center = (9.2, 7.9)
    f.sector_radius = [1.5, 4.0, 8.0]
    f.sector_phi = [0.5, 2.0, 4.0]
    got = sorted(tuple(r) for r in f.regions())
    # brute force: one loop over pixels, classifying each by hand
    groups = defaultdict(list)
    for y in range(shape[0]):
        for x in range(shape[1]):
            dx, dy = x - 9.2, y - 7.9
            r = np.hypot(dx, dy)
            phi = np.arctan2(dy, dx) % (2 * np.pi)
            if r < 1.5:
                key = ("centre",)
            else:
                ring = sum(r >= e for e in [1.5, 4.0, 8.0])
                if 0.5 <= phi < 2.0:
                    sector = 0
                elif 2.0 <= phi < 4.0:
                    sector = 1
                else:
                    sector = 2
                key = (ring, sector)
            groups[key].append(y * shape[1] + x)
    assert got == sorted(tuple(v) for v in groups.values())


def test_sectors_bad_settings():
    f = _fitter()
    f.regions = rg.sectors
    f.sector_phi = 0
    with pytest.raises(ValueError, match="sector_phi"):
        f.regions()
    f.sector_phi = 4
    f.sector_radius = [3.0, 2.0]
    with pytest.raises(ValueError, match="sector_radius"):
        f.regions()
    f.sector_radius = None
    f.sector_center = (1.0,)
    with pytest.raises(ValueError, match="sector_center"):
        f.regions()


def test_image_at_once_and_unmasked():
    mask = np.zeros((23, 30), dtype=bool)
    mask[3:6, 4:9] = True
    f = _fitter(image_mask=mask)
    assert np.array_equal(rg.image_at_once(f)[0], np.arange(23 * 30))
    (reg,) = rg.image_unmasked(f)
    assert np.array_equal(region_to_mask(reg, (23, 30)), ~mask)


def test_pixel_by_pixel():
    mask = np.zeros((5, 6), dtype=bool)
    mask[1, 2] = True
    f = _fitter((5, 6), image_mask=mask)
    regs = list(rg.pixel_by_pixel(f))
    assert len(regs) == 29
    assert all(r.size == 1 for r in regs)
    assert sorted(int(r[0]) for r in regs) == [i for i in range(30) if i != 8]


def test_group_by_basis_against_brute_force():
    rng = np.random.default_rng(3)
    shape = (12, 13)
    bmask = rng.random((5, *shape)) < 0.3
    bmask[:, 0, 0] = True  # a pixel with no valid base at all
    imask = rng.random(shape) < 0.1
    imask[0, 0] = False
    f = _fitter(shape, n=5, base_mask=bmask, image_mask=imask)
    f.min_number_of_bases = 2
    got = sorted(tuple(r) for r in rg.group_by_basis(f))
    groups = defaultdict(list)
    for p in range(int(np.prod(shape))):
        y, x = divmod(p, shape[1])
        valid = tuple(~bmask[:, y, x])
        if not imask[y, x] and sum(valid) >= 2:
            groups[valid].append(p)
    assert got == sorted(tuple(v) for v in groups.values())


def test_group_by_basis_no_mask_is_one_region():
    f = _fitter()
    regs = rg.group_by_basis(f)
    assert len(regs) == 1 and regs[0].size == 23 * 30


def test_sectors_by_basis_partitions_unmasked_pixels():
    rng = np.random.default_rng(5)
    shape = (20, 20)
    bmask = np.zeros((4, *shape), dtype=bool)
    bmask[0, :, :7] = True
    bmask[2, 12:, :] = True
    imask = rng.random(shape) < 0.05
    f = _fitter(shape, base_mask=bmask, image_mask=imask)
    f.sector_phi = 3
    f.sector_radius_n = 3
    counts = np.zeros(400, dtype=int)
    for reg in rg.sectors_by_basis(f):
        counts[reg] += 1
        # every pixel of a region has the same valid bases
        assert len({tuple(bmask[:, p // 20, p % 20]) for p in reg}) == 1
    assert np.array_equal(counts, (~imask).ravel().astype(int))


def test_wrapper_min_size_keeps_tiling():
    class Merged(LOCI):
        regions = rg.wrapper_min_size(rg.sectors)
        region_min_size = 40
        sector_radius_n = 6

    f = Merged(np.ones((2, 30, 30)), np.ones((30, 30)))
    regs = f.regions()
    assert all(r.size >= 40 for r in regs)
    assert np.all(_counts(f) == 1)
    plain = LOCI(np.ones((2, 30, 30)), np.ones((30, 30)))
    plain.sector_radius_n = 6
    assert len(regs) < len(plain.regions())


def test_wrapper_overlap_region_makes_disjoint():
    def overlapping(self):
        return [np.arange(0, 10), np.arange(5, 15), np.arange(0, 15),
                np.arange(12, 20)]

    f = _fitter((4, 5))
    f.regions = rg.wrapper_overlap_region(overlapping)
    regs = list(f.regions())
    assert [list(r) for r in regs] == [list(range(10)), list(range(10, 15)),
                                       list(range(15, 20))]


def test_region_conversion_errors():
    with pytest.raises(ValueError, match="region"):
        region_to_indices(np.ones((3, 3), dtype=bool), (4, 4))
    with pytest.raises(ValueError, match="outside"):
        region_to_indices([0, 16], (4, 4))
    with pytest.raises(ValueError, match="integer"):
        region_to_indices([0.5], (4, 4))


@settings(max_examples=40, deadline=None)
@given(ny=st.integers(1, 30), nx=st.integers(1, 30),
       cx=st.floats(-10, 40), cy=st.floats(-10, 40),
       inner=st.floats(0.1, 10), n=st.integers(1, 6),
       phi=st.one_of(st.integers(1, 13),
                     st.lists(st.floats(-7, 7), min_size=1, max_size=6)))
def test_sectors_tile_property(ny, nx, cx, cy, inner, n, phi):
    f = _fitter((ny, nx), n=2)
    f.regions = rg.sectors
    f.sector_center = (cx, cy)
    f.sector_radius_inner = inner
    f.sector_radius_n = n
    f.sector_phi = phi
    assert np.all(_counts(f) == 1)
