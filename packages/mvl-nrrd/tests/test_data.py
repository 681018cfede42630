import bz2
import gzip
import os
import re
import resource

import nrrd
import numpy as np
import pytest

from mvl.coords import FormatError, InputError, ResourceLimitError, SecurityError
from mvl.nrrd import open_image

VALUES = np.arange(24, dtype="<i2")
EXPECTED = VALUES.reshape((2, 3, 4), order="F")


def check(volume, expected=EXPECTED):
    np.testing.assert_array_equal(volume.src_data, expected)
    assert volume.src_data.shape == (2, 3, 4)


# -- encodings ---------------------------------------------------------------------------


def test_raw_is_memory_mapped_copy_on_write(make_nrrd):
    path = make_nrrd()
    before = path.read_bytes()
    volume = open_image(path)
    assert isinstance(volume.src_data, np.memmap)
    assert isinstance(volume.aligned_data.base, np.memmap) or isinstance(volume.aligned_data, np.memmap)
    check(volume)
    volume.src_data[0, 0, 0] = 999  # changes memory only
    assert path.read_bytes() == before
    assert volume.src_data.flags.f_contiguous


def test_raw_without_mmap_is_a_fresh_array(make_nrrd):
    volume = open_image(make_nrrd(), mmap=False)
    assert type(volume.src_data) is np.ndarray
    check(volume)


@pytest.mark.parametrize("mmap", [True, False])
def test_big_endian_raw(make_nrrd, mmap):
    volume = open_image(make_nrrd({"endian": "big"}, body=VALUES.astype(">i2").tobytes()), mmap=mmap)
    check(volume)
    assert volume.src_data.dtype == (np.dtype(">i2") if mmap else np.dtype("=i2"))


@pytest.mark.parametrize("encoding", ["gzip", "gz"])
@pytest.mark.parametrize("backend", ["isal", "zlib-ng", "zlib"])
def test_gzip_through_every_backend(make_nrrd, monkeypatch, encoding, backend):
    monkeypatch.setenv("MVL_GZIP_BACKEND", backend)
    volume = open_image(make_nrrd({"encoding": encoding}, body=gzip.compress(VALUES.tobytes())))
    check(volume)
    assert type(volume.src_data) is np.ndarray


def test_big_endian_gzip_is_converted_to_native(make_nrrd):
    volume = open_image(
        make_nrrd({"endian": "big", "encoding": "gzip"}, body=gzip.compress(VALUES.astype(">i2").tobytes()))
    )
    check(volume)
    assert volume.src_data.dtype.isnative


def test_multi_member_gzip(make_nrrd):
    blob = VALUES.tobytes()
    check(open_image(make_nrrd({"encoding": "gzip"}, body=gzip.compress(blob[:10]) + gzip.compress(blob[10:]))))


@pytest.mark.parametrize("encoding", ["bzip2", "bz2"])
def test_bzip2(make_nrrd, encoding):
    blob = VALUES.tobytes()
    check(open_image(make_nrrd({"encoding": encoding}, body=bz2.compress(blob[:7]) + bz2.compress(blob[7:]))))


@pytest.mark.parametrize("encoding", ["ascii", "text", "txt"])
def test_ascii(make_nrrd, encoding):
    body = "\n".join(" ".join(str(v) for v in VALUES[i : i + 5]) for i in range(0, 24, 5)).encode()
    check(open_image(make_nrrd({"encoding": encoding, "endian": None}, body=body + b"\n")))


def test_ascii_floats(make_nrrd):
    values = np.linspace(-1, 1, 24, dtype=np.float32)
    body = ", ".join(repr(float(v)) for v in values).encode()
    volume = open_image(make_nrrd({"type": "float", "encoding": "ascii", "endian": None}, body=body))
    np.testing.assert_array_equal(volume.src_data, values.reshape((2, 3, 4), order="F"))


def test_hex(make_nrrd):
    text = VALUES.astype(">i2").tobytes().hex()
    body = "\n".join(text[i : i + 30] for i in range(0, len(text), 30)).encode()
    check(open_image(make_nrrd({"encoding": "hex", "endian": "big"}, body=body)))


def test_line_skip_and_byte_skip(make_nrrd):
    body = b"junk line 1\njunk line 2\nXYZ" + VALUES.tobytes()
    check(open_image(make_nrrd({"line skip": "2", "byte skip": "3"}, body=body)))
    gz = b"line\n" + gzip.compress(b"12345" + VALUES.tobytes())
    check(open_image(make_nrrd({"encoding": "gzip", "lineskip": "1", "byteskip": "5"}, body=gz)))


def test_byte_skip_minus_one_takes_the_end_of_the_file(make_nrrd):
    check(open_image(make_nrrd({"byte skip": "-1"}, body=b"any preamble" + VALUES.tobytes())))


def test_pynrrd_reads_the_same(tmp_path):
    data = np.random.default_rng(0).integers(-1000, 1000, (3, 4, 5, 2)).astype(np.int16)
    header = {
        "space": "right-anterior-superior",
        "space directions": np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [np.nan] * 3]),
        "kinds": ["domain", "domain", "domain", "vector"],
        "space origin": [0, 0, 0],
    }
    for encoding in ("raw", "gzip", "bzip2", "ascii"):
        path = tmp_path / f"{encoding}.nrrd"
        nrrd.write(str(path), data, {**header, "encoding": encoding})
        volume = open_image(path)
        expected, _ = nrrd.read(str(path))
        np.testing.assert_array_equal(volume.src_data, expected)
        np.testing.assert_array_equal(volume.src_data, data)


# -- sizes that do not match the data ---------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "body", "message"),
    [
        ({}, VALUES.tobytes()[:-2], "the data after the header holds 46 bytes, fewer than the 48"),
        ({}, VALUES.tobytes() + b"\0\0", "the data after the header holds 50 bytes, more than the 48"),
        ({"byte skip": "-1"}, VALUES.tobytes()[:-2], "holds 46 bytes, fewer than the 48"),
        ({"byte skip": "60"}, VALUES.tobytes(), "holds 0 bytes, fewer than the 48"),
        ({"encoding": "gzip"}, gzip.compress(VALUES.tobytes()[:-2]), "holds 46 bytes when decompressed, fewer"),
        ({"encoding": "gzip"}, gzip.compress(VALUES.tobytes() + b"xy"), "decompresses to 2 bytes more than the 48"),
        ({"encoding": "bzip2"}, bz2.compress(VALUES.tobytes()[:-2]), "holds 46 bytes when decompressed, fewer"),
        ({"encoding": "bzip2"}, bz2.compress(VALUES.tobytes() + b"xy"), "decompresses to 2 bytes more than the 48"),
        ({"encoding": "ascii"}, b"1 2 3", "has 5 characters, too few for the 24 values"),
        ({"encoding": "ascii"}, b" ".join([b"1"] * 25), "holds 25 values, more than the 24"),
        ({"encoding": "ascii"}, b" ".join([b"1"] * 23 + [b"x"]), "is not int16 text"),
        ({"encoding": "ascii"}, b" ".join([b"1"] * 23 + [b"70000"]), "values outside the range of header field"),
        ({"encoding": "ascii"}, b" ".join([b"1"] * 23 + [b"1.5"]), "is not int16 text"),
        ({"encoding": "hex"}, b"00" * 47, "holds 47 bytes, fewer than the 48"),
        ({"encoding": "hex"}, b"00" * 49, "holds 49 bytes, more than the 48"),
        ({"encoding": "hex"}, b"zz" * 48, "is not hex text"),
        ({"line skip": "5"}, b"one\ntwo\n", "'line skip' skips more lines than the data after the header holds"),
        ({"encoding": "gzip", "byte skip": "100"}, gzip.compress(VALUES.tobytes()), "'byte skip' skips past the end"),
    ],
)
def test_sizes_that_do_not_match_the_data(make_nrrd, changes, body, message):
    with pytest.raises(FormatError, match=f"scan\\.nrrd: .*{message}"):
        open_image(make_nrrd(changes, body=body))


def test_corrupt_gzip_is_an_error_not_wrong_voxels(make_nrrd):
    blob = bytearray(gzip.compress(VALUES.tobytes()))
    blob[-6] ^= 0xFF  # the CRC-32
    with pytest.raises(FormatError, match=r"scan.nrrd: corrupt gzip stream"):
        open_image(make_nrrd({"encoding": "gzip"}, body=bytes(blob)))


def test_corrupt_bzip2(make_nrrd):
    blob = bytearray(bz2.compress(VALUES.tobytes()))
    blob[20] ^= 0xFF
    with pytest.raises(FormatError, match=r"scan.nrrd: corrupt bzip2 stream"):
        open_image(make_nrrd({"encoding": "bzip2"}, body=bytes(blob)))


def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_gzip_bomb_is_stopped_after_the_declared_size(make_nrrd):
    # 1 GiB of zeros in ~1 MB of gzip (64 members of 16 MiB); the header declares 48 bytes.
    bomb = gzip.compress(bytes(1 << 24), compresslevel=9) * 64
    assert len(bomb) < 2_000_000
    before = peak_kib()
    with pytest.raises(ResourceLimitError, match=r"scan.nrrd: the gzip stream inflates beyond the 48 bytes"):
        open_image(make_nrrd({"encoding": "gzip"}, body=bomb))
    assert peak_kib() - before < 200_000  # far from the gigabyte it would inflate to


def test_tiny_gzip_declaring_huge_sizes_allocates_nothing(make_nrrd):
    path = make_nrrd({"encoding": "gzip", "sizes": "100000 100000 1000"}, body=gzip.compress(b"\0" * 1000))
    assert path.stat().st_size < 1000
    with pytest.raises(FormatError, match=r"holds \d+ bytes of gzip data, which inflate to at most \d+ bytes"):
        open_image(path)


def test_raw_declaring_huge_sizes_allocates_nothing(make_nrrd):
    path = make_nrrd({"sizes": "100000 100000 100000"})
    with pytest.raises(FormatError, match="holds 48 bytes, fewer than the 2000000000000000 that header fields"):
        open_image(path, mmap=False)


def test_bzip2_bomb_is_stopped(make_nrrd):
    bomb = bz2.compress(bytes(1 << 26))
    with pytest.raises(ResourceLimitError, match="the bzip2 stream decompresses beyond the 48 bytes"):
        open_image(make_nrrd({"encoding": "bzip2"}, body=bomb))


# -- detached headers ---------------------------------------------------------------------


def detached(make_nrrd, data_file, name="scan.nhdr", **changes):
    return make_nrrd({"data file": data_file, **changes}, name=name)


def test_detached_data_file_in_the_same_folder_and_below(make_nrrd, tmp_path):
    (tmp_path / "scan.raw").write_bytes(VALUES.tobytes())
    check(open_image(detached(make_nrrd, "scan.raw")))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "scan.raw.gz").write_bytes(gzip.compress(VALUES.tobytes()))
    volume = open_image(detached(make_nrrd, "sub/scan.raw.gz", encoding="gzip"))
    check(volume)
    assert volume.src_object.data_path == tmp_path / "sub" / "scan.raw.gz"
    assert volume.src_object.detached


def test_attached_data_file_field_in_a_nrrd_file(make_nrrd, tmp_path):
    (tmp_path / "x.raw").write_bytes(VALUES.tobytes())
    check(open_image(detached(make_nrrd, "x.raw", name="scan.nrrd")))


def test_detached_data_file_with_line_skip(make_nrrd, tmp_path):
    (tmp_path / "scan.raw").write_bytes(b"# a comment line\n" + VALUES.tobytes())
    check(open_image(detached(make_nrrd, "scan.raw", **{"line skip": "1"})))


@pytest.mark.parametrize("data_file", ["../../x.raw", "../outside.raw", "sub/../../x.raw"])
def test_data_file_outside_the_folder_is_refused(make_nrrd, tmp_path, data_file):
    folder = tmp_path / "a" / "b" / "sub"
    folder.mkdir(parents=True)
    (tmp_path / "x.raw").write_bytes(VALUES.tobytes())
    (tmp_path / "a" / "outside.raw").write_bytes(VALUES.tobytes())
    (tmp_path / "a" / "x.raw").write_bytes(VALUES.tobytes())
    path = make_nrrd({"data file": data_file}, name="a/b/scan.nhdr")
    with pytest.raises(SecurityError, match=re.escape(f"'data file' ({data_file!r}) leads outside the header's")):
        open_image(path)
    check(open_image(path, allow_external_data=True))


def test_absolute_data_file_is_refused(make_nrrd, tmp_path):
    (tmp_path / "x.raw").write_bytes(VALUES.tobytes())
    path = detached(make_nrrd, str(tmp_path / "x.raw"))
    with pytest.raises(SecurityError, match=r"header field 'data file' is the absolute path .*refusing"):
        open_image(path)
    check(open_image(path, allow_external_data=True))


def test_etc_passwd_is_never_voxels(make_nrrd):
    size = os.path.getsize("/etc/passwd")
    changes = {"type": "uint8", "endian": None, "sizes": f"{size} 1 1"}
    for data_file in ("/etc/passwd", "../" * 30 + "etc/passwd"):
        with pytest.raises(SecurityError, match="refusing"):
            open_image(detached(make_nrrd, data_file, **changes))


def test_symbolic_link_leading_out_is_refused(make_nrrd, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.raw").write_bytes(VALUES.tobytes())
    (tmp_path / "inside").mkdir()
    (tmp_path / "inside" / "link.raw").symlink_to(outside / "x.raw")
    path = make_nrrd({"data file": "link.raw"}, name="inside/scan.nhdr")
    with pytest.raises(SecurityError, match="leads outside the header's folder"):
        open_image(path)


def test_device_data_file_is_refused(make_nrrd, tmp_path):
    path = detached(make_nrrd, "/dev/zero")
    with pytest.raises(SecurityError, match=r"'data file' is the absolute path '/dev/zero'"):
        open_image(path)
    (tmp_path / "zero").symlink_to("/dev/zero")
    with pytest.raises(SecurityError, match="leads outside the header's folder"):
        open_image(detached(make_nrrd, "zero"))


def test_fifo_in_the_folder_is_refused_without_opening_it(make_nrrd, tmp_path):
    os.mkfifo(tmp_path / "pipe.raw")
    with pytest.raises(SecurityError, match=r"'pipe.raw', which is not a regular file"):
        open_image(detached(make_nrrd, "pipe.raw"))


def test_allowed_device_is_read_exactly_as_far_as_declared(make_nrrd):
    volume = open_image(detached(make_nrrd, "/dev/zero"), allow_external_data=True)
    np.testing.assert_array_equal(volume.src_data, np.zeros((2, 3, 4)))
    # As text, an endless device is read only up to a bound, then found wanting.
    with pytest.raises(FormatError, match="the data file '/dev/zero' holds 1 values, fewer than the 24"):
        open_image(detached(make_nrrd, "/dev/zero", encoding="ascii"), allow_external_data=True)


def test_missing_data_file_and_folder(make_nrrd, tmp_path):
    with pytest.raises(InputError, match=r"header field 'data file' names 'nope.raw', which does not exist"):
        open_image(detached(make_nrrd, "nope.raw"))
    (tmp_path / "folder").mkdir()
    with pytest.raises(InputError, match="names 'folder', which is a folder"):
        open_image(detached(make_nrrd, "folder"))


def test_header_without_data(make_nrrd, tmp_path):
    path = tmp_path / "scan.nhdr"
    path.write_bytes(make_nrrd.text())  # no blank line, no data file
    with pytest.raises(FormatError, match="the header names no 'data file' and no blank line ends it"):
        open_image(path)


def test_without_memory_maps_raw_data_is_read(make_nrrd, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no mmap here")

    monkeypatch.setattr(np, "memmap", refuse)
    volume = open_image(make_nrrd())
    assert type(volume.src_data) is np.ndarray
    check(volume)


def test_a_data_file_name_with_a_nul_byte_is_a_format_error_naming_the_header(make_nrrd):
    # Found by fuzzing (issue 18): pathlib raised a bare ValueError("embedded null byte").
    with pytest.raises(FormatError, match=r"header field 'data file' names 'scan\\x00.raw', which holds bytes no file"):
        open_image(detached(make_nrrd, "scan\0.raw"))
