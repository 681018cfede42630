"""The entry point: light to import, sniffs without raising, loads through open_stack."""

from __future__ import annotations

import gzip
import subprocess
import sys
import zipfile
from importlib.metadata import entry_points

from mvl.dicom.plugin import FORMAT, sniff
from mvl.dicom.testing import write_series


def test_the_entry_point_is_registered():
    (entry,) = [e for e in entry_points(group="mvl.formats") if e.name == "dicom"]
    assert entry.load() is FORMAT


def test_importing_the_plugin_does_not_import_pydicom():
    code = "import sys, mvl.dicom.plugin; print('pydicom' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_sniff(tmp_path):
    folder = write_series(tmp_path / "series", shape=(2, 2, 1))
    dicom = next(folder.iterdir())
    assert sniff(folder) and sniff(dicom)
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as archive:
        archive.write(dicom, "x.dcm")
    assert sniff(tmp_path / "a.zip")
    (tmp_path / "scan.nii.gz").write_bytes(gzip.compress(b"\x5c\x01" + b"\0" * 400))
    assert not sniff(tmp_path / "scan.nii.gz")  # gzip, but no tar inside
    (tmp_path / "text.dcm").write_text("hello")
    assert not sniff(tmp_path / "text.dcm")
    assert not sniff(tmp_path / "missing")


def test_format_loads_with_open_stack(tmp_path):
    folder = write_series(tmp_path, shape=(2, 3, 2))
    volume = FORMAT.loader()(folder, system="LPS")
    assert volume.src_data.shape == (2, 3, 2) and volume.system == "LPS"
    assert FORMAT.saver() is None and FORMAT.matches_suffix("x.DCM")
