"""`save_image` and `save_volume`: voxels and their matrix as an NRRD file or detached pair.

NRRD can state three anatomical systems in ``space`` (NRRD spec, section 4):
``right-anterior-superior`` (RAS+), ``left-anterior-superior`` (LAS+) and
``left-posterior-superior`` (LPS+). Data in RAS+ or LPS+ is written in it; for any of the
other 46 systems the matrix is converted to RAS+ first, which leaves every voxel at the
same place in the subject. LAS+ is among them although NRRD can state it: ITK read LAS
files with the left-right axis flipped instead of the anterior-posterior one from 2005
until 2025 (InsightSoftwareConsortium/ITK#5207; SimpleITK before 2.5.6 and the tools
built on it), and a file we write must mean the same in every reader. LAS files are read
as they are.

Non-spatial axes (vector components, time points) get ``none`` in ``space directions``
and their kind in ``kinds``. The file is gzip-compressed by default (through the
fastest installed backend, threaded with python-isal), or raw, or bzip2. A path ending
in ``.nhdr`` writes a detached pair: the header and a data file beside it
(``x.raw.gz``, ``x.raw`` or ``x.raw.bz2``) that the header names relative to itself.
Saving is atomic: temporary files in the target folder, renamed into place when
complete (the header last), so a failed save leaves no partial file and any existing
file untouched.
"""

from __future__ import annotations

import bz2
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

import mvl.coords
from mvl.coords.compression import write_gzip
from mvl.coords.errors import DataError, FormatWarning, GeometryError, SaveError, warn
from mvl.coords.files import array_blocks, atomic_write, open_output
from mvl.coords.reorientation import normalize_spatial_dimensions
from mvl.coords.systems import normalize_system
from mvl.coords.transformations import change_system, validate_transformation
from mvl.coords.volume import Volume

from ._version import __version__
from .fields import (
    PER_AXIS_FIELDS,
    carried,
    format_fields,
    format_value,
    format_vector,
    measurement_frame,
    reorder_axes,
    space_units,
)
from .space import ANATOMICAL_SPACES, KINDS, SPACE_NAMES, SPATIAL_KINDS

__all__ = ["DATA_SUFFIXES", "WRITABLE_SYSTEMS", "save_image", "save_volume"]

#: The anatomical systems an NRRD ``space`` can state; others are saved as RAS+.
#: The systems written as they are (see the module docs for why not LAS+).
WRITABLE_SYSTEMS: Final = ("RAS", "LPS")
#: The suffix of a detached data file, per encoding.
DATA_SUFFIXES: Final = {"gzip": ".raw.gz", "raw": ".raw", "bzip2": ".raw.bz2"}
_ENCODINGS: Final = {"gzip": "gzip", "gz": "gzip", "raw": "raw", "bzip2": "bzip2", "bz2": "bzip2"}
_TYPE_NAMES: Final = {
    "i1": "int8",
    "u1": "uint8",
    "i2": "int16",
    "u2": "uint16",
    "i4": "int32",
    "u4": "uint32",
    "i8": "int64",
    "u8": "uint64",
    "f4": "float",
    "f8": "double",
}


def save_image(
    path: str | os.PathLike[str],
    data: ArrayLike,
    transformation: ArrayLike,
    system: str = "RAS",
    kinds: str | Sequence[str] | None = None,
    *,
    spatial_dimensions: Sequence[int] = (0, 1, 2),
    encoding: str = "gzip",
    compression_level: int | None = None,
    header: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> None:
    """Save voxels and their voxel-to-world matrix as an NRRD file.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; ``.nhdr`` writes a detached header with a data file beside it,
        any other name (normally ``.nrrd``) one file.
    data : array_like
        At least three dimensions; bool is saved as uint8, float16 as float32.
    transformation : (4, 4) array_like
        Maps the indices of the spatial axes of `data` (in increasing order) to `system`.
    system : str, optional
        The world system of `transformation`; default ``"RAS"``. RAS and LPS are
        written as they are; any other of the 48 systems, LAS included, is converted to
        RAS+ (world positions unchanged).
    kinds : str or sequence of str, optional
        NRRD ``kinds``: one per axis, or one string for every spatial axis. By default
        ``domain`` for spatial axes and ``list`` for the others.
    spatial_dimensions : sequence of 3 int, optional
        The spatial axes of `data`; default ``(0, 1, 2)``. The others get ``none`` in
        ``space directions``.
    encoding : {"gzip", "raw", "bzip2"}, optional
        Default ``"gzip"``, through the fastest installed backend.
    compression_level : int, optional
        Of the gzip backend (0-3 for python-isal, 1-9 for zlib) or bzip2 (1-9); by
        default a fast level giving about zlib level 1's size.
    header : mapping, optional
        Further fields, e.g. ``{"measurement frame": ..., "my key": "my value"}`` or a
        header as pynrrd returns it. Storage and geometry fields in it are ignored (they
        follow from `data` and `transformation`); a ``measurement frame`` is taken to be
        in `system`; per-axis fields need one entry per axis of `data`.
    threads : int, optional
        Compression threads for gzip (see :func:`mvl.coords.compression.write_gzip`,
        which also says what counts when it is not given).

    Raises
    ------
    SaveError
        The data type has no NRRD equivalent, a header value cannot be written, the
        folder does not exist, or writing failed; nothing was written and an existing
        file at `path` is unchanged.
    GeometryError
        `transformation` is not a valid voxel-to-world matrix.
    AxisCodeError
        `system` is not one of the 48 systems.
    DataError
        Fewer than three dimensions, bad `spatial_dimensions`, or `kinds` that do not fit.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from mvl.nrrd import open_image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scan.nrrd"
    >>> save_image(path, np.zeros((4, 5, 6), np.int16), np.diag([0.5, 0.5, 2.0, 1.0]), "IAR")
    >>> volume = open_image(path)
    >>> volume.src_system, volume.src_spacing
    ('RAS', (0.5, 0.5, 2.0))
    """
    target = Path(path)
    array = np.asanyarray(data)
    if array.ndim < 3:
        raise DataError(f"{os.fspath(target)}: data needs at least 3 dimensions, got shape {array.shape}")
    spatial = normalize_spatial_dimensions(spatial_dimensions, array.ndim)
    try:
        matrix = validate_transformation(transformation)
    except GeometryError as error:
        raise GeometryError(error.message, path=target) from None
    given_system = normalize_system(system)
    fields = carried(header or {})
    _write(
        target,
        array,
        matrix,
        given_system,
        spatial,
        _kinds(kinds, array.ndim, spatial, None, target),
        _per_axis(fields, list(range(array.ndim)), target, strict=True),
        given_system,
        encoding,
        compression_level,
        threads,
    )


def save_volume(
    path: str | os.PathLike[str],
    volume: Volume,
    src_order: bool = True,
    src_system: bool = True,
    kinds: str | Sequence[str] | None = None,
    *,
    encoding: str = "gzip",
    compression_level: int | None = None,
    header: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> None:
    """Save a volume as an NRRD file, keeping the fields of the NRRD it was loaded from.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; ``.nhdr`` writes a detached pair.
    volume : Volume
        The volume to save.
    src_order : bool, optional
        True (default): the voxels of :attr:`~mvl.coords.Volume.src_data` in their
        order; False: those of :attr:`~mvl.coords.Volume.aligned_data`. The matrix
        always matches.
    src_system : bool, optional
        True (default): write in :attr:`~mvl.coords.Volume.src_system`; False: in
        :attr:`~mvl.coords.Volume.system`. Either is used if it is RAS or LPS; any
        other system (LAS included) is saved as RAS+ (world positions unchanged).
    kinds : str or sequence of str, optional
        NRRD ``kinds`` in the saved axis order, or one string for every spatial axis. By
        default those of the source file, else ``domain`` and ``list``.
    encoding : {"gzip", "raw", "bzip2"}, optional
        Default ``"gzip"``.
    compression_level : int, optional
        See :func:`save_image`.
    header : mapping, optional
        Fields to add or replace, in the saved axis order; a ``measurement frame`` here
        is in the system chosen by `src_system`.
    threads : int, optional
        See :func:`save_image`.

    Notes
    -----
    When :attr:`~mvl.coords.Volume.src_object` is the ``(data, header)`` of an NRRD
    file (:class:`~mvl.nrrd.NrrdSource`, or the tuple of ``nrrd.read``), its fields
    other than storage and geometry are written again: custom ``key:=value`` pairs,
    ``content``, ``measurement frame`` and ``space units`` (re-expressed in the saved
    system), and the per-axis ``labels``, ``units``, ``centers``, ``thicknesses`` and
    ``kinds`` (reordered like the axes; dropped with a
    :class:`~mvl.coords.FormatWarning` if the header's ``sizes`` are not the shape of
    the source data). ``min`` and ``max`` are not carried: the values may have changed.

    Raises
    ------
    SaveError, DataError
        As :func:`save_image`.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from mvl.coords import Volume
    >>> from mvl.nrrd import open_image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scan.nhdr"
    >>> save_volume(path, Volume(np.ones((2, 3, 4), np.uint8), np.eye(4), "LPS"), encoding="raw")
    >>> sorted(child.name for child in path.parent.iterdir())
    ['scan.nhdr', 'scan.raw']
    >>> open_image(path).src_system
    'LPS'
    """
    target = Path(path)
    chosen = volume.src_system if src_system else volume.system
    if src_order:
        data = volume.src_data
        spatial = volume.src_spatial_dimensions
        matrix = volume.get_src_transformation(chosen)
        axis_order = list(range(data.ndim))
    else:
        data = volume.aligned_data
        spatial = (0, 1, 2)
        matrix = volume.get_aligned_transformation(chosen)
        axis_order = list(volume.aligned_to_src_axes)
    source_header = _source_header(volume)
    fields: dict[str, Any] = {}
    source_kinds = None
    if source_header is not None:
        fields = carried(source_header)
        if _same_shape(source_header, volume.src_data.shape):
            source_kinds = reorder_axes(source_header.get("kinds") or [], axis_order)
            fields = _per_axis(fields, axis_order, target, strict=False)
        else:
            dropped = sorted(PER_AXIS_FIELDS.intersection(fields) | ({"kinds"} & set(source_header)))
            fields = {name: value for name, value in fields.items() if name not in PER_AXIS_FIELDS}
            if dropped:
                warn(
                    f"{os.fspath(target)}: the source header's 'sizes' are not the shape of the data; its "
                    f"per-axis fields {dropped} are not saved",
                    FormatWarning,
                )
        for name in ("min", "max"):  # they describe the values, which may have changed since
            fields.pop(name, None)
        space = str(source_header.get("space", "")).strip().lower()
        source_system = ANATOMICAL_SPACES[space][0] if space in ANATOMICAL_SPACES else volume.src_system
        fields = _in_system(fields, source_system, chosen, target)
    if header:
        extra = carried(header)
        fields.update(_per_axis(extra, list(range(data.ndim)), target, strict=True))
    _write(
        target,
        data,
        matrix,
        chosen,
        spatial,
        _kinds(kinds, data.ndim, spatial, source_kinds, target),
        fields,
        chosen,
        encoding,
        compression_level,
        threads,
    )


def _source_header(volume: Volume) -> Mapping[str, Any] | None:
    """The header of an NRRD source object: an NrrdSource or ``nrrd.read``'s ``(data, header)``."""
    source = volume.src_object
    if isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], Mapping):
        header: Mapping[str, Any] = source[1]
        if "type" in header and "sizes" in header:
            return header
    return None


def _same_shape(header: Mapping[str, Any], shape: tuple[int, ...]) -> bool:
    try:
        return tuple(int(size) for size in np.asarray(header.get("sizes", ())).ravel()) == tuple(shape)
    except (TypeError, ValueError):
        return False


def _per_axis(fields: dict[str, Any], axis_order: list[int], target: Path, *, strict: bool) -> dict[str, Any]:
    result = dict(fields)
    for name in PER_AXIS_FIELDS.intersection(fields):
        value = fields[name]
        reordered = reorder_axes(value, axis_order)
        if reordered is None:
            if strict:
                raise DataError(
                    f"{os.fspath(target)}: header field {name!r} needs {len(axis_order)} entries, one per axis: "
                    f"{value!r}"
                )
            warn(
                f"{os.fspath(target)}: header field {name!r} does not have one entry per axis; not saved", FormatWarning
            )
            del result[name]
        else:
            result[name] = reordered
    return result


def _in_system(fields: dict[str, Any], src: str, dst: str, target: Path) -> dict[str, Any]:
    """Re-express the fields that hold world coordinates (``measurement frame``, ``space units``)."""
    result = dict(fields)
    for name, convert in (("measurement frame", measurement_frame), ("space units", space_units)):
        if name not in fields:
            continue
        value = convert(fields[name], src, dst)
        if value is None:
            warn(f"{os.fspath(target)}: header field {name!r} does not fit a 3D space; not saved", FormatWarning)
            del result[name]
        else:
            result[name] = value
    return result


def _kinds(
    kinds: str | Sequence[str] | None,
    ndim: int,
    spatial: tuple[int, int, int],
    source_kinds: list[str] | None,
    target: Path,
) -> list[str]:
    defaults = ["domain" if axis in spatial else "list" for axis in range(ndim)]
    if source_kinds is not None and len(source_kinds) == ndim:  # keep the source's where they still fit
        defaults = [
            kind if _kind_problem(axis, str(kind), spatial) is None else default
            for axis, (kind, default) in enumerate(zip(source_kinds, defaults, strict=True))
        ]
    if kinds is None:
        return defaults
    if isinstance(kinds, str):
        chosen = [kinds if axis in spatial else defaults[axis] for axis in range(ndim)]
    else:
        chosen = [str(kind) for kind in kinds]
        if len(chosen) != ndim:
            raise DataError(f"{os.fspath(target)}: kinds needs {ndim} entries, one per axis, got {chosen}")
    for axis, kind in enumerate(chosen):
        problem = _kind_problem(axis, kind, spatial)
        if problem is not None:
            raise DataError(f"{os.fspath(target)}: {problem}")
    return chosen


def _kind_problem(axis: int, kind: str, spatial: tuple[int, int, int]) -> str | None:
    lowered = kind.lower()
    if lowered not in KINDS:
        return f"kind {kind!r} of axis {axis} is not an NRRD kind"
    if axis in spatial and lowered not in SPATIAL_KINDS:
        return f"axis {axis} is spatial, its kind must be 'domain' or 'space', not {kind!r}"
    if axis not in spatial and lowered == "space":
        return f"axis {axis} is not spatial, its kind cannot be 'space'"
    return None


def _file_dtype(dtype: np.dtype[Any], target: Path) -> np.dtype[Any]:
    if dtype.kind == "b":
        return np.dtype(np.uint8)
    if dtype.kind == "f" and dtype.itemsize == 2:
        return np.dtype(np.float32)
    if dtype.kind in "iuf" and dtype.str[1:] in _TYPE_NAMES:
        return dtype
    raise SaveError(
        f"cannot save {dtype} voxels in NRRD, which stores integers of 1 to 8 bytes, float and double",
        path=target,
    )


def _write(
    target: Path,
    data: np.ndarray[Any, Any],
    matrix: NDArray[np.float64],
    system: str,
    spatial: tuple[int, int, int],
    kinds: list[str],
    fields: dict[str, Any],
    fields_system: str,
    encoding: str,
    compression_level: int | None,
    threads: int | None,
) -> None:
    chosen_encoding = _ENCODINGS.get(encoding.lower())
    if chosen_encoding is None:
        raise SaveError(f"unknown encoding {encoding!r}; choose gzip, raw or bzip2", path=target)
    if data.size == 0:
        raise SaveError(f"cannot save an empty array (shape {data.shape}) in NRRD", path=target)
    file_dtype = _file_dtype(data.dtype, target)
    if system not in WRITABLE_SYSTEMS:
        matrix = change_system(matrix, system, "RAS")
        system = "RAS"
    fields = _in_system(fields, fields_system, system, target)
    detached = target.name.lower().endswith(".nhdr")
    data_target = target.with_name(target.name[: -len(".nhdr")] + DATA_SUFFIXES[chosen_encoding]) if detached else None
    columns = iter(matrix[:3, :3].T)
    directions = [format_vector(next(columns)) if axis in spatial else "none" for axis in range(data.ndim)]
    generated = [
        ("type", _TYPE_NAMES[file_dtype.str[1:]]),
        ("dimension", str(data.ndim)),
        ("space", SPACE_NAMES[system]),
        ("sizes", " ".join(str(size) for size in data.shape)),
        ("space directions", " ".join(directions)),
        ("kinds", " ".join(kinds)),
    ]
    if file_dtype.itemsize > 1:
        little = file_dtype.byteorder == "<" or (file_dtype.byteorder == "=" and sys.byteorder == "little")
        generated.append(("endian", "little" if little else "big"))
    generated += [("encoding", chosen_encoding), ("space origin", format_vector(matrix[:3, 3]))]
    if data_target is not None:
        generated.append(("data file", data_target.name))
    try:
        extra = [(name, format_value(name, value)) for name, value in fields.items()]
        header_bytes = format_fields("NRRD0004", _comment(), generated + extra)
    except ValueError as error:
        raise SaveError(f"cannot write the header: {error}", path=target) from error
    conversion = None if file_dtype == data.dtype else file_dtype
    targets = [target] if data_target is None else [data_target, target]
    with atomic_write(*targets, error_path=target) as temporaries:  # the header last: it names the data
        with open_output(temporaries[-1]) as stream:
            stream.write(header_bytes)
            if data_target is None:
                _write_data(stream, data, conversion, chosen_encoding, compression_level, threads)
        if data_target is not None:
            with open_output(temporaries[0]) as stream:
                _write_data(stream, data, conversion, chosen_encoding, compression_level, threads)


def _write_data(
    stream: IO[bytes],
    data: np.ndarray[Any, Any],
    conversion: np.dtype[Any] | None,
    encoding: str,
    compression_level: int | None,
    threads: int | None,
) -> None:
    blocks = array_blocks(data, "F", dtype=conversion)  # NRRD: the first index fastest
    if encoding == "gzip":
        write_gzip(stream, blocks, level=compression_level, threads=threads)
    elif encoding == "bzip2":
        compressor = bz2.BZ2Compressor(9 if compression_level is None else compression_level)
        for block in blocks:
            stream.write(compressor.compress(block))
        stream.write(compressor.flush())
    else:
        for block in blocks:
            stream.write(block)


def _comment() -> str:
    return f"written by mvl-nrrd {__version__} (mvl-coords {mvl.coords.__version__}); http://teem.sourceforge.net/nrrd/"
