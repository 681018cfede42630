"""Stacking geometry: the checks a set of frames must pass to be one volume, and its matrix.

Order and geometry come only from (0020,0032) 'Image Position (Patient)' projected on
the normal of (0020,0037) 'Image Orientation (Patient)' (PS3.3 C.7.6.2.1.1), never from
file names or (0020,0013) 'Instance Number'. The voxel-to-world matrix (LPS+, mm) of
the stack, indexed ``(row, column, slice)``, is::

    column 0 = Pixel Spacing[0] x column direction cosines (IOP[3:6])   # next row
    column 1 = Pixel Spacing[1] x row direction cosines (IOP[0:3])      # next column
    column 2 = the actual step between consecutive slice positions       # next slice
    column 3 = Image Position (Patient) of the first slice

Checks, in order; each fails with an error of the :class:`~mvl.coords.MvlError` family
that names the element, the files and the numbers:

1. every frame has a position and an orientation (projection images have none);
2. orientations are unit, orthogonal and the same for all frames
   (``allow_mixed_orientations`` keeps the largest group instead);
3. (0028,0010) 'Rows', (0028,0011) 'Columns' (of a mosaic's tiles: :mod:`.mosaic`) and
   (0028,0030) 'Pixel Spacing' agree,
   spacings are positive, and (0020,0052) 'Frame of Reference UID' is one;
4. frames that share a position along the normal coincide in the slice plane, and
   make complete volumes (time points, diffusion directions: see :mod:`.volumes`, which
   tells them apart and orders them);
5. every position of the (first) volume lies within ``spacing_tolerance`` x the step of the straight, evenly
   spaced line from the first to the last (missing slices, uneven steps, drift;
   ``allow_nonuniform_spacing`` loads with the average step and warns).

A slice step that is not parallel to the normal (gantry tilt) is kept: the matrix is
sheared, exactly as the positions say, and a warning tells so. A single slice gets
(0018,0088) 'Spacing Between Slices', else (0018,0050) 'Slice Thickness', along the
normal.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from mvl.coords import (
    DataError,
    GeometryError,
    GeometryWarning,
    MvlWarning,
)

from . import elements as el
from .acquisition import acquisition_of
from .frame import Frame
from .frame import frame_names as names
from .mosaic import frame_size
from .volumes import Facts, arrange

__all__ = ["DEFAULT_SPACING_TOLERANCE", "StackGeometry", "stack_geometry"]

#: Relative tolerance on slice positions, as a fraction of the slice step.
DEFAULT_SPACING_TOLERANCE = 0.1
#: Largest difference of direction cosines still counted as the same orientation.
ORIENTATION_TOLERANCE = 1e-3
#: Direction cosines must be unit length and orthogonal to within this.
COSINE_TOLERANCE = 1e-2
#: Pixel spacings that differ by less than this fraction count as equal.
PIXEL_SPACING_RTOL = 1e-4
#: Frames closer than this fraction of the pixel spacing along the normal share a position.
DUPLICATE_FRACTION = 1e-3
#: Tilts below this many degrees are numeric noise and not reported.
TILT_REPORT_DEGREES = 0.05
#: Frames at one position along the normal must coincide in the slice plane to within this fraction of a pixel.
IN_PLANE_FRACTION = 1e-2


@dataclass
class StackGeometry:
    """The checked stack.

    Attributes
    ----------
    frames : list of Frame
        In stack order (ascending along the normal), volume after volume.
    transformation : (4, 4) ndarray
        Voxel ``(row, column, slice)`` to LPS+ mm.
    tilt : float
        Angle in degrees between the slice step and the normal (gantry tilt); 0 for none.
    dropped : list of Frame
        Frames left out because ``allow_mixed_orientations`` or ``allow_incomplete_volumes`` was given.
    warnings : list of (type, str)
        Warnings to issue to the caller.
    volumes : list of list of Frame
        The frames of each volume in stack order; one volume for a 3D series.
    evidence : str
        What told the volumes apart (empty for one volume).
    """

    frames: list[Frame]
    transformation: NDArray[np.float64]
    tilt: float = 0.0
    dropped: list[Frame] = field(default_factory=list)
    warnings: list[tuple[type[MvlWarning], str]] = field(default_factory=list)
    volumes: list[list[Frame]] = field(default_factory=list)
    evidence: str = ""


def _median(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """The median along axis 0, as ``np.median(values, axis=0)``.

    Written out because ``np.median`` imports ``numpy.ma`` on first use, which costs a
    fresh process (each batch worker, each ``mvl`` command) about 20 ms.
    """
    ordered = np.sort(values, axis=0)
    count = ordered.shape[0]
    result: NDArray[np.float64] = (ordered[(count - 1) // 2] + ordered[count // 2]) / 2
    return result


def _round(values: NDArray[np.float64] | Sequence[float], digits: int = 4) -> list[float]:
    return [round(float(value), digits) + 0.0 for value in values]


def stack_geometry(
    frames: Sequence[Frame],
    *,
    location: str,
    spacing_tolerance: float = DEFAULT_SPACING_TOLERANCE,
    allow_mixed_orientations: bool = False,
    allow_nonuniform_spacing: bool = False,
    allow_incomplete_volumes: bool = False,
    facts: Facts | None = None,
    identical: Callable[[Sequence[Frame]], bool] | None = None,
) -> StackGeometry:
    """Check that `frames` form one volume, or several on one grid, and return their order and matrix.

    Parameters
    ----------
    frames : sequence of Frame
        The frames of the chosen series, in any order.
    location : str
        The input, for error messages.
    spacing_tolerance : float, optional
        Largest deviation of a slice from its evenly spaced position, as a fraction of
        the slice step.
    allow_mixed_orientations : bool, optional
        Keep the largest group of frames that share one orientation, drop the others
        and warn, instead of raising.
    allow_nonuniform_spacing : bool, optional
        Load unevenly spaced frames with the average step and warn, instead of raising.
    allow_incomplete_volumes : bool, optional
        Keep the complete volumes of a multi-volume series and warn, instead of raising,
        when some volumes lack positions (:func:`~mvl.dicom.volumes.arrange`).
    facts : mapping, optional
        The :class:`~mvl.dicom.acquisition.Acquisition` of each frame by ``id(frame)``;
        read from the frames when not given.
    identical : callable, optional
        Passed to :func:`~mvl.dicom.volumes.arrange`, for messages about copies.

    Returns
    -------
    StackGeometry

    Raises
    ------
    GeometryError
        Missing or invalid positions, orientations or spacings; mixed orientations or
        frames of reference; uneven spacing.
    DataError
        Frames of different sizes.
    AmbiguousInputError
        Several frames at one position that do not form complete volumes (see :mod:`.volumes`).
    """
    result = StackGeometry(list(frames), np.eye(4))
    _check_present(result.frames, location)
    orientation = _check_orientations(result, location, allow_mixed_orientations)
    _check_sizes(result.frames, location)
    row, column = orientation[:3], orientation[3:]
    normal = np.cross(row, column)
    spacing = result.frames[0].spacing
    assert spacing is not None  # checked above
    positions = np.array([frame.position for frame in result.frames], dtype=np.float64)
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    ordered = [result.frames[index] for index in order]
    positions, along = positions[order], along[order]
    groups = _slice_positions(ordered, positions, along, min(spacing), location)
    if facts is None:
        facts = {id(frame): acquisition_of(frame) for frame in ordered}
    arrangement = arrange(
        [[ordered[index] for index in group] for group in groups],
        facts,
        location=location,
        allow_incomplete=allow_incomplete_volumes,
        along=[float(along[group[0]]) for group in groups],
        identical=identical,
    )
    result.warnings += arrangement.warnings
    result.dropped += arrangement.dropped
    result.evidence = arrangement.evidence
    result.frames = first = arrangement.volumes[0]
    positions = np.array([frame.position for frame in first], dtype=np.float64)
    along = positions @ normal
    if len(first) == 1:
        step = _single_slice_step(result, normal)
    else:
        step = (positions[-1] - positions[0]) / (len(positions) - 1)
        _check_spacing(result, positions, along, step, spacing_tolerance, allow_nonuniform_spacing, location)
        result.tilt = _tilt(result, step, normal)
    matrix = np.eye(4)
    matrix[:3, 0] = spacing[0] * column
    matrix[:3, 1] = spacing[1] * row
    matrix[:3, 2] = step
    matrix[:3, 3] = positions[0]
    result.transformation = matrix
    result.volumes = arrangement.volumes
    result.frames = [frame for volume in arrangement.volumes for frame in volume]
    return result


def _slice_positions(
    frames: list[Frame], positions: NDArray[np.float64], along: NDArray[np.float64], pixel: float, location: str
) -> list[list[int]]:
    """Group frames (sorted along the normal) into slice positions: the indices of the frames at each.

    Frames closer than :data:`DUPLICATE_FRACTION` x the pixel spacing along the normal
    share a position, and must then also coincide in the slice plane.

    Raises
    ------
    GeometryError
        If frames at one position along the normal lie apart in the slice plane (volumes on different grids).
    """
    tolerance = DUPLICATE_FRACTION * pixel
    groups: list[list[int]] = [[0]]
    for index in range(1, len(frames)):
        if along[index] - along[index - 1] <= tolerance:
            groups[-1].append(index)
        else:
            groups.append([index])
    for group in groups:
        if len(group) < 2:
            continue
        offsets = np.linalg.norm(positions[group] - positions[group[0]], axis=1)
        worst = int(np.argmax(offsets))
        if offsets[worst] > IN_PLANE_FRACTION * pixel:
            pair = [frames[group[0]], frames[group[worst]]]
            raise GeometryError(
                f"{names(pair)} lie at one position along the normal of {el.describe(el.IMAGE_ORIENTATION)} "
                f"({float(along[group[0]]):.4g} mm) but {float(offsets[worst]):.4g} mm apart in the slice plane "
                f"({el.describe(el.IMAGE_POSITION)} {_round(positions[group[0]])} and "
                f"{_round(positions[group[worst]])}): the volumes of this series lie on different grids and cannot "
                "share one matrix. Choose images with select=",
                path=location,
            )
    return groups


def _check_present(frames: list[Frame], location: str) -> None:
    for tag, attribute in ((el.IMAGE_POSITION, "position"), (el.IMAGE_ORIENTATION, "orientation")):
        missing = [frame for frame in frames if getattr(frame, attribute) is None]
        if missing:
            raise GeometryError(
                f"{el.describe(tag)} is missing in {len(missing)} of {len(frames)} images ({names(missing)}): "
                "without it their place in the patient is unknown. Projection images (CR, DX, MG, XA, US "
                "and secondary captures) are 2D pictures, not slices of a volume",
                path=location,
            )
    missing = [frame for frame in frames if frame.spacing is None]
    if missing:
        raise GeometryError(
            f"{el.describe(el.PIXEL_SPACING)} is missing in {len(missing)} of {len(frames)} images "
            f"({names(missing)}): the size of their pixels in the patient is unknown",
            path=location,
        )
    bad = [frame for frame in frames if frame.spacing is not None and min(frame.spacing) <= 0]
    if bad:
        raise GeometryError(
            f"{el.describe(el.PIXEL_SPACING)} is {list(bad[0].spacing or ())} in {names(bad)}: "
            "spacings must be positive",
            path=location,
        )


def _unit_orientation(frame: Frame, location: str) -> NDArray[np.float64]:
    assert frame.orientation is not None
    row, column = frame.orientation[:3], frame.orientation[3:]
    lengths = float(np.linalg.norm(row)), float(np.linalg.norm(column))
    dot = float(row @ column) / max(lengths[0] * lengths[1], 1e-12)
    if abs(lengths[0] - 1) > COSINE_TOLERANCE or abs(lengths[1] - 1) > COSINE_TOLERANCE or abs(dot) > COSINE_TOLERANCE:
        raise GeometryError(
            f"{el.describe(el.IMAGE_ORIENTATION)} is {_round(frame.orientation, 6)} in {frame.short_name}: the row "
            f"and column direction cosines must be unit vectors at right angles (lengths "
            f"{lengths[0]:.4g} and {lengths[1]:.4g}, cosine of their angle {dot:.4g})",
            path=location,
        )
    return np.concatenate([row / lengths[0], column / lengths[1]])


def _check_orientations(result: StackGeometry, location: str, allow_mixed: bool) -> NDArray[np.float64]:
    groups: list[tuple[NDArray[np.float64], list[Frame]]] = []
    # Frames of one series share their orientation vector (one object per raw value): each is checked and
    # matched to a group once.
    group_of: dict[int, list[Frame]] = {}
    for frame in result.frames:
        known = group_of.get(id(frame.orientation))
        if known is not None:
            known.append(frame)
            continue
        orientation = _unit_orientation(frame, location)
        for reference, members in groups:
            if reference is orientation or np.max(np.abs(reference - orientation)) <= ORIENTATION_TOLERANCE:
                members.append(frame)
                break
        else:
            groups.append((orientation, [frame]))
            members = groups[-1][1]
        group_of[id(frame.orientation)] = members
    if len(groups) == 1:
        return groups[0][0]
    groups.sort(key=lambda group: -len(group[1]))  # stable: ties keep the group of the first file
    summary = "; ".join(
        f"{len(members)} have {_round(reference)} ({names(members, 2)})" for reference, members in groups[:4]
    )
    if len(groups) > 4:
        summary += f"; and {len(groups) - 4} more orientations"
    if not allow_mixed:
        raise GeometryError(
            f"{el.describe(el.IMAGE_ORIENTATION)} differs between the {len(result.frames)} images of the series: "
            f"{summary}. A series that mixes orientations (localizers, radial or multi-stack scans) is not one "
            "volume: pass allow_mixed_orientations=True to keep the largest group, or choose images with select=",
            path=location,
        )
    kept = groups[0][1]
    result.dropped = [frame for _, members in groups[1:] for frame in members]
    result.frames = kept
    result.warnings.append(
        (
            GeometryWarning,
            f"{location}: {el.describe(el.IMAGE_ORIENTATION)} differs between images; kept the {len(kept)} with "
            f"{_round(groups[0][0])} and left out {len(result.dropped)} ({names(result.dropped)})",
        )
    )
    return groups[0][0]


def _check_sizes(frames: list[Frame], location: str) -> None:
    decoded: dict[tuple[bytes | None, bytes | None, bool], tuple[int | None, int | None]] = {}
    size_of = {}
    tiles: dict[int, tuple[int | None, int | None]] = {}
    for frame in frames:  # thousands of files, a few distinct raw values
        if frame.tile is not None:  # a mosaic's tile, not its whole image; one size per mosaic
            size = tiles.get(id(frame.tile.mosaic))
            if size is None:
                size = tiles[id(frame.tile.mosaic)] = frame_size(frame)
            size_of[id(frame)] = size
            continue
        header = frame.header
        raw = (header.values.get(el.ROWS), header.values.get(el.COLUMNS), header.little_endian)
        size = decoded.get(raw)
        if size is None:
            size = decoded[raw] = (header.integer(el.ROWS), header.integer(el.COLUMNS))
        size_of[id(frame)] = size
    sizes = Counter(size_of.values())
    if len(sizes) > 1:
        summary = "; ".join(
            f"{count} are {rows}x{columns} ({names([f for f in frames if size_of[id(f)] == (rows, columns)], 2)})"
            for (rows, columns), count in sizes.most_common(4)
        )
        raise DataError(
            f"{el.describe(el.ROWS)} x {el.describe(el.COLUMNS)} differ between the images of the series: "
            f"{summary}. Images of different sizes cannot be stacked; choose images with select= or remove the others",
            path=location,
        )
    counted = Counter(frame.spacing for frame in frames)  # a mosaic's tiles share one tuple
    distinct = np.array(list(counted), dtype=np.float64)
    common = _median(np.repeat(distinct, list(counted.values()), axis=0))
    wrong = np.any(np.abs(distinct - common) > PIXEL_SPACING_RTOL * common, axis=1)
    if wrong.any():
        off = {spacing for spacing, bad in zip(counted, wrong.tolist(), strict=True) if bad}
        different = [frame for frame in frames if frame.spacing in off]
        same = [frame for frame in frames if frame.spacing not in off]
        raise GeometryError(
            f"{el.describe(el.PIXEL_SPACING)} differs between the images of the series: "
            f"{_round(np.asarray(different[0].spacing))} in {names(different)}, but {_round(common)} in {names(same)}",
            path=location,
        )
    raw_references = Counter(frame.header.values.get(el.FRAME_OF_REFERENCE_UID) for frame in frames)
    references: Counter[str | None] = Counter()
    for uid, count in raw_references.items():
        references[el.decode_text(uid)] += count
    references -= Counter({None: len(frames)})
    if len(references) > 1:
        raise GeometryError(
            f"{el.describe(el.FRAME_OF_REFERENCE_UID)} differs between the images of the series "
            f"({', '.join(f'{count} in {uid}' for uid, count in references.most_common(3))}): positions in "
            "different frames of reference cannot be compared",
            path=location,
        )


def _single_slice_step(result: StackGeometry, normal: NDArray[np.float64]) -> NDArray[np.float64]:
    frame = result.frames[0]
    for value in (frame.spacing_between, frame.thickness):
        if value is not None and value != 0 and math.isfinite(value):
            return abs(value) * normal
    result.warnings.append(
        (
            GeometryWarning,
            f"{frame.name}: a single slice without {el.describe(el.SPACING_BETWEEN_SLICES)} or "
            f"{el.describe(el.SLICE_THICKNESS)}; its third axis has a length of 1 mm along the normal",
        )
    )
    return normal.copy()


def _check_spacing(
    result: StackGeometry,
    positions: NDArray[np.float64],
    along: NDArray[np.float64],
    step: NDArray[np.float64],
    tolerance: float,
    allow: bool,
    location: str,
) -> None:
    frames = result.frames
    length = float(np.linalg.norm(step))
    steps = np.diff(along)
    typical = float(_median(steps))
    local = np.abs(steps - typical)
    expected = positions[0] + np.arange(len(positions))[:, None] * step
    deviation = np.linalg.norm(positions - expected, axis=1)
    worst_local = int(np.argmax(local))
    worst = int(np.argmax(deviation))
    if deviation[worst] <= tolerance * length:
        return
    if local[worst_local] > tolerance * typical:
        gap = steps[worst_local]
        missing = round(float(gap / typical)) - 1 if typical > 0 else 0
        guess = f" ({missing} missing slice{'s' if missing != 1 else ''}?)" if missing >= 1 else ""
        detail = (
            f"the step along the normal is {typical:.4g} mm between most slices, but {gap:.4g} mm between "
            f"{frames[worst_local].short_name} ({along[worst_local]:.4g} mm) and "
            f"{frames[worst_local + 1].short_name} ({along[worst_local + 1]:.4g} mm){guess}"
        )
    else:
        detail = (
            f"{frames[worst].short_name} lies {deviation[worst]:.4g} mm off the evenly spaced line from the first "
            f"to the last slice (step {length:.4g} mm)"
        )
    message = (
        f"the {len(frames)} slices are not evenly spaced (tolerance {tolerance:g} of the step, "
        f"{el.describe(el.IMAGE_POSITION)}): {detail}"
    )
    if not allow:
        raise GeometryError(
            f"{message}. An evenly spaced volume would put slices in the wrong place: pass "
            "allow_nonuniform_spacing=True to load with the average step anyway, or spacing_tolerance= to accept "
            "larger deviations",
            path=location,
        )
    result.warnings.append(
        (
            GeometryWarning,
            f"{location}: {message}; loaded with the average step {length:.4g} mm, so slices lie up to "
            f"{float(deviation.max()):.4g} mm from their true position",
        )
    )


def _tilt(result: StackGeometry, step: NDArray[np.float64], normal: NDArray[np.float64]) -> float:
    cosine = abs(float(step @ normal)) / max(float(np.linalg.norm(step)), 1e-12)
    angle = math.degrees(math.acos(min(1.0, cosine)))
    if angle <= TILT_REPORT_DEGREES:
        return 0.0
    stated = el.first(result.frames[0].header.floats(el.GANTRY_TILT))
    stated_text = f"; {el.describe(el.GANTRY_TILT)} says {stated:g} degrees" if stated is not None else ""
    result.warnings.append(
        (
            GeometryWarning,
            f"{result.frames[0].header.member.name}: the slice step is {angle:.3g} degrees off the normal of "
            f"{el.describe(el.IMAGE_ORIENTATION)} (gantry tilt{stated_text}); the matrix keeps the true, sheared "
            "geometry. Tools that assume orthogonal voxel axes (NIfTI qform, many viewers) need the volume "
            "resampled",
        )
    )
    return angle
