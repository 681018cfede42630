"""Vendor private elements that tell volumes apart: b-values, diffusion directions, image types, Philips scaling.

The standard attributes come first everywhere in :mod:`mvl.dicom`; these private ones
are read only where the standard ones are absent, as dcm2niix does. A private element
is trusted only when its block's private creator (PS3.5 7.8.1) names the vendor's
dictionary, so an element number that another writer reused is never misread:

- GE, creator ``GEMS_PARM_01``: (0043,102F) image type (0 magnitude, 1 phase, 2 real,
  3 imaginary); (0043,1039) b-value (its first value; the 10^9 some software adds is
  removed). Creator ``GEMS_ACQU_01``: (0019,10BB..BD) diffusion direction (scanner frame).
- Philips, creator ``Philips Imaging DD 001``: (2001,1003) b-value. Creator ``Philips MR
  Imaging DD 001``: (2005,10B0..B2) diffusion direction (RL, AP, FH), (2005,1011) image
  type (M, P, R, I, B0, ...), (2005,100E) scale slope of the precise values.
- Siemens, creator ``SIEMENS MR HEADER``: (0019,100C) b-value, (0019,100E) diffusion
  direction (patient, LPS+).

In enhanced Philips objects these elements sit in each frame's (2005,140F) private
functional group item, which is searched too. Only the Siemens direction is documented
in patient coordinates; the GE and Philips vectors tell volumes apart but are not
reported as patient directions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from mvl.coords import FormatError

from . import elements as el
from .headers import Header

__all__ = [
    "GE_B_VALUE",
    "GE_DIRECTION",
    "GE_IMAGE_TYPE",
    "PHILIPS_B_VALUE",
    "PHILIPS_DIRECTION",
    "PHILIPS_IMAGE_TYPE",
    "PHILIPS_SCALE_SLOPE",
    "PRIVATE_TAGS",
    "SIEMENS_B_VALUE",
    "SIEMENS_DIRECTION",
    "Private",
    "philips_precise_rescale",
    "private_value",
    "vr_of_private",
]


@dataclass(frozen=True)
class Private:
    """A private element: its group, its offset in the creator's block, the creator and its VR."""

    group: int
    offset: int
    creator: str
    vr: str

    @property
    def tag(self) -> int:
        """The tag in block 0x10, where every vendor puts it."""
        return self.group << 16 | 0x1000 | self.offset

    @property
    def creator_tag(self) -> int:
        """The (gggg,0010) private creator element of block 0x10."""
        return self.group << 16 | 0x0010


GE_IMAGE_TYPE: Final = Private(0x0043, 0x2F, "GEMS_PARM_01", "SS")
GE_B_VALUE: Final = Private(0x0043, 0x39, "GEMS_PARM_01", "IS")
GE_DIRECTION: Final = tuple(Private(0x0019, offset, "GEMS_ACQU_01", "DS") for offset in (0xBB, 0xBC, 0xBD))
PHILIPS_B_VALUE: Final = Private(0x2001, 0x03, "Philips Imaging DD 001", "FL")
PHILIPS_DIRECTION: Final = tuple(
    Private(0x2005, offset, "Philips MR Imaging DD 001", "FL") for offset in (0xB0, 0xB1, 0xB2)
)
PHILIPS_IMAGE_TYPE: Final = Private(0x2005, 0x11, "Philips MR Imaging DD 001", "CS")
PHILIPS_SCALE_SLOPE: Final = Private(0x2005, 0x0E, "Philips MR Imaging DD 001", "FL")
SIEMENS_B_VALUE: Final = Private(0x0019, 0x0C, "SIEMENS MR HEADER", "IS")
SIEMENS_DIRECTION: Final = Private(0x0019, 0x0E, "SIEMENS MR HEADER", "FD")

_ALL: Final = (
    GE_IMAGE_TYPE,
    GE_B_VALUE,
    *GE_DIRECTION,
    PHILIPS_B_VALUE,
    *PHILIPS_DIRECTION,
    PHILIPS_IMAGE_TYPE,
    PHILIPS_SCALE_SLOPE,
    SIEMENS_B_VALUE,
    SIEMENS_DIRECTION,
)
#: The top-level tags (values and their creators) the header scan keeps for these.
PRIVATE_TAGS: Final = frozenset({element.tag for element in _ALL} | {element.creator_tag for element in _ALL})
_VR_BY_TAG: Final = {element.tag: element.vr for element in _ALL}


def vr_of_private(tag: int) -> str | None:
    """The VR of one of the private elements above (block 0x10), or None for any other tag.

    Examples
    --------
    >>> vr_of_private(0x0043102F), vr_of_private(0x00291010)
    ('SS', None)
    """
    return _VR_BY_TAG.get(tag)


def private_value(header: Header, group_values: Mapping[int, Any], element: Private) -> list[Any] | None:
    """The values of a private element of one frame, or None when absent or not the vendor's.

    Looks in the frame's functional group values first (:meth:`~mvl.dicom.frame.Frame.group_values`,
    which hold the elements of Philips' private per-frame item), then in the file's top level.

    Raises
    ------
    FormatError
        If the element is there but its value cannot be decoded as its VR; names the file.
    """
    creator_tag = element.creator_tag
    if header.dataset is None and creator_tag not in header.values and creator_tag not in group_values:
        return None  # no block of this creator: the common case, answered without decoding
    if group_values and _plain_text(group_values.get(creator_tag)) == element.creator:
        found = _decoded(group_values.get(element.tag), element)
        if found is not None:
            return found
    if header.dataset is not None:
        if _plain_text(header.dataset_element(element.creator_tag)) != element.creator:
            return None
        item = header.dataset_element(element.tag)
        return None if item is None else _decoded(item.value, element)
    if el.decode_text(header.values.get(element.creator_tag)) != element.creator:
        return None
    raw = header.values.get(element.tag)
    if raw is None:
        return None
    if element.vr in ("CS", "LO", "SH"):
        text = el.decode_text(raw)
        return None if text is None else text.split("\\")
    values = header.floats(element.tag, element.vr)
    return None if values is None else list(values)


def _plain_text(value: Any) -> str | None:
    """A creator's text, whether pydicom gave an element, a string or (for UN) bytes."""
    if value is None:
        return None
    if hasattr(value, "value"):
        value = value.value
    if isinstance(value, bytes):
        return el.decode_text(value)
    return str(value).strip(" \x00") or None


def philips_precise_rescale(
    header: Header, group_values: Mapping[int, Any], slope: float, intercept: float
) -> tuple[float, float] | None:
    """Philips' precise rescale of a frame whose standard one is `slope` and `intercept`.

    Philips stores floating-point values as FP = (stored x RS + RI) / (RS x SS), where RS
    and RI are (0028,1053) 'Rescale Slope' and (0028,1052) 'Rescale Intercept' and SS is
    the private scale slope (2005,100E): a rescale of slope 1 / SS and intercept
    RI / (RS x SS). None when the frame has no usable scale slope.

    Examples
    --------
    >>> from mvl.dicom.headers import Header
    >>> from mvl.dicom.sources import Member
    >>> header = Header(Member("x", "x", "x"), 0, "1.2.840.10008.1.2.1", True, False, {}, None)
    >>> philips_precise_rescale(header, {}, 2.0, 0.0) is None
    True
    """
    values = private_value(header, group_values, PHILIPS_SCALE_SLOPE)
    try:
        scale = float(values[0]) if values else 0.0
    except (TypeError, ValueError):
        return None
    if not math.isfinite(scale) or scale == 0 or slope == 0:
        return None
    return 1.0 / scale, intercept / (slope * scale)


def _decoded(value: Any, element: Private) -> list[Any] | None:
    """A value pydicom read, as a list; bytes (an element read as UN) decoded as the element's VR."""
    if value is None or value == "" or value == b"":
        return None
    if isinstance(value, bytes):
        try:
            if element.vr in ("CS", "LO", "SH"):
                text = el.decode_text(value)
                return None if text is None else text.split("\\")
            return el.decode_floats(value, element.tag, element.vr) or None
        except FormatError:
            return None
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]
