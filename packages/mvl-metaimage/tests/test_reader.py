import pickle
import re
import warnings

import numpy as np
import pytest
import SimpleITK as sitk

from mvl.coords import FormatError, FormatWarning, InputError, NoImageDataError, UnsupportedFormatError
from mvl.coords.testing import ReaderConformance, assert_same_image
from mvl.metaimage import MetaImageSource, open_image


class TestMhaReader(ReaderConformance):
    """The conformance kit, on files SimpleITK wrote (LPS+, ITK's own writer)."""

    suffix = ".mha"
    reference_system = "LPS"

    def open(self, path, system):
        return open_image(path, system=system)

    def write_reference(self, directory, data, transformation):
        path = directory / f"reference{self.suffix}"
        image = sitk.GetImageFromArray(np.ascontiguousarray(data.T))
        spacing = np.linalg.norm(transformation[:3, :3], axis=0)
        image.SetSpacing(spacing.tolist())
        image.SetDirection((transformation[:3, :3] / spacing).ravel().tolist())
        image.SetOrigin(transformation[:3, 3].tolist())
        sitk.WriteImage(image, str(path))
        return path


class TestMhdReader(TestMhaReader):
    suffix = ".mhd"


class TestCompressedMhaReader(TestMhaReader):
    def write_reference(self, directory, data, transformation):
        path = super().write_reference(directory, data, transformation)
        sitk.WriteImage(sitk.ReadImage(str(path)), str(path), useCompression=True)
        return path


def test_src_object_holds_the_header(make_mha):
    path = make_mha({"Modality": "MET_MOD_CT", "MyKey": "a = b"})
    volume = open_image(path)
    data, header = volume.src_object
    assert data is volume.src_data
    assert header["Modality"] == "MET_MOD_CT" and header["MyKey"] == "a = b"
    assert list(header)[-1] == "ElementDataFile"
    source = volume.src_object
    assert isinstance(source, MetaImageSource) and len(source) == 2
    assert source.path == path and source.data_paths == () and not source.detached


def test_detached_source_names_its_data_file(make_mha, tmp_path):
    (tmp_path / "scan.raw").write_bytes(make_mha.values.tobytes())
    volume = open_image(make_mha({"ElementDataFile": "scan.raw"}, name="scan.mhd"))
    assert volume.src_object.data_paths == (tmp_path / "scan.raw",) and volume.src_object.detached


def test_src_object_survives_pickling(make_mha):
    source = open_image(make_mha(), mmap=False).src_object
    again = pickle.loads(pickle.dumps(source))
    assert again.path == source.path and again.header == source.header
    np.testing.assert_array_equal(again.data, source.data)


def test_voxels_in_file_order(make_mha):
    volume = open_image(make_mha())
    assert volume.src_data.shape == (2, 3, 4)
    np.testing.assert_array_equal(volume.src_data, make_mha.values.reshape((2, 3, 4), order="F"))
    assert isinstance(volume.src_data, np.memmap)
    assert type(open_image(make_mha(), mmap=False).src_data) is np.ndarray


def test_memory_map_is_copy_on_write(make_mha):
    path = make_mha()
    before = path.read_bytes()
    volume = open_image(path)
    volume.src_data[0, 0, 0] = 999
    del volume
    assert path.read_bytes() == before


def test_channels_are_the_last_axis(make_mha):
    values = np.arange(2 * 3 * 4 * 2, dtype="<i2")
    volume = open_image(make_mha({"ElementNumberOfChannels": "2"}, body=values.tobytes()))
    assert volume.src_data.shape == (2, 3, 4, 2) and volume.src_spatial_dimensions == (0, 1, 2)
    np.testing.assert_array_equal(volume.src_data[0, 0, 0], [0, 1])  # a voxel's channels are stored together
    np.testing.assert_array_equal(volume.src_data[1, 0, 0], [2, 3])


def test_one_and_two_dimensional_images_get_length_1_axes(make_mha):
    line = open_image(
        make_mha({"NDims": "1", "DimSize": "6", "TransformMatrix": "-1", "Offset": "3", "ElementSpacing": "2"},
                 body=np.arange(6, dtype="<i2").tobytes())
    )  # fmt: skip
    assert line.src_data.shape == (6, 1, 1)
    np.testing.assert_array_equal(line.get_src_transformation("LPS"), np.diag([-2.0, 1, 1, 1]) + np.eye(4, k=3) * 3)
    fields = {"NDims": "2", "DimSize": "2 3", "TransformMatrix": "0 1 1 0", "Offset": "1 2", "ElementSpacing": "1 1"}
    plane = open_image(make_mha(fields, body=np.arange(6, dtype="<i2").tobytes()))
    assert plane.src_data.shape == (2, 3, 1)
    expected = np.array([[0, 1, 0, 1], [1, 0, 0, 2], [0, 0, -1, 0], [0, 0, 0, 1.0]])  # right-handed: z = x cross y
    np.testing.assert_array_equal(plane.get_src_transformation("LPS"), expected)


def test_four_dimensional_images_carry_the_fourth_axis(make_mha):
    values = np.arange(2 * 3 * 4 * 5, dtype="<i2")
    fields = {"NDims": "4", "DimSize": "2 3 4 5", "TransformMatrix": " ".join(map(str, np.eye(4).ravel())),
              "Offset": "1 2 3 100", "ElementSpacing": "1 1 2 0.5"}  # fmt: skip
    volume = open_image(make_mha(fields, body=values.tobytes()), system="RAS")
    assert volume.src_data.shape == (2, 3, 4, 5)
    expected = np.diag([1.0, 1, 2, 1])
    expected[:3, 3] = (1, 2, 3)
    assert_same_image(volume, values.reshape((2, 3, 4, 5), order="F"), expected, "LPS")
    assert volume.src_object.header["ElementSpacing"] == "1 1 2 0.5"


def test_garbage_after_a_valid_start_is_a_format_error(make_mha, tmp_path):
    path = tmp_path / "broken.mha"
    path.write_bytes(b"ObjectType = Image\nNDims = 3\nthis is not a field\nElementDataFile = LOCAL\n")
    with pytest.raises(FormatError, match=r"broken.mha: header line 3 \('this is not a field'\)"):
        open_image(path)


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(100), UnsupportedFormatError, "not a MetaImage file"),
        (b"NRRD0004\ntype: short\n", UnsupportedFormatError, "not a MetaImage file"),
        (b"ObjectType = Tube\nNDims = 3\nElementDataFile = LOCAL\n", UnsupportedFormatError, "'Tube'"),
        (b"\n\n   \n", UnsupportedFormatError, "no header lines"),
    ],
)
def test_other_files_are_not_metaimage(tmp_path, content, error, message):
    path = tmp_path / "x.mha"
    path.write_bytes(content)
    with pytest.raises(error, match=message):
        open_image(path)


def test_inputs_that_are_not_files(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        open_image(tmp_path)
    (tmp_path / "empty.mha").write_bytes(b"")
    with pytest.raises(NoImageDataError, match=re.escape("empty.mha")):
        open_image(tmp_path / "empty.mha")


def test_orientation_that_contradicts_the_matrix_warns_and_the_matrix_wins(make_mha):
    path = make_mha({"AnatomicalOrientation": "LPS"})  # "from" letters: towards RAI, the identity is LPS+
    with pytest.warns(FormatWarning, match=r"'LPS' \(axes pointing towards RAI\).*towards LPS.*'RAI'"):
        volume = open_image(path)
    np.testing.assert_array_equal(volume.get_src_transformation("LPS"), np.eye(4))


def test_orientation_that_agrees_is_silent(make_mha):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_image(make_mha({"AnatomicalOrientation": "RAI"}))
        open_image(make_mha({"AnatomicalOrientation": "???"}))
