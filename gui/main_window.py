"""The main window: assembled here from its parts, and the live run started and stopped here.

Modes: idle, live (a :class:`~gui.live.LiveRun` owns a pipeline) and replay (a
:class:`~gui.replay.SessionReplay`). One precise ``QTimer`` (~60 Hz) draws: live, it takes what
the bridge collected since the last tick and redraws only when something new arrived; in replay
it shows the newest row the session player has due. The status bar refreshes four times a second.

The window's parts: :mod:`gui.window_layout` builds the widgets and menus;
:class:`~gui.model_choice.ModelChoice` (bundle and models), :class:`~gui.recording_controls.RecordingControls`
(recording, markers, screenshots), :class:`~gui.replay_controls.ReplayControls` (replay of a
session) and :class:`~gui.status_readouts.StatusReadouts` (readouts, status bar, info panel) are
mixed into :class:`MainWindow`.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QFileDialog, QMainWindow

from engines.bundle import Bundle
from gui.live import CameraProbe, LiveRun, PipelineFactory, SourceSpec
from gui.messages import ErrorRouter
from gui.model_choice import ModelChoice
from gui.plots import configure_pyqtgraph
from gui.recording_controls import RecordingControls
from gui.replay import SessionReplay
from gui.replay_controls import ReplayControls, fmt_time
from gui.run_stopper import RunStopper, StopOutcome
from gui.session_opener import SessionOpener
from gui.settings import AppSettings
from gui.status_readouts import StatusReadouts
from gui.window_layout import restore_settings, setup_ui
from realtime.capture.clip_events import ClipEvents, ClipEventsError
from realtime.pipeline.runner import SAMPLE_CLIP
from realtime.sessions.folder import SessionError
from realtime.sessions.live import LiveState
from realtime.types import AffectResult

log = logging.getLogger(__name__)

DRAW_INTERVAL_MS = 16
# The plots and readouts are redrawn at most this often; the video shows every frame it gets. A
# redraw of both plots costs the GUI thread as much as a video frame, and at 30 Hz on two shared
# cores the two together kept the event loop busy most of the time (frames shown at ~20 fps, event
# loop stalls of 60-100 ms whenever an analysis thread held the interpreter meanwhile).
PLOT_INTERVAL_S = 0.1
STATUS_INTERVAL_S = 0.25
STALL_S = 1.5  # a live source silent for this long is said to be so on the video


class MainWindow(ModelChoice, RecordingControls, ReplayControls, StatusReadouts, QMainWindow):
    """The affectscope window. Everything a user can click is also a method (for scripts and tests):
    :meth:`open_camera`, :meth:`open_video`, :meth:`open_demo`, :meth:`open_session`, :meth:`start`,
    :meth:`stop`, :meth:`start_recording`, :meth:`stop_recording`, :meth:`add_marker`,
    :meth:`save_screenshot`, :meth:`set_expression_model`, :meth:`seek_row`, :meth:`seek_time`,
    :meth:`play`, :meth:`pause`, :meth:`set_speed`. ``closed`` is emitted once the window has shut
    everything down."""

    closing = Signal()  # the window starts closing (it then stops the run, finishing a recording)
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
        self.bundle: Bundle | None = None  # ModelChoice
        self.run: LiveRun | None = None
        self._stopper: RunStopper | None = None  # a run being stopped off the GUI thread
        self._last_frame_wall = 0.0
        self._last_valence_t: float | None = None
        self._stopped_why: str | None = None
        self._probe: CameraProbe | None = None
        self._clip_events: ClipEvents | None = None  # the playing video's own annotations
        # ReplayControls
        self.replay: SessionReplay | None = None
        self._replay_row: int = -1
        self.session_opener = SessionOpener()
        self.session_opener.opened.connect(self._on_session_read)
        self.session_opener.failed.connect(self._on_session_unreadable)
        # RecordingControls
        self._pending_record: Path | None = None
        self._marker_count = 0
        self._last_marker = ""  # what became of the last marker, for the info panel
        # StatusReadouts
        self._last_status = 0.0
        self._last_plot = 0.0
        self._unshown: AffectResult | None = None  # the newest result the plots and readouts have not shown
        self._shown_errors: set[str] = set()
        self._writer_warned = False  # "recording is falling behind" said for this recording

        setup_ui(self)
        self.errors = ErrorRouter(self.messages)
        self.errors.install()
        restore_settings(self, expression_model)
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
        selected = self.selected_source
        # a video or a session opened (or being read) meanwhile
        busy = self.run is not None or self.replay is not None or self.session_opener.pending is not None
        if not found and not busy and (selected is None or selected.kind == "camera"):
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

    def _about(self) -> None:
        from realtime import __version__
        from realtime.sessions.folder import software_versions

        versions = ", ".join(f"{k} {v}" for k, v in software_versions().items())
        bundle = (f"bundle '{self.bundle.name}', trained on: {self.bundle.meta.get('trained_on', '?')}"
                  if self.bundle is not None else "no bundle loaded")
        self.messages.info(f"affectscope {__version__} — valence (STA-3DCNN) and genuine/fake expression "
                           f"(LSTM-PB + XGBoost) from the face. {bundle}. {versions}. The 68-point landmark model "
                           f"(iBUG 300-W) is for non-commercial use.")

    # ======================================================================================
    # live
    # ======================================================================================
    @property
    def mode(self) -> str:
        if self.replay is not None:
            return "replay"
        if self.run is not None:
            return "live" if self.run.running else "starting"
        return "idle" if self._stopper is None else "stopping"

    def start(self, record_to: str | Path | None = None) -> bool:
        """Start the selected source (stops what runs); ``record_to`` records from the first frame."""
        spec = self.selected_source
        if spec is None:
            self.messages.error("No source selected: pick a camera, open a video, or start the demo.")
            return False
        if self.bundle is None:
            self.messages.error("No valid model bundle is loaded: start with --bundle DIR pointing at a bundle folder.")
            return False
        self.cancel_opening()  # a session still being read is not shown over this source
        self.stop()
        self.close_replay()
        self._stopped_why = None
        self.plots.reset_live()
        self._marker_count = 0
        self._last_marker = ""  # what became of the last marker, for the info panel
        self._last_valence_t = None
        self._shown_errors.clear()
        self._last_frame_wall = 0.0
        self._unshown = None
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
        info = run.session.source_info
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
        self._clip_events = None
        if run.spec.kind == "video":
            try:
                self._clip_events = ClipEvents.for_video(run.spec.value, info.frame_count, info.fps)
            except ClipEventsError as exc:
                self.messages.warning(f"{exc}: the video plays without its events.")
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
        spec = self.selected_source
        if spec is not None and spec.kind == "camera":
            self.source_bar.add_source(spec, note="(not found)")
        elif spec is not None and not spec.is_demo:  # a video that does not open: said, not offered again
            self.source_bar.add_source(spec, note="(cannot open)")
            if self.settings.last_video == str(spec.value):
                self.settings.last_video = ""
        self.messages.error(message)
        self.video.clear(f"Could not start.\n{message}")
        self._update_controls()

    def stop(self, why: str = "stopped by the user", wait: bool = True) -> None:
        """Stop the live run, finishing a recording. The work (≈ 200 ms of joins and file closing) runs
        off the GUI thread; with ``wait`` this returns once it is done, otherwise at once (the mode
        is "stopping" until then). Also waits for a stop still in progress when ``wait``."""
        run, self.run = self.run, None  # the window holds the only reference: the run is freed with its models
        self._pending_record = None
        if run is not None:
            if self._unshown is not None:
                self._draw_plots_and_readouts()
            self.finish_stopping()  # one stop at a time
            self._stopper = RunStopper(run, why)
            self._stopper.done.connect(self._on_stopped)
            self._stopper.start()
            self._set_record_checked(False)
            self._update_controls()
            self._refresh_status()
        if wait:
            self.finish_stopping()

    def finish_stopping(self) -> None:
        """Wait for a run being stopped, and say how it ended."""
        stopper = self._stopper
        if stopper is not None:
            stopper.join()
            self._on_stopped(stopper.outcome)

    def _on_stopped(self, outcome: StopOutcome | None) -> None:
        stopper = self._stopper
        if stopper is None or outcome is not stopper.outcome:  # said already (a wait got there first)
            return
        self._stopper = None
        if outcome.error is not None:
            self.messages.error(f"Finishing the recording failed: {outcome.error}")
        if not outcome.all_stopped:
            self.messages.warning("Some pipeline threads did not stop within 5 s; they will end with the app.")
        if outcome.saved is not None:
            self.messages.info(f"Session saved: {outcome.saved[0]} ({outcome.saved[1]} frames).")
        self._update_controls()
        self._refresh_status()

    def _source_ended(self) -> None:
        run = self.run
        fault = run.session.source_fault()
        if fault is not None:
            why = "source failed"
            self.messages.error(f"{run.spec.label}: {fault.message}")
        else:
            why = "end of video"
        # A looping video never ends here: it starts over inside its source, with no rebuild.
        self._stopped_why = why
        self.stop(why, wait=False)
        self.video.caption.setText(f"{why} — press Start to run again")
        self.video.caption.setVisible(True)

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
                self.plots.append(s.t_s, s.valence, s.valence_updated, s.p_fake, s.poor)
                if s.valence_updated:
                    self._last_valence_t = s.t_s
            if taken.result is not None:
                r, f = taken.result, taken.frame
                t = r.media_s
                self._last_frame_wall = time.monotonic()
                rec = " ● REC" if run.recording else ""
                self.video.show_frame(f.image, r.face, r.box, r.landmarks68, r.attention,
                                      f" {fmt_time(t)}  ·  frame {r.frame_index}{rec} ", pose=r.pose, good=r.good)
                self._unshown = r
                if self._clip_events is not None:
                    for t_event, label in self._clip_events.due(t):
                        self.plots.add_marker(t_event, label)
                        run.session.add_event(label, t_event)  # into the recording, if one runs
            elif self._last_frame_wall and time.monotonic() - self._last_frame_wall > STALL_S:
                self.video.caption.setText(f" no frames from {run.spec.label} for "
                                           f"{time.monotonic() - self._last_frame_wall:.0f} s… ")
            if self._unshown is not None and (time.monotonic() - self._last_plot >= PLOT_INTERVAL_S
                                              or run.session.state is LiveState.ENDED):
                self._draw_plots_and_readouts()
            if run.session.state is LiveState.ENDED and not run.bridge.dirty:
                self._source_ended()
                return
        elif self.replay is not None and self.replay.playing:
            self._advance_replay()
        now = time.monotonic()
        if now - self._last_status >= STATUS_INTERVAL_S:
            self._refresh_status()

    def _draw_plots_and_readouts(self) -> None:
        """The plots and the readouts, for the newest result not yet shown in them."""
        r, self._unshown = self._unshown, None
        self._last_plot = time.monotonic()
        self.plots.draw()
        self._set_readouts(r.face, r.valence, r.p_fake, self.model_availability(), t_now=r.media_s,
                           expression=r.expression_model, quality=(r.valence_quality, r.p_fake_quality))

    # ======================================================================================
    # controls
    # ======================================================================================
    def _update_controls(self) -> None:
        mode = self.mode
        sb, ses = self.source_bar, self.session_bar
        busy = mode in ("live", "starting")
        sb.show_replaying(self.replay.root.name if mode == "replay" else None)
        sb.start.setEnabled(self.bundle is not None and not busy and self.selected_source is not None)
        sb.stop.setEnabled(busy)
        recording = self.run is not None and self.run.recording
        ses.record.setEnabled(self.bundle is not None and mode != "replay")
        ses.record_video.setEnabled(not recording)
        ses.marker.setEnabled(mode == "live")
        ses.show_attention.setEnabled(mode != "replay")
        ses.show_attention.setToolTip("The STA model's spatial attention over the last clip, as a heat overlay"
                                      if mode != "replay" else "Attention maps are not stored in sessions")
        # the expression model reads the live stream; a replay shows what was recorded
        ses.expression.setEnabled(not recording and mode != "replay")
        self.source_bar.source.setEnabled(not busy)
        self.open_bundle_action.setEnabled(not busy)
        # opening another source ends the run: while a recording runs, only Stop (or Record) ends it
        for item, why in ((sb.open_video, "Stop the recording first (a new source would end it)"),
                          (sb.demo, "Stop the recording first (a new source would end it)"),
                          (sb.open_session, "Stop the recording first (a replay would end it)"),
                          (sb.loop, "Not while recording: the recording ends with the video")):
            item.setEnabled(not recording)
            item.setToolTip(why if recording else item.statusTip())
        title = "affectscope"
        if mode == "replay":
            title += f" — replay {self.replay.root.name}"
        elif self.run is not None:
            title += f" — {self.run.spec.label}"
        self.setWindowTitle(title)

    def _set_overlay(self, name: str, on: bool) -> None:
        self.video.set_overlay_visible(name, on)
        self.settings.set_overlay(name, on)
        self._redraw_paused_row()

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
        self.closing.emit()
        self._timer.stop()
        self.cancel_opening()
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
