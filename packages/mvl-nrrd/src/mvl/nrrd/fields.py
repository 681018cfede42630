"""Header fields for saving: formatting values, and carrying a loaded header's fields along.

Saving writes the fields that describe storage and geometry (``type``, ``dimension``,
``space``, ``sizes``, ``space directions``, ``kinds``, ``endian``, ``encoding``, ``space
origin``, ``data file``) from the data and the matrix. Every other field of a header the
caller passes or the volume was loaded with is carried over: per-axis fields (``labels``,
``units``, ``centers``, ``thicknesses``) follow their axes when the voxel order changes,
the ``measurement frame`` and ``space units`` are re-expressed when the world system
changes, and custom ``key:=value`` pairs are kept as they are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mvl.coords.systems import permutation_matrix

from .header import FIELDS
from .space import parse_vectors

__all__ = [
    "GENERATED_FIELDS",
    "PER_AXIS_FIELDS",
    "STANDARD_FIELDS",
    "format_fields",
    "format_number",
    "format_value",
    "format_vector",
    "measurement_frame",
    "reorder_axes",
    "space_units",
]

#: Fields written from the data and the matrix; values given for them are ignored.
#: ``spacings``, ``axis mins`` and ``axis maxs`` go too: ``space directions`` replaces them.
GENERATED_FIELDS: Final = frozenset(
    {
        "type",
        "dimension",
        "sizes",
        "endian",
        "encoding",
        "space",
        "space dimension",
        "space directions",
        "space origin",
        "kinds",
        "data file",
        "datafile",
        "line skip",
        "lineskip",
        "byte skip",
        "byteskip",
        "spacings",
        "axis mins",
        "axismins",
        "axis maxs",
        "axismaxs",
        "number",
        "block size",
        "blocksize",
    }
)
#: Fields with one entry per axis, reordered with the axes.
PER_AXIS_FIELDS: Final = frozenset({"labels", "units", "centers", "centerings", "thicknesses"})
#: Fields of the NRRD spec (written ``field: value``); any other name is a ``key:=value`` pair.
STANDARD_FIELDS: Final = FIELDS
_QUOTED: Final = frozenset({"labels", "units", "space units"})
_NAME = re.compile(r"[^:\n\r]+")


def format_number(value: float) -> str:
    """Format a number exactly and briefly: integers without a point, floats as ``repr``.

    Examples
    --------
    >>> format_number(2.0), format_number(0.1), format_number(-0.0), format_number(float("nan"))
    ('2', '0.1', '0', 'nan')
    """
    number = float(value) + 0.0  # no "-0"
    if math.isfinite(number) and number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(number)


def format_vector(vector: ArrayLike | None) -> str:
    """Format an NRRD vector ``(x,y,z)``, or ``none`` for None or all-NaN.

    Examples
    --------
    >>> format_vector([1, 0.5, -2]), format_vector(None)
    ('(1,0.5,-2)', 'none')
    """
    if vector is None:
        return "none"
    values = np.asarray(vector, dtype=np.float64).ravel()
    if values.size and np.all(np.isnan(values)):
        return "none"
    return "(" + ",".join(format_number(value) for value in values) + ")"


def format_value(name: str, value: Any) -> str:
    """Format the value of a header field (pynrrd's types, or plain Python values).

    Parameters
    ----------
    name : str
        The field name; it decides the form of lists (quoted strings, vectors, numbers).
    value : object
        A string (written as it is), a number, a sequence or an array.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If the result would span several lines or a quoted string holds a quote.

    Examples
    --------
    >>> format_value("labels", ["x", "y z"])
    '"x" "y z"'
    >>> format_value("measurement frame", np.eye(3))
    '(1,0,0) (0,1,0) (0,0,1)'
    >>> format_value("thicknesses", [1.5, float("nan")])
    '1.5 nan'
    """
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        text = format_number(float(value))
    elif name in _QUOTED:
        items = [str(item) for item in value]
        if any('"' in item for item in items):
            raise ValueError(f"header field {name!r}: a quoted value may not contain '\"': {items}")
        text = " ".join(f'"{item}"' for item in items)
    else:
        array = np.asarray(value)
        if array.ndim == 2 and array.dtype.kind in "iuf":
            text = " ".join(format_vector(row) for row in array)
        elif array.ndim == 1 and array.dtype.kind in "iuf":
            text = " ".join(format_number(item) for item in array)
        elif array.ndim == 1:
            text = " ".join(str(item) for item in array.tolist())
        else:
            text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError(f"header field {name!r}: a value must fit on one line, got {text[:80]!r}")
    return text


def format_fields(magic: str, comment: str, fields: Sequence[tuple[str, str]]) -> bytes:
    """Assemble a header: magic, comment, fields (spec fields ``a: b``, others ``a:=b``), blank line.

    Examples
    --------
    >>> format_fields("NRRD0004", "hi", [("type", "short"), ("my key", "x")])
    b'NRRD0004\\n# hi\\ntype: short\\nmy key:=x\\n\\n'
    """
    lines = [magic, f"# {comment}"]
    for name, text in fields:
        if not _NAME.fullmatch(name) or name != name.strip():
            raise ValueError(f"{name!r} cannot be a header field name (no ':', no line breaks, no outer spaces)")
        lines.append(f"{name}: {text}" if name in STANDARD_FIELDS else f"{name}:={text}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def reorder_axes(value: Any, axis_order: Sequence[int]) -> list[Any] | None:
    """Put the entries of a per-axis field in the saved axis order; None if the count is wrong.

    Parameters
    ----------
    value : str or sequence
        One entry per source axis (a string is split at whitespace).
    axis_order : sequence of int
        For each saved axis, the source axis it comes from.

    Examples
    --------
    >>> reorder_axes(["x", "y", "z", "t"], [2, 0, 1, 3])
    ['z', 'x', 'y', 't']
    >>> reorder_axes("cell cell", [0, 1, 2]) is None
    True
    """
    items = value.split() if isinstance(value, str) else list(np.asarray(value).tolist())
    if len(items) != len(axis_order):
        return None
    return [items[axis] for axis in axis_order]


def measurement_frame(value: Any, src: str, dst: str) -> NDArray[np.float64] | None:
    """Re-express a ``measurement frame`` from world system `src` in `dst`; None if not 3x3.

    The NRRD spec lists the frame's columns, each a measurement axis in world
    coordinates; pynrrd keeps them as rows, and so does the result.

    Parameters
    ----------
    value : str or (3, 3) array_like
        The field's text, or pynrrd's matrix (one vector per row).
    src, dst : str
        Anatomical systems.

    Returns
    -------
    (3, 3) ndarray of float64 or None

    Examples
    --------
    >>> measurement_frame("(1,0,0) (0,1,0) (0,0,1)", "LPS", "RAS")
    array([[-1.,  0.,  0.],
           [ 0., -1.,  0.],
           [ 0.,  0.,  1.]])
    """
    if isinstance(value, str):
        try:
            vectors = parse_vectors(value)
        except ValueError:
            return None
        if any(vector is None for vector in vectors):
            return None
        rows = np.array(vectors, dtype=np.float64)
    else:
        rows = np.asarray(value, dtype=np.float64)
    if rows.shape != (3, 3):
        return None
    result: NDArray[np.float64] = rows @ permutation_matrix(src, dst).T
    return result


def space_units(value: Any, src: str, dst: str) -> list[str] | None:
    """Reorder ``space units`` (one per world axis) from system `src` to `dst`; None if not 3.

    Examples
    --------
    >>> space_units(["mm", "mm", "um"], "RAS", "SPL")
    ['um', 'mm', 'mm']
    """
    units = value.split() if isinstance(value, str) else [str(unit) for unit in value]
    if len(units) != 3:
        return None
    axes = np.abs(permutation_matrix(src, dst)).argmax(axis=1)
    return [units[int(axis)] for axis in axes]


def carried(header: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of `header` that saving carries over (all but :data:`GENERATED_FIELDS`)."""
    return {name: value for name, value in header.items() if name not in GENERATED_FIELDS and value is not None}
