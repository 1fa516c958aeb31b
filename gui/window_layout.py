"""The window's widgets, put together: toolbars, video and info panel beside the plots, message
banner, replay bar, status bar, menus and shortcuts.

In the spirit of Qt Designer's ``setupUi``: :func:`setup_ui` creates the widgets as attributes of
the window and connects their signals to the window's methods; :func:`restore_settings` then puts
the saved settings into them. Neither holds any state of its own.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QSplitter, QStatusBar, QVBoxLayout, QWidget

from gui.controls import ReplayBar, SessionBar, SourceBar
from gui.info_panel import InfoPanel
from gui.live import SourceSpec
from gui.messages import MessageBar
from gui.plots import AffectPlots
from gui.settings import SPEEDS
from gui.status import StatusLine
from gui.video_view import VideoView
from realtime.pipeline.runner import SAMPLE_CLIP

if TYPE_CHECKING:
    from gui.main_window import MainWindow


def setup_ui(window: MainWindow) -> None:
    """Create the window's widgets (``source_bar``, ``session_bar``, ``messages``, ``video``,
    ``plots``, ``replay_bar``, ``info``, ``left``, ``splitter``, ``status``, and the menu actions
    ``open_bundle_action`` and ``sessions_dir_action``) and wire them to its methods."""
    window.source_bar = SourceBar(window)
    window.session_bar = SessionBar(window)
    window.addToolBar(window.source_bar)
    window.addToolBarBreak()
    window.addToolBar(window.session_bar)

    window.messages = MessageBar()
    window.video = VideoView()
    window.plots = AffectPlots()
    window.replay_bar = ReplayBar()
    window.replay_bar.hide()

    window.info = InfoPanel()
    window.left = QWidget()
    left = QVBoxLayout(window.left)
    left.setContentsMargins(0, 0, 0, 0)
    left.setSpacing(6)
    left.addWidget(window.video, 1)
    left.addWidget(window.info, 0)
    window.splitter = QSplitter(Qt.Orientation.Horizontal)
    window.splitter.addWidget(window.left)
    window.splitter.addWidget(window.plots)
    window.splitter.setStretchFactor(0, 5)
    window.splitter.setStretchFactor(1, 6)
    window.splitter.setChildrenCollapsible(False)

    central = QWidget()
    lay = QVBoxLayout(central)
    lay.setContentsMargins(6, 0, 6, 4)
    lay.setSpacing(4)
    lay.addWidget(window.messages)
    lay.addWidget(window.splitter, 1)
    lay.addWidget(window.replay_bar)
    window.setCentralWidget(central)

    sb = QStatusBar()
    window.setStatusBar(sb)
    window.status = StatusLine(sb)

    sbar, ses, rb = window.source_bar, window.session_bar, window.replay_bar
    sbar.refresh.triggered.connect(window.refresh_cameras)
    sbar.start.triggered.connect(lambda: window.start())  # not window.start: triggered passes a bool
    sbar.stop.triggered.connect(lambda: window.stop(wait=False))  # the stop finishes off the GUI thread
    sbar.open_video.triggered.connect(window._ask_video)
    sbar.demo.triggered.connect(window.open_demo)
    sbar.open_session.triggered.connect(window._ask_session)
    sbar.loop.toggled.connect(window._on_loop_toggled)
    sbar.source.currentIndexChanged.connect(lambda _i: window._update_controls())  # Start needs a source
    ses.record.toggled.connect(window._on_record_toggled)
    ses.record_video.toggled.connect(lambda on: setattr(window.settings, "record_video", on))
    ses.marker.triggered.connect(lambda: window.add_marker())
    # The M shortcut types an "m" while the label field has focus; there Enter adds the marker.
    ses.marker_label.returnPressed.connect(lambda: window.add_marker())
    ses.marker_label.editingFinished.connect(
        lambda: setattr(window.settings, "marker_label", ses.marker_label.text().strip() or "marker"))
    ses.screenshot.triggered.connect(lambda: window.save_screenshot())
    ses.expression.currentTextChanged.connect(window.set_expression_model)
    for name, cb in (("box", ses.show_box), ("landmarks", ses.show_landmarks), ("attention", ses.show_attention)):
        cb.toggled.connect(lambda on, n=name: window._set_overlay(n, on))
    rb.play.toggled.connect(lambda on: window.play() if on else window.pause())
    rb.slider.valueChanged.connect(window._on_slider)
    rb.speed.currentIndexChanged.connect(lambda i: window.set_speed(rb.speed.itemData(i)))
    rb.close_replay.clicked.connect(window.close_replay)
    window.plots.cursor_dragged.connect(window.seek_time)
    space = QShortcut(QKeySequence(Qt.Key.Key_Space), window)
    space.activated.connect(window._toggle_play)
    esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), window)
    esc.activated.connect(window.messages.dismiss)
    _build_menus(window)
    window.resize(1400, 860)


def _build_menus(window: MainWindow) -> None:
    """File, Run and Help menus: mostly the toolbars' actions, plus bundle, sessions folder, quit, about."""
    sbar, ses = window.source_bar, window.session_bar
    window.open_bundle_action = QAction("Open model bundle…", window)
    window.open_bundle_action.triggered.connect(window._ask_bundle)
    window.sessions_dir_action = QAction("Sessions folder…", window)
    window.sessions_dir_action.setToolTip("Where recordings and screenshots are saved")
    window.sessions_dir_action.triggered.connect(window._ask_sessions_dir)
    quit_action = QAction("Quit", window)
    quit_action.setShortcut(QKeySequence.StandardKey.Quit)
    quit_action.triggered.connect(window.close)
    menu = window.menuBar()
    f = menu.addMenu("&File")
    for a in (sbar.open_video, sbar.demo, sbar.open_session, None, window.open_bundle_action,
              window.sessions_dir_action, None, ses.screenshot, None, quit_action):
        f.addSeparator() if a is None else f.addAction(a)
    r = menu.addMenu("&Run")
    for a in (sbar.start, sbar.stop, sbar.refresh, None, ses.record, ses.marker):
        r.addSeparator() if a is None else r.addAction(a)
    h = menu.addMenu("&Help")
    about = QAction("About affectscope", window)
    about.triggered.connect(window._about)
    h.addAction(about)


def restore_settings(window: MainWindow, expression_model: str | None) -> None:
    """Put the saved settings into the widgets built by :func:`setup_ui`: expression model (unless
    ``expression_model`` overrides it), overlays, looping, replay speed, the sources offered,
    window geometry and splitter position."""
    s, ses = window.settings, window.session_bar
    ses.expression.blockSignals(True)
    ses.expression.setCurrentText(expression_model or s.expression_model)
    ses.expression.blockSignals(False)
    ses.record_video.setChecked(s.record_video)
    ses.marker_label.setText(s.marker_label)
    for name, cb in (("box", ses.show_box), ("landmarks", ses.show_landmarks), ("attention", ses.show_attention)):
        cb.setChecked(s.overlay(name))
        window.video.set_overlay_visible(name, s.overlay(name))
    window.source_bar.loop.setChecked(s.loop_video)
    window.replay_bar.speed.blockSignals(True)
    window.replay_bar.speed.setCurrentIndex(SPEEDS.index(s.replay_speed))
    window.replay_bar.speed.blockSignals(False)
    window.source_bar.add_source(SourceSpec.video(SAMPLE_CLIP))
    if s.last_video and Path(s.last_video).is_file():
        window.source_bar.add_source(SourceSpec.video(s.last_video))
    window.source_bar.add_source(SourceSpec.camera(s.camera_index), select=True)
    if s.geometry is not None:
        window.restoreGeometry(s.geometry)
    if s.splitter is not None:
        window.splitter.restoreState(s.splitter)
