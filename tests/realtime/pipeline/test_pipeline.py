import threading
import time

import numpy as np
import pytest

from realtime.perception.face_tracker import FaceTracker
from realtime.pipeline.core import Pipeline, PipelineSettings
from realtime.pipeline.health import FaultKind
from realtime.capture.sources import FrameSource, VideoFileSource
from realtime.concurrency.stats import WorkerState
from realtime.types import SourceInfo
from realtime.workers.base import ModelWorker


class MouthOpening(ModelWorker):
    """A real (if simple) model worker: every ``every`` face frames, the mean lip gap of the
    last ``window`` landmark vectors; ``delay_s`` makes it slow on purpose."""

    provides = ("mouth",)

    def __init__(self, every=4, window=8, delay_s=0.0, fail_on=()):
        super().__init__("mouth")
        self.every, self.window, self.delay_s, self.fail_on = every, window, delay_s, set(fail_on)
        self.seen = 0
        self.jobs = 0

    def due(self, obs, buffers):
        self.seen += 1
        return self.seen % self.every == 0

    def prepare(self, obs, buffers):
        vecs, idx, _ = buffers.vectors.last(self.window)
        return vecs, int(idx[-1])

    def compute(self, job):
        vecs, last = job
        self.jobs += 1
        if self.jobs in self.fail_on:
            raise ValueError("a bad window")
        time.sleep(self.delay_s)
        return {"valence": float(np.tanh(vecs[:, 40 + 34].mean() - vecs[:, 40 + 31].mean()))}

    def on_reset(self):
        self.seen = 0


def _tracker():
    return FaceTracker()


def test_file_pipeline_processes_every_frame_and_shuts_down(clip_file):
    results = []
    worker = MouthOpening(every=16)
    pipe = Pipeline(VideoFileSource(clip_file), _tracker(), [worker])
    pipe.subscribe(lambda r, f: results.append(r))
    pipe.start()
    assert pipe.wait(timeout=120)
    assert pipe.shutdown()
    assert not any(t.is_alive() for t in pipe.threads)
    assert [r.frame_index for r in results] == list(range(300))
    updates = [r for r in results if r.valence_updated]
    assert len(updates) >= 10 and all(r.face and r.valence is not None for r in updates)
    assert all(r.valence is None for r in results if not r.face)
    assert worker.stats.skipped == 0  # offline: lossless
    assert pipe.state is WorkerState.STOPPED
    assert {t.name for t in threading.enumerate()}.isdisjoint({"capture", "perception", "mouth"})


def test_slow_worker_skips_and_counts_live(clip_file):
    worker = MouthOpening(every=2, delay_s=0.2)
    pipe = Pipeline(VideoFileSource(clip_file, live=True), _tracker(), [worker], PipelineSettings(paced=True))
    pipe.start()
    time.sleep(2.0)
    stats = pipe.stats()
    pipe.shutdown()
    assert worker.stats.skipped > 5
    assert worker.stats.processed <= 12
    assert stats.frames_processed >= 40  # perception was not held up by the slow worker


class SlowSource(FrameSource):
    """A live source faster than its consumer: perception cannot keep up, drops must be counted."""

    live = True

    def __init__(self, n=400):
        self.info = SourceInfo("camera", "synthetic", 320, 240, 1000.0)
        self.n = n
        self.img = np.zeros((240, 320, 3), np.uint8)

    def read(self):
        if self.n == 0:
            return None
        self.n -= 1
        time.sleep(0.001)
        return self.img


def test_slow_consumer_drops_instead_of_growing():
    pipe = Pipeline(SlowSource(), _tracker())
    seen = []

    def slow_subscriber(r, f):
        time.sleep(0.01)
        seen.append(r.frame_index)

    pipe.subscribe(slow_subscriber)
    pipe.start()
    assert pipe.wait(timeout=30)
    pipe.shutdown()
    s = pipe.stats()
    assert s.dropped > 100
    assert s.frames_processed + s.dropped == s.frames_captured
    assert pipe._frames.maxsize == 1 and pipe._frames.qsize() <= 1


def test_failing_job_is_counted_and_the_loop_goes_on(clip_file):
    worker = MouthOpening(every=8, fail_on={2, 3})
    results = []
    pipe = Pipeline(VideoFileSource(clip_file), _tracker(), [worker])
    pipe.subscribe(lambda r, f: results.append(r))
    pipe.start()
    assert pipe.wait(timeout=120)
    pipe.shutdown()
    assert worker.stats.failed == 2
    assert worker.stats.processed >= 10
    assert len(results) == 300
    (fault,) = pipe.faults()  # typed: counted failures of one thread, which went on
    assert fault.kind is FaultKind.JOBS_FAILED and fault.where == worker.name and not fault.fatal
    assert str(fault).startswith(f"{worker.name}: 2 failed job(s)")


def test_video_without_a_face_gives_rows_with_face_0(noface_file):
    results = []
    pipe = Pipeline(VideoFileSource(noface_file), _tracker())
    pipe.subscribe(lambda r, f: results.append(r))
    pipe.start()
    assert pipe.wait(timeout=60)
    pipe.shutdown()
    assert len(results) == 45 and not any(r.face for r in results)
    assert pipe.faults() == []


def test_shutdown_mid_stream_leaves_no_thread(clip_file):
    pipe = Pipeline(VideoFileSource(clip_file, live=True), _tracker(), [MouthOpening()], PipelineSettings(paced=True))
    pipe.start()
    time.sleep(0.3)
    assert pipe.state is WorkerState.RUNNING
    assert pipe.shutdown(timeout=5)
    assert not any(t.is_alive() for t in pipe.threads)


def test_start_twice_is_refused(clip_file):
    pipe = Pipeline(VideoFileSource(clip_file), _tracker())
    pipe.start()
    with pytest.raises(RuntimeError):
        pipe.start()
    pipe.shutdown()


class _Unsteady(VideoFileSource):
    """A file read at an uneven pace, as on a machine busy with other work."""

    def __init__(self, path, seed: int):
        super().__init__(path)
        self._rng = np.random.default_rng(seed)

    def read(self):
        time.sleep(float(self._rng.choice([0.0, 0.0, 0.004, 0.02])))
        return super().read()


def test_offline_results_do_not_depend_on_how_fast_frames_come(clip_file):
    """The landmark smoothing runs on the frames' time stamps in their file, not on when they
    were read: analysing a file on a busy machine gives the same landmarks, frame for frame."""
    def landmarks(source):
        out = []
        pipe = Pipeline(source, _tracker(), [])
        pipe.subscribe(lambda r, f: out.append(None if r.landmarks68 is None else r.landmarks68.copy()))
        pipe.start()
        assert pipe.wait(timeout=120)
        pipe.shutdown()
        return out

    steady, unsteady = landmarks(VideoFileSource(clip_file)), landmarks(_Unsteady(clip_file, seed=1))
    assert len(steady) == len(unsteady) == 300
    faces = [i for i, a in enumerate(steady) if a is not None]
    assert len(faces) > 200 and faces == [i for i, b in enumerate(unsteady) if b is not None]
    assert all(np.array_equal(steady[i], unsteady[i]) for i in faces)
