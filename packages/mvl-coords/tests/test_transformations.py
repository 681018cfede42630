import numpy as np
import pytest

from mvl.coords import (
    DataError,
    GeometryError,
    apply_transformation,
    change_system,
    homogeneous,
    obliquity,
    spacing,
    validate_transformation,
)
from mvl.coords.testing import sample_transformation


def test_validate_returns_a_float_copy():
    given = np.eye(4, dtype=np.int32)
    result = validate_transformation(given)
    assert result.dtype == np.float64
    result[0, 0] = 7
    assert given[0, 0] == 1


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.eye(3), r"must be a 4x4 matrix, got shape \(3, 3\)"),
        ("abc", r"must be a numeric 4x4 matrix"),
        ([[1, 2], [3]], r"must be a numeric 4x4 matrix"),
        (np.diag([1.0, 1.0, np.inf, 1.0]), r"contains NaN or infinity"),
        (np.diag([1.0, np.nan, 1.0, 1.0]), r"contains NaN or infinity"),
        (np.diag([1.0, 1.0, 1.0, 2.0]), r"last row \[0, 0, 0, 1\], got \[0.0, 0.0, 0.0, 2.0\]"),
        (np.diag([1.0, 0.0, 1.0, 1.0]), r"voxel axes \[1\] have zero length"),
        (homogeneous([[1, 1, 0], [0, 0, 0], [0, 0, 1]]), r"singular: its voxel axes are \(nearly\) coplanar"),
    ],
)
def test_validate_rejects(matrix, message):
    with pytest.raises(GeometryError, match=message):
        validate_transformation(matrix)


def test_validate_names_the_matrix():
    with pytest.raises(GeometryError, match=r"^src_transformation must be a 4x4"):
        validate_transformation(np.eye(3), name="src_transformation")
    with pytest.raises(GeometryError, match=r"^src_transformation is unusable: voxel axes \[0\] have zero length"):
        validate_transformation(np.diag([0.0, 1, 1, 1]), name="src_transformation")


def test_validate_accepts_sheared_gantry_tilt():
    tilt = homogeneous([[0.5, 0, 0], [0, 0.5, 0.9], [0, 0, 2.0]])
    np.testing.assert_array_equal(validate_transformation(tilt), tilt)


def test_spacing_and_obliquity():
    transformation = sample_transformation((0, 0, 30), (0.5, 0.7, 3.0), (1, 2, 3))
    assert spacing(transformation) == pytest.approx((0.5, 0.7, 3.0))
    assert obliquity(transformation) == pytest.approx(30.0)
    assert obliquity(np.diag([-2.0, 3.0, 1.0, 1.0])) == 0.0
    assert obliquity(sample_transformation((0, 0, 45))) == pytest.approx(45.0)


def test_change_system_keeps_points_in_place():
    transformation = sample_transformation()
    lps = change_system(transformation, "RAS", "LPS")
    np.testing.assert_allclose(lps[:3], transformation[:3] * [[-1], [-1], [1]])
    np.testing.assert_allclose(change_system(lps, "LPS", "RAS"), transformation)


def test_apply_transformation_shapes():
    transformation = sample_transformation()
    points = np.random.default_rng(0).normal(size=(10, 3))
    expected = (transformation @ np.c_[points, np.ones(10)].T).T[:, :3]
    np.testing.assert_allclose(apply_transformation(transformation, points), expected)
    np.testing.assert_allclose(apply_transformation(transformation, points[0]), expected[0])
    for bad in (np.zeros((4, 2)), np.zeros(4), np.zeros((2, 2, 3))):
        with pytest.raises(DataError, match=r"points must have shape \(3,\) or \(N, 3\)"):
            apply_transformation(transformation, bad)
