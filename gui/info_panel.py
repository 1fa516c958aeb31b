"""A compact panel under the video: what runs, on which models, and where it is recorded."""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QWidget

from engines.bundle import Bundle
from realtime.types import SourceInfo

MODEL_NAMES = {"valence": "valence (STA-3DCNN)", "p_fake": "P(fake) (LSTM-PB + XGBoost)"}
ROWS = (("source", "Source"), ("bundle", "Model bundle"), ("models", "Models"), ("expression", "Expression model"),
        ("recording", "Recording"), ("markers", "Markers"))


def summary(text: str, limit: int = 160) -> str:
    """The start of a long description, cut at a word within ``limit`` characters (the whole text
    is the row's tooltip): a bundle's account of its training runs to a page, which would push the
    panel's other rows out of its frame."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:(") + " … (hover for all)"


class InfoPanel(QFrame):
    """Label rows set by the window (``set(key, text)``); unchanged text is not set again."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("infoPanel")
        self.setStyleSheet("#infoPanel { background: #ffffff; border: 1px solid #dadce0; border-radius: 6px; }"
                           "#infoPanel QLabel[role='key'] { color: #5f6368; }")
        form = QFormLayout(self)
        form.setContentsMargins(12, 8, 12, 8)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.values: dict[str, QLabel] = {}
        for key, title in ROWS:
            k = QLabel(title)
            k.setProperty("role", "key")
            v = QLabel("—")
            v.setWordWrap(True)
            v.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(k, v)
            self.values[key] = v

    def set(self, key: str, text: str, tooltip: str = "") -> None:
        label = self.values[key]
        if label.text() != text:
            label.setText(text)
        if label.toolTip() != tooltip:
            label.setToolTip(tooltip)

    def text(self, key: str) -> str:
        return self.values[key].text()

    # -- what the window shows here ---------------------------------------------------------------
    def show_live(self, source: str, info: SourceInfo | None, bundle: Bundle | None,
                  availability: dict[str, str | None], running: bool, expression_model: str,
                  recording: str | None, sessions_dir: Path, markers: int | None, last_marker: str = "") -> None:
        """Idle or live: the source, the bundle and what it was trained on, which models run."""
        if info is not None:
            self.set("source", f"{source}: {info.width}×{info.height} @ {info.fps:.1f} fps"
                               + (f", {info.frame_count} frames" if info.frame_count else ""), info.uri)
        else:
            self.set("source", source)
        if bundle is not None:
            trained_on = str(bundle.meta.get("trained_on", "?"))
            self.set("bundle", f"{bundle.name} — trained on: {summary(trained_on)}",
                     f"<p><b>{html.escape(str(bundle.root))}</b></p><p>{html.escape(trained_on)}</p>")
        else:
            self.set("bundle", "none loaded (start with --bundle DIR)")
        state = "running" if running else "available"
        self.set("models", " · ".join(f"{MODEL_NAMES[k]}: {state if availability[k] is None else 'unavailable'}"
                                      for k in ("valence", "p_fake")),
                 "\n".join(v for v in availability.values() if v))
        self.set("expression", expression_model)
        self.set("recording", recording or f"not recording — ● Record saves to {sessions_dir}")
        self.set("markers", "—" if markers is None else f"{markers}" + (f" · last {last_marker}" if last_marker else ""))

    def show_replay(self, replay) -> None:
        """A session being replayed (``gui.replay.SessionReplay``): what it was recorded from and with."""
        meta = replay.session.meta
        src = meta.get("source", {}) or {}
        m, s = divmod(replay.length_s, 60.0)
        self.set("source", f"session {replay.root.name}: {src.get('kind', '?')} {Path(str(src.get('uri', '?'))).name}, "
                           f"{src.get('width', '?')}×{src.get('height', '?')} @ {float(src.get('fps') or 0):.1f} fps; "
                           f"{replay.rows} rows over {int(m)}:{s:04.1f}"
                           f"{', with video' if replay.has_video else ', no video'}",
                 str(replay.root))
        b = meta.get("bundle", {}) or {}
        self.set("bundle", f"{b.get('name', '?')} (recorded with)", f"sha256 {b.get('sha256', '?')}")
        self.set("models", " · ".join(f"{MODEL_NAMES[k]}: {'recorded' if replay.has_values(k) else 'not recorded'}"
                                      for k in ("valence", "p_fake")))
        self.set("expression", str(meta.get("expression_model") or "—"))
        self.set("recording", f"created {meta.get('created', '?')}; "
                              f"{'cut off before its end' if replay.session.cut_off else 'complete'}")
        ev = replay.events
        shown = ", ".join(f"{label} @ {t:.1f} s" for t, label in ev[:6])
        self.set("markers", f"{len(ev)}" + (f": {shown}" if ev else "") + (" …" if len(ev) > 6 else ""))
