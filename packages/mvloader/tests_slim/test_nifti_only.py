"""Run by `nox -s slim` in a fresh environment holding only `mvloader[nifti]` (and pytest).

Proves the slim install works alone: NIfTI loads and saves, the other formats give the
exact `pip install` hint, and none of their imaging libraries is present.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mvloader
from mvl.coords import MissingDependencyError, Volume

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "data"


def test_only_the_nifti_stack_is_installed():
    assert importlib.util.find_spec("nibabel") is not None
    for absent in ("pydicom", "nrrd", "mvl.dicom", "mvl.nrrd", "SimpleITK", "matplotlib"):
        assert importlib.util.find_spec(absent) is None, absent


def test_nifti_loads_and_saves(tmp_path):
    volume = mvloader.load(EXAMPLES / "phantom-t1.nii.gz", system="LPS")
    assert volume.src_system == "RAS" and volume.system == "LPS"
    mvloader.save(tmp_path / "copy.nii", volume)
    again = mvloader.load(tmp_path / "copy.nii")
    np.testing.assert_array_equal(again.src_data, volume.src_data)
    from mvloader import nifti  # the compatibility module works without pydicom

    assert isinstance(nifti.open_image(EXAMPLES / "phantom-t1.nii.gz", False), Volume)


def test_dicom_and_nrrd_give_the_install_hint(tmp_path):
    with pytest.raises(MissingDependencyError, match=r'no dicom reader is installed; pip install "mvloader\[dicom\]"'):
        mvloader.load(EXAMPLES / "phantom-ct")
    with pytest.raises(MissingDependencyError, match=r'pip install "mvloader\[nrrd\]"'):
        mvloader.save(tmp_path / "out.nrrd", mvloader.load(EXAMPLES / "phantom-t1.nii.gz"))
    with pytest.raises(MissingDependencyError, match=r'pip install "mvloader\[dicom\]"'):
        from mvloader import dicom  # noqa: F401


def test_cli_reports_the_hint_in_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "mvloader", "info", str(EXAMPLES / "phantom-ct")], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"mvl: error: {EXAMPLES / 'phantom-ct'}: this is DICOM data, but no dicom reader is installed; "
        'pip install "mvloader[dicom]"'
    ]


def test_batch_over_dicom_files_says_what_it_skipped_and_fails_when_nothing_converts(tmp_path):
    import shutil

    shutil.copytree(EXAMPLES / "phantom-ct", tmp_path / "tree" / "ct")
    mvl = Path(sys.executable).with_name("mvl")
    result = subprocess.run(
        [str(mvl), "batch", str(tmp_path / "tree"), str(tmp_path / "out")], capture_output=True, text=True
    )
    assert result.returncode == 1, result.stdout
    assert "0 inputs" in result.stdout
    files = len(list((EXAMPLES / "phantom-ct").iterdir()))
    assert (
        f'skipped {files} DICOM (no dicom reader is installed; pip install "mvloader[dicom]") file(s)' in result.stdout
    )
    # with a NIfTI file beside them, the NIfTI converts and the batch succeeds, still naming what it skipped
    shutil.copy(EXAMPLES / "phantom-t1.nii.gz", tmp_path / "tree")
    result = subprocess.run(
        [str(mvl), "batch", str(tmp_path / "tree"), str(tmp_path / "out")], capture_output=True, text=True
    )
    assert result.returncode == 0 and "1 converted" in result.stdout and "skipped" in result.stdout
