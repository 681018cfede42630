"""mvl-nifti among the other packages: entry point, the umbrella and its compatibility module, and
geometry over all 48 systems and random oblique matrices, with nibabel and SimpleITK as references."""

import importlib.metadata

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import given, settings
from hypothesis import strategies as st

from mvl.coords import SYSTEMS, FormatWarning, Volume, change_system
from mvl.coords.formats import ENTRY_POINT_GROUP
from mvl.coords.testing import assert_same_image, sample_transformation
from mvl.nifti import open_image, save_image, save_volume
from mvl.nifti.sniffing import sniff

MATRIX = sample_transformation((15, -20, 35), (0.8, 0.9, 2.5), (-50.0, 20.0, 10.0))  # RAS+
DATA = np.arange(6 * 7 * 8, dtype=np.int16).reshape(6, 7, 8)


def unambiguous(transformation):
    """True when every voxel axis is clearly closest to one world axis (no near ties)."""
    unit = transformation[:3, :3] / np.linalg.norm(transformation[:3, :3], axis=0)
    return bool(np.all(np.sort(np.abs(unit), axis=0)[-1] > 0.85))


transformations = st.builds(
    sample_transformation,
    st.tuples(*[st.floats(-180, 180)] * 3),
    st.tuples(*[st.floats(0.2, 4)] * 3),
    st.tuples(*[st.floats(-300, 300)] * 3),
)


def test_nifti_entry_point_is_installed():
    names = {entry_point.name: entry_point for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert names["nifti"].value == "mvl.nifti.plugin:FORMAT"
    assert names["nifti"].load().name == "nifti"


@settings(max_examples=60, deadline=None)
@given(transformation=transformations, system=st.sampled_from(SYSTEMS), compressed=st.booleans())
def test_reads_nibabel_files_in_any_system(tmp_path_factory, transformation, system, compressed):
    path = tmp_path_factory.mktemp("nib") / ("scan.nii.gz" if compressed else "scan.nii")
    nib.Nifti1Image(DATA, transformation).to_filename(path)
    reference = nib.load(path)
    volume = open_image(path, system=system)
    assert_same_image(volume, np.asanyarray(reference.dataobj), reference.affine, "RAS")
    if unambiguous(transformation):  # on near-ties the aligned views may legitimately differ
        canonical = nib.as_closest_canonical(reference)
        if system == "RAS":
            np.testing.assert_array_equal(volume.aligned_data, np.asanyarray(canonical.dataobj))


@settings(max_examples=60, deadline=None)
@given(transformation=transformations, system=st.sampled_from(SYSTEMS), src_order=st.booleans())
def test_simpleitk_reads_what_we_write_in_any_system(tmp_path_factory, transformation, system, src_order, sitk_lps):
    path = tmp_path_factory.mktemp("ours") / "scan.nii.gz"
    volume = Volume(DATA, change_system(transformation, "RAS", system), system, system=system)
    save_volume(path, volume, src_order)
    array, lps = sitk_lps(path)
    assert_same_image(Volume(array, lps, "LPS"), DATA, transformation, "RAS")


@pytest.mark.parametrize("suffix", [".nrrd", ".mha", ".dcm", ".png"])
def test_other_formats_are_not_taken_for_nifti(tmp_path, suffix):
    image = sitk.GetImageFromArray(np.zeros((4, 5, 6) if suffix != ".png" else (5, 6), np.uint8))
    sitk.WriteImage(image, str(tmp_path / f"other{suffix}"))
    assert not sniff(tmp_path / f"other{suffix}")


def test_umbrella_loads_and_saves_nifti(tmp_path, sitk_lps):
    import mvloader

    nib.Nifti1Image(DATA, MATRIX).to_filename(tmp_path / "in.nii.gz")
    volume = mvloader.load(tmp_path / "in.nii.gz", system="IAR")
    assert volume.src_system == "RAS" and volume.system == "IAR"
    assert_same_image(volume, DATA, MATRIX, "RAS")
    mvloader.save(tmp_path / "out.nii", volume, src_order=False)
    array, lps = sitk_lps(tmp_path / "out.nii")
    assert_same_image(Volume(array, lps, "LPS"), DATA, MATRIX, "RAS")


def test_umbrella_finds_misnamed_nifti_by_content(tmp_path):
    import mvloader

    save_image(tmp_path / "scan.nii.gz", DATA, MATRIX)
    (tmp_path / "scan.nii.gz").rename(tmp_path / "scan.data")
    with pytest.warns(FormatWarning, match="gzip-compressed although its name does not end in .gz") as caught:
        volume = mvloader.load(tmp_path / "scan.data")
    assert caught[0].filename == __file__  # the warning points at the caller, not into the umbrella
    assert_same_image(volume, DATA, MATRIX, "RAS")


def test_umbrella_compatibility_module_keeps_the_original_signatures(tmp_path):
    import mvloader.nifti as compat

    compat.save_image(str(tmp_path / "a.nii.gz"), DATA[..., np.newaxis], MATRIX)
    volume = compat.open_image(str(tmp_path / "a.nii.gz"), False, True)  # verbose, squeeze
    assert volume.src_data.shape == (6, 7, 8)
    assert isinstance(volume.src_object, nib.Nifti1Image)
    compat.save_volume(str(tmp_path / "b.nii"), volume, False)
    assert_same_image(compat.open_image(str(tmp_path / "b.nii"), verbose=False), DATA, MATRIX, "RAS")
