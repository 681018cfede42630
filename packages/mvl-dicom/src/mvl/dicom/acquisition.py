"""`Acquisition`: what the files say about when and how one frame was acquired.

Everything that tells the images at one slice position apart, read once per frame:
echo, image type, temporal position, acquisition number and time, trigger time,
diffusion b-value and direction, instance number. For a frame of an enhanced object
the per-frame functional groups are looked up first (Frame Content, MR Echo, MR Image
Frame Type, MR Diffusion, Cardiac Synchronization; PS3.3 C.7.6.16.2, C.8.13.5), then the
shared ones and the top level; the vendors' private elements (:mod:`.vendor`) only where
the standard ones are absent. A value that cannot be decoded counts as absent: these
values sort and group frames, and every grouping is checked afterwards.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mvl.coords import MvlError

from . import elements as el
from . import vendor
from .frame import Frame, attribute_tag, top_level_value
from .headers import Header
from .selection import normalized

__all__ = ["Acquisition", "acquisition_of", "acquisitions_of", "complex_kind"]

_T = TypeVar("_T")
#: The proleptic Gregorian ordinal of 1970-01-01.
_UNIX_DAY = 719163
#: The top-level values frames of one file looked up, by file (a multi-frame object has thousands of frames).
_TOP_LEVEL: weakref.WeakKeyDictionary[Header, dict[int, Any]] = weakref.WeakKeyDictionary()
#: The private creator elements of the vendor blocks :mod:`.vendor` reads; files without any skip those lookups.
_VENDOR_CREATORS = frozenset(tag for tag in vendor.PRIVATE_TAGS if tag & 0xFFFF == 0x0010)

#: GE's (0043,102F) codes and the words of (0008,9208) 'Complex Image Component'.
_GE_COMPONENTS = {0: "MAGNITUDE", 1: "PHASE", 2: "REAL", 3: "IMAGINARY"}
#: Philips' (2005,1011) letters.
_PHILIPS_COMPONENTS = {"M": "MAGNITUDE", "P": "PHASE", "R": "REAL", "I": "IMAGINARY"}
#: Image Type value 3 or 4 (PS3.3 C.8.13.1.1.1 and vendor practice) naming the component.
_IMAGE_TYPE_COMPONENTS = {
    "M": "MAGNITUDE",
    "MAGNITUDE": "MAGNITUDE",
    "P": "PHASE",
    "PHASE": "PHASE",
    "R": "REAL",
    "REAL": "REAL",
    "I": "IMAGINARY",
    "IMAGINARY": "IMAGINARY",
}


@dataclass(frozen=True, slots=True)
class Acquisition:
    """The values of one frame that tell it apart from the other frames at its position.

    Attributes
    ----------
    echo_number : int or None
        (0018,0086) 'Echo Numbers'.
    echo_time : float or None
        (0018,9082) 'Effective Echo Time' of an enhanced frame, else (0018,0081) 'Echo Time', ms.
    image_type : str or None
        (0008,9007) 'Frame Type' of an enhanced frame, else (0008,0008) 'Image Type', values joined by ``\\``.
    component : str or None
        ``"MAGNITUDE"``, ``"PHASE"``, ``"REAL"`` or ``"IMAGINARY"`` where the files say so
        ((0008,9208) 'Complex Image Component', GE's and Philips' private image types).
    vendor_image_type : str or None
        The private image type itself (GE code or Philips letters), for telling images apart.
    kernel : str or None
        (0018,1210) 'Convolution Kernel' (CT reconstructions).
    temporal_index : int or None
        (0020,9128) 'Temporal Position Index'.
    temporal_identifier : int or None
        (0020,0100) 'Temporal Position Identifier'.
    acquisition_number : int or None
        (0020,0012) 'Acquisition Number' ((0020,9156) 'Frame Acquisition Number' of an enhanced frame).
    acquisition_time : str or None
        When it was acquired as DICOM wrote it: (0018,9074) 'Frame Acquisition DateTime',
        (0008,002A) 'Acquisition DateTime', or (0008,0022) date and (0008,0032) 'Acquisition Time'.
    seconds : float or None
        :attr:`acquisition_time` in seconds (since midnight, or since year 0 with a date), for sorting.
    trigger_time : float or None
        (0018,1060) 'Trigger Time' or (0020,9153) 'Nominal Cardiac Trigger Delay Time', ms.
    b_value : float or None
        (0018,9087) 'Diffusion b-value' or the vendor's private one (for a mosaic, else
        its CSA header's ``B_value``), s/mm².
    direction : tuple of 3 float or None
        (0018,9089) 'Diffusion Gradient Orientation' or Siemens' private one (for a mosaic,
        else its CSA header's ``DiffusionGradientDirection``): patient LPS+.
    direction_key : tuple of float or None
        Any diffusion direction the files state (GE's and Philips' private ones included),
        for telling volumes apart only.
    instance_number : int or None
        (0020,0013) 'Instance Number'.
    series_number : int or None
        (0020,0011) 'Series Number': copies of a series under one UID differ in it.
    frame_index : int
        The frame's number (0-based) in its file; 0 for single-frame files.
    dimension_index : tuple of int or None
        (0020,9157) 'Dimension Index Values' of an enhanced frame (PS3.3 C.7.6.17).
    """

    echo_number: int | None = None
    echo_time: float | None = None
    image_type: str | None = None
    component: str | None = None
    vendor_image_type: str | None = None
    kernel: str | None = None
    temporal_index: int | None = None
    temporal_identifier: int | None = None
    acquisition_number: int | None = None
    acquisition_time: str | None = None
    seconds: float | None = None
    trigger_time: float | None = None
    b_value: float | None = None
    direction: tuple[float, float, float] | None = None
    direction_key: tuple[float, ...] | None = None
    instance_number: int | None = None
    frame_index: int = 0
    dimension_index: tuple[int, ...] | None = None
    series_number: int | None = None


def acquisitions_of(frames: Sequence[Frame]) -> dict[int, Acquisition]:
    """The :class:`Acquisition` of each frame by ``id(frame)``; the tiles of one mosaic share one.

    Everything that tells volumes apart is a property of the mosaic's file, not of its
    tiles (their slice times, :attr:`Tile.time <mvl.dicom.mosaic.Tile>`, are not an
    acquisition order across volumes).
    """
    found: dict[int, Acquisition] = {}
    per_file: dict[int, Acquisition] = {}
    for frame in frames:
        if frame.tile is None:
            found[id(frame)] = acquisition_of(frame)
            continue
        shared = per_file.get(id(frame.header))
        if shared is None:
            shared = per_file[id(frame.header)] = acquisition_of(frame)
        found[id(frame)] = shared
    return found


def acquisition_of(frame: Frame) -> Acquisition:
    """Read the :class:`Acquisition` values of one frame."""
    if not frame.groups and frame.values is None and frame.header.dataset is None:
        return _single_frame_acquisition(frame)
    read = _Reader(frame)
    vendored = _has_vendor_blocks(frame)
    image_type = read.text("FrameType") or read.text("ImageType")
    vendor_type = None
    if vendored:
        vendor_type = read.private_text(vendor.GE_IMAGE_TYPE) or read.private_text(vendor.PHILIPS_IMAGE_TYPE)
    when = _acquisition_time(read)
    b_value = read.number("DiffusionBValue")
    direction = read.vector("DiffusionGradientOrientation")
    direction_key = direction
    if b_value is None and vendored:
        b_value = _vendor_b_value(read)
    if direction is None and vendored:
        siemens = read.private_vector(vendor.SIEMENS_DIRECTION)
        direction = siemens
        direction_key = siemens or _vendor_direction(read)
    b_value, direction, direction_key = _from_mosaic(frame, b_value, direction, direction_key)
    return Acquisition(
        echo_number=read.integer("EchoNumbers"),
        echo_time=_present(read.number("EffectiveEchoTime"), read.number("EchoTime")),
        image_type=image_type,
        component=complex_kind(read.text("ComplexImageComponent"), vendor_type, image_type),
        vendor_image_type=vendor_type,
        kernel=read.text("ConvolutionKernel"),
        temporal_index=read.integer("TemporalPositionIndex"),
        temporal_identifier=read.integer("TemporalPositionIdentifier"),
        acquisition_number=_present(read.integer("FrameAcquisitionNumber"), read.integer("AcquisitionNumber")),
        acquisition_time=when[0],
        seconds=when[1],
        trigger_time=_present(read.number("NominalCardiacTriggerDelayTime"), read.number("TriggerTime")),
        b_value=b_value,
        direction=None if direction is None else (direction[0], direction[1], direction[2]),
        direction_key=direction_key,
        instance_number=read.integer("InstanceNumber"),
        frame_index=frame.index or 0,
        dimension_index=_indices(read.values("DimensionIndexValues")),
        series_number=read.integer("SeriesNumber"),
    )


def _has_vendor_blocks(frame: Frame) -> bool:
    """Whether a frame's groups or its file's top level hold one of the vendor blocks :mod:`.vendor` reads."""
    header = frame.header
    if header.dataset is not None:
        return any(tag in header.dataset for tag in _VENDOR_CREATORS) or bool(frame.groups)
    if not _VENDOR_CREATORS.isdisjoint(frame.group_values()):
        return True
    top = header.top_level if header.top_level is not None else header.values
    return not _VENDOR_CREATORS.isdisjoint(top)


def _single_frame_acquisition(frame: Frame) -> Acquisition:
    """The same values for a single-frame file, straight from the header scan's raw values.

    A series has thousands of these files; the raw values repeat from file to file and
    :mod:`.elements` decodes each distinct one once.
    """
    header = frame.header
    raw = _RawReader(header)
    image_type = raw.text(el.IMAGE_TYPE)
    vendor_type = None
    if not _VENDOR_CREATORS.isdisjoint(header.values):
        vendor_type = _joined(raw.private(vendor.GE_IMAGE_TYPE)) or _joined(raw.private(vendor.PHILIPS_IMAGE_TYPE))
    date_time = raw.text(el.ACQUISITION_DATETIME)
    time = raw.text(el.ACQUISITION_TIME)
    date = raw.text(el.ACQUISITION_DATE)
    if date_time:
        when: tuple[str | None, float | None] = (date_time, _datetime_seconds(date_time))
    elif time and date:
        when = (f"{date}{time}", _datetime_seconds(f"{date}{time}"))
    else:
        when = (time, None if time is None else _time_seconds(time))
    b_value = raw.number(el.DIFFUSION_B_VALUE)
    direction = _vector(raw.floats(el.DIFFUSION_GRADIENT_ORIENTATION) or [])
    direction_key = direction
    if (b_value is None or direction is None) and not _VENDOR_CREATORS.isdisjoint(header.values):
        read = _Reader(frame)
        if b_value is None:
            b_value = _vendor_b_value(read)
        if direction is None:
            direction = read.private_vector(vendor.SIEMENS_DIRECTION)
            direction_key = direction or _vendor_direction(read)
    b_value, direction, direction_key = _from_mosaic(frame, b_value, direction, direction_key)
    return Acquisition(
        echo_number=raw.integer(el.ECHO_NUMBERS),
        echo_time=raw.number(el.ECHO_TIME),
        image_type=image_type,
        component=complex_kind(None, vendor_type, image_type),
        vendor_image_type=vendor_type,
        kernel=raw.text(el.CONVOLUTION_KERNEL),
        temporal_identifier=raw.integer(el.TEMPORAL_POSITION_IDENTIFIER),
        acquisition_number=raw.integer(el.ACQUISITION_NUMBER),
        acquisition_time=when[0],
        seconds=when[1],
        trigger_time=raw.number(el.TRIGGER_TIME),
        b_value=b_value,
        direction=None if direction is None else (direction[0], direction[1], direction[2]),
        direction_key=direction_key,
        instance_number=raw.integer(el.INSTANCE_NUMBER),
        frame_index=0,
        series_number=raw.integer(el.SERIES_NUMBER),
    )


def _from_mosaic(
    frame: Frame, b_value: float | None, direction: tuple[float, ...] | None, key: tuple[float, ...] | None
) -> tuple[float | None, tuple[float, ...] | None, tuple[float, ...] | None]:
    """The CSA header's b-value and direction of a mosaic's tile, where the elements gave none."""
    if frame.tile is None:
        return b_value, direction, key
    mosaic = frame.tile.mosaic
    if b_value is None:
        b_value = mosaic.b_value
    if direction is None and mosaic.direction is not None:
        direction = mosaic.direction
        key = key or mosaic.direction
    return b_value, direction, key


class _RawReader:
    """The kept raw values of a single-frame file, decoded by tag; an undecodable value is None."""

    def __init__(self, header: Header) -> None:
        self.header = header

    def floats(self, tag: int) -> list[float] | None:
        try:
            return self.header.floats(tag)
        except MvlError:
            return None

    def number(self, tag: int) -> float | None:
        return _finite((self.floats(tag) or [])[:1])

    def integer(self, tag: int) -> int | None:
        number = self.number(tag)
        return None if number is None or number != int(number) else int(number)

    def text(self, tag: int) -> str | None:
        text = self.header.text(tag)
        if text is None:
            return None
        return "\\".join(part.strip() for part in text.split("\\")) or None

    def private(self, element: vendor.Private) -> list[Any] | None:
        try:
            return vendor.private_value(self.header, {}, element)
        except MvlError:
            return None


def _joined(values: list[Any] | None) -> str | None:
    if not values:
        return None
    return "\\".join(_text(value) for value in values) or None


def complex_kind(standard: str | None, private: str | None, image_type: str | None) -> str | None:
    """Whether a frame is magnitude, phase, real or imaginary, from the most explicit statement.

    Examples
    --------
    >>> complex_kind(None, None, "ORIGINAL\\\\PRIMARY\\\\P\\\\ND")
    'PHASE'
    >>> complex_kind(None, "1", None), complex_kind("MAGNITUDE", None, None), complex_kind(None, None, "ORIGINAL")
    ('PHASE', 'MAGNITUDE', None)
    """
    if standard:
        return standard.upper()
    if private:
        code = private.strip().upper()
        if code.lstrip("-").isdigit():
            return _GE_COMPONENTS.get(int(code))
        return _PHILIPS_COMPONENTS.get(code)
    if image_type:
        values = [part.strip().upper() for part in image_type.split("\\")]
        for part in values[2:5]:
            if part in _IMAGE_TYPE_COMPONENTS:
                return _IMAGE_TYPE_COMPONENTS[part]
    return None


class _Reader:
    """Attribute lookups of one frame that never raise: an undecodable value is None."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.groups = frame.group_values() if frame.values is not None or frame.groups else None
        top = _TOP_LEVEL.get(frame.header)
        if top is None:
            top = _TOP_LEVEL[frame.header] = {}
        self.top = top

    def raw(self, keyword: str) -> Any:
        """:meth:`Frame.attribute`, with the frame's group values looked up once for all keywords.

        The top-level answers are the same for every frame of a file: each is looked up once.
        """
        try:
            tag = attribute_tag(keyword)
            found = None if self.groups is None else self.groups.get(tag)
            if found is not None:
                return found
            if tag not in self.top:
                self.top[tag] = top_level_value(self.frame.header, tag)
            return self.top[tag]
        except (MvlError, ValueError, TypeError, KeyError):
            return None

    def values(self, keyword: str) -> list[Any]:
        value = self.raw(keyword)
        return [] if value == "" else normalized(value)

    def text(self, keyword: str) -> str | None:
        parts = [str(part).strip() for part in self.values(keyword)]
        return "\\".join(parts) if any(parts) else None

    def number(self, keyword: str) -> float | None:
        return _finite(self.values(keyword)[:1])

    def integer(self, keyword: str) -> int | None:
        number = self.number(keyword)
        return None if number is None or number != int(number) else int(number)

    def vector(self, keyword: str) -> tuple[float, ...] | None:
        return _vector(self.values(keyword))

    def private(self, element: vendor.Private) -> list[Any] | None:
        try:
            return vendor.private_value(self.frame.header, self.frame.group_values(), element)
        except MvlError:
            return None

    def private_text(self, element: vendor.Private) -> str | None:
        return _joined(self.private(element))

    def private_number(self, element: vendor.Private) -> float | None:
        return _finite((self.private(element) or [])[:1])

    def private_vector(self, element: vendor.Private) -> tuple[float, ...] | None:
        return _vector(self.private(element) or [])


def _text(value: Any) -> str:
    """A value as text; whole numbers without a decimal point (GE's image type codes decode as floats)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _indices(values: list[Any]) -> tuple[int, ...] | None:
    try:
        return tuple(int(value) for value in values) or None
    except (TypeError, ValueError):
        return None


def _present(first: _T | None, second: _T | None) -> _T | None:
    return second if first is None else first


def _finite(values: list[Any]) -> float | None:
    if not values:
        return None
    try:
        number = float(values[0])
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _vector(values: list[Any]) -> tuple[float, ...] | None:
    if len(values) != 3:
        return None
    numbers = [_finite([value]) for value in values]
    return None if any(number is None for number in numbers) else tuple(float(n) for n in numbers if n is not None)


def _vendor_b_value(read: _Reader) -> float | None:
    siemens = read.private_number(vendor.SIEMENS_B_VALUE)
    if siemens is not None:
        return siemens
    philips = read.private_number(vendor.PHILIPS_B_VALUE)
    if philips is not None:
        return philips
    ge = read.private_number(vendor.GE_B_VALUE)
    if ge is not None and ge >= 1e9:  # some GE software adds 10^9 to the b-value
        ge = ge % 1e9
    return ge


def _vendor_direction(read: _Reader) -> tuple[float, ...] | None:
    for elements in (vendor.PHILIPS_DIRECTION, vendor.GE_DIRECTION):
        parts = [read.private_number(element) for element in elements]
        if all(part is not None for part in parts):
            return tuple(float(part) for part in parts if part is not None)
    return None


def _acquisition_time(read: _Reader) -> tuple[str | None, float | None]:
    for keyword in ("FrameAcquisitionDateTime", "AcquisitionDateTime"):
        text = read.text(keyword)
        if text:
            return text, _datetime_seconds(text)
    time = read.text("AcquisitionTime")
    if not time:
        return None, None
    date = read.text("AcquisitionDate")
    return (f"{date}{time}", _datetime_seconds(f"{date}{time}")) if date else (time, _time_seconds(time))


def _time_seconds(text: str) -> float | None:
    """Seconds since midnight of a TM value ``HHMMSS.ffffff`` (or ``HH:MM:SS``)."""
    clean = text.strip().replace(":", "")
    whole, _, fraction = clean.partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()) or len(whole) not in (2, 4, 6):
        return None
    hours, minutes, seconds = int(whole[0:2]), int(whole[2:4] or 0), int(whole[4:6] or 0)
    return hours * 3600 + minutes * 60 + seconds + (float(f"0.{fraction}") if fraction else 0.0)


def _datetime_seconds(text: str) -> float | None:
    """Seconds of a DT value ``YYYYMMDDHHMMSS.ffffff`` on one scale across days (offsets ignored).

    Counted from 1970 (not year 1), so that a float keeps the microseconds.
    """
    clean = text.strip().split("+")[0].split("-")[0]
    if len(clean) < 8 or not clean[:8].isdigit():
        return None
    import datetime

    try:
        day = datetime.date(int(clean[0:4]), int(clean[4:6]), int(clean[6:8])).toordinal() - _UNIX_DAY
    except ValueError:
        return None
    seconds = _time_seconds(clean[8:]) if len(clean) > 8 else 0.0
    return None if seconds is None else day * 86400.0 + seconds
