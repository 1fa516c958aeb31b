"""How long the window's event loop is kept from running: a measure of a window that never freezes.

A timer asks to run every ``period_ms``; when the event loop is busy (painting, a slow slot, the
GIL held by another thread) the tick comes late. The lateness of each tick beyond its period is
the stall; ticks later than ``threshold_ms`` are counted and the worst kept with the time they
happened, so a stall can be set beside what the window was doing then, and with the CPU time the
window's thread itself spent since the tick before: a stall that is mostly its own work is the
window's to fix; one where it hardly ran is a machine short of CPU (or the interpreter lock held
by another thread). ``affectscope gui``,
``live`` and ``demo`` write the report with ``--stall-report FILE.json``.

:meth:`StallMonitor.mark_running` marks when the analysis is up (models loaded, first frames
coming): the report keeps the stalls from then on apart (``running_*``), as live running is what a
window must never freeze in; loading models before that is start-up. The app stops the monitor
when the window starts closing: finishing a recording then is not running either.
"""
from __future__ import annotations

import json
import threading
import time
from array import array
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer

from realtime.benchmarks.process_stats import children_rss_mb, cpu_shares, cpu_times, open_files, rss_mb


@dataclass(frozen=True)
class StallReport:
    """seconds: time measured; ticks: timer ticks seen; stalls: ticks later than threshold_ms;
    p50/p95/p99/max_ms: lateness of the ticks; worst: the longest stalls as [seconds since start, ms
    late, ms of CPU the window's thread spent since the tick before];
    running_since_s: when the analysis was up (None: never marked); running_stalls / running_p99_ms /
    running_max_ms: the same figures from then on."""

    seconds: float
    period_ms: float
    threshold_ms: float
    ticks: int
    stalls: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    worst: list[list[float]]
    running_since_s: float | None = None
    running_stalls: int = 0
    running_p99_ms: float = 0.0
    running_max_ms: float = 0.0
    # every sample_every_s: memory, threads, files, stalls so far, and since the last sample the
    # machine's busy share, this process's (with its children) and the hypervisor's steal (% of all cores)
    samples: list[dict] = field(default_factory=list)

    def line(self) -> str:
        text = (f"event loop: {self.stalls} stall{'s' if self.stalls != 1 else ''} over {self.threshold_ms:g} ms "
                f"in {self.seconds:.0f} s; late by p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
                f"longest {self.max_ms:.0f} ms")
        if self.running_since_s is not None:
            text += (f"; running (from {self.running_since_s:.1f} s): {self.running_stalls} stall"
                     f"{'s' if self.running_stalls != 1 else ''}, p99 {self.running_p99_ms:.1f} ms, "
                     f"longest {self.running_max_ms:.0f} ms")
        if self.worst:
            own = sum(w[2] for w in self.worst) / sum(w[1] + self.period_ms for w in self.worst)
            text += f"; the window's own work in its {len(self.worst)} worst: {100 * own:.0f} % of their time"
        return text

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")
        return path


class StallMonitor(QObject):
    """Measures the lateness of a precise timer on the thread it lives on (the GUI thread)."""

    def __init__(self, period_ms: int = 10, threshold_ms: float = 50.0, keep_worst: int = 20,
                 sample_every_s: float | None = None, parent=None):
        """``sample_every_s``: also sample the process's memory (and its child processes'), threads
        and open files that often, for a window left running for an hour."""
        super().__init__(parent)
        self.period_ms = int(period_ms)
        self.threshold_ms = float(threshold_ms)
        self.keep_worst = keep_worst
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(self.period_ms)
        self._timer.timeout.connect(self._tick)
        self._samples: list[dict] = []
        self._cpu = None  # the CPU times at the last sample
        self._sampler = None
        if sample_every_s:
            self._sampler = QTimer(self)
            self._sampler.setInterval(int(sample_every_s * 1000))
            self._sampler.timeout.connect(self._sample)
        self._late = array("f")  # 4 bytes a tick (1.4 MB an hour), not a Python float's 32
        self._stalls: list[tuple[float, float, float]] = []
        self._t0 = self._last = 0.0
        self._last_cpu = 0.0  # the window thread's CPU time at the last tick
        self._t_end: float | None = None  # when stop() was first called
        self._running_tick: int | None = None  # index of the first tick after mark_running
        self._running_t: float | None = None

    def start(self) -> None:
        self._late = array("f")
        self._stalls.clear()
        self._running_tick = self._running_t = None
        self._samples = []
        self._cpu = None
        self._t0 = self._last = time.perf_counter()
        self._last_cpu = time.thread_time()
        self._t_end = None
        self._timer.start()
        if self._sampler is not None:
            self._sample()
            self._sampler.start()

    def mark_running(self) -> None:
        """The analysis is up from now on (the first call counts)."""
        if self._running_tick is None:
            self._running_tick = len(self._late)
            self._running_t = time.perf_counter() - self._t0

    def stop(self) -> None:
        """Stop measuring (the first call counts: the report covers start to here)."""
        if self._timer.isActive():
            self._t_end = time.perf_counter()
        self._timer.stop()
        if self._sampler is not None:
            self._sampler.stop()

    def _sample(self) -> None:
        rss, kids = rss_mb(), children_rss_mb()
        cpu = cpu_times()
        shares = cpu_shares(self._cpu, cpu)  # since the last sample: was the machine busy elsewhere?
        self._cpu = cpu
        self._samples.append({"t_s": round(time.perf_counter() - self._t0, 1),
                              "rss_mb": None if rss is None else round(rss, 1),
                              "children_rss_mb": None if kids is None else round(kids, 1),
                              "threads": threading.active_count(), "open_files": open_files(),
                              "stalls": len(self._stalls), "machine_busy_pct": shares["busy_pct"],
                              "own_cpu_pct": shares["own_pct"], "steal_pct": shares["steal_pct"]})

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        late_ms = max(0.0, (now - self._last) * 1000.0 - self.period_ms)
        own_ms = (cpu - self._last_cpu) * 1000.0
        self._last, self._last_cpu = now, cpu
        self._late.append(late_ms)
        if late_ms > self.threshold_ms:
            self._stalls.append((now - self._t0, late_ms, own_ms))

    def report(self) -> StallReport:
        late = np.frombuffer(self._late, np.float32).astype(np.float64)
        pct = (lambda q: float(np.percentile(late, q))) if len(late) else (lambda q: 0.0)
        worst = sorted(self._stalls, key=lambda s: -s[1])[: self.keep_worst]
        running = {}
        if self._running_tick is not None:
            tail = late[self._running_tick:]
            running = dict(running_since_s=round(self._running_t, 3),
                           running_stalls=sum(1 for t, *_ in self._stalls if t >= self._running_t),
                           running_p99_ms=round(float(np.percentile(tail, 99)), 2) if len(tail) else 0.0,
                           running_max_ms=round(float(tail.max()), 1) if len(tail) else 0.0)
        end = self._t_end if self._t_end is not None else time.perf_counter()
        return StallReport(round(end - self._t0, 3), self.period_ms, self.threshold_ms, len(late),
                           len(self._stalls), round(pct(50), 2), round(pct(95), 2), round(pct(99), 2),
                           round(float(late.max()) if len(late) else 0.0, 1),
                           [[round(t, 3), round(ms, 1), round(own, 1)] for t, ms, own in sorted(worst)], **running,
                           samples=list(self._samples))
