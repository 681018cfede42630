"""mvl-metaimage among the other packages: entry point, the umbrella's load/save, NIfTI and DICOM to MetaImage,
with SimpleITK as the independent reference."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from mvl.coords import Volume
from mvl.coords.formats import ENTRY_POINT_GROUP
from mvl.coords.testing import assert_same_image, sample_transformation

MATRIX = sample_transformation((15, -20, 35), (0.8, 0.9, 2.5), (-50.0, 20.0, 10.0))  # RAS+
DATA = np.arange(6 * 7 * 8, dtype=np.int16).reshape(6, 7, 8)


def test_metaimage_entry_point_is_installed():
    names = {entry_point.name: entry_point for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert names["metaimage"].load().name == "metaimage"


@pytest.mark.parametrize("name", ["out.mha", "out.mhd"])
@pytest.mark.parametrize("aligned", [False, True])
def test_nifti_to_metaimage_keeps_every_voxel_where_simpleitk_reads_it(tmp_path, sitk_lps, name, aligned):
    import mvloader

    nib.save(nib.Nifti1Image(DATA, MATRIX), tmp_path / "in.nii")
    volume = mvloader.load(tmp_path / "in.nii", system="PIL")
    mvloader.save(tmp_path / name, volume, src_order=not aligned)
    array, lps = sitk_lps(tmp_path / name)
    assert_same_image(Volume(array, lps, "LPS"), DATA, MATRIX, "RAS")
    back = mvloader.load(tmp_path / name)
    assert back.src_system == "LPS"
    assert_same_image(back, DATA, MATRIX, "RAS")


def test_mvl_convert_of_a_dicom_series_to_mha_is_where_simpleitk_reads_it(tmp_path, sitk_lps):
    from mvl.dicom import open_stack
    from mvl.dicom.testing import oblique_transformation, write_series

    folder = write_series(tmp_path / "ct", shape=(5, 6, 7), transformation=oblique_transformation(), intercepts=-1024)
    mvl = Path(sys.executable).with_name("mvl")
    done = subprocess.run(
        [str(mvl), "convert", str(folder), str(tmp_path / "ct.mha"), "--quiet"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    array, lps = sitk_lps(tmp_path / "ct.mha")
    reference = open_stack(folder)
    assert_same_image(Volume(array, lps, "LPS"), reference.src_data, reference.src_transformation, "LPS")
    assert (tmp_path / "ct.json").is_file()  # the DICOM sidecar beside a MetaImage output too
