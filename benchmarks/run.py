"""Run every benchmark case side by side and print times, memory and ratios.

    python benchmarks/run.py [TOPIC ...]        e.g. `coords nifti`; all topics by default
    python benchmarks/run.py --one MODULE INDEX  (internal: one case, JSON to stdout)

Times in milliseconds (best and median of the repeats); peak MB is the resident memory
one call added above what setup left; ratios are against the group's baseline (a peer),
below 1 means faster / smaller. Results also go to `.bench-results/latest.json`. Timings on a shared machine are noisy:
compare ratios from one run, never absolute numbers across runs.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / ".bench-results"
sys.path.insert(0, str(HERE))


def topics(selected: list[str]) -> list[str]:
    names = sorted(path.stem for path in HERE.glob("bench_*.py"))
    if selected:
        names = [name for name in names if name.removeprefix("bench_") in selected]
    return names


def run_one(module_name: str, index: int) -> None:
    from harness import measure

    case = importlib.import_module(module_name).cases()[index]
    print(json.dumps(measure(case)))


def main(selected: list[str]) -> int:
    rows = []
    for module_name in topics(selected):
        module = importlib.import_module(module_name)
        for index, case in enumerate(module.cases()):
            print(f"  {case.group} | {case.name} ...", file=sys.stderr, flush=True)
            process = subprocess.run(
                [sys.executable, __file__, "--one", module_name, str(index)],
                capture_output=True,
                text=True,
                check=False,
            )
            if process.returncode != 0:
                print(process.stderr, file=sys.stderr)
                rows.append({"group": case.group, "name": case.name, "error": process.stderr.strip().splitlines()[-1]})
                continue
            measured = json.loads(process.stdout.strip().splitlines()[-1])
            rows.append(
                {"group": case.group, "name": case.name, "baseline": case.baseline, "note": case.note, **measured}
            )
    report(rows)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(rows, indent=1))
    return 1 if any("error" in row for row in rows) else 0


def report(rows: list[dict[str, object]]) -> None:
    groups: dict[str, list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        groups[str(row["group"])].append(row)
    for group, members in groups.items():
        base = next((row for row in members if row.get("baseline")), None)
        print(f"\n## {group}")
        print(f"{'implementation':<56} {'best ms':>10} {'median ms':>10} {'peak MB':>8} {'time':>7} {'memory':>7}")
        for row in members:
            if "error" in row:
                print(f"{row['name']:<56} FAILED: {row['error']}")
                continue
            seconds, peak = float(row["seconds"]), float(row["peak_bytes"]) / 1e6
            ratio = mem_ratio = ""
            if base is not None and "error" not in base:
                ratio = f"{seconds / float(base['seconds']):.2f}x"
                base_peak = float(base["peak_bytes"])
                mem_ratio = f"{float(row['peak_bytes']) / base_peak:.2f}x" if base_peak > 1e6 else ""
            marker = " (baseline)" if row.get("baseline") else ""
            print(
                f"{str(row['name']) + marker:<56} {seconds * 1e3:>10.3f} {float(row['median']) * 1e3:>10.3f} "
                f"{peak:>8.1f} {ratio:>7} {mem_ratio:>7}"
            )
            if row.get("note"):
                print(f"    {row['note']}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        run_one(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(main(sys.argv[1:]))
