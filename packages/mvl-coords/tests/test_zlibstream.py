import contextlib
import gzip
import io
import zlib

import numpy as np
import pytest

from mvl.coords import FormatError, MissingDependencyError, ResourceLimitError
from mvl.coords.compression import BACKENDS, gzip_backend
from mvl.coords.zlibstream import ZlibReader, write_zlib


def installed_backends():
    found = []
    for name in BACKENDS:
        with contextlib.suppress(MissingDependencyError):
            found.append(gzip_backend(name))
    return found


DATA = np.random.default_rng(1).normal(0, 40, size=300_000).astype(np.int16).tobytes()


@pytest.fixture(params=[backend.name for backend in installed_backends()])
def backend(request):
    return gzip_backend(request.param)


def test_every_backend_inflates_the_same_bytes(backend):
    reader = ZlibReader(io.BytesIO(zlib.compress(DATA, 6)), backend=backend, path="x.mha")
    target = np.empty(len(DATA) // 2, np.int16)
    assert reader.readinto(target) == len(DATA)
    assert target.tobytes() == DATA
    assert reader.finish() == 0 and reader.produced == len(DATA)


def test_a_gzip_stream_in_its_place_is_read(backend):
    reader = ZlibReader(io.BytesIO(gzip.compress(DATA)), backend=backend)
    assert reader.read(len(DATA)) == DATA and reader.finish() == 0


def test_compressed_size_bounds_the_input(backend):
    packed = zlib.compress(DATA)
    stream = io.BytesIO(packed + b"next field")
    reader = ZlibReader(stream, compressed_size=len(packed), backend=backend)
    assert reader.read(len(DATA)) == DATA and reader.finish() == 0
    assert stream.read() == b"next field"  # never read past the declared size


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda packed: packed[:-1] + bytes([packed[-1] ^ 1]), "corrupt zlib stream"),  # the Adler-32
        (lambda packed: packed[: len(packed) // 2], "truncated zlib stream"),
        (lambda packed: packed + b"\0junk", "unexpected bytes after the end"),
        (lambda packed: b"NOTZLIB" + packed, "corrupt zlib stream"),
    ],
)
def test_corruption_is_an_error_never_wrong_voxels(backend, mangle, message):
    reader = ZlibReader(io.BytesIO(mangle(zlib.compress(DATA))), path="scan.mha", backend=backend)
    with pytest.raises(FormatError, match=message) as caught:
        reader.read(len(DATA))
        reader.finish()
    assert caught.value.path == "scan.mha"


def test_declared_size_shorter_than_the_stream_is_truncation(backend):
    packed = zlib.compress(DATA)
    reader = ZlibReader(io.BytesIO(packed), compressed_size=len(packed) - 10, backend=backend)
    with pytest.raises(FormatError, match="its declared size ends inside it"):
        reader.read(len(DATA))
        reader.finish()


def test_bomb_is_stopped_after_the_allowance(backend):
    bomb = zlib.compress(bytes(50_000_000), 9)
    reader = ZlibReader(io.BytesIO(bomb), backend=backend)
    assert reader.read(1000) == bytes(1000)
    with pytest.raises(ResourceLimitError, match="inflates beyond"):
        reader.finish(allowed_extra=1 << 20)


def test_write_zlib_round_trips_and_counts(backend):
    out = io.BytesIO()
    blocks = [DATA[start : start + 65536] for start in range(0, len(DATA), 65536)]
    size = write_zlib(out, blocks, backend=backend)
    assert size == len(out.getvalue())
    assert zlib.decompress(out.getvalue()) == DATA
    assert out.getvalue()[0] & 0x0F == 8  # a zlib header (deflate), not gzip


@pytest.mark.parametrize("threads", [2, 3])
def test_write_zlib_on_threads_is_one_standard_stream(backend, threads, monkeypatch):
    import mvl.coords.zlibstream as zlibstream

    monkeypatch.setattr(zlibstream, "PIECE_BYTES", 100_000)  # several pieces, also one short last piece
    data = DATA + DATA[:12345]
    blocks = [data[start : start + 30_000] for start in range(0, len(data), 30_000)]
    out = io.BytesIO()
    size = write_zlib(out, blocks, backend=backend, threads=threads)
    assert size == len(out.getvalue())
    assert zlib.decompress(out.getvalue()) == data  # the standard library checks the Adler-32
    reader = ZlibReader(io.BytesIO(out.getvalue()), backend=backend)
    assert reader.read(len(data)) == data and reader.finish() == 0


def test_write_zlib_threads_with_nothing_and_exact_pieces(monkeypatch):
    import mvl.coords.zlibstream as zlibstream

    monkeypatch.setattr(zlibstream, "PIECE_BYTES", 1000)
    for data in (b"", bytes(range(256)) * 8):  # empty; exactly two pieces
        out = io.BytesIO()
        write_zlib(out, [data[:1000], data[1000:]] if data else [], threads=2)
        assert zlib.decompress(out.getvalue()) == data


def test_adler32_combine_matches_the_checksum_of_the_whole():
    from mvl.coords.zlibstream import _adler32_combine

    rng = np.random.default_rng(3)
    for length_a, length_b in [(0, 5), (5, 0), (1, 1), (70_000, 123_457), (10, 1 << 20)]:
        a, b = rng.bytes(length_a), rng.bytes(length_b)
        assert _adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)


def test_write_errors_reach_the_caller(monkeypatch):
    class Full(io.BytesIO):
        def write(self, data):
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_zlib(Full(), [DATA] * 3, threads=2)
