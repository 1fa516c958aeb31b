"""The window's controls: the source and session toolbars, and the replay bar.

Widgets only: they hold no pipeline and emit nothing but Qt's own signals; the main window wires
them to its actions.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QStyle,
    QToolBar,
    QWidget,
)

from engines.expressions import EXPRESSION_MODELS
from gui.live import SourceSpec
from gui.settings import SPEEDS


def _bold(text: str) -> QLabel:
    label = QLabel(text)
    f = label.font()
    f.setBold(True)
    label.setFont(f)
    return label


class SourceBar(QToolBar):
    """Source choice (cameras that open, the demo clip, opened videos), open video / session,
    start and stop, loop."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Source", parent)
        self.setObjectName("sourceBar")
        self.setMovable(False)
        self.setIconSize(QSize(18, 18))
        style = self.style()
        self.addWidget(_bold(" Source "))
        self.source = QComboBox()
        self.source.setMinimumContentsLength(22)
        self.source.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source.setToolTip("Camera (the ones that open are listed), the bundled sample clip, or a video you opened")
        self.addWidget(self.source)
        self.refresh = QAction(style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Find cameras", self)
        self.refresh.setToolTip("Look again for cameras that open")
        self.addAction(self.refresh)
        self.start = QAction(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Start", self)
        self.start.setToolTip("Start the selected source (F5)")
        self.start.setShortcut(QKeySequence("F5"))
        self.addAction(self.start)
        self.stop = QAction(style.standardIcon(QStyle.StandardPixmap.SP_MediaStop), "Stop", self)
        self.stop.setToolTip("Stop the source (Shift+F5)")
        self.stop.setShortcut(QKeySequence("Shift+F5"))
        self.addAction(self.stop)
        self.addSeparator()
        self.open_video = QAction(style.standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton), "Open video…", self)
        self.open_video.setShortcut(QKeySequence.StandardKey.Open)
        self.addAction(self.open_video)
        self.demo = QAction(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward), "Demo clip", self)
        self.addAction(self.demo)
        self.open_session = QAction(style.standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon), "Open session…", self)
        self.addAction(self.open_session)
        self.addSeparator()
        self.loop = QCheckBox("Loop video")
        self.addWidget(self.loop)
        # each one's help, kept as its status tip too: the window swaps the tooltip while recording
        for item, tip in ((self.open_video, "Open a video file (Ctrl+O)"),
                          (self.demo, "Play the bundled sample clip through the full pipeline"),
                          (self.open_session, "Replay a recorded session folder"),
                          (self.loop, "Start a video over when it ends (not while recording)")):
            item.setToolTip(tip)
            item.setStatusTip(tip)
        for a in (self.start, self.stop, self.open_video, self.demo, self.open_session, self.refresh):
            self.widgetForAction(a).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self._replaying: str | None = None  # the session replayed, named in the box instead of a source
        self._before_replay: SourceSpec | None = None

    @property
    def selected(self) -> SourceSpec | None:
        return self.source.currentData()

    def add_source(self, spec: SourceSpec, select: bool = False, note: str = "") -> None:
        """List ``spec`` once (cameras first, by index); ``note`` e.g. "(not found)"."""
        combo = self.source
        for i in range(combo.count()):
            if combo.itemData(i) == spec:
                if note:
                    combo.setItemText(i, f"{spec.label} {note}")
                if select:
                    combo.setCurrentIndex(i)
                return
        if spec.kind == "camera":
            at = sum(1 for i in range(combo.count())
                     if combo.itemData(i).kind == "camera" and combo.itemData(i).value < spec.value)
        else:
            at = combo.count()
        combo.insertItem(at, f"{spec.label} {note}".strip(), spec)
        combo.setItemData(at, spec.value if spec.kind == "video" else f"camera index {spec.value}",
                          Qt.ItemDataRole.ToolTipRole)
        if select:
            combo.setCurrentIndex(at)

    def show_replaying(self, name: str | None) -> None:
        """While session ``name`` is replayed, the box says so rather than naming a source that is
        not running; picking a source there (and Start) goes live again. ``None``: the replay
        closed, the source selected before it is selected again, unless another was picked."""
        if name == self._replaying:
            return
        combo, was = self.source, self._replaying
        self._replaying = name  # first: the box's change of selection below reaches the window again
        if name is not None:
            if was is None:
                self._before_replay = self.selected
            combo.setPlaceholderText(f"replaying {name}")
            combo.setCurrentIndex(-1)
        else:
            if combo.currentIndex() < 0:  # before the placeholder goes: without one, Qt selects the first
                self.select(self._before_replay)
            combo.setPlaceholderText("")
            self._before_replay = None

    def select(self, spec: SourceSpec | None) -> None:
        """Select ``spec`` if it is listed."""
        for i in range(self.source.count()):
            if self.source.itemData(i) == spec:
                self.source.setCurrentIndex(i)
                return

    def mark_cameras(self, found: list[int]) -> None:
        """Add the cameras that open; mark the listed ones that do not."""
        for i in found:
            self.add_source(SourceSpec.camera(i))
        for i in range(self.source.count()):
            spec = self.source.itemData(i)
            if spec.kind == "camera":
                self.source.setItemText(i, spec.label if spec.value in found else f"{spec.label} (not found)")


class SessionBar(QToolBar):
    """Recording, markers, screenshots, the expression model and the video overlays."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Session", parent)
        self.setObjectName("sessionBar")
        self.setMovable(False)
        self.setIconSize(QSize(18, 18))
        style = self.style()
        self.record = QAction("● Record", self)
        self.record.setCheckable(True)
        self.record.setToolTip("Record a session folder (results, markers and, if ticked, the video) (Ctrl+R)")
        self.record.setShortcut(QKeySequence("Ctrl+R"))
        self.addAction(self.record)
        self.record_video = QCheckBox("with video")
        self.record_video.setToolTip("Also store the frames as video (video.mkv), for replay")
        self.addWidget(self.record_video)
        self.addSeparator()
        self.marker_label = QLineEdit()
        self.marker_label.setPlaceholderText("marker label")
        self.marker_label.setMaximumWidth(130)
        self.marker_label.setToolTip("Label of the next marker (a number is added); Enter adds a marker")
        self.addWidget(self.marker_label)
        self.marker = QAction("⚑ Marker (M)", self)
        self.marker.setToolTip("Add a marker at the current time (key M)")
        self.marker.setShortcut(QKeySequence("M"))
        self.marker.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.addAction(self.marker)
        self.screenshot = QAction(style.standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton), "Screenshot", self)
        self.screenshot.setToolTip("Save a PNG of the window into the sessions folder (Ctrl+Shift+S)")
        self.screenshot.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.addAction(self.screenshot)
        self.addSeparator()
        self.addWidget(_bold(" Expression model "))
        self.expression = QComboBox()
        self.expression.addItems(EXPRESSION_MODELS)
        self.expression.setToolTip("Genuine/fake classifier: pooled over all expressions, or one of the six")
        self.addWidget(self.expression)
        self.addSeparator()
        self.addWidget(_bold(" Show "))
        self.show_box = QCheckBox("face box")
        self.show_landmarks = QCheckBox("landmarks")
        self.show_attention = QCheckBox("attention")
        self.show_attention.setToolTip("The STA model's spatial attention over the last clip, as a heat overlay")
        for cb in (self.show_box, self.show_landmarks, self.show_attention):
            self.addWidget(cb)
        for a in (self.record, self.marker, self.screenshot):
            self.widgetForAction(a).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)


class ReplayBar(QWidget):
    """Play/pause, a timeline slider (one step per recorded row), position, speed, close."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        style = self.style()
        self.play = QPushButton()
        self.play.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play.setToolTip("Play / pause (Space)")
        self.play.setCheckable(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setTracking(True)
        self.slider.setToolTip("Seek: drag, click, or use the arrow keys")
        self.slider.setPageStep(30)
        self.position = QLabel("0:00.0 / 0:00.0")
        mono = QFont()
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setFamily("monospace")
        self.position.setFont(mono)
        self.position.setMinimumWidth(230)
        self.speed = QComboBox()
        for s in SPEEDS:
            self.speed.addItem(f"{s:g}×", s)
        self.speed.setToolTip("Playback speed")
        self.close_replay = QPushButton("Close replay")
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        row.addWidget(_bold("Replay"))
        row.addWidget(self.play)
        row.addWidget(self.slider, 1)
        row.addWidget(self.position)
        row.addWidget(QLabel("speed"))
        row.addWidget(self.speed)
        row.addWidget(self.close_replay)

    def set_playing(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play.setIcon(self.style().standardIcon(icon))
        self.play.blockSignals(True)
        self.play.setChecked(playing)
        self.play.blockSignals(False)
