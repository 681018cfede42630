"""Helpers for the mvl-nifti tests: files written by the peers (nibabel, SimpleITK), header surgery."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from mvl.coords import change_system


def write_nibabel(
    path: Path, data: np.ndarray, affine: np.ndarray, *, sform_code: int = 1, qform_code: int = 1, **fields: Any
) -> Path:
    """Write `data` with nibabel: the sform and the qform set from `affine`, then any header `fields`."""
    path = Path(path)
    image_class = nib.Nifti2Image if fields.pop("nifti2", False) else nib.Nifti1Image
    if path.name.endswith((".hdr", ".img", ".hdr.gz", ".img.gz")):
        image_class = nib.Nifti2Pair if image_class is nib.Nifti2Image else nib.Nifti1Pair
    image = image_class(data, None, dtype=data.dtype)  # no affine: the header is written as set here
    image.header.set_sform(affine, code=sform_code)
    image.header.set_qform(affine, code=qform_code)
    for field, value in fields.items():
        image.header[field] = value
    nib.save(image, path)
    return path


def patch_header(path: Path, **fields: Any) -> Path:
    """Set header fields of an existing single-file NIfTI (plain or gzip) in place, nothing else."""
    path = Path(path)
    raw = path.read_bytes()
    compressed = raw[:2] == b"\x1f\x8b"
    content = bytearray(gzip.decompress(raw) if compressed else raw)
    size = int.from_bytes(content[:4], "little")
    klass = nib.Nifti2Header if size == 540 else nib.Nifti1Header
    header = klass(bytes(content[: klass.template_dtype.itemsize]), check=False)
    for field, value in fields.items():
        header[field] = value
    block = header.binaryblock
    content[: len(block)] = block
    path.write_bytes(gzip.compress(bytes(content), compresslevel=1) if compressed else bytes(content))
    return path


def sitk_image(data: np.ndarray, lps_matrix: np.ndarray) -> sitk.Image:
    """A SimpleITK image of `data` (index i fastest) whose voxels map through `lps_matrix` (LPS+)."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(data.T), isVector=False)
    spacing = np.linalg.norm(lps_matrix[:3, :3], axis=0)
    image.SetSpacing([float(s) for s in spacing])
    image.SetDirection([float(v) for v in (lps_matrix[:3, :3] / spacing).ravel()])
    image.SetOrigin([float(v) for v in lps_matrix[:3, 3]])
    return image


def sitk_read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read with SimpleITK: voxels in NIfTI index order and their voxel-to-LPS+ matrix."""
    image = sitk.ReadImage(str(path))
    data = sitk.GetArrayFromImage(image).T
    direction = np.array(image.GetDirection()).reshape(3, 3)
    matrix = np.eye(4)
    matrix[:3, :3] = direction * np.array(image.GetSpacing())
    matrix[:3, 3] = image.GetOrigin()
    return data, matrix


def sitk_write(path: Path, data: np.ndarray, ras_matrix: np.ndarray) -> Path:
    """Write with SimpleITK (which thinks in LPS+) the image whose voxels map through `ras_matrix`."""
    sitk.WriteImage(sitk_image(data, change_system(ras_matrix, "RAS", "LPS")), str(path))
    return Path(path)


@pytest.fixture
def nibabel_file() -> Callable[..., Path]:
    return write_nibabel


@pytest.fixture
def patch() -> Callable[..., Path]:
    return patch_header


@pytest.fixture
def simpleitk() -> Any:
    class SimpleITKTools:
        image = staticmethod(sitk_image)
        read = staticmethod(sitk_read)
        write = staticmethod(sitk_write)

    return SimpleITKTools
