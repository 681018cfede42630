"""Siemens mosaics against the peers: nibabel's MosaicWrapper on its own test files, dcm2niix on ours.

Synthetic mosaic series (:func:`mvl.dicom.testing_mosaic.write_mosaic`) in every slice
order are converted by dcm2niix (a test dependency); our volumes must hold its voxels at
its world positions, and our slice timing must be its ``SliceTiming`` slice for slice,
both where the CSA headers state the times and where only the protocol does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path

import nibabel
import numpy as np
import pytest

from mvl.coords import FormatWarning
from mvl.coords.testing import assert_same_image, sample_transformation
from mvl.dicom import open_stack
from mvl.dicom.testing_mosaic import write_mosaic

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # nibabel: "the DICOM readers are highly experimental"
    from nibabel.nicom import dicomwrappers

NIBABEL_DATA = Path(nibabel.__file__).parent / "nicom" / "tests" / "data"
DCM2NIIX = shutil.which("dcm2niix")


@pytest.mark.parametrize("name", ["0.dcm", "1.dcm"])
def test_nibabels_mosaics_have_the_geometry_and_diffusion_values_of_its_mosaic_wrapper(tmp_path, name):
    # Both files are one series (their volumes sit 3 mm apart): each is loaded alone, as nibabel reads it.
    shutil.copy(NIBABEL_DATA / name, tmp_path / name)
    # nibabel's test mosaics are 256 x 256 pixels for a 7 x 7 grid: resized after the scan, and said so.
    with pytest.warns(FormatWarning, match=r"image of 256 x 256 pixels is not a multiple of 7"):
        volume = open_stack(tmp_path / name, system="LPS")
    wrapper = dicomwrappers.wrapper_from_file(str(NIBABEL_DATA / name))
    assert isinstance(wrapper, dicomwrappers.MosaicWrapper)
    assert volume.src_data.shape == wrapper.image_shape == (36, 36, 48)
    # nibabel's affine maps (row, column, slice) to LPS+, as src_transformation does
    np.testing.assert_allclose(volume.src_transformation, wrapper.affine, atol=1e-4)
    (row,) = volume.src_object.volumes
    assert row.b_value == pytest.approx(wrapper.b_value)
    if row.direction is not None:
        np.testing.assert_allclose(row.direction, wrapper.b_vector / np.linalg.norm(wrapper.b_vector), atol=1e-6)


def _dcm2niix(folder: Path, output: Path) -> tuple[nibabel.Nifti1Image, dict[str, object]]:
    output.mkdir()
    subprocess.run(
        [str(DCM2NIIX), "-z", "n", "-f", "out", "-o", str(output), str(folder)], check=True, capture_output=True
    )
    image = nibabel.load(output / "out.nii")
    return image, json.loads((output / "out.json").read_text())


def _assert_timing_matches(volume, image, expected_seconds) -> None:
    """Our slice k's time is dcm2niix's for the reference slice at the same world position."""
    to_reference = np.linalg.inv(image.affine) @ volume.get_src_transformation("RAS")
    timing = volume.src_object.slice_timing
    assert timing is not None and len(timing) == len(expected_seconds)
    for k, time in enumerate(timing):
        reference_k = round(float((to_reference @ np.array([0.0, 0.0, k, 1.0]))[2]))
        # dcm2niix prints six significant digits
        assert time / 1000 == pytest.approx(expected_seconds[reference_k], rel=5e-6, abs=1e-6)


ORIENTATIONS = {
    "axial-oblique": sample_transformation((10, -15, 5), (3.0, 3.0, 3.5), (-90.0, -100.0, -40.0)),
    "coronal": sample_transformation((90, 0, 0), (2.5, 2.5, 3.0), (-80.0, 20.0, 60.0)),
    "sagittal-descending": sample_transformation((0, 90, 0), (2.0, 2.0, -4.0), (30.0, -70.0, 80.0)),
}


@pytest.mark.skipif(DCM2NIIX is None, reason="dcm2niix is not installed (the cross group installs it)")
@pytest.mark.parametrize("orientation", list(ORIENTATIONS))
@pytest.mark.parametrize(
    "timing",
    ["ascending", "interleaved", "protocol-interleaved-odd", "protocol-interleaved-even", "protocol-descending"],
)
def test_mosaic_series_equal_dcm2niix_in_world_space_with_its_slice_timing(tmp_path, orientation, timing):
    count = 6 if timing.endswith("even") else 7
    rng = np.random.default_rng(14)
    data = rng.integers(-300, 3000, size=(8, 10, count, 3), dtype=np.int16)
    writing: dict[str, object] = {"repetition_time": 2000.0}
    if timing == "interleaved":
        order = [*range(0, count, 2), *range(1, count, 2)]
        writing["times"] = [order.index(tile) * 2000.0 / count for tile in range(count)]
    elif timing.startswith("protocol"):
        mode = 2 if timing.endswith("descending") else 4
        writing.update(times=(), protocol={"sSliceArray.lSize": count, "sSliceArray.ucMode": mode, "alTR[0]": 2000000})
    matrix = ORIENTATIONS[orientation]
    write_mosaic(tmp_path / "in", data, matrix, **writing)
    image, sidecar = _dcm2niix(tmp_path / "in", tmp_path / "out")
    volume = open_stack(tmp_path / "in", system="RAS")
    assert_same_image(volume, np.asarray(image.dataobj), image.affine, "RAS")
    assert_same_image(volume, data, matrix, "LPS")  # and where the files were written from
    _assert_timing_matches(volume, image, sidecar["SliceTiming"])
