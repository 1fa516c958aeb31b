"""The main window: video panel, plots with readouts, controls, status bar, message banner.

Modes: idle, live (a :class:`~gui.live.LiveRun` owns a pipeline) and replay (a
:class:`~gui.replay.SessionReplay`). One precise ``QTimer`` (~60 Hz) draws: live, it takes what
the bridge collected since the last tick and redraws only when something new arrived; in replay
it shows the newest row the session player has due. The status bar refreshes four times a second.
"""
from __future__ import annotations

import datetime as _dt
import logging
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QSplitter,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from engines.bundle import Bundle, BundleError, load_bundle
from engines.expressions import EXPRESSION_MODELS
from gui.controls import ReplayBar, SessionBar, SourceBar
from gui.info_panel import MODEL_NAMES, InfoPanel
from gui.live import CameraProbe, LiveRun, PipelineFactory, SourceSpec, new_session_dir
from gui.messages import ErrorRouter, MessageBar
from gui.plots import AffectPlots, configure_pyqtgraph
from gui.readouts import show_p_fake, show_valence
from gui.replay import ReplayRow, SessionReplay
from gui.settings import SPEEDS, AppSettings
from gui.status import StatusLine
from gui.video_view import VideoView
from realtime.model_workers import available_models
from realtime.runner import SAMPLE_CLIP
from realtime.session import SessionError

log = logging.getLogger(__name__)

DRAW_INTERVAL_MS = 16
STATUS_INTERVAL_S = 0.25
STALL_S = 1.5  # a live source silent for this long is said to be so on the video


def _fmt_time(t: float) -> str:
    m, s = divmod(max(t, 0.0), 60.0)
    return f"{int(m)}:{s:04.1f}"


class MainWindow(QMainWindow):
    """The affectscope window. Everything a user can click is also a method (for scripts and tests):
    :meth:`open_camera`, :meth:`open_video`, :meth:`open_demo`, :meth:`open_session`, :meth:`start`,
    :meth:`stop`, :meth:`start_recording`, :meth:`stop_recording`, :meth:`add_marker`,
    :meth:`save_screenshot`, :meth:`set_expression_model`, :meth:`seek_row`, :meth:`seek_time`,
    :meth:`play`, :meth:`pause`, :meth:`set_speed`. ``closed`` is emitted once the window has shut
    everything down."""

    closed = Signal()

    def __init__(self, bundle_dir: str | Path | None = None, expression_model: str | None = None,
                 backend: str = "auto", landmark_model: str | None = None, settings: AppSettings | None = None,
                 pipeline_factory: PipelineFactory | None = None, probe_cameras: bool = True):
        super().__init__()
        configure_pyqtgraph()
        self.setWindowTitle("affectscope")
        self.settings = settings if settings is not None else AppSettings()
        self.backend, self.landmark_model = backend, landmark_model
        self.pipeline_factory = pipeline_factory
        self.bundle: Bundle | None = None
        self.run: LiveRun | None = None
        self.replay: SessionReplay | None = None
        self._replay_row: int = -1
        self._last_status = 0.0
        self._shown_errors: set[str] = set()
        self._writer_warned = False  # "recording is falling behind" said for this recording
        self._marker_count = 0
        self._last_frame_wall = 0.0
        self._last_valence_t: float | None = None
        self._stopped_why: str | None = None
        self._probe: CameraProbe | None = None
        self._pending_record: Path | None = None

        self._build_ui()
        self.errors = ErrorRouter(self.messages)
        self.errors.install()
        self._restore_settings(expression_model)
        self.load_bundle(bundle_dir)
        if probe_cameras:
            self.refresh_cameras()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(DRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._update_controls()

    # ======================================================================================
    # layout
    # ======================================================================================
    def _build_ui(self) -> None:
        self.source_bar = SourceBar(self)
        self.session_bar = SessionBar(self)
        self.addToolBar(self.source_bar)
        self.addToolBarBreak()
        self.addToolBar(self.session_bar)

        self.messages = MessageBar()
        self.video = VideoView()
        self.plots = AffectPlots()
        self.replay_bar = ReplayBar()
        self.replay_bar.hide()

        self.info = InfoPanel()
        self.left = QWidget()
        left = QVBoxLayout(self.left)
        left.setContentsMargins(0, 0, 0, 0)
        left.setSpacing(6)
        left.addWidget(self.video, 1)
        left.addWidget(self.info, 0)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(self.plots)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 6)
        self.splitter.setChildrenCollapsible(False)

        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(6, 0, 6, 4)
        lay.setSpacing(4)
        lay.addWidget(self.messages)
        lay.addWidget(self.splitter, 1)
        lay.addWidget(self.replay_bar)
        self.setCentralWidget(central)

        sb = QStatusBar()
        self.setStatusBar(sb)
        self.status = StatusLine(sb)

        sbar, ses, rb = self.source_bar, self.session_bar, self.replay_bar
        sbar.refresh.triggered.connect(self.refresh_cameras)
        sbar.start.triggered.connect(self.start)
        sbar.stop.triggered.connect(self.stop)
        sbar.open_video.triggered.connect(self._ask_video)
        sbar.demo.triggered.connect(self.open_demo)
        sbar.open_session.triggered.connect(self._ask_session)
        sbar.loop.toggled.connect(self._on_loop_toggled)
        ses.record.toggled.connect(self._on_record_toggled)
        ses.record_video.toggled.connect(lambda on: setattr(self.settings, "record_video", on))
        ses.marker.triggered.connect(lambda: self.add_marker())
        # The M shortcut types an "m" while the label field has focus; there Enter adds the marker.
        ses.marker_label.returnPressed.connect(lambda: self.add_marker())
        ses.marker_label.editingFinished.connect(
            lambda: setattr(self.settings, "marker_label", ses.marker_label.text().strip() or "marker"))
        ses.screenshot.triggered.connect(lambda: self.save_screenshot())
        ses.expression.currentTextChanged.connect(self.set_expression_model)
        for name, cb in (("box", ses.show_box), ("landmarks", ses.show_landmarks), ("attention", ses.show_attention)):
            cb.toggled.connect(lambda on, n=name: self._set_overlay(n, on))
        rb.play.toggled.connect(lambda on: self.play() if on else self.pause())
        rb.slider.valueChanged.connect(self._on_slider)
        rb.speed.currentIndexChanged.connect(lambda i: self.set_speed(rb.speed.itemData(i)))
        rb.close_replay.clicked.connect(self.close_replay)
        self.plots.cursor_dragged.connect(self.seek_time)
        space = QShortcut(QKeySequence(Qt.Key.Key_Space), self)
        space.activated.connect(self._toggle_play)
        esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        esc.activated.connect(self.messages.dismiss)
        self._build_menus()
        self.resize(1400, 860)

    def _build_menus(self) -> None:
        sbar, ses = self.source_bar, self.session_bar
        self.open_bundle_action = QAction("Open model bundle…", self)
        self.open_bundle_action.triggered.connect(self._ask_bundle)
        self.sessions_dir_action = QAction("Sessions folder…", self)
        self.sessions_dir_action.setToolTip("Where recordings and screenshots are saved")
        self.sessions_dir_action.triggered.connect(self._ask_sessions_dir)
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        menu = self.menuBar()
        f = menu.addMenu("&File")
        for a in (sbar.open_video, sbar.demo, sbar.open_session, None, self.open_bundle_action, self.sessions_dir_action,
                  None, ses.screenshot, None, quit_action):
            f.addSeparator() if a is None else f.addAction(a)
        r = menu.addMenu("&Run")
        for a in (sbar.start, sbar.stop, sbar.refresh, None, ses.record, ses.marker):
            r.addSeparator() if a is None else r.addAction(a)
        h = menu.addMenu("&Help")
        about = QAction("About affectscope", self)
        about.triggered.connect(self._about)
        h.addAction(about)

    def _restore_settings(self, expression_model: str | None) -> None:
        s, ses = self.settings, self.session_bar
        ses.expression.blockSignals(True)
        ses.expression.setCurrentText(expression_model or s.expression_model)
        ses.expression.blockSignals(False)
        ses.record_video.setChecked(s.record_video)
        ses.marker_label.setText(s.marker_label)
        for name, cb in (("box", ses.show_box), ("landmarks", ses.show_landmarks), ("attention", ses.show_attention)):
            cb.setChecked(s.overlay(name))
            self.video.set_overlay_visible(name, s.overlay(name))
        self.source_bar.loop.setChecked(s.loop_video)
        self.replay_bar.speed.blockSignals(True)
        self.replay_bar.speed.setCurrentIndex(SPEEDS.index(s.replay_speed))
        self.replay_bar.speed.blockSignals(False)
        self.source_bar.add_source(SourceSpec.video(SAMPLE_CLIP))
        if s.last_video and Path(s.last_video).is_file():
            self.source_bar.add_source(SourceSpec.video(s.last_video))
        self.source_bar.add_source(SourceSpec.camera(s.camera_index), select=True)
        if s.geometry is not None:
            self.restoreGeometry(s.geometry)
        if s.splitter is not None:
            self.splitter.restoreState(s.splitter)

    # ======================================================================================
    # sources
    # ======================================================================================
    @property
    def selected_source(self) -> SourceSpec | None:
        return self.source_bar.selected

    def refresh_cameras(self) -> None:
        """Probe for cameras in the background; the list updates when the probe is done."""
        if self._probe is not None and not self._probe.done:
            return
        self._probe = CameraProbe()
        self._refresh_status()

    def _on_camera_probe(self, found: list[int]) -> None:
        self.source_bar.mark_cameras(found)
        if not found:
            self.messages.info("No camera opens on this computer: use the demo clip, a video file or a recorded session.")

    def open_camera(self, index: int, start: bool = True) -> None:
        self.settings.camera_index = index
        self.source_bar.add_source(SourceSpec.camera(index), select=True)
        if start:
            self.start()

    def open_video(self, path: str | Path, start: bool = True) -> None:
        path = Path(path)
        spec = SourceSpec.video(path)
        if not spec.is_demo:
            self.settings.last_video = str(path)
        self.source_bar.add_source(spec, select=True)
        if start:
            self.start()

    def open_demo(self) -> None:
        """The bundled sample clip through the full pipeline, looping."""
        self.source_bar.loop.setChecked(True)
        self.open_video(SAMPLE_CLIP)

    def _ask_video(self) -> None:
        start_dir = str(Path(self.settings.last_video).parent) if self.settings.last_video else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a video", start_dir,
                                              "Videos (*.mp4 *.avi *.mov *.mkv *.m4v *.webm);;All files (*)")
        if path:
            self.open_video(path)

    def _ask_bundle(self) -> None:
        start_dir = str(self.bundle.root.parent) if self.bundle is not None else str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Open a model bundle folder (holding bundle.json)", start_dir)
        if path:
            self.stop()
            if self.load_bundle(path):
                self.messages.info(f"Model bundle: {self.bundle.name} ({path})")

    def _ask_sessions_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for recorded sessions and screenshots",
                                                str(self.settings.sessions_dir))
        if path:
            self.settings.sessions_dir = path

    def _about(self) -> None:
        from realtime import __version__
        from realtime.session import software_versions

        versions = ", ".join(f"{k} {v}" for k, v in software_versions().items())
        bundle = (f"bundle '{self.bundle.name}', trained on: {self.bundle.meta.get('trained_on', '?')}"
                  if self.bundle is not None else "no bundle loaded")
        self.messages.info(f"affectscope {__version__} — valence (STA-3DCNN) and genuine/fake expression "
                           f"(LSTM-PB + XGBoost) from the face. {bundle}. {versions}. The 68-point landmark model "
                           f"(iBUG 300-W) is for non-commercial use.")

    def _ask_session(self) -> None:
        start_dir = self.settings.last_session or str(self.settings.sessions_dir)
        path = QFileDialog.getExistingDirectory(self, "Open a recorded session folder", start_dir)
        if path:
            self.open_session(path)

    # ======================================================================================
    # bundle and models
    # ======================================================================================
    def load_bundle(self, bundle_dir: str | Path | None) -> bool:
        """Load a model bundle (the shipped default when None); a bad one leaves the app usable."""
        try:
            self.bundle = load_bundle(bundle_dir)
        except BundleError as exc:
            self.bundle = None
            self.messages.error(f"Bad model bundle: {exc}. Live analysis is off until a valid bundle is loaded; "
                                f"replay of recorded sessions still works.")
            self.status.show_bundle(None)
            self._update_controls()
            return False
        self.status.show_bundle(self.bundle.name, f"{self.bundle.root}\ntrained on: {self.bundle.meta.get('trained_on', '?')}")
        self._update_controls()
        self._refresh_readouts_idle()
        return True

    def model_availability(self) -> dict[str, str | None]:
        """For 'valence' and 'p_fake': None if available, else why not (shown to the user)."""
        out: dict[str, str | None] = {}
        if self.run is not None and self.run.pipeline is not None:
            provided = {f for w in self.run.pipeline.workers for f in w.provides}
            faulted = {f: w for w in self.run.pipeline.workers for f in w.provides if w.stats.state.value == "faulted"}
            for key in ("valence", "p_fake"):
                if key in faulted:
                    out[key] = f"unavailable: the {faulted[key].name} model failed ({faulted[key].stats.error})"
                elif key in provided:
                    out[key] = None
                else:
                    out[key] = f"unavailable: bundle '{self.bundle.name}' has no {MODEL_NAMES[key]} model"
            return out
        if self.bundle is None:
            return {k: "unavailable: no model bundle loaded" for k in ("valence", "p_fake")}
        have = available_models(self.bundle)
        for key, section in (("valence", "sta"), ("p_fake", "lstmpb")):
            out[key] = None if have.get(section) else f"unavailable: bundle '{self.bundle.name}' has no {MODEL_NAMES[key]} model"
        if self.pipeline_factory is not None:  # a custom pipeline decides once it runs
            out = {k: None for k in out}
        return out

    def set_expression_model(self, name: str) -> None:
        if name not in EXPRESSION_MODELS:
            self.messages.error(f"unknown expression model {name!r}; choose one of {', '.join(EXPRESSION_MODELS)}")
            return
        self.settings.expression_model = name
        combo = self.session_bar.expression
        if combo.currentText() != name:
            combo.blockSignals(True)
            combo.setCurrentText(name)
            combo.blockSignals(False)
        if self.run is not None and self.run.running:
            if self.run.set_expression_model(name):
                self.messages.info(f"Expression model: {name} (the P(fake) estimate starts over).")
            elif self.run.pipeline.workers and not self.run.recording:
                self._restart(f"expression model changed to {name}")

    @property
    def expression_model(self) -> str:
        return self.session_bar.expression.currentText()

    # ======================================================================================
    # live
    # ======================================================================================
    @property
    def mode(self) -> str:
        if self.replay is not None:
            return "replay"
        if self.run is not None:
            return "live" if self.run.running else "starting"
        return "idle"

    def start(self, record_to: str | Path | None = None) -> bool:
        """Start the selected source (stops what runs); ``record_to`` records from the first frame."""
        spec = self.selected_source
        if spec is None:
            self.messages.error("No source selected: pick a camera, open a video, or start the demo.")
            return False
        if self.bundle is None:
            self.messages.error("No valid model bundle is loaded: start with --bundle DIR pointing at a bundle folder.")
            return False
        self.stop()
        self.close_replay()
        self._stopped_why = None
        self.plots.reset_live()
        self._marker_count = 0
        self._last_valence_t = None
        self._shown_errors.clear()
        self._last_frame_wall = 0.0
        self.run = LiveRun(spec, self.bundle, self.expression_model, self.backend, self.landmark_model,
                           self.pipeline_factory, record_to=record_to, record_video=self.settings.record_video,
                           loop=self.source_bar.loop.isChecked())
        self.run.started.connect(self._on_started)
        self.run.failed.connect(self._on_failed)
        self.run.start()
        self.video.clear(f"Opening {spec.label}…")
        self._update_controls()
        return True

    def _restart(self, why: str) -> None:
        self.messages.info(f"Restarted: {why}.")
        self.start()

    def _on_started(self, run: LiveRun) -> None:
        if run is not self.run:
            return
        info = run.pipeline.source.info
        self.messages.dismiss_all()
        folder, self._pending_record = self._pending_record, None
        if folder is not None:
            try:
                run.start_recording(folder, self.settings.record_video)
            except (SessionError, OSError) as exc:
                self.messages.error(f"Cannot record: {exc}")
                self._set_record_checked(False)
        if run.recording:
            self.messages.info(f"Recording to {run.record_path}")
        log.info("started %s (%dx%d @ %.1f fps)", run.spec.label, info.width, info.height, info.fps)
        self._update_controls()
        self._refresh_status()

    def _on_failed(self, run: LiveRun, message: str) -> None:
        if run is not self.run:
            return
        self.run.shutdown()
        self.run = None
        self._pending_record = None
        self._set_record_checked(False)
        if self.selected_source is not None and self.selected_source.kind == "camera":
            self.source_bar.add_source(self.selected_source, note="(not found)")
        self.messages.error(message)
        self.video.clear(f"Could not start.\n{message}")
        self._update_controls()

    def stop(self, why: str = "stopped by the user") -> None:
        """Stop the live run (finishing a recording); does nothing when idle."""
        run, self.run = self.run, None  # the window holds the only reference: the run is freed with its models
        self._pending_record = None
        if run is None:
            return
        rec = run.stop_recording(why)
        if not run.shutdown(why):
            self.messages.warning("Some pipeline threads did not stop within 5 s; they will end with the app.")
        if rec is not None:
            self.messages.info(f"Session saved: {rec[0]} ({rec[1]} frames).")
        self._set_record_checked(False)
        self._update_controls()
        self._refresh_status()

    def _source_ended(self) -> None:
        run = self.run
        errors = [e for e in run.pipeline.errors() if e.startswith("capture:")]
        if errors:
            why = "source failed"
            self.messages.error(f"{run.spec.label}: {errors[0].split(': ', 1)[1]}")
        else:
            why = "end of video"
        # A looping video never ends here: it starts over inside its source, with no rebuild.
        self._stopped_why = why
        self.stop(why)
        self.video.caption.setText(f"{why} — press Start to run again")
        self.video.caption.setVisible(True)

    # -- recording ------------------------------------------------------------------------------
    def start_recording(self, folder: str | Path | None = None) -> Path | None:
        """Record into ``folder`` (default: a new timestamped folder in the sessions folder).
        Starts the selected source first when nothing runs."""
        folder = Path(folder) if folder is not None else new_session_dir(self.settings.sessions_dir)
        self._writer_warned = False
        try:
            if self.run is None or not (self.run.running or self.run.starting):
                if not self.start(record_to=folder):
                    self._set_record_checked(False)
                    return None
            elif self.run.starting:
                self._pending_record = folder  # recording begins as soon as the source runs
            else:
                self.run.start_recording(folder, self.settings.record_video)
                self.messages.info(f"Recording to {folder}")
        except (SessionError, OSError) as exc:
            self.messages.error(f"Cannot record: {exc}")
            self._set_record_checked(False)
            return None
        self._set_record_checked(True)
        self._update_controls()
        return folder

    def stop_recording(self) -> tuple[Path, int] | None:
        self._pending_record = None
        if self.run is None:
            return None
        rec = self.run.stop_recording()
        if rec is not None:
            self.messages.info(f"Session saved: {rec[0]} ({rec[1]} frames).")
        self._set_record_checked(False)
        self._update_controls()
        return rec

    def _on_record_toggled(self, on: bool) -> None:
        recording = self.run is not None and self.run.recording
        if on and not recording:
            self.start_recording()
        elif not on and recording:
            self.stop_recording()

    def _set_record_checked(self, on: bool) -> None:
        a = self.session_bar.record
        a.blockSignals(True)
        a.setChecked(on)
        a.blockSignals(False)

    def add_marker(self, label: str | None = None) -> tuple[float, str] | None:
        """A marker at the current time: written to the recording (if any) and drawn on the plots.
        Without ``label`` the marker-label field's text and a running number are used."""
        if self.replay is not None:
            self.messages.info("Markers are added while running live; this session's markers are shown.")
            return None
        if self.run is None or not self.run.running:
            self.messages.warning("Nothing is running: start a source to add markers.")
            return None
        self._marker_count += 1
        base = self.session_bar.marker_label.text().strip() or "marker"
        text = label if label is not None else f"{base} {self._marker_count}"
        latest = self.run.bridge.latest()
        t_plot = latest.media_s if latest is not None else 0.0
        t_session = self.run.add_marker(text)
        self.plots.add_marker(t_plot, text)
        if t_session is None:
            self.statusBar().showMessage(f"Marker '{text}' shown (not recording, so not saved)", 4000)
        else:
            self.statusBar().showMessage(f"Marker '{text}' saved at {t_session:.2f} s", 4000)
        return t_plot, text

    def save_screenshot(self, path: str | Path | None = None) -> Path | None:
        """PNG of the whole window (default: sessions folder/screenshots/affectscope-<time>.png)."""
        if path is None:
            path = self.settings.sessions_dir / "screenshots" / f"affectscope-{_dt.datetime.now():%Y%m%d-%H%M%S-%f}.png"
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            ok = self.grab().save(str(path), "PNG")
        except OSError as exc:
            ok, why = False, str(exc)
        else:
            why = "the image could not be written"
        if not ok:
            self.messages.error(f"Screenshot not saved to {path}: {why}")
            return None
        self.statusBar().showMessage(f"Screenshot saved: {path}", 5000)
        return path

    # ======================================================================================
    # replay
    # ======================================================================================
    def open_session(self, folder: str | Path) -> bool:
        """Replay a recorded session folder (stops a live run); it opens paused at its first row."""
        try:
            replay = SessionReplay(folder, speed=self.settings.replay_speed)
        except SessionError as exc:
            self.messages.error(f"Cannot replay: {exc}")
            return False
        self.stop()
        self.close_replay()
        self.replay = replay
        self.settings.last_session = str(Path(folder))
        data = replay.session.data
        self.plots.show_session(replay.t_s, data["valence"], data["valence_updated"], data["p_fake"], replay.events)
        rb = self.replay_bar
        rb.slider.blockSignals(True)
        rb.slider.setRange(0, replay.rows - 1)
        rb.slider.setValue(0)
        rb.slider.blockSignals(False)
        rb.set_playing(False)
        rb.show()
        self._replay_row = -1
        notes = [replay.video_note] if replay.video_note else []
        if replay.session.cut_off:
            notes.append("the recording was cut off (the app or computer stopped); every row written is shown")
        if notes:
            self.messages.warning(f"{replay.root.name}: " + "; ".join(notes) + ".")
        self.seek_row(0)
        self._update_controls()
        self._refresh_status()
        return True

    def close_replay(self) -> None:
        if self.replay is None:
            return
        self.replay.close()
        self.replay = None
        self.replay_bar.set_playing(False)
        self.replay_bar.hide()
        self.plots.reset_live()
        self.video.clear("Replay closed.")
        self._update_controls()

    def seek_row(self, row: int) -> None:
        """Show recorded row ``row``: its video frame, overlays and values; the cursor moves there."""
        if self.replay is not None:
            self._show_replay_row(self.replay.seek_row(row))

    def seek_time(self, t_s: float) -> None:
        if self.replay is not None:
            self.seek_row(self.replay.row_at(t_s))

    def play(self) -> None:
        if self.replay is None:
            return
        if self.replay.at_end:
            self.seek_row(0)
        self.replay.play()
        self.replay_bar.set_playing(True)

    def pause(self) -> None:
        if self.replay is not None:
            self.replay.pause()
        self.replay_bar.set_playing(False)

    def _toggle_play(self) -> None:
        if self.replay is not None:
            self.pause() if self.replay.playing else self.play()

    def set_speed(self, speed: float) -> None:
        if speed not in SPEEDS:
            self.messages.error(f"replay speed {speed} is not offered; choose one of {', '.join(f'{s:g}' for s in SPEEDS)}")
            return
        if self.replay is not None:
            self.replay.set_speed(speed)
        self.settings.replay_speed = speed
        rb = self.replay_bar.speed
        if rb.currentData() != speed:
            rb.blockSignals(True)
            rb.setCurrentIndex(SPEEDS.index(speed))
            rb.blockSignals(False)

    def _on_slider(self, value: int) -> None:
        if self.replay is not None and value != self._replay_row:
            self.seek_row(value)

    def _show_replay_row(self, r: ReplayRow) -> None:
        rep = self.replay
        self._replay_row = r.row
        frame = r.image
        caption = f" {_fmt_time(r.t_s)}  ·  frame {r.frame}  ·  row {r.row + 1}/{rep.rows} "
        if frame is not None:
            self.video.show_frame(frame, r.face, r.box, r.landmarks68, None, caption)
        else:
            self.video.clear("No video in this session: the results are replayed alone."
                             if not rep.has_video else "The video ends before this row.")
        self.plots.set_cursor(r.t_s)
        slider = self.replay_bar.slider
        if slider.value() != r.row:
            slider.blockSignals(True)
            slider.setValue(r.row)
            slider.blockSignals(False)
        self.replay_bar.position.setText(f"{_fmt_time(r.t_s)} / {_fmt_time(rep.duration_s)}  #{r.frame}")
        missing = {k: None if rep.has_values(k) else "not recorded in this session" for k in ("valence", "p_fake")}
        self._set_readouts(r.face, r.valence, r.p_fake, missing, t_now=r.t_s,
                           expression=rep.session.meta.get("expression_model"))
        self.status.show_face(r.face)

    # ======================================================================================
    # the draw timer
    # ======================================================================================
    def _tick(self) -> None:
        if self._probe is not None and self._probe.done:
            found, self._probe = self._probe.result or [], None
            self._on_camera_probe(found)
            self._update_controls()
        run = self.run
        if run is not None and run.running:
            taken = run.bridge.take()
            for s in taken.samples:
                self.plots.append(s.t_s, s.valence, s.valence_updated, s.p_fake)
                if s.valence_updated:
                    self._last_valence_t = s.t_s
            if taken.result is not None:
                r, f = taken.result, taken.frame
                t = r.media_s
                self._last_frame_wall = time.monotonic()
                rec = " ● REC" if run.recording else ""
                self.video.show_frame(f.image, r.face, r.box, r.landmarks68, r.attention,
                                      f" {_fmt_time(t)}  ·  frame {r.frame_index}{rec} ")
                self.plots.draw()
                self._set_readouts(r.face, r.valence, r.p_fake, self.model_availability(), t_now=t,
                                   expression=r.expression_model)
            elif self._last_frame_wall and time.monotonic() - self._last_frame_wall > STALL_S:
                self.video.caption.setText(f" no frames from {run.spec.label} for "
                                           f"{time.monotonic() - self._last_frame_wall:.0f} s… ")
            if run.pipeline.finished and not run.bridge.dirty:
                self._source_ended()
                return
        elif self.replay is not None and self.replay.playing:
            r = self.replay.due()
            if r is not None:
                self._show_replay_row(r)
            if self.replay.at_end:
                self.pause()
        now = time.monotonic()
        if now - self._last_status >= STATUS_INTERVAL_S:
            self._refresh_status()

    # -- readouts ---------------------------------------------------------------------------
    def _refresh_readouts_idle(self) -> None:
        self._set_readouts(True, None, None, self.model_availability(), t_now=0.0, expression=self.expression_model,
                           idle=True)

    def _set_readouts(self, face: bool, valence: float | None, p_fake: float | None,
                      missing: dict[str, str | None], t_now: float, expression: str | None, idle: bool = False) -> None:
        ago = None if self._last_valence_t is None or self.replay is not None else t_now - self._last_valence_t
        show_valence(self.plots.valence_readout, valence, face, missing.get("valence"), idle, ago)
        show_p_fake(self.plots.pfake_readout, p_fake, face, expression or self.expression_model, missing.get("p_fake"),
                    idle)
        self.plots.set_notes(missing.get("valence") or "", missing.get("p_fake") or "")

    # -- status bar -------------------------------------------------------------------------
    def _refresh_status(self) -> None:
        self._last_status = time.monotonic()
        self._refresh_info()
        st, run = self.status, self.run
        st.show_display_rate(self.video.rate.rate())
        if run is not None and run.running:
            rec = f"● REC {run.writer.rows} frames" if run.recording else ""
            st.show_live(run.spec.label, run.pipeline.stats(), self._backend_label(run), rec)
            st["rec"].setToolTip(f"Recording to {run.record_path}" if run.recording else "Recording")
            latest = run.bridge.latest()
            st.show_face(None if latest is None else latest.face)
            self._show_pipeline_errors(run)
            return
        if run is not None and run.starting:
            mode = f"starting {run.spec.label}…"
        elif self.replay is not None:
            mode = f"replay: {self.replay.root.name}"
        elif self._probe is not None:
            mode = "looking for cameras…"
        else:
            mode = "idle" if self._stopped_why is None else f"stopped ({self._stopped_why})"
        st.show_not_live(mode, self.backend)
        if self.replay is None:
            st.show_face(None)

    def _refresh_info(self) -> None:
        if self.replay is not None:
            self.info.show_replay(self.replay)
            return
        run = self.run
        running = run is not None and run.pipeline is not None
        if running:
            source, uri = run.spec.label, run.pipeline.source.info
        else:
            sel = self.selected_source
            source, uri = (f"{sel.label} (not started)" if sel is not None else "none selected"), None
        recording = None
        if run is not None and run.recording:
            recording = f"{run.record_path} ({run.writer.rows} frames{', with video' if self.settings.record_video else ''})"
        self.info.show_live(source, uri, self.bundle, self.model_availability(), running, self.expression_model,
                            recording, self.settings.sessions_dir, self._marker_count if running else None)

    @staticmethod
    def _backend_label(run: LiveRun) -> str:
        names = []
        for w in run.pipeline.workers:
            used = getattr(w, "backend_in_use", None)
            if used:
                names.append(str(used))
        if names:
            return ", ".join(dict.fromkeys(names))
        if not run.pipeline.workers:
            return "— (no model in the bundle)"
        return run.backend

    def _show_pipeline_errors(self, run: LiveRun) -> None:
        if run.writer is not None and run.writer.failure:  # a full disk: say it now, keep analysing
            failure = run.writer.failure
            self.stop_recording()
            self.messages.error(failure)
        elif run.writer is not None and run.writer.behind and not self._writer_warned:
            self._writer_warned = True  # once per recording: it repeats every status tick otherwise
            self.messages.warning(run.writer.behind)
        for err in run.pipeline.errors():
            if err in self._shown_errors or err.startswith("capture:"):
                continue
            self._shown_errors.add(err)
            self.messages.warning(f"{err} (counted; analysis goes on)")

    # ======================================================================================
    # controls
    # ======================================================================================
    def _update_controls(self) -> None:
        mode = self.mode
        sb, ses = self.source_bar, self.session_bar
        busy = mode in ("live", "starting")
        sb.start.setEnabled(self.bundle is not None and not busy)
        sb.stop.setEnabled(busy)
        recording = self.run is not None and self.run.recording
        ses.record.setEnabled(self.bundle is not None and mode != "replay")
        ses.record_video.setEnabled(not recording)
        ses.marker.setEnabled(mode == "live")
        ses.show_attention.setEnabled(mode != "replay")
        ses.show_attention.setToolTip("The STA model's spatial attention over the last clip, as a heat overlay"
                                      if mode != "replay" else "Attention maps are not stored in sessions")
        ses.expression.setEnabled(not recording)
        self.source_bar.source.setEnabled(not busy)
        self.open_bundle_action.setEnabled(not busy)
        title = "affectscope"
        if mode == "replay":
            title += f" — replay {self.replay.root.name}"
        elif self.run is not None:
            title += f" — {self.run.spec.label}"
        self.setWindowTitle(title)

    def _set_overlay(self, name: str, on: bool) -> None:
        self.video.set_overlay_visible(name, on)
        self.settings.set_overlay(name, on)
        if self.replay is not None and self._replay_row >= 0 and not self.replay.playing:
            self.seek_row(self._replay_row)

    def _on_loop_toggled(self, on: bool) -> None:
        self.settings.loop_video = on
        if self.run is not None:
            self.run.set_looping(on)

    # ======================================================================================
    # closing
    # ======================================================================================
    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop every pipeline thread (finishing a recording), release the replay video, remember
        the layout and restore the exception hooks."""
        self._timer.stop()
        self.stop("window closed")
        self.close_replay()
        if self._probe is not None:
            self._probe.join()
            self._probe = None
        self.settings.geometry = self.saveGeometry()
        self.settings.splitter = self.splitter.saveState()
        self.settings.sync()
        self.errors.uninstall()
        super().closeEvent(event)
        self.closed.emit()
