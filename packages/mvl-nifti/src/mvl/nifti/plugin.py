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

from mvl.coords.formats import Format

from .sniffing import sniff

__all__ = ["FORMAT"]

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
)
