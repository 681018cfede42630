"""mvl.coords: Volume construction, system switches, voxel_to_world; peers: nibabel, bare numpy."""

from __future__ import annotations

from typing import Any

import numpy as np
from harness import Case, phantom

SHAPE = (300, 512, 512)
POINTS = 1_000_000


def _transformation() -> np.ndarray[Any, Any]:
    from mvl.coords.testing import sample_transformation

    return sample_transformation((8, -5, 3), (0.7, 0.7, 1.25), (-180, -170, 40))


def _volume_setup() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    return phantom(SHAPE), _transformation()


def _ours_construct(state: Any) -> Any:
    from mvl.coords import Volume

    data, matrix = state
    return Volume(data, matrix, "LPS", system="RAS").aligned_data


def _nibabel_canonical(state: Any) -> Any:
    # What nibabel.as_closest_canonical does to the array and the affine.
    from nibabel import orientations

    data, matrix = state
    orientation = orientations.io_orientation(matrix)
    affine = matrix @ orientations.inv_ornt_aff(orientation, data.shape)
    return orientations.apply_orientation(data, orientation), affine


def _switch_setup() -> Any:
    from mvl.coords import Volume

    data, matrix = _volume_setup()
    return Volume(data, matrix, "LPS", system="RAS")


def _ours_switch(volume: Any) -> Any:
    for system in ("IAR", "LPS", "RAS"):
        volume.system = system
    return volume.aligned_data


def _points_setup() -> Any:
    from mvl.coords import Volume

    rng = np.random.default_rng(0)
    volume = Volume(np.zeros((2, 2, 2), dtype=np.int16), _transformation(), "LPS", system="RAS")
    return volume, rng.uniform(0, 300, size=(POINTS, 3))


def _bare_numpy(state: Any) -> Any:
    volume, points = state
    matrix = volume.aligned_transformation
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def _ours_voxel_to_world(state: Any) -> Any:
    volume, points = state
    return volume.voxel_to_world(points)


def _ours_world_to_voxel(state: Any) -> Any:
    volume, points = state
    return volume.world_to_voxel(points)


def cases() -> list[Case]:
    construct = f"coords: align a {'x'.join(map(str, SHAPE))} int16 volume to RAS+ (array + matrix)"
    switch = f"coords: switch system 3 times on {'x'.join(map(str, SHAPE))} int16"
    points = f"coords: map {POINTS:.0e} points voxel -> world"
    return [
        Case(construct, "nibabel io_orientation + apply_orientation", _nibabel_canonical, _volume_setup, baseline=True),
        Case(construct, "mvl.coords Volume(...).aligned_data", _ours_construct, _volume_setup),
        Case(switch, "mvl.coords volume.system = ... (x3)", _ours_switch, _switch_setup, repeat=50),
        Case(points, "bare numpy: p @ M[:3,:3].T + M[:3,3]", _bare_numpy, _points_setup, baseline=True),
        Case(points, "mvl.coords volume.voxel_to_world", _ours_voxel_to_world, _points_setup),
        Case(points, "mvl.coords volume.world_to_voxel", _ours_world_to_voxel, _points_setup),
    ]
