"""The ``mvl.formats`` entry point of mvl-nifti: light, imports neither nibabel nor numpy.

Registered in ``pyproject.toml`` as::

    [project.entry-points."mvl.formats"]
    nifti = "mvl.nifti.plugin:FORMAT"

Examples
--------
>>> FORMAT.name, FORMAT.matches_suffix("scan.NII.GZ")
('nifti', True)
>>> FORMAT.matches_suffix("volume.nrrd")
False
"""

from __future__ import annotations

import os
from pathlib import Path

from mvl.coords.formats import THREADS, Format, Inventory, Part

from .sniffing import pair_paths, sniff

__all__ = ["FORMAT", "parts"]


def parts(path: str | os.PathLike[str], *, recursive: bool = True) -> Inventory:
    """The inputs a NIfTI file is for batch conversion: itself, or none for the image half of a pair.

    The ``.img`` (``.img.gz``) of a ``.hdr``/``.img`` pair belongs to the input its
    header is, so a batch converts the pair once.

    Parameters
    ----------
    path : str or os.PathLike
        A file :func:`~mvl.nifti.sniffing.sniff` recognised.
    recursive : bool, optional
        Ignored (a file has no sub-folders).

    Returns
    -------
    Inventory

    Examples
    --------
    >>> [part.path.name for part in parts("scan.hdr").parts], parts("scan.IMG").parts
    (['scan.hdr'], ())
    """
    candidate = Path(path)
    pair = pair_paths(candidate)
    if pair is not None and candidate == pair[1]:
        return Inventory()
    return Inventory((Part(candidate),))


#: NIfTI-1 and NIfTI-2, single files and ``.hdr``/``.img`` pairs, plain or gzip-compressed.
FORMAT = Format(
    name="nifti",
    description="NIfTI-1 and NIfTI-2 (.nii, .nii.gz, .hdr/.img pairs)",
    suffixes=(".nii.gz", ".nii", ".hdr.gz", ".img.gz", ".hdr", ".img"),
    sniff=sniff,
    load="mvl.nifti.loading:open_image",
    save="mvl.nifti.saving:save_volume",
    save_suffixes=(".nii.gz", ".nii", ".hdr.gz", ".img.gz", ".hdr", ".img"),
    distribution="mvl-nifti",
    extra="nifti",
    save_options=frozenset({THREADS}),
    parts="mvl.nifti.plugin:parts",
)
