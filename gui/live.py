"""One live run in the window: a :class:`~realtime.sessions.live.LiveSession` (source, pipeline,
optional recording), the GUI bridge that carries its results, and Qt signals for its start.

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
from realtime.sessions.folder import SessionError
from realtime.sessions.live import LiveSession
from realtime.sessions.run import ModelSelection
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
    """The window's handle on one :class:`~realtime.sessions.live.LiveSession`: it starts the
    session on a "pipeline-start" thread and turns the outcome into signals that arrive on the GUI
    thread: ``started(run)`` once it runs, ``failed(run, message)`` if it could not start. Results
    reach the window through :attr:`bridge`; everything else it reads from :attr:`session`'s typed
    snapshots."""

    started = Signal(object)
    failed = Signal(object, str)

    def __init__(self, spec: SourceSpec, bundle: Bundle, expression_model: str, backend: str = "auto",
                 landmark_model: str | None = None, factory: PipelineFactory | None = None,
                 record_to: str | Path | None = None, record_video: bool = True, loop: bool = False,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.spec, self.bundle, self.expression_model, self.backend = spec, bundle, expression_model, backend
        make = factory or default_pipeline_factory
        self.bridge = ResultBridge()
        self.session = LiveSession(
            lambda: spec.open(loop=loop and record_to is None),
            ModelSelection(bundle, expression_model, backend, landmark_model),
            pipeline_factory=lambda source: make(source, bundle, expression_model, backend, landmark_model),
            subscribers=(self.bridge,),
            settings={"command": "gui", "backend": backend, "source": spec.label})
        self.error: str | None = None
        self._record_to = Path(record_to) if record_to else None
        self._record_video = record_video
        self._loop = loop
        self._starter: threading.Thread | None = None

    # -- start (starter thread) -----------------------------------------------------------------
    def start(self) -> None:
        if self._starter is not None:
            raise RuntimeError("this run was already started")
        self._starter = threading.Thread(target=self._build, name="pipeline-start", daemon=True)
        self._starter.start()

    def _build(self) -> None:
        try:
            if not self.session.start(self._record_to, self._record_video, loop=self._loop):
                return  # stopped while starting: nobody waits for a signal
        except (SourceError, BundleError, SessionError) as exc:
            self._fail(f"{self.spec.label}: {exc}")
            return
        except Exception as exc:
            log.exception("could not start %s", self.spec.label)
            self._fail(f"{self.spec.label}: could not start ({type(exc).__name__}: {exc})")
            return
        self.started.emit(self)

    def _fail(self, message: str) -> None:
        self.error = message
        if not self.session.cancelled:  # a stop while starting wants no message
            self.failed.emit(self, message)

    # -- state ----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.session.running

    @property
    def starting(self) -> bool:
        return self._starter is not None and self._starter.is_alive()

    @property
    def recording(self) -> bool:
        return self.session.recording() is not None

    @property
    def record_path(self) -> Path | None:
        rec = self.session.recording()
        return rec.path if rec is not None else None

    # -- recording (GUI thread) -----------------------------------------------------------------
    def start_recording(self, folder: str | Path, record_video: bool = True) -> Path:
        """Record from now on into ``folder`` (new or empty); raises SessionError otherwise."""
        return self.session.start_recording(folder, record_video)

    def set_looping(self, on: bool) -> None:
        """Loop a video source at its end (never while recording: a session is one pass)."""
        self._loop = on
        self.session.set_looping(on)

    def stop_recording(self, why: str = "stopped by the user") -> tuple[Path, int] | None:
        """Finish the session folder; returns (folder, rows written) or None if not recording."""
        return self.session.stop_recording(why)

    def add_marker(self, label: str) -> float | None:
        """Write a marker at the session time of the newest result (the plots' clock too); None
        when not recording."""
        return self.session.add_marker(label, self.bridge.latest())

    def set_expression_model(self, name: str) -> bool:
        """Switch the genuine/fake classifier of running workers; False if no worker can."""
        self.expression_model = name
        return self.session.set_expression_model(name)

    # -- stop -----------------------------------------------------------------------------------
    def shutdown(self, why: str = "stopped by the user", timeout: float = 5.0) -> bool:
        """Finish a recording, stop every pipeline thread (also a start still in progress);
        True if no thread of this run is left alive."""
        ok = self.session.shutdown(why, timeout)
        if self._starter is not None:
            self._starter.join(timeout)
            ok &= not self._starter.is_alive()
        return ok
