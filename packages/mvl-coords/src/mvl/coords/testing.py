"""Conformance kit: checks that every format package runs against its reader and writer.

Two base classes hold the shared tests. A format package subclasses them in its own test
suite (the class name must start with ``Test`` for pytest to collect it) and fills in
the hooks; pytest supplies the ``tmp_path`` fixture::

    class TestNiftiReader(ReaderConformance):
        suffix = ".nii.gz"
        def open(self, path, system):
            return open_image(path, system=system)
        def write_reference(self, directory, data, transformation):
            ...  # write with the imaging library itself, transformation into `reference_system`

    class TestNiftiWriter(WriterConformance):
        suffixes = (".nii", ".nii.gz")
        def open(self, path, system): ...
        def save_volume(self, path, volume, src_order): ...

    class TestNiftiFormat(FormatConformance):
        format = FORMAT  # the record of mvl.nifti.plugin
        def write_sample(self, directory): ...  # a file (or folder) in the format

Geometry is compared voxel by voxel in world coordinates with
:func:`assert_same_image`. This module needs only numpy; it does not import pytest.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .compression import write_gzip
from .errors import InputError, MvlError, SaveError
from .formats import LOAD_OPTIONS, SAVE_OPTIONS, Format
from .reorientation import index_transformation, normalize_spatial_dimensions, reorient_array
from .systems import closest_permutation_matrix
from .transformations import apply_transformation, homogeneous, validate_transformation
from .volume import Volume

#: Up to this many voxels, the world position of every voxel is compared.
_FULL_CHECK_VOXELS = 2_000_000

__all__ = [
    "FormatConformance",
    "GzipThreads",
    "ReaderConformance",
    "WriterConformance",
    "assert_same_image",
    "raises",
    "sample_cases",
    "sample_transformation",
]


def sample_transformation(
    angles: Sequence[float] = (20.0, -35.0, 10.0),
    spacing: Sequence[float] = (0.7, 0.9, 2.5),
    origin: Sequence[float] = (-12.5, 30.0, 7.25),
) -> NDArray[np.float64]:
    """Return an oblique voxel-to-world transformation.

    Parameters
    ----------
    angles : sequence of 3 float, optional
        Rotations in degrees about the world x, y and z axes, applied in that order.
    spacing : sequence of 3 float, optional
        Voxel size along the three voxel axes.
    origin : sequence of 3 float, optional
        World position of voxel ``(0, 0, 0)``.

    Returns
    -------
    (4, 4) ndarray of float64

    Examples
    --------
    >>> sample_transformation((0, 0, 0), (1, 2, 3), (0, 0, 0)).diagonal()
    array([1., 2., 3., 1.])
    """
    rotation = np.eye(3)
    for axis, angle in enumerate(np.radians(np.asarray(angles, dtype=np.float64))):
        first, second = [a for a in range(3) if a != axis]
        turn = np.eye(3)
        turn[first, first] = turn[second, second] = np.cos(angle)
        turn[first, second], turn[second, first] = -np.sin(angle), np.sin(angle)
        rotation = turn @ rotation
    return homogeneous(rotation * np.asarray(spacing, dtype=np.float64), origin)


def sample_cases(dtype: Any = np.int16) -> Iterator[tuple[str, NDArray[Any], NDArray[np.float64]]]:
    """Yield small test images with distinct voxel values: ``(name, data, transformation)``.

    The shapes differ along every axis, so that any confusion of axes shows; the
    transformations cover an axis-aligned, a flipped and permuted, and an oblique case
    (with a tie-free rotation).

    Parameters
    ----------
    dtype : numpy dtype, optional
        Data type of the voxels; int16 by default.

    Yields
    ------
    tuple of (str, (5, 6, 7) ndarray, (4, 4) ndarray)
    """
    data = np.arange(5 * 6 * 7).reshape(5, 6, 7).astype(dtype)
    yield "axis-aligned", data, homogeneous(np.diag([0.8, 0.9, 2.0]), (-10.0, 20.0, 5.5))
    flipped = np.array([[0, 0, -2.0], [0.9, 0, 0], [0, -0.8, 0]])
    yield "flipped-and-permuted", data, homogeneous(flipped, (3.0, -4.0, 60.0))
    yield "oblique", data, sample_transformation()


@contextlib.contextmanager
def raises(expected: type[BaseException] | tuple[type[BaseException], ...], match: str | None = None) -> Iterator[None]:
    """Assert that the block raises `expected` with a message matching `match` (re.search).

    Examples
    --------
    >>> with raises(ValueError, match="bad"):
    ...     raise ValueError("a bad value")
    """
    try:
        yield
    except expected as error:
        if match is not None and not re.search(match, str(error)):
            raise AssertionError(f"{type(error).__name__} message {str(error)!r} does not match {match!r}") from error
    else:
        raise AssertionError(f"expected {expected} to be raised, nothing was")


def assert_same_image(
    actual: Volume,
    data: ArrayLike,
    transformation: ArrayLike,
    system: str,
    *,
    spatial_dimensions: Sequence[int] = (0, 1, 2),
    atol: float = 1e-3,
    value_atol: float = 0.0,
) -> None:
    """Assert that a volume holds the same voxels at the same world positions as a reference.

    Checks both :attr:`Volume.src_data` and :attr:`Volume.aligned_data`: every voxel of
    the reference maps to a voxel of the volume at the same world position (within
    `atol` millimetres) with the same value, and no voxel is left over. The reference
    usually comes from an independent implementation (nibabel, SimpleITK, pydicom)
    reading the same file.

    Parameters
    ----------
    actual : Volume
        The volume under test.
    data : array_like
        Reference voxels.
    transformation : (4, 4) array_like
        Reference voxel-to-world transformation into `system`.
    system : str
        The world system of `transformation`.
    spatial_dimensions : sequence of 3 int, optional
        The spatial axes of `data`; the others must match the volume's non-spatial axes
        in order.
    atol : float, optional
        Tolerance in millimetres for world positions.
    value_atol : float, optional
        Largest difference of values still counted as equal (0: equal), for references
        computed or stored in another floating-point precision.

    Raises
    ------
    AssertionError
        Naming the first difference found.
    """
    reference = np.asanyarray(data)
    spatial = normalize_spatial_dimensions(spatial_dimensions, reference.ndim)
    reference = np.moveaxis(reference, spatial, (0, 1, 2))
    reference_to_world = validate_transformation(transformation)
    views = {
        "src_data": (
            np.moveaxis(actual.src_data, actual.src_spatial_dimensions, (0, 1, 2)),
            actual.get_src_transformation(system),
        ),
        "aligned_data": (actual.aligned_data, actual.get_aligned_transformation(system)),
    }
    for name, (voxels, voxels_to_world) in views.items():
        _assert_same_grid(name, voxels, voxels_to_world, reference, reference_to_world, atol, value_atol)


def _assert_same_grid(
    name: str,
    voxels: NDArray[Any],
    voxels_to_world: NDArray[np.float64],
    reference: NDArray[Any],
    reference_to_world: NDArray[np.float64],
    atol: float,
    value_atol: float = 0.0,
) -> None:
    if voxels.shape[3:] != reference.shape[3:] or sorted(voxels.shape[:3]) != sorted(reference.shape[:3]):
        raise AssertionError(f"{name}: shape {voxels.shape} cannot hold the reference's {reference.shape}")
    # Reference index -> world -> index into `voxels`: must be a signed permutation of the grid.
    reference_to_voxels = np.linalg.inv(voxels_to_world) @ reference_to_world
    permutation = closest_permutation_matrix(reference_to_voxels[:3, :3])
    expected_map = index_transformation(permutation, reference.shape[:3])
    shape = reference.shape[:3]
    if reference.size <= _FULL_CHECK_VOXELS:
        indices = np.indices(shape).reshape(3, -1).T
    else:  # both maps are affine: agreeing on the corners means agreeing everywhere
        indices = np.array(np.meshgrid(*[[0, n - 1] for n in shape], indexing="ij")).reshape(3, -1).T
    expected_world = apply_transformation(reference_to_world, indices)
    actual_world = apply_transformation(voxels_to_world, apply_transformation(expected_map, indices))
    error = float(np.abs(expected_world - actual_world).max())
    if error > atol:
        raise AssertionError(
            f"{name}: voxels lie up to {error:.4g} mm from the reference's positions; "
            f"reference-to-{name} index map:\n{np.round(reference_to_voxels, 4)}"
        )
    want = reorient_array(reference, permutation)
    if want.shape != voxels.shape:
        raise AssertionError(f"{name}: shape {voxels.shape}, the reference reoriented has {want.shape}")
    floating = np.issubdtype(reference.dtype, np.floating) or np.issubdtype(reference.dtype, np.complexfloating)
    have, want = np.asarray(voxels), np.asarray(want)
    same = (
        np.allclose(have, want, rtol=0, atol=value_atol, equal_nan=floating)
        if value_atol
        else np.array_equal(have, want, equal_nan=floating)
    )
    if not same:
        differing = int(np.count_nonzero(~np.isclose(have, want, rtol=0, atol=value_atol, equal_nan=floating)))
        raise AssertionError(f"{name}: {differing} voxels hold other values than the reference at their position")


class ReaderConformance:
    """Shared tests for a format's reader. Subclass as ``Test...`` and fill in the hooks."""

    #: Systems in which every loaded volume is checked.
    systems: ClassVar[tuple[str, ...]] = ("RAS", "LPS", "IAR")
    #: The world system of the matrices given to :meth:`write_reference`.
    reference_system: ClassVar[str] = "RAS"
    #: File name suffix for the bad-input files.
    suffix: ClassVar[str] = ""

    def open(self, path: Path, system: str) -> Volume:
        """Load `path` with the reader under test."""
        raise NotImplementedError

    def write_reference(self, directory: Path, data: NDArray[Any], transformation: NDArray[np.float64]) -> Path:
        """Write `data` with `transformation` (into :attr:`reference_system`) without our code."""
        raise NotImplementedError

    def test_every_voxel_in_place(self, tmp_path: Path) -> None:
        for name, data, transformation in sample_cases():
            folder = tmp_path / name
            folder.mkdir()
            path = self.write_reference(folder, data, transformation)
            for system in self.systems:
                volume = self.open(path, system)
                assert volume.system == system
                assert_same_image(volume, data, transformation, self.reference_system)

    def test_missing_path_raises_input_error(self, tmp_path: Path) -> None:
        missing = tmp_path / f"missing{self.suffix}"
        with raises(InputError, match=re.escape(missing.name)):
            self.open(missing, "RAS")

    def test_empty_file_raises_our_error(self, tmp_path: Path) -> None:
        empty = tmp_path / f"empty{self.suffix}"
        empty.write_bytes(b"")
        with raises(MvlError, match=re.escape(empty.name)):
            self.open(empty, "RAS")

    def test_garbage_file_raises_our_error(self, tmp_path: Path) -> None:
        garbage = tmp_path / f"garbage{self.suffix}"
        garbage.write_bytes(np.random.default_rng(0).bytes(4096))
        with raises(MvlError, match=re.escape(garbage.name)):
            self.open(garbage, "RAS")


class WriterConformance:
    """Shared tests for a format's writer. Subclass as ``Test...`` and fill in the hooks."""

    #: Systems the saved volumes are built in and loaded back in.
    systems: ClassVar[tuple[str, ...]] = ("RAS", "LPS", "IAR")
    #: Every file name suffix the writer supports.
    suffixes: ClassVar[tuple[str, ...]] = ()
    #: Data types that must survive a round trip unchanged.
    dtypes: ClassVar[tuple[Any, ...]] = (np.uint8, np.int16, np.float32)

    def open(self, path: Path, system: str) -> Volume:
        """Load `path` with our reader."""
        raise NotImplementedError

    def save_volume(self, path: Path, volume: Volume, src_order: bool) -> None:
        """Save `volume` with the writer under test."""
        raise NotImplementedError

    def test_round_trip_keeps_every_voxel(self, tmp_path: Path) -> None:
        for suffix in self.suffixes:
            for name, data, transformation in sample_cases():
                for system in self.systems:
                    original = Volume(data, transformation, "RAS", system=system)
                    for src_order in (True, False):
                        path = tmp_path / f"{name}-{system}-{src_order}{suffix}"
                        self.save_volume(path, original, src_order)
                        loaded = self.open(path, system)
                        assert_same_image(loaded, data, transformation, "RAS")

    def test_round_trip_keeps_dtype(self, tmp_path: Path) -> None:
        for suffix in self.suffixes:
            for dtype in self.dtypes:
                _, data, transformation = next(sample_cases(dtype))
                path = tmp_path / f"{np.dtype(dtype).name}{suffix}"
                self.save_volume(path, Volume(data, transformation, "LPS"), True)
                loaded = self.open(path, "LPS")
                assert loaded.src_data.dtype == np.dtype(dtype), (suffix, loaded.src_data.dtype, dtype)
                assert_same_image(loaded, data, transformation, "LPS")

    def test_round_trip_keeps_extra_axes(self, tmp_path: Path) -> None:
        _, data, transformation = next(sample_cases())
        series = np.stack([data, data + 1000, data + 2000], axis=-1)
        for suffix in self.suffixes:
            path = tmp_path / f"four-d{suffix}"
            self.save_volume(path, Volume(series, transformation, "RAS", system="LPI"), False)
            loaded = self.open(path, "RAS")
            assert_same_image(loaded, series, transformation, "RAS")

    def test_failed_save_keeps_existing_file(self, tmp_path: Path) -> None:
        unsavable = Volume(np.empty((2, 3, 4), dtype=object), np.eye(4), "RAS")
        for suffix in self.suffixes:
            target = tmp_path / f"existing{suffix}"
            target.write_bytes(b"precious")
            before = sorted(os.listdir(tmp_path))
            with raises(SaveError, match=re.escape(target.name)):
                self.save_volume(target, unsavable, True)
            assert target.read_bytes() == b"precious"
            assert sorted(os.listdir(tmp_path)) == before, "a failed save left files behind"

    def test_save_into_missing_folder_raises_save_error(self, tmp_path: Path) -> None:
        _, data, transformation = next(sample_cases())
        for suffix in self.suffixes:
            target = tmp_path / "no-such-folder" / f"volume{suffix}"
            with raises(SaveError, match="no-such-folder"):
                self.save_volume(target, Volume(data, transformation, "RAS"), True)
            assert not target.parent.exists()


class FormatConformance:
    """Shared tests for a format's :class:`~mvl.coords.formats.Format` record. Subclass as ``Test...``.

    Set :attr:`format` and fill in :meth:`write_sample`. The tests check that the record
    says what the umbrella ``mvloader`` relies on: well-formed endings, declared options
    that the loader and saver really take, a ``sniff`` that recognises the format and
    never raises (nor hangs on a FIFO), and parts for batch conversion.
    """

    #: The record under test.
    format: ClassVar[Format]

    def write_sample(self, directory: Path) -> Path:
        """Write a small input in the format into `directory` (any way) and return its path."""
        raise NotImplementedError

    def test_record_is_well_formed(self) -> None:
        fmt = self.format
        assert fmt.name.isidentifier() and fmt.name == fmt.name.lower(), fmt.name
        for suffix in (*fmt.suffixes, *fmt.save_suffixes):
            assert suffix.startswith(".") and suffix == suffix.lower(), suffix
        assert (fmt.save is None) == (not fmt.save_suffixes), "a format that saves names its save suffixes"
        assert fmt.save_options <= SAVE_OPTIONS, sorted(fmt.save_options - SAVE_OPTIONS)
        assert fmt.load_options <= LOAD_OPTIONS, sorted(fmt.load_options - LOAD_OPTIONS)
        assert not (fmt.save is None and fmt.save_options), "a read-only format declares no save options"

    def test_loader_and_saver_take_the_declared_options(self) -> None:
        fmt = self.format
        assert _takes(fmt.loader(), {"system", *fmt.load_options})
        saver = fmt.saver()
        assert saver is None or _takes(saver, {"src_order", *fmt.save_options})

    def test_sample_is_sniffed_and_is_an_input(self, tmp_path: Path) -> None:
        sample = self.write_sample(tmp_path)
        assert self.format.sniff(sample) is True
        assert self.format.find_parts(sample).parts, "the sample holds no input for batch conversion"

    def test_saved_volume_is_sniffed(self, tmp_path: Path) -> None:
        saver = self.format.saver()
        if saver is None:
            return
        _, data, transformation = next(sample_cases())
        options: dict[str, Any] = {"threads": 1, "src_system": False}
        for suffix in self.format.save_suffixes:
            target = tmp_path / f"saved{suffix}"
            volume = Volume(data, transformation, "RAS", system="LPS")
            saver(target, volume, src_order=False, **self.format.accepts(options, saving=True))
            assert self.format.sniff(target) is True, suffix

    def test_sniff_says_no_without_raising(self, tmp_path: Path) -> None:
        empty = tmp_path / "empty"
        empty.write_bytes(b"")
        garbage = tmp_path / "garbage"
        garbage.write_bytes(np.random.default_rng(0).bytes(4096))
        candidates = [tmp_path / "missing", empty, garbage]
        if hasattr(os, "mkfifo"):
            os.mkfifo(tmp_path / "fifo")
            candidates.append(tmp_path / "fifo")  # never opened for reading: it would block
        for candidate in candidates:
            assert self.format.sniff(candidate) is False, candidate.name

    def test_a_format_that_reads_folders_lists_their_parts(self, tmp_path: Path) -> None:
        if self.format.sniff(tmp_path):
            assert self.format.parts is not None, "a format that reads folders needs a parts function"


class GzipThreads:
    """A stand-in for :func:`~mvl.coords.compression.write_gzip` that records the threads each call is given.

    Put it in place of a writer module's ``write_gzip`` (pytest:
    ``monkeypatch.setattr(writer_module, "write_gzip", recorder)``); it compresses as
    the real one does, and :attr:`seen` lists each call's ``threads`` (None when not given).

    Examples
    --------
    >>> import io
    >>> recorder = GzipThreads()
    >>> recorder(io.BytesIO(), [b"abc"], threads=2)
    >>> recorder.seen
    [2]
    """

    def __init__(self) -> None:
        self.seen: list[int | None] = []

    def __call__(self, stream: Any, blocks: Any, **options: Any) -> None:
        self.seen.append(options.get("threads"))
        write_gzip(stream, blocks, **options)


def _takes(function: Any, names: set[str]) -> bool:
    """Whether `function` accepts every keyword in `names` (by name, or through ``**options``)."""
    parameters = inspect.signature(function).parameters.values()
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
        return True
    return names <= {parameter.name for parameter in parameters}
