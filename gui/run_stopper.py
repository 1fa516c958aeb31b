"""Stopping a live run off the GUI thread.

Finishing a recording (the writer's queue flushed, the video closed, ``session.json`` written) and
joining the pipeline's threads and the recognizer's process took about 200 ms, which the window
spent frozen each time a video ended or Stop was pressed. A :class:`RunStopper` does that work on
a thread of its own and reports on the GUI thread (a queued signal) when it is done; whoever needs
the run fully stopped (closing the window, starting again, opening the session just recorded)
calls :meth:`RunStopper.join` first.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from gui.live import LiveRun


@dataclass(frozen=True)
class StopOutcome:
    saved: tuple[Path, int] | None  # (session folder, rows) when a recording was finished
    all_stopped: bool  # False: some pipeline thread did not stop within its timeout
    error: str | None = None  # finishing the recording failed (the run is shut down all the same)


class RunStopper(QObject):
    """Stops one run on a thread; ``done`` (a :class:`StopOutcome`) arrives on the GUI thread."""

    done = Signal(object)

    def __init__(self, run: LiveRun, why: str):
        super().__init__()
        self.why = why
        self.outcome: StopOutcome | None = None
        self._run: LiveRun | None = run
        self._thread = threading.Thread(target=self._stop, name="run-stopper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _stop(self) -> None:
        run, self._run = self._run, None
        saved, error, all_stopped = None, None, False
        try:
            try:
                saved = run.stop_recording(self.why)
            except Exception as exc:  # noqa: BLE001 - said in the window; the run is shut down all the same
                error = f"{type(exc).__name__}: {exc}"
            all_stopped = run.shutdown(self.why)
        finally:
            self.outcome = StopOutcome(saved, all_stopped, error)
            self.done.emit(self.outcome)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to be stopped; True once it is."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
