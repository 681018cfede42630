"""Real scanner exports (GE, Philips, Siemens) against dcm2niix's validated outputs, voxel by voxel in world space.

The data sit beside the clone in ``../shared/realdata`` (or where ``MVL_REALDATA`` says):
DICOM ``In/`` folders with dcm2niix's ``Ref/`` NIfTI files and an ``index.json`` naming
the series of each output. Every series of the corpora below is loaded and compared
with its reference: the same shape (the volume axis included), every voxel centre
within 1e-3 mm, the same values, the volumes in dcm2niix's order. Where a reference was
too large to ship, dcm2niix (a test dependency) makes it here. Siemens mosaics (issue
14) are among them, every orientation and slice order of ``dcm_qa_orientation`` and one
mosaic in nine transfer syntaxes (``dcm_qa_ts``); their slice timing is checked against
dcm2niix's ``SliceTiming``.
"""

from __future__ import annotations

import ast
import io
import json
import math
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from mvl.coords.testing import assert_same_image

REALDATA = Path(os.environ.get("MVL_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"))
CORPORA = ("dcm_qa_nih", "dcm_qa_enh", "dcm_qa_xa30", "dcm_qa_12bit", "dcm_qa_orientation", "dcm_qa_ts")
MISSING = f"no real data at {REALDATA} (../shared/realdata beside the clone, or set MVL_REALDATA)"
#: Which kind of its series each output is (a word of the kind's label) and dcm2niix's scaling (its default:
#: Philips' precise values); checked by hand against the outputs' names and JSON sidecars.
KINDS = {
    "Philips_WIP_B0_NS_801_e1.nii": ("magnitude", "precise"),
    "Philips_WIP_B0_NS_801_e2_fieldmaphz.nii": ("real", "precise"),
    "8_gre_field_mapping_e1.nii": ("10 ms", "standard"),
    "8_gre_field_mapping_e2.nii": ("12.46 ms", "standard"),
}

pytestmark = pytest.mark.realdata


def _outputs() -> list[object]:
    if not REALDATA.is_dir():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=MISSING), id="realdata-absent")]
    params: list[object] = []
    for corpus in CORPORA:
        index = json.loads((REALDATA / corpus / "index.json").read_text())
        params.extend(
            pytest.param(corpus, output, id=f"{corpus}/{Path(output['ref']).name}") for output in index["outputs"]
        )
    return params


def _dcm2niix() -> str:
    found = shutil.which("dcm2niix")
    if found is None:
        pytest.fail("dcm2niix is not installed: it is a test dependency of the cross session (pip install dcm2niix)")
    return found


def _convert(folder: Path, target: Path, *options: str) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    command = [_dcm2niix(), "-b", "y", "-z", "n", *options, "-f", "out", "-o", str(target), str(folder)]
    subprocess.run(command, check=True, capture_output=True)
    return sorted(target.glob("out*.nii"))


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """``converted(corpus, output)``: the reference NIfTI of an output, made by dcm2niix when it was not shipped."""
    cache: dict[str, Path] = {}

    def reference(corpus: str, output: dict[str, object]) -> Path:
        ref = REALDATA / corpus / str(output["ref"])
        if output["ref_present"]:
            return ref
        if ref.name not in cache:
            folder = REALDATA / corpus / str(output["in_folders"][0])  # type: ignore[index]
            (made,) = _convert(folder, tmp_path_factory.mktemp(ref.stem))
            cache[ref.name] = made
        return cache[ref.name]

    return reference


def _array(image):
    data = np.asanyarray(image.dataobj)
    if data.dtype.names:  # RGB24: one structured value per voxel -> a trailing axis of samples
        data = np.stack([data[name] for name in data.dtype.names], axis=-1)
    return data


def _load(
    folder: Path, uid: str, word: str | None, scaling: str, select: dict[str, object] | None = None, system: str = "RAS"
):
    """Load the series; with `word`, the kind whose label holds it, through the select= the warning prints."""
    import mvl.dicom

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        volume = mvl.dicom.open_stack(folder, series_uid=uid, philips_scaling=scaling, system=system, select=select)
    if word is None or word in volume.src_object.kind:
        return volume
    (hint,) = [text for text in volume.src_object.other_kinds if word in text.split(":")[0]]
    select = ast.literal_eval(hint.split("select=", 1)[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the printed select= leaves one kind: nothing left to warn about
        return mvl.dicom.open_stack(folder, series_uid=uid, select=select, philips_scaling=scaling, system=system)


def _assert_matches(volume, reference: Path) -> None:
    import nibabel

    image = nibabel.load(reference)
    expected = _array(image)
    floating = np.issubdtype(volume.src_data.dtype, np.floating)
    # Float references are int16 with a float32 scl_slope: equal within 1e-5 of their range.
    tolerance = 1e-5 * float(np.ptp(expected)) if floating else 0.0
    assert_same_image(volume, expected, image.affine, "RAS", value_atol=tolerance)


@pytest.mark.parametrize(("corpus", "output"), _outputs())
def test_every_series_matches_dcm2niix_in_world_space(corpus, output, converted):
    ref = Path(output["ref"])
    word, scaling = KINDS.get(ref.name, (None, "standard"))
    # dcm_qa_ts and dcm_qa_12bit: copies of one mosaic in one folder share their Series Instance UID; dcm2niix
    # tells them apart by (0020,0011) 'Series Number', and so does the select= a user would write.
    select = {"SeriesNumber": output["series_number"]} if _uid_shared(corpus, output) else None
    volume = _load(REALDATA / corpus / output["in_folders"][0], output["series_instance_uid"], word, scaling, select)
    reference = converted(corpus, output)
    _assert_matches(volume, reference)
    sidecar = json.loads(reference.with_suffix(".json").read_text()) if reference.with_suffix(".json").is_file() else {}
    if "MOSAIC" in output["image_type"] and "SliceTiming" in sidecar:
        _assert_slice_timing(volume, reference, sidecar["SliceTiming"])
    shape = output["dcm2niix_shape"]
    assert len(volume.src_object.volumes) == (shape[3] if len(shape) > 3 else 1)  # the volume axis: same length
    bvals = reference.with_suffix(".bval")
    if bvals.is_file():  # diffusion: b-values per volume in dcm2niix's order
        expected = [float(value) for value in bvals.read_text().split()]
        assert [row.b_value for row in volume.src_object.volumes] == pytest.approx(expected)


def _uid_shared(corpus: str, output: dict[str, object]) -> bool:
    """Whether other outputs of the corpus come from files with the same Series Instance UID."""
    index = json.loads((REALDATA / corpus / "index.json").read_text())
    uids = [other["series_instance_uid"] for other in index["outputs"]]
    return uids.count(output["series_instance_uid"]) > 1


def _assert_slice_timing(volume, reference: Path, expected: list[float]) -> None:
    """Each slice's time (ms) equals dcm2niix's (s) for the reference slice at the same place in world space."""
    import nibabel

    timing = volume.src_object.slice_timing
    assert timing is not None and len(timing) == len(expected)
    to_reference = np.linalg.inv(nibabel.load(reference).affine) @ volume.get_src_transformation("RAS")
    for k, time in enumerate(timing):
        ref_k = round(float((to_reference @ np.array([0.0, 0.0, k, 1.0]))[2]))
        # dcm2niix prints six significant digits: within half a unit of the last one
        assert time / 1000.0 == pytest.approx(expected[ref_k], rel=5e-6, abs=1e-6), f"slice {k} (ref. {ref_k})"


@pytest.mark.skipif(not REALDATA.is_dir(), reason=MISSING)
def test_philips_standard_scaling_matches_dcm2niix_without_precise_scaling(tmp_path):
    folder = REALDATA / "dcm_qa_enh" / "In" / "Philips"
    references = _convert(folder, tmp_path, "-p", "n")
    assert len(references) == 2  # the magnitude and the field map
    for reference in references:
        word = "real" if "fieldmap" in reference.name else "magnitude"
        _assert_matches(_philips(folder, word), reference)


def _philips(folder: Path, word: str):
    import mvl.dicom

    (info,) = mvl.dicom.list_series(folder)
    return _load(folder, str(info.uid), word, "standard")


@pytest.mark.skipif(not REALDATA.is_dir(), reason=MISSING)
@pytest.mark.parametrize("aligned", [False, True])
def test_a_4d_series_saved_as_nifti_reads_back_in_nibabel_like_dcm2niix_wrote_it(tmp_path, aligned):
    import nibabel

    import mvloader

    corpus = REALDATA / "dcm_qa_nih"
    volume = mvloader.load(corpus / "In" / "20180918GE" / "mr_0004")
    target = tmp_path / "fmri.nii.gz"
    mvloader.save(target, volume, src_order=not aligned)
    written = nibabel.load(target)
    assert written.shape == (64, 64, 15, 10)
    _assert_matches(mvloader.load(target), corpus / "Ref" / "DCM2NIIX_regression_test_4.nii")


# -- sidecars (issue 16): every key both write has the same value -------------------------------------

#: The keys the sidecar may write, compared where dcm2niix writes them too.
COMPARED = (
    "Modality",
    "Manufacturer",
    "ManufacturersModelName",
    "MagneticFieldStrength",
    "SeriesNumber",
    "SeriesDescription",
    "ProtocolName",
    "AcquisitionTime",
    "ImageType",
    "RepetitionTime",
    "EchoTime",
    "InversionTime",
    "FlipAngle",
    "SliceThickness",
    "SpacingBetweenSlices",
    "EchoNumber",
    "SliceTiming",
    "PhaseEncodingDirection",
    "PhaseEncodingAxis",
)
#: (output, key): why ours differs, by decision. Nothing else may.
KNOWN = {
    ("Philips_WIP_B0_NS_801_e1.nii", "EchoNumber"): "one echo number and one non-zero echo time in the files",
    ("Philips_WIP_B0_NS_801_e2_fieldmaphz.nii", "EchoNumber"): "a computed field map (echo time 0)",
    ("Philips_WIP_B0_NS_801_e2_fieldmaphz.nii", "ImageType"): "dcm2niix appends its own FIELDMAPHZ, we REAL",
    ("9_gre_field_mapping_e2_ph.nii", "EchoNumber"): "a phase image of a series of one echo time",
    # GE states each slice's time only in a private element dcm2niix reads (RTIA timer); not read yet
    **{(f"DCM2NIIX_regression_test_{n}.nii", "SliceTiming"): "GE's private slice times" for n in (4, 5, 6, 7)},
    # GE's polarity is in a private element not read yet: we write the axis (checked against dcm2niix's direction)
    **{(f"DCM2NIIX_regression_test_{n}.nii", "PhaseEncodingDirection"): "GE's polarity" for n in (4, 5, 6, 7)},
    **{(f"DCM2NIIX_regression_test_{n}.nii", "PhaseEncodingAxis"): "GE's polarity" for n in (4, 5, 6, 7)},
}


def _sidecar_outputs() -> list[object]:
    if not REALDATA.is_dir():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=MISSING), id="realdata-absent")]
    params = []
    for corpus in CORPORA:
        index = json.loads((REALDATA / corpus / "index.json").read_text())
        params.extend(
            pytest.param(corpus, output, id=f"{corpus}/{Path(output['ref']).name}")
            for output in index["outputs"]
            if (REALDATA / corpus / str(output["ref"])).with_suffix(".json").is_file()
        )
    return params


def _seconds_of_day(text: str) -> float:
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _version(sidecar: dict[str, object]) -> str:
    return str(sidecar.get("ConversionSoftwareVersion", "v0"))


def _same(key: str, ours: object, theirs: object, reference: dict[str, object]) -> bool:
    if key == "AcquisitionTime":
        return abs(_seconds_of_day(str(ours)) - _seconds_of_day(str(theirs))) < 1e-3
    if key == "ImageType" and _version(reference) < "v1.0.2024" and isinstance(ours, list):
        # dcm2niix before v1.0.2024 did not append the complex component (dcm_qa_ts's reference)
        return ours == theirs or ours[:-1] == theirs
    if isinstance(theirs, float | int) and not isinstance(theirs, bool) and isinstance(ours, float | int):
        return math.isclose(ours, theirs, rel_tol=5e-6, abs_tol=1e-9)
    return ours == theirs


def _slice_timing_matches(volume, reference_nifti: Path, ours: list[float], theirs: list[float]) -> bool:
    """Our slice k's time is dcm2niix's for its slice at the same place in world space (2.5 ms: the clock's step)."""
    import nibabel

    if len(ours) != len(theirs):
        return False
    to_reference = np.linalg.inv(nibabel.load(reference_nifti).affine) @ volume.get_src_transformation("RAS")
    for k, time in enumerate(ours):
        reference_k = round(float((to_reference @ np.array([0.0, 0.0, k, 1.0]))[2]))
        if not math.isclose(time, theirs[reference_k], rel_tol=5e-6, abs_tol=2.5e-3 + 1e-6):
            return False
    return True


def _same_phase_encoding(volume, reference_nifti: Path, ours: str, theirs: str, *, signed: bool) -> bool:
    """Both codes name the same world direction (or line, unsigned), each in the axes of its own image."""
    import nibabel

    def world(code: str, matrix: np.ndarray) -> np.ndarray:
        column = matrix[:3, "ijk".index(code[0])]
        return (-1.0 if code.endswith("-") else 1.0) * column / np.linalg.norm(column)

    dot = float(world(ours, volume.get_src_transformation("RAS")) @ world(theirs, nibabel.load(reference_nifti).affine))
    return dot > 0.99 if signed else abs(dot) > 0.99


@pytest.mark.skipif(not REALDATA.is_dir(), reason=MISSING)
@pytest.mark.parametrize(("corpus", "output"), _sidecar_outputs())
def test_every_sidecar_key_equals_dcm2niix(corpus, output, converted):
    from mvl.dicom.sidecar import sidecar

    ref = Path(output["ref"])
    reference = json.loads((REALDATA / corpus / ref).with_suffix(".json").read_text())
    word, scaling = KINDS.get(ref.name, (None, "standard"))
    select = {"SeriesNumber": output["series_number"]} if _uid_shared(corpus, output) else None
    volume = _load(REALDATA / corpus / output["in_folders"][0], output["series_instance_uid"], word, scaling, select)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = sidecar(volume)
    json.dumps(ours)  # JSON-ready
    differences = []
    for key in COMPARED:
        if (ref.name, key) in KNOWN or (key not in ours and key not in reference):
            continue
        if (key in ours) != (key in reference):
            differences.append(f"{key}: ours {ours.get(key)!r}, dcm2niix {reference.get(key)!r}")
        elif key == "SliceTiming":
            if not _slice_timing_matches(volume, converted(corpus, output), ours[key], reference[key]):
                differences.append(f"{key}: ours {ours[key][:6]}..., dcm2niix {reference[key][:6]}...")
        elif key in ("PhaseEncodingDirection", "PhaseEncodingAxis"):
            signed = key == "PhaseEncodingDirection"
            if not _same_phase_encoding(volume, converted(corpus, output), ours[key], reference[key], signed=signed):
                differences.append(f"{key}: ours {ours[key]!r}, dcm2niix {reference[key]!r}")
        elif not _same(key, ours[key], reference[key], reference):
            differences.append(f"{key}: ours {ours[key]!r}, dcm2niix {reference[key]!r}")
    if "PhaseEncodingAxis" in ours and "PhaseEncodingDirection" in reference:  # our axis is dcm2niix's line
        line = ours["PhaseEncodingAxis"]
        if not _same_phase_encoding(
            volume, converted(corpus, output), line, reference["PhaseEncodingDirection"], signed=False
        ):
            differences.append(f"PhaseEncodingAxis {line!r} is not dcm2niix's {reference['PhaseEncodingDirection']!r}")
    assert not differences, "; ".join(differences)


def test_known_differences_name_outputs_of_the_corpora():
    # each KNOWN entry names a real output (a renamed one would silently stop excusing anything)
    names = {
        Path(str(output["ref"])).name
        for corpus in CORPORA
        if REALDATA.is_dir()
        for output in json.loads((REALDATA / corpus / "index.json").read_text())["outputs"]
    }
    if names:
        assert {name for name, _ in KNOWN} <= names


def _world_directions(bvecs: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """FSL b-vectors (3 x N, in the voxel axes of an image with this RAS+ affine) as RAS+ unit directions."""
    axes = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    voxel = np.array(bvecs, dtype=np.float64)
    if np.linalg.det(axes) > 0:
        voxel[0] = -voxel[0]
    world = axes @ voxel
    lengths = np.linalg.norm(world, axis=0)
    return np.divide(world, lengths, out=np.zeros_like(world), where=lengths > 0)


def _bvec_outputs() -> list[object]:
    return [
        param
        for param in _sidecar_outputs()
        if param.values[0] is None
        or (REALDATA / param.values[0] / str(param.values[1]["ref"])).with_suffix(".bvec").is_file()
    ]


@pytest.mark.skipif(not REALDATA.is_dir(), reason=MISSING)
@pytest.mark.parametrize(("corpus", "output"), _bvec_outputs())
@pytest.mark.parametrize(("system", "aligned"), [("RAS", False), ("LPS", True), ("SAR", True)])
def test_fsl_bvecs_point_where_dcm2niix_points_in_world_space(corpus, output, converted, system, aligned):
    import nibabel

    from mvl.dicom.gradients import fsl_gradients, fsl_texts

    ref = REALDATA / corpus / str(output["ref"])
    word, scaling = KINDS.get(ref.name, (None, "standard"))
    folder = REALDATA / corpus / output["in_folders"][0]
    volume = _load(folder, output["series_instance_uid"], word, scaling, system=system)
    gradients = fsl_gradients(volume, aligned=aligned)
    assert gradients is not None
    bvals, bvecs = gradients
    assert bvals == pytest.approx(np.loadtxt(ref.with_suffix(".bval"), ndmin=1))
    _, bvec_text = fsl_texts(gradients)
    assert np.loadtxt(io.StringIO(bvec_text), ndmin=2).shape == (3, len(bvals))
    ours_matrix = volume.get_aligned_transformation("RAS") if aligned else volume.get_src_transformation("RAS")
    ours = _world_directions(np.array(bvecs).T, ours_matrix)
    theirs = _world_directions(
        np.loadtxt(ref.with_suffix(".bvec"), ndmin=2), nibabel.load(converted(corpus, output)).affine
    )
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
