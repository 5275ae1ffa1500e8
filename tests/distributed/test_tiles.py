"""The seeded layout that sharding relies on (no torch.distributed needed): which tiles a tensor is
drawn in, that any box of a tensor can be filled alone with exactly the whole tensor's values, that
only the tiles the box meets are drawn, and that vectors and tensors of at most one block keep the
flat block layout."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import initlab
from initlab.errors import InitlabError
from initlab.schemes import engine
from initlab.schemes.engine import BLOCK, TILE, fill_box_, tile_grid

F32, BF16 = torch.float32, torch.bfloat16


def _init(name):
    if name == "random_normal(std=0.02)":
        return initlab.get({"name": "random_normal", "params": {"std": 0.02}})
    return initlab.get(name)


@pytest.mark.parametrize("shape, grid", [
    ((1000, 1000), (1000, 1000, 1000, 1000)),          # one block: the whole tensor, row-major
    ((3_000_000,), (1, 3_000_000, 1, BLOCK)),         # a vector: flat blocks
    ((1100, 1030), (1100, 1030, TILE, TILE)),         # 512 x 512 tiles
    ((3001, 400), (3001, 400, TILE * TILE // 400, 400)),   # narrow: whole rows
    ((5, 300_000), (5, 300_000, 5, TILE * TILE // 5)),     # short: all rows, wide tiles
    ((70, 40, 33, 17), (70, 40 * 33 * 17, 70, TILE * TILE // 70)),
])
def test_tile_grid(shape, grid):
    assert tile_grid(shape) == grid
    r, c, tr, tc = grid
    assert tr * tc <= max(BLOCK, r * c if r * c <= BLOCK else 0) and r * c == math.prod(shape)


def test_tensors_of_one_block_and_vectors_keep_the_flat_layout():
    init = _init("he_normal")
    square = init(torch.empty(1000, 1000), seed=4, key="w")
    flat = torch.empty(1_000_000)
    fill_box_(flat, init.distribution((1000, 1000)), seed=4, key="w", shape=(1_000_000,), offset=(0,))
    assert torch.equal(square.reshape(-1), flat)  # one block: the same stream, row-major, either way


def test_a_tiled_matrix_is_its_tiles_streams_in_row_major_order():
    """Tile (i, j) of a 1100 x 1030 matrix holds the first values of stream i * 3 + j, derived here from
    NumPy and torch directly (SFC64 seeded with derive_seed; torch's mt19937 state drawn from it)."""
    dist = initlab.random_normal(std=1.0).distribution((1100, 1030))
    t = initlab.random_normal(std=1.0)(torch.empty(1100, 1030), seed=9, key="m")
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        rows, cols = min(1100, (i + 1) * TILE) - i * TILE, min(1030, (j + 1) * TILE) - j * TILE
        rng = np.random.Generator(np.random.SFC64(engine.derive_seed(9, "m", i * 3 + j)))
        state = torch.Generator().get_state()
        g = torch.Generator()
        g.manual_seed(5489)
        state = g.get_state()
        state.numpy()[24:24 + 8 * 624].view("<u8")[:] = rng.bit_generator.random_raw(312).view(np.uint32)
        g.set_state(state)
        expected = torch.empty(rows * cols).normal_(0.0, 1.0, generator=g).reshape(rows, cols)
        assert torch.equal(t[i * TILE:i * TILE + rows, j * TILE:j * TILE + cols], expected)
    assert dist.shape == (1100, 1030)


# every law on a tiled matrix; every layout (tiles cut at odd places, whole-row tiles, wide tiles, a conv
# weight cut inside its kernel dimensions, flat blocks of a vector, one block) with a normal or uniform;
# bf16 (drawn in fp32, cast, clamped) on the tiled matrix and the narrow one
CASES = [(law, (1100, 1030), F32) for law in ("he_normal", "glorot_uniform", "truncated_normal",
                                               "random_normal(std=0.02)")] + [
    ("he_normal", (3001, 400), F32), ("glorot_uniform", (5, 300_000), F32), ("he_normal", (64, 30, 3, 3), F32),
    ("truncated_normal", (40, 30, 33, 33), F32), ("glorot_uniform", (3_000_000,), F32),
    ("he_normal", (1000, 1000), F32), ("truncated_normal", (1100, 1030), BF16), ("glorot_uniform", (3001, 400), BF16)]


@pytest.mark.parametrize("law, shape, dtype", CASES, ids=[f"{l}-{s}-{str(d)[6:]}" for l, s, d in CASES])
def test_every_shard_of_every_dimension_is_the_whole_tensors_part(law, shape, dtype):
    init = _init(law)
    dist = init.distribution(shape)
    whole = init(torch.empty(shape, dtype=dtype), seed=3, key="k")
    for d in range(len(shape)):
        for n in (2, 3):
            for piece in torch.tensor_split(torch.arange(shape[d]), n):
                if not len(piece):
                    continue
                size = list(shape)
                size[d] = len(piece)
                offset = [0] * len(shape)
                offset[d] = int(piece[0])
                part = torch.empty(size, dtype=dtype)
                fill_box_(part, dist, seed=3, key="k", shape=shape, offset=offset)
                assert torch.equal(part, whole.narrow(d, int(piece[0]), len(piece))), (d, n, int(piece[0]))


def test_a_box_inside_two_dimensions_and_a_non_contiguous_destination():
    init = _init("glorot_uniform")
    shape = (1100, 1030)
    whole = init(torch.empty(shape), seed=1, key="w")
    part = torch.empty(500, 700).t()  # a transposed destination: filled through a work buffer
    fill_box_(part, init.distribution(shape), seed=1, key="w", shape=shape, offset=(300, 200))
    assert torch.equal(part, whole[300:1000, 200:700])


@pytest.mark.parametrize("offset, size, tiles", [
    ((0, 0), (1100, 512), 3),        # Shard(1) of 2 on a tile boundary: one column of 3 tiles
    ((512, 0), (512, 1030), 3),      # a row of tiles
    ((0, 500), (1100, 30), 6),       # a boundary inside a tile column: both columns it straddles
])
def test_only_the_tiles_a_box_meets_are_drawn(monkeypatch, offset, size, tiles):
    drawn = []
    real = engine._block_rng
    monkeypatch.setattr(engine, "_block_rng", lambda seed, key, block: drawn.append(block) or real(seed, key, block))
    init = _init("he_normal")
    fill_box_(torch.empty(size), init.distribution((1100, 1030)), seed=0, key="w", shape=(1100, 1030), offset=offset)
    assert len(drawn) == len(set(drawn)) == tiles


@pytest.mark.parametrize("kwargs, fragment", [
    ({"shape": (100, 100), "offset": (90, 0)}, "offset: got (90, 0) for a part of shape (20, 100); allowed: a box"),
    ({"shape": (100, 100), "offset": (0,)}, "offset: got (0,)"),
    ({"shape": (100, 100), "offset": (0, 0), "seed": -1.5}, "seed: got -1.5; allowed: an integer"),
])
def test_bad_boxes_are_one_line(kwargs, fragment):
    args = {"seed": 0, "key": "w", **kwargs}
    with pytest.raises(InitlabError) as err:
        fill_box_(torch.empty(20, 100), _init("he_normal").distribution((100, 100)), **args)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_structured_laws_are_not_drawn_tile_by_tile():
    with pytest.raises(InitlabError, match="^dist: got family 'orthogonal'; allowed: normal, uniform"):
        fill_box_(torch.empty(10, 10), _init("orthogonal").distribution((20, 10)), seed=0, key="w",
                  shape=(20, 10), offset=(0, 0))
