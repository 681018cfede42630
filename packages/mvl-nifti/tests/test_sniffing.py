"""Sniffing: NIfTI recognised by its magic bytes, inside gzip too, whatever the name; never raising."""

import gzip

import numpy as np
import pytest

from mvl.nifti import save_image
from mvl.nifti.sniffing import Signature, pair_paths, read_prefix, signature, sniff


@pytest.fixture
def volume():
    return np.zeros((20, 30, 40), np.int16), np.eye(4)


@pytest.mark.parametrize("name", ["a.nii", "a.nii.gz", "a.hdr", "a.img", "a.hdr.gz", "a.img.gz"])
def test_what_we_write_is_recognised(tmp_path, volume, name):
    save_image(tmp_path / name, *volume)
    assert sniff(tmp_path / name)


def test_nifti2_and_big_endian(tmp_path, nibabel_file):
    import nibabel as nib

    two = nibabel_file(tmp_path / "two.nii.gz", np.zeros((2, 3, 4), np.uint8), np.eye(4), nifti2=True)
    assert signature(read_prefix(two)[0]) == Signature(2, True, "<")
    big = tmp_path / "big.nii"
    nib.save(nib.Nifti1Image(np.zeros((2, 3, 4), np.float32), np.eye(4), nib.Nifti1Header(endianness=">")), big)
    assert signature(read_prefix(big)[0]) == Signature(1, True, ">")


def test_content_decides_not_the_name(tmp_path, volume):
    save_image(tmp_path / "packed.nii.gz", *volume)
    (tmp_path / "packed.nii.gz").rename(tmp_path / "misnamed.dat")
    assert sniff(tmp_path / "misnamed.dat")
    prefix, compressed = read_prefix(tmp_path / "misnamed.dat")
    assert compressed and len(prefix) == 540


@pytest.mark.parametrize(
    "content",
    [b"", b"\x1f\x8b", b"\x1f\x8b\x08\x00garbage", gzip.compress(b"short"), b"x" * 1000, bytes(348)],
    ids=["empty", "gzip-magic-only", "corrupt-gzip", "short-gzip", "text", "zeros"],
)
def test_foreign_or_broken_files_are_not_nifti(tmp_path, content):
    path = tmp_path / "scan.nii"
    path.write_bytes(content)
    assert sniff(path) is False


def test_missing_files_and_folders_are_not_nifti(tmp_path):
    assert sniff(tmp_path / "missing.nii") is False
    assert sniff(tmp_path) is False
    assert sniff(tmp_path / "lonely.img") is False


def test_analyze_header_is_not_nifti(tmp_path):
    import nibabel as nib

    nib.save(nib.AnalyzeImage(np.zeros((2, 3, 4), np.int16), np.eye(4)), tmp_path / "old.hdr")
    assert sniff(tmp_path / "old.hdr") is False


def test_pair_header_alone_under_another_name_is_not_loadable(tmp_path, volume):
    save_image(tmp_path / "pair.hdr", *volume)
    (tmp_path / "pair.hdr").rename(tmp_path / "pair.nii")
    assert sniff(tmp_path / "pair.nii") is False


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("s.hdr", ("s.hdr", "s.img")),
        ("s.img", ("s.hdr", "s.img")),
        ("s.Img.Gz", ("s.Hdr.Gz", "s.Img.Gz")),
        ("dir.img/s.HDR", ("s.HDR", "s.IMG")),
    ],
)
def test_pair_paths(given, expected):
    header, image = pair_paths(given)
    assert (header.name, image.name) == expected


@pytest.mark.parametrize("given", ["s.nii", "s.nii.gz", ".hdr", "s.gz", "s.hdrx"])
def test_not_a_pair(given):
    assert pair_paths(given) is None
