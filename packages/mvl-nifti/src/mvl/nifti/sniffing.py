"""Recognising NIfTI files by their first bytes: no nibabel, no numpy, never slow.

A NIfTI file starts with ``sizeof_hdr``, a 4-byte integer: 348 for NIfTI-1, 540 for
NIfTI-2, in the byte order of the whole header (so it also tells the byte order). The
magic string then says how the file is laid out (NIfTI-1 ``magic`` at byte 344, NIfTI-2
at byte 4):

===============  =======================================================
``n+1``/``n+2``  header and voxels in one file (``.nii``, ``.nii.gz``)
``ni1``/``ni2``  a header file whose voxels are in a separate ``.img``
===============  =======================================================

Either file may be gzip-compressed (it then starts with ``1f 8b``), whatever its name
says: the content decides, not the suffix. An Analyze 7.5 header (348 bytes, no magic)
is not NIfTI.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from mvl.coords.heads import COMPRESSIONS, peek

__all__ = [
    "GZIP_MAGIC",
    "PAIR_SUFFIXES",
    "Signature",
    "is_gzip",
    "pair_paths",
    "read_prefix",
    "signature",
    "sniff",
]

#: The first two bytes of every gzip stream (RFC 1952).
GZIP_MAGIC: Final = COMPRESSIONS["gzip"]
#: ``sizeof_hdr`` of NIfTI-1 and of NIfTI-2.
SIZEOF_HDR: Final = {1: 348, 2: 540}
#: Suffixes of the two files of a pair: header first, then voxels.
PAIR_SUFFIXES: Final = ((".hdr", ".img"), (".hdr.gz", ".img.gz"))

_MAGIC_OFFSET: Final = {1: 344, 2: 4}
_SINGLE: Final = {b"n+1\0": (1, True), b"ni1\0": (1, False), b"n+2\0": (2, True), b"ni2\0": (2, False)}


@dataclass(frozen=True)
class Signature:
    """What the first bytes of a NIfTI header say.

    Attributes
    ----------
    version : {1, 2}
        NIfTI-1 (348-byte header) or NIfTI-2 (540-byte header).
    single : bool
        True for ``n+1``/``n+2`` (voxels in the same file, at ``vox_offset``), False for
        ``ni1``/``ni2`` (voxels in the ``.img`` file of a pair).
    byteorder : {"<", ">"}
        Byte order of the header and, by the standard, of the voxels.
    """

    version: Literal[1, 2]
    single: bool
    byteorder: Literal["<", ">"]

    @property
    def sizeof_hdr(self) -> int:
        """int: Bytes of the fixed header (348 or 540)."""
        return SIZEOF_HDR[self.version]

    @property
    def name(self) -> str:
        """str: ``"NIfTI-1"`` or ``"NIfTI-2"``."""
        return f"NIfTI-{self.version}"


def is_gzip(prefix: bytes) -> bool:
    """Whether bytes start like a gzip stream.

    Examples
    --------
    >>> is_gzip(b"\\x1f\\x8b\\x08..."), is_gzip(b"\\x5c\\x01\\x00\\x00")
    (True, False)
    """
    return prefix[:2] == GZIP_MAGIC


def signature(header: bytes) -> Signature | None:
    """Read version, layout and byte order from the first bytes of a header.

    Parameters
    ----------
    header : bytes
        At least the first 348 bytes (NIfTI-1) or 540 bytes (NIfTI-2) of the header,
        uncompressed.

    Returns
    -------
    Signature or None
        None if the bytes are not the start of a NIfTI-1 or NIfTI-2 header (this
        includes Analyze 7.5 headers, which have no magic string).

    Examples
    --------
    >>> block = bytearray(348)
    >>> block[:4] = (348).to_bytes(4, "little")
    >>> block[344:348] = b"n+1\\0"
    >>> signature(bytes(block))
    Signature(version=1, single=True, byteorder='<')
    >>> signature(bytes(348)) is None
    True
    """
    if len(header) < 4:
        return None
    byteorders: tuple[Literal["<", ">"], ...] = ("<", ">")
    versions: tuple[Literal[1, 2], ...] = (1, 2)
    for byteorder in byteorders:
        (size,) = struct.unpack(f"{byteorder}i", header[:4])
        for version in versions:
            expected = SIZEOF_HDR[version]
            if size != expected or len(header) < expected:
                continue
            offset = _MAGIC_OFFSET[version]
            found = _SINGLE.get(bytes(header[offset : offset + 4]))
            if found is not None and found[0] == version:
                return Signature(version, found[1], byteorder)
    return None


def read_prefix(path: str | os.PathLike[str], size: int = SIZEOF_HDR[2]) -> tuple[bytes, bool]:
    """Return up to `size` leading bytes of a file, inflated if it is gzip-compressed.

    Reads with :func:`mvl.coords.heads.peek`, looking through gzip only (the one
    compression NIfTI files use).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    size : int, optional
        How many bytes to return at most; 540 by default (a NIfTI-2 header).

    Returns
    -------
    prefix : bytes
        The first bytes of the (uncompressed) content; fewer if the content is shorter,
        or if the gzip stream is damaged before that (the bytes inflated before the
        damage).
    compressed : bool
        Whether the file is gzip-compressed.

    Raises
    ------
    OSError
        If the file cannot be read, or is not a regular file
        (:class:`~mvl.coords.InputError`).
    """
    head = peek(path, size, through=("gzip",))
    return head.content, head.compression == "gzip"


def pair_paths(path: str | os.PathLike[str]) -> tuple[Path, Path] | None:
    """Return ``(header, image)`` paths of the ``.hdr``/``.img`` pair `path` belongs to.

    The partner gets the same stem and the suffix of the other half, in the same case
    as the suffix given (``scan.HDR`` pairs with ``scan.IMG``).

    Parameters
    ----------
    path : str or os.PathLike
        Either file of a pair: ``.hdr``, ``.img``, ``.hdr.gz`` or ``.img.gz`` (any case).

    Returns
    -------
    tuple of 2 pathlib.Path, or None
        None if the name does not end in a pair suffix.

    Examples
    --------
    >>> [p.name for p in pair_paths("scan.IMG")]
    ['scan.HDR', 'scan.IMG']
    >>> [p.name for p in pair_paths("a/scan.hdr.gz")]
    ['scan.hdr.gz', 'scan.img.gz']
    >>> pair_paths("scan.nii") is None
    True
    """
    candidate = Path(path)
    name = candidate.name
    lower = name.lower()
    for header_suffix, image_suffix in reversed(PAIR_SUFFIXES):  # longest first
        for own, other in ((header_suffix, image_suffix), (image_suffix, header_suffix)):
            if lower.endswith(own) and len(name) > len(own):
                stem, ending = name[: -len(own)], name[-len(own) :]
                partner = "".join(new.upper() if old.isupper() else new for old, new in zip(ending, other, strict=True))
                pair = (candidate, candidate.with_name(stem + partner))
                return pair if own == header_suffix else (pair[1], pair[0])
    return None


def sniff(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a NIfTI-1 or NIfTI-2 file, judged from its content.

    Looks at the magic bytes, inside the gzip stream if the file is compressed, whatever
    the file is called. For the ``.img`` half of a pair, the ``.hdr`` next to it is
    checked. Never raises: unreadable, missing or foreign input gives False.

    Parameters
    ----------
    path : str or os.PathLike
        A file.

    Returns
    -------
    bool

    Examples
    --------
    >>> sniff("/no/such/file.nii")
    False
    """
    try:
        candidate = Path(path)
        pair = pair_paths(candidate)
        if pair is not None and candidate == pair[1]:
            candidate = pair[0]
        if not candidate.is_file():
            return False
        prefix, _ = read_prefix(candidate)
        found = signature(prefix)
        return found is not None and (found.single or pair is not None)
    except (OSError, ValueError, struct.error):
        return False
