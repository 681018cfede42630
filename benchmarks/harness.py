"""Tiny benchmark harness: cases, isolated measurement, side-by-side ratio tables.

A bench module (`benchmarks/bench_<topic>.py`) defines ``cases() -> list[Case]``. Each
case runs in a fresh interpreter, so imports and earlier cases do not distort its
memory: setup first (not measured), then the measured call repeated; the best wall time
counts, and the peak resident memory of one call above what setup left behind (Linux
``VmHWM`` after resetting it through ``/proc/self/clear_refs``). Within a group, ratios
are against the case marked ``baseline`` (a peer): above 1 means slower / bigger.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent.parent / ".bench-data"


@dataclass
class Case:
    group: str
    name: str
    run: Callable[[Any], Any]
    setup: Callable[[], Any] = field(default=lambda: None)
    baseline: bool = False
    repeat: int = 5
    note: str = ""
    #: Optional: turns the result of the last measured call into a line for the report.
    describe: Callable[[Any], str] | None = None
    #: Optional: called with the setup's state before every call, not timed (clean-up of the previous call).
    prepare: Callable[[Any], None] | None = None


def _status(field_name: str) -> int:
    """A field of /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) * 1024
    return 0


def measure(case: Case) -> dict[str, Any]:
    """Run one case in this process: best time of `repeat` calls, peak memory of one call."""
    state = case.setup()
    prepare = case.prepare or (lambda _: None)
    prepare(state)
    result = case.run(state)  # warm-up: caches, lazy imports
    del result
    prepare(state)
    gc.collect()
    baseline = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark
    result = case.run(state)
    peak = _status("VmHWM") - baseline
    del result
    times = []
    notes = []
    for _ in range(case.repeat):
        prepare(state)
        gc.collect()
        start = time.perf_counter()
        result = case.run(state)
        times.append(time.perf_counter() - start)
        if case.describe is not None:
            notes.append(case.describe(result))
        del result
    measured: dict[str, Any] = {"seconds": min(times), "median": float(np.median(times)), "peak_bytes": max(peak, 0)}
    if notes:
        measured["note"] = notes[int(np.argmin(times))]
    return measured


def phantom(shape: tuple[int, int, int] = (300, 512, 512), seed: int = 0) -> np.ndarray[Any, Any]:
    """A CT-like int16 volume: smooth anatomy-ish blobs plus noise; cached on disk.

    Compresses like real data (neither trivially nor not at all), which matters for
    the gzip cases.
    """
    DATA.mkdir(exist_ok=True)
    path = DATA / f"phantom-{'x'.join(map(str, shape))}-{seed}.npy"
    if path.exists():
        return np.load(path)
    rng = np.random.default_rng(seed)
    z, y, x = (np.linspace(-1, 1, n, dtype=np.float32) for n in shape)
    body = np.broadcast_to((y[None, :, None] ** 2 / 0.8 + x[None, None, :] ** 2 / 0.9) < 0.8, shape)
    volume = np.where(body, np.float32(40.0), np.float32(-1000.0))
    for _ in range(12):
        cz, cy, cx = rng.uniform(-0.6, 0.6, 3)
        radius = rng.uniform(0.05, 0.25)
        blob = ((z[:, None, None] - cz) ** 2 + (y[None, :, None] - cy) ** 2 + (x[None, None, :] - cx) ** 2) < radius**2
        volume[blob & body] = rng.uniform(-100, 1200)
    volume += rng.normal(0, 12, size=shape).astype(np.float32)
    data = np.clip(volume, -1024, 3071).astype(np.int16)
    np.save(path, data)
    return data


def run_dcm2niix(path: Path) -> list[Path]:
    """dcm2niix converting `path` to uncompressed NIfTI in a scratch folder (a subprocess), as users run it."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as output:
        subprocess.run(
            ["dcm2niix", "-z", "n", "-b", "n", "-o", output, "-f", "%s", str(path)], check=True, capture_output=True
        )
        return sorted(Path(output).iterdir())
