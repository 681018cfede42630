"""The ``mvl.formats`` entry point of mvl-nrrd: light, it does not import pynrrd.

Registered in ``pyproject.toml`` as ``nrrd = "mvl.nrrd.plugin:FORMAT"``; ``mvloader.load``
and ``mvloader.save`` find NRRD files through it (see :mod:`mvl.coords.formats`).
"""

from __future__ import annotations

import os
import re

from mvl.coords.formats import SRC_SYSTEM, THREADS, Format
from mvl.coords.heads import peek

__all__ = ["FORMAT", "sniff"]

_MAGIC = re.compile(rb"NRRD000[0-9]")


def sniff(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a regular file that starts with an NRRD magic (``NRRD0001`` ...).

    Never raises: anything unreadable, and anything that is not a regular file (a
    folder, a FIFO, a device), is not NRRD. The magic must be stored as it is: a
    compressed file is not NRRD, whatever it holds.

    Examples
    --------
    >>> sniff("/no/such/file.nrrd"), sniff("/dev/zero")
    (False, False)
    """
    try:
        return _MAGIC.fullmatch(peek(path, 8, through=()).stored) is not None
    except Exception:  # sniffing must never fail, whatever the path is
        return False


#: NRRD, attached (``.nrrd``) or detached (``.nhdr`` with its data file).
FORMAT = Format(
    name="nrrd",
    description="NRRD: nearly raw raster data (.nrrd, or .nhdr with a data file)",
    suffixes=(".nrrd", ".nhdr"),
    sniff=sniff,
    load="mvl.nrrd.reader:open_image",
    save="mvl.nrrd.writer:save_volume",
    save_suffixes=(".nrrd", ".nhdr"),
    distribution="mvl-nrrd",
    extra="nrrd",
    save_options=frozenset({SRC_SYSTEM, THREADS}),
)
