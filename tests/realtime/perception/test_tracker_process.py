"""The face tracker in its own process: the same observations, errors said, nothing left behind."""
from __future__ import annotations

import os
import signal

import cv2
import numpy as np
import pytest

from realtime.concurrency.helper_process import AVAILABLE
from realtime.perception.face_tracker import FaceTracker
from realtime.perception.landmarks import LandmarkModelError, LandmarkReader
from realtime.perception.tracker_process import TrackerProcess, TrackerProcessError

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="helper processes need a POSIX system")


def _same(a, b) -> bool:
    if a.state is not b.state or a.face != b.face:
        return False
    if not a.face:
        return True
    return (np.array_equal(a.landmarks68, b.landmarks68) and np.array_equal(a.crop, b.crop)
            and np.array_equal(a.vector80, b.vector80) and a.box == b.box and a.pose == b.pose and a.good == b.good)


def _clip_file(motion_clip, path, frames: int):
    """The first ``frames`` frames of the moving-face clip as a 30 fps video file."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, motion_clip.frames[0].shape[1::-1])
    for frame in motion_clip.frames[:frames]:
        writer.write(frame)
    writer.release()
    return path


def test_the_process_observes_exactly_what_the_thread_would(motion_clip):
    frames = motion_clip.frames[:140]
    local = FaceTracker(LandmarkReader(), "similarity", 64)
    remote = TrackerProcess(None, "similarity", 64)
    try:
        assert remote.crop_size == 64
        for i, frame in enumerate(frames):
            t_ns = i * 33_333_333
            a, b = local.process(frame, i, t_ns), remote.process(frame, i, t_ns)
            assert _same(a, b), i
        local.reset()
        remote.reset()  # both start over: a new face is found again from the next frame
        for i, frame in enumerate(frames[:20]):
            assert _same(local.process(frame, i, i), remote.process(frame, i, i))
        # a larger frame grows the shared buffer; a smaller one reuses it
        big = cv2.resize(frames[30], None, fx=1.5, fy=1.5)
        small = cv2.resize(frames[30], None, fx=0.75, fy=0.75)
        for i, frame in enumerate([big, small, big]):
            assert _same(local.process(frame, 100 + i, 0), remote.process(frame, 100 + i, 0))
    finally:
        remote.close()
    assert remote._proc.poll() == 0 and remote._fd == -1  # the child exited, the shared memory is let go


def test_a_landmark_model_that_cannot_be_read_is_said_as_in_the_thread(tmp_path):
    bad = tmp_path / "shape_predictor.dat"
    bad.write_bytes(b"not a model")
    for model in (tmp_path / "missing.dat", bad):
        with pytest.raises(LandmarkModelError) as in_thread:
            LandmarkReader(model)
        with pytest.raises(LandmarkModelError) as in_process:
            TrackerProcess(model)
        assert str(in_process.value) == str(in_thread.value)


def test_where_the_process_cannot_start_tracking_runs_on_the_thread(monkeypatch, caplog):
    from realtime.perception import tracker_process

    def refuse(*args, error=TrackerProcessError, **kwargs):
        raise error("cannot start the perception process: [Errno 11] Resource temporarily unavailable")

    monkeypatch.setattr(tracker_process, "spawn", refuse)
    with caplog.at_level("WARNING", logger="realtime.perception.tracker_process"):
        tracker = tracker_process.tracker_for_real_time(None, "similarity", 64)
    assert isinstance(tracker, FaceTracker) and "runs on the perception thread instead" in caplog.text
    with pytest.raises(LandmarkModelError):  # a bad landmark model is still the user's to fix
        tracker_process.tracker_for_real_time("/nowhere/shape_predictor.dat", "similarity", 64)


def test_a_perception_process_that_dies_is_a_fault_not_a_hang(motion_clip):
    remote = TrackerProcess()
    try:
        remote.process(motion_clip.frames[0], 0, 0)
        os.kill(remote.pid, signal.SIGKILL)
        with pytest.raises(TrackerProcessError, match="ended"):
            remote.process(motion_clip.frames[1], 1, 1)
    finally:
        remote.close()


def test_a_live_pipeline_reads_faces_in_its_own_process_and_ends_it(motion_clip, tmp_path):
    from engines.bundle import load_bundle
    from realtime.capture.sources import VideoFileSource
    from realtime.pipeline.runner import build_pipeline

    clip_file = _clip_file(motion_clip, tmp_path / "two_seconds.mp4", 60)
    pipe = build_pipeline(VideoFileSource(clip_file), load_bundle(), paced=True)
    assert isinstance(pipe.perception.tracker, TrackerProcess)
    child = pipe.perception.tracker.pid
    results = []
    pipe.subscribe(lambda r, f: results.append(r))
    with pipe:
        pipe.start()
        assert pipe.wait(timeout=60)
    assert not pipe.faults() and len(results) == pipe.capture.stats.processed
    assert sum(r.face for r in results) > 0.5 * len(results)
    with pytest.raises(ProcessLookupError):  # ended with the pipeline, not left behind
        os.kill(child, 0)
    offline = build_pipeline(VideoFileSource(clip_file), load_bundle(), paced=False)
    assert isinstance(offline.perception.tracker, FaceTracker)  # a file analysed offline: on its thread
    offline.shutdown()
    unstarted = build_pipeline(VideoFileSource(clip_file), load_bundle(), paced=True)
    child = unstarted.perception.tracker.pid
    unstarted.shutdown()  # built, never started: its perception process ends too
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_a_run_whose_perception_process_is_killed_ends_with_the_fault_said(motion_clip, tmp_path):
    import time

    from engines.bundle import load_bundle
    from realtime.capture.sources import VideoFileSource
    from realtime.pipeline.health import FaultKind
    from realtime.pipeline.runner import build_pipeline

    clip_file = _clip_file(motion_clip, tmp_path / "clip.mp4", 150)
    pipe = build_pipeline(VideoFileSource(clip_file), load_bundle(), paced=True)
    with pipe:
        pipe.start()
        time.sleep(1.0)
        os.kill(pipe.perception.tracker.pid, signal.SIGKILL)
        assert pipe.wait(timeout=10)  # perception ends at once rather than failing every later frame
    faults = {f.where: f for f in pipe.faults()}
    assert faults["perception"].kind is FaultKind.THREAD_FAULTED
    assert "perception process ended" in faults["perception"].message
    assert pipe.perception.stats.processed < 150


def test_stopping_does_not_wait_for_a_perception_process_that_hangs(motion_clip, tmp_path):
    import time

    from engines.bundle import load_bundle
    from realtime.capture.sources import VideoFileSource
    from realtime.pipeline.runner import build_pipeline

    clip_file = _clip_file(motion_clip, tmp_path / "clip.mp4", 150)
    pipe = build_pipeline(VideoFileSource(clip_file), load_bundle(), paced=True)
    pipe.start()
    time.sleep(1.0)
    child = pipe.perception.tracker.pid
    os.kill(child, signal.SIGSTOP)  # a frame that never comes back
    t0 = time.monotonic()
    assert pipe.shutdown(timeout=1.0)
    assert time.monotonic() - t0 < 6.0  # not the 30 s a frame may take
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)

    idle = build_pipeline(VideoFileSource(clip_file), load_bundle(), paced=True)
    child = idle.perception.tracker.pid
    assert idle.perception.shutdown()  # a perception thread that never ran (its pipeline's start failed)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    idle.shutdown()
