"""mvloader batch: 40 DICOM series to .nii.gz with 1 and 2 worker processes; batch-layer overhead.

The memory columns count the calling process only: with ``--jobs 2`` the work (and its
memory) is in the two worker processes, so only ``--jobs 1`` shows a conversion's peak.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from harness import DATA, Case

SERIES = 40
SHAPE = (256, 256, 80)  # rows, columns, slices: 10 MB of int16 per series
TREE = DATA / f"batch-tree-{SERIES}x{'x'.join(map(str, SHAPE))}"


def _tree() -> Path:
    if (TREE / "done").exists():
        return TREE
    from mvl.dicom.testing import write_series

    shutil.rmtree(TREE, ignore_errors=True)
    for index in range(SERIES):
        patient, study = f"P{index // 4:02d}", f"study{index % 2}"

        def label(dataset: Any, _: int, patient: str = patient, number: int = index) -> None:
            dataset.PatientID = patient
            dataset.SeriesDescription = f"series {number}"
            dataset.SeriesNumber = number

        write_series(TREE / patient / study / f"s{index:02d}", shape=SHAPE, edit=label, seed=index)
    (TREE / "done").write_text("")
    return TREE


#: A memory-backed folder for the second group: outputs that never wait for the disk.
MEMORY = Path("/dev/shm")


class _Batch:
    def __init__(self, jobs: int, base: Path | None = None) -> None:
        self.root = _tree()
        self.jobs = jobs
        # Removed when the case's interpreter exits (each case runs in its own).
        self._scratch = tempfile.TemporaryDirectory(prefix="mvl-bench-batch-", dir=base)
        self.out = Path(self._scratch.name) / "out"

    def clean(self) -> None:
        """Before each run (not timed): no outputs from the previous one, so everything converts."""
        shutil.rmtree(self.out, ignore_errors=True)

    def __call__(self) -> Any:
        from mvloader.batch import convert_tree

        return convert_tree(self.root, self.out, jobs=self.jobs)


def _overhead(result: Any) -> str:
    # With one job, everything outside the conversions (discovery with list_series, the skip check,
    # the manifest, scheduling) is the batch layer's overhead.
    converting = sum(record.seconds for record in result.records)
    overhead = result.seconds - converting
    per_series = overhead / max(len(result.records), 1)
    return (
        f"{result.converted} converted; conversions {converting:.2f} s, batch layer {overhead:.3f} s "
        f"= {100 * overhead / converting:.1f}% of conversion time ({1000 * per_series:.1f} ms per series)"
    )


def _wall(result: Any) -> str:
    return f"{result.converted} converted, {result.failed} failed, wall {result.seconds:.2f} s"


def cases() -> list[Case]:
    size = "x".join(map(str, SHAPE))
    groups = [(f"batch: {SERIES} DICOM series of {size} int16 to .nii.gz", None)]
    if MEMORY.is_dir() and os.access(MEMORY, os.W_OK):
        # The same with the outputs in memory: how much of the difference is the disk's
        # bandwidth (each output is flushed to disk before it counts) rather than ours.
        groups.append((f"batch: the same, outputs in {MEMORY} (no disk writes)", MEMORY))
    found = []
    for group, base in groups:
        found += [
            Case(
                group,
                "mvl batch --jobs 1",
                lambda run: run(),
                lambda base=base: _Batch(1, base),
                baseline=True,
                repeat=5,
                describe=_overhead,
                prepare=_Batch.clean,
            ),
            Case(
                group,
                "mvl batch --jobs 2",
                lambda run: run(),
                lambda base=base: _Batch(2, base),
                repeat=5,
                describe=_wall,
                prepare=_Batch.clean,
            ),
        ]
    return found
