"""Run a source through the models into a session folder: the one path of ``analyze``, ``live``,
``replay --reanalyze``, batch analysis and the soak run.

:class:`ModelSelection` is the model choice of a run (bundle, genuine/fake expression model, STA
backend, landmark model) as one value; :func:`run_to_session` builds the pipeline, opens the
session writer, runs until the source ends (or ``seconds`` pass, or a signal), and finishes the
session with the one stats summary every front end writes
(:meth:`~realtime.pipeline.health.PipelineStats.summary`) and the pipeline's faults. LSL outlets and other subscribers attach through ``on_start``.
A video's own events (``STEM_events.csv`` beside it, :mod:`realtime.capture.clip_events`) go into
the session as markers at their times in the video, the session's clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from engines.bundle import Bundle, load_bundle
from realtime.pipeline.core import Pipeline
from realtime.pipeline.health import PipelineStats
from realtime.pipeline.runner import build_pipeline, run_until_done
from realtime.sessions.folder import SessionError, SessionWriter
from realtime.capture.clip_events import ClipEvents
from realtime.capture.sources import FrameSource


def open_session_writer(pipeline: Pipeline, bundle: Bundle, out: str | Path, expression_model: str,
                        record_video: bool, settings: dict | None = None) -> SessionWriter:
    """A started session writer at ``out`` that every result of ``pipeline`` goes to."""
    writer = SessionWriter(out, pipeline.source.info,
                           bundle={"name": bundle.name, "sha256": bundle.sha256(), "path": str(bundle.root)},
                           expression_model=expression_model, settings=settings or {},
                           record_video=record_video)
    writer.start()
    pipeline.subscribe(writer)
    return writer


@dataclass(frozen=True)
class ModelSelection:
    """Which models a run uses: a loaded bundle, the genuine/fake expression model ('pooled' or
    one expression), the STA backend ('auto', 'eager', …) and the dlib landmark model file
    (None: the packaged one)."""

    bundle: Bundle
    expression: str = "pooled"
    backend: str = "auto"
    landmark_model: str | None = None

    @classmethod
    def load(cls, bundle_dir: str | Path | None = None, expression: str = "pooled", backend: str = "auto",
             landmark_model: str | None = None) -> "ModelSelection":
        """The bundle at ``bundle_dir`` (None: the shipped one), checked with everything else a run
        needs before its first frame: a backend named that cannot run here raises
        BackendUnavailable, a landmark model that is missing or not one raises LandmarkModelError
        (both would otherwise end a run begun with a fault), a bad bundle BundleError."""
        from engines.backends import BackendUnavailable, available_backends
        from realtime.perception.landmarks import LandmarkReader

        bundle = load_bundle(bundle_dir)
        if backend != "auto":
            avail = available_backends().get(backend)
            if avail is None or not avail.available:
                usable = [name for name, a in available_backends().items() if a.available]
                why = f": {avail.reason}" if avail else ""
                raise BackendUnavailable(f"backend '{backend}' is not available here{why}; "
                                         f"available: auto, {', '.join(usable)}")
        LandmarkReader(landmark_model)  # once per process: a tracker on the perception thread reuses it
        return cls(bundle, expression, backend, landmark_model)

    def pipeline(self, source: FrameSource, paced: bool | None) -> Pipeline:
        return build_pipeline(source, self.bundle, self.expression, self.backend, paced=paced,
                              landmark_model=self.landmark_model)


@dataclass
class SessionOutcome:
    """What a finished run left: the writer (rows, meta, failure), why it stopped, its faults (the
    writer's own included) and the pipeline's final stats."""

    writer: SessionWriter
    why: str
    faults: list[str]
    stats: PipelineStats = field(repr=False)
    pipeline: Pipeline = field(repr=False)


def run_to_session(source: FrameSource, models: ModelSelection, out: str | Path, *, paced: bool | None,
                   record_video: bool, settings: dict[str, Any], seconds: float | None = None,
                   tick: Callable[[], None] | None = None,
                   on_start: Callable[[Pipeline, SessionWriter], Callable[[], None] | None] | None = None,
                   before_finish: Callable[[SessionWriter], None] | None = None,
                   events: ClipEvents | None = None) -> SessionOutcome:
    """Run ``source`` through ``models`` into the new session folder ``out``.

    ``on_start(pipeline, writer)`` runs once both exist, before the pipeline starts (attach LSL or
    other subscribers there); it may return a closer, called when the run ends. ``before_finish``
    may add to the session (e.g. carried-over markers) before it is finished. ``events`` (the
    video's own) are written as the frames that reach them are published. Raises SessionError
    when ``out`` cannot be a session (the pipeline is shut down first).
    """
    pipeline = models.pipeline(source, paced)
    try:
        writer = open_session_writer(pipeline, models.bundle, out, models.expression, record_video, settings=settings)
    except SessionError:
        pipeline.shutdown()
        raise
    close = None
    if events is not None:
        record_events(pipeline, writer, events)
    try:
        close = on_start(pipeline, writer) if on_start is not None else None
    except BaseException:
        pipeline.shutdown()
        writer.finish({"stopped": "failed to start"})
        raise
    try:
        why = run_until_done(pipeline, seconds=seconds, tick=tick)
    finally:
        if close is not None:
            close()
    if before_finish is not None:
        before_finish(writer)
    stats = pipeline.stats()
    writer.finish({"stats": stats.summary(), "stopped": why, "faults": [str(f) for f in pipeline.faults()]})
    return SessionOutcome(writer, why, list(writer.meta["faults"]), stats, pipeline)


def record_events(pipeline: Pipeline, writer: SessionWriter, events: ClipEvents) -> None:
    """Write each of a video's events into the session when the pipeline publishes the first frame
    at or past it, at its own time in the video (a marker's time is the media time)."""

    def on_result(result, _frame) -> None:
        for t_s, label in events.due(result.media_s):
            writer.add_event(label, t_s)

    pipeline.subscribe(on_result)
