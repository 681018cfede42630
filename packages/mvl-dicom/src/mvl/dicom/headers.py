"""Header scanning: the elements a volume needs, read from the first bytes of each file.

Reading headers is what loading a series costs (the pixels of an uncompressed series
are one read each), so this module reads only what it needs: the first 16 KiB of a
file (more only when its header is longer), walks the data elements up to the pixel
data without decoding the ones it does not keep, and keeps the raw values of
:data:`~mvl.dicom.elements.IMAGE_TAGS`, the position and length of the pixel data, and
the header bytes themselves (from which :mod:`pydicom` builds a full
:class:`~pydicom.dataset.Dataset` only when a caller asks for one).

The walk follows PS3.5 chapter 7: explicit or implicit VR, little or big endian,
sequences and items of defined or undefined length. Anything unusual (a deflated
transfer syntax, an unknown value representation, a writer that switches to implicit
VR inside a sequence) is handed to :func:`pydicom.dcmread`, which knows the quirks; a
file that neither can read is a :class:`~mvl.coords.FormatError` naming the file and
what is wrong with it. Each file that takes that slow path is logged at debug level on
the ``mvl.dicom`` logger (this module's ``mvl.dicom.headers``), with the file and the reason.

The walk itself (element headers, sequences, the file meta information) is
:mod:`mvl.dicom.walk`; this module decides what to keep, when to fall back, and how much
to read.

A file without the 128-byte preamble and ``DICM`` (PS3.10 7.1) is not a DICOM file
and yields None: folders may hold other files, which are skipped.
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from mvl.coords import FormatError, MvlError, ResourceLimitError

from . import elements as el
from .sources import Member, PrefixReader
from .walk import Fallback, NeedMore, Walker, pixel_element, walk_file_meta

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["Header", "PixelInfo", "UnreadableHeader", "scan_header", "undecodable"]

logger = logging.getLogger(__name__)

#: Bytes read first from every file; most headers (CT, MR) end within 8 KiB.
FIRST_READ: Final = 16384
_MAGIC: Final = b"DICM"
_IMPLICIT_VR_LITTLE: Final = "1.2.840.10008.1.2"
_EXPLICIT_VR_BIG: Final = "1.2.840.10008.1.2.2"
_DEFLATED: Final = frozenset({"1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1"})


@dataclass(frozen=True)
class PixelInfo:
    """Where a file's pixel data is.

    Attributes
    ----------
    tag : int
        (7FE0,0010) 'Pixel Data', or (7FE0,0008)/(7FE0,0009) float pixel data.
    offset : int or None
        File offset of the first byte of the value; None when only pydicom can reach it
        (deflated transfer syntax).
    length : int or None
        Value length in bytes; None for undefined length (encapsulated, PS3.5 A.4).
    """

    tag: int
    offset: int | None
    length: int | None


@dataclass(eq=False)
class Header:
    """The elements of one file that stacking needs, as raw bytes, plus where its pixels are.

    Attributes
    ----------
    member : Member
        The file.
    size : int
        Its size in bytes.
    transfer_syntax : str
        (0002,0010) 'Transfer Syntax UID'.
    little_endian, implicit_vr : bool
        How its data set is encoded.
    values : dict of int to bytes
        Raw values of the kept top-level elements that are present.
    pixel : PixelInfo or None
        None for files without pixel data (reports, presentation states, DICOMDIR).
    header_bytes : bytes or None
        The file up to its pixel data element, when kept.
    dataset : pydicom.dataset.Dataset or None
        The header already parsed by pydicom (files that needed pydicom to read).
    top_level : dict of int to Any or None
        Every top-level element's decoded value, where :mod:`mvl.dicom.groups` read an
        enhanced object's header (:data:`mvl.dicom.groups.PYDICOM` for those it leaves to
        pydicom); None otherwise.
    """

    member: Member
    size: int
    transfer_syntax: str
    little_endian: bool
    implicit_vr: bool
    values: dict[int, bytes]
    pixel: PixelInfo | None
    header_bytes: bytes | None = None
    dataset: Dataset | None = field(default=None, repr=False)
    top_level: dict[int, Any] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """How messages name the file."""
        return self.member.name

    def floats(self, tag: int, vr: str | None = None) -> list[float] | None:
        """Decode a numeric element; None when absent or empty; FormatError naming the file if broken."""
        try:
            return el.decode_floats(self.values.get(tag), tag, vr or el.VR_OF.get(tag, "DS"), self.little_endian)
        except FormatError as error:
            raise FormatError(error.message, path=self.name) from None

    def ints(self, tag: int, vr: str | None = None) -> list[int] | None:
        """Decode an integer element; None when absent or empty."""
        try:
            return el.decode_ints(self.values.get(tag), tag, vr or el.VR_OF.get(tag, "IS"), self.little_endian)
        except FormatError as error:
            raise FormatError(error.message, path=self.name) from None

    def integer(self, tag: int, default: int | None = None) -> int | None:
        """The first value of an integer element, or `default`."""
        values = self.ints(tag)
        return default if not values else values[0]

    def text(self, tag: int) -> str | None:
        """A text element (UIDs, code strings) without character set handling."""
        return el.decode_text(self.values.get(tag))

    def description(self, tag: int) -> str | None:
        """A text element decoded in the file's (0008,0005) 'Specific Character Set'."""
        return el.decode_text_with_charset(
            self.values.get(tag), self.values.get(el.SPECIFIC_CHARACTER_SET), el.VR_OF.get(tag, "LO")
        )

    def load_dataset(self) -> Dataset:
        """The header as a pydicom Dataset without pixel data (parsed now if it was not yet)."""
        if self.dataset is None:
            from pydicom import dcmread

            if self.header_bytes is None:
                raise ValueError(f"{self.name}: the header bytes were not kept")
            self.dataset = dcmread(io.BytesIO(self.header_bytes), stop_before_pixels=True)
        return self.dataset

    def dataset_element(self, tag: int) -> Any:
        """The top-level element `tag` of :attr:`dataset` (which must be set), or None when absent.

        pydicom decodes an element when it is first read: its errors (an unknown VR, a
        value of the wrong length) become a :class:`~mvl.coords.FormatError` naming the
        file and the element.
        """
        assert self.dataset is not None
        try:
            return self.dataset.get(tag)
        except Exception as error:  # pydicom's, whatever the damage: named at our boundary
            raise undecodable(self.name, tag, error) from error

    @property
    def multi_frame(self) -> bool:
        """Whether frames and their geometry come from multi-frame elements (PS3.3 C.7.6.6, C.7.6.16)."""
        frames = self.integer(el.NUMBER_OF_FRAMES, 1) or 1
        return (
            frames > 1
            or el.PER_FRAME_FUNCTIONAL_GROUPS in self.values
            or el.SHARED_FUNCTIONAL_GROUPS in self.values
            or el.GRID_FRAME_OFFSET_VECTOR in self.values
        )


class UnreadableHeader(FormatError):
    """A DICOM file whose header cannot be read; :attr:`series_uid` is its series if that was read first."""

    series_uid: str | None = None


def undecodable(name: str, tag: int, error: Exception) -> FormatError:
    """The error for an element pydicom cannot decode, naming the file, the element and pydicom's message."""
    return FormatError(
        f"the element ({tag >> 16:04X},{tag & 0xFFFF:04X}) cannot be decoded ({type(error).__name__}: {error})",
        path=name,
    )


def scan_header(
    member: Member,
    read_prefix: PrefixReader,
    size: int,
    *,
    keep: Collection[int] = el.IMAGE_TAGS,
    keep_header: bool = True,
    max_header_bytes: int = 256 << 20,
) -> Header | None:
    """Read the header of one file.

    Parameters
    ----------
    member : Member
        The file.
    read_prefix : callable
        ``read_prefix(n)`` returns the file's first `n` bytes.
    size : int
        The file's size in bytes.
    keep : collection of int, optional
        Top-level tags whose raw values to keep.
    keep_header : bool, optional
        Keep the header bytes (for building pydicom datasets later); they are always
        kept for multi-frame objects with functional groups.
    max_header_bytes : int, optional
        Refuse headers longer than this (:class:`~mvl.coords.ResourceLimitError`).

    Returns
    -------
    Header or None
        None if the file is not a DICOM file (no ``DICM`` at offset 128).

    Raises
    ------
    FormatError
        If the file has the DICOM magic but cannot be read; the message names it.
    """
    if size < 132:
        return None
    count = min(size, FIRST_READ)
    buffer = read_prefix(count)
    if len(buffer) < 132 or buffer[128:132] != _MAGIC:
        return None
    wanted = _wanted(keep)
    while True:
        found: dict[int, tuple[int, int]] = {}
        try:
            return _walk_file(member, buffer, size, wanted, keep_header, found)
        except NeedMore as more:
            if len(buffer) >= size:  # pragma: no cover - _walk_file raises FormatError at the end of the file
                raise FormatError("the header ends unexpectedly", path=member.name) from None
            count = min(size, max(2 * len(buffer), more.position + FIRST_READ))
            if count > max_header_bytes:
                raise ResourceLimitError(
                    f"the header before the pixel data is longer than {max_header_bytes} bytes "
                    "(Limits.max_header_bytes); raise the limit to read it",
                    path=member.name,
                ) from None
            buffer = read_prefix(count)
            if len(buffer) < count:
                raise FormatError(
                    f"the file is shorter ({len(buffer)} bytes) than its size ({size})", path=member.name
                ) from None
        except Fallback as why:
            logger.debug("%s: the fast header walk stops (%s); reading the file with pydicom", member.name, why)
            try:
                return _scan_with_pydicom(member, read_prefix, size, wanted, str(why), max_header_bytes)
            except FormatError as error:
                raise UnreadableHeader(error.message, path=error.path or member.name) from error
        except FormatError as error:
            broken = UnreadableHeader(error.message, path=error.path or member.name)
            if el.SERIES_INSTANCE_UID in found:
                start, length = found[el.SERIES_INSTANCE_UID]
                broken.series_uid = el.decode_text(buffer[start : start + length])
            raise broken from error
        except MvlError:
            raise
        except (struct.error, ValueError, IndexError) as error:  # pragma: no cover - defensive
            raise FormatError(f"cannot parse the header ({error})", path=member.name) from error


def _wanted(keep: Collection[int]) -> frozenset[int]:
    """`keep` plus the series UID that grouping always needs; no new set per file when it is there."""
    if isinstance(keep, frozenset) and el.SERIES_INSTANCE_UID in keep:
        return keep
    return frozenset(keep) | {el.SERIES_INSTANCE_UID}


def _walk_file(
    member: Member,
    buffer: bytes,
    size: int,
    wanted: frozenset[int],
    keep_header: bool,
    found: dict[int, tuple[int, int]],
) -> Header:
    meta, position = walk_file_meta(buffer, size, member.name)
    if el.TRANSFER_SYNTAX_UID not in meta:
        if not meta:
            raise FormatError(
                "has the DICOM magic but no file meta information (PS3.10 7.1) after it: not a readable DICOM file",
                path=member.name,
            )
        raise Fallback("no transfer syntax in the file meta information")
    syntax_start, syntax_length = meta[el.TRANSFER_SYNTAX_UID]
    syntax = buffer[syntax_start : syntax_start + syntax_length].decode("latin-1").strip(" \x00")
    if syntax in _DEFLATED:
        raise Fallback("deflated transfer syntax")
    implicit = syntax == _IMPLICIT_VR_LITTLE
    little = syntax != _EXPLICIT_VR_BIG
    walker = Walker(buffer, size, little, implicit, member.name)
    pixel_start, where = walker.walk_top(position, wanted, found)
    pixel = None if where is None else PixelInfo(*where)
    values = _shared_values(buffer, found)
    values[el.TRANSFER_SYNTAX_UID] = syntax.encode("latin-1")
    return Header(
        member=member,
        size=size,
        transfer_syntax=syntax,
        little_endian=little,
        implicit_vr=implicit,
        values=values,
        pixel=pixel,
        header_bytes=buffer[:pixel_start] if keep_header or _has_functional_groups(found) else None,
    )


def _shared_values(buffer: bytes, found: dict[int, tuple[int, int]]) -> dict[int, bytes]:
    """The raw values of `found`, with one object per tag and per value that files repeat.

    A series keeps thousands of headers whose keys and most values (modality,
    orientation, sizes, the UIDs of the series) are the same from file to file; values of
    one image (its position, SOP Instance UID, times) and long ones are kept as they are.
    """
    tags, shared, per_image = _TAGS, _SHARED, _PER_IMAGE
    if len(shared) >= _SHARED_KEPT:
        shared.clear()
    values = {}
    for tag, (start, length) in found.items():
        raw = buffer[start : start + length]
        if length <= _SHARED_LENGTH and tag not in per_image:
            raw = shared.setdefault(raw, raw)
        values[tags.setdefault(tag, tag)] = raw
    return values


#: The tags of every header, one object each.
_TAGS: dict[int, int] = {}
#: Raw values shared between headers; cleared when full.
_SHARED: dict[bytes, bytes] = {}
_SHARED_KEPT: Final = 4096
_SHARED_LENGTH: Final = 128
#: Elements that differ from image to image, not worth sharing.
_PER_IMAGE: Final = frozenset(
    {
        el.SOP_INSTANCE_UID,
        el.IMAGE_POSITION,
        el.INSTANCE_NUMBER,
        el.ACQUISITION_TIME,
        el.ACQUISITION_DATETIME,
        el.TRIGGER_TIME,
    }
)


def _has_functional_groups(found: dict[int, tuple[int, int]]) -> bool:
    return el.PER_FRAME_FUNCTIONAL_GROUPS in found or el.SHARED_FUNCTIONAL_GROUPS in found


def _scan_with_pydicom(
    member: Member, read_prefix: PrefixReader, size: int, wanted: frozenset[int], reason: str, max_header_bytes: int
) -> Header | None:
    """Read a header that the fast walk could not, with pydicom (deflated data sets, unusual encodings)."""
    from pydicom import dcmread
    from pydicom.dataelem import RawDataElement
    from pydicom.errors import BytesLengthException, InvalidDicomError

    if size > max_header_bytes:
        raise ResourceLimitError(
            f"the file needs a full parse ({reason}) but is larger than {max_header_bytes} bytes "
            "(Limits.max_header_bytes); raise the limit to read it",
            path=member.name,
        )
    data = read_prefix(size)
    stream = io.BytesIO(data)
    # What pydicom raises on a file it cannot read, e.g. BytesLengthException for a value whose
    # length does not fit its VR, NotImplementedError for a VR it does not know.
    failures = (
        InvalidDicomError, BytesLengthException, EOFError, OSError, ValueError, struct.error, KeyError, TypeError,
        OverflowError, NotImplementedError, IndexError, zlib.error,
    )  # fmt: skip
    try:
        dataset = dcmread(stream, stop_before_pixels=True)
        syntax = str(dataset.file_meta.get("TransferSyntaxUID", "")) if hasattr(dataset, "file_meta") else ""
        implicit, little = dataset.original_encoding
        implicit, little = bool(implicit), little is not False
        pixel: PixelInfo | None = None
        if syntax in _DEFLATED:  # offsets refer to the inflated stream: only pydicom can reach the pixels
            full = dcmread(io.BytesIO(data))
            tag = next((tag for tag in sorted(el.PIXEL_TAGS) if tag in full), None)
            pixel = None if tag is None else PixelInfo(tag, None, None)
    except failures as error:
        raise FormatError(f"cannot read the file as DICOM ({reason}; pydicom: {error})", path=member.name) from error
    if syntax not in _DEFLATED:
        where = pixel_element(data, stream.tell(), little, _read_as_implicit(dataset, implicit), member.name)
        pixel = None if where is None else PixelInfo(*where)
    values: dict[int, bytes] = {}
    for tag in wanted:
        if tag in dataset:
            # keep_deferred: an empty raw value is converted on access, which fails for an unknown VR
            item: Any = dataset.get_item(tag, keep_deferred=True)
            if isinstance(item, RawDataElement):
                values[tag] = item.value or b""
            elif item.VR == "SQ":
                values[tag] = b""  # already parsed: presence is what matters
            else:
                value = item.value
                parts = value if isinstance(value, list | tuple) else [value]
                values[tag] = "\\".join("" if part is None else str(part) for part in parts).encode(
                    "latin-1", "replace"
                )
    values[el.TRANSFER_SYNTAX_UID] = syntax.encode("latin-1")
    return Header(
        member=member,
        size=size,
        transfer_syntax=syntax,
        little_endian=little,
        implicit_vr=implicit,
        values=values,
        pixel=pixel,
        header_bytes=None,
        dataset=dataset,
    )


def _read_as_implicit(dataset: Dataset, implicit: bool) -> bool:
    """Whether pydicom read the top-level data set as implicit VR.

    pydicom reads a data set whose first element contradicts the transfer syntax in the
    encoding it finds there (with a warning), but reports the transfer syntax's in
    ``original_encoding``; its raw elements keep the one it read them with.
    """
    from pydicom.dataelem import RawDataElement

    for tag in dataset.keys():  # noqa: SIM118 - iterating a Dataset converts its elements
        item: Any = dataset.get_item(tag, keep_deferred=True)
        if isinstance(item, RawDataElement):
            return bool(item.is_implicit_VR)
    return implicit
