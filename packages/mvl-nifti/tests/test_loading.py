"""open_image: every voxel where nibabel and SimpleITK put it, in any system; memmaps; scaling; options."""

import hashlib
import warnings

import nibabel as nib
import numpy as np
import pytest

from mvl.coords import Volume, change_system
from mvl.coords.errors import FormatWarning, GeometryWarning
from mvl.coords.testing import assert_same_image, sample_cases
from mvl.nifti import open_image, save_image

SYSTEMS = ("RAS", "LPS", "IAR", "SPL")
LAYOUTS = (".nii", ".nii.gz", ".hdr", ".img.gz")


@pytest.mark.parametrize("suffix", LAYOUTS)
@pytest.mark.parametrize("nifti2", [False, True])
def test_every_voxel_where_nibabel_puts_it(tmp_path, nibabel_file, suffix, nifti2):
    for name, data, transformation in sample_cases():
        path = nibabel_file(tmp_path / f"{name}{suffix}", data, transformation, nifti2=nifti2)
        reference = nib.load(path)
        for system in SYSTEMS:
            volume = open_image(path, system=system)
            assert volume.system == system and volume.src_system == "RAS"
            assert_same_image(volume, np.asanyarray(reference.dataobj), reference.affine, "RAS")


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_every_voxel_where_simpleitk_puts_it(tmp_path, simpleitk, suffix):
    for name, data, transformation in sample_cases():
        path = simpleitk.write(tmp_path / f"{name}{suffix}", data, transformation)
        reference_data, reference_lps = simpleitk.read(path)
        for system in SYSTEMS:
            assert_same_image(open_image(path, system=system), reference_data, reference_lps, "LPS")


@pytest.mark.parametrize("extra_shape", [(3,), (1, 2), (2, 1, 3)])
def test_extra_axes_stay_behind_the_spatial_ones(tmp_path, nibabel_file, extra_shape):
    _, data, transformation = next(sample_cases())
    series = np.stack([data + 100 * n for n in range(int(np.prod(extra_shape)))], axis=-1).reshape(
        data.shape + extra_shape
    )
    path = nibabel_file(tmp_path / "series.nii.gz", series, transformation)
    volume = open_image(path, system="PIR")
    assert volume.src_data.shape == series.shape
    assert volume.aligned_data.shape[3:] == extra_shape
    assert_same_image(volume, series, transformation, "RAS")


def test_squeeze_drops_trailing_length_one_axes_only(tmp_path, nibabel_file):
    _, data, transformation = next(sample_cases())
    single_time = nibabel_file(tmp_path / "t1.nii", data[..., np.newaxis], transformation)
    assert open_image(single_time).src_data.shape == (5, 6, 7, 1)
    squeezed = open_image(single_time, squeeze=True)
    assert squeezed.src_data.shape == (5, 6, 7)
    assert isinstance(squeezed.src_data, np.memmap)
    vectors = nibabel_file(tmp_path / "v.nii", np.stack([data, data], axis=-1)[..., np.newaxis, :], transformation)
    assert open_image(vectors, squeeze=True).src_data.shape == (5, 6, 7, 1, 2)  # the 1 is not trailing


def test_squeeze_keeps_the_spatial_axes(tmp_path, nibabel_file):
    path = nibabel_file(tmp_path / "slab.nii", np.zeros((4, 1, 1), np.int16), np.eye(4))
    assert open_image(path, squeeze=True).src_data.shape == (4, 1, 1)


def test_two_dimensional_file_reads_as_one_slice(tmp_path, nibabel_file):
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = nibabel_file(tmp_path / "slice.nii", image, np.diag([0.5, 0.5, 3.0, 1.0]))
    volume = open_image(path)
    assert volume.src_data.shape == (3, 4, 1)
    np.testing.assert_array_equal(volume.src_data[..., 0], image)


@pytest.mark.parametrize("suffix", [".nii", ".hdr"])
def test_uncompressed_voxels_stay_memory_mapped_copy_on_write(tmp_path, suffix):
    _, data, transformation = next(sample_cases())
    path = tmp_path / f"scan{suffix}"
    save_image(path, data, transformation)
    data_file = path.with_suffix(".img") if suffix == ".hdr" else path
    before = hashlib.sha256(data_file.read_bytes()).hexdigest()
    volume = open_image(path, system="IAR")
    assert isinstance(volume.src_data, np.memmap)
    assert isinstance(volume.aligned_data, np.memmap)
    assert volume.src_data.flags.f_contiguous
    volume.aligned_data[...] = -1  # writes land in private memory
    volume.src_data[0, 0, 0] = 1234
    assert hashlib.sha256(data_file.read_bytes()).hexdigest() == before
    np.testing.assert_array_equal(open_image(path).src_data, data)


def test_mmap_false_reads_into_memory(tmp_path):
    _, data, transformation = next(sample_cases())
    save_image(tmp_path / "scan.nii", data, transformation)
    volume = open_image(tmp_path / "scan.nii", mmap=False)
    assert type(volume.src_data) is np.ndarray
    np.testing.assert_array_equal(volume.src_data, data)


def test_compressed_voxels_are_one_fortran_array(tmp_path):
    _, data, transformation = next(sample_cases())
    save_image(tmp_path / "scan.nii.gz", data, transformation)
    volume = open_image(tmp_path / "scan.nii.gz")
    assert type(volume.src_data) is np.ndarray and volume.src_data.flags.f_contiguous
    assert volume.src_data.flags.owndata


SCALINGS = [(2.5, -3.0), (1.0, 5.0), (0.5, 0.0), (-1.0, 0.25)]
STORED_TYPES = [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.float32, np.float64]


@pytest.mark.parametrize("dtype", [*STORED_TYPES, np.complex64])
@pytest.mark.parametrize(("slope", "intercept"), SCALINGS)
@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_scaling_is_nibabels_bit_for_bit(tmp_path, patch, dtype, slope, intercept, suffix):
    data = (np.arange(5 * 6 * 7).reshape(5, 6, 7) % 120).astype(dtype)
    path = tmp_path / f"scaled{suffix}"
    save_image(path, data, np.eye(4))
    patch(path, scl_slope=slope, scl_inter=intercept)
    expected = np.asanyarray(nib.load(path).dataobj)
    loaded = open_image(path).src_data
    assert loaded.dtype == expected.dtype
    np.testing.assert_array_equal(loaded, expected)
    assert not isinstance(loaded, np.memmap)


@pytest.mark.parametrize(("slope", "intercept"), [(0.0, 3.0), (np.nan, 3.0), (1.0, 0.0), (0.0, np.inf)])
@pytest.mark.parametrize("dtype", STORED_TYPES)
def test_unscaled_data_keeps_its_type_and_memmap(tmp_path, patch, dtype, slope, intercept):
    data = np.arange(60).reshape(3, 4, 5).astype(dtype)
    path = tmp_path / "plain.nii"
    save_image(path, data, np.eye(4))
    patch(path, scl_slope=slope, scl_inter=intercept)
    loaded = open_image(path).src_data
    assert isinstance(loaded, np.memmap) and loaded.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(loaded, np.asanyarray(nib.load(path).dataobj))


def test_scaling_false_keeps_the_stored_values(tmp_path, patch):
    data = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    save_image(tmp_path / "scaled.nii", data, np.eye(4))
    patch(tmp_path / "scaled.nii", scl_slope=2.0, scl_inter=1.0)
    stored = open_image(tmp_path / "scaled.nii", scaling=False).src_data
    assert isinstance(stored, np.memmap) and stored.dtype == np.int16
    np.testing.assert_array_equal(stored, data)
    np.testing.assert_array_equal(open_image(tmp_path / "scaled.nii").src_data, 2.0 * data + 1.0)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_big_endian_files(tmp_path, suffix):
    data = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    header = nib.Nifti1Header(endianness=">")
    image = nib.Nifti1Image(data, np.diag([1.0, 2.0, 3.0, 1.0]), header=header)
    path = tmp_path / f"big{suffix}"
    nib.save(image, path)
    volume = open_image(path, system="LPS")
    assert volume.src_data.dtype.byteorder == ">"
    reference = nib.load(path)
    assert_same_image(volume, np.asanyarray(reference.dataobj), reference.affine, "RAS")


@pytest.mark.parametrize("backend", ["isal", "zlib-ng", "zlib"])
def test_every_gzip_backend_gives_the_same_voxels(tmp_path, monkeypatch, backend):
    rng = np.random.default_rng(3)
    data = rng.integers(-1000, 3000, size=(40, 50, 30)).astype(np.int16)
    save_image(tmp_path / "scan.nii.gz", data, np.eye(4))
    monkeypatch.setenv("MVL_GZIP_BACKEND", backend)
    np.testing.assert_array_equal(open_image(tmp_path / "scan.nii.gz").src_data, data)
    save_image(tmp_path / f"by-{backend}.nii.gz", data, np.eye(4))
    monkeypatch.delenv("MVL_GZIP_BACKEND")
    np.testing.assert_array_equal(open_image(tmp_path / f"by-{backend}.nii.gz").src_data, data)
    np.testing.assert_array_equal(np.asanyarray(nib.load(tmp_path / f"by-{backend}.nii.gz").dataobj), data)


@pytest.mark.parametrize(
    ("suffix", "image_class"),
    [(".nii", nib.Nifti1Image), (".nii.gz", nib.Nifti1Image), (".hdr", nib.Nifti1Pair)],
)
def test_src_object_is_the_nibabel_image(tmp_path, nibabel_file, suffix, image_class):
    _, data, transformation = list(sample_cases())[2]
    path = nibabel_file(tmp_path / f"scan{suffix}", data, transformation, sform_code=2)
    volume = open_image(path)
    image = volume.src_object
    assert type(image) is image_class
    assert image.dataobj is volume.src_data
    reference = nib.load(path)
    np.testing.assert_array_equal(image.affine, reference.affine)
    assert int(image.header["sform_code"]) == 2
    assert image.get_filename() == reference.get_filename()


def test_nifti2_src_object(tmp_path, nibabel_file):
    path = nibabel_file(tmp_path / "two.nii.gz", np.zeros((2, 3, 4), np.float32), np.eye(4), nifti2=True)
    assert type(open_image(path).src_object) is nib.Nifti2Image


def test_pair_opens_from_either_half(tmp_path, nibabel_file):
    _, data, transformation = next(sample_cases())
    nibabel_file(tmp_path / "pair.hdr", data, transformation)
    from_header, from_image = open_image(tmp_path / "pair.hdr"), open_image(tmp_path / "pair.img")
    np.testing.assert_array_equal(from_header.src_data, from_image.src_data)
    np.testing.assert_array_equal(from_header.src_transformation, from_image.src_transformation)


def test_upper_case_pair_names(tmp_path, nibabel_file):
    _, data, transformation = next(sample_cases())
    nibabel_file(tmp_path / "lower.hdr", data, transformation)
    (tmp_path / "lower.hdr").rename(tmp_path / "SCAN.HDR")
    (tmp_path / "lower.img").rename(tmp_path / "SCAN.IMG")
    np.testing.assert_array_equal(open_image(tmp_path / "SCAN.IMG").src_data, data)


@pytest.mark.parametrize(("unit", "to_mm"), [("meter", 1000.0), ("micron", 0.001), ("mm", 1.0), ("unknown", 1.0)])
def test_spatial_units_become_millimetres_as_in_itk(tmp_path, nibabel_file, simpleitk, unit, to_mm):
    _, data, transformation = list(sample_cases())[2]
    path = nibabel_file(tmp_path / "units.nii", data, transformation, sform_code=1, qform_code=1)
    header_image = nib.load(path)
    header_image.header.set_xyzt_units(unit)
    nib.save(header_image, path)
    volume = open_image(path)
    expected = np.asarray(nib.load(path).affine, dtype=np.float64)
    expected[:3] *= to_mm
    np.testing.assert_allclose(volume.src_transformation, expected)
    reference_data, reference_lps = simpleitk.read(path)
    assert_same_image(volume, reference_data, reference_lps, "LPS", atol=1e-3 * max(to_mm, 1.0))


def test_warnings_point_at_the_callers_line(tmp_path, nibabel_file):
    path = nibabel_file(tmp_path / "bare.nii", np.zeros((2, 3, 4), np.int16), np.eye(4), sform_code=0, qform_code=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        open_image(path)
    assert [warning.filename for warning in caught] == [__file__]
    assert issubclass(caught[0].category, GeometryWarning)


def test_unexpected_trailing_bytes_in_gzip_are_ignored_with_a_warning(tmp_path):
    import gzip

    data = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    save_image(tmp_path / "plain.nii", data, np.eye(4))
    padded = (tmp_path / "plain.nii").read_bytes() + bytes(16)
    (tmp_path / "padded.nii.gz").write_bytes(gzip.compress(padded))
    with pytest.warns(FormatWarning, match="16 bytes after the voxel data were ignored"):
        volume = open_image(tmp_path / "padded.nii.gz")
    np.testing.assert_array_equal(volume.src_data, data)


def test_loaded_volume_behaves_like_any_volume(tmp_path):
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    save_image(tmp_path / "scan.nii", data, np.diag([-1.0, 2.0, 3.0, 1.0]))
    volume = open_image(tmp_path / "scan.nii", system="LPS")
    assert isinstance(volume, Volume)
    np.testing.assert_allclose(
        volume.get_src_transformation("LPS"), change_system(np.diag([-1.0, 2, 3, 1]), "RAS", "LPS")
    )
    # i runs towards the left already; j runs anterior, so LPS+ flips it
    assert volume.aligned_data[0, 0, 0] == data[0, 2, 0]
    assert volume.aligned_data[1, 2, 3] == data[1, 0, 3]


def test_scaled_gzip_is_scaled_piece_by_piece_without_the_whole_stored_array(tmp_path, patch, monkeypatch):
    import tracemalloc

    import mvl.nifti.loading as loading

    data = (np.indices((400, 200, 100)).sum(axis=0) % 300 - 100).astype(np.int16)
    path = tmp_path / "ct.nii.gz"
    save_image(path, data, np.eye(4))
    patch(path, scl_slope=0.5, scl_inter=-1024.0)
    monkeypatch.setattr(loading, "SCALING_PIECE_BYTES", 65_536 + 6)  # pieces that do not divide the volume
    tracemalloc.start()
    try:
        loaded = open_image(path).src_data
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected = np.asanyarray(nib.load(path).dataobj)
    assert loaded.dtype == expected.dtype == np.float64
    np.testing.assert_array_equal(loaded, expected)
    # the result, pieces and the gzip reader's steps (a few MB), never the result plus the stored array
    assert peak < loaded.nbytes + data.nbytes
