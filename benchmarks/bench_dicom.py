"""mvl.dicom: open_stack on a 300-slice CT series with a distractor series, list_series on 1000 files.

Peers: a plain pydicom loop (dcmread + sort + np.stack, the baseline), SimpleITK's
ImageSeriesReader (GetGDCMSeriesFileNames + Execute) and, when its executable is on the
PATH, dcm2niix (a subprocess writing uncompressed NIfTI). Reference floors: pydicom
headers only (stop_before_pixels), pydicom reading only the elements mvl.dicom keeps
(specific_tags), and the raw bytes of every file. The header scan alone
(mvl.dicom.headers.scan_header, the data element walk) against pydicom's specific_tags
read of the same elements is why the walk exists: both are in the listing group. The data is written
once into .bench-data/ (gitignored): the phantom as 300 slices of 512x512 int16 (rescale
intercept -1024) plus a 20-slice series in the same folder, file names not in slice order,
each file with the full header of pydicom's CT_small.dcm (about 270 elements).
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from harness import DATA, Case, phantom, run_dcm2niix

SHAPE = (300, 512, 512)
CT = DATA / "dicom-ct-300x512x512"
MANY = DATA / "dicom-1000-small"
CT_UID = "1.2.826.0.1.3680043.8.498.1"
OUTPUT_MB = np.prod(SHAPE) * 2 / 1e6


def _write_ct() -> Path:
    """The phantom as a CT series (stored value = HU + 1024) and a 20-slice distractor, shuffled names."""
    if (CT / ".complete").exists():
        return CT
    from mvl.dicom.testing import write_series

    shutil.rmtree(CT, ignore_errors=True)
    volume = phantom(SHAPE)
    data = np.ascontiguousarray((volume.astype(np.int32) + 1024).astype(np.int16).transpose(1, 2, 0))
    matrix = np.diag([0.7, 0.7, 1.25, 1.0])
    matrix[:3, 3] = (-179.0, -179.0, -200.0)

    import pydicom
    from pydicom.data import get_testdata_file

    # A real CT header (about 270 elements, many private), as scanners write them.
    template = pydicom.dcmread(str(get_testdata_file("CT_small.dcm", download=False)), stop_before_pixels=True)
    own = {"SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "FrameOfReferenceUID", "InstanceNumber"}
    own |= {"ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "SliceLocation"}
    own |= {"Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation"}
    own |= {"RescaleSlope", "RescaleIntercept", "SpacingBetweenSlices", "PixelPaddingValue"}

    def ct_header(dataset: Any, index: int) -> None:
        for element in template:
            if element.keyword not in own:
                dataset[element.tag] = element
        dataset.SeriesDescription = "phantom"

    write_series(CT, data, matrix, series_uid=CT_UID, intercepts=-1024, prefix="IM", seed=1, edit=ct_header)
    write_series(
        CT, data[:, :, ::15], matrix, series_uid=CT_UID + "0", intercepts=-1024, prefix="IMD", seed=2, edit=ct_header
    )
    (CT / ".complete").write_text("")
    return CT


def _write_many() -> Path:
    """1000 small files: 10 series of 100 slices of 64x64, two folders deep."""
    if (MANY / ".complete").exists():
        return MANY
    from mvl.dicom.testing import write_series

    shutil.rmtree(MANY, ignore_errors=True)
    rng = np.random.default_rng(0)
    for index in range(10):
        data = rng.integers(0, 4000, size=(64, 64, 100)).astype(np.int16)
        write_series(MANY / f"patient{index // 5}" / f"series{index}", data, series_uid=f"1.2.3.{index}", seed=index)
    (MANY / ".complete").write_text("")
    return MANY


def _ct_files() -> list[Path]:
    return sorted(path for path in _write_ct().iterdir() if path.suffix == ".dcm")


def _pydicom_loop(files: list[Path]) -> Any:
    import pydicom

    datasets = [pydicom.dcmread(path) for path in files]
    datasets = [dataset for dataset in datasets if dataset.SeriesInstanceUID == CT_UID]
    orientation = np.array(datasets[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    datasets.sort(key=lambda dataset: float(normal @ np.array(dataset.ImagePositionPatient, dtype=float)))
    return np.stack([dataset.pixel_array for dataset in datasets])


def _pydicom_headers(files: list[Path]) -> Any:
    import pydicom

    return [pydicom.dcmread(path, stop_before_pixels=True) for path in files]


def _pydicom_specific_tags(files: list[Path], tags: frozenset[int]) -> Any:
    """pydicom reading only `tags` (what our scan keeps) and stopping before the pixels."""
    import pydicom

    wanted = sorted(tags)
    return [pydicom.dcmread(path, specific_tags=wanted, stop_before_pixels=True) for path in files]


def _scan_headers(files: list[Path], tags: frozenset[int]) -> Any:
    """The fast header scan alone, as list_series calls it: one pread per file, more where a header is longer."""
    from mvl.dicom.headers import scan_header
    from mvl.dicom.sources import Member

    result = []
    for path in files:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            member = Member(str(path), path.name, str(path))
            size = os.fstat(descriptor).st_size

            def read_prefix(count: int, descriptor: int = descriptor) -> bytes:
                return os.pread(descriptor, count, 0)

            result.append(scan_header(member, read_prefix, size, keep=tags, keep_header=False))
        finally:
            os.close(descriptor)
    assert all(header is not None and header.dataset is None for header in result)
    return result


def _raw_bytes(files: list[Path]) -> Any:
    return [path.read_bytes() for path in files]


def _simpleitk(folder: Path) -> Any:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder), CT_UID))
    return sitk.GetArrayViewFromImage(reader.Execute())


def _ours(folder: Path, workers: int = 1) -> Any:
    from mvl.dicom import open_stack

    volume = open_stack(folder, series_uid=CT_UID, workers=workers)
    assert volume.src_data.dtype == np.int16 and volume.src_data.shape == (512, 512, 300)
    return volume.src_data


def _many_files() -> list[Path]:
    return sorted(path for path in _write_many().rglob("*.dcm"))


def _dcmread_every_file(files: list[Path]) -> Any:
    import pydicom

    return [pydicom.dcmread(path) for path in files]


def _list_series(folder: Path) -> Any:
    from mvl.dicom import list_series

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = list_series(folder)
    assert len(result) == 10
    return result


def _pydicom_image_tags(files: list[Path]) -> Any:
    from mvl.dicom.elements import IMAGE_TAGS  # what open_stack keeps

    return _pydicom_specific_tags(files, IMAGE_TAGS)


def _pydicom_survey_tags(files: list[Path]) -> Any:
    from mvl.dicom.elements import SURVEY_TAGS  # what list_series keeps

    return _pydicom_specific_tags(files, SURVEY_TAGS)


def _scan_survey_tags(files: list[Path]) -> Any:
    from mvl.dicom.elements import SURVEY_TAGS

    return _scan_headers(files, SURVEY_TAGS)


def cases() -> list[Case]:
    load = f"dicom: open a 300x512x512 int16 CT series + 20-slice distractor (output {OUTPUT_MB:.0f} MB)"
    listing = "dicom: list the series of 1000 small files (64x64, 10 series)"
    result = [
        Case(load, "plain pydicom loop: dcmread + sort + np.stack", _pydicom_loop, _ct_files, baseline=True, repeat=3),
        Case(load, "SimpleITK ImageSeriesReader (names + Execute)", _simpleitk, _write_ct, repeat=3),
        Case(load, "mvl.dicom open_stack", _ours, _write_ct),
        Case(load, "mvl.dicom open_stack(workers=2) (threads)", lambda folder: _ours(folder, 2), _write_ct),
        Case(load, "floor: pydicom headers only (stop_before_pixels)", _pydicom_headers, _ct_files, repeat=3),
        Case(load, "floor: pydicom specific_tags=kept, stop_before_pixels", _pydicom_image_tags, _ct_files),
        Case(load, "floor: raw bytes of every file", _raw_bytes, _ct_files),
    ]
    if shutil.which("dcm2niix"):
        result.insert(2, Case(load, "dcm2niix (subprocess, both series)", run_dcm2niix, _write_ct, repeat=3))
    result += [
        Case(listing, "pydicom dcmread of every file", _dcmread_every_file, _many_files, baseline=True, repeat=3),
        Case(listing, "pydicom dcmread(stop_before_pixels) of every file", _pydicom_headers, _many_files, repeat=3),
        Case(listing, "pydicom dcmread(specific_tags=kept, stop_before_pixels)", _pydicom_survey_tags, _many_files),
        Case(listing, "mvl.dicom scan_header(keep=kept) of every file", _scan_survey_tags, _many_files),
        Case(listing, "mvl.dicom list_series", _list_series, _write_many),
    ]
    return result
