"""A live run without a window: :class:`LiveSession` owns a source's pipeline, its optional session
recording and its outlets (LSL or any other subscriber), and shuts them down in one order.

Front ends (the window, a script) read it only through typed snapshots: :attr:`LiveSession.state`,
:meth:`~LiveSession.stats` (:class:`~realtime.pipeline.health.PipelineStats`),
:meth:`~LiveSession.faults` (:class:`~realtime.pipeline.health.Fault`),
:meth:`~LiveSession.models` (:class:`~realtime.pipeline.health.ModelStatus`) and
:meth:`~LiveSession.recording` (:class:`RecordingStatus`). Results reach them through
:meth:`~LiveSession.subscribe`, on the pipeline's perception thread; a window turns that into its
own signals. Nothing here knows about Qt.

Order of a shutdown: a start still in progress is cancelled; the recording is finished (the same
stats summary and faults as every other front end writes); the outlets are closed; the pipeline's
threads stop, capture first.
"""
from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from realtime.capture.sources import FrameSource, LoopingVideoSource, SourceInfo
from realtime.pipeline.core import Pipeline, Subscriber
from realtime.pipeline.health import Fault, FaultKind, ModelStatus, PipelineStats
from realtime.sessions.folder import SessionWriter
from realtime.sessions.run import ModelSelection, open_session_writer
from realtime.types import AffectResult

log = logging.getLogger(__name__)

#: Attaches an outlet to a started-to-be pipeline (and the recording, if any); returns its closer.
OutletFactory = Callable[[Pipeline, "SessionWriter | None"], "Callable[[], None] | None"]


class LiveState(str, enum.Enum):
    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    ENDED = "ended"  # a finite source was read to its end
    STOPPED = "stopped"
    FAILED = "failed"  # could not start


@dataclass(frozen=True)
class RecordingStatus:
    """The session being recorded: where, rows so far, and what the writer has to say (a failed
    write — the recording is over — or that it is falling behind)."""

    path: Path
    rows: int
    failure: str | None
    behind: str | None


class LiveSession:
    """One live source through the models, with an optional recording and outlets.

    ``open_source`` opens the source (it may raise :class:`~realtime.capture.sources.SourceError`);
    ``pipeline_factory`` builds the pipeline (default: ``models.pipeline(source, paced=True)``);
    ``subscribers`` get every result from the first frame on; ``outlets`` attach to the pipeline and
    the recording before it starts and are closed at shutdown; ``settings`` go into session.json.
    :meth:`start` blocks while the source opens and the models load: call it off a GUI thread.
    """

    def __init__(self, open_source: Callable[[], FrameSource], models: ModelSelection, *,
                 pipeline_factory: Callable[[FrameSource], Pipeline] | None = None,
                 subscribers: tuple[Subscriber, ...] = (), outlets: tuple[OutletFactory, ...] = (),
                 settings: dict | None = None):
        self.models_selected = models
        self._open_source = open_source
        self._factory = pipeline_factory or (lambda source: models.pipeline(source, paced=True))
        self._subscribers = subscribers
        self._outlets = outlets
        self._settings = dict(settings or {})
        self._pipeline: Pipeline | None = None
        self._writer: SessionWriter | None = None
        self._record_path: Path | None = None
        self._closers: list[Callable[[], None]] = []
        self._state = LiveState.NEW
        self._looping = False
        self._cancel = threading.Event()
        self._start_lock = threading.Lock()  # held while starting; shutdown waits for it
        self._lock = threading.RLock()  # controls and shutdown, held briefly

    # -- start ------------------------------------------------------------------------------------
    def start(self, record_to: str | Path | None = None, record_video: bool = True, loop: bool = False) -> bool:
        """Open the source, build the pipeline, attach the outlets, open the recording (if
        ``record_to``) and start. Returns False if :meth:`shutdown` cancelled it meanwhile.
        Raises SourceError, BundleError or SessionError (everything opened so far is closed)."""
        with self._start_lock:
            if self._state is not LiveState.NEW:
                raise RuntimeError("this live session was already started")
            if self._cancel.is_set():
                self._state = LiveState.STOPPED
                return False
            self._state = LiveState.STARTING
            pipeline = None
            try:
                source = self._open_source()
                try:
                    pipeline = self._factory(source)
                except BaseException:
                    source.close()
                    raise
                for fn in self._subscribers:
                    pipeline.subscribe(fn)
                if record_to is not None:
                    self._open_writer(pipeline, Path(record_to), record_video)
                for attach in self._outlets:
                    close = attach(pipeline, self._writer)
                    if close is not None:
                        self._closers.append(close)
                if self._cancel.is_set():
                    self._teardown(pipeline, "cancelled before start")
                    self._state = LiveState.STOPPED
                    return False
                pipeline.start()  # returns once the models are loaded
            except BaseException:
                self._teardown(pipeline, "failed to start")
                self._state = LiveState.FAILED
                raise
            with self._lock:
                self._pipeline = pipeline
                self._looping = loop
                self._apply_looping()
                self._state = LiveState.RUNNING
            return True

    # -- typed state (any thread) -------------------------------------------------------------------
    @property
    def state(self) -> LiveState:
        pipeline = self._pipeline  # never waits on a start in progress: a window reads this every tick
        if self._state is LiveState.RUNNING and pipeline is not None and pipeline.finished:
            return LiveState.ENDED
        return self._state

    @property
    def running(self) -> bool:
        return self.state in (LiveState.RUNNING, LiveState.ENDED)

    @property
    def source_info(self) -> SourceInfo | None:
        return self._pipeline.source.info if self._pipeline is not None else None

    def stats(self) -> PipelineStats | None:
        return self._pipeline.stats() if self._pipeline is not None else None

    def faults(self) -> list[Fault]:
        """The pipeline's faults and a failed recording, now."""
        out = list(self._pipeline.faults()) if self._pipeline is not None else []
        writer = self._writer
        if writer is not None and writer.failure:
            out.append(Fault("recording", FaultKind.RECORDING_FAILED, writer.failure))
        return out

    def source_fault(self) -> Fault | None:
        """Why the source stopped giving frames, if it failed (None at a clean end)."""
        return next((f for f in self.faults() if f.kind is FaultKind.SOURCE_FAILED), None)

    def models(self) -> list[ModelStatus]:
        return self._pipeline.models() if self._pipeline is not None else []

    def recording(self) -> RecordingStatus | None:
        writer = self._writer
        if writer is None:
            return None
        return RecordingStatus(self._record_path, writer.rows, writer.failure, writer.behind)

    # -- results ------------------------------------------------------------------------------------
    def subscribe(self, fn: Subscriber) -> None:
        """``fn(result, frame)`` for every result, on the perception thread (keep it short)."""
        if self._pipeline is None:
            raise RuntimeError("the live session is not running")
        self._pipeline.subscribe(fn)

    # -- control ------------------------------------------------------------------------------------
    def start_recording(self, folder: str | Path, record_video: bool = True) -> Path:
        """Record from now on into ``folder`` (new or empty); raises SessionError otherwise."""
        with self._lock:
            if self._pipeline is None:
                raise RuntimeError("the live session is not running")
            if self._writer is not None:
                raise RuntimeError(f"already recording to {self._record_path}")
            self._open_writer(self._pipeline, Path(folder), record_video)
            self._apply_looping()
            return Path(folder)

    def stop_recording(self, why: str = "stopped by the user") -> tuple[Path, int] | None:
        """Finish the session folder; returns (folder, rows written) or None if not recording."""
        with self._lock:
            writer, self._writer = self._writer, None
            if writer is None:
                return None
            done: dict = {"stopped": why}
            if self._pipeline is not None:
                self._pipeline.unsubscribe(writer)
                done.update(stats=self._pipeline.stats().summary(), faults=[str(f) for f in self._pipeline.faults()])
            writer.finish(done)
            self._apply_looping()
            return self._record_path, writer.rows

    def add_marker(self, label: str, at: AffectResult | None) -> float | None:
        """A marker at the session time of ``at`` (the newest result shown; None: the start).
        Returns that time, or None when not recording."""
        writer = self._writer
        if writer is None:
            return None
        t_s = 0.0 if at is None else writer.t_s(at)
        writer.add_event(label, t_s)
        return t_s

    def add_event(self, label: str, t_s: float) -> bool:
        """A marker at session time ``t_s`` (a video's own event, at its time in the video); False
        when not recording."""
        writer = self._writer
        if writer is None:
            return False
        writer.add_event(label, t_s)
        return True

    def set_expression_model(self, name: str) -> bool:
        """Switch the genuine/fake classifier of the running workers; False if no worker can."""
        return self._pipeline is not None and self._pipeline.set_expression_model(name)

    def set_looping(self, on: bool) -> None:
        """Loop a video source at its end without a rebuild (never while recording: a session is one pass)."""
        with self._lock:
            self._looping = on
            self._apply_looping()

    # -- stop ---------------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask a start in progress to give up before the pipeline runs."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` or :meth:`shutdown` was called."""
        return self._cancel.is_set()

    def shutdown(self, why: str = "stopped by the user", timeout: float = 5.0) -> bool:
        """Recording finished, outlets closed, pipeline threads stopped (capture first). True if
        no thread of the pipeline is left alive."""
        self._cancel.set()
        if not self._start_lock.acquire(timeout=max(timeout * 4, 1.0)):  # a start still loading models
            log.warning("the live session is still starting after %.0f s; it will stop once started", timeout * 4)
            return False
        try:
            with self._lock:
                self.stop_recording(why)
                pipeline, self._pipeline = self._pipeline, None
                ok = self._teardown(pipeline, why, timeout)
                if self._state in (LiveState.RUNNING, LiveState.STARTING):
                    self._state = LiveState.STOPPED
                return ok
        finally:
            self._start_lock.release()

    # -- internals ----------------------------------------------------------------------------------
    def _open_writer(self, pipeline: Pipeline, folder: Path, record_video: bool) -> None:
        self._writer = open_session_writer(pipeline, self.models_selected.bundle, folder,
                                           self.models_selected.expression, record_video, settings=self._settings)
        self._record_path = folder

    def _apply_looping(self) -> None:
        source = self._pipeline.source if self._pipeline is not None else None
        if isinstance(source, LoopingVideoSource):
            source.looping = self._looping and self._writer is None

    def _teardown(self, pipeline: Pipeline | None, why: str, timeout: float = 5.0) -> bool:
        if self._writer is not None:  # a start that failed after the recording opened
            writer, self._writer = self._writer, None
            writer.finish({"stopped": why})
        closers, self._closers = self._closers, []
        for close in closers:
            try:
                close()
            except Exception:  # noqa: BLE001 - one outlet failing to close must not keep the rest open
                log.exception("closing an outlet failed")
        return pipeline.shutdown(timeout) if pipeline is not None else True
