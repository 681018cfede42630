"""MetaImage orientation: ``TransformMatrix``, ``Offset``, ``ElementSpacing`` and ``AnatomicalOrientation``.

The world of a MetaImage file is ITK's: LPS+ (x grows towards the subject's left, y
towards posterior, z towards superior). With ``NDims = n``:

- ``ElementSpacing`` (or, without it, ``ElementSize``, as ITK reads it): n step lengths;
- ``Offset`` (synonyms ``Origin``, ``Position``): the world position of the first voxel;
- ``TransformMatrix`` (synonyms ``Rotation``, ``Orientation``): n x n direction cosines,
  written as ITK writes them: the first n values are the direction of voxel axis 0,
  the next n that of axis 1, and so on (the columns of ITK's direction matrix, one after
  the other). Missing: the identity.

``AnatomicalOrientation`` (``RAI``, ``LPS``, ``??`` ...) is MetaIO's code of the same
directions, in ITK's convention: each letter names where its axis comes **from**. ``RAI``
says that axis 0 runs from the right towards the left, axis 1 from anterior towards
posterior, axis 2 from inferior towards superior: LPS+ in our letters, which name where
an axis points **towards** (:func:`from_letters` and :func:`towards_letters` translate).
ITK reads the matrix only and ignores this field; so do we, warning with a
:class:`~mvl.coords.FormatWarning` when it contradicts the matrix.

Images of 1 or 2 dimensions get length-1 axes up to three (steps of 1 mm along the
normal of the plane); axes beyond the third (time) are carried along as non-spatial
axes, and their spacing and offset are kept in the header only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from mvl.coords.errors import FormatError, FormatWarning, GeometryError, GeometryWarning, warn
from mvl.coords.systems import axcodes, opposite
from mvl.coords.transformations import homogeneous, validate_transformation

from .header import HeaderText, parse_numbers

__all__ = [
    "MATRIX_FIELDS",
    "OFFSET_FIELDS",
    "Geometry",
    "from_letters",
    "read_geometry",
    "towards_letters",
]

#: The field that holds the directions, and its synonyms (MetaIO reads any one).
MATRIX_FIELDS: Final = ("TransformMatrix", "Rotation", "Orientation")
#: The field that holds the position of the first voxel, and its synonyms.
OFFSET_FIELDS: Final = ("Offset", "Origin", "Position")
_LETTERS: Final = frozenset("LRAPSI")


@dataclass(frozen=True)
class Geometry:
    """Where the voxels lie.

    Attributes
    ----------
    transformation : (4, 4) ndarray of float64
        Maps the indices of the first three axes to LPS+.
    spacing : tuple of float
        ``ElementSpacing`` of every axis (1 where not given).
    offset : tuple of float
        ``Offset`` of every axis.
    """

    transformation: NDArray[np.float64]
    spacing: tuple[float, ...]
    offset: tuple[float, ...]


def from_letters(system: str) -> str:
    """MetaIO's ``AnatomicalOrientation`` letters ("from") for one of our systems ("towards").

    Examples
    --------
    >>> from_letters("LPS"), from_letters("RAS")
    ('RAI', 'LPI')
    """
    return opposite(system)


def towards_letters(orientation: str) -> str:
    """Our system ("towards" letters) for MetaIO's ``AnatomicalOrientation`` ("from" letters).

    Examples
    --------
    >>> towards_letters("RAI")
    'LPS'
    """
    return opposite(orientation)


def read_geometry(text: HeaderText, ndims: int, path: str | os.PathLike[str]) -> Geometry:
    """Read the geometry fields of a header.

    Parameters
    ----------
    text : HeaderText
    ndims : int
        ``NDims``.
    path : str or os.PathLike
        Named in errors and warnings.

    Returns
    -------
    Geometry

    Raises
    ------
    FormatError
        A field with the wrong count of numbers, or synonyms given with different values.
    GeometryError
        Zero or non-finite spacing, a non-finite offset, or a singular matrix.

    Examples
    --------
    >>> import io
    >>> from .header import read_header_text
    >>> blob = b"NDims = 3\\nTransformMatrix = 0 1 0 -1 0 0 0 0 1\\nOffset = 5 6 7\\nElementDataFile = LOCAL\\n"
    >>> read_geometry(read_header_text(io.BytesIO(blob), "x.mha"), 3, "x.mha").transformation
    array([[ 0., -1.,  0.,  5.],
           [ 1.,  0.,  0.,  6.],
           [ 0.,  0.,  1.,  7.],
           [ 0.,  0.,  0.,  1.]])
    """
    spacing_field = "ElementSpacing" if "ElementSpacing" in text.fields else "ElementSize"
    spacing = np.ones(ndims)
    if spacing_field in text.fields:
        spacing = np.array(parse_numbers(text.fields[spacing_field], spacing_field, ndims, path))
    if not np.all(np.isfinite(spacing)) or np.any(spacing == 0):
        raise GeometryError(
            f"header field {spacing_field!r} must hold finite, non-zero steps, got {text.fields[spacing_field]!r}",
            path=path,
        )
    offset = np.array(_synonyms(text, OFFSET_FIELDS, ndims, path, np.zeros(ndims)))
    if not np.all(np.isfinite(offset)):
        raise GeometryError(f"header field 'Offset' must be finite, got {list(offset)}", path=path)
    flat = _synonyms(text, MATRIX_FIELDS, ndims * ndims, path, np.eye(ndims).ravel())
    directions = np.array(flat, dtype=np.float64).reshape(ndims, ndims).T  # column j: voxel axis j
    if not np.all(np.isfinite(directions)) or abs(np.linalg.det(directions)) < 1e-12:
        name = text.given(*MATRIX_FIELDS)[0]
        raise GeometryError(
            f"header field {name!r} is not a valid direction matrix (singular or not finite): "
            f"{text.fields[name][:200]!r}",
            path=path,
        )
    spatial = min(ndims, 3)
    matrix = np.eye(3)
    matrix[:spatial, :spatial] = directions[:spatial, :spatial] * spacing[:spatial]
    if ndims < 3:  # a plane (or line) in 3D: the missing axes along its normal, 1 mm apart
        matrix[:, spatial:] = _normals(matrix[:, :spatial])
    if ndims > 3 and (np.any(directions[:3, 3:] != 0) or np.any(directions[3:, :3] != 0)):
        warn(
            f"{os.fspath(path)}: the direction matrix couples the axes beyond the third with space; "
            "only its spatial 3x3 part is used",
            GeometryWarning,
        )
    position = np.zeros(3)
    position[:spatial] = offset[:spatial]
    try:
        transformation = validate_transformation(homogeneous(matrix, position))
    except GeometryError as error:
        raise GeometryError(error.message, path=path) from None
    _check_orientation(text, transformation, ndims, path)
    return Geometry(transformation, tuple(map(float, spacing)), tuple(map(float, offset)))


def _synonyms(
    text: HeaderText, names: tuple[str, ...], count: int, path: str | os.PathLike[str], default: NDArray[np.float64]
) -> list[float]:
    present = text.given(*names)
    if not present:
        return list(default)
    values = [parse_numbers(text.fields[name], name, count, path) for name in present]
    for name, other in zip(present[1:], values[1:], strict=True):
        if other != values[0]:
            raise FormatError(
                f"header fields {present[0]!r} and {name!r} are synonyms but hold different values "
                f"({text.fields[present[0]]!r}, {text.fields[name]!r})",
                path=path,
            )
    return values[0]


def _normals(columns: NDArray[np.float64]) -> NDArray[np.float64]:
    """Unit vectors completing `columns` (3 x 1 or 3 x 2) to a right-handed basis."""
    if columns.shape[1] == 2:
        normal = np.cross(columns[:, 0], columns[:, 1])
        return (normal / np.linalg.norm(normal))[:, np.newaxis]
    # A line along x (ITK's 1D images have no other direction): y and z as in the identity.
    return np.eye(3)[:, 1:]


def _check_orientation(
    text: HeaderText, transformation: NDArray[np.float64], ndims: int, path: str | os.PathLike[str]
) -> None:
    value = text.fields.get("AnatomicalOrientation", "").strip().upper()
    if not value or "?" in value or ndims < 3:
        return  # ITK writes "??" and "????" for images that are not 3D
    letters = value[:3]
    if len(value) != ndims or not set(value) <= _LETTERS:
        warn(
            f"{os.fspath(path)}: header field 'AnatomicalOrientation' is {value!r}, not {ndims} letters of LRAPSI; "
            "it is ignored (as ITK does), the direction matrix says where the axes point",
            FormatWarning,
        )
        return
    try:
        stated = towards_letters(letters)
    except ValueError:
        warn(
            f"{os.fspath(path)}: header field 'AnatomicalOrientation' ({value!r}) is not an anatomical system; "
            "it is ignored (as ITK does)",
            FormatWarning,
        )
        return
    actual = axcodes(transformation, "LPS")
    if stated != actual:
        warn(
            f"{os.fspath(path)}: header field 'AnatomicalOrientation' is {value!r} (axes pointing towards "
            f"{stated}), but the direction matrix points them towards {actual} (AnatomicalOrientation "
            f"{from_letters(actual)!r}); the matrix is used, as ITK does",
            FormatWarning,
        )
