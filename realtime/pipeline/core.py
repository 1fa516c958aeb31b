"""The threaded pipeline: capture -> perception -> model workers -> result bus.

::

    CaptureThread ──Frame──▶ PerceptionThread ──FaceObservation──▶ ring buffers ──▶ ModelWorkers
         (queue: latest-frame for live           │                                      │
          sources, bounded for files)            └──AffectResult (+ latest model outputs)┘
                                                                  │
                                                             ResultBus ──▶ session writer, LSL,
                                                                           GUI bridge, CLI printer

In a run in real time the perception thread hands each frame to the face tracker's own process
(:mod:`realtime.perception.tracker_process`) and waits for the observation; offline it runs the
tracker itself. Either way the observations are the same.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable

from realtime.concurrency.helper_process import HelperProcessError
from realtime.perception.face_tracker import FaceTracker
from realtime.perception.ring_buffer import PerceptionBuffers
from realtime.capture.sources import FrameSource, SourceError
from realtime.concurrency.stats import LatencyWindow, WorkerState
from realtime.concurrency.threads import StoppableThread
from realtime.pipeline.health import Fault, FaultKind, ModelStatus, PipelineStats
from realtime.types import AffectResult, FaceObservation, Frame, TrackState
from realtime.workers.base import ModelWorker

log = logging.getLogger(__name__)

_END = object()  # end-of-stream sentinel on the frame queue

Subscriber = Callable[[AffectResult, Frame], None]


class CaptureThread(StoppableThread):
    """Reads the source and never blocks on consumers when the source is live."""

    def __init__(self, source: FrameSource, out: queue.Queue, paced: bool):
        super().__init__("capture")
        self.source, self.out, self.paced = source, out, paced
        self.ended = threading.Event()

    def loop(self) -> None:
        info = self.source.info
        t0 = time.monotonic_ns()
        index = 0
        try:
            while not self.stopping:
                image = self.source.read()
                if image is None:
                    break
                media_s = None if info.kind == "camera" else self.source.media_time(index)
                if self.paced and media_s is not None:  # played at the source's own times
                    delay = (t0 + media_s * 1e9 - time.monotonic_ns()) / 1e9
                    if delay > 0 and self._stop.wait(delay):
                        break
                t_ns = time.monotonic_ns()
                if media_s is None:
                    media_s = (t_ns - t0) / 1e9
                frame = Frame(index, t_ns, image, info, media_s)
                index += 1
                self.stats.processed += 1
                self.stats.rate.tick(t_ns)
                self._deliver(frame)
        except SourceError as exc:
            self.stats.state = WorkerState.FAULTED
            self.stats.error = str(exc)
            log.error("capture: %s", exc)
        finally:
            self.ended.set()
            self._put_end()

    def _deliver(self, frame: Frame) -> None:
        if self.source.live:
            while True:
                try:
                    self.out.put_nowait(frame)
                    return
                except queue.Full:
                    try:
                        self.out.get_nowait()
                        self.stats.dropped += 1
                    except queue.Empty:
                        pass
        while not self.stopping:
            try:
                self.out.put(frame, timeout=0.1)
                return
            except queue.Full:
                continue

    def _put_end(self) -> None:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                self.out.put(_END, timeout=0.1)
                return
            except queue.Full:
                if self.source.live or self.stopping:
                    try:
                        self.out.get_nowait()
                    except queue.Empty:
                        pass

    def teardown(self) -> None:
        self.source.close()  # the thread that owns the device releases it


class ResultBus:
    """Delivers every result to its subscribers on the publishing thread; one failing subscriber
    is logged and counted, the others still get the result. Slow subscribers own a queue."""

    def __init__(self):
        self._subs: list[Subscriber] = []
        self._lock = threading.Lock()
        self.errors = 0

    def subscribe(self, fn: Subscriber) -> None:
        with self._lock:
            self._subs = [*self._subs, fn]

    def unsubscribe(self, fn: Subscriber) -> None:
        with self._lock:
            self._subs = [s for s in self._subs if s is not fn]

    def publish(self, result: AffectResult, frame: Frame) -> None:
        for fn in self._subs:
            try:
                fn(result, frame)
            except Exception:  # noqa: BLE001
                self.errors += 1
                log.exception("result subscriber %r failed", fn)


class PerceptionThread(StoppableThread):
    def __init__(self, inbox: queue.Queue, tracker: FaceTracker, buffers: PerceptionBuffers,
                 workers: list[ModelWorker], bus: ResultBus, expression_model: str | None):
        super().__init__("perception")
        self.inbox, self.tracker, self.buffers = inbox, tracker, buffers
        self.workers, self.bus = workers, bus
        self.expression_model = expression_model
        self.ended = threading.Event()
        self.track_ms = LatencyWindow()
        self.result_latency = LatencyWindow()
        self._seen_seq = {w.name: 0 for w in workers}
        self._had_face = False
        self.faces = 0

    def loop(self) -> None:
        try:
            while not self.stopping:
                try:
                    item = self.inbox.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is _END:
                    for w in self.workers:
                        w.drain()
                    break
                self._handle(item)
        finally:
            self.ended.set()

    def teardown(self) -> None:
        self.close_tracker()

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Stop and join. A tracker process that keeps the thread past ``timeout`` (a frame that
        does not come back) is ended, which ends the thread's wait; the tracker of a thread that
        never ran is closed here (its teardown never comes)."""
        self.stop()
        if not self.join(timeout):
            kill = getattr(self.tracker, "kill", None)
            if kill is not None:
                kill()
            if not self.join(2.0):
                log.error("%s did not stop within %.1f s", self.name, timeout)
                return False
        if not self.ever_started:
            self.close_tracker()
        return True

    def close_tracker(self) -> None:
        """End the tracker's own process, if it has one."""
        close = getattr(self.tracker, "close", None)
        if close is not None:
            close()

    def _handle(self, frame: Frame) -> None:
        t_start = time.monotonic_ns()
        self.stats.wait.add((t_start - frame.t_ns) / 1e6)
        try:
            obs = self.tracker.process(frame.image, frame.index, frame.t_ns, clock_ns=round(frame.media_s * 1e9))
        except HelperProcessError:  # the perception process is gone: no later frame can be read either
            raise
        except Exception as exc:  # noqa: BLE001 - one bad frame is logged and counted
            self.stats.failed += 1
            self.stats.error = f"frame {frame.index}: {type(exc).__name__}: {exc}"
            log.warning("perception: %s", self.stats.error)
            obs = FaceObservation(frame.index, frame.t_ns, TrackState.LOST)
        self.track_ms.add((time.monotonic_ns() - t_start) / 1e6)
        if obs.face:
            self.faces += 1
            self.buffers.push(obs.frame_index, obs.t_ns, obs.crop, obs.vector80, obs.good)
            for w in self.workers:
                w.offer(obs)
        elif self._had_face:
            self.buffers.clear()
            for w in self.workers:
                w.reset()
        self._had_face = obs.face
        self._publish(frame, obs)
        self.stats.processed += 1
        self.stats.rate.tick()

    def _publish(self, frame: Frame, obs: FaceObservation) -> None:
        fields: dict = {}
        updated: set[str] = set()
        for w in self.workers:
            seq, out = w.output()
            if seq != self._seen_seq[w.name]:
                self._seen_seq[w.name] = seq
                updated.update(out)
            fields.update(out)
        latency = (time.monotonic_ns() - frame.t_ns) / 1e6
        self.result_latency.add(latency)
        self.stats.latency.add(latency)
        result = AffectResult(
            frame_index=frame.index,
            t_ns=frame.t_ns,
            face=obs.face,
            media_s=frame.media_s,
            box=obs.box,
            landmarks68=obs.landmarks68,
            valence=fields.get("valence") if obs.face else None,
            valence_updated=obs.face and "valence" in updated and fields.get("valence") is not None,
            p_fake=fields.get("p_fake") if obs.face else None,
            pb=fields.get("pb") if obs.face else None,
            expression_model=self.expression_model,
            latency_ms=latency,
            attention=fields.get("attention") if obs.face else None,
            pose=obs.pose,
            good=obs.face and obs.good,
            valence_quality=fields.get("valence_quality") if obs.face else None,
            p_fake_quality=fields.get("p_fake_quality") if obs.face else None,
        )
        self.bus.publish(result, frame)


@dataclass
class PipelineSettings:
    paced: bool | None = None  # None: paced for live sources, as fast as possible for files
    queue_size: int = 8  # frame queue for file sources (a live source keeps only the latest)
    buffer_capacity: int = 256  # ring buffers: enough for a 16-frame clip at 4 fps from 60 fps
    expression_model: str | None = None
    model_load_timeout_s: float = 120.0


class Pipeline:
    """Capture, perception and model workers on their own threads, results on a bus."""

    def __init__(self, source: FrameSource, tracker: FaceTracker, workers: list[ModelWorker] | None = None,
                 settings: PipelineSettings | None = None):
        self.source = source
        self.settings = settings or PipelineSettings()
        paced = self.settings.paced if self.settings.paced is not None else source.live
        self.bus = ResultBus()
        self.buffers = PerceptionBuffers(self.settings.buffer_capacity, tracker.crop_size)
        self.workers = list(workers or [])
        for w in self.workers:
            w.attach(self.buffers, lossless=not source.live, fps=source.info.fps)
        self._frames: queue.Queue = queue.Queue(maxsize=1 if source.live else self.settings.queue_size)
        self.capture = CaptureThread(source, self._frames, paced)
        self.perception = PerceptionThread(self._frames, tracker, self.buffers, self.workers, self.bus,
                                           self.settings.expression_model)
        self._started = False
        self._closed = False

    @property
    def threads(self) -> list[StoppableThread]:
        return [self.capture, self.perception, *self.workers]

    def subscribe(self, fn: Subscriber) -> None:
        self.bus.subscribe(fn)

    def unsubscribe(self, fn: Subscriber) -> None:
        self.bus.unsubscribe(fn)

    def set_expression_model(self, name: str) -> bool:
        """Switch the genuine/fake expression model of the running workers (pooled or one of the
        six); False if no worker has one. Results say the new name from the next frame on."""
        from engines.expressions import check_expression_model

        check_expression_model(name)
        switchable = [w for w in self.workers if hasattr(w, "set_expression_model")]
        for w in switchable:
            w.set_expression_model(name)
        if switchable:
            self.perception.expression_model = name
        return bool(switchable)

    def start(self) -> "Pipeline":
        if self._started:
            raise RuntimeError("pipeline already started")
        self._started = True
        for w in self.workers:
            w.start()
        # Models load before the first frame is read, so loading neither competes with perception
        # nor counts as dropped frames; a worker that fails to load is FAULTED and simply absent.
        for w in self.workers:
            if not w.wait_ready(self.settings.model_load_timeout_s):
                log.warning("%s: still loading after %.0f s; starting without waiting", w.name,
                            self.settings.model_load_timeout_s)
        self.perception.start()
        self.capture.start()
        return self

    @property
    def finished(self) -> bool:
        """True once a finite source has been read to its end and every frame was processed."""
        return self.perception.ended.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the source ends and every frame is processed (or ``timeout``)."""
        return self.perception.ended.wait(timeout)

    @property
    def state(self) -> WorkerState:
        states = [t.state for t in self.threads]
        if WorkerState.FAULTED in states:
            return WorkerState.FAULTED
        for s in (WorkerState.STARTING, WorkerState.STOPPING):
            if s in states:
                return s
        if any(s is WorkerState.RUNNING for s in states):
            return WorkerState.RUNNING
        return WorkerState.STOPPED

    def faults(self) -> list[Fault]:
        """What went wrong in this run, for ``session.json``, the exit code and the window: a
        source that failed or ended before its stated length, a thread that faulted (a model that
        did not load included), jobs of a thread that failed. Empty for a clean run."""
        out = []
        if getattr(self.source, "ended_early", False):
            n = self.source.info.frame_count
            out.append(Fault("source", FaultKind.SOURCE_TRUNCATED,
                             f"{self.source.info.uri} ended after {self.capture.stats.processed} of {n} frames "
                             f"(truncated or corrupt file)"))
        for t in self.threads:
            if t.stats.state is WorkerState.FAULTED:
                kind = FaultKind.SOURCE_FAILED if t is self.capture else FaultKind.THREAD_FAULTED
                out.append(Fault(t.name, kind, t.stats.error or "faulted"))
            elif t.stats.failed:
                out.append(Fault(t.name, FaultKind.JOBS_FAILED,
                                 f"{t.stats.failed} failed job(s), last: {t.stats.error}"))
        return out

    def models(self) -> list[ModelStatus]:
        """How each model worker stands (state, backend in use, jobs, last error)."""
        return [ModelStatus(w.name, tuple(w.provides), w.stats.state, w.backend_in_use, w.stats.error,
                            w.stats.processed, w.stats.skipped, w.stats.failed) for w in self.workers]

    def stats(self) -> PipelineStats:
        cap, per = self.capture.stats, self.perception.stats
        return PipelineStats(
            state=self.state,
            capture_fps=round(cap.rate.rate(), 2),
            processing_fps=round(per.rate.rate(), 2),
            frames_captured=cap.processed,
            frames_processed=per.processed,
            frames_with_face=self.perception.faces,
            dropped=cap.dropped,
            failed=per.failed,
            perception_ms=self.perception.track_ms.percentiles(),
            queue_wait_ms=per.wait.percentiles(),
            latency_ms=self.perception.result_latency.percentiles(),
            bus_errors=self.bus.errors,
            threads={t.name: t.stats.snapshot() for t in self.threads},
        )

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Stop every thread (capture first), join each; True if none is left alive."""
        if self._closed:
            return True
        self._closed = True
        if not self._started:
            self.source.close()
            self.perception.close_tracker()
            return True
        ok = self.capture.shutdown(timeout)
        ok &= self.perception.shutdown(timeout)
        for w in self.workers:
            ok &= w.shutdown(timeout)
        return ok

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
