"""Archives: every kind loads in memory; unsafe members, injections and bombs are refused."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile

import numpy as np
import pytest

from mvl.coords import FormatError, FormatWarning, ResourceLimitError, SecurityError, UnsupportedFormatError
from mvl.coords.testing import assert_same_image
from mvl.dicom import Limits, list_series, open_stack
from mvl.dicom.testing import oblique_transformation, write_series

DATA = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
MATRIX = oblique_transformation()


@pytest.fixture
def series(tmp_path):
    return write_series(tmp_path / "series", DATA, MATRIX, series_uid="1.2.3.1")


def _zip(path, folder, prefix="study/ct/"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, prefix + file.name)
    return path


def _tar(path, folder, mode, prefix="study/ct"):
    with tarfile.open(path, mode) as archive:
        archive.add(folder, prefix)
    return path


@pytest.mark.parametrize(
    ("name", "mode"), [("s.tar", "w"), ("s.tar.gz", "w:gz"), ("s.tbz", "w:bz2"), ("s.tar.xz", "w:xz")]
)
def test_tar_archives_load_every_voxel_in_place(tmp_path, series, name, mode):
    path = _tar(tmp_path / name, series, mode)
    before = sorted(os.listdir(tmp_path))
    volume = open_stack(path, system="LPS")
    assert_same_image(volume, DATA, MATRIX, "LPS")
    assert sorted(os.listdir(tmp_path)) == before  # nothing extracted
    assert volume.src_object.files[0].startswith(f"{path}!study/ct/")
    assert volume.src_object.sorted_slices[0].SeriesInstanceUID == "1.2.3.1"


def test_zip_archives_load_every_voxel_in_place(tmp_path, series):
    path = _zip(tmp_path / "s.zip", series)
    assert_same_image(open_stack(path, system="LPS"), DATA, MATRIX, "LPS")
    assert [info.files for info in list_series(path)] == [6]
    assert list_series(path)[0].open().src_data.shape == (4, 5, 6)


def test_archive_kind_comes_from_content_not_name(tmp_path, series):
    path = _zip(tmp_path / "misnamed.tar.gz", series)
    assert open_stack(path).src_data.shape == (4, 5, 6)


def _zip_with(path, name, data=b"x", mode=None):
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        archive.writestr(info, data)
    return path


@pytest.mark.parametrize("name", ["../evil.dcm", "a/../../evil.dcm", "/etc/evil.dcm", "C:\\evil.dcm", "..\\evil.dcm"])
def test_zip_members_that_escape_are_refused(tmp_path, name):
    path = _zip_with(tmp_path / "bad.zip", name)
    with pytest.raises(SecurityError, match=r"bad\.zip: member .*(absolute path|climbs out).*refusing the archive"):
        open_stack(path)


def test_zip_symlink_is_refused(tmp_path):
    path = _zip_with(tmp_path / "link.zip", "series/IM1.dcm", b"/etc/passwd", stat.S_IFLNK | 0o777)
    with pytest.raises(SecurityError, match=r"member 'series/IM1\.dcm' is a symbolic link"):
        open_stack(path)


def test_zip_device_is_refused(tmp_path):
    path = _zip_with(tmp_path / "dev.zip", "series/IM1.dcm", b"", stat.S_IFCHR | 0o666)
    with pytest.raises(SecurityError, match=r"member 'series/IM1\.dcm' is not a regular file"):
        open_stack(path)


def _tar_with(path, *infos):
    with tarfile.open(path, "w") as archive:
        for info, data in infos:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _info(name, kind=tarfile.REGTYPE, size=0, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, link
    return info


@pytest.mark.parametrize(
    ("kind", "message"),
    [(tarfile.SYMTYPE, "is a symbolic link to '/etc/passwd'"), (tarfile.LNKTYPE, "is a hard link to '/etc/passwd'")],
)
def test_tar_links_are_refused(tmp_path, kind, message):
    path = _tar_with(tmp_path / "links.tar", (_info("series/IM1.dcm", kind, link="/etc/passwd"), None))
    with pytest.raises(SecurityError, match=rf"member 'series/IM1\.dcm' {message}; refusing the archive"):
        open_stack(path)


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_tar_devices_and_fifos_are_refused(tmp_path, kind):
    path = _tar_with(tmp_path / "devices.tar", (_info("series/dev", kind), None))
    with pytest.raises(SecurityError, match=r"member 'series/dev' is a device or FIFO"):
        open_stack(path)


@pytest.mark.parametrize("name", ["../../evil.dcm", "/abs/evil.dcm"])
def test_tar_members_that_escape_are_refused(tmp_path, name):
    path = _tar_with(tmp_path / "escape.tar.gz" if False else tmp_path / "escape.tar", (_info(name, size=1), b"x"))
    with pytest.raises(SecurityError, match=r"escape\.tar: member .*refusing the archive"):
        open_stack(path)


def test_an_injected_replacement_member_is_refused(tmp_path, series):
    path = _tar(tmp_path / "s.tar", series, "w")
    victim = sorted(series.iterdir())[0]
    with tarfile.open(path, "a") as archive:  # appended: would replace the first copy when extracted
        archive.add(victim, f"study/ct/{victim.name}")
    with pytest.raises(SecurityError, match=rf"member 'study/ct/{victim.name}' appears twice"):
        open_stack(path)


def test_an_injected_file_of_another_series_does_not_hijack_silently(tmp_path, series):
    other = write_series(tmp_path / "other", DATA[:, :, :1], series_uid="6.6.6", prefix="AAA")
    path = _zip(tmp_path / "s.zip", series)
    with zipfile.ZipFile(path, "a") as archive:
        archive.write(next(other.iterdir()), "study/ct/000-injected.dcm")
    with pytest.warns(
        FormatWarning, match=r"holds 2 series; loaded 6\.6\.6 .*000-injected\.dcm.*Also here: 1\.2\.3\.1 .*series_uid="
    ):
        open_stack(path)
    volume = open_stack(path, series_uid="1.2.3.1", system="LPS")
    assert_same_image(volume, DATA, MATRIX, "LPS")


def test_zip_bomb_is_refused_from_declared_sizes(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(3):
            archive.writestr(f"zeros{index}.dcm", b"\0" * (1 << 20))
    assert path.stat().st_size < 20_000
    with pytest.raises(ResourceLimitError, match=r"bomb\.zip: its members hold more than 2000000 bytes uncompressed"):
        open_stack(path, limits=Limits(max_archive_bytes=2_000_000))


def test_tar_gz_bomb_is_refused_while_streaming(tmp_path):
    path = tmp_path / "bomb.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for index in range(3):
            archive.addfile(_info(f"zeros{index}.dcm", size=1 << 20), io.BytesIO(b"\0" * (1 << 20)))
    with pytest.raises(ResourceLimitError, match=r"bomb\.tar\.gz: its members hold more than 2000000 bytes"):
        open_stack(path, limits=Limits(max_archive_bytes=2_000_000))


def test_too_many_members_are_refused(tmp_path, series):
    path = _zip(tmp_path / "s.zip", series)
    with pytest.raises(ResourceLimitError, match=r"has more than 3 members"):
        open_stack(path, limits=Limits(max_archive_members=3))


def test_member_decompressing_past_its_declared_size_is_an_error(tmp_path, series):
    path = _zip(tmp_path / "s.zip", series)
    data = bytearray(path.read_bytes())
    # Shrink the declared uncompressed size of the first member in the central directory.
    directory = data.rindex(b"PK\x01\x02", 0, len(data) - 22)
    first = data.index(b"PK\x01\x02")
    assert first <= directory
    data[first + 24 : first + 28] = (500).to_bytes(4, "little")  # the member holds 962 bytes
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"s\.zip: cannot read member 'study/ct/.*' \(Bad CRC-32"):
        open_stack(path)


def test_corrupt_archive_is_a_format_error(tmp_path):
    path = tmp_path / "broken.tar.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"\0" * 6 + os.urandom(100))
    with pytest.raises(UnsupportedFormatError, match=r"broken\.tar\.gz: is neither a DICOM file"):
        open_stack(path)
