"""mvl.dicom: open_stack on a Siemens mosaic EPI series (100 volumes of 64x64x36 int16, one mosaic file per volume).

Peers: dcm2niix (a subprocess writing uncompressed NIfTI, the baseline: what users run
today to unpack mosaics) and a nibabel ``dicomwrappers`` loop (``wrapper_from_file`` on
every file, which reads the CSA header and unpacks the mosaic, sort by instance number,
``np.stack``). The data is written once into .bench-data/ (gitignored) with
:func:`mvl.dicom.testing_mosaic.write_mosaic`: 100 files of 384x384 pixels (6 x 6 tiles),
each with a CSA image header of 83 elements (the size of a real syngo VB17 one, about
11 KB) and a 70 KB CSA series header, as real files carry. Target (issue 14): load in at
most 0.7x dcm2niix's time.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from harness import DATA, Case

SHAPE = (64, 64, 36, 100)  # rows, columns, slices, volumes
FOLDER = DATA / "dicom-mosaic-64x64x36x100"
OUTPUT_MB = np.prod(SHAPE) * 2 / 1e6


def _write() -> Path:
    if (FOLDER / ".complete").exists():
        return FOLDER
    from mvl.dicom.testing_mosaic import csa_header, write_mosaic

    shutil.rmtree(FOLDER, ignore_errors=True)
    rng = np.random.default_rng(0)
    base = rng.integers(200, 1200, size=SHAPE[:3], dtype=np.int16)
    voxels = (base[..., np.newaxis] + rng.integers(-20, 20, size=SHAPE, dtype=np.int16)).astype(np.int16)
    matrix = np.diag([3.0, 3.0, 3.5, 1.0])
    matrix[:3, 3] = (-94.5, -94.5, -60.0)
    interleaved = [*range(0, SHAPE[2], 2), *range(1, SHAPE[2], 2)]
    times = [float(interleaved.index(tile)) * 2000.0 / SHAPE[2] for tile in range(SHAPE[2])]
    protocol = "".join(f"sSliceArray.asSlice[{index}].dThickness = 3.5\n" for index in range(2000))[:70000]

    def realistic(elements: dict[str, Any], volume: int) -> None:
        for index in range(83 - len(elements)):  # a syngo VB17 image header holds 83 elements, most of them short
            elements[f"Element{index:02d}"] = [f"{volume + index}"]

    def series_header(dataset: Any, volume: int) -> None:
        block = dataset.private_block(0x0029, "SIEMENS CSA HEADER")
        block.add_new(0x20, "OB", csa_header({"MrPhoenixProtocol": protocol, "UsedPatientWeight": 70}))
        dataset.SeriesDescription = "ep2d_bold"

    write_mosaic(FOLDER, voxels, matrix, times=times, edit_csa=realistic, edit=series_header)
    (FOLDER / ".complete").touch()
    return FOLDER


def _files() -> list[Path]:
    return sorted(path for path in _write().iterdir() if path.suffix == ".dcm")


def _ours(path: Path) -> Any:
    from mvl.dicom import open_stack

    volume = open_stack(path)
    assert volume.src_data.shape == SHAPE and volume.src_data.dtype == np.int16
    assert volume.src_object.slice_timing is not None
    return volume.src_data


def _nibabel(files: list[Path]) -> Any:
    from nibabel.nicom import dicomwrappers

    wrappers = [dicomwrappers.wrapper_from_file(str(path)) for path in files]
    wrappers.sort(key=lambda wrapper: int(wrapper.get("InstanceNumber")))
    stacked = np.stack([wrapper.get_data() for wrapper in wrappers], axis=-1)
    assert stacked.shape == SHAPE
    return stacked


def _dcm2niix(path: Path) -> Any:
    with tempfile.TemporaryDirectory() as output:
        subprocess.run(
            ["dcm2niix", "-z", "n", "-b", "n", "-o", output, "-f", "%s", str(path)],
            check=True,
            capture_output=True,
        )
        made = sorted(Path(output).iterdir())
        assert len(made) == 1 and made[0].stat().st_size >= np.prod(SHAPE) * 2  # one 4D NIfTI: unpacked
        return made


def cases() -> list[Case]:
    group = (
        f"dicom mosaics: 100 Siemens mosaic files (64x64 x 36 slices each, int16) to 64x64x36 x 100 "
        f"(output {OUTPUT_MB:.0f} MB)"
    )
    have_dcm2niix = shutil.which("dcm2niix") is not None
    result = []
    if have_dcm2niix:
        result.append(Case(group, "dcm2niix -z n (subprocess)", _dcm2niix, _write, baseline=True, repeat=5))
    result += [
        Case(
            group,
            "nibabel dicomwrappers loop: wrapper_from_file + get_data + np.stack",
            _nibabel,
            _files,
            repeat=3,
            baseline=not have_dcm2niix,
        ),
        Case(group, "mvl.dicom open_stack", _ours, _write, repeat=5),
    ]
    return result
