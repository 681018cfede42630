"""`frames_of`: the frames of one file, whatever kind of file it is.

A single-frame file holds one frame (:func:`~mvl.dicom.frame.single_frame`); a
multi-frame object one per frame (:mod:`.multiframe`: functional groups, RT Dose grids).
Siemens mosaics are refused until they are unpacked. Each kind of file is one module
below this one, and this dispatch is the only place that knows them all.
"""

from __future__ import annotations

from mvl.coords import UnsupportedFormatError

from . import elements as el
from .frame import Frame, single_frame
from .headers import Header
from .multiframe import multiframe_frames

__all__ = ["frames_of"]


def frames_of(header: Header) -> list[Frame]:
    """The frames of one file, with their geometry and rescale.

    Raises
    ------
    UnsupportedFormatError
        For Siemens mosaic images, whose tiles must never be stacked as slices.
    FormatError, GeometryError
        For values that cannot be parsed, or NaN and infinite positions.
    """
    image_type = header.text(el.IMAGE_TYPE) or ""
    if "MOSAIC" in image_type.upper().split("\\"):
        raise UnsupportedFormatError(
            f"is a Siemens mosaic ((0008,0008) 'Image Type' is {image_type!r}): its tiles are the slices of a "
            "whole volume and must not be stacked as slices; mvl.dicom does not unpack mosaics yet. "
            "Convert it with dcm2niix, or export the series as single slices or an enhanced MR object",
            path=header.name,
        )
    if header.multi_frame:
        return multiframe_frames(header)
    return [single_frame(header)]
