"""Pluggable model workers: read the perception ring buffers, publish model outputs.

A worker decides on the perception thread whether a job is due (:meth:`ModelWorker.due`), takes a
snapshot of what it needs (:meth:`ModelWorker.prepare`, copies), and computes on its own thread
(:meth:`ModelWorker.compute`). Live, a worker that is still busy skips the job and counts it:
perception never waits, and an output appears on the first row published after it is ready.
Offline (``lossless``), perception waits for each job, so every job runs, its output lands on the
row of the frame that completed its input, and the results do not depend on the machine's speed.

Each output carries the share of good frames (landmarks the tracker trusts) in the input it was
computed from, as ``<quality_key>``. A window with fewer than ``min_good_share`` good frames is not
computed: the worker's output goes blank (counted in ``stats.poor``) rather than publish noise.
"""
from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod
from typing import Any

from realtime.perception.ring_buffer import PerceptionBuffers
from realtime.concurrency.threads import StoppableThread
from realtime.types import FaceObservation

log = logging.getLogger(__name__)


class WorkerFatalError(RuntimeError):
    """A job failure after which the worker cannot go on (its model's process ended, say): the
    worker stops as faulted instead of counting failed jobs."""


class ModelWorker(StoppableThread):
    """Base class of the model workers; subclasses implement due / prepare / compute / on_reset."""

    background = True  # a job not ready in time is skipped; the window and perception come first
    #: AffectResult fields this worker fills (e.g. ("valence", "attention")).
    provides: tuple[str, ...] = ()
    #: The inference backend actually running (set once the worker has started), for status displays.
    backend_in_use: str | None = None
    #: Output field with the share of good frames in the job's input (e.g. "valence_quality").
    quality_key: str | None = None
    #: Below this share of good frames in its input a job is not run (0: always run).
    min_good_share: float = 0.5

    def __init__(self, name: str):
        super().__init__(name)
        self.buffers: PerceptionBuffers | None = None
        self.lossless = False
        self.fps = 30.0  # the source's frame rate (set by attach)
        self._job: Any = None
        self._job_ready = threading.Condition()
        self._busy = False
        self._output: dict[str, Any] = {}
        self._seq = 0
        self._out_lock = threading.Lock()
        self._epoch = 0  # bumped by reset(): a job started before a reset publishes nothing

    # -- subclass interface ------------------------------------------------------------------
    @abstractmethod
    def due(self, obs: FaceObservation, buffers: PerceptionBuffers) -> bool:
        """Perception thread, every face frame: whether a job should start now (cheap)."""

    @abstractmethod
    def prepare(self, obs: FaceObservation, buffers: PerceptionBuffers) -> Any:
        """Perception thread: a snapshot (copies) of what the job needs."""

    @abstractmethod
    def compute(self, job: Any) -> dict[str, Any]:
        """Worker thread: the job's output, a dict of AffectResult fields."""

    def on_reset(self) -> None:
        """Runs on the perception thread when the face is lost; drop per-face state here."""

    def good_share(self, buffers: PerceptionBuffers) -> float | None:
        """Perception thread: the share of good frames in the input the next job reads (None:
        not known, always run)."""
        return None

    # -- called by the pipeline (perception thread) -----------------------------------------
    def attach(self, buffers: PerceptionBuffers, lossless: bool, fps: float = 30.0) -> None:
        self.buffers, self.lossless, self.fps = buffers, lossless, fps

    def offer(self, obs: FaceObservation) -> None:
        if not self.due(obs, self.buffers):
            return
        share = self.good_share(self.buffers)
        if share is not None and share < self.min_good_share:  # mostly poor landmarks: publish nothing
            self.stats.poor += 1
            with self._out_lock:
                if self._output:
                    self._output = {}
                    self._seq += 1
            return
        with self._job_ready:
            if self._busy:  # only live: offline, the previous job was waited for
                self.stats.skipped += 1
                return
            self._job = (self._epoch, time.monotonic_ns(), self.prepare(obs, self.buffers), share)
            self._busy = True
            self._job_ready.notify_all()
            if self.lossless:
                # Offline, the output belongs to the row of the frame that completed the input:
                # wait for it, so results do not depend on the machine's speed.
                while self._busy and self.is_alive() and not self.stopping:
                    self._job_ready.wait(0.1)

    def reset(self) -> None:
        with self._job_ready:
            self._epoch += 1
        with self._out_lock:
            self._output = {}
            self._seq += 1
        self.on_reset()

    def describe(self) -> str:
        """One line for status displays: what runs and where (subclasses add the backend)."""
        return self.name

    def output(self) -> tuple[int, dict[str, Any]]:
        """(sequence number, latest output); the number changes when a new output arrives."""
        with self._out_lock:
            return self._seq, self._output

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until the job in hand (if any) is done — at the end of a finite source."""
        deadline = time.monotonic() + timeout
        with self._job_ready:
            while self._busy and self.is_alive() and time.monotonic() < deadline:
                self._job_ready.wait(0.05)
            return not self._busy

    # -- worker thread -----------------------------------------------------------------------
    def loop(self) -> None:
        while not self.stopping:
            with self._job_ready:
                while self._job is None and not self.stopping:
                    self._job_ready.wait(0.1)
                if self.stopping:
                    return
                epoch, queued_ns, job, share = self._job
                self._job = None
            self.stats.wait.add((time.monotonic_ns() - queued_ns) / 1e6)
            t0 = time.perf_counter()
            try:
                out = self.compute(job)
            except WorkerFatalError:
                with self._job_ready:
                    self._busy = False
                    self._job_ready.notify_all()
                raise
            except Exception as exc:  # noqa: BLE001 - one bad job is logged and counted
                self.stats.failed += 1
                self.stats.error = f"{type(exc).__name__}: {exc}"
                log.warning("%s: job failed: %s", self.name, self.stats.error)
                out = None
            self.stats.latency.add((time.perf_counter() - t0) * 1e3)
            if out and self.quality_key is not None and share is not None:
                out[self.quality_key] = round(float(share), 3)
            with self._job_ready:
                if out is not None and epoch == self._epoch:
                    with self._out_lock:
                        self._output = out
                        self._seq += 1
                    self.stats.processed += 1
                    self.stats.rate.tick()
                self._busy = False
                self._job_ready.notify_all()
