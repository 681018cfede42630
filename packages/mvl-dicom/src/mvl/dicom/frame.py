"""`Frame`: one 2D image to stack, with what the Image Plane module says about it.

A :class:`Frame` carries what the Image Plane module (PS3.3 C.7.6.2) says about one
image, wherever it came from: (0020,0032) 'Image Position (Patient)', (0020,0037) 'Image
Orientation (Patient)', (0028,0030) 'Pixel Spacing', and the Modality LUT's (0028,1053)
'Rescale Slope' and (0028,1052) 'Rescale Intercept' (PS3.3 C.11.1). This module also
holds the value helpers every reader of frames uses (single-frame files here,
:mod:`.multiframe` for multi-frame objects, :mod:`.frames` dispatching between them), so
that those readers depend on it and never on each other.

Frames also answer :meth:`Frame.attribute`, by DICOM keyword, for choosing among frames
(``select={"EchoNumbers": 1}``) and for telling the volumes of a series apart.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from mvl.coords import FormatError, GeometryError

from . import elements as el
from .groups import PYDICOM
from .headers import Header, undecodable
from .vendor import vr_of_private

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from .mosaic import Tile

__all__ = [
    "Frame",
    "attribute_tag",
    "check_vector",
    "frame_names",
    "geometry_value",
    "rescale_of",
    "single_frame",
    "spacing_value",
    "top_level_attribute",
    "top_level_value",
]


@dataclass(eq=False)
class Frame:
    """One 2D image to stack.

    Attributes
    ----------
    header : Header
        The file it is in.
    index : int or None
        Its frame number (0-based) in a multi-frame file; None for single-frame files.
    position : (3,) ndarray or None
        (0020,0032) 'Image Position (Patient)': the centre of its first pixel, LPS+ mm.
    orientation : (6,) ndarray or None
        (0020,0037) 'Image Orientation (Patient)': direction cosines of a row, then of a column.
    spacing : tuple of 2 float or None
        (0028,0030) 'Pixel Spacing': between rows, then between columns, mm.
    thickness, spacing_between : float or None
        (0018,0050) 'Slice Thickness' and (0018,0088) 'Spacing Between Slices'.
    slope, intercept : float
        The rescale to real values (PS3.3 C.11.1.1.2); 1 and 0 when absent.
    groups : tuple of pydicom Dataset
        Its per-frame then shared functional group items, where pydicom read them
        (multi-frame objects only); empty where :mod:`.groups` did.
    values : mapping of int to Any or None
        Its functional group values by tag as :mod:`.groups` decoded them, which
        :meth:`group_values` returns (shared with other frames: not to be modified); None
        for single-frame files and where pydicom read the groups.
    tile : Tile or None
        Where its pixels are in its file's image when that is a Siemens mosaic
        (:mod:`mvl.dicom.mosaic`); None for every other frame.
    """

    header: Header
    index: int | None
    position: NDArray[np.float64] | None
    orientation: NDArray[np.float64] | None
    spacing: tuple[float, float] | None
    thickness: float | None
    spacing_between: float | None
    slope: float = 1.0
    intercept: float = 0.0
    groups: tuple[Dataset, ...] = field(default=(), repr=False)
    _group_values: dict[int, Any] | None = field(default=None, repr=False, init=False)
    values: Mapping[int, Any] | None = field(default=None, repr=False)
    tile: Tile | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """How messages name the frame: its file, and its frame number in a multi-frame file."""
        return self.header.name if self.index is None else f"{self.header.name} (frame {self.index + 1})"

    @property
    def short_name(self) -> str:
        """The frame's file relative to the input (and its frame number), for lists in messages."""
        key = self.header.member.key
        return key if self.index is None else f"{key} (frame {self.index + 1})"

    def attribute(self, key: str) -> Any:
        """The value of a DICOM attribute for this frame, or None.

        `key` is a keyword (``"EchoNumbers"``) or a tag written ``"(gggg,eeee)"``, which
        also reaches private elements. Looks in the frame's functional groups first
        (per-frame, then shared; in their macros, PS3.3 C.7.6.16, and in the sequences of
        those, such as the Diffusion Gradient Direction of the MR Diffusion macro or
        Philips' private per-frame item), then in the file's top-level data set.

        Raises
        ------
        ValueError
            If `key` is neither a keyword nor a tag.
        """
        tag = attribute_tag(key)
        values = self.values
        if values is None and self.groups:
            values = self.group_values()
        if values is not None:
            found = values.get(tag)
            if found is not None:
                return found
        return top_level_value(self.header, tag)

    def group_values(self) -> Mapping[int, Any]:
        """The values in the frame's functional group macros by tag, the first found winning.

        Searched as :meth:`attribute` describes (per-frame before shared, each macro
        before the sequences inside it), once per frame: a series looks up a dozen
        attributes of each of its thousands of frames. :attr:`values` where the walker
        read them (PS3.3 C.7.6.16; sequences are searched, not values).
        """
        if self.values is not None:
            return self.values
        if self._group_values is None:
            found: dict[int, Any] = {}
            for item in self.groups:
                _collect_macros(item, found, 2)
            self._group_values = found
        return self._group_values


@functools.lru_cache(maxsize=1024)
def attribute_tag(key: str) -> int:
    """The tag of a DICOM keyword, or of a tag written ``"(gggg,eeee)"`` or ``"gggg,eeee"``.

    Raises
    ------
    ValueError
        If `key` is neither.

    Examples
    --------
    >>> hex(attribute_tag("EchoNumbers")), hex(attribute_tag("(0043,102F)"))
    ('0x180086', '0x43102f')
    """
    text = key.strip()
    if "," in text:
        group, _, element = text.strip("()").partition(",")
        try:
            return int(group, 16) << 16 | int(element, 16)
        except ValueError:
            raise ValueError(f"{key!r} is neither a DICOM keyword nor a tag written (gggg,eeee)") from None
    return el.keyword_tag(text)


def _collect_macros(item: Dataset, found: dict[int, Any], depth: int) -> None:
    """Record the values of the first item of each sequence of `item`, then of the sequences in those."""
    for group in item:
        if group.VR == "SQ" and group.value is not None and len(group.value) > 0:
            macro = group.value[0]
            for element in macro:
                if element.tag not in found and element.value is not None and element.value != "":
                    found[element.tag] = element.value
            if depth > 1:
                _collect_macros(macro, found, depth - 1)


def top_level_attribute(header: Header, keyword: str) -> Any:
    """A top-level attribute of a file by keyword, from its dataset or its kept raw values."""
    try:
        tag = el.keyword_tag(keyword)
    except ValueError:
        return None
    return top_level_value(header, tag)


def top_level_value(header: Header, tag: int) -> Any:
    """A top-level element's value by tag, from the file's dataset or its kept raw values; None when absent.

    Private elements (odd groups) are decoded with the VR :mod:`.vendor` knows for them,
    else as text. An enhanced object whose functional groups the walker read answers
    from every top-level element it decoded (:attr:`~mvl.dicom.headers.Header.top_level`),
    and from pydicom's dataset for what it left to pydicom (sequences, unusual values).
    """
    if header.dataset is None and header.top_level is not None:
        value = header.top_level.get(tag)
        if value is not PYDICOM:
            return value
        header.load_dataset()
    if header.dataset is not None:
        found = header.dataset_element(tag)
        return None if found is None else found.value
    raw = header.values.get(tag)
    if raw is None:
        return None
    if tag >> 16 & 1:
        vr = vr_of_private(tag)
        if vr is None or vr in ("CS", "LO", "SH"):
            return el.decode_text(raw)
        return header.floats(tag, vr)
    from pydicom.datadict import dictionary_VR
    from pydicom.dataelem import RawDataElement, convert_raw_data_element
    from pydicom.tag import BaseTag

    vr = None if header.implicit_vr else dictionary_VR(tag)
    element = RawDataElement(BaseTag(tag), vr, len(raw), raw, 0, header.implicit_vr, header.little_endian)
    try:
        return convert_raw_data_element(element).value
    except Exception as error:  # an unknown VR, a value of the wrong length: pydicom's errors, named here
        raise undecodable(header.name, tag, error) from error


def frame_names(frames: Sequence[Frame], limit: int = 3) -> str:
    """List frames for a message: the first few, then how many more."""
    shown = ", ".join(frame.short_name for frame in frames[:limit])
    return shown if len(frames) <= limit else f"{shown} and {len(frames) - limit} more"


def single_frame(header: Header) -> Frame:
    """The one frame of a single-frame file, from its top-level Image Plane elements.

    Raises
    ------
    FormatError, GeometryError
        For values that cannot be parsed, or NaN and infinite positions.
    """
    slope, intercept = rescale_of(header)
    return Frame(
        header=header,
        index=None,
        position=geometry_value(header, el.IMAGE_POSITION, 3),
        orientation=geometry_value(header, el.IMAGE_ORIENTATION, 6),
        spacing=spacing_value(header),
        thickness=el.first(header.floats(el.SLICE_THICKNESS)),
        spacing_between=el.first(header.floats(el.SPACING_BETWEEN_SLICES)),
        slope=slope,
        intercept=intercept,
    )


def rescale_of(header: Header) -> tuple[float, float]:
    """(0028,1053) 'Rescale Slope' and (0028,1052) 'Rescale Intercept' of a file, times RT Dose's scaling."""
    slope = el.first(header.floats(el.RESCALE_SLOPE))
    intercept = el.first(header.floats(el.RESCALE_INTERCEPT))
    scaling = el.first(header.floats(el.DOSE_GRID_SCALING))
    slope = 1.0 if slope is None else slope
    if scaling is not None:  # RT Dose (PS3.3 C.8.8.3.1): dose = stored value x Dose Grid Scaling
        slope *= scaling
    return slope, 0.0 if intercept is None else intercept


def geometry_value(header: Header, tag: int, count: int) -> NDArray[np.float64] | None:
    """A vector of the Image Plane module, checked for its length and for NaN; None when absent.

    The vectors are read-only and shared between files with the same raw value: the
    orientation of a series, the positions of its slices in every volume.
    """
    raw = header.values.get(tag)
    if raw is not None and header.dataset is None:
        key = (tag, count, raw, header.little_endian)
        cached = _VECTORS.get(key)
        if cached is not None:
            return cached
    try:
        values = header.floats(tag)
    except FormatError as error:
        raise GeometryError(error.message, path=header.name) from None
    vector = check_vector(values, tag, count, header.name)
    if vector is not None and raw is not None and header.dataset is None:
        vector.setflags(write=False)
        if len(_VECTORS) >= _VECTORS_KEPT:
            _VECTORS.clear()
        _VECTORS[(tag, count, raw, header.little_endian)] = vector
    return vector


#: Decoded geometry vectors by raw value; cleared when full (a series repeats a few thousand values).
_VECTORS: dict[tuple[int, int, bytes, bool], NDArray[np.float64]] = {}
_VECTORS_KEPT = 16384


def check_vector(values: list[float] | None, tag: int, count: int, name: str) -> NDArray[np.float64] | None:
    """Check a decoded vector's length and finiteness; GeometryError naming the element and the file."""
    if values is None:
        return None
    if len(values) != count:
        raise GeometryError(f"{el.describe(tag)} has {len(values)} values {values}, expected {count}", path=name)
    vector = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(vector)):
        raise GeometryError(f"{el.describe(tag)} holds {values}: NaN or infinite values", path=name)
    return vector


def spacing_value(header: Header) -> tuple[float, float] | None:
    """(0028,0030) 'Pixel Spacing' as (between rows, between columns)."""
    vector = geometry_value(header, el.PIXEL_SPACING, 2)
    return None if vector is None else (float(vector[0]), float(vector[1]))
