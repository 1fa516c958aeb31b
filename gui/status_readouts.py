"""What the window reads out: the big value readouts beside the plots, the status bar, the info
panel under the video, and the pipeline's errors and recording troubles as messages.

:class:`StatusReadouts` is mixed into :class:`~gui.main_window.MainWindow`; the widgets that show
it are :class:`~gui.status.StatusLine`, :class:`~gui.info_panel.InfoPanel` and the readouts in
:mod:`gui.readouts`.
"""
from __future__ import annotations

import time

from gui.live import LiveRun
from realtime.pipeline.health import FaultKind
from gui.readouts import show_p_fake, show_valence


class StatusReadouts:
    """Fills the readouts, status bar and info panel from the window's state.

    Keeps on the window (initialised by ``MainWindow.__init__``): ``_last_status``, when the status
    bar was last refreshed (read by the draw tick); ``_shown_errors``, the pipeline errors already
    shown, by thread (cleared by ``start``); and ``_writer_warned``, whether "recording is falling behind" was
    said (reset by ``start_recording``).

    Uses from the window: ``run``, ``replay``, ``bundle``, ``backend``, ``settings``, ``_probe``, ``_stopper``,
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
                      missing: dict[str, str | None], t_now: float, expression: str | None, idle: bool = False,
                      quality: tuple[float | None, float | None] = (None, None)) -> None:
        """``quality``: the shares of good frames behind the valence and the P(fake) shown."""
        ago = None if self._last_valence_t is None or self.replay is not None else t_now - self._last_valence_t
        show_valence(self.plots.valence_readout, valence, face, missing.get("valence"), idle, ago, quality[0])
        show_p_fake(self.plots.pfake_readout, p_fake, face, expression or self.expression_model, missing.get("p_fake"),
                    idle, quality[1])
        self.plots.set_notes(missing.get("valence") or "", missing.get("p_fake") or "")

    # -- status bar -------------------------------------------------------------------------
    def _refresh_status(self) -> None:
        self._last_status = time.monotonic()
        self._refresh_info()
        st, run = self.status, self.run
        st.show_display_rate(self.video.rate.rate())
        stats = run.session.stats() if run is not None and run.running else None
        if stats is not None:
            rec = run.session.recording()
            st.show_live(run.spec.label, stats, self._backend_label(run), f"● REC {rec.rows} frames" if rec else "")
            st["rec"].setToolTip(f"Recording to {rec.path}" if rec else "Recording")
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
        elif self._stopper is not None:
            mode = "stopping…"
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
        uri = run.session.source_info if run is not None else None
        running = uri is not None
        if running:
            source = run.spec.label
        else:
            sel = self.selected_source
            source = f"{sel.label} (not started)" if sel is not None else "none selected"
        recording = None
        rec = run.session.recording() if run is not None else None
        if rec is not None:
            recording = f"{rec.path} ({rec.rows} frames{', with video' if self.settings.record_video else ''})"
        self.info.show_live(source, uri, self.bundle, self.model_availability(), running, self.expression_model,
                            recording, self.settings.sessions_dir, self._marker_count if running else None,
                            self._last_marker if running else "")

    @staticmethod
    def _backend_label(run: LiveRun) -> str:
        models = run.session.models()
        names = [m.backend for m in models if m.backend]
        if names:
            return ", ".join(dict.fromkeys(names))
        if not models:
            return "— (no model in the bundle)"
        return run.backend

    def _show_pipeline_errors(self, run: LiveRun) -> None:
        rec = run.session.recording()
        if rec is not None and rec.failure:  # a full disk: say it now, keep analysing
            self.stop_recording()
            self.messages.error(rec.failure)
        elif rec is not None and rec.behind and not self._writer_warned:
            self._writer_warned = True  # once per recording: it repeats every status tick otherwise
            self.messages.warning(rec.behind)
        for fault in run.session.faults():
            # a failed source ends the run (said then); a faulted model shows in its readout
            if fault.kind is not FaultKind.JOBS_FAILED or fault.where in self._shown_errors:
                continue
            self._shown_errors.add(fault.where)  # once per thread: the count in the message grows
            self.messages.warning(f"{fault} (counted; analysis goes on)")
