"""The data element walk (mvl.dicom.walk) on hand-made bytes: every header layout, every way a walk ends."""

from __future__ import annotations

import ast
import struct
from pathlib import Path

import pytest

from mvl.coords import FormatError
from mvl.dicom import elements as el
from mvl.dicom import walk
from mvl.dicom.walk import Fallback, NeedMore, UnknownVR, Walker, pixel_element, walk_file_meta

LONG = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]
SHORT = ["AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH", "SL", "SS", "ST", "TM"]
SHORT += ["UI", "UL", "US"]
ENCODINGS = [(True, False), (False, False), (True, True)]  # (little endian, implicit VR) as DICOM defines them
UNDEFINED = 0xFFFFFFFF
PATIENT_ID, SERIES_UID, ROWS = 0x00100020, 0x0020000E, 0x00280010
PRIVATE = 0x00091010


def element(tag: int, vr: str, value: bytes, little: bool = True, implicit: bool = False, length: int | None = None):
    """One data element (PS3.5 7.1): header in the given encoding, then `value`."""
    order = "<" if little else ">"
    length = len(value) if length is None else length
    if implicit:
        return struct.pack(order + "HHL", tag >> 16, tag & 0xFFFF, length) + value
    if vr in LONG:
        return struct.pack(order + "HH2sHL", tag >> 16, tag & 0xFFFF, vr.encode(), 0, length) + value
    return struct.pack(order + "HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), length) + value


def delimiter(tag: int, little: bool = True, length: int = 0) -> bytes:
    """An item or delimiter header (PS3.5 7.5): a tag and a 4-byte length in every encoding."""
    return struct.pack(("<" if little else ">") + "HHL", tag >> 16, tag & 0xFFFF, length)


def item(content: bytes, undefined: bool, little: bool = True) -> bytes:
    if undefined:
        return delimiter(walk.ITEM, little, UNDEFINED) + content + delimiter(walk.ITEM_END, little)
    return delimiter(walk.ITEM, little, len(content)) + content


def sequence(tag: int, items: list[bytes], undefined: bool, little: bool = True, implicit: bool = False) -> bytes:
    body = b"".join(items)
    if undefined:
        return element(tag, "SQ", body + delimiter(walk.SEQUENCE_END, little), little, implicit, UNDEFINED)
    return element(tag, "SQ", body, little, implicit)


def walker(data: bytes, little: bool = True, implicit: bool = False, size: int | None = None) -> Walker:
    return Walker(data, len(data) if size is None else size, little, implicit, "x.dcm")


def meta_bytes(syntax: bytes = b"1.2.840.10008.1.2.1\x00") -> bytes:
    """Preamble, magic and a file meta information with a group length and a transfer syntax."""
    transfer = element(el.TRANSFER_SYNTAX_UID, "UI", syntax)
    version = element(0x00020001, "OB", b"\x00\x01")
    group = element(0x00020000, "UL", struct.pack("<L", len(version) + len(transfer)))
    return bytes(128) + b"DICM" + group + version + transfer


@pytest.mark.parametrize(("little", "implicit"), ENCODINGS)
def test_the_top_walk_records_the_wanted_values_and_stops_at_the_pixel_data(little, implicit):
    parts = [
        element(PATIENT_ID, "LO", b"ABC ", little, implicit),
        element(PRIVATE, "OB", b"\x01" * 300, little, implicit),
        element(SERIES_UID, "UI", b"1.2.3\x00", little, implicit),
        element(ROWS, "US", struct.pack("<H" if little else ">H", 4), little, implicit),
    ]
    pixel = element(el.PIXEL_DATA, "OW", b"\0" * 32, little, implicit)
    data = b"".join(parts) + pixel
    found: dict[int, tuple[int, int]] = {}
    start, where = walker(data, little, implicit).walk_top(0, frozenset({PATIENT_ID, SERIES_UID, ROWS}), found)
    assert start == len(data) - len(pixel)
    assert where == (el.PIXEL_DATA, start + (8 if implicit else 12), 32)
    assert {tag: data[a : a + n] for tag, (a, n) in found.items()} == {
        PATIENT_ID: b"ABC ",
        SERIES_UID: b"1.2.3\x00",
        ROWS: struct.pack("<H" if little else ">H", 4),
    }


@pytest.mark.parametrize("vr", LONG + SHORT)
@pytest.mark.parametrize("little", [True, False])
def test_explicit_vr_headers_are_8_or_12_bytes_by_their_vr(vr, little):
    value = b"\x10\x20\x30\x40\x50\x60\x70\x80"
    data = element(PRIVATE, vr, value, little) + element(PATIENT_ID, "LO", b"AB", little)
    found: dict[int, tuple[int, int]] = {}
    assert walker(data, little).walk_top(0, frozenset({PRIVATE, PATIENT_ID}), found) == (len(data), None)
    header = 12 if vr in LONG else 8
    assert found == {PRIVATE: (header, 8), PATIENT_ID: (header + 8 + 8, 2)}
    assert walker(data, little).element(0) == (PRIVATE, header, 8)


@pytest.mark.parametrize(("little", "implicit"), ENCODINGS)
@pytest.mark.parametrize("undefined_items", [False, True])
def test_undefined_length_sequences_are_skipped_whole_and_kept_with_their_delimiter(little, implicit, undefined_items):
    inner = element(0x00080100, "SH", b"T-1234", little, implicit) + element(
        0x00080102, "SH", b"SRT ", little, implicit
    )
    nested = sequence(0x00082218, [item(inner, undefined_items, little)], True, little, implicit)
    outer = sequence(
        0x00082228, [item(nested, undefined_items, little), item(inner, True, little)], True, little, implicit
    )
    after = element(PATIENT_ID, "LO", b"ID", little, implicit)
    data = outer + after
    found: dict[int, tuple[int, int]] = {}
    assert walker(data, little, implicit).walk_top(0, frozenset({0x00082228, PATIENT_ID}), found) == (len(data), None)
    header = 8 if implicit else 12
    assert found[0x00082228] == (header, len(outer) - header)
    assert data[found[0x00082228][0] + found[0x00082228][1] - 8 :][:8] == delimiter(walk.SEQUENCE_END, little)
    assert found[PATIENT_ID] == (len(outer) + 8, 2)


@pytest.mark.parametrize("little", [True, False])
def test_un_of_undefined_length_holds_implicit_vr_little_endian_items(little):
    # PS3.5 6.2.2: whatever the transfer syntax, the items of such a UN value are implicit VR little endian.
    content = element(0x00291001, "", b"\x01\x02\x03\x04", True, True)
    body = item(content, True, True) + delimiter(walk.SEQUENCE_END, True)
    data = element(PRIVATE, "UN", body, little, length=UNDEFINED) + element(PATIENT_ID, "LO", b"ID", little)
    found: dict[int, tuple[int, int]] = {}
    walker(data, little).walk_top(0, frozenset({PRIVATE, PATIENT_ID}), found)
    assert found == {PRIVATE: (12, len(body)), PATIENT_ID: (12 + len(body) + 8, 2)}


def test_item_delimiters_inside_explicit_items_carry_no_vr():
    # The delimiter's length bytes are no VR: only inside an item is group FFFE read without one.
    content = element(PATIENT_ID, "LO", b"ID")
    data = sequence(0x00082228, [item(content, True)], True)
    assert walker(data).walk_top(0, frozenset(), {}) == (len(data), None)
    with pytest.raises(UnknownVR, match=r"unknown value representation b'\\x00\\x00' at byte 0"):
        walker(delimiter(walk.ITEM_END)).walk_top(0, frozenset(), {})


@pytest.mark.parametrize("depth", [walk.MAX_DEPTH - 1, walk.MAX_DEPTH])
def test_sequences_nest_at_most_max_depth_deep(depth):
    body = element(PATIENT_ID, "LO", b"ID")
    for _ in range(depth + 1):
        body = sequence(0x00082228, [item(body, True)], True)
    if depth < walk.MAX_DEPTH:
        assert walker(body).walk_top(0, frozenset(), {}) == (len(body), None)
    else:
        with pytest.raises(FormatError, match=rf"x\.dcm: sequences are nested more than {walk.MAX_DEPTH} deep"):
            walker(body).walk_top(0, frozenset(), {})


def test_the_walk_asks_for_more_bytes_where_the_buffer_ends_before_the_file():
    data = element(PATIENT_ID, "LO", b"ID") + element(PRIVATE, "OB", b"\0" * 100) + element(SERIES_UID, "UI", b"1.2")
    pixel_at = len(data)
    data += element(el.PIXEL_DATA, "OW", b"\0" * 8)
    wanted = frozenset({PATIENT_ID, SERIES_UID})
    with pytest.raises(NeedMore) as more:  # cut inside the header of the first element
        walker(data[:5], size=len(data)).walk_top(0, wanted, {})
    assert more.value.position == 8
    with pytest.raises(NeedMore) as more:  # cut inside an unwanted value: walk over it, then ask
        walker(data[:30], size=len(data)).walk_top(0, wanted, {})
    assert more.value.position == 10 + 112 + 8
    with pytest.raises(NeedMore) as more:  # cut inside a wanted value: ask for all of it and the next header
        walker(data[: pixel_at - 1], size=len(data)).walk_top(0, wanted, {})
    assert more.value.position == pixel_at + 8
    with pytest.raises(NeedMore) as more:  # cut inside a 12-byte header
        walker(data[: pixel_at + 10], size=len(data)).walk_top(0, wanted, {})
    assert more.value.position == pixel_at + 12
    assert walker(data).walk_top(0, wanted, {})[0] == pixel_at


def test_the_end_of_the_file_ends_a_top_level_walk_only_between_elements():
    data = element(PATIENT_ID, "LO", b"ID") + element(PRIVATE, "OB", b"\0" * 4)
    assert walker(data).walk_top(0, frozenset(), {}) == (len(data), None)
    assert walker(data).element(len(data)) is None
    with pytest.raises(FormatError, match=r"x\.dcm: the file ends inside a data element header at byte 10 \(trunc"):
        walker(data[:14]).walk_top(0, frozenset(), {})
    with pytest.raises(FormatError, match=r"the file ends inside a data element header at byte 10 \(truncated\)"):
        walker(data[:20]).walk_top(0, frozenset(), {})  # 12-byte header cut after 10 bytes
    with pytest.raises(
        FormatError, match=r"\(0010,0020\) 'Patient ID' claims 2 bytes at byte 8, but the file ends after 9 bytes"
    ):
        walker(data[:9]).walk_top(0, frozenset(), {})


def test_a_file_that_ends_inside_a_sequence_is_truncated():
    data = sequence(0x00082228, [item(element(PATIENT_ID, "LO", b"ID"), True)], True)
    for cut in (12, 20, 30, len(data) - 4):
        with pytest.raises(FormatError, match=r"x\.dcm: the file ends inside a sequence at byte \d+ \(truncated\)"):
            walker(data[:cut]).walk_top(0, frozenset(), {})
    with pytest.raises(NeedMore):
        walker(data[:30], size=len(data)).walk_top(0, frozenset(), {})


def test_an_item_that_claims_more_than_the_file_is_truncated_or_corrupt():
    data = sequence(0x00082228, [delimiter(walk.ITEM, length=1000) + b"\0" * 10], True)
    with pytest.raises(FormatError, match=r"\(FFFE,E000\) 'Item' claims 1000 bytes at byte 20, but the file ends"):
        walker(data).walk_top(0, frozenset(), {})


def test_what_only_pydicom_reads_is_a_fallback():
    with pytest.raises(UnknownVR, match=r"unknown value representation b'XY' at byte 0") as unknown:
        walker(element(PATIENT_ID, "XY", b"ID")).walk_top(0, frozenset(), {})
    assert isinstance(unknown.value, Fallback)
    assert (unknown.value.tag, unknown.value.vr, unknown.value.position) == (PATIENT_ID, b"XY", 0)
    with pytest.raises(Fallback, match=r"undefined length for value representation b'OB'"):
        walker(element(PRIVATE, "OB", b"", length=UNDEFINED)).walk_top(0, frozenset(), {})
    not_an_item = element(0x00082228, "SQ", element(PATIENT_ID, "LO", b"ID"), length=UNDEFINED)
    with pytest.raises(Fallback, match=r"expected an item \(FFFE,E000\) at byte 12, found \(0010,0020\)"):
        walker(not_an_item).walk_top(0, frozenset(), {})


@pytest.mark.parametrize("tag", [walk.ITEM, walk.ITEM_END, walk.SEQUENCE_END])
def test_an_item_tag_outside_any_sequence_goes_to_pydicom(tag):
    # Regression: an implicit VR data set with a stray item delimiter was walked over, where
    # pydicom ends the data set (found by the broken-file test against pydicom).
    data = element(PATIENT_ID, "", b"ID", implicit=True) + delimiter(tag) + element(ROWS, "", b"\4\0", implicit=True)
    with pytest.raises(Fallback, match=rf"the item or delimiter tag \(FFFE,{tag & 0xFFFF:04X}\) at byte 10 is outside"):
        walker(data, implicit=True).walk_top(0, frozenset(), {})


def test_the_walk_stops_at_any_tag_asked_for():
    data = element(PATIENT_ID, "LO", b"ID") + element(SERIES_UID, "UI", b"1.2\x00") + element(ROWS, "US", b"\4\0")
    assert walker(data).walk(0, 0, {SERIES_UID}, frozenset(), {}) == (10, SERIES_UID, 18, 4)
    assert walker(data).walk(0, 0, frozenset(), frozenset(), {}) is None


def test_the_file_meta_information_is_walked_to_the_first_element_of_another_group():
    meta = meta_bytes()
    data_set = element(PATIENT_ID, "LO", b"ID")
    found, position = walk_file_meta(meta + data_set, len(meta) + len(data_set), "x.dcm")
    assert position == len(meta)
    assert sorted(found) == [0x00020000, 0x00020001, el.TRANSFER_SYNTAX_UID]
    start, length = found[el.TRANSFER_SYNTAX_UID]
    assert meta[start : start + length] == b"1.2.840.10008.1.2.1\x00"
    # an implicit VR data set: its first "VR" is length bytes, which ends the file meta there
    implicit = element(PATIENT_ID, "", b"ID", implicit=True)
    assert walk_file_meta(meta + implicit, len(meta) + len(implicit), "x.dcm")[1] == len(meta)
    assert walk_file_meta(meta, len(meta), "x.dcm")[1] == len(meta)  # nothing after it
    with pytest.raises(NeedMore) as more:
        walk_file_meta(meta[:150], len(meta), "x.dcm")
    assert more.value.position == 132 + 12 + 8


@pytest.mark.parametrize("little", [True, False])
def test_command_elements_before_the_data_set_go_to_pydicom(little):
    # Regression: pydicom reads group 0000 elements after the file meta information as a
    # command set of its own (little endian), the walk read them in the data set's encoding.
    meta = meta_bytes()
    data = meta + element(0x00000000, "UL", b"\0\0\0\4", little) + element(PATIENT_ID, "LO", b"ID", little)
    with pytest.raises(Fallback, match=rf"command elements \(group 0000\) at byte {len(meta)}, which pydicom reads"):
        walk_file_meta(data, len(data), "x.dcm")


def test_a_broken_file_meta_information_is_a_format_error():
    magic = bytes(128) + b"DICM"
    broken_vr = magic + element(el.TRANSFER_SYNTAX_UID, "XY", b"1.2\x00")
    with pytest.raises(
        FormatError,
        match=r"x\.dcm: has the DICOM magic but its file meta information \(PS3\.10 7\.1\) is not valid: "
        r"element \(0002,0010\) at byte 132 has the value representation b'XY'",
    ):
        walk_file_meta(broken_vr, len(broken_vr), "x.dcm")
    too_long = magic + element(el.TRANSFER_SYNTAX_UID, "UI", b"1.2\x00", length=400)
    with pytest.raises(
        FormatError,
        match=r"element \(0002,0010\) of the file meta information claims 400 bytes at byte 140, "
        r"past the end of the file \(144 bytes\)",
    ):
        walk_file_meta(too_long, len(too_long), "x.dcm")
    with pytest.raises(FormatError, match=r"the file ends inside a data element header at byte 132 \(truncated\)"):
        walk_file_meta(magic + b"\x02\x00", 134, "x.dcm")


@pytest.mark.parametrize(("little", "implicit"), ENCODINGS)
@pytest.mark.parametrize("tag", sorted(el.PIXEL_TAGS))
def test_the_pixel_element_after_a_pydicom_read_is_found_where_pydicom_stopped(little, implicit, tag):
    before = element(PATIENT_ID, "LO", b"ID", little, implicit)
    data = before + element(tag, "OW", b"\0" * 16, little, implicit)
    assert pixel_element(data, len(before), little, implicit, "x.dcm") == (
        tag,
        len(before) + (8 if implicit else 12),
        16,
    )
    encapsulated = before + element(tag, "OB", b"", little, implicit, UNDEFINED)
    assert pixel_element(encapsulated, len(before), little, implicit, "x.dcm") == (
        tag,
        len(before) + (8 if implicit else 12),
        None,
    )
    assert pixel_element(data, 0, little, implicit, "x.dcm") is None  # another element
    assert pixel_element(data, len(data) - 4, little, implicit, "x.dcm") is None  # no element fits


def test_a_pixel_element_with_an_unknown_vr_is_a_format_error():
    data = element(el.PIXEL_DATA, "X\x01", b"\0" * 16)
    with pytest.raises(FormatError, match=r"x\.dcm: \(7FE0,0010\) 'Pixel Data' at byte 0 has the value representation"):
        pixel_element(data, 0, True, False, "x.dcm")
    assert pixel_element(element(PATIENT_ID, "X\x01", b"ID"), 0, True, False, "x.dcm") is None


def test_headers_uses_only_the_public_surface_of_the_walk():
    """The header policy (mvl.dicom.headers) imports what walk.py exports, and nothing else of it."""
    source = Path(walk.__file__).with_name("headers.py").read_text(encoding="utf-8")
    imported = {
        alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module == "walk" and node.level == 1
        for alias in node.names
    }
    assert imported and imported <= set(walk.__all__)
