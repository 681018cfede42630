"""The element table and the raw value decoders of mvl.dicom.elements."""

from __future__ import annotations

import struct

import pytest
from pydicom.datadict import dictionary_VR, keyword_for_tag

from mvl.coords import FormatError
from mvl.dicom import elements as el


def test_every_kept_element_has_the_vr_of_the_standard():
    for tag, vr in el.VR_OF.items():
        assert dictionary_VR(tag) == vr, el.describe(tag)
    assert frozenset(el.VR_OF) == el.IMAGE_TAGS
    assert el.SURVEY_TAGS < el.IMAGE_TAGS
    assert el.SERIES_INSTANCE_UID in el.SURVEY_TAGS


def test_the_pixel_tags_are_the_three_pixel_data_elements():
    assert sorted(keyword_for_tag(tag) for tag in el.PIXEL_TAGS) == [
        "DoubleFloatPixelData",
        "FloatPixelData",
        "PixelData",
    ]
    assert not el.PIXEL_TAGS & el.IMAGE_TAGS


@pytest.mark.parametrize(
    ("tag", "text"),
    [
        (0x00200037, "(0020,0037) 'Image Orientation (Patient)'"),
        (0x7FE00010, "(7FE0,0010) 'Pixel Data'"),
        (0x00191234, "(0019,1234)"),  # private: no name
        (0xFFFEE000, "(FFFE,E000) 'Item'"),
    ],
)
def test_elements_are_named_as_in_the_standard(tag, text):
    assert el.describe(tag) == text


def test_keywords_name_their_tags():
    assert el.keyword_tag("ImagePositionPatient") == el.IMAGE_POSITION
    assert el.keyword_tag("EchoNumbers") == el.ECHO_NUMBERS
    with pytest.raises(ValueError, match=r"'EchoNumber' is not a DICOM keyword"):
        el.keyword_tag("EchoNumber")


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (None, None),
        (b"", None),
        (b" \x00", None),
        (b"CT", "CT"),
        (b"1.2.840.10008.1.2\x00", "1.2.840.10008.1.2"),
        (b"  padded  ", "padded"),
        (b"caf\xe9", "caf\xe9"),  # no character set: every byte is one character
    ],
)
def test_text_is_decoded_without_padding(raw, text):
    assert el.decode_text(raw) == text


def test_descriptions_are_decoded_in_the_specific_character_set():
    assert el.decode_text_with_charset("Gr\u00fc\u00dfe".encode("latin-1"), b"ISO_IR 100") == "Gr\u00fc\u00dfe"
    assert el.decode_text_with_charset("\u00e9t\u00e9 ".encode(), b"ISO_IR 192") == "\u00e9t\u00e9"
    assert el.decode_text_with_charset(b"plain ", None) == "plain"
    assert el.decode_text_with_charset(None, b"ISO_IR 100") is None
    assert el.decode_text_with_charset(b"Doe^John", b"ISO_IR 6", "PN") == "Doe^John"


@pytest.mark.parametrize(
    ("raw", "vr", "little", "values"),
    [
        (b"1\\2.5 ", "DS", True, [1.0, 2.5]),
        (b" -0.5\\1e3\x00", "DS", True, [-0.5, 1000.0]),
        (b"12 ", "IS", True, [12.0]),
        (b"", "DS", True, None),
        (b"  ", "DS", True, None),
        (struct.pack("<HH", 512, 3), "US", True, [512.0, 3.0]),
        (struct.pack(">hh", -1, 7), "SS", False, [-1.0, 7.0]),
        (struct.pack("<L", 70000), "UL", True, [70000.0]),
        (struct.pack(">l", -70000), "SL", False, [-70000.0]),
        (struct.pack("<f", 0.5), "FL", True, [0.5]),
        (struct.pack(">d", 2.5), "FD", False, [2.5]),
        (struct.pack("<Q", 2**40), "UV", True, [float(2**40)]),
        (struct.pack(">q", -(2**40)), "SV", False, [float(-(2**40))]),
        (struct.pack("<H", 9) + b"\x01", "US", True, [9.0]),  # a trailing odd byte is no value
        (b"\x01", "US", True, None),
    ],
)
def test_numbers_are_decoded_by_their_vr_and_byte_order(raw, vr, little, values):
    assert el.decode_floats(raw, el.SLICE_THICKNESS, vr, little) == values


def test_broken_or_non_finite_numbers_are_format_errors_naming_the_element():
    assert el.decode_floats(None, el.PIXEL_SPACING, "DS") is None
    with pytest.raises(FormatError, match=r"\(0028,0030\) 'Pixel Spacing' holds '1\\\\x', which is not a list"):
        el.decode_floats(b"1\\x", el.PIXEL_SPACING, "DS")
    with pytest.raises(FormatError, match=r"\(0020,0032\) 'Image Position \(Patient\)' holds 'inf\\\\0\\\\0': NaN"):
        el.decode_floats(b"inf\\0\\0", el.IMAGE_POSITION, "DS")
    with pytest.raises(FormatError, match=r"\(0018,9087\) 'Diffusion b-value' holds '\[nan\]': NaN or infinite"):
        el.decode_floats(struct.pack("<d", float("nan")), el.DIFFUSION_B_VALUE, "FD")


def test_decoded_lists_are_fresh_copies_of_the_cached_values():
    first = el.decode_floats(b"1\\2", el.PIXEL_SPACING, "DS")
    assert first is not None
    first.append(3.0)
    assert el.decode_floats(b"1\\2", el.PIXEL_SPACING, "DS") == [1.0, 2.0]


def test_integers_must_be_whole_numbers():
    assert el.decode_ints(b"\x00\x02", el.ROWS, "US", little_endian=False) == [2]
    assert el.decode_ints(b"3\\4 ", el.ECHO_NUMBERS, "IS") == [3, 4]
    assert el.decode_ints(b"", el.ECHO_NUMBERS, "IS") is None
    assert el.decode_ints(None, el.ECHO_NUMBERS, "IS") is None
    with pytest.raises(FormatError, match=r"\(0018,0086\) 'Echo Number\(s\)' holds \[1\.0, 2\.5\], expected whole"):
        el.decode_ints(b"1\\2.5", el.ECHO_NUMBERS, "IS")


def test_first_takes_the_first_value_as_a_float():
    assert el.first([3, 4]) == 3.0
    assert el.first([]) is None
    assert el.first(None) is None
