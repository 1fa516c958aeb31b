import time

import cv2
import numpy as np
import pytest

from realtime.sources import CameraSource, ImageFolderSource, SourceError, VideoFileSource, open_source


def test_missing_file(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        VideoFileSource(tmp_path / "nope.mp4")


def test_not_a_video(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video")
    with pytest.raises(SourceError, match="not a readable video"):
        VideoFileSource(p)


def test_truncated_video_ends_early_with_a_warning(clip_file, tmp_path, caplog):
    data = clip_file.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    try:
        src = VideoFileSource(cut)
    except SourceError:
        return  # the container index was lost with the tail: refused up front, also fine
    n = 0
    while src.read() is not None:
        n += 1
    assert n < 300


def test_camera_that_does_not_exist_fails_fast():
    t0 = time.monotonic()
    with pytest.raises(SourceError, match="camera 57 cannot be opened"):
        CameraSource(57)
    assert time.monotonic() - t0 < 10


def test_video_file_frames_and_info(clip_file):
    src = open_source(clip_file)
    assert src.info.kind == "video" and (src.info.width, src.info.height) == (640, 480)
    assert src.info.fps == pytest.approx(30.0)
    frames = 0
    while (f := src.read()) is not None:
        assert f.shape == (480, 640, 3)
        frames += 1
    assert frames == 300 and not src.ended_early


def test_image_folder(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((20, 30, 3), i * 50, np.uint8))
    (tmp_path / "readme.txt").write_text("ignored")
    src = ImageFolderSource(tmp_path, fps=10)
    assert src.info.frame_count == 3 and src.info.fps == 10
    assert [int(src.read()[0, 0, 0]) for _ in range(3)] == [0, 50, 100]
    assert src.read() is None
    with pytest.raises(SourceError, match="holds no images"):
        ImageFolderSource(_empty(tmp_path))


def _empty(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d
