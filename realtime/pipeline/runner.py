"""Build and run a pipeline from a source and a bundle: the shared core of analyze, live and demo."""
from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from engines.bundle import Bundle
from realtime.perception.face_tracker import FaceTracker
from realtime.perception.landmarks import LandmarkReader
from realtime.perception.tracker_process import TrackerProcess, tracker_for_real_time
from realtime.workers.registry import build_workers
from realtime.pipeline.core import Pipeline, PipelineSettings
from realtime.capture.sources import FrameSource
from realtime.types import AffectResult, Frame

log = logging.getLogger(__name__)

SAMPLE_CLIP = Path(__file__).resolve().parents[1] / "data" / "sample.mp4"


def make_tracker(bundle: Bundle, landmark_model: str | None = None,
                 real_time: bool = False) -> FaceTracker | TrackerProcess:
    """The bundle's face tracker; for a run in real time in its own process where the system has
    them (:mod:`realtime.perception.tracker_process`: the window and perception then do not wait
    for each other's interpreter lock), else on the perception thread."""
    if real_time:
        return tracker_for_real_time(landmark_model, bundle.landmark_normalization, bundle.crop_size)
    return FaceTracker(LandmarkReader(landmark_model), normalization=bundle.landmark_normalization,
                       crop_size=bundle.crop_size)


def preload(landmark_model: str | None = None) -> None:
    """Load, once per process, what a pipeline's start would otherwise load on its own threads:
    torch, ONNX Runtime and XGBoost, and where the face tracker cannot have a process of its own,
    dlib's HOG detector and the landmark model. Each holds the interpreter lock for long stretches
    while it loads (1-2 s for torch, 0.7 s for the landmark model), so a window would freeze for
    seconds at its first Start; the app calls this before its window appears. A part that fails to
    load is left for the run to report. The genuine/fake recognizer's process is started ahead too
    (:func:`realtime.workers.recognizer_process.keep_spare`)."""
    from realtime.concurrency.helper_process import AVAILABLE
    from realtime.workers.recognizer_process import keep_spare

    keep_spare()  # first: its own imports run beside the ones below
    import engines.online_pb
    import engines.sta
    import xgboost
    from realtime.perception.face_tracker import hog_detector
    from realtime.perception.landmarks import LandmarkModelError

    loaded = [engines.online_pb, engines.sta, xgboost]  # torch with the first
    try:
        import onnxruntime  # the CPU backend 'auto' picks when it is installed

        loaded.append(onnxruntime)
    except ImportError:
        pass
    log.debug("preloaded %s", ", ".join(m.__name__ for m in loaded))
    if AVAILABLE:  # the tracker of a run in real time reads its models in its own process
        return
    hog_detector()
    try:
        LandmarkReader(landmark_model)
    except LandmarkModelError:
        pass


def build_pipeline(source: FrameSource, bundle: Bundle, expression_model: str = "pooled",
                   backend: str = "auto", paced: bool | None = None,
                   landmark_model: str | None = None) -> Pipeline:
    workers = build_workers(bundle, expression_model, backend)
    real_time = paced if paced is not None else source.live
    tracker = make_tracker(bundle, landmark_model, real_time)
    try:
        return Pipeline(source, tracker, workers, PipelineSettings(paced=paced, expression_model=expression_model))
    except BaseException:
        getattr(tracker, "close", lambda: None)()  # its own process, if it has one, is not left behind
        raise


@dataclass
class LatestResult:
    """A subscriber that keeps the newest result (for printers and status lines)."""
    result: AffectResult | None = None
    frames: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, result: AffectResult, frame: Frame) -> None:
        with self.lock:
            self.result = result
            self.frames += 1


def status_line(pipeline: Pipeline, latest: LatestResult) -> str:
    s = pipeline.stats()
    r = latest.result
    val = "   —  " if r is None or r.valence is None else f"{r.valence:+.3f}"
    pf = "  —  " if r is None or r.p_fake is None else f"{r.p_fake:.3f}"
    face = "yes" if r is not None and r.face else "no "
    t = f"{r.media_s:7.2f}s" if r is not None else "   0.00s"
    return (f"t={t} in {s.capture_fps:5.1f} fps  out {s.processing_fps:5.1f} fps  "
            f"dropped {s.dropped:4d}  face {face}  valence {val}  P(fake) {pf}  "
            f"latency p95 {s.latency_ms['p95']:6.1f} ms")


def run_until_done(pipeline: Pipeline, seconds: float | None = None, every_s: float = 1.0,
                   tick: Callable[[], None] | None = None) -> str:
    """Run until the source ends, ``seconds`` pass, or Ctrl-C / SIGTERM / SIGHUP; returns why it stopped."""
    stop = threading.Event()
    reason = {"why": "end of source"}

    def on_signal(signum, _frame):
        reason["why"] = "interrupted"
        stop.set()

    old = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                old[sig] = signal.signal(sig, on_signal)
    try:
        pipeline.start()  # returns once the models are loaded; the S seconds count from here
        t_end = time.monotonic() + seconds if seconds else None
        while not stop.is_set():
            if pipeline.wait(timeout=every_s):
                break
            if tick is not None:
                tick()
            if t_end is not None and time.monotonic() >= t_end:
                reason["why"] = f"{seconds:g} s elapsed"
                break
    finally:
        pipeline.shutdown()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if pipeline.capture.stats.error:
        reason["why"] = f"source failed: {pipeline.capture.stats.error}"
    return reason["why"]


def print_line(text: str) -> None:
    print(text, flush=True)
