"""Geometry checked voxel by voxel in world coordinates against SimpleITK, an independent reader."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from mvl.coords.testing import assert_same_image
from mvl.dicom import open_stack
from mvl.dicom.testing import oblique_transformation, write_series


def itk_reference(files):
    """SimpleITK's voxels (z, y, x) and the matrix from those indices to LPS+."""
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(name) for name in files])
    image = reader.Execute()
    data = sitk.GetArrayFromImage(image)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    spacing = np.array(image.GetSpacing())
    matrix = np.eye(4)
    matrix[:3, :3] = (direction * spacing)[:, ::-1]  # array axes (z, y, x) are ITK axes (2, 1, 0)
    matrix[:3, 3] = image.GetOrigin()
    return data, matrix


def series_files(folder):
    return sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder))


@pytest.mark.parametrize("angles", [(0, 0, 0), (20, -35, 10), (90, 0, 0), (0, 90, 0), (-120, 40, 170)])
def test_synthetic_series_match_simpleitk(tmp_path, angles):
    from mvl.coords.testing import sample_transformation

    matrix = sample_transformation(angles, (0.6, 0.9, 1.7), (-40.0, 12.5, 80.0))
    data = np.random.default_rng(2).integers(0, 3000, size=(6, 7, 9)).astype(np.int16)
    write_series(tmp_path, data, matrix, intercepts=-1024, seed=5)
    reference, reference_matrix = itk_reference(series_files(tmp_path))
    for system in ("LPS", "RAS", "ASL"):
        assert_same_image(open_stack(tmp_path, system=system), reference, reference_matrix, "LPS")


def test_unsigned_series_with_rescale_matches_simpleitk(tmp_path):
    data = np.random.default_rng(3).integers(0, 4096, size=(5, 6, 8)).astype(np.uint16)
    write_series(tmp_path, data, oblique_transformation(), slopes=1, intercepts=-1024, dtype=np.uint16)
    reference, reference_matrix = itk_reference(series_files(tmp_path))
    volume = open_stack(tmp_path)
    assert volume.src_data.dtype == np.int16
    assert_same_image(volume, reference, reference_matrix, "LPS")


@pytest.mark.parametrize(
    "name",
    ["CT_small.dcm", "MR_small.dcm", "MR_small_bigendian.dcm", "693_UNCR.dcm", "MR2_UNCI.dcm", "693_J2KR.dcm"],
)
def test_real_single_files_match_simpleitk(isolated, name):
    path = isolated(name)
    reference, reference_matrix = itk_reference([path])
    volume = open_stack(path)
    # SimpleITK gives a single slice a spacing of its own choosing: compare rows and columns only.
    reference_matrix[:3, 0] = volume.src_transformation[:3, 2]
    if volume.src_data.dtype == np.float32:  # SimpleITK rescales in float64, we round once to float32
        reference = reference.astype(np.float32)
    assert_same_image(volume, reference, reference_matrix, "LPS")


def test_real_rt_dose_matches_simpleitk(isolated):
    path = isolated("rtdose.dcm")
    image = sitk.ReadImage(str(path))
    reference = sitk.GetArrayFromImage(image)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    matrix = np.eye(4)
    matrix[:3, :3] = (direction * np.array(image.GetSpacing()))[:, ::-1]
    matrix[:3, 3] = image.GetOrigin()
    volume = open_stack(path, rescale=False)
    assert_same_image(volume, reference, matrix, "LPS")
