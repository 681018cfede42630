"""Fixtures: small NRRD files written byte by byte, and SimpleITK as the independent reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: A valid header: 2x3x4 int16 voxels in LPS+, unit spacing, raw little-endian data.
BASE_FIELDS = {
    "type": "int16",
    "dimension": "3",
    "space": "left-posterior-superior",
    "sizes": "2 3 4",
    "space directions": "(1,0,0) (0,1,0) (0,0,1)",
    "kinds": "domain domain domain",
    "endian": "little",
    "encoding": "raw",
    "space origin": "(0,0,0)",
}
BASE_VALUES = np.arange(24, dtype="<i2")


class NrrdMaker:
    """Write NRRD files from a base header with some fields changed (None removes one)."""

    fields = BASE_FIELDS
    values = BASE_VALUES

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def text(self, changes: dict[str, str | None] | None = None, magic: str = "NRRD0004") -> bytes:
        fields = dict(BASE_FIELDS)
        for name, value in (changes or {}).items():
            if value is None:
                fields.pop(name, None)
            else:
                fields[name] = value
        lines = [magic, *(f"{name}: {value}" for name, value in fields.items())]
        return ("\n".join(lines) + "\n").encode()

    def __call__(
        self,
        changes: dict[str, str | None] | None = None,
        body: bytes | None = None,
        name: str = "scan.nrrd",
        magic: str = "NRRD0004",
    ) -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        attached = (
            b"" if changes and changes.get("data file") else b"\n" + (BASE_VALUES.tobytes() if body is None else body)
        )
        path.write_bytes(self.text(changes, magic) + attached)
        return path


@pytest.fixture
def make_nrrd(tmp_path: Path) -> NrrdMaker:
    return NrrdMaker(tmp_path)


def sitk_reference(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Voxels in NRRD axis order ([i, j, k, components]) and the LPS+ matrix, as SimpleITK reads `path`."""
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    array = sitk.GetArrayFromImage(image)
    spatial = image.GetDimension()
    array = np.transpose(array, (*reversed(range(spatial)), *range(spatial, array.ndim)))
    spacing = np.array(image.GetSpacing())
    matrix = np.eye(4)
    matrix[:3, :3] = np.array(image.GetDirection()).reshape(3, 3) * spacing
    matrix[:3, 3] = image.GetOrigin()
    return array, matrix


def sitk_write(path: Path, data: np.ndarray, lps_matrix: np.ndarray, compress: bool = False, vector: bool = False):
    """Write `data` ([i, j, k] or [i, j, k, c]) with an LPS+ matrix through SimpleITK."""
    import SimpleITK as sitk

    order = (2, 1, 0, 3) if vector else (2, 1, 0)
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(data, order)), isVector=vector)
    spacing = np.linalg.norm(lps_matrix[:3, :3], axis=0)
    image.SetSpacing(spacing.tolist())
    image.SetDirection((lps_matrix[:3, :3] / spacing).ravel().tolist())
    image.SetOrigin(lps_matrix[:3, 3].tolist())
    sitk.WriteImage(image, str(path), useCompression=compress)
    return path


@pytest.fixture
def sitk_tools():
    return sitk_reference, sitk_write
