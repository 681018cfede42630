"""Siemens CSA headers: the private binary headers of Siemens MR images, read strictly.

Siemens stores what DICOM has no element for (the number of slices in a mosaic, the
slice normal, the slice acquisition times, diffusion b-values and directions) in two
private elements under the private creator ``SIEMENS CSA HEADER`` (PS3.5 7.8.1):
(0029,xx10) 'CSA Image Header Info' and (0029,xx20) 'CSA Series Header Info', ``xx``
the creator's block, usually 10. Both hold the same little-endian structure, in one of
two layouts, as SPM's ``spm_dicom_headers.m`` reads them (described in nibabel's
documentation, "Siemens format DICOM with CSA header"):

- **SV10** (syngo VB and later): the 4 bytes ``SV10``, 4 unused bytes, then the elements;
- **CSA1** (older software): the elements straight away.

Then: the number of elements (uint32, 1 to :data:`MAX_ELEMENTS`) and an unused uint32
(77); per element, its name (64 bytes, NUL-terminated), its value multiplicity (int32),
its VR (4 bytes, NUL-terminated), a "syngo data type" (int32), its number of items
(int32, at most :data:`MAX_ITEMS`) and an unused int32 (77, or 205 when it has no item);
per item, four int32 and the item's bytes, padded to a multiple of 4. The item length is
the second int32 in SV10; in CSA1 it is the first, minus the number of items of the first
element. Items are text (numbers as decimal text, NUL-terminated); the items past the
value multiplicity are empty.

Unlike a lenient reader, :func:`parse_csa` refuses what does not add up: an element or
item that runs past the end of the data (a truncated header), negative lengths, counts
out of range. Each refusal is a :class:`~mvl.coords.FormatError` that names the file, the
element and the numbers, never a :class:`struct.error` or :class:`IndexError`.
"""

from __future__ import annotations

import array
import math
import sys
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Final, NamedTuple

from mvl.coords import FormatError

__all__ = ["MAX_ELEMENTS", "MAX_ITEMS", "CsaElement", "CsaHeader", "parse_csa"]

#: More elements than this is not a CSA header (real ones hold about 100).
MAX_ELEMENTS: Final = 1000
#: More items in one element than this is not a CSA header (real ones hold at most a few hundred).
MAX_ITEMS: Final = 1000

_SV10: Final = b"SV10"


class CsaElement(NamedTuple):
    """One element of a CSA header.

    Attributes
    ----------
    name : str
        E.g. ``"NumberOfImagesInMosaic"``.
    vr : str
        Its value representation, as DICOM's (``"IS"``, ``"FD"``, ``"LO"``, ...).
    vm : int
        Its value multiplicity (0: as many values as it has items).
    items : tuple of str
        Its values as text, without NULs and surrounding spaces; trailing empty items left out.
    """

    name: str
    vr: str
    vm: int
    items: tuple[str, ...]


@dataclass(frozen=True)
class CsaHeader(Mapping[str, CsaElement]):
    """A parsed CSA header: its elements by name, in the order of the header.

    Attributes
    ----------
    layout : str
        ``"SV10"`` or ``"CSA1"``.
    elements : mapping of str to CsaElement
        The elements by name (the first one where a name repeats).
    source : str
        The file it came from, for messages.
    """

    layout: str
    elements: Mapping[str, CsaElement]
    source: str = ""

    def __getitem__(self, name: str) -> CsaElement:
        return self.elements[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.elements)

    def __len__(self) -> int:
        return len(self.elements)

    def text(self, name: str) -> str | None:
        """The first value of an element as text; None when it is absent or empty."""
        element = self.elements.get(name)
        return element.items[0] if element is not None and element.items and element.items[0] else None

    def numbers(self, name: str) -> list[float] | None:
        """The values of an element as numbers; None when it is absent or has no value.

        Empty items between values are not numbers and are refused.

        Raises
        ------
        FormatError
            If a value is not a finite number; names the element and the file.
        """
        element = self.elements.get(name)
        if element is None or not element.items:
            return None
        values = []
        for text in element.items:
            try:
                value = float(text)
            except ValueError:
                raise FormatError(
                    f"the CSA header's {name} holds {text!r} among {list(element.items)}, not a number",
                    path=self.source or None,
                ) from None
            if not math.isfinite(value):
                raise FormatError(
                    f"the CSA header's {name} holds {text!r}: NaN or infinite numbers are not valid here",
                    path=self.source or None,
                )
            values.append(value)
        return values

    def number(self, name: str) -> float | None:
        """The first value of an element as a number; None when absent.

        Raises
        ------
        FormatError
            If it is not a number.
        """
        values = self.numbers(name)
        return None if not values else values[0]


def parse_csa(data: bytes, source: str = "", names: Collection[str] | None = None) -> CsaHeader:
    """Parse a CSA header (SV10 or CSA1 layout, see the module).

    Parameters
    ----------
    data : bytes
        The value of (0029,xx10) 'CSA Image Header Info' or (0029,xx20) 'CSA Series Header Info'.
    source : str, optional
        The file it came from, named by errors.
    names : collection of str, optional
        Keep only these elements (every element is still walked and checked); all by default.

    Returns
    -------
    CsaHeader

    Raises
    ------
    FormatError
        If the data is truncated or inconsistent: counts out of range, negative lengths,
        an element or item past the end. The message names the file, the element and
        the offsets.

    Examples
    --------
    >>> from mvl.dicom.testing_mosaic import csa_header
    >>> header = parse_csa(csa_header({"NumberOfImagesInMosaic": 36, "SliceNormalVector": [0.0, 0.0, 1.0]}))
    >>> header.layout, header.number("NumberOfImagesInMosaic"), header.numbers("SliceNormalVector")
    ('SV10', 36.0, [0.0, 0.0, 1.0])
    >>> parse_csa(b"SV10\\x04\\x03\\x02\\x01\\x05\\x00\\x00\\x00M\\x00\\x00\\x00", "a.dcm")
    Traceback (most recent call last):
    ...
    mvl.coords.errors.FormatError: a.dcm: the CSA header (SV10) is truncated: element 1 of 5 needs 84 bytes at ...
    """
    data = bytes(data)
    layout = "SV10" if data[:4] == _SV10 else "CSA1"
    wanted = None if names is None else {name.encode("latin-1") for name in names}
    return _Reader(data, source, layout).header(wanted)


class _Reader:
    """One pass over the bytes of a CSA header, every read checked against the length.

    About 100 elements of about 6 items each, every structure 4-byte aligned: the header
    is read as int32 words (``array``, little-endian whatever the machine) and the loop
    keeps to locals.
    """

    def __init__(self, data: bytes, source: str, layout: str) -> None:
        self.data = data
        self.source = source
        self.layout = layout
        self.words = array.array("i")
        if self.words.itemsize != 4:  # pragma: no cover - a C int of another size
            self.words = array.array("l" if array.array("l").itemsize == 4 else "h")
        self.words.frombytes(data[: len(data) // 4 * 4])
        if sys.byteorder == "big":  # pragma: no cover - CSA headers are little-endian
            self.words.byteswap()

    def fail(self, message: str) -> FormatError:
        return FormatError(f"the CSA header ({self.layout}) {message}", path=self.source or None)

    def short(self, what: str, needed: int, position: int) -> FormatError:
        return self.fail(
            f"is truncated: {what} needs {needed} bytes at offset {position}, but the header ends at {len(self.data)}"
        )

    def header(self, wanted: set[bytes] | None) -> CsaHeader:
        data, words, size = self.data, self.words, len(self.data)
        sv10 = self.layout == "SV10"
        position = 8 if sv10 else 0
        if position + 8 > size:
            raise self.short("the number of elements", 8, position)
        count = words[position >> 2] & 0xFFFFFFFF  # uint32
        position += 8
        if not 1 <= count <= MAX_ELEMENTS:
            raise self.fail(f"says it holds {count} elements; a CSA header holds 1 to {MAX_ELEMENTS}")
        elements: dict[str, CsaElement] = {}
        first_items = 0
        for number in range(count):
            if position + 84 > size:
                raise self.short(f"element {number + 1} of {count}", 84, position)
            word = position >> 2
            vm, items = words[word + 16], words[word + 19]  # name: 16 words, then vm, vr, syngo type, items, 77
            end = data.find(b"\x00", position, position + 64)
            key = data[position : position + 64 if end < 0 else end]
            vr_at = position + 68
            position += 84
            if not 0 <= items <= MAX_ITEMS or vm < 0:
                raise self.fail(
                    f"element {number + 1} ({_text(key)!r}) says it has {items} items and a value multiplicity of "
                    f"{vm}; expected 0 to {MAX_ITEMS} items and a multiplicity of 0 or more"
                )
            if number == 0:
                first_items = items
            keep = wanted is None or key.strip() in wanted
            if not keep and sv10:  # walked, nothing decoded: SV10's item length is the item's second word
                skipped = end = position
                for _ in range(items):
                    length = words[(position >> 2) + 1] if position + 16 <= size else -1
                    if length < 0:
                        break
                    end = position + 16 + length
                    position = end + (-length & 3)
                else:
                    if end <= size:  # every item's header then the last one's value fit (the padding may not)
                        continue
                position = skipped  # something does not fit: the checked loop below says what
            shown = vm if vm > 0 else items
            values: list[str] = []
            for item in range(items):
                if position + 16 > size:
                    raise self.short(f"item {item + 1} of {_text(key)!r}", 16, position)
                word = position >> 2
                length = words[word + 1] if sv10 else words[word] - first_items
                position += 16
                if length < 0 or position + length > size:
                    state = "negative" if length < 0 else f"past the end of the header ({size} bytes)"
                    raise self.fail(
                        f"is inconsistent: item {item + 1} of {_text(key)!r} at offset {position} has a length of "
                        f"{length} bytes, {state}"
                    )
                if keep and item < shown:
                    values.append(_text(data[position : position + length]) if length else "")
                position += (length + 3) & ~3
            if keep:
                name = _text(key)
                while values and not values[-1]:
                    values.pop()
                if name not in elements:
                    elements[name] = CsaElement(name, _text(data[vr_at : vr_at + 4]), vm, tuple(values))
        return CsaHeader(self.layout, elements, self.source)


def _text(raw: bytes) -> str:
    """Text up to the first NUL, without surrounding spaces."""
    end = raw.find(b"\x00")
    return (raw if end < 0 else raw[:end]).decode("latin-1").strip()
