"""mvloader: load and save medical image volumes in any anatomical coordinate system.

One call
    :func:`load` (NIfTI, NRRD, DICOM files, folders and archives; the format is found
    from the content) and :func:`save` (format from the file name ending), both
    returning or taking a :class:`~mvl.coords.Volume`.

Formats (:mod:`mvloader.registry`)
    Installed format packages register under the entry-point group ``mvl.formats``;
    ``pip install "mvloader[nifti]"`` (or ``[dicom]``, ``[nrrd]``, ``[all]``) adds ours.

The ``mvl`` command (:mod:`mvloader.cli`)
    ``mvl info``, ``mvl series``, ``mvl convert``, ``mvl preview``.

Compatibility with the original mvloader
    ``from mvloader.volume import Volume``, ``from mvloader import dicom, nifti, nrrd``
    and ``mvloader.anatomical_coords`` keep their names and signatures. The format
    modules are imported only when used, so ``mvloader.nifti`` works without pydicom.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mvl.coords import Volume

from ._compat import FORMAT_MODULES
from ._version import __version__
from .loading import load, save

__all__ = ["Volume", "__version__", "load", "save"]

_LAZY_MODULES = frozenset({"anatomical_coords", "cli", "preview", "registry", "volume"}) | FORMAT_MODULES


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'mvloader' has no attribute {name!r}")
