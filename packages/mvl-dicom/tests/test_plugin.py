"""The entry point: light to import, sniffs without raising, loads through open_stack."""

from __future__ import annotations

import gzip
import inspect
import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import entry_points

import numpy as np
import pytest

from mvl.coords.formats import PROGRESS, RECURSIVE, SERIES_UID
from mvl.coords.testing import FormatConformance
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


class TestDicomFormat(FormatConformance):
    """The record, as the umbrella and batch conversion use it."""

    format = FORMAT

    def write_sample(self, directory):
        return write_series(directory / "ct", shape=(2, 3, 2))


def test_the_record_names_its_extra_and_options():
    assert FORMAT.extra == "dicom" and FORMAT.save_options == frozenset()
    assert {
        SERIES_UID,
        RECURSIVE,
        PROGRESS,
        "select",
        "allow_incomplete_volumes",
        "philips_scaling",
    } <= FORMAT.load_options
    # every option the record declares is a keyword of the loader it names
    assert FORMAT.load_options <= set(inspect.signature(FORMAT.loader()).parameters)


def test_parts_are_the_series_of_a_tree_with_their_labels(tmp_path):
    def labelled(dataset, index):
        dataset.PatientID, dataset.StudyDescription, dataset.SeriesDescription = "P7", "Head", "axial"

    first = write_series(tmp_path / "a" / "ct", shape=(2, 3, 2), edit=labelled, seed=1)
    write_series(tmp_path / "b" / "mr", shape=(2, 2, 2), modality="MR", seed=2)
    (tmp_path / "notes.txt").write_text("not DICOM")
    inventory = FORMAT.find_parts(tmp_path)
    assert len(inventory.parts) == 2 and inventory.other_files == (tmp_path / "notes.txt",)
    ct = next(part for part in inventory.parts if part.series_description == "axial")
    assert (ct.patient_id, ct.study_description, ct.recursive) == ("P7", "Head", False)
    assert ct.path.parent == first and ct.uid
    assert FORMAT.loader()(ct.path, series_uid=ct.uid).src_data.shape == (2, 3, 2)


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_parts_of_an_archive(tmp_path, mode):
    folder = write_series(tmp_path / "ct", shape=(2, 3, 2))
    archive = tmp_path / f"export.{mode[2:] or 'plain'}.tar"
    with tarfile.open(archive, mode) as tarred:
        tarred.add(folder, "ct")
    assert sniff(archive)
    (part,) = FORMAT.find_parts(archive).parts
    assert part.path == archive and part.uid


def test_a_tar_bz2_whose_first_block_is_large_is_an_archive(tmp_path):
    # Regression: only the first 64 kB were looked at, and bzip2 yields nothing before a
    # whole block (up to 900 kB): such archives were not recognised, and not loadable.
    data = np.random.default_rng(0).integers(0, 4000, (64, 64, 20)).astype(np.int16)
    folder = write_series(tmp_path / "ct", data)
    archive = tmp_path / "big.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tarred:
        tarred.add(folder, "ct")
    assert archive.stat().st_size > 1 << 16
    assert sniff(archive)
    np.testing.assert_array_equal(FORMAT.loader()(archive).src_data, FORMAT.loader()(folder).src_data)
