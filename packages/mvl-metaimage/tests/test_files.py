"""ElementDataFile: its four forms, and the safety rules of detached data."""

import os

import numpy as np
import pytest

from mvl.coords import FormatError, InputError, ResourceLimitError, SecurityError, UnsupportedFormatError
from mvl.metaimage import open_image

VALUES = np.arange(24, dtype="<i2")


def slices(folder, pattern="s{:02d}.raw", indices=range(4)):
    for slab, index in zip(VALUES.reshape(4, 6), indices, strict=True):
        (folder / pattern.format(index)).write_bytes(slab.tobytes())


def test_a_file_beside_the_header(make_mha, tmp_path):
    (tmp_path / "scan.raw").write_bytes(VALUES.tobytes())
    volume = open_image(make_mha({"ElementDataFile": "scan.raw"}, name="scan.mhd"))
    np.testing.assert_array_equal(volume.src_data.ravel(order="F"), VALUES)


def test_a_file_in_a_sub_folder_and_one_with_spaces(make_mha, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "my scan.raw").write_bytes(VALUES.tobytes())
    volume = open_image(make_mha({"ElementDataFile": "data/my scan.raw"}, name="scan.mhd"))
    np.testing.assert_array_equal(volume.src_data.ravel(order="F"), VALUES)


@pytest.mark.parametrize("spec", ["s%02d.raw 0 3 1", "s%02d.raw 0 3", "s%02d.raw 3 0 -1"])
def test_a_pattern_of_slices(make_mha, tmp_path, spec):
    indices = range(3, -1, -1) if spec.endswith("-1") else range(4)
    slices(tmp_path, indices=indices)
    volume = open_image(make_mha({"ElementDataFile": spec}, name="scan.mhd"))
    np.testing.assert_array_equal(volume.src_data.ravel(order="F"), VALUES)
    assert len(volume.src_object.data_paths) == 4


def test_a_list_of_files(make_mha, tmp_path):
    slices(tmp_path)
    path = make_mha({"ElementDataFile": "LIST"}, name="scan.mhd")
    path.write_bytes(path.read_bytes() + b"s00.raw\ns01.raw\n\ns02.raw\r\ns03.raw\n")
    np.testing.assert_array_equal(open_image(path).src_data.ravel(order="F"), VALUES)


def test_a_list_of_planes_of_a_4d_image(make_mha, tmp_path):
    values = np.arange(2 * 3 * 4 * 2, dtype="<i2")
    for index, part in enumerate(values.reshape(8, 6)):
        (tmp_path / f"p{index}.raw").write_bytes(part.tobytes())
    fields = {"NDims": "4", "DimSize": "2 3 4 2", "ElementDataFile": "LIST 2D",
              "TransformMatrix": " ".join(map(str, np.eye(4).ravel().astype(int))), "Offset": "0 0 0 0",
              "ElementSpacing": "1 1 1 1"}  # fmt: skip
    path = make_mha(fields, name="scan.mhd")
    path.write_bytes(path.read_bytes() + b"".join(b"p%d.raw\n" % index for index in range(8)))
    np.testing.assert_array_equal(open_image(path).src_data.ravel(order="F"), values)


def test_a_list_with_too_few_names(make_mha):
    path = make_mha({"ElementDataFile": "LIST"}, name="scan.mhd")
    path.write_bytes(path.read_bytes() + b"s00.raw\n")
    with pytest.raises(FormatError, match="followed by 1 file names, but 'DimSize' \\[2, 3, 4\\] needs 4"):
        open_image(path)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("s%02d.raw 0 2 1", "names 3 files, but 'DimSize' \\[2, 3, 4\\] needs 4"),
        ("s%02d.raw 0 3 0", "names 0 files"),
        ("s%s.raw 0 3 1", "must hold one integer directive"),
        ("s%d%d.raw 0 3 1", "must hold one integer directive"),
        ("s%d.raw a b", "as integers"),
        ("LIST 7D", "gives each file 7 axes"),
        ("LIST please", "a list is 'LIST' or 'LIST 2D'"),
    ],
)
def test_malformed_patterns_and_lists(make_mha, spec, message):
    with pytest.raises(FormatError, match=message):
        open_image(make_mha({"ElementDataFile": spec}, name="scan.mhd"))


def test_too_many_files_are_refused_before_anything_is_read(make_mha):
    with pytest.raises(ResourceLimitError, match="needs 100000 data files"):
        open_image(make_mha({"DimSize": "2 3 100000", "ElementDataFile": "s%d.raw 1 100000"}, name="scan.mhd"))


def test_compressed_data_in_several_files_is_not_read(make_mha):
    with pytest.raises(UnsupportedFormatError, match="spreads compressed data over 4 files"):
        open_image(make_mha({"CompressedData": "True", "ElementDataFile": "s%d.raw 0 3"}, name="scan.mhd"))


def test_a_slice_of_the_wrong_size(make_mha, tmp_path):
    slices(tmp_path)
    (tmp_path / "s02.raw").write_bytes(b"\0" * 11)
    with pytest.raises(FormatError, match=r"s02\.raw' holds 11 bytes of data, not the 12 of one of the 4 parts"):
        open_image(make_mha({"ElementDataFile": "s%02d.raw 0 3"}, name="scan.mhd"))


@pytest.mark.parametrize("spec", ["../outside.raw", "sub/../../outside.raw"])
def test_data_outside_the_folder_is_refused(tmp_path, make_mha, spec):
    (tmp_path / "outside.raw").write_bytes(VALUES.tobytes())
    maker = type(make_mha)(tmp_path / "inner")
    (tmp_path / "inner" / "sub").mkdir(parents=True)
    path = maker({"ElementDataFile": spec}, name="scan.mhd")
    with pytest.raises(SecurityError, match="leads outside the header's folder") as caught:
        open_image(path)
    assert caught.value.path == str(path)
    np.testing.assert_array_equal(open_image(path, allow_external_data=True).src_data.ravel(order="F"), VALUES)


def test_absolute_paths_links_and_devices_are_refused(tmp_path, make_mha):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.raw").write_bytes(VALUES.tobytes())
    make_mha = type(make_mha)(tmp_path / "inner")  # the header in a folder of its own
    tmp_path = tmp_path / "inner"
    tmp_path.mkdir()
    with pytest.raises(SecurityError, match="absolute path"):
        open_image(make_mha({"ElementDataFile": str(outside / "data.raw")}, name="a.mhd"))
    (tmp_path / "link.raw").symlink_to(outside / "data.raw")
    with pytest.raises(SecurityError, match="leads outside the header's folder"):
        open_image(make_mha({"ElementDataFile": "link.raw"}, name="b.mhd"))
    with pytest.raises(SecurityError, match="absolute path '/dev/zero'"):
        open_image(make_mha({"ElementDataFile": "/dev/zero"}, name="c.mhd"))
    (tmp_path / "zero.raw").symlink_to("/dev/zero")
    with pytest.raises(SecurityError, match="leads outside"):
        open_image(make_mha({"ElementDataFile": "zero.raw"}, name="d.mhd"))
    with pytest.raises(SecurityError, match="leads outside"):  # the pattern's files are checked one by one
        open_image(make_mha({"ElementDataFile": "../x%d.raw 0 3"}, name="e.mhd"))


def test_a_fifo_in_the_folder_is_refused_unless_allowed(tmp_path, make_mha):
    os.mkfifo(tmp_path / "pipe.raw")
    path = make_mha({"ElementDataFile": "pipe.raw"}, name="scan.mhd")
    with pytest.raises(SecurityError, match="not a regular file"):
        open_image(path)


def test_a_device_allowed_explicitly_is_read_exactly(tmp_path, make_mha):
    path = make_mha({"ElementDataFile": "/dev/zero"}, name="scan.mhd")
    volume = open_image(path, allow_external_data=True)
    assert volume.src_data.shape == (2, 3, 4) and not volume.src_data.any()


def test_missing_data_files(make_mha, tmp_path):
    with pytest.raises(InputError, match=r"names 'missing\.raw', which does not exist"):
        open_image(make_mha({"ElementDataFile": "missing.raw"}, name="a.mhd"))
    (tmp_path / "folder.raw").mkdir()
    with pytest.raises(InputError, match="which is a folder"):
        open_image(make_mha({"ElementDataFile": "folder.raw"}, name="b.mhd"))


def test_a_nul_byte_in_a_file_name_is_a_format_error(make_mha):
    """Found by the fuzz tests: a NUL byte made pathlib raise a bare ValueError."""
    with pytest.raises(FormatError, match="holds bytes no file name holds"):
        open_image(make_mha({"ElementDataFile": "sc\0an.raw"}, name="x.mhd"))
