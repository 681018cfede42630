"""What kind of file a path is, from its first bytes: a DICOM file or an archive. Standard library only.

A DICOM file (PS3.10 7.1) has a 128-byte preamble and ``DICM``. Archives are recognised
by their signatures: zip (``PK``), tar (``ustar`` at byte 257), and tar inside gzip,
bzip2 or xz, whose first block is decompressed to check that it is a tar (a ``.nii.gz``
is gzip, but no tar). Nothing here raises for unreadable input.
"""

from __future__ import annotations

import bz2
import lzma
import os
import zlib
from typing import Final, Literal

__all__ = ["ArchiveKind", "kind_of"]

#: The archive kinds read; "tar" is uncompressed.
ArchiveKind = Literal["zip", "tar", "tar.gz", "tar.bz2", "tar.xz"]

_ZIP: Final = (b"PK\x03\x04", b"PK\x05\x06")
_COMPRESSED: Final = {b"\x1f\x8b": "tar.gz", b"BZh": "tar.bz2", b"\xfd7zXZ\x00": "tar.xz"}


def _is_tar_block(block: bytes) -> bool:
    return len(block) >= 262 and block[257:262] == b"ustar"


def _decompressed_head(kind: str, head: bytes) -> bytes:
    try:
        if kind == "tar.gz":
            return zlib.decompressobj(31).decompress(head, 512)
        if kind == "tar.bz2":
            return bz2.BZ2Decompressor().decompress(head, 512)
        return lzma.LZMADecompressor().decompress(head, 512)
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
        return b""


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
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        import stat

        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None
        head = os.pread(descriptor, 65536, 0) if hasattr(os, "pread") else os.read(descriptor, 65536)
    except OSError:
        return None
    finally:
        os.close(descriptor)
    if head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(_ZIP):
        return "zip"
    if _is_tar_block(head):
        return "tar"
    for signature, kind in _COMPRESSED.items():
        if head.startswith(signature) and _is_tar_block(_decompressed_head(kind, head)):
            return kind  # type: ignore[return-value]
    return None
