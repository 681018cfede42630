import itertools
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvl.coords import SYSTEMS, AxisCodeError, DataError, GeometryError, Volume, homogeneous, permutation_matrix
from mvl.coords.testing import sample_transformation

ORIGIN = np.array([0, 0, 0, 1])


def test_walkthrough_of_the_original_readme():
    volume = Volume(
        src_voxel_data=np.arange(1000).reshape(10, 10, 10),
        src_transformation=np.eye(4),
        src_system="LPS",
        system="RAS",
    )
    np.testing.assert_array_equal(np.linalg.inv(volume.src_transformation)[:3] @ ORIGIN, [0, 0, 0])
    assert volume.src_data[0, 0, 0] == 0
    np.testing.assert_array_equal(np.linalg.inv(volume.aligned_transformation)[:3] @ ORIGIN, [9, 9, 0])
    assert volume.src_data[0, 0, 0] == volume.aligned_data[9, 9, 0]
    np.testing.assert_array_equal(
        volume.aligned_transformation, [[1, 0, 0, -9], [0, 1, 0, -9], [0, 0, 1, 0], [0, 0, 0, 1]]
    )
    np.testing.assert_array_equal(volume.src_to_aligned_transformation, np.diag([-1, -1, 1, 1]))

    volume.system = "IAR"
    np.testing.assert_array_equal(np.linalg.inv(volume.aligned_transformation)[:3] @ ORIGIN, [9, 9, 9])
    np.testing.assert_array_equal(
        volume.aligned_transformation, [[1, 0, 0, -9], [0, 1, 0, -9], [0, 0, 1, -9], [0, 0, 0, 1]]
    )
    np.testing.assert_array_equal(volume.src_to_aligned_transformation[:3, :3], [[0, 0, -1], [0, -1, 0], [-1, 0, 0]])
    assert volume.src_data[0, 0, 0] == volume.aligned_data[9, 9, 9]
    with pytest.warns(DeprecationWarning, match="use Volume.src_data"):
        src = volume.src_volume
    with pytest.warns(DeprecationWarning, match="use Volume.aligned_data"):
        aligned = volume.aligned_volume
    assert src[0, 0, 0] == aligned[9, 9, 9]


def assert_consistent(volume):
    """The properties every Volume must have, checked from first principles."""
    src = np.moveaxis(volume.src_data, volume.src_spatial_dimensions, (0, 1, 2))
    aligned = volume.aligned_data
    aligned_to_world = volume.aligned_transformation
    src_to_world = volume.src_to_aligned_transformation
    # 1. Every aligned voxel sits at the world position of the source voxel with its value.
    indices = np.indices(aligned.shape[:3]).reshape(3, -1).T
    world = indices @ aligned_to_world[:3, :3].T + aligned_to_world[:3, 3]
    src_indices = np.linalg.solve(src_to_world[:3, :3], (world - src_to_world[:3, 3]).T).T
    rounded = np.round(src_indices).astype(int)
    np.testing.assert_allclose(src_indices, rounded, atol=1e-6)
    np.testing.assert_array_equal(aligned[tuple(indices.T)], src[tuple(rounded.T)])
    # 2. Aligned axis n runs towards letter n of the system, as closely as possible: positive
    #    direction, and no other assignment of voxel axes to world axes fits better.
    unit = aligned_to_world[:3, :3] / np.linalg.norm(aligned_to_world[:3, :3], axis=0)
    assert np.all(np.diag(unit) >= 0)
    best = max(sum(abs(unit[rows[n], n]) for n in range(3)) for rows in itertools.permutations(range(3)))
    assert np.trace(unit) == pytest.approx(best, abs=1e-9)
    # 3. Spacings permute with the axes, and agree with the matrices.
    assert sorted(volume.aligned_spacing) == pytest.approx(sorted(volume.src_spacing))
    np.testing.assert_allclose(volume.aligned_spacing, np.linalg.norm(aligned_to_world[:3, :3], axis=0))
    np.testing.assert_allclose(volume.src_spacing, np.linalg.norm(volume.src_transformation[:3, :3], axis=0))
    # 4. The named matrices are the general ones in the chosen system.
    np.testing.assert_allclose(volume.get_aligned_transformation(volume.system), aligned_to_world)
    np.testing.assert_allclose(volume.get_src_transformation(volume.system), src_to_world)
    np.testing.assert_allclose(volume.get_src_transformation(volume.src_system), volume.src_transformation)
    # 5. A view, never a copy.
    assert np.shares_memory(volume.aligned_data, volume.src_data)


PERMUTED = homogeneous(np.array([[0, 0, -2.0], [0.5, 0, 0], [0, -0.75, 0]]), (10, -20, 30))


def test_all_48_by_48_system_pairs():
    data = np.arange(3 * 4 * 5).reshape(3, 4, 5)
    for src_system, system in itertools.product(SYSTEMS, repeat=2):
        volume = Volume(data, PERMUTED, src_system, system=system)
        assert (volume.src_system, volume.system) == (src_system, system)
        assert_consistent(volume)
        # Exactly axis aligned input: the aligned transformation is diagonal and positive.
        diagonal = np.diag(volume.aligned_transformation)[:3]
        np.testing.assert_array_equal(np.diag(diagonal), volume.aligned_transformation[:3, :3])
        assert np.all(diagonal > 0)


def test_switching_between_all_systems_keeps_every_voxel():
    volume = Volume(np.arange(2 * 3 * 4).reshape(2, 3, 4), sample_transformation(), "RAS")
    for system in SYSTEMS:
        volume.system = system.lower()
        assert volume.system == system
        assert_consistent(volume)


tie_angles = st.sampled_from([0.0, 45.0, -45.0, 90.0, 135.0, 180.0, -90.0])
any_angles = st.floats(-180, 180, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    angles=st.tuples(*[st.one_of(tie_angles, any_angles)] * 3),
    spacing=st.tuples(*[st.floats(0.1, 5)] * 3),
    origin=st.tuples(*[st.floats(-500, 500)] * 3),
    src_system=st.sampled_from(SYSTEMS),
    system=st.sampled_from(SYSTEMS),
    shape=st.tuples(*[st.integers(1, 4)] * 3),
)
def test_random_oblique_and_tie_affines(angles, spacing, origin, src_system, system, shape):
    data = np.arange(np.prod(shape)).reshape(shape)
    volume = Volume(data, sample_transformation(angles, spacing, origin), src_system, system=system)
    assert_consistent(volume)


@pytest.mark.parametrize(
    ("shape", "spatial"),
    [((4, 5, 6, 3), (0, 1, 2)), ((3, 4, 5, 6), (1, 2, 3)), ((4, 2, 5, 3, 6), (0, 2, 4)), ((4, 2, 5, 6), (-1, 0, 2))],
)
def test_extra_axes_go_behind_in_their_order(shape, spatial):
    data = np.arange(np.prod(shape)).reshape(shape)
    volume = Volume(data, PERMUTED, "LPS", src_spatial_dimensions=spatial, system="RAS")
    spatial_sorted = tuple(sorted(axis % len(shape) for axis in spatial))
    assert volume.src_spatial_dimensions == spatial_sorted
    others = [shape[axis] for axis in range(len(shape)) if axis not in spatial_sorted]
    assert list(volume.aligned_data.shape[3:]) == others
    assert_consistent(volume)
    # Each extra-axis slice is itself aligned like the scalar case.
    extra = tuple(0 for _ in others)
    scalar = Volume(np.moveaxis(data, spatial_sorted, (0, 1, 2))[(..., *extra)], PERMUTED, "LPS", system="RAS")
    np.testing.assert_array_equal(volume.aligned_data[(..., *extra)], scalar.aligned_data)


@pytest.mark.parametrize("system", ["RAS", "SAR", "PIL"])
def test_aligned_to_src_axes(system):
    data = np.zeros((2, 3, 4, 5, 6))
    volume = Volume(data, PERMUTED, "LPS", src_spatial_dimensions=(0, 2, 4), system=system)
    axes = volume.aligned_to_src_axes
    assert [data.shape[axis] for axis in axes] == list(volume.aligned_data.shape)
    assert axes[3:] == (1, 3)
    # Each aligned spatial axis steps along its source axis: compare the matrices' columns.
    src_columns = {axis: column for column, axis in enumerate(volume.src_spatial_dimensions)}
    for aligned_axis, src_axis in enumerate(axes[:3]):
        np.testing.assert_allclose(
            np.abs(volume.aligned_transformation[:3, aligned_axis]),
            np.abs(volume.src_to_aligned_transformation[:3, src_columns[src_axis]]),
        )


def test_memmap_stays_memmap(tmp_path):
    path = tmp_path / "voxels.raw"
    np.arange(60, dtype=np.int16).tofile(path)
    data = np.memmap(path, dtype=np.int16, mode="c", shape=(3, 4, 5))
    volume = Volume(data, PERMUTED, "LPS")
    assert isinstance(volume.src_data, np.memmap)
    assert isinstance(volume.aligned_data, np.memmap)
    volume.system = "SAL"
    assert isinstance(volume.aligned_data, np.memmap)
    assert np.shares_memory(volume.aligned_data, data)


def test_construction_and_switching_allocate_nothing_proportional_to_the_voxels():
    data = np.zeros((100, 256, 256), dtype=np.int16)  # 13 MB
    tracemalloc.start()
    try:
        volume = Volume(data, sample_transformation(), "LPS")
        for system in ("IAR", "RAS", "SPL"):
            volume.system = system
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200_000, peak


def test_handed_out_matrices_are_copies():
    given = sample_transformation()
    volume = Volume(np.zeros((2, 3, 4)), given, "RAS")
    given[0, 0] = 99.0
    for name in ("src_transformation", "aligned_transformation", "src_to_aligned_transformation"):
        matrix = getattr(volume, name)
        matrix[:] = 0
        assert getattr(volume, name)[3, 3] == 1.0, name
    volume.get_aligned_transformation("LPS")[:] = 0
    assert_consistent(volume)
    assert volume.src_transformation[0, 0] != 99.0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"src_voxel_data": np.zeros((4, 4))}, DataError, r"at least 3 dimensions, got shape \(4, 4\)"),
        ({"src_transformation": np.eye(3)}, GeometryError, r"src_transformation must be a 4x4 matrix"),
        ({"src_transformation": np.diag([1, 1, np.nan, 1])}, GeometryError, r"contains NaN or infinity"),
        ({"src_transformation": np.diag([1, 1, 0, 1])}, GeometryError, r"voxel axes \[2\] have zero length"),
        ({"src_transformation": np.ones((4, 4))}, GeometryError, r"last row \[0, 0, 0, 1\]"),
        ({"src_system": "RAR"}, AxisCodeError, r"'RAR' is not an anatomical system"),
        ({"system": None}, AxisCodeError, r"None is not an anatomical system"),
        ({"src_spatial_dimensions": (0, 1)}, DataError, r"three axes of a 3-dimensional array"),
        ({"src_spatial_dimensions": (0, 1, 3)}, DataError, r"each in -3..2"),
        ({"src_spatial_dimensions": (0, 1, -3)}, DataError, r"three distinct axes"),
    ],
)
def test_validation(kwargs, error, message):
    arguments = {"src_voxel_data": np.zeros((2, 3, 4)), "src_transformation": np.eye(4), "src_system": "LPS"}
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        Volume(**arguments)


def test_rejected_system_leaves_the_volume_unchanged():
    volume = Volume(np.arange(24).reshape(2, 3, 4), PERMUTED, "LPS", system="IAR")
    before = (volume.aligned_data, volume.aligned_transformation, volume.aligned_spacing)
    for bad in ("RAR", "", 5, None):
        with pytest.raises(AxisCodeError):
            volume.system = bad
    assert volume.system == "IAR"
    assert volume.aligned_data is before[0]
    np.testing.assert_array_equal(volume.aligned_transformation, before[1])
    assert volume.aligned_spacing == before[2]


def test_voxel_to_world_and_back():
    volume = Volume(np.zeros((5, 6, 7)), sample_transformation(), "LPS", system="SRA")
    indices = np.random.default_rng(0).uniform(0, 5, size=(1000, 3))
    for src_order, system in itertools.product((False, True), ("SRA", "LPS", "IAR", None)):
        world = volume.voxel_to_world(indices, src_order=src_order, system=system)
        matrix = volume.get_src_transformation(system or "SRA") if src_order else volume.aligned_transformation
        if not src_order and system:
            matrix = volume.get_aligned_transformation(system)
        np.testing.assert_allclose(world, indices @ matrix[:3, :3].T + matrix[:3, 3])
        np.testing.assert_allclose(volume.world_to_voxel(world, src_order=src_order, system=system), indices)
    np.testing.assert_allclose(
        volume.voxel_to_world([0, 0, 0], src_order=True, system="LPS"), volume.src_transformation[:3, 3]
    )


def test_obliquity():
    assert Volume(np.zeros((2, 2, 2)), PERMUTED, "RAS").obliquity == 0.0
    volume = Volume(np.zeros((2, 2, 2)), sample_transformation((0, 25, 0)), "RAS")
    assert volume.obliquity == pytest.approx(25.0)


def test_repr_is_readable():
    volume = Volume(np.zeros((5, 6, 7), dtype=np.int16), PERMUTED, "LPS", system="RAS")
    text = repr(volume)
    assert "(5, 6, 7) int16" in text
    assert "src_system LPS -> system RAS" in text
    # PERMUTED: i steps along +y of LPS+ (posterior), j along -z (inferior), k along -x (right).
    assert "src voxel axes point towards PIR" in text
    assert "aligned spacing (2, 0.5, 0.75) mm" in text
    assert "obliquity 0 degrees" in text


def test_copy():
    volume = Volume(np.arange(24).reshape(2, 3, 4), PERMUTED, "LPS", system="IAR", src_object="header")
    deep, shallow = volume.copy(), volume.copy(deep=False)
    for copied in (deep, shallow):
        assert (copied.system, copied.src_system, copied.src_object) == ("IAR", "LPS", "header")
        np.testing.assert_array_equal(copied.aligned_transformation, volume.aligned_transformation)
    assert not np.shares_memory(deep.src_data, volume.src_data)
    assert shallow.src_data is volume.src_data


def test_copy_like_restores_the_templates_layout():
    for src_system, system, other in [("LPS", "RAS", "IAR"), ("RAS", "SPL", "LAS"), ("IAR", "LPS", "RSA")]:
        template = Volume(np.arange(3 * 4 * 5).reshape(3, 4, 5), PERMUTED, src_system, system=system)
        result = Volume(template.aligned_data * 2, template.aligned_transformation, template.system, system=other)
        back = result.copy_like(template)
        assert (back.src_system, back.system) == (template.src_system, template.system)
        np.testing.assert_array_equal(back.src_data, template.src_data * 2)
        np.testing.assert_allclose(back.src_transformation, template.src_transformation)
        assert not np.shares_memory(back.src_data, result.src_data)
        assert np.shares_memory(result.copy_like(template, deep=False).src_data, result.src_data)


def test_copy_like_with_extra_axes():
    data = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    template = Volume(data, PERMUTED, "LPS", src_spatial_dimensions=(1, 2, 3), system="RAS")
    same = Volume(template.aligned_data, template.aligned_transformation, "RAS", src_spatial_dimensions=(0, 1, 2))
    back = same.copy_like(template)
    assert back.src_spatial_dimensions == (1, 2, 3)
    np.testing.assert_array_equal(back.src_data, data)
    first = same.copy_like(template, src_spatial_dimensions=(0, 1, 2))
    np.testing.assert_array_equal(first.src_data, np.moveaxis(data, 0, -1))


def test_aligned_views_in_two_systems_are_related_by_their_permutation():
    a = Volume(np.zeros((2, 3, 4)), PERMUTED, "LPS", system="RAS")
    b = Volume(np.zeros((2, 3, 4)), PERMUTED, "LPS", system="SAR")
    np.testing.assert_allclose(
        b.aligned_transformation[:3, :3],
        permutation_matrix("RAS", "SAR") @ a.aligned_transformation[:3, :3] @ permutation_matrix("RAS", "SAR").T,
    )
