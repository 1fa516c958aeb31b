"""The status bar's permanent fields: what runs and how healthy it is.

Live: capture and processing fps (from the live session's ``stats()``), the window's own display fps,
dropped frames, latency p95, the inference backend in use, the bundle, face or not, recording.
"""
from __future__ import annotations

import math
import re

from PySide6.QtWidgets import QLabel, QStatusBar

from realtime.pipeline.health import PipelineStats

FIELDS = (
    ("mode", "What is running"),
    ("capture", "Frames per second read from the source (in)"),
    ("processing", "Frames per second through face tracking and landmarks (out)"),
    ("display", "Frames per second shown in this window"),
    ("dropped", "Frames the live source dropped because processing was busy"),
    ("latency", "Latency from capture to result, 95th percentile"),
    ("backend", "Valence inference backend"),
    ("bundle", "Model bundle"),
    ("face", "Face in the current frame"),
    ("rec", "Recording"),
)
_LIVE_ONLY = ("capture", "processing", "dropped", "latency", "rec")
_DETAIL = re.compile(r"(?<=\w) [(][^)]*[)]")  # "numpy (online PB recognition, process N)" -> "numpy"
# The figures and the recording's state keep the width of their longest text, in short words (each
# tooltip says what it is) so that all of them fit a window on an 800-px screen; the window's width
# is cut from the fields that name things instead: what runs, the backends, the bundle.
_WIDEST = {"capture": "in 30.0 fps", "processing": "out 30.0 fps", "display": "shown 30.0 fps",
           "dropped": "dropped 0000", "latency": "p95 000 ms", "face": "face: yes", "rec": "● REC 000000 frames"}


class StatusLine:
    """Labels added to ``bar`` as permanent widgets; ``label(key)`` for tests and tooltips."""

    def __init__(self, bar: QStatusBar):
        self.labels: dict[str, QLabel] = {}
        for key, tip in FIELDS:
            label = QLabel("")
            label.setToolTip(tip)
            label.setContentsMargins(4, 0, 4, 0)
            # A minimum width of its own stops the label's text from setting the status bar's (and
            # so the window's) minimum width: long text is cut, the window never grows for it.
            label.setMinimumWidth(1 if key not in _WIDEST else
                                  label.fontMetrics().horizontalAdvance(_WIDEST[key]) + 10)
            self.labels[key] = label
            bar.addPermanentWidget(label)
            label.hide()  # until it has something to say
        self.labels["rec"].setStyleSheet("color: #b3261e; font-weight: bold;")

    def __getitem__(self, key: str) -> QLabel:
        return self.labels[key]

    def _set(self, key: str, text: str) -> None:
        label = self.labels[key]
        if label.text() != text:
            label.setText(text)
            label.setVisible(bool(text))  # an empty field (a live figure in replay) takes no room

    def show_display_rate(self, fps: float) -> None:
        self._set("display", f"shown {fps:4.1f} fps")

    def show_bundle(self, name: str | None, tooltip: str = "") -> None:
        self._set("bundle", f"bundle: {name}" if name else "bundle: none")
        self.labels["bundle"].setToolTip(tooltip or "Model bundle")

    def show_face(self, face: bool | None) -> None:
        """True / False, or None when there is no frame to speak of."""
        self._set("face", "" if face is None else f"face: {'yes' if face else 'no'}")
        style = "color: #b3261e; font-weight: bold;" if face is False else ""
        if self.labels["face"].styleSheet() != style:  # setting one re-polishes the label
            self.labels["face"].setStyleSheet(style)

    def show_live(self, source: str, stats: PipelineStats, backend: str, recording: str = "") -> None:
        """``stats`` from the live session; ``recording`` e.g. '● REC 120 frames → session-…'."""
        p95 = stats.latency_ms["p95"]
        self._set("mode", f"live: {source}")
        self._set("capture", f"in {stats.capture_fps:4.1f} fps")
        self._set("processing", f"out {stats.processing_fps:4.1f} fps")
        self._set("dropped", f"dropped {stats.dropped}")
        self._set("latency", "p95 —" if math.isnan(p95) else f"p95 {p95:.0f} ms")
        self._show_backend(backend)
        self._set("rec", recording)

    def _show_backend(self, backend: str) -> None:
        """The backends' names; what each one is (e.g. "numpy (online PB recognition, process N)")
        in the tooltip."""
        self._set("backend", f"backend: {_DETAIL.sub('', backend)}")
        tip = f"Inference backends: {backend}"
        if self.labels["backend"].toolTip() != tip:  # this runs with every status refresh
            self.labels["backend"].setToolTip(tip)

    def show_not_live(self, mode: str, backend: str) -> None:
        self._set("mode", mode)
        for key in _LIVE_ONLY:
            self._set(key, "")
        self._show_backend(backend)
