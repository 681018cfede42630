"""Series: scanning every candidate file of an input, and choosing the series to stack.

Files are grouped by (0020,000E) 'Series Instance UID'. Unless a series is named
(``series_uid=``) or ``sloppy=True`` (every image file, whatever its series), the
original mvloader's rule decides: for a folder, the series of the alphanumerically
first DICOM image file; for a file, that file's series. When other series are present
too, a :class:`~mvl.coords.FormatWarning` names them and says how to choose.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from mvl.coords import AmbiguousInputError, FormatWarning, MvlError, MvlWarning, NoImageDataError

from . import elements as el
from .headers import Header, UnreadableHeader, scan_header
from .limits import Limits
from .sources import Member, PrefixReader, Source

__all__ = [
    "Scan",
    "SeriesChoice",
    "check_seed",
    "choose_series",
    "describe_series",
    "handle_broken",
    "relevant_broken",
    "scan_source",
]

logger = logging.getLogger(__name__)


@dataclass
class Scan:
    """What scanning an input found.

    Attributes
    ----------
    images : list of Header
        DICOM files with pixel data, in the order of the source.
    others : list of Header
        DICOM files without pixel data (reports, presentation states, DICOMDIR).
    not_dicom : list of Member
        Files without the DICOM preamble and magic, skipped.
    broken : list of (Member, MvlError)
        DICOM files that cannot be read.
    """

    images: list[Header] = field(default_factory=list)
    others: list[Header] = field(default_factory=list)
    not_dicom: list[Member] = field(default_factory=list)
    broken: list[tuple[Member, MvlError]] = field(default_factory=list)


def scan_source(
    source: Source,
    *,
    keep: Collection[int],
    keep_header: bool,
    workers: int,
    limits: Limits,
    tick: Callable[[int], None],
) -> Scan:
    """Read the header of every member of `source`, sorting the results into a :class:`Scan`."""

    def one(member: Member, read_prefix: PrefixReader, size: int) -> Header | Member | tuple[Member, MvlError]:
        try:
            if size < 0:
                read_prefix(0)  # raises the InputError of a file that cannot be opened
            header = scan_header(
                member,
                read_prefix,
                size,
                keep=keep,
                keep_header=keep_header,
                max_header_bytes=limits.max_header_bytes,
            )
        except MvlError as error:
            return member, error
        finally:
            tick(1)
        return member if header is None else header

    scan = Scan()
    for result in source.scan(one, workers):
        if isinstance(result, Header):
            (scan.images if result.pixel is not None else scan.others).append(result)
        elif isinstance(result, Member):
            scan.not_dicom.append(result)
        else:
            scan.broken.append(result)
    scan.images.sort(key=lambda header: header.member.key)
    return scan


def describe_series(uid: str | None, headers: list[Header]) -> str:
    """One line about a series for messages: UID, modality, description, number of files."""
    first = headers[0]
    parts = [first.text(el.MODALITY) or "?"]
    description = first.description(el.SERIES_DESCRIPTION)
    if description:
        parts.append(repr(description))
    parts.append(f"{len(headers)} file{'s' if len(headers) != 1 else ''}")
    return f"{uid or '(no Series Instance UID)'} ({', '.join(parts)})"


def _by_number(groups: dict[str | None, list[Header]], wanted: str, location: str) -> str | None:
    """The UID of the one series whose (0020,0011) 'Series Number' is `wanted` (a whole number); else `wanted`.

    Raises
    ------
    AmbiguousInputError
        If several series have that number.
    """
    text = wanted.strip()
    if not text.isdigit():
        return wanted
    found = [uid for uid, headers in groups.items() if headers[0].integer(el.SERIES_NUMBER) == int(text)]
    if len(found) > 1:
        listed = "; ".join(describe_series(uid, groups[uid]) for uid in found[:6])
        raise AmbiguousInputError(
            f"{len(found)} series have (0020,0011) 'Series Number' {text}: {listed}. Name one by its Series "
            "Instance UID",
            path=location,
        )
    return found[0] if found else wanted


def group_series(headers: list[Header]) -> dict[str | None, list[Header]]:
    """Headers grouped by (0020,000E) 'Series Instance UID', groups in order of their first file."""
    groups: dict[str | None, list[Header]] = {}
    for header in headers:
        groups.setdefault(header.text(el.SERIES_INSTANCE_UID), []).append(header)
    return groups


@dataclass
class SeriesChoice:
    """The chosen files and the warnings the choice gives."""

    uid: str | None
    headers: list[Header]
    warnings: list[tuple[type[MvlWarning], str]] = field(default_factory=list)


def choose_series(scan: Scan, *, location: str, seed: str | None, series_uid: str | None, sloppy: bool) -> SeriesChoice:
    """Choose the files to stack.

    Parameters
    ----------
    scan : Scan
        The scanned input.
    location : str
        The input, for messages.
    seed : str or None
        :attr:`Member.key` of the file the user named, which decides the series.
    series_uid : str or None
        The series to load: its (0020,000E) 'Series Instance UID', or a whole number that
        is no series' UID: the one series with that (0020,0011) 'Series Number'.
    sloppy : bool
        Ignore the series: every image file is stacked.

    Raises
    ------
    NoImageDataError
        No image files, the named file has no pixel data, or no file of the named series.
    """
    if seed is not None and not any(header.member.key == seed for header in scan.images):
        other = next((header for header in scan.others if header.member.key == seed), None)
        what = (
            f"a DICOM file without pixel data ((0008,0016) 'SOP Class UID' {other.text(el.SOP_CLASS_UID)})"
            if other is not None
            else "not a DICOM image file"
        )
        raise NoImageDataError(f"is {what}", path=location)
    if not scan.images:
        found = []
        if scan.others:
            found.append(f"{len(scan.others)} DICOM files without pixel data")
        if scan.not_dicom:
            found.append(f"{len(scan.not_dicom)} files that are not DICOM")
        raise NoImageDataError(
            f"no DICOM image files found{' (only ' + ', '.join(found) + ')' if found else ''}", path=location
        )
    if sloppy:
        return SeriesChoice(None, list(scan.images))
    groups = group_series(scan.images)
    if series_uid is not None:
        if series_uid not in groups:
            series_uid = _by_number(groups, series_uid, location)
        if series_uid not in groups:
            available = "; ".join(describe_series(uid, headers) for uid, headers in list(groups.items())[:6])
            raise NoImageDataError(
                f"no image files of the series {series_uid!r} (0020,000E) 'Series Instance UID'; found: {available}",
                path=location,
            )
        return SeriesChoice(series_uid, groups[series_uid])
    # The file given, or the alphanumerically first image file (images are sorted by key).
    chosen = scan.images[0] if seed is None else next(header for header in scan.images if header.member.key == seed)
    uid = chosen.text(el.SERIES_INSTANCE_UID)
    choice = SeriesChoice(uid, groups[uid])
    if len(groups) > 1:
        others = [(other, headers) for other, headers in groups.items() if other != uid]
        listed = "; ".join(describe_series(other, headers) for other, headers in others[:5])
        if len(others) > 5:
            listed += f"; and {len(others) - 5} more"
        reason = "the file given" if seed is not None else f"its alphanumerically first image file {chosen.member.key}"
        choice.warnings.append(
            (
                FormatWarning,
                f"{location}: holds {len(groups)} series; loaded {describe_series(uid, groups[uid])}, chosen by "
                f"{reason}. Also here: {listed}. Pass series_uid= to choose one; list_series() lists them",
            )
        )
    return choice


def check_seed(scan: Scan, seed: str | None) -> None:
    """A file the user named must be readable, whatever else is skipped."""
    for member, error in scan.broken:
        if member.key == seed:
            raise error


def relevant_broken(
    scan: Scan, uid: str | None, sloppy: bool, location: str, collected: list[tuple[type[MvlWarning], str]]
) -> list[tuple[Member, MvlError]]:
    """Unreadable files that may be of the chosen series; DICOM files with broken headers of no known
    part in it are skipped with one warning.

    A file with the DICOM magic whose header cannot be parsed is of the chosen series
    when its (0020,000E) 'Series Instance UID' was read and is the chosen one; one whose
    series could not be read is skipped like the files of other series (had it held a
    slice, the spacing check says so). Files that cannot be read at all (I/O errors,
    damaged archive members) and every file with ``sloppy`` stay relevant.
    """
    relevant = []
    others = []
    for member, error in scan.broken:
        other = getattr(error, "series_uid", None)
        if sloppy or not isinstance(error, UnreadableHeader) or (other is not None and other == uid):
            relevant.append((member, error))
        else:
            others.append((member, error, other))
    if others:
        shown = ", ".join(
            f"{member.key} ({'series ' + other if other else 'series unreadable'})" for member, _, other in others[:5]
        )
        more = f" and {len(others) - 5} more" if len(others) > 5 else ""
        collected.append(
            (
                FormatWarning,
                f"{location}: skipped {len(others)} DICOM file(s) whose header cannot be read and that are not known "
                f"to be of the loaded series: "
                f"{shown}{more} (first: {others[0][1].message})",
            )
        )
    return relevant


def handle_broken(
    broken: list[tuple[Member, MvlError]], skip: bool, location: str, collected: list[tuple[type[MvlWarning], str]]
) -> list[str]:
    if not broken:
        return []
    if not skip:
        member, error = broken[0]
        more = f" ({len(broken) - 1} more unreadable files)" if len(broken) > 1 else ""
        raise type(error)(
            f"{error.message}{more}; pass skip_broken=True to skip unreadable files", path=error.path or member.name
        ) from error
    names = [member.key for member, _ in broken]
    reasons = "; ".join(str(error) for _, error in broken[:3])
    collected.append((FormatWarning, f"{location}: skipped {len(names)} unreadable DICOM file(s): {reasons}"))
    return names
