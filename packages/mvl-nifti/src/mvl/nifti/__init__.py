"""NIfTI-1 and NIfTI-2 for mvl: load into a :class:`~mvl.coords.Volume`, save exactly.

Loading (:mod:`mvl.nifti.loading`)
    :func:`open_image`: ``.nii``, ``.nii.gz`` and ``.hdr``/``.img`` pairs, recognised by
    content; ``src_system`` is RAS+ (NIfTI's world), ``src_object`` the nibabel image.
    Uncompressed voxels are memory-mapped copy-on-write; ``.nii.gz`` is inflated with
    every CRC-32 checked, through python-isal when installed (``mvl-nifti[fast]``).

Saving (:mod:`mvl.nifti.saving`)
    :func:`save_image` (array, matrix, spatial axes) and :func:`save_volume` (a
    Volume, in source or aligned order): the original mvloader signatures. Atomic;
    sform and qform set; NIfTI-2 when a dimension needs it.

Which matrix (:mod:`mvl.nifti.transformation`)
    nibabel's rule (sform, else qform, else a fallback with a warning), a choice to
    force either, and a warning when they disagree.

Header and scaling (:mod:`mvl.nifti.header`, :mod:`mvl.nifti.scaling`)
    The checks that refuse impossible headers before allocating; ``scl_slope`` and
    ``scl_inter`` as nibabel applies them.

Plugin (:mod:`mvl.nifti.plugin`, :mod:`mvl.nifti.sniffing`)
    The ``mvl.formats`` entry point and magic-byte sniffing, without importing nibabel.

Importing :mod:`mvl.nifti` is cheap: nibabel is imported when a function that needs it
is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .loading import open_image
    from .saving import save_image, save_volume

__all__ = ["__version__", "open_image", "save_image", "save_volume"]

_LAZY = {"open_image": "loading", "save_image": "saving", "save_volume": "saving"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
