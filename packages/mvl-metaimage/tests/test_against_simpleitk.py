"""Geometry against SimpleITK (ITK's MetaImageIO), voxel by voxel in world coordinates.

Files SimpleITK writes (oblique, 2D, 4D, vector, compressed, detached) are read by us and
compared with SimpleITK's own reading of them; files we write are read back by SimpleITK.
"""

import re
import warnings

import numpy as np
import pytest
import SimpleITK as sitk

from mvl.coords import Volume, change_system
from mvl.coords.testing import assert_same_image, sample_cases, sample_transformation
from mvl.metaimage import open_image, save_image, save_volume

CASES = list(sample_cases())
OBLIQUE = sample_transformation((25, -40, 70), (0.6, 1.1, 3.0), (-100.5, 40.0, 12.25))


def matrix_of(case):
    return OBLIQUE if case == "strongly-oblique" else next(m for n, _, m in CASES if n == case)


@pytest.mark.parametrize("name", ["scan.mha", "scan.mhd"])
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("case", [case[0] for case in CASES] + ["strongly-oblique"])
def test_files_simpleitk_wrote(tmp_path, sitk_tools, name, compress, case):
    reference, write = sitk_tools
    data, matrix = CASES[0][1].astype(np.float32), matrix_of(case)
    path = write(tmp_path / name, data, matrix, compress=compress)  # SimpleITK: LPS+
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ITK's AnatomicalOrientation agrees with its matrix
        volume = open_image(path, system="IAR")
    assert volume.src_system == "LPS"
    assert_same_image(volume, data, matrix, "LPS")
    ref_data, ref_matrix = reference(path)
    assert_same_image(volume, ref_data, ref_matrix, "LPS")
    assert isinstance(volume.src_data, np.memmap) is (not compress)


def test_transform_matrix_column_order_is_itks(tmp_path):
    """TransformMatrix lists the direction of voxel axis 0 first: what GetDirection's columns hold."""
    image = sitk.GetImageFromArray(np.zeros((4, 3, 2), np.int16))
    directions = np.array([[0, 1, 0], [0, 0, -1], [-1, 0, 0]], float)  # columns: axes 0, 1, 2
    image.SetDirection(directions.ravel().tolist())
    sitk.WriteImage(image, str(tmp_path / "d.mha"))
    text = (tmp_path / "d.mha").read_bytes()[:400].decode("latin-1")
    assert "TransformMatrix = 0 0 -1 1 0 0 0 -1 0\n" in text
    assert "AnatomicalOrientation = SRP\n" in text  # axis 0 from superior (towards I), 1 from R, 2 from P
    volume = open_image(tmp_path / "d.mha")
    np.testing.assert_array_equal(volume.get_src_transformation("LPS")[:3, :3], directions)
    save_image(tmp_path / "ours.mha", np.zeros((2, 3, 4), np.int16), volume.get_src_transformation("LPS"))
    ours = (tmp_path / "ours.mha").read_bytes()[:600].decode("latin-1")
    assert "TransformMatrix = 0 0 -1 1 0 0 0 -1 0\n" in ours and "AnatomicalOrientation = SRP\n" in ours


def test_our_header_lines_are_itks_for_an_oblique_image(tmp_path, sitk_tools):
    _, write = sitk_tools
    data = CASES[0][1]
    write(tmp_path / "itk.mha", data, OBLIQUE)
    save_image(tmp_path / "ours.mha", data, OBLIQUE, "LPS", compress=False)
    volume_itk, volume_ours = open_image(tmp_path / "itk.mha"), open_image(tmp_path / "ours.mha")
    np.testing.assert_allclose(volume_ours.src_transformation, volume_itk.src_transformation, atol=1e-12)
    for field in ("NDims", "DimSize", "ElementType", "AnatomicalOrientation", "CompressedData"):
        assert volume_ours.src_object.header[field] == volume_itk.src_object.header[field], field


def test_2d_image_simpleitk_wrote(tmp_path, sitk_tools):
    reference, write = sitk_tools
    data = np.arange(5 * 6, dtype=np.uint16).reshape(5, 6)
    angle = np.radians(30)
    matrix = np.eye(4)
    matrix[:2, :2] = [[np.cos(angle) * 0.5, -np.sin(angle) * 2], [np.sin(angle) * 0.5, np.cos(angle) * 2]]
    matrix[:2, 3] = (10, -20)
    path = write(tmp_path / "plane.mha", data, matrix, compress=True)
    volume = open_image(path)
    assert volume.src_data.shape == (5, 6, 1)
    ref_data, ref_matrix = reference(path)
    assert_same_image(volume, ref_data, ref_matrix, "LPS")
    assert_same_image(volume, data[..., np.newaxis], ref_matrix, "LPS")


@pytest.mark.parametrize("compress", [False, True])
def test_4d_image_simpleitk_wrote(tmp_path, sitk_tools, compress):
    reference, write = sitk_tools
    series = np.stack([CASES[2][1] + 100 * t for t in range(3)], axis=-1).astype(np.int16)
    path = write(tmp_path / "series.mha", series, OBLIQUE, compress=compress)
    volume = open_image(path, system="RAS")
    assert volume.src_data.shape == (5, 6, 7, 3) and volume.src_spatial_dimensions == (0, 1, 2)
    ref_data, ref_matrix = reference(path)
    assert_same_image(volume, ref_data, ref_matrix, "LPS")
    assert_same_image(volume, series, OBLIQUE, "LPS")


@pytest.mark.parametrize("compress", [False, True])
def test_vector_image_simpleitk_wrote(tmp_path, sitk_tools, compress):
    reference, write = sitk_tools
    data = np.stack([CASES[2][1], -CASES[2][1], CASES[2][1] * 2], axis=-1).astype(np.float32)
    path = write(tmp_path / "v.mha", data, OBLIQUE, compress=compress, vector=True)
    volume = open_image(path, system="RAS")
    assert volume.src_data.shape == (5, 6, 7, 3)
    assert volume.src_object.header["ElementNumberOfChannels"] == "3"
    ref_data, ref_matrix = reference(path)
    assert_same_image(volume, ref_data, ref_matrix, "LPS")
    assert_same_image(volume, data, OBLIQUE, "LPS")


@pytest.mark.parametrize(
    "dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64, np.float32, np.float64]
)
def test_every_type_simpleitk_writes(tmp_path, sitk_tools, dtype):
    reference, write = sitk_tools
    data = (np.arange(5 * 6 * 7).reshape(5, 6, 7) % 120).astype(dtype)
    path = write(tmp_path / "t.mha", data, CASES[1][2], compress=True)
    volume = open_image(path)
    assert volume.src_data.dtype == np.dtype(dtype)
    assert_same_image(volume, *reference(path), "LPS")
    save_volume(tmp_path / "ours.mha", volume)
    back = sitk.ReadImage(str(tmp_path / "ours.mha"))
    assert sitk.GetArrayViewFromImage(back).dtype == np.dtype(dtype)


@pytest.mark.parametrize("system", ["RAS", "LPS", "LAS", "IAR", "SPL"])
@pytest.mark.parametrize("name", ["ours.mha", "ours.mhd"])
@pytest.mark.parametrize("compress", [False, True])
def test_simpleitk_reads_what_we_write(tmp_path, sitk_tools, system, name, compress):
    reference, _ = sitk_tools
    for case, data, matrix in CASES:
        in_system = change_system(matrix, "RAS", system)
        path = tmp_path / f"{case}-{name}"
        save_image(path, data, in_system, system, compress=compress)
        ref_data, ref_matrix = reference(path)
        assert_same_image(Volume(ref_data, ref_matrix, "LPS"), data, matrix, "RAS")


@pytest.mark.parametrize("src_order", [True, False])
def test_simpleitk_reads_our_vector_and_4d_volumes(tmp_path, sitk_tools, src_order):
    reference, _ = sitk_tools
    _, data, matrix = CASES[2]
    series = np.stack([data, data + 1000], axis=0).astype(np.int16)  # components first, as NRRD holds them
    volume = Volume(series, matrix, "RAS", (1, 2, 3), system="PSL")
    save_image(tmp_path / "v.mha", np.moveaxis(series, 0, -1), matrix, "RAS", channels=True)
    save_volume(tmp_path / "t.mha", volume, src_order=src_order)
    image = sitk.ReadImage(str(tmp_path / "v.mha"))
    assert image.GetNumberOfComponentsPerPixel() == 2 and image.GetDimension() == 3
    ref_data, ref_matrix = reference(tmp_path / "v.mha")
    assert_same_image(Volume(ref_data, ref_matrix, "LPS"), np.moveaxis(series, 0, -1), matrix, "RAS")
    assert sitk.ReadImage(str(tmp_path / "t.mha")).GetDimension() == 4
    ref_data, ref_matrix = reference(tmp_path / "t.mha")
    assert_same_image(Volume(ref_data, ref_matrix, "LPS"), np.moveaxis(series, 0, -1), matrix, "RAS")


def test_simpleitk_keeps_our_time_axis_spacing(tmp_path):
    series = np.zeros((2, 3, 4, 5), np.int16)
    image = sitk.GetImageFromArray(series.T, isVector=False)
    image.SetSpacing((1, 2, 3, 0.5))
    image.SetOrigin((0, 0, 0, 10))
    sitk.WriteImage(image, str(tmp_path / "in.mha"))
    save_volume(tmp_path / "out.mha", open_image(tmp_path / "in.mha"))
    back = sitk.ReadImage(str(tmp_path / "out.mha"))
    assert back.GetSpacing() == (1, 2, 3, 0.5) and back.GetOrigin() == (0, 0, 0, 10)


def test_round_trip_through_simpleitk(tmp_path, sitk_tools):
    reference, write = sitk_tools
    _, data, matrix = CASES[1]
    save_image(tmp_path / "a.mha", data, matrix, "RAS")
    ref_data, ref_matrix = reference(tmp_path / "a.mha")
    write(tmp_path / "b.mha", ref_data, ref_matrix, compress=True)
    assert_same_image(open_image(tmp_path / "b.mha"), data, matrix, "RAS")


def test_simpleitk_reads_our_compressed_data_size(tmp_path):
    save_image(tmp_path / "z.mha", CASES[0][1], np.eye(4))
    text = (tmp_path / "z.mha").read_bytes()
    size = int(re.search(rb"CompressedDataSize = ([0-9]+) *\n", text)[1])
    start = text.index(b"ElementDataFile = LOCAL\n") + len(b"ElementDataFile = LOCAL\n")
    assert len(text) - start == size
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "z.mha"))).T, CASES[0][1])
