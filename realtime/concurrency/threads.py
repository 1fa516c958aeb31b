"""The shape every pipeline thread shares: a name, a stop Event, a state, stats, one shutdown()."""
from __future__ import annotations

import logging
import threading
import traceback
from abc import ABC, abstractmethod

from realtime.concurrency.priority import lower_this_thread
from realtime.concurrency.stats import ThreadStats, WorkerState

log = logging.getLogger(__name__)


class StoppableThread(ABC):
    """Runs :meth:`loop` on a named daemon thread; a crash puts it in FAULTED with the reason."""

    #: Work with seconds of slack (a writer's queue, a model whose job can be skipped) runs at a
    #: lower priority, so that the window and perception win when the cores are short
    #: (:mod:`realtime.concurrency.priority`).
    background = False

    def __init__(self, name: str):
        self.name = name
        self.stats = ThreadStats(name)
        self._stop = threading.Event()
        self._ready = threading.Event()  # set once setup() has finished (or failed)
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> WorkerState:
        return self.stats.state

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} was already started")
        self.stats.state = WorkerState.STARTING
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        if self.background:
            lower_this_thread()
        try:
            try:
                self.setup()
            finally:
                self._ready.set()
            if self.stats.state is WorkerState.STARTING:
                self.stats.state = WorkerState.RUNNING
            self.loop()
        except Exception as exc:  # noqa: BLE001 - the reason is kept and shown, the thread ends
            self.stats.state = WorkerState.FAULTED
            self.stats.error = f"{type(exc).__name__}: {exc}"
            log.error("%s faulted: %s\n%s", self.name, self.stats.error, traceback.format_exc())
        finally:
            try:
                self.teardown()
            except Exception:  # noqa: BLE001
                log.exception("%s: teardown failed", self.name)
            if self.stats.state is not WorkerState.FAULTED:
                self.stats.state = WorkerState.STOPPED

    def setup(self) -> None:
        """Runs on the thread before the loop (acquire what the thread owns)."""

    @abstractmethod
    def loop(self) -> None:
        """The thread's work: return when ``self.stopping`` is set or the work is done."""

    def teardown(self) -> None:
        """Runs on the thread after the loop, also after a fault (release what the thread owns)."""

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until setup() has finished (models loaded) or failed; False on timeout."""
        return self._ready.wait(timeout)

    def stop(self) -> None:
        if self.stats.state in (WorkerState.STARTING, WorkerState.RUNNING):
            self.stats.state = WorkerState.STOPPING
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def ever_started(self) -> bool:
        return self._thread is not None

    def shutdown(self, timeout: float = 5.0) -> bool:
        self.stop()
        ok = self.join(timeout)
        if not ok:
            log.error("%s did not stop within %.1f s", self.name, timeout)
        return ok
