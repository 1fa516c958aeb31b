"""Replaying a recorded session in the window: open and close it, seek, play, pause, speed.

:class:`~gui.replay.SessionReplay` reads the session and keeps the playback clock;
:class:`ReplayControls` (mixed into :class:`~gui.main_window.MainWindow`) shows its rows on the
video, plots, readouts and replay bar.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from gui.replay import ReplayRow, SessionReplay
from gui.settings import SPEEDS
from realtime.sessions.folder import SessionError


def fmt_time(t: float) -> str:
    """Seconds as m:ss.s, as the video caption and the replay bar show them."""
    m, s = divmod(max(t, 0.0), 60.0)
    return f"{int(m)}:{s:04.1f}"


class ReplayControls:
    """The window's replay mode.

    Keeps on the window (initialised by ``MainWindow.__init__``): ``replay``, the open
    :class:`~gui.replay.SessionReplay` or None, ``_replay_row``, the row shown (-1 before any), and
    ``session_opener``, the :class:`~gui.session_opener.SessionOpener` that reads a session on a thread.

    Uses from the window: the widgets ``video``, ``plots``, ``replay_bar``, ``messages`` and
    ``status``; ``settings``; and the methods ``stop`` and ``_update_controls`` (MainWindow),
    ``_refresh_status`` and ``_set_readouts`` (:class:`~gui.status_readouts.StatusReadouts`).
    """

    def _ask_session(self) -> None:
        start_dir = self.settings.last_session or str(self.settings.sessions_dir)
        path = QFileDialog.getExistingDirectory(self, "Open a recorded session folder", start_dir)
        if path:
            self.open_session(path, wait=False)

    def open_session(self, folder: str | Path, wait: bool = True) -> bool:
        """Replay a recorded session folder (stops a live run); it opens paused at its first row.

        With ``wait`` the session is read here and the return says whether it opened. Without, it
        is read on a thread (an hour's session takes a second or two, which the window would spend
        frozen) while the window goes on; it is shown once read, or what is wrong is said, and the
        return is True. Starting a source meanwhile cancels the opening."""
        self.cancel_opening()
        if not wait:
            self.session_opener.open(folder, self.settings.replay_speed)
            self.messages.info(self._opening_text(folder))
            self._refresh_status()
            return True
        try:
            replay = SessionReplay(folder, speed=self.settings.replay_speed)
        except SessionError as exc:
            self.messages.error(f"Cannot replay: {exc}")
            return False
        self._show_session(replay, folder)
        return True

    def cancel_opening(self) -> None:
        """Forget a session still being read (its note goes too): a source or a recording was
        started, another session asked for, or the window closes."""
        if self.session_opener.pending is not None:
            self.messages.withdraw(self._opening_text(self.session_opener.pending))
        self.session_opener.cancel()

    @staticmethod
    def _opening_text(folder: str | Path) -> str:
        return f"Opening the session {Path(folder).name}…"

    def _on_session_read(self, replay: SessionReplay, folder: str) -> None:
        self.messages.withdraw(self._opening_text(folder))
        self._show_session(replay, folder)

    def _on_session_unreadable(self, folder: str, message: str) -> None:
        self.messages.withdraw(self._opening_text(folder))
        self.messages.error(f"Cannot replay: {message}")
        self._refresh_status()

    def _show_session(self, replay: SessionReplay, folder: str | Path) -> None:
        self.stop()
        self.close_replay()
        self.replay = replay
        self.settings.last_session = str(Path(folder))
        data = replay.session.data
        self.plots.show_session(replay.t_s, data["valence"], data["valence_updated"], data["p_fake"], replay.events,
                                poor=(data["face"] == 1) & (data["good"] == 0))
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

    def _advance_replay(self) -> None:
        """On a draw tick while playing: show the newest row that is due; pause at the end."""
        r = self.replay.due()
        if r is not None:
            self._show_replay_row(r)
        if self.replay.at_end:
            self.pause()

    def _redraw_paused_row(self) -> None:
        """Show the current row again while paused (after an overlay was switched on or off)."""
        if self.replay is not None and self._replay_row >= 0 and not self.replay.playing:
            self.seek_row(self._replay_row)

    def _show_replay_row(self, r: ReplayRow) -> None:
        rep = self.replay
        self._replay_row = r.row
        frame = r.image
        caption = f" {fmt_time(r.t_s)}  ·  frame {r.frame}  ·  row {r.row + 1}/{rep.rows} "
        if frame is not None:
            self.video.show_frame(frame, r.face, r.box, r.landmarks68, None, caption, pose=r.pose, good=r.good)
        else:
            self.video.clear("No video in this session: the results are replayed alone."
                             if not rep.has_video else "The video ends before this row.")
        self.plots.set_cursor(r.t_s)
        slider = self.replay_bar.slider
        if slider.value() != r.row:
            slider.blockSignals(True)
            slider.setValue(r.row)
            slider.blockSignals(False)
        self.replay_bar.position.setText(f"{fmt_time(r.t_s)} / {fmt_time(rep.duration_s)}  #{r.frame}")
        missing = {k: None if rep.has_values(k) else "not recorded in this session" for k in ("valence", "p_fake")}
        self._set_readouts(r.face, r.valence, r.p_fake, missing, t_now=r.t_s,
                           expression=rep.session.meta.get("expression_model"),
                           quality=(r.valence_quality, r.p_fake_quality))
        self.status.show_face(r.face)
