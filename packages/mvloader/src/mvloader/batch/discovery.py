"""Finding what a batch converts: the parts of every input, as the installed formats name them.

The format that reads folder trees (DICOM, through :func:`mvl.dicom.survey`) lists the
tree's series and the files it does not read; each of those files belongs to the first
installed format whose ``sniff`` claims it, whose parts it then is (see
:meth:`mvl.coords.formats.Format.find_parts`: a NIfTI file is one input, an archive of
DICOM files one per series). Nothing here names a format.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import Counter
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path

from mvl.coords import MvlError
from mvl.coords.errors import warn
from mvl.coords.formats import Format, Part
from mvl.coords.heads import peek

from .. import registry
from .items import Item
from .naming import DEFAULT_NAMES, check_template, dicom_output_name, distinct_names, file_output_name

__all__ = ["Discovery", "discover", "discover_all"]

_log = logging.getLogger(__name__)

#: Split the tree until it has at least this many parts to survey side by side, going at
#: most `_MAX_SPLIT_DEPTH` folders deep.
_MIN_PARTS = 8
_MAX_SPLIT_DEPTH = 3


@dataclass(frozen=True)
class Discovery:
    """What a tree holds: its inputs, and the files of our formats that no installed package reads.

    Attributes
    ----------
    items : list of Item
        As :func:`discover` returns them.
    unread : dict of str to int
        File counts by what they hold and the install that reads them
        (``'DICOM (no dicom reader is installed; pip install "mvloader[dicom]")'``).
    """

    items: list[Item]
    unread: dict[str, int]


def discover(
    root: Path,
    suffix: str,
    *,
    exclude: Path | None = None,
    executor: Executor | None = None,
    names: str = DEFAULT_NAMES,
) -> list[Item]:
    """Every convertible input under `root` (:func:`discover_all`'s items)."""
    return discover_all(root, suffix, exclude=exclude, executor=executor, names=names).items


@dataclass(frozen=True)
class _Naming:
    """How outputs are named: their ending, and the template of a series' name (:mod:`.naming`)."""

    suffix: str
    template: str = DEFAULT_NAMES


def discover_all(
    root: Path,
    suffix: str,
    *,
    exclude: Path | None = None,
    executor: Executor | None = None,
    names: str = DEFAULT_NAMES,
) -> Discovery:
    """Return every convertible input under `root`, in a stable order, each with its own output name.

    The installed format that reads folder trees (mvl-dicom: :func:`mvl.dicom.survey`,
    headers only) lists the series in the tree; the files it reports as not its own
    are then classified by content, so every file is read once. A file counts when an
    installed format recognises it, whatever its name; it is then one input, or as
    many as that format finds in it (the series of an archive), or none (an Analyze
    ``.img`` belongs to its ``.hdr``'s entry, a detached NRRD data file to its
    header's). Files under `exclude` (the output folder, when it lies inside `root`)
    are ignored. A DICOM series is named by the template `names` (:mod:`.naming`; a
    ``ValueError`` for an unknown placeholder).

    With `executor` (a process pool), the parts of the tree (its own files and its
    sub-folders, split further when there are few) are surveyed side by side on it. The
    result is the same as surveying the tree at once: when a series has files in two
    parts, the whole tree is surveyed again in this process.

    Two inputs never share an output name: when their names would be the same, the
    input whose key sorts first keeps it and the others get a short hash of their key
    before the ending.
    """
    outside = _Outside(exclude)
    naming = _Naming(suffix, check_template(names))
    tree = _tree_format(root)
    unread: Counter[str] = Counter()
    if tree is None:
        _log.info("no installed format reads folder trees: only the files under %s are converted", root)
        items = _classify(root, _regular_files(root, outside), naming, outside, unread)
    else:
        found = None if executor is None else _side_by_side(root, tree.name, naming, outside, executor)
        if found is None:
            found = _discover_part(root, root, True, tree.name, naming, outside)
        items, unread = found.items, Counter(found.unread)
    items.sort(key=lambda item: item.key)
    distinct = distinct_names([(item.key, item.output) for item in items], (suffix,))
    named = [
        item if name == item.output else replace(item, output=name) for item, name in zip(items, distinct, strict=True)
    ]
    return Discovery(named, dict(unread))


def _tree_format(root: Path) -> Format | None:
    """The first installed format that lists the parts of a folder tree (it claims `root`)."""
    return next(
        (fmt for fmt in registry.installed_formats().values() if fmt.parts is not None and registry.sniffs(fmt, root)),
        None,
    )


@dataclass(frozen=True)
class _Found:
    """What one part of the tree holds."""

    items: list[Item]
    folder_series: list[str]  # UIDs of the series found in its folders (not in archives)
    warnings: list[tuple[type[Warning], str]]
    unread: dict[str, int] = field(default_factory=dict)  # files of formats not installed (see Discovery)


def _discover_part(root: Path, folder: Path, recursive: bool, tree: str, naming: _Naming, outside: _Outside) -> _Found:
    """Inputs in `folder` (and its sub-folders when `recursive`), as format `tree` lists them, relative to `root`."""
    inventory = registry.installed_formats()[tree].find_parts(folder, recursive=recursive)
    items = _part_items(root, tree, inventory.parts, naming, outside)
    folder_series = [item.series_uid for item in items if item.series_uid]
    unread: Counter[str] = Counter()
    items += _classify(root, [path for path in inventory.other_files if outside(path)], naming, outside, unread)
    return _Found(items, folder_series, [], dict(unread))


def _discover_part_in_worker(
    root: Path, folder: Path, recursive: bool, tree: str, naming: _Naming, outside: _Outside
) -> _Found:
    """:func:`_discover_part` in a worker process: its warnings travel back with the result."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = _discover_part(root, folder, recursive, tree, naming, outside)
    return replace(found, warnings=[(warning.category, str(warning.message)) for warning in caught])


def _side_by_side(root: Path, tree: str, naming: _Naming, outside: _Outside, executor: Executor) -> _Found | None:
    """The parts of `root` surveyed on `executor`; None when that cannot give the answer of one survey."""
    parts = _parts(root, outside)
    if len(parts) < 2:
        return None
    try:
        calls = [(root, folder, recursive, tree, naming, outside) for folder, recursive in parts]
        chunk = max(1, len(calls) // 64)  # a few parts per message when there are thousands
        results = list(executor.map(_discover_part_in_worker, *zip(*calls, strict=True), chunksize=chunk))
    except Exception as error:  # an unreadable part, a lost worker: the one survey here says what is wrong
        _log.debug("surveying %s in parts failed (%s); surveying it at once", root, error)
        return None
    seen = Counter(uid for result in results for uid in set(result.folder_series))
    if any(count > 1 for count in seen.values()):
        _log.debug("a series of %s has files in two parts; surveying it at once", root)
        return None
    unread: Counter[str] = Counter()
    for result in results:
        for category, message in result.warnings:
            warn(message, category)
        unread.update(result.unread)
    return _Found([item for result in results for item in result.items], [], [], dict(unread))


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


def _classify(
    root: Path, candidates: list[Path], naming: _Naming, outside: _Outside, unread_by_install: Counter[str]
) -> list[Item]:
    """The inputs among `candidates`: each file belongs to the first installed format that claims it.

    Files of our formats whose package is not installed are counted in `unread_by_install`
    (keys as :attr:`Discovery.unread`).
    """
    formats = list(registry.installed_formats().values())
    items: list[Item] = []
    unread: Counter[registry.KnownFormat] = Counter()  # files of known formats that are not installed
    for path in candidates:
        if path.is_symlink():
            continue
        fmt = next((fmt for fmt in formats if registry.sniffs(fmt, path)), None)
        if fmt is None:
            known = _known_format_of(path)
            if known is not None:
                unread[known] += 1
            continue
        relative = path.relative_to(root).as_posix()
        whole = Item(f"{fmt.name}:{relative}", relative, fmt.name, "", file_output_name(relative, naming.suffix))
        try:
            parts = fmt.find_parts(path).parts
        except MvlError:  # refused or unreadable: an input that fails, recorded when "converted"
            items.append(whole)
            continue
        itself = [part for part in parts if part.path == path and not part.uid]  # the file is one input
        items += [whole] if itself else []
        items += _part_items(root, fmt.name, [part for part in parts if part not in itself], naming, outside)
    for known, count in unread.items():
        unread_by_install[f"{known.title} (no {known.name} reader is installed; {known.install})"] += count
        _log.info(
            "%d file(s) under %s hold %s data, but no %s reader is installed (%s)",
            count,
            root,
            known.title,
            known.name,
            known.install,
        )
    return items


def _known_format_of(path: Path) -> registry.KnownFormat | None:
    """The known format whose signature the file `path` has, for the log; never raises."""
    try:
        head = peek(path)
    except OSError:
        return None
    return next((known for known in registry.KNOWN_FORMATS if known.signature(head)), None)


def _part_items(
    root: Path, fmt: str, parts: list[Part] | tuple[Part, ...], naming: _Naming, outside: _Outside
) -> list[Item]:
    """Items of the parts that format `fmt` found; a series (a part with a UID) is named patient/study/series."""
    items = []
    base = root.resolve()
    for part in parts:
        source = part.path.resolve()
        if not outside.resolved(source):
            continue
        relative = source.relative_to(base).as_posix()
        if not part.uid:
            items.append(Item(f"{fmt}:{relative}", relative, fmt, "", file_output_name(relative, naming.suffix)))
            continue
        output = dicom_output_name(
            patient_id=part.patient_id,
            study_date=part.study_date,
            study_description=part.study_description,
            study_uid=part.study_uid,
            series_number=part.series_number,
            series_description=part.series_description,
            series_uid=part.uid,
            suffix=naming.suffix,
            modality=part.modality,
            protocol=part.protocol,
            template=naming.template,
        )
        items.append(Item(f"{fmt}:{relative}#{part.uid}", relative, fmt, part.uid, output, part.recursive))
    return items
