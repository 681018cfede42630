"""Walking DICOM data elements over a buffer that holds the start of a file (PS3.5 chapter 7).

Explicit or implicit VR, little or big endian, sequences and items of defined or undefined
length (PS3.5 7.5), value representation UN holding implicit VR little endian (PS3.5
6.2.2). The walk decodes nothing: it records where the elements it is asked for are, and
where the pixel data starts. It asks for more bytes (:class:`NeedMore`) when the buffer
ends before the walk does, and gives up on anything unusual (:class:`Fallback`), which
:mod:`mvl.dicom.headers` then hands to pydicom.
"""

from __future__ import annotations

import struct
from typing import Final

from mvl.coords import FormatError

from . import elements as el

__all__ = ["Fallback", "NeedMore", "Walker"]

MAX_DEPTH: Final = 32
UNDEFINED: Final = 0xFFFFFFFF
ITEM: Final = 0xFFFEE000
ITEM_END: Final = 0xFFFEE00D
SEQUENCE_END: Final = 0xFFFEE0DD

LONG_VRS: Final = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
SHORT_VRS: Final = frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN", b"SH", b"SL", b"SS"}
    | {b"ST", b"TM", b"UI", b"UL", b"US"}
)
EXPLICIT_LE: Final = struct.Struct("<HH2sH").unpack_from
EXPLICIT_BE: Final = struct.Struct(">HH2sH").unpack_from
IMPLICIT_LE: Final = struct.Struct("<HHL").unpack_from
IMPLICIT_BE: Final = struct.Struct(">HHL").unpack_from
LENGTH_LE: Final = struct.Struct("<L").unpack_from
LENGTH_BE: Final = struct.Struct(">L").unpack_from


class NeedMore(Exception):
    """The buffer ends before the walk: read at least :attr:`position` bytes and walk again."""

    def __init__(self, position: int) -> None:
        self.position = position


class Fallback(Exception):
    """Something only pydicom reads (an unknown VR, a switch of encoding); the message says what."""


class Walker:
    """Walks data elements of one encoding over a buffer that holds the start of a file."""

    def __init__(self, buffer: bytes, size: int, little: bool, implicit: bool, name: str) -> None:
        self.buffer = buffer
        self.end = len(buffer)
        self.size = size
        self.little = little
        self.implicit = implicit
        self.name = name

    def _past_end(self, tag: int, start: int, length: int) -> FormatError:
        return FormatError(
            f"{el.describe(tag)} claims {length} bytes at byte {start}, "
            f"but the file ends after {self.size} bytes (truncated or corrupt)",
            path=self.name,
        )

    def walk_top(
        self, position: int, wanted: frozenset[int], found: dict[int, tuple[int, int]]
    ) -> tuple[int, tuple[int, int, int | None] | None]:
        """Walk the top-level data set, recording in `found` where the `wanted` elements' values are.

        Returns where the pixel data element starts and, if there is one, its tag, the
        position of its value and its length (None for undefined length).
        """
        buffer, end, size = self.buffer, self.end, self.size
        implicit, little = self.implicit, self.little
        unpack = (IMPLICIT_LE if little else IMPLICIT_BE) if implicit else (EXPLICIT_LE if little else EXPLICIT_BE)
        unpack_length = LENGTH_LE if little else LENGTH_BE
        pixel_tags = el.PIXEL_TAGS
        while True:
            if position + 8 > end:
                if end >= size:
                    if position == size:
                        return position, None
                    raise FormatError(
                        f"the file ends inside a data element header at byte {position} (truncated)", path=self.name
                    )
                raise NeedMore(position + 8)
            if implicit:
                group, element, length = unpack(buffer, position)
                vr = b""
                start = position + 8
            else:
                group, element, vr, length = unpack(buffer, position)
                if vr in LONG_VRS:
                    if position + 12 > end:
                        raise NeedMore(position + 12)
                    (length,) = unpack_length(buffer, position + 8)
                    start = position + 12
                elif vr in SHORT_VRS:
                    start = position + 8
                else:
                    raise Fallback(f"unknown value representation {vr!r} at byte {position}")
            tag = group << 16 | element
            if tag in pixel_tags:
                return position, (tag, start, None if length == UNDEFINED else length)
            if length == UNDEFINED:
                if vr == b"UN":
                    after = Walker(buffer, size, True, True, self.name).skip_sequence(start, 1)
                elif implicit or vr == b"SQ":
                    after = self.skip_sequence(start, 1)
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

    def skip_sequence(self, position: int, depth: int) -> int:
        """Skip the items of an undefined-length sequence starting at `position`; return where it ends."""
        if depth > MAX_DEPTH:
            raise FormatError(f"sequences are nested more than {MAX_DEPTH} deep", path=self.name)
        unpack = IMPLICIT_LE if self.little else IMPLICIT_BE
        while True:
            self._need(position + 8)
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
        unpack = (
            (IMPLICIT_LE if self.little else IMPLICIT_BE)
            if self.implicit
            else (EXPLICIT_LE if self.little else EXPLICIT_BE)
        )
        unpack_length = LENGTH_LE if self.little else LENGTH_BE
        while True:
            self._need(position + 8)
            if self.implicit:
                group, element, length = unpack(self.buffer, position)
                vr = b""
                start = position + 8
            else:
                group, element, vr, length = unpack(self.buffer, position)
                if group == 0xFFFE:  # delimiters carry no VR
                    (length,) = unpack_length(self.buffer, position + 4)
                    start = position + 8
                elif vr in LONG_VRS:
                    self._need(position + 12)
                    (length,) = unpack_length(self.buffer, position + 8)
                    start = position + 12
                elif vr in SHORT_VRS:
                    start = position + 8
                else:
                    raise Fallback(f"unknown value representation {vr!r} at byte {position}")
            tag = group << 16 | element
            if tag == ITEM_END:
                return start
            if length == UNDEFINED:
                if vr == b"UN":
                    position = Walker(self.buffer, self.size, True, True, self.name).skip_sequence(start, depth + 1)
                elif self.implicit or vr == b"SQ":
                    position = self.skip_sequence(start, depth + 1)
                else:
                    raise Fallback(f"undefined length for value representation {vr!r}")
            else:
                position = self._skip(start, length, tag)

    def _need(self, position: int) -> None:
        if position > self.end:
            if self.end >= self.size:
                raise FormatError(f"the file ends inside a sequence at byte {self.end} (truncated)", path=self.name)
            raise NeedMore(position)

    def _skip(self, start: int, length: int, tag: int) -> int:
        after = start + length
        if after > self.size:
            raise self._past_end(tag, start, length)
        return after
