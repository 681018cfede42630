import io

import numpy as np
import pytest

from mvl.coords import FormatError, ResourceLimitError, UnsupportedFormatError
from mvl.metaimage import open_image
from mvl.metaimage.header import ELEMENT_TYPES, MAX_HEADER_BYTES, read_header_text, read_layout


def layout_of(blob):
    return read_layout(read_header_text(io.BytesIO(blob), "x.mha"), "x.mha")


def test_both_separators_and_no_spaces():
    text = read_header_text(
        io.BytesIO(b"NDims=3\nDimSize: 2 3 4\n  Key  =  a: b = c  \nElementDataFile=LOCAL\nDATA"), "x"
    )
    assert text.fields == {"NDims": "3", "DimSize": "2 3 4", "Key": "a: b = c", "ElementDataFile": "LOCAL"}
    assert text.data_offset == len(b"NDims=3\nDimSize: 2 3 4\n  Key  =  a: b = c  \nElementDataFile=LOCAL\n")


def test_crlf_lines_and_a_last_line_without_newline():
    text = read_header_text(io.BytesIO(b"NDims = 3\r\nElementDataFile = x.raw"), "x")
    assert text.fields["ElementDataFile"] == "x.raw" and text.data_offset == 34


@pytest.mark.parametrize(
    ("blob", "error", "message"),
    [
        (b"NDims = 3\nNDims = 3\nElementDataFile = LOCAL\n", FormatError, "'NDims' appears twice"),
        (b"NDims = 3\n= 4\nElementDataFile = LOCAL\n", FormatError, r"header line 2 \('= 4'\)"),
        (b"NDims = 3\nDimSize = 2 3 4\n", FormatError, "ends without an 'ElementDataFile' line"),
        (b"NDims = 3\n" + b"Comment = " + b"x" * MAX_HEADER_BYTES, FormatError, "within its first"),
        (b"hello world\n", UnsupportedFormatError, "not a MetaImage file"),
    ],
)
def test_malformed_headers(blob, error, message):
    with pytest.raises(error, match=message):
        read_header_text(io.BytesIO(blob), "x.mha")


def test_every_element_type(tmp_path, make_mha):
    for name, code in ELEMENT_TYPES.items():
        values = np.arange(24).astype(code)
        volume = open_image(
            make_mha({"ElementType": name}, body=values.astype("<" + code).tobytes(), name=f"{name}.mha")
        )
        assert volume.src_data.dtype == np.dtype(code), name
        np.testing.assert_array_equal(volume.src_data.ravel(order="F"), values)


def test_both_byte_orders(make_mha):
    big = open_image(make_mha({"BinaryDataByteOrderMSB": "True"}, body=np.arange(24, dtype=">i2").tobytes()))
    np.testing.assert_array_equal(big.src_data.ravel(order="F"), np.arange(24))
    other = open_image(
        make_mha({"BinaryDataByteOrderMSB": None, "ElementByteOrderMSB": "true"},
                 body=np.arange(24, dtype=">i2").tobytes(), name="b.mha")
    )  # fmt: skip
    np.testing.assert_array_equal(other.src_data.ravel(order="F"), np.arange(24))


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"NDims": None}, FormatError, "'NDims' is missing"),
        ({"DimSize": None}, FormatError, "'DimSize' is missing"),
        ({"ElementType": None}, FormatError, "'ElementType' is missing"),
        ({"NDims": "three"}, FormatError, "'NDims' must hold integers, got 'three'"),
        ({"NDims": "0"}, FormatError, "'NDims' must be at least 1"),
        ({"NDims": "40"}, ResourceLimitError, "'NDims' is 40"),
        ({"DimSize": "2 3"}, FormatError, r"'DimSize' must hold 3 numbers"),
        ({"DimSize": "2 0 4"}, FormatError, "'DimSize' must be positive"),
        ({"DimSize": "2 3 4.5"}, FormatError, "'DimSize' must hold integers"),
        ({"ElementType": "MET_STRING"}, UnsupportedFormatError, "'MET_STRING', which is not a number type"),
        ({"ElementType": "short"}, FormatError, "not a MetaIO type"),
        ({"ElementNumberOfChannels": "0"}, FormatError, "'ElementNumberOfChannels' must be at least 1"),
        ({"BinaryData": "maybe"}, FormatError, "'BinaryData' must be True or False, got 'maybe'"),
        ({"ElementByteOrderMSB": "True"}, FormatError, "disagree on the byte order"),
        ({"CompressedData": "True", "BinaryData": "False"}, FormatError, "contradict"),
        ({"CompressedData": "True", "CompressedDataSize": "-3"}, FormatError, "'CompressedDataSize' must be positive"),
        ({"HeaderSize": "-2"}, FormatError, "'HeaderSize' must be -1 or more"),
        ({"HeaderSize": "-1", "CompressedData": "True"}, FormatError, "needs uncompressed binary data"),
        ({"ElementDataFile": ""}, FormatError, "'ElementDataFile' is empty"),
        ({"ObjectType": "Group"}, UnsupportedFormatError, "'ObjectType' is 'Group'"),
        ({"DimSize": "100000 100000 100000000", "ElementType": "MET_DOUBLE"}, ResourceLimitError, "absurd"),
    ],
)
def test_bad_storage_fields_name_the_file_and_field(make_mha, changes, error, message):
    path = make_mha(changes)
    with pytest.raises(error, match=message) as caught:
        open_image(path)
    assert caught.value.path == str(path)


def test_layout_describes_its_size():
    layout = layout_of(
        b"NDims = 2\nDimSize = 3 4\nElementNumberOfChannels = 3\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n"
    )
    assert layout.shape == (3, 3, 4) and layout.nbytes == 144
    assert layout.describe() == "'DimSize' [3, 4], 'ElementNumberOfChannels' 3 and 'ElementType' (float32)"
