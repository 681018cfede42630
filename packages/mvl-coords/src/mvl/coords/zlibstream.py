"""zlib streams (RFC 1950) for the format packages: bounded, verified reading and fast writing.

MetaImage's ``CompressedData = True`` stores the voxels as one zlib stream (a two-byte
header, deflate data, an Adler-32 checksum), not as gzip. :class:`ZlibReader` inflates
such a stream step by step into the caller's buffers through the fastest installed
backend (the same ones as :mod:`mvl.coords.compression`: python-isal, zlib-ng, zlib),
checks the Adler-32 at its end, and reads at most the compressed bytes its caller
allows: a stream that inflates beyond what the header declares is stopped
(:meth:`ZlibReader.finish`, decompression bombs). A gzip stream in its place is read
too (zlib's automatic header detection), since some writers store one.

:func:`write_zlib` compresses blocks of bytes into one zlib stream and returns how many
bytes it wrote (MetaImage's ``CompressedDataSize``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO, Any, Final

from .compression import GzipBackend, _BoundedReader, gzip_backend
from .errors import FormatError

__all__ = ["ZlibReader", "write_zlib"]

_AUTO_WBITS: Final = 47  # zlib or gzip header, detected (32 + 15)
_ZLIB_WBITS: Final = 15
_INPUT_STEP: Final = 1 << 20


class ZlibReader(_BoundedReader):
    """Inflate one zlib stream step by step into caller buffers, verifying its Adler-32.

    Parameters
    ----------
    stream : binary file object
        Positioned at the start of the zlib data.
    compressed_size : int, optional
        How many bytes of `stream` the compressed data takes (MetaImage's
        ``CompressedDataSize``); no more are read. By default the stream runs to the
        end of `stream`. Either way, anything after the end of the zlib stream within
        that range is an error.
    path : str or os.PathLike, optional
        Named in error messages.
    backend : GzipBackend, optional
        The fastest installed by default (:func:`~mvl.coords.compression.gzip_backend`).

    Raises
    ------
    FormatError
        From any method: the data is not a zlib (or gzip) stream, is corrupt (the
        Adler-32 check failed, an invalid block), ends early, or is followed by other
        bytes.

    Examples
    --------
    >>> import io, zlib
    >>> reader = ZlibReader(io.BytesIO(zlib.compress(b"header+voxels")))
    >>> reader.read(6)
    b'header'
    >>> buffer = bytearray(7)
    >>> reader.readinto(buffer), bytes(buffer)
    (7, b'+voxels')
    >>> reader.finish()
    0
    """

    _kind = "zlib"
    _verb, _verbs = "inflate", "inflates"

    def __init__(
        self,
        stream: IO[bytes],
        *,
        compressed_size: int | None = None,
        path: str | os.PathLike[str] | None = None,
        backend: GzipBackend | None = None,
    ) -> None:
        self._stream = stream
        self._left = compressed_size
        self._path = path
        self._backend = backend or gzip_backend()
        self._decompressor: Any = self._backend.module.decompressobj(wbits=_AUTO_WBITS)
        self._input = b""
        self._finished = False
        self._produced = 0

    @property
    def backend(self) -> GzipBackend:
        """GzipBackend: The implementation in use."""
        return self._backend

    def _read(self, size: int) -> bytes:
        if self._left is not None:
            size = min(size, self._left)
            if size <= 0:
                return b""
        chunk = self._stream.read(size)
        if self._left is not None:
            self._left -= len(chunk)
        return chunk

    def _fail(self, problem: str) -> FormatError:
        return FormatError(f"corrupt zlib stream: {problem} (after {self._produced} inflated bytes)", path=self._path)

    def _step(self, limit: int) -> bytes:
        """Inflate up to `limit` bytes; b"" only at the verified end of the stream."""
        while not self._finished:
            decompressor = self._decompressor
            stream_ended = False
            if not self._input:
                self._input = self._read(_INPUT_STEP)
                stream_ended = not self._input
            try:
                output: bytes = decompressor.decompress(self._input, limit)
            except self._backend.module.error as error:
                raise self._fail(str(error)) from error
            self._produced += len(output)
            if decompressor.eof:
                self._input = decompressor.unused_data
                self._check_end()
                self._finished = True
            else:
                self._input = decompressor.unconsumed_tail
            if output:
                return output
            if stream_ended and not decompressor.eof:
                where = "its declared size" if self._left is not None else "the file"
                raise FormatError(
                    f"truncated zlib stream: {where} ends inside it, after {self._produced} inflated bytes",
                    path=self._path,
                )
        return b""

    def _check_end(self) -> None:
        """Nothing may follow the stream within the range it was given."""
        if self._input or self._read(1):
            raise self._fail("unexpected bytes after the end of the zlib stream")


def write_zlib(
    stream: IO[bytes],
    blocks: Iterable[Any],
    *,
    level: int | None = None,
    backend: GzipBackend | None = None,
) -> int:
    """Compress blocks of bytes into `stream` as one zlib stream; return the bytes written.

    Parameters
    ----------
    stream : binary file object
        Where the zlib data goes; left open.
    blocks : iterable of bytes-like
        The data, in order (e.g. from :func:`mvl.coords.files.array_blocks`).
    level : int, optional
        Compression level of the backend (0-3 for isal, 0-9 otherwise); by default the
        level giving about zlib level 1's size (:attr:`GzipBackend.default_level`).
    backend : GzipBackend, optional
        The fastest installed by default.

    Returns
    -------
    int
        The size of the compressed stream in bytes.

    Examples
    --------
    >>> import io, zlib
    >>> out = io.BytesIO()
    >>> size = write_zlib(out, [b"abc", b"def"], backend=gzip_backend("zlib"))
    >>> zlib.decompress(out.getvalue()), size == len(out.getvalue())
    (b'abcdef', True)
    """
    chosen = backend or gzip_backend()
    compressor = chosen.module.compressobj(
        chosen.default_level if level is None else level, chosen.module.DEFLATED, _ZLIB_WBITS
    )
    written = 0
    for block in blocks:
        output = compressor.compress(block)
        if output:
            stream.write(output)
            written += len(output)
    output = compressor.flush()
    stream.write(output)
    return written + len(output)
