"""Archives (zip, tar, tar.gz, tar.bz2, tar.xz) as sources of DICOM files: read in memory, never extracted.

Nothing is ever written to disk, and no member is trusted:

- a member name that is absolute (``/etc/x``, ``C:\\x``) or climbs out (``..``), a
  symbolic or hard link, a device, a FIFO, and two members with the same name (a file
  appended to a tar to replace an earlier one) make the whole archive refused with
  :class:`~mvl.coords.SecurityError`;
- the total uncompressed size that the members declare, and the number of members,
  are checked against :class:`~mvl.dicom.Limits` before anything is decompressed, and
  no member is read past its declared size (zip bombs get
  :class:`~mvl.coords.ResourceLimitError`);
- every member is read through the same header checks as files in a folder: which
  series is loaded follows the same rule, and an injected file of another series is
  named in the warning about several series.

Zip members and members of an uncompressed tar are read where they are; a compressed
tar is streamed twice (headers, then the pixels of the chosen series), so memory holds
one member at a time.
"""

from __future__ import annotations

import io
import lzma
import os
import re
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO, TypeVar

from mvl.coords import FormatError, InputError, ResourceLimitError, SecurityError

from .limits import Limits
from .magic import ArchiveKind
from .sources import Member, PrefixReader, Source, open_regular, read_fully

__all__ = ["TarSource", "ZipSource", "open_archive"]

T = TypeVar("T")

_DRIVE = re.compile(r"^[A-Za-z]:")


#: What zipfile raises for damaged archives (its own, and those of the decompressors and parsers under it).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    IndexError,
    struct.error,
    zlib.error,
    lzma.LZMAError,
)


def check_member_name(name: str, archive: Path) -> str:
    """Return the member's path relative to the archive root, or raise SecurityError."""
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or _DRIVE.match(normalized):
        raise SecurityError(f"member {name!r} has an absolute path; refusing the archive", path=archive)
    if ".." in PurePosixPath(normalized).parts:
        raise SecurityError(f"member {name!r} climbs out of the archive with '..'; refusing the archive", path=archive)
    return "/".join(part for part in PurePosixPath(normalized).parts if part not in (".", ""))


class _Budget:
    """Counts members and declared bytes against the limits."""

    def __init__(self, archive: Path, limits: Limits) -> None:
        self.archive, self.limits = archive, limits
        self.members = 0
        self.bytes = 0
        self.names: set[str] = set()

    def add(self, key: str, size: int) -> None:
        if key in self.names:
            raise SecurityError(
                f"member {key!r} appears twice (a later copy would replace the first when extracted); "
                "refusing the archive",
                path=self.archive,
            )
        self.names.add(key)
        self.members += 1
        self.bytes += max(size, 0)
        if self.members > self.limits.max_archive_members:
            raise ResourceLimitError(
                f"has more than {self.limits.max_archive_members} members (Limits.max_archive_members)",
                path=self.archive,
            )
        if self.bytes > self.limits.max_archive_bytes:
            raise ResourceLimitError(
                f"its members hold more than {self.limits.max_archive_bytes} bytes uncompressed "
                f"(Limits.max_archive_bytes; a zip bomb?); raise the limit if the archive is genuine",
                path=self.archive,
            )


class ZipSource(Source):
    """The regular members of a zip archive."""

    def __init__(self, archive: Path, limits: Limits) -> None:
        super().__init__(archive)
        try:
            self._zip = zipfile.ZipFile(archive)
        except _ZIP_ERRORS as error:
            raise FormatError(f"is not a readable zip archive ({error})", path=archive) from error
        budget = _Budget(archive, limits)
        self._infos: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            if not info.filename:
                raise FormatError("has a member without a name: a damaged zip archive", path=archive)
            key = check_member_name(info.filename, archive)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise SecurityError(f"member {info.filename!r} is a symbolic link; refusing the archive", path=archive)
            if info.is_dir() or stat.S_ISDIR(mode):
                continue
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                raise SecurityError(
                    f"member {info.filename!r} is not a regular file (mode {oct(mode)}); refusing the archive",
                    path=archive,
                )
            if info.flag_bits & 0x1:
                raise InputError(f"member {info.filename!r} is encrypted", path=archive)
            budget.add(key, info.file_size)
            self._infos[key] = info
        self._members = [
            Member(name=f"{archive}!{key}", key=key, location=self._infos[key].filename) for key in sorted(self._infos)
        ]

    def members(self) -> list[Member]:
        return list(self._members)

    def _read(self, member: Member, count: int) -> bytes:
        info = self._infos[member.key]
        try:
            with self._zip.open(info) as stream:
                return stream.read(min(count, info.file_size))
        except _ZIP_ERRORS as error:
            raise FormatError(f"cannot read member {member.key!r} ({error})", path=self.path) from error

    def scan(self, function: Callable[[Member, PrefixReader, int], T], workers: int) -> Iterator[T]:
        for member in self._members:
            size = self._infos[member.key].file_size
            yield function(member, lambda count, member=member: self._read(member, count), size)  # type: ignore[misc]

    def read(self, members: Sequence[Member], function: Callable[[Member, BinaryIO], None], workers: int) -> None:
        for member in members:
            function(member, io.BytesIO(self._read(member, self._infos[member.key].file_size)))

    def close(self) -> None:
        self._zip.close()


def _check_tar_member(info: tarfile.TarInfo, archive: Path) -> str | None:
    """The member's key if it is a regular file, None for folders; SecurityError for anything else."""
    key = check_member_name(info.name, archive)
    if info.issym() or info.islnk():
        kind = "symbolic" if info.issym() else "hard"
        raise SecurityError(
            f"member {info.name!r} is a {kind} link to {info.linkname!r}; refusing the archive", path=archive
        )
    if info.isdir():
        return None
    if info.ischr() or info.isblk() or info.isfifo() or info.isdev():
        raise SecurityError(f"member {info.name!r} is a device or FIFO; refusing the archive", path=archive)
    if not info.isreg():
        raise SecurityError(f"member {info.name!r} is not a regular file; refusing the archive", path=archive)
    if info.issparse():
        raise FormatError(f"member {info.name!r} is a sparse file, which is not supported", path=archive)
    return key


class TarSource(Source):
    """The regular members of a tar archive, compressed or not.

    An uncompressed tar is read in place, by offset; a compressed one is streamed.
    """

    def __init__(self, archive: Path, kind: ArchiveKind, limits: Limits) -> None:
        super().__init__(archive)
        self.kind = kind
        self.limits = limits
        self._descriptor: int | None = None
        self._entries: dict[str, tuple[int, int]] = {}  # key -> (offset, size), uncompressed only
        self._members: list[Member] | None = None
        if kind == "tar":
            self._descriptor, _ = open_regular(archive)
            budget = _Budget(archive, limits)
            try:
                with tarfile.open(archive, mode="r:") as tar:
                    for info in tar:
                        key = _check_tar_member(info, archive)
                        if key is not None:
                            budget.add(key, info.size)
                            self._entries[key] = (info.offset_data, info.size)
            except (tarfile.TarError, OSError, EOFError) as error:
                raise FormatError(f"is not a readable tar archive ({error})", path=archive) from error
            self._members = [Member(f"{archive}!{key}", key, key) for key in sorted(self._entries)]

    def _open_stream(self) -> tarfile.TarFile:
        mode = {"tar": "r|", "tar.gz": "r|gz", "tar.bz2": "r|bz2", "tar.xz": "r|xz"}[self.kind]
        try:
            return tarfile.open(self.path, mode=mode)  # type: ignore[call-overload,no-any-return]
        except (tarfile.TarError, OSError, EOFError) as error:
            raise FormatError(f"is not a readable {self.kind} archive ({error})", path=self.path) from error

    def count(self) -> int | None:
        return None if self._members is None else len(self._members)  # unknown until a compressed tar is read

    def members(self) -> list[Member]:
        if self._members is None:  # a compressed tar: one pass to list it
            self._members = [member for member, _, _ in self._stream(None)]
            self._members.sort(key=lambda member: member.key)
        return list(self._members)

    def _stream(self, wanted: set[str] | None) -> Iterator[tuple[Member, tarfile.TarFile, tarfile.TarInfo]]:
        budget = _Budget(self.path, self.limits)
        try:
            with self._open_stream() as tar:
                for info in tar:
                    key = _check_tar_member(info, self.path)
                    if key is None:
                        continue
                    budget.add(key, info.size)
                    if wanted is None or key in wanted:
                        yield Member(f"{self.path}!{key}", key, key), tar, info
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            raise FormatError(f"cannot read the {self.kind} archive ({error})", path=self.path) from error

    def _pread(self, key: str, count: int) -> bytes:
        assert self._descriptor is not None
        offset, size = self._entries[key]
        count = min(count, size)
        buffer = bytearray(count)
        done = read_fully(self._descriptor, memoryview(buffer), offset)
        if done < count:
            raise FormatError(f"member {key!r} is truncated", path=self.path)
        return bytes(buffer)

    def scan(self, function: Callable[[Member, PrefixReader, int], T], workers: int) -> Iterator[T]:
        if self.kind == "tar":
            assert self._members is not None
            for member in self._members:
                size = self._entries[member.key][1]
                yield function(member, lambda count, key=member.key: self._pread(key, count), size)  # type: ignore[misc]
            return
        for member, tar, info in self._stream(None):
            stream = tar.extractfile(info)
            assert stream is not None
            yield function(member, _CachingReader(stream, info.size).read, info.size)

    def read(self, members: Sequence[Member], function: Callable[[Member, BinaryIO], None], workers: int) -> None:
        if self.kind == "tar":
            for member in members:
                function(member, io.BytesIO(self._pread(member.key, self._entries[member.key][1])))
            return
        by_key = {member.key: member for member in members}
        for member, tar, info in self._stream(set(by_key)):
            stream = tar.extractfile(info)
            assert stream is not None
            data = stream.read(info.size)
            if len(data) < info.size:
                raise FormatError(f"member {member.key!r} is truncated", path=self.path)
            function(by_key[member.key], io.BytesIO(data))

    def close(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None


class _CachingReader:
    """``read(n)``: the first `n` bytes of a forward-only stream, remembering what was read."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self._stream = stream
        self._size = size
        self._data = b""

    def read(self, count: int) -> bytes:
        count = min(count, self._size)
        if count > len(self._data):
            self._data += self._stream.read(count - len(self._data))
        return self._data[:count]


def open_archive(path: Path, kind: ArchiveKind, limits: Limits) -> Source:
    """The source for an archive of the given kind."""
    if kind == "zip":
        return ZipSource(path, limits)
    return TarSource(path, kind, limits)
