"""Walking DICOM data elements over a buffer that holds the start of a file (PS3.5 chapter 7).

Explicit or implicit VR, little or big endian, sequences and items of defined or undefined
length (PS3.5 7.5), value representation UN holding implicit VR little endian (PS3.5
6.2.2). The walk decodes no value: it records where the elements it is asked for are, and
where the pixel data starts. It asks for more bytes (:class:`NeedMore`) when the buffer
ends before the walk does, and gives up on anything unusual (:class:`Fallback`), which
:mod:`mvl.dicom.headers` then hands to pydicom.

Element headers (tag, value representation, value length) are decoded by two loops of
:class:`Walker`. :meth:`Walker.walk` skips what it is not asked for: the data set, the
elements of every item, the file meta information (:func:`walk_file_meta`) and the pixel
data element after a pydicom read (:func:`pixel_element`) are all that loop with a
different rule for where it stops. :meth:`Walker.item_elements` lists every element of
one item with its value representation, for :mod:`mvl.dicom.groups`, which decodes the
functional groups of enhanced objects.
"""

from __future__ import annotations

import struct
from collections.abc import Container
from typing import Any, Final, TypeAlias

from mvl.coords import FormatError

from . import elements as el

__all__ = ["Fallback", "ItemElement", "NeedMore", "UnknownVR", "Walker", "pixel_element", "walk_file_meta"]

MAX_DEPTH: Final = 32
UNDEFINED: Final = 0xFFFFFFFF
ITEM: Final = 0xFFFEE000
ITEM_END: Final = 0xFFFEE00D
SEQUENCE_END: Final = 0xFFFEE0DD
#: Group of the item and delimiter tags, whose headers carry no VR in any encoding (PS3.5 7.5).
DELIMITER_GROUP: Final = 0xFFFE
#: Where the data set starts: after the 128-byte preamble and ``DICM`` (PS3.10 7.1).
META_START: Final = 132
META_GROUP: Final = 0x0002
#: Command elements (PS3.7 E.1), which a file should not hold but some do before the data set.
COMMAND_GROUP: Final = 0x0000

LONG_VRS: Final = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
SHORT_VRS: Final = frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN", b"SH", b"SL", b"SS"}
    | {b"ST", b"TM", b"UI", b"UL", b"US"}
)
#: Bytes before the value of an explicit VR element, by its VR (PS3.5 7.1.2): 12 for the
#: VRs with a 4-byte length, 8 for the others.
HEADER_BYTES: Final[dict[bytes, int]] = dict.fromkeys(LONG_VRS, 12) | dict.fromkeys(SHORT_VRS, 8)
EXPLICIT_LE: Final = struct.Struct("<HH2sH").unpack_from
EXPLICIT_BE: Final = struct.Struct(">HH2sH").unpack_from
IMPLICIT_LE: Final = struct.Struct("<HHL").unpack_from
IMPLICIT_BE: Final = struct.Struct(">HHL").unpack_from
LENGTH_LE: Final = struct.Struct("<L").unpack_from
LENGTH_BE: Final = struct.Struct(">L").unpack_from
#: By (little endian, implicit VR): how to unpack an element header, and a 4-byte length.
_UNPACKERS: Final = {
    (True, False): (EXPLICIT_LE, LENGTH_LE),
    (False, False): (EXPLICIT_BE, LENGTH_BE),
    (True, True): (IMPLICIT_LE, LENGTH_LE),
    (False, True): (IMPLICIT_BE, LENGTH_BE),
}

#: Where the walk records the elements it is asked to find: tag to (value start, length).
Found: TypeAlias = dict[int, tuple[int, int]]
#: One element of an item, as :meth:`Walker.item_elements` lists it: tag, VR, value start,
#: bytes spanned, undefined length.
ItemElement: TypeAlias = tuple[int, bytes, int, int, bool]
_NOTHING: Final[frozenset[int]] = frozenset()


class NeedMore(Exception):
    """The buffer ends before the walk: read at least :attr:`position` bytes and walk again."""

    def __init__(self, position: int) -> None:
        self.position = position


class Fallback(Exception):
    """Something only pydicom reads (an unknown VR, a switch of encoding); the message says what."""


class UnknownVR(Fallback):
    """An explicit VR element header whose value representation is none of PS3.5 6.2.

    Attributes
    ----------
    tag : int
        The element's tag.
    vr : bytes
        The two bytes where its value representation should be.
    position : int
        Where its header starts.
    """

    def __init__(self, tag: int, vr: bytes, position: int) -> None:
        super().__init__(f"unknown value representation {vr!r} at byte {position}")
        self.tag = tag
        self.vr = vr
        self.position = position


class _EveryTag:
    """A stop set that holds every tag: :meth:`Walker.walk` returns at the first element."""

    def __contains__(self, tag: object) -> bool:
        return True


_EVERY_TAG: Final = _EveryTag()


class _OutsideGroup:
    """The tags of every group but one: a stop set that ends a walk over that group."""

    def __init__(self, group: int) -> None:
        self.group = group

    def __contains__(self, tag: Any) -> bool:
        group: int = tag >> 16
        return group != self.group


_META: Final = range(META_GROUP << 16, (META_GROUP + 1) << 16)
#: Where a walk of the top-level data set stops: at the pixel data, or at an item tag or
#: delimiter, which only sequences hold (read as implicit VR; in explicit VR their length
#: bytes are no VR).
_TOP_LEVEL_STOP: Final = el.PIXEL_TAGS | {ITEM, ITEM_END, SEQUENCE_END}
_OUTSIDE_META: Final = _OutsideGroup(META_GROUP)


class Walker:
    """Walks data elements of one encoding over a buffer that holds the start of a file.

    Parameters
    ----------
    buffer : bytes
        The first bytes of the file (all of them, or enough for the walk asked for).
    size : int
        The size of the whole file: a walk past the end of `buffer` but not of the file
        raises :class:`NeedMore`, past the end of the file :class:`~mvl.coords.FormatError`.
    little, implicit : bool
        The encoding: little endian, implicit VR.
    name : str
        How error messages name the file.
    """

    __slots__ = ("_unpack", "_unpack_length", "buffer", "end", "implicit", "little", "name", "size")

    def __init__(self, buffer: bytes, size: int, little: bool, implicit: bool, name: str) -> None:
        self.buffer = buffer
        self.end = len(buffer)
        self.size = size
        self.little = little
        self.implicit = implicit
        self.name = name
        self._unpack, self._unpack_length = _UNPACKERS[little, implicit]

    def walk_top(
        self, position: int, wanted: frozenset[int], found: Found
    ) -> tuple[int, tuple[int, int, int | None] | None]:
        """Walk the top-level data set, recording in `found` where the `wanted` elements' values are.

        Returns where the pixel data element starts and, if there is one, its tag, the
        position of its value and its length (None for undefined length); without pixel
        data, the end of the file and None. An item tag or delimiter outside any sequence
        is a :class:`Fallback`.
        """
        stopped = self.walk(position, 0, _TOP_LEVEL_STOP, wanted, found)
        if stopped is None:
            return self.size, None
        start, tag, value, length = stopped
        if tag not in el.PIXEL_TAGS:  # pydicom ends the data set at an item delimiter there
            raise Fallback(f"the item or delimiter tag {_tag_text(tag)} at byte {start} is outside any sequence")
        return start, (tag, value, None if length == UNDEFINED else length)

    def element(self, position: int) -> tuple[int, int, int] | None:
        """The tag, value start and value length of the element whose header starts at `position`.

        None at the end of the file; :class:`UnknownVR` for a value representation that
        is none of PS3.5 6.2.
        """
        stopped = self.walk(position, 0, _EVERY_TAG, _NOTHING, {})
        return None if stopped is None else stopped[1:]

    def walk(
        self, position: int, depth: int, stop: Container[int], wanted: Container[int], found: Found
    ) -> tuple[int, int, int, int] | None:
        """The element loop: walk data elements from `position` until one whose tag is in `stop`.

        Parameters
        ----------
        position : int
            Where the first element header starts.
        depth : int
            0 for the top-level data set (whose end is the end of the file), else how many
            sequences deep the item whose elements are walked is.
        stop : container of int
            The tags to stop at, e.g. :data:`~mvl.dicom.elements.PIXEL_TAGS`, the item
            delimiter, or every tag to read one element header (:meth:`element`).
        wanted : container of int
            The tags whose value positions to record in `found`.
        found : dict of int to (int, int)
            Filled with the value start and length of each wanted element walked over.

        Returns
        -------
        (int, int, int, int) or None
            Where the header of the element stopped at starts, its tag, where its value
            starts and its length (``0xFFFFFFFF`` for undefined). None at the end of the file
            of a top-level walk.

        Raises
        ------
        NeedMore
            The buffer ends before the walk does, but the file does not.
        Fallback
            An unknown value representation, an undefined length where it cannot be.
        FormatError
            The file ends inside an element header, or a value runs past its end.
        """
        buffer, end, size = self.buffer, self.end, self.size
        implicit, unpack, unpack_length = self.implicit, self._unpack, self._unpack_length
        header_bytes = HEADER_BYTES
        while True:
            if position + 8 > end:
                if position == size and end >= size and not depth:
                    return None
                self._need(position + 8, position, depth)
            if implicit:
                group, element, length = unpack(buffer, position)
                vr = b""
                start = position + 8
            else:
                group, element, vr, length = unpack(buffer, position)
                try:
                    head = header_bytes[vr]
                except KeyError:
                    head = 0
                if head == 8:
                    start = position + 8
                elif head == 12:
                    if position + 12 > end:
                        self._need(position + 12, position, depth)
                    (length,) = unpack_length(buffer, position + 8)
                    start = position + 12
                elif depth and group == DELIMITER_GROUP:  # item delimiters carry no VR
                    (length,) = unpack_length(buffer, position + 4)
                    vr = b""
                    start = position + 8
                else:
                    raise UnknownVR(group << 16 | element, vr, position)
            tag = group << 16 | element
            if tag in stop:
                return position, tag, start, length
            if length == UNDEFINED:
                if vr == b"UN":
                    after = Walker(buffer, size, True, True, self.name).skip_sequence(start, depth + 1)
                elif implicit or vr == b"SQ":
                    after = self.skip_sequence(start, depth + 1)
                else:
                    raise Fallback(f"undefined length for value representation {vr!r}")
                if tag in wanted:
                    found[tag] = (start, after - start)
                position = after
                continue
            after = start + length
            if after > end:
                if after > size:
                    raise self._past_end(tag, start, length)
                if tag in wanted:
                    raise NeedMore(after + 8)
            elif tag in wanted:
                found[tag] = (start, length)
            position = after

    def item_elements(self, position: int, end: int | None, depth: int) -> tuple[list[ItemElement], int]:
        """List the elements of one item (or of a data set ending at `end`), with their VRs, in file order.

        Parameters
        ----------
        position : int
            Where the item's first element header starts (after its item tag and length).
        end : int or None
            Where a defined-length item ends; None for an item of undefined length, which
            ends with an (FFFE,E00D) 'Item Delimitation Item' (PS3.5 7.5.2).
        depth : int
            How many sequences deep the item is.

        Returns
        -------
        elements : list of (int, bytes, int, int, bool)
            Each element's tag, VR (``b""`` in implicit VR), where its value starts, how
            many bytes it spans (for an undefined length, up to and including its
            sequence delimiter) and whether its length was undefined.
        after : int
            Where the item ends.

        Raises
        ------
        Fallback
            An unknown VR, an undefined length for a VR that cannot have one, an item or
            delimiter tag where an element should be, or an element past the end of its
            defined-length item.
        NeedMore, FormatError
            As :meth:`walk`.
        """
        buffer, size, implicit = self.buffer, self.size, self.implicit
        unpack, unpack_length = self._unpack, self._unpack_length
        header_bytes = HEADER_BYTES
        limit = self.end if end is None else min(end, self.end)
        elements: list[ItemElement] = []
        while end is None or position < end:
            if position + 8 > limit:
                if end is not None and position + 8 > end:
                    raise Fallback(f"an element header at byte {position} runs past the end of its item at {end}")
                self._need(position + 8, position, depth)
            if implicit:
                group, element, length = unpack(buffer, position)
                vr = b""
                start = position + 8
            else:
                group, element, vr, length = unpack(buffer, position)
                head = header_bytes.get(vr, 0)
                if head == 8:
                    start = position + 8
                elif head == 12:
                    if position + 12 > limit:
                        self._need(position + 12, position, depth)
                    (length,) = unpack_length(buffer, position + 8)
                    start = position + 12
                elif group == DELIMITER_GROUP:
                    (length,) = unpack_length(buffer, position + 4)
                    vr = b""
                    start = position + 8
                else:
                    raise UnknownVR(group << 16 | element, vr, position)
            tag = group << 16 | element
            if group == DELIMITER_GROUP:
                if tag == ITEM_END and end is None:
                    return elements, start
                raise Fallback(f"the item or delimiter tag {_tag_text(tag)} at byte {position} is inside an item")
            if length == UNDEFINED:
                if vr == b"UN":
                    after = Walker(buffer, size, True, True, self.name).skip_sequence(start, depth + 1)
                elif implicit or vr == b"SQ":
                    after = self.skip_sequence(start, depth + 1)
                else:
                    raise Fallback(f"undefined length for value representation {vr!r}")
                if end is not None and after > end:
                    raise Fallback(f"{el.describe(tag)} at byte {position} runs past the end of its item at {end}")
                elements.append((tag, vr, start, after - start, True))
            else:
                after = start + length
                if end is not None and after > end:
                    raise Fallback(f"{el.describe(tag)} at byte {position} runs past the end of its item at {end}")
                if after > self.end:
                    if after > size:
                        raise self._past_end(tag, start, length)
                    raise NeedMore(after)
                elements.append((tag, vr, start, length, False))
            position = after
        return elements, position

    def skip_sequence(self, position: int, depth: int) -> int:
        """Skip the items of an undefined-length sequence starting at `position`; return where it ends.

        Item and delimiter headers are a tag and a 4-byte length in every encoding (PS3.5 7.5).
        """
        if depth > MAX_DEPTH:
            raise FormatError(f"sequences are nested more than {MAX_DEPTH} deep", path=self.name)
        unpack = IMPLICIT_LE if self.little else IMPLICIT_BE
        while True:
            if position + 8 > self.end:
                self._need(position + 8, position, depth)
            group, element, length = unpack(self.buffer, position)
            tag = group << 16 | element
            if tag == SEQUENCE_END:
                return position + 8
            if tag != ITEM:
                raise Fallback(f"expected an item (FFFE,E000) at byte {position}, found ({group:04X},{element:04X})")
            if length == UNDEFINED:
                position = self.skip_item(position + 8, depth)
            else:
                position = self._skip(position + 8, length, ITEM)

    def skip_item(self, position: int, depth: int) -> int:
        """Skip the elements of an undefined-length item; return where its delimiter ends."""
        stopped = self.walk(position, depth, (ITEM_END,), _NOTHING, {})
        assert stopped is not None  # only a top-level walk ends at the end of the file
        return stopped[2]

    def _need(self, needed: int, position: int, depth: int) -> None:
        """The buffer ends before `needed`: more bytes if the file has them, else the file is truncated."""
        if self.end < self.size:
            raise NeedMore(needed)
        if depth:
            raise FormatError(f"the file ends inside a sequence at byte {self.end} (truncated)", path=self.name)
        raise FormatError(f"the file ends inside a data element header at byte {position} (truncated)", path=self.name)

    def _skip(self, start: int, length: int, tag: int) -> int:
        after = start + length
        if after > self.size:
            raise self._past_end(tag, start, length)
        return after

    def _past_end(self, tag: int, start: int, length: int) -> FormatError:
        if tag >> 16 == META_GROUP:
            return FormatError(
                f"element {_tag_text(tag)} of the file meta information claims {length} bytes "
                f"at byte {start}, past the end of the file ({self.size} bytes)",
                path=self.name,
            )
        return FormatError(
            f"{el.describe(tag)} claims {length} bytes at byte {start}, "
            f"but the file ends after {self.size} bytes (truncated or corrupt)",
            path=self.name,
        )


def walk_file_meta(buffer: bytes, size: int, name: str) -> tuple[Found, int]:
    """Walk the file meta information (PS3.10 7.1): the group 0002 elements after the magic.

    Parameters
    ----------
    buffer : bytes
        The first bytes of the file, preamble and ``DICM`` included.
    size : int
        The size of the whole file.
    name : str
        How error messages name the file.

    Returns
    -------
    found : dict of int to (int, int)
        The value start and length of every file meta element.
    position : int
        Where the data set starts.

    Raises
    ------
    NeedMore
        The buffer ends inside the file meta information, but the file does not.
    FormatError
        An element with an invalid value representation, a length past the end of the
        file, or a file that ends inside an element header.
    Fallback
        An element of undefined length that is not a sequence, or command elements
        (group 0000) where the data set starts.

    Examples
    --------
    >>> meta = struct.pack("<HH2sH", 2, 0x10, b"UI", 4) + b"1.2\\0"
    >>> walk_file_meta(bytes(128) + b"DICM" + meta, 144, "x.dcm")
    ({131088: (140, 4)}, 144)
    """
    meta: Found = {}
    try:
        stopped = Walker(buffer, size, True, False, name).walk(META_START, 0, _OUTSIDE_META, _META, meta)
    except UnknownVR as unknown:
        if unknown.tag >> 16 == META_GROUP:
            raise FormatError(
                f"has the DICOM magic but its file meta information (PS3.10 7.1) is not valid: element "
                f"{_tag_text(unknown.tag)} at byte {unknown.position} has the value representation {unknown.vr!r}",
                path=name,
            ) from None
        position, tag = unknown.position, unknown.tag
    else:
        if stopped is None:
            return meta, size
        position, tag = stopped[0], stopped[1]
    if meta and tag >> 16 == COMMAND_GROUP:  # a group of 0000 reads as 0000 in either byte order
        raise Fallback(f"command elements (group 0000) at byte {position}, which pydicom reads as a command set")
    return meta, position


def pixel_element(
    data: bytes, position: int, little: bool, implicit: bool, name: str
) -> tuple[int, int, int | None] | None:
    """The pixel data element whose header starts at `position`, where pydicom stopped before it.

    Parameters
    ----------
    data : bytes
        The whole file.
    position : int
        Where pydicom stopped reading.
    little, implicit : bool
        The encoding of the data set.
    name : str
        How error messages name the file.

    Returns
    -------
    (int, int, int or None) or None
        The tag, where the value starts and its length (None for undefined); None when no
        pixel data element starts at `position`.

    Raises
    ------
    FormatError
        The element header there is cut by the end of the file, or it is a pixel data
        element with an unknown value representation.
    """
    if position + 8 > len(data):
        return None
    try:
        element = Walker(data, len(data), little, implicit, name).element(position)
    except UnknownVR as unknown:
        if unknown.tag not in el.PIXEL_TAGS:
            return None
        raise FormatError(
            f"{el.describe(unknown.tag)} at byte {position} has the value representation {unknown.vr!r}", path=name
        ) from None
    if element is None or element[0] not in el.PIXEL_TAGS:
        return None
    tag, start, length = element
    return tag, start, None if length == UNDEFINED else length


def _tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
