"""The ``mvl.formats`` entry point of mvl-dicom: light, pydicom is imported only when loading.

Registered in ``pyproject.toml`` as ``dicom = "mvl.dicom.plugin:FORMAT"``. :func:`sniff`
says yes for a DICOM file (``DICM`` at byte 128), a folder, or a zip or tar archive
(plain or gzip, bzip2, xz compressed); it never raises. :func:`parts` lists the series
of a folder tree or an archive for batch conversion.
"""

from __future__ import annotations

import os
from pathlib import Path

from mvl.coords.formats import LOAD_OPTIONS, Format, Inventory, Part

from .magic import kind_of

__all__ = ["FORMAT", "parts", "sniff"]


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


def parts(path: Path, *, recursive: bool = True) -> Inventory:
    """The series of a folder tree or an archive, and the other files of a tree, for batch conversion.

    Surveys `path` with :func:`mvl.dicom.survey` (headers only, every file read once).
    Each series with a (0020,000E) 'Series Instance UID' is one part, labelled with its
    patient, study and series; a series without one cannot be told apart from others
    safely and is left out.

    Parameters
    ----------
    path : pathlib.Path
        A folder or an archive.
    recursive : bool, optional
        Search the sub-folders of a folder (default).

    Returns
    -------
    Inventory
        The series, and the files of a folder tree that are not DICOM.

    Raises
    ------
    MvlError
        If `path` cannot be read or is refused (an archive member that climbs out, a bomb).

    Examples
    --------
    >>> import tempfile
    >>> from mvl.dicom.testing import write_series
    >>> folder = write_series(Path(tempfile.mkdtemp()) / "ct", shape=(4, 4, 3))
    >>> [(part.recursive, part.series_number) for part in parts(folder).parts]
    [(False, '1')]
    """
    from .listing import survey

    found = survey(path, recursive=recursive)
    return Inventory(
        tuple(
            Part(
                Path(info.path),
                uid=info.uid,
                recursive=info.recursive,
                patient_id=info.patient_id or "",
                study_date=info.date or "",
                study_description=info.study_description or "",
                study_uid=info.study_uid or "",
                series_number="" if info.number is None else str(info.number),
                series_description=info.description or "",
                modality=info.modality or "",
                protocol=info.protocol or "",
            )
            for info in found.series
            if info.uid is not None
        ),
        tuple(found.other_files),
    )


#: The DICOM format, read-only.
FORMAT = Format(
    name="dicom",
    description="DICOM series, multi-frame objects and zip/tar archives of them (read-only; pydicom)",
    suffixes=(".dcm", ".dicom", ".ima"),
    sniff=sniff,
    load="mvl.dicom.stack:open_stack",
    save=None,
    distribution="mvl-dicom",
    extra="dicom",
    load_options=LOAD_OPTIONS,  # open_stack takes every one (tests/test_plugin.py)
    parts="mvl.dicom.plugin:parts",
    sidecars="mvl.dicom.sidecar:sidecar_files",
)
