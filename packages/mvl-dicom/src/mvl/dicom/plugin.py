"""The ``mvl.formats`` entry point of mvl-dicom: light, pydicom is imported only when loading.

Registered in ``pyproject.toml`` as ``dicom = "mvl.dicom.plugin:FORMAT"``. :func:`sniff`
says yes for a DICOM file (``DICM`` at byte 128), a folder, or a zip or tar archive
(plain or gzip, bzip2, xz compressed); it never raises.
"""

from __future__ import annotations

import os
from pathlib import Path

from mvl.coords.formats import Format

from .magic import kind_of

__all__ = ["FORMAT", "sniff"]


def sniff(path: Path) -> bool:
    """Whether `path` is something :func:`mvl.dicom.open_stack` reads: a DICOM file, a folder or an archive.

    Examples
    --------
    >>> import tempfile
    >>> sniff(Path(tempfile.mkdtemp()))
    True
    >>> sniff(Path("/no/such/file.dcm"))
    False
    """
    try:
        if os.path.isdir(path):
            return True
        return kind_of(path) is not None
    except (OSError, ValueError):
        return False


#: The DICOM format, read-only.
FORMAT = Format(
    name="dicom",
    description="DICOM series, multi-frame objects and zip/tar archives of them (read-only; pydicom)",
    suffixes=(".dcm", ".dicom", ".ima"),
    sniff=sniff,
    load="mvl.dicom.stack:open_stack",
    save=None,
    distribution="mvl-dicom",
)
