"""Geometry against SimpleITK (ITK's NRRD reader and writer), voxel by voxel in world coordinates."""

import nrrd
import numpy as np
import pytest

from mvl.coords import Volume, change_system
from mvl.coords.testing import assert_same_image, sample_cases, sample_transformation
from mvl.nrrd import open_image, save_image, save_volume

CASES = list(sample_cases())
OBLIQUE = sample_transformation((25, -40, 70), (0.6, 1.1, 3.0), (-100.5, 40.0, 12.25))


@pytest.mark.parametrize("name", ["scan.nrrd", "scan.nhdr"])
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("case", [case[0] for case in CASES] + ["strongly-oblique"])
def test_files_simpleitk_wrote(tmp_path, sitk_tools, name, compress, case):
    reference, write = sitk_tools
    data, matrix = (
        next((d, m) for n, d, m in CASES if n == case) if case != "strongly-oblique" else (CASES[0][1], OBLIQUE)
    )
    path = write(tmp_path / name, data.astype(np.float32), matrix, compress=compress)  # SimpleITK: LPS+
    volume = open_image(path)
    assert volume.src_system == "LPS"
    assert_same_image(volume, data, matrix, "LPS")
    ref_data, ref_matrix = reference(path)
    assert_same_image(volume, ref_data, ref_matrix, "LPS")
    if compress:
        assert type(volume.src_data) is np.ndarray
    else:
        assert isinstance(volume.src_data, np.memmap)


def test_vector_image_simpleitk_wrote(tmp_path, sitk_tools):
    reference, write = sitk_tools
    data = np.stack([CASES[2][1], -CASES[2][1], CASES[2][1] * 2], axis=-1).astype(np.float32)
    path = write(tmp_path / "v.nrrd", data, OBLIQUE, compress=True, vector=True)
    volume = open_image(path, system="RAS")
    assert volume.src_spatial_dimensions == (1, 2, 3)  # ITK writes the components first
    ref_data, ref_matrix = reference(path)
    assert_same_image(volume, ref_data, ref_matrix, "LPS")
    np.testing.assert_array_equal(volume.aligned_data.shape[3:], (3,))


@pytest.mark.parametrize("space", ["right-anterior-superior", "LAS", "left-posterior-superior"])
def test_simpleitk_and_we_agree_on_every_nrrd_space(tmp_path, sitk_tools, space):
    reference, _ = sitk_tools
    _, data, matrix = CASES[2]
    system = {"right-anterior-superior": "RAS", "LAS": "LAS", "left-posterior-superior": "LPS"}[space]
    header = {"space": space, "space directions": matrix[:3, :3].T, "space origin": matrix[:3, 3]}
    nrrd.write(str(tmp_path / "x.nrrd"), data, header)
    volume = open_image(tmp_path / "x.nrrd", system="IAR")
    assert volume.src_system == system
    ref_data, ref_matrix = reference(tmp_path / "x.nrrd")
    assert_same_image(volume, ref_data, ref_matrix, "LPS")
    assert_same_image(volume, data, matrix, system)


@pytest.mark.parametrize("system", ["RAS", "LPS", "LAS", "IAR", "SPL"])
@pytest.mark.parametrize("name", ["ours.nrrd", "ours.nhdr"])
def test_simpleitk_reads_what_we_write(tmp_path, sitk_tools, system, name):
    reference, _ = sitk_tools
    for case, data, matrix in CASES:
        in_system = change_system(matrix, "RAS", system)
        path = tmp_path / f"{case}-{name}"
        save_image(path, data, in_system, system)
        ref_data, ref_matrix = reference(path)
        assert_same_image(Volume(ref_data, ref_matrix, "LPS"), data, matrix, "RAS")


@pytest.mark.parametrize("src_order", [True, False])
def test_simpleitk_reads_our_vector_volumes(tmp_path, sitk_tools, src_order):
    reference, _ = sitk_tools
    _, data, matrix = CASES[2]
    series = np.stack([data, data + 1000], axis=0).astype(np.int16)  # components first
    volume = Volume(series, matrix, "RAS", (1, 2, 3), system="PSL")
    save_volume(tmp_path / "v.nrrd", volume, src_order=src_order, kinds=None)
    ref_data, ref_matrix = reference(tmp_path / "v.nrrd")
    assert ref_data.shape[-1] == 2
    assert_same_image(Volume(ref_data, ref_matrix, "LPS"), np.moveaxis(series, 0, -1), matrix, "RAS")


def test_round_trip_through_simpleitk(tmp_path, sitk_tools):
    reference, write = sitk_tools
    _, data, matrix = CASES[1]
    save_image(tmp_path / "a.nrrd", data, matrix, "RAS")
    ref_data, ref_matrix = reference(tmp_path / "a.nrrd")
    write(tmp_path / "b.nrrd", ref_data, ref_matrix, compress=True)
    assert_same_image(open_image(tmp_path / "b.nrrd"), data, matrix, "RAS")
