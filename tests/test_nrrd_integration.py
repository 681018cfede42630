"""mvl-nrrd among the other packages: entry point, the umbrella's load/save and compatibility module,
NIfTI to NRRD and back, with nibabel and SimpleITK as the independent references."""

import importlib.metadata

import nibabel as nib
import nrrd
import numpy as np
import pytest

from mvl.coords import SecurityError, Volume
from mvl.coords.formats import ENTRY_POINT_GROUP
from mvl.coords.testing import assert_same_image, sample_transformation

MATRIX = sample_transformation((15, -20, 35), (0.8, 0.9, 2.5), (-50.0, 20.0, 10.0))  # RAS+
DATA = np.arange(6 * 7 * 8, dtype=np.int16).reshape(6, 7, 8)


def test_nrrd_entry_point_is_installed():
    names = {entry_point.name: entry_point for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert names["nrrd"].value == "mvl.nrrd.plugin:FORMAT"
    assert names["nrrd"].load().name == "nrrd"


def test_umbrella_loads_and_saves_nrrd(tmp_path, sitk_lps):
    import mvloader

    header = {"space": "left-posterior-superior", "space directions": MATRIX[:3, :3].T, "space origin": MATRIX[:3, 3]}
    nrrd.write(str(tmp_path / "in.nrrd"), DATA, header)
    volume = mvloader.load(tmp_path / "in.nrrd", system="IAR")
    assert volume.src_system == "LPS" and volume.system == "IAR"
    assert_same_image(volume, DATA, MATRIX, "LPS")
    mvloader.save(tmp_path / "out.nhdr", volume, src_order=False, src_system=False)
    array, lps = sitk_lps(tmp_path / "out.nhdr")
    assert_same_image(Volume(array, lps, "LPS"), DATA, MATRIX, "LPS")


def test_umbrella_compatibility_module(tmp_path):
    import mvloader.nrrd as compat

    compat.save_image(str(tmp_path / "a.nrrd"), DATA, MATRIX, "RAS")
    volume = compat.open_image(str(tmp_path / "a.nrrd"), verbose=False)
    data, header = volume.src_object
    assert header["space"] == "right-anterior-superior" and data is volume.src_data
    compat.save_volume(str(tmp_path / "b.nrrd"), volume, False, False)
    assert_same_image(compat.open_image(str(tmp_path / "b.nrrd"), verbose=False), DATA, MATRIX, "RAS")


def test_umbrella_passes_the_safety_option(tmp_path):
    import mvloader

    (tmp_path / "x.raw").write_bytes(DATA.tobytes(order="F"))
    (tmp_path / "sub").mkdir()
    header = tmp_path / "sub" / "scan.nhdr"
    header.write_text(
        "NRRD0004\ntype: int16\ndimension: 3\nspace: RAS\nsizes: 6 7 8\nendian: little\nencoding: raw\n"
        "space directions: (1,0,0) (0,1,0) (0,0,1)\nspace origin: (0,0,0)\ndata file: ../x.raw\n"
    )
    with pytest.raises(SecurityError, match="leads outside the header's folder"):
        mvloader.load(header)
    assert mvloader.load(header, allow_external_data=True).src_data.shape == (6, 7, 8)


@pytest.mark.parametrize("system", ["RAS", "LPS", "PIL"])
def test_nifti_to_nrrd_and_back(tmp_path, system, sitk_lps):
    import mvloader

    pytest.importorskip("mvl.nifti")
    nib.Nifti1Image(DATA, MATRIX).to_filename(tmp_path / "in.nii.gz")
    volume = mvloader.load(tmp_path / "in.nii.gz", system=system)
    mvloader.save(tmp_path / "mid.nrrd", volume, src_order=False, src_system=False)
    array, lps = sitk_lps(tmp_path / "mid.nrrd")
    assert_same_image(Volume(array, lps, "LPS"), DATA, MATRIX, "RAS")
    again = mvloader.load(tmp_path / "mid.nrrd", system="RAS")
    mvloader.save(tmp_path / "out.nii.gz", again)
    image = nib.load(tmp_path / "out.nii.gz")
    assert_same_image(Volume(np.asanyarray(image.dataobj), image.affine, "RAS"), DATA, MATRIX, "RAS")
