"""Voxel bytes in NRRD's file order (the first index fastest), block by block.

NRRD stores the first axis of ``sizes`` fastest: the Fortran order of the array that
``nrrd.read`` returns. An array loaded from NRRD is Fortran-contiguous already and is
written straight from its own memory (:func:`mvl.coords.files.array_blocks`). A
C-ordered array, what numpy and most code produce, needs its axes reversed: done a slab
at a time, that copy reads memory in strides of a whole slice for every voxel and costs
more than compressing the result. :func:`nrrd_blocks` copies such arrays in small tiles
that stay in the CPU caches instead (about 4x faster on a 300x512x512 int16 volume).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import numpy as np

from mvl.coords.files import array_blocks

__all__ = ["TILE_SLAB_BYTES", "nrrd_blocks"]

#: The most bytes :func:`nrrd_blocks` copies at a time when it reverses axes in tiles.
TILE_SLAB_BYTES: Final = 1 << 26


def nrrd_blocks(data: np.ndarray[Any, Any], dtype: np.dtype[Any] | None = None) -> Iterator[memoryview]:
    """Yield the bytes of `data` in NRRD order (the first index fastest), block by block.

    :func:`mvl.coords.files.array_blocks` with ``order="F"``, except for arrays laid out
    the other way round (C order, the last index fastest in memory, as numpy makes
    them): reversing their axes a slab at a time reads memory in strides of a whole
    slice for every voxel, so those are copied in small tiles that stay in the CPU
    cache, several times faster. Never copies more than one slab of about
    :data:`TILE_SLAB_BYTES` at a time.

    Parameters
    ----------
    data : ndarray
        Any layout.
    dtype : numpy dtype, optional
        Convert to this type on the way.

    Yields
    ------
    memoryview

    Examples
    --------
    >>> data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    >>> b"".join(nrrd_blocks(data)) == data.tobytes(order="F")
    True
    """
    reversed_view = data.T
    strides = [abs(stride) for stride in reversed_view.strides]
    itemsize = data.dtype.itemsize
    tiles = (
        data.ndim >= 2
        and dtype is None
        and not reversed_view.flags.c_contiguous
        and strides[0] == min(strides)
        and strides[-1] > strides[0]
    )
    slices = max(4, 64 // itemsize)  # along the last axis: one cache line per row read
    slab_bytes = slices * data.nbytes // max(data.shape[-1], 1)
    if not tiles or slab_bytes > TILE_SLAB_BYTES:
        yield from array_blocks(data, "F", dtype=dtype)
        return
    rows = max(4, 16 // itemsize)  # along the first axis: one tile of the output row
    for start in range(0, data.shape[-1], slices):
        source = data[..., start : start + slices]
        slab = np.empty(source.shape[::-1], dtype=data.dtype)
        for first in range(0, data.shape[0], rows):
            slab[..., first : first + rows] = source[first : first + rows].T
        yield slab.reshape(-1).view(np.uint8).data
