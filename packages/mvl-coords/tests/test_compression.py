import bz2
import contextlib
import errno
import gzip
import io
import re
import threading
import zlib

import numpy as np
import pytest

from mvl.coords import FormatError, MissingDependencyError, ResourceLimitError
from mvl.coords.compression import BACKENDS, Bzip2Reader, GzipReader, gzip_backend, write_gzip


def installed_backends():
    found = []
    for name in BACKENDS:
        with contextlib.suppress(MissingDependencyError):
            found.append(gzip_backend(name))
    return found


BACKEND_IDS = [backend.name for backend in installed_backends()]
DATA = np.random.default_rng(0).normal(0, 40, size=300_000).astype(np.int16).tobytes()


@pytest.fixture(params=BACKEND_IDS)
def backend(request):
    return gzip_backend(request.param)


def test_zlib_is_always_there_and_default_is_fastest():
    assert "zlib" in BACKEND_IDS
    assert gzip_backend().name == BACKEND_IDS[0]


def test_environment_chooses_the_backend(monkeypatch):
    monkeypatch.setenv("MVL_GZIP_BACKEND", "zlib")
    assert gzip_backend().name == "zlib"
    monkeypatch.setenv("MVL_GZIP_BACKEND", "brotli")
    with pytest.raises(ValueError, match="unknown gzip backend 'brotli'"):
        gzip_backend()


def test_missing_backend_names_the_install(monkeypatch):
    import mvl.coords.compression as compression

    monkeypatch.setattr(compression, "_load", lambda name: None)
    with pytest.raises(MissingDependencyError, match="the gzip backend 'isal' is not installed: pip install isal"):
        gzip_backend("isal")


def read_all(blob, backend, **kwargs):
    reader = GzipReader(io.BytesIO(blob), path="scan.nii.gz", backend=backend)
    buffer = bytearray(len(DATA))
    filled = reader.readinto(buffer)
    return reader, bytes(buffer[:filled])


def test_every_backend_inflates_the_same_bytes(backend):
    for level in (1, 6, 9):
        reader, out = read_all(gzip.compress(DATA, level), backend)
        assert out == DATA
        assert reader.finish() == 0


def test_read_then_readinto_numpy(backend):
    reader = GzipReader(io.BytesIO(gzip.compress(DATA)), backend=backend)
    head = reader.read(348)
    array = np.empty((len(DATA) - 348) // 2, dtype=np.int16)
    assert reader.readinto(array) == array.nbytes
    assert head + array.tobytes() == DATA
    assert reader.produced == len(DATA)


def test_multi_member_and_zero_padding(backend):
    blob = gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:]) + b"\0" * 512
    reader, out = read_all(blob, backend)
    assert out == DATA
    assert reader.finish() == 0


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda b: b[:-6] + bytes([b[-6] ^ 1]) + b[-5:], r"corrupt gzip stream"),  # CRC-32
        (lambda b: b[:-3] + bytes([b[-3] ^ 1]) + b[-2:], r"corrupt gzip stream"),  # ISIZE
        (lambda b: b[: len(b) // 2], r"truncated gzip stream: it ends inside a member"),
        (lambda b: b[:-4], r"truncated gzip stream|corrupt"),
        (lambda b: b + b"garbage", r"corrupt gzip stream: unexpected bytes after the gzip data"),
    ],
)
def test_corruption_is_an_error_never_wrong_voxels(backend, corrupt, message):
    blob = corrupt(gzip.compress(DATA))
    with pytest.raises(FormatError, match=r"^scan.nii.gz: " + message):
        reader, _ = read_all(blob, backend)
        reader.finish()


def test_every_single_bit_flip_in_the_deflate_data_is_caught(backend):
    blob = gzip.compress(DATA[:4000], mtime=0)
    rng = np.random.default_rng(1)
    for position in rng.choice(np.arange(10, len(blob)), size=60, replace=False):
        flipped = bytearray(blob)
        flipped[position] ^= 1 << int(rng.integers(8))
        try:
            reader = GzipReader(io.BytesIO(bytes(flipped)), backend=backend)
            out = reader.read(4000)
            reader.finish()
        except FormatError:
            continue
        pytest.fail(f"flip at byte {position} came back as {'the same' if out == DATA[:4000] else 'wrong'} data")


def test_not_gzip_at_all(backend):
    with pytest.raises(FormatError, match=re.escape(r"not a gzip stream (starts with b'\x00\x01'")):
        GzipReader(io.BytesIO(b"\x00\x01rest"), backend=backend)


def test_bomb_is_stopped_after_the_allowance(backend):
    bomb = gzip.compress(b"\0" * (64 << 20), 9)  # 64 MiB from about 64 KiB
    reader = GzipReader(io.BytesIO(bomb), path="bomb.nrrd", backend=backend)
    assert reader.read(1000) == b"\0" * 1000
    with pytest.raises(ResourceLimitError, match=r"^bomb.nrrd: the gzip stream inflates beyond the 1000 bytes"):
        reader.finish(allowed_extra=10)
    assert reader.produced < 5 << 20  # stopped early, not inflated to the end


def test_small_allowed_extra_is_reported(backend):
    reader = GzipReader(io.BytesIO(gzip.compress(b"abcdef")), backend=backend)
    assert reader.read(4) == b"abcd"
    assert reader.finish(allowed_extra=2) == 2


@pytest.mark.parametrize("threads", [1, 2])
def test_write_gzip_round_trips_through_the_standard_library(backend, threads):
    array = np.arange(100_000, dtype=np.int32)
    out = io.BytesIO()
    write_gzip(out, [memoryview(array[:500]), memoryview(array[500:])], backend=backend, threads=threads)
    assert not out.closed
    assert gzip.decompress(out.getvalue()) == array.tobytes()
    assert zlib.decompress(out.getvalue(), wbits=31) == array.tobytes()


class FullDisk(io.BytesIO):
    """Accepts `room` bytes, then fails like a full disk."""

    def __init__(self, room):
        super().__init__()
        self.room = room

    def write(self, data):
        if self.tell() + memoryview(data).nbytes > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(data)


@pytest.mark.parametrize("room", [5, 50_000])  # in the gzip header (calling thread), in the data (writer thread)
@pytest.mark.parametrize("threads", [1, 2])
def test_write_errors_reach_the_caller_and_never_hang(backend, threads, room):
    # python-isal < 1.9 and zlib-ng < 1.1 hang for ever when their writer thread meets an error.
    outcome = []

    def save():
        try:
            write_gzip(
                FullDisk(room),
                [DATA[i : i + 65536] for i in range(0, len(DATA), 65536)],
                backend=backend,
                threads=threads,
            )
        except OSError as error:
            outcome.append(error)

    worker = threading.Thread(target=save, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "write_gzip hung on a write error"
    assert len(outcome) == 1 and outcome[0].errno == errno.ENOSPC


def test_default_level_gives_about_zlib_level_1_size(backend):
    out = io.BytesIO()
    write_gzip(out, [DATA], backend=backend, threads=1)
    reference = len(gzip.compress(DATA, 1))
    assert len(out.getvalue()) <= 1.05 * reference


def test_thread_count_from_the_environment(monkeypatch):
    import mvl.coords.compression as compression

    monkeypatch.setenv("MVL_GZIP_THREADS", "1")
    assert compression._default_threads() == 1
    for ignored in ("0", "many", ""):
        monkeypatch.setenv("MVL_GZIP_THREADS", ignored)
        assert compression._default_threads() == min(4, compression.usable_cpus())


@pytest.fixture(params=["in memory", "file after a header"])
def open_stream(request, tmp_path):
    """Streams of both kinds: in memory, and a file positioned after a text header (as NRRD reads it)."""
    with contextlib.ExitStack() as files:

        def make(blob):
            if request.param == "in memory":
                return io.BytesIO(blob)
            path = tmp_path / f"data{len(list(tmp_path.iterdir()))}.nrrd"
            path.write_bytes(b"NRRD0004\nencoding: gzip\n\n" + blob)
            stream = files.enter_context(open(path, "rb"))
            stream.readline(), stream.readline(), stream.readline()
            return stream

        yield make


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda b: b, None),
        (lambda b: b[:-6] + bytes([b[-6] ^ 1]) + b[-5:], r"corrupt gzip stream"),
        (lambda b: b[: len(b) // 2], r"truncated gzip stream"),
        (lambda b: b + b"garbage", r"unexpected bytes after the gzip data"),
        (lambda b: b + gzip.compress(b"more") + b"\0" * 10, None),
    ],
)
def test_files_and_memory_streams_behave_the_same(open_stream, backend, corrupt, message):
    blob = corrupt(gzip.compress(DATA))
    reader = GzipReader(open_stream(blob), path="scan.nrrd", backend=backend)
    buffer = bytearray(len(DATA))
    if message is None:
        assert reader.readinto(buffer) == len(DATA) and bytes(buffer) == DATA
        assert reader.finish(allowed_extra=4) in (0, 4)
        return
    with pytest.raises(FormatError, match=message):
        reader.readinto(buffer)
        reader.finish()


def test_bzip2_reader_members_and_garbage():
    reader = Bzip2Reader(io.BytesIO(bz2.compress(b"a" * 10) + bz2.compress(b"b" * 5)))
    assert reader.read(100) == b"a" * 10 + b"b" * 5
    assert reader.finish() == 0
    reader = Bzip2Reader(io.BytesIO(bz2.compress(b"abc") + b"trailing"), path="x.raw.bz2")
    with pytest.raises(FormatError, match=r"x.raw.bz2: corrupt bzip2 stream: unexpected bytes after the bzip2 data"):
        reader.read(10)
    reader = Bzip2Reader(io.BytesIO(bz2.compress(b"abcdef")[:-5]), path="x.raw.bz2")
    with pytest.raises(FormatError, match=r"x.raw.bz2: truncated bzip2 stream"):
        reader.read(10)


def test_bzip2_reader_stops_past_the_allowance():
    reader = Bzip2Reader(io.BytesIO(bz2.compress(bytes(1 << 20))), path="x.raw.bz2")
    assert reader.read(10) == bytes(10)
    with pytest.raises(ResourceLimitError, match=r"x\.raw\.bz2: the bzip2 stream decompresses beyond the 10 bytes"):
        reader.finish(allowed_extra=1000)
