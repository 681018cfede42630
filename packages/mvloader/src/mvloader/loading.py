"""`load` and `save`: one call for any format, found from the content and the name."""

from __future__ import annotations

import os
from typing import Any

from mvl.coords import Volume
from mvl.coords.errors import UnsupportedFormatError

from . import registry

__all__ = ["load", "save"]


def load(path: str | os.PathLike[str], *, system: str = "RAS", format: str | None = None, **options: Any) -> Volume:
    """Load a volume from a file, a folder or an archive, in any format mvloader reads.

    Parameters
    ----------
    path : str or os.PathLike
        A NIfTI file (``.nii``, ``.nii.gz``, ``.hdr``/``.img``), an NRRD file (``.nrrd``,
        ``.nhdr``), a DICOM file, a folder of DICOM files, or an archive of them. The
        format is found from the content (magic bytes) first and the name second, so a
        misnamed file loads all the same.
    system : str, optional
        The anatomical system to align to (any of the 48; default ``"RAS"``).
    format : str, optional
        Skip detection and use this format (``"nifti"``, ``"nrrd"``, ``"dicom"`` or a
        third-party format's name).
    **options
        Passed to the format's loader, e.g. ``series_uid=`` for DICOM or
        ``matrix="qform"`` for NIfTI; see each format's page.

    Returns
    -------
    Volume

    Raises
    ------
    InputError
        If the path does not exist or cannot be read as given.
    MissingDependencyError
        If the format's package is not installed; the message names the
        ``pip install "mvloader[...]"`` that brings it.
    UnsupportedFormatError
        If no format recognises the path.
    MvlError
        Whatever the format's loader raises for broken input.
    """
    if format is not None:
        formats = registry.installed_formats()
        if format not in formats:
            raise UnsupportedFormatError(
                f"no installed format is called {format!r}; installed: {', '.join(formats) or 'none'}", path=path
            )
        chosen = formats[format]
    else:
        chosen = registry.detect_format(path)
    volume: Volume = chosen.loader()(path, system=system, **options)
    return volume


def save(path: str | os.PathLike[str], volume: Volume, **options: Any) -> None:
    """Save a volume; the format follows from the file name ending.

    Parameters
    ----------
    path : str or os.PathLike
        ``.nii`` or ``.nii.gz`` for NIfTI, ``.nrrd`` or ``.nhdr`` (detached) for NRRD, or
        any ending an installed format saves (:func:`mvloader.registry.output_suffixes`).
    volume : Volume
        What to save.
    **options
        Passed to the format's saver, e.g. ``src_order=False`` to save the aligned view.

    Raises
    ------
    UnsupportedFormatError
        If the ending does not name a format that can save.
    MissingDependencyError
        If the format's package is not installed.
    SaveError
        If saving failed; the file at `path` is then as it was before.
    """
    saver = registry.format_for_saving(path).saver()
    if saver is None:  # pragma: no cover - format_for_saving only returns savable formats
        raise UnsupportedFormatError("this format cannot be saved", path=path)
    saver(path, volume, **options)
