import numpy as np
import pytest

from mvl.nrrd import blocks
from mvl.nrrd.blocks import nrrd_blocks

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, ">f8"])
@pytest.mark.parametrize(
    "view",
    [
        lambda a: a,  # C order: tiled
        lambda a: np.asfortranarray(a),  # NRRD order already: no copy
        lambda a: a[::-1, :, ::-1],  # flipped C order: tiled
        lambda a: a.transpose(1, 0, 2),  # other layouts: slab by slab
        lambda a: a[:, ::2],
    ],
)
def test_bytes_in_nrrd_order_for_any_layout(dtype, view):
    array = view(RNG.integers(0, 100, (37, 5, 70)).astype(dtype))
    assert b"".join(nrrd_blocks(array)) == array.tobytes(order="F")


def test_more_dimensions_and_conversion():
    array = RNG.integers(0, 2, (3, 4, 5, 66)).astype(bool)
    assert b"".join(nrrd_blocks(array, np.dtype(np.uint8))) == array.astype(np.uint8).tobytes(order="F")
    array = RNG.normal(size=(3, 4, 5, 66)).astype(np.float32)
    assert b"".join(nrrd_blocks(array)) == array.tobytes(order="F")


def test_tiles_stay_within_the_slab_bound(monkeypatch):
    monkeypatch.setattr(blocks, "TILE_SLAB_BYTES", 1000)
    array = RNG.integers(0, 100, (20, 30, 40)).astype(np.int16)
    parts = list(nrrd_blocks(array))
    assert b"".join(parts) == array.tobytes(order="F")
    array = RNG.integers(0, 100, (20, 30, 40)).astype(np.int16)[:, :, :2]  # a slab would hold everything
    assert b"".join(nrrd_blocks(array)) == array.tobytes(order="F")


def test_tiled_slabs_are_fresh_buffers():
    # The threaded gzip writer may still hold a block when the next one is made.
    array = RNG.integers(0, 100, (8, 9, 64)).astype(np.int16)
    parts = [bytes(part) for part in nrrd_blocks(array)]
    kept = list(nrrd_blocks(array))
    assert [bytes(part) for part in kept] == parts
