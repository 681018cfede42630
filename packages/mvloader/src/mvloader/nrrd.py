"""Compatibility: the original ``mvloader.nrrd`` functions, backed by :mod:`mvl.nrrd`.

Needs ``pip install "mvloader[nrrd]"``; importing this module without it raises
:class:`~mvl.coords.MissingDependencyError` with that hint.
"""

from __future__ import annotations

import os
from typing import Any

from mvl.coords import Volume

from ._compat import report, require

_nrrd = require("mvl.nrrd", "nrrd")
save_image = _nrrd.save_image
save_volume = _nrrd.save_volume

__all__ = ["open_image", "save_image", "save_volume"]


def open_image(path: str | os.PathLike[str], verbose: bool = True, **options: Any) -> Volume:
    """Load an NRRD image (see :func:`mvl.nrrd.open_image`); `verbose` logs instead of printing."""
    volume: Volume = _nrrd.open_image(path, **options)
    if verbose:
        report(path, volume)
    return volume
