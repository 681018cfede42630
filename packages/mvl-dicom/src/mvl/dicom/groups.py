"""Functional groups of enhanced objects, read once with the walker (PS3.3 C.7.6.16).

An enhanced (multi-frame) object describes each frame in its (5200,9230) 'Per-frame
Functional Groups Sequence' (one item per frame) and what all frames share in (5200,9229)
'Shared Functional Groups Sequence' (one item). Each item holds macros, each a sequence of
one item: Plane Position (C.7.6.16.2.3), Plane Orientation (C.7.6.16.2.4), Pixel Measures
(C.7.6.16.2.1), Frame Content (C.7.6.16.2.2), Pixel Value Transformation (C.7.6.16.2.9),
MR Echo, MR Diffusion (C.8.13.5), vendors' private items such as Philips' (2005,140F).

:func:`read_groups` walks those sequences over the header bytes the scan kept
(:mod:`mvl.dicom.walk`) and decodes, per frame, one flat mapping of tag to value: the
elements of each macro's item, then those of the first item of each sequence inside it
(the Diffusion Gradient Direction of MR Diffusion, for one), per-frame macros before shared
ones, in tag order, the first value found winning: what
:meth:`mvl.dicom.frame.Frame.group_values` documents. It decodes the top-level data set
too, so that frames need no pydicom parse of the header.

Values decode as pydicom decodes them: numbers as float or int, text as str, several
values as a list; bytes for OB, OW, UN and the like. Sequences are searched, never
values. Decoded values are shared between frames and must not be modified. Whatever is
not certain (a character set beyond ASCII, a VR that pydicom would guess, an unsorted item,
a value pydicom would repair) raises :class:`Uncertain`: the caller then reads the file
with pydicom as before.
"""

from __future__ import annotations

import functools
import re
import struct
from dataclasses import dataclass
from typing import Any, Final

from . import elements as el
from .headers import Header
from .walk import IMPLICIT_BE, IMPLICIT_LE, ITEM, SEQUENCE_END, UNDEFINED, Fallback, ItemElement, Walker, walk_file_meta

__all__ = ["PYDICOM", "FunctionalGroups", "Macro", "Uncertain", "decode_value", "read_groups"]

#: A top-level value only pydicom decodes (a sequence, an unusual value): read it from the dataset.
PYDICOM: Final = object()

#: Text VRs split at ``\\`` after trailing spaces and NULs are removed (pydicom's ``convert_string``).
_SPLIT_TEXT: Final = frozenset({"AS", "CS", "DA", "DT", "TM"})
#: Text VRs in the file's character set: decoded here only when ASCII.
_CHARSET_MULTI: Final = frozenset({"LO", "SH", "UC"})
_CHARSET_SINGLE: Final = frozenset({"LT", "ST", "UT"})
_BINARY: Final = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d", "UV": "Q", "SV": "q"}
_BYTES: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
#: What pydicom gives for an empty value (PS3.5 6.2: text VRs are empty strings, others None).
_EMPTY_TEXT: Final = _SPLIT_TEXT | _CHARSET_MULTI | _CHARSET_SINGLE | {"AE", "UI", "UR"}
_DECIMAL: Final = re.compile(r" *[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)? *")
_INTEGER: Final = re.compile(r" *[+-]?[0-9]+ *")
#: The nesting :meth:`~mvl.dicom.frame.Frame.group_values` searches: macros, then sequences in them.
_MACRO_DEPTH: Final = 2


class Uncertain(Fallback):
    """A value or structure that only pydicom reads as pydicom does; the message says what."""


@dataclass(frozen=True, slots=True)
class Macro:
    """One functional group macro: the decoded elements of its sequence's first item.

    Attributes
    ----------
    elements : dict of int to Any
        The item's own elements with a value (sequences left out).
    values : dict of int to Any
        :attr:`elements`, then those of the first item of each sequence in the item, the
        first value of a tag winning.
    """

    elements: dict[int, Any]
    values: dict[int, Any]


@dataclass(frozen=True, slots=True)
class FunctionalGroups:
    """The functional groups of one enhanced object, decoded (PS3.3 C.7.6.16).

    Attributes
    ----------
    per_frame : list of dict of int to Macro
        For each item of (5200,9230) 'Per-frame Functional Groups Sequence', its macros by
        sequence tag; empty when the object has none.
    shared : dict of int to Macro
        The macros of the first item of (5200,9229) 'Shared Functional Groups Sequence'.
    values : list of dict of int to Any
        For each frame, the flat mapping :meth:`~mvl.dicom.frame.Frame.group_values`
        returns; one mapping (the shared item's) for an object without per-frame items.
    top_level : dict of int to Any
        Every top-level element's value; :data:`PYDICOM` for those only pydicom decodes.
    """

    per_frame: list[dict[int, Macro]]
    shared: dict[int, Macro]
    values: list[dict[int, Any]]
    top_level: dict[int, Any]

    def macro_value(self, index: int | None, sequence: int, tag: int) -> Any:
        """The value of `tag` in macro `sequence` of frame `index`'s item, else of the shared item; None if neither.

        `index` is None for an object without per-frame items.
        """
        items = (self.shared,) if index is None else (self.per_frame[index], self.shared)
        for macros in items:
            macro = macros.get(sequence)
            if macro is not None and tag in macro.elements:
                return macro.elements[tag]
        return None


def read_groups(header: Header) -> FunctionalGroups:
    """Read the functional groups and the top-level elements of an enhanced object from its header bytes.

    Parameters
    ----------
    header : Header
        A scanned multi-frame file whose header bytes were kept and not parsed by pydicom.

    Returns
    -------
    FunctionalGroups

    Raises
    ------
    Fallback
        Anything this reader is not certain to decode as pydicom does (:class:`Uncertain`),
        or a structure the walker does not read; read the file with pydicom instead.
    FormatError
        A sequence or element that runs past the end of the header (truncated or corrupt).
    """
    data = header.header_bytes
    if data is None or header.dataset is not None:
        raise Uncertain("the header bytes were not kept")
    _, start = walk_file_meta(data, len(data), header.name)
    reader = _Reader(Walker(data, len(data), header.little_endian, header.implicit_vr, header.name))
    top, _ = reader.walker.item_elements(start, len(data), 0)
    top_level: dict[int, Any] = {}
    sequences: dict[int, ItemElement] = {}
    for element, vr in reader.typed(top):
        tag = element[0]
        if vr == "SQ":
            top_level[tag] = PYDICOM
            sequences[tag] = element
        else:
            try:
                top_level[tag] = reader.value(element, vr)
            except Uncertain:
                top_level[tag] = PYDICOM
    shared: dict[int, Macro] = {}
    if el.SHARED_FUNCTIONAL_GROUPS in sequences:
        items = reader.items(sequences[el.SHARED_FUNCTIONAL_GROUPS], 1)
        if items:
            shared = reader.macros(items[0])
    per_frame = []
    if el.PER_FRAME_FUNCTIONAL_GROUPS in sequences:
        per_frame = [reader.macros(item) for item in reader.items(sequences[el.PER_FRAME_FUNCTIONAL_GROUPS], 1)]
    shared_values = _flat(shared, {})
    values = [_flat(macros, shared_values) for macros in per_frame] if per_frame else [shared_values]
    return FunctionalGroups(per_frame=per_frame, shared=shared, values=values, top_level=top_level)


def _flat(macros: dict[int, Macro], after: dict[int, Any]) -> dict[int, Any]:
    """The macros' values in tag order, the first found winning, then those of `after` not yet found.

    `macros` is in tag order (:meth:`_Reader.typed` checks it): updating from the last
    macro to the first leaves each tag with its first value.
    """
    found = dict(after)
    for macro in reversed(macros.values()):
        found.update(macro.values)
    return found


class _Reader:
    """Items, element VRs and values of one file, with its macros decoded once per distinct raw value."""

    def __init__(self, walker: Walker) -> None:
        self.walker = walker
        self.buffer = walker.buffer
        self.little = walker.little
        self.implicit = walker.implicit
        self._item_header = IMPLICIT_LE if walker.little else IMPLICIT_BE
        self._macros: dict[tuple[bytes, bool], Macro] = {}

    def items(self, sequence: ItemElement, depth: int) -> list[list[ItemElement]]:
        """The elements of every item of a sequence element (PS3.5 7.5)."""
        _, _, start, length, undefined = sequence
        end = start + length
        position = start
        found: list[list[ItemElement]] = []
        walker, unpack = self.walker, self._item_header
        while True:
            if not undefined and position >= end:
                return found
            if position + 8 > end:
                raise Uncertain(f"an item header at byte {position} runs past its sequence ending at {end}")
            group, element, item_length = unpack(self.buffer, position)
            tag = group << 16 | element
            if tag == SEQUENCE_END and undefined:
                return found
            if tag != ITEM:
                raise Uncertain(f"expected an item (FFFE,E000) at byte {position}, found {tag:08X}")
            if item_length == UNDEFINED:
                elements, position = walker.item_elements(position + 8, None, depth)
            else:
                if position + 8 + item_length > end:
                    raise Uncertain(f"the item at byte {position} runs past its sequence ending at {end}")
                elements, position = walker.item_elements(position + 8, position + 8 + item_length, depth)
            found.append(elements)

    def typed(self, elements: list[ItemElement]) -> list[tuple[ItemElement, str]]:
        """The elements of one item with the VR pydicom gives each (PS3.5 6.2, 7.8.1); checked to be in tag order."""
        previous = -1
        creators: dict[int, ItemElement] | None = None
        typed = []
        names, implicit = _VR_NAMES, self.implicit
        for element in elements:
            tag, raw_vr, _, _, undefined = element
            if tag <= previous:
                raise Uncertain(f"the elements of an item are not in ascending tag order at {el.describe(tag)}")
            previous = tag
            if not implicit:
                vr = names.get(raw_vr) or raw_vr.decode("latin-1")
                if vr == "UN":
                    if undefined or not tag >> 16 & 1:
                        raise Uncertain(f"{el.describe(tag)} has the value representation UN")
                    if creators is None:
                        creators = {item[0]: item for item in elements}
                    if _private_vr(tag, self._creator(tag, creators)) != "UN":
                        raise Uncertain(f"{el.describe(tag)} has the value representation UN but a known one")
            elif tag >> 16 & 1:
                if creators is None:
                    creators = {item[0]: item for item in elements}
                vr = "SQ" if undefined else _private_vr(tag, self._creator(tag, creators))
            else:
                vr = _public_vr(tag)
                if undefined and vr != "SQ":
                    raise Uncertain(f"{el.describe(tag)} has an undefined length but the value representation {vr}")
            typed.append((element, vr))
        return typed

    def _creator(self, tag: int, creators: dict[int, ItemElement]) -> str | None:
        """The private creator (PS3.5 7.8.1) of a private element's block, from the same item."""
        if 0x10 <= tag & 0xFFFF <= 0xFF or not tag & 0xFF00:
            return None
        creator = creators.get(tag & 0xFFFF0000 | (tag & 0xFF00) >> 8)
        if creator is None:
            return None
        value = self.value(creator, "LO")
        if isinstance(value, list):
            raise Uncertain(f"the private creator {el.describe(creator[0])} has several values")
        return value or None

    def value(self, element: ItemElement, vr: str) -> Any:
        start, length = element[2], element[3]
        return decode_value(vr, self.buffer[start : start + length], self.little)

    def macros(self, item: list[ItemElement]) -> dict[int, Macro]:
        """The macros of one functional group item (the first item of each of its sequences), by sequence tag."""
        found = {}
        for element, vr in self.typed(item):
            tag, _, start, length, undefined = element
            if vr != "SQ":
                self.value(element, vr)  # what pydicom would fail on, this reader fails on
                continue
            key = (self.buffer[start : start + length], undefined)
            macro = self._macros.get(key)
            if macro is None:
                macro = self._macro(element)
                self._macros[key] = macro
            found[tag] = macro
        return found

    def _macro(self, sequence: ItemElement) -> Macro:
        items = self.items(sequence, 2)
        if not items:
            return Macro({}, {})
        elements: dict[int, Any] = {}
        nested: list[list[ItemElement]] = []
        for element, vr in self.typed(items[0]):
            if vr == "SQ":
                inner = self.items(element, 3)
                if inner:
                    nested.append(inner[0])
                    for deeper, deeper_vr in self.typed(inner[0]):
                        if deeper_vr == "SQ":
                            self.items(deeper, 4)  # pydicom reads these items; so does this reader
                continue
            value = self.value(element, vr)
            if value is not None and value != "":
                elements[element[0]] = value
        values = dict(elements)
        for inner_item in nested:
            for element, vr in self.typed(inner_item):
                if vr == "SQ" or element[0] in values:
                    continue
                value = self.value(element, vr)
                if value is not None and value != "":
                    values[element[0]] = value
        return Macro(elements, values)


@functools.lru_cache(maxsize=4096)
def _public_vr(tag: int) -> str:
    """The VR of a public element in implicit VR: pydicom's data dictionary (PS3.6)."""
    from pydicom.datadict import dictionary_VR

    try:
        vr = str(dictionary_VR(tag))
    except KeyError:
        if tag & 0xFFFF == 0:
            return "UL"  # a group length (PS3.5 7.2)
        raise Uncertain(f"{el.describe(tag)} is in no dictionary and its file has implicit VR") from None
    if vr not in _VRS:
        raise Uncertain(f"{el.describe(tag)} has the value representation {vr!r}, which depends on the data")
    return vr


@functools.lru_cache(maxsize=4096)
def _private_vr(tag: int, creator: str | None) -> str:
    """The VR pydicom gives a private element: LO for creators, its private dictionary's, else UN."""
    if 0x10 <= tag & 0xFFFF <= 0xFF:
        return "LO"
    if creator is None:
        return "UN"
    from pydicom.datadict import private_dictionary_VR

    try:
        vr = str(private_dictionary_VR(tag, creator))
    except KeyError:
        return "UN"
    if vr not in _VRS:
        raise Uncertain(f"{el.describe(tag)} of {creator!r} has the value representation {vr!r}")
    return vr


_VRS: Final = _EMPTY_TEXT | _BYTES | frozenset(_BINARY) | {"DS", "IS", "SQ", "PN", "AT"}
_VR_NAMES: Final = {vr.encode("ascii"): vr for vr in _VRS}


def decode_value(vr: str, raw: bytes, little: bool) -> Any:
    """Decode one element value as pydicom 3 does with its default settings (PS3.5 6.2).

    Parameters
    ----------
    vr : str
        The value representation.
    raw : bytes
        The value's bytes.
    little : bool
        Whether binary numbers are little endian.

    Returns
    -------
    Any
        ``""`` or None for an empty value (as pydicom), a str, int, float or bytes for one
        value, a list of them for several.

    Raises
    ------
    Uncertain
        Where pydicom would repair, guess or decode in a character set: text beyond ASCII
        in a VR of the Specific Character Set, a number it would read as text, a length
        that does not fit the VR, person names and tags.

    Examples
    --------
    >>> decode_value("DS", b"-179.0\\\\2.5 ", True), decode_value("CS", b"ORIGINAL\\\\PRIMARY ", True)
    ([-179.0, 2.5], ['ORIGINAL', 'PRIMARY'])
    >>> decode_value("US", b"\\x00\\x02", False), decode_value("IS", b"", True)
    (2, None)
    """
    if vr in _BYTES:
        return raw or None
    if len(raw) > _CACHED_LENGTH:
        return _decoded.__wrapped__(vr, raw, little)
    return _decoded(vr, raw, little)


#: Values up to this many bytes are decoded once per distinct value (a series repeats most).
_CACHED_LENGTH: Final = 256


@functools.lru_cache(maxsize=65536)
def _decoded(vr: str, raw: bytes, little: bool) -> Any:
    if not raw:
        if vr in _EMPTY_TEXT:
            return ""
        if vr in _BINARY or vr in ("DS", "IS", "AT"):
            return None
        raise Uncertain(f"an empty value of VR {vr}")
    if vr in _BINARY:
        code = _BINARY[vr]
        width = struct.calcsize("<" + code)
        if len(raw) % width:
            raise Uncertain(f"{len(raw)} bytes do not fit VR {vr}")
        numbers = struct.unpack(("<" if little else ">") + code * (len(raw) // width), raw)
        return numbers[0] if len(numbers) == 1 else list(numbers)
    if vr in _SPLIT_TEXT:
        return _single(raw.decode("latin-1").rstrip(" \x00").split("\\"))
    if vr == "DS":
        text = raw.decode("latin-1").strip().rstrip(" \x00")
        if not text:
            return ""
        return _single([_number(part, _DECIMAL, float) for part in text.split("\\")])
    if vr == "IS":
        text = raw.decode("latin-1").rstrip(" \x00")
        if not text:
            return ""
        return _single([_number(part, _INTEGER, int) for part in text.split("\\")])
    if vr in _CHARSET_MULTI or vr in _CHARSET_SINGLE:
        if not raw.isascii() or b"\x1b" in raw:
            raise Uncertain(f"text of VR {vr} beyond ASCII, in the file's character set")
        text = raw.decode("ascii")
        if vr in _CHARSET_SINGLE:
            return text.rstrip("\x00 ")
        return _single([part.rstrip("\x00 ") for part in text.split("\\")])
    if vr == "UI":
        return _single(raw.decode("latin-1").rstrip("\x00 ").split("\\"))
    if vr == "AE":
        return _single([part.strip() for part in raw.decode("latin-1").split("\\")])
    if vr == "UR":
        return raw.decode("latin-1").rstrip()
    raise Uncertain(f"a value of VR {vr}")


def _single(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def _number(part: str, pattern: re.Pattern[str], kind: type[float] | type[int]) -> float | int:
    if pattern.fullmatch(part) is None:
        raise Uncertain(f"{part!r} is not a number pydicom reads as one")
    return kind(part)
