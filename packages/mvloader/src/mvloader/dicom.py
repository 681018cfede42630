"""Compatibility: the original ``mvloader.dicom`` functions, backed by :mod:`mvl.dicom`.

Needs ``pip install "mvloader[dicom]"``; importing this module without it raises
:class:`~mvl.coords.MissingDependencyError` with that hint.
"""

from __future__ import annotations

import os
from typing import Any

from mvl.coords import Volume

from ._compat import report, require

_dicom = require("mvl.dicom", "dicom")
list_series = _dicom.list_series

__all__ = ["list_series", "open_stack"]


def open_stack(path: str | os.PathLike[str], verbose: bool = True, sloppy: bool = False, **options: Any) -> Volume:
    """Load a DICOM series (see :func:`mvl.dicom.open_stack`); `verbose` logs instead of printing."""
    volume: Volume = _dicom.open_stack(path, sloppy=sloppy, **options)
    if verbose:
        report(path, volume)
    return volume
