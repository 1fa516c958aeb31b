"""What the app remembers between runs, stored with ``QSettings``.

The default store is the platform's per-user location (organization and application
"affectscope"). Pass an explicit ``.ini`` path to keep a run (a test, a kiosk demo) away from it.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from engines.expressions import EXPRESSION_MODELS, POOLED

ORGANIZATION = "affectscope"
APPLICATION = "affectscope"
DEFAULT_SESSIONS_DIR = Path.home() / "affectscope-sessions"
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)


class AppSettings:
    """Typed access to the persisted settings; every getter has a safe default."""

    def __init__(self, path: str | Path | None = None):
        if path is None:
            self._q = QSettings(ORGANIZATION, APPLICATION)
        else:
            self._q = QSettings(str(path), QSettings.Format.IniFormat)

    @property
    def location(self) -> str:
        return self._q.fileName()

    def sync(self) -> None:
        self._q.sync()

    # -- generic typed accessors ----------------------------------------------------------------
    def _bool(self, key: str, default: bool) -> bool:
        v = self._q.value(key, default)
        if isinstance(v, str):
            return v.lower() in ("1", "true", "yes")
        return bool(v)

    def _str(self, key: str, default: str) -> str:
        v = self._q.value(key, default)
        return str(v) if v is not None else default

    def _float(self, key: str, default: float) -> float:
        try:
            return float(self._q.value(key, default))
        except (TypeError, ValueError):
            return default

    def _bytes(self, key: str) -> QByteArray | None:
        v = self._q.value(key)
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    # -- what the window remembers -------------------------------------------------------------
    @property
    def expression_model(self) -> str:
        v = self._str("model/expression", POOLED)
        return v if v in EXPRESSION_MODELS else POOLED

    @expression_model.setter
    def expression_model(self, name: str) -> None:
        self._q.setValue("model/expression", name)

    @property
    def camera_index(self) -> int:
        try:
            return max(0, int(self._q.value("source/camera", 0)))
        except (TypeError, ValueError):
            return 0

    @camera_index.setter
    def camera_index(self, index: int) -> None:
        self._q.setValue("source/camera", int(index))

    @property
    def last_video(self) -> str:
        return self._str("source/video", "")

    @last_video.setter
    def last_video(self, path: str) -> None:
        self._q.setValue("source/video", str(path))

    @property
    def last_session(self) -> str:
        return self._str("source/session", "")

    @last_session.setter
    def last_session(self, path: str) -> None:
        self._q.setValue("source/session", str(path))

    @property
    def sessions_dir(self) -> Path:
        return Path(self._str("record/sessions_dir", str(DEFAULT_SESSIONS_DIR)))

    @sessions_dir.setter
    def sessions_dir(self, path: str | Path) -> None:
        self._q.setValue("record/sessions_dir", str(path))

    @property
    def record_video(self) -> bool:
        return self._bool("record/video", True)

    @record_video.setter
    def record_video(self, on: bool) -> None:
        self._q.setValue("record/video", bool(on))

    @property
    def marker_label(self) -> str:
        return self._str("record/marker_label", "marker") or "marker"

    @marker_label.setter
    def marker_label(self, label: str) -> None:
        self._q.setValue("record/marker_label", label)

    def overlay(self, name: str) -> bool:
        """Video overlays: 'box', 'landmarks', 'attention' (all on by default)."""
        return self._bool(f"view/{name}", True)

    def set_overlay(self, name: str, on: bool) -> None:
        self._q.setValue(f"view/{name}", bool(on))

    @property
    def loop_video(self) -> bool:
        return self._bool("source/loop", False)

    @loop_video.setter
    def loop_video(self, on: bool) -> None:
        self._q.setValue("source/loop", bool(on))

    @property
    def replay_speed(self) -> float:
        v = self._float("replay/speed", 1.0)
        return v if v in SPEEDS else 1.0

    @replay_speed.setter
    def replay_speed(self, speed: float) -> None:
        self._q.setValue("replay/speed", float(speed))

    @property
    def geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    @geometry.setter
    def geometry(self, data: QByteArray) -> None:
        self._q.setValue("window/geometry", data)

    @property
    def splitter(self) -> QByteArray | None:
        return self._bytes("window/splitter")

    @splitter.setter
    def splitter(self, data: QByteArray) -> None:
        self._q.setValue("window/splitter", data)
