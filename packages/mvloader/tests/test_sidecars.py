"""Files beside a conversion's output (mvloader.sidecars): written by `mvl convert` and `mvl batch` by default."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import mvloader
from mvl.dicom.testing import write_volumes
from mvloader.batch import convert_tree
from mvloader.sidecars import sidecar_files

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "data"
CT = EXAMPLES / "phantom-ct"
CT_SERIES = "1.2.826.0.1.3680043.10.1234.2"
NIFTI = EXAMPLES / "phantom-t1.nii.gz"
MVL = Path(sys.executable).with_name("mvl")
AXIAL = np.array([[0, 2.0, 0, 0], [2.0, 0, 0, 0], [0, 0, 3.0, 0], [0, 0, 0, 1]])


def mvl(*args):
    result = subprocess.run([str(MVL), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def _dwi(folder: Path) -> Path:
    def diffusion(dataset, index, volume):
        dataset.DiffusionBValue = [0.0, 1000.0][volume]
        if volume:
            dataset.DiffusionGradientOrientation = [1.0, 0.0, 0.0]
        dataset.RepetitionTime = 3000

    return write_volumes(folder, np.zeros((4, 4, 3, 2), np.int16), AXIAL, edit=diffusion)


def test_convert_writes_the_json_sidecar_beside_the_output(tmp_path):
    output = tmp_path / "ct.nii.gz"
    stdout = mvl("convert", CT, output, "--series", CT_SERIES).stdout
    sidecar = json.loads((tmp_path / "ct.json").read_text())  # scan.nii.gz -> scan.json
    assert "and ct.json" in stdout
    assert sidecar["Modality"] == "CT" and sidecar["SeriesInstanceUID"] == CT_SERIES
    assert sidecar["ConversionSoftware"] == "mvloader"
    assert sidecar["ConversionSoftwareVersion"] == mvloader.__version__
    assert sidecar["SourcePath"] == str(CT)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ct.json", "ct.nii.gz"]  # no .bval: no b-values


def test_a_diffusion_series_gets_bval_and_bvec_for_the_orientation_written(tmp_path):
    folder = _dwi(tmp_path / "dwi")
    (tmp_path / "out").mkdir()
    mvl("convert", folder, tmp_path / "out" / "dwi.nii", "--system", "LPS", "--aligned", "--quiet")
    assert (tmp_path / "out" / "dwi.bval").read_text() == "0 1000\n"
    # aligned to LPS, the first axis points L: +1 along it, but the RAS+ matrix (diag -1, -1, 1) has a positive
    # determinant, so FSL's convention negates x
    assert (tmp_path / "out" / "dwi.bvec").read_text() == "0 -1\n0 0\n0 0\n"
    assert json.loads((tmp_path / "out" / "dwi.json").read_text())["RepetitionTime"] == 3.0


def test_no_sidecar_writes_only_the_output(tmp_path):
    (tmp_path / "out").mkdir()
    mvl("convert", _dwi(tmp_path / "dwi"), tmp_path / "out" / "dwi.nrrd", "--no-sidecar", "--quiet")
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["dwi.nrrd"]


def test_an_input_whose_format_describes_nothing_gets_no_sidecar(tmp_path):
    mvl("convert", NIFTI, tmp_path / "t1.nrrd", "--quiet")
    assert [path.name for path in tmp_path.iterdir()] == ["t1.nrrd"]
    assert sidecar_files(mvloader.load(NIFTI), tmp_path / "t1.nrrd", source_format="nifti") == {}


def test_the_stem_drops_the_ending_that_chose_the_format(tmp_path):
    volume = mvloader.load(CT, series_uid=CT_SERIES)
    files = sidecar_files(volume, tmp_path / "a.b.nii.gz", source_format="dicom")
    assert list(files) == [tmp_path / "a.b.json"]


def test_batch_writes_sidecars_beside_dicom_outputs_unless_told_not_to(tmp_path):
    _dwi(tmp_path / "tree" / "dwi")
    result = convert_tree(tmp_path / "tree", tmp_path / "out", jobs=1)
    (record,) = result.records
    output = tmp_path / "out" / record.output
    stem = output.name.removesuffix(".nii.gz")
    assert json.loads((output.parent / f"{stem}.json").read_text())["SourcePath"] == record.source
    assert (output.parent / f"{stem}.bval").read_text() == "0 1000\n"
    convert_tree(tmp_path / "tree", tmp_path / "bare", jobs=1, sidecars=False)
    assert sorted(path.suffix for path in (tmp_path / "bare" / record.output).parent.iterdir()) == [".gz"]
