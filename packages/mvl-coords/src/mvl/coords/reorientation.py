"""Reordering voxel axes by a signed permutation: flips and transposes, never resampling.

A signed permutation ``P`` (3x3, one ``+1`` or ``-1`` per row and column) says where each
spatial voxel axis goes: ``P[r, j] != 0`` moves axis ``j`` to position ``r``, reversed
when the entry is ``-1``. Applied to an array, this is a view: flipping is a negative
stride and transposing a change of strides, so no voxel is copied and a memory-mapped
array stays memory-mapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import DataError

__all__ = ["index_transformation", "normalize_spatial_dimensions", "reorient_array"]

_Array = TypeVar("_Array", bound=np.ndarray[Any, Any])


def normalize_spatial_dimensions(spatial_dimensions: Sequence[int], ndim: int) -> tuple[int, int, int]:
    """Validate three spatial axes of an `ndim`-dimensional array and sort them.

    Parameters
    ----------
    spatial_dimensions : sequence of 3 int
        Axis numbers; negative numbers count from the end, as in numpy.
    ndim : int
        The number of dimensions of the array.

    Returns
    -------
    tuple of 3 int
        The axes, non-negative and in increasing order. The order given does not
        matter: which voxel axis maps where is the transformation's business.

    Raises
    ------
    DataError
        If there are not exactly three distinct axes within ``range(-ndim, ndim)``.

    Examples
    --------
    >>> normalize_spatial_dimensions((-1, 0, 1), 4)
    (0, 1, 3)
    """
    try:
        axes = [int(axis) for axis in spatial_dimensions]
    except (TypeError, ValueError) as error:
        raise DataError(f"spatial dimensions must be three axis numbers, got {spatial_dimensions!r}") from error
    if len(axes) != 3 or any(not -ndim <= axis < ndim for axis in axes):
        raise DataError(
            f"spatial dimensions must be three axes of a {ndim}-dimensional array "
            f"(each in {-ndim}..{ndim - 1}), got {tuple(spatial_dimensions)!r}"
        )
    positive = sorted(axis % ndim for axis in axes)
    if len(set(positive)) != 3:
        raise DataError(f"spatial dimensions must be three distinct axes, got {tuple(spatial_dimensions)!r}")
    first, second, third = positive
    return first, second, third


def index_transformation(permutation: ArrayLike, shape: Sequence[int]) -> NDArray[np.int64]:
    """Return the map from old to new voxel indices of a reorientation.

    Parameters
    ----------
    permutation : (3, 3) array_like
        Signed permutation: entry ``[r, j]`` is ``+1`` or ``-1`` when old axis ``j``
        becomes new axis ``r`` (reversed for ``-1``).
    shape : sequence of 3 int
        The spatial shape before the reorientation, in old axis order.

    Returns
    -------
    (4, 4) ndarray of int64
        ``T`` with ``T @ [i, j, k, 1]`` the new index of old voxel ``(i, j, k)``.
        Its inverse is integer too (see :func:`numpy.linalg.inv`, or transpose the
        3x3 part and negate-map the offset).

    Examples
    --------
    Reversing axis 0 of a length-10 axis sends index 0 to 9:

    >>> index_transformation(np.diag([-1, 1, 1]), (10, 4, 4)) @ [0, 0, 0, 1]
    array([9, 0, 0, 1])
    """
    matrix = np.asarray(permutation, dtype=np.int64)
    last = np.asarray(shape, dtype=np.int64) - 1
    reversed_axes = matrix.sum(axis=0) < 0
    result = np.eye(4, dtype=np.int64)
    result[:3, :3] = matrix
    result[:3, 3] = matrix @ np.where(reversed_axes, -last, 0)
    return result


def reorient_array(data: _Array, permutation: ArrayLike, spatial_dimensions: Sequence[int] = (0, 1, 2)) -> _Array:
    """Flip and transpose the spatial axes of an array; a view, never a copy.

    Parameters
    ----------
    data : ndarray
        At least three dimensions; subclasses such as :class:`numpy.memmap` are kept.
    permutation : (3, 3) array_like
        Signed permutation acting on the spatial axes, taken in increasing order.
    spatial_dimensions : sequence of 3 int, optional
        Which axes of `data` are spatial; see :func:`normalize_spatial_dimensions`.

    Returns
    -------
    ndarray
        A view of `data`: the three spatial axes first, in their new order and
        direction, then every other axis in its original order.

    Examples
    --------
    >>> data = np.arange(24).reshape(2, 3, 4)
    >>> view = reorient_array(data, [[0, 0, 1], [-1, 0, 0], [0, 1, 0]])
    >>> view.shape
    (4, 2, 3)
    >>> bool(view[0, 0, 0] == data[1, 0, 0])
    True
    """
    spatial = normalize_spatial_dimensions(spatial_dimensions, data.ndim)
    matrix = np.asarray(permutation)
    flips = [slice(None)] * data.ndim
    for column, axis in enumerate(spatial):
        if matrix[:, column].sum() < 0:
            flips[axis] = slice(None, None, -1)
    new_order = [spatial[int(np.flatnonzero(matrix[row])[0])] for row in range(3)]
    others = [axis for axis in range(data.ndim) if axis not in spatial]
    # Basic indexing and transpose keep the array's subclass (numpy.memmap stays one);
    # numpy's stubs type the result as a plain ndarray.
    return cast(_Array, data[tuple(flips)].transpose(new_order + others))
