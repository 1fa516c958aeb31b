"""Non-modal messages: a banner under the toolbar, and the hooks that route uncaught errors to it.

Nothing here opens a dialog: a lab session must keep running while a message is on screen.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)

_STYLE = {
    "error": ("#fdecea", "#b3261e", "Error"),
    "warning": ("#fff4e5", "#8a5300", "Warning"),
    "info": ("#e8f1fd", "#174ea6", "Info"),
}


@dataclass(frozen=True)
class Message:
    level: str  # "error" | "warning" | "info"
    text: str
    t: float  # time.time() when it was posted


class MessageBar(QFrame):
    """A banner that shows the most important waiting message (an error stays on show until it is
    dismissed, even when infos arrive after it), how many more wait, and dismiss buttons.

    ``post`` must be called on the GUI thread; other threads go through :class:`ErrorRouter`,
    whose signal is delivered here by Qt's queued connection.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None, history: int = 50):
        super().__init__(parent)
        self.setObjectName("messageBar")
        self._messages: deque[Message] = deque(maxlen=history)
        self.history: deque[Message] = deque(maxlen=history)  # everything posted, for the log view
        self._icon = QLabel()
        self._icon.setStyleSheet("font-weight: bold;")
        self._text = QLabel()
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._more = QLabel()
        self._close = QPushButton("Dismiss")
        self._close.setToolTip("Hide this message (Esc)")
        self._close.clicked.connect(self.dismiss)
        self._clear = QPushButton("Dismiss all")
        self._clear.clicked.connect(self.dismiss_all)
        row = QHBoxLayout()
        row.setContentsMargins(10, 6, 10, 6)
        row.addWidget(self._icon)
        row.addWidget(self._text, 1)
        row.addWidget(self._more)
        row.addWidget(self._close)
        row.addWidget(self._clear)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(row)
        self.hide()

    # -- API ------------------------------------------------------------------------------------
    def post(self, level: str, text: str) -> None:
        level = level if level in _STYLE else "error"
        text = text.strip()
        if self._messages and self._messages[-1].text == text and self._messages[-1].level == level:
            return  # the same message again: keep one
        msg = Message(level, text, time.time())
        self._messages.append(msg)
        self.history.append(msg)
        (log.error if level == "error" else log.warning if level == "warning" else log.info)("%s", text)
        self._render()

    def error(self, text: str) -> None:
        self.post("error", text)

    def warning(self, text: str) -> None:
        self.post("warning", text)

    def info(self, text: str) -> None:
        self.post("info", text)

    def dismiss(self) -> None:
        """Hide the message on show (the newest of the most severe level waiting)."""
        msg = self.current
        if msg is not None:
            self._messages.remove(msg)
        self._render()

    def dismiss_all(self) -> None:
        self._messages.clear()
        self._render()

    def withdraw(self, text: str) -> None:
        """Take back a waiting message that no longer holds ("Opening …" once it has opened)."""
        kept = [m for m in self._messages if m.text != text.strip()]
        if len(kept) != len(self._messages):
            self._messages = deque(kept, maxlen=self._messages.maxlen)
            self._render()

    @property
    def current(self) -> Message | None:
        """The message on show: errors before warnings before infos, newest first within a level."""
        for level in ("error", "warning", "info"):
            for msg in reversed(self._messages):
                if msg.level == level:
                    return msg
        return None

    def texts(self, level: str | None = None) -> list[str]:
        """Every message posted so far (oldest first), optionally of one level."""
        return [m.text for m in self.history if level is None or m.level == level]

    # -- drawing --------------------------------------------------------------------------------
    def _render(self) -> None:
        msg = self.current
        if msg is None:
            self.hide()
            self.changed.emit()
            return
        bg, fg, title = _STYLE[msg.level]
        self.setStyleSheet(f"#messageBar {{ background: {bg}; border-bottom: 1px solid {fg}; }}"
                           f"#messageBar QLabel {{ color: {fg}; }}")
        self._icon.setText(f"{title} {time.strftime('%H:%M:%S', time.localtime(msg.t))}")
        self._text.setText(msg.text)
        waiting = len(self._messages) - 1
        self._more.setText(f"+{waiting} more" if waiting else "")
        self._clear.setVisible(waiting > 0)
        self.show()
        self.changed.emit()


class ErrorRouter(QObject):
    """Routes ``sys.excepthook`` and ``threading.excepthook`` to a :class:`MessageBar`.

    The hooks may run on any thread; they only emit a signal (queued to the GUI thread) and then
    call the hook that was installed before, so tracebacks still reach the console and the log.
    """

    raised = Signal(str, str)  # level, text

    def __init__(self, bar: MessageBar):
        super().__init__(bar)
        self._bar = bar
        self.raised.connect(bar.post, Qt.ConnectionType.QueuedConnection)
        self._old_sys = None
        self._old_threading = None
        self.installed = False

    def install(self) -> None:
        if self.installed:
            return
        self._old_sys, self._old_threading = sys.excepthook, threading.excepthook
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook
        self.installed = True

    def uninstall(self) -> None:
        if not self.installed:
            return
        if sys.excepthook == self._sys_hook:
            sys.excepthook = self._old_sys
        if threading.excepthook == self._thread_hook:
            threading.excepthook = self._old_threading
        self.installed = False

    def _sys_hook(self, exc_type, exc, tb) -> None:
        self.raised.emit("error", _describe(exc_type, exc, tb, "in the app"))
        if self._old_sys is not None:
            self._old_sys(exc_type, exc, tb)

    def _thread_hook(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        where = f"in thread '{args.thread.name}'" if args.thread is not None else "in a thread"
        self.raised.emit("error", _describe(args.exc_type, args.exc_value, args.exc_traceback, where))
        if self._old_threading is not None:
            self._old_threading(args)


def _describe(exc_type, exc, tb, where: str) -> str:
    last = traceback.extract_tb(tb)[-1] if tb is not None else None
    at = f" ({last.filename.rsplit('/', 1)[-1]}:{last.lineno})" if last is not None else ""
    return f"Unexpected {exc_type.__name__} {where}: {exc}{at}. The app keeps running; details are in the log."
