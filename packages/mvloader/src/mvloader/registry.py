"""Which formats are installed, and which one a path holds.

Formats register themselves under the entry-point group ``mvl.formats`` (see
:class:`mvl.coords.formats.Format`): the project's own and any third-party package's.
Everything mvloader does with a format (load and save options, the ``mvl`` command's
choices, batch discovery and output endings) follows from its record; no module here
or elsewhere in mvloader names one, except the table :data:`KNOWN_FORMATS`.

Detection looks at the content first (each installed format's ``sniff``: magic bytes,
folders, archives) and at the name second, so a misnamed file is still found.
:data:`KNOWN_FORMATS` holds the project's formats as far as an install hint needs them:
a path in one whose package is not installed gets a
:class:`~mvl.coords.MissingDependencyError` naming the ``pip install`` that brings it.
Its signatures read files with :func:`mvl.coords.heads.peek`, as the formats' own
``sniff`` functions do, so detection gives the same answer whether or not a format's
package is installed.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Final

from mvl.coords import MissingDependencyError, UnsupportedFormatError
from mvl.coords.files import input_file
from mvl.coords.formats import ENTRY_POINT_GROUP, Format
from mvl.coords.heads import Head, peek

__all__ = [
    "KNOWN_FORMATS",
    "KnownFormat",
    "detect_format",
    "format_for_saving",
    "input_suffixes",
    "installed_formats",
    "output_suffixes",
    "sniffs",
]

_HEAD_BYTES: Final = 2048
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnownFormat:
    """One of the project's formats, as far as the hint for installing it needs it.

    Attributes
    ----------
    name : str
        The name its :class:`~mvl.coords.formats.Format` registers under.
    title : str
        How messages write it, e.g. ``"NIfTI"``.
    extra : str
        The extra of ``mvloader`` that installs it.
    signature : callable
        ``signature(head) -> bool`` on what :func:`mvl.coords.heads.peek` read: whether
        the file's first bytes are this format's, as its ``sniff`` judges them.
    suffixes, save_suffixes : tuple of str
        File name endings it reads and saves (lower case).
    folders : bool
        Whether it reads folders.
    """

    name: str
    title: str
    extra: str
    signature: Callable[[Head], bool]
    suffixes: tuple[str, ...]
    save_suffixes: tuple[str, ...] = ()
    folders: bool = False

    @property
    def install(self) -> str:
        """str: The command that installs it."""
        return f'pip install "mvloader[{self.extra}]"'

    def matches_suffix(self, path: Path, *, saving: bool = False) -> bool:
        """Whether the name of `path` ends in one of the (save) suffixes, ignoring case."""
        name = path.name.lower()
        return any(name.endswith(suffix) for suffix in (self.save_suffixes if saving else self.suffixes))


def _nifti_signature(head: Head) -> bool:
    # NIfTI-1 magic at byte 344, NIfTI-2 at byte 4; plain or gzip-compressed.
    content = head.content if head.compression in (None, "gzip") else b""
    return content[344:348] in (b"n+1\0", b"ni1\0") or content[4:8] in (b"n+2\0", b"ni2\0")


def _nrrd_signature(head: Head) -> bool:
    return re.fullmatch(rb"NRRD000[0-9]", head.stored[:8]) is not None


# A MetaImage header: its first field ObjectType = Image or NDims, and an NDims line.
_METAIMAGE_FIRST: Final = re.compile(rb"\A\s*(?:ObjectType\s*[=:]\s*Image\b|NDims\s*[=:]\s*[0-9])", re.IGNORECASE)
_METAIMAGE_NDIMS: Final = re.compile(rb"^\s*NDims\s*[=:]\s*[0-9]+\s*$", re.MULTILINE)


def _metaimage_signature(head: Head) -> bool:
    return _METAIMAGE_FIRST.match(head.stored) is not None and _METAIMAGE_NDIMS.search(head.stored) is not None


def _dicom_signature(head: Head) -> bool:
    # A DICOM file (PS3.10 7.1), a zip, or a tar (plain or inside gzip, bzip2, xz).
    return (
        head.stored[128:132] == b"DICM"
        or head.stored.startswith((b"PK\x03\x04", b"PK\x05\x06"))
        or head.content[257:262] == b"ustar"
    )


_ARCHIVES: Final = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tbz2", ".tar.xz", ".txz")
_NIFTI_SUFFIXES: Final = (".nii.gz", ".nii", ".hdr.gz", ".img.gz", ".hdr", ".img")

#: The project's formats, known even when not installed: only for install hints, in
#: the order their signatures are tried.
KNOWN_FORMATS: Final = (
    KnownFormat("nifti", "NIfTI", "nifti", _nifti_signature, _NIFTI_SUFFIXES, _NIFTI_SUFFIXES),
    KnownFormat("nrrd", "NRRD", "nrrd", _nrrd_signature, (".nrrd", ".nhdr"), (".nrrd", ".nhdr")),
    KnownFormat("metaimage", "MetaImage", "metaimage", _metaimage_signature, (".mha", ".mhd"), (".mha", ".mhd")),
    KnownFormat("dicom", "DICOM", "dicom", _dicom_signature, (".dcm", ".dicom", ".ima", *_ARCHIVES), folders=True),
)


@cache
def installed_formats() -> dict[str, Format]:
    """Return the installed formats by name, as registered under ``mvl.formats``.

    Returns
    -------
    dict of str to Format
        The formats installed through an extra of mvloader first (the project's own),
        then the others, each group in name order; this is the order in which their
        ``sniff`` functions are asked. A plugin that fails to load is skipped.
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
    return {fmt.name: fmt for fmt in sorted(found.values(), key=lambda fmt: (not fmt.extra, fmt.name))}


def _usable(known: KnownFormat, path: Path) -> Format:
    """The installed format `known` names, or the error that says how to install it."""
    installed = installed_formats().get(known.name)
    if installed is None:
        raise MissingDependencyError(
            f"this is {known.title} data, but no {known.name} reader is installed; {known.install}", path=path
        )
    return installed


def detect_format(path: str | os.PathLike[str]) -> Format:
    """Return the installed format that can load `path`.

    Parameters
    ----------
    path : str or os.PathLike
        A file, a folder or an archive.

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
    formats = installed_formats()
    if candidate.is_dir():
        for fmt in formats.values():
            if sniffs(fmt, candidate):
                return fmt
        for known in KNOWN_FORMATS:
            if known.folders:
                return _usable(known, candidate)
        raise UnsupportedFormatError(
            f"is a folder, and no installed format reads folders; installed formats: {', '.join(formats) or 'none'}",
            path=candidate,
        )
    checked = input_file(candidate)
    for fmt in formats.values():  # each installed format knows its own signatures best
        if sniffs(fmt, checked):
            return fmt
    head = peek(checked, _HEAD_BYTES)
    for known in KNOWN_FORMATS:  # ours, not installed: say what to install
        if known.signature(head):
            return _usable(known, checked)
    for fmt in formats.values():
        if fmt.matches_suffix(checked):
            return fmt
    for known in KNOWN_FORMATS:
        if known.matches_suffix(checked):
            return _usable(known, checked)
    titles = [known.title for known in KNOWN_FORMATS]
    raise UnsupportedFormatError(
        f"not a format mvloader reads: no {', '.join(titles[:-1])} or {titles[-1]} signature in its first bytes "
        f"({head.stored[:16]!r}...) and no known file name ending; installed formats: {', '.join(formats) or 'none'}",
        path=checked,
    )


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
    for fmt in installed_formats().values():
        if fmt.save is not None and fmt.matches_suffix(target, saving=True):
            return fmt
    for known in KNOWN_FORMATS:
        if known.matches_suffix(target, saving=True):
            return _usable(known, target)
    endings = ", ".join(sorted(output_suffixes()))
    raise UnsupportedFormatError(
        f"cannot tell the format to save from the file name; use one of the endings {endings}", path=target
    )


def output_suffixes() -> tuple[str, ...]:
    """The endings a volume can be saved under, e.g. ``".nii.gz"``.

    Those of the installed formats that save, in their order, then those of known
    formats that are not installed (saving to one gives its install hint).
    """
    installed = installed_formats()
    found = [suffix for fmt in installed.values() if fmt.save is not None for suffix in fmt.save_suffixes]
    found += [suffix for known in KNOWN_FORMATS if known.name not in installed for suffix in known.save_suffixes]
    return tuple(dict.fromkeys(found))


def input_suffixes() -> tuple[str, ...]:
    """The endings the installed formats read, longest first (to strip the one a name ends in)."""
    found = {suffix for fmt in installed_formats().values() for suffix in fmt.suffixes}
    return tuple(sorted(found, key=lambda suffix: (-len(suffix), suffix)))
