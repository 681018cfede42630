"""The main job, for now: what mvl.coords does, on a small synthetic volume.

Builds an oblique 40x50x30 "scan" in DICOM's LPS+ system, then shows the same voxels
aligned to three other systems: shapes, axis codes, spacing, and that one voxel keeps
its world position throughout. Run it with `./dev -s demo`.
"""

from __future__ import annotations

import numpy as np

from mvl.coords import Volume, axcodes
from mvl.coords.testing import sample_transformation


def main() -> None:
    shape = (40, 50, 30)
    data = np.arange(np.prod(shape), dtype=np.int32).reshape(shape)
    # Tilted 12 degrees out of the axis-aligned grid; 2.5 mm slices of 0.8 x 0.6 mm pixels.
    transformation = sample_transformation(angles=(12, 0, 90), spacing=(2.5, 0.8, 0.6), origin=(-100, 80, 40))
    volume = Volume(data, transformation, src_system="LPS", system="RAS")
    print(volume)
    print()
    probe = (7, 11, 13)
    world = volume.voxel_to_world(probe, src_order=True, system="LPS").round(2)
    print(f"source voxel {probe} holds {data[probe]} at LPS+ {world}")
    for system in ("RAS", "LPS", "IAR"):
        volume.system = system
        position = np.round(volume.world_to_voxel(volume.voxel_to_world(probe, src_order=True))).astype(int)
        spacing = tuple(round(s, 2) for s in volume.aligned_spacing)
        print(
            f"{system}: aligned shape {volume.aligned_data.shape}, spacing {spacing}, "
            f"aligned axes point towards {axcodes(volume.aligned_transformation, system)}, "
            f"voxel at aligned {tuple(int(p) for p in position)} holds {volume.aligned_data[tuple(position)]}"
        )


if __name__ == "__main__":
    main()
