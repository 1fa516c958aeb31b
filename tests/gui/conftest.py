"""Fixtures for the desktop-app tests (offscreen Qt; QT_QPA_PLATFORM is set in tests/conftest.py).

- settings never touch the user's: QSettings' user paths point into a temporary folder, and every
  window gets its own .ini file;
- a modal dialog fails the test (it is closed, so the test does not hang);
- clips are cut from the bundled sample clip; one session is recorded with the real pipeline.
"""
from __future__ import annotations

import threading

import cv2
import pytest
from landmark_affect_worker import LandmarkAffectWorker, landmark_affect_factory
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication


@pytest.fixture(autouse=True)
def _private_settings(tmp_path_factory):
    """QSettings' default locations go to a temporary folder for the whole test."""
    root = tmp_path_factory.mktemp("qsettings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(root))
        QSettings.setPath(fmt, QSettings.Scope.SystemScope, str(root))
    yield root


@pytest.fixture(autouse=True)
def _no_quit_on_last_window(qapp):
    """Windows are closed outside any event loop here; Qt's quit-on-last-window-closed would then
    end the next test's first wait at once."""
    qapp.setQuitOnLastWindowClosed(False)
    yield


@pytest.fixture(autouse=True)
def no_modal_dialogs(qapp):
    """Fail the test if any modal dialog opens (and close it so the test goes on)."""
    seen: list[str] = []

    def check():
        w = QApplication.activeModalWidget()
        if w is not None:
            seen.append(f"{type(w).__name__}: {w.windowTitle()!r}")
            w.close()

    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(check)
    timer.start()
    yield seen
    timer.stop()
    check()
    assert not seen, f"a modal dialog opened: {seen}"


@pytest.fixture
def settings(tmp_path):
    from gui.settings import AppSettings

    s = AppSettings(tmp_path / "affectscope.ini")
    s.sessions_dir = tmp_path / "sessions"
    return s


@pytest.fixture
def make_window(qtbot, settings):
    """A shown MainWindow with private settings; closed (so every thread stops) at teardown."""
    from gui.main_window import MainWindow

    made = []

    def make(**kw):
        kw.setdefault("settings", settings)
        kw.setdefault("probe_cameras", False)
        w = MainWindow(**kw)
        qtbot.addWidget(w)
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


def _cut_sample_clip(path, n_frames: int):
    from realtime.pipeline.runner import SAMPLE_CLIP

    cap = cv2.VideoCapture(str(SAMPLE_CLIP))
    fps = cap.get(cv2.CAP_PROP_FPS)
    vw = None
    for _ in range(n_frames):
        ok, frame = cap.read()
        assert ok, f"the bundled sample clip is shorter than {n_frames} frames"
        if vw is None:
            h, w = frame.shape[:2]
            vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        vw.write(frame)
    vw.release()
    cap.release()
    return path


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory):
    """The first 75 frames (2.5 s at 30 fps) of the bundled sample clip."""
    return _cut_sample_clip(tmp_path_factory.mktemp("clips") / "short.mp4", 75)


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory):
    """The first 30 frames (1 s at 30 fps) of the bundled sample clip."""
    return _cut_sample_clip(tmp_path_factory.mktemp("clips") / "tiny.mp4", 30)


@pytest.fixture(scope="session")
def recorded_session(tmp_path_factory, short_clip):
    """A session recorded with the pipeline + SessionWriter on the short clip, with video, values
    from LandmarkAffectWorker and two markers."""
    from engines.bundle import load_bundle
    from realtime.pipeline.core import Pipeline, PipelineSettings
    from realtime.pipeline.runner import make_tracker
    from realtime.sessions.run import open_session_writer
    from realtime.capture.sources import VideoFileSource

    bundle = load_bundle(None)
    out = tmp_path_factory.mktemp("sessions") / "recorded"
    pipe = Pipeline(VideoFileSource(short_clip), make_tracker(bundle), [LandmarkAffectWorker()],
                    PipelineSettings(paced=False, expression_model="pooled"))
    writer = open_session_writer(pipe, bundle, out, "pooled", record_video=True, settings={"command": "test"})
    pipe.start()
    assert pipe.wait(timeout=60), "the pipeline did not finish the short clip"
    pipe.shutdown()
    writer.add_event("stimulus on", 0.8)
    writer.add_event("stimulus off", 1.6)
    writer.finish()
    return out


@pytest.fixture
def affect_factory():
    return landmark_affect_factory


@pytest.fixture
def threads_before():
    return {t.ident for t in threading.enumerate()}
