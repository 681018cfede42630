"""Finding what a batch converts: DICOM series (through `mvl.dicom.survey`) and files."""

from __future__ import annotations

import logging
import os
import warnings
from collections import Counter
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mvl.coords import MvlError
from mvl.coords.errors import warn

from .. import registry
from .items import Item
from .naming import dicom_output_name, distinct_names, file_output_name

if TYPE_CHECKING:
    from mvl.dicom import SeriesInfo

__all__ = ["discover"]

_log = logging.getLogger(__name__)

#: Split the tree until it has at least this many parts to survey side by side, going at
#: most `_MAX_SPLIT_DEPTH` folders deep.
_MIN_PARTS = 8
_MAX_SPLIT_DEPTH = 3


def discover(root: Path, suffix: str, *, exclude: Path | None = None, executor: Executor | None = None) -> list[Item]:
    """Return every convertible input under `root`, in a stable order, each with its own output name.

    DICOM series in the folder tree and in archives inside it are found by
    :func:`mvl.dicom.survey` (headers only) when mvl-dicom is installed; the files it
    reports as not DICOM are then classified by content, so every file is read once.
    NIfTI and NRRD files count whatever their names (an Analyze ``.img`` or a detached
    NRRD data file belongs to its header's entry, not an input of its own), and so do
    files that an installed third-party format recognises. Files under `exclude` (the
    output folder, when it lies inside `root`) are ignored.

    With `executor` (a process pool), the parts of the tree (its own files and its
    sub-folders, split further when there are few) are surveyed side by side on it. The
    result is the same as surveying the tree at once: when a series has files in two
    parts, the whole tree is surveyed again in this process.

    Two inputs never share an output name: when their names would be the same, the
    input whose key sorts first keeps it and the others get a short hash of their key
    before the ending.
    """
    outside = _Outside(exclude)
    if "dicom" not in registry.installed_formats():
        _log.info("mvl-dicom is not installed: DICOM series under %s are not converted", root)
        items, archives = _classify(root, _regular_files(root, outside), suffix)
        if archives:
            _log.info("mvl-dicom is not installed: %d archive(s) under %s are not converted", len(archives), root)
    else:
        found = None if executor is None else _side_by_side(root, suffix, outside, executor)
        items = _discover_part(root, root, True, suffix, outside).items if found is None else found
    items.sort(key=lambda item: item.key)
    names = distinct_names([(item.key, item.output) for item in items])
    return [
        item if name == item.output else replace(item, output=name) for item, name in zip(items, names, strict=True)
    ]


@dataclass(frozen=True)
class _Found:
    """What one part of the tree holds."""

    items: list[Item]
    folder_series: list[str]  # UIDs of the series found in its folders (not in archives)
    warnings: list[tuple[type[Warning], str]]


def _discover_part(root: Path, folder: Path, recursive: bool, suffix: str, outside: _Outside) -> _Found:
    """Inputs in `folder` (and its sub-folders when `recursive`); paths relative to `root`."""
    from mvl.dicom import survey

    found = survey(folder, recursive=recursive)
    items = _series_items(root, found.series, suffix, outside)
    folder_series = [item.series_uid for item in items]
    files, archives = _classify(root, [path for path in found.other_files if outside(path)], suffix)
    items += files
    for archive in archives:
        try:
            series = survey(archive).series
        except MvlError:  # refused or unreadable: an input that fails, recorded when "converted"
            relative = archive.relative_to(root).as_posix()
            items.append(Item(f"dicom:{relative}", relative, "dicom", "", file_output_name(relative, suffix)))
            continue
        items += _series_items(root, series, suffix, outside)
    return _Found(items, folder_series, [])


def _discover_part_in_worker(root: Path, folder: Path, recursive: bool, suffix: str, outside: _Outside) -> _Found:
    """:func:`_discover_part` in a worker process: its warnings travel back with the result."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = _discover_part(root, folder, recursive, suffix, outside)
    return replace(found, warnings=[(warning.category, str(warning.message)) for warning in caught])


def _side_by_side(root: Path, suffix: str, outside: _Outside, executor: Executor) -> list[Item] | None:
    """The parts of `root` surveyed on `executor`; None when that cannot give the answer of one survey."""
    parts = _parts(root, outside)
    if len(parts) < 2:
        return None
    try:
        calls = [(root, folder, recursive, suffix, outside) for folder, recursive in parts]
        chunk = max(1, len(calls) // 64)  # a few parts per message when there are thousands
        results = list(executor.map(_discover_part_in_worker, *zip(*calls, strict=True), chunksize=chunk))
    except Exception as error:  # an unreadable part, a lost worker: the one survey here says what is wrong
        _log.debug("surveying %s in parts failed (%s); surveying it at once", root, error)
        return None
    seen = Counter(uid for result in results for uid in set(result.folder_series))
    if any(count > 1 for count in seen.values()):
        _log.debug("a series of %s has files in two parts; surveying it at once", root)
        return None
    for result in results:
        for category, message in result.warnings:
            warn(message, category)
    return [item for result in results for item in result.items]


def _parts(root: Path, outside: _Outside) -> list[tuple[Path, bool]]:
    """Disjoint parts that together hold every file a recursive survey of `root` reads.

    Each is ``(folder, recursive)``: a folder's own files, or a sub-folder's whole tree
    (symbolic links to folders are not followed, as the survey does not follow them).
    Empty when a folder cannot be listed: the survey of the whole tree reports that.
    """
    parts: list[tuple[Path, bool]] = [(root, True)]
    for _ in range(_MAX_SPLIT_DEPTH):
        trees = sum(recursive for _, recursive in parts)
        if trees == 0 or trees >= _MIN_PARTS:
            break
        split: list[tuple[Path, bool]] = []
        for folder, recursive in parts:
            if not recursive:
                split.append((folder, False))
                continue
            try:
                with os.scandir(folder) as scan:
                    entries = sorted(scan, key=lambda entry: entry.name)
                subfolders = [Path(entry.path) for entry in entries if entry.is_dir(follow_symlinks=False)]
                has_files = len(subfolders) < len(entries)  # anything else may be a file (or a link to one)
            except OSError:
                return []
            if has_files:
                split.append((folder, False))
            split += [(subfolder, True) for subfolder in subfolders if outside(subfolder)]
        parts = split
    return parts


class _Outside:
    """``outside(path)``: True unless `path` lies in the excluded folder."""

    def __init__(self, exclude: Path | None) -> None:
        self.prefix = None if exclude is None else str(exclude.resolve()) + os.sep

    def __call__(self, path: Path) -> bool:
        return self.resolved(path.resolve())

    def resolved(self, path: Path) -> bool:
        """The same for a path resolved already."""
        return self.prefix is None or not str(path).startswith(self.prefix)


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
    base = root.resolve()
    for info in series:
        uid = info.uid
        if uid is None:
            continue  # a series without a UID cannot be told apart from others safely
        source = Path(info.path).resolve()
        if not outside.resolved(source):
            continue
        relative = source.relative_to(base).as_posix()
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
