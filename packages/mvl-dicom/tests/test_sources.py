"""Folders: only regular files are opened; FIFOs and devices are skipped, never waited on."""

from __future__ import annotations

import os
import threading

import pytest

from mvl.coords import InputError
from mvl.dicom import list_series, open_stack
from mvl.dicom.sources import FolderSource, open_regular
from mvl.dicom.testing import write_series


def _run_with_timeout(function, seconds=20.0):
    result = {}

    def target():
        try:
            result["value"] = function()
        except BaseException as error:
            result["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked (opened a FIFO?)"
    if "error" in result:
        raise result["error"]
    return result["value"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_the_folder_is_skipped_not_opened(tmp_path):
    write_series(tmp_path, shape=(3, 3, 4))
    os.mkfifo(tmp_path / "0000-fifo.dcm")  # sorts first: a plain pydicom loop would block on it
    (tmp_path / "0001-devnull.dcm").symlink_to(os.devnull)
    volume = _run_with_timeout(lambda: open_stack(tmp_path))
    assert volume.src_data.shape == (3, 3, 4)
    assert [info.files for info in _run_with_timeout(lambda: list_series(tmp_path))] == [4]
    names = [member.key for member in FolderSource(tmp_path, recursive=False).members()]
    assert "0000-fifo.dcm" not in names and "0001-devnull.dcm" not in names


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_given_as_the_path_is_refused(tmp_path):
    os.mkfifo(tmp_path / "fifo.dcm")
    with pytest.raises(InputError, match=r"fifo\.dcm: is not a regular file"):
        _run_with_timeout(lambda: open_stack(tmp_path / "fifo.dcm"))
    with pytest.raises(InputError, match=r"fifo\.dcm: is not a regular file"):
        _run_with_timeout(lambda: open_regular(tmp_path / "fifo.dcm"))


def test_dangling_links_and_symlinked_folders_are_not_followed(tmp_path):
    write_series(tmp_path / "a", shape=(3, 3, 2))
    (tmp_path / "a" / "dangling.dcm").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    keys = [member.key for member in FolderSource(tmp_path, recursive=True).members()]
    assert len(keys) == 2 and all(key.startswith("a/") for key in keys)
