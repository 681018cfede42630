"""Write the bundled example data (examples/data/), deterministically.

A synthetic head phantom is defined in world coordinates (DICOM's LPS+, millimetres)
and sampled twice, with the imaging libraries directly (not with mvloader):

- ``phantom-ct/``: an axial CT series of 40 slices (64x64 pixels, 3.5 mm, 4 mm apart),
  tilted 8 degrees about the left-right axis, files named in shuffled order, plus a
  2-slice localizer series in the same folder (written with pydicom);
- ``phantom-t1.nii.gz``: the same head as a sagittal MR-like volume (nibabel).

The anatomy is asymmetric so that any left/right or up/down mistake shows: the nose
points anterior, a bright marker sits on the subject's LEFT, a small bright cap on top
(superior). Run from the repository root: ``python examples/make_example_data.py``
(needs numpy, pydicom and nibabel).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

OUT = Path(__file__).resolve().parent / "data"
UID_ROOT = "1.2.826.0.1.3680043.10.1234."  # deterministic UIDs below this root


def phantom_hu(points: np.ndarray) -> np.ndarray:
    """Hounsfield units at LPS+ points (N, 3): x to the left, y to the back, z up."""
    x, y, z = points.T
    head = (x / 70) ** 2 + (y / 88) ** 2 + (z / 78) ** 2
    value = np.full(len(points), -1000.0)
    value[head < 1.0] = 1000.0  # skull
    value[head < 0.85] = 35.0  # brain
    nose = ((x / 12) ** 2 + ((y + 92) / 14) ** 2 + ((z + 10) / 22) ** 2) < 1.0  # anterior: y < 0
    value[nose] = 60.0
    left_marker = ((x - 38) ** 2 + y**2 + (z - 10) ** 2) < 14**2  # left: x > 0
    value[left_marker] = 1600.0
    top_cap = ((x) ** 2 + (y - 10) ** 2 + (z - 62) ** 2) < 10**2  # superior: z > 0
    value[top_cap] = 900.0
    ventricle = ((x + 12) / 8) ** 2 + (y / 25) ** 2 + (z / 12) ** 2 < 1.0  # slightly right
    value[ventricle] = 5.0
    return value


def write_ct(folder: Path) -> None:
    rows = cols = 64
    spacing = 3.5
    slices = 40
    step = 4.0
    tilt = np.radians(8.0)
    row_cosine = np.array([1.0, 0.0, 0.0])  # along a row (column index grows): towards L
    column_cosine = np.array([0.0, np.cos(tilt), -np.sin(tilt)])  # down a column: towards P, tilted
    normal = np.cross(row_cosine, column_cosine)
    centre = np.array([0.0, 5.0, 0.0])
    origin = centre - row_cosine * spacing * (cols - 1) / 2 - column_cosine * spacing * (rows - 1) / 2
    origin -= normal * step * (slices - 1) / 2
    study, series, frame = (f"{UID_ROOT}{n}" for n in (1, 2, 3))
    order = np.random.default_rng(7).permutation(slices)
    r, c = np.mgrid[0:rows, 0:cols]
    for index in range(slices):
        position = origin + normal * step * index
        points = position + (c.ravel()[:, None] * spacing) * row_cosine + (r.ravel()[:, None] * spacing) * column_cosine
        pixels = (phantom_hu(points).reshape(rows, cols) + 1024).astype(np.int16)  # stored = HU + 1024
        dataset = _dataset(folder / f"IM{order[index]:04d}.dcm", study, series, frame, index)
        dataset.Modality = "CT"
        dataset.SeriesDescription = "phantom head, axial, 8 deg tilt"
        dataset.SeriesNumber = 2
        dataset.ImagePositionPatient = [f"{v:.6f}" for v in position]
        dataset.ImageOrientationPatient = [f"{v:.8f}" for v in (*row_cosine, *column_cosine)]
        dataset.PixelSpacing = [spacing, spacing]
        dataset.SliceThickness = step
        dataset.RescaleSlope, dataset.RescaleIntercept = 1, -1024
        _pixels(dataset, pixels)
        dataset.save_as(dataset.filename, enforce_file_format=True)
    # A localizer series in the same folder: must not be stacked with the CT.
    localizer = f"{UID_ROOT}4"
    for index in range(2):
        dataset = _dataset(folder / f"LOC{index}.dcm", study, localizer, frame, index)
        dataset.Modality = "CT"
        dataset.SeriesDescription = "localizer"
        dataset.SeriesNumber = 1
        dataset.ImagePositionPatient = [-110.0, 0.0, 100.0 - 200.0 * index]
        dataset.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
        dataset.PixelSpacing = [3.5, 3.5]
        _pixels(dataset, np.zeros((rows, cols), dtype=np.int16))
        dataset.save_as(dataset.filename, enforce_file_format=True)


def _dataset(path: Path, study: str, series: str, frame: str, index: int) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = f"{series}.{index + 1}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = f"{UID_ROOT}99"
    dataset = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    dataset.SOPClassUID = CTImageStorage
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.FrameOfReferenceUID = study, series, frame
    dataset.PatientName, dataset.PatientID = "Phantom^Head", "PHANTOM01"
    dataset.StudyDate, dataset.StudyDescription = "20260101", "mvloader example"
    dataset.InstanceNumber = index + 1
    return dataset


def _pixels(dataset: FileDataset, pixels: np.ndarray) -> None:
    dataset.Rows, dataset.Columns = pixels.shape
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 1
    dataset.PixelData = pixels.astype("<i2").tobytes()


def write_nifti(path: Path) -> None:
    # Sagittal slices, on purpose not in RAS+ order: i runs A->P, j S->I, k R->L.
    shape = (48, 56, 44)  # i: A->P, j: S->I, k: R->L (in RAS+ terms: -y, -z, -x)
    spacing = np.array([4.0, 3.5, 3.5])
    ras_axes = np.array([[0, 0, -1], [-1, 0, 0], [0, -1, 0]], dtype=float)  # columns: i, j, k in RAS+
    affine = np.eye(4)
    affine[:3, :3] = ras_axes * spacing
    centre_ras = np.array([0.0, -5.0, 0.0])
    affine[:3, 3] = centre_ras - affine[:3, :3] @ ((np.array(shape) - 1) / 2)
    ijk = np.indices(shape).reshape(3, -1).T
    ras = ijk @ affine[:3, :3].T + affine[:3, 3]
    lps = ras * [-1, -1, 1]
    hu = phantom_hu(lps)
    mr = np.select([hu > 1500, hu > 500, hu > 20, hu > -500], [900, 150, 600, 300], default=0).astype(np.int16)
    image = nib.Nifti1Image(mr.reshape(shape), affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    nib.save(image, path)


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    (OUT / "phantom-ct").mkdir(parents=True)
    write_ct(OUT / "phantom-ct")
    write_nifti(OUT / "phantom-t1.nii.gz")
    total = sum(path.stat().st_size for path in OUT.rglob("*") if path.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
