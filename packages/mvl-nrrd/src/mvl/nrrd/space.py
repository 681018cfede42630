"""NRRD orientation: ``space``, ``space directions``, ``space origin`` and ``kinds`` to geometry.

The NRRD spec (section 4) names the world space in ``space``: the anatomical spaces
``right-anterior-superior`` (``RAS``), ``left-anterior-superior`` (``LAS``) and
``left-posterior-superior`` (``LPS``), each also with a fourth, time coordinate
(``right-anterior-superior-time``, ``RAST``, ...), and the non-anatomical spaces
``scanner-xyz``, ``3D-right-handed`` and ``3D-left-handed`` (also with ``-time``). A
header without ``space`` may give ``space dimension`` instead: coordinates with no
anatomical meaning at all.

``space directions`` holds one vector per axis, in world coordinates: the step of one
voxel along that axis, or ``none`` for an axis that is not spatial (vector components,
colour channels, time points, list entries; their ``kinds`` say which). The spatial axes
are the ones with a vector; each vector is one column of the voxel-to-world matrix, and
``space origin`` is the world position of the first voxel.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from mvl.coords.errors import DataError, FormatError, FormatWarning, GeometryError, GeometryWarning, warn
from mvl.coords.systems import normalize_system, permutation_matrix
from mvl.coords.transformations import homogeneous, validate_transformation

from .header import HeaderText

__all__ = [
    "ANATOMICAL_SPACES",
    "KINDS",
    "NON_ANATOMICAL_SPACES",
    "SPACE_NAMES",
    "Geometry",
    "parse_vector",
    "parse_vectors",
    "read_geometry",
]

#: The anatomical ``space`` values of the NRRD spec (lower case), to our system code and
#: whether a fourth, time coordinate follows.
ANATOMICAL_SPACES: Final[dict[str, tuple[str, bool]]] = {
    "right-anterior-superior": ("RAS", False),
    "ras": ("RAS", False),
    "left-anterior-superior": ("LAS", False),
    "las": ("LAS", False),
    "left-posterior-superior": ("LPS", False),
    "lps": ("LPS", False),
    "right-anterior-superior-time": ("RAS", True),
    "rast": ("RAS", True),
    "left-anterior-superior-time": ("LAS", True),
    "last": ("LAS", True),
    "left-posterior-superior-time": ("LPS", True),
    "lpst": ("LPS", True),
}

#: The non-anatomical ``space`` values (lower case) and whether a time coordinate follows;
#: the handedness, where the name states it (+1 right-handed, -1 left-handed, 0 unknown).
NON_ANATOMICAL_SPACES: Final[dict[str, tuple[bool, int]]] = {
    "scanner-xyz": (False, 0),
    "scanner-xyz-time": (True, 0),
    "3d-right-handed": (False, 1),
    "3d-right-handed-time": (True, 1),
    "3d-left-handed": (False, -1),
    "3d-left-handed-time": (True, -1),
}

#: The long ``space`` name of each system that NRRD can state.
SPACE_NAMES: Final[dict[str, str]] = {
    "RAS": "right-anterior-superior",
    "LAS": "left-anterior-superior",
    "LPS": "left-posterior-superior",
}

#: Every ``kinds`` value of the NRRD spec (section 6), lower case.
KINDS: Final = frozenset(
    kind.lower()
    for kind in (
        *("domain", "space", "time", "list", "point", "vector", "covariant-vector", "normal", "stub", "scalar"),
        *("complex", "2-vector", "3-color", "RGB-color", "HSV-color", "XYZ-color", "4-color", "RGBA-color"),
        *("3-vector", "3-gradient", "3-normal", "4-vector", "quaternion", "2D-symmetric-matrix"),
        *("2D-masked-symmetric-matrix", "2D-matrix", "2D-masked-matrix", "3D-symmetric-matrix"),
        *("3D-masked-symmetric-matrix", "3D-matrix", "3D-masked-matrix", "???", "none"),
    )
)
#: Kinds a spatial axis (one with a space direction) may have.
SPATIAL_KINDS: Final = frozenset({"domain", "space", "???", "none"})

_VECTOR = re.compile(r"\(([^()]*)\)|none", re.IGNORECASE)


@dataclass(frozen=True)
class Geometry:
    """Where the voxels lie.

    Attributes
    ----------
    system : str
        The anatomical system of `transformation` (``space``, or the one assumed).
    transformation : (4, 4) ndarray of float64
        Maps the indices of the spatial axes (in increasing axis order) to `system`.
    spatial_axes : tuple of 3 int
        The axes with a space direction, in increasing order.
    """

    system: str
    transformation: NDArray[np.float64]
    spatial_axes: tuple[int, int, int]


def parse_vectors(value: str) -> list[NDArray[np.float64] | None]:
    """Parse a list of NRRD vectors such as ``(1,0,0) (0, 1, 0) none``.

    Parameters
    ----------
    value : str
        Vectors in parentheses, components separated by commas (spaces allowed), or
        ``none``; separated by whitespace.

    Returns
    -------
    list of (N,) ndarray or None

    Raises
    ------
    ValueError
        If the text is not such a list.

    Examples
    --------
    >>> parse_vectors("(1,0,0) (0, 2.5,0) none")
    [array([1., 0., 0.]), array([0. , 2.5, 0. ]), None]
    """
    vectors: list[NDArray[np.float64] | None] = []
    position = 0
    text = value.strip()
    while position < len(text):
        match = _VECTOR.match(text, position)
        if match is None:
            raise ValueError(f"expected '(x,y,z)' or 'none' at {text[position : position + 20]!r}")
        vectors.append(None if match[1] is None else np.array([float(x) for x in match[1].split(",")]))
        position = match.end()
        rest = text[position:]
        position += len(rest) - len(rest.lstrip())
        if position < len(text) and position == match.end():
            raise ValueError(f"vectors must be separated by spaces at {text[match.start() : position + 20]!r}")
    return vectors


def parse_vector(value: str) -> NDArray[np.float64] | None:
    """Parse one NRRD vector ``(x,y,z)`` or ``none``.

    Examples
    --------
    >>> parse_vector("(1.5, -2, 3)")
    array([ 1.5, -2. ,  3. ])
    """
    vectors = parse_vectors(value)
    if len(vectors) != 1:
        raise ValueError(f"expected one vector, got {len(vectors)}")
    return vectors[0]


def read_geometry(
    text: HeaderText, sizes: Sequence[int], path: str | os.PathLike[str], assume_system: str | None = None
) -> Geometry:
    """Derive the system, the voxel-to-world matrix and the spatial axes from a header.

    Parameters
    ----------
    text : HeaderText
        The header's fields.
    sizes : sequence of int
        The checked ``sizes``, one per axis.
    path : str or os.PathLike
        Named in errors.
    assume_system : str, optional
        The anatomical system to read the coordinates in when ``space`` is missing or
        not anatomical (``scanner-xyz``, ``3D-right-handed``, ``space dimension``).

    Returns
    -------
    Geometry

    Raises
    ------
    GeometryError
        No anatomical ``space`` and no `assume_system`; ``space directions`` missing;
        NaN, infinite, zero or (nearly) coplanar directions; NaN ``space origin``.
    FormatError
        Malformed or contradictory fields (unknown ``space``, wrong number of vectors or
        components, ``kinds`` that contradict ``space directions``).
    DataError
        Not exactly three spatial axes.
    """
    fields = text.fields
    dimension = len(sizes)
    system, space_dimension, has_time = _space(text, path, assume_system)
    kinds = _kinds(text, dimension, path)
    if space_dimension is None:  # no orientation at all; the caller assumed a system
        return _without_directions(text, sizes, kinds, system, path)
    if "space directions" not in fields:
        raise GeometryError(
            "header field 'space directions' is missing: without it the voxels have no position in "
            f"{fields.get('space', 'the space')}",
            path=path,
        )
    try:
        directions = parse_vectors(fields["space directions"])
    except ValueError as error:
        raise FormatError(
            f"header field 'space directions' is malformed ({error}): {fields['space directions'][:200]!r}", path=path
        ) from None
    if len(directions) != dimension:
        raise FormatError(
            f"header field 'space directions' has {len(directions)} entries, 'dimension' is {dimension}; "
            "give one vector or 'none' per axis",
            path=path,
        )
    spatial: list[int] = []
    for axis, vector in enumerate(directions):
        if vector is None:
            continue
        if vector.shape != (space_dimension,):
            raise FormatError(
                f"header field 'space directions': the vector of axis {axis} has {vector.size} components, "
                f"the space has {space_dimension}",
                path=path,
            )
        if not np.all(np.isfinite(vector)):
            raise GeometryError(
                f"header field 'space directions': the vector of axis {axis} is not finite: {vector.tolist()}",
                path=path,
            )
        if not np.any(vector[:3]):
            if has_time and vector[3] != 0:
                continue  # the time axis of a "-time" space: not spatial
            raise GeometryError(
                f"header field 'space directions': the vector of axis {axis} is zero; "
                "a spatial axis needs a non-zero step",
                path=path,
            )
        if has_time and vector[3] != 0:
            warn(
                f"{os.fspath(path)}: header field 'space directions': axis {axis} also steps in time "
                f"({vector[3]:g} per voxel); the time component is ignored",
                GeometryWarning,
            )
        spatial.append(axis)
    _check_kinds(kinds, directions, spatial, path)
    if len(spatial) != 3:
        raise DataError(
            f"{os.fspath(path)}: header field 'space directions' gives {len(spatial)} spatial axes "
            f"({_axes_text(spatial)}); exactly three are needed for a volume"
        )
    matrix = np.column_stack([directions[axis][:3] for axis in spatial])  # type: ignore[index]
    origin = _origin(text, space_dimension, path)
    transformation = _validated(homogeneous(matrix, origin[:3]), path)
    first, second, third = spatial
    return Geometry(system, transformation, (first, second, third))


def _space(text: HeaderText, path: str | os.PathLike[str], assume_system: str | None) -> tuple[str, int | None, bool]:
    """Return (system, space dimension or None without orientation, has a time coordinate)."""
    fields = text.fields
    space = fields.get("space")
    declared_dimension = fields.get("space dimension")
    assumed = None if assume_system is None else normalize_system(assume_system)
    if space is None:
        if assumed is None:
            reason = (
                "'space dimension' without 'space'"
                if declared_dimension is not None
                else "neither 'space' nor 'space directions'"
            )
            raise GeometryError(
                f"header field 'space' is missing ({reason}): the coordinates have no anatomical meaning; "
                "pass assume_system='RAS' (or the system you know it is) to read it anyway",
                path=path,
            )
        if declared_dimension is None:
            # 'space directions' without any space: read them in the assumed system.
            return assumed, (3 if "space directions" in fields else None), False
        try:
            space_dimension = int(declared_dimension)
        except ValueError:
            raise FormatError(
                f"header field 'space dimension' must be an integer, got {declared_dimension!r}", path=path
            ) from None
        if space_dimension != 3:
            raise GeometryError(
                f"header field 'space dimension' is {space_dimension}; only 3D spaces have voxel positions "
                "we can read (a 4D space needs a '-time' 'space' to say which coordinate is time)",
                path=path,
            )
        return assumed, 3, False
    key = space.strip().lower()
    if key in ANATOMICAL_SPACES:
        system, has_time = ANATOMICAL_SPACES[key]
    elif key in NON_ANATOMICAL_SPACES:
        has_time, handedness = NON_ANATOMICAL_SPACES[key]
        if assumed is None:
            raise GeometryError(
                f"header field 'space' is {space!r}: a space with no anatomical meaning (NRRD's anatomical "
                "spaces are right-anterior-superior, left-anterior-superior, left-posterior-superior and their "
                "'-time' forms); pass assume_system='RAS' (or the system you know it is) to read it anyway",
                path=path,
            )
        if handedness and round(float(np.linalg.det(permutation_matrix("RAS", assumed)))) != handedness:
            warn(
                f"{os.fspath(path)}: header field 'space' is {space!r} but the assumed system {assumed} is "
                f"{'left' if handedness > 0 else 'right'}-handed: the image is read mirrored",
                GeometryWarning,
            )
        system = assumed
    else:
        try:
            system, has_time = normalize_system(space), False
        except ValueError:
            raise FormatError(
                f"header field 'space' is {space!r}, not an NRRD space (right-anterior-superior, "
                "left-anterior-superior, left-posterior-superior, their -time forms, scanner-xyz, "
                "3D-right-handed, 3D-left-handed)",
                path=path,
            ) from None
        warn(
            f"{os.fspath(path)}: header field 'space' is {space!r}, which the NRRD spec does not define; "
            f"read as the anatomical system {system}",
            FormatWarning,
        )
    space_dimension = 4 if has_time else 3
    if declared_dimension is not None and declared_dimension.strip() != str(space_dimension):
        raise FormatError(
            f"header fields 'space' ({space!r}) and 'space dimension' ({declared_dimension!r}) disagree", path=path
        )
    return system, space_dimension, has_time


def _kinds(text: HeaderText, dimension: int, path: str | os.PathLike[str]) -> list[str] | None:
    value = text.fields.get("kinds")
    if value is None:
        return None
    kinds = value.split()
    if len(kinds) != dimension:
        raise FormatError(
            f"header field 'kinds' lists {len(kinds)} kinds, 'dimension' is {dimension}: {value!r}", path=path
        )
    unknown = [kind for kind in kinds if kind.lower() not in KINDS]
    if unknown:
        warn(
            f"{os.fspath(path)}: header field 'kinds' has values the NRRD spec does not define: {unknown}",
            FormatWarning,
        )
    return [kind.lower() for kind in kinds]


def _check_kinds(
    kinds: list[str] | None,
    directions: list[NDArray[np.float64] | None],
    spatial: list[int],
    path: str | os.PathLike[str],
) -> None:
    if kinds is None:
        return
    for axis, kind in enumerate(kinds):
        if axis in spatial and kind not in SPATIAL_KINDS:
            raise FormatError(
                f"header fields 'kinds' and 'space directions' disagree: axis {axis} has a space direction "
                f"but the kind {kind!r}; a spatial axis is 'domain' or 'space'",
                path=path,
            )
        if directions[axis] is None and kind == "space":
            raise FormatError(
                f"header fields 'kinds' and 'space directions' disagree: axis {axis} is of kind 'space' "
                "but its direction is 'none'",
                path=path,
            )


def _origin(text: HeaderText, space_dimension: int, path: str | os.PathLike[str]) -> NDArray[np.float64]:
    value = text.fields.get("space origin")
    if value is None:
        warn(
            f"{os.fspath(path)}: header field 'space origin' is missing; the first voxel is placed at the "
            "world origin (0, 0, 0)",
            GeometryWarning,
        )
        return np.zeros(space_dimension)
    try:
        origin = parse_vector(value)
    except ValueError as error:
        raise FormatError(f"header field 'space origin' is malformed ({error}): {value[:200]!r}", path=path) from None
    if origin is None or origin.shape != (space_dimension,):
        raise FormatError(
            f"header field 'space origin' must be a vector of {space_dimension} components, got {value!r}", path=path
        )
    if not np.all(np.isfinite(origin[:3])):
        raise GeometryError(f"header field 'space origin' is not finite: {value!r}", path=path)
    return origin


def _validated(transformation: NDArray[np.float64], path: str | os.PathLike[str]) -> NDArray[np.float64]:
    try:
        return validate_transformation(transformation, name="the matrix of 'space directions'")
    except GeometryError as error:
        raise GeometryError(f"header field 'space directions': {error.message}", path=path) from None


def _without_directions(
    text: HeaderText, sizes: Sequence[int], kinds: list[str] | None, system: str, path: str | os.PathLike[str]
) -> Geometry:
    """No orientation in the header: axis-aligned voxels with ``spacings``, in the assumed system."""
    dimension = len(sizes)
    if kinds is not None:
        spatial = [axis for axis, kind in enumerate(kinds) if kind in ("domain", "space")]
    else:
        spatial = list(range(dimension)) if dimension == 3 else []
    if len(spatial) != 3:
        raise DataError(
            f"{os.fspath(path)}: the header has no 'space directions' and its 'kinds' "
            f"({text.fields.get('kinds', 'missing')!r}) do not name exactly three spatial (domain) axes"
        )
    spacings = np.ones(dimension)
    if "spacings" in text.fields:
        try:
            given = np.array([float(token) for token in text.fields["spacings"].split()])
        except ValueError:
            raise FormatError(
                f"header field 'spacings' must hold numbers, got {text.fields['spacings']!r}", path=path
            ) from None
        if given.shape != (dimension,):
            raise FormatError(f"header field 'spacings' must list {dimension} numbers", path=path)
        spacings = np.where(np.isfinite(given), given, 1.0)
    chosen = [float(spacings[axis]) for axis in spatial]
    warn(
        f"{os.fspath(path)}: the header has no 'space directions'; voxels assumed axis-aligned in "
        f"{system} with spacings {chosen} and the first voxel at the origin",
        GeometryWarning,
    )
    transformation = _validated(homogeneous(np.diag(chosen)), path)
    first, second, third = spatial
    return Geometry(system, transformation, (first, second, third))


def _axes_text(axes: list[int]) -> str:
    return "axes " + ", ".join(map(str, axes)) if axes else "none"
