"""One live run: a source, its pipeline, the GUI bridge, and an optional session recording.

Opening a camera, loading the landmark model and building model workers can take seconds, so
:meth:`LiveRun.start` does them on a short-lived "pipeline-start" thread and reports back with a
queued Qt signal; the window stays responsive. The starter thread touches no widget.
"""
from __future__ import annotations

import datetime as _dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engines.bundle import Bundle, BundleError
from gui.bridge import ResultBridge
from realtime.pipeline.core import Pipeline
from realtime.pipeline.runner import SAMPLE_CLIP, build_pipeline
from realtime.sessions.run import open_session_writer
from realtime.sessions.run import stats_summary
from realtime.sessions.folder import SessionError, SessionWriter
from realtime.capture.sources import (
    CameraSource,
    FrameSource,
    LoopingVideoSource,
    SourceError,
    list_cameras,
)

log = logging.getLogger(__name__)

#: (source, bundle, expression model, backend, landmark model file) -> a pipeline not yet started.
PipelineFactory = Callable[[FrameSource, Bundle, str, str, "str | None"], Pipeline]


def default_pipeline_factory(source: FrameSource, bundle: Bundle, expression_model: str, backend: str,
                             landmark_model: str | None) -> Pipeline:
    """The bundle's model workers on a paced pipeline (``realtime.pipeline.runner.build_pipeline``)."""
    return build_pipeline(source, bundle, expression_model, backend, paced=True, landmark_model=landmark_model)


@dataclass(frozen=True)
class SourceSpec:
    """What to run live: a camera by index, or a video file played at its frame rate."""
    kind: str  # "camera" | "video"
    value: int | str

    @classmethod
    def camera(cls, index: int) -> SourceSpec:
        return cls("camera", int(index))

    @classmethod
    def video(cls, path: str | Path) -> SourceSpec:
        return cls("video", str(path))

    @property
    def is_demo(self) -> bool:
        return self.kind == "video" and Path(self.value).resolve() == SAMPLE_CLIP.resolve()

    @property
    def label(self) -> str:
        if self.kind == "camera":
            return f"Camera {self.value}"
        return "Sample clip (demo)" if self.is_demo else Path(self.value).name

    def open(self, loop: bool = False) -> FrameSource:
        """Open the source (raises SourceError with a message for the user). A video plays at its
        frame rate; with ``loop`` it starts over at its end, as one source (no rebuild)."""
        if self.kind == "camera":
            return CameraSource(int(self.value))
        return LoopingVideoSource(self.value, live=True, looping=loop)


def new_session_dir(parent: str | Path, now: _dt.datetime | None = None) -> Path:
    """A fresh folder name under ``parent``: session-YYYYmmdd-HHMMSS (suffixed if taken)."""
    now = now or _dt.datetime.now()
    base = Path(parent) / f"session-{now:%Y%m%d-%H%M%S}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


class CameraProbe:
    """Lists the cameras that open on a background thread; ``result`` is read on the GUI thread."""

    def __init__(self):
        self.result: list[int] | None = None
        self._thread = threading.Thread(target=self._run, name="camera-probe", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = list_cameras()
        except Exception:
            log.exception("camera probe failed")
            self.result = []

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float = 10.0) -> None:
        self._thread.join(timeout)


class LiveRun(QObject):
    """Owns one pipeline for its whole life. Signals arrive on the GUI thread:
    ``started(run)`` once the pipeline runs, ``failed(run, message)`` if it could not start."""

    started = Signal(object)
    failed = Signal(object, str)

    def __init__(self, spec: SourceSpec, bundle: Bundle, expression_model: str, backend: str = "auto",
                 landmark_model: str | None = None, factory: PipelineFactory | None = None,
                 record_to: str | Path | None = None, record_video: bool = True, loop: bool = False,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.spec, self.bundle, self.expression_model = spec, bundle, expression_model
        self.backend, self.landmark_model = backend, landmark_model
        self.factory = factory or default_pipeline_factory
        self.bridge = ResultBridge()
        self.pipeline: Pipeline | None = None
        self.writer: SessionWriter | None = None
        self.record_path: Path | None = None
        self.error: str | None = None
        self._record_to = Path(record_to) if record_to else None
        self._record_video = record_video
        self._loop = loop
        self._cancel = threading.Event()
        self._starter: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    # -- start (starter thread) -----------------------------------------------------------------
    def start(self) -> None:
        if self._starter is not None:
            raise RuntimeError("this run was already started")
        self._starter = threading.Thread(target=self._build, name="pipeline-start", daemon=True)
        self._starter.start()

    def _build(self) -> None:
        pipeline = None
        try:
            source = self.spec.open(loop=self._loop and self._record_to is None)
            try:
                pipeline = self.factory(source, self.bundle, self.expression_model, self.backend, self.landmark_model)
            except BaseException:
                source.close()
                raise
            pipeline.subscribe(self.bridge)
            if self._record_to is not None:
                self._open_writer(pipeline, self._record_to)
            with self._lock:
                if self._cancel.is_set():
                    pipeline.shutdown()
                    return
                pipeline.start()
                self.pipeline = pipeline
        except (SourceError, BundleError, SessionError) as exc:
            self._fail(pipeline, f"{self.spec.label}: {exc}")
            return
        except Exception as exc:
            log.exception("could not start %s", self.spec.label)
            self._fail(pipeline, f"{self.spec.label}: could not start ({type(exc).__name__}: {exc})")
            return
        self.started.emit(self)

    def _fail(self, pipeline: Pipeline | None, message: str) -> None:
        self.error = message
        if self.writer is not None:
            self.writer.finish({"stopped": "failed to start"})
            self.writer = None
        if pipeline is not None:
            pipeline.shutdown()
        if not self._cancel.is_set():
            self.failed.emit(self, message)

    # -- state ----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.pipeline is not None and not self._closed

    @property
    def starting(self) -> bool:
        return self._starter is not None and self._starter.is_alive()

    @property
    def recording(self) -> bool:
        return self.writer is not None

    # -- recording (GUI thread) -----------------------------------------------------------------
    def _open_writer(self, pipeline: Pipeline, folder: Path) -> None:
        self.writer = open_session_writer(pipeline, self.bundle, folder, self.expression_model, self._record_video,
                                          settings={"command": "gui", "backend": self.backend,
                                                    "source": self.spec.label})
        self.record_path = folder

    def start_recording(self, folder: str | Path, record_video: bool = True) -> Path:
        """Record from now on into ``folder`` (new or empty); raises SessionError otherwise."""
        if self.pipeline is None:
            raise RuntimeError("the pipeline is not running")
        if self.writer is not None:
            raise RuntimeError(f"already recording to {self.record_path}")
        self._record_video = record_video
        self._open_writer(self.pipeline, Path(folder))
        self._apply_looping()
        return Path(folder)

    def set_looping(self, on: bool) -> None:
        """Loop a video source at its end (never while recording: a session is one pass)."""
        self._loop = on
        self._apply_looping()

    def _apply_looping(self) -> None:
        source = self.pipeline.source if self.pipeline is not None else None
        if isinstance(source, LoopingVideoSource):
            source.looping = self._loop and not self.recording

    def stop_recording(self, why: str = "stopped by the user") -> tuple[Path, int] | None:
        """Finish the session folder; returns (folder, rows written) or None if not recording."""
        writer, self.writer = self.writer, None
        if writer is None:
            return None
        if self.pipeline is not None:
            self.pipeline.unsubscribe(writer)
        done = {"stopped": why}
        if self.pipeline is not None:  # the same summary and faults as every other front end writes
            done.update(stats=stats_summary(self.pipeline.stats()), faults=self.pipeline.faults())
        writer.finish(done)
        self._apply_looping()
        return self.record_path, writer.rows

    def add_marker(self, label: str) -> float | None:
        """Write a marker at the session time of the newest result; None when not recording."""
        if self.writer is None:
            return None
        latest = self.bridge.latest()
        t_s = 0.0 if latest is None else self.writer.t_s(latest)  # the plots' clock too
        self.writer.add_event(label, t_s)
        return t_s

    def set_expression_model(self, name: str) -> bool:
        """Switch the genuine/fake classifier of running workers; False if no worker can."""
        self.expression_model = name
        if self.pipeline is None:
            return False
        return self.pipeline.set_expression_model(name)

    # -- stop -----------------------------------------------------------------------------------
    def shutdown(self, why: str = "stopped by the user", timeout: float = 5.0) -> bool:
        """Finish a recording, stop every pipeline thread (also a start still in progress);
        True if no thread of this run is left alive."""
        self._cancel.set()
        ok = True
        if self._starter is not None:
            self._starter.join(timeout * 4)
            ok = not self._starter.is_alive()
        with self._lock:
            self._closed = True
            self.stop_recording(why)
            if self.pipeline is not None:
                ok &= self.pipeline.shutdown(timeout)
        return ok
