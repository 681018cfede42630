"""Pixel data: rescale and output type, encodings, codecs, truncation and absurd sizes."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.pixels import pixel_array

from mvl.coords import FormatError, MissingDependencyError, ResourceLimitError
from mvl.coords.testing import assert_same_image
from mvl.dicom import Limits, open_stack
from mvl.dicom.testing import oblique_transformation, write_series

MATRIX = oblique_transformation()


def stored(shape=(4, 5, 6), dtype=np.int16, low=0, high=4096):
    return np.random.default_rng(1).integers(low, high, size=shape).astype(dtype)


def test_ct_with_slope_1_and_intercept_minus_1024_stays_int16(tmp_path):
    data = stored()
    write_series(tmp_path, data, MATRIX, intercepts=-1024)
    volume = open_stack(tmp_path, system="LPS")
    assert volume.src_data.dtype == np.int16
    assert_same_image(volume, data.astype(np.int32) - 1024, MATRIX, "LPS")


def test_unsigned_ct_becomes_int16_when_the_values_need_a_sign(tmp_path):
    data = stored(dtype=np.uint16)

    def twelve_bits(dataset, index):
        dataset.BitsStored, dataset.HighBit = 12, 11

    write_series(tmp_path, data, MATRIX, intercepts=-1024, dtype=np.uint16, edit=twelve_bits)
    volume = open_stack(tmp_path, system="LPS")
    assert volume.src_data.dtype == np.int16
    assert_same_image(volume, data.astype(np.int32) - 1024, MATRIX, "LPS")


def test_values_that_do_not_fit_the_stored_type_become_float32(tmp_path):
    data = stored(low=-30000, high=30000)
    data[0, 0, 3] = -32768
    write_series(tmp_path, data, MATRIX, intercepts=-1024)
    volume = open_stack(tmp_path, system="LPS")
    assert volume.src_data.dtype == np.float32
    assert_same_image(volume, data.astype(np.float32) - 1024, MATRIX, "LPS")


def test_per_slice_rescale_is_applied_per_slice(tmp_path):
    data = stored()
    slopes = [0.5, 1.0, 2.0, 0.25, 1.5, 3.0]
    intercepts = [0, -10, 5.5, 0, -1000, 7]
    write_series(tmp_path, data, MATRIX, slopes=slopes, intercepts=intercepts, modality="PT")
    volume = open_stack(tmp_path, system="LPS")
    assert volume.src_data.dtype == np.float32
    expected = data * np.array(slopes) + np.array(intercepts)
    assert_same_image(volume, expected.astype(np.float32), MATRIX, "LPS")
    np.testing.assert_array_equal(volume.src_object.slopes, slopes)


def test_integer_slope_stays_integer_when_it_fits(tmp_path):
    data = stored(high=1000)
    write_series(tmp_path, data, MATRIX, slopes=2, intercepts=-100)
    volume = open_stack(tmp_path, system="LPS")
    assert volume.src_data.dtype == np.int16
    assert_same_image(volume, data * 2 - 100, MATRIX, "LPS")


def test_rescale_false_returns_stored_values(tmp_path):
    data = stored()
    write_series(tmp_path, data, MATRIX, slopes=0.5, intercepts=-1024)
    volume = open_stack(tmp_path, rescale=False, system="LPS")
    assert volume.src_data.dtype == np.int16
    assert_same_image(volume, data, MATRIX, "LPS")
    np.testing.assert_array_equal(volume.src_object.slopes, 1.0)


def test_unused_high_bits_are_masked_like_pydicom(tmp_path):
    data = stored(dtype=np.uint16, high=4096)
    noisy = data | np.uint16(0xF000)

    def twelve_bits(dataset, index):
        dataset.BitsStored, dataset.HighBit = 12, 11

    write_series(tmp_path, noisy, MATRIX, dtype=np.uint16, modality="MR", edit=twelve_bits)
    volume = open_stack(tmp_path, system="LPS")
    assert_same_image(volume, data, MATRIX, "LPS")
    first = sorted(tmp_path.iterdir())[0]
    reference = pixel_array(first)
    index = next(i for i in range(6) if np.array_equal(volume.src_object.positions[i], _position(first)))
    np.testing.assert_array_equal(volume.src_data[:, :, index], reference)


def test_signed_data_with_fewer_bits_stored_is_sign_extended(tmp_path):
    data = stored(low=-2048, high=2047)
    raw = data.view(np.uint16) & np.uint16(0x0FFF)

    def twelve_bits(dataset, index):
        dataset.BitsStored, dataset.HighBit = 12, 11

    write_series(tmp_path, raw.view(np.int16), MATRIX, modality="MR", edit=twelve_bits)
    assert_same_image(open_stack(tmp_path, system="LPS"), data, MATRIX, "LPS")


@pytest.mark.parametrize(("little", "implicit"), [(False, False), (True, True)])
def test_big_endian_and_implicit_vr(tmp_path, little, implicit):
    data = stored()
    write_series(tmp_path, data, MATRIX, intercepts=-1024, little_endian=little, implicit_vr=implicit)
    assert_same_image(open_stack(tmp_path, system="LPS"), data.astype(np.int32) - 1024, MATRIX, "LPS")


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16, np.int32, np.uint32])
def test_stored_types_are_kept_without_rescale(tmp_path, dtype):
    data = stored(dtype=dtype, high=200)
    write_series(tmp_path, data, MATRIX, modality="MR")
    volume = open_stack(tmp_path, system="LPS")
    assert volume.src_data.dtype == np.dtype(dtype)
    assert_same_image(volume, data, MATRIX, "LPS")


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_implicit.dcm",
        "MR_small_expb.dcm",
        "693_J2KR.dcm",
        "JPEG2000.dcm" if False else "MR2_J2KR.dcm",
    ],
)
def test_compressed_and_other_encodings_decode_like_pydicom(isolated, name):
    path = isolated(name)
    volume = open_stack(path, rescale=False)
    expected = pydicom.dcmread(path).pixel_array
    np.testing.assert_array_equal(volume.src_data[:, :, 0], expected)


def test_deflated_transfer_syntax_reads_through_pydicom(isolated):
    from mvl.dicom.headers import scan_header
    from mvl.dicom.sources import Member

    path = isolated("image_dfl.dcm")
    data = path.read_bytes()
    header = scan_header(Member(str(path), path.name, str(path)), lambda n: data[:n], len(data))
    assert header is not None and header.dataset is not None and header.pixel is not None
    assert header.pixel.offset is None  # reached through pydicom only


def test_a_deflated_series_decodes_its_pixels(tmp_path):
    # Regression (found with the mosaics of issue 14): pydicom's frame iterator reads a file as stored,
    # deflated pixel data included, and found no pixel data; the data set is inflated first now.
    def deflate(dataset, index):
        dataset.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian

    data = stored()
    write_series(tmp_path, data, MATRIX, edit=deflate)
    assert_same_image(open_stack(tmp_path, system="LPS"), data, MATRIX, "LPS")


def test_missing_codec_names_the_extra(isolated, monkeypatch):
    from pydicom.pixels.decoders.base import Decoder

    monkeypatch.setattr(Decoder, "is_available", property(lambda self: False))
    with pytest.raises(
        MissingDependencyError, match=r'MR_small_jp2klossless\.dcm: .*JPEG 2000.*pip install "mvl-dicom\[codecs\]"'
    ):
        open_stack(isolated("MR_small_jp2klossless.dcm"))


def test_truncated_pixel_data_is_an_error_before_reading(tmp_path):
    write_series(tmp_path, stored(), MATRIX)
    victim = sorted(tmp_path.iterdir())[2]
    victim.write_bytes(victim.read_bytes()[:-10])
    with pytest.raises(
        FormatError,
        match=rf"{victim.name}: the pixel data is truncated: .*holds 30 bytes, "
        r"but 4 rows x 5 columns x 1 samples x 1 frames x 16 bits need 40 bytes.*skip_broken=True",
    ):
        open_stack(tmp_path)


def test_truncated_slice_skipped_when_allowed_still_fails_the_spacing_check(tmp_path):
    write_series(tmp_path, stored(), MATRIX)
    ordered = sorted(
        tmp_path.iterdir(),
        key=lambda p: float(
            np.cross(*np.split(np.array(pydicom.dcmread(p).ImageOrientationPatient, float), 2))
            @ np.array(pydicom.dcmread(p).ImagePositionPatient, float)
        ),
    )
    victim = ordered[3]
    victim.write_bytes(victim.read_bytes()[:-10])
    from mvl.coords import GeometryError

    with (
        pytest.warns(Warning, match=rf"skipped .*{victim.name}"),
        pytest.raises(GeometryError, match="1 missing slice"),
    ):
        open_stack(tmp_path, skip_broken=True)


def test_truncated_last_slice_skipped_when_allowed_loads_the_rest_with_a_warning(tmp_path):
    write_series(tmp_path, stored(), MATRIX)
    ordered = sorted(
        tmp_path.iterdir(),
        key=lambda p: float(
            np.cross(*np.split(np.array(pydicom.dcmread(p).ImageOrientationPatient, float), 2))
            @ np.array(pydicom.dcmread(p).ImagePositionPatient, float)
        ),
    )
    ordered[-1].write_bytes(ordered[-1].read_bytes()[:-10])
    with pytest.warns(Warning, match=rf"skipped 1 unreadable DICOM file.*{ordered[-1].name}"):
        volume = open_stack(tmp_path, skip_broken=True)
    assert volume.src_data.shape == (4, 5, 5)
    assert volume.src_object.left_out == (ordered[-1].name,)


def test_absurd_rows_and_columns_are_refused_before_allocation(tmp_path):
    def absurd(dataset, index):
        dataset.Rows = dataset.Columns = 65535

    write_series(tmp_path, stored(), MATRIX, edit=absurd)
    with pytest.raises(FormatError, match=r"pixel data is truncated: .*holds 40 bytes, but 65535 rows x 65535 columns"):
        open_stack(tmp_path)


def test_output_larger_than_the_limit_is_refused(tmp_path):
    write_series(tmp_path, stored(), MATRIX)
    with pytest.raises(
        ResourceLimitError, match=r"would need .* GiB \(6 x 4 x 5 int16\), more than Limits\.max_output_bytes"
    ):
        open_stack(tmp_path, limits=Limits(max_output_bytes=100))


def test_workers_give_the_same_volume(tmp_path):
    data = stored(shape=(8, 9, 12))
    write_series(tmp_path, data, MATRIX, intercepts=-1024)
    one = open_stack(tmp_path, workers=1).src_data
    four = open_stack(tmp_path, workers=4).src_data
    np.testing.assert_array_equal(one, four)


def _position(path):
    return np.array(pydicom.dcmread(path, stop_before_pixels=True).ImagePositionPatient, dtype=float)


def test_colour_images_keep_their_samples_on_a_fourth_axis(tmp_path):
    rgb = np.random.default_rng(7).integers(0, 255, size=(4, 5, 3, 3)).astype(np.uint8)  # rows, columns, slices, RGB

    def colour(dataset, index):
        dataset.SamplesPerPixel = 3
        dataset.PhotometricInterpretation = "RGB"
        dataset.PlanarConfiguration = 0
        dataset.BitsAllocated = dataset.BitsStored = 8
        dataset.HighBit = 7
        dataset.PixelRepresentation = 0
        dataset.PixelData = rgb[:, :, index].tobytes()

    write_series(tmp_path, np.zeros((4, 5, 3), np.uint8), MATRIX, modality="XC", edit=colour)
    volume = open_stack(tmp_path, system="LPS")
    assert volume.src_data.shape == (4, 5, 3, 3) and volume.src_data.dtype == np.uint8
    assert_same_image(volume, rgb, MATRIX, "LPS")


def test_select_reads_attributes_the_scan_does_not_keep_by_default(tmp_path):
    def protocol(dataset, index):
        dataset.ProtocolName = "keep" if index % 2 == 0 else "drop"

    data = stored()
    write_series(tmp_path, data, MATRIX, edit=protocol)
    volume = open_stack(tmp_path, select={"ProtocolName": "keep"}, system="LPS")  # every other slice: evenly spaced
    assert volume.src_data.shape == (4, 5, 3)
    assert volume.src_spacing[2] == pytest.approx(5.0)
    np.testing.assert_array_equal(volume.src_data, data[:, :, ::2])
    with pytest.raises(ValueError, match="select: 'NoSuchKeyword' is not a DICOM keyword"):
        open_stack(tmp_path, select={"NoSuchKeyword": 1})
