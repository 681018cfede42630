"""The CSA header parser (mvl.dicom.csa): both layouts, and strict refusals of truncated or inconsistent bytes."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvl.coords import FormatError
from mvl.dicom.csa import MAX_ELEMENTS, MAX_ITEMS, parse_csa
from mvl.dicom.testing_mosaic import csa_header


def _outcome(call, *args):
    """What ``call(*args)`` returned and None, or None and the FormatError it raised."""
    try:
        return call(*args), None
    except FormatError as error:
        return None, error


def _error_of(call, *args):
    """The FormatError that ``call(*args)`` raised, or None when it returned."""
    return _outcome(call, *args)[1]


ELEMENTS = {
    "NumberOfImagesInMosaic": 36,
    "SliceNormalVector": [0.0, -0.1, 0.99498743710662],
    "MosaicRefAcqTimes": [0.0, 1000.0, 52.5, 1052.5],
    "ImaGroupId": "xyz",
    "B_value": 1000,
}


@pytest.mark.parametrize("layout", ["SV10", "CSA1"])
def test_both_layouts_give_every_element_with_its_values(layout):
    header = parse_csa(csa_header(ELEMENTS, layout=layout), "a.dcm")
    assert header.layout == layout
    assert list(header) == list(ELEMENTS)
    assert header.number("NumberOfImagesInMosaic") == 36
    assert header.numbers("SliceNormalVector") == pytest.approx([0.0, -0.1, 0.99498743710662])
    assert header.numbers("MosaicRefAcqTimes") == [0.0, 1000.0, 52.5, 1052.5]
    assert header.text("ImaGroupId") == "xyz"
    assert header["B_value"].vr == "IS" and header["SliceNormalVector"].vr == "FD"
    assert header["SliceNormalVector"].vm == 3
    assert header.number("absent") is None and header.text("absent") is None


def test_the_csa1_item_length_counts_the_first_elements_items():
    # In the old layout an item's first length is its own plus the first element's number of items
    # (nibabel's csareader and SPM read it so): a wrong first count would misplace every later item.
    data = csa_header({"A": [1, 2, 3], "B": "text"}, layout="CSA1")
    assert parse_csa(data).text("B") == "text"


def test_a_repeated_name_keeps_the_first_element():
    data = csa_header({"A": 1, "B": 2}).replace(b"B\x00", b"A\x00", 1)
    header = parse_csa(data)
    assert list(header) == ["A"] and header.number("A") == 1


def test_an_empty_element_has_no_value():
    header = parse_csa(csa_header({"Empty": []}))
    assert header["Empty"].items == () and header.numbers("Empty") is None


def test_values_that_are_not_numbers_are_refused_naming_the_element_and_the_file():
    header = parse_csa(csa_header({"SliceNormalVector": ["0", "up", "1"]}), "b.dcm")
    with pytest.raises(FormatError, match=r"b\.dcm: the CSA header's SliceNormalVector holds 'up'.*not a number"):
        header.numbers("SliceNormalVector")
    with pytest.raises(FormatError, match=r"NaN or infinite"):
        parse_csa(csa_header({"B_value": "nan"})).number("B_value")


@pytest.mark.parametrize("layout", ["SV10", "CSA1"])
def test_every_truncation_is_a_format_error_naming_the_file(layout):
    data = csa_header(ELEMENTS, layout=layout)
    for end in range(len(data)):
        error = _error_of(parse_csa, data[:end], "cut.dcm")
        if error is None:  # only a cut inside the padding after the last value item can still parse
            assert end > len(data) - 32
        else:
            assert str(error).startswith("cut.dcm: the CSA header")
            assert "truncated" in str(error) or "inconsistent" in str(error) or "elements" in str(error)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data[:8] + struct.pack("<I", 0) + data[12:], r"holds 0 elements; a CSA header holds 1 to 1000"),
        (
            lambda data: data[:8] + struct.pack("<I", MAX_ELEMENTS + 1) + data[12:],
            r"holds 1001 elements",
        ),
        # element 1's number of items (after the 8 + 8 byte preamble, 64 + 4 + 4 + 4 bytes in)
        (lambda data: data[:92] + struct.pack("<i", -1) + data[96:], r"says it has -1 items"),
        (lambda data: data[:92] + struct.pack("<i", MAX_ITEMS + 1) + data[96:], r"says it has 1001 items"),
        # item 1's length (SV10: the second int32 of the item) past the end, then negative
        (
            lambda data: data[:104] + struct.pack("<i", 1 << 30) + data[108:],
            r"inconsistent: item 1 of 'A'.*past the end",
        ),
        (lambda data: data[:104] + struct.pack("<i", -8) + data[108:], r"inconsistent: item 1 of 'A'.*negative"),
    ],
)
def test_inconsistent_headers_are_refused(change, message):
    data = change(csa_header({"A": [1, 2]}))
    with pytest.raises(FormatError, match=message):
        parse_csa(data, "bad.dcm")


def test_the_error_is_never_a_struct_or_index_error_on_random_bytes():
    assert isinstance(FormatError("x"), ValueError)  # old `except ValueError` clauses still catch it
    for data in (b"", b"SV10", b"SV10\x04\x03\x02\x01", b"\x00" * 3, b"\xff" * 200):
        with pytest.raises(FormatError):
            parse_csa(data, "random.dcm")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_random_bytes_parse_or_raise_format_error(data):
    for candidate in (data, b"SV10\x04\x03\x02\x01" + data):
        error = _error_of(parse_csa, candidate, "fuzz.dcm")
        assert error is None or "fuzz.dcm" in str(error)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_flipped_bytes_of_a_real_layout_parse_or_raise_format_error(data):
    layout = data.draw(st.sampled_from(["SV10", "CSA1"]))
    original = bytearray(csa_header(ELEMENTS, layout=layout))
    for _ in range(data.draw(st.integers(1, 8))):
        original[data.draw(st.integers(0, len(original) - 1))] = data.draw(st.integers(0, 255))
    error = _error_of(parse_csa, bytes(original), "flipped.dcm")
    assert error is None or "flipped.dcm" in str(error)


def test_names_keeps_only_those_elements_but_walks_and_checks_them_all():
    data = csa_header(ELEMENTS)
    header = parse_csa(data, names={"B_value", "SliceNormalVector"})
    assert sorted(header) == ["B_value", "SliceNormalVector"]
    with pytest.raises(FormatError, match="truncated"):
        parse_csa(data[:-20], "a.dcm", names={"NumberOfImagesInMosaic"})  # the damage is past the kept element


def _sv10(count: int, elements: bytes = b"") -> bytes:
    return b"SV10\x04\x03\x02\x01" + struct.pack("<2I", count, 77) + elements


def _element(name: str, vm: int, items: int) -> bytes:
    return struct.pack("<64si4s3i", name.encode(), vm, b"IS", 6, items, 77)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"SV10\x04\x03", r"\(SV10\) is truncated: the number of elements needs 8 bytes at offset 8"),
        (b"", r"\(CSA1\) is truncated: the number of elements"),
        (_sv10(0), r"says it holds 0 elements; a CSA header holds 1 to 1000"),
        (_sv10(MAX_ELEMENTS + 1), r"says it holds 1001 elements"),
        (_sv10(2**32 - 1), r"says it holds 4294967295 elements"),
        (_sv10(2, _element("A", 1, 0)), r"truncated: element 2 of 2 needs 84 bytes at offset 100"),
        (_sv10(1, _element("A", 1, MAX_ITEMS + 1)), r"element 1 \('A'\) says it has 1001 items"),
        (_sv10(1, _element("A", -1, 1)), r"a value multiplicity of -1"),
        (_sv10(1, _element("A", 1, 1)), r"truncated: item 1 of 'A' needs 16 bytes at offset 100"),
        (_sv10(1, _element("A", 1, 1) + struct.pack("<4i", 0, -4, 77, 0)), r"item 1 of 'A' .* length of -4 bytes, neg"),
        (
            _sv10(1, _element("A", 1, 1) + struct.pack("<4i", 9, 9, 77, 9) + b"12"),
            r"item 1 of 'A' at offset 116 has a length of 9 bytes, past the end of the header \(118 bytes\)",
        ),
    ],
)
def test_truncated_and_inconsistent_headers_are_refused_naming_the_file(data, message):
    with pytest.raises(FormatError, match=message) as caught:
        parse_csa(data, "IM0001.dcm")
    assert caught.value.path == "IM0001.dcm"


def test_what_parses_from_damaged_bytes_decodes_or_refuses_with_our_error_too():
    rng = random.Random(14)
    data = csa_header(ELEMENTS)
    for _ in range(500):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        header, error = _outcome(parse_csa, bytes(damaged), "fuzz.dcm")
        if error is not None:
            assert error.path == "fuzz.dcm"
            continue
        for name in header:
            error = _error_of(header.numbers, name)
            assert error is None or error.path == "fuzz.dcm"
