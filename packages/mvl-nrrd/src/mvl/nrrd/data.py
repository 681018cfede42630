"""NRRD voxel data: where it lies (attached, or a detached data file checked for safety) and its decoding.

Attached data follows the blank line after the header; a detached header names its data
file in ``data file`` (NRRD spec, section 3). Such a name is a path chosen by whoever
wrote the header, so it is checked before anything is opened: by default the data file
must lie inside the header's folder (after following symbolic links) and be a regular
file. ``data file: ../../etc/passwd``, ``data file: /dev/zero`` or a link leading out of
the folder raise :class:`~mvl.coords.SecurityError` unless the caller allows external
data files explicitly.

The data is decoded exactly as large as ``sizes`` and ``type`` declare, never more:

- ``raw``: memory-mapped (copy-on-write) where the file allows it, else read into one
  preallocated array;
- ``gzip``: inflated straight into the preallocated array through the fastest installed
  backend (:class:`~mvl.coords.compression.GzipReader`), every member's CRC-32 checked;
  a stream that would inflate to more is stopped (decompression bombs);
- ``bzip2``: the same, with the standard library's :mod:`bz2`;
- ``ascii`` and ``hex``: parsed from the file's text.

``line skip`` lines and then, for ``raw``, ``ascii`` and ``hex``, ``byte skip`` bytes
of the data file are skipped before the data; for the compressed encodings ``byte skip``
counts decompressed bytes, as in Teem and pynrrd. ``byte skip: -1`` means the data ends
the file (raw only).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Protocol

import numpy as np

from mvl.coords.compression import Bzip2Reader, GzipReader
from mvl.coords.errors import FormatError, InputError, ResourceLimitError
from mvl.coords.files import detached_file

from .header import HeaderText, Layout

__all__ = ["GZIP_MAX_RATIO", "DataSource", "locate_data", "read_data"]

#: Deflate cannot expand more than this (258 bytes from 2 bits): a bound on what a gzip
#: stream of a given length can hold, checked before anything is allocated.
GZIP_MAX_RATIO: Final = 1032
#: Bytes a compressed stream may inflate to beyond what the header declares before
#: inflating stops: within it, the mismatch is a FormatError; beyond, a ResourceLimitError.
EXTRA_ALLOWANCE: Final = 1 << 20
_STEP: Final = 1 << 22
_SLACK: Final = 1 << 16
_WHITESPACE: Final = b" \t\r\n\v\f"
_NATIVE: Final = "<" if sys.byteorder == "little" else ">"


@dataclass(frozen=True)
class DataSource:
    """The file that holds the voxel data and where in it the data region starts.

    Attributes
    ----------
    path : pathlib.Path
        The data file (the header file itself for attached data).
    offset : int
        Where the data region starts (before ``line skip`` and ``byte skip``).
    regular : bool
        A regular file: its size is known and it can be memory-mapped.
    detached : bool
        Named by ``data file``.
    """

    path: Path
    offset: int
    regular: bool
    detached: bool

    def describe(self) -> str:
        """How messages name the data."""
        return f"the data file {os.fspath(self.path)!r}" if self.detached else "the data after the header"


def locate_data(header_path: Path, text: HeaderText, layout: Layout, *, allow_external: bool = False) -> DataSource:
    """Find the data of a header, refusing data files outside the header's folder.

    Parameters
    ----------
    header_path : pathlib.Path
        The header file, as given by the caller.
    text : HeaderText
        Its fields.
    layout : Layout
        Its checked storage fields.
    allow_external : bool, optional
        Allow a ``data file`` that is an absolute path, leads outside the header's
        folder (``..``, symbolic links), or is not a regular file (a device, a FIFO).

    Returns
    -------
    DataSource

    Raises
    ------
    SecurityError
        The data file lies outside the header's folder or is not a regular file, and
        `allow_external` is False.
    InputError
        The data file does not exist or is a folder.
    FormatError
        An attached header without the blank line before its data.
    """
    if layout.data_file is None:
        if text.data_offset is None:
            raise FormatError(
                "the header names no 'data file' and no blank line ends it: there is no data; "
                "attached data follows an empty line after the header",
                path=header_path,
            )
        return DataSource(header_path, text.data_offset, True, False)
    target, regular = detached_file(header_path, layout.data_file, "data file", allow_external=allow_external)
    return DataSource(target, 0, regular, True)


def read_data(source: DataSource, layout: Layout, header_path: Path, *, mmap: bool = True) -> np.ndarray[Any, Any]:
    """Read and decode the voxel data.

    Parameters
    ----------
    source : DataSource
        From :func:`locate_data`.
    layout : Layout
        The storage fields.
    header_path : pathlib.Path
        Named in errors.
    mmap : bool, optional
        Memory-map raw data where possible (copy-on-write: changes stay in memory).

    Returns
    -------
    ndarray
        Shape ``layout.sizes`` in Fortran order: index ``[i, j, k]`` is NRRD's axis order,
        the first index fastest, as ``nrrd.read`` returns it. Memory-mapped raw data keeps
        the file's byte order; decoded data is in the machine's.

    Raises
    ------
    FormatError
        The data is shorter or longer than declared, or corrupt.
    ResourceLimitError
        A compressed stream inflates far beyond the declared size, or the declared size
        cannot be allocated.
    """
    try:
        stream = open(source.path, "rb")  # noqa: SIM115 - closed below, after the decoding
    except OSError as error:
        raise InputError(f"cannot read {source.describe()} ({error.strerror or error})", path=header_path) from error
    with stream:
        if source.offset:
            stream.seek(source.offset)
        position = _skip_lines(stream, layout.line_skip, source, header_path) if layout.line_skip else source.offset
        size = os.fstat(stream.fileno()).st_size if source.regular else None
        if layout.encoding == "raw":
            return _raw(stream, position, size, source, layout, header_path, mmap)
        if layout.encoding in ("gzip", "bzip2"):
            flat = _inflate(stream, position, size, source, layout, header_path)
        else:
            if layout.byte_skip:
                _discard(stream, layout.byte_skip, source, header_path)
            remaining = None if size is None else size - position - layout.byte_skip
            decode = _ascii if layout.encoding == "ascii" else _hex
            flat = decode(stream, remaining, source, layout, header_path)
    return _native(flat).reshape(layout.sizes, order="F")


def _mismatch(source: DataSource, found: int, layout: Layout, header_path: Path, unit: str = "bytes") -> FormatError:
    expected = layout.count if unit == "values" else layout.nbytes
    relation = "fewer" if found < expected else "more"
    return FormatError(
        f"{source.describe()} holds {found} {unit}, {relation} than the {expected} that header fields "
        f"'sizes' {list(layout.sizes)} and 'type' ({layout.dtype.name}) declare",
        path=header_path,
    )


def _empty(layout: Layout, header_path: Path) -> np.ndarray[Any, Any]:
    try:
        return np.empty(layout.count, dtype=layout.dtype)
    except MemoryError:
        raise ResourceLimitError(
            f"header field 'sizes' {list(layout.sizes)} declares {layout.nbytes} bytes, more than can be allocated",
            path=header_path,
        ) from None


def _skip_lines(stream: IO[bytes], lines: int, source: DataSource, header_path: Path) -> int:
    """Skip `lines` newlines; return the position after them."""
    if not source.regular:
        raise FormatError(
            "header field 'line skip' is not supported for data that is not a regular file", path=header_path
        )
    position = source.offset
    while lines:
        chunk = stream.read(_STEP)
        if not chunk:
            raise FormatError(
                f"header field 'line skip' skips more lines than {source.describe()} holds", path=header_path
            )
        found = chunk.count(b"\n")
        if found < lines:
            lines -= found
            position += len(chunk)
            continue
        end = -1
        for _ in range(lines):
            end = chunk.index(b"\n", end + 1)
        position += end + 1
        lines = 0
    stream.seek(position)
    return position


def _discard(stream: IO[bytes], count: int, source: DataSource, header_path: Path) -> None:
    while count:
        chunk = stream.read(min(count, _STEP))
        if not chunk:
            raise FormatError(f"header field 'byte skip' skips past the end of {source.describe()}", path=header_path)
        count -= len(chunk)


def _fill(stream: IO[bytes], array: np.ndarray[Any, Any]) -> int:
    view = array.data.cast("B")
    filled = 0
    while filled < len(view):
        read = stream.readinto(view[filled:])  # type: ignore[attr-defined]
        if not read:
            break
        filled += read
    return filled


def _raw(
    stream: IO[bytes],
    position: int,
    size: int | None,
    source: DataSource,
    layout: Layout,
    header_path: Path,
    mmap: bool,
) -> np.ndarray[Any, Any]:
    if size is None:  # a device or FIFO the caller allowed: read exactly what is declared
        if layout.byte_skip:
            _discard(stream, layout.byte_skip, source, header_path)
        array = _empty(layout, header_path)
        filled = _fill(stream, array)
        if filled != layout.nbytes:
            raise _mismatch(source, filled, layout, header_path)
        return _native(array).reshape(layout.sizes, order="F")
    if layout.byte_skip == -1:
        start = size - layout.nbytes
        if start < position:
            raise _mismatch(source, size - position, layout, header_path)
    else:
        start = position + layout.byte_skip
    if size - start != layout.nbytes:
        raise _mismatch(source, max(size - start, 0), layout, header_path)
    if mmap:
        try:
            return np.memmap(source.path, dtype=layout.dtype, mode="c", offset=start, shape=layout.sizes, order="F")
        except (OSError, ValueError):  # a file system without memory maps: read it instead
            pass
    array = _empty(layout, header_path)
    stream.seek(start)
    filled = _fill(stream, array)
    if filled != layout.nbytes:
        raise _mismatch(source, filled, layout, header_path)
    return _native(array).reshape(layout.sizes, order="F")


def _native(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    if array.dtype.byteorder in ("=", "|", _NATIVE):
        return array
    return array.byteswap(inplace=True).view(array.dtype.newbyteorder("="))


class _Decompressor(Protocol):
    def readinto(self, buffer: Any) -> int: ...

    def read(self, size: int) -> bytes: ...

    def finish(self, *, allowed_extra: int = 0) -> int: ...


def _inflate(
    stream: IO[bytes], position: int, size: int | None, source: DataSource, layout: Layout, header_path: Path
) -> np.ndarray[Any, Any]:
    declared = layout.byte_skip + layout.nbytes
    errors_path = source.path if source.detached else header_path
    reader: _Decompressor
    if layout.encoding == "gzip":
        if size is not None and declared > GZIP_MAX_RATIO * (size - position) + _SLACK:
            raise FormatError(
                f"{source.describe()} holds {size - position} bytes of gzip data, which inflate to at most "
                f"{GZIP_MAX_RATIO * (size - position) + _SLACK} bytes, but header fields 'sizes' "
                f"{list(layout.sizes)} and 'type' ({layout.dtype.name}) declare {layout.nbytes}",
                path=header_path,
            )
        reader = GzipReader(stream, path=errors_path)
    else:
        reader = Bzip2Reader(stream, path=errors_path)
    skip = layout.byte_skip
    while skip:
        chunk = reader.read(min(skip, _STEP))
        if not chunk:
            raise FormatError(
                f"header field 'byte skip' skips past the end of the decompressed {source.describe()}",
                path=header_path,
            )
        skip -= len(chunk)
    array = _empty(layout, header_path)
    filled = reader.readinto(array)
    if filled != layout.nbytes:
        raise _mismatch(source, filled, layout, header_path, "bytes when decompressed")
    extra = reader.finish(allowed_extra=EXTRA_ALLOWANCE)
    if extra:
        raise FormatError(
            f"{source.describe()} decompresses to {extra} bytes more than the {layout.nbytes} that header fields "
            f"'sizes' {list(layout.sizes)} and 'type' ({layout.dtype.name}) declare",
            path=header_path,
        )
    return array


def _ascii(
    stream: IO[bytes], remaining: int | None, source: DataSource, layout: Layout, header_path: Path
) -> np.ndarray[Any, Any]:
    if remaining is not None and layout.count > (remaining + 1) // 2:
        raise FormatError(
            f"{source.describe()} has {remaining} characters, too few for the {layout.count} values that header "
            f"field 'sizes' {list(layout.sizes)} declares",
            path=header_path,
        )
    bound = 64 * layout.count + _SLACK  # a device the caller allowed: read no further than this
    text = stream.read(bound if remaining is None else -1)
    tokens = text.replace(b",", b" ").split()
    if len(tokens) != layout.count:
        raise _mismatch(source, len(tokens), layout, header_path, "values")
    kind = layout.dtype.kind
    wide = np.dtype(np.float64 if kind == "f" else np.uint64 if kind == "u" else np.int64)
    try:
        values = np.array(tokens).astype(wide)
    except (ValueError, OverflowError) as error:
        raise FormatError(f"{source.describe()} is not {layout.dtype.name} text ({error})", path=header_path) from None
    target = layout.dtype.newbyteorder("=")
    if kind in "iu":
        limits = np.iinfo(target)
        if values.size and (values.min() < limits.min or values.max() > limits.max):
            raise FormatError(
                f"{source.describe()} holds values outside the range of header field 'type' ({target.name})",
                path=header_path,
            )
    return values.astype(target)


def _hex(
    stream: IO[bytes], remaining: int | None, source: DataSource, layout: Layout, header_path: Path
) -> np.ndarray[Any, Any]:
    if remaining is not None and remaining < 2 * layout.nbytes:
        raise _mismatch(source, remaining // 2, layout, header_path)
    text = stream.read(4 * layout.nbytes + _SLACK if remaining is None else -1)
    digits = text.translate(None, _WHITESPACE)
    try:
        decoded = bytearray.fromhex(digits.decode("ascii"))
    except (ValueError, UnicodeDecodeError) as error:
        raise FormatError(f"{source.describe()} is not hex text ({error})", path=header_path) from None
    if len(decoded) != layout.nbytes:
        raise _mismatch(source, len(decoded), layout, header_path)
    return np.frombuffer(decoded, dtype=layout.dtype)
