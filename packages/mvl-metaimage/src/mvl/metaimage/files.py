"""Where MetaImage data lies: ``ElementDataFile``, checked for safety before anything is opened.

``ElementDataFile`` (MetaIO) takes four forms:

- ``LOCAL``: the data follows the header in the same file (``.mha``);
- a file name, relative to the header's folder (``.mhd`` with ``.raw`` or ``.zraw``);
- a ``%d`` pattern with first and last index and an optional step,
  ``slice%03d.raw 1 40 1``: one file per index, each holding one slice (all axes but
  the last);
- ``LIST`` (optionally ``LIST 2D``: the number of axes each file holds, by default all
  but the last), with the file names on the lines after it, one per line.

A name is a path chosen by whoever wrote the header, so each is checked as NRRD's
``data file`` is: by default it must lie inside the header's folder (after following
symbolic links) and be a regular file; an absolute path, ``../../etc/passwd``, a link
leading out of the folder or ``/dev/zero`` raise :class:`~mvl.coords.SecurityError`
unless the caller allows external data files explicitly.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from mvl.coords.errors import FormatError, ResourceLimitError, UnsupportedFormatError
from mvl.coords.files import detached_file

from .header import HeaderText, Layout

__all__ = ["MAX_FILES", "DataFiles", "locate_data"]

#: More data files than this (a ``LIST`` or ``%d`` pattern) are refused.
MAX_FILES: Final = 1 << 16
_PATTERN: Final = re.compile(r"%0?[0-9]*d")
_NAME_BYTES: Final = 4096  # at most this many bytes per listed file name


@dataclass(frozen=True)
class DataFiles:
    """The files that hold the voxel data.

    Attributes
    ----------
    paths : tuple of pathlib.Path
        The data files in order (the header itself for ``LOCAL``).
    regular : tuple of bool
        Whether each is a regular file (its size known, memory-mappable).
    local : bool
        ``ElementDataFile = LOCAL``: the data follows the header.
    start : int
        Where the data region of a ``LOCAL`` file starts (after the header); 0 otherwise.
    """

    paths: tuple[Path, ...]
    regular: tuple[bool, ...]
    local: bool
    start: int

    def describe(self, index: int = 0) -> str:
        """How messages name the data (of file `index`)."""
        if self.local:
            return "the data after the header"
        return f"the data file {os.fspath(self.paths[index])!r}"


def locate_data(header_path: Path, text: HeaderText, layout: Layout, *, allow_external: bool = False) -> DataFiles:
    """Find the data files of a header, refusing files outside the header's folder.

    Parameters
    ----------
    header_path : pathlib.Path
        The header file, as given by the caller.
    text : HeaderText
        Its fields.
    layout : Layout
        Its checked storage fields.
    allow_external : bool, optional
        Allow data files that are absolute paths, lead outside the header's folder
        (``..``, symbolic links), or are not regular files (devices, FIFOs).

    Returns
    -------
    DataFiles

    Raises
    ------
    SecurityError
        A data file outside the header's folder or not a regular file, and
        `allow_external` is False.
    InputError
        A data file does not exist or is a folder.
    FormatError
        A malformed pattern or list, or one whose files do not fit ``DimSize``.
    UnsupportedFormatError
        Compressed or text data spread over several files.
    ResourceLimitError
        More than :data:`MAX_FILES` data files.
    """
    value = layout.data_file
    tokens = value.split()
    if value.upper() == "LOCAL":
        return DataFiles((header_path,), (True,), True, text.data_offset)
    if tokens[0].upper() == "LIST":
        names = _listed(header_path, text, layout, tokens)
    elif "%" in tokens[0] and len(tokens) in (3, 4):
        names = _pattern(header_path, layout, tokens)
    else:
        names = [value]
    if len(names) > 1 and (layout.compressed or not layout.binary):
        raise UnsupportedFormatError(
            f"header field 'ElementDataFile' spreads {'compressed' if layout.compressed else 'text'} data over "
            f"{len(names)} files; only uncompressed binary data is read from several files",
            path=header_path,
        )
    checked = [_checked(header_path, name, allow_external) for name in names]
    return DataFiles(tuple(path for path, _ in checked), tuple(regular for _, regular in checked), False, 0)


def _file_count(header_path: Path, layout: Layout, file_dims: int, what: str) -> int:
    ndims = len(layout.dims)
    if not 1 <= file_dims <= ndims:
        raise FormatError(
            f"header field 'ElementDataFile' ({what}) gives each file {file_dims} axes; it must be 1 to {ndims}",
            path=header_path,
        )
    count = math.prod(layout.dims[file_dims:])
    if count > MAX_FILES:
        raise ResourceLimitError(
            f"header field 'ElementDataFile' ({what}) needs {count} data files; at most {MAX_FILES} are read",
            path=header_path,
        )
    return count


def _listed(header_path: Path, text: HeaderText, layout: Layout, tokens: list[str]) -> list[str]:
    file_dims = len(layout.dims) - 1 if len(layout.dims) > 1 else 1
    if len(tokens) > 2 or (len(tokens) == 2 and not re.fullmatch(r"[0-9]+[dD]?", tokens[1])):
        raise FormatError(
            f"header field 'ElementDataFile' is {layout.data_file!r}; a list is 'LIST' or 'LIST 2D' "
            "(the axes each file holds) with the file names on the lines after it",
            path=header_path,
        )
    if len(tokens) == 2:
        file_dims = int(tokens[1].rstrip("dD"))
    count = _file_count(header_path, layout, file_dims, "LIST")
    with open(header_path, "rb") as stream:
        stream.seek(text.data_offset)
        rest = stream.read(count * _NAME_BYTES + 1)
    names = [line.strip() for line in rest.decode("utf-8", "replace").splitlines() if line.strip()]
    if len(names) != count:
        raise FormatError(
            f"header field 'ElementDataFile = LIST' is followed by {len(names)} file names, but 'DimSize' "
            f"{list(layout.dims)} needs {count}, one per {file_dims}-dimensional part",
            path=header_path,
        )
    return names


def _pattern(header_path: Path, layout: Layout, tokens: list[str]) -> list[str]:
    pattern = tokens[0]
    directives = re.findall(r"%.", pattern.replace("%%", ""))
    if len(_PATTERN.findall(pattern.replace("%%", ""))) != 1 or len(directives) != 1:
        raise FormatError(
            f"header field 'ElementDataFile' pattern {pattern!r} must hold one integer directive such as %d or %03d",
            path=header_path,
        )
    try:
        start, stop, *step = (int(token) for token in tokens[1:])
    except ValueError:
        raise FormatError(
            f"header field 'ElementDataFile' ({' '.join(tokens)!r}) must give a pattern, its first and last "
            "index and optionally a step, as integers",
            path=header_path,
        ) from None
    stride = step[0] if step else 1
    count = _file_count(header_path, layout, len(layout.dims) - 1 if len(layout.dims) > 1 else 1, "a pattern")
    if stride == 0 or len(range(start, stop + (1 if stride > 0 else -1), stride)) != count:
        raise FormatError(
            f"header field 'ElementDataFile' ({' '.join(tokens)!r}) names "
            f"{0 if stride == 0 else len(range(start, stop + (1 if stride > 0 else -1), stride))} files, but "
            f"'DimSize' {list(layout.dims)} needs {count}, one per slice",
            path=header_path,
        )
    return [pattern % index for index in range(start, stop + (1 if stride > 0 else -1), stride)]


def _checked(header_path: Path, name: str, allow_external: bool) -> tuple[Path, bool]:
    return detached_file(header_path, name, "ElementDataFile", allow_external=allow_external)
