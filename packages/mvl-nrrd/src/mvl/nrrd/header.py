"""NRRD headers: read within a bound, split into fields, checked, and parsed by pynrrd.

An NRRD header is a magic line (``NRRD0001`` to ``NRRD0005``), then one ``field: value``
or ``key:=value`` line each, ``#`` comments anywhere, and a blank line before attached
data (NRRD spec, section 1.2). A detached header (``.nhdr``) may end at the end of its
file instead. :func:`read_header_text` reads at most :data:`MAX_HEADER_BYTES` to find the
end, so a multi-gigabyte file without a blank line costs one mebibyte, not its size.

:func:`read_layout` checks the fields that say how the voxels are stored (``dimension``,
``type``, ``sizes``, ``endian``, ``encoding``, ``line skip``, ``byte skip``, ``data
file``) from their raw text, with errors that name the field; :func:`pynrrd_header`
builds the dictionary that ``nrrd.read_header`` would return, for callers who know
pynrrd's form.
"""

from __future__ import annotations

import math
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import IO, Any, Final

import numpy as np

from mvl.coords.errors import FormatError, ResourceLimitError, UnsupportedFormatError

__all__ = [
    "ENCODINGS",
    "FIELDS",
    "MAX_DIMENSION",
    "MAX_HEADER_BYTES",
    "TYPES",
    "HeaderText",
    "Layout",
    "pynrrd_header",
    "read_header_text",
    "read_layout",
]

#: The most header bytes read while looking for the blank line that ends a header.
MAX_HEADER_BYTES: Final = 1 << 20
#: The most axes an NRRD array may have (Teem's ``NRRD_DIM_MAX``).
MAX_DIMENSION: Final = 16

#: NRRD ``type`` values (NRRD spec, section 5) and the numpy type of each.
TYPES: Final[dict[str, str]] = {
    **dict.fromkeys(("signed char", "int8", "int8_t"), "i1"),
    **dict.fromkeys(("uchar", "unsigned char", "uint8", "uint8_t"), "u1"),
    **dict.fromkeys(("short", "short int", "signed short", "signed short int", "int16", "int16_t"), "i2"),
    **dict.fromkeys(("ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"), "u2"),
    **dict.fromkeys(("int", "signed int", "int32", "int32_t"), "i4"),
    **dict.fromkeys(("uint", "unsigned int", "uint32", "uint32_t"), "u4"),
    **dict.fromkeys(
        ("longlong", "long long", "long long int", "signed long long", "signed long long int", "int64", "int64_t"),
        "i8",
    ),
    **dict.fromkeys(
        ("ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t"),
        "u8",
    ),
    "float": "f4",
    "double": "f8",
}

#: NRRD ``encoding`` values and the name each is handled under.
ENCODINGS: Final[dict[str, str]] = {
    "raw": "raw",
    "txt": "ascii",
    "text": "ascii",
    "ascii": "ascii",
    "hex": "hex",
    "gz": "gzip",
    "gzip": "gzip",
    "bz2": "bzip2",
    "bzip2": "bzip2",
}

#: The field names of the NRRD spec (section 5 and 6, with their old spellings); any other
#: name in a header is a key of a ``key:=value`` pair.
FIELDS: Final = frozenset(
    {
        "dimension",
        "type",
        "block size",
        "blocksize",
        "encoding",
        "endian",
        "content",
        "min",
        "max",
        "old min",
        "oldmin",
        "old max",
        "oldmax",
        "data file",
        "datafile",
        "line skip",
        "lineskip",
        "byte skip",
        "byteskip",
        "number",
        "sample units",
        "sampleunits",
        "sizes",
        "spacings",
        "thicknesses",
        "axis mins",
        "axismins",
        "axis maxs",
        "axismaxs",
        "centers",
        "centerings",
        "labels",
        "units",
        "kinds",
        "space",
        "space dimension",
        "space units",
        "space origin",
        "space directions",
        "measurement frame",
    }
)

_MAGIC = re.compile(r"NRRD000[1-5]")
_CHUNK = 1 << 16
# The end of a header: a line holding nothing but (optional) spaces before its newline.
_BLANK_LINE = re.compile(rb"\n[ \t\r]*\n")
# Fields whose values are vectors: pynrrd's parsers do not allow spaces inside "( , , )".
_VECTOR_FIELDS: Final = frozenset({"space directions", "space origin", "measurement frame"})
_INSIDE_PARENTHESES = re.compile(r"\(([^)]*)\)")


@dataclass(frozen=True)
class HeaderText:
    """The text of a header, split into fields.

    Attributes
    ----------
    magic : str
        The first line, e.g. ``"NRRD0004"``.
    lines : tuple of str
        The field lines in file order, without comments and trailing whitespace.
    fields : dict of str to str
        Field or key name to its raw value text, in file order.
    data_offset : int or None
        The byte offset just after the blank line that ends the header, where attached
        data starts; None if the header ends at the end of the file.
    """

    magic: str
    lines: tuple[str, ...]
    fields: dict[str, str]
    data_offset: int | None

    def get(self, *names: str) -> str | None:
        """The raw value of the first of `names` present (a field and its old spelling)."""
        for name in names:
            if name in self.fields:
                return self.fields[name]
        return None


def read_header_text(stream: IO[bytes], path: str | os.PathLike[str]) -> HeaderText:
    """Read and split the header at the start of `stream`.

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
        If the file does not start with an NRRD magic of a version we read.
    FormatError
        If a line is not a field, a field appears twice, or no blank line ends the
        header within :data:`MAX_HEADER_BYTES` while data follows.

    Examples
    --------
    >>> import io
    >>> text = read_header_text(io.BytesIO(b"NRRD0004\\n# hi\\ntype: short\\nmy key:=a b\\n\\ndata"), "x.nrrd")
    >>> text.fields, text.data_offset
    ({'type': 'short', 'my key': 'a b'}, 39)
    """
    head = bytearray()
    end: re.Match[bytes] | None = None
    at_end_of_file = False
    while end is None and len(head) <= MAX_HEADER_BYTES:
        chunk = stream.read(_CHUNK)
        if not chunk:
            at_end_of_file = True
            break
        start = max(0, len(head) - 8)
        head += chunk
        if len(head) >= 8 and not head.startswith(b"NRRD"):
            break  # not NRRD: say so below without reading on
        end = _BLANK_LINE.search(head, start)
    magic_line = bytes(head[: head.find(b"\n")] if b"\n" in head else head[:16]).rstrip(b"\r")
    magic = magic_line.decode("ascii", "replace")
    if not _MAGIC.fullmatch(magic):
        if magic.startswith("NRRD"):
            raise UnsupportedFormatError(
                f"NRRD magic {magic!r} is not one we read: NRRD0001 to NRRD0005 are supported", path=path
            )
        raise UnsupportedFormatError(
            f"not an NRRD file: it starts with {bytes(head[:8])!r}, an NRRD file with 'NRRD000'", path=path
        )
    if end is not None:
        text_bytes, data_offset = bytes(head[: end.start() + 1]), end.end()
    elif at_end_of_file:
        text_bytes, data_offset = bytes(head), None
    else:
        raise FormatError(
            f"no blank line ends the header within its first {MAX_HEADER_BYTES} bytes; "
            "an NRRD header is followed by an empty line before the data",
            path=path,
        )
    return _split(text_bytes.decode("utf-8", "replace"), magic, data_offset, path)


def _split(text: str, magic: str, data_offset: int | None, path: str | os.PathLike[str]) -> HeaderText:
    fields: dict[str, str] = {}
    lines: list[str] = []
    for number, line in enumerate(text.split("\n")[1:], start=2):
        line = line.rstrip()
        if not line or line.startswith("#"):
            continue
        name, value = _field(line)
        if not name:
            raise FormatError(
                f"header line {number} ({line[:80]!r}) is not a 'field: value' or 'key:=value' line", path=path
            )
        if name in fields:
            raise FormatError(f"header field {name!r} appears twice; the NRRD spec allows each once", path=path)
        fields[name] = value
        lines.append(line)
    return HeaderText(magic, tuple(lines), fields, data_offset)


def _field(line: str) -> tuple[str, str]:
    """Split a line as Teem does: a spec field ``name: value``, else a ``key:=value`` pair."""
    name, colon, value = line.partition(":")
    if colon and name.strip() in FIELDS and not value.startswith("="):
        return name.strip(), value.strip()
    key, separator, rest = line.partition(":=")
    if separator:
        return key.strip(), rest.strip()
    return (name.strip(), value.strip()) if colon else ("", "")


def pynrrd_header(text: HeaderText, path: str | os.PathLike[str]) -> OrderedDict[str, Any]:
    """Return the header as ``nrrd.read_header`` parses it (pynrrd's types and settings).

    Each line is parsed on its own, so that an error names the field.

    Parameters
    ----------
    text : HeaderText
    path : str or os.PathLike
        Named in errors.

    Returns
    -------
    collections.OrderedDict
        Field names to values, as pynrrd returns them (``sizes`` an int array,
        ``space directions`` a matrix with NaN rows for ``none`` by default, ...).

    Raises
    ------
    FormatError
        If pynrrd cannot parse a field; the message names it.
    """
    import nrrd  # pynrrd

    header: OrderedDict[str, Any] = OrderedDict()
    for line, (name, value) in zip(text.lines, text.fields.items(), strict=True):
        if name not in FIELDS:  # a key:=value pair: pynrrd keeps it as a string (and cuts keys at a ':')
            header[name] = value
            continue
        if name in _VECTOR_FIELDS:
            line = f"{name}: {_INSIDE_PARENTHESES.sub(lambda match: '(' + ''.join(match[1].split()) + ')', value)}"
        try:
            header.update(nrrd.read_header([text.magic, line]))
        except Exception as error:  # pynrrd raises NRRDError, ValueError, IndexError, ...
            raise FormatError(f"header field {name!r} is malformed ({error}): {value[:200]!r}", path=path) from error
    return header


@dataclass(frozen=True)
class Layout:
    """How the voxels are stored: the checked values of the storage fields.

    Attributes
    ----------
    dtype : numpy.dtype
        Voxel type, with the byte order of the file for binary encodings.
    sizes : tuple of int
        ``sizes``: the length of each axis, fastest first.
    encoding : str
        ``"raw"``, ``"ascii"``, ``"hex"``, ``"gzip"`` or ``"bzip2"``.
    line_skip, byte_skip : int
        ``line skip`` and ``byte skip``; ``byte_skip == -1`` means the data ends the file.
    data_file : str or None
        ``data file`` of a detached header, None for attached data.
    """

    dtype: np.dtype[Any]
    sizes: tuple[int, ...]
    encoding: str
    line_skip: int
    byte_skip: int
    data_file: str | None

    @property
    def count(self) -> int:
        """int: The number of values (product of the sizes)."""
        return math.prod(self.sizes)

    @property
    def nbytes(self) -> int:
        """int: The number of bytes of the decoded data."""
        return self.count * self.dtype.itemsize


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
    FormatError
        A required field is missing or malformed, or fields disagree (``dimension``
        and ``sizes``, a multi-byte ``type`` without ``endian``).
    UnsupportedFormatError
        ``type: block``, or a ``data file`` spread over several files.
    ResourceLimitError
        More than :data:`MAX_DIMENSION` axes, or more than 2**62 bytes of data.

    Examples
    --------
    >>> import io
    >>> blob = b"NRRD0005\\ntype: short\\ndimension: 3\\nsizes: 2 3 4\\nendian: big\\nencoding: gzip\\n"
    >>> layout = read_layout(read_header_text(io.BytesIO(blob), "x.nhdr"), "x.nhdr")
    >>> layout.dtype.str, layout.sizes, layout.encoding, layout.nbytes
    ('>i2', (2, 3, 4), 'gzip', 48)
    """
    fields = text.fields
    for name in ("dimension", "type", "encoding", "sizes"):
        if name not in fields:
            raise FormatError(f"header field {name!r} is missing; every NRRD header needs it", path=path)
    dimension = _integer(fields["dimension"], "dimension", path)
    if dimension < 1:
        raise FormatError(f"header field 'dimension' must be at least 1, got {dimension}", path=path)
    if dimension > MAX_DIMENSION:
        raise ResourceLimitError(
            f"header field 'dimension' is {dimension}; NRRD allows at most {MAX_DIMENSION} axes", path=path
        )
    sizes = tuple(_integer(token, "sizes", path) for token in fields["sizes"].split())
    if len(sizes) != dimension:
        raise FormatError(
            f"header field 'sizes' lists {len(sizes)} axes but 'dimension' is {dimension}: {fields['sizes']!r}",
            path=path,
        )
    if any(size < 1 for size in sizes):
        raise FormatError(f"header field 'sizes' must be positive integers, got {fields['sizes']!r}", path=path)
    type_name = " ".join(fields["type"].lower().split())
    if type_name == "block":
        raise UnsupportedFormatError("header field 'type' is 'block' (opaque blocks); only numbers are read", path=path)
    if type_name not in TYPES:
        raise FormatError(
            f"header field 'type' is {fields['type']!r}, not an NRRD type "
            "(int8, uint8, int16, uint16, int32, uint32, int64, uint64, float, double, or their C names)",
            path=path,
        )
    encoding = ENCODINGS.get(fields["encoding"].lower())
    if encoding is None:
        raise FormatError(
            f"header field 'encoding' is {fields['encoding']!r}, not an NRRD encoding "
            "(raw, ascii/text/txt, hex, gzip/gz, bzip2/bz2)",
            path=path,
        )
    dtype = np.dtype(TYPES[type_name])
    endian = text.get("endian")
    if dtype.itemsize > 1 and encoding != "ascii":
        if endian is None:
            raise FormatError(
                f"header field 'endian' is missing; {fields['type']!r} data in {encoding} encoding needs it "
                "(little or big)",
                path=path,
            )
        if endian.lower() not in ("little", "big"):
            raise FormatError(f"header field 'endian' must be 'little' or 'big', got {endian!r}", path=path)
        dtype = dtype.newbyteorder("<" if endian.lower() == "little" else ">")
    line_skip = _skip(text, ("line skip", "lineskip"), path)
    byte_skip = _skip(text, ("byte skip", "byteskip"), path)
    if line_skip < 0:
        raise FormatError(f"header field 'line skip' must be 0 or more, got {line_skip}", path=path)
    if byte_skip < -1:
        raise FormatError(f"header field 'byte skip' must be -1 or more, got {byte_skip}", path=path)
    if byte_skip == -1 and encoding != "raw":
        raise FormatError(
            f"header field 'byte skip' is -1 (data at the end of the file), which the NRRD spec allows only "
            f"for raw encoding, not {encoding}",
            path=path,
        )
    if math.prod(sizes) * dtype.itemsize > 1 << 62:
        raise ResourceLimitError(f"header field 'sizes' declares an absurd amount of data: {sizes}", path=path)
    return Layout(dtype, sizes, encoding, line_skip, byte_skip, _data_file(text, path))


def _integer(token: str, name: str, path: str | os.PathLike[str]) -> int:
    try:
        return int(token)
    except ValueError:
        raise FormatError(f"header field {name!r} must hold integers, got {token!r}", path=path) from None


def _skip(text: HeaderText, names: tuple[str, str], path: str | os.PathLike[str]) -> int:
    if all(name in text.fields for name in names):
        raise FormatError(f"header fields {names[0]!r} and {names[1]!r} are the same field, given twice", path=path)
    value = text.get(*names)
    return 0 if value is None else _integer(value, names[0], path)


def _data_file(text: HeaderText, path: str | os.PathLike[str]) -> str | None:
    names = ("data file", "datafile")
    if all(name in text.fields for name in names):
        raise FormatError("header fields 'data file' and 'datafile' are the same field, given twice", path=path)
    value = text.get(*names)
    if value is None:
        return None
    tokens = value.split()
    if not tokens:
        raise FormatError("header field 'data file' is empty", path=path)
    if tokens[0] == "LIST" or ("%" in tokens[0] and len(tokens) >= 4):
        raise UnsupportedFormatError(
            f"header field 'data file' spreads the data over several files ({value[:80]!r}); "
            "only a single data file is read",
            path=path,
        )
    return value
