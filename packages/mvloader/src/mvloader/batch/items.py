"""One unit of batch work, and converting it: the function every worker runs."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

from ..loading import load, save
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
        The format to load it as (``"dicom"``, ``"nifti"``, ``"nrrd"``, ...).
    series_uid : str
        For DICOM: which series of `source`; else empty.
    output : str
        Output path relative to the output folder.
    recursive : bool
        For DICOM: whether the series' files lie in sub-folders of `source`.
    """

    key: str
    source: str
    format: str
    series_uid: str
    output: str
    recursive: bool = False


def convert_item(item: Item, root: str, output_folder: str, system: str) -> Record:
    """Load one input and save it aligned to `system`; never raises, failures become records.

    Runs in worker processes (local or Dask): everything it needs is in its arguments,
    and it writes only its own output file (atomically). The manifest is the caller's.
    """
    started = time.perf_counter()
    failed = Record(item.key, item.source, item.series_uid, item.output, status="failed", system=system)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            shape, spacing, target = _load_and_save(item, Path(root), Path(output_folder), system)
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


def _load_and_save(item: Item, root: Path, output_folder: Path, system: str) -> tuple[list[int], list[float], Path]:
    """Convert; return the aligned shape and spacing and the output path (the volume is dropped)."""
    options = {"series_uid": item.series_uid, "recursive": item.recursive} if item.format == "dicom" else {}
    volume = load(root / item.source, system=system, format=item.format, **options)
    target = inside(output_folder, item.output)
    target.parent.mkdir(parents=True, exist_ok=True)
    save_options: dict[str, bool] = {"src_order": False}
    if target.name.lower().endswith((".nrrd", ".nhdr")):
        save_options["src_system"] = False  # write in `system` where NRRD can state it
    save(target, volume, **save_options)
    shape = [int(n) for n in volume.aligned_data.shape]
    spacing = [round(float(s), 6) for s in volume.aligned_spacing]
    return shape, spacing, target
