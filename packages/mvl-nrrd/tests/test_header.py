import io
import re

import nrrd
import numpy as np
import pytest

from mvl.coords import FormatError, ResourceLimitError, UnsupportedFormatError
from mvl.nrrd.header import MAX_HEADER_BYTES, pynrrd_header, read_header_text, read_layout


def text_of(blob, path="scan.nrrd"):
    return read_header_text(io.BytesIO(blob), path)


def layout_of(fields, path="scan.nrrd"):
    blob = ("NRRD0004\n" + "".join(f"{name}: {value}\n" for name, value in fields.items())).encode()
    return read_layout(text_of(blob, path), path)


BASE = {"type": "short", "dimension": "3", "sizes": "2 3 4", "endian": "little", "encoding": "raw"}


def test_fields_comments_key_values_and_crlf():
    text = text_of(b"NRRD0005\r\n# comment\r\ntype: short\r\nmy:key:=v:w \r\n\r\nDATA")
    assert text.magic == "NRRD0005"
    assert text.fields == {"type": "short", "my:key": "v:w"}
    assert text.data_offset == len(b"NRRD0005\r\n# comment\r\ntype: short\r\nmy:key:=v:w \r\n\r\n")


def test_detached_header_may_end_at_the_end_of_the_file():
    text = text_of(b"NRRD0004\ntype: short\ndata file: x.raw")
    assert text.data_offset is None
    assert text.fields["data file"] == "x.raw"


def test_not_nrrd_is_unsupported():
    with pytest.raises(UnsupportedFormatError, match=r"scan.nrrd: not an NRRD file: it starts with b'GIF89a"):
        text_of(b"GIF89a" + b"\0" * 100)


def test_future_version_is_unsupported():
    with pytest.raises(UnsupportedFormatError, match="NRRD magic 'NRRD0006' is not one we read"):
        text_of(b"NRRD0006\ntype: short\n\n")


def test_line_that_is_not_a_field():
    with pytest.raises(FormatError, match=r"header line 3 \('just words'\) is not a 'field: value'"):
        text_of(b"NRRD0004\ntype: short\njust words\n\n")


def test_duplicate_field():
    with pytest.raises(FormatError, match="header field 'type' appears twice"):
        text_of(b"NRRD0004\ntype: short\ntype: float\n\n")


def test_header_without_end_is_read_only_up_to_the_bound():
    stream = io.BytesIO(b"NRRD0004\ntype: short\n" + b"x" * (4 * MAX_HEADER_BYTES))
    with pytest.raises(FormatError, match="no blank line ends the header within its first 1048576 bytes"):
        read_header_text(stream, "scan.nrrd")
    assert stream.tell() < 2 * MAX_HEADER_BYTES


def test_layout_of_every_type_name():
    for name, expected in [("signed char", "i1"), ("uchar", "u1"), ("unsigned short int", "u2"), ("int", "i4")]:
        assert layout_of({**BASE, "type": name}).dtype.str[1:] == expected
    assert layout_of({**BASE, "type": "double", "endian": "big"}).dtype.str == ">f8"
    assert layout_of({**BASE, "type": "long  long"}).dtype.str == "<i8"  # spaces collapse


def test_single_byte_types_and_ascii_need_no_endian():
    fields = {name: value for name, value in BASE.items() if name != "endian"}
    assert layout_of({**fields, "type": "uint8"}).dtype == np.uint8
    assert layout_of({**fields, "encoding": "text"}).encoding == "ascii"


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"type": None}, FormatError, "header field 'type' is missing"),
        ({"sizes": None}, FormatError, "header field 'sizes' is missing"),
        ({"dimension": "three"}, FormatError, "header field 'dimension' must hold integers, got 'three'"),
        ({"dimension": "0"}, FormatError, "header field 'dimension' must be at least 1"),
        ({"dimension": "17", "sizes": " ".join(["1"] * 17)}, ResourceLimitError, "NRRD allows at most 16 axes"),
        ({"sizes": "2 3"}, FormatError, "header field 'sizes' lists 2 axes but 'dimension' is 3"),
        ({"sizes": "2 -3 4"}, FormatError, "header field 'sizes' must be positive integers"),
        ({"sizes": "2 0 4"}, FormatError, "header field 'sizes' must be positive integers"),
        ({"sizes": "2 3.5 4"}, FormatError, "header field 'sizes' must hold integers, got '3.5'"),
        ({"sizes": "4294967296 4294967296 4294967296"}, ResourceLimitError, "'sizes' declares an absurd amount"),
        ({"type": "quaternion"}, FormatError, "header field 'type' is 'quaternion', not an NRRD type"),
        ({"type": "block"}, UnsupportedFormatError, "header field 'type' is 'block'"),
        ({"encoding": "zstd"}, FormatError, "header field 'encoding' is 'zstd', not an NRRD encoding"),
        ({"endian": None}, FormatError, "header field 'endian' is missing; 'short' data in raw encoding needs it"),
        ({"endian": "middle"}, FormatError, "header field 'endian' must be 'little' or 'big', got 'middle'"),
        ({"line skip": "-1"}, FormatError, "header field 'line skip' must be 0 or more"),
        ({"byte skip": "-2"}, FormatError, "header field 'byte skip' must be -1 or more"),
        ({"byte skip": "-1", "encoding": "gzip"}, FormatError, "'byte skip' is -1 .* only for raw encoding, not gzip"),
        ({"lineskip": "1", "line skip": "1"}, FormatError, "'line skip' and 'lineskip' are the same field"),
        ({"data file": "LIST"}, UnsupportedFormatError, "'data file' spreads the data over several files"),
        ({"data file": "slice%03d.raw 0 9 1"}, UnsupportedFormatError, "over several files"),
    ],
)
def test_bad_storage_fields(changes, error, message):
    fields = {**BASE}
    for name, value in changes.items():
        if value is None:
            fields.pop(name)
        else:
            fields[name] = value
    with pytest.raises(error, match=f"^scan\\.nrrd: .*{message}"):
        layout_of(fields)


def test_pynrrd_header_is_what_pynrrd_reads(tmp_path):
    path = tmp_path / "p.nrrd"
    header = {
        "space": "left-posterior-superior",
        "space directions": np.diag([1.5, 2.0, 3.0]),
        "space origin": np.array([1.0, 2, 3]),
        "measurement frame": np.eye(3),
        "labels": ["x", "y", "z"],
        "my custom": "some value",
    }
    nrrd.write(str(path), np.zeros((2, 3, 4), np.int16), header)
    with open(path, "rb") as stream:
        ours = pynrrd_header(read_header_text(stream, path), path)
    theirs = nrrd.read_header(str(path))
    assert list(ours) == list(theirs)
    for name, value in theirs.items():
        np.testing.assert_equal(ours[name], value)


def test_pynrrd_header_allows_spaces_in_vectors():
    text = text_of(b"NRRD0004\nspace origin: ( 1, 2 ,3 )\nspace directions: (1, 0, 0) none\n\n")
    header = pynrrd_header(text, "x.nrrd")
    np.testing.assert_equal(header["space origin"], [1, 2, 3])
    assert header["space directions"].shape == (2, 3)


def test_pynrrd_header_names_the_malformed_field():
    text = text_of(b"NRRD0004\nspacings: 1 two 3\n\n")
    with pytest.raises(FormatError, match=re.escape("x.nrrd: header field 'spacings' is malformed")):
        pynrrd_header(text, "x.nrrd")
