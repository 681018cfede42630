import importlib.metadata
import os
import subprocess
import sys

import numpy as np

from mvl.coords import Volume
from mvl.coords.formats import ENTRY_POINT_GROUP, SRC_SYSTEM, THREADS
from mvl.coords.testing import FormatConformance
from mvl.nrrd import open_image, save_volume
from mvl.nrrd.plugin import FORMAT, sniff


def test_entry_point_is_registered():
    (entry_point,) = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == "nrrd"]
    assert entry_point.load() is FORMAT
    assert FORMAT.loader() is open_image
    assert FORMAT.saver() is save_volume
    assert FORMAT.matches_suffix("a/B.NHDR") and FORMAT.matches_suffix("x.nrrd", saving=True)


def test_sniff(tmp_path, make_nrrd):
    assert sniff(make_nrrd())
    assert sniff(make_nrrd(magic="NRRD0001", name="old.nrrd"))
    (tmp_path / "other.nrrd").write_bytes(b"\x1f\x8b\x08" + bytes(20))
    assert not sniff(tmp_path / "other.nrrd")
    (tmp_path / "short").write_bytes(b"NRR")
    assert not sniff(tmp_path / "short")
    assert not sniff(tmp_path)
    assert not sniff(tmp_path / "missing")
    os.mkfifo(tmp_path / "fifo")
    assert not sniff(tmp_path / "fifo")  # returns at once: a FIFO is never opened
    assert not sniff(None)  # even nonsense is just "not NRRD"


def test_plugin_does_not_import_pynrrd():
    probe = "import sys, mvl.nrrd.plugin, mvl.nrrd; print('nrrd' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


class TestNrrdFormat(FormatConformance):
    """The record, as the umbrella and batch conversion use it."""

    format = FORMAT

    def write_sample(self, directory):
        path = directory / "sample.nrrd"
        save_volume(path, Volume(np.zeros((2, 3, 4), np.int16), np.eye(4), "LPS"))
        return path


def test_the_record_names_its_extra_and_options():
    assert FORMAT.extra == "nrrd"
    assert FORMAT.save_options == {SRC_SYSTEM, THREADS} and FORMAT.load_options == frozenset()
    assert FORMAT.sniff is sniff  # one sniff, no wrapper
