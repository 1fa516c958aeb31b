"""The big current-value readouts beside the plots, and what they say in each state.

States, in order of precedence: the model is unavailable (why), nothing runs yet, no face, no value
yet (waiting for the first clip / estimating), a value (with a verdict).
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

GREY = "#9aa0a6"
NO_FACE_COLOR = "#b3261e"
NEUTRAL_BAND = 0.15  # |valence| below this reads as neutral


class ValueReadout(QFrame):
    """A caption, the current value in large digits, and a line of status under it."""

    def __init__(self, caption: str, color: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("readout")
        self.setStyleSheet("#readout { background: #ffffff; border: 1px solid #dadce0; border-radius: 6px; }")
        self.setFixedWidth(230)  # fixed: changing text must not move the plots
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self._color = color
        self.caption = QLabel(caption)
        f = QFont()
        f.setPointSize(11)
        f.setBold(True)
        self.caption.setFont(f)
        self.caption.setStyleSheet(f"color: {color};")
        self.value = QLabel("—")
        big = QFont()
        big.setPointSize(34)
        big.setBold(True)
        big.setStyleHint(QFont.StyleHint.Monospace)
        self.value.setFont(big)
        self.value.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.verdict = QLabel("")
        vf = QFont()
        vf.setPointSize(12)
        vf.setBold(True)
        self.verdict.setFont(vf)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setStyleSheet("color: #5f6368;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 8)
        lay.setSpacing(2)
        lay.addWidget(self.caption)
        lay.addWidget(self.value)
        lay.addWidget(self.verdict)
        lay.addWidget(self.detail)
        lay.addStretch(1)
        self._last: tuple = ()

    def set(self, value_text: str, value_color: str, verdict: str = "", verdict_color: str = "#5f6368",
            detail: str = "") -> None:
        state = (value_text, value_color, verdict, verdict_color, detail)
        if state == self._last:
            return  # nothing changed: no relayout
        last = self._last or (None,) * 5
        self._last = state
        self.value.setText(value_text)
        if value_color != last[1]:  # a style sheet re-polishes the label: only when it changes
            self.value.setStyleSheet(f"color: {value_color};")
        self.verdict.setText(verdict)
        if verdict_color != last[3]:
            self.verdict.setStyleSheet(f"color: {verdict_color};")
        self.verdict.setVisible(bool(verdict))
        self.detail.setText(detail)




def _quality(share: float | None) -> str:
    """' · from 94 % good frames' (the share of trusted frames the value was computed from)."""
    return "" if share is None else f" · from {100 * share:.0f} % good frames"


def show_valence(readout: ValueReadout, valence: float | None, face: bool, unavailable: str | None = None,
                 idle: bool = False, updated_ago_s: float | None = None, quality: float | None = None) -> None:
    """Valence in [-1, 1] with positive / neutral / negative, or why there is none; ``quality``:
    the share of good frames in the clip it came from."""
    if unavailable:
        readout.set("n/a", GREY, "", detail=unavailable)
    elif idle:
        readout.set("—", GREY, detail="starts with a source")
    elif not face:
        readout.set("—", GREY, "no face", NO_FACE_COLOR, "the value returns with the face")
    elif valence is None:
        readout.set("—", GREY, detail="waiting for the first clip: its 16 frames span a few seconds")
    else:
        if valence > NEUTRAL_BAND:
            color, verdict = "#188038", "positive"
        elif valence < -NEUTRAL_BAND:
            color, verdict = "#d93025", "negative"
        else:
            color, verdict = "#5f6368", "neutral"
        ago = "" if updated_ago_s is None else f"updated {max(updated_ago_s, 0.0):.1f} s ago · "
        readout.set(f"{valence:+.2f}", color, verdict, color, f"{ago}one value per 16-frame clip{_quality(quality)}")


def show_p_fake(readout: ValueReadout, p_fake: float | None, face: bool, expression_model: str,
                unavailable: str | None = None, idle: bool = False, quality: float | None = None) -> None:
    """P(fake) in [0, 1] with "reads as posed / genuine" at the 0.5 threshold, or why there is none;
    ``quality``: the share of good frames among those its last update read."""
    model = f"expression model: {expression_model}"
    if unavailable:
        readout.set("n/a", GREY, "", detail=unavailable)
    elif idle:
        readout.set("—", GREY, detail=model)
    elif not face:
        readout.set("—", GREY, "no face", NO_FACE_COLOR, model)
    elif p_fake is None:
        readout.set("—", GREY, detail=f"estimating… · {model}")
    else:
        posed = p_fake >= 0.5
        color = "#e8710a" if posed else "#12848f"
        readout.set(f"{p_fake:.2f}", color, "reads as posed" if posed else "reads as genuine", color,
                    model + _quality(quality))
