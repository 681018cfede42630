"""The main job: the `mvl` command on the bundled example data (examples/data/).

Runs what a user would type, and writes everything into demo-output/ (created here):

1. `mvl series` on the example folder: the CT series and a localizer beside it;
2. `mvl info` of the DICOM series (tilted 8 degrees) and of the NIfTI volume;
3. `mvl convert` of the DICOM series to NIfTI, and aligned to LPS+ as NRRD;
4. `mvl preview` of the DICOM series and of the NIfTI volume: two pictures of the same
   head, sampled on different grids, which must show the same anatomy in the same
   place: nose anterior (A), a bright marker on the subject's left (L), a cap on top (S).

Run it with `./dev -s demo`.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path("examples") / "data"
OUT = Path("demo-output")
CT_SERIES = "1.2.826.0.1.3680043.10.1234.2"

STEPS = [
    ["series", str(DATA)],
    ["info", str(DATA / "phantom-ct"), "--series", CT_SERIES],
    ["info", str(DATA / "phantom-t1.nii.gz"), "--system", "LPS"],
    ["convert", str(DATA / "phantom-ct"), str(OUT / "phantom-ct.nii.gz"), "--series", CT_SERIES],
    [
        "convert",
        str(DATA / "phantom-ct"),
        str(OUT / "phantom-ct-lps.nrrd"),
        "--series",
        CT_SERIES,
        "--system",
        "LPS",
        "--aligned",
    ],
    ["info", str(OUT / "phantom-ct-lps.nrrd"), "--system", "LPS"],
    ["preview", str(DATA / "phantom-ct"), "--series", CT_SERIES, "-o", str(OUT / "phantom-ct.png")],
    ["preview", str(DATA / "phantom-t1.nii.gz"), "-o", str(OUT / "phantom-t1.png")],
]


def main() -> int:
    shutil.rmtree(ROOT / OUT, ignore_errors=True)
    (ROOT / OUT).mkdir()
    mvl = shutil.which("mvl") or "mvl"
    for step in STEPS:
        print(f"\n$ mvl {shlex.join(step)}", flush=True)
        result = subprocess.run([mvl, *step], cwd=ROOT, check=False)
        if result.returncode != 0:
            print(f"step failed with exit code {result.returncode}", file=sys.stderr)
            return result.returncode
    print(f"\nwrote {', '.join(sorted(path.name for path in (ROOT / OUT).iterdir()))} into {OUT}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
