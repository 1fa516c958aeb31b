"""Recording a live run into a session folder, markers, screenshots and where they are saved.

:class:`RecordingControls` is mixed into :class:`~gui.main_window.MainWindow`; the session writer
itself belongs to the :class:`~gui.live.LiveRun`.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from gui.live import new_session_dir
from realtime.sessions.folder import SessionError, check_new_session_folder


class RecordingControls:
    """The window's Record, Marker and Screenshot actions.

    Keeps on the window (initialised by ``MainWindow.__init__``): ``_pending_record``, the folder to
    record into once a starting source runs (taken by ``MainWindow._on_started``, dropped by
    ``stop`` and ``_on_failed``); ``_marker_count``, the markers added in this run (reset by
    ``start``); and resets ``_writer_warned`` (:class:`~gui.status_readouts.StatusReadouts`) for
    each recording.

    Uses from the window: ``run``, ``replay`` and ``settings``; the widgets ``session_bar``,
    ``plots`` and ``messages``; Qt's ``statusBar()`` and ``grab()``; and the methods ``start`` and
    ``_update_controls`` (MainWindow) and ``cancel_opening`` (ReplayControls: a session still being
    read for replay would end the recording when shown).
    """

    def _ask_sessions_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for recorded sessions and screenshots",
                                                str(self.settings.sessions_dir))
        if path:
            self.settings.sessions_dir = path

    def start_recording(self, folder: str | Path | None = None) -> Path | None:
        """Record into ``folder`` (default: a new timestamped folder in the sessions folder).
        Starts the selected source first when nothing runs."""
        folder = Path(folder) if folder is not None else new_session_dir(self.settings.sessions_dir)
        self._writer_warned = False
        self.cancel_opening()  # a session still being read would end this recording when shown
        try:
            if self.run is not None and self.run.recording:
                raise SessionError(f"already recording to {self.run.record_path}; stop that recording first")
            check_new_session_folder(folder)  # before a source is started for it
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
        """Check or uncheck the Record action without acting on it."""
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
        # said where it stays readable (the status bar's message area is the first thing a narrow
        # window squeezes out), and in the status bar for a few seconds
        self._last_marker = (f"'{text}' shown, not saved (not recording)" if t_session is None
                             else f"'{text}' saved at {t_session:.2f} s")
        self.statusBar().showMessage(f"Marker {self._last_marker}", 4000)
        self._refresh_status()
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
