"""`Format`: how a format package announces itself to ``mvloader.load``, ``save``, ``mvl`` and batch.

A format package registers one :class:`Format` under the entry-point group
``mvl.formats`` in its ``pyproject.toml``::

    [project.entry-points."mvl.formats"]
    nifti = "mvl.nifti.plugin:FORMAT"

The module named there must stay light: importing it must not import the imaging
library. Loading, saving and listing parts are named as ``"module:function"`` strings and
imported only when used, so that finding the format of a file costs milliseconds. A
third-party package adds a format the same way; the umbrella ``mvloader`` learns
everything it needs about a format from its record, and never names one.

Options
    Every saver accepts ``src_order`` (True: the voxels in source order; False: aligned
    to the volume's ``system``). The other options a format understands are declared,
    so that callers pass them only where they mean something:

    ============================  ========================================================
    :data:`SRC_SYSTEM`            save option ``src_system``: True writes the world in the
                                  volume's ``src_system``, False in its ``system`` (a
                                  format that states its world system, such as NRRD's
                                  ``space``)
    :data:`THREADS`               save option ``threads``: the compression threads the
                                  saver may use (passed on to
                                  :func:`mvl.coords.compression.write_gzip`)
    :data:`SERIES_UID`            load option ``series_uid``: which of the series at a
                                  path
    :data:`RECURSIVE`             load option ``recursive``: whether the series' files lie
                                  in sub-folders of the path
    :data:`PROGRESS`              load option ``progress``: a ``progress(phase, done,
                                  total)`` callback for long loads
    :data:`SELECT`                load option ``select``: keep the images whose attributes
                                  have these values (a mapping of names to values)
    :data:`SKIP_BROKEN`           load option ``skip_broken``: skip unreadable files,
                                  warning
    ``ALLOW_*``                   load options ``allow_incomplete_volumes``,
                                  ``allow_mixed_orientations``,
                                  ``allow_nonuniform_spacing``: load what the checks
                                  refuse by default, warning
    :data:`SPACING_TOLERANCE`     load option ``spacing_tolerance``: the largest slice-
                                  position deviation accepted, as a fraction of the step
    :data:`PHILIPS_SCALING`       load option ``philips_scaling``: ``"standard"`` or
                                  ``"precise"`` values of Philips data
    ============================  ========================================================

Parts (batch discovery)
    An input's *parts* are the inputs a batch converts from it, each a :class:`Part`. A
    NIfTI file is one part, itself (the default: a format without a ``parts`` function);
    a DICOM folder tree or archive holds one part per series, found by its ``parts``
    function, which returns an :class:`Inventory`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "ALLOW_INCOMPLETE_VOLUMES",
    "ALLOW_MIXED_ORIENTATIONS",
    "ALLOW_NONUNIFORM_SPACING",
    "ENTRY_POINT_GROUP",
    "LOAD_OPTIONS",
    "PHILIPS_SCALING",
    "PROGRESS",
    "RECURSIVE",
    "SAVE_OPTIONS",
    "SELECT",
    "SERIES_UID",
    "SKIP_BROKEN",
    "SPACING_TOLERANCE",
    "SRC_SYSTEM",
    "THREADS",
    "Format",
    "Inventory",
    "Part",
]

#: The entry-point group that format packages register their :class:`Format` under.
ENTRY_POINT_GROUP = "mvl.formats"

#: Save option: write the world in ``src_system`` (True) or in ``system`` (False).
SRC_SYSTEM: Final = "src_system"
#: Save option: how many compression threads the saver may use.
THREADS: Final = "threads"
#: Load option: the series to load, of several at one path.
SERIES_UID: Final = "series_uid"
#: Load option: whether the files of the series lie in sub-folders of the path.
RECURSIVE: Final = "recursive"
#: Load option: a ``progress(phase, done, total)`` callback.
PROGRESS: Final = "progress"
#: Load option: keep the images whose attributes have these values.
SELECT: Final = "select"
#: Load option: skip unreadable files with a warning.
SKIP_BROKEN: Final = "skip_broken"
#: Load option: keep the complete volumes of a series whose other volumes lack images.
ALLOW_INCOMPLETE_VOLUMES: Final = "allow_incomplete_volumes"
#: Load option: keep the largest group of images with one orientation.
ALLOW_MIXED_ORIENTATIONS: Final = "allow_mixed_orientations"
#: Load option: load unevenly spaced slices with their average step.
ALLOW_NONUNIFORM_SPACING: Final = "allow_nonuniform_spacing"
#: Load option: the largest deviation of a slice position, as a fraction of the step.
SPACING_TOLERANCE: Final = "spacing_tolerance"
#: Load option: ``"standard"`` or ``"precise"`` values of Philips data.
PHILIPS_SCALING: Final = "philips_scaling"
#: The save options a :class:`Format` may declare.
SAVE_OPTIONS: Final = frozenset({SRC_SYSTEM, THREADS})
#: The load options a :class:`Format` may declare.
LOAD_OPTIONS: Final = frozenset(
    {
        SERIES_UID,
        RECURSIVE,
        PROGRESS,
        SELECT,
        SKIP_BROKEN,
        ALLOW_INCOMPLETE_VOLUMES,
        ALLOW_MIXED_ORIENTATIONS,
        ALLOW_NONUNIFORM_SPACING,
        SPACING_TOLERANCE,
        PHILIPS_SCALING,
    }
)


@dataclass(frozen=True)
class Part:
    """One input of a batch conversion, as a format's ``parts`` function found it.

    A part without `uid` is the whole of `path` (a NIfTI file), named after its path. A
    part with a `uid` is one of several inputs at `path` (a series of a DICOM folder or
    archive): it is loaded with ``series_uid=uid`` and ``recursive=recursive`` where the
    format declares those options, and its output is named
    ``patient/study/series`` from the labels below.

    Parameters
    ----------
    path : pathlib.Path
        What to load it from: a file, a folder or an archive.
    uid : str, optional
        Which of the inputs at `path` it is; empty for all of `path`.
    recursive : bool, optional
        Whether its files lie in sub-folders of `path`.
    patient_id, study_date, study_description, study_uid, series_number, series_description : str, optional
        Labels for its output name; empty ones get a placeholder.
    modality, protocol : str, optional
        More labels a batch's name template may use (``{modality}``, ``{protocol}``).

    Examples
    --------
    >>> Part(Path("scans/t1.nii.gz")).uid
    ''
    """

    path: Path
    uid: str = ""
    recursive: bool = False
    patient_id: str = ""
    study_date: str = ""
    study_description: str = ""
    study_uid: str = ""
    series_number: str = ""
    series_description: str = ""
    modality: str = ""
    protocol: str = ""


@dataclass(frozen=True)
class Inventory:
    """What a format's ``parts`` function found at a path.

    Parameters
    ----------
    parts : tuple of Part
        The inputs found, in a stable order.
    other_files : tuple of pathlib.Path, optional
        For a folder: the regular files under it that the format does not read, so
        that other formats can look at them without a second walk of the tree.
    """

    parts: tuple[Part, ...] = ()
    other_files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Format:
    """A loadable (and maybe savable) file format.

    The first eight fields are positional, as they always were; the others have
    defaults, so a record written for an older ``mvl-coords`` keeps working.

    Parameters
    ----------
    name : str
        Short name, e.g. ``"nifti"``; also the ``format=`` users may pass.
    description : str
        One line for listings.
    suffixes : tuple of str
        Lower-case endings of paths this format reads, e.g. ``(".nii.gz", ".nii")``.
    sniff : callable
        ``sniff(path) -> bool``: whether `path` holds this format, judged from its
        content (magic bytes, read with :func:`mvl.coords.heads.peek`) and kind (file,
        folder, archive). Cheap, light imports only, and never raises for unreadable
        input: it returns False.
    load : str
        ``"module:function"`` of the loader, called as ``load(path, system=...,
        **options)`` and returning a :class:`~mvl.coords.Volume`.
    save : str, optional
        ``"module:function"`` of the saver, called as ``save(path, volume,
        src_order=..., **options)``; None for read-only formats.
    save_suffixes : tuple of str, optional
        Endings that select this format when saving, e.g. ``(".nii.gz", ".nii")``.
    distribution : str, optional
        The distribution that provides the format, for messages.
    extra : str, optional
        The extra of the ``mvloader`` distribution that installs it
        (``pip install "mvloader[<extra>]"``); empty for a format installed on its own.
    save_options : frozenset of str, optional
        The options of :data:`SAVE_OPTIONS` the saver understands besides ``src_order``.
    load_options : frozenset of str, optional
        The options of :data:`LOAD_OPTIONS` the loader understands.
    parts : str, optional
        ``"module:function"`` listing the inputs a path holds for batch conversion,
        called as ``parts(path, recursive=...)`` and returning an :class:`Inventory`.
        A format that reads folder trees (its `sniff` says yes to a folder) must have
        one. None: every file the format sniffs is one input (see :meth:`find_parts`).
    sidecars : str, optional
        ``"module:function"`` of the files a conversion writes beside the output of a
        volume this format loaded, called as ``sidecars(volume, aligned=..., provenance=...)``
        and returning ``{ending: text}``, e.g. ``{".json": ..., ".bval": ..., ".bvec": ...}``
        (``aligned``: the output holds ``aligned_data``; ``provenance``: keys the converter
        adds to a JSON sidecar). None: nothing beside the output (see :meth:`sidecar_files`).

    Examples
    --------
    >>> fmt = Format("toy", "a toy format", (".toy",), lambda path: False, "json:loads", save_options={THREADS})
    >>> fmt.matches_suffix("scan.TOY"), THREADS in fmt.save_options
    (True, True)
    >>> fmt.loader() is __import__("json").loads
    True
    >>> fmt.find_parts(Path("scan.toy")).parts
    (Part(path=PosixPath('scan.toy'), uid='', ...),)
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    sniff: Callable[[Path], bool]
    load: str
    save: str | None = None
    save_suffixes: tuple[str, ...] = ()
    distribution: str = ""
    extra: str = ""
    save_options: frozenset[str] = field(default_factory=frozenset)
    load_options: frozenset[str] = field(default_factory=frozenset)
    parts: str | None = None
    sidecars: str | None = None

    def __post_init__(self) -> None:
        # Sets given as any collection become frozensets: the record stays hashable.
        object.__setattr__(self, "save_options", frozenset(self.save_options))
        object.__setattr__(self, "load_options", frozenset(self.load_options))

    def matches_suffix(self, path: str | os.PathLike[str], *, saving: bool = False) -> bool:
        """Whether the name of `path` ends in one of the (save) suffixes, ignoring case."""
        name = Path(path).name.lower()
        return any(name.endswith(suffix) for suffix in (self.save_suffixes if saving else self.suffixes))

    def loader(self) -> Callable[..., Any]:
        """Import and return the load function."""
        return _resolve(self.load)

    def saver(self) -> Callable[..., Any] | None:
        """Import and return the save function, or None for a read-only format."""
        return None if self.save is None else _resolve(self.save)

    def find_parts(self, path: str | os.PathLike[str], *, recursive: bool = True) -> Inventory:
        """The inputs `path` holds for batch conversion: this format's `parts`, or `path` itself.

        Raises
        ------
        MvlError
            Whatever the `parts` function raises for input it cannot read.
        """
        if self.parts is None:
            return Inventory((Part(Path(path)),))
        inventory: Inventory = _resolve(self.parts)(Path(path), recursive=recursive)
        return inventory

    def sidecar_files(
        self, volume: Any, *, aligned: bool = False, provenance: Mapping[str, Any] | None = None
    ) -> dict[str, str]:
        """The files to write beside an output of `volume` (loaded by this format): ``{ending: text}``.

        Empty for a format without `sidecars`.

        Examples
        --------
        >>> Format("toy", "toy", (".toy",), lambda path: False, "json:loads").sidecar_files(None)
        {}
        """
        if self.sidecars is None:
            return {}
        files: dict[str, str] = _resolve(self.sidecars)(volume, aligned=aligned, provenance=dict(provenance or {}))
        return files

    def accepts(self, options: Mapping[str, Any], *, saving: bool = False) -> dict[str, Any]:
        """The items of `options` this format's loader (or saver) understands.

        Examples
        --------
        >>> fmt = Format("toy", "toy", (".toy",), lambda path: False, "json:loads", load_options={SERIES_UID})
        >>> fmt.accepts({"series_uid": "1.2", "recursive": True})
        {'series_uid': '1.2'}
        """
        known = self.save_options if saving else self.load_options
        return {name: value for name, value in options.items() if name in known}


def _resolve(target: str) -> Callable[..., Any]:
    module_name, _, attribute = target.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
    return function
