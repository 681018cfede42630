"""`peek`: the first bytes of a file, and of its content when it is compressed.

Every format's ``sniff`` decides from a file's first bytes, and a ``.nii.gz`` or a
``.tar.xz`` hides its signature behind compression. :func:`peek` reads the start of a
file once and, when it starts like a gzip, bzip2 or xz stream, also decompresses just
enough of it to see the start of the content. It reads regular files only (a FIFO or a
device is never opened for reading, so sniffing one never hangs), never decompresses
more than it returns, and never reads more than :data:`MAX_COMPRESSED_BYTES` of a
compressed stream: a damaged or endless stream just gives fewer content bytes.

The same function serves the format packages (each format's ``sniff``) and the umbrella
(recognising a format whose package is not installed), so detection behaves the same
either way.
"""

from __future__ import annotations

import bz2
import lzma
import os
import stat
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final, Literal

from .errors import InputError

__all__ = ["COMPRESSIONS", "MAX_COMPRESSED_BYTES", "Compression", "Head", "peek"]

#: A compression :func:`peek` looks through.
Compression = Literal["gzip", "bzip2", "xz"]
#: The magic bytes each compressed stream starts with (RFC 1952, bzip2, xz).
COMPRESSIONS: Final[dict[Compression, bytes]] = {"gzip": b"\x1f\x8b", "bzip2": b"BZh", "xz": b"\xfd7zXZ\x00"}
#: At most this many bytes of a compressed file are read to find the start of its
#: content: one bzip2 block (900 kB before compression) fits, whatever it holds.
MAX_COMPRESSED_BYTES: Final = 1 << 20
_STEP: Final = 1 << 16


@dataclass(frozen=True)
class Head:
    """The start of a file, as :func:`peek` found it.

    Attributes
    ----------
    stored : bytes
        The first bytes as stored on disk.
    compression : {"gzip", "bzip2", "xz"} or None
        What `stored` starts like; None for anything else.
    content : bytes
        The first bytes of the content: decompressed when `compression` is one of those
        asked for (as many as could be decompressed: fewer, maybe none, when the stream
        is short or damaged), else the same as `stored`.
    """

    stored: bytes
    compression: Compression | None
    content: bytes


def peek(path: str | os.PathLike[str], size: int = 2048, *, through: Collection[str] = tuple(COMPRESSIONS)) -> Head:
    """Return the first `size` bytes of a regular file, and of its content if it is compressed.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    size : int, optional
        How many bytes to return at most, of the stored file and of its content.
    through : collection of str, optional
        The compressions to look through (default all of :data:`COMPRESSIONS`); a file
        compressed otherwise is returned as stored. A NIfTI reader, which reads gzip
        only, asks for ``("gzip",)``.

    Returns
    -------
    Head

    Raises
    ------
    InputError
        If nothing exists at `path`, or it is not a regular file (a folder, a FIFO, a
        device): nothing is read from it then.
    OSError
        If the file cannot be opened or read.

    Examples
    --------
    >>> import gzip, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "packed.bin"
    >>> _ = path.write_bytes(gzip.compress(b"NRRD0004 and the rest"))
    >>> head = peek(path, 8)
    >>> head.compression, head.content, head.stored[:2]
    ('gzip', b'NRRD0004', b'\\x1f\\x8b')
    >>> peek(path, 8, through=()).content[:2]
    b'\\x1f\\x8b'
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise InputError("is not a regular file; nothing was read from it", path=path)
        stream = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with stream:
        stored = stream.read(max(size, 0))
        compression = next((name for name, magic in COMPRESSIONS.items() if stored.startswith(magic)), None)
        if compression is None or compression not in through:
            return Head(stored, compression, stored)
        return Head(stored, compression, _decompressed(compression, stored, stream, size))


def _decompressed(compression: Compression, stored: bytes, stream: Any, size: int) -> bytes:
    """The first `size` bytes of the stream that starts with `stored` and goes on in `stream`."""
    decompressor: Any
    if compression == "gzip":
        decompressor = zlib.decompressobj(wbits=31)
    elif compression == "bzip2":
        decompressor = bz2.BZ2Decompressor()
    else:
        decompressor = lzma.LZMADecompressor()
    output = b""
    pending = stored
    read = len(stored)
    while len(output) < size and not decompressor.eof:
        try:
            chunk = decompressor.decompress(pending, size - len(output))
        except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
            break  # damaged: what came before the damage is all there is
        output += chunk
        if compression == "gzip":
            pending = decompressor.unconsumed_tail
            wants_input = not pending
        else:
            pending = b""
            wants_input = decompressor.needs_input
        if wants_input and len(output) < size and not decompressor.eof:
            if read >= MAX_COMPRESSED_BYTES:
                break
            pending = stream.read(min(_STEP, MAX_COMPRESSED_BYTES - read))
            read += len(pending)
            if not pending:
                break
        elif not chunk and not wants_input:
            break  # no progress (never expected): stop rather than spin
    return output[:size]
