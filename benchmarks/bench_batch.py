"""mvloader batch: 40 DICOM series to .nii.gz with 1 and 2 worker processes; batch-layer overhead."""

from __future__ import annotations

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


class _Batch:
    def __init__(self, jobs: int) -> None:
        self.root = _tree()
        self.jobs = jobs
        self.scratch = Path(tempfile.mkdtemp(prefix="mvl-bench-batch-"))
        self.runs = 0

    def __call__(self) -> Any:
        from mvloader.batch import convert_tree

        shutil.rmtree(self.scratch / str(self.runs - 1), ignore_errors=True)  # the previous run's outputs
        out = self.scratch / str(self.runs)
        self.runs += 1
        return convert_tree(self.root, out, jobs=self.jobs)


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
    group = f"batch: {SERIES} DICOM series of {'x'.join(map(str, SHAPE))} int16 to .nii.gz"
    return [
        Case(
            group,
            "mvl batch --jobs 1",
            lambda run: run(),
            lambda: _Batch(1),
            baseline=True,
            repeat=2,
            describe=_overhead,
        ),
        Case(group, "mvl batch --jobs 2", lambda run: run(), lambda: _Batch(2), repeat=2, describe=_wall),
    ]
