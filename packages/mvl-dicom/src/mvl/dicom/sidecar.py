"""The BIDS sidecar of a loaded series: what the files say about the acquisition, with BIDS's keys and units.

:func:`sidecar` returns the dict that ``mvl convert`` and ``mvl batch`` write as JSON next
to a DICOM-sourced output (``scan.nii.gz`` -> ``scan.json``). Keys and units are those of
BIDS and dcm2niix: times in seconds (DICOM states milliseconds), angles in degrees,
lengths in mm; a key is left out when the files do not state it.

Where a value comes from: the series' first image in stack order (its functional groups
first for an enhanced object, then the file's top level, as
:meth:`Frame.attribute <mvl.dicom.frame.Frame.attribute>` looks up), except

- ``AcquisitionTime``: the first file's (0008,0032) 'Acquisition Time' or the time of
  its (0008,002A) 'Acquisition DateTime', else the first volume's time (an enhanced
  frame's (0018,9074) 'Frame Acquisition DateTime'), as ``HH:MM:SS.ffffff``;
- ``Manufacturer``: the vendor as dcm2niix and BIDS datasets name it (``Siemens``, ``GE``,
  ``Philips``, ``Canon`` for Toshiba and Canon, ...), else (0008,0070) as written;
- ``ImageType``: (0008,0008), else an enhanced frame's (0008,9007) 'Frame Type', as a list,
  each value split at ``_`` as dcm2niix does, then the complex component the series holds
  (``MAGNITUDE``, ``PHASE``, ``REAL``, ``IMAGINARY``; :func:`~mvl.dicom.acquisition.complex_kind`)
  when no value says it already, except ``MAGNITUDE`` for Philips (dcm2niix's convention
  since v1.0.2024, seen on its QA data);
- ``EchoNumber``: only for a series of several echoes (dcm2niix writes it then): the
  loaded echo's (0018,0086), else its rank among the series' echo times
  (:attr:`DicomStack.echo_numbers <mvl.dicom.DicomStack>` and ``echo_times`` hold those
  of the whole series, also when ``select=`` loaded one). A computed map (echo time 0) or
  a phase image whose series holds one echo time gets none: the files do not say which
  echo it belongs to;
- ``EchoTime``: the enhanced (0018,9082) 'Effective Echo Time', else (0018,0081); left
  out when 0 (a computed map);
- ``InversionTime``: (0018,0082), else the enhanced (0018,9079) 'Inversion Times'; left
  out when 0 (no inversion), as dcm2niix does;
- ``PhaseEncodingDirection``: (0018,1312) 'In-plane Phase Encoding Direction' (the row
  or the column cosines) with Siemens' polarity (the CSA image header's
  ``PhaseEncodingDirectionPositive``, XA's (0021,111C)), as the axis of the array written
  it runs along (``i``, ``j``, ``k``, ``-`` against it); ``PhaseEncodingAxis`` without the
  sign where the polarity is unknown (GE, Philips, Canon); neither for 3D acquisitions;
- ``SliceTiming``: :attr:`DicomStack.slice_timing <mvl.dicom.DicomStack>` in seconds, one
  per slice along the source slice axis (BIDS's ``k``; with ``aligned=True`` the entry
  ``SliceEncodingDirection`` says which axis of the aligned data that is, ``-`` when
  it runs the other way, and the list stays in source order as BIDS defines it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from mvl.coords import MvlError

from . import elements as el
from .acquisition import acquisition_of, complex_kind
from .frame import Frame, top_level_value
from .frames import frames_of
from .mosaic import csa_image_header
from .selection import normalized

if TYPE_CHECKING:
    from mvl.coords import Volume

    from .stack import DicomStack

__all__ = ["MANUFACTURERS", "sidecar", "sidecar_files"]

#: The vendor names dcm2niix and BIDS datasets use, by the start of (0008,0070) 'Manufacturer' in capitals.
MANUFACTURERS: Final = {
    "SIEMENS": "Siemens",
    "GE": "GE",
    "PHILIPS": "Philips",
    "TOSHIBA": "Canon",
    "CANON": "Canon",
    "UIH": "UIH",
    "BRUKER": "Bruker",
    "HITACHI": "Hitachi",
    "MEDISO": "Mediso",
}
#: Keys copied as numbers, by the DICOM keyword they come from.
_NUMBERS: Final = {
    "MagneticFieldStrength": "MagneticFieldStrength",
    "FlipAngle": "FlipAngle",
    "SliceThickness": "SliceThickness",
    "SpacingBetweenSlices": "SpacingBetweenSlices",
}
_TEXTS: Final = {
    "Modality": "Modality",
    "ManufacturersModelName": "ManufacturerModelName",
    "SeriesDescription": "SeriesDescription",
    "ProtocolName": "ProtocolName",
    "SeriesInstanceUID": "SeriesInstanceUID",
    "StudyInstanceUID": "StudyInstanceUID",
}
_COMPONENTS: Final = ("MAGNITUDE", "PHASE", "REAL", "IMAGINARY")
#: Siemens XA's per-frame PhaseEncodingDirectionPositive, (0021,111C) under "SIEMENS MR SDI 02" in block 0x11.
_XA_CREATOR: Final = "SIEMENS MR SDI 02"
_XA_CREATOR_TAG: Final = 0x00210011
_XA_POLARITY: Final = 0x0021111C
_POLARITY_NAMES: Final = frozenset({"PhaseEncodingDirectionPositive"})


def sidecar(volume: Volume, *, aligned: bool = False) -> dict[str, Any]:
    """The BIDS sidecar of a volume loaded by :func:`~mvl.dicom.open_stack` (see the module).

    Parameters
    ----------
    volume : Volume
        Its ``src_object`` is a :class:`~mvl.dicom.DicomStack`.
    aligned : bool, optional
        The output holds ``aligned_data`` (else ``src_data``): says where the slice axis went.

    Returns
    -------
    dict
        JSON-ready: str, int, float and lists of them.

    Raises
    ------
    TypeError
        If the volume was not loaded from DICOM.
    InputError
        If the first file cannot be read again (its header is read for the values the
        load did not keep).
    """
    from .stack import DicomStack

    stack = volume.src_object
    if not isinstance(stack, DicomStack):
        raise TypeError(f"a sidecar describes a volume loaded from DICOM, not from {type(stack).__name__}")
    frame = _first_frame(stack)
    found: dict[str, Any] = {}
    for key, keyword in _TEXTS.items():
        _put(found, key, _text(frame.attribute(keyword)))
    manufacturer = _text(frame.attribute("Manufacturer"))
    if manufacturer is not None:
        capitals = manufacturer.upper()
        found["Manufacturer"] = next(
            (name for start, name in MANUFACTURERS.items() if capitals.startswith(start)), manufacturer
        )
    for key, keyword in _NUMBERS.items():
        _put(found, key, _number(frame.attribute(keyword)))
    series_number = _number(frame.attribute("SeriesNumber"))
    if series_number is not None and series_number.is_integer():
        found["SeriesNumber"] = int(series_number)
    _put(found, "AcquisitionTime", _clock(stack, frame))
    _put(found, "ImageType", _image_type(frame))
    _put(found, "RepetitionTime", _seconds(_number(frame.attribute("RepetitionTime"))))
    inversion = _number(frame.attribute("InversionTime"))
    if inversion is None:
        inversion = _number(frame.attribute("InversionTimes"))  # the enhanced MR Modifier macro's
    if inversion:  # 0 where no inversion pulse was played: not stated, as dcm2niix does
        found["InversionTime"] = _seconds(inversion)
    echo = _number(frame.attribute("EffectiveEchoTime"))
    echo = echo if echo is not None else _number(frame.attribute("EchoTime"))
    if echo:  # 0 for a computed map (a field map): no echo time, as dcm2niix leaves it out
        found["EchoTime"] = _seconds(echo)
    _put(found, "EchoNumber", _echo_number(stack))
    _phase_encoding(found, volume, frame, aligned)
    if stack.slice_timing is not None:
        found["SliceTiming"] = [round(time / 1000.0, 7) for time in stack.slice_timing]
        if aligned:
            found["SliceEncodingDirection"] = _slice_direction(volume)
    return found


def sidecar_files(
    volume: Volume, *, aligned: bool = False, provenance: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The files a conversion writes beside an output of `volume`: ``{ending: text}``.

    ``.json``: :func:`sidecar` with the `provenance` keys after it (the converter's name,
    version and input); for a diffusion series also ``.bval`` and ``.bvec`` in FSL's
    convention for the array written (:mod:`mvl.dicom.gradients`). The entry point of
    the ``sidecars`` field of :data:`mvl.dicom.plugin.FORMAT`.
    """
    from .gradients import fsl_gradients, fsl_texts

    described = {**sidecar(volume, aligned=aligned), **(provenance or {})}
    files = {".json": json.dumps(described, indent=2) + "\n"}
    gradients = fsl_gradients(volume, aligned=aligned)
    if gradients is not None:
        files[".bval"], files[".bvec"] = fsl_texts(gradients)
    return files


def _first_frame(stack: DicomStack) -> Frame:
    """The stack's first image as a frame whose header can answer every element (read again if needed)."""
    _ = stack.sorted_slices[0]  # loads the first file's full header where the scan kept only some elements
    header, index = stack.headers[0], stack.frames[0]
    frames = frames_of(header)
    if index is None:
        return frames[0]
    return next((frame for frame in frames if frame.index == index), frames[0])


def _put(found: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        found[key] = value


def _text(value: Any) -> str | None:
    text = "\\".join(str(part).strip() for part in normalized(value)).strip()
    return text or None


def _number(value: Any) -> float | None:
    values = normalized(value)
    value = values[0] if values else None
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _seconds(milliseconds: float | None) -> float | None:
    return None if milliseconds is None else round(milliseconds / 1000.0, 9)


def _clock(stack: DicomStack, frame: Frame) -> str | None:
    """The first file's (0008,0032) or (0008,002A) time, else the first volume's, as HH:MM:SS.ffffff."""
    stated = _text(top_level_value(frame.header, el.ACQUISITION_TIME))
    if stated is None:  # (0008,002A) 'Acquisition DateTime': YYYYMMDDHHMMSS.ffffff
        when = _text(top_level_value(frame.header, el.ACQUISITION_DATETIME))
        stated = when[8:] if when is not None and len(when) > 8 else None
    seconds = _time_seconds(stated) if stated else None
    if seconds is None:
        seconds = stack.volumes[0].seconds if stack.volumes else None
    if seconds is None:
        return None
    hours, rest = divmod(seconds % 86400.0, 3600.0)
    minutes, rest = divmod(rest, 60.0)
    return f"{int(hours):02d}:{int(minutes):02d}:{rest:09.6f}"


def _time_seconds(text: str) -> float | None:
    """Seconds of a DICOM TM value (``HHMMSS.ffffff``, or ``HH:MM:SS`` as some old files write it)."""
    digits = text.replace(":", "")
    try:
        whole, _, fraction = digits.partition(".")
        hours, minutes, seconds = int(whole[0:2]), int(whole[2:4] or 0), int(whole[4:6] or 0)
        return hours * 3600.0 + minutes * 60.0 + seconds + (float(f"0.{fraction}") if fraction else 0.0)
    except ValueError:
        return None


def _image_type(frame: Frame) -> list[str] | None:
    value = top_level_value(frame.header, el.IMAGE_TYPE) or frame.attribute("FrameType")
    if value is None:
        return None
    parts = [str(part).strip() for part in normalized(value)]
    words = [word for part in parts for word in part.split("_") if word]
    component = acquisition_of(frame).component or complex_kind(None, None, "\\".join(parts))
    vendor = str(frame.attribute("Manufacturer") or "").upper()
    philips_magnitude = component == "MAGNITUDE" and vendor.startswith("PHILIPS")
    if component in _COMPONENTS and component not in words and not philips_magnitude:
        words.append(component)
    return words or None


def _phase_encoding(found: dict[str, Any], volume: Volume, frame: Frame, aligned: bool) -> None:
    """``PhaseEncodingDirection`` (with its polarity) or ``PhaseEncodingAxis``, in the axes of the array written."""
    import numpy as np

    stated = _text(frame.attribute("InPlanePhaseEncodingDirection"))
    orientation = frame.orientation
    if stated is None or orientation is None or _text(frame.attribute("MRAcquisitionType")) == "3D":
        return  # dcm2niix states none for 3D acquisitions either
    if stated.upper() == "ROW":
        along = np.asarray(orientation[:3], dtype=np.float64)
    elif stated.upper() in ("COL", "COLUMN"):
        along = np.asarray(orientation[3:], dtype=np.float64)
    else:
        return
    matrix = volume.get_aligned_transformation("LPS") if aligned else volume.get_src_transformation("LPS")
    axes = matrix[:3, :3] / np.linalg.norm(matrix[:3, :3], axis=0)
    voxel = np.linalg.solve(axes, along)
    axis = int(np.abs(voxel).argmax())
    positive = _phase_positive(frame)
    if positive is None:
        found["PhaseEncodingAxis"] = "ijk"[axis]
        return
    sign = 1.0 if positive else -1.0
    found["PhaseEncodingDirection"] = "ijk"[axis] + ("" if sign * voxel[axis] > 0 else "-")


def _phase_positive(frame: Frame) -> bool | None:
    """Siemens' polarity: the CSA image header's, or an XA enhanced frame's (0021,111C); None where unknown."""
    values = frame.group_values()
    if _text(values.get(_XA_CREATOR_TAG)) == _XA_CREATOR:
        polarity = _number(values.get(_XA_POLARITY))
        if polarity is not None:
            return polarity > 0
    try:
        csa = csa_image_header(frame.header, _POLARITY_NAMES)
        polarity = None if csa is None else csa.number("PhaseEncodingDirectionPositive")
    except MvlError:
        return None
    return None if polarity is None else polarity > 0


def _echo_number(stack: DicomStack) -> int | None:
    """The loaded echo's number in a series of several echoes; None in a series of one."""
    first = stack.volumes[0] if stack.volumes else None
    if first is None:
        return None
    if len(stack.echo_numbers) > 1:
        return first.echo_number
    if len(stack.echo_times) > 1 and first.echo_time in stack.echo_times:  # echoes told apart by their times only
        return stack.echo_times.index(first.echo_time) + 1
    return None


def _slice_direction(volume: Volume) -> str:
    """Which axis of the aligned data the source slice axis became (``i``, ``j``, ``k``, ``-`` when reversed)."""
    import numpy as np

    # source index -> aligned index
    mapping = np.linalg.inv(volume.aligned_transformation) @ volume.src_to_aligned_transformation
    column = mapping[:3, 2]
    axis = int(abs(column).argmax())
    return "ijk"[axis] + ("-" if column[axis] < 0 else "")
