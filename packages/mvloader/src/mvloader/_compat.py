"""Helpers of the compatibility modules `mvloader.dicom`, `.nifti` and `.nrrd`."""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

from mvl.coords import MissingDependencyError, Volume

#: The original mvloader's format modules, kept as ``mvloader.dicom``, ``.nifti`` and ``.nrrd``.
FORMAT_MODULES = frozenset({"dicom", "nifti", "nrrd"})

_log = logging.getLogger("mvloader")


def require(module: str, extra: str) -> ModuleType:
    """Import a format package, or explain which extra installs it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and not module.startswith(error.name):
            raise  # the package is there, something it needs is not: show that
        raise MissingDependencyError(
            f'{module} is not installed; to read and write this format: pip install "mvloader[{extra}]"'
        ) from error


def report(path: object, volume: Volume) -> None:
    """What the original printed with ``verbose=True``; logged instead (logger ``mvloader``, level INFO)."""
    _log.info("loaded %s\n%r", path, volume)
