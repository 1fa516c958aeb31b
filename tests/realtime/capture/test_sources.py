import re
import time

import cv2
import numpy as np
import pytest

from realtime.capture.sources import CameraSource, ImageFolderSource, SourceError, VideoFileSource, open_source


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


def _write_timed_clip(path, times_ms, rate=30):
    """A Matroska clip whose frames carry the given time stamps (ms); OpenCV cannot write these."""
    import fractions

    av = pytest.importorskip("av", reason="PyAV (extra dev) writes clips with chosen time stamps")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuvj420p"
        stream.time_base = fractions.Fraction(1, 1000)
        for i, t in enumerate(times_ms):
            img = np.full((120, 160, 3), (i * 4) % 255, np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = int(t), stream.time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_variable_frame_rate_keeps_the_files_own_times(tmp_path, caplog):
    times = [33 * i for i in range(30)] + [990 + 66 * i for i in range(1, 31)]  # 30 fps, then 15 fps
    src = VideoFileSource(_write_timed_clip(tmp_path / "vfr.mkv", times))
    got = []
    index = 0
    while src.read() is not None:
        got.append(src.media_time(index))
        index += 1
    assert len(got) == 60
    # OpenCV gives each frame's time on the grid of the nominal rate: within one frame period (33 ms),
    # not index / fps (which would put the last frame at 1.97 s instead of 2.97 s)
    np.testing.assert_allclose(got, np.array(times) / 1e3, atol=0.034)
    assert not src.ended_early  # the header's frame count is an estimate for such a file


def test_a_header_rate_that_the_frames_contradict_is_said(tmp_path, caplog):
    times = [40 * i for i in range(40)]  # 25 fps in a container that says 30
    src = VideoFileSource(_write_timed_clip(tmp_path / "25.mkv", times, rate=30))
    assert re.search(r"header says 30.00 fps but the first frames come at 2[45]\.\d\d fps", caplog.text)
    assert src.info.fps == pytest.approx(30.0)
    n = 0
    while src.read() is not None:
        n += 1
    assert src.media_time(n - 1) == pytest.approx(1.56, abs=0.034)  # 39 / 30 = 1.30 by frame count
