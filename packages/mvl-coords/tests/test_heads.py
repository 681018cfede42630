"""`peek`: the start of a file and of its compressed content, bounded, for regular files only."""

import bz2
import gzip
import lzma
import os
import threading
import zlib

import numpy as np
import pytest

from mvl.coords import InputError, heads
from mvl.coords.heads import Head, peek

CONTENT = b"NRRD0004\n" + bytes(range(256)) * 20

COMPRESSORS = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}


def test_a_plain_file_is_its_own_content(tmp_path):
    path = tmp_path / "plain"
    path.write_bytes(CONTENT)
    assert peek(path, 9) == Head(CONTENT[:9], None, CONTENT[:9])
    assert peek(path).stored == CONTENT[:2048]
    assert peek(path, 10**6).content == CONTENT  # shorter files give what they have


@pytest.mark.parametrize("compression", sorted(COMPRESSORS))
def test_compressed_content_is_looked_through(tmp_path, compression):
    path = tmp_path / "packed"
    path.write_bytes(COMPRESSORS[compression](CONTENT))
    head = peek(path, 300)
    assert (head.compression, head.content) == (compression, CONTENT[:300])
    assert head.stored == path.read_bytes()[:300]
    assert peek(path, 300, through=()).content == head.stored  # asked not to: as stored
    assert peek(path, 300, through=("gzip",)).content == (CONTENT[:300] if compression == "gzip" else head.stored)


def test_a_gzip_whose_content_starts_late_is_read_in_steps(tmp_path):
    # Random data barely compresses: the first 64 kB of content need more than one read.
    content = np.random.default_rng(1).bytes(200_000)
    path = tmp_path / "random.gz"
    path.write_bytes(gzip.compress(content))
    assert peek(path, 150_000).content == content[:150_000]


@pytest.mark.parametrize(
    "stored",
    [b"\x1f\x8b", b"\x1f\x8b\x08\x00garbage", gzip.compress(CONTENT)[:40], b"BZh9" + bytes(50), b"\xfd7zXZ\x00junk"],
    ids=["magic-only", "corrupt", "truncated", "bzip2-garbage", "xz-garbage"],
)
def test_damaged_streams_give_what_came_before_the_damage(tmp_path, stored):
    path = tmp_path / "damaged"
    path.write_bytes(stored)
    head = peek(path, 512)
    assert head.stored == stored and CONTENT.startswith(head.content)


def stored_gzip(padding: int, data: bytes) -> bytes:
    """A valid gzip file whose deflate stream starts with `padding` empty stored blocks."""
    empty = b"\x00\x00\x00\xff\xff"  # a stored block of length 0, not the last
    last = b"\x01" + len(data).to_bytes(2, "little") + (0xFFFF ^ len(data)).to_bytes(2, "little") + data
    trailer = zlib.crc32(data).to_bytes(4, "little") + len(data).to_bytes(4, "little")
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + empty * padding + last + trailer


def test_compressed_input_read_is_bounded(tmp_path, monkeypatch):
    path = tmp_path / "late.gz"
    path.write_bytes(stored_gzip(2000, b"HELLO"))  # 10 kB of compressed input before the first byte
    assert gzip.decompress(path.read_bytes()) == b"HELLO"
    assert peek(path, 5).content == b"HELLO"
    monkeypatch.setattr(heads, "MAX_COMPRESSED_BYTES", 4096)
    assert peek(path, 5).content == b""  # gave up after 4 kB


def test_only_regular_files_are_read(tmp_path):
    with pytest.raises(InputError, match=r"missing: no such file"):
        peek(tmp_path / "missing")
    with pytest.raises(InputError, match=r"is not a regular file"):
        peek(tmp_path)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo")
        result = []

        def refused():
            with pytest.raises(InputError, match="is not a regular file"):
                peek(tmp_path / "fifo")
            result.append(True)

        worker = threading.Thread(target=refused)
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "peek blocked on a FIFO"
        assert result


def test_an_empty_file_is_empty(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    assert peek(tmp_path / "empty") == Head(b"", None, b"")
