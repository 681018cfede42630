"""MetaImage header text: ``Key = Value`` lines up to ``ElementDataFile``, and the storage fields.

A MetaImage header (ITK's MetaIO) is plain text, one field per line, ``Key = Value``
(MetaIO also accepts ``Key: Value``). The field ``ElementDataFile`` comes last: for
``ElementDataFile = LOCAL`` (a ``.mha`` file) the data starts right after its line;
for ``ElementDataFile = LIST`` the names of the data files follow it, one per line.
Field names are case-sensitive, as in MetaIO; fields we do not know are kept as they
are (:attr:`HeaderText.fields`) and written again on a save.

The storage fields (:class:`Layout`): ``NDims``, ``DimSize``, ``ElementType`` (the
``MET_*`` scalar types, :data:`ELEMENT_TYPES`), ``ElementNumberOfChannels``,
``BinaryData``, ``BinaryDataByteOrderMSB`` / ``ElementByteOrderMSB``,
``CompressedData``, ``CompressedDataSize``, ``HeaderSize`` and ``ElementDataFile``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import IO, Any, Final

import numpy as np

from mvl.coords.errors import FormatError, ResourceLimitError, UnsupportedFormatError

__all__ = [
    "ELEMENT_TYPES",
    "MAX_DIMENSION",
    "MAX_HEADER_BYTES",
    "HeaderText",
    "Layout",
    "parse_bool",
    "parse_numbers",
    "read_header_text",
    "read_layout",
]

#: A header longer than this is refused: ITK's headers are a few hundred bytes.
MAX_HEADER_BYTES: Final = 1 << 20
#: More axes than this are refused (MetaIO itself stops at 10).
MAX_DIMENSION: Final = 16
#: Refused before anything is allocated: more data than any file system holds.
MAX_DATA_BYTES: Final = 1 << 62

#: MetaIO's scalar element types (``metaTypes.h``) and their numpy type codes. The
#: ``*_ARRAY`` forms are the same scalars, as ITK reads them; ``MET_LONG`` and
#: ``MET_ULONG`` are 4 bytes in MetaIO on every platform.
ELEMENT_TYPES: Final[dict[str, str]] = {
    **dict.fromkeys(("MET_CHAR", "MET_ASCII_CHAR", "MET_CHAR_ARRAY"), "i1"),
    **dict.fromkeys(("MET_UCHAR", "MET_UCHAR_ARRAY"), "u1"),
    **dict.fromkeys(("MET_SHORT", "MET_SHORT_ARRAY"), "i2"),
    **dict.fromkeys(("MET_USHORT", "MET_USHORT_ARRAY"), "u2"),
    **dict.fromkeys(("MET_INT", "MET_INT_ARRAY", "MET_LONG", "MET_LONG_ARRAY"), "i4"),
    **dict.fromkeys(("MET_UINT", "MET_UINT_ARRAY", "MET_ULONG", "MET_ULONG_ARRAY"), "u4"),
    **dict.fromkeys(("MET_LONG_LONG", "MET_LONG_LONG_ARRAY"), "i8"),
    **dict.fromkeys(("MET_ULONG_LONG", "MET_ULONG_LONG_ARRAY"), "u8"),
    **dict.fromkeys(("MET_FLOAT", "MET_FLOAT_ARRAY"), "f4"),
    **dict.fromkeys(("MET_DOUBLE", "MET_DOUBLE_ARRAY"), "f8"),
}

_CHUNK: Final = 1 << 16
_TRUE: Final = frozenset({"true", "t", "1", "yes"})
_FALSE: Final = frozenset({"false", "f", "0", "no"})
_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class HeaderText:
    """The fields of a header, as written.

    Attributes
    ----------
    fields : dict of str to str
        Field name to its value text (stripped), in file order; ``ElementDataFile`` last.
    data_offset : int
        The byte offset just after the ``ElementDataFile`` line: where ``LOCAL`` data
        starts, and where the file names of ``LIST`` start.
    """

    fields: dict[str, str]
    data_offset: int

    def get(self, *names: str) -> str | None:
        """The value of the first of `names` present (a field and its synonyms)."""
        for name in names:
            if name in self.fields:
                return self.fields[name]
        return None

    def given(self, *names: str) -> list[str]:
        """Which of `names` are present, in the order asked."""
        return [name for name in names if name in self.fields]


def read_header_text(stream: IO[bytes], path: str | os.PathLike[str]) -> HeaderText:
    """Read the header at the start of `stream`, up to and including the ``ElementDataFile`` line.

    Parameters
    ----------
    stream : binary file object
        Positioned at the start of the file.
    path : str or os.PathLike
        Named in errors.

    Returns
    -------
    HeaderText

    Raises
    ------
    UnsupportedFormatError
        If the first line is not a ``Key = Value`` line: not a MetaImage header.
    FormatError
        If a later line is not a field, a field appears twice, or no ``ElementDataFile``
        line ends the header within :data:`MAX_HEADER_BYTES`.

    Examples
    --------
    >>> import io
    >>> text = read_header_text(io.BytesIO(b"NDims = 3\\nMyKey: a b\\nElementDataFile = LOCAL\\n\\x00\\x01"), "x.mha")
    >>> text.fields, text.data_offset
    ({'NDims': '3', 'MyKey': 'a b', 'ElementDataFile': 'LOCAL'}, 45)
    """
    fields: dict[str, str] = {}
    buffer = b""
    offset = 0  # of buffer[0] in the file
    number = 0
    while True:
        end = buffer.find(b"\n")
        newline = end >= 0
        if not newline:
            if offset + len(buffer) > MAX_HEADER_BYTES:
                raise FormatError(
                    f"no 'ElementDataFile' line ends the header within its first {MAX_HEADER_BYTES} bytes; "
                    "a MetaImage header ends with the line that names its data",
                    path=path,
                )
            chunk = stream.read(_CHUNK)
            if chunk:
                buffer += chunk
                continue
            if not buffer.strip():
                if not fields:
                    raise UnsupportedFormatError("not a MetaImage file: it holds no header lines", path=path)
                raise FormatError(
                    "the header ends without an 'ElementDataFile' line, which names the data "
                    "(LOCAL for data after the header)",
                    path=path,
                )
            end = len(buffer)  # a last line without a newline
        raw, buffer = buffer[:end], buffer[end + 1 :]
        offset += end + 1 if newline else end
        number += 1
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        name, value = _field(line)
        if name is None:
            if not fields:
                raise UnsupportedFormatError(
                    f"not a MetaImage file: its first line is {line[:60]!r}, a MetaImage header starts with "
                    "'Key = Value' lines such as 'ObjectType = Image' or 'NDims = 3'",
                    path=path,
                )
            raise FormatError(f"header line {number} ({line[:80]!r}) is not a 'Key = Value' line", path=path)
        if name in fields:
            raise FormatError(f"header field {name!r} appears twice (the second time on line {number})", path=path)
        fields[name] = value
        if name == "ElementDataFile":
            return HeaderText(fields, offset)


def _field(line: str) -> tuple[str | None, str]:
    """Split ``Key = Value`` (or ``Key: Value``) at the first separator."""
    positions = [position for position in (line.find("="), line.find(":")) if position > 0]
    if not positions:
        return None, ""
    split = min(positions)
    name = line[:split].strip()
    if not _KEY.fullmatch(name):
        return None, ""
    return name, line[split + 1 :].strip()


def parse_bool(text: HeaderText, names: tuple[str, ...], default: bool, path: str | os.PathLike[str]) -> bool:
    """The value of a boolean field (``True``/``False``, also ``T``/``F``, ``1``/``0``)."""
    value = text.get(*names)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    name = next(name for name in names if name in text.fields)
    raise FormatError(f"header field {name!r} must be True or False, got {value!r}", path=path)


def parse_numbers(
    value: str, name: str, count: int | None, path: str | os.PathLike[str], *, integer: bool = False
) -> list[Any]:
    """Parse the whitespace-separated numbers of field `name`, `count` of them if given."""
    tokens = value.split()
    if count is not None and len(tokens) != count:
        raise FormatError(
            f"header field {name!r} must hold {count} numbers (one per axis, as NDims says), got {value[:200]!r}",
            path=path,
        )
    convert = int if integer else float
    try:
        return [convert(token) for token in tokens]
    except ValueError:
        kind = "integers" if integer else "numbers"
        bad = next(token for token in tokens if not _converts(convert, token))
        raise FormatError(f"header field {name!r} must hold {kind}, got {bad!r}", path=path) from None


def _converts(convert: Any, token: str) -> bool:
    try:
        convert(token)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Layout:
    """How the voxels are stored: the checked values of the storage fields.

    Attributes
    ----------
    dims : tuple of int
        ``DimSize``: the length of each axis, fastest first.
    channels : int
        ``ElementNumberOfChannels``: values per voxel, stored next to each other.
    dtype : numpy.dtype
        ``ElementType``, in the byte order of the file.
    binary : bool
        ``BinaryData``; False for whitespace-separated text.
    compressed : bool
        ``CompressedData``: one zlib stream.
    compressed_size : int or None
        ``CompressedDataSize``, if given.
    header_size : int
        ``HeaderSize``: bytes to skip at the start of each data file (for ``LOCAL``,
        from the start of the file); -1 means the data ends the file; 0 if not given.
    data_file : str
        ``ElementDataFile`` as written.
    """

    dims: tuple[int, ...]
    channels: int
    dtype: np.dtype[Any]
    binary: bool
    compressed: bool
    compressed_size: int | None
    header_size: int
    data_file: str

    @property
    def count(self) -> int:
        """int: The number of values (all axes and channels)."""
        return math.prod(self.dims) * self.channels

    @property
    def nbytes(self) -> int:
        """int: The number of bytes of the data, uncompressed."""
        return self.count * self.dtype.itemsize

    @property
    def shape(self) -> tuple[int, ...]:
        """tuple of int: The shape of the data in file order (Fortran): channels, then ``DimSize``."""
        return (self.channels, *self.dims)

    def describe(self) -> str:
        """The fields that set the data size, for messages."""
        channels = f", 'ElementNumberOfChannels' {self.channels}" if self.channels != 1 else ""
        return f"'DimSize' {list(self.dims)}{channels} and 'ElementType' ({self.dtype.name})"


def read_layout(text: HeaderText, path: str | os.PathLike[str]) -> Layout:
    """Check the storage fields of a header and return them.

    Parameters
    ----------
    text : HeaderText
    path : str or os.PathLike
        Named in errors.

    Returns
    -------
    Layout

    Raises
    ------
    UnsupportedFormatError
        ``ObjectType`` other than ``Image`` (a MetaIO spatial object), or an element
        type that is not a number (``MET_STRING``, matrices).
    FormatError
        A required field missing or malformed, or fields that disagree.
    ResourceLimitError
        More than :data:`MAX_DIMENSION` axes, or more data than any disk holds.

    Examples
    --------
    >>> import io
    >>> blob = b"NDims = 3\\nDimSize = 2 3 4\\nElementType = MET_SHORT\\nElementByteOrderMSB = True\\n"
    >>> blob += b"ElementDataFile = x.raw\\n"
    >>> layout = read_layout(read_header_text(io.BytesIO(blob), "x.mhd"), "x.mhd")
    >>> layout.dtype.str, layout.dims, layout.nbytes, layout.data_file
    ('>i2', (2, 3, 4), 48, 'x.raw')
    """
    fields = text.fields
    object_type = fields.get("ObjectType")
    if object_type is not None and object_type.lower() != "image":
        raise UnsupportedFormatError(
            f"header field 'ObjectType' is {object_type!r}: a MetaIO object that is not an image; "
            "only 'ObjectType = Image' is read",
            path=path,
        )
    for name in ("NDims", "DimSize", "ElementType"):
        if name not in fields:
            raise FormatError(f"header field {name!r} is missing; every MetaImage header needs it", path=path)
    (ndims,) = parse_numbers(fields["NDims"], "NDims", 1, path, integer=True)
    if ndims < 1:
        raise FormatError(f"header field 'NDims' must be at least 1, got {ndims}", path=path)
    if ndims > MAX_DIMENSION:
        raise ResourceLimitError(f"header field 'NDims' is {ndims}; at most {MAX_DIMENSION} axes are read", path=path)
    dims = tuple(parse_numbers(fields["DimSize"], "DimSize", ndims, path, integer=True))
    if any(size < 1 for size in dims):
        raise FormatError(f"header field 'DimSize' must be positive integers, got {fields['DimSize']!r}", path=path)
    channels_text = fields.get("ElementNumberOfChannels", "1")
    (channels,) = parse_numbers(channels_text, "ElementNumberOfChannels", 1, path, integer=True)
    if channels < 1:
        raise FormatError(f"header field 'ElementNumberOfChannels' must be at least 1, got {channels}", path=path)
    type_name = fields["ElementType"]
    if type_name not in ELEMENT_TYPES:
        if type_name.upper().startswith("MET_"):
            raise UnsupportedFormatError(
                f"header field 'ElementType' is {type_name!r}, which is not a number type; the MET_ scalar types "
                "are read (MET_CHAR, MET_UCHAR, MET_SHORT, MET_USHORT, MET_INT, MET_UINT, MET_LONG, MET_ULONG, "
                "MET_LONG_LONG, MET_ULONG_LONG, MET_FLOAT, MET_DOUBLE)",
                path=path,
            )
        raise FormatError(f"header field 'ElementType' is {type_name!r}, not a MetaIO type (MET_...)", path=path)
    big_endian = parse_bool(text, ("BinaryDataByteOrderMSB", "ElementByteOrderMSB"), False, path)
    if {"BinaryDataByteOrderMSB", "ElementByteOrderMSB"} <= fields.keys():
        other = parse_bool(text, ("ElementByteOrderMSB",), False, path)
        if other != big_endian:
            raise FormatError(
                "header fields 'BinaryDataByteOrderMSB' and 'ElementByteOrderMSB' disagree on the byte order",
                path=path,
            )
    dtype = np.dtype(ELEMENT_TYPES[type_name]).newbyteorder(">" if big_endian else "<")
    binary = parse_bool(text, ("BinaryData",), True, path)
    compressed = parse_bool(text, ("CompressedData",), False, path)
    if compressed and not binary:
        raise FormatError("header fields 'CompressedData = True' and 'BinaryData = False' contradict", path=path)
    compressed_size = None
    if compressed and "CompressedDataSize" in fields:
        (compressed_size,) = parse_numbers(fields["CompressedDataSize"], "CompressedDataSize", 1, path, integer=True)
        if compressed_size < 1:
            raise FormatError(f"header field 'CompressedDataSize' must be positive, got {compressed_size}", path=path)
    header_size = 0
    if "HeaderSize" in fields:
        (header_size,) = parse_numbers(fields["HeaderSize"], "HeaderSize", 1, path, integer=True)
        if header_size < -1:
            raise FormatError(f"header field 'HeaderSize' must be -1 or more, got {header_size}", path=path)
        if header_size == -1 and (compressed or not binary):
            raise FormatError(
                "header field 'HeaderSize' is -1 (data at the end of the file), which needs uncompressed binary data",
                path=path,
            )
    data_file = fields.get("ElementDataFile", "")
    if not data_file:
        raise FormatError("header field 'ElementDataFile' is empty; it names the data (LOCAL, a file)", path=path)
    layout = Layout(dims, channels, dtype, binary, compressed, compressed_size, header_size, data_file)
    if layout.nbytes > MAX_DATA_BYTES:
        raise ResourceLimitError(f"header fields {layout.describe()} declare an absurd amount of data", path=path)
    return layout
