"""Decoding MetaImage voxel data: exactly as large as the header declares, never more.

- Binary, uncompressed: memory-mapped (copy-on-write) where the file allows it, else read
  into one preallocated array. ``HeaderSize`` bytes are skipped first (for ``LOCAL``
  data counted from the start of the file, as ITK does); ``HeaderSize = -1`` takes the
  data from the end of the file.
- ``CompressedData = True``: one zlib stream, inflated straight into the preallocated
  array (:class:`mvl.coords.zlibstream.ZlibReader`, through the fastest installed
  backend), its Adler-32 checked; ``CompressedDataSize`` bounds what is read, and a
  stream that inflates beyond the declared size is stopped (decompression bombs).
- ``BinaryData = False``: whitespace-separated numbers.
- Several files (a list or a pattern): each file holds its part, read in turn.

Sizes are checked against the files before anything large is allocated. The array has
the shape ``(channels, *DimSize)`` in Fortran order: the channels of a voxel fastest,
then axis 0, as MetaIO stores them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO, Any, Final

import numpy as np

from mvl.coords.errors import FormatError, InputError, ResourceLimitError
from mvl.coords.zlibstream import ZlibReader

from .files import DataFiles
from .header import Layout

__all__ = ["EXTRA_ALLOWANCE", "ZLIB_MAX_RATIO", "read_data"]

#: Deflate cannot expand more than this (258 bytes from 2 bits): a bound on what a zlib
#: stream of a given length can hold, checked before anything is allocated.
ZLIB_MAX_RATIO: Final = 1032
#: Bytes a stream may inflate to beyond what the header declares before inflating stops:
#: within it, the mismatch is a FormatError; beyond, a ResourceLimitError.
EXTRA_ALLOWANCE: Final = 1 << 20
_SLACK: Final = 1 << 16
_NATIVE: Final = "<" if sys.byteorder == "little" else ">"


def read_data(files: DataFiles, layout: Layout, header_path: Path, *, mmap: bool = True) -> np.ndarray[Any, Any]:
    """Read and decode the voxel data.

    Parameters
    ----------
    files : DataFiles
        From :func:`~mvl.metaimage.files.locate_data`.
    layout : Layout
        The storage fields.
    header_path : pathlib.Path
        Named in errors.
    mmap : bool, optional
        Memory-map uncompressed binary data in one file (copy-on-write: changes stay in
        memory).

    Returns
    -------
    ndarray
        Shape ``layout.shape`` (channels first) in Fortran order. Memory-mapped data
        keeps the file's byte order; decoded data is in the machine's.

    Raises
    ------
    FormatError
        The data is shorter or longer than declared, or corrupt.
    ResourceLimitError
        A compressed stream inflates far beyond the declared size, or the declared size
        cannot be allocated.
    """
    if len(files.paths) > 1:
        return _native(_several(files, layout, header_path)).reshape(layout.shape, order="F")
    try:
        stream = open(files.paths[0], "rb")  # noqa: SIM115 - closed below, after the decoding
    except OSError as error:
        raise InputError(f"cannot read {files.describe()} ({error.strerror or error})", path=header_path) from error
    with stream:
        size = os.fstat(stream.fileno()).st_size if files.regular[0] else None
        start = _start(files, layout, size, header_path)
        if not layout.binary:
            flat = _text(stream, start, size, files, layout, header_path)
        elif layout.compressed:
            flat = _inflate(stream, start, size, files, layout, header_path)
        else:
            return _raw(stream, start, size, files, layout, header_path, mmap)
    return _native(flat).reshape(layout.shape, order="F")


def _start(files: DataFiles, layout: Layout, size: int | None, header_path: Path) -> int:
    """Where the data starts in the (first) file."""
    if layout.header_size == -1:
        if size is None:
            raise FormatError("header field 'HeaderSize = -1' needs a regular data file", path=header_path)
        start = size - layout.nbytes
        if start < files.start:
            raise _mismatch(files, size - files.start, layout, header_path)
        return start
    if files.local and layout.header_size:
        if layout.header_size < files.start:
            raise FormatError(
                f"header field 'HeaderSize' ({layout.header_size}) puts the data inside the header, which ends at "
                f"byte {files.start}; for LOCAL data it counts from the start of the file",
                path=header_path,
            )
        return layout.header_size
    return files.start + layout.header_size


def _mismatch(files: DataFiles, found: int, layout: Layout, header_path: Path, unit: str = "bytes") -> FormatError:
    expected = layout.count if unit == "values" else layout.nbytes
    relation = "fewer" if found < expected else "more"
    return FormatError(
        f"{files.describe()} holds {found} {unit}, {relation} than the {expected} that header fields "
        f"{layout.describe()} declare",
        path=header_path,
    )


def _empty(layout: Layout, header_path: Path) -> np.ndarray[Any, Any]:
    try:
        return np.empty(layout.count, dtype=layout.dtype)
    except MemoryError:
        raise ResourceLimitError(
            f"header fields {layout.describe()} declare {layout.nbytes} bytes, more than can be allocated",
            path=header_path,
        ) from None


def _fill(stream: IO[bytes], view: memoryview) -> int:
    filled = 0
    while filled < len(view):
        read = stream.readinto(view[filled:])  # type: ignore[attr-defined]
        if not read:
            break
        filled += read
    return filled


def _raw(
    stream: IO[bytes],
    start: int,
    size: int | None,
    files: DataFiles,
    layout: Layout,
    header_path: Path,
    mmap: bool,
) -> np.ndarray[Any, Any]:
    if size is not None and size - start != layout.nbytes:
        raise _mismatch(files, max(size - start, 0), layout, header_path)
    if mmap and size is not None:
        try:
            return np.memmap(files.paths[0], dtype=layout.dtype, mode="c", offset=start, shape=layout.shape, order="F")
        except (OSError, ValueError):  # a file system without memory maps: read it instead
            pass
    array = _empty(layout, header_path)
    if size is None:  # a device or FIFO the caller allowed: skip to the data by reading
        _discard(stream, start, files, header_path)
    else:
        stream.seek(start)
    filled = _fill(stream, array.data.cast("B"))
    if filled != layout.nbytes:
        raise _mismatch(files, filled, layout, header_path)
    return _native(array).reshape(layout.shape, order="F")


def _discard(stream: IO[bytes], count: int, files: DataFiles, header_path: Path) -> None:
    while count:
        chunk = stream.read(min(count, 1 << 22))
        if not chunk:
            raise FormatError(f"header field 'HeaderSize' skips past the end of {files.describe()}", path=header_path)
        count -= len(chunk)


def _several(files: DataFiles, layout: Layout, header_path: Path) -> np.ndarray[Any, Any]:
    array = _empty(layout, header_path)
    view = array.data.cast("B")
    part = layout.nbytes // len(files.paths)
    for index, (path, regular) in enumerate(zip(files.paths, files.regular, strict=True)):
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed right below
        except OSError as error:
            raise InputError(
                f"cannot read {files.describe(index)} ({error.strerror or error})", path=header_path
            ) from error
        with stream:
            size = os.fstat(stream.fileno()).st_size if regular else None
            if layout.header_size == -1:
                if size is None or size < part:
                    raise _part_mismatch(files, index, size, part, layout, header_path)
                start = size - part
            else:
                start = layout.header_size
            if size is not None:
                if size - start != part:
                    raise _part_mismatch(files, index, size - start, part, layout, header_path)
                stream.seek(start)
            else:
                _discard(stream, start, files, header_path)
            filled = _fill(stream, view[index * part : (index + 1) * part])
            if filled != part:
                raise _part_mismatch(files, index, filled, part, layout, header_path)
    return array


def _part_mismatch(
    files: DataFiles, index: int, found: int | None, part: int, layout: Layout, header_path: Path
) -> FormatError:
    return FormatError(
        f"{files.describe(index)} holds {found} bytes of data, not the {part} of one of the {len(files.paths)} "
        f"parts that header fields {layout.describe()} declare",
        path=header_path,
    )


def _inflate(
    stream: IO[bytes], start: int, size: int | None, files: DataFiles, layout: Layout, header_path: Path
) -> np.ndarray[Any, Any]:
    available = None if size is None else size - start
    compressed = layout.compressed_size
    if available is not None:
        if compressed is not None and compressed != available:
            relation = "fewer" if available < compressed else "more"
            raise FormatError(
                f"{files.describe()} holds {available} bytes, {relation} than the {compressed} that header field "
                "'CompressedDataSize' declares",
                path=header_path,
            )
        if layout.nbytes > ZLIB_MAX_RATIO * available + _SLACK:
            raise FormatError(
                f"{files.describe()} holds {available} bytes of zlib data, which inflate to at most "
                f"{ZLIB_MAX_RATIO * available + _SLACK} bytes, but header fields {layout.describe()} declare "
                f"{layout.nbytes}",
                path=header_path,
            )
    if size is None:
        _discard(stream, start, files, header_path)
    else:
        stream.seek(start)
    errors_path = header_path if files.local else files.paths[0]
    reader = ZlibReader(stream, compressed_size=compressed, path=errors_path)
    array = _empty(layout, header_path)
    filled = reader.readinto(array)
    if filled != layout.nbytes:
        raise _mismatch(files, filled, layout, header_path, "bytes when inflated")
    extra = reader.finish(allowed_extra=EXTRA_ALLOWANCE)
    if extra:
        raise FormatError(
            f"{files.describe()} inflates to {extra} bytes more than the {layout.nbytes} that header fields "
            f"{layout.describe()} declare",
            path=header_path,
        )
    return array


def _text(
    stream: IO[bytes], start: int, size: int | None, files: DataFiles, layout: Layout, header_path: Path
) -> np.ndarray[Any, Any]:
    remaining = None if size is None else size - start
    if remaining is not None and layout.count > (remaining + 1) // 2:
        raise FormatError(
            f"{files.describe()} has {remaining} characters, too few for the {layout.count} values that header "
            f"fields {layout.describe()} declare (BinaryData = False: numbers separated by spaces)",
            path=header_path,
        )
    if size is None:
        _discard(stream, start, files, header_path)
    else:
        stream.seek(start)
    # At most 64 characters per number: longer text cannot be these values.
    blob = stream.read(layout.count * 64 + 1)
    tokens = blob.split()
    if len(tokens) != layout.count:
        raise _mismatch(files, len(tokens), layout, header_path, "values")
    try:
        return np.array(tokens, dtype=layout.dtype.newbyteorder("="))
    except (ValueError, OverflowError) as error:
        raise FormatError(
            f"{files.describe()} holds text that is not {layout.dtype.name} values ({error})", path=header_path
        ) from None


def _native(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if array.dtype.byteorder in ("=", "|", _NATIVE):
        return array
    return array.byteswap(inplace=True).view(array.dtype.newbyteorder("="))
