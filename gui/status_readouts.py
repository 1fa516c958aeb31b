"""What the window reads out: the big value readouts beside the plots, the status bar, the info
panel under the video, and the pipeline's errors and recording troubles as messages.

:class:`StatusReadouts` is mixed into :class:`~gui.main_window.MainWindow`; the widgets that show
it are :class:`~gui.status.StatusLine`, :class:`~gui.info_panel.InfoPanel` and the readouts in
:mod:`gui.readouts`.
"""
from __future__ import annotations

import time

from gui.live import LiveRun
from gui.readouts import show_p_fake, show_valence


class StatusReadouts:
    """Fills the readouts, status bar and info panel from the window's state.

    Keeps on the window (initialised by ``MainWindow.__init__``): ``_last_status``, when the status
    bar was last refreshed (read by the draw tick); ``_shown_errors``, the pipeline errors already
    shown (cleared by ``start``); and ``_writer_warned``, whether "recording is falling behind" was
    said (reset by ``start_recording``).

    Uses from the window: ``run``, ``replay``, ``bundle``, ``backend``, ``settings``, ``_probe``,
    ``_stopped_why``, ``_last_valence_t`` and ``_marker_count``; the widgets ``status``, ``video``,
    ``info``, ``plots`` and ``messages``; ``selected_source`` (MainWindow), ``model_availability``
    and ``expression_model`` (:class:`~gui.model_choice.ModelChoice`) and ``stop_recording``
    (:class:`~gui.recording_controls.RecordingControls`).
    """

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
