"""What a path given to :func:`~mvl.dicom.open_stack` or :func:`~mvl.dicom.list_series` stands for.

- a folder: its regular files (and those of its sub-folders when ``recursive``);
- a DICOM file (``DICM`` at byte 128): the files of its folder, the file deciding the series;
- an archive (zip, tar, tar.gz/tgz, tar.bz2/tbz, tar.xz), recognised by its content, not
  its name: its members, searched through all its folders.

Anything else is refused: a missing path, a FIFO or device (never opened), an empty file,
or a file of another format.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mvl.coords import InputError, UnsupportedFormatError
from mvl.coords.files import input_file

from .archives import open_archive
from .limits import Limits
from .magic import kind_of
from .sources import FolderSource, Source

__all__ = ["open_source"]


def open_source(path: str | os.PathLike[str], *, recursive: bool, limits: Limits) -> tuple[Source, str | None]:
    """Return the source of candidate files for `path`, and the key of the file that decides the series.

    Raises
    ------
    InputError
        Missing path, or not a regular file or folder.
    NoImageDataError
        An empty file.
    UnsupportedFormatError
        A file that is neither DICOM nor a supported archive.
    SecurityError, ResourceLimitError
        An archive that is refused (see :mod:`mvl.dicom.archives`).
    """
    location = Path(path)
    try:
        status = location.stat()
    except FileNotFoundError:
        raise InputError("no such file or folder", path=location) from None
    except OSError as error:
        raise InputError(f"cannot access it ({error.strerror or error})", path=location) from error
    if stat.S_ISDIR(status.st_mode):
        return FolderSource(location, recursive), None
    input_file(location)
    kind = kind_of(location)
    if kind == "dicom":
        return FolderSource(location.parent, recursive, path=location), location.name
    if kind is None:
        raise UnsupportedFormatError(
            "is neither a DICOM file (no 'DICM' after the 128-byte preamble, PS3.10 7.1), nor a folder, nor a "
            "zip or tar archive (.zip, .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz)",
            path=location,
        )
    return open_archive(location, kind, limits), None
