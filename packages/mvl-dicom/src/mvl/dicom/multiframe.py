"""Multi-frame objects: one :class:`~mvl.dicom.frame.Frame` per frame, with its own geometry.

Two kinds are understood, and their frames go through the same checks as the slices
of a series:

- Enhanced objects (Enhanced CT/MR/PET, legacy-converted, segmentations, ...) with
  Multi-frame Functional Groups (PS3.3 C.7.6.16): per frame, the Plane Position
  (C.7.6.16.2.3), Plane Orientation (C.7.6.16.2.4), Pixel Measures (C.7.6.16.2.1) and
  Pixel Value Transformation (C.7.6.16.2.9) macros, looked up in the frame's item of
  (5200,9230) 'Per-frame Functional Groups Sequence' first and in (5200,9229) 'Shared
  Functional Groups Sequence' second. :mod:`.groups` reads those sequences with the
  walker, once, into one mapping of values per frame; files it is not certain of are
  read with pydicom, as are all files whose header pydicom parsed.
- Classic multi-frame objects whose frames are parallel planes at the offsets of
  (3004,000C) 'Grid Frame Offset Vector' (RT Dose, PS3.3 C.8.8.3.2), measured along the
  normal of (0020,0037) from (0020,0032).

A multi-frame object with neither has no position for its frames and is refused.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import numpy as np
from numpy.typing import NDArray

from mvl.coords import FormatError, GeometryError

from . import elements as el
from .frame import Frame, check_vector, geometry_value, rescale_of, single_frame, spacing_value
from .groups import FunctionalGroups, read_groups
from .headers import Header
from .walk import Fallback

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["multiframe_frames"]

logger = logging.getLogger(__name__)


def multiframe_frames(header: Header) -> list[Frame]:
    """The frames of a multi-frame file.

    Raises
    ------
    FormatError
        If the functional groups or the offset vector do not match (0028,0008) 'Number of Frames'.
    GeometryError
        If frames have no position, or positions are NaN.
    """
    count = header.integer(el.NUMBER_OF_FRAMES, 1) or 1
    if count < 1:
        raise FormatError(f"{el.describe(el.NUMBER_OF_FRAMES)} is {count}", path=header.name)
    if el.PER_FRAME_FUNCTIONAL_GROUPS in header.values or el.SHARED_FUNCTIONAL_GROUPS in header.values:
        return _functional_group_frames(header, count)
    if el.GRID_FRAME_OFFSET_VECTOR in header.values:
        return _grid_frames(header, count)
    if count == 1:
        return [single_frame(header)]  # pragma: no cover - multi_frame is False for these
    raise GeometryError(
        f"is a multi-frame object ({count} frames, (0008,0016) 'SOP Class UID' {header.text(el.SOP_CLASS_UID)}) "
        f"without a position for each frame: neither {el.describe(el.PER_FRAME_FUNCTIONAL_GROUPS)} nor "
        f"{el.describe(el.GRID_FRAME_OFFSET_VECTOR)} is present (cine loops and projection images are not volumes)",
        path=header.name,
    )


#: The macros that hold each frame's geometry and rescale (PS3.3 C.7.6.16.2), by tag and keyword.
PLANE_POSITION: Final = 0x00209113
PLANE_ORIENTATION: Final = 0x00209116
PIXEL_MEASURES: Final = 0x00289110
PIXEL_VALUE_TRANSFORMATION: Final = 0x00289145
_MACRO_KEYWORDS: Final = {
    PLANE_POSITION: "PlanePositionSequence",
    PLANE_ORIENTATION: "PlaneOrientationSequence",
    PIXEL_MEASURES: "PixelMeasuresSequence",
    PIXEL_VALUE_TRANSFORMATION: "PixelValueTransformationSequence",
}
#: ``lookup(frame, macro, tag)``: the value of `tag` in the frame's `macro`, per-frame item first; None if absent.
_Lookup: TypeAlias = Callable[[int, int, int], Any]
#: Decoded geometry vectors by tag, length and values, shared (read-only) between the frames of one object.
_Vectors: TypeAlias = dict[tuple[int, int, tuple[float, ...]], NDArray[np.float64]]
#: Of one frame: position, orientation, spacing, thickness, spacing between slices, slope, intercept (None: not stated).
_Geometry: TypeAlias = tuple[
    NDArray[np.float64] | None,
    NDArray[np.float64] | None,
    tuple[float, float] | None,
    float | None,
    float | None,
    float | None,
    float | None,
]


def _functional_group_frames(header: Header, count: int) -> list[Frame]:
    """The frames of an enhanced object: its functional groups read by the walker, else by pydicom."""
    if header.dataset is None and header.header_bytes is not None:
        try:
            groups = read_groups(header)
        except Fallback as why:
            logger.debug("%s: the functional groups are read with pydicom (%s)", header.name, why)
        else:
            return _walked_frames(header, count, groups)
    return _pydicom_frames(header, count)


def _walked_frames(header: Header, count: int, groups: FunctionalGroups) -> list[Frame]:
    if groups.per_frame and len(groups.per_frame) != count:
        raise _count_error(header, len(groups.per_frame), count)
    header.top_level = groups.top_level
    values = groups.values if groups.per_frame else groups.values * count
    per_frame = groups.per_frame
    known: dict[tuple[int, ...], _Geometry] = {}

    def lookup(index: int, sequence: int, tag: int) -> Any:
        return groups.macro_value(index if per_frame else None, sequence, tag)

    def geometry(index: int, name: str, vectors: _Vectors) -> _Geometry:
        # frames whose geometry macros are the same objects (the same bytes) have the same geometry
        macros = per_frame[index] if per_frame else {}
        key = tuple(id(macros.get(sequence)) for sequence in _MACRO_KEYWORDS)
        found = known.get(key)
        if found is None:
            found = known[key] = _geometry(lookup, index, name, vectors)
        return found

    frames = _frames(header, count, geometry)
    for frame, mapping in zip(frames, values, strict=True):
        frame.values = mapping
    return frames


def _pydicom_frames(header: Header, count: int) -> list[Frame]:
    """The frames as pydicom reads the functional groups: for what the walker is not certain of."""
    from pydicom.errors import BytesLengthException, InvalidDicomError

    # What pydicom raises on functional groups it cannot read (as for headers: mvl.dicom.headers)
    failures = (
        InvalidDicomError, BytesLengthException, EOFError, OSError, ValueError, struct.error, KeyError, TypeError,
        OverflowError, NotImplementedError, IndexError,
    )  # fmt: skip
    try:
        dataset = header.load_dataset()
        per_frame = list(dataset.get("PerFrameFunctionalGroupsSequence") or [])
        shared = list(dataset.get("SharedFunctionalGroupsSequence") or [])[:1]
    except failures as error:
        raise FormatError(f"cannot read the functional groups (pydicom: {error})", path=header.name) from error
    if per_frame and len(per_frame) != count:
        raise _count_error(header, len(per_frame), count)
    items = [(item, *shared) for item in per_frame] if per_frame else [tuple(shared)] * count

    def lookup(index: int, sequence: int, tag: int) -> Any:
        return _macro_value(items[index], sequence, tag)

    def geometry(index: int, name: str, vectors: _Vectors) -> _Geometry:
        return _geometry(lookup, index, name, vectors)

    try:
        frames = _frames(header, count, geometry)
        for frame, groups in zip(frames, items, strict=True):
            frame.groups = groups
            frame.group_values()  # decoded now: what pydicom cannot decode is an error naming the file
    except failures as error:
        raise FormatError(f"cannot read the functional groups (pydicom: {error})", path=header.name) from error
    return frames


def _count_error(header: Header, items: int, count: int) -> FormatError:
    return FormatError(
        f"{el.describe(el.PER_FRAME_FUNCTIONAL_GROUPS)} has {items} items, but "
        f"{el.describe(el.NUMBER_OF_FRAMES)} is {count}",
        path=header.name,
    )


def _macro_value(items: tuple[Dataset, ...], sequence: int, tag: int) -> Any:
    """The value of `tag` in the first of `items` whose `sequence` holds it (PS3.3 C.7.6.16)."""
    for item in items:
        if sequence in item:
            macro = item[sequence].value
            if len(macro) > 0 and tag in macro[0]:
                value = macro[0][tag].value
                if value is not None and value != "":
                    return value
    return None


def _floats(value: Any) -> list[float] | None:
    if value is None:
        return None
    values = list(value) if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue" else [value]
    try:
        return [float(part) for part in values]
    except (TypeError, ValueError):
        return None


def _frames(header: Header, count: int, geometry: Callable[[int, str, _Vectors], _Geometry]) -> list[Frame]:
    """One frame per index, its geometry and rescale from its macros, the top level's where they are silent."""
    top_position = geometry_value(header, el.IMAGE_POSITION, 3)
    top_orientation = geometry_value(header, el.IMAGE_ORIENTATION, 6)
    top_spacing = spacing_value(header)
    top_slope, top_intercept = rescale_of(header)
    top_thickness = el.first(header.floats(el.SLICE_THICKNESS))
    top_between = el.first(header.floats(el.SPACING_BETWEEN_SLICES))
    vectors: _Vectors = {}
    frames = []
    for index in range(count):
        position, orientation, spacing, thickness, between, slope, intercept = geometry(
            index, f"{header.name} (frame {index + 1})", vectors
        )
        frames.append(
            Frame(
                header=header,
                index=index,
                position=top_position if position is None else position,
                orientation=top_orientation if orientation is None else orientation,
                spacing=top_spacing if spacing is None else spacing,
                thickness=top_thickness if thickness is None else thickness,
                spacing_between=top_between if between is None else between,
                slope=top_slope if slope is None else slope,
                intercept=top_intercept if intercept is None else intercept,
            )
        )
    return frames


def _geometry(lookup: _Lookup, index: int, name: str, vectors: _Vectors) -> _Geometry:
    """What the macros of frame `index` say of its geometry and rescale; None for what they do not say."""
    position = _vector(lookup, index, PLANE_POSITION, el.IMAGE_POSITION, 3, name, vectors)
    orientation = _vector(lookup, index, PLANE_ORIENTATION, el.IMAGE_ORIENTATION, 6, name, vectors)
    spacing = _vector(lookup, index, PIXEL_MEASURES, el.PIXEL_SPACING, 2, name, vectors)
    thickness = _floats(lookup(index, PIXEL_MEASURES, el.SLICE_THICKNESS))
    between = _floats(lookup(index, PIXEL_MEASURES, el.SPACING_BETWEEN_SLICES))
    slope = _floats(lookup(index, PIXEL_VALUE_TRANSFORMATION, el.RESCALE_SLOPE))
    intercept = _floats(lookup(index, PIXEL_VALUE_TRANSFORMATION, el.RESCALE_INTERCEPT))
    return (
        position,
        orientation,
        None if spacing is None else (float(spacing[0]), float(spacing[1])),
        thickness[0] if thickness else None,
        between[0] if between else None,
        slope[0] if slope else None,
        intercept[0] if intercept else None,
    )


def _vector(
    lookup: _Lookup,
    index: int,
    sequence: int,
    tag: int,
    count: int,
    name: str,
    vectors: _Vectors,
) -> NDArray[np.float64] | None:
    """A checked geometry vector of one frame; frames with the same values share one read-only array."""
    value = lookup(index, sequence, tag)
    values = _floats(value)
    if value is not None and values is None:
        macro = _MACRO_KEYWORDS[sequence]
        raise GeometryError(f"{el.describe(tag)} in {macro} holds {value!r}, not numbers", path=name)
    if values is None:
        return None
    key = (tag, count, tuple(values))
    vector = vectors.get(key)
    if vector is None:
        vector = check_vector(values, tag, count, name)
        if vector is not None:
            vector.setflags(write=False)
            vectors[key] = vector
    return vector


def _grid_frames(header: Header, count: int) -> list[Frame]:
    offsets = header.floats(el.GRID_FRAME_OFFSET_VECTOR) or []
    if len(offsets) != count:
        raise FormatError(
            f"{el.describe(el.GRID_FRAME_OFFSET_VECTOR)} has {len(offsets)} values, but "
            f"{el.describe(el.NUMBER_OF_FRAMES)} is {count}",
            path=header.name,
        )
    position = geometry_value(header, el.IMAGE_POSITION, 3)
    orientation = geometry_value(header, el.IMAGE_ORIENTATION, 6)
    slope, intercept = rescale_of(header)
    spacing = spacing_value(header)
    if position is None or orientation is None:
        positions: list[NDArray[np.float64] | None] = [None] * count
    else:
        normal = np.cross(orientation[:3], orientation[3:])
        base = 0.0
        if offsets[0] != 0.0:
            # Absolute interpretation (PS3.3 C.8.8.3.2): z coordinates, only for axial planes.
            if not np.allclose(orientation, [1, 0, 0, 0, 1, 0], atol=1e-4):
                raise GeometryError(
                    f"{el.describe(el.GRID_FRAME_OFFSET_VECTOR)} starts at {offsets[0]} (the absolute "
                    f"interpretation), which PS3.3 C.8.8.3.2 allows only when {el.describe(el.IMAGE_ORIENTATION)} "
                    f"is [1, 0, 0, 0, 1, 0]; it is {orientation.tolist()}",
                    path=header.name,
                )
            base = float(position[2])
        positions = [position + (offset - base) * normal for offset in offsets]
    return [
        Frame(
            header=header,
            index=index,
            position=positions[index],
            orientation=orientation,
            spacing=spacing,
            thickness=el.first(header.floats(el.SLICE_THICKNESS)),
            spacing_between=None,
            slope=slope,
            intercept=intercept,
        )
        for index in range(count)
    ]
