"""Which formats are installed, and which one a path holds.

Formats register themselves under the entry-point group ``mvl.formats`` (see
:class:`mvl.coords.formats.Format`): the three of this project (``dicom``, ``nifti``,
``nrrd``) and any third-party package. Detection looks at the content first (magic
bytes; folders and archives are DICOM) and at the name second, so a misnamed file is
still found. Each installed format's own ``sniff`` decides first; the signatures kept
here serve the formats that are not installed and as a fallback. A path in one of our
formats whose package is not installed gets a :class:`~mvl.coords.MissingDependencyError`
naming the ``pip install`` that brings it.
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Final

from mvl.coords import MissingDependencyError, UnsupportedFormatError
from mvl.coords.files import input_file
from mvl.coords.formats import ENTRY_POINT_GROUP, Format

__all__ = [
    "KNOWN_FORMATS",
    "KnownFormat",
    "content_kind",
    "detect_format",
    "format_for_saving",
    "installed_formats",
    "is_third_party",
    "sniffs",
]

_HEAD_BYTES: Final = 2048
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnownFormat:
    """What the umbrella knows of one of the project's formats without its package."""

    name: str
    extra: str
    suffixes: tuple[str, ...]
    save_suffixes: tuple[str, ...]
    recognise: Callable[[bytes], bool]

    @property
    def install(self) -> str:
        return f'pip install "mvloader[{self.extra}]"'


def _is_nifti(head: bytes) -> bool:
    return head[344:348] in (b"n+1\0", b"ni1\0") or head[4:8] == b"n+2\0"


def _is_nrrd(head: bytes) -> bool:
    return head.startswith(b"NRRD000")


def _is_archive(head: bytes) -> bool:
    # zip, bzip2, xz, or gzip that is not NIfTI (a .tar.gz); or an uncompressed tar
    return (
        head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"BZh", b"\xfd7zXZ\x00", b"\x1f\x8b"))
        or head[257:262] == b"ustar"
    )


def _is_dicom(head: bytes) -> bool:
    return head[128:132] == b"DICM" or _is_archive(head)


#: The project's formats, in detection order.
KNOWN_FORMATS: Final = (
    KnownFormat("nifti", "nifti", (".nii.gz", ".nii", ".hdr", ".img"), (".nii.gz", ".nii"), _is_nifti),
    KnownFormat("nrrd", "nrrd", (".nrrd", ".nhdr"), (".nrrd", ".nhdr"), _is_nrrd),
    KnownFormat(
        "dicom",
        "dicom",
        (".dcm", ".dicom", ".ima", ".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tbz2", ".tar.xz", ".txz"),
        (),
        _is_dicom,
    ),
)


@cache
def installed_formats() -> dict[str, Format]:
    """Return the installed formats by name, as registered under ``mvl.formats``.

    Returns
    -------
    dict of str to Format
        Our formats first (``nifti``, ``nrrd``, ``dicom`` when installed), then
        third-party ones in name order. A plugin that fails to load is skipped.
    """
    found: dict[str, Format] = {}
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        try:
            candidate = point.load()
        except Exception as error:  # a broken plugin must not break the other formats
            _log.warning("skipping the format plugin %s (%s): %s", point.name, point.value, error)
            continue
        if isinstance(candidate, Format):
            found[candidate.name] = candidate
    known = [known.name for known in KNOWN_FORMATS if known.name in found]
    return {name: found[name] for name in known + sorted(set(found) - set(known))}


def _head(path: Path) -> bytes:
    """The first bytes of a file; for gzip, of its content (NIfTI .nii.gz)."""
    with open(path, "rb") as stream:
        head = stream.read(_HEAD_BYTES)
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path, "rb") as inflated:
                content = inflated.read(_HEAD_BYTES)
        except (OSError, EOFError, zlib.error):
            return head
        return content if _is_nifti(content) else head
    return head


def content_kind(path: Path) -> str | None:
    """What a file holds by its first bytes: ``"nifti"``, ``"nrrd"``, ``"dicom"`` (a DICOM
    file), ``"archive"`` (zip, tar, compressed tar), or None; one read, never raises."""
    try:
        head = _head(path)
    except OSError:
        return None
    if _is_nifti(head):
        return "nifti"
    if _is_nrrd(head):
        return "nrrd"
    if head[128:132] == b"DICM":
        return "dicom"
    return "archive" if _is_archive(head) else None


def _known(name: str) -> KnownFormat | None:
    return next((known for known in KNOWN_FORMATS if known.name == name), None)


def _usable(name: str, path: Path) -> Format:
    formats = installed_formats()
    if name in formats:
        return formats[name]
    known = _known(name)
    hint = f"; {known.install}" if known else ""
    raise MissingDependencyError(f"this is {name.upper()} data, but no {name} reader is installed{hint}", path=path)


def detect_format(path: str | os.PathLike[str]) -> Format:
    """Return the installed format that can load `path`.

    Parameters
    ----------
    path : str or os.PathLike
        A file, a folder (DICOM) or an archive (DICOM).

    Returns
    -------
    Format

    Raises
    ------
    InputError
        If `path` does not exist, or is neither a folder nor a regular file.
    MissingDependencyError
        If `path` holds one of our formats whose package is not installed; the
        message names the ``pip install`` to run.
    UnsupportedFormatError
        If no installed or known format recognises `path`.
    """
    candidate = Path(path)
    if candidate.is_dir():
        return _usable("dicom", candidate)
    checked = input_file(candidate)
    formats = installed_formats()
    for fmt in formats.values():  # each installed format knows its own signatures best
        if sniffs(fmt, checked):
            return fmt
    head = _head(checked)
    for known in KNOWN_FORMATS:  # ours, not installed: say what to install
        if known.recognise(head):
            return _usable(known.name, checked)
    for fmt in formats.values():
        if fmt.matches_suffix(checked):
            return fmt
    for known in KNOWN_FORMATS:
        if any(checked.name.lower().endswith(suffix) for suffix in known.suffixes):
            return _usable(known.name, checked)
    raise UnsupportedFormatError(
        f"not a format mvloader reads: no NIfTI, NRRD or DICOM signature in its first bytes "
        f"({head[:16]!r}...) and no known file name ending; installed formats: {', '.join(formats) or 'none'}",
        path=checked,
    )


def is_third_party(name: str) -> bool:
    """Whether `name` is a format added by another package (not dicom, nifti or nrrd)."""
    return _known(name) is None


def sniffs(fmt: Format, path: Path) -> bool:
    """Whether `fmt` claims `path`; a plugin that raises counts as "no"."""
    try:
        return bool(fmt.sniff(path))
    except Exception:  # a plugin's sniff must not break detection
        return False


def format_for_saving(path: str | os.PathLike[str]) -> Format:
    """Return the installed format that saves to `path`, chosen by its file name ending.

    Raises
    ------
    UnsupportedFormatError
        If no format saves to that ending.
    MissingDependencyError
        If the ending belongs to one of our formats that is not installed.
    """
    target = Path(path)
    name = target.name.lower()
    for fmt in installed_formats().values():
        if fmt.save is not None and fmt.matches_suffix(target, saving=True):
            return fmt
    for known in KNOWN_FORMATS:
        if any(name.endswith(suffix) for suffix in known.save_suffixes):
            return _usable(known.name, target)
    endings = sorted({s for known in KNOWN_FORMATS for s in known.save_suffixes})
    raise UnsupportedFormatError(
        f"cannot tell the format to save from the file name; use one of the endings {', '.join(endings)}",
        path=target,
    )
