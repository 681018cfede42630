"""Finding what a batch converts: DICOM series (through `mvl.dicom.survey`) and files."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .. import registry
from .items import Item
from .naming import dicom_output_name, file_output_name

if TYPE_CHECKING:
    from mvl.dicom import SeriesInfo

__all__ = ["discover"]

_log = logging.getLogger(__name__)


def discover(root: Path, suffix: str, *, exclude: Path | None = None) -> list[Item]:
    """Return every convertible input under `root`, in a stable order.

    DICOM series in the folder tree and in archives inside it are found by
    :func:`mvl.dicom.survey` (headers only) when mvl-dicom is installed; the files it
    reports as not DICOM are then classified by content, so every file is read once.
    NIfTI and NRRD files count whatever their names (an Analyze ``.img`` or a detached
    NRRD data file belongs to its header's entry, not an input of its own), and so do
    files that an installed third-party format recognises. Files under `exclude` (the
    output folder, when it lies inside `root`) are ignored.
    """
    outside = _Outside(exclude)
    items: list[Item] = []
    if "dicom" in registry.installed_formats():
        from mvl.dicom import survey

        found = survey(root, recursive=True)
        items += _series_items(root, found.series, suffix, outside)
        candidates = [path for path in found.other_files if outside(path)]
    else:
        _log.info("mvl-dicom is not installed: DICOM series under %s are not converted", root)
        candidates = _regular_files(root, outside)
    files, archives = _classify(root, candidates, suffix)
    items += files
    for archive in archives:
        from mvl.dicom import survey

        items += _series_items(root, survey(archive).series, suffix, outside)
    return sorted(items, key=lambda item: item.key)


class _Outside:
    """``outside(path)``: True unless `path` lies in the excluded folder."""

    def __init__(self, exclude: Path | None) -> None:
        self.prefix = None if exclude is None else str(exclude.resolve()) + os.sep

    def __call__(self, path: Path) -> bool:
        return self.prefix is None or not str(path.resolve()).startswith(self.prefix)


def _regular_files(root: Path, outside: _Outside) -> list[Path]:
    found = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if outside(Path(folder, name)))
        found += [Path(folder, name) for name in sorted(names) if os.path.isfile(os.path.join(folder, name))]
    return found


def _classify(root: Path, candidates: list[Path], suffix: str) -> tuple[list[Item], list[Path]]:
    """File inputs (NIfTI, NRRD, third-party formats) and the archives among `candidates`."""
    others = [fmt for name, fmt in registry.installed_formats().items() if registry.is_third_party(name)]
    items: list[Item] = []
    archives: list[Path] = []
    for path in candidates:
        if path.is_symlink():
            continue
        kind = registry.content_kind(path)
        if kind == "archive":
            archives.append(path)
            continue
        if kind is None:  # a third-party format may claim it
            kind = next((fmt.name for fmt in others if registry.sniffs(fmt, path)), None)
        if kind is None or kind == "dicom":
            continue  # DICOM files are the survey's
        relative = path.relative_to(root).as_posix()
        items.append(Item(f"{kind}:{relative}", relative, kind, "", file_output_name(relative, suffix)))
    return items, archives


def _series_items(root: Path, series: list[SeriesInfo], suffix: str, outside: _Outside) -> list[Item]:
    items = []
    for info in series:
        source, uid = Path(info.path), info.uid
        if uid is None or not outside(source):
            continue  # a series without a UID cannot be told apart from others safely
        relative = source.resolve().relative_to(root.resolve()).as_posix()
        output = dicom_output_name(
            patient_id=info.patient_id or "",
            study_date=info.date or "",
            study_description=info.study_description or "",
            study_uid=info.study_uid or "",
            series_number="" if info.number is None else str(info.number),
            series_description=info.description or "",
            series_uid=uid,
            suffix=suffix,
        )
        items.append(Item(f"dicom:{relative}#{uid}", relative, "dicom", uid, output, info.recursive))
    return items
