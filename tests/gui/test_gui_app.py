"""The app's entry point, a bad bundle, remembered settings, screenshots."""
from __future__ import annotations

import argparse
import json
import threading

import pytest
from PySide6.QtGui import QImage

from gui.app import _source_from_args, main

pytestmark = pytest.mark.gui


def _args(**kw) -> argparse.Namespace:
    base = {"bundle": None, "expression": "pooled", "backend": "auto", "landmark_model": None, "record": None,
            "screenshot": None, "quit_after": None, "settings": None}
    base.update(kw)
    return argparse.Namespace(**base)


def test_source_arguments_are_parsed_strictly():
    assert _source_from_args([]) is None
    assert _source_from_args(["--camera", "2"]) == ("camera", "2")
    assert _source_from_args(["--video", "a.mp4"]) == ("video", "a.mp4")
    assert _source_from_args(["--session", "s"]) == ("session", "s")
    assert _source_from_args(["--demo"]) == ("demo", "")
    for bad in (["--camera", "x"], ["--video"], ["--webcam", "0"]):
        with pytest.raises(ValueError):
            _source_from_args(bad)


def test_main_takes_a_screenshot_and_quits(qapp, tmp_path, short_clip):
    png = tmp_path / "shot.png"
    before = {t.name for t in threading.enumerate()}
    stalls = tmp_path / "stalls.json"
    rc = main(["--video", str(short_clip)], _args(screenshot=str(png), quit_after=2.0,
                                                  settings=str(tmp_path / "s.ini"), stall_report=str(stalls)))
    assert rc == 0
    img = QImage(str(png))
    assert not img.isNull() and img.width() >= 800 and img.height() >= 500
    report = json.loads(stalls.read_text())  # the event loop was measured while the window ran
    assert report["ticks"] >= 1 and report["seconds"] >= 1.0 and report["max_ms"] >= report["p50_ms"], report
    assert report["stalls"] == len(report["worst"]) or len(report["worst"]) == 20
    assert {t.name for t in threading.enumerate()} - before == set()


def test_main_records_with_the_record_argument(qapp, tmp_path, short_clip):
    out = tmp_path / "rec"
    rc = main(["--video", str(short_clip)], _args(record=str(out), quit_after=1.5, settings=str(tmp_path / "s.ini")))
    assert rc == 0
    meta = json.loads((out / "session.json").read_text())
    assert meta["complete"] and meta["frames"] > 0 and meta["settings"]["command"] == "gui"


def test_main_exits_1_when_what_the_command_line_asked_for_did_not_happen(qapp, tmp_path, short_clip, capsys):
    """An experiment script checks the exit code: a recording that could not start, a video that
    does not open or a folder that is not a session are failures, said on stderr too."""
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("earlier work")
    settings = str(tmp_path / "s.ini")
    assert main(["--video", str(short_clip)], _args(record=str(used), quit_after=0.5, settings=settings)) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(["--video", str(tmp_path / "missing.mp4")], _args(quit_after=0.5, settings=settings)) == 1
    assert "missing.mp4" in capsys.readouterr().err
    assert main(["--session", str(tmp_path)], _args(quit_after=0.5, settings=settings)) == 1
    assert (used / "notes.txt").read_text() == "earlier work"


def test_main_opens_a_session_and_counts_quit_after_from_when_it_is_open(qapp, tmp_path, recorded_session, capsys):
    """``gui --session DIR --screenshot PNG``: the session is read while the window is up, and the
    screenshot waits until it is shown."""
    shot = tmp_path / "replay.png"
    rc = main(["--session", str(recorded_session)], _args(quit_after=0.3, screenshot=str(shot),
                                                           settings=str(tmp_path / "s.ini")))
    assert rc == 0 and shot.stat().st_size > 10_000
    assert f"screenshot saved: {shot}" in capsys.readouterr().out


def test_a_bad_bundle_is_reported_in_the_window_and_replay_still_works(make_window, tmp_path, recorded_session):
    bad = tmp_path / "bundle"
    bad.mkdir()
    (bad / "bundle.json").write_text('{"schema": "affectscope.bundle/1", "name": 3}')
    w = make_window(bundle_dir=bad)
    assert w.bundle is None
    assert w.messages.current.level == "error" and "bundle.json" in w.messages.current.text
    assert not w.source_bar.start.isEnabled()
    assert not w.start()
    assert w.open_session(recorded_session)  # replay needs no bundle


def test_settings_are_remembered_between_runs(make_window, settings):
    w = make_window()
    w.set_expression_model("surprise")
    w.session_bar.show_landmarks.setChecked(False)
    w.set_speed(2.0)
    w.resize(790, 580)  # restoreGeometry keeps a window on its screen (offscreen: 800 x 600)
    size = (w.width(), w.height())
    w.close()
    v = make_window()
    assert v.expression_model == "surprise"
    assert not v.session_bar.show_landmarks.isChecked() and not v.video.overlay_visible("landmarks")
    assert v.replay_bar.speed.currentData() == 2.0
    assert (v.width(), v.height()) == size


def test_expression_model_choice_reaches_the_recorded_session(make_window, qtbot, short_clip, tmp_path):
    w = make_window()
    w.set_expression_model("happiness")
    w.open_video(short_clip, start=False)
    w.start_recording(tmp_path / "rec")
    qtbot.waitUntil(lambda: w.run is not None and w.run.recording and w.run.session.recording().rows >= 3, timeout=8000)
    assert not w.session_bar.expression.isEnabled()  # fixed while recording
    w.stop()
    meta = json.loads((tmp_path / "rec" / "session.json").read_text())
    assert meta["expression_model"] == "happiness" and meta["complete"]


def test_screenshot_button_saves_into_the_sessions_folder(make_window, settings):
    w = make_window()
    path = w.save_screenshot()
    assert path is not None and path.parent == settings.sessions_dir / "screenshots"
    assert not QImage(str(path)).isNull()


def test_sigterm_finishes_a_recording_like_closing_the_window(tmp_path):
    """kill, a logout or an experiment-control script stop the app without losing the session."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from realtime.pipeline.runner import SAMPLE_CLIP

    out = tmp_path / "rec"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "gui.app", "--video", str(SAMPLE_CLIP), "--record", str(out),
                             "--settings", str(tmp_path / "s.ini")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    frames = out / "frames.csv"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if frames.is_file() and frames.read_text().count("\n") > 20:
            break
        time.sleep(0.1)
    assert proc.poll() is None, proc.stderr.read()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    meta = json.loads((out / "session.json").read_text())
    assert meta["complete"] and 20 <= meta["frames"] < 600  # stopped mid-clip, session finished


def test_no_screen_is_said_before_qt_aborts(monkeypatch):
    """Without a display Qt aborts with a message about its xcb plugin; the app says what is wrong
    and what to do instead."""
    from gui.app import no_display_problem

    monkeypatch.setattr("sys.platform", "linux")
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    problem = no_display_problem()
    assert "no screen" in problem and "live --headless" in problem and "QT_QPA_PLATFORM=offscreen" in problem
    monkeypatch.setenv("DISPLAY", ":0")
    assert no_display_problem() is None
    monkeypatch.delenv("DISPLAY")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert no_display_problem() is None


def test_missing_x11_libraries_are_named_with_their_packages(monkeypatch):
    from gui.app import missing_desktop_libraries

    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    present = {"xkbcommon-x11", "xcb-icccm", "xcb-image", "xcb-keysyms", "xcb-render-util", "xcb-shape", "xcb-xkb"}
    assert missing_desktop_libraries(lambda lib: "lib.so" if lib in present else None) == ["libxcb-cursor0"]
    assert missing_desktop_libraries(lambda lib: "lib.so") == []
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # Qt will not use X11
    assert missing_desktop_libraries(lambda lib: None) == []
