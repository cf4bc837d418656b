"""Image differencing over tiles, here and on a dask cluster."""

from astropy.nddata import NDData, VarianceUncertainty
import numpy as np
from numpy.testing import assert_array_equal
import pytest

from psfkit.datasets import make_diffim_pair
from psfkit.diffim import ImagePsfMatch, PsfMatchConfig
from psfkit.diffim.tiled import (
    TiledSubtractionResult,
    TileMatchFailedWarning,
    tiled_subtract_images,
)

CONFIG = dict(scale_by_fwhm=False, kernel_size=15, size_cell_x=48,
              size_cell_y=48, spatial_kernel_order=1)


@pytest.fixture(scope="module")
def pair():
    return make_diffim_pair((256, 320), n_stars=900, flux_range=(3e3, 3e5),
                            random_state=3)


def box_sums(nd, xs, ys, half=4):
    """Sum and variance of the difference in a box around each position."""
    sums, vars_ = [], []
    for x, y in zip(xs, ys, strict=True):
        sl = (slice(int(round(y)) - half, int(round(y)) + half + 1),
              slice(int(round(x)) - half, int(round(x)) + half + 1))
        sums.append(nd.data[sl].sum())
        vars_.append(nd.uncertainty.array[sl].sum())
    return np.array(sums), np.array(vars_)


def test_tiles_match_single_pass(client, pair):
    template, science, truth = pair
    config = PsfMatchConfig(**CONFIG)
    single = ImagePsfMatch(config).subtract_images(template, science)
    kw = dict(tile_size=(128, 160), overlap=16, config=config)
    here = tiled_subtract_images(template, science, **kw)
    remote = tiled_subtract_images(template, science, executor=client, **kw)
    assert isinstance(here, TiledSubtractionResult)
    # the executor does not change a number
    for attr in ("data", "mask"):
        assert_array_equal(getattr(remote.difference, attr),
                           getattr(here.difference, attr))
    assert_array_equal(remote.tiles["kernel_sum"], here.tiles["kernel_sum"])

    tiles = here.tiles
    assert len(tiles) == 4 and tiles["ok"].all()
    # every tile finds the flux ratio of the pair
    assert np.allclose(tiles["kernel_sum"], truth.flux_scale, rtol=0.02)
    # the mosaic is noise-like: D / sigma has unit robust width
    diff = here.difference
    good = ~diff.mask
    z = diff.data[good] / np.sqrt(diff.uncertainty.array[good])
    width = 1.4826 * np.median(np.abs(z - np.median(z)))
    assert abs(width - 1) < 0.1
    assert abs(width - single.difference_std) < 0.1
    # only the outer kernel border is masked beyond the single pass
    assert good.mean() > 0.8
    # transients: the tiled and single-pass differences agree within noise
    # and recover the injected fluxes
    tr = truth.transients
    inner = ((tr["x"] > 10) & (tr["x"] < 309) & (tr["y"] > 10)
             & (tr["y"] < 245))
    xs, ys = np.asarray(tr["x"])[inner], np.asarray(tr["y"])[inner]
    s_tiled, v_tiled = box_sums(diff, xs, ys)
    s_single, _ = box_sums(single.difference, xs, ys)
    assert np.all(np.abs(s_tiled - s_single) < 3 * np.sqrt(v_tiled))
    flux = np.asarray(tr["flux"])[inner]
    assert np.corrcoef(s_tiled, flux)[0, 1] > 0.9


def test_failed_tile_is_masked_and_reported(pair):
    template, science, _ = pair
    rng = np.random.default_rng(0)
    empty = (slice(112, None), slice(144, None))  # all of the last tile

    def starless(nd):
        data = nd.data.copy()
        sky = np.median(data)
        data[empty] = sky + rng.normal(0.0, np.sqrt(sky),
                                       data[empty].shape)
        return NDData(data, mask=nd.mask,
                      uncertainty=VarianceUncertainty(
                          nd.uncertainty.array))

    with pytest.warns(TileMatchFailedWarning, match=r"tile\(s\) \[3\]"):
        res = tiled_subtract_images(starless(template), starless(science),
                                    tile_size=(128, 160), overlap=16,
                                    config=PsfMatchConfig(**CONFIG))
    assert res.tiles["ok"].tolist() == [True, True, True, False]
    assert "no kernel candidates" in res.tiles["message"][3]
    assert res.difference.mask[128:, 160:].all()
    assert not res.difference.mask[20:100, 20:140].any()


def test_errors(pair):
    template, science, _ = pair
    config = PsfMatchConfig(**CONFIG)
    with pytest.raises(ValueError, match="half the largest kernel"):
        tiled_subtract_images(template, science, tile_size=128, overlap=4,
                              config=config)
    with pytest.raises(ValueError, match="same shape"):
        tiled_subtract_images(template.data[:200], science, tile_size=128,
                              overlap=16, config=config)
    with pytest.raises(ValueError, match="tile_size"):
        tiled_subtract_images(template, science, tile_size=(0, 5),
                              overlap=16, config=config)
