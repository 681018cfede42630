"""Multi-frame objects: one :class:`~mvl.dicom.frame.Frame` per frame, with its own geometry.

Two kinds are understood, and their frames go through the same checks as the slices
of a series:

- Enhanced objects (Enhanced CT/MR/PET, legacy-converted, segmentations, ...) with
  Multi-frame Functional Groups (PS3.3 C.7.6.16): per frame, the Plane Position
  (C.7.6.16.2.3), Plane Orientation (C.7.6.16.2.4), Pixel Measures (C.7.6.16.2.1) and
  Pixel Value Transformation (C.7.6.16.2.9) macros, looked up in the frame's item of
  (5200,9230) 'Per-frame Functional Groups Sequence' first and in (5200,9229) 'Shared
  Functional Groups Sequence' second.
- Classic multi-frame objects whose frames are parallel planes at the offsets of
  (3004,000C) 'Grid Frame Offset Vector' (RT Dose, PS3.3 C.8.8.3.2), measured along the
  normal of (0020,0037) from (0020,0032).

A multi-frame object with neither has no position for its frames and is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mvl.coords import FormatError, GeometryError

from . import elements as el
from .frame import Frame, check_vector, geometry_value, rescale_of, single_frame, spacing_value
from .headers import Header

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["multiframe_frames"]


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


def _macro_value(items: tuple[Dataset, ...], sequence: str, keyword: str) -> Any:
    """The value of `keyword` in the first of `items` whose `sequence` holds it (PS3.3 C.7.6.16)."""
    for item in items:
        if sequence in item:
            macro = item[sequence].value
            if len(macro) > 0 and keyword in macro[0]:
                value = macro[0][keyword].value
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


def _functional_group_frames(header: Header, count: int) -> list[Frame]:
    dataset = header.load_dataset()
    per_frame = list(dataset.get("PerFrameFunctionalGroupsSequence") or [])
    shared = list(dataset.get("SharedFunctionalGroupsSequence") or [])[:1]
    if per_frame and len(per_frame) != count:
        raise FormatError(
            f"{el.describe(el.PER_FRAME_FUNCTIONAL_GROUPS)} has {len(per_frame)} items, but "
            f"{el.describe(el.NUMBER_OF_FRAMES)} is {count}",
            path=header.name,
        )
    top_position = geometry_value(header, el.IMAGE_POSITION, 3)
    top_orientation = geometry_value(header, el.IMAGE_ORIENTATION, 6)
    top_spacing = spacing_value(header)
    top_slope, top_intercept = rescale_of(header)
    frames = []
    for index in range(count):
        items = (per_frame[index], *shared) if per_frame else tuple(shared)
        name = f"{header.name} (frame {index + 1})"
        position = _vector(items, "PlanePositionSequence", "ImagePositionPatient", el.IMAGE_POSITION, 3, name)
        orientation = _vector(
            items, "PlaneOrientationSequence", "ImageOrientationPatient", el.IMAGE_ORIENTATION, 6, name
        )
        spacing = _vector(items, "PixelMeasuresSequence", "PixelSpacing", el.PIXEL_SPACING, 2, name)
        thickness = _floats(_macro_value(items, "PixelMeasuresSequence", "SliceThickness"))
        between = _floats(_macro_value(items, "PixelMeasuresSequence", "SpacingBetweenSlices"))
        slope = _floats(_macro_value(items, "PixelValueTransformationSequence", "RescaleSlope"))
        intercept = _floats(_macro_value(items, "PixelValueTransformationSequence", "RescaleIntercept"))
        frames.append(
            Frame(
                header=header,
                index=index,
                position=top_position if position is None else position,
                orientation=top_orientation if orientation is None else orientation,
                spacing=top_spacing if spacing is None else (float(spacing[0]), float(spacing[1])),
                thickness=thickness[0] if thickness else el.first(header.floats(el.SLICE_THICKNESS)),
                spacing_between=between[0] if between else el.first(header.floats(el.SPACING_BETWEEN_SLICES)),
                slope=slope[0] if slope else top_slope,
                intercept=intercept[0] if intercept else top_intercept,
                groups=items,
            )
        )
    return frames


def _vector(
    items: tuple[Dataset, ...], sequence: str, keyword: str, tag: int, count: int, name: str
) -> NDArray[np.float64] | None:
    value = _macro_value(items, sequence, keyword)
    values = _floats(value)
    if value is not None and values is None:
        raise GeometryError(f"{el.describe(tag)} in {sequence} holds {value!r}, not numbers", path=name)
    return check_vector(values, tag, count, name)


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
