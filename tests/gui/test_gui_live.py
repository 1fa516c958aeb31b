"""The window running live: the sample clip through the full pipeline, models, errors, recording."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

from realtime.pipeline.core import Pipeline, PipelineSettings
from realtime.pipeline.runner import make_tracker
from realtime.sessions.folder import read_session
from realtime.capture.sources import FrameSource, SourceError, VideoFileSource

pytestmark = pytest.mark.gui


def _pipeline_threads() -> set[str]:
    names = {"capture", "perception", "session-writer", "pipeline-start", "camera-probe", "landmark-affect", "sta", "lstmpb"}
    return {t.name for t in threading.enumerate() if t.name in names}


def _record(w, qtbot, clip, folder, rows: int) -> None:
    """Open ``clip`` in the window and record it into ``folder`` until ``rows`` rows are written."""
    w.open_video(clip, start=False)
    w.start_recording(folder)
    qtbot.waitUntil(lambda: w.run is not None and w.run.recording and w.run.session.recording().rows >= rows,
                    timeout=8000)


@pytest.fixture
def perception_only_bundle(tmp_path):
    from engines.bundle import write_bundle_json

    write_bundle_json(tmp_path / "perception", {
        "name": "perception-only", "trained_on": "nothing: no models", "landmark_normalization": "similarity",
        "crop_size": 64, "clip_length": 16, "clip_rate_fps": 4.0})
    return tmp_path / "perception"


def test_demo_runs_the_full_pipeline_and_shows_models_as_unavailable(make_window, qtbot, perception_only_bundle):
    w = make_window(bundle_dir=str(perception_only_bundle))
    w.open_demo()
    qtbot.waitUntil(lambda: w.video.frames_shown >= 30, timeout=8000)
    assert w.mode == "live"
    assert w.video.face_shown and w.video.points.isVisible() and w.video.box.isVisible()
    # the time axis advances; with no model in the bundle the curves stay empty
    assert len(w.plots.ring) >= 30
    assert w.plots.points == (0, 0, 0)
    avail = w.model_availability()
    assert "unavailable" in avail["valence"] and "unavailable" in avail["p_fake"]
    assert w.plots.valence_readout.value.text() == "n/a"
    assert "unavailable" in w.plots.pfake_readout.detail.text()
    qtbot.waitUntil(lambda: "in " in w.status["capture"].text() and "fps" in w.status["processing"].text(),
                    timeout=2000)
    assert w.status["bundle"].text() == "bundle: perception-only"
    assert w.status["face"].text() == "face: yes"
    assert "no model" in w.status["backend"].text()


def test_demo_with_the_shipped_bundle_plots_what_it_has(make_window, qtbot):
    from engines.bundle import load_bundle
    from realtime.workers.registry import available_models

    have = available_models(load_bundle())
    w = make_window()
    w.open_demo()
    qtbot.waitUntil(lambda: w.video.frames_shown >= 30, timeout=8000)
    if have["lstmpb"]:
        qtbot.waitUntil(lambda: w.plots.points[2] >= 5, timeout=15000)  # P(fake) points arrive
        assert w.model_availability()["p_fake"] is None
    else:
        assert "unavailable" in w.model_availability()["p_fake"]
    if not have["sta"]:
        assert "unavailable" in w.model_availability()["valence"]
    assert w.status["bundle"].text() == "bundle: default"


def test_a_model_worker_fills_both_plots_and_the_attention_overlay(make_window, qtbot, affect_factory, short_clip):
    w = make_window(pipeline_factory=affect_factory)
    w.open_video(short_clip)
    qtbot.waitUntil(lambda: min(w.plots.points[0], w.plots.points[2]) >= 30 and w.plots.points[1] >= 2, timeout=8000)
    n_val, n_dots, _ = w.plots.points
    _, v = w.plots.valence_curve.getData()
    _, p = w.plots.pfake_curve.getData()
    assert np.nanmin(v) >= -1 and np.nanmax(v) <= 1 and np.nanmin(p) >= 0 and np.nanmax(p) <= 1
    assert n_dots <= n_val // 8 + 1  # one dot per 16-frame value, not one per frame
    assert w.model_availability() == {"valence": None, "p_fake": None}
    qtbot.waitUntil(lambda: w.plots.valence_readout.value.text() not in ("—", "n/a"), timeout=2000)
    float(w.plots.valence_readout.value.text())  # a number, e.g. "+0.42"
    assert w.plots.pfake_readout.verdict.text() in ("reads as genuine", "reads as posed")
    qtbot.waitUntil(lambda: w.video.attention_shown, timeout=2000)
    w.session_bar.show_attention.setChecked(False)
    qtbot.waitUntil(lambda: not w.video.attention_shown, timeout=2000)


def test_recording_from_the_window_writes_a_valid_session(make_window, qtbot, affect_factory, short_clip, tmp_path):
    w = make_window(pipeline_factory=affect_factory)
    w.settings.record_video = True
    w.open_video(short_clip, start=False)
    out = tmp_path / "rec"
    assert w.start_recording(out) == out
    qtbot.waitUntil(lambda: w.run is not None and w.run.recording and w.run.session.recording().rows >= 20, timeout=8000)
    t_plot, _ = w.add_marker("stimulus")
    assert "last 'stimulus' saved at" in w.info.text("markers")  # said where a narrow window keeps it
    # while recording, nothing but Stop or Record ends it: the other sources are shut, looping too
    sb = w.source_bar
    assert not any(a.isEnabled() for a in (sb.open_video, sb.demo, sb.open_session, sb.loop))
    assert "Stop the recording first" in sb.demo.toolTip()
    assert w.start_recording(tmp_path / "second") is None  # one recording at a time, said not raised
    assert "already recording" in w.messages.current.text
    w.activateWindow()
    w.setFocus()
    qtbot.keyClick(w, Qt.Key.Key_M)  # the marker key
    assert w.stop_recording() is not None
    assert sb.demo.isEnabled() and sb.loop.isEnabled() and sb.demo.toolTip() == sb.demo.statusTip()
    s = read_session(out)
    assert s.complete and not s.cut_off
    assert len(s) >= 20 and s.video is not None
    assert np.isfinite(s.data["valence"]).any() and np.isfinite(s.data["p_fake"]).any()
    labels = [label for _, label in s.events]
    assert "stimulus" in labels
    assert dict((label, t) for t, label in s.events)["stimulus"] == pytest.approx(t_plot, abs=1e-3)  # one clock
    assert any(label.startswith("marker ") for label in labels), labels
    assert len(w.plots.markers) == 2


def test_recording_into_a_used_folder_is_refused_without_starting_the_source(make_window, short_clip, tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("earlier work")
    w = make_window()
    w.open_video(short_clip, start=False)
    assert w.start_recording(used) is None
    assert w.run is None and w.mode == "idle"  # the source was not started for nothing
    assert "not empty" in w.messages.current.text and not w.session_bar.record.isChecked()


def test_a_camera_that_does_not_exist_shows_an_error_and_the_app_stays_usable(make_window, qtbot, short_clip):
    w = make_window()
    w.open_camera(57)
    qtbot.waitUntil(lambda: w.messages.isVisible() and w.messages.current.level == "error", timeout=10000)
    assert "camera 57" in w.messages.current.text
    assert w.mode == "idle" and w.source_bar.start.isEnabled()
    assert "(not found)" in w.source_bar.source.currentText()
    w.open_video(short_clip)  # the app goes on
    qtbot.waitUntil(lambda: w.video.frames_shown >= 5, timeout=8000)


def test_a_file_that_is_not_a_video_shows_an_error(make_window, qtbot, tmp_path, short_clip):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    w = make_window()
    w.open_video(bad)
    qtbot.waitUntil(lambda: w.messages.current is not None and w.messages.current.level == "error", timeout=8000)
    assert "not a readable video" in w.messages.current.text and w.mode == "idle"
    assert "(cannot open)" in w.source_bar.source.currentText()  # said in the list too
    assert w.settings.last_video != str(bad)  # and not offered again at the next start


class UnpluggedAfter(FrameSource):
    """A live source that delivers ``n`` frames of a real video, then fails the way a camera that
    was unplugged does (CameraSource raises SourceError after its reconnects)."""

    live = True

    def __init__(self, inner: VideoFileSource, n: int):
        self.inner, self.n, self.info = inner, n, inner.info

    def read(self):
        if self.n == 0:
            raise SourceError("camera 0 was lost and did not come back after 5 reconnects")
        self.n -= 1
        return self.inner.read()

    def close(self):
        self.inner.close()


def test_a_source_lost_mid_run_is_reported_and_the_recording_is_kept(make_window, qtbot, short_clip, tmp_path):
    def factory(source, bundle, expression_model, backend, landmark_model):
        return Pipeline(UnpluggedAfter(source, 20), make_tracker(bundle, landmark_model), [],
                        PipelineSettings(paced=True, expression_model=expression_model))

    w = make_window(pipeline_factory=factory)
    w.source_bar.loop.setChecked(True)  # a failed source is not looped
    w.open_video(short_clip, start=False)
    w.start_recording(tmp_path / "lost")
    qtbot.waitUntil(lambda: w.mode == "idle", timeout=8000)
    assert w.messages.current.level == "error" and "was lost" in w.messages.current.text  # not hidden by infos
    s = read_session(tmp_path / "lost")
    assert s.complete and 10 <= len(s) <= 20  # a live source may drop a frame or two
    assert w.status["mode"].text() == "stopped (source failed)"


def test_end_of_a_video_stops_cleanly_and_loop_starts_over(make_window, qtbot, tiny_clip):
    w = make_window()
    w.source_bar.loop.setChecked(False)
    w.open_video(tiny_clip)
    qtbot.waitUntil(lambda: w.mode == "idle", timeout=10000)
    assert w.status["mode"].text().startswith("stopped (end of video)")
    assert w.video.frames_shown >= 15
    w.source_bar.loop.setChecked(True)
    w.start()
    qtbot.waitUntil(lambda: w.run is not None and w.run.running, timeout=8000)
    run, pipeline = w.run, w.run.session._pipeline
    # a second pass with a time axis that keeps running past the clip's 1 s, in the same pipeline:
    # a loop costs no rebuild (no model or landmark reload, no pause of the video)
    qtbot.waitUntil(lambda: w.plots.ring.column(0).size and w.plots.ring.column(0)[-1] > 1.3, timeout=12000)
    assert w.mode == "live" and w.run is run and w.run.session._pipeline is pipeline
    assert pipeline.source.loops >= 1
    t = w.plots.ring.column(0)
    assert np.all(np.diff(t[np.isfinite(t)]) > 0)  # one clock across the loop
    w.source_bar.loop.setChecked(False)  # unticked while playing: this pass is the last
    qtbot.waitUntil(lambda: w.mode == "idle", timeout=8000)
    assert w.status["mode"].text().startswith("stopped (end of video)")


def test_stop_on_the_toolbar_finishes_the_recording_off_the_gui_thread(make_window, qtbot, short_clip, tmp_path):
    import time

    w = make_window()
    w.source_bar.loop.setChecked(False)
    _record(w, qtbot, short_clip, tmp_path / "stopped", rows=5)
    t0 = time.perf_counter()
    w.source_bar.stop.trigger()
    returned_ms = (time.perf_counter() - t0) * 1e3
    assert w.run is None and w.mode == "stopping" and not w.session_bar.record.isChecked()
    assert returned_ms < 100, returned_ms  # ≈ 200 ms of joins and file closing are the stopper thread's work
    qtbot.waitUntil(lambda: w.mode == "idle", timeout=8000)
    assert "Session saved" in w.messages.current.text
    s = read_session(tmp_path / "stopped")
    assert s.complete and s.meta["stopped"] == "stopped by the user"


def test_start_on_the_toolbar_plays_a_looping_video_in_a_loop(make_window, qtbot, tiny_clip):
    w = make_window()
    w.open_video(tiny_clip, start=False)
    w.source_bar.loop.setChecked(True)
    w.source_bar.start.trigger()
    qtbot.waitUntil(lambda: w.run is not None and w.run.running, timeout=8000)
    qtbot.waitUntil(lambda: w.run.session._pipeline.source.loops >= 1, timeout=8000)
    assert w.mode == "live"
    w.stop()
    assert w.mode == "idle"


def test_closing_the_window_stops_every_thread_and_finishes_the_recording(make_window, qtbot, short_clip, tmp_path):
    before = _pipeline_threads()
    w = make_window()
    _record(w, qtbot, short_clip, tmp_path / "closing", rows=5)
    assert {"capture", "perception", "session-writer"} <= _pipeline_threads()
    w.close()
    assert _pipeline_threads() - before == set()
    assert read_session(tmp_path / "closing").complete


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_pipeline_thread_errors_reach_the_banner_not_a_dialog(make_window, qtbot):
    w = make_window()
    with qtbot.capture_exceptions() as caught:
        t = threading.Thread(target=lambda: 1 / 0, name="faulty")
        t.start()
        t.join()
        qtbot.waitUntil(lambda: w.messages.current is not None, timeout=2000)
    assert "ZeroDivisionError" in w.messages.current.text and "faulty" in w.messages.current.text
    assert w.messages.isVisible()
    assert not caught or all(c[0] is ZeroDivisionError for c in caught)


def test_a_full_disk_is_shown_at_once_and_analysis_goes_on(make_window, qtbot, short_clip, tmp_path):
    from full_disk import fill_disk_after

    w = make_window()
    w.source_bar.loop.setChecked(False)
    _record(w, qtbot, short_clip, tmp_path / "full", rows=3)
    fill_disk_after(w.run.session._writer, room=0)
    qtbot.waitUntil(lambda: w.messages.current is not None and "disk is full" in w.messages.current.text,
                    timeout=3000)
    assert w.messages.current.level == "error" and not w.run.recording
    assert w.mode == "live"  # the analysis goes on
    s = read_session(tmp_path / "full")
    assert s.complete and len(s) >= 3 and "disk is full" in s.meta["faults"][0]


def test_enter_in_the_marker_label_field_adds_a_marker(make_window, qtbot, affect_factory, short_clip, tmp_path):
    w = make_window(pipeline_factory=affect_factory)
    _record(w, qtbot, short_clip, tmp_path / "rec", rows=5)
    field = w.session_bar.marker_label
    field.clear()
    field.setFocus()
    qtbot.keyClicks(field, "probe")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert w.stop_recording() is not None
    assert [label for _, label in read_session(tmp_path / "rec").events] == ["probe 1"]
    assert len(w.plots.markers) == 1


def test_recording_never_widens_the_window(make_window, qtbot, affect_factory, short_clip, tmp_path):
    w = make_window(pipeline_factory=affect_factory)
    w.resize(1400, 900)
    _record(w, qtbot, short_clip, tmp_path / ("a-long-session-folder-name-" + "x" * 60), rows=20)
    qtbot.wait(600)  # a few status refreshes with the recording's text
    assert w.width() == 1400 and w.minimumSizeHint().width() < 1400
    assert w.status["rec"].text().startswith("● REC") and "x" * 60 in w.status["rec"].toolTip()
    # every live field shown at once still fits a window on an 800-px screen
    assert w.statusBar().minimumSizeHint().width() <= 780, w.statusBar().minimumSizeHint().width()
    w.stop_recording()


def test_a_recording_started_mid_run_shares_the_plots_clock(make_window, qtbot, affect_factory, short_clip,
                                                          tmp_path):
    w = make_window(pipeline_factory=affect_factory)
    w.open_video(short_clip)
    qtbot.waitUntil(lambda: w.run is not None and w.run.running and w.run.bridge.latest() is not None
                    and w.run.bridge.latest().media_s > 0.5, timeout=8000)
    w.start_recording(tmp_path / "rec")
    qtbot.waitUntil(lambda: w.run.session.recording().rows >= 10, timeout=8000)
    t_plot, _ = w.add_marker("late")
    w.stop_recording()
    s = read_session(tmp_path / "rec")
    assert s.data["t_s"][0] > 0.5  # the session's time is the source's, not restarted at the recording
    # frames.csv keeps times to 0.1 ms: the marker may fall on the last frame recorded
    assert s.events[0][0] == pytest.approx(t_plot, abs=1e-3)
    assert s.data["t_s"][0] - 1e-4 <= t_plot <= s.data["t_s"][-1] + 1e-4


def test_a_recording_that_falls_behind_is_said(make_window, qtbot, affect_factory, tmp_path):
    from realtime.pipeline.runner import SAMPLE_CLIP

    w = make_window(pipeline_factory=affect_factory)
    # the sample clip: long enough for a quarter of the writer's buffer to fill
    _record(w, qtbot, SAMPLE_CLIP, tmp_path / "slow", rows=3)
    writer = w.run.session._writer  # the test stalls its disk
    gate = threading.Event()
    real_write = writer._write
    writer._write = lambda result, image: (gate.wait(10), real_write(result, image))  # the disk stalls
    qtbot.waitUntil(lambda: w.messages.current is not None and "falling behind" in w.messages.current.text,
                    timeout=15000)
    assert w.messages.current.level == "warning" and w.run.recording
    gate.set()
    assert w.stop_recording() is not None
    assert read_session(tmp_path / "slow").complete
