"""gzip for the format packages: the fastest installed backend, verified and bounded.

Backends, fastest first: ``isal`` (python-isal), ``zlib-ng`` (zlib-ng), ``zlib`` (the
standard library, always there). The format packages offer the fast ones as an extra,
e.g. ``pip install "mvl-nifti[fast]"``. All produce and accept standard gzip; the bytes
that come out of decompression are the same whichever backend ran. Set the environment
variable ``MVL_GZIP_BACKEND`` to one of the names to choose explicitly, and
``MVL_GZIP_THREADS`` to set the compression threads of every save that does not say how
many it wants (see :func:`write_gzip` for the order in which they count).

Reading (:class:`GzipReader`) inflates straight into the caller's buffer, in bounded
steps, and checks every member's CRC-32 and length: a flipped bit in a ``.gz`` file is
an error, never a silently wrong voxel. Callers inflate only what their header
declares; :meth:`GzipReader.finish` verifies the rest of the stream while refusing to
inflate more than a small allowance beyond it (decompression bombs).

Writing (:func:`write_gzip`) compresses blocks of bytes, on several threads with isal.
"""

from __future__ import annotations

import bz2
import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import IO, Any, Final

from .errors import FormatError, MissingDependencyError, ResourceLimitError

__all__ = ["BACKENDS", "Bzip2Reader", "GzipBackend", "GzipReader", "gzip_backend", "usable_cpus", "write_gzip"]

#: Backend names, fastest first.
BACKENDS: Final = ("isal", "zlib-ng", "zlib")

_MODULES: Final = {"isal": "isal.isal_zlib", "zlib-ng": "zlib_ng.zlib_ng", "zlib": "zlib"}
_THREADED: Final = {"isal": "isal.igzip_threaded", "zlib-ng": "zlib_ng.gzip_ng_threaded"}
# Levels giving about the size of zlib level 1 (nibabel's default) at each backend's best speed.
_DEFAULT_LEVELS: Final = {"isal": 2, "zlib-ng": 2, "zlib": 1}
_GZIP_WBITS: Final = 31
_MAGIC: Final = b"\x1f\x8b"
_STEP: Final = 1 << 22  # at most this many bytes of output per step
_INPUT_STEP: Final = 1 << 20  # compressed bytes fed per step: their output fits one step


@dataclass(frozen=True)
class GzipBackend:
    """A zlib-compatible gzip implementation.

    Attributes
    ----------
    name : str
        One of :data:`BACKENDS`.
    module : module
        Offers ``decompressobj``, ``compressobj`` and ``error`` like :mod:`zlib`.
    default_level : int
        The compression level used when none is given.
    """

    name: str
    module: Any
    default_level: int


@cache
def _load(name: str) -> GzipBackend | None:
    try:
        module = importlib.import_module(_MODULES[name])
    except ImportError:
        return None
    return GzipBackend(name, module, _DEFAULT_LEVELS[name])


def gzip_backend(name: str | None = None) -> GzipBackend:
    """Return a gzip backend: `name`, else ``$MVL_GZIP_BACKEND``, else the fastest installed.

    Parameters
    ----------
    name : str, optional
        ``"isal"``, ``"zlib-ng"`` or ``"zlib"``.

    Returns
    -------
    GzipBackend

    Raises
    ------
    MissingDependencyError
        If the backend asked for is not installed; the message says what to install.
    ValueError
        If `name` is not a backend name.

    Examples
    --------
    >>> gzip_backend("zlib").name
    'zlib'
    """
    chosen = name or os.environ.get("MVL_GZIP_BACKEND") or None
    if chosen is None:
        for candidate in BACKENDS:
            backend = _load(candidate)
            if backend is not None:
                return backend
    if chosen not in _MODULES:
        raise ValueError(f"unknown gzip backend {chosen!r}; choose one of {', '.join(BACKENDS)}")
    backend = _load(chosen)
    if backend is None:
        package = {"isal": "isal", "zlib-ng": "zlib-ng"}[chosen]
        raise MissingDependencyError(f"the gzip backend {chosen!r} is not installed: pip install {package}")
    return backend


class _BoundedReader:
    """Decompression into caller buffers, step by step, never more than asked for.

    Subclasses implement ``_step(limit)`` (up to `limit` decompressed bytes; ``b""`` only
    at the verified end of the whole stream) and count what they produce in
    ``_produced``; ``_kind`` and ``_verb`` name the format and what it does in messages.
    """

    _kind = "compressed"
    _verb, _verbs = "decompress", "decompresses"
    _path: str | os.PathLike[str] | None
    _produced: int

    def _step(self, limit: int) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def produced(self) -> int:
        """int: Bytes decompressed so far."""
        return self._produced

    def readinto(self, buffer: Any) -> int:
        """Fill `buffer` (any writable buffer: bytearray, numpy array, memoryview).

        Returns
        -------
        int
            Bytes written: ``len(buffer)`` in bytes unless the stream ended first.
        """
        target = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(target):
            chunk = self._step(min(len(target) - filled, _STEP))
            if not chunk:
                break
            target[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
        return filled

    def read(self, size: int) -> bytes:
        """Return up to `size` decompressed bytes (fewer only at the end of the stream)."""
        buffer = bytearray(size)
        return bytes(buffer[: self.readinto(buffer)])

    def finish(self, *, allowed_extra: int = 0) -> int:
        """Decompress and verify the rest of the stream; return how many bytes it still held.

        Parameters
        ----------
        allowed_extra : int, optional
            How many decompressed bytes beyond what was read are tolerated.

        Returns
        -------
        int
            The number of bytes decompressed here (at most `allowed_extra`).

        Raises
        ------
        ResourceLimitError
            If the stream decompresses to more than `allowed_extra` further bytes: it
            was stopped there, not decompressed to the end.
        FormatError
            If the rest of the stream is corrupt or truncated.
        """
        extra = 0
        while True:
            chunk = self._step(min(_STEP, allowed_extra - extra + 1))
            if not chunk:
                return extra
            extra += len(chunk)
            if extra > allowed_extra:
                raise ResourceLimitError(
                    f"the {self._kind} stream {self._verbs} beyond the {self._produced - extra} bytes the header "
                    f"declares (stopped after {extra} more); refusing to {self._verb} it further",
                    path=self._path,
                )


class GzipReader(_BoundedReader):
    """Inflate a gzip stream step by step into caller buffers, verifying every member.

    Parameters
    ----------
    stream : binary file object
        Positioned at the start of the gzip data; read in steps of 4 MiB.
    path : str or os.PathLike, optional
        Named in error messages.
    backend : GzipBackend, optional
        The fastest installed by default (:func:`gzip_backend`).

    Raises
    ------
    FormatError
        From any method: the stream is not gzip, is corrupt (a CRC-32 or length check
        failed, an invalid block), or ends early.

    Examples
    --------
    >>> import gzip, io
    >>> reader = GzipReader(io.BytesIO(gzip.compress(b"header+voxels")))
    >>> reader.read(6)
    b'header'
    >>> buffer = bytearray(7)
    >>> reader.readinto(buffer), bytes(buffer)
    (7, b'+voxels')
    >>> reader.finish()
    0
    """

    def __init__(
        self, stream: IO[bytes], *, path: str | os.PathLike[str] | None = None, backend: GzipBackend | None = None
    ) -> None:
        self._stream = stream
        self._path = path
        self._backend = backend or gzip_backend()
        self._input = b""
        self._decompressor: Any = None
        self._between_members = False
        self._finished = False  # every member read and verified
        self._produced = 0
        head = self._read(2)
        if head != _MAGIC:
            raise FormatError(f"not a gzip stream (starts with {head!r}, expected {_MAGIC!r})", path=path)
        self._input = head
        self._new_member()

    @property
    def backend(self) -> GzipBackend:
        """GzipBackend: The implementation in use."""
        return self._backend

    def _read(self, size: int) -> bytes:
        """The next `size` bytes of compressed input (fewer at the end)."""
        return self._stream.read(size)

    _kind = "gzip"
    _verb, _verbs = "inflate", "inflates"

    def _new_member(self) -> None:
        self._decompressor = self._backend.module.decompressobj(wbits=_GZIP_WBITS)
        self._between_members = False

    def _fail(self, problem: str) -> FormatError:
        return FormatError(f"corrupt gzip stream: {problem}", path=self._path)

    def _step(self, limit: int) -> bytes:
        """Inflate up to `limit` bytes; b"" only at the verified end of the whole stream."""
        while not self._finished:
            if self._between_members:
                if len(self._input) < len(_MAGIC):
                    self._input += self._read(_INPUT_STEP)
                if self._input.startswith(_MAGIC):
                    self._new_member()
                    continue
                self._check_padding()
                self._finished = True
                break
            decompressor = self._decompressor
            stream_ended = False
            if not self._input:
                self._input = self._read(_INPUT_STEP)
                stream_ended = not self._input
            try:
                output: bytes = decompressor.decompress(self._input, limit)
            except self._backend.module.error as error:
                raise self._fail(str(error)) from error
            if decompressor.eof:
                self._input = decompressor.unused_data
                self._between_members = True
            else:
                self._input = decompressor.unconsumed_tail
            if output:
                self._produced += len(output)
                return output
            if stream_ended and not decompressor.eof:
                raise FormatError(
                    f"truncated gzip stream: it ends inside a member, after {self._produced} inflated bytes",
                    path=self._path,
                )
        return b""

    def _check_padding(self) -> None:
        """After the last member only zero bytes may follow (tape-style padding)."""
        rest = self._input
        while rest:
            if rest.strip(b"\0"):
                raise self._fail(f"unexpected bytes after the gzip data (after {self._produced} inflated bytes)")
            rest = self._read(_INPUT_STEP)
        self._input = b""


class Bzip2Reader(_BoundedReader):
    """Decompress a bzip2 stream (one or more members) step by step into caller buffers.

    The same contract as :class:`GzipReader`, on the standard library's :mod:`bz2`:
    streams of several members (as ``pbzip2`` writes them) are read whole, anything
    else after the last member is an error, and :meth:`finish` refuses to decompress
    more than an allowance beyond what was read (bzip2 bombs).

    Parameters
    ----------
    stream : binary file object
        Positioned at the start of the bzip2 data.
    path : str or os.PathLike, optional
        Named in errors.

    Examples
    --------
    >>> import io
    >>> reader = Bzip2Reader(io.BytesIO(bz2.compress(b"abc") + bz2.compress(b"def")))
    >>> reader.read(4), reader.read(9), reader.finish()
    (b'abcd', b'ef', 0)
    """

    def __init__(self, stream: IO[bytes], *, path: str | os.PathLike[str] | None = None) -> None:
        self._stream = stream
        self._path = path
        self._decompressor = bz2.BZ2Decompressor()
        self._pending = b""
        self._done = False
        self._produced = 0

    _kind = "bzip2"

    def _fail(self, problem: str) -> FormatError:
        return FormatError(
            f"corrupt bzip2 stream: {problem} (after {self._produced} decompressed bytes)", path=self._path
        )

    def _step(self, limit: int) -> bytes:
        while not self._done:
            decompressor = self._decompressor
            if decompressor.needs_input and not self._pending:
                self._pending = self._stream.read(_STEP)
                if not self._pending:
                    raise FormatError(
                        f"truncated bzip2 stream: it ends inside a member, after {self._produced} decompressed bytes",
                        path=self._path,
                    )
            data, self._pending = self._pending, b""
            try:
                output = decompressor.decompress(data, limit)
            except (OSError, EOFError, ValueError) as error:
                raise self._fail(str(error)) from error
            if decompressor.eof:
                self._next_member(decompressor.unused_data)
            if output:
                self._produced += len(output)
                return output
        return b""

    def _next_member(self, rest: bytes) -> None:
        while len(rest) < 3:
            more = self._stream.read(_STEP)
            if not more:
                break
            rest += more
        if not rest:
            self._done = True
        elif rest.startswith(b"BZh"):
            self._decompressor = bz2.BZ2Decompressor()
            self._pending = rest
        else:
            raise self._fail("unexpected bytes after the bzip2 data")


def write_gzip(
    stream: IO[bytes],
    blocks: Iterable[Any],
    *,
    level: int | None = None,
    backend: GzipBackend | None = None,
    threads: int | None = None,
) -> None:
    """Compress blocks of bytes into `stream` as one gzip file.

    Parameters
    ----------
    stream : binary file object
        Where the gzip data goes; left open.
    blocks : iterable of bytes-like
        The data, in order (e.g. from :func:`mvl.coords.files.array_blocks`).
    level : int, optional
        Compression level of the backend (0-3 for isal, 0-9 otherwise); by default the
        level giving about zlib level 1's size (:attr:`GzipBackend.default_level`).
    backend : GzipBackend, optional
        The fastest installed by default.
    threads : int, optional
        Compression threads for backends that support them (isal, zlib-ng). The first
        of these counts: this argument (the savers pass on their ``threads=``, batch
        conversion gives each worker process its share of the CPUs this way), then the
        user's ``$MVL_GZIP_THREADS`` if set to a positive number, then the number of
        CPUs this process may use, at most 4.

    Examples
    --------
    >>> import gzip, io
    >>> out = io.BytesIO()
    >>> write_gzip(out, [b"abc", b"def"], backend=gzip_backend("zlib"))
    >>> gzip.decompress(out.getvalue())
    b'abcdef'
    """
    chosen = backend or gzip_backend()
    chosen_level = chosen.default_level if level is None else level
    workers = threads if threads is not None else _default_threads()
    if chosen.name in _THREADED and workers > 1:
        threaded = importlib.import_module(_THREADED[chosen.name])
        target = _HeldError(stream)
        with threaded.open(target, "wb", compresslevel=chosen_level, threads=workers) as compressed:
            for block in blocks:
                if target.error is not None:
                    break  # the file cannot be written (a full disk): stop compressing
                compressed.write(block)
        if target.error is not None:
            raise target.error
        return
    compressor = chosen.module.compressobj(chosen_level, wbits=_GZIP_WBITS)
    for block in blocks:
        stream.write(compressor.compress(block))
    stream.write(compressor.flush())


class _HeldError:
    """The stream a compression thread writes to: the first error is kept for the caller.

    A threaded writer whose thread meets an error (a full disk) hangs for ever in
    python-isal before 1.9 and zlib-ng before 1.1; so the thread never sees one. After
    an error nothing more is written, and :func:`write_gzip` raises it.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.error: Exception | None = None

    def write(self, data: Any) -> int:
        if self.error is None:
            try:
                return self.stream.write(data)
            except Exception as error:  # kept, and raised by write_gzip
                self.error = error
        return memoryview(data).nbytes

    def flush(self) -> None:
        if self.error is None:
            try:
                self.stream.flush()
            except Exception as error:  # kept, and raised by write_gzip
                self.error = error


def _default_threads() -> int:
    setting = os.environ.get("MVL_GZIP_THREADS", "")
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    return min(4, usable_cpus())


def usable_cpus() -> int:
    """Return the number of CPUs this process may run on (its affinity where the system tells).

    Examples
    --------
    >>> usable_cpus() >= 1
    True
    """
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1
