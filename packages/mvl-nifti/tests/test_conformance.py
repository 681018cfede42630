"""The shared conformance kit of mvl.coords, run against mvl.nifti: references by nibabel and SimpleITK."""

import numpy as np
import pytest

from mvl.coords.testing import ReaderConformance, WriterConformance
from mvl.nifti import open_image, save_volume


class TestNiftiReader(ReaderConformance):
    """References written by nibabel, as .nii.gz."""

    suffix = ".nii.gz"

    @pytest.fixture(autouse=True)
    def _peers(self, nibabel_file, simpleitk):
        self.nibabel_file, self.simpleitk = nibabel_file, simpleitk

    def open(self, path, system):
        return open_image(path, system=system)

    def write_reference(self, directory, data, transformation):
        return self.nibabel_file(directory / "reference.nii.gz", data, transformation)


class TestNiftiReaderUncompressed(TestNiftiReader):
    """References written by nibabel, as .nii (memory-mapped on reading)."""

    suffix = ".nii"

    def write_reference(self, directory, data, transformation):
        return self.nibabel_file(directory / "reference.nii", data, transformation)


class TestNiftiReaderPair(TestNiftiReader):
    """References written by nibabel, as .hdr/.img pairs."""

    suffix = ".hdr"

    def write_reference(self, directory, data, transformation):
        self.nibabel_file(directory / "reference.hdr", data, transformation)
        return directory / "reference.img"


class TestNiftiReaderFromSimpleITK(TestNiftiReader):
    """References written by SimpleITK (ITK's NIfTI writer), as .nii.gz."""

    def write_reference(self, directory, data, transformation):
        return self.simpleitk.write(directory / "reference.nii.gz", np.asarray(data), transformation)


class TestNiftiWriter(WriterConformance):
    suffixes = (".nii", ".nii.gz", ".hdr", ".img.gz")
    dtypes = (np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.float32, np.float64)

    def open(self, path, system):
        return open_image(path, system=system)

    def save_volume(self, path, volume, src_order):
        save_volume(path, volume, src_order)
