"""mvl.coords agrees with nibabel's independent orientation code where the answer is unambiguous."""

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nibabel import orientations

from mvl.coords import SYSTEMS, Volume, axcodes, change_system
from mvl.coords.testing import assert_same_image, sample_transformation


def unambiguous(transformation):
    """True when every voxel axis is clearly closest to one world axis (no near ties)."""
    unit = transformation[:3, :3] / np.linalg.norm(transformation[:3, :3], axis=0)
    return np.all(np.sort(np.abs(unit), axis=0)[-1] > 0.85)


transformations = st.builds(
    sample_transformation,
    st.tuples(*[st.floats(-180, 180)] * 3),
    st.tuples(*[st.floats(0.2, 4)] * 3),
    st.tuples(*[st.floats(-300, 300)] * 3),
)


@settings(max_examples=300, deadline=None)
@given(transformation=transformations)
def test_axcodes_match_nibabel(transformation):
    if unambiguous(transformation):
        assert axcodes(transformation, "RAS") == "".join(nib.aff2axcodes(transformation))


@settings(max_examples=100, deadline=None)
@given(transformation=transformations, src_system=st.sampled_from(SYSTEMS))
def test_aligned_ras_view_matches_nibabel_closest_canonical(transformation, src_system):
    if not unambiguous(transformation):
        return
    data = np.arange(3 * 4 * 5, dtype=np.int16).reshape(3, 4, 5)
    # The same physical image, its matrix written in any of the 48 systems.
    volume = Volume(data, change_system(transformation, "RAS", src_system), src_system, system="RAS")
    canonical = nib.as_closest_canonical(nib.Nifti1Image(data, transformation))
    np.testing.assert_array_equal(volume.aligned_data, np.asanyarray(canonical.dataobj))
    np.testing.assert_allclose(volume.aligned_transformation, canonical.affine, atol=1e-9)
    assert_same_image(volume, np.asanyarray(canonical.dataobj), canonical.affine, "RAS")


@pytest.mark.parametrize("transformation", [sample_transformation((0, 0, 45)), sample_transformation((45, 45, 0))])
def test_exact_ties_still_give_a_valid_view(transformation):
    # nibabel and we may break exact ties differently; both must keep every voxel in place.
    data = np.arange(60).reshape(3, 4, 5)
    volume = Volume(data, transformation, "RAS")
    assert_same_image(volume, data, transformation, "RAS")
    ornt = orientations.io_orientation(transformation)
    assert sorted(ornt[:, 0]) == [0, 1, 2]
