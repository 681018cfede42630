import itertools

import numpy as np
import pytest

from mvl.coords import DataError, index_transformation, reorient_array
from mvl.coords.reorientation import normalize_spatial_dimensions


def signed_permutations():
    for rows in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            matrix = np.zeros((3, 3), dtype=np.int64)
            matrix[list(rows), range(3)] = signs
            yield matrix


@pytest.mark.parametrize("permutation", list(signed_permutations()))
def test_every_voxel_moves_to_its_mapped_index(permutation):
    data = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    view = reorient_array(data, permutation)
    forward = index_transformation(permutation, data.shape)
    assert np.shares_memory(view, data)
    for index in np.ndindex(data.shape):
        new = forward @ [*index, 1]
        assert view[tuple(new[:3])] == data[index]
    inverse = np.linalg.inv(forward)
    np.testing.assert_array_equal(np.round(inverse), inverse)


def test_extra_axes_follow_in_order():
    data = np.zeros((7, 2, 8, 3, 4))
    view = reorient_array(data, [[0, 0, 1], [0, -1, 0], [1, 0, 0]], spatial_dimensions=(1, 3, 4))
    assert view.shape == (4, 3, 2, 7, 8)


@pytest.mark.parametrize(
    ("dimensions", "message"),
    [((0, 1), "three axes"), ((0, 1, 1), "distinct"), ((0, 1, 5), "each in -4..3"), ("abc", "three axis numbers")],
)
def test_bad_spatial_dimensions(dimensions, message):
    with pytest.raises(DataError, match=message):
        normalize_spatial_dimensions(dimensions, 4)
