"""Synthetic DICOM data written with pydicom alone, for tests, examples and benchmarks.

:func:`write_series` writes a single-frame CT or MR series whose geometry is given as a
voxel-to-world matrix (LPS+, voxel order ``(row, column, slice)`` as
:func:`~mvl.dicom.open_stack` returns it), in shuffled file order with shuffled
(0020,0013) 'Instance Number'; :func:`write_volumes` writes a series of several volumes
(an fMRI or diffusion series) the same way; :func:`write_enhanced` writes one or several
volumes as one Enhanced CT object with functional groups. Nothing here uses mvl.dicom's
reader.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from pydicom.dataset import Dataset, FileDataset

__all__ = [
    "geometry_elements",
    "image_dataset",
    "oblique_transformation",
    "write_enhanced",
    "write_series",
    "write_volumes",
]

_CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
_MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
_ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"


def oblique_transformation(tilt: float = 0.0) -> NDArray[np.float64]:
    """An oblique ``(row, column, slice)`` to LPS+ matrix, 0.7 x 0.8 x 2.5 mm, slices along the normal.

    Parameters
    ----------
    tilt : float, optional
        Gantry tilt in degrees: the slice step leans this far from the normal, along the columns.

    Examples
    --------
    >>> bool(np.isclose(np.linalg.norm(oblique_transformation()[:3, 2]), 2.5))
    True
    """
    from mvl.coords.testing import sample_transformation

    matrix = sample_transformation((10, -20, 5), (0.7, 0.8, 2.5), (-100.0, 50.0, 30.0))
    normal = np.cross(matrix[:3, 1], matrix[:3, 0])  # row direction x column direction (PS3.3 C.7.6.2.1.1)
    if normal @ matrix[:3, 2] < 0:  # slices ascending along the normal, as open_stack orders them
        matrix[:3, 2] *= -1
    if tilt:
        matrix[:3, 2] += np.tan(np.radians(tilt)) * 2.5 * matrix[:3, 0] / 0.7
    return matrix


def geometry_elements(transformation: ArrayLike) -> tuple[list[float], list[float], NDArray[np.float64]]:
    """Image Orientation, Pixel Spacing and the slice step of a ``(row, column, slice)`` to LPS+ matrix.

    Returns
    -------
    orientation : list of 6 float
        (0020,0037): the row direction cosines (along columns), then the column ones.
    spacing : list of 2 float
        (0028,0030): between rows, between columns.
    step : (3,) ndarray
        From one slice position to the next.
    """
    matrix = np.asarray(transformation, dtype=np.float64)
    down, across = matrix[:3, 0], matrix[:3, 1]
    spacing = [float(np.linalg.norm(down)), float(np.linalg.norm(across))]
    orientation = [*(across / spacing[1]).tolist(), *(down / spacing[0]).tolist()]
    return orientation, spacing, matrix[:3, 2].copy()


def image_dataset(
    plane: NDArray[Any],
    *,
    sop_class: str = _CT_IMAGE,
    modality: str = "CT",
    series_uid: str,
    study_uid: str,
    frame_of_reference: str,
    little_endian: bool = True,
    implicit_vr: bool = False,
) -> FileDataset:
    """A minimal image dataset holding `plane` (2D, any integer type) as uncompressed pixel data."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = (
        ImplicitVRLittleEndian if implicit_vr else ExplicitVRLittleEndian if little_endian else ExplicitVRBigEndian
    )
    dataset = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    dataset.SOPClassUID = sop_class
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = modality
    dataset.StudyInstanceUID = study_uid
    dataset.SeriesInstanceUID = series_uid
    dataset.FrameOfReferenceUID = frame_of_reference
    dataset.SeriesNumber = 1
    dataset.SeriesDescription = "synthetic"
    dataset.PatientID = "MVL-TEST"
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.Rows, dataset.Columns = plane.shape[:2]
    dtype = np.dtype(plane.dtype)
    dataset.BitsAllocated = dataset.BitsStored = dtype.itemsize * 8
    dataset.HighBit = dtype.itemsize * 8 - 1
    dataset.PixelRepresentation = 1 if dtype.kind == "i" else 0
    stored = plane.astype(dtype.newbyteorder("<" if little_endian else ">"))
    dataset.add_new(0x7FE00010, "OB" if dtype.itemsize == 1 else "OW", stored.tobytes())
    return dataset


def write_series(
    folder: str | os.PathLike[str],
    data: ArrayLike | None = None,
    transformation: ArrayLike | None = None,
    *,
    shape: tuple[int, int, int] = (5, 6, 7),
    dtype: Any = None,
    series_uid: str | None = None,
    study_uid: str | None = None,
    frame_of_reference: str | None = None,
    modality: str = "CT",
    slopes: float | Sequence[float] = 1.0,
    intercepts: float | Sequence[float] = 0.0,
    prefix: str = "IM",
    seed: int = 0,
    little_endian: bool = True,
    implicit_vr: bool = False,
    edit: Callable[[Dataset, int], None] | None = None,
) -> Path:
    """Write a series of single-frame images, one per slice of `data`, into `folder`.

    Parameters
    ----------
    folder : str or os.PathLike
        Created if needed.
    data : (R, C, S) array_like, optional
        Stored values, indexed ``(row, column, slice)``; distinct values of `shape` by default.
    transformation : (4, 4) array_like, optional
        Voxel ``(row, column, slice)`` to LPS+ mm; columns 0 and 1 must be orthogonal,
        column 2 may be sheared (gantry tilt). Axis-aligned 0.8 x 0.9 x 2 mm by default.
    series_uid, study_uid, frame_of_reference : str, optional
        New UIDs by default.
    slopes, intercepts : float or sequence of float, optional
        (0028,1053) and (0028,1052), one value or one per slice.
    prefix : str, optional
        File names are `prefix` plus a shuffled number, so that name order is not slice order;
        series written into one folder need different prefixes (existing files are never replaced).
    seed : int, optional
        Seeds the shuffling of file names and of (0020,0013) 'Instance Number'.
    little_endian, implicit_vr : bool, optional
        The transfer syntax (explicit VR little endian by default).
    edit : callable, optional
        ``edit(dataset, slice_index)`` may change each dataset before it is written.

    Returns
    -------
    pathlib.Path
        `folder`.

    Examples
    --------
    >>> import tempfile
    >>> folder = write_series(tempfile.mkdtemp(), shape=(2, 3, 4))
    >>> len(list(folder.iterdir()))
    4
    """
    from pydicom import dcmwrite
    from pydicom.uid import generate_uid

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    if data is None:
        voxels = np.arange(int(np.prod(shape))).reshape(shape).astype(dtype or np.int16)
    else:
        voxels = np.asarray(data, dtype=dtype)
    matrix = np.diag([0.8, 0.9, 2.0, 1.0]) if transformation is None else np.asarray(transformation, dtype=float)
    matrix = matrix.copy()
    if transformation is None:
        matrix[:3, 3] = (-10.0, 20.0, 5.5)
    orientation, spacing, step = geometry_elements(matrix)
    count = voxels.shape[2]
    slope_list = np.broadcast_to(np.asarray(slopes, dtype=float), (count,))
    intercept_list = np.broadcast_to(np.asarray(intercepts, dtype=float), (count,))
    rng = np.random.default_rng(seed)
    numbers = rng.permutation(count) + 1
    names = rng.permutation(10 * count + 10)[:count]
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    frame_of_reference = frame_of_reference or generate_uid()
    for index in range(count):
        dataset = image_dataset(
            voxels[:, :, index],
            sop_class=_CT_IMAGE if modality == "CT" else _MR_IMAGE,
            modality=modality,
            series_uid=series_uid,
            study_uid=study_uid,
            frame_of_reference=frame_of_reference,
            little_endian=little_endian,
            implicit_vr=implicit_vr,
        )
        dataset.InstanceNumber = int(numbers[index])
        dataset.ImagePositionPatient = [_ds(value) for value in matrix[:3, 3] + index * step]
        dataset.ImageOrientationPatient = [_ds(value) for value in orientation]
        dataset.PixelSpacing = [_ds(value) for value in spacing]
        dataset.SliceThickness = _ds(float(np.linalg.norm(step)))
        if slope_list[index] != 1 or intercept_list[index] != 0 or modality == "CT":
            dataset.RescaleSlope = _ds(float(slope_list[index]))
            dataset.RescaleIntercept = _ds(float(intercept_list[index]))
        if edit is not None:
            edit(dataset, index)
        name = target / f"{prefix}{names[index]:05d}.dcm"
        if name.exists():
            raise FileExistsError(f"{name} exists: give each series written into one folder its own prefix")
        dcmwrite(name, dataset, enforce_file_format=True)
    return target


def write_volumes(
    folder: str | os.PathLike[str],
    data: ArrayLike,
    transformation: ArrayLike | None = None,
    *,
    numbering: str = "volume",
    modality: str = "MR",
    series_uid: str | None = None,
    frame_of_reference: str | None = None,
    seed: int = 0,
    edit: Callable[[Dataset, int, int], None] | None = None,
) -> Path:
    """Write a series of several volumes (fMRI, diffusion) as single-frame files, one per slice and volume.

    Parameters
    ----------
    folder : str or os.PathLike
        Created if needed.
    data : (R, C, S, T) array_like
        Stored values, indexed ``(row, column, slice, volume)``.
    transformation : (4, 4) array_like, optional
        As for :func:`write_series`.
    numbering : {"volume", "slice", "none"}, optional
        (0020,0013) 'Instance Number': volume after volume (``t * S + s + 1``, as most
        scanners number), slice after slice (``s * T + t + 1``), or the same for all
        images (``"none"``: nothing but other attributes tells the volumes apart).
    modality : str, optional
        ``"MR"`` by default.
    series_uid, frame_of_reference : str, optional
        New UIDs by default.
    seed : int, optional
        Seeds the shuffling of file names, so that neither name order nor writing order is volume order.
    edit : callable, optional
        ``edit(dataset, slice_index, volume_index)`` may change each dataset before it is written.

    Returns
    -------
    pathlib.Path
        `folder`.

    Examples
    --------
    >>> import tempfile
    >>> folder = write_volumes(tempfile.mkdtemp(), np.zeros((2, 3, 4, 5), dtype=np.int16))
    >>> len(list(folder.iterdir()))
    20
    """
    from pydicom.uid import generate_uid

    voxels = np.asarray(data)
    slices, count = voxels.shape[2], voxels.shape[3]
    series_uid = series_uid or generate_uid()
    study_uid = generate_uid()
    frame_of_reference = frame_of_reference or generate_uid()
    prefixes = np.random.default_rng(seed).permutation(count)
    for volume in range(count):

        def edit_one(dataset: Dataset, index: int, volume: int = volume) -> None:
            if numbering == "volume":
                dataset.InstanceNumber = volume * slices + index + 1
            elif numbering == "slice":
                dataset.InstanceNumber = index * count + volume + 1
            else:
                dataset.InstanceNumber = 1
            if edit is not None:
                edit(dataset, index, volume)

        write_series(
            folder,
            voxels[..., volume],
            transformation,
            series_uid=series_uid,
            study_uid=study_uid,
            frame_of_reference=frame_of_reference,
            modality=modality,
            prefix=f"F{prefixes[volume]:03d}_",
            seed=seed + volume,
            edit=edit_one,
        )
    return Path(folder)


def write_enhanced(
    path: str | os.PathLike[str],
    data: ArrayLike,
    transformation: ArrayLike,
    *,
    slopes: float | Sequence[float] = 1.0,
    intercepts: float | Sequence[float] = 0.0,
    frame_order: Sequence[int] | None = None,
    shared_orientation: bool = True,
    temporal_index: bool = True,
    edit_frame: Callable[[Dataset, int, int], None] | None = None,
    little_endian: bool = True,
    implicit_vr: bool = False,
) -> Path:
    """Write `data` (R, C, S) or (R, C, S, T) as one Enhanced CT Image object with multi-frame functional groups.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    data : (R, C, S) or (R, C, S, T) array_like
        Stored values (int16 or uint16), indexed ``(row, column, slice[, volume])``.
    transformation : (4, 4) array_like
        Voxel ``(row, column, slice)`` to LPS+ mm.
    slopes, intercepts : float or sequence of float, optional
        Per-frame Pixel Value Transformation, one value or one per frame.
    frame_order : sequence of int, optional
        Which image each frame holds (a permutation of ``volume * S + slice``); volume
        after volume, slices in order, by default.
    shared_orientation : bool, optional
        Put Plane Orientation and Pixel Measures in the shared functional groups
        (default), else in every frame's.
    temporal_index : bool, optional
        With several volumes, state each frame's (0020,9128) 'Temporal Position Index'
        in its Frame Content (default).
    edit_frame : callable, optional
        ``edit_frame(item, slice_index, volume_index)`` may change each frame's item of the
        Per-frame Functional Groups Sequence (add MR Echo or MR Diffusion macros, say).
    little_endian, implicit_vr : bool, optional
        The transfer syntax (explicit VR little endian by default).

    Returns
    -------
    pathlib.Path
    """
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence as DicomSequence
    from pydicom.uid import generate_uid

    voxels = np.asarray(data)
    if voxels.ndim == 3:
        voxels = voxels[..., np.newaxis]
    matrix = np.asarray(transformation, dtype=float)
    orientation, spacing, step = geometry_elements(matrix)
    slices, volumes = voxels.shape[2], voxels.shape[3]
    count = slices * volumes
    order = list(range(count)) if frame_order is None else list(frame_order)
    slope_list = np.broadcast_to(np.asarray(slopes, dtype=float), (count,))
    intercept_list = np.broadcast_to(np.asarray(intercepts, dtype=float), (count,))
    frames = np.stack([voxels[:, :, image % slices, image // slices] for image in order])
    dataset = image_dataset(
        frames.reshape(-1, voxels.shape[1]),
        sop_class=_ENHANCED_CT,
        series_uid=generate_uid(),
        study_uid=generate_uid(),
        frame_of_reference=generate_uid(),
        little_endian=little_endian,
        implicit_vr=implicit_vr,
    )
    dataset.Rows, dataset.Columns = voxels.shape[:2]
    dataset.NumberOfFrames = count

    def item(**macros: Dataset) -> Dataset:
        group = Dataset()
        for keyword, value in macros.items():
            setattr(group, keyword, DicomSequence([value]))
        return group

    def plane_orientation() -> Dataset:
        macro = Dataset()
        macro.ImageOrientationPatient = [_ds(value) for value in orientation]
        return macro

    def pixel_measures() -> Dataset:
        macro = Dataset()
        macro.PixelSpacing = [_ds(value) for value in spacing]
        macro.SliceThickness = _ds(float(np.linalg.norm(step)))
        return macro

    per_frame = []
    for frame, image in enumerate(order):
        index, volume = image % slices, image // slices
        position = Dataset()
        position.ImagePositionPatient = [_ds(value) for value in matrix[:3, 3] + index * step]
        rescale = Dataset()
        rescale.RescaleSlope = _ds(float(slope_list[frame]))
        rescale.RescaleIntercept = _ds(float(intercept_list[frame]))
        rescale.RescaleType = "HU"
        content = Dataset()
        content.InStackPositionNumber = index + 1
        content.StackID = "1"
        if volumes > 1 and temporal_index:
            content.TemporalPositionIndex = volume + 1
        macros = {"PlanePositionSequence": position, "PixelValueTransformationSequence": rescale}
        macros["FrameContentSequence"] = content
        if not shared_orientation:
            macros["PlaneOrientationSequence"] = plane_orientation()
            macros["PixelMeasuresSequence"] = pixel_measures()
        group = item(**macros)
        if edit_frame is not None:
            edit_frame(group, index, volume)
        per_frame.append(group)
    shared = (
        item(PlaneOrientationSequence=plane_orientation(), PixelMeasuresSequence=pixel_measures())
        if shared_orientation
        else Dataset()
    )
    dataset.SharedFunctionalGroupsSequence = DicomSequence([shared])
    dataset.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    from pydicom import dcmwrite

    target = Path(path)
    dcmwrite(target, dataset, enforce_file_format=True)
    return target


def _ds(value: float) -> str:
    """A decimal string (VR DS, at most 16 characters) that keeps as many digits as fit."""
    for digits in range(15, 5, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    return f"{value:.6g}"  # pragma: no cover
