"""LiveSession: a live run without a window — typed state, stats, faults and model status, a
recording started and stopped mid-run, and one shutdown order."""
import threading

import numpy as np
import pytest

from engines.bundle import load_bundle
from realtime.capture.sources import LoopingVideoSource, SourceError, open_source
from realtime.concurrency.stats import WorkerState
from realtime.perception.face_tracker import FaceTracker
from realtime.perception.landmarks import LandmarkReader
from realtime.pipeline.core import Pipeline, PipelineSettings
from realtime.pipeline.health import FaultKind, PipelineStats
from realtime.sessions.folder import read_session
from realtime.sessions.live import LiveSession, LiveState
from realtime.sessions.run import ModelSelection
from realtime.workers.base import ModelWorker


class LipGap(ModelWorker):
    """A small real model: the vertical extent of the landmarks over the last 8 frames, every 4th
    face frame.
    ``broken`` fails its load, as a model with a damaged weight file does."""

    provides = ("valence",)

    def __init__(self, broken=False):
        super().__init__("lipgap")
        self.broken, self.seen = broken, 0

    def setup(self):
        if self.broken:
            raise OSError("weights truncated")
        self.backend_in_use = "numpy"

    def due(self, obs, buffers):
        self.seen += 1
        return self.seen % 4 == 0

    def prepare(self, obs, buffers):
        return buffers.vectors.last(8)[0]

    def compute(self, vecs):
        return {"valence": float(np.ptp(vecs[:, 1::2]))}


@pytest.fixture(scope="module")
def models():
    return ModelSelection(load_bundle())


def _session(video, models, broken=False, **kw):
    def factory(source):
        return Pipeline(source, FaceTracker(LandmarkReader()), [LipGap(broken)], PipelineSettings(paced=True))

    return LiveSession(lambda: LoopingVideoSource(video, live=True, looping=False), models,
                       pipeline_factory=factory, **kw)


def test_a_live_session_records_mid_run_and_shuts_down_in_order(clip_file, models, tmp_path):
    order, results = [], []
    got = threading.Event()

    def on_result(result, frame):
        results.append(result)
        if len(results) >= 60:
            got.set()

    def lsl_like(pipeline, writer):
        assert writer is None  # no recording at start
        return lambda: order.append(("outlet closed", live.recording()))

    live = _session(clip_file, models, subscribers=(on_result,), outlets=(lsl_like,),
                    settings={"command": "test"})
    assert live.state is LiveState.NEW and live.stats() is None and live.models() == []
    assert live.start() is True
    assert live.state is LiveState.RUNNING and live.source_info.fps == pytest.approx(30.0)
    folder = live.start_recording(tmp_path / "rec")
    assert got.wait(20)
    t = live.add_marker("stimulus", results[-1])
    assert t is not None and t >= 0.0

    stats = live.stats()
    assert isinstance(stats, PipelineStats) and stats.frames_processed >= 60 and stats.state is WorkerState.RUNNING
    (model,) = live.models()
    assert model.name == "lipgap" and model.available and model.backend == "numpy" and model.provides == ("valence",)
    rec = live.recording()
    assert rec.path == folder and rec.rows > 0 and rec.failure is None

    assert live.shutdown("stopped by the test") is True
    assert live.state is LiveState.STOPPED and live.recording() is None
    assert order == [("outlet closed", None)]  # the recording was finished before the outlets closed
    s = read_session(folder)
    assert s.complete and s.meta["stopped"] == "stopped by the test"
    assert set(s.meta["stats"]) == set(stats.summary()) and s.meta["faults"] == []
    assert [e[1] for e in s.events] == ["stimulus"]


def test_a_model_that_fails_to_load_is_a_typed_fault(clip_file, models):
    live = _session(clip_file, models, broken=True)
    assert live.start()
    (model,) = live.models()
    assert not model.available and model.state is WorkerState.FAULTED and "weights truncated" in model.error
    (fault,) = live.faults()
    assert fault.kind is FaultKind.THREAD_FAULTED and fault.where == "lipgap" and fault.fatal
    assert live.source_fault() is None
    live.shutdown()


def test_a_source_that_cannot_open_fails_the_start_and_closes_the_outlets(models, tmp_path):
    closed = []
    live = LiveSession(lambda: open_source(tmp_path / "missing.mp4", live=True), models,
                       outlets=(lambda p, w: closed.append(1),))
    with pytest.raises(SourceError):
        live.start()
    assert live.state is LiveState.FAILED and closed == []  # nothing was attached yet
    assert live.shutdown() is True


def test_a_session_stopped_before_it_starts_never_runs(clip_file, models):
    live = _session(clip_file, models)
    live.cancel()
    assert live.start() is False
    assert live.state is LiveState.STOPPED and live.stats() is None


def test_a_finite_video_ends_and_says_so(clip_file, models):
    live = LiveSession(lambda: open_source(clip_file, live=False), models,
                       pipeline_factory=lambda src: Pipeline(src, FaceTracker(LandmarkReader()), [],
                                                             PipelineSettings(paced=False)))
    assert live.start()
    for _ in range(600):
        if live.state is LiveState.ENDED:
            break
        threading.Event().wait(0.05)
    assert live.state is LiveState.ENDED and live.running and live.source_fault() is None
    assert live.stats().frames_processed == 300
    live.shutdown()
