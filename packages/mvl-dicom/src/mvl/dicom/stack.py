"""`open_stack`: a DICOM series (or multi-frame object, or an archive of them) as one checked Volume."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, overload

import numpy as np
from numpy.typing import NDArray

from mvl.coords import FormatWarning, InputError, MvlError, MvlWarning, NoImageDataError, Volume
from mvl.coords.errors import warn

from . import elements as el
from .acquisition import acquisitions_of
from .frame import Frame, attribute_tag
from .frames import frames_of
from .geometry import DEFAULT_SPACING_TOLERANCE, stack_geometry
from .headers import Header
from .inputs import open_source
from .kinds import chosen_kind, kinds_message, split_kinds
from .limits import DEFAULT_LIMITS, Limits
from .mosaic import MOSAIC_TAGS, mosaic_warnings
from .pixels import PixelLayout, check_decoders, layout_of, plan_output, read_frames
from .progress import ProgressCallback, reporter
from .selection import Selector, select_frames
from .series import check_seed, choose_series, handle_broken, relevant_broken, scan_source
from .slice_timing import protocol_timing, series_slice_timing
from .sources import FolderSource, Member, Source
from .vendor import PRIVATE_TAGS, philips_precise_rescale
from .volumes import VolumeInfo, volume_table

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["DicomStack", "open_stack"]

logger = logging.getLogger(__name__)


class SortedSlices(Sequence["Dataset"]):
    """The headers of the stacked slices as pydicom Datasets (without pixel data), parsed on first access.

    A frame of a multi-frame object is represented by its file's Dataset. Headers whose
    bytes were not kept (files of a folder, which a series has thousands of) are read
    again from their file.
    """

    def __init__(self, headers: Sequence[Header]) -> None:
        self._headers = list(headers)

    @staticmethod
    def _dataset(header: Header) -> Dataset:
        if header.dataset is None and header.header_bytes is None:
            from pydicom import dcmread

            try:
                header.dataset = dcmread(header.member.location, stop_before_pixels=True)
            except (OSError, ValueError) as error:
                raise InputError(f"cannot read the header again ({error})", path=header.name) from error
        return header.load_dataset()

    def __len__(self) -> int:
        return len(self._headers)

    @overload
    def __getitem__(self, index: int) -> Dataset: ...

    @overload
    def __getitem__(self, index: slice) -> list[Dataset]: ...

    def __getitem__(self, index: int | slice) -> Dataset | list[Dataset]:
        if isinstance(index, slice):
            return [self._dataset(header) for header in self._headers[index]]
        return self._dataset(self._headers[index])

    def __iter__(self) -> Iterator[Dataset]:
        for header in self._headers:
            yield self._dataset(header)

    def __repr__(self) -> str:
        return f"<SortedSlices of {len(self)} DICOM headers, parsed on access>"


@dataclass(eq=False)
class DicomStack:
    """What :func:`open_stack` read: the :attr:`~mvl.coords.Volume.src_object` of its volume.

    The per-image entries (:attr:`files`, :attr:`frames`, :attr:`positions`,
    :attr:`slopes`, :attr:`intercepts`, :attr:`headers`) are in stack order, one per image:
    slice ``k`` of volume ``t`` is entry ``t * slices + k`` (for a single volume, entry
    ``k`` is index ``k`` of the third axis). :attr:`volumes` has one row per volume.

    Attributes
    ----------
    path : pathlib.Path
        The input.
    series_uid : str or None
        (0020,000E) 'Series Instance UID' of the stack (None with ``sloppy=True``).
    files : tuple of str
        The file of each slice (``archive!member`` inside archives).
    frames : tuple of (int or None)
        The frame number (0-based) of each slice in a multi-frame file, None for single-frame files.
    positions : (N, 3) ndarray
        (0020,0032) 'Image Position (Patient)' of each slice, LPS+ mm.
    slopes, intercepts : (N,) ndarray
        The rescale applied to each slice (1 and 0 with ``rescale=False``).
    tilt : float
        Gantry tilt in degrees (the angle between the slice step and the normal).
    left_out : tuple of str
        Slices dropped by ``allow_mixed_orientations``, images of incomplete volumes dropped by
        ``allow_incomplete_volumes``, or files skipped by ``skip_broken``.
    volumes : tuple of VolumeInfo
        One row per volume (the fourth axis of the data; one row for a 3D series): its
        acquisition time, trigger time, echo, b-value, diffusion direction (patient and
        voxel axes), image type (:class:`~mvl.dicom.volumes.VolumeInfo`).
    kind : str
        Which kind of images of the series was loaded (e.g. ``"echo 1"``, ``"phase"``);
        empty when the series holds one kind (:mod:`mvl.dicom.volumes`).
    other_kinds : tuple of str
        The other kinds of images in the series, each with the ``select=`` that loads it.
    evidence : str
        What told the volumes apart, e.g. ``"(0020,0012) 'Acquisition Number'"``; empty for one volume.
    slice_timing : tuple of float or None
        For a Siemens mosaic series, when each slice was acquired, ms after the first, one
        per slice in the order of the slice axis: the first volume's ``MosaicRefAcqTimes``,
        or the second's where the first's are faulty (:mod:`mvl.dicom.slice_timing`; each
        volume's own are in :attr:`volumes`), or where no file states them (syngo VB12 and
        older) the protocol's (:mod:`mvl.dicom.protocol`); None for other series.
    tiles : tuple of (int or None)
        The tile number (0-based, row after row) of each slice in its Siemens mosaic
        (:mod:`mvl.dicom.mosaic`), None for slices of other files.
    echo_numbers : tuple of int
        The (0018,0086) 'Echo Numbers' of the whole series, also of the images ``select=``
        or the choice of a kind left out: more than one for a multi-echo series.
    echo_times : tuple of float
        The distinct echo times (ms, 0 left out: computed maps) of the whole series, likewise.
    """

    path: Path
    series_uid: str | None
    files: tuple[str, ...]
    frames: tuple[int | None, ...]
    positions: NDArray[np.float64]
    slopes: NDArray[np.float64]
    intercepts: NDArray[np.float64]
    tilt: float
    left_out: tuple[str, ...] = ()
    headers: tuple[Header, ...] = field(default=(), repr=False)
    volumes: tuple[VolumeInfo, ...] = ()
    kind: str = ""
    other_kinds: tuple[str, ...] = ()
    evidence: str = ""
    slice_timing: tuple[float, ...] | None = None
    tiles: tuple[int | None, ...] = ()
    echo_numbers: tuple[int, ...] = ()
    echo_times: tuple[float, ...] = ()

    def volume_table(self) -> dict[str, list[Any]]:
        """The :attr:`volumes` as columns, one list per field: ``pandas.DataFrame(stack.volume_table())``.

        Examples
        --------
        >>> from mvl.dicom.testing import write_series
        >>> import tempfile
        >>> table = open_stack(write_series(tempfile.mkdtemp(), shape=(2, 2, 3))).src_object.volume_table()
        >>> table["index"], table["b_value"]
        ([0], [None])
        """
        names = [item.name for item in fields(VolumeInfo)]
        return {name: [getattr(row, name) for row in self.volumes] for name in names}

    @property
    def sorted_slices(self) -> SortedSlices:
        """The slices' headers as pydicom Datasets without pixel data, in stack order (as in mvloader 1).

        Parsed when first accessed, then kept; e.g. ``stack.sorted_slices[0].SeriesDescription``.
        The headers of files in a folder are read again from the files then (keeping
        thousands of them in memory would cost more than the pixels of a small series);
        those of archive members were kept.
        """
        return SortedSlices(self.headers)

    def __repr__(self) -> str:
        volumes = f" x {len(self.volumes)} volumes" if len(self.volumes) > 1 else ""
        slices = len(self.files) // max(len(self.volumes), 1)
        return f"<DicomStack {slices} slices{volumes} of series {self.series_uid} from {self.path}>"


def _keep_tags(select: Mapping[str, Selector] | None) -> frozenset[int]:
    extra = set()
    for key in select or {}:
        try:  # a handful of keywords or tags
            extra.add(attribute_tag(key))
        except ValueError as error:  # noqa: PERF203
            raise ValueError(f"select: {error}") from None
    return el.IMAGE_TAGS | PRIVATE_TAGS | MOSAIC_TAGS | extra


def open_stack(
    path: str | os.PathLike[str],
    *,
    series_uid: str | None = None,
    sloppy: bool = False,
    recursive: bool = False,
    system: str = "RAS",
    rescale: bool = True,
    select: Mapping[str, Selector] | None = None,
    allow_mixed_orientations: bool = False,
    allow_nonuniform_spacing: bool = False,
    allow_incomplete_volumes: bool = False,
    spacing_tolerance: float = DEFAULT_SPACING_TOLERANCE,
    philips_scaling: str = "standard",
    skip_broken: bool = False,
    workers: int = 1,
    progress: bool | ProgressCallback | None = None,
    limits: Limits | None = None,
) -> Volume:
    """Load a DICOM series as a volume whose every voxel is where the files say it is.

    Parameters
    ----------
    path : str or os.PathLike
        A folder (the series of its alphanumerically first DICOM image file), a DICOM
        file (its series, from the files in its folder), or a zip or tar archive
        (optionally gzip, bzip2 or xz compressed), searched through, never extracted.
    series_uid : str, optional
        Load this (0020,000E) 'Series Instance UID' instead; a whole number that is no
        series' UID picks the one series with that (0020,0011) 'Series Number' (several
        with it: :class:`~mvl.coords.AmbiguousInputError` listing their UIDs).
    sloppy : bool, optional
        Ignore the series: stack every image file (the checks still apply).
    recursive : bool, optional
        Also search the sub-folders of a folder.
    system : str, optional
        The anatomical system of the volume (:attr:`~mvl.coords.Volume.system`); ``"RAS"``.
    rescale : bool, optional
        Apply (0028,1053) 'Rescale Slope' and (0028,1052) 'Rescale Intercept' per slice
        (default). False returns the stored values.
    select : mapping of str to value or callable, optional
        Keep only the images whose attributes, by DICOM keyword or tag ``"(gggg,eeee)"``,
        equal the value (or pass the predicate), e.g. ``{"EchoNumbers": 2}``; a
        multi-valued attribute matches a list or tuple of its values or the values joined
        by ``\\`` (``{"ImageType": "ORIGINAL\\PRIMARY\\P\\ND"}``). Top-level attributes
        and those in a multi-frame object's functional groups are looked up. A series that
        holds several kinds of images (echoes, magnitude and phase, derived maps) loads its
        first kind and warns with the ``select=`` of each other kind.
    allow_mixed_orientations : bool, optional
        Keep the largest group of images with one orientation, warn about the others.
    allow_nonuniform_spacing : bool, optional
        Load unevenly spaced slices with their average step, warning by how much they are off.
    allow_incomplete_volumes : bool, optional
        For a series of several volumes: load the complete volumes only, with a warning
        naming the images left out, when some volumes lack slice positions (a series
        stopped early, missing files); raises by default.
    spacing_tolerance : float, optional
        Largest deviation of a slice from its evenly spaced position, as a fraction of the
        slice step (0.1).
    philips_scaling : {"standard", "precise"}, optional
        ``"standard"`` (default) applies the rescale of the DICOM standard, as DICOM readers
        do; ``"precise"`` gives Philips' floating-point values, (stored x slope + intercept)
        / (slope x (2005,100E) scale slope), as dcm2niix does by default. Images without
        Philips' scale slope keep the standard rescale.
    skip_broken : bool, optional
        Skip unreadable DICOM files (truncated, corrupt) with a warning instead of raising;
        a skipped slice inside the series still fails the spacing check.
    workers : int, optional
        Threads reading files (1: none). On a warm page cache one thread is fastest (the
        header scan holds the GIL, and worker processes cost more than they save, see the
        benchmarks); more threads help when files come from slow or network storage.
    progress : bool or callable, optional
        ``callback(phase, done, total)``, or True for a tqdm bar (``mvl-dicom[progress]``).
    limits : Limits, optional
        Bounds on sizes (:class:`~mvl.dicom.Limits`).

    Returns
    -------
    Volume
        ``src_data`` has shape (Rows, Columns, slices), index order ``(r, c, s)``; a
        series of several volumes (fMRI, diffusion, dynamic) has shape (Rows, Columns,
        slices, volumes), the volumes told apart and ordered as :mod:`mvl.dicom.volumes`
        says; colour samples are the last axis. ``src_system`` is ``"LPS"``;
        ``src_object`` is a :class:`DicomStack`, whose ``volumes`` holds one row per volume.

    Raises
    ------
    InputError, NoImageDataError, UnsupportedFormatError
        A path that cannot be read, holds no image, or is not DICOM.
    FormatError
        Broken files (unless ``skip_broken``).
    GeometryError, DataError, AmbiguousInputError
        Images that do not form one volume, or complete volumes on one grid (see
        :mod:`mvl.dicom.geometry` and :mod:`mvl.dicom.volumes`).
    SecurityError, ResourceLimitError
        Unsafe archives, absurd sizes.
    MissingDependencyError
        Compressed pixel data without a decoder: ``pip install "mvl-dicom[codecs]"``.

    Examples
    --------
    >>> from mvl.dicom.testing import write_series
    >>> import tempfile
    >>> folder = write_series(tempfile.mkdtemp(), shape=(4, 5, 3))
    >>> volume = open_stack(folder)
    >>> volume.src_data.shape, volume.src_data.dtype, volume.src_system
    ((4, 5, 3), dtype('int16'), 'LPS')
    >>> volume.src_object.sorted_slices[0].Modality
    'CT'
    """
    if philips_scaling not in ("standard", "precise"):
        raise ValueError(f"philips_scaling must be 'standard' or 'precise', not {philips_scaling!r}")
    options = _Options(
        series_uid=series_uid,
        sloppy=sloppy,
        rescale=rescale,
        select=dict(select or {}),
        allow_mixed_orientations=allow_mixed_orientations,
        allow_nonuniform_spacing=allow_nonuniform_spacing,
        allow_incomplete_volumes=allow_incomplete_volumes,
        spacing_tolerance=spacing_tolerance,
        philips_precise=philips_scaling == "precise",
        skip_broken=skip_broken,
        workers=max(1, int(workers)),
        progress=progress,
        limits=DEFAULT_LIMITS if limits is None else limits,
    )
    collected: list[tuple[type[MvlWarning], str]] = []
    source, seed = open_source(path, recursive=recursive, limits=options.limits)
    try:  # the warnings gathered are issued whether loading succeeds or not
        data, transformation, stack = _load(source, seed, options, collected)
    finally:
        source.close()
        for category, message in collected:
            warn(message, category)
    stack.path = Path(path)
    samples = tuple(range(4, data.ndim))  # colour samples stay last
    if data.shape[0] > 1:  # (volumes, slices, rows, columns, ...) -> (rows, columns, slices, volumes, ...)
        voxels = data.transpose(2, 3, 1, 0, *samples)
    else:
        voxels = data[0].transpose(1, 2, 0, *(axis - 1 for axis in samples))
    return Volume(voxels, transformation, "LPS", system=system, src_object=stack)


@dataclass(frozen=True)
class _Options:
    series_uid: str | None
    sloppy: bool
    rescale: bool
    select: dict[str, Selector]
    allow_mixed_orientations: bool
    allow_nonuniform_spacing: bool
    allow_incomplete_volumes: bool
    spacing_tolerance: float
    philips_precise: bool
    skip_broken: bool
    workers: int
    progress: bool | ProgressCallback | None
    limits: Limits


def _load(
    source: Source, seed: str | None, options: _Options, collected: list[tuple[type[MvlWarning], str]]
) -> tuple[NDArray[Any], NDArray[np.float64], DicomStack]:
    """Scan, choose, check and read; returns the (volumes, slices, rows, columns[, samples]) array, matrix, stack."""
    location = str(source.path)
    with reporter(options.progress, "headers", source.count()) as counter:
        scan = scan_source(
            source,
            keep=_keep_tags(options.select),
            keep_header=not isinstance(source, FolderSource),  # files of a folder can be read again
            workers=options.workers,
            limits=options.limits,
            tick=counter.tick,
        )
    check_seed(scan, seed)
    choice = choose_series(scan, location=location, seed=seed, series_uid=options.series_uid, sloppy=options.sloppy)
    collected += choice.warnings
    broken = relevant_broken(scan, choice.uid, options.sloppy, location, collected)
    frames: list[Frame] = []
    layouts: dict[int, PixelLayout] = {}
    for header in choice.headers:
        try:  # each file is checked on its own, to skip it when allowed
            frames += frames_of(header)
            layouts[id(header)] = layout_of(header)
        except MvlError as error:  # noqa: PERF203
            if header.member.key == seed:
                raise
            broken.append((header.member, error))
    skipped = handle_broken(broken, options.skip_broken, location, collected)
    if skipped:
        gone = set(skipped)
        frames = [frame for frame in frames if frame.header.member.key not in gone]
        if not frames:
            raise NoImageDataError("every image file of the series is unreadable", path=location)
    facts = acquisitions_of(frames)  # of the whole series: its echo numbers are reported also after select=
    echo_numbers = tuple(sorted({fact.echo_number for fact in facts.values() if fact.echo_number is not None}))
    echo_times = tuple(sorted({fact.echo_time for fact in facts.values() if fact.echo_time}))
    if options.select:
        frames = select_frames(frames, options.select)
        if not frames:
            raise NoImageDataError(f"no image of the series matches select={options.select!r}", path=location)
    kinds = split_kinds(frames, facts, select=options.select)
    kind = chosen_kind(kinds, seed)
    if len(kinds) > 1:
        collected.append((FormatWarning, kinds_message(location, kind, kinds)))
    geometry = stack_geometry(
        list(kind.frames),
        location=location,
        spacing_tolerance=options.spacing_tolerance,
        allow_mixed_orientations=options.allow_mixed_orientations,
        allow_nonuniform_spacing=options.allow_nonuniform_spacing,
        allow_incomplete_volumes=options.allow_incomplete_volumes,
        facts=facts,
        identical=lambda frames: source.same_bytes([frame.header.member for frame in frames]),
    )
    collected += geometry.warnings
    frames = geometry.frames
    collected += mosaic_warnings(frames, location)
    if options.philips_precise:
        _use_philips_scaling(frames, location, collected)
    frame_layouts = [layouts[id(frame.header)] for frame in frames]
    check_decoders([frame.header for frame in frames])
    plan = plan_output(frames, frame_layouts, options.rescale, options.limits)
    with reporter(options.progress, "pixels", len(frames)) as counter:
        data = read_frames(frames, frame_layouts, plan, _reader(source, options.workers), counter.tick)
    volumes = volume_table(geometry.volumes, facts, geometry.transformation)
    timing, timing_warnings = series_slice_timing(
        volumes, [volume[0].header.member.key for volume in geometry.volumes], location
    )
    collected += timing_warnings
    if timing is None and geometry.volumes:
        timing = protocol_timing(source, geometry.volumes[0])
    stack = DicomStack(
        path=source.path,
        series_uid=choice.uid,
        files=tuple(frame.header.name for frame in frames),
        frames=tuple(frame.index for frame in frames),
        tiles=tuple(None if frame.tile is None else frame.tile.number for frame in frames),
        positions=np.array([frame.position for frame in frames], dtype=np.float64),
        slopes=plan.slopes,
        intercepts=plan.intercepts,
        tilt=geometry.tilt,
        left_out=(*skipped, *(frame.short_name for frame in geometry.dropped)),
        headers=tuple(frame.header for frame in frames),
        volumes=volumes,
        kind=kind.label if len(kinds) > 1 else "",
        other_kinds=tuple(f"{other.label}: {other.hint}" for other in kinds if other is not kind),
        evidence=geometry.evidence,
        slice_timing=timing,
        echo_numbers=echo_numbers,
        echo_times=echo_times,
    )
    count = len(geometry.volumes)
    return data.reshape(count, data.shape[0] // count, *data.shape[1:]), geometry.transformation, stack


def _use_philips_scaling(frames: list[Frame], location: str, collected: list[tuple[type[MvlWarning], str]]) -> None:
    """Replace each frame's rescale by Philips' precise one where its files state the scale slope."""
    without = []
    for frame in frames:
        rescale = philips_precise_rescale(frame.header, frame.group_values(), frame.slope, frame.intercept)
        if rescale is None:
            without.append(frame)
        else:
            frame.slope, frame.intercept = rescale
    if without and len(without) < len(frames):
        collected.append(
            (
                FormatWarning,
                f"{location}: philips_scaling='precise', but {len(without)} of {len(frames)} images have no "
                "Philips scale slope (2005,100E); they keep the standard rescale",
            )
        )


def _reader(source: Any, workers: int) -> Callable[[Sequence[Header], Callable[[Header, BinaryIO], None]], None]:
    def read(headers: Sequence[Header], function: Callable[[Header, BinaryIO], None]) -> None:
        by_member: dict[Member, Header] = {header.member: header for header in headers}

        def call(member: Member, stream: BinaryIO) -> None:
            function(by_member[member], stream)

        source.read(list(by_member), call, workers)

    return read
