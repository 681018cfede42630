"""Compatibility: the functions of the original ``mvloader.anatomical_coords``.

Code written for the original mvloader keeps running. New code should use
:mod:`mvl.coords` directly: :func:`mvl.coords.permutation_matrix` returns one matrix
(not a pair), :func:`mvl.coords.closest_permutation_matrix` finds the best assignment
(not a greedy one), and :func:`mvl.coords.reorient_array` returns a view (not a copy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mvl.coords import (
    OPPOSITES,
    closest_permutation_matrix,
    homogeneous,
    normalize_system,
    reorient_array,
)
from mvl.coords import permutation_matrix as _permutation_matrix
from mvl.coords.reorientation import normalize_spatial_dimensions

__all__ = [
    "find_closest_permutation_matrix",
    "homogeneous_matrix",
    "index",
    "must_be_flipped",
    "offset",
    "opposites",
    "permutation_matrix",
    "pos",
    "pull_spatial_dimensions",
    "swap",
    "transformation_for_new_coordinate_system",
    "transformation_for_new_voxel_alignment",
    "validate_permutation_matrix",
    "validate_transformation_matrix",
]


class _Opposites(dict[str, str]):
    """The opposite of each direction letter; usable as ``opposites["R"]`` and ``opposites()["R"]``.

    (Versions of the original offered both a dict and a function of that name.)
    """

    def __call__(self) -> dict[str, str]:
        return dict(self)


opposites = _Opposites(OPPOSITES)


def permutation_matrix(src: str, dst: str) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Return ``(src_to_dst, dst_to_src)``, the signed permutation between two systems and its inverse."""
    matrix = _permutation_matrix(src, dst)
    return matrix, matrix.T.copy()


def find_closest_permutation_matrix(trans: ArrayLike) -> NDArray[np.int64]:
    """Return the signed permutation closest to a 3x3 voxel-to-world matrix (best assignment)."""
    return closest_permutation_matrix(np.asarray(trans, dtype=np.float64)[:3, :3])


def must_be_flipped(perm: ArrayLike) -> NDArray[np.int64]:
    """Return 1 for each source axis that a signed permutation reverses, else 0."""
    flipped: NDArray[np.int64] = (np.sum(np.asarray(perm), axis=0) < 0).astype(np.int64)
    return flipped


def offset(perm: ArrayLike, shape: Sequence[int]) -> NDArray[np.int64]:
    """Return the homogeneous shift applied to source indices before `perm`, for an array of `shape`."""
    ndim = len(shape)
    result = np.eye(ndim + 1, dtype=np.int64)
    result[:-1, -1] = must_be_flipped(np.asarray(perm)[:ndim, :ndim]) * -(np.asarray(shape, dtype=np.int64) - 1)
    return result


def swap(volume: ArrayLike, perm: ArrayLike) -> NDArray[Any]:
    """Return a copy of a 3D array flipped and transposed by a signed permutation."""
    data = np.asarray(volume)
    matrix = np.asarray(perm)[: data.ndim, : data.ndim]
    validate_permutation_matrix(matrix)
    return np.array(reorient_array(data, matrix[:3, :3]), copy=True)


def pos(system: str) -> tuple[int, int, int]:
    """Return the positions of the R/L, A/P and S/I letters in `system`."""
    return index(system, "R"), index(system, "A"), index(system, "S")


def index(system: str, character: str) -> int:
    """Return the position of `character` or its opposite in `system`."""
    code = normalize_system(system)
    letter = character.upper()
    found = code.find(letter)
    return found if found >= 0 else code.index(OPPOSITES[letter])


def validate_permutation_matrix(perm: ArrayLike) -> None:
    """Raise ValueError unless `perm` has entries in {-1, 0, 1} and determinant +-1."""
    matrix = np.asarray(perm)
    if not np.all(np.isin(matrix, [-1, 0, 1])):
        raise ValueError("The given matrix is not valid: at least one matrix element is not in {-1, 0, 1}.")
    if round(abs(float(np.linalg.det(matrix)))) != 1:
        raise ValueError("The given matrix is not valid: the matrix determinant is neither -1 nor 1.")


def validate_transformation_matrix(mat: ArrayLike, tol: float = 1e-3) -> None:
    """Raise ValueError unless `mat` is homogeneous and its normalised rotation has a determinant of about +-1."""
    matrix = np.asarray(mat, dtype=np.float64)
    rotation = matrix[:-1, :-1] / np.linalg.norm(matrix[:-1, :-1], axis=0)
    determinant = abs(float(np.linalg.det(rotation)))
    if not (1 - tol) <= determinant <= (1 + tol):
        raise ValueError(
            f"the given matrix is not valid: the determinant's absolute value {determinant} is not close to one."
        )
    if np.any(matrix[-1, :-1] != 0) or matrix[-1, -1] != 1:
        raise ValueError("the given matrix is not valid: the last row must be [0, ..., 0, 1].")


def homogeneous_matrix(mat: ArrayLike) -> NDArray[np.float64]:
    """Embed a 3x3 matrix into a 4x4 homogeneous one."""
    return homogeneous(np.asarray(mat)[:3, :3])


def transformation_for_new_coordinate_system(trans: ArrayLike, sold2snew: ArrayLike) -> NDArray[np.float64]:
    """Re-express a voxel-to-world transformation after the world axes change by `sold2snew` (3x3)."""
    result: NDArray[np.float64] = homogeneous(np.asarray(sold2snew)[:3, :3]) @ np.asarray(trans, dtype=np.float64)
    return result


def transformation_for_new_voxel_alignment(trans: ArrayLike, vnew2vold: ArrayLike) -> NDArray[np.float64]:
    """Re-express a voxel-to-world transformation for new voxel indices, given new-to-old index map (4x4)."""
    result: NDArray[np.float64] = np.asarray(trans, dtype=np.float64) @ np.asarray(vnew2vold, dtype=np.float64)
    return result


def pull_spatial_dimensions(data: ArrayLike, spatial_dimensions: Sequence[int] = (0, 1, 2)) -> NDArray[Any]:
    """Move the three spatial axes to the front (in increasing order), the others behind them in order."""
    array = np.asanyarray(data)
    spatial = normalize_spatial_dimensions(spatial_dimensions, array.ndim)
    return np.moveaxis(array, spatial, (0, 1, 2))
