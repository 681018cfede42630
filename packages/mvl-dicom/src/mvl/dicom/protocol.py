"""Siemens' protocol text (ASCCONV), and the slice timing it implies for mosaics that state none.

The CSA series header, (0029,xx20) under the private creator ``SIEMENS CSA HEADER``,
holds the scanner's protocol as ``key = value`` lines between ``### ASCCONV BEGIN`` and
``### ASCCONV END ###`` (the ``MrPhoenixProtocol`` element of syngo VB and later; older
files name the element differently, so the text is found by its markers).

syngo VB12 and older mosaics carry no ``MosaicRefAcqTimes``. Their slice timing follows
from the protocol as dcm2niix derives it (checked against dcm2niix on files written with
each mode): the slices of one volume are spread evenly over the repetition time
(0018,0080) less ``lDelayTimeInTR`` (µs), in the order ``sSliceArray.ucMode`` names, one
tile after another in tile order:

- ``1``, ascending: tile 0 first;
- ``2``, descending: the last tile first;
- ``4``, interleaved: every second tile from tile 0 when the count is odd, from tile 1
  when it is even, then the others.

Other modes, and protocols without those keys, give no slice timing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import BinaryIO, Final

from mvl.coords import MvlError

from . import elements as el
from .headers import Header, scan_header
from .sources import Member, Source

__all__ = ["PROTOCOL_TAGS", "ascconv", "protocol_slice_timing", "read_protocol_timing"]

#: The private blocks searched for the CSA creator: (0029,0010) to (0029,0013).
_BLOCKS: Final = range(0x10, 0x14)
_CREATOR: Final = "SIEMENS CSA HEADER"
_REPETITION_TIME: Final = 0x00180080
#: What :func:`read_protocol_timing` keeps of the file it reads again: the creators, the CSA series headers, the TR.
PROTOCOL_TAGS: Final = frozenset(
    {0x00290000 | block for block in _BLOCKS}
    | {0x00290000 | block << 8 | 0x20 for block in _BLOCKS}
    | {_REPETITION_TIME}
)
_BEGIN: Final = b"### ASCCONV BEGIN"
_END: Final = b"### ASCCONV END"
_LINE: Final = re.compile(r"^\s*([A-Za-z_][\w.\[\]]*)\s*=\s*(.*?)\s*$")
_ASCENDING, _DESCENDING, _INTERLEAVED = 1, 2, 4


def ascconv(data: bytes) -> dict[str, str]:
    """The ``key = value`` lines of the first ASCCONV block in `data` (empty when there is none).

    Values are kept as written (numbers in decimal or ``0x`` hexadecimal, quoted text);
    comments after ``#`` are dropped.

    Examples
    --------
    >>> ascconv(b'### ASCCONV BEGIN ###\\nsSliceArray.ucMode = 0x4  # interleaved\\nalTR[0] = 2000000\\n'
    ...         b'### ASCCONV END ###')
    {'sSliceArray.ucMode': '0x4', 'alTR[0]': '2000000'}
    """
    start = data.find(_BEGIN)
    if start < 0:
        return {}
    end = data.find(_END, start)
    block = data[start : end if end >= 0 else len(data)].decode("latin-1")
    lines: dict[str, str] = {}
    for line in block.splitlines()[1:]:
        match = _LINE.match(line.split("#", 1)[0])
        if match:
            lines.setdefault(match.group(1), match.group(2))
    return lines


def _integer(lines: Mapping[str, str], key: str) -> int | None:
    text = lines.get(key)
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def protocol_slice_timing(
    lines: Mapping[str, str], count: int, repetition_ms: float | None
) -> tuple[float, ...] | None:
    """Each tile's acquisition time (ms, tile order) from a protocol's slice mode (see the module), or None.

    Examples
    --------
    >>> protocol_slice_timing({"sSliceArray.ucMode": "0x4"}, 5, 2000.0)
    (0.0, 1200.0, 400.0, 1600.0, 800.0)
    >>> protocol_slice_timing({"sSliceArray.ucMode": "0x1", "lDelayTimeInTR": "500000"}, 5, 2000.0)
    (0.0, 300.0, 600.0, 900.0, 1200.0)
    """
    mode = _integer(lines, "sSliceArray.ucMode")
    if repetition_ms is None or repetition_ms <= 0 or count < 1 or mode not in (_ASCENDING, _DESCENDING, _INTERLEAVED):
        return None
    delay_ms = (_integer(lines, "lDelayTimeInTR") or 0) / 1000.0
    step = (repetition_ms - delay_ms) / count
    if step <= 0:
        return None
    if mode == _ASCENDING:
        order = list(range(count))
    elif mode == _DESCENDING:
        order = list(range(count - 1, -1, -1))
    else:
        first = 0 if count % 2 else 1
        order = [*range(first, count, 2), *range(1 - first, count, 2)]
    times = [0.0] * count
    for rank, tile in enumerate(order):
        times[tile] = rank * step
    return tuple(times)


def read_protocol_timing(source: Source, member: Member, count: int) -> tuple[float, ...] | None:
    """The protocol's slice timing (tile order, ms) of one mosaic file, read again for it; None if it states none.

    Reads the file's header once more, keeping only :data:`PROTOCOL_TAGS` (the scan of a
    series does not keep the long CSA series header of every file). An unreadable header
    gives None: slice timing is metadata, and the scan has already read the file.
    """
    found: list[Header | None] = []

    def read(member: Member, stream: BinaryIO) -> None:
        size = stream.seek(0, 2)

        def prefix(length: int) -> bytes:
            stream.seek(0)
            return stream.read(length)

        found.append(scan_header(member, prefix, size, keep=PROTOCOL_TAGS, keep_header=False))

    try:
        source.read([member], read, 1)
    except (OSError, MvlError):
        return None
    header = found[0] if found else None
    if header is None:
        return None
    for block in _BLOCKS:
        if el.decode_text(header.values.get(0x00290000 | block)) == _CREATOR:
            lines = ascconv(header.values.get(0x00290000 | block << 8 | 0x20) or b"")
            if lines:
                repetition = el.first(header.floats(_REPETITION_TIME))
                return protocol_slice_timing(lines, count, repetition)
    return None
