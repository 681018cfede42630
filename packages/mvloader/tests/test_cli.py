"""The `mvl` command end to end, in a subprocess, on the bundled example data."""

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from matplotlib.image import imread

import mvloader
from mvl.coords.testing import assert_same_image

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "data"
CT = EXAMPLES / "phantom-ct"
CT_SERIES = "1.2.826.0.1.3680043.10.1234.2"
NIFTI = EXAMPLES / "phantom-t1.nii.gz"
MVL = Path(sys.executable).with_name("mvl")


def mvl(*args, check=True):
    result = subprocess.run([str(MVL), *map(str, args)], capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_version_and_help():
    assert mvl("--version").stdout.strip() == f"mvl {mvloader.__version__}"
    for command in ("info", "series", "convert", "preview"):
        assert "--quiet" in mvl(command, "--help").stdout


def test_info_json_of_nifti():
    info = json.loads(mvl("info", NIFTI, "--system", "lps", "--json").stdout)
    assert info["format"] == "nifti"
    assert (info["src_system"], info["system"]) == ("RAS", "LPS")
    assert info["src_shape"] == [48, 56, 44]
    assert info["src_axcodes"] == "PIL"
    assert info["aligned_spacing"] == [3.5, 4.0, 3.5]
    assert info["obliquity_degrees"] == 0
    assert info["value_range"] == [0, 900]


def test_info_text_of_the_tilted_dicom_series():
    text = mvl("info", CT, "--series", CT_SERIES).stdout
    assert "format               dicom" in text
    assert "src_system           LPS" in text
    assert "obliquity            8 degrees" in text
    assert "value range          -1000 .. 1600" in text


def test_series_lists_both_series_of_the_folder():
    records = json.loads(mvl("series", EXAMPLES, "--json").stdout)
    assert len(records) == 2
    table = mvl("series", EXAMPLES).stdout
    assert CT_SERIES in table and "localizer" in table


def test_series_prints_uids_in_full_that_work_in_series(tmp_path):
    from mvl.dicom.testing import write_series

    long_uid = "1.2.826.0.1.3680043.10.1234.567890123456789012345678901234567890"  # 64 characters, the most
    deep = tmp_path / ("a-very-long-folder-name-" * 4) / "series"
    write_series(deep, shape=(3, 3, 2), series_uid=long_uid)
    table = mvl("series", tmp_path).stdout
    assert long_uid in table and "..." in table  # the path elided, never the UID
    assert str(deep) in mvl("series", tmp_path, "--wide").stdout
    rows = mvl("series", tmp_path, "--csv").stdout.splitlines()
    assert rows[0].startswith("uid,number,") and rows[1].startswith(long_uid + ",")
    assert mvl("info", deep, "--series", long_uid, "--json").returncode == 0


def test_series_by_number_loads_the_series_with_that_number():
    info = json.loads(mvl("info", CT, "--series", "2", "--json").stdout)
    assert info["src_shape"] == [64, 64, 40]  # series 1 is the 2-slice localizer


def test_convert_keeps_every_voxel_in_place(tmp_path):
    output = tmp_path / "ct.nii.gz"
    assert mvl("convert", CT, output, "--series", CT_SERIES).stdout.startswith(f"wrote {output}")
    reference = mvloader.load(CT, series_uid=CT_SERIES)
    written = nib.load(output)
    assert_same_image(reference, np.asanyarray(written.dataobj), written.affine, "RAS")


def test_convert_aligned_to_lps_nrrd(tmp_path):
    output = tmp_path / "ct.nrrd"
    mvl("convert", CT, output, "--series", CT_SERIES, "--system", "LPS", "--aligned", "--quiet")
    written = mvloader.load(output, system="LPS")
    assert written.src_system == "LPS"
    reference = mvloader.load(CT, series_uid=CT_SERIES, system="LPS")
    np.testing.assert_array_equal(written.src_data, reference.aligned_data)
    np.testing.assert_allclose(written.src_transformation, reference.aligned_transformation, atol=1e-4)


def test_preview_png(tmp_path):
    output = tmp_path / "ct.png"
    mvl("preview", CT, "--series", CT_SERIES, "-o", output, "--system", "RAS")
    image = imread(output)
    assert image.shape[:2] == (500, 1350)
    assert image[..., :3].std() > 0.05


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["info", "no/such/file.nii"], "mvl: error: no/such/file.nii: no such file"),
        (["convert", NIFTI, "out.png"], "mvl: error: out.png: cannot tell the format to save from the file name"),
        (["info", NIFTI, "--series", "1.2.3"], "mvl: error:"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_1(tmp_path, args, message):
    result = subprocess.run([str(MVL), *map(str, args)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.png").exists()


def test_debug_shows_the_traceback(tmp_path):
    result = subprocess.run([str(MVL), "info", "missing.nii", "--debug"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "InputError" in result.stderr


def test_wrong_usage_is_exit_code_2():
    assert mvl("info", check=False).returncode == 2
    assert mvl("info", NIFTI, "--system", "RAR", check=False).returncode == 2


def test_progress_on_a_terminal_and_quiet_silences_it():
    import io

    from mvloader.cli import _Status

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    status = _Status(quiet=False, stream=terminal)
    status("loading x")
    status.phase("headers", 40, 40)
    status.done()
    assert "loading x: headers 40/40 ..." in terminal.getvalue() and terminal.getvalue().endswith(" s\n")
    silent = Terminal()
    quiet = _Status(quiet=True, stream=silent)
    quiet("loading x")
    quiet.phase("pixels", 1, 2)
    quiet.done()
    assert silent.getvalue() == ""
