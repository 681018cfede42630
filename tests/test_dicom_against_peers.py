"""mvl.dicom with everything installed: the same voxels at the same places as SimpleITK and nibabel say."""

import gzip
from importlib.metadata import entry_points

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from mvl.coords.testing import assert_same_image, sample_transformation
from mvl.dicom import list_series, open_stack
from mvl.dicom.testing import oblique_transformation, write_enhanced, write_series


def simpleitk_reference(folder):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    matrix = np.eye(4)
    matrix[:3, :3] = (np.array(image.GetDirection()).reshape(3, 3) * np.array(image.GetSpacing()))[:, ::-1]
    matrix[:3, 3] = image.GetOrigin()
    return sitk.GetArrayFromImage(image), matrix


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, -40, 15), (90, 90, 0)])
def test_dicom_to_nifti_keeps_every_voxel_where_simpleitk_puts_it(tmp_path, angles):
    matrix = sample_transformation(angles, (0.7, 0.8, 1.5), (-60.0, 25.0, 110.0))
    data = np.random.default_rng(4).integers(0, 3000, size=(6, 7, 8)).astype(np.int16)
    write_series(tmp_path / "series", data, matrix, intercepts=-1024)
    reference, reference_matrix = simpleitk_reference(tmp_path / "series")
    for system in ("RAS", "LPS", "SAR"):
        volume = open_stack(tmp_path / "series", system=system)
        assert_same_image(volume, reference, reference_matrix, "LPS")
        # Through nibabel: the aligned view and its RAS+ matrix as a NIfTI image, read back.
        image = nib.Nifti1Image(np.asarray(volume.aligned_data), volume.get_aligned_transformation("RAS"))
        nib.save(image, tmp_path / f"{system}.nii")
        loaded = nib.load(tmp_path / f"{system}.nii")
        reference_ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ reference_matrix
        assert_same_image(open_stack(tmp_path / "series", system=system), reference, reference_ras, "RAS")
        ras = open_stack(tmp_path / "series", system="RAS")
        assert_same_image(ras, np.asanyarray(loaded.dataobj), loaded.affine, "RAS")


def test_enhanced_object_matches_the_same_series_read_by_simpleitk(tmp_path):
    matrix = oblique_transformation()
    data = np.random.default_rng(5).integers(0, 2000, size=(5, 6, 7)).astype(np.int16)
    write_series(tmp_path / "series", data, matrix)
    enhanced = write_enhanced(tmp_path / "enhanced.dcm", data, matrix, frame_order=[6, 0, 5, 1, 4, 2, 3])
    reference, reference_matrix = simpleitk_reference(tmp_path / "series")
    assert_same_image(open_stack(enhanced), reference, reference_matrix, "LPS")


def test_formats_do_not_claim_each_others_files(tmp_path):
    formats = {entry.name: entry.load() for entry in entry_points(group="mvl.formats")}
    assert "dicom" in formats
    series = write_series(tmp_path / "series", shape=(3, 3, 2))
    dicom_file = next(series.iterdir())
    nifti = tmp_path / "scan.nii.gz"
    nifti.write_bytes(gzip.compress(b"\x5c\x01" + b"\0" * 400))
    assert formats["dicom"].sniff(dicom_file) and formats["dicom"].sniff(series)
    assert not formats["dicom"].sniff(nifti)
    for name, fmt in formats.items():
        if name != "dicom":
            assert not fmt.sniff(dicom_file), name


def test_list_series_paths_load_with_open_stack_and_match_simpleitk(tmp_path):
    write_series(tmp_path / "a" / "ct", shape=(4, 5, 6), transformation=oblique_transformation(), series_uid="1.1")
    write_series(tmp_path / "b" / "mr", shape=(3, 4, 5), modality="MR", series_uid="1.2")
    for info in list_series(tmp_path):
        reference, matrix = simpleitk_reference(info.path.parent)
        assert_same_image(open_stack(info.path), reference, matrix, "LPS")
