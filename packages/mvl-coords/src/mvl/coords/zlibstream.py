"""zlib streams (RFC 1950) for the format packages: bounded, verified reading and fast writing.

MetaImage's ``CompressedData = True`` stores the voxels as one zlib stream (a two-byte
header, deflate data, an Adler-32 checksum), not as gzip. :class:`ZlibReader` inflates
such a stream step by step into the caller's buffers through the fastest installed
backend (the same ones as :mod:`mvl.coords.compression`: python-isal, zlib-ng, zlib),
checks the Adler-32 at its end, and reads at most the compressed bytes its caller
allows: a stream that inflates beyond what the header declares is stopped
(:meth:`ZlibReader.finish`, decompression bombs). A gzip stream in its place is read
too (zlib's automatic header detection), since some writers store one.

:func:`write_zlib` compresses blocks of bytes into one zlib stream, on several threads,
and returns how many bytes it wrote (MetaImage's ``CompressedDataSize``).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, Final

from .compression import GzipBackend, _BoundedReader, gzip_backend, usable_cpus
from .errors import FormatError

__all__ = ["PIECE_BYTES", "ZlibReader", "write_zlib"]

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
    threads: int | None = None,
) -> int:
    """Compress blocks of bytes into `stream` as one zlib stream; return the bytes written.

    With more than one thread, the data is cut into pieces of :data:`PIECE_BYTES` that
    are deflated side by side, each ending on a byte boundary (a sync flush, as pigz
    does), and written in order: one standard zlib stream that any inflater reads, a
    little larger (about 0.1%) than one compressed in a single piece. The Adler-32 of
    the pieces is combined at the end.

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
    threads : int, optional
        Compression threads; by default as for :func:`~mvl.coords.compression.write_gzip`:
        ``$MVL_GZIP_THREADS`` if set to a positive number, else the CPUs this process
        may use, at most 4.

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
    chosen_level = chosen.default_level if level is None else level
    workers = threads if threads is not None else _default_threads()
    if workers <= 1:
        return _write_serial(stream, blocks, chosen, chosen_level)
    return _write_pieces(stream, blocks, chosen, chosen_level, workers)


#: The size of the pieces that several threads deflate side by side.
PIECE_BYTES: Final = 1 << 22
_ZLIB_HEADER: Final = b"\x78\x01"  # deflate, 32 KiB window, "fastest" (RFC 1950)
_ADLER_BASE: Final = 65521


def _write_serial(stream: IO[bytes], blocks: Iterable[Any], backend: GzipBackend, level: int) -> int:
    compressor = backend.module.compressobj(level, backend.module.DEFLATED, _ZLIB_WBITS)
    written = 0
    for block in blocks:
        output = compressor.compress(block)
        if output:
            stream.write(output)
            written += len(output)
    output = compressor.flush()
    stream.write(output)
    return written + len(output)


def _deflate_piece(backend: GzipBackend, level: int, piece: list[Any], last: bool) -> tuple[bytes, int, int]:
    """Raw deflate of one piece (sync-flushed unless last), its Adler-32 and length."""
    module = backend.module
    compressor = module.compressobj(level, module.DEFLATED, -_ZLIB_WBITS)
    parts = []
    checksum = 1
    length = 0
    for block in piece:
        parts.append(compressor.compress(block))
        checksum = module.adler32(block, checksum)
        length += memoryview(block).nbytes
    parts.append(compressor.flush() if last else compressor.flush(module.Z_SYNC_FLUSH))
    return b"".join(parts), checksum, length


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings one after the other, from theirs (RFC 1950 sums)."""
    n = second_length % _ADLER_BASE
    s1 = ((first & 0xFFFF) + (second & 0xFFFF) - 1) % _ADLER_BASE
    s2 = ((first >> 16) + (second >> 16) + n * ((first & 0xFFFF) - 1)) % _ADLER_BASE
    return (s2 << 16) | s1


def _pieces(blocks: Iterable[Any]) -> Iterator[list[Any]]:
    piece: list[Any] = []
    size = 0
    for block in blocks:
        piece.append(block)
        size += memoryview(block).nbytes
        if size >= PIECE_BYTES:
            yield piece
            piece, size = [], 0
    yield piece  # the last, maybe empty: it ends the deflate stream


def _write_pieces(stream: IO[bytes], blocks: Iterable[Any], backend: GzipBackend, level: int, workers: int) -> int:
    stream.write(_ZLIB_HEADER)
    written = len(_ZLIB_HEADER)
    checksum = 1
    pending: deque[Future[tuple[bytes, int, int]]] = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:

        def collect() -> None:
            nonlocal written, checksum
            output, piece_checksum, length = pending.popleft().result()
            stream.write(output)
            written += len(output)
            checksum = _adler32_combine(checksum, piece_checksum, length)

        try:
            pieces = _pieces(blocks)
            piece = next(pieces)
            for following in pieces:
                pending.append(pool.submit(_deflate_piece, backend, level, piece, False))
                piece = following
                while len(pending) > workers:  # bounded memory: a few pieces in flight
                    collect()
            pending.append(pool.submit(_deflate_piece, backend, level, piece, True))
            while pending:
                collect()
        finally:
            for future in pending:
                future.cancel()
    stream.write(checksum.to_bytes(4, "big"))
    return written + 4


def _default_threads() -> int:
    setting = os.environ.get("MVL_GZIP_THREADS", "")
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    return min(4, usable_cpus())
