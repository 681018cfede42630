"""What kind of file a path is, from its first bytes: a DICOM file or an archive. Standard library only.

A DICOM file (PS3.10 7.1) has a 128-byte preamble and ``DICM``. Archives are recognised
by their signatures: zip (``PK``), tar (``ustar`` at byte 257), and tar inside gzip,
bzip2 or xz, whose content :func:`mvl.coords.heads.peek` decompresses far enough to
check that it is a tar (a ``.nii.gz`` is gzip, but no tar). Nothing here raises for
unreadable input.
"""

from __future__ import annotations

import os
from typing import Final, Literal

from mvl.coords.heads import Compression, peek

__all__ = ["ArchiveKind", "kind_of"]

#: The archive kinds read; "tar" is uncompressed.
ArchiveKind = Literal["zip", "tar", "tar.gz", "tar.bz2", "tar.xz"]

_ZIP: Final = (b"PK\x03\x04", b"PK\x05\x06")
_COMPRESSED_TAR: Final[dict[Compression, ArchiveKind]] = {"gzip": "tar.gz", "bzip2": "tar.bz2", "xz": "tar.xz"}
#: Bytes read from the start of a file: the preamble and magic, or a tar header block.
_HEAD_BYTES: Final = 512


def _is_tar_block(block: bytes) -> bool:
    return len(block) >= 262 and block[257:262] == b"ustar"


def kind_of(path: str | os.PathLike[str]) -> Literal["dicom"] | ArchiveKind | None:
    """Return ``"dicom"``, an archive kind, or None, judging from the first bytes of a regular file.

    Examples
    --------
    >>> import tempfile, zipfile
    >>> with tempfile.NamedTemporaryFile(suffix=".zip", delete=False) as handle:
    ...     zipfile.ZipFile(handle, "w").close()
    >>> kind_of(handle.name)
    'zip'
    >>> kind_of("/no/such/file") is None
    True
    """
    try:
        head = peek(path, _HEAD_BYTES)
    except OSError:
        return None
    if head.stored[128:132] == b"DICM":
        return "dicom"
    if head.stored.startswith(_ZIP):
        return "zip"
    if head.compression is None:
        return "tar" if _is_tar_block(head.stored) else None
    return _COMPRESSED_TAR[head.compression] if _is_tar_block(head.content) else None
