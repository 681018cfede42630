"""Volumes: the images of a series as kinds of volumes, and each kind as volumes x slice positions.

A series may hold several images at each slice position: the time points of an fMRI
run, the directions of a diffusion scan, the echoes of a field map, magnitude and
phase. Two steps make volumes of them, each on what the files say (:mod:`.acquisition`):

**Kinds.** Images that dcm2niix writes as separate outputs are separate *kinds*, each
loaded on its own: different echoes ((0018,0086) 'Echo Numbers', (0018,0081) 'Echo
Time', (0018,9082) 'Effective Echo Time'), magnitude, phase, real and imaginary
((0008,9208) 'Complex Image Component', (0008,0008) 'Image Type' or (0008,9007) 'Frame
Type', GE's and Philips' private image types), other image types (derived maps such as
ADC or trace inside a diffusion series) and CT reconstruction kernels. :func:`split_kinds`
names each kind and the exact ``select=`` that picks it.

**Volumes.** Within a kind, the images at each position are told apart in this order of
evidence (:func:`arrange`):

1. an attribute that identifies the volume of every image: (0020,9128) 'Temporal Position
   Index', (0020,0100) 'Temporal Position Identifier', (0020,0012) 'Acquisition Number'
   (the first one present on every image, different between the images at each position,
   and taking as many values as a position holds images); volumes in its order;
2. otherwise the order of acquisition: (0008,0032) 'Acquisition Time' (with its date, or
   the enhanced frames' (0018,9074) 'Frame Acquisition DateTime'), then (0018,1060)
   'Trigger Time', then (0020,0012) 'Acquisition Number' (where it is no identity), then
   (0020,0013) 'Instance Number', then an enhanced frame's
   (0020,9157) 'Dimension Index Values', then the frame order of a multi-frame object.
   When, in that order, each volume's images come one after the other (volume after
   volume, as scanners acquire), a volume ends where a position repeats; otherwise
   (files numbered slice by slice) the n-th image of each position belongs to volume n.

Every volume is then checked: its images agree on the temporal position, the b-value
and the diffusion direction, and it has an image at every position. A volume with
positions missing (a series stopped early) is an error naming it, unless
``allow_incomplete_volumes=True``, which keeps the complete volumes and warns. Images at
one position that nothing tells apart are an error that says what was compared and what
differs; only byte-identical files are called copies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mvl.coords import AmbiguousInputError, FormatWarning, MvlWarning

from . import elements as el
from .acquisition import Acquisition
from .frame import Frame, frame_names
from .kinds import Facts, plain

__all__ = ["Arrangement", "Facts", "VolumeInfo", "arrange", "volume_table"]

#: The identities tried in order, with the attribute names messages use.
_IDENTITIES: tuple[tuple[str, Callable[[Acquisition], Any]], ...] = (
    ("TemporalPositionIndex", lambda facts: facts.temporal_index),
    ("TemporalPositionIdentifier", lambda facts: facts.temporal_identifier),
    ("AcquisitionNumber", lambda facts: facts.acquisition_number),
)
#: The acquisition order, most telling first.
_ORDER: tuple[tuple[str, Callable[[Acquisition], Any]], ...] = (
    ("AcquisitionTime", lambda facts: facts.seconds),
    ("TriggerTime", lambda facts: facts.trigger_time),
    ("AcquisitionNumber", lambda facts: facts.acquisition_number),
    ("InstanceNumber", lambda facts: facts.instance_number),
    ("DimensionIndexValues", lambda facts: facts.dimension_index),
)
#: What every image of one volume must agree on.
_CONSTANT: tuple[tuple[str, Callable[[Acquisition], Any]], ...] = (
    ("TemporalPositionIndex", lambda facts: facts.temporal_index),
    ("TemporalPositionIdentifier", lambda facts: facts.temporal_identifier),
    ("DiffusionBValue", lambda facts: None if facts.b_value is None else round(facts.b_value, 3)),
    ("diffusion direction", lambda facts: _rounded(facts.direction_key)),
)
#: Attributes compared between images at one position to say how they differ.
_DIAGNOSTIC_KEYWORDS = (
    "EchoNumbers",
    "EchoTime",
    "EffectiveEchoTime",
    "TemporalPositionIdentifier",
    "TemporalPositionIndex",
    "AcquisitionNumber",
    "AcquisitionTime",
    "TriggerTime",
    "InstanceNumber",
    "DiffusionBValue",
    "ImageType",
    "SeriesNumber",
    "SeriesInstanceUID",
    "SOPInstanceUID",
)


@dataclass
class Arrangement:
    """A kind's images as volumes.

    Attributes
    ----------
    volumes : list of list of Frame
        One list per volume, in volume order; each holds one frame per position, in position order.
    evidence : str
        What told the volumes apart (empty for a single volume).
    dropped : list of Frame
        Images of incomplete volumes left out (``allow_incomplete_volumes``).
    warnings : list of (type, str)
        Warnings to issue to the caller.
    """

    volumes: list[list[Frame]]
    evidence: str = ""
    dropped: list[Frame] = field(default_factory=list)
    warnings: list[tuple[type[MvlWarning], str]] = field(default_factory=list)


@dataclass(frozen=True)
class VolumeInfo:
    """One row of a multi-volume series' table (:attr:`~mvl.dicom.DicomStack.volumes`).

    Attributes
    ----------
    index : int
        The volume's index along the volume axis (0-based).
    acquisition_time : str or None
        When its first image was acquired, as DICOM wrote it (DT ``YYYYMMDDHHMMSS.ffffff`` or TM).
    seconds : float or None
        The same in seconds (since midnight, or on one scale across days when a date is known).
    trigger_time : float or None
        (0018,1060) 'Trigger Time' of its first image, ms.
    echo_number : int or None
        (0018,0086) 'Echo Numbers'.
    echo_time : float or None
        Echo time, ms.
    b_value : float or None
        Diffusion b-value, s/mm².
    direction : tuple of 3 float or None
        Diffusion gradient direction in the patient system (LPS+), where the files state it
        (standard (0018,9089) or Siemens' private element).
    voxel_direction : tuple of 3 float or None
        The same direction in the voxel axes ``(i, j, k)`` of :attr:`~mvl.coords.Volume.src_data`.
    image_type : str or None
        (0008,0008) 'Image Type' (or (0008,9007) 'Frame Type'), values joined by ``\\``.
    component : str or None
        ``"MAGNITUDE"``, ``"PHASE"``, ``"REAL"`` or ``"IMAGINARY"`` where the files say so.
    temporal_index : int or None
        (0020,9128) 'Temporal Position Index', else (0020,0100) 'Temporal Position Identifier'.
    acquisition_number : int or None
        (0020,0012) 'Acquisition Number'.
    slice_timing : tuple of float or None
        For a Siemens mosaic, when each slice was acquired (the CSA header's
        ``MosaicRefAcqTimes``), ms after the volume's first slice, one per slice in the
        order of the slice axis ``k`` of :attr:`~mvl.coords.Volume.src_data` (dcm2niix's
        ``SliceTiming`` gives the same in seconds, in its own slice order). For other
        series of several slices whose images state different acquisition times (an
        enhanced frame's (0018,9074) 'Frame Acquisition DateTime', else (0008,0032)), the
        same from those: ms after the volume's earliest image. None elsewhere (one time
        for the whole volume, as a 3D acquisition states, or none).
    """

    index: int
    acquisition_time: str | None = None
    seconds: float | None = None
    trigger_time: float | None = None
    echo_number: int | None = None
    echo_time: float | None = None
    b_value: float | None = None
    direction: tuple[float, float, float] | None = None
    voxel_direction: tuple[float, float, float] | None = None
    image_type: str | None = None
    component: str | None = None
    temporal_index: int | None = None
    acquisition_number: int | None = None
    slice_timing: tuple[float, ...] | None = None


def _rounded(vector: tuple[float, ...] | None) -> tuple[float, ...] | None:
    return None if vector is None else tuple(round(value, 4) + 0.0 for value in vector)


def arrange(
    positions: Sequence[Sequence[Frame]],
    facts: Facts,
    *,
    location: str,
    allow_incomplete: bool = False,
    along: Sequence[float] = (),
    identical: Callable[[Sequence[Frame]], bool] | None = None,
) -> Arrangement:
    """Tell the images at each slice position apart and make volumes of them (see the module).

    Parameters
    ----------
    positions : sequence of sequence of Frame
        The frames at each slice position, positions in stack order.
    facts : mapping
        The :class:`~mvl.dicom.acquisition.Acquisition` of each frame, by ``id(frame)``.
    location : str
        The input, for messages.
    allow_incomplete : bool, optional
        Keep the complete volumes and warn, instead of raising, when volumes lack positions.
    along : sequence of float, optional
        Each position's coordinate along the normal (mm), for messages.
    identical : callable, optional
        ``identical(frames)``: whether those frames' files hold the same bytes; only
        called to word the error for images that cannot be told apart.

    Returns
    -------
    Arrangement

    Raises
    ------
    AmbiguousInputError
        Images at one position that nothing tells apart, volumes whose images disagree,
        or incomplete volumes (unless `allow_incomplete`).
    """
    counts = [len(members) for members in positions]
    if max(counts) == 1:
        return Arrangement([[members[0] for members in positions]])
    where = {id(frame): index for index, members in enumerate(positions) for frame in members}
    identified = _by_identity(positions, facts)
    if identified is not None:
        name, volumes = identified
        evidence = el.describe(el.keyword_tag(name))
    else:
        evidence, volumes = _by_order(positions, facts, where, location, along, identical)
    _check_constant(volumes, facts, evidence, location)
    return _complete(volumes, positions, where, evidence, location, allow_incomplete, along)


def _by_identity(positions: Sequence[Sequence[Frame]], facts: Facts) -> tuple[str, list[list[Frame]]] | None:
    most = max(len(members) for members in positions)
    for name, value_of in _IDENTITIES:
        values: dict[int, Any] = {}
        usable = True
        for members in positions:
            found = [value_of(facts[id(frame)]) for frame in members]
            if any(value is None for value in found) or len(set(found)) != len(found):
                usable = False
                break
            values.update((id(frame), value) for frame, value in zip(members, found, strict=True))
        distinct = sorted(set(values.values()))
        if not usable or len(distinct) != most:
            continue
        slot = {value: index for index, value in enumerate(distinct)}
        volumes: list[list[Frame]] = [[] for _ in distinct]
        for members in positions:
            for frame in members:
                volumes[slot[values[id(frame)]]].append(frame)
        return name, volumes
    return None


def _order_key(frames: Sequence[Frame], facts: Facts) -> tuple[list[str], Callable[[Frame], tuple[Any, ...]]]:
    """The acquisition-order components present on every frame, and the key they make."""
    used = [(name, value_of) for name, value_of in _ORDER if all(value_of(facts[id(f)]) is not None for f in frames)]

    def key(frame: Frame) -> tuple[Any, ...]:
        acquisition = facts[id(frame)]
        return (*(value_of(acquisition) for _, value_of in used), acquisition.frame_index)

    return [name for name, _ in used], key


def _by_order(
    positions: Sequence[Sequence[Frame]],
    facts: Facts,
    where: dict[int, int],
    location: str,
    along: Sequence[float],
    identical: Callable[[Sequence[Frame]], bool] | None,
) -> tuple[str, list[list[Frame]]]:
    frames = [frame for members in positions for frame in members]
    names, key = _order_key(frames, facts)
    for members in positions:
        keys = Counter(key(frame) for frame in members)
        tied = [frame for frame in members if keys[key(frame)] > 1]
        if tied:
            _cannot_tell_apart(tied, names, location, _count_summary(positions), identical)
    shown = ", ".join([*names, "frame order"])
    ordered = sorted(frames, key=key)
    walked: list[list[Frame]] = [[]]
    seen: set[int] = set()
    for frame in ordered:
        if where[id(frame)] in seen:
            walked.append([])
            seen = set()
        walked[-1].append(frame)
        seen.add(where[id(frame)])
    counts = {len(members) for members in positions}
    if len(walked) == max(len(members) for members in positions):
        return f"acquisition order ({shown}), volume after volume", walked
    if len(counts) == 1:  # numbered slice by slice: the n-th image of every position is volume n
        ranked = [sorted(members, key=key) for members in positions]
        return f"the order at each position ({shown})", [list(volume) for volume in zip(*ranked, strict=True)]
    summary = _count_summary(positions, along)
    raise AmbiguousInputError(
        f"the slice positions hold different numbers of images ({summary}) and nothing in the files says "
        f"which volume each image belongs to: no (0020,9128) 'Temporal Position Index', (0020,0100) 'Temporal "
        f"Position Identifier' or (0020,0012) 'Acquisition Number' that identifies volumes, and in the order of "
        f"{shown} the images do not come volume after volume. Choose images with select=",
        path=location,
    )


def _count_summary(positions: Sequence[Sequence[Frame]], along: Sequence[float] = ()) -> str:
    """How many images the positions hold, with the images of the first position that holds an unusual number."""
    counts = Counter(len(members) for members in positions)
    summary = ", ".join(
        f"{number} positions hold {size} images" for size, number in sorted(counts.items(), reverse=True)
    )
    if len(counts) > 1:
        usual = counts.most_common(1)[0][0]
        index = next(index for index, members in enumerate(positions) if len(members) != usual)
        at = f" at {float(along[index]):.4g} mm" if along else ""
        summary += f"; e.g. {frame_names(positions[index])}{at}"
    return summary


def _check_constant(volumes: list[list[Frame]], facts: Facts, evidence: str, location: str) -> None:
    for index, volume in enumerate(volumes):
        shared = Counter(id(facts[id(frame)]) for frame in volume)  # the tiles of a mosaic share their facts
        if len(shared) == 1:
            continue
        distinct = {id(facts[id(frame)]): facts[id(frame)] for frame in volume}
        for name, value_of in _CONSTANT:
            values: Counter[Any] = Counter()
            for key, count in shared.items():
                value = value_of(distinct[key])
                if value is not None:
                    values[value] += count
            if len(values) > 1:
                shown = ", ".join(f"{value} ({count} images)" for value, count in values.most_common(4))
                raise AmbiguousInputError(
                    f"ordered by {evidence}, volume {index + 1} of {len(volumes)} would mix images of different "
                    f"{name}: {shown}; the files contradict each other, so no volume order can be trusted. "
                    "Choose images with select=",
                    path=location,
                )


def _complete(
    volumes: list[list[Frame]],
    positions: Sequence[Sequence[Frame]],
    where: dict[int, int],
    evidence: str,
    location: str,
    allow: bool,
    along: Sequence[float],
) -> Arrangement:
    result = Arrangement([], evidence)
    count = len(positions)
    incomplete = []
    for index, volume in enumerate(volumes):
        volume.sort(key=lambda frame: where[id(frame)])
        held = [where[id(frame)] for frame in volume]
        if len(set(held)) != len(held):  # pragma: no cover - identities and the walk give one frame per position
            raise AmbiguousInputError(f"volume {index + 1} holds two images at one position", path=location)
        if len(held) == count:
            result.volumes.append(volume)
        else:
            incomplete.append((index, volume, sorted(set(range(count)) - set(held))))
    if not incomplete:
        return result
    details = "; ".join(
        f"volume {index + 1} lacks {len(missing)} of {count} positions ({_positions(missing, along)})"
        for index, _, missing in incomplete[:3]
    )
    if len(incomplete) > 3:
        details += f"; and {len(incomplete) - 3} more incomplete volumes"
    message = (
        f"the slice positions hold different numbers of images ({_count_summary(positions, along)}); told apart "
        f"by {evidence}, they form {len(volumes)} volumes of which {len(incomplete)} "
        f"{'is' if len(incomplete) == 1 else 'are'} incomplete: {details}"
    )
    if not allow or not result.volumes:
        extra = "" if result.volumes else " (no volume is complete)"
        raise AmbiguousInputError(
            f"{message}{extra}. A series stopped early or with missing files: pass allow_incomplete_volumes=True "
            "to load the complete volumes only" + ("" if result.volumes else ", or choose images with select="),
            path=location,
        )
    result.dropped = [frame for _, volume, _ in incomplete for frame in volume]
    result.warnings.append(
        (
            FormatWarning,
            f"{location}: {message}; loaded the {len(result.volumes)} complete volumes and left out "
            f"{len(result.dropped)} images ({frame_names(result.dropped)})",
        )
    )
    return result


def _positions(missing: list[int], along: Sequence[float]) -> str:
    if along:
        shown = ", ".join(f"{float(along[index]):.4g} mm" for index in missing[:4])
    else:
        shown = ", ".join(f"slice {index + 1}" for index in missing[:4])
    return shown + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")


def _cannot_tell_apart(
    tied: list[Frame],
    compared: list[str],
    location: str,
    summary: str,
    identical: Callable[[Sequence[Frame]], bool] | None,
) -> None:
    """Raise the error for images at one position that no evidence orders, saying truthfully why."""
    looked = ", ".join(["TemporalPositionIndex", "TemporalPositionIdentifier", "AcquisitionNumber", *compared])
    differing = []
    for keyword in _DIAGNOSTIC_KEYWORDS:
        values = [plain(frame.attribute(keyword)) for frame in tied]
        if len(set(map(str, values))) > 1:
            differing.append(f"{keyword} ({', '.join(sorted({str(value) for value in values}))})")
    copies = all(frame.index is None for frame in tied) and identical is not None and identical(tied)
    if copies:
        hint = "They are copies of one image (byte-identical files): remove the duplicate files"
    elif differing:
        hint = f"They differ only in {', '.join(differing[:4])}: choose images with select="
    else:
        hint = "Nothing compared differs between them: choose images with select="
    raise AmbiguousInputError(
        f"several images share one slice position ({summary}), and {frame_names(tied)} could not be told apart "
        f"by {looked} or the frame order, so they cannot be ordered into volumes. {hint}",
        path=location,
    )


def volume_table(
    volumes: Sequence[Sequence[Frame]], facts: Facts, transformation: NDArray[np.float64]
) -> tuple[VolumeInfo, ...]:
    """One :class:`VolumeInfo` per volume, from the first-acquired image of each."""
    axes = transformation[:3, :3] / np.linalg.norm(transformation[:3, :3], axis=0)
    rows = []
    for index, volume in enumerate(volumes):
        acquisitions = [facts[id(frame)] for frame in volume]
        timed = [acquisition for acquisition in acquisitions if acquisition.seconds is not None]
        first = min(timed, key=lambda acquisition: acquisition.seconds or 0.0) if timed else acquisitions[0]
        direction = first.direction
        times = _slice_times(volume, acquisitions)
        voxel = None
        if direction is not None and float(np.linalg.norm(direction)) > 0:
            solved = np.linalg.solve(axes, np.asarray(direction, dtype=np.float64))
            voxel = (float(solved[0]) + 0.0, float(solved[1]) + 0.0, float(solved[2]) + 0.0)
        rows.append(
            VolumeInfo(
                index=index,
                acquisition_time=first.acquisition_time,
                seconds=first.seconds,
                trigger_time=first.trigger_time,
                echo_number=first.echo_number,
                echo_time=first.echo_time,
                b_value=first.b_value,
                direction=direction,
                voxel_direction=voxel,
                image_type=first.image_type,
                component=first.component,
                temporal_index=first.temporal_index if first.temporal_index is not None else first.temporal_identifier,
                acquisition_number=first.acquisition_number,
                slice_timing=times,
            )
        )
    return tuple(rows)


def _slice_times(volume: Sequence[Frame], acquisitions: Sequence[Acquisition]) -> tuple[float, ...] | None:
    """When each slice of a volume was acquired, ms: a mosaic's tile times, else its images' acquisition times."""
    if any(frame.tile is not None for frame in volume):
        tiles = [None if frame.tile is None else frame.tile.time for frame in volume]
        return None if None in tiles else tuple(time for time in tiles if time is not None)
    seconds = [acquisition.seconds for acquisition in acquisitions]
    if len(seconds) < 2 or None in seconds:
        return None
    known = [value for value in seconds if value is not None]
    first = min(known)
    if max(known) == first:
        return None
    return tuple(round((value - first) * 1000.0, 3) for value in known)
