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
3. (0028,0010) 'Rows', (0028,0011) 'Columns' and (0028,0030) 'Pixel Spacing' agree,
   spacings are positive, and (0020,0052) 'Frame of Reference UID' is one;
4. no two frames share a position (several echoes, phases, time points: choose with
   ``select=``);
5. every position lies within ``spacing_tolerance`` x the step of the straight, evenly
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from mvl.coords import (
    AmbiguousInputError,
    DataError,
    GeometryError,
    GeometryWarning,
    MvlWarning,
)

from . import elements as el
from .frame import Frame

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
#: Attributes compared between frames at the same position to explain why they are there.
DIAGNOSTIC_KEYWORDS = (
    "EchoNumbers",
    "EchoTime",
    "EffectiveEchoTime",
    "TemporalPositionIdentifier",
    "TemporalPositionIndex",
    "TriggerTime",
    "NominalCardiacTriggerDelayTime",
    "DiffusionBValue",
    "StackID",
    "AcquisitionNumber",
    "AcquisitionTime",
    "ImageType",
    "SeriesInstanceUID",
    "SOPInstanceUID",
)


@dataclass
class StackGeometry:
    """The checked stack.

    Attributes
    ----------
    frames : list of Frame
        In stack order (ascending along the normal).
    transformation : (4, 4) ndarray
        Voxel ``(row, column, slice)`` to LPS+ mm.
    tilt : float
        Angle in degrees between the slice step and the normal (gantry tilt); 0 for none.
    dropped : list of Frame
        Frames left out because ``allow_mixed_orientations`` was given.
    warnings : list of (type, str)
        Warnings to issue to the caller.
    """

    frames: list[Frame]
    transformation: NDArray[np.float64]
    tilt: float = 0.0
    dropped: list[Frame] = field(default_factory=list)
    warnings: list[tuple[type[MvlWarning], str]] = field(default_factory=list)


def names(frames: Sequence[Frame], limit: int = 3) -> str:
    """List frames for a message: the first few, then how many more."""
    shown = ", ".join(frame.short_name for frame in frames[:limit])
    return shown if len(frames) <= limit else f"{shown} and {len(frames) - limit} more"


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
) -> StackGeometry:
    """Check that `frames` form one volume and return its order and matrix.

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
        Several frames at one position.
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
    result.frames = [result.frames[index] for index in order]
    positions, along = positions[order], along[order]
    _check_duplicates(result.frames, along, min(spacing), location)
    if len(result.frames) == 1:
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
    return result


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
    for frame in result.frames:
        orientation = _unit_orientation(frame, location)
        for reference, members in groups:
            if np.max(np.abs(reference - orientation)) <= ORIENTATION_TOLERANCE:
                members.append(frame)
                break
        else:
            groups.append((orientation, [frame]))
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
    size_of = {id(frame): (frame.header.integer(el.ROWS), frame.header.integer(el.COLUMNS)) for frame in frames}
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
    spacings = np.array([frame.spacing for frame in frames], dtype=np.float64)
    common = _median(spacings)
    off = np.flatnonzero(np.any(np.abs(spacings - common) > PIXEL_SPACING_RTOL * common, axis=1))
    if off.size:
        different = [frames[index] for index in off]
        same = [frame for index, frame in enumerate(frames) if index not in set(off.tolist())]
        raise GeometryError(
            f"{el.describe(el.PIXEL_SPACING)} differs between the images of the series: "
            f"{_round(spacings[off[0]])} in {names(different)}, but {_round(common)} in {names(same)}",
            path=location,
        )
    references = Counter(frame.header.text(el.FRAME_OF_REFERENCE_UID) for frame in frames) - Counter(
        {None: len(frames)}
    )
    if len(references) > 1:
        raise GeometryError(
            f"{el.describe(el.FRAME_OF_REFERENCE_UID)} differs between the images of the series "
            f"({', '.join(f'{count} in {uid}' for uid, count in references.most_common(3))}): positions in "
            "different frames of reference cannot be compared",
            path=location,
        )


def _check_duplicates(frames: list[Frame], along: NDArray[np.float64], pixel: float, location: str) -> None:
    tolerance = DUPLICATE_FRACTION * pixel
    same = np.flatnonzero(np.diff(along) <= tolerance)
    if same.size == 0:
        return
    clusters: list[list[Frame]] = []
    previous = -2
    for index in same.tolist():
        if index == previous + 1 and clusters:
            clusters[-1].append(frames[index + 1])
        else:
            clusters.append([frames[index], frames[index + 1]])
        previous = index
    sizes = Counter(len(cluster) for cluster in clusters)
    per_position = ", ".join(f"{count} positions hold {size} images" for size, count in sorted(sizes.items()))
    example = clusters[0]
    differing = []
    for keyword in DIAGNOSTIC_KEYWORDS:
        values = [_plain(frame.attribute(keyword)) for frame in example]
        if len(set(values)) > 1:
            differing.append((keyword, values))
    telling = [(k, v) for k, v in differing if k != "SOPInstanceUID"]
    if telling:
        keyword, values = next(((k, v) for k, v in telling if k != "AcquisitionTime"), telling[0])
        hint = (
            "They differ in "
            + ", ".join(f"{k} ({', '.join(map(str, sorted(set(v), key=str)))})" for k, v in telling[:4])
            + f": choose one with select={{{keyword!r}: {_literal(sorted(set(values), key=str)[0])}}}"
        )
    elif differing:
        hint = "They differ only in (0008,0018) 'SOP Instance UID', not in echo, time or stack: remove the extra files"
    else:
        hint = "They are copies of one image (the same (0008,0018) 'SOP Instance UID'): remove the duplicate files"
    raise AmbiguousInputError(
        f"several images share one position along the normal of {el.describe(el.IMAGE_ORIENTATION)} "
        f"({per_position}; e.g. {names(example)} at {float(along[frames.index(example[0])]):.4g} mm): this series "
        f"holds several echoes, phases, time points or duplicate files, not one volume. {hint}",
        path=location,
    )


def _plain(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, Iterable) and not isinstance(value, str | bytes):
        return "\\".join(str(part) for part in value)
    return str(value)


def _literal(value: object) -> str:
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return repr(text)
    return str(int(number)) if number == int(number) and "." not in text else text


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
