"""One unit of batch work, and converting it: the function every worker runs."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mvl.coords.formats import RECURSIVE, SERIES_UID, SRC_SYSTEM, THREADS

from .. import registry
from ..loading import load, save
from ..sidecars import sidecar_files, write_sidecars
from .manifest import Record
from .naming import inside

__all__ = ["Item", "convert_item"]


@dataclass(frozen=True)
class Item:
    """An input to convert.

    Attributes
    ----------
    key : str
        Identity across runs (see :class:`~mvloader.batch.manifest.Record`).
    source : str
        Path relative to the batch root (POSIX separators).
    format : str
        The name of the format to load it as.
    series_uid : str
        Which series of `source` (a part of a DICOM folder tree or archive, see
        :class:`mvl.coords.formats.Part`); empty for all of it.
    output : str
        Output path relative to the output folder.
    recursive : bool
        Whether the series' files lie in sub-folders of `source`.
    """

    key: str
    source: str
    format: str
    series_uid: str
    output: str
    recursive: bool = False


def convert_item(
    item: Item,
    root: str,
    output_folder: str,
    system: str,
    sidecars: bool = True,
    load_options: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> Record:
    """Load one input and save it aligned to `system`; never raises, failures become records.

    Runs in worker processes (local or Dask): everything it needs is in its arguments,
    and it writes only its own output file (atomically). The manifest is the caller's.
    `sidecars`: also write the files the source format puts beside an output (a DICOM
    series' JSON sidecar, ``.bval``/``.bvec``; :mod:`mvloader.sidecars`). `threads` is the
    saver's compression thread budget, for formats that take one (``None``: the saver's default).
    `load_options` (``select``, ``skip_broken``, ...; :data:`mvl.coords.formats.LOAD_OPTIONS`)
    go to the loader of every input whose format takes them.
    """
    started = time.perf_counter()
    failed = Record(item.key, item.source, item.series_uid, item.output, status="failed", system=system)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            shape, spacing, target = _load_and_save(
                item, Path(root), Path(output_folder), system, sidecars, dict(load_options or {}), threads
            )
        # The volume is gone by now: releasing its memory counts as conversion time too.
        return replace(
            failed,
            status="done",
            shape=shape,
            spacing=spacing,
            warnings="; ".join(sorted({str(warning.message) for warning in caught})),
            output_bytes=target.stat().st_size,
            seconds=round(time.perf_counter() - started, 4),
        )
    except Exception as error:  # one bad input never stops the batch: it is recorded instead
        return replace(
            failed, error=f"{type(error).__name__}: {error}", seconds=round(time.perf_counter() - started, 4)
        )


def _load_and_save(
    item: Item,
    root: Path,
    output_folder: Path,
    system: str,
    sidecars: bool,
    load_options: dict[str, Any],
    threads: int | None,
) -> tuple[list[int], list[float], Path]:
    """Convert; return the aligned shape and spacing and the output path (the volume is dropped)."""
    source_format = registry.installed_formats().get(item.format)  # None: `load` says it is missing
    part = {**load_options, SERIES_UID: item.series_uid, RECURSIVE: item.recursive}
    options = {} if source_format is None else source_format.accepts(part)
    volume = load(root / item.source, system=system, format=item.format, **options)
    target = inside(output_folder, item.output)
    target.parent.mkdir(parents=True, exist_ok=True)
    wanted: dict[str, object] = {SRC_SYSTEM: False}  # write in `system` where the format can state it
    if threads is not None:
        wanted[THREADS] = threads
    beside = (
        sidecar_files(volume, target, source_format=item.format, aligned=True, source=item.source) if sidecars else {}
    )
    save(target, volume, src_order=False, **registry.format_for_saving(target).accepts(wanted, saving=True))
    write_sidecars(beside)
    shape = [int(n) for n in volume.aligned_data.shape]
    spacing = [round(float(s), 6) for s in volume.aligned_spacing]
    return shape, spacing, target
