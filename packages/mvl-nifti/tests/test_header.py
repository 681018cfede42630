"""Header checks and header building: dimensions, types, sizes, NIfTI-1 or NIfTI-2."""

import io
import re

import nibabel as nib
import numpy as np
import pytest

from mvl.coords.errors import FormatError, SaveError
from mvl.nifti.header import (
    MAX_DEFLATE_RATIO,
    Layout,
    build_header,
    check_size,
    data_layout,
    header_bytes,
    read_header,
)


def header_of(shape, dtype="int16"):
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    return header


@pytest.mark.parametrize("shape", [(7,), (2, 3), (2, 3, 4), (2, 3, 4, 5, 6, 7, 8)])
def test_layout_of_one_to_seven_dimensions(shape):
    layout = data_layout(header_of(shape), path="x.nii")
    assert layout.shape == shape and layout.nbytes == 2 * int(np.prod(shape))


def test_big_endian_type_is_kept():
    header = nib.Nifti1Header(endianness=">")
    header.set_data_shape((2, 2, 2))
    header.set_data_dtype("float32")
    assert data_layout(header, path="x.nii").dtype == np.dtype(">f4")


def test_unsupported_datatype_code():
    header = header_of((2, 2, 2))
    header["datatype"] = 1  # DT_BINARY: bits, which no reader supports
    with pytest.raises(FormatError, match=re.escape("x.nii: header field datatype is 1")):
        data_layout(header, path="x.nii")


def test_size_checks():
    layout = Layout((10, 10, 10), np.dtype("int16"), 352, 2000)
    check_size(layout, available=2000, compressed=False, path="x.nii")
    with pytest.raises(FormatError, match=re.escape("x.nii: truncated")):
        check_size(layout, available=1999, compressed=False, path="x.nii")
    check_size(layout, available=2000 // MAX_DEFLATE_RATIO + 1, compressed=True, path="x.nii.gz")
    with pytest.raises(FormatError, match="at most"):
        check_size(layout, available=1, compressed=True, path="x.nii.gz")


def test_read_header_leaves_the_stream_at_the_voxels():
    header = build_header((2, 3, 4), np.dtype("uint8"), np.eye(4), single=True, qform_code=1, path="x.nii")
    stream = io.BytesIO(header_bytes(header) + bytes(range(24)))
    parsed, found = read_header(stream, path="x.nii", limit=10_000)
    assert found.single and found.version == 1
    assert stream.read() == bytes(range(24))
    assert parsed.get_data_shape() == (2, 3, 4)


def test_extensions_are_read():
    header = build_header((2, 3, 4), np.dtype("uint8"), np.eye(4), single=True, qform_code=1, path="x.nii")
    header.extensions.append(nib.nifti1.Nifti1Extension("comment", b"hello mvl"))
    header["vox_offset"] = 0
    stream = io.BytesIO(header_bytes(header) + bytes(24))
    parsed, _ = read_header(stream, path="x.nii", limit=10_000)
    assert parsed.extensions[0].get_content() == b"hello mvl"


def test_malformed_extensions():
    header = build_header((2, 3, 4), np.dtype("uint8"), np.eye(4), single=True, qform_code=1, path="x.nii")
    header["vox_offset"] = 368
    block = header_bytes(header)
    block = block[:348] + b"\x01\x00\x00\x00" + (-5).to_bytes(4, "little", signed=True) + bytes(8)
    with (
        pytest.warns(UserWarning, match="not a multiple of 16"),
        pytest.raises(FormatError, match=re.escape("x.nii: malformed header extensions")),
    ):
        read_header(io.BytesIO(block + bytes(24)), path="x.nii", limit=10_000)


@pytest.mark.parametrize(("shape", "version"), [((32767, 1, 1), 1), ((32768, 1, 1), 2), ((2, 2, 2, 40000), 2)])
def test_nifti2_only_when_needed(shape, version):
    header = build_header(shape, np.dtype("uint8"), np.eye(4), single=True, qform_code=1, path="x.nii")
    assert header_bytes(header)[:4] == (348 if version == 1 else 540).to_bytes(4, "little")


def test_time_axis_gets_seconds_and_zooms():
    header = build_header(
        (2, 2, 2, 5), np.dtype("f4"), np.eye(4), single=True, qform_code=1, zooms=(0.8,), path="x.nii"
    )
    assert header.get_xyzt_units() == ("mm", "sec")
    assert header.get_zooms()[3] == pytest.approx(0.8)


def test_unstorable_type():
    with pytest.raises(SaveError, match=re.escape("x.nii: NIfTI cannot store data of type float16")):
        build_header((2, 2, 2), np.dtype("f2"), np.eye(4), single=True, qform_code=1, path="x.nii")
