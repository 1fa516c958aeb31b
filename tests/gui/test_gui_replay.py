"""Replay of a recorded session: seek moves the video and the cursor to the recorded frame."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from gui.replay import SessionReplay
from realtime.sessions.folder import read_session

pytestmark = pytest.mark.gui


def _video_frames_rgb(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def _closest(shown: np.ndarray, frames: list[np.ndarray]) -> int:
    return int(np.argmin([np.abs(shown.astype(np.int16) - f).mean() for f in frames]))


def test_seek_moves_the_video_and_the_cursor_to_the_recorded_frame(make_window, qtbot, recorded_session):
    s = read_session(recorded_session)
    frames = _video_frames_rgb(s.video)
    assert len(frames) == len(s) >= 60
    w = make_window()
    assert w.open_session(recorded_session)
    assert w.mode == "replay" and w.replay_bar.isVisible()
    assert w.replay_bar.slider.maximum() == len(s) - 1
    assert [label for _, label in w.plots.markers] == ["stimulus on", "stimulus off"]
    for row in (40, 7, 41, 63, 0):  # backwards, forwards, single steps and long jumps
        w.seek_row(row)
        assert _closest(w.video.shown_rgb, frames) == row
        assert np.abs(w.video.shown_rgb.astype(np.int16) - frames[row]).mean() < 1.0
        assert w.plots.cursor_t == pytest.approx(s.data["t_s"][row])
        assert w.replay_bar.slider.value() == row
        v = s.data["valence"][row]
        assert w.plots.valence_readout.value.text() == ("—" if np.isnan(v) else f"{v:+.2f}")
    # the slider is a seek control too
    w.replay_bar.slider.setValue(52)
    assert _closest(w.video.shown_rgb, frames) == 52
    assert w.plots.cursor_t == pytest.approx(s.data["t_s"][52])
    # and so is the plot cursor (dragging it emits cursor_dragged(t))
    w.plots.cursor_dragged.emit(float(s.data["t_s"][20]) + 1e-3)
    assert w.replay_bar.slider.value() == 20
    # landmarks of the recorded row are drawn on its frame
    row = int(np.flatnonzero(s.data["face"] > 0.5)[0])
    w.seek_row(row)
    assert w.video.points.isVisible() and w.video.face_shown
    assert not w.video.attention_shown  # attention maps are not stored in sessions
    # and its recorded head pose, as frames.csv has it
    yaw = s.data["yaw"][row]
    assert w.video.pose_text.isVisible() and f"yaw {yaw:+.0f}°".replace("-", "−") in w.video.pose_text.textItem.toPlainText()


def test_play_advances_at_the_chosen_speed_and_stops_at_the_end(make_window, qtbot, recorded_session):
    w = make_window()
    w.open_session(recorded_session)
    w.set_speed(4.0)
    assert w.settings.replay_speed == 4.0
    w.play()
    qtbot.waitUntil(lambda: not w.replay.playing, timeout=5000)  # 2.5 s of session at 4x
    assert w._replay_row == w.replay.rows - 1
    assert not w.replay_bar.play.isChecked()
    w.seek_row(10)
    w.set_speed(0.25)
    w.play()
    qtbot.waitUntil(lambda: w._replay_row >= 12, timeout=3000)
    w.pause()
    row = w._replay_row
    assert row < 30  # a quarter of real time
    qtbot.wait(100)
    assert w._replay_row == row  # paused stays put


def test_a_session_without_video_replays_its_results(make_window, qtbot, recorded_session, tmp_path):
    copy = tmp_path / "novideo"
    shutil.copytree(recorded_session, copy)
    (copy / "video.mkv").unlink()
    w = make_window()
    assert w.open_session(copy)
    assert "no video in this session" in w.messages.current.text and w.messages.current.level == "warning"
    w.seek_row(30)
    assert w.video.shown_rgb is None
    assert w.plots.cursor_t == pytest.approx(read_session(copy).data["t_s"][30])


def test_a_folder_that_is_not_a_session_is_refused_in_the_banner(make_window, tmp_path):
    w = make_window()
    assert not w.open_session(tmp_path)
    assert w.messages.current.level == "error" and "session" in w.messages.current.text
    assert w.mode == "idle"


def test_session_replay_seeks_rows_exactly(recorded_session):
    rep = SessionReplay(recorded_session)
    try:
        frames = _video_frames_rgb(rep.session.video)
        assert rep.has_video and rep.rows == len(frames) and rep.video_note is None
        assert not rep.playing
        assert rep.row_at(-1.0) == 0 and rep.row_at(1e9) == rep.rows - 1
        t = rep.t_s
        assert rep.row_at(float(t[10])) == 10 and rep.row_at(float(t[10] + t[11]) / 2) == 10
        for k in (30, 5, 6, rep.rows - 1, rep.rows + 5):
            r = rep.seek_row(k)
            k = min(k, rep.rows - 1)
            assert r.row == k and r.t_s == pytest.approx(t[k])
            assert np.abs(cv2.cvtColor(r.image, cv2.COLOR_BGR2RGB).astype(np.int16) - frames[k]).mean() < 1.0
            if r.face:
                assert r.landmarks68.shape == (68, 2) and len(r.box) == 4
        assert rep.has_values("valence") and rep.has_values("p_fake")
    finally:
        rep.close()


def test_no_camera_is_said_only_when_a_camera_was_what_the_window_would_use(make_window, recorded_session):
    """Opened on a session, a camera probe that finds nothing is no news: no banner over the replay."""
    w = make_window()
    assert w.open_session(recorded_session)
    w._on_camera_probe([])
    assert not any("No camera" in t for t in w.messages.texts())
    w.close_replay()
    w._on_camera_probe([])
    assert any("No camera" in t for t in w.messages.texts())


def test_no_camera_is_no_news_while_a_session_is_being_read(make_window, qtbot, recorded_session):
    w = make_window()
    assert w.open_session(recorded_session, wait=False)
    w._on_camera_probe([])
    assert not any("No camera" in t for t in w.messages.texts())
    qtbot.waitUntil(lambda: w.mode == "replay", timeout=10_000)


def test_the_source_box_names_the_session_replayed_not_the_last_source(make_window, qtbot, recorded_session,
                                                                       short_clip):
    """During a replay no source runs: the box says what is replayed and Start waits for a source
    picked there; closing the replay selects again the source selected before it."""
    w = make_window()
    sb = w.source_bar
    w.open_video(short_clip, start=False)
    before = w.selected_source
    assert sb.start.isEnabled()
    assert w.open_session(recorded_session)
    assert sb.source.currentIndex() == -1 and w.selected_source is None
    assert sb.source.placeholderText() == f"replaying {recorded_session.name}"
    assert not sb.start.isEnabled()
    w.close_replay()
    assert w.selected_source == before and sb.start.isEnabled() and sb.source.placeholderText() == ""
    # a source picked during the replay is kept when it closes, and Start goes live on it
    assert w.open_session(recorded_session)
    demo = next(i for i in range(sb.source.count()) if sb.source.itemData(i).is_demo)
    sb.source.setCurrentIndex(demo)
    assert sb.start.isEnabled() and w.mode == "replay"
    assert w.start()
    assert w.mode != "replay" and w.selected_source == sb.source.itemData(demo)
    qtbot.waitUntil(lambda: w.mode == "live", timeout=20_000)
    w.stop()


def test_a_session_opened_from_the_menu_is_read_while_the_window_goes_on(make_window, qtbot, recorded_session,
                                                                          monkeypatch):
    """The menu's Open session reads the folder on a thread: the event loop runs meanwhile, an
    "Opening" note is up until the session is shown, paused at its first row."""
    import threading
    import time

    from PySide6.QtCore import QTimer

    import gui.session_opener as opener_module

    order = []

    class SlowReplay(SessionReplay):
        def __init__(self, *a, **kw):
            order.append(("read on", threading.current_thread().name))
            time.sleep(1.5)  # a long session
            super().__init__(*a, **kw)

    monkeypatch.setattr(opener_module, "SessionReplay", SlowReplay)
    w = make_window()
    assert w.open_session(recorded_session, wait=False)
    assert w.mode == "idle" and "Opening the session recorded" in w.messages.current.text
    QTimer.singleShot(300, lambda: order.append(("event loop", w.mode)))  # while it reads
    qtbot.waitUntil(lambda: w.mode == "replay", timeout=10_000)
    assert order == [("read on", "session-open"), ("event loop", "idle")]
    assert w.session_opener.pending is None and w.replay_bar.isVisible() and w._replay_row == 0
    assert w.messages.current is None or "Opening" not in w.messages.current.text


def test_an_unreadable_session_opened_from_the_menu_is_said_in_the_banner(make_window, qtbot, tmp_path):
    w = make_window()
    assert w.open_session(tmp_path, wait=False)
    qtbot.waitUntil(lambda: w.messages.current.level == "error", timeout=10_000)
    assert "Cannot replay" in w.messages.current.text and "session.json: missing" in w.messages.current.text
    assert w.mode == "idle" and w.session_opener.pending is None


def test_a_source_started_while_a_session_is_read_is_not_replaced_by_it(make_window, qtbot, recorded_session,
                                                                        short_clip, monkeypatch):
    import time

    import gui.session_opener as opener_module

    closed = []

    class SlowReplay(SessionReplay):
        def __init__(self, *a, **kw):
            time.sleep(1.0)
            super().__init__(*a, **kw)

        def close(self):
            closed.append(self.root)
            super().close()

    monkeypatch.setattr(opener_module, "SessionReplay", SlowReplay)
    w = make_window()
    w.open_session(recorded_session, wait=False)
    qtbot.wait(250)  # reading
    w.open_video(short_clip)  # the user changed their mind
    assert w.session_opener.pending is None
    qtbot.waitUntil(lambda: bool(closed), timeout=10_000)  # the session read meanwhile is closed, not shown
    qtbot.wait(100)
    assert w.replay is None and w.mode in ("starting", "live")
    # and of two sessions asked for, the later one is shown
    empty = recorded_session.parent / "not-a-session"
    empty.mkdir(exist_ok=True)
    w.open_session(empty, wait=False)
    w.open_session(recorded_session, wait=False)
    qtbot.waitUntil(lambda: w.mode == "replay", timeout=10_000)
    assert w.replay.root == recorded_session and not w.messages.texts("error")
    assert w.messages.current is None or "Opening" not in w.messages.current.text  # neither note stays
