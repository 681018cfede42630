"""The preview picture: right size, not blank, edges labelled where the anatomy is."""

import numpy as np
import pytest
from matplotlib.image import imread

from mvl.coords import SaveError, Volume
from mvl.coords.testing import sample_transformation
from mvloader.preview import display_window, render_preview


def phantom():
    data = np.full((40, 50, 30), -1000, dtype=np.int16)
    data[10:30, 10:40, 5:25] = 40
    data[12:16, 30:36, 10:20] = 900  # bright marker towards +j
    return data


@pytest.mark.parametrize("system", ["RAS", "LPS", "IAR"])
def test_preview_is_a_non_blank_png(tmp_path, system):
    volume = Volume(phantom(), sample_transformation((5, 0, 0), (0.8, 0.8, 2.0)), "LPS", system=system)
    path = render_preview(volume, tmp_path / "preview.png", title="phantom")
    image = imread(path)
    assert image.shape[:2] == (500, 1350)
    gray = image[..., :3].mean(axis=2)
    assert gray.std() > 0.05  # not blank
    assert np.unique(np.round(gray, 2)).size > 10
    yellow = (image[..., 0] > 0.8) & (image[..., 1] > 0.8) & (image[..., 2] < 0.3)
    assert yellow.sum() > 200  # the direction letters are drawn


def test_preview_of_4d_data_shows_the_first_volume(tmp_path):
    series = np.stack([phantom(), phantom() + 100], axis=-1)
    volume = Volume(series, np.eye(4), "RAS")
    assert imread(render_preview(volume, tmp_path / "p.png")).shape[:2] == (500, 1350)


def test_preview_never_writes_a_partial_file(tmp_path):
    volume = Volume(phantom(), np.eye(4), "RAS")
    with pytest.raises(SaveError, match="no-such-folder"):
        render_preview(volume, tmp_path / "no-such-folder" / "p.png")
    assert list(tmp_path.iterdir()) == []


def test_display_window():
    assert display_window(phantom()) == (-160.0, 240.0)
    assert display_window(np.zeros(10)) == (0.0, 1.0)
    assert display_window(np.array([np.nan, 1.0, 2.0])) == pytest.approx((1.01, 1.995))
