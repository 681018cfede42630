"""Which matrix: nibabel's rule, forcing sform or qform, the warnings, units; checked against nibabel and ITK."""

import warnings

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvl.coords.errors import FormatWarning, GeometryWarning
from mvl.coords.testing import sample_transformation
from mvl.nifti import open_image
from mvl.nifti.transformation import (
    DISAGREEMENT_TOLERANCE,
    corner_distance,
    header_transformation,
    qform_is_faithful,
)

DATA = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
SFORM = sample_transformation((10, -20, 30), (0.8, 0.9, 2.0), (-40.0, 12.0, 7.0))
QFORM = sample_transformation((-5, 15, 0), (0.8, 0.9, 2.0), (20.0, -30.0, 55.0))


def both(tmp_path, nibabel_file, sform_code=1, qform_code=1, name="both.nii"):
    """A file whose sform and qform are different matrices."""
    path = nibabel_file(tmp_path / name, DATA, SFORM, sform_code=sform_code, qform_code=qform_code)
    image = nib.load(path)
    image.header.set_qform(QFORM, code=qform_code)
    nib.save(nib.Nifti1Image(np.asanyarray(image.dataobj), None, image.header), path)
    return path


def qform_of(path):
    return nib.load(path).header.get_qform()


def test_sform_first_as_nibabel_and_a_warning_when_the_qform_disagrees(tmp_path, nibabel_file):
    path = both(tmp_path, nibabel_file)
    with pytest.warns(GeometryWarning, match=r"sform and the qform disagree \(sform_code 1, qform_code 1\).*up to"):
        volume = open_image(path)
    np.testing.assert_allclose(volume.src_transformation, nib.load(path).affine)
    np.testing.assert_allclose(volume.src_transformation, SFORM, atol=1e-5)


def test_qform_when_the_sform_code_is_zero(tmp_path, nibabel_file):
    path = both(tmp_path, nibabel_file, sform_code=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        volume = open_image(path)
    np.testing.assert_allclose(volume.src_transformation, qform_of(path))
    np.testing.assert_allclose(volume.src_transformation, nib.load(path).affine)


def test_forcing_the_qform(tmp_path, nibabel_file, simpleitk):
    path = both(tmp_path, nibabel_file, sform_code=2, qform_code=1)  # ITK takes the qform of such files
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asked for explicitly: no disagreement warning
        volume = open_image(path, matrix="qform")
    np.testing.assert_allclose(volume.src_transformation, qform_of(path))
    reference_data, reference_lps = simpleitk.read(path)
    from mvl.coords.testing import assert_same_image

    assert_same_image(volume, reference_data, reference_lps, "LPS")


def test_forcing_the_sform(tmp_path, nibabel_file):
    path = both(tmp_path, nibabel_file, sform_code=0, qform_code=1)
    with pytest.warns(GeometryWarning, match=r"sform_code is 0 \(unknown\): the sform is used only because"):
        volume = open_image(path, matrix="sform")
    np.testing.assert_allclose(volume.src_transformation, SFORM, atol=1e-5)


def test_no_orientation_falls_back_like_nibabel_with_a_warning(tmp_path, nibabel_file):
    path = nibabel_file(tmp_path / "bare.nii", DATA, SFORM, sform_code=0, qform_code=0)
    with pytest.warns(GeometryWarning, match=r"no world orientation \(sform_code and qform_code are both 0\).*left"):
        volume = open_image(path)
    np.testing.assert_allclose(volume.src_transformation, nib.load(path).affine)


def test_agreeing_matrices_raise_no_warning(tmp_path, nibabel_file):
    path = nibabel_file(tmp_path / "agree.nii", DATA, SFORM, sform_code=1, qform_code=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_image(path)


def test_unknown_matrix_choice():
    header = nib.Nifti1Header()
    with pytest.raises(ValueError, match="matrix must be one of 'auto', 'sform', 'qform'"):
        header_transformation(header, matrix="best", path="x.nii")


def test_invalid_code_is_read_as_zero_like_nibabel(tmp_path, nibabel_file, patch):
    path = both(tmp_path, nibabel_file)
    patch(path, sform_code=9)
    with pytest.warns(FormatWarning, match="sform_code is 9, not a valid code"):
        volume = open_image(path)
    np.testing.assert_allclose(volume.src_transformation, nib.load(path).affine)  # the qform, in nibabel too
    np.testing.assert_allclose(volume.src_transformation, qform_of(path), atol=1e-6)


def test_qfac_zero_is_one_silently_and_other_values_warn(tmp_path, nibabel_file, patch):
    path = nibabel_file(tmp_path / "q.nii", DATA, SFORM, sform_code=0, qform_code=1)
    expected = nib.load(path).affine
    patch(path, pixdim=[0, *nib.load(path).header["pixdim"][1:]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(open_image(path).src_transformation, expected)
    patch(path, pixdim=[3, *nib.load(path).header["pixdim"][1:]])
    with pytest.warns(FormatWarning, match=r"pixdim\[0\] \(qfac\) is 3, expected -1 or 1; read as 1"):
        np.testing.assert_allclose(open_image(path).src_transformation, expected)


def test_negative_voxel_sizes_are_read_as_positive_like_nibabel(tmp_path, nibabel_file, patch):
    path = nibabel_file(tmp_path / "neg.nii", DATA, SFORM, sform_code=0, qform_code=1)
    pixdim = nib.load(path).header["pixdim"].copy()
    expected = nib.load(path).affine
    pixdim[2] *= -1
    patch(path, pixdim=pixdim)
    with pytest.warns(FormatWarning, match="negative voxel sizes"):
        np.testing.assert_allclose(open_image(path).src_transformation, expected)


def test_unknown_unit_code_is_millimetres_with_a_warning(tmp_path, nibabel_file, patch):
    path = nibabel_file(tmp_path / "units.nii", DATA, SFORM)
    patch(path, xyzt_units=6)
    with pytest.warns(FormatWarning, match="unknown spatial unit code 6; read as millimetres"):
        np.testing.assert_allclose(open_image(path).src_transformation, SFORM, atol=1e-5)


def test_corner_distance_is_reached_at_a_corner():
    moved = SFORM.copy()
    moved[:3, :3] *= 1.01
    grid = np.indices((4, 5, 6)).reshape(3, -1).T
    homogeneous = np.c_[grid, np.ones(len(grid))]
    everywhere = np.linalg.norm((homogeneous @ (SFORM - moved).T)[:, :3], axis=1).max()
    assert corner_distance(SFORM, moved, (4, 5, 6)) == pytest.approx(everywhere)


@pytest.mark.parametrize(
    ("angles", "faithful"),
    [((10, -20, 30), True), ((0, 0, 180), True), ((-0.7, -178.7, 127.9), False)],
)
def test_qform_faithfulness(angles, faithful):
    # Near 180 degrees the float32 quaternion of the qform cannot hold the rotation.
    affine = sample_transformation(angles, (1.0, 1.0, 1.0), (10.0, 20.0, 30.0))
    header = nib.Nifti1Header()
    header.set_data_shape((512, 512, 300))
    header.set_qform(affine, code=1)
    assert qform_is_faithful(header, affine, (512, 512, 300)) is faithful


def test_tolerance_is_a_fraction_of_a_voxel():
    assert 0 < DISAGREEMENT_TOLERANCE < 0.1


codes = st.sampled_from([0, 1, 2, 3, 4])


@settings(max_examples=150, deadline=None)
@given(
    sform_code=codes,
    qform_code=codes,
    angles=st.tuples(*[st.floats(-180, 180)] * 3),
    zooms=st.tuples(*[st.floats(0.1, 5)] * 3),
    flip=st.booleans(),
)
def test_same_matrix_as_nibabel_for_any_codes(sform_code, qform_code, angles, zooms, flip):
    affine = sample_transformation(angles, zooms, (12.0, -3.0, 40.0))
    if flip:
        affine[:3, 2] *= -1
    header = nib.Nifti1Header()
    header.set_data_shape((7, 8, 9))
    header.set_sform(affine, code=sform_code)
    header.set_qform(affine @ np.diag([1, 1, 1, 1.0]), code=qform_code)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeometryWarning)
        ours, source = header_transformation(header, path="h.nii")
    np.testing.assert_allclose(ours, header.get_best_affine(), atol=1e-9)
    assert source == ("sform" if sform_code else "qform" if qform_code else "fallback")


def test_itk_agrees_with_us_when_sform_code_is_one(tmp_path, nibabel_file, simpleitk):
    # The docs' claim about peers: ITK takes the sform when sform_code is 1 and the sform is rigid
    # (and the qform otherwise, see test_forcing_the_qform), nibabel and we always take the sform.
    from mvl.coords.testing import assert_same_image

    path = both(tmp_path, nibabel_file, sform_code=1, qform_code=1)
    with pytest.warns(GeometryWarning, match="disagree"):
        volume = open_image(path)
    reference_data, reference_lps = simpleitk.read(path)
    assert_same_image(volume, reference_data, reference_lps, "LPS")
