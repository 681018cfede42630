"""Slice timing of a series: one acquisition time per slice, for slice-timing correction.

Each volume of a Siemens mosaic series states when each of its slices was acquired (the
CSA header's ``MosaicRefAcqTimes``, ms after its first slice; see :mod:`.mosaic`), and
:attr:`VolumeInfo.slice_timing <mvl.dicom.volumes.VolumeInfo>` keeps each volume's as
stated. Analysis needs one list for the series: :func:`series_slice_timing` gives the
first volume's, unless the span of its times (first to last slice) differs from the
second volume's by more than :data:`SPAN_TOLERANCE_MS`; then the second volume's. Some
multiband sequences write wrong times into the first volume only (times up to twice the
repetition time, or past midnight: CMRR-MB issue 29); dcm2niix chooses the same way
(its issue 870), so the series' timing equals its ``SliceTiming`` (which is in seconds,
in its own slice order). Times are quantized to 2.5 ms, so healthy volumes differ by
that much from one to the next; a span that differs by more than
:data:`FAULT_FRACTION` of the chosen one is reported with a
:class:`~mvl.coords.FormatWarning` naming the volumes.

syngo VB12 and older mosaics state no times: :func:`protocol_timing` derives the series'
from the first file's protocol (slice mode, repetition time, delay; :mod:`.protocol`), as
dcm2niix does, reading that one file's header again; each volume's own stays None.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from mvl.coords import FormatWarning, MvlWarning

from .frame import Frame
from .protocol import read_protocol_timing
from .sources import Source
from .volumes import VolumeInfo

__all__ = ["FAULT_FRACTION", "SPAN_TOLERANCE_MS", "protocol_timing", "series_slice_timing"]

#: Spans of slice times closer than this (ms) count as equal: the scanner's times are quantized to 2.5 ms.
SPAN_TOLERANCE_MS: Final = 1.0
#: A volume whose span of slice times is off the chosen one by more than this fraction is reported.
FAULT_FRACTION: Final = 0.1


def series_slice_timing(
    volumes: Sequence[VolumeInfo], files: Sequence[str], location: str
) -> tuple[tuple[float, ...] | None, list[tuple[type[MvlWarning], str]]]:
    """The slice timing of a series (see the module) and the warnings about faulty volumes.

    Parameters
    ----------
    volumes : sequence of VolumeInfo
        The volume table, in volume order.
    files : sequence of str
        A file of each volume, for messages.
    location : str
        The input, for messages.

    Returns
    -------
    timing : tuple of float or None
        Ms after the first slice, one per slice in the order of the slice axis; None when
        the first volume states none.
    warnings : list of (type, str)

    Examples
    --------
    >>> from mvl.dicom.volumes import VolumeInfo
    >>> faulty = [VolumeInfo(0, slice_timing=(0.0, 4880.0)), VolumeInfo(1, slice_timing=(0.0, 1220.0))]
    >>> timing, warnings = series_slice_timing(faulty, ["a.dcm", "b.dcm"], "run")
    >>> timing, warnings[0][1].split(";")[0]
    ((0.0, 1220.0), 'run: the slice times of volume 1 (a.dcm) span 4880 ms, those of volume 2 span 1220 ms')
    """
    if not volumes or volumes[0].slice_timing is None:
        return None, []
    chosen = volumes[0]
    if (
        len(volumes) > 1
        and volumes[1].slice_timing is not None
        and abs(_span(volumes[0]) - _span(volumes[1])) > SPAN_TOLERANCE_MS
    ):
        chosen = volumes[1]
    span = _span(chosen)
    faulty = [
        volume
        for volume in volumes
        if volume.slice_timing is not None and abs(_span(volume) - span) > FAULT_FRACTION * max(span, 1.0)
    ]
    warnings: list[tuple[type[MvlWarning], str]] = []
    if faulty:
        shown = ", ".join(f"volume {volume.index + 1} ({files[volume.index]})" for volume in faulty[:3])
        more = f" and {len(faulty) - 3} more" if len(faulty) > 3 else ""
        warnings.append(
            (
                FormatWarning,
                f"{location}: the slice times of {shown}{more} span {_span(faulty[0]):.6g} ms, those of volume "
                f"{chosen.index + 1} span {span:.6g} ms; the CSA headers of some multiband sequences give wrong "
                f"times for the first volume. The series' slice_timing is volume {chosen.index + 1}'s; each "
                "volume's own stays in volumes[...].slice_timing",
            )
        )
    return chosen.slice_timing, warnings


def protocol_timing(source: Source, first_volume: Sequence[Frame]) -> tuple[float, ...] | None:
    """The slice timing of a mosaic series whose files state none, from its first file's protocol.

    Ms after the first slice, one per slice in the order of the slice axis
    (:func:`mvl.dicom.protocol.read_protocol_timing`); None when `first_volume` is not
    a mosaic's or its protocol does not say.
    """
    tiles = [frame.tile for frame in first_volume]
    if not tiles or any(tile is None for tile in tiles):
        return None
    first = first_volume[0]
    assert first.tile is not None
    times = read_protocol_timing(source, first.header.member, first.tile.mosaic.count)
    return None if times is None else tuple(times[tile.number] for tile in tiles if tile is not None)


def _span(volume: VolumeInfo) -> float:
    times = volume.slice_timing or (0.0,)
    return max(times) - min(times)
