"""`list_series`: what a folder tree or an archive holds, one record per series, from headers only."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mvl.coords import FormatWarning, MvlError, Volume
from mvl.coords.errors import warn

from . import elements as el
from .acquisition import Acquisition, acquisition_of, complex_kind
from .frame import Frame
from .frames import frames_of
from .geometry import ORIENTATION_TOLERANCE
from .headers import Header
from .inputs import open_source
from .kinds import KindKey, kind_key, kind_labels
from .limits import DEFAULT_LIMITS, Limits
from .mosaic import MOSAIC_TAGS, Mosaic, is_mosaic, read_mosaic
from .progress import ProgressCallback, reporter
from .series import group_series, scan_source
from .sources import FolderSource
from .stack import open_stack

__all__ = ["SeriesInfo", "Survey", "list_series", "orientation_label", "survey"]


@dataclass(frozen=True)
class SeriesInfo:
    """One series found by :func:`list_series`.

    Attributes
    ----------
    uid : str or None
        (0020,000E) 'Series Instance UID'.
    number : int or None
        (0020,0011) 'Series Number'.
    modality : str or None
        (0008,0060) 'Modality'.
    description : str or None
        (0008,103E) 'Series Description'.
    study_uid : str or None
        (0020,000D) 'Study Instance UID'.
    date : str or None
        (0008,0021) 'Series Date', else (0008,0020) 'Study Date' (YYYYMMDD).
    files : int
        Image files of the series.
    frames : int
        Frames in them: one per single-frame file, one per frame of a multi-frame object,
        one per tile (slice) of a Siemens mosaic.
    rows, columns : int or None
        The most common image size; for a Siemens mosaic its tiles' (a slice's), not the
        mosaic image's.
    sizes : tuple of (int, int)
        Every image size present, most common first (tiles for mosaics).
    orientation : str
        ``"axial"``, ``"coronal"``, ``"sagittal"``, ``"oblique axial"`` (...),
        ``"mixed (N orientations)"`` or ``"none"``, from (0020,0037) 'Image Orientation (Patient)'.
    path : pathlib.Path
        A path :func:`~mvl.dicom.open_stack` accepts for this series: its first file when
        all its files share one folder, else their common folder or the archive.
    recursive : bool
        Whether loading from :attr:`path` needs ``recursive=True``.
    patient_id : str or None
        (0010,0020) 'Patient ID'.
    study_description : str or None
        (0008,1030) 'Study Description'.
    volumes : int
        How many volumes :func:`~mvl.dicom.open_stack` loads by default: the most images
        of its first kind at one slice position (1 for a 3D series; an estimate from
        the headers, which loading checks).
    kinds : tuple of str
        The kinds of images the series holds at the same positions, which load separately
        (echoes, magnitude and phase, derived maps; see :mod:`mvl.dicom.kinds`), first
        the one loaded by default; empty when it holds one kind.
    slices : int or None
        For a Siemens mosaic series, the slices of each volume (``NumberOfImagesInMosaic``:
        one per tile of a file); None for other series, whose frames are their slices.
    protocol : str or None
        (0018,1030) 'Protocol Name'.
    """

    uid: str | None
    number: int | None
    modality: str | None
    description: str | None
    study_uid: str | None
    date: str | None
    files: int
    frames: int
    rows: int | None
    columns: int | None
    sizes: tuple[tuple[int, int], ...]
    orientation: str
    path: Path
    recursive: bool = False
    patient_id: str | None = None
    study_description: str | None = None
    volumes: int = 1
    kinds: tuple[str, ...] = ()
    slices: int | None = None
    protocol: str | None = None

    def open(self, **options: Any) -> Volume:
        """Load this series: ``open_stack(self.path, series_uid=self.uid, ...)`` with `options`."""
        options.setdefault("recursive", self.recursive)
        if self.uid is None:
            options.setdefault("sloppy", True)
        else:
            options.setdefault("series_uid", self.uid)
        return open_stack(self.path, **options)

    def __str__(self) -> str:
        size = f"{self.rows}x{self.columns}" if self.rows else "?"
        if self.slices is not None:
            size += f"x{self.slices}"
        text = f"{self.modality or '?'} {self.description or ''!r} {self.files} files, {self.frames} frames, {size}"
        if self.volumes > 1:
            text += f" x {self.volumes} volumes"
        if self.kinds:
            text += f" ({len(self.kinds)} kinds: {', '.join(self.kinds)})"
        return f"{self.uid}: {text}, {self.orientation} ({self.path})"


@dataclass(frozen=True)
class Survey:
    """What :func:`survey` found: the series, and the files that are not DICOM.

    Attributes
    ----------
    series : list of SeriesInfo
        As :func:`list_series` returns them.
    other_files : list of pathlib.Path
        Regular files of a scanned folder tree that are not DICOM (no ``DICM`` at
        byte 128): NIfTI, NRRD, archives, anything. Empty when an archive was scanned.
    """

    series: list[SeriesInfo]
    other_files: list[Path]


def orientation_label(orientation: Any) -> str:
    """Name the plane of an (0020,0037) 'Image Orientation (Patient)' (6 direction cosines).

    Examples
    --------
    >>> orientation_label([1, 0, 0, 0, 1, 0]), orientation_label([0, 1, 0, 0, 0, -1])
    ('axial', 'sagittal')
    >>> orientation_label([1, 0, 0, 0, 0.8, -0.6])
    'oblique axial'
    """
    cosines = np.asarray(orientation, dtype=np.float64)
    normal = np.cross(cosines[:3], cosines[3:])
    length = float(np.linalg.norm(normal))
    if length == 0:
        return "none"
    normal = np.abs(normal / length)
    plane = ("sagittal", "coronal", "axial")[int(np.argmax(normal))]
    return plane if normal.max() >= 0.99 else f"oblique {plane}"


class _MosaicCache:
    """``mosaic_of(header)``: what a Siemens mosaic file says about its tiles, read once per listing; None if it
    is not a mosaic or cannot be unpacked (loading it says why)."""

    def __init__(self) -> None:
        self._mosaics: dict[int, Mosaic | None] = {}

    def __call__(self, header: Header) -> Mosaic | None:
        if id(header) not in self._mosaics:
            try:
                self._mosaics[id(header)] = read_mosaic(header) if is_mosaic(header) else None
            except MvlError:
                self._mosaics[id(header)] = None
        return self._mosaics[id(header)]


class _FrameCache:
    """``frames_in(header)``: the frames of a multi-frame object, unpacked once per listing."""

    def __init__(self) -> None:
        self._frames: dict[int, list[Frame]] = {}

    def __call__(self, header: Header) -> list[Frame]:
        if id(header) not in self._frames:
            self._frames[id(header)] = frames_of(header)
        return self._frames[id(header)]


def _orientations(headers: list[Header], frames_in: _FrameCache) -> str:
    groups: list[np.ndarray[Any, Any]] = []
    seen: set[bytes] = set()  # series repeat one orientation: decode each raw value once
    for header in headers:
        found: list[float] | None = None
        raw = header.values.get(el.IMAGE_ORIENTATION)
        single_frame = not header.multi_frame
        if single_frame and raw is not None:
            if raw in seen:
                continue
            seen.add(raw)
        try:
            if not single_frame and header.header_bytes is not None:
                frames = frames_in(header)
                found = None if frames[0].orientation is None else frames[0].orientation.tolist()
            else:
                found = header.floats(el.IMAGE_ORIENTATION)
        except MvlError:
            found = None
        if found is None or len(found) != 6:
            continue
        vector = np.asarray(found)
        if not any(np.max(np.abs(vector - group)) <= ORIENTATION_TOLERANCE for group in groups):
            groups.append(vector)
    if not groups:
        return "none"
    if len(groups) > 1:
        return f"mixed ({len(groups)} orientations)"
    return orientation_label(groups[0])


def _loadable_path(source_path: Path, headers: list[Header], folder_source: bool) -> tuple[Path, bool]:
    if not folder_source:
        return source_path, False
    folders = {os.path.dirname(header.member.location) for header in headers}
    if len(folders) == 1:
        return Path(headers[0].member.location), False
    return Path(os.path.commonpath(sorted(folders))), True


def survey(
    path: str | os.PathLike[str],
    *,
    recursive: bool = True,
    workers: int = 1,
    progress: bool | ProgressCallback | None = None,
    limits: Limits | None = None,
) -> Survey:
    """Survey a folder tree, a DICOM file's folder, or an archive: its series and its other files.

    Like :func:`list_series` (headers only), and also returns the files that are not
    DICOM, so that a caller looking for other formats too reads every file once.

    Parameters
    ----------
    path : str or os.PathLike
        A folder, a DICOM file (its folder is listed) or an archive.
    recursive : bool, optional
        Search sub-folders (default).
    workers, progress, limits
        As for :func:`~mvl.dicom.open_stack`.

    Returns
    -------
    Survey
    """
    limits = DEFAULT_LIMITS if limits is None else limits
    workers = max(1, int(workers))
    source, _ = open_source(path, recursive=recursive, limits=limits)
    try:
        with reporter(progress, "headers", source.count()) as counter:
            scan = scan_source(
                source, keep=_SURVEY_KEPT, keep_header=False, workers=workers, limits=limits, tick=counter.tick
            )
    finally:
        source.close()
    if scan.broken:
        names = ", ".join(member.key for member, _ in scan.broken[:5])
        more = f" and {len(scan.broken) - 5} more" if len(scan.broken) > 5 else ""
        warn(
            f"{source.path}: skipped {len(scan.broken)} unreadable DICOM file(s): {names}{more} "
            f"(first: {scan.broken[0][1]})",
            FormatWarning,
        )
    folder_source = isinstance(source, FolderSource)
    root = source.folder if isinstance(source, FolderSource) else source.path
    result = []
    mosaic_of = _MosaicCache()
    for uid, headers in group_series(scan.images).items():
        first = headers[0]
        sizes = _sizes(headers, mosaic_of)
        frames = 0
        for header in headers:
            mosaic = mosaic_of(header)
            try:  # a broken count must not stop the listing
                frames += mosaic.count if mosaic is not None else max(1, header.integer(el.NUMBER_OF_FRAMES, 1) or 1)
            except MvlError:
                frames += 1
        location, needs_recursion = _loadable_path(root, headers, folder_source)
        (rows, columns), _ = sizes.most_common(1)[0]
        frames_in = _FrameCache()
        volumes, kinds, slices = _volumes_and_kinds(headers, frames_in, mosaic_of)
        result.append(
            SeriesInfo(
                uid=uid,
                number=_safe_int(first),
                modality=first.text(el.MODALITY),
                description=first.description(el.SERIES_DESCRIPTION),
                study_uid=first.text(el.STUDY_INSTANCE_UID),
                date=first.text(el.SERIES_DATE) or first.text(el.STUDY_DATE),
                files=len(headers),
                frames=frames,
                rows=rows or None,
                columns=columns or None,
                sizes=tuple(size for size, _ in sizes.most_common()),
                orientation=_orientations(headers, frames_in),
                path=location,
                recursive=needs_recursion,
                patient_id=first.text(el.PATIENT_ID),
                study_description=first.description(el.STUDY_DESCRIPTION),
                protocol=first.description(el.PROTOCOL_NAME),
                volumes=volumes,
                kinds=kinds,
                slices=slices,
            )
        )
    result.sort(key=lambda info: (info.study_uid or "", info.number if info.number is not None else -1, info.uid or ""))
    others = [Path(member.location) for member in scan.not_dicom] if folder_source else []
    return Survey(result, others)


def list_series(
    path: str | os.PathLike[str],
    *,
    recursive: bool = True,
    workers: int = 1,
    progress: bool | ProgressCallback | None = None,
    limits: Limits | None = None,
) -> list[SeriesInfo]:
    """List the image series in a folder tree, a DICOM file's folder, or an archive; headers only.

    No pixel data is read. Files that are not DICOM are skipped; unreadable DICOM files
    are skipped with one :class:`~mvl.coords.FormatWarning` that names them.

    Parameters
    ----------
    path : str or os.PathLike
        A folder, a DICOM file (its folder is listed) or an archive.
    recursive : bool, optional
        Search sub-folders (default).
    workers, progress, limits
        As for :func:`~mvl.dicom.open_stack`.

    Returns
    -------
    list of SeriesInfo
        Ordered by study, series number and UID.

    Examples
    --------
    >>> from mvl.dicom.testing import write_series
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_series(root / "ct", shape=(4, 4, 3))
    >>> _ = write_series(root / "mr", shape=(6, 5, 2), modality="MR")
    >>> series = sorted(list_series(root), key=lambda info: info.modality)
    >>> [(info.modality, info.files, info.rows, info.columns, info.orientation) for info in series]
    [('CT', 3, 4, 4, 'axial'), ('MR', 2, 6, 5, 'axial')]
    >>> series[1].open().src_data.shape
    (6, 5, 2)
    """
    return survey(path, recursive=recursive, workers=workers, progress=progress, limits=limits).series


def _volumes_and_kinds(
    headers: list[Header], frames_in: _FrameCache, mosaic_of: _MosaicCache
) -> tuple[int, tuple[str, ...], int | None]:
    """The volume and slice counts of the first kind and the labels of the kinds, from the kept header values.

    Single-frame files are counted by their raw values (echo, image type, kernel,
    position), and each distinct combination decoded once; multi-frame objects through
    their frames; a mosaic file is one volume of its tiles. The first kind is the one
    :func:`~mvl.dicom.open_stack` loads by default.
    """
    raw: Counter[tuple[bytes | None, ...]] = Counter()
    positions: dict[KindKey, Counter[tuple[float, ...]]] = {}
    for header in headers:
        if header.multi_frame:
            try:  # a broken object must not stop the listing
                for facts, position in _frame_facts(header, frames_in):
                    positions.setdefault(kind_key(facts), Counter())[_place(position)] += 1
            except MvlError:
                continue
        else:
            raw[tuple(header.values.get(tag) for tag in _KIND_TAGS)] += 1
    example: dict[tuple[bytes | None, ...], Header] = {}
    for header in headers:
        if not header.multi_frame:
            example.setdefault(tuple(header.values.get(tag) for tag in _KIND_TAGS), header)
    tiles: dict[KindKey, int] = {}  # slices per mosaic file, for the kinds of mosaics
    for values, count in raw.items():
        try:
            facts, place = _file_facts(example[values])
        except MvlError:
            continue
        positions.setdefault(kind_key(facts), Counter())[_place(place)] += count
        mosaic = mosaic_of(example[values])
        if mosaic is not None:
            tiles[kind_key(facts)] = mosaic.count
    if not positions:
        return 1, (), None
    ordered = sorted(
        positions,
        key=lambda key: (
            key[6] is None,
            key[6] or 0,
            key[0] is None,
            key[0] or 0,
            str(key[2] or "").startswith("DERIVED"),
        ),
    )
    volumes = max(positions[ordered[0]].values())
    slices = tiles.get(ordered[0])  # mosaics only: other series' slices are their frames
    if len(positions) == 1:
        return volumes, (), slices
    labels = kind_labels(ordered)
    return volumes, tuple(labels[key] for key in ordered), slices


#: What tells kinds and positions apart in a single-frame file's kept values.
_KIND_TAGS = (el.ECHO_NUMBERS, el.ECHO_TIME, el.IMAGE_TYPE, el.CONVOLUTION_KERNEL, el.SERIES_NUMBER, el.IMAGE_POSITION)


def _place(position: Sequence[float] | NDArray[np.float64] | None) -> tuple[float, ...]:
    return () if position is None else tuple(round(float(value), 2) + 0.0 for value in position)


def _frame_facts(header: Header, frames_in: _FrameCache) -> list[tuple[Acquisition, NDArray[np.float64] | None]]:
    return [(acquisition_of(frame), frame.position) for frame in frames_in(header)]


def _file_facts(header: Header) -> tuple[Acquisition, list[float] | None]:
    image_type = header.text(el.IMAGE_TYPE)
    facts = Acquisition(
        echo_number=header.integer(el.ECHO_NUMBERS),
        echo_time=el.first(header.floats(el.ECHO_TIME)),
        image_type=image_type,
        component=complex_kind(None, None, image_type),
        kernel=header.text(el.CONVOLUTION_KERNEL),
        series_number=header.integer(el.SERIES_NUMBER),
    )
    return facts, header.floats(el.IMAGE_POSITION)


def _sizes(headers: list[Header], mosaic_of: _MosaicCache) -> Counter[tuple[int, int]]:
    """How many images have each (Rows, Columns), a mosaic's tiles' for mosaics; each raw pair decoded once."""
    counts: Counter[tuple[bytes | None, bytes | None]] = Counter()
    example: dict[tuple[bytes | None, bytes | None], Header] = {}
    sizes: Counter[tuple[int, int]] = Counter()
    for header in headers:
        mosaic = mosaic_of(header)
        if mosaic is not None:
            sizes[(mosaic.rows, mosaic.columns)] += 1
            continue
        key = (header.values.get(el.ROWS), header.values.get(el.COLUMNS))
        counts[key] += 1
        example.setdefault(key, header)
    for key, count in counts.items():
        header = example[key]
        sizes[(header.integer(el.ROWS) or 0, header.integer(el.COLUMNS) or 0)] += count
    return sizes


#: What listing keeps of each file: :data:`~mvl.dicom.elements.SURVEY_TAGS` and what unpacks a mosaic.
_SURVEY_KEPT = el.SURVEY_TAGS | MOSAIC_TAGS


def _safe_int(header: Header) -> int | None:
    try:
        return header.integer(el.SERIES_NUMBER)
    except MvlError:
        return None
