"""The loading flags of `mvl`: every hint the command prints is a flag that works when followed."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

from mvl.dicom.testing import write_series, write_volumes
from mvloader.cli_options import cli_hints


def mvl(*args):
    return subprocess.run([sys.executable, "-m", "mvloader", *map(str, args)], capture_output=True, text=True)


def _two_echoes(folder):
    for echo in (1, 2):
        write_series(
            folder,
            np.full((4, 5, 3), echo, np.int16),
            series_uid="1.2.3",
            frame_of_reference="1.2.4",
            modality="MR",
            prefix=f"E{echo}",
            seed=echo,
            edit=lambda dataset, index, echo=echo: setattr(dataset, "EchoNumbers", echo),
        )
    return folder


def _flags(message):
    """The flags a printed hint names, split as a shell would."""
    return shlex.split(" ".join(re.findall(r"--select \S+", message)))


def test_the_select_a_warning_prints_is_a_flag_that_loads_the_other_kind(tmp_path):
    folder = _two_echoes(tmp_path)
    first = mvl("info", folder, "--json")
    assert first.returncode == 0, first.stderr
    assert "--select EchoNumbers=2" in first.stderr and "select={" not in first.stderr
    assert json.loads(first.stdout)["value_range"] == [1, 1]  # echo 1 holds ones
    second = mvl("info", folder, "--json", *_flags(first.stderr))
    assert second.returncode == 0 and second.stderr == ""
    assert json.loads(second.stdout)["value_range"] == [2, 2]


def test_the_flag_an_error_names_makes_the_load_work(tmp_path):
    write_volumes(tmp_path, np.zeros((4, 5, 3, 2), np.int16))
    import pydicom

    files = sorted(tmp_path.iterdir(), key=lambda path: pydicom.dcmread(path, stop_before_pixels=True).InstanceNumber)
    files[-1].unlink()  # the last volume lacks its last slice
    refused = mvl("info", tmp_path)
    assert refused.returncode == 1 and "--allow-incomplete-volumes" in refused.stderr
    assert "allow_incomplete_volumes=True" not in refused.stderr
    loaded = mvl("info", tmp_path, "--allow-incomplete-volumes")
    assert loaded.returncode == 0 and "left out 2 images" in loaded.stderr


def test_a_flag_for_a_format_that_does_not_take_it_says_which_do(tmp_path):
    import nibabel

    path = tmp_path / "scan.nii"
    nibabel.save(nibabel.Nifti1Image(np.zeros((2, 2, 2), np.int16), np.eye(4)), path)
    result = mvl("info", path, "--select", "EchoNumbers=1")
    assert result.returncode == 1 and "--select applies to dicom; this is nifti" in result.stderr


@pytest.mark.parametrize(
    ("python", "cli"),
    [
        ("select={'ImageType': 'ORIGINAL\\\\PRIMARY\\\\P'}", "--select 'ImageType=ORIGINAL\\PRIMARY\\P'"),
        ("select={'EchoNumbers': 2, 'EchoTime': 5.5}", "--select EchoNumbers=2 --select EchoTime=5.5"),
        ("pass skip_broken=True to skip", "pass --skip-broken to skip"),
        ("philips_scaling='precise'", "--philips-scaling precise"),
        ("Pass series_uid= to choose one", "Pass --series UID to choose one"),
    ],
)
def test_python_hints_become_flags(python, cli):
    assert cli_hints(python) == cli


def test_batch_takes_the_loading_flags_and_prints_failures_as_flags(tmp_path):
    import pydicom

    tree = tmp_path / "tree" / "fmri"
    write_volumes(tree, np.zeros((4, 5, 3, 2), np.int16))
    files = sorted(tree.iterdir(), key=lambda path: pydicom.dcmread(path, stop_before_pixels=True).InstanceNumber)
    files[-1].unlink()  # an incomplete series: fails, and the failure names the flag
    refused = mvl("batch", tmp_path / "tree", tmp_path / "out", "--jobs", "1")
    assert refused.returncode == 1 and "--allow-incomplete-volumes" in refused.stdout
    assert "allow_incomplete_volumes=True" not in refused.stdout
    loaded = mvl("batch", tmp_path / "tree", tmp_path / "out", "--jobs", "1", "--allow-incomplete-volumes")
    assert loaded.returncode == 0 and "1 converted" in loaded.stdout, loaded.stdout


def test_batch_select_picks_the_kind_of_every_series(tmp_path):
    import nibabel as nib

    _two_echoes(tmp_path / "tree" / "echoes")
    done = mvl("batch", tmp_path / "tree", tmp_path / "out", "--jobs", "1", "--select", "EchoNumbers=2")
    assert done.returncode == 0, done.stdout + done.stderr
    (output,) = (tmp_path / "out").rglob("*.nii.gz")
    assert np.unique(np.asarray(nib.load(output).dataobj)).tolist() == [2]
