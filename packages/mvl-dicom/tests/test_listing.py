"""list_series: one record per series, from headers only, with a path open_stack accepts."""

from __future__ import annotations

import numpy as np
import pytest

from mvl.coords import FormatWarning
from mvl.dicom import list_series, open_stack
from mvl.dicom.listing import orientation_label
from mvl.dicom.testing import oblique_transformation, write_enhanced, write_series


def test_a_pacs_like_tree_lists_every_series_with_a_loadable_path(tmp_path, monkeypatch):
    write_series(tmp_path / "p1" / "study1" / "ct", shape=(4, 4, 5), series_uid="1.1", study_uid="9.1")
    write_series(
        tmp_path / "p1" / "study1" / "mr",
        shape=(6, 5, 3),
        series_uid="1.2",
        study_uid="9.1",
        modality="MR",
        transformation=np.array([[0, 0, 2.0, 0], [1.0, 0, 0, 0], [0, -1.0, 0, 0], [0, 0, 0, 1]]),
    )
    write_series(
        tmp_path / "p2" / "a", shape=(3, 3, 2), series_uid="1.3", study_uid="9.2", prefix="A", frame_of_reference="8.1"
    )
    write_series(
        tmp_path / "p2" / "b",
        shape=(3, 3, 2),
        series_uid="1.3",
        study_uid="9.2",
        prefix="B",
        frame_of_reference="8.1",
        transformation=[[0.8, 0, 0, -10.0], [0, 0.9, 0, 20.0], [0, 0, 2.0, 9.5], [0, 0, 0, 1]],
    )
    write_enhanced(tmp_path / "p2" / "enhanced.dcm", np.zeros((4, 4, 3), np.int16), oblique_transformation())
    (tmp_path / "p2" / "readme.txt").write_text("not DICOM")

    import pydicom

    def no_pixels(*args, **kwargs):
        raise AssertionError("list_series must not read pixel data")

    monkeypatch.setattr(pydicom.pixels, "pixel_array", no_pixels)
    infos = {info.uid: info for info in list_series(tmp_path)}
    assert set(infos) >= {"1.1", "1.2", "1.3"} and len(infos) == 4
    ct, mr, split = infos["1.1"], infos["1.2"], infos["1.3"]
    assert (ct.modality, ct.files, ct.frames, ct.rows, ct.columns, ct.orientation) == ("CT", 5, 5, 4, 4, "axial")
    assert (mr.modality, mr.rows, mr.columns, mr.orientation) == ("MR", 6, 5, "sagittal")
    assert ct.description == "synthetic" and ct.study_uid == "9.1"
    assert ct.path.parent == tmp_path / "p1" / "study1" / "ct" and not ct.recursive
    assert split.path == tmp_path / "p2" and split.recursive and split.files == 4
    enhanced = next(info for uid, info in infos.items() if uid not in ("1.1", "1.2", "1.3"))
    assert (enhanced.files, enhanced.frames, enhanced.orientation) == (1, 3, "oblique axial")
    monkeypatch.undo()
    assert open_stack(ct.path).src_data.shape == (4, 4, 5)
    assert split.open().src_data.shape == (3, 3, 4)
    assert enhanced.open().src_data.shape == (4, 4, 3)
    assert "CT 'synthetic' 5 files, 5 frames, 4x4, axial" in str(ct)


def test_mixed_orientations_are_summarised(tmp_path):
    write_series(tmp_path, shape=(3, 3, 2), series_uid="1.1", frame_of_reference="2.2", prefix="A")
    write_series(
        tmp_path,
        shape=(3, 3, 1),
        series_uid="1.1",
        frame_of_reference="2.2",
        prefix="L",
        transformation=np.array([[0, 0, 1.0, 0], [1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 0, 1]]),
    )
    (info,) = list_series(tmp_path)
    assert info.orientation == "mixed (2 orientations)"


def test_unreadable_files_are_skipped_with_one_warning(tmp_path):
    write_series(tmp_path, shape=(3, 3, 2))
    (tmp_path / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"garbage" * 20)
    with pytest.warns(FormatWarning, match=r"skipped 1 unreadable DICOM file\(s\): broken\.dcm"):
        (info,) = list_series(tmp_path)
    assert info.files == 2


def test_orientation_labels():
    assert orientation_label([1, 0, 0, 0, 0, -1]) == "coronal"
    assert orientation_label([0.8, 0.6, 0, 0, 0, -1]) == "oblique coronal"


def test_patient_and_study_are_listed_for_naming_outputs(tmp_path):
    def label(dataset, index):
        dataset.PatientID = "P-0042"
        dataset.StudyDescription = "CT Thorax"

    write_series(tmp_path / "ct", shape=(3, 3, 2), edit=label)
    write_series(tmp_path / "plain", shape=(3, 3, 2))
    listed = {info.path.parent.name: info for info in list_series(tmp_path)}
    assert (listed["ct"].patient_id, listed["ct"].study_description) == ("P-0042", "CT Thorax")
    assert listed["plain"].study_description is None


def test_survey_returns_the_other_files_of_a_folder_tree(tmp_path):
    from mvl.dicom import survey

    write_series(tmp_path / "ct", shape=(3, 3, 2))
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "t1.nii").write_bytes(b"\0" * 400)
    (tmp_path / "notes.txt").write_text("hello")
    found = survey(tmp_path)
    assert [info.files for info in found.series] == [2]
    assert sorted(path.name for path in found.other_files) == ["notes.txt", "t1.nii"]
    assert found.series == list_series(tmp_path)
