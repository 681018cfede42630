"""Fixtures: small MetaImage files written byte by byte, and SimpleITK as the independent reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: A valid header: 2x3x4 int16 voxels, unit spacing, raw little-endian data after it.
BASE_FIELDS = {
    "ObjectType": "Image",
    "NDims": "3",
    "BinaryData": "True",
    "BinaryDataByteOrderMSB": "False",
    "CompressedData": "False",
    "TransformMatrix": "1 0 0 0 1 0 0 0 1",
    "Offset": "0 0 0",
    "ElementSpacing": "1 1 1",
    "DimSize": "2 3 4",
    "ElementType": "MET_SHORT",
    "ElementDataFile": "LOCAL",
}
BASE_VALUES = np.arange(24, dtype="<i2")


class MetaMaker:
    """Write MetaImage files from a base header with some fields changed (None removes one)."""

    values = BASE_VALUES

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def text(self, changes: dict[str, str | None] | None = None) -> bytes:
        fields = dict(BASE_FIELDS)
        data_file = fields.pop("ElementDataFile")
        for name, value in (changes or {}).items():
            if name == "ElementDataFile":
                data_file = value
            elif value is None:
                fields.pop(name, None)
            else:
                fields[name] = value
        lines = [f"{name} = {value}" for name, value in fields.items()]
        if data_file is not None:
            lines.append(f"ElementDataFile = {data_file}")
        return ("\n".join(lines) + "\n").encode()

    def __call__(
        self, changes: dict[str, str | None] | None = None, body: bytes | None = None, name: str = "scan.mha"
    ) -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        local = (changes or {}).get("ElementDataFile", "LOCAL") == "LOCAL"
        data = (BASE_VALUES.tobytes() if body is None else body) if local else (body or b"")
        path.write_bytes(self.text(changes) + data)
        return path


@pytest.fixture
def make_mha(tmp_path: Path) -> MetaMaker:
    return MetaMaker(tmp_path)


def sitk_reference(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Voxels as [i, j, k, (t), (components)] and the LPS+ matrix of the first 3 axes, as SimpleITK reads `path`.

    A 2D image gets a length-1 third axis and the normal of its plane, as ours does.
    """
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    array = sitk.GetArrayFromImage(image)
    dimension = image.GetDimension()
    array = np.transpose(array, (*reversed(range(dimension)), *range(dimension, array.ndim)))
    spacing = np.array(image.GetSpacing())
    directions = np.array(image.GetDirection()).reshape(dimension, dimension)
    origin = np.array(image.GetOrigin())
    matrix = np.eye(4)
    spatial = min(dimension, 3)
    matrix[:spatial, :spatial] = (directions * spacing)[:spatial, :spatial]
    matrix[:spatial, 3] = origin[:spatial]
    if dimension == 2:
        normal = np.cross(np.append(matrix[:2, 0], 0), np.append(matrix[:2, 1], 0))
        matrix[:3, 2] = normal / np.linalg.norm(normal)
        array = array.reshape(*array.shape[:2], 1, *array.shape[2:])
    return array, matrix


def sitk_write(
    path: Path, data: np.ndarray, lps_matrix: np.ndarray, compress: bool = False, vector: bool = False
) -> Path:
    """Write `data` ([i, j, k, ...] or [i, j, k, c] with `vector`) with an LPS+ matrix through SimpleITK."""
    import SimpleITK as sitk

    spatial = data.ndim - 1 if vector else data.ndim
    order = (*reversed(range(spatial)), *range(spatial, data.ndim))
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(data, order)), isVector=vector)
    dimension = image.GetDimension()
    matrix = np.eye(dimension)
    size = min(dimension, 3)
    matrix[:size, :size] = lps_matrix[:size, :size]
    spacing = np.linalg.norm(matrix, axis=0)
    origin = np.zeros(dimension)
    origin[:size] = lps_matrix[:size, 3]
    image.SetSpacing(spacing.tolist())
    image.SetDirection((matrix / spacing).ravel().tolist())
    image.SetOrigin(origin.tolist())
    sitk.WriteImage(image, str(path), useCompression=compress)
    return path


@pytest.fixture
def sitk_tools():
    return sitk_reference, sitk_write
