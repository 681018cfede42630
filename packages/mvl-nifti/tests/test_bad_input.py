"""Every bad input of issue 3, one test each: a clear error of the mvl family naming the file, nothing large allocated.

Loading: truncated, corrupt and bomb-like gzip, impossible headers, broken matrices, no
orientation, misnamed files, folders and empty files. Saving: unknown extension, broken
matrices, read-only folder, full disk, interruption; the target is left untouched.
"""

import errno
import gzip
import os
import re
import tracemalloc
import zlib

import numpy as np
import pytest

from mvl.coords.errors import (
    FormatError,
    FormatWarning,
    GeometryError,
    GeometryWarning,
    InputError,
    NoImageDataError,
    ResourceLimitError,
    SaveError,
    UnsupportedFormatError,
)
from mvl.nifti import open_image, save_image

DATA = np.random.default_rng(0).integers(-1000, 2000, size=(20, 30, 40)).astype(np.int16)
AFFINE = np.diag([0.5, 0.6, 2.0, 1.0])


@pytest.fixture
def plain(tmp_path):
    path = tmp_path / "scan.nii"
    save_image(path, DATA, AFFINE)
    return path


@pytest.fixture
def packed(tmp_path):
    path = tmp_path / "scan.nii.gz"
    save_image(path, DATA, AFFINE)
    return path


def named(path):
    """A pattern matching the file name in an error message."""
    return re.escape(path.name)


def peak_bytes(error, path):
    """Peak bytes Python and numpy allocate while `open_image(path)` fails with `error`.

    numpy reports its buffers to tracemalloc, so an allocated volume would show.
    """
    tracemalloc.start()
    try:
        with pytest.raises(error):
            open_image(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# -- truncated and corrupt files -------------------------------------------------------------


def test_truncated_nii(plain):
    plain.write_bytes(plain.read_bytes()[:-1000])
    with pytest.raises(FormatError, match=f"{named(plain)}: truncated: the header declares 20x30x40 voxels of int16"):
        open_image(plain)


def test_truncated_header(plain):
    plain.write_bytes(plain.read_bytes()[:200])
    with pytest.raises(FormatError, match=f"{named(plain)}: truncated header: 200 bytes, a NIfTI-1 header has 348"):
        open_image(plain)


def test_truncated_nii_gz(packed):
    packed.write_bytes(packed.read_bytes()[:-5000])
    with pytest.raises(FormatError, match=f"{named(packed)}: truncated gzip stream: it ends inside a member"):
        open_image(packed)


def test_corrupt_gzip_stream(packed):
    raw = bytearray(packed.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(range(64))
    packed.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=f"{named(packed)}: corrupt gzip stream"):
        open_image(packed)


def test_crc_mismatch_is_an_error_not_a_wrong_voxel(packed):
    raw = bytearray(packed.read_bytes())
    raw[-8] ^= 0x01  # CRC-32 of the member
    packed.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=f"{named(packed)}: corrupt gzip stream.*(data check|checksum)"):
        open_image(packed)


def test_length_mismatch_is_an_error(packed):
    raw = bytearray(packed.read_bytes())
    raw[-1] ^= 0x01  # ISIZE, the length modulo 2**32
    packed.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=f"{named(packed)}: corrupt gzip stream.*(length check|checksum)"):
        open_image(packed)


@pytest.mark.parametrize("seed", range(12))
def test_a_flipped_bit_anywhere_in_the_deflate_data_never_comes_back_as_a_wrong_voxel(packed, seed):
    raw = bytearray(packed.read_bytes())
    rng = np.random.default_rng(seed)
    position = int(rng.integers(10, len(raw) - 8))  # after the gzip header, before the trailer
    raw[position] ^= 1 << int(rng.integers(0, 8))
    packed.write_bytes(bytes(raw))
    try:
        volume = open_image(packed)
    except FormatError:
        return  # detected: the messages are pinned by the tests above
    np.testing.assert_array_equal(volume.src_data, DATA)  # only if the flip did not change what inflates


# -- impossible headers -----------------------------------------------------------------------


@pytest.mark.parametrize(("axis", "length"), [(1, -3), (2, -32768), (3, -1)])
def test_negative_dimension(plain, patch, axis, length):
    dims = [3, 20, 30, 40, 1, 1, 1, 1]
    dims[axis] = length
    patch(plain, dim=dims)
    with pytest.raises(FormatError, match=rf"{named(plain)}: header field dim\[{axis}\] is {length}; every dimension"):
        open_image(plain)


def test_zero_dimension(plain, patch):
    patch(plain, dim=[3, 20, 0, 40, 1, 1, 1, 1])
    with pytest.raises(FormatError, match=rf"{named(plain)}: header field dim\[2\] is 0"):
        open_image(plain)


@pytest.mark.parametrize("ndim", [0, 8, -1])
def test_impossible_number_of_dimensions(plain, patch, ndim):
    patch(plain, dim=[ndim, 20, 30, 40, 1, 1, 1, 1])
    with pytest.raises(FormatError, match=rf"{named(plain)}: header field dim\[0\] \(the number of dimensions\) is"):
        open_image(plain)


def test_dimensions_that_overflow(tmp_path, patch):
    path = tmp_path / "huge.nii"
    save_image(path, np.zeros((40000, 1, 1), np.uint8), np.eye(4))  # NIfTI-2: 64-bit dimensions
    patch(path, dim=[4, 2**40, 2**40, 2**20, 1, 1, 1, 1])
    with pytest.raises(FormatError, match=rf"{named(path)}: header dimensions .* overflow"):
        open_image(path)


def test_far_more_voxels_than_an_uncompressed_file_holds(plain, patch):
    patch(plain, dim=[4, 2000, 2000, 2000, 100, 1, 1, 1])
    peak = peak_bytes(FormatError, plain)
    with pytest.raises(FormatError, match=f"{named(plain)}: truncated: the header declares 2000x2000x2000x100 voxels"):
        open_image(plain)
    assert peak < 10_000_000


def test_far_more_voxels_than_a_gzip_file_can_inflate_to(packed, patch):
    patch(packed, dim=[3, 20000, 20000, 2000, 1, 1, 1, 1])
    peak = peak_bytes(FormatError, packed)
    with pytest.raises(FormatError, match=f"{named(packed)}: the header declares .* but a gzip file of .* at most"):
        open_image(packed)
    assert peak < 10_000_000


def test_gzip_that_inflates_far_beyond_the_header_is_stopped(tmp_path, plain):
    bomb = tmp_path / "bomb.nii.gz"
    inflater = zlib.compressobj(9, wbits=31)
    parts = [inflater.compress(plain.read_bytes())]
    zeros = bytes(1 << 24)
    parts += [inflater.compress(zeros) for _ in range(64)]  # 1 GiB of zeros after the voxels, ~1 MB on disk
    bomb.write_bytes(b"".join([*parts, inflater.flush()]))
    peak = peak_bytes(ResourceLimitError, bomb)
    with pytest.raises(ResourceLimitError, match=f"{named(bomb)}: the gzip stream inflates beyond the .* bytes"):
        open_image(bomb)
    assert peak < 50_000_000


def test_vox_offset_inside_the_header(plain, patch):
    patch(plain, vox_offset=300)
    with pytest.raises(FormatError, match=f"{named(plain)}: header field vox_offset is 300; .* at least 352"):
        open_image(plain)


def test_vox_offset_beyond_the_file(plain, patch):
    patch(plain, vox_offset=10**9)
    with pytest.raises(FormatError, match=f"{named(plain)}: header field vox_offset is 1000000000, beyond the end"):
        open_image(plain)


def test_unknown_datatype(plain, patch):
    patch(plain, datatype=9999)
    with pytest.raises(FormatError, match=f"{named(plain)}: header field datatype is 9999, not a NIfTI data type"):
        open_image(plain)


def test_scaling_with_an_infinite_intercept(plain, patch):
    patch(plain, scl_slope=2.0, scl_inter=np.inf)
    with pytest.raises(FormatError, match=f"{named(plain)}: header field scl_inter is inf while scl_slope is 2.0"):
        open_image(plain)


def test_not_nifti_at_all(tmp_path):
    path = tmp_path / "notes.nii"
    path.write_bytes(b"These are not the voxels you are looking for." * 20)
    with pytest.raises(UnsupportedFormatError, match=f"{named(path)}: not a NIfTI file: sizeof_hdr is"):
        open_image(path)


def test_analyze_header_without_magic(tmp_path, patch):
    import nibabel as nib

    path = tmp_path / "old.hdr"
    nib.save(nib.AnalyzeImage(DATA, AFFINE), path)
    with pytest.raises(UnsupportedFormatError, match=f"{named(path)}: not a NIfTI-1 file: the magic string is"):
        open_image(path)


def test_pair_header_in_a_file_named_nii(tmp_path):
    save_image(tmp_path / "pair.hdr", DATA, AFFINE)
    (tmp_path / "pair.hdr").rename(tmp_path / "pair.nii")
    with pytest.raises(
        FormatError, match=re.escape("pair.nii: the magic string says this is the header of a .hdr/.img pair")
    ):
        open_image(tmp_path / "pair.nii")


def test_pair_without_its_image(tmp_path):
    save_image(tmp_path / "pair.hdr", DATA, AFFINE)
    (tmp_path / "pair.img").unlink()
    with pytest.raises(
        InputError, match=r"pair.hdr: the other file of this .hdr/.img pair, 'pair.img', cannot be used"
    ):
        open_image(tmp_path / "pair.hdr")


def test_truncated_pair_image(tmp_path):
    save_image(tmp_path / "pair.hdr", DATA, AFFINE)
    image = tmp_path / "pair.img"
    image.write_bytes(image.read_bytes()[:100])
    with pytest.raises(FormatError, match=re.escape("pair.img: truncated: the header declares")):
        open_image(tmp_path / "pair.hdr")


# -- broken matrices -----------------------------------------------------------------------------


def test_nan_sform(plain, patch):
    patch(plain, srow_x=[np.nan, 0, 0, 0])
    with pytest.raises(GeometryError, match=f"{named(plain)}: the sform contains NaN or infinity"):
        open_image(plain)


def test_infinite_qform(plain, patch):
    patch(plain, sform_code=0, qoffset_y=np.inf)
    with pytest.raises(GeometryError, match=f"{named(plain)}: the qform contains NaN or infinity"):
        open_image(plain)


def test_singular_sform_suggests_the_qform(plain, patch):
    patch(plain, srow_y=[0, 0, 0, 5])
    with pytest.raises(GeometryError, match=f"(?s){named(plain)}: the sform is unusable: voxel axes.*matrix='qform'"):
        open_image(plain)


def test_coplanar_sform(plain, patch):
    patch(plain, srow_x=[0.5, 0.6, 0, 0], srow_y=[0.5, 0.6, 0, 5])  # the first two axes are parallel
    with pytest.raises(GeometryError, match=f"{named(plain)}: the sform is singular: its voxel axes are .*coplanar"):
        open_image(plain)


def test_zero_voxel_size_in_the_qform(plain, patch):
    patch(plain, sform_code=0, pixdim=[1, 0.5, 0, 2, 1, 1, 1, 1])
    with pytest.raises(GeometryError, match=rf"{named(plain)}: the qform is unusable: voxel sizes pixdim\[1:4\]"):
        open_image(plain)


def test_quaternion_that_is_not_a_rotation(plain, patch):
    patch(plain, sform_code=0, quatern_b=0.9, quatern_c=0.9, quatern_d=0.9)
    with pytest.raises(GeometryError, match=f"{named(plain)}: the qform is unusable: quatern_b/c/d"):
        open_image(plain)


def test_no_orientation_at_all_loads_with_a_warning(plain, patch):
    patch(plain, sform_code=0, qform_code=0)
    with pytest.warns(GeometryWarning, match=f"{named(plain)}: no world orientation.*assumed nibabel's fallback"):
        volume = open_image(plain)
    np.testing.assert_array_equal(volume.src_data, DATA)


def test_unusable_qform_next_to_a_good_sform_warns(plain, patch):
    patch(plain, qoffset_x=np.nan)
    with pytest.warns(GeometryWarning, match=f"{named(plain)}: both matrices are set .* the qform is unusable"):
        open_image(plain)


# -- misnamed files, folders, empty files ----------------------------------------------------


def test_gzip_file_named_nii_is_read_by_content(packed):
    misnamed = packed.with_name("packed.nii")
    packed.rename(misnamed)
    with pytest.warns(FormatWarning, match="packed.nii: the file is gzip-compressed although its name does not end"):
        volume = open_image(misnamed)
    np.testing.assert_array_equal(volume.src_data, DATA)


def test_plain_file_named_nii_gz_is_read_by_content(plain):
    misnamed = plain.with_name("plain.nii.gz")
    plain.rename(misnamed)
    with pytest.warns(FormatWarning, match="plain.nii.gz: the file is not compressed although its name ends in .gz"):
        volume = open_image(misnamed)
    assert isinstance(volume.src_data, np.memmap)
    np.testing.assert_array_equal(volume.src_data, DATA)


def test_folder_as_the_path(tmp_path):
    folder = tmp_path / "scan.nii"
    folder.mkdir()
    with pytest.raises(InputError, match=re.escape("scan.nii: is a folder, expected a file")):
        open_image(folder)


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.nii.gz"
    empty.touch()
    with pytest.raises(NoImageDataError, match=r"empty.nii.gz: the file is empty \(0 bytes\)"):
        open_image(empty)


def test_empty_gzip_stream(tmp_path):
    path = tmp_path / "hollow.nii.gz"
    path.write_bytes(gzip.compress(b""))
    with pytest.raises(UnsupportedFormatError, match=re.escape("hollow.nii.gz: not a NIfTI file: sizeof_hdr is None")):
        open_image(path)


# -- saving ------------------------------------------------------------------------------------


@pytest.fixture
def existing(tmp_path):
    target = tmp_path / "existing.nii.gz"
    target.write_bytes(b"precious")
    return target


def assert_untouched(target):
    assert target.read_bytes() == b"precious"
    assert sorted(path.name for path in target.parent.iterdir()) == [target.name], "a failed save left files behind"


def test_save_with_an_unknown_extension(tmp_path):
    target = tmp_path / "scan.nrrd"
    with pytest.raises(
        SaveError, match=re.escape("scan.nrrd: unknown file name extension; NIfTI files end in .nii, .nii.gz")
    ):
        save_image(target, DATA, AFFINE)
    assert not target.exists()


@pytest.mark.parametrize(
    ("matrix", "problem"),
    [
        (np.full((4, 4), np.nan), "contains NaN or infinity"),
        (np.diag([1.0, 1.0, np.inf, 1.0]), "contains NaN or infinity"),
        (np.diag([1.0, 0.0, 1.0, 1.0]), "is unusable: voxel axes \\[1\\] have zero length"),
        (np.array([[1.0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), "is singular"),
        (np.eye(3), "must be a 4x4 matrix"),
    ],
)
def test_save_with_a_broken_matrix(existing, matrix, problem):
    with pytest.raises(SaveError, match=f"{named(existing)}: nothing was written: the transformation {problem}"):
        save_image(existing, DATA, matrix)
    assert_untouched(existing)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (np.zeros((3, 4)), "needs at least 3 dimensions"),
        (np.zeros((3, 0, 4)), "has an empty axis"),
        (np.zeros((2,) * 8, np.uint8), "NIfTI stores 1 to 7 dimensions"),
        (np.zeros((3, 4, 5), np.float16), "NIfTI cannot store data of type float16"),
        (np.empty((3, 4, 5), dtype=object), "NIfTI cannot store data of type object"),
    ],
)
def test_save_data_nifti_cannot_hold(existing, data, problem):
    with pytest.raises(SaveError, match=f"{named(existing)}: .*{problem}"):
        save_image(existing, data, AFFINE)
    assert_untouched(existing)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_save_into_a_read_only_folder(existing):
    existing.parent.chmod(0o555)
    try:
        with pytest.raises(SaveError, match=f"{named(existing)}: saving failed, nothing was written.*Permission"):
            save_image(existing, DATA, AFFINE)
    finally:
        existing.parent.chmod(0o755)
    assert_untouched(existing)


def test_save_into_a_folder_that_refuses_new_files(existing, monkeypatch):
    # What a read-only folder does, also when the tests run as root (who may write anywhere).
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(existing.parent))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(SaveError, match=f"{named(existing)}: saving failed, nothing was written.*Permission denied"):
        save_image(existing, DATA, AFFINE)
    assert_untouched(existing)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_save_onto_a_full_disk(tmp_path, monkeypatch, suffix):
    target = tmp_path / f"existing{suffix}"
    target.write_bytes(b"precious")
    import mvl.nifti.saving as saving

    real_open_output = saving.open_output  # what the saver opens its temporary files with

    class FullDisk:
        def __init__(self, stream):
            self.stream, self.written = stream, 0

        def write(self, block):
            self.written += len(memoryview(block).cast("B"))
            if self.written > 10_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.stream.write(block)

        def __getattr__(self, name):
            return getattr(self.stream, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.stream.close()

    def opener(file):
        assert ".partial" in str(file), "the saver writes temporary files only"
        return FullDisk(real_open_output(file))

    monkeypatch.setattr(saving, "open_output", opener)
    with pytest.raises(SaveError, match=f"{named(target)}: saving failed, nothing was written.*No space left"):
        save_image(target, DATA, AFFINE)
    monkeypatch.undo()
    assert_untouched(target)


def test_interrupted_save(existing, monkeypatch):
    import mvl.nifti.saving as saving

    def interrupted(*args, **kwargs):
        yield b"\0" * 1000
        raise KeyboardInterrupt

    monkeypatch.setattr(saving, "array_blocks", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_image(existing, DATA, AFFINE)
    assert_untouched(existing)


def test_save_into_a_missing_folder(tmp_path):
    with pytest.raises(SaveError, match="does not exist"):
        save_image(tmp_path / "nowhere" / "scan.nii", DATA, AFFINE)
    assert not (tmp_path / "nowhere").exists()
