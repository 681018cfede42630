"""Predictable, collision-free, safe output names for batch conversion.

DICOM series are named by a template of placeholders, by default
:data:`DEFAULT_NAMES`, ``{patient_id}/{study_date}_{study_description}/{series_number}_{series_description}``
(``P01/20260101_CT_Head/002_axial_1mm.nii.gz``): readable, with no hash where names do
not collide. ``/`` separates folders; each placeholder's value, then each folder and file
name, is sanitised (:func:`sanitise`; an empty one becomes ``unnamed``, an empty patient
``anonymous``). The labels come from the format that found the series
(:class:`mvl.coords.formats.Part`); :data:`PLACEHOLDERS` lists them (``{series_hash}``
and ``{study_hash}``: short hashes of the UIDs). Files (NIfTI, NRRD) keep their path
relative to the batch root, with the new ending in place of the one an installed format
reads. Every name is checked to stay inside the output folder, and no two inputs of a
batch share one: :func:`distinct_names` adds a short hash of the input to all but the
first of those that would.
"""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from mvl.coords import SecurityError

from .. import registry

__all__ = [
    "DEFAULT_NAMES",
    "PLACEHOLDERS",
    "check_template",
    "dicom_output_name",
    "distinct_names",
    "file_output_name",
    "inside",
    "sanitise",
    "short_hash",
]

#: The default name template of a DICOM series' output.
DEFAULT_NAMES = "{patient_id}/{study_date}_{study_description}/{series_number}_{series_description}"
#: The placeholders a name template may use.
PLACEHOLDERS = (
    "patient_id",
    "study_date",
    "study_description",
    "series_number",
    "series_description",
    "protocol",
    "modality",
    "study_hash",
    "series_hash",
)

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


def check_template(template: str) -> str:
    """`template` if it is a name template of :data:`PLACEHOLDERS` only.

    Raises
    ------
    ValueError
        Naming the unknown placeholder (or the format error) and the ones there are.

    Examples
    --------
    >>> check_template("{series_number}_{protocol}")
    '{series_number}_{protocol}'
    >>> check_template("{series}")
    Traceback (most recent call last):
    ...
    ValueError: unknown placeholder {series} in the name template '{series}'; use {patient_id}, ...
    """
    known = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    try:
        fields = [field for _, field, spec, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as error:
        raise ValueError(f"the name template {template!r} is not valid ({error}); use {known}") from None
    for field in fields:
        if field not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{field}}} in the name template {template!r}; use {known}")
    if not fields:
        raise ValueError(f"the name template {template!r} has no placeholder; use {known}")
    return template


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
    modality: str = "",
    protocol: str = "",
    template: str = DEFAULT_NAMES,
) -> str:
    """Return the relative output name of a DICOM series (POSIX), by `template` (see the module).

    Examples
    --------
    >>> labels = dict(patient_id="P01", study_date="20260101", study_description="CT Head", study_uid="1.2.3",
    ...     series_number="2", series_description="axial 1mm", series_uid="1.2.3.4", suffix=".nii.gz")
    >>> dicom_output_name(**labels)
    'P01/20260101_CT_Head/002_axial_1mm.nii.gz'
    >>> dicom_output_name(**labels, protocol="t1_mprage", template="{patient_id}_{series_number}_{protocol}")
    'P01_002_t1_mprage.nii.gz'
    """
    number = f"{int(series_number):03d}" if series_number.strip().lstrip("-").isdigit() else "000"
    values = {
        "patient_id": sanitise(patient_id, fallback="anonymous"),
        "study_date": sanitise(study_date, fallback=""),
        "study_description": sanitise(study_description, fallback=""),
        "series_number": number,
        "series_description": sanitise(series_description, fallback=""),
        "protocol": sanitise(protocol, fallback=""),
        "modality": sanitise(modality, fallback=""),
        "study_hash": short_hash(study_uid),
        "series_hash": short_hash(series_uid),
    }
    folders = [
        sanitise(segment.format(**values), fallback="unnamed") for segment in check_template(template).split("/")
    ]
    return str(PurePosixPath(*folders)) + suffix


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
