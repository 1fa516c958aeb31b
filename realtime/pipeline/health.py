"""What a running pipeline says about itself, as typed values: its stats (:class:`PipelineStats`),
what went wrong (:class:`Fault`) and how each model stands (:class:`ModelStatus`).

These are snapshots: frozen, safe to hand to another thread (a window, a printer, a session
writer) and never a view into the pipeline's internals. ``session.json`` keeps
:meth:`PipelineStats.summary` and the faults as one line each (``str(fault)``), whichever front
end recorded the session.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from realtime.concurrency.stats import WorkerState

# The stats a finished session keeps in session.json, whichever front end recorded it.
SUMMARY_KEYS = ("frames_captured", "frames_processed", "frames_with_face", "dropped", "failed",
                "perception_ms", "latency_ms")


class FaultKind(str, enum.Enum):
    """What kind of thing went wrong."""

    SOURCE_FAILED = "source_failed"  # the camera or file stopped giving frames with an error
    SOURCE_TRUNCATED = "source_truncated"  # a file ended before the length its header states
    THREAD_FAULTED = "thread_faulted"  # a thread stopped for good (a model that did not load included)
    JOBS_FAILED = "jobs_failed"  # some frames or model jobs failed; the thread went on
    RECORDING_FAILED = "recording_failed"  # the session writer could not write (a full disk)


@dataclass(frozen=True)
class Fault:
    """One thing that went wrong in a run: where (a thread's name, or ``source``), what kind, and a
    message for people. ``str(fault)`` is the line ``session.json`` keeps."""

    where: str
    kind: FaultKind
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    @property
    def fatal(self) -> bool:
        """True when the thing it names no longer runs (as opposed to a counted, passing failure)."""
        return self.kind in (FaultKind.SOURCE_FAILED, FaultKind.THREAD_FAULTED, FaultKind.RECORDING_FAILED)


@dataclass(frozen=True)
class ModelStatus:
    """One model worker as a display sees it."""

    name: str
    provides: tuple[str, ...]  # AffectResult fields it fills, e.g. ("valence", "attention")
    state: WorkerState
    backend: str | None  # what actually runs, once started (e.g. "eager (cpu)")
    error: str | None
    jobs: int
    skipped: int
    failed: int

    @property
    def available(self) -> bool:
        return self.state is not WorkerState.FAULTED


@dataclass(frozen=True)
class PipelineStats:
    """A snapshot of :meth:`realtime.pipeline.core.Pipeline.stats`. Percentile fields are
    ``{"p50": ms, "p95": ms, "p99": ms}`` (NaN before the first sample)."""

    state: WorkerState
    capture_fps: float
    processing_fps: float
    frames_captured: int
    frames_processed: int
    frames_with_face: int
    dropped: int
    failed: int
    perception_ms: dict[str, float]
    queue_wait_ms: dict[str, float]
    latency_ms: dict[str, float]
    bus_errors: int
    threads: dict[str, dict[str, Any]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The part that goes into session.json (the same keys from every front end)."""
        return {k: getattr(self, k) for k in SUMMARY_KEYS}

    def as_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (benchmarks and soak reports)."""
        d = asdict(self)
        d["state"] = self.state.value
        return d
