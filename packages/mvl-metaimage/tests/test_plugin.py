import importlib.metadata
import os
import subprocess
import sys

import numpy as np

from mvl.coords import Volume
from mvl.coords.formats import ENTRY_POINT_GROUP, THREADS
from mvl.coords.testing import FormatConformance
from mvl.metaimage import open_image, save_volume
from mvl.metaimage.plugin import FORMAT, looks_like_metaimage, sniff


def test_entry_point_is_registered():
    (entry_point,) = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == "metaimage"]
    assert entry_point.load() is FORMAT
    assert FORMAT.loader() is open_image
    assert FORMAT.saver() is save_volume
    assert FORMAT.matches_suffix("a/B.MHD") and FORMAT.matches_suffix("x.mha", saving=True)


def test_sniff_by_content(tmp_path, make_mha):
    assert sniff(make_mha())
    assert sniff(make_mha({"ObjectType": None}, name="ndims-first.mha"))  # starts with NDims
    misnamed = make_mha(name="scan.raw")
    assert sniff(misnamed)  # the content decides, not the name
    colon = tmp_path / "colon.mhd"
    colon.write_bytes(b"ObjectType: Image\nNDims: 3\nDimSize: 2 3 4\nElementType: MET_SHORT\nElementDataFile: x.raw\n")
    assert sniff(colon)
    (tmp_path / "tube.mha").write_bytes(b"ObjectType = Tube\nNDims = 3\n")
    assert not sniff(tmp_path / "tube.mha")  # a MetaIO spatial object, not an image
    (tmp_path / "other.mha").write_bytes(b"NRRD0004\ntype: short\n")
    assert not sniff(tmp_path / "other.mha")
    (tmp_path / "no-ndims.mha").write_bytes(b"ObjectType = Image\nDimSize = 2 3\n")
    assert not sniff(tmp_path / "no-ndims.mha")
    assert not sniff(tmp_path)
    assert not sniff(tmp_path / "missing")
    os.mkfifo(tmp_path / "fifo")
    assert not sniff(tmp_path / "fifo")  # returns at once: a FIFO is never opened
    assert not sniff(None)  # even nonsense is just "not MetaImage"


def test_signature_examples():
    assert looks_like_metaimage(b"  NDims = 2\r\nDimSize = 3 4\r\n")
    assert not looks_like_metaimage(b"Comment = x\nNDims = 3\n")


def test_plugin_does_not_import_the_reader():
    probe = "import sys, mvl.metaimage.plugin, mvl.metaimage; print('mvl.metaimage.reader' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


class TestMetaImageFormat(FormatConformance):
    """The record, as the umbrella and batch conversion use it."""

    format = FORMAT

    def write_sample(self, directory):
        path = directory / "sample.mha"
        save_volume(path, Volume(np.zeros((2, 3, 4), np.int16), np.eye(4), "LPS"))
        return path


def test_the_record_names_its_extra_and_options():
    assert FORMAT.extra == "metaimage" and FORMAT.distribution == "mvl-metaimage"
    assert FORMAT.save_options == {THREADS} and FORMAT.load_options == frozenset()
    assert FORMAT.sniff is sniff
