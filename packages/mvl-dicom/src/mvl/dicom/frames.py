"""`frames_of`: the frames of one file, whatever kind of file it is.

A single-frame file holds one frame (:func:`~mvl.dicom.frame.single_frame`); a
multi-frame object one per frame (:mod:`.multiframe`: functional groups, RT Dose grids);
a Siemens mosaic one per tile (:mod:`.mosaic`). Each kind of file is one module below
this one, and this dispatch is the only place that knows them all.
"""

from __future__ import annotations

from .frame import Frame, single_frame
from .headers import Header
from .mosaic import is_mosaic, mosaic_frames
from .multiframe import multiframe_frames

__all__ = ["frames_of"]


def frames_of(header: Header) -> list[Frame]:
    """The frames of one file, with their geometry and rescale.

    Raises
    ------
    FormatError, GeometryError
        For values that cannot be parsed, NaN and infinite positions, and Siemens mosaics
        that cannot be unpacked (:func:`~mvl.dicom.mosaic.mosaic_frames`): their tiles are
        never stacked as slices.
    """
    if is_mosaic(header):
        return mosaic_frames(header)
    if header.multi_frame:
        return multiframe_frames(header)
    return [single_frame(header)]
