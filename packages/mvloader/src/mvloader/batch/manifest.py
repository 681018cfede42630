"""The batch manifest: one row per input, in JSON lines (appended as work finishes) and CSV.

``manifest.jsonl`` is the record of truth. A line is appended (and flushed to the
operating system) only after its output file was synced and renamed into place, so a
crash can lose the line of the last conversion (which a re-run then simply redoes) but
can never claim an output that is not complete. A torn last line (power
cut) is ignored when reading. Later lines for the same input supersede earlier ones,
which is how a re-run records retried failures. ``manifest.csv`` is rewritten from it
at the end of every run, one row per input, for spreadsheets.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from mvl.coords.files import atomic_write

__all__ = ["MANIFEST_CSV", "MANIFEST_JSONL", "Record", "append_record", "read_records", "write_csv"]

MANIFEST_JSONL = "manifest.jsonl"
MANIFEST_CSV = "manifest.csv"


@dataclass(frozen=True)
class Record:
    """What happened to one input.

    Attributes
    ----------
    key : str
        Identity of the input across runs: the format, the source path relative to the
        batch root and, for DICOM, the Series Instance UID.
    source : str
        The input path (a file, a DICOM folder or an archive), relative to the root.
    series_uid : str
        DICOM Series Instance UID, empty for files.
    output : str
        The output path relative to the output folder.
    status : str
        ``"done"`` or ``"failed"``.
    shape, spacing : list
        Of the written (aligned) data; empty on failure.
    system : str
        The anatomical system the output is aligned to.
    error : str
        The error message on failure.
    warnings : str
        Warnings raised while loading or saving (e.g. an assumed geometry), joined by semicolons.
    output_bytes : int
        Size of the output file, checked when a re-run decides to skip the input.
    seconds : float
        Time spent loading and saving.
    """

    key: str
    source: str
    series_uid: str
    output: str
    status: str
    system: str
    shape: list[int] = field(default_factory=list)
    spacing: list[float] = field(default_factory=list)
    error: str = ""
    warnings: str = ""
    output_bytes: int = 0
    seconds: float = 0.0


_FIELDS = [item.name for item in fields(Record)]


def append_record(folder: Path, record: Record) -> None:
    """Append one record to ``manifest.jsonl`` in `folder`."""
    line = json.dumps(asdict(record), separators=(",", ":")) + "\n"
    with open(folder / MANIFEST_JSONL, "a", encoding="utf-8") as stream:
        stream.write(line)


def read_records(folder: Path) -> dict[str, Record]:
    """Return the latest record of every input in `folder`'s manifest (empty if none)."""
    path = folder / MANIFEST_JSONL
    latest: dict[str, Record] = {}
    if not path.is_file():
        return latest
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            try:
                values: dict[str, Any] = json.loads(line)
                record = Record(**{name: values[name] for name in _FIELDS if name in values})
            except (ValueError, TypeError, KeyError):
                continue  # a torn line from an interrupted write
            latest[record.key] = record
    return latest


def write_csv(folder: Path, records: Iterable[Record]) -> Path:
    """Write ``manifest.csv`` in `folder` (atomically) with one row per record."""
    target = folder / MANIFEST_CSV
    with atomic_write(target) as (temporary,), open(temporary, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=_FIELDS)
        writer.writeheader()
        for record in sorted(records, key=lambda item: item.key):
            row = asdict(record)
            row["shape"] = "x".join(map(str, record.shape))
            row["spacing"] = " ".join(f"{value:g}" for value in record.spacing)
            writer.writerow(row)
    return target
