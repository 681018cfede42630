"""Where DICOM files come from: folders (regular files only) and, through :mod:`.archives`, archives.

A :class:`Source` lists candidate files ("members") in alphanumeric order of their paths
relative to the input, lets the header scanner read the first bytes of each, and later
hands the pixel reader a seekable stream for the members it needs.

Only regular files are ever opened. A FIFO, socket or device in a folder is skipped
(opening one can block forever); every open is non-blocking and checked with
``fstat`` afterwards, so a file swapped for a FIFO between listing and opening is
refused rather than waited on. Symbolic links to regular files are followed; symbolic
links to folders are not descended into.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from mvl.coords import InputError, MvlError

__all__ = ["FolderSource", "Member", "PrefixReader", "Source", "open_regular", "read_fully"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: ``read_prefix(n)`` returns the first `n` bytes of a member (fewer at its end).
PrefixReader = Callable[[int], bytes]

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class Member:
    """One candidate file.

    Attributes
    ----------
    name : str
        How messages name it: a file path, or ``archive!member/path`` inside an archive.
    key : str
        Its path relative to the input (``/``-separated); sources list members sorted by it.
    location : str
        What the source needs to find it again (a file path or a member name).
    """

    name: str
    key: str
    location: str


def open_regular(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Open a regular file without ever blocking; return ``(file descriptor, size)``.

    Raises
    ------
    InputError
        If the path cannot be opened or is not a regular file (FIFO, device, socket, folder).
    """
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        raise InputError(f"cannot open the file ({error.strerror or error})", path=path) from error
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise InputError("is not a regular file (a device, FIFO, socket or folder); refusing to read it", path=path)
        return descriptor, status.st_size
    except BaseException:
        os.close(descriptor)
        raise


def read_fully(descriptor: int, view: memoryview, offset: int) -> int:
    """Read into `view` from `offset` until it is full or the file ends; return the bytes read."""
    done = 0
    total = len(view)
    while done < total:
        count = (
            os.preadv(descriptor, [view[done:]], offset + done)
            if hasattr(os, "preadv")
            else _pread_into(descriptor, view[done:], offset + done)
        )
        if count <= 0:
            break
        done += count
    return done


def _pread_into(descriptor: int, view: memoryview, offset: int) -> int:  # pragma: no cover - non-POSIX
    data = os.pread(descriptor, len(view), offset)
    view[: len(data)] = data
    return len(data)


class Source(ABC):
    """Candidate files of one input (a folder, a file's folder, an archive).

    Parameters
    ----------
    path : pathlib.Path
        The input as the user gave it; errors about the whole input name it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @abstractmethod
    def members(self) -> list[Member]:
        """The candidate files, sorted by :attr:`Member.key`."""

    @abstractmethod
    def scan(self, function: Callable[[Member, PrefixReader, int], T], workers: int) -> Iterator[T]:
        """Call ``function(member, read_prefix, size)`` for every member, yielding the results.

        Results come in the order of :meth:`members` for random-access sources; a
        streaming source (a compressed tar) may yield in archive order instead.
        """

    @abstractmethod
    def read(self, members: Sequence[Member], function: Callable[[Member, BinaryIO], None], workers: int) -> None:
        """Call ``function(member, stream)`` for each of `members` with a seekable binary stream.

        Calls may run concurrently (threads) and in any order.
        """

    def same_bytes(self, members: Sequence[Member]) -> bool:
        """Whether the files hold the same bytes (read in full; for one error message, not for loading).

        False for a single file, and when a file cannot be read.
        """
        unique = list({member.key: member for member in members}.values())
        digests: dict[str, bytes] = {}

        def digest(member: Member, stream: BinaryIO) -> None:
            digests[member.key] = hashlib.sha256(stream.read()).digest()

        try:
            self.read(unique, digest, 1)
        except (MvlError, OSError):
            return False
        return len(unique) > 1 and len(digests) == len(unique) and len(set(digests.values())) == 1

    def count(self) -> int | None:
        """The number of members if known without reading the input (for progress), else None."""
        return len(self.members())

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release open handles."""


class FolderSource(Source):
    """The regular files of a folder (and its sub-folders when `recursive`).

    Parameters
    ----------
    folder : pathlib.Path
        The folder to list.
    recursive : bool
        Also list sub-folders (symbolic links to folders are not followed).
    path : pathlib.Path, optional
        The input as the user gave it (a file in `folder`); `folder` by default.
    """

    def __init__(self, folder: Path, recursive: bool, path: Path | None = None) -> None:
        super().__init__(folder if path is None else path)
        self.folder = folder
        self._members = []
        prefix = os.path.join(folder, "")
        for key in sorted(_list_regular_files(folder, recursive)):
            location = prefix + (key if os.sep == "/" else key.replace("/", os.sep))
            self._members.append(Member(name=location, key=key, location=location))

    def members(self) -> list[Member]:
        return list(self._members)

    def scan(self, function: Callable[[Member, PrefixReader, int], T], workers: int) -> Iterator[T]:
        def one(member: Member) -> T:
            try:
                descriptor, size = open_regular(member.location)
            except InputError as error:
                return function(member, _failing_reader(error), -1)
            try:
                return function(member, lambda count: os.pread(descriptor, count, 0), size)
            finally:
                os.close(descriptor)

        if workers <= 1 or len(self._members) < 2:
            yield from map(one, self._members)
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            yield from pool.map(one, self._members, chunksize=1)

    def read(self, members: Sequence[Member], function: Callable[[Member, BinaryIO], None], workers: int) -> None:
        def one(member: Member) -> None:
            descriptor, _ = open_regular(member.location)
            with io.FileIO(descriptor, "rb", closefd=True) as stream:
                function(member, stream)

        if workers <= 1 or len(members) < 2:
            for member in members:
                one(member)
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(one, members):
                pass


def _failing_reader(error: InputError) -> PrefixReader:
    def read(count: int) -> bytes:
        raise error

    return read


def _list_regular_files(folder: Path, recursive: bool) -> Iterator[str]:
    """Relative ``/``-separated paths of the regular files under `folder`."""
    pending: list[tuple[str, str]] = [(os.fspath(folder), "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as error:
            if not prefix:
                raise InputError(f"cannot list the folder ({error.strerror or error})", path=directory) from error
            logger.warning("skipping the unreadable folder %s (%s)", directory, error)
            continue
        for entry in entries:
            try:  # each entry may vanish or dangle on its own
                if entry.is_file():  # follows symbolic links; False for FIFOs, devices, sockets
                    yield prefix + entry.name
                elif recursive and entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, prefix + entry.name + "/"))
                elif not entry.is_dir():
                    logger.debug("skipping %s: not a regular file", entry.path)
            except OSError:  # noqa: PERF203 - a dangling link or a file that vanished
                logger.debug("skipping %s: cannot stat it", entry.path)
