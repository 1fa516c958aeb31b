import json

import numpy as np
from full_disk import fill_disk_after
import pytest

from realtime.perception.face_tracker import FaceTracker
from realtime.pipeline.core import Pipeline
from realtime.sessions.folder import COLUMNS, SessionError, SessionWriter, read_session
from realtime.capture.sources import VideoFileSource


def test_columns_are_exactly_the_documented_ones():
    head = ["frame", "t_s", "face", "box_x", "box_y", "box_w", "box_h", "valence", "valence_updated",
            "p_fake", "latency_ms"]
    assert list(COLUMNS[:11]) == head
    assert list(COLUMNS[11:17]) == ["yaw", "pitch", "roll", "good", "valence_quality", "p_fake_quality"]
    assert list(COLUMNS[17:]) == [f"x{i}" for i in range(68)] + [f"y{i}" for i in range(68)]


def _record(clip_file, out, video=False):
    src = VideoFileSource(clip_file)
    pipe = Pipeline(src, FaceTracker())
    writer = SessionWriter(out, src.info, bundle={"name": "test"}, expression_model="pooled", record_video=video)
    writer.start()
    pipe.subscribe(writer)
    pipe.start()
    assert pipe.wait(120)
    pipe.shutdown()
    writer.add_event("stimulus on", 1.25)
    writer.finish({"note": "test"})
    return writer


def test_session_round_trip(clip_file, tmp_path, motion_clip):
    _record(clip_file, tmp_path / "s", video=True)
    s = read_session(tmp_path / "s")
    assert s.complete and not s.cut_off and len(s) == 300
    assert s.meta["schema"] == "affectscope.session/2" and s.meta["frames"] == 300
    assert s.meta["source"]["fps"] == pytest.approx(30.0)
    np.testing.assert_allclose(s.data["t_s"][:3], [0, 1 / 30, 2 / 30], atol=1e-3)
    face = s.data["face"] == 1
    assert face[motion_clip.visible].mean() > 0.98 and not face[motion_clip.absent].any()
    assert np.isnan(s.data["valence"]).all() and np.isnan(s.data["p_fake"]).all()  # no models yet
    assert np.isnan(s.data["box_x"][~face]).all() and not np.isnan(s.data["box_x"][face]).any()
    # head pose and quality on every face row, blank without a face; an upright face at rest is good
    assert not np.isnan(s.data["yaw"][face]).any() and np.isnan(s.data["roll"][~face]).all()
    roll_error = np.abs(s.data["roll"][face] - motion_clip.rolls[face])
    assert np.median(roll_error) < 3 and s.data["good"][face].mean() > 0.95
    assert np.isnan(s.data["good"][~face]).all()
    lm = s.landmarks(int(np.flatnonzero(face)[0]))
    assert lm.shape == (68, 2)
    assert s.events == [(1.25, "stimulus on")]
    assert s.video is not None and s.video.stat().st_size > 10_000


def test_writer_refuses_a_non_empty_folder(tmp_path, clip_file):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("data")
    src = VideoFileSource(clip_file)
    with pytest.raises(SessionError, match="not empty"):
        SessionWriter(tmp_path / "x", src.info)
    assert (tmp_path / "x" / "keep.txt").read_text() == "data"


def test_reader_accepts_a_cut_off_session(clip_file, tmp_path):
    _record(clip_file, tmp_path / "s")
    meta = json.loads((tmp_path / "s" / "session.json").read_text())
    meta["complete"] = False
    (tmp_path / "s" / "session.json").write_text(json.dumps(meta))
    text = (tmp_path / "s" / "frames.csv").read_text()
    (tmp_path / "s" / "frames.csv").write_text(text[: len(text) - 200])  # last row cut mid-line
    s = read_session(tmp_path / "s")
    assert s.cut_off and s.truncated_rows == 1 and len(s) == 299


def test_reader_names_what_is_wrong(tmp_path):
    with pytest.raises(SessionError, match="session.json: missing"):
        read_session(tmp_path)
    (tmp_path / "session.json").write_text('{"schema": "other/1"}')
    with pytest.raises(SessionError, match="schema"):
        read_session(tmp_path)


def test_drops_are_logged_and_the_video_keeps_the_session_clock(tmp_path):
    import cv2

    from realtime.types import AffectResult, Frame, SourceInfo

    info = SourceInfo("camera", "0", 64, 48, 10.0)
    writer = SessionWriter(tmp_path / "s", info, record_video=True)
    writer.start()
    # frames 3-4 never reach processing, frame 7 comes 0.3 s late, frame 8 early on the grid
    for index, t in ((0, 0.0), (1, 0.1), (2, 0.2), (5, 0.5), (6, 0.6), (7, 1.0), (8, 1.02)):
        image = np.full((48, 64, 3), 20 * index, np.uint8)
        r = AffectResult(index, int(1e9 + t * 1e9), True, media_s=t)
        writer(r, Frame(index, r.t_ns, image, info, t))
    writer.finish()
    s = read_session(tmp_path / "s")
    assert len(s) == 7 and s.meta["frames_dropped"] == 2
    assert (tmp_path / "s" / "drops.csv").read_text().splitlines() == ["first_frame,frames,t_s", "3,2,0.5000"]
    assert s.meta["video_frames"] == {"written": 11, "repeated": 5, "skipped": 1, "fps": 10.0}
    cap = cv2.VideoCapture(str(tmp_path / "s" / "video.mkv"))
    shades = []
    while (got := cap.read())[0]:
        shades.append(int(round(got[1].mean() / 20)))
    assert shades == [0, 1, 2, 2, 2, 5, 6, 6, 6, 6, 7]  # video frame k = session time k / 10 s


def test_a_full_disk_stops_the_recording_at_once_and_keeps_what_was_written(tmp_path):
    import time

    from realtime.types import AffectResult, Frame, SourceInfo

    info = SourceInfo("camera", "0", 64, 48, 30.0)
    writer = SessionWriter(tmp_path / "s", info)
    fill_disk_after(writer, room=2_000)  # about a dozen rows
    writer.start()
    image = np.zeros((48, 64, 3), np.uint8)
    for i in range(40):
        r = AffectResult(i, int(1e9 + i * 33e6), False, media_s=i * 0.033)
        writer(r, Frame(i, r.t_ns, image, info, r.media_s))
    deadline = time.monotonic() + 5
    while writer.failure is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer.failure and "the disk is full" in writer.failure
    t0 = time.perf_counter()
    for i in range(40, 1000):  # the pipeline is never held up by a writer that cannot write
        r = AffectResult(i, int(1e9 + i * 33e6), False)
        writer(r, Frame(i, r.t_ns, image, info))
    assert time.perf_counter() - t0 < 0.5
    writer.finish({"faults": []})
    s = read_session(tmp_path / "s")
    assert 5 <= len(s) == writer.rows < 40 and list(s.data["frame"]) == list(range(len(s)))
    assert s.meta["faults"] == [writer.failure]


def test_a_writer_falling_behind_says_so(tmp_path):
    import threading

    from realtime.types import AffectResult, Frame, SourceInfo

    info = SourceInfo("camera", "0", 64, 48, 30.0)
    writer = SessionWriter(tmp_path / "s", info, queue_size=40)
    gate = threading.Event()
    real_write = writer._write
    writer._write = lambda result, image: (gate.wait(10), real_write(result, image))  # a disk that stalls
    writer.start()
    image = np.zeros((48, 64, 3), np.uint8)
    for i in range(20):
        r = AffectResult(i, int(1e9 + i * 33e6), False, media_s=i / 30)
        writer(r, Frame(i, r.t_ns, image, info, r.media_s))
    assert writer.backlog >= 10 and "falling behind" in writer.behind
    gate.set()
    writer.finish()
    assert writer.behind is None and read_session(tmp_path / "s").meta["frames"] == 20


def test_a_session_of_the_first_schema_still_reads(clip_file, tmp_path):
    """Sessions recorded before head pose and quality existed read with those columns empty."""
    import csv

    from realtime.sessions.folder import POSE_QUALITY_COLUMNS

    _record(clip_file, tmp_path / "s")
    new = read_session(tmp_path / "s")
    meta = json.loads((tmp_path / "s" / "session.json").read_text())
    meta["schema"] = "affectscope.session/1"
    (tmp_path / "s" / "session.json").write_text(json.dumps(meta))
    with (tmp_path / "s" / "frames.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    keep = [j for j, c in enumerate(rows[0]) if c not in POSE_QUALITY_COLUMNS]
    with (tmp_path / "s" / "frames.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([[r[j] for j in keep] for r in rows])
    old = read_session(tmp_path / "s")
    assert len(old) == len(new) == 300 and len(old.columns) == len(COLUMNS) - len(POSE_QUALITY_COLUMNS)
    for c in POSE_QUALITY_COLUMNS:
        assert np.isnan(old.data[c]).all()
    for c in ("t_s", "face", "box_x", "x30", "y30"):
        np.testing.assert_array_equal(old.data[c], new.data[c])
    meta["schema"] = "affectscope.session/9"
    (tmp_path / "s" / "session.json").write_text(json.dumps(meta))
    with pytest.raises(SessionError, match="session/9.*update affectscope"):
        read_session(tmp_path / "s")
