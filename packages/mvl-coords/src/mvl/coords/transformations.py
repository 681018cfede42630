"""Voxel-to-world transformations: validation, spacing, obliquity and applying them.

A transformation is a (4, 4) homogeneous matrix ``M`` that maps voxel indices
``(i, j, k)`` to world coordinates in millimetres: ``M @ [i, j, k, 1]``. Column ``j``
of its upper left 3x3 block is the world step of one voxel along index ``j``; its
length is the spacing along that axis; the last column is the world position of
voxel ``(0, 0, 0)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import DataError, GeometryError
from .systems import _unit_columns, closest_permutation_matrix, permutation_matrix

__all__ = [
    "apply_transformation",
    "change_system",
    "homogeneous",
    "obliquity",
    "spacing",
    "validate_transformation",
]

#: Smallest accepted volume of the parallelepiped spanned by the unit voxel axes.
#: Below this the axes are (nearly) coplanar and the matrix has no usable inverse.
MIN_AXES_VOLUME = 1e-6


def validate_transformation(transformation: object, *, name: str = "transformation") -> NDArray[np.float64]:
    """Check that a voxel-to-world transformation is usable and return it as float64.

    Parameters
    ----------
    transformation : (4, 4) array_like
        The matrix to check.
    name : str, optional
        How the matrix is called in error messages.

    Returns
    -------
    (4, 4) ndarray of float64
        A new array (never the input itself).

    Raises
    ------
    GeometryError
        If the matrix is not 4x4 and numeric, contains NaN or infinity, has a last row
        other than ``[0, 0, 0, 1]``, or its 3x3 part is not invertible (a zero-length or
        a coplanar voxel axis).

    Examples
    --------
    >>> validate_transformation(np.diag([2, 2, 3, 1]))[2, 2]
    np.float64(3.0)
    >>> validate_transformation(np.zeros((4, 4)))
    Traceback (most recent call last):
    ...
    mvl.coords.errors.GeometryError: transformation must have the last row [0, 0, 0, 1], ...
    """
    try:
        matrix = np.array(transformation, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as error:
        raise GeometryError(f"{name} must be a numeric 4x4 matrix, got {transformation!r}") from error
    if matrix.shape != (4, 4):
        raise GeometryError(f"{name} must be a 4x4 matrix, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise GeometryError(f"{name} contains NaN or infinity:\n{matrix}")
    if not np.array_equal(matrix[3], [0.0, 0.0, 0.0, 1.0]):
        raise GeometryError(f"{name} must have the last row [0, 0, 0, 1], got {matrix[3].tolist()}")
    unit = _unit_columns(matrix[:3, :3], name)
    axes_volume = abs(float(np.linalg.det(unit)))
    if axes_volume < MIN_AXES_VOLUME:
        raise GeometryError(
            f"{name} is singular: its voxel axes are (nearly) coplanar "
            f"(|det| of the unit axes is {axes_volume:.3g}, at least {MIN_AXES_VOLUME:g} needed):\n{matrix}"
        )
    return matrix


def homogeneous(matrix: ArrayLike, offset: ArrayLike = (0, 0, 0)) -> NDArray[np.float64]:
    """Return the (4, 4) homogeneous matrix of a 3x3 linear part and an offset.

    Parameters
    ----------
    matrix : (3, 3) array_like
        The linear part.
    offset : (3,) array_like, optional
        The translation, zero by default.

    Returns
    -------
    (4, 4) ndarray of float64

    Examples
    --------
    >>> homogeneous(np.eye(3), [1, 2, 3])[:3, 3]
    array([1., 2., 3.])
    """
    result = np.eye(4)
    result[:3, :3] = matrix
    result[:3, 3] = offset
    return result


def change_system(transformation: ArrayLike, src: str, dst: str) -> NDArray[np.float64]:
    """Re-express a voxel-to-world transformation in another anatomical system.

    Parameters
    ----------
    transformation : (4, 4) array_like
        Voxel-to-world transformation into `src`.
    src, dst : str
        Any of the 48 systems.

    Returns
    -------
    (4, 4) ndarray of float64
        The transformation into `dst`: the same voxels at the same physical places,
        their coordinates written along the axes of `dst`.

    Examples
    --------
    >>> change_system(np.eye(4), "LPS", "RAS")[:3, :3]
    array([[-1.,  0.,  0.],
           [ 0., -1.,  0.],
           [ 0.,  0.,  1.]])
    """
    result: NDArray[np.float64] = homogeneous(permutation_matrix(src, dst)) @ np.asarray(
        transformation, dtype=np.float64
    )
    return result


def spacing(transformation: ArrayLike) -> tuple[float, float, float]:
    """Return the voxel spacing along each voxel axis (world units per voxel).

    Parameters
    ----------
    transformation : (4, 4) or (3, 3) array_like
        Voxel-to-world transformation.

    Returns
    -------
    tuple of 3 float
        The lengths of the first three columns.

    Examples
    --------
    >>> spacing(np.diag([0.5, 0.5, 2.0, 1.0]))
    (0.5, 0.5, 2.0)
    """
    block = np.asarray(transformation, dtype=np.float64)[:3, :3]
    first, second, third = (float(length) for length in np.linalg.norm(block, axis=0))
    return first, second, third


def obliquity(transformation: ArrayLike) -> float:
    """Return the largest angle between a voxel axis and its closest world axis.

    Parameters
    ----------
    transformation : (4, 4) or (3, 3) array_like
        Voxel-to-world transformation.

    Returns
    -------
    float
        In degrees, between 0 and about 54.7 (the body diagonal). Exactly ``0.0`` when
        every voxel axis runs exactly along a world axis.

    Raises
    ------
    GeometryError
        If the matrix is malformed.

    Examples
    --------
    >>> obliquity(np.diag([2.0, 2.0, 2.0, 1.0]))
    0.0
    >>> c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    >>> round(obliquity([[c, -s, 0], [s, c, 0], [0, 0, 1]]), 6)
    30.0
    """
    block = np.asarray(transformation, dtype=np.float64)[:3, :3]
    nearest = closest_permutation_matrix(block)
    along = np.abs(np.sum(block * nearest, axis=0))
    across = np.linalg.norm(block * (nearest == 0), axis=0)
    return float(np.degrees(np.max(np.arctan2(across, along))))


def apply_transformation(transformation: ArrayLike, points: ArrayLike) -> NDArray[np.float64]:
    """Map points through a (4, 4) transformation, vectorised.

    Parameters
    ----------
    transformation : (4, 4) array_like
        Any affine transformation, e.g. voxel-to-world or its inverse.
    points : (3,) or (N, 3) array_like
        One point or N points, one per row.

    Returns
    -------
    (3,) or (N, 3) ndarray of float64
        The mapped points, in the shape of `points`.

    Raises
    ------
    DataError
        If `points` is not of shape (3,) or (N, 3).

    Examples
    --------
    >>> apply_transformation(np.diag([2.0, 3.0, 4.0, 1.0]), [[1, 1, 1], [0, 0, 2]])
    array([[2., 3., 4.],
           [0., 0., 8.]])
    """
    matrix = np.asarray(transformation, dtype=np.float64)
    coordinates = np.asarray(points, dtype=np.float64)
    if coordinates.shape[-1:] != (3,) or coordinates.ndim > 2:
        raise DataError(f"points must have shape (3,) or (N, 3), got {coordinates.shape}")
    result: NDArray[np.float64] = coordinates @ matrix[:3, :3].T
    result += matrix[:3, 3]
    return result
