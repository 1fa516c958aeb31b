"""Health of the pipeline's threads: a state enum and bounded latency/rate statistics."""
from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass, field

import numpy as np


class WorkerState(str, enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAULTED = "faulted"


class LatencyWindow:
    """The last ``size`` samples (ms) in a preallocated ring; percentiles on demand."""

    def __init__(self, size: int = 2048):
        self._buf = np.zeros(size, np.float64)
        self._n = 0
        self._lock = threading.Lock()

    def add(self, ms: float) -> None:
        with self._lock:
            self._buf[self._n % len(self._buf)] = ms
            self._n += 1

    @property
    def count(self) -> int:
        return self._n

    def values(self) -> np.ndarray:
        with self._lock:
            return self._buf[: min(self._n, len(self._buf))].copy()

    def percentiles(self, qs=(50, 95, 99)) -> dict[str, float]:
        v = self.values()
        if v.size == 0:
            return {f"p{q}": float("nan") for q in qs}
        return {f"p{q}": float(x) for q, x in zip(qs, np.percentile(v, qs))}


class RateMeter:
    """Events per second over a sliding window of the last ``size`` event times."""

    def __init__(self, size: int = 64):
        self._t = np.zeros(size, np.int64)
        self._n = 0
        self._lock = threading.Lock()

    def tick(self, t_ns: int | None = None) -> None:
        with self._lock:
            self._t[self._n % len(self._t)] = t_ns if t_ns is not None else time.monotonic_ns()
            self._n += 1

    @property
    def count(self) -> int:
        return self._n

    def rate(self) -> float:
        with self._lock:
            n = min(self._n, len(self._t))
            if n < 2:
                return 0.0
            i_last = (self._n - 1) % len(self._t)
            i_first = (self._n - n) % len(self._t)
            span = (self._t[i_last] - self._t[i_first]) / 1e9
        if span <= 0:
            return 0.0
        # A stream stalled for over a second reads as a falling rate, not as its last burst's rate.
        since = (time.monotonic_ns() - self._t[i_last]) / 1e9
        return (n - 1) / (span + since if since > 1.0 else span)


@dataclass
class ThreadStats:
    name: str
    state: WorkerState = WorkerState.STOPPED
    error: str | None = None
    processed: int = 0
    dropped: int = 0
    failed: int = 0
    skipped: int = 0  # jobs not run because the worker was still busy
    poor: int = 0  # jobs not run because their input was mostly poor frames
    rate: RateMeter = field(default_factory=RateMeter)
    latency: LatencyWindow = field(default_factory=LatencyWindow)
    wait: LatencyWindow = field(default_factory=LatencyWindow)

    def snapshot(self) -> dict:
        return {
            "state": self.state.value,
            "error": self.error,
            "processed": self.processed,
            "dropped": self.dropped,
            "failed": self.failed,
            "skipped": self.skipped,
            "poor": self.poor,
            "fps": round(self.rate.rate(), 2),
            "latency_ms": self.latency.percentiles(),
            "queue_wait_ms": self.wait.percentiles(),
        }
