"""The ``mvl.formats`` entry point of mvl-nrrd: light, it does not import pynrrd.

Registered in ``pyproject.toml`` as ``nrrd = "mvl.nrrd.plugin:FORMAT"``; ``mvloader.load``
and ``mvloader.save`` find NRRD files through it (see :mod:`mvl.coords.formats`).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from mvl.coords.formats import Format

__all__ = ["FORMAT", "sniff"]

_MAGIC = re.compile(rb"NRRD000[0-9]")


def sniff(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a regular file that starts with an NRRD magic (``NRRD0001`` ...).

    Never raises: anything unreadable, and anything that is not a regular file (a
    folder, a FIFO, a device), is not NRRD.

    Examples
    --------
    >>> sniff("/no/such/file.nrrd"), sniff("/dev/zero")
    (False, False)
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as stream:
            return _MAGIC.fullmatch(stream.read(8)) is not None
    except Exception:  # sniffing must never fail, whatever the path is
        return False


def _sniff(path: Path) -> bool:
    return sniff(path)


#: NRRD, attached (``.nrrd``) or detached (``.nhdr`` with its data file).
FORMAT = Format(
    name="nrrd",
    description="NRRD: nearly raw raster data (.nrrd, or .nhdr with a data file)",
    suffixes=(".nrrd", ".nhdr"),
    sniff=_sniff,
    load="mvl.nrrd.reader:open_image",
    save="mvl.nrrd.writer:save_volume",
    save_suffixes=(".nrrd", ".nhdr"),
    distribution="mvl-nrrd",
)
