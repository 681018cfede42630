"""The mvl.formats entry point: registered, light (no nibabel on import), and working end to end."""

import importlib.metadata
import subprocess
import sys

import numpy as np

from mvl.coords import Volume
from mvl.coords.formats import ENTRY_POINT_GROUP, THREADS, Inventory, Part
from mvl.coords.testing import FormatConformance
from mvl.nifti import open_image, save_image, save_volume
from mvl.nifti.plugin import FORMAT


def test_registered_under_the_formats_group():
    (entry_point,) = [
        point for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if point.name == "nifti"
    ]
    assert entry_point.load() is FORMAT
    assert FORMAT.distribution == "mvl-nifti"


def test_importing_the_plugin_and_sniffing_does_not_import_nibabel(tmp_path):
    probe = (
        "import sys, mvl.nifti, mvl.nifti.plugin as p; "
        f"p.FORMAT.sniff({str(tmp_path / 'missing.nii')!r}); "
        "print('nibabel' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_load_and_save_through_the_format(tmp_path):
    assert FORMAT.loader() is open_image
    assert FORMAT.saver() is save_volume
    volume = Volume(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4), "LPS", system="LPS")
    FORMAT.saver()(tmp_path / "via-plugin.nii.gz", volume)
    assert FORMAT.sniff(tmp_path / "via-plugin.nii.gz")
    loaded = FORMAT.loader()(tmp_path / "via-plugin.nii.gz", system="LPS")
    np.testing.assert_array_equal(loaded.aligned_data, volume.aligned_data)


def test_suffixes():
    for name in ("a.nii", "A.NII.GZ", "a.hdr", "a.img.gz"):
        assert FORMAT.matches_suffix(name) and FORMAT.matches_suffix(name, saving=True)
    assert not FORMAT.matches_suffix("a.nrrd")


class TestNiftiFormat(FormatConformance):
    """The record, as the umbrella and batch conversion use it."""

    format = FORMAT

    def write_sample(self, directory):
        path = directory / "sample.nii.gz"
        save_image(path, np.zeros((2, 3, 4), np.int16), np.eye(4))
        return path


def test_the_record_names_its_extra_and_options():
    assert FORMAT.extra == "nifti"
    assert FORMAT.save_options == {THREADS} and FORMAT.load_options == frozenset()


def test_a_pair_is_one_input_for_batch_conversion(tmp_path):
    for header, image in (("a.hdr", "a.img"), ("b.HDR.GZ", "b.IMG.GZ")):
        save_image(tmp_path / header, np.zeros((2, 3, 4), np.uint8), np.eye(4))
        assert FORMAT.sniff(tmp_path / image)  # loadable through either half
        assert FORMAT.find_parts(tmp_path / header) == Inventory((Part(tmp_path / header),))
        assert FORMAT.find_parts(tmp_path / image) == Inventory()  # the header's input
