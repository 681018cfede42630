"""save_image and save_volume: what peers read back, header fields, types, layouts, NIfTI-2."""

import gzip
import io

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from mvl.coords import Volume, change_system
from mvl.coords.testing import assert_same_image, sample_cases, sample_transformation
from mvl.nifti import open_image, save_image, save_volume

SUFFIXES = (".nii", ".nii.gz", ".hdr", ".img.gz")


def content(path):
    """The uncompressed bytes of a file."""
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_nibabel_reads_every_voxel_where_we_put_it(tmp_path, suffix):
    for name, data, transformation in sample_cases():
        path = tmp_path / f"{name}{suffix}"
        save_image(path, data, transformation)
        reference = nib.load(path)
        np.testing.assert_array_equal(np.asanyarray(reference.dataobj), data)
        np.testing.assert_allclose(reference.affine, transformation, atol=1e-5)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("system", ["RAS", "LPS", "IAR"])
@pytest.mark.parametrize("src_order", [True, False])
def test_simpleitk_reads_every_voxel_where_we_put_it(tmp_path, simpleitk, suffix, system, src_order):
    for name, data, transformation in sample_cases():
        volume = Volume(data, change_system(transformation, "RAS", system), system, system=system)
        path = tmp_path / f"{name}{suffix}"
        save_volume(path, volume, src_order)
        itk_data, itk_lps = simpleitk.read(path)
        assert_same_image(Volume(itk_data, itk_lps, "LPS"), data, transformation, "RAS")


def test_original_positional_signatures(tmp_path):
    _, data, transformation = next(sample_cases())
    series = np.stack([data, data + 1], axis=0)  # time first, spatial axes 1, 2, 3
    save_image(tmp_path / "a.nii", series, transformation, (1, 2, 3))
    loaded = open_image(tmp_path / "a.nii")
    assert loaded.src_data.shape == (5, 6, 7, 2)  # NIfTI: spatial axes first
    assert_same_image(loaded, series, transformation, "RAS", spatial_dimensions=(1, 2, 3))
    volume = Volume(series, transformation, "RAS", (1, 2, 3), system="LSA")
    save_volume(tmp_path / "b.nii.gz", volume, False)
    assert_same_image(open_image(tmp_path / "b.nii.gz"), series, transformation, "RAS", spatial_dimensions=(1, 2, 3))
    save_volume(tmp_path / "c.nii.gz", volume)
    assert_same_image(open_image(tmp_path / "c.nii.gz"), series, transformation, "RAS", spatial_dimensions=(1, 2, 3))


def test_sform_and_qform_with_scanner_codes_and_units(tmp_path):
    _, data, transformation = list(sample_cases())[2]
    save_image(tmp_path / "three.nii", data, transformation)
    header = nib.load(tmp_path / "three.nii").header
    assert (int(header["sform_code"]), int(header["qform_code"])) == (1, 1)
    np.testing.assert_allclose(header.get_qform(), transformation, atol=1e-4)
    np.testing.assert_allclose(header.get_sform(), transformation, atol=1e-5)
    assert header.get_xyzt_units() == ("mm", "unknown")
    stored = nib.Nifti1Header.from_fileobj(io.BytesIO(content(tmp_path / "three.nii")))  # as in the file
    assert (float(stored["scl_slope"]), float(stored["scl_inter"])) == (1.0, 0.0)
    assert stored["descrip"].item().startswith(b"mvl-nifti")
    save_image(tmp_path / "four.nii", np.stack([data] * 3, axis=-1), transformation)
    assert nib.load(tmp_path / "four.nii").header.get_xyzt_units() == ("mm", "sec")


def test_qform_code_zero_where_the_qform_cannot_hold_the_matrix(tmp_path):
    sheared = sample_transformation()
    sheared[0, 1] += 0.3
    save_image(tmp_path / "sheared.nii", np.zeros((4, 5, 6), np.uint8), sheared)
    near_half_turn = sample_transformation((-0.7, -178.7, 127.9), (1, 1, 1), (0, 0, 0))
    save_image(tmp_path / "turned.nii", np.zeros((512, 512, 3), np.uint8), near_half_turn)
    for name, affine in (("sheared.nii", sheared), ("turned.nii", near_half_turn)):
        header = nib.load(tmp_path / name).header
        assert (int(header["sform_code"]), int(header["qform_code"])) == (1, 0)
        np.testing.assert_allclose(header.get_sform(), affine, atol=1e-5)
        loaded = open_image(tmp_path / name)  # no disagreement warning: the qform does not count
        np.testing.assert_allclose(loaded.src_transformation, affine, atol=1e-5)


BOOL_AND_NUMBERS = [
    np.uint8,
    np.int8,
    np.int16,
    np.uint16,
    np.int32,
    np.uint32,
    np.int64,
    np.uint64,
    np.float32,
    np.float64,
    np.complex64,
    np.complex128,
]


@pytest.mark.parametrize("dtype", BOOL_AND_NUMBERS)
@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_data_type_is_kept(tmp_path, dtype, suffix):
    data = (np.arange(60).reshape(3, 4, 5) * 3).astype(dtype)
    save_image(tmp_path / f"typed{suffix}", data, np.eye(4))
    loaded = open_image(tmp_path / f"typed{suffix}").src_data
    assert loaded.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(loaded, data)
    assert np.asanyarray(nib.load(tmp_path / f"typed{suffix}").dataobj).dtype == np.dtype(dtype)


def test_booleans_are_stored_as_uint8(tmp_path):
    mask = np.arange(60).reshape(3, 4, 5) % 3 == 0
    save_image(tmp_path / "mask.nii.gz", mask, np.eye(4))
    loaded = open_image(tmp_path / "mask.nii.gz").src_data
    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, mask)


def test_rgb_is_kept(tmp_path):
    rgb = np.zeros((3, 4, 5), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgb["G"] = np.arange(60).reshape(3, 4, 5)
    save_image(tmp_path / "rgb.nii", rgb, np.eye(4))
    np.testing.assert_array_equal(open_image(tmp_path / "rgb.nii").src_data, rgb)


def test_big_endian_data_is_written_in_native_order(tmp_path):
    data = np.arange(60, dtype=">i4").reshape(3, 4, 5)
    save_image(tmp_path / "swapped.nii", data, np.eye(4))
    loaded = open_image(tmp_path / "swapped.nii").src_data
    assert loaded.dtype == np.dtype("int32") and loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, data)


def test_nifti2_when_a_dimension_does_not_fit_nifti1(tmp_path):
    long = np.arange(40000, dtype=np.uint8).reshape(40000, 1, 1)
    save_image(tmp_path / "long.nii.gz", long, np.eye(4))
    assert type(nib.load(tmp_path / "long.nii.gz")) is nib.Nifti2Image
    assert content(tmp_path / "long.nii.gz")[:4] == (540).to_bytes(4, "little")
    np.testing.assert_array_equal(open_image(tmp_path / "long.nii.gz").src_data, long)
    save_image(tmp_path / "short.nii.gz", long[:32767], np.eye(4))
    assert type(nib.load(tmp_path / "short.nii.gz")) is nib.Nifti1Image


def test_nifti1_pair_layout(tmp_path):
    _, data, transformation = next(sample_cases())
    save_image(tmp_path / "pair.img", data, transformation)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pair.hdr", "pair.img"]
    assert (tmp_path / "pair.hdr").read_bytes()[344:348] == b"ni1\0"
    assert (tmp_path / "pair.img").read_bytes() == data.tobytes("F")


@pytest.mark.parametrize(
    "layout",
    [
        lambda a: a,
        lambda a: np.asfortranarray(a),
        lambda a: a[::-1, :, ::-1],
        lambda a: np.ascontiguousarray(a.transpose(2, 0, 1)).transpose(1, 2, 0),
    ],
    ids=["C", "F", "flipped", "permuted"],
)
def test_every_memory_layout_gives_the_same_file(tmp_path, layout):
    data = np.random.default_rng(1).integers(0, 1000, size=(37, 41, 29)).astype(np.int16)
    save_image(tmp_path / "reference.nii", data, np.eye(4))
    save_image(tmp_path / "layout.nii", layout(data.copy()), np.eye(4))
    # the flipped view is a different image, with the same file bytes as its own copy
    save_image(tmp_path / "copy.nii", np.array(layout(data.copy()), order="C"), np.eye(4))
    assert (tmp_path / "layout.nii").read_bytes() == (tmp_path / "copy.nii").read_bytes()


@pytest.mark.parametrize("backend", ["isal", "zlib-ng", "zlib"])
def test_every_gzip_backend_writes_the_same_content(tmp_path, monkeypatch, backend):
    data = np.random.default_rng(2).integers(0, 50, size=(60, 70, 80)).astype(np.int16)
    save_image(tmp_path / "plain.nii", data, np.eye(4))
    monkeypatch.setenv("MVL_GZIP_BACKEND", backend)
    save_image(tmp_path / "packed.nii.gz", data, np.eye(4))
    assert content(tmp_path / "packed.nii.gz") == (tmp_path / "plain.nii").read_bytes()


def test_time_step_and_unit_of_a_nifti_source_are_kept(tmp_path):
    _, data, transformation = next(sample_cases())
    image = nib.Nifti1Image(np.stack([data] * 4, axis=-1), transformation)
    image.header.set_zooms((*image.header.get_zooms()[:3], 2.5))
    image.header.set_xyzt_units("mm", "msec")
    nib.save(image, tmp_path / "fmri.nii.gz")
    save_volume(tmp_path / "copy.nii.gz", open_image(tmp_path / "fmri.nii.gz", system="LPS"), src_order=False)
    header = nib.load(tmp_path / "copy.nii.gz").header
    assert header.get_zooms()[3] == 2.5
    assert header.get_xyzt_units() == ("mm", "msec")


def test_memmap_of_a_loaded_file_saves_without_copying_it_whole(tmp_path):
    _, data, transformation = next(sample_cases())
    save_image(tmp_path / "scan.nii", data, transformation)
    volume = open_image(tmp_path / "scan.nii")
    save_volume(tmp_path / "again.nii", volume)
    assert (tmp_path / "again.nii").read_bytes() == (tmp_path / "scan.nii").read_bytes()


def test_saving_into_the_file_being_read(tmp_path):
    # The memmap of the old file stays valid: the new file replaces it by rename.
    _, data, transformation = next(sample_cases())
    path = tmp_path / "scan.nii"
    save_image(path, data, transformation)
    volume = open_image(path, system="LPS")
    save_volume(path, volume, src_order=False)
    assert_same_image(open_image(path), data, transformation, "RAS")


def test_itk_writes_and_reads_back_our_oblique_file(tmp_path):
    transformation = sample_transformation((25, -40, 75), (0.6, 0.7, 3.0), (100.0, -50.0, 20.0))
    data = np.arange(6 * 7 * 8, dtype=np.float32).reshape(6, 7, 8)
    save_image(tmp_path / "ours.nii.gz", data, transformation)
    image = sitk.ReadImage(str(tmp_path / "ours.nii.gz"))
    sitk.WriteImage(image, str(tmp_path / "itk.nii.gz"))
    assert_same_image(open_image(tmp_path / "itk.nii.gz", system="IAR"), data, transformation, "RAS")


@pytest.mark.parametrize("suffix", [".nii.gz", ".hdr.gz"])
def test_the_thread_budget_reaches_the_compressor(tmp_path, monkeypatch, suffix):
    import mvl.nifti.saving
    from mvl.coords.testing import GzipThreads

    recorder = GzipThreads()
    monkeypatch.setattr(mvl.nifti.saving, "write_gzip", recorder)
    volume = Volume(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4), "RAS")
    save_volume(tmp_path / f"given{suffix}", volume, threads=3)
    save_volume(tmp_path / f"default{suffix}", volume)
    files = len(recorder.seen) // 2  # a pair: two compressed files per save
    assert recorder.seen == [3] * files + [None] * files  # None: write_gzip's own default
    np.testing.assert_array_equal(open_image(tmp_path / f"given{suffix}").src_data, volume.src_data)
