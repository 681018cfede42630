"""Progress: a callback per phase, a tqdm bar on request, and a clear error without tqdm."""

from __future__ import annotations

import builtins

import pytest

from mvl.coords import MissingDependencyError
from mvl.dicom import list_series, open_stack
from mvl.dicom.testing import write_series


def test_callback_sees_both_phases(tmp_path):
    write_series(tmp_path, shape=(3, 3, 4))
    (tmp_path / "notes.txt").write_text("x")
    seen = []
    open_stack(tmp_path, progress=lambda *report: seen.append(report))
    assert [report for report in seen if report[0] == "headers"][-1] == ("headers", 5, 5)
    assert [report for report in seen if report[0] == "pixels"][-1] == ("pixels", 4, 4)
    seen.clear()
    list_series(tmp_path, progress=lambda *report: seen.append(report))
    assert seen[-1] == ("headers", 5, 5)


def test_tqdm_bar_on_request(tmp_path, capsys):
    write_series(tmp_path, shape=(3, 3, 4))
    open_stack(tmp_path, progress=True)
    assert "reading DICOM" in capsys.readouterr().err


def test_bar_without_tqdm_names_the_extra(tmp_path, monkeypatch):
    write_series(tmp_path, shape=(3, 3, 2))
    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    with pytest.raises(MissingDependencyError, match=r'pip install "mvl-dicom\[progress\]"'):
        open_stack(tmp_path, progress=True)


def test_library_code_never_prints(tmp_path, capsys):
    write_series(tmp_path, shape=(3, 3, 2))
    open_stack(tmp_path)
    list_series(tmp_path)
    assert capsys.readouterr() == ("", "")
