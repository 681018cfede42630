import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvl.coords import (
    OPPOSITES,
    SYSTEMS,
    AxisCodeError,
    GeometryError,
    axcodes,
    change_system,
    closest_permutation_matrix,
    normalize_system,
    opposite,
    permutation_matrix,
)
from mvl.coords.testing import sample_transformation

# Unit vector of each direction letter in RAS+ coordinates; independent of the code under test.
RAS_DIRECTION = {"R": (1, 0, 0), "L": (-1, 0, 0), "A": (0, 1, 0), "P": (0, -1, 0), "S": (0, 0, 1), "I": (0, 0, -1)}


def to_ras(system):
    """Matrix mapping coordinates in `system` to RAS+, built from first principles."""
    return np.array([RAS_DIRECTION[letter] for letter in system]).T


def test_there_are_48_distinct_systems():
    assert len(SYSTEMS) == len(set(SYSTEMS)) == 48
    for system in SYSTEMS:
        assert sorted(system.translate(str.maketrans("LPI", "RAS"))) == ["A", "R", "S"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_normalize_accepts_any_case(system):
    assert normalize_system(system.lower()) == system
    assert normalize_system(system.capitalize()) == system
    assert normalize_system(f" {system} ") == system


@pytest.mark.parametrize(
    ("long_form", "code"),
    [
        ("right-anterior-superior", "RAS"),
        ("left-anterior-superior", "LAS"),
        ("left-posterior-superior", "LPS"),
        ("Inferior-Anterior-Right", "IAR"),
    ],
)
def test_normalize_accepts_long_form(long_form, code):
    assert normalize_system(long_form) == code


@pytest.mark.parametrize(
    "bad", ["RAR", "RA", "XYZ", "RASS", "", "right-anterior", "right-anterior-up", None, 5, ["R", "A", "S"]]
)
def test_normalize_rejects_with_value_and_rule(bad):
    with pytest.raises(AxisCodeError, match=r"is not an anatomical system: a system is three letters, one from each"):
        normalize_system(bad)
    with pytest.raises(ValueError, match=repr(bad).replace("[", r"\[").replace("]", r"\]")):
        normalize_system(bad)


def test_opposite():
    assert opposite("ras") == "LPI"
    assert all(opposite(opposite(system)) == system for system in SYSTEMS)
    assert OPPOSITES["L"] == "R"


def test_permutation_matrix_all_48_by_48_pairs():
    for src, dst in itertools.product(SYSTEMS, repeat=2):
        matrix = permutation_matrix(src, dst)
        # A point's physical position must not change: dst coordinates map back to the same RAS+ point.
        np.testing.assert_array_equal(to_ras(dst) @ matrix, to_ras(src), err_msg=f"{src} -> {dst}")
        np.testing.assert_array_equal(matrix @ matrix.T, np.eye(3))
        np.testing.assert_array_equal(permutation_matrix(dst, src), matrix.T)
        assert matrix.dtype == np.int64


def test_permutation_matrix_composes():
    rng = np.random.default_rng(1)
    for _ in range(200):
        a, b, c = rng.choice(SYSTEMS, 3)
        np.testing.assert_array_equal(permutation_matrix(b, c) @ permutation_matrix(a, b), permutation_matrix(a, c))


def test_permutation_matrix_rejects_bad_system():
    with pytest.raises(AxisCodeError, match="'LPQ'"):
        permutation_matrix("RAS", "LPQ")


def signed_permutations():
    for columns in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            matrix = np.zeros((3, 3), dtype=np.int64)
            for row, (column, sign) in enumerate(zip(columns, signs, strict=True)):
                matrix[row, column] = sign
            yield matrix


def brute_force_best_score(matrix):
    unit = matrix / np.linalg.norm(matrix, axis=0)
    return max(np.sum(unit * candidate) for candidate in signed_permutations())


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scales=st.tuples(*[st.floats(0.01, 100)] * 3))
def test_closest_permutation_is_the_best_assignment(seed, scales):
    matrix = random_rotation(np.random.default_rng(seed)) * np.array(scales)
    best = closest_permutation_matrix(matrix)
    assert sorted(np.abs(best).sum(axis=0)) == [1, 1, 1] and sorted(np.abs(best).sum(axis=1)) == [1, 1, 1]
    unit = matrix / np.linalg.norm(matrix, axis=0)
    assert np.sum(unit * best) == pytest.approx(brute_force_best_score(matrix), abs=1e-9)
    # Every chosen entry points the way of its cosine: the aligned axis runs in positive direction.
    assert np.all(unit[best != 0] * best[best != 0] >= 0)


@pytest.mark.parametrize("matrix", list(signed_permutations()))
def test_closest_permutation_of_a_permutation_is_itself(matrix):
    np.testing.assert_array_equal(closest_permutation_matrix(matrix * [0.5, 2.0, 3.0]), matrix)


def rotation_about(axis, degrees):
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    first, second = [a for a in range(3) if a != axis]
    turn = np.eye(3)
    turn[first, first] = turn[second, second] = c
    turn[first, second], turn[second, first] = -s, s
    return turn


@pytest.mark.parametrize("axis", range(3))
@pytest.mark.parametrize("degrees", [45, -45, 135, -135])
def test_closest_permutation_ties_are_deterministic_and_valid(axis, degrees):
    matrix = rotation_about(axis, degrees)
    first = closest_permutation_matrix(matrix)
    assert np.all(np.abs(first).sum(axis=0) == 1) and np.all(np.abs(first).sum(axis=1) == 1)
    # Rounding noise in a stored matrix must not flip the decision.
    for noise in (1e-12, -1e-12):
        np.testing.assert_array_equal(closest_permutation_matrix(matrix + noise), first)
    # The tie is broken towards keeping voxel axis j on world axis j.
    assert all(abs(first[j, j]) == 1 for j in range(3))


def test_closest_permutation_three_way_tie():
    # Rotation taking the z axis onto the body diagonal: many ties, still a valid permutation.
    direction = np.ones(3) / np.sqrt(3)
    helper = np.cross(direction, [1, 0, 0])
    helper /= np.linalg.norm(helper)
    matrix = np.column_stack([np.cross(helper, direction), helper, direction])
    result = closest_permutation_matrix(matrix)
    assert sorted(np.abs(result).sum(axis=0)) == [1, 1, 1] and sorted(np.abs(result).sum(axis=1)) == [1, 1, 1]
    np.testing.assert_array_equal(result, closest_permutation_matrix(matrix.copy()))


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.eye(4), r"expected a 3x3 matrix"),
        (np.diag([1.0, np.nan, 1.0]), r"NaN or infinity"),
        (np.diag([1.0, 0.0, 1.0]), r"voxel axes \[1\] have zero length"),
    ],
)
def test_closest_permutation_rejects_bad_matrices(matrix, message):
    with pytest.raises(GeometryError, match=message):
        closest_permutation_matrix(matrix)


@pytest.mark.parametrize(
    ("diagonal", "system", "expected"),
    [((1, 1, 1), "LPS", "LPS"), ((1, 1, 1), "RAS", "RAS"), ((-1, 1, -1), "RAS", "LAI"), ((1, -1, 1), "IAR", "IPR")],
)
def test_axcodes_axis_aligned(diagonal, system, expected):
    assert axcodes(np.diag([*diagonal, 1.0]), system) == expected


def test_axcodes_of_permuted_axes():
    # i runs towards superior, j towards posterior, k towards left (in LPS+ coordinates).
    matrix = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1.0]])
    assert axcodes(matrix, "LPS") == "SPL"
    assert axcodes(matrix[:3, :3], "lps") == "SPL"


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), src=st.sampled_from(SYSTEMS), dst=st.sampled_from(SYSTEMS))
def test_axcodes_do_not_depend_on_the_system_the_matrix_is_written_in(seed, src, dst):
    rng = np.random.default_rng(seed)
    transformation = sample_transformation(rng.uniform(-180, 180, 3), rng.uniform(0.5, 3, 3), rng.normal(size=3))
    assert axcodes(transformation, src) == axcodes(change_system(transformation, src, dst), dst)
