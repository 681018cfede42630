import os
import stat
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvl.coords import InputError, MvlError, NoImageDataError, SaveError, files
from mvl.coords.files import WRITEBACK_BYTES, array_blocks, atomic_write, input_file, open_output


def test_input_file_accepts_a_regular_file(tmp_path):
    path = tmp_path / "scan.nii"
    path.write_bytes(b"x")
    assert input_file(str(path)) == path


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: None, InputError, r"scan: no such file"),
        (lambda p: p.mkdir(), InputError, r"scan: is a folder, expected a file"),
        (lambda p: os.mkfifo(p), InputError, r"scan: is not a regular file \(a device, FIFO or socket\)"),
        (lambda p: p.symlink_to(p.parent / "gone"), InputError, r"scan: no such file"),
        (lambda p: p.write_bytes(b""), NoImageDataError, r"scan: the file is empty \(0 bytes\)"),
    ],
)
def test_input_file_refuses(tmp_path, make, error, message):
    path = tmp_path / "scan"
    make(path)
    with pytest.raises(error, match=message):
        input_file(path)


def test_input_file_refuses_devices():
    with pytest.raises(InputError, match="not a regular file"):
        input_file("/dev/zero")


def test_input_file_may_allow_empty(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    assert input_file(tmp_path / "empty", allow_empty=True).name == "empty"


def test_atomic_write_replaces_only_on_success(tmp_path):
    header, data = tmp_path / "a.nhdr", tmp_path / "a.raw"
    header.write_text("old")
    with atomic_write(data, header) as (data_tmp, header_tmp):
        data_tmp.write_bytes(b"voxels")
        header_tmp.write_text("new")
        assert header.read_text() == "old"
        assert data_tmp.parent == tmp_path
    assert header.read_text() == "new" and data.read_bytes() == b"voxels"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nhdr", "a.raw"]
    mode = stat.S_IMODE(header.stat().st_mode)
    assert mode & 0o644 == 0o644


@pytest.mark.parametrize("failure", [RuntimeError("disk on fire"), MvlError("bad voxels")])
def test_atomic_write_failure_keeps_the_target_and_cleans_up(tmp_path, failure):
    target = tmp_path / "scan.nii"
    target.write_bytes(b"precious")
    expected = r"scan.nii: saving failed, nothing was written \((RuntimeError: )?"
    with pytest.raises(SaveError, match=expected) as caught, atomic_write(target) as (temporary,):
        temporary.write_bytes(b"half")
        raise failure
    assert caught.value.__cause__ is failure
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["scan.nii"]


def test_atomic_write_passes_interrupts_through_and_cleans_up(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic_write(tmp_path / "x") as (temporary,):
        temporary.write_bytes(b"half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_errors_can_name_another_path(tmp_path):
    header, data = tmp_path / "scan.nhdr", tmp_path / "scan.raw"
    expected = r"^.*scan\.nhdr: saving failed"
    with pytest.raises(SaveError, match=expected) as caught, atomic_write(data, header, error_path=header):
        raise RuntimeError("disk full")
    assert caught.value.path == str(header)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_refuses_missing_folder_and_folder_targets(tmp_path):
    with (
        pytest.raises(SaveError, match=r"the folder '.*no-such' does not exist"),
        atomic_write(tmp_path / "no-such" / "x"),
    ):
        pass
    (tmp_path / "dir").mkdir()
    with pytest.raises(SaveError, match=r"dir' is a folder; give a file name"), atomic_write(tmp_path / "dir"):
        pass
    assert not (tmp_path / "no-such").exists()


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("block_bytes", [1, 7, 100, 1 << 22])
@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,
        lambda a: a[::-1, :, ::2],
        lambda a: a.transpose(2, 0, 1),
        lambda a: np.asfortranarray(a),
        lambda a: a[:, 1:2, :],
    ],
)
def test_array_blocks_give_the_bytes_in_file_order(order, block_bytes, make):
    array = make(np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6))
    blocks = list(array_blocks(array, order, block_bytes=block_bytes))
    assert b"".join(blocks) == array.tobytes(order)
    assert all(
        len(block) <= max(block_bytes, array.itemsize * array.shape[-1 if order == "C" else 0]) for block in blocks
    )


def test_array_blocks_convert_dtype_and_do_not_copy_contiguous_data():
    array = np.arange(1000, dtype=np.int16).reshape(10, 10, 10)
    assert b"".join(array_blocks(array, dtype=">i2")) == array.astype(">i2").tobytes()
    first = next(array_blocks(array, block_bytes=1 << 22))
    assert np.shares_memory(np.frombuffer(first, dtype=np.uint8), array)
    assert list(array_blocks(np.zeros((0, 3)))) == []


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, ">f8"])
@pytest.mark.parametrize(
    "view",
    [
        lambda a: a,  # C order written as F: tiled
        lambda a: np.asfortranarray(a),  # F order already: slices of memory
        lambda a: a[::-1, :, ::-1],  # flipped: tiled
        lambda a: a.transpose(1, 0, 2),  # other layouts: slab by slab
        lambda a: a[:, ::2],
    ],
)
def test_fortran_order_of_any_layout(dtype, view):
    array = view(np.random.default_rng(0).integers(0, 100, (37, 5, 70)).astype(dtype))
    for block_bytes in (1000, 1 << 22):
        assert b"".join(array_blocks(array, "F", block_bytes=block_bytes)) == array.tobytes(order="F")


def test_more_dimensions_and_conversion_in_fortran_order():
    rng = np.random.default_rng(1)
    array = rng.integers(0, 2, (3, 4, 5, 66)).astype(bool)
    assert b"".join(array_blocks(array, "F", dtype=np.uint8)) == array.astype(np.uint8).tobytes(order="F")
    array = rng.normal(size=(3, 4, 5, 66)).astype(np.float32)
    assert b"".join(array_blocks(array, "F", dtype=">f4", block_bytes=500)) == array.astype(">f4").tobytes(order="F")


def test_copied_blocks_are_fresh_buffers():
    # A consumer (a threaded gzip writer) may still hold a block when the next one is made.
    array = np.random.default_rng(2).integers(0, 100, (8, 9, 64)).astype(np.int16)
    for order in ("C", "F"):
        kept = list(array_blocks(array[::-1], order, block_bytes=256))
        assert b"".join(bytes(part) for part in kept) == array[::-1].tobytes(order)


def test_array_blocks_copy_little_of_a_large_view():
    array = np.zeros((64, 256, 256), dtype=np.int16)  # 8 MiB
    sizes = [len(block) for block in array_blocks(array[::-1], "C", block_bytes=1 << 16)]
    assert max(sizes) <= 1 << 16
    # Tiled (C order written as F): at least 64 bytes' worth of rows per slab, never more.
    rows = 64 // array.itemsize
    sizes = [len(block) for block in array_blocks(array[::-1], "F", block_bytes=1 << 16)]
    assert max(sizes) <= max(1 << 16, rows * array[..., 0].nbytes) < array.nbytes // 4
    assert sum(sizes) == array.nbytes


def joined(array, dtype=None, **options):
    return b"".join(bytes(block) for block in array_blocks(array, "F", dtype=dtype, **options))


@st.composite
def layouts(draw):
    ndim = draw(st.integers(2, 5))
    shape = tuple(draw(st.lists(st.integers(1, 9), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(["u1", "<i2", ">i2", "<f4", "<f8", "<c8"]))
    base = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape).astype(dtype)
    if draw(st.booleans()):
        base = np.asfortranarray(base)
    permutation = draw(st.permutations(range(ndim)))
    flips = tuple(slice(None, None, -1) if draw(st.booleans()) else slice(None) for _ in range(ndim))
    return base.transpose(permutation)[flips]


@settings(max_examples=300, deadline=None)
@given(array=layouts(), block_bytes=st.sampled_from([1, 7, 64, 500, 1 << 22]), swap=st.booleans())
def test_fortran_bytes_of_any_layout_type_and_block_size(array, block_bytes, swap):
    target = array.dtype.newbyteorder("S") if swap else None
    expected = (array.astype(target) if swap else array).tobytes("F")
    assert joined(array, target, block_bytes=block_bytes) == expected


@pytest.mark.parametrize("order", ["C", "F"])
def test_large_volume_in_tiles(order):
    array = np.asarray(np.arange(37 * 300 * 65, dtype=np.int16).reshape(37, 300, 65), order=order)
    assert joined(array, block_bytes=50_000) == array.tobytes("F")


def test_fortran_arrays_are_not_copied():
    array = np.asfortranarray(np.arange(1000, dtype=np.int32).reshape(10, 10, 10))
    assert all(np.shares_memory(np.frombuffer(block, np.uint8), array) for block in array_blocks(array, "F"))


def test_structured_rgb():
    rgb = np.zeros((4, 5, 6), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgb["B"] = np.arange(120).reshape(4, 5, 6)
    assert joined(rgb, block_bytes=40) == rgb.tobytes("F")


@pytest.mark.parametrize("sizes", [[], [10], [WRITEBACK_BYTES], [WRITEBACK_BYTES - 1, 2, WRITEBACK_BYTES * 3 + 5]])
def test_open_output_writes_what_it_is_given_and_hands_each_step_to_the_disk(tmp_path, monkeypatch, sizes):
    calls = []

    def record(descriptor, offset, count, flags):
        assert os.fstat(descriptor).st_size >= offset + count  # flushed before the hint
        calls.append((offset, count, flags))
        return 0

    monkeypatch.setattr(files, "_writeback_function", lambda: record)
    rng = np.random.default_rng(0)
    chunks = [rng.integers(0, 256, size, dtype=np.uint8) for size in sizes]
    target = tmp_path / "out.raw"
    with open_output(target) as stream:
        for chunk in chunks:
            assert stream.write(memoryview(chunk).cast("B")) == chunk.size
    expected = b"".join(chunk.tobytes() for chunk in chunks)
    assert target.read_bytes() == expected
    # Consecutive ranges from the start, each at least a step, all flagged "start writing, do not wait".
    assert [offset for offset, _, _ in calls] == [sum(count for _, count, _ in calls[:i]) for i in range(len(calls))]
    assert all(count >= WRITEBACK_BYTES and flags == 2 for _, count, flags in calls)
    assert len(expected) - sum(count for _, count, _ in calls) < WRITEBACK_BYTES


def test_open_output_ignores_a_failing_hint_and_works_without_one(tmp_path, monkeypatch):
    for hint in (lambda *arguments: -1, None):
        monkeypatch.setattr(files, "_writeback_function", lambda hint=hint: hint)
        with open_output(tmp_path / "out.raw") as stream:
            stream.write(bytes(2 * WRITEBACK_BYTES + 1))
        assert (tmp_path / "out.raw").stat().st_size == 2 * WRITEBACK_BYTES + 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux-only")
def test_the_writeback_hint_is_found_on_linux(tmp_path):
    hint = files._writeback_function()
    assert hint is not None
    with open(tmp_path / "f", "wb") as stream:
        stream.write(b"x" * 4096)
        stream.flush()
        assert hint(stream.fileno(), 0, 4096, 2) == 0
