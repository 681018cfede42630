"""Code written for the original mvloader runs unchanged."""

import numpy as np
import pytest

from mvloader import anatomical_coords as ac


def test_original_readme_walkthrough():
    from mvloader.volume import Volume

    given_voxels = np.arange(1000).reshape(10, 10, 10)
    volume = Volume(src_voxel_data=given_voxels, src_transformation=np.eye(4), src_system="LPS", system="RAS")
    homogeneous = lambda c3d: np.r_[c3d, 1]  # noqa: E731 - as in the original README
    world_origin = homogeneous([0, 0, 0])
    np.testing.assert_array_equal(np.linalg.inv(volume.src_transformation)[:3] @ world_origin, [0, 0, 0])
    np.testing.assert_array_equal(np.linalg.inv(volume.aligned_transformation)[:3] @ world_origin, [9, 9, 0])
    with pytest.warns(DeprecationWarning, match="deprecated"):
        assert volume.src_volume[0, 0, 0] == volume.aligned_volume[9, 9, 0]
    np.testing.assert_array_equal(volume.src_to_aligned_transformation, np.diag([-1, -1, 1, 1]))
    volume.system = "IAR"
    np.testing.assert_array_equal(np.linalg.inv(volume.aligned_transformation)[:3] @ world_origin, [9, 9, 9])
    with pytest.warns(DeprecationWarning, match="deprecated"):
        assert volume.src_volume[0, 0, 0] == volume.aligned_volume[9, 9, 9]


def test_anatomical_coords_functions():
    forward, backward = ac.permutation_matrix("LPS", "RAS")
    np.testing.assert_array_equal(forward, np.diag([-1, -1, 1]))
    np.testing.assert_array_equal(backward, forward.T)
    assert ac.opposites["R"] == "L" and ac.opposites()["S"] == "I"
    assert ac.pos("IAR") == (2, 1, 0)
    assert ac.index("lps", "r") == 0
    tilted = np.array([[0, 0, 2.0], [0, -1.5, 0], [0.9, 0, 0.1]])
    np.testing.assert_array_equal(ac.find_closest_permutation_matrix(tilted), [[0, 0, 1], [0, -1, 0], [1, 0, 0]])
    perm = np.array([[0, 0, 1], [0, -1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(ac.must_be_flipped(perm), [0, 1, 0])
    np.testing.assert_array_equal(ac.offset(perm, (4, 5, 6))[:3, 3], [0, -4, 0])
    data = np.arange(120).reshape(4, 5, 6)
    swapped = ac.swap(data, perm)
    assert swapped.shape == (6, 5, 4) and swapped[0, 0, 0] == data[0, 4, 0]
    assert not np.shares_memory(swapped, data)
    ac.validate_permutation_matrix(perm)
    with pytest.raises(ValueError, match=r"not in \{-1, 0, 1\}"):
        ac.validate_permutation_matrix(perm * 2)
    ac.validate_transformation_matrix(np.diag([2.0, 3.0, 4.0, 1.0]))
    bad_last_row = np.eye(4)
    bad_last_row[3, 0] = 1.0
    with pytest.raises(ValueError, match="last row"):
        ac.validate_transformation_matrix(bad_last_row)
    homogeneous = ac.homogeneous_matrix(perm)
    assert homogeneous.shape == (4, 4) and homogeneous[3, 3] == 1
    moved = ac.transformation_for_new_coordinate_system(np.eye(4), forward)
    np.testing.assert_array_equal(moved[:3, :3], forward)
    np.testing.assert_array_equal(ac.transformation_for_new_voxel_alignment(np.eye(4), homogeneous), homogeneous)
    assert ac.pull_spatial_dimensions(np.zeros((7, 2, 3, 4)), (1, 2, 3)).shape == (2, 3, 4, 7)
