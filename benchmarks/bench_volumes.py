"""mvl.dicom: open_stack on a 4D series (64x64x36 x 200 volumes, int16), classic files and one enhanced object.

Peers: dcm2niix (a subprocess writing uncompressed NIfTI, the baseline: what users run
today to get a 4D volume from DICOM) and a plain pydicom loop (dcmread every file, sort
by volume and position, np.stack). The data is written once into .bench-data/
(gitignored): 7200 single-frame MR files with the header of pydicom's MR_small.dcm,
numbered volume after volume, with acquisition times, names not in order; and the same
voxels as one Enhanced CT object with a Temporal Position Index per frame. Targets
(issue 13): load in at most 0.7x dcm2niix's time, peak memory at most 1.3x the output.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
from harness import DATA, Case, run_dcm2niix

SHAPE = (64, 64, 36, 200)  # rows, columns, slices, volumes
CLASSIC = DATA / "dicom-4d-64x64x36x200"
ENHANCED = DATA / "dicom-4d-enhanced" / "fmri.dcm"
OUTPUT_MB = np.prod(SHAPE) * 2 / 1e6


def _voxels() -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(0)
    base = rng.integers(200, 1200, size=SHAPE[:3], dtype=np.int16)
    drift = rng.integers(-20, 20, size=SHAPE, dtype=np.int16)
    return (base[..., np.newaxis] + drift).astype(np.int16)


def _matrix() -> np.ndarray[Any, Any]:
    matrix = np.diag([3.0, 3.0, 3.5, 1.0])
    matrix[:3, 3] = (-94.5, -94.5, -60.0)
    return matrix


def _write_classic() -> Path:
    if (CLASSIC / ".complete").exists():
        return CLASSIC
    import pydicom
    from pydicom.data import get_testdata_file

    from mvl.dicom.testing import write_volumes

    shutil.rmtree(CLASSIC, ignore_errors=True)
    template = pydicom.dcmread(str(get_testdata_file("MR_small.dcm", download=False)), stop_before_pixels=True)
    own = {"SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "FrameOfReferenceUID", "InstanceNumber"}
    own |= {"ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "SliceLocation"}
    own |= {"Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "AcquisitionTime"}
    own |= {"RescaleSlope", "RescaleIntercept", "SpacingBetweenSlices", "EchoNumbers", "ImageType"}

    def mr_header(dataset: Any, index: int, volume: int) -> None:
        for element in template:
            if element.keyword not in own:
                dataset[element.tag] = element
        dataset.SeriesDescription = "fmri"
        seconds = 2.0 * volume + 2.0 * index / SHAPE[2]  # TR 2 s, slices through the TR
        dataset.AcquisitionTime = f"{10 + int(seconds // 3600):02d}{int(seconds % 3600 // 60):02d}{seconds % 60:09.6f}"

    write_volumes(CLASSIC, _voxels(), _matrix(), seed=1, edit=mr_header)
    (CLASSIC / ".complete").touch()
    return CLASSIC


def _write_enhanced() -> Path:
    if ENHANCED.exists():
        return ENHANCED
    from mvl.dicom.testing import write_enhanced

    ENHANCED.parent.mkdir(parents=True, exist_ok=True)
    partial = ENHANCED.with_suffix(".partial")
    write_enhanced(partial, _voxels(), _matrix())
    partial.rename(ENHANCED)
    return ENHANCED


def _classic_files() -> list[Path]:
    return sorted(path for path in _write_classic().iterdir() if path.suffix == ".dcm")


def _pydicom_loop(files: list[Path]) -> Any:
    import pydicom

    datasets = [pydicom.dcmread(path) for path in files]
    datasets.sort(key=lambda dataset: int(dataset.InstanceNumber))  # volume after volume, slices in order
    stacked = np.stack([dataset.pixel_array for dataset in datasets])
    return stacked.reshape(SHAPE[3], SHAPE[2], SHAPE[0], SHAPE[1]).transpose(2, 3, 1, 0)


def _pydicom_enhanced(path: Path) -> Any:
    import pydicom

    return pydicom.dcmread(path).pixel_array


def _ours(path: Path) -> Any:
    from mvl.dicom import open_stack

    volume = open_stack(path)
    assert volume.src_data.shape == SHAPE and volume.src_data.dtype == np.int16
    return volume.src_data


def cases() -> list[Case]:
    classic = f"dicom 4D: 64x64x36 x 200 volumes int16, 7200 single-frame files (output {OUTPUT_MB:.0f} MB)"
    enhanced = f"dicom 4D: the same as one enhanced object of 7200 frames (output {OUTPUT_MB:.0f} MB)"
    have_dcm2niix = shutil.which("dcm2niix") is not None
    result = []
    if have_dcm2niix:
        result.append(
            Case(classic, "dcm2niix -z n (subprocess)", run_dcm2niix, _write_classic, baseline=True, repeat=3)
        )
    result += [
        Case(
            classic,
            "plain pydicom loop: dcmread + sort + np.stack",
            _pydicom_loop,
            _classic_files,
            repeat=2,
            baseline=not have_dcm2niix,
        ),
        Case(classic, "mvl.dicom open_stack", _ours, _write_classic, repeat=3),
    ]
    if have_dcm2niix:
        result.append(
            Case(enhanced, "dcm2niix -z n (subprocess)", run_dcm2niix, _write_enhanced, baseline=True, repeat=3)
        )
    result += [
        Case(
            enhanced,
            "pydicom dcmread + pixel_array",
            _pydicom_enhanced,
            _write_enhanced,
            repeat=3,
            baseline=not have_dcm2niix,
        ),
        Case(enhanced, "mvl.dicom open_stack", _ours, _write_enhanced, repeat=3),
    ]
    return result
