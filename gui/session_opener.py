"""Opening a recorded session off the GUI thread.

Reading an hour's ``frames.csv`` (108,000 rows) takes a second or two, which the window spent
frozen when a session was opened from the menu. A :class:`SessionOpener` reads the session on a
thread of its own and hands the opened :class:`~gui.replay.SessionReplay` (or what was wrong) to
the GUI thread through a queued signal. A newer request, or :meth:`SessionOpener.cancel`, makes
the older one's result void: its replay is closed when it arrives and nothing is shown.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from gui.replay import SessionReplay
from realtime.sessions.folder import SessionError

# The window draws its "Opening" note before the reading starts: while a thread parses, each call
# of the window's drawing into Python waits for the interpreter (up to its 5 ms switch interval),
# and a repaint made of many such calls took 160 ms instead of a few.
DRAW_FIRST_S = 0.1


class SessionOpener(QObject):
    """``opened(replay, folder)`` or ``failed(folder, message)`` arrive on the GUI thread, only for
    the latest request that was not cancelled.

    Made without a Qt parent: a reading thread holds it, so it outlives a window closed while a
    session is being read, and the thread's signal never reaches a deleted object."""

    opened = Signal(object, str)
    failed = Signal(str, str)
    _arrived = Signal(int, object, str, str)  # request, replay or None, folder, error

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()
        self._latest = 0
        self._pending: Path | None = None
        self._arrived.connect(self._deliver)

    @property
    def pending(self) -> Path | None:
        """The folder being opened, or None."""
        return self._pending

    def open(self, folder: str | Path, speed: float) -> None:
        """Start reading ``folder``; a request still running is superseded."""
        with self._lock:
            self._latest += 1
            request = self._latest
        self._pending = Path(folder)
        thread = threading.Thread(target=self._read, args=(request, Path(folder), speed),
                                  name="session-open", daemon=True)
        thread.start()

    def cancel(self) -> None:
        """Forget the request in progress (another source was started, the window closes)."""
        with self._lock:
            self._latest += 1
        self._pending = None

    def _read(self, request: int, folder: Path, speed: float) -> None:
        time.sleep(DRAW_FIRST_S)
        with self._lock:
            if request != self._latest:  # cancelled or superseded already: nothing to read
                return
        replay, error = None, ""
        try:
            replay = SessionReplay(folder, speed=speed)
        except SessionError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - said in the window, not lost on a thread
            error = f"{folder}: {type(exc).__name__}: {exc}"
        try:
            self._arrived.emit(request, replay, str(folder), error)
        except RuntimeError:  # Qt is shutting down
            if replay is not None:
                replay.close()

    def _deliver(self, request: int, replay: SessionReplay | None, folder: str, error: str) -> None:
        with self._lock:
            current = request == self._latest
        if not current:
            if replay is not None:
                replay.close()
            return
        self._pending = None
        if replay is not None:
            self.opened.emit(replay, folder)
        else:
            self.failed.emit(folder, error)
