"""Synthetic Siemens mosaics written with pydicom alone, for tests, examples and benchmarks.

A mosaic holds a whole volume in one file: its slices are the tiles of one large image,
and a private Siemens CSA image header says how many there are, which way they go and
when each was acquired (:mod:`mvl.dicom.mosaic`, :mod:`mvl.dicom.csa`).
:func:`write_mosaic` writes a series of them, one file per volume, as Siemens scanners
do; :func:`csa_header` encodes the CSA header, in either of its two layouts. Like
:mod:`mvl.dicom.testing`, nothing here uses mvl.dicom's reader: the CSA bytes are
written here from the layout's description, not by the parser's code.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .testing import _MR_IMAGE, _ds, geometry_elements, image_dataset

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["ascconv_text", "csa_header", "write_mosaic"]


def csa_header(elements: Mapping[str, Any], *, layout: str = "SV10") -> bytes:
    """Encode a Siemens CSA header (:mod:`mvl.dicom.csa` describes both layouts).

    Parameters
    ----------
    elements : mapping of str to value
        Element names and values: an int (VR IS), a float (FD), a str (LO) or a sequence
        of them (one item each). Each element gets two empty items more than it has
        values, as scanners write them.
    layout : {"SV10", "CSA1"}, optional
        SV10 (syngo VB and later), or the older unversioned layout.

    Returns
    -------
    bytes

    Examples
    --------
    >>> csa_header({"NumberOfImagesInMosaic": 36})[:4], len(csa_header({"B_value": 1000}, layout="CSA1")) % 4
    (b'SV10', 0)
    """
    if layout not in ("SV10", "CSA1"):
        raise ValueError(f"layout must be 'SV10' or 'CSA1', not {layout!r}")
    items_of = {name: list(value) if isinstance(value, list | tuple) else [value] for name, value in elements.items()}
    first = len(next(iter(items_of.values()), [])) + 2  # CSA1 item lengths count the first element's items
    out = [b"SV10\x04\x03\x02\x01" if layout == "SV10" else b"", struct.pack("<2I", len(items_of), 77)]
    for name, values in items_of.items():
        kind = values[0] if values else ""
        vr = "IS" if isinstance(kind, int) else "FD" if isinstance(kind, float) else "LO"
        out.append(struct.pack("<64si4s3i", name.encode(), len(values), vr.encode(), 6, len(values) + 2, 77))
        for value in [*values, "", ""]:
            text = (repr(float(value)) if vr == "FD" else str(value)).encode() + b"\x00" if value != "" else b""
            length = len(text) + (first if layout == "CSA1" else 0)
            out.append(struct.pack("<4i", length, length, 77 if text else 205, length))
            out.append(text + b"\x00" * (-len(text) % 4))
    return b"".join(out)


def ascconv_text(lines: Mapping[str, object]) -> str:
    """A Siemens protocol block (ASCCONV) of ``key = value`` lines, as the CSA series header's MrPhoenixProtocol holds.

    Integers are written in decimal, except ``ucMode`` keys in hexadecimal as scanners write them.

    Examples
    --------
    >>> print(ascconv_text({"sSliceArray.ucMode": 4, "alTR[0]": 2000000}))
    ### ASCCONV BEGIN ###
    sSliceArray.ucMode                       = 0x4
    alTR[0]                                  = 2000000
    ### ASCCONV END ###
    """
    body = "".join(
        f"{key:<40} = {hex(value) if key.endswith('ucMode') and isinstance(value, int) else value}\n"
        for key, value in lines.items()
    )
    return f"### ASCCONV BEGIN ###\n{body}### ASCCONV END ###"


def write_mosaic(
    folder: str | os.PathLike[str],
    data: ArrayLike,
    transformation: ArrayLike,
    *,
    layout: str = "SV10",
    times: Sequence[float] | None = None,
    protocol: Mapping[str, object] | None = None,
    repetition_time: float | None = None,
    b_values: Sequence[float] | None = None,
    directions: Sequence[Sequence[float]] | None = None,
    count_element: bool = True,
    transfer_syntax: str | None = None,
    series_uid: str | None = None,
    seed: int = 0,
    edit_csa: Callable[[dict[str, Any], int], None] | None = None,
    edit: Callable[[Dataset, int], None] | None = None,
) -> Path:
    """Write Siemens mosaic files, one per volume: the slices of `data` as tiles of one image.

    The tiles fill a grid of ceil(sqrt(slices)) x ceil(sqrt(slices)), row by row, the rest
    zero. As a scanner does, (0020,0032) is the position the top left pixel of the mosaic
    would have if the whole mosaic were one slice, the CSA header's ``SliceNormalVector``
    points from one tile's slice to the next, and ``MosaicRefAcqTimes`` gives each tile's
    acquisition time.

    Parameters
    ----------
    folder : str or os.PathLike
        Created if needed.
    data : (R, C, S) or (R, C, S, T) array_like
        Stored values (int16 or uint16), indexed ``(row, column, tile[, volume])``.
    transformation : (4, 4) array_like
        Voxel ``(row, column, tile)`` to LPS+ mm; the tile step must be along the normal of
        the slices (either way: against the row x column direction is a "descending" mosaic).
    layout : {"SV10", "CSA1"}, optional
        The layout of the CSA image header.
    times : sequence of float, optional
        ``MosaicRefAcqTimes`` (ms), one per tile; ascending in tile order by default; an
        empty sequence leaves the element out, as syngo VB12 and older do.
    protocol : mapping, optional
        Lines of the scanner protocol (:func:`ascconv_text`) for a CSA series header
        (0029,1020) holding it as ``MrPhoenixProtocol``; none by default.
    repetition_time : float, optional
        (0018,0080) 'Repetition Time', ms; absent by default.
    b_values, directions : sequence, optional
        ``B_value`` and ``DiffusionGradientDirection`` (LPS+) in each volume's CSA header.
    count_element : bool, optional
        Also write Siemens' (0019,100A) 'NumberOfImagesInMosaic' (default).
    transfer_syntax : str, optional
        A transfer syntax UID (explicit VR little endian by default): implicit VR, big endian
        and deflated ones, and the compressed ones pydicom has an encoder for (RLE lossless
        always; JPEG-LS and JPEG 2000 with the ``codecs`` extra's plugins).
    series_uid : str, optional
        A new UID by default.
    seed : int, optional
        Seeds the shuffling of file names.
    edit_csa : callable, optional
        ``edit_csa(elements, volume_index)`` may change each file's CSA elements before they are encoded.
    edit : callable, optional
        ``edit(dataset, volume_index)`` may change each dataset before it is written.

    Returns
    -------
    pathlib.Path
        `folder`.

    Examples
    --------
    >>> import tempfile
    >>> matrix = np.diag([2.0, 2.0, 3.0, 1.0])
    >>> folder = write_mosaic(tempfile.mkdtemp(), np.zeros((4, 4, 5, 3), np.int16), matrix)
    >>> len(list(folder.iterdir()))
    3
    """
    from pydicom import dcmwrite
    from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

    syntax = UID(transfer_syntax or ExplicitVRLittleEndian)

    voxels = np.asarray(data)
    if voxels.ndim == 3:
        voxels = voxels[..., np.newaxis]
    rows, columns, count, volumes = voxels.shape
    grid = math.ceil(math.sqrt(count))
    matrix = np.asarray(transformation, dtype=float)
    orientation, spacing, step = geometry_elements(matrix)
    down, across = matrix[:3, 0], matrix[:3, 1]
    corner = matrix[:3, 3] - (grid - 1) * (rows * down + columns * across) / 2  # the scanner's mosaic "position"
    times = [float(index) * 2000.0 / count for index in range(count)] if times is None else list(times)
    series_uid = series_uid or generate_uid()
    study_uid, frame_of_reference = generate_uid(), generate_uid()
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    names = np.random.default_rng(seed).permutation(10 * volumes + 10)[:volumes]
    for volume in range(volumes):
        image = np.zeros((grid * rows, grid * columns), dtype=voxels.dtype)
        for tile in range(count):
            top, left = tile // grid * rows, tile % grid * columns
            image[top : top + rows, left : left + columns] = voxels[:, :, tile, volume]
        dataset = image_dataset(
            image,
            sop_class=_MR_IMAGE,
            modality="MR",
            series_uid=series_uid,
            study_uid=study_uid,
            frame_of_reference=frame_of_reference,
            little_endian=syntax != ExplicitVRBigEndian,
            implicit_vr=syntax == ImplicitVRLittleEndian,
        )
        dataset.Manufacturer = "SIEMENS"
        dataset.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"]
        dataset.InstanceNumber = dataset.AcquisitionNumber = volume + 1
        seconds = 2.0 * volume  # a repetition time of 2 s, from 12:00
        dataset.AcquisitionTime = f"{12 + int(seconds // 3600):02d}{int(seconds % 3600 // 60):02d}{seconds % 60:09.6f}"
        dataset.ImagePositionPatient = [_ds(value) for value in corner]
        dataset.ImageOrientationPatient = [_ds(value) for value in orientation]
        dataset.PixelSpacing = [_ds(value) for value in spacing]
        dataset.SliceThickness = dataset.SpacingBetweenSlices = _ds(float(np.linalg.norm(step)))
        elements: dict[str, Any] = {
            "NumberOfImagesInMosaic": count,
            "SliceNormalVector": [float(value) for value in step / np.linalg.norm(step)],
            "MosaicRefAcqTimes": times,
            "AcquisitionMatrixText": f"{rows}p*{columns}",
        }
        if not times:
            del elements["MosaicRefAcqTimes"]
        if b_values is not None:
            elements["B_value"] = int(b_values[volume])
        if directions is not None:
            elements["DiffusionGradientDirection"] = [float(value) for value in directions[volume]]
        if edit_csa is not None:
            edit_csa(elements, volume)
        dataset.private_block(0x0029, "SIEMENS CSA HEADER", create=True).add_new(
            0x10, "OB", csa_header(elements, layout=layout)
        )
        if protocol is not None:
            dataset.private_block(0x0029, "SIEMENS CSA HEADER").add_new(
                0x20, "OB", csa_header({"MrPhoenixProtocol": ascconv_text(protocol)}, layout=layout)
            )
        if repetition_time is not None:
            dataset.RepetitionTime = _ds(repetition_time)
        if count_element:
            dataset.private_block(0x0019, "SIEMENS MR HEADER", create=True).add_new(0x0A, "US", count)
        if edit is not None:
            edit(dataset, volume)
        if syntax.is_compressed:
            dataset.compress(syntax)
        elif syntax.is_deflated:
            dataset.file_meta.TransferSyntaxUID = syntax
        dcmwrite(target / f"MOSAIC{names[volume]:04d}.dcm", dataset, enforce_file_format=True)
    return target
