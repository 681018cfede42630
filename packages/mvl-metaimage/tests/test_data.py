"""Decoding: raw, memory-mapped, HeaderSize, zlib, text; truncation and bombs refused."""

import zlib

import numpy as np
import pytest

from mvl.coords import FormatError, ResourceLimitError
from mvl.metaimage import open_image

VALUES = np.arange(24, dtype="<i2")


def compressed(make_mha, packed, size=True, name="z.mha", **changes):
    fields = {"CompressedData": "True", **changes}
    if size:
        fields["CompressedDataSize"] = str(len(packed))
    return make_mha(fields, body=packed, name=name)


def test_zlib_data_with_and_without_its_size(make_mha):
    for size in (True, False):
        volume = open_image(compressed(make_mha, zlib.compress(VALUES.tobytes()), size=size))
        assert type(volume.src_data) is np.ndarray
        np.testing.assert_array_equal(volume.src_data.ravel(order="F"), VALUES)


def test_zlib_data_in_a_detached_file(make_mha, tmp_path):
    (tmp_path / "scan.zraw").write_bytes(zlib.compress(VALUES.astype(">i2").tobytes()))
    path = make_mha({"CompressedData": "True", "BinaryDataByteOrderMSB": "True", "ElementDataFile": "scan.zraw"},
                    name="scan.mhd")  # fmt: skip
    volume = open_image(path)
    assert volume.src_data.dtype == np.dtype("int16") and volume.src_data.dtype.isnative
    np.testing.assert_array_equal(volume.src_data.ravel(order="F"), VALUES)


@pytest.mark.parametrize(
    ("mangle", "error", "message"),
    [
        (
            lambda packed: packed[:-6],
            FormatError,
            "holds .* bytes, fewer than the .* that header field 'CompressedDataSize'",
        ),
        (lambda packed: packed[:-1] + bytes([packed[-1] ^ 0x10]), FormatError, "corrupt zlib stream"),
    ],
)
def test_corrupt_and_truncated_zlib_data(make_mha, mangle, error, message):
    packed = zlib.compress(VALUES.tobytes())
    path = make_mha({"CompressedData": "True", "CompressedDataSize": str(len(packed))}, body=mangle(packed))
    with pytest.raises(error, match=message):
        open_image(path)


def test_truncated_zlib_data_without_size(make_mha):
    path = compressed(make_mha, zlib.compress(VALUES.tobytes())[:-6], size=False)
    with pytest.raises(FormatError, match="truncated zlib stream"):
        open_image(path)


def test_zlib_data_that_inflates_to_too_little_or_too_much(make_mha):
    with pytest.raises(FormatError, match="holds 46 bytes when inflated, fewer than the 48"):
        open_image(compressed(make_mha, zlib.compress(VALUES.tobytes()[:-2])))
    with pytest.raises(FormatError, match="inflates to 2 bytes more than the 48"):
        open_image(compressed(make_mha, zlib.compress(VALUES.tobytes() + b"xx"), name="more.mha"))


def test_a_zlib_bomb_is_stopped(make_mha):
    bomb = zlib.compress(bytes(48 + (64 << 20)), 9)
    with pytest.raises(ResourceLimitError, match="inflates beyond the 48 bytes"):
        open_image(compressed(make_mha, bomb))


def test_absurd_size_for_the_compressed_bytes_is_refused_before_allocating(make_mha):
    path = compressed(make_mha, zlib.compress(b"\0" * 100), DimSize="4000 4000 4000")
    with pytest.raises(FormatError, match="which inflate to at most"):
        open_image(path)


def test_absurd_raw_size_is_refused_before_allocating(make_mha):
    with pytest.raises(FormatError, match="fewer than the 128000000000"):
        open_image(make_mha({"DimSize": "4000 4000 4000"}), mmap=False)


def test_truncated_and_overlong_raw_data(make_mha):
    with pytest.raises(FormatError, match="the data after the header holds 47 bytes, fewer than the 48"):
        open_image(make_mha(body=VALUES.tobytes()[:-1]))
    with pytest.raises(FormatError, match="holds 50 bytes, more than the 48"):
        open_image(make_mha(body=VALUES.tobytes() + b"xx", name="long.mha"))


def test_header_size(make_mha, tmp_path):
    (tmp_path / "d.raw").write_bytes(b"0123456789" + VALUES.tobytes())
    for size in ("10", "-1"):
        volume = open_image(make_mha({"HeaderSize": size, "ElementDataFile": "d.raw"}, name=f"h{size}.mhd"))
        np.testing.assert_array_equal(volume.src_data.ravel(order="F"), VALUES)
    with pytest.raises(FormatError, match="holds 50 bytes, more than the 48"):
        open_image(make_mha({"HeaderSize": "8", "ElementDataFile": "d.raw"}, name="h8.mhd"))


def test_header_size_of_local_data_counts_from_the_start_of_the_file(make_mha):
    text = make_mha.text({"HeaderSize": "000"})
    start = len(text) + 4
    path = make_mha({"HeaderSize": f"{start:03d}"}, body=b"JUNK" + VALUES.tobytes())
    np.testing.assert_array_equal(open_image(path).src_data.ravel(order="F"), VALUES)
    tail = make_mha({"HeaderSize": "-1"}, body=b"JUNK" + VALUES.tobytes(), name="tail.mha")
    np.testing.assert_array_equal(open_image(tail).src_data.ravel(order="F"), VALUES)
    inside = make_mha({"HeaderSize": "4"}, name="inside.mha")
    with pytest.raises(FormatError, match="puts the data inside the header"):
        open_image(inside)


def test_text_data(make_mha):
    body = (" ".join(map(str, VALUES)) + "\n").encode()
    volume = open_image(make_mha({"BinaryData": "False"}, body=body))
    np.testing.assert_array_equal(volume.src_data.ravel(order="F"), VALUES)
    floats = open_image(
        make_mha({"BinaryData": "False", "ElementType": "MET_FLOAT"}, body=b"1.5 -2e3 " * 12, name="f.mha")
    )
    assert floats.src_data.dtype == np.float32 and floats.src_data.ravel(order="F")[1] == -2000
    with pytest.raises(FormatError, match="holds 23 values, fewer than the 24"):
        open_image(make_mha({"BinaryData": "False"}, body=body.rsplit(b" ", 1)[0], name="short.mha"))
    with pytest.raises(FormatError, match="holds text that is not int16 values"):
        open_image(make_mha({"BinaryData": "False"}, body=b"1.5 " * 24, name="bad.mha"))
    with pytest.raises(FormatError, match="too few for the 24 values"):
        open_image(make_mha({"BinaryData": "False"}, body=b"1 2", name="tiny.mha"))


@pytest.mark.parametrize("backend", ["isal", "zlib-ng", "zlib"])
def test_zlib_through_every_backend(make_mha, monkeypatch, backend):
    monkeypatch.setenv("MVL_GZIP_BACKEND", backend)
    volume = open_image(compressed(make_mha, zlib.compress(VALUES.tobytes())))
    np.testing.assert_array_equal(volume.src_data.ravel(order="F"), VALUES)


def test_without_memory_maps_raw_data_is_read(make_mha, monkeypatch):
    def no_maps(*args, **kwargs):
        raise OSError("no memory maps here")

    monkeypatch.setattr(np, "memmap", no_maps)
    volume = open_image(make_mha())
    assert type(volume.src_data) is np.ndarray
    np.testing.assert_array_equal(volume.src_data.ravel(order="F"), VALUES)


def test_etc_passwd_is_never_voxels(make_mha):
    from mvl.coords import SecurityError

    with pytest.raises(SecurityError):
        open_image(make_mha({"ElementDataFile": "/etc/passwd"}, name="x.mhd"))
