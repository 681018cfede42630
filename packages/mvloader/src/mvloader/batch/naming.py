"""Predictable, collision-free, safe output names for batch conversion.

DICOM series become ``<patient>/<study>/<series>.<ext>``: the patient ID, the study
date and description, the series number and description, each sanitised, plus a short
hash of the Series Instance UID so that two series with the same description never
collide (the labels come from the format that found the series, see
:class:`mvl.coords.formats.Part`). Files (NIfTI, NRRD) keep their path relative to the
batch root, with the new ending in place of the one an installed format reads. Every
name is checked to stay inside the output folder, and no two inputs of a batch share
one (:func:`distinct_names`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from mvl.coords import SecurityError

from .. import registry

__all__ = ["dicom_output_name", "distinct_names", "file_output_name", "inside", "sanitise", "short_hash"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def sanitise(text: str, *, fallback: str = "unknown", limit: int = 64) -> str:
    """Return `text` as one safe path component: ASCII letters, digits and ``._+-`` only.

    Examples
    --------
    >>> sanitise("Thorax^CT 1.0 B31f / ../etc")
    'Thorax_CT_1.0_B31f_etc'
    >>> sanitise("..")
    'unknown'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"\.{2,}", "_", _UNSAFE.sub("_", ascii_text))  # no "..": never a way up
    cleaned = re.sub(r"_{2,}", "_", cleaned).strip("._-")[:limit].strip("._-")
    return cleaned or fallback


def short_hash(text: str, length: int = 8) -> str:
    """The first `length` hex digits of the SHA-256 of `text`.

    Examples
    --------
    >>> short_hash("1.2.3.4")
    '6694f83c'
    """
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def dicom_output_name(
    *,
    patient_id: str,
    study_date: str,
    study_description: str,
    study_uid: str,
    series_number: str,
    series_description: str,
    series_uid: str,
    suffix: str,
) -> str:
    """Return ``patient/study/series<suffix>`` for a DICOM series (POSIX, relative).

    Examples
    --------
    >>> dicom_output_name(patient_id="P01", study_date="20260101", study_description="CT Head",
    ...     study_uid="1.2.3", series_number="2", series_description="axial 1mm", series_uid="1.2.3.4",
    ...     suffix=".nii.gz")
    'P01/20260101_CT_Head_c47f5b18/002_axial_1mm_6694f83c.nii.gz'
    """
    patient = sanitise(patient_id, fallback="anonymous")
    study = "_".join(
        part for part in (sanitise(study_date, fallback=""), sanitise(study_description, fallback="")) if part
    )
    study = f"{study or 'study'}_{short_hash(study_uid)}"
    number = f"{int(series_number):03d}" if series_number.strip().lstrip("-").isdigit() else "000"
    series = f"{number}_{sanitise(series_description, fallback='series')}_{short_hash(series_uid)}"
    return str(PurePosixPath(patient, study, series + suffix))


def file_output_name(relative_source: str, suffix: str, endings: Iterable[str] | None = None) -> str:
    """Return the relative output name of a file input: its own path with `suffix` as ending.

    Parameters
    ----------
    relative_source : str
        The input's path relative to the batch root (POSIX separators).
    suffix : str
        The ending of the output, e.g. ``".nrrd"``.
    endings : iterable of str, optional
        The endings to replace (lower case; the longest that fits is taken); by default
        every ending an installed format reads (:func:`mvloader.registry.input_suffixes`).

    Examples
    --------
    >>> file_output_name("site A/scan.nii.gz", ".nrrd")
    'site_A/scan.nrrd'
    """
    parts = PurePosixPath(relative_source).parts
    name = parts[-1]
    lowered = name.lower()
    known = registry.input_suffixes() if endings is None else sorted(endings, key=len, reverse=True)
    ending = next((ending for ending in known if lowered.endswith(ending)), "")
    name = name[: len(name) - len(ending)]
    folders = [sanitise(part) for part in parts[:-1]]
    return str(PurePosixPath(*folders, sanitise(name) + suffix))


def inside(root: Path, relative: str) -> Path:
    """Return ``root / relative``, refusing anything that would leave `root`.

    Raises
    ------
    SecurityError
        If `relative` is absolute or climbs out of `root`.
    """
    candidate = (root / relative).resolve()
    if PurePosixPath(relative).is_absolute() or not candidate.is_relative_to(root.resolve()):
        raise SecurityError(f"output name {relative!r} would lie outside the output folder", path=root)
    return candidate


def distinct_names(keys_and_names: list[tuple[str, str]], endings: Iterable[str] | None = None) -> list[str]:
    """Output names, one per ``(key, name)`` in the order given, never two the same.

    Names are compared as a file system that ignores case would. Where names repeat,
    the first one keeps it and the others get ``_<short hash of their key>`` before
    the ending; give the pairs in a stable order (batch inputs are sorted by key).
    The ending is the longest of `endings` a name has; by default of the endings the
    installed formats save (:func:`mvloader.registry.output_suffixes`).

    Examples
    --------
    >>> distinct_names([("nifti:scan.nii", "scan.nii.gz"), ("nrrd:scan.nrrd", "scan.nii.gz")])
    ['scan.nii.gz', 'scan_9da85676.nii.gz']
    """
    known = sorted(registry.output_suffixes() if endings is None else endings, key=len, reverse=True)
    taken = {name.casefold() for _, name in keys_and_names}
    first: set[str] = set()
    result = []
    for key, name in keys_and_names:
        if name.casefold() not in first:
            first.add(name.casefold())
            result.append(name)
            continue
        path = PurePosixPath(name)
        ending = next((ending for ending in known if path.name.endswith(ending)), "")
        stem = path.name[: len(path.name) - len(ending)]
        unique = str(path.with_name(f"{stem}_{short_hash(key)}{ending}"))
        if unique.casefold() in taken:  # only if the tree holds such a name already: take the whole key hash
            unique = str(path.with_name(f"{stem}_{short_hash(key, 64)}{ending}"))
        taken.add(unique.casefold())
        result.append(unique)
    return result
