"""DICOM data elements: the tags we read, how messages name them, and decoding their raw values.

Messages name an element the way the standard and pydicom do,
``(0020,0037) 'Image Orientation (Patient)'`` (see :func:`describe`). Values are kept
as the raw bytes of the file until needed, then decoded here according to their value
representation (PS3.5 section 6.2): numbers in text (DS, IS) strictly, so that a broken
value is an error that names the element, never a silently wrong number.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Sequence
from typing import Final

from mvl.coords import FormatError

__all__ = [
    "IMAGE_TAGS",
    "PIXEL_TAGS",
    "SURVEY_TAGS",
    "VR_OF",
    "decode_floats",
    "decode_ints",
    "decode_text",
    "describe",
    "keyword_tag",
]

# File meta information (PS3.10 7.1)
TRANSFER_SYNTAX_UID: Final = 0x00020010
# General and SOP common
SPECIFIC_CHARACTER_SET: Final = 0x00080005
IMAGE_TYPE: Final = 0x00080008
STUDY_DATE: Final = 0x00080020
SERIES_DATE: Final = 0x00080021
ACQUISITION_DATE: Final = 0x00080022
ACQUISITION_DATETIME: Final = 0x0008002A
ACQUISITION_TIME: Final = 0x00080032
SOP_CLASS_UID: Final = 0x00080016
SOP_INSTANCE_UID: Final = 0x00080018
MODALITY: Final = 0x00080060
MANUFACTURER: Final = 0x00080070
STUDY_DESCRIPTION: Final = 0x00081030
PATIENT_ID: Final = 0x00100020
SERIES_DESCRIPTION: Final = 0x0008103E
PROTOCOL_NAME: Final = 0x00181030
# Acquisition
SLICE_THICKNESS: Final = 0x00180050
ECHO_TIME: Final = 0x00180081
ECHO_NUMBERS: Final = 0x00180086
SPACING_BETWEEN_SLICES: Final = 0x00180088
TRIGGER_TIME: Final = 0x00181060
GANTRY_TILT: Final = 0x00181120
CONVOLUTION_KERNEL: Final = 0x00181210
DIFFUSION_B_VALUE: Final = 0x00189087
DIFFUSION_GRADIENT_ORIENTATION: Final = 0x00189089
# Relationship and Image Plane (PS3.3 C.7.3.1, C.7.6.2)
STUDY_INSTANCE_UID: Final = 0x0020000D
SERIES_INSTANCE_UID: Final = 0x0020000E
SERIES_NUMBER: Final = 0x00200011
ACQUISITION_NUMBER: Final = 0x00200012
INSTANCE_NUMBER: Final = 0x00200013
IMAGE_POSITION: Final = 0x00200032
IMAGE_ORIENTATION: Final = 0x00200037
FRAME_OF_REFERENCE_UID: Final = 0x00200052
TEMPORAL_POSITION_IDENTIFIER: Final = 0x00200100
NUMBER_OF_TEMPORAL_POSITIONS: Final = 0x00200105
# Image Pixel (PS3.3 C.7.6.3) and Multi-frame (C.7.6.6)
SAMPLES_PER_PIXEL: Final = 0x00280002
PHOTOMETRIC_INTERPRETATION: Final = 0x00280004
PLANAR_CONFIGURATION: Final = 0x00280006
NUMBER_OF_FRAMES: Final = 0x00280008
ROWS: Final = 0x00280010
COLUMNS: Final = 0x00280011
PIXEL_SPACING: Final = 0x00280030
BITS_ALLOCATED: Final = 0x00280100
BITS_STORED: Final = 0x00280101
HIGH_BIT: Final = 0x00280102
PIXEL_REPRESENTATION: Final = 0x00280103
RESCALE_INTERCEPT: Final = 0x00281052
RESCALE_SLOPE: Final = 0x00281053
# RT Dose (PS3.3 C.8.8.3)
GRID_FRAME_OFFSET_VECTOR: Final = 0x3004000C
DOSE_GRID_SCALING: Final = 0x3004000E
# Multi-frame Functional Groups (PS3.3 C.7.6.16)
SHARED_FUNCTIONAL_GROUPS: Final = 0x52009229
PER_FRAME_FUNCTIONAL_GROUPS: Final = 0x52009230
# Pixel data (PS3.3 C.7.6.3, C.7.6.24)
FLOAT_PIXEL_DATA: Final = 0x7FE00008
DOUBLE_FLOAT_PIXEL_DATA: Final = 0x7FE00009
PIXEL_DATA: Final = 0x7FE00010

#: The pixel data elements; a header ends where the first of them starts.
PIXEL_TAGS: Final = frozenset({FLOAT_PIXEL_DATA, DOUBLE_FLOAT_PIXEL_DATA, PIXEL_DATA})

#: Value representation of every element the header scanner keeps (needed for implicit VR).
VR_OF: Final[dict[int, str]] = {
    SPECIFIC_CHARACTER_SET: "CS",
    IMAGE_TYPE: "CS",
    STUDY_DATE: "DA",
    SERIES_DATE: "DA",
    ACQUISITION_DATE: "DA",
    ACQUISITION_DATETIME: "DT",
    ACQUISITION_TIME: "TM",
    SOP_CLASS_UID: "UI",
    SOP_INSTANCE_UID: "UI",
    MODALITY: "CS",
    MANUFACTURER: "LO",
    STUDY_DESCRIPTION: "LO",
    PATIENT_ID: "LO",
    SERIES_DESCRIPTION: "LO",
    SLICE_THICKNESS: "DS",
    ECHO_TIME: "DS",
    ECHO_NUMBERS: "IS",
    SPACING_BETWEEN_SLICES: "DS",
    TRIGGER_TIME: "DS",
    GANTRY_TILT: "DS",
    CONVOLUTION_KERNEL: "SH",
    DIFFUSION_B_VALUE: "FD",
    DIFFUSION_GRADIENT_ORIENTATION: "FD",
    STUDY_INSTANCE_UID: "UI",
    SERIES_INSTANCE_UID: "UI",
    SERIES_NUMBER: "IS",
    PROTOCOL_NAME: "LO",
    ACQUISITION_NUMBER: "IS",
    INSTANCE_NUMBER: "IS",
    IMAGE_POSITION: "DS",
    IMAGE_ORIENTATION: "DS",
    FRAME_OF_REFERENCE_UID: "UI",
    TEMPORAL_POSITION_IDENTIFIER: "IS",
    NUMBER_OF_TEMPORAL_POSITIONS: "IS",
    SAMPLES_PER_PIXEL: "US",
    PHOTOMETRIC_INTERPRETATION: "CS",
    PLANAR_CONFIGURATION: "US",
    NUMBER_OF_FRAMES: "IS",
    ROWS: "US",
    COLUMNS: "US",
    PIXEL_SPACING: "DS",
    BITS_ALLOCATED: "US",
    BITS_STORED: "US",
    HIGH_BIT: "US",
    PIXEL_REPRESENTATION: "US",
    RESCALE_INTERCEPT: "DS",
    RESCALE_SLOPE: "DS",
    GRID_FRAME_OFFSET_VECTOR: "DS",
    DOSE_GRID_SCALING: "DS",
    SHARED_FUNCTIONAL_GROUPS: "SQ",
    PER_FRAME_FUNCTIONAL_GROUPS: "SQ",
}

#: The top-level elements the header scanner keeps for every file.
IMAGE_TAGS: Final = frozenset(VR_OF)

#: What listing series needs of each file: grouping, naming, sizes, orientation, what
#: tells kinds of images apart (echo, image type, kernel) and the position, and for
#: multi-frame objects the geometry of their first frame. The per-slice elements of
#: stacking (instance numbers, times, pixel encoding) are left out: a survey reads every
#: file of a tree, and keeping fewer values makes it faster.
SURVEY_TAGS: Final = IMAGE_TAGS - frozenset(
    {
        ACQUISITION_DATE,
        ACQUISITION_DATETIME,
        ACQUISITION_TIME,
        SOP_INSTANCE_UID,
        MANUFACTURER,
        TRIGGER_TIME,
        GANTRY_TILT,
        DIFFUSION_B_VALUE,
        DIFFUSION_GRADIENT_ORIENTATION,
        NUMBER_OF_TEMPORAL_POSITIONS,
        ACQUISITION_NUMBER,
        INSTANCE_NUMBER,
        FRAME_OF_REFERENCE_UID,
        TEMPORAL_POSITION_IDENTIFIER,
        SAMPLES_PER_PIXEL,
        PHOTOMETRIC_INTERPRETATION,
        PLANAR_CONFIGURATION,
        BITS_ALLOCATED,
        BITS_STORED,
        HIGH_BIT,
        PIXEL_REPRESENTATION,
    }
)

_TEXT_VRS: Final = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"}
)
_BINARY_FORMATS: Final = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d", "UV": "Q", "SV": "q"}


def describe(tag: int) -> str:
    """Name a data element as in the standard: its tag and, where known, its name.

    Parameters
    ----------
    tag : int
        The tag as one number, group in the upper 16 bits.

    Returns
    -------
    str

    Examples
    --------
    >>> describe(0x00200037)
    "(0020,0037) 'Image Orientation (Patient)'"
    >>> describe(0x00191234)
    '(0019,1234)'
    """
    from pydicom.datadict import dictionary_description

    text = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    try:
        return f"{text} '{dictionary_description(tag)}'"
    except KeyError:
        return text


def keyword_tag(keyword: str) -> int:
    """Return the tag of a DICOM keyword such as ``"EchoNumbers"``.

    Raises
    ------
    ValueError
        If the keyword is not in pydicom's data dictionary.

    Examples
    --------
    >>> hex(keyword_tag("EchoNumbers"))
    '0x180086'
    """
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ValueError(f"{keyword!r} is not a DICOM keyword (see pydicom's data dictionary)")
    return int(tag)


def decode_text(raw: bytes | None) -> str | None:
    """Decode a text value without a character set: ASCII, trailing spaces and NULs removed.

    For descriptions in other character sets use :func:`decode_text_with_charset`.

    Examples
    --------
    >>> decode_text(b"1.2.840.10008.5.1.4.1.1.2\\x00")
    '1.2.840.10008.5.1.4.1.1.2'
    >>> decode_text(b"  ") is None
    True
    """
    if raw is None:
        return None
    text = raw.decode("latin-1").strip(" \x00")
    return text or None


def decode_text_with_charset(raw: bytes | None, charset: bytes | None, vr: str = "LO") -> str | None:
    """Decode a text value in the file's (0008,0005) 'Specific Character Set', through pydicom.

    Examples
    --------
    >>> decode_text_with_charset("Grüße ".encode(), b"ISO_IR 192")
    'Grüße'
    """
    if raw is None:
        return None
    from pydicom.charset import convert_encodings, decode_bytes
    from pydicom.values import convert_string

    delimiters = {ord("^"), ord("=")} if vr == "PN" else {ord("\\")}
    try:
        encodings: list[str] = ["iso8859"]
        if charset:  # the defined terms of PS3.3 C.12.1.1.2 ("ISO_IR 192") as Python codecs ("UTF8")
            names = convert_string(charset, True)
            encodings = convert_encodings(names if isinstance(names, str) else [str(name) for name in names])
        text = decode_bytes(raw, encodings, delimiters)
    except (LookupError, ValueError):
        text = raw.decode("latin-1")
    return text.strip(" \x00") or None


def decode_floats(raw: bytes | None, tag: int, vr: str, little_endian: bool = True) -> list[float] | None:
    """Decode a numeric value (DS, IS, or a binary number) as floats; None when absent or empty.

    Raises
    ------
    FormatError
        If a text number cannot be parsed or is not finite (NaN, infinity); names the element.

    Examples
    --------
    >>> decode_floats(b"-179.0\\\\-179.0\\\\42.5 ", 0x00200032, "DS")
    [-179.0, -179.0, 42.5]
    >>> decode_floats(b"nan\\\\0\\\\0", 0x00200032, "DS")
    Traceback (most recent call last):
    ...
    mvl.coords.errors.FormatError: (0020,0032) 'Image Position (Patient)' holds 'nan\\\\0\\\\0': ...
    """
    if raw is None:
        return None
    values = _floats(bytes(raw), tag, vr, little_endian)
    return None if values is None else list(values)


@functools.lru_cache(maxsize=16384)
def _floats(raw: bytes, tag: int, vr: str, little_endian: bool) -> tuple[float, ...] | None:
    """Decode once per distinct raw value: a series repeats most of them on every slice."""
    if vr in _BINARY_FORMATS:
        code = _BINARY_FORMATS[vr]
        width = struct.calcsize("<" + code)  # standard sizes: a native "L" is 8 bytes on 64-bit Linux
        count = len(raw) // width
        if count == 0:
            return None
        values = [float(v) for v in struct.unpack(("<" if little_endian else ">") + code * count, raw[: count * width])]
    else:
        text = raw.decode("latin-1").strip(" \x00")
        if not text:
            return None
        try:
            values = [float(part.strip(" \x00")) for part in text.split("\\")]
        except ValueError:
            raise FormatError(f"{describe(tag)} holds {text!r}, which is not a list of numbers") from None
    if not all(math.isfinite(value) for value in values):
        shown = raw.decode("latin-1").strip(" \x00") if vr not in _BINARY_FORMATS else str(values)
        raise FormatError(f"{describe(tag)} holds {shown!r}: NaN or infinite numbers are not valid here")
    return tuple(values)


def decode_ints(raw: bytes | None, tag: int, vr: str, little_endian: bool = True) -> list[int] | None:
    """Decode an integer value (US, IS, ...); None when absent or empty.

    Raises
    ------
    FormatError
        If the value is not a list of whole numbers.

    Examples
    --------
    >>> decode_ints(b"\\x00\\x02", 0x00280010, "US")
    [512]
    >>> decode_ints(b"12 ", 0x00200013, "IS")
    [12]
    """
    if raw is None:
        return None
    values = _ints(bytes(raw), tag, vr, little_endian)
    return None if values is None else list(values)


@functools.lru_cache(maxsize=16384)
def _ints(raw: bytes, tag: int, vr: str, little_endian: bool) -> tuple[int, ...] | None:
    values = _floats(raw, tag, vr, little_endian)
    if values is None:
        return None
    if not all(value == int(value) for value in values):
        raise FormatError(f"{describe(tag)} holds {list(values)}, expected whole numbers")
    return tuple(int(value) for value in values)


def first(values: Sequence[float] | Sequence[int] | None) -> float | None:
    """The first of a decoded list, or None."""
    return None if not values else float(values[0])
