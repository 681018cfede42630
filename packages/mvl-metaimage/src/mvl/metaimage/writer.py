"""`save_image` and `save_volume`: voxels and their matrix as a MetaImage file, as ITK writes one.

The header holds the fields ITK's MetaImageIO writes, in its order: ``ObjectType``,
``NDims``, ``BinaryData``, ``BinaryDataByteOrderMSB``, ``CompressedData`` (and
``CompressedDataSize``), ``TransformMatrix`` (the direction of voxel axis 0 first),
``Offset``, ``CenterOfRotation``, ``AnatomicalOrientation`` (ITK's "from" letters,
:func:`~mvl.metaimage.geometry.from_letters`), ``ElementSpacing``, ``DimSize``,
``ElementNumberOfChannels`` (above 1 only), ``ElementType`` and ``ElementDataFile``. The
world is always LPS+: a matrix in any other system is converted first, which leaves
every voxel at the same place in the subject.

The spatial axes are written first; further axes (time) become ``NDims`` 4 and up, and
a last axis of channels (``channels=True``) becomes ``ElementNumberOfChannels``. The data
is little-endian, zlib-compressed by default (through the fastest installed backend);
``.mha`` holds it after the header, ``.mhd`` writes it beside the header as ``x.zraw``
(compressed) or ``x.raw``. Saving is atomic: temporary files in the target folder,
renamed into place when complete (the header last), so a failed save leaves no partial
file and any existing file untouched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mvl.coords.errors import DataError, GeometryError, SaveError
from mvl.coords.files import array_blocks, atomic_write, open_output
from mvl.coords.reorientation import normalize_spatial_dimensions
from mvl.coords.systems import axcodes, normalize_system
from mvl.coords.transformations import change_system, validate_transformation
from mvl.coords.volume import Volume
from mvl.coords.zlibstream import write_zlib

from .geometry import MATRIX_FIELDS, OFFSET_FIELDS, from_letters
from .source import MetaImageSource

__all__ = ["DATA_SUFFIXES", "GENERATED_FIELDS", "save_image", "save_volume"]

#: The suffix of a detached data file, compressed or not (as ITK names them).
DATA_SUFFIXES: Final = {True: ".zraw", False: ".raw"}
#: The fields a save writes itself (or drops: ``ElementMin``/``ElementMax`` describe
#: values that may have changed); others given in `header` (or carried from a loaded
#: MetaImage file) are written after them, before ``ElementType``.
GENERATED_FIELDS: Final = frozenset(
    {
        "ObjectType",
        "NDims",
        "BinaryData",
        "BinaryDataByteOrderMSB",
        "ElementByteOrderMSB",
        "CompressedData",
        "CompressedDataSize",
        *MATRIX_FIELDS,
        *OFFSET_FIELDS,
        "CenterOfRotation",
        "AnatomicalOrientation",
        "ElementSpacing",
        "ElementSize",
        "DimSize",
        "ElementNumberOfChannels",
        "ElementType",
        "ElementDataFile",
        "HeaderSize",
        "ElementMin",  # they describe the values, which may have changed since
        "ElementMax",
    }
)
_ELEMENT_TYPES: Final = {
    "i1": "MET_CHAR",
    "u1": "MET_UCHAR",
    "i2": "MET_SHORT",
    "u2": "MET_USHORT",
    "i4": "MET_INT",
    "u4": "MET_UINT",
    "i8": "MET_LONG_LONG",
    "u8": "MET_ULONG_LONG",
    "f4": "MET_FLOAT",
    "f8": "MET_DOUBLE",
}
_SIZE_WIDTH: Final = 20  # digits reserved for CompressedDataSize, filled in after compressing


class _Options(NamedTuple):
    compress: bool
    level: int | None
    threads: int | None


def save_image(
    path: str | os.PathLike[str],
    data: ArrayLike,
    transformation: ArrayLike,
    system: str = "LPS",
    *,
    spatial_dimensions: Sequence[int] = (0, 1, 2),
    channels: bool = False,
    compress: bool = True,
    compression_level: int | None = None,
    header: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> None:
    """Save voxels and their voxel-to-world matrix as a MetaImage file.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; ``.mhd`` writes a detached header with a data file beside it, any
        other name (normally ``.mha``) one file.
    data : array_like
        At least three dimensions; bool is saved as uint8, float16 as float32, complex
        as two float channels.
    transformation : (4, 4) array_like
        Maps the indices of the spatial axes of `data` (in increasing order) to `system`.
    system : str, optional
        The world system of `transformation`; default ``"LPS"`` (MetaImage's own). Any
        of the 48; the file is always LPS+.
    spatial_dimensions : sequence of 3 int, optional
        The spatial axes of `data`; default ``(0, 1, 2)``.
    channels : bool, optional
        Write the last axis of `data` (which must not be spatial) as
        ``ElementNumberOfChannels``: the values of one voxel (a vector, a colour).
        Default False: further axes become ``NDims`` 4 and up.
    compress : bool, optional
        ``CompressedData``: one zlib stream; default True.
    compression_level : int, optional
        Of the zlib backend (0-3 for python-isal, 1-9 for zlib); by default a fast
        level giving about zlib level 1's size.
    header : mapping, optional
        Further fields, e.g. ``{"Modality": "MET_MOD_CT"}``, written as ``Key = value``.
        Fields the save writes itself (:data:`GENERATED_FIELDS`) are ignored.
    threads : int, optional
        Compression threads (see :func:`mvl.coords.zlibstream.write_zlib`, which also
        says what counts when it is not given); the file is one zlib stream either way.

    Raises
    ------
    SaveError
        The data type has no MetaImage equivalent, a header field cannot be written,
        the folder does not exist, or writing failed; nothing was written and an
        existing file at `path` is unchanged.
    GeometryError
        `transformation` is not a valid voxel-to-world matrix.
    AxisCodeError
        `system` is not one of the 48 systems.
    DataError
        Fewer than three dimensions, bad `spatial_dimensions`, or no axis for `channels`.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from mvl.metaimage import open_image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scan.mha"
    >>> save_image(path, np.zeros((4, 5, 6), np.int16), np.diag([0.5, 0.5, 2.0, 1.0]), "RAS")
    >>> volume = open_image(path)
    >>> volume.src_system, volume.src_spacing, float(volume.get_src_transformation("RAS")[0, 0])
    ('LPS', (0.5, 0.5, 2.0), 0.5)
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
    lps = change_system(matrix, normalize_system(system), "LPS")
    if channels and (array.ndim == 3 or array.ndim - 1 in spatial):
        raise DataError(f"{os.fspath(target)}: channels=True needs a last axis that is not spatial")
    options = _Options(compress, compression_level, threads)
    _write(target, array, lps, spatial, channels, options, dict(header or {}), None)


def save_volume(
    path: str | os.PathLike[str],
    volume: Volume,
    src_order: bool = True,
    *,
    channels: bool | None = None,
    compress: bool = True,
    compression_level: int | None = None,
    header: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> None:
    """Save a volume as a MetaImage file, keeping the fields of the MetaImage it was loaded from.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; ``.mhd`` writes a detached pair.
    volume : Volume
        The volume to save.
    src_order : bool, optional
        True (default): the voxels of :attr:`~mvl.coords.Volume.src_data` in their
        order; False: those of :attr:`~mvl.coords.Volume.aligned_data`. The matrix
        always matches; the world is LPS+ either way.
    channels : bool, optional
        See :func:`save_image`. By default True when the volume came from a MetaImage
        file with ``ElementNumberOfChannels`` above 1 and still has that last axis.
    compress : bool, optional
        Default True (zlib).
    compression_level : int, optional
        See :func:`save_image`.
    header : mapping, optional
        Fields to add or replace.
    threads : int, optional
        See :func:`save_image`.

    Notes
    -----
    When :attr:`~mvl.coords.Volume.src_object` is a :class:`~mvl.metaimage.MetaImageSource`,
    its fields other than storage and geometry (``Modality``, custom keys) are written
    again, and so are the spacing and offset of the axes beyond the third when the
    shape still matches.

    Raises
    ------
    SaveError, DataError
        As :func:`save_image`.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from mvl.coords import Volume
    >>> from mvl.metaimage import open_image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "scan.mhd"
    >>> save_volume(path, Volume(np.ones((2, 3, 4), np.uint8), np.eye(4), "RAS"), compress=False)
    >>> sorted(child.name for child in path.parent.iterdir())
    ['scan.mhd', 'scan.raw']
    >>> open_image(path).get_src_transformation("RAS")[:3, :3].diagonal()
    array([1., 1., 1.])
    """
    target = Path(path)
    if src_order:
        data = volume.src_data
        spatial = volume.src_spatial_dimensions
        matrix = volume.get_src_transformation("LPS")
    else:
        data = volume.aligned_data
        spatial = (0, 1, 2)
        matrix = volume.get_aligned_transformation("LPS")
    fields: dict[str, Any] = {}
    extra_axes: tuple[list[float], list[float]] | None = None
    source = volume.src_object
    if isinstance(source, MetaImageSource):
        fields = {name: value for name, value in source.header.items() if name not in GENERATED_FIELDS}
        source_channels = _int(source.header.get("ElementNumberOfChannels", "1"))
        if channels is None:
            channels = source_channels > 1 and data.ndim > 3 and data.shape[-1] == source_channels
            channels = channels and (data.ndim - 1) not in spatial
        extra_axes = _extra_axes(source, volume)
    fields.update(header or {})
    options = _Options(compress, compression_level, threads)
    _write(target, data, matrix, spatial, bool(channels), options, fields, extra_axes)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 1


def _extra_axes(source: MetaImageSource, volume: Volume) -> tuple[list[float], list[float]] | None:
    """Spacing and offset of the source's axes beyond the third, if they still describe the data."""
    header = source.header
    try:
        ndims = int(header.get("NDims", "0"))
        spacing = [float(token) for token in header.get("ElementSpacing", "").split()]
        offset = [float(token) for token in header.get("Offset", header.get("Origin", "")).split()]
    except ValueError:
        return None
    if ndims <= 3 or len(spacing) != ndims or len(offset) != ndims or source.data is not volume.src_data:
        return None
    return spacing[3:], offset[3:]


def _file_dtype(dtype: np.dtype[Any], target: Path) -> tuple[np.dtype[Any], bool]:
    """The little-endian type to write, and whether complex values become two channels."""
    if dtype.kind == "b":
        return np.dtype("<u1"), False
    if dtype.kind == "f" and dtype.itemsize == 2:
        return np.dtype("<f4"), False
    if dtype.kind == "c" and dtype.itemsize in (8, 16):
        return np.dtype("<f4" if dtype.itemsize == 8 else "<f8"), True
    if dtype.kind in "iuf" and dtype.str[1:] in _ELEMENT_TYPES:
        return dtype.newbyteorder("<"), False
    raise SaveError(
        f"cannot save {dtype} voxels in MetaImage, which stores integers of 1 to 8 bytes, float and double",
        path=target,
    )


def format_number(value: float) -> str:
    """A number as the header writes it: the shortest text that reads back the same double.

    Examples
    --------
    >>> format_number(2.0), format_number(0.7), format_number(-0.0)
    ('2', '0.7', '0')
    """
    number = float(value) + 0.0  # -0.0 becomes 0.0
    text = repr(number)
    return text[:-2] if text.endswith(".0") else text


def _numbers(values: Any) -> str:
    return " ".join(format_number(value) for value in np.asarray(values, dtype=np.float64).ravel())


def _value_text(name: str, value: Any, target: Path) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):
        text = " ".join(str(item) for item in np.asarray(value).ravel())
    else:
        text = str(value)
    if "\n" in text or "\r" in text or not name.isidentifier():
        raise SaveError(f"cannot write header field {name!r}: {text[:80]!r} (one line, a name of letters)", path=target)
    return text


def _write(
    target: Path,
    data: np.ndarray[Any, Any],
    lps: NDArray[np.float64],
    spatial: tuple[int, int, int],
    channels: bool,
    options: _Options,
    fields: dict[str, Any],
    extra_axes: tuple[list[float], list[float]] | None,
) -> None:
    compress = options.compress
    if data.size == 0:
        raise SaveError(f"cannot save an empty array (shape {data.shape}) in MetaImage", path=target)
    file_dtype, complex_values = _file_dtype(data.dtype, target)
    # Spatial axes first, then the others in their order; channels last.
    others = [axis for axis in range(data.ndim) if axis not in spatial]
    moved = np.transpose(data, (*spatial, *others))
    if complex_values:
        if channels:
            raise SaveError("cannot save complex values with channels=True (they take the channels)", path=target)
        moved = np.stack([moved.real, moved.imag], axis=-1)  # real, imaginary: two channels
        channels = True
    count = moved.shape[-1] if channels else 1
    dims = moved.shape[:-1] if channels else moved.shape
    ndims = len(dims)
    directions = np.eye(ndims)
    spacing = np.ones(ndims)
    offset = np.zeros(ndims)
    steps = np.linalg.norm(lps[:3, :3], axis=0)
    directions[:3, :3] = lps[:3, :3] / steps
    spacing[:3] = steps
    offset[:3] = lps[:3, 3]
    if extra_axes is not None and len(extra_axes[0]) == ndims - 3:
        spacing[3:], offset[3:] = extra_axes
    detached = target.name.lower().endswith(".mhd")
    data_target = target.with_name(target.name[: -len(".mhd")] + DATA_SUFFIXES[compress]) if detached else None
    lines = [
        ("ObjectType", "Image"),
        ("NDims", str(ndims)),
        ("BinaryData", "True"),
        ("BinaryDataByteOrderMSB", "False"),
        ("CompressedData", str(bool(compress))),
    ]
    if compress:
        lines.append(("CompressedDataSize", " " * _SIZE_WIDTH))
    lines += [
        ("TransformMatrix", _numbers(directions.T)),  # column by column: axis 0's direction first
        ("Offset", _numbers(offset)),
        ("CenterOfRotation", _numbers(np.zeros(ndims))),
    ]
    if ndims == 3:
        lines.append(("AnatomicalOrientation", from_letters(axcodes(lps, "LPS"))))
    lines += [("ElementSpacing", _numbers(spacing)), ("DimSize", " ".join(str(size) for size in dims))]
    if count > 1:
        lines.append(("ElementNumberOfChannels", str(count)))
    lines += [
        (name, _value_text(name, value, target)) for name, value in fields.items() if name not in GENERATED_FIELDS
    ]
    lines += [
        ("ElementType", _ELEMENT_TYPES[file_dtype.str[1:]]),
        ("ElementDataFile", "LOCAL" if data_target is None else data_target.name),
    ]
    text = "".join(f"{name} = {value}\n" for name, value in lines).encode("utf-8")
    size_at = text.find(b"CompressedDataSize = ") + len(b"CompressedDataSize = ") if compress else -1
    stored = np.moveaxis(moved, -1, 0) if channels else moved  # channels fastest in the file
    conversion = None if file_dtype == stored.dtype else file_dtype
    targets = [target] if data_target is None else [data_target, target]
    with atomic_write(*targets, error_path=target) as temporaries:  # the header last: it names the data
        header_stream = open_output(temporaries[-1])
        with header_stream:
            header_stream.write(text)
            if data_target is None:
                written = _write_data(header_stream, stored, conversion, options)
                if compress:
                    header_stream.seek(size_at)
                    header_stream.write(str(written).ljust(_SIZE_WIDTH).encode())
        if data_target is not None:
            with open_output(temporaries[0]) as data_stream:
                written = _write_data(data_stream, stored, conversion, options)
            if compress:
                with open(temporaries[-1], "r+b") as header_file:
                    header_file.seek(size_at)
                    header_file.write(str(written).ljust(_SIZE_WIDTH).encode())


def _write_data(
    stream: IO[bytes], stored: np.ndarray[Any, Any], conversion: np.dtype[Any] | None, options: _Options
) -> int:
    blocks = array_blocks(stored, "F", dtype=conversion)  # MetaImage: the first index fastest
    if options.compress:
        return write_zlib(stream, blocks, level=options.level, threads=options.threads)
    written = 0
    for block in blocks:
        written += stream.write(block)
    return written
