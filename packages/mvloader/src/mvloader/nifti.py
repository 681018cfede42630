"""Compatibility: the original ``mvloader.nifti`` functions, backed by :mod:`mvl.nifti`.

Needs ``pip install "mvloader[nifti]"``; importing this module without it raises
:class:`~mvl.coords.MissingDependencyError` with that hint.
"""

from __future__ import annotations

import os
from typing import Any

from mvl.coords import Volume

from ._compat import report, require

_nifti = require("mvl.nifti", "nifti")
save_image = _nifti.save_image
save_volume = _nifti.save_volume

__all__ = ["open_image", "save_image", "save_volume"]


def open_image(path: str | os.PathLike[str], verbose: bool = True, squeeze: bool = False, **options: Any) -> Volume:
    """Load a NIfTI image (see :func:`mvl.nifti.open_image`); `verbose` logs instead of printing."""
    volume: Volume = _nifti.open_image(path, squeeze=squeeze, **options)
    if verbose:
        report(path, volume)
    return volume
