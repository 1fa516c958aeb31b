"""Render the window offscreen for a visual check: live (with the landmark-driven test worker, so
both plots fill) and a replay of what that live run recorded.

    QT_QPA_PLATFORM=offscreen python tests/gui/screenshots.py [--live PNG] [--replay PNG] [--seconds S]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from landmark_affect_worker import landmark_affect_factory
from PySide6.QtWidgets import QApplication


def wait(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--live", default="/tmp/gui_live.png")
    ap.add_argument("--replay", default="/tmp/gui_replay.png")
    ap.add_argument("--seconds", type=float, default=10.0, help="live run length before the screenshot")
    args = ap.parse_args()

    from gui.main_window import MainWindow
    from gui.settings import AppSettings

    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    work = Path(tempfile.mkdtemp(prefix="affectscope-shots-"))
    settings = AppSettings(work / "settings.ini")
    settings.sessions_dir = work / "sessions"
    w = MainWindow(settings=settings, pipeline_factory=landmark_affect_factory, probe_cameras=False)
    w.resize(1400, 860)
    w.show()
    w.open_demo()
    session = work / "sessions" / "shot-session"
    w.start_recording(session)
    for _ in range(2):
        wait(app, args.seconds * 0.3)
        w.add_marker()
    wait(app, args.seconds * 0.4)
    print("live:", w.save_screenshot(args.live), w.status["processing"].text(), w.status["display"].text())
    w.stop()
    w.open_session(session)
    w.seek_time(w.replay.duration_s * 0.55)
    wait(app, 0.5)
    print("replay:", w.save_screenshot(args.replay))
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
