"""`Bzip2Reader`: bzip2 data decompressed step by step into caller buffers, never more than asked.

The counterpart of :class:`mvl.coords.compression.GzipReader` for NRRD's ``bzip2``
encoding, on the standard library's :mod:`bz2`: streams of several members (as
``pbzip2`` writes them) are read whole, anything else after the last member is an error,
and :meth:`Bzip2Reader.finish` stops decompressing past an allowance (bzip2 bombs).
"""

from __future__ import annotations

import bz2
import os
from typing import IO, Any, Final

from mvl.coords.errors import FormatError, ResourceLimitError

__all__ = ["Bzip2Reader"]

_STEP: Final = 1 << 22


class Bzip2Reader:
    """Decompress a bzip2 stream (one or more members) step by step into caller buffers.

    The same contract as :class:`mvl.coords.compression.GzipReader`: never more than
    asked for is decompressed, and :meth:`finish` refuses to decompress more than an
    allowance beyond it.

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

    def readinto(self, buffer: Any) -> int:
        """Fill `buffer`; return the number of bytes written (fewer only at the end)."""
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
        """Return up to `size` decompressed bytes."""
        buffer = bytearray(size)
        return bytes(buffer[: self.readinto(buffer)])

    def finish(self, *, allowed_extra: int = 0) -> int:
        """Decompress the rest; return its length, or raise ResourceLimitError past `allowed_extra`."""
        extra = 0
        while True:
            chunk = self._step(min(_STEP, allowed_extra - extra + 1))
            if not chunk:
                return extra
            extra += len(chunk)
            if extra > allowed_extra:
                raise ResourceLimitError(
                    f"the bzip2 stream decompresses beyond the {self._produced - extra} bytes the header declares "
                    f"(stopped after {extra} more); refusing to decompress it further",
                    path=self._path,
                )
