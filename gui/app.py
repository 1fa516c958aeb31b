"""Start the desktop app.

From the command line (``affectscope gui`` / ``affectscope demo`` call :func:`main`)::

    python -m gui.app [--camera N | --video FILE | --session DIR | --demo]
                      [--bundle DIR] [--expression NAME] [--backend NAME] [--landmark-model FILE]
                      [--record SESSION_DIR] [--settings FILE.ini]
                      [--screenshot PNG] [--quit-after SECONDS]

``--quit-after`` counts from the moment the source starts playing (loading the models is not
counted). ``--screenshot`` saves a PNG of the window then (after 5 s if not given) and quits: for
documentation and for checks on machines without a display
(``QT_QPA_PLATFORM=offscreen``).
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

log = logging.getLogger("affectscope.gui")

DEFAULT_SCREENSHOT_DELAY_S = 5.0


def _source_from_args(source_args: list[str]) -> tuple[str, str] | None:
    """["--camera", "N"] / ["--video", FILE] / ["--session", DIR] / ["--demo"] / [] -> (kind, value)."""
    if not source_args:
        return None
    flag = source_args[0]
    if flag == "--demo" and len(source_args) == 1:
        return "demo", ""
    if flag in ("--camera", "--video", "--session") and len(source_args) == 2:
        if flag == "--camera" and not str(source_args[1]).isdigit():
            raise ValueError(f"--camera needs an index (0, 1, ...), got {source_args[1]!r}")
        return flag[2:], str(source_args[1])
    raise ValueError(f"source arguments must be --camera N, --video FILE, --session DIR or --demo; got {source_args}")


def qt_binding_problem() -> str | None:
    """Why the installed Qt binding cannot run this app, or None.

    PySide6 6.12.0 on CPython < 3.12 drops a reference to ``None`` on every call of a method that
    returns nothing; a window that redraws 30 times a second then aborts the interpreter within
    seconds ("deallocating None"). The check calls such a method and watches the count.
    """
    import PySide6
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(200):
        probe.setObjectName("probe")
    lost = before - sys.getrefcount(None)
    if lost >= 150:
        return (f"PySide6 {PySide6.__version__} loses a reference to None on every call on this Python "
                f"({sys.version.split()[0]}) and would crash the app within seconds; install another release: "
                f"pip install 'PySide6-Essentials<6.12'")
    return None


# Shared libraries Qt's xcb platform plugin (X11) loads, and the Debian/Ubuntu package of each.
# Without them Qt aborts with its own message ("could not load the Qt platform plugin xcb").
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0", "xkbcommon-x11": "libxkbcommon-x11-0", "xcb-icccm": "libxcb-icccm4",
    "xcb-image": "libxcb-image0", "xcb-keysyms": "libxcb-keysyms1", "xcb-render-util": "libxcb-render-util0",
    "xcb-shape": "libxcb-shape0", "xcb-xkb": "libxcb-xkb1",
}


def no_display_problem() -> str | None:
    """Why the window cannot open on this Linux session: no display to open it on (Qt would abort
    with its own message about the xcb plugin); None where there is one or Qt is told otherwise."""
    import os

    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("no screen to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set): run it in a "
            "desktop session (or over 'ssh -X'), use 'affectscope live --headless' to analyse without a "
            "window, or set QT_QPA_PLATFORM=offscreen for --screenshot runs")


def missing_desktop_libraries(find_library=None) -> list[str]:
    """Packages to install before the window can open on an X11 desktop (empty when none is
    missing, or when Qt will not use X11: another platform chosen, Wayland, not Linux)."""
    import os

    if not sys.platform.startswith("linux"):
        return []
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return []
    if not platform and (os.environ.get("WAYLAND_DISPLAY") or not os.environ.get("DISPLAY")):
        return []
    if find_library is None:
        from ctypes.util import find_library
    return [pkg for lib, pkg in XCB_LIBRARIES.items() if find_library(lib) is None]


def main(source_args: list[str], args: argparse.Namespace) -> int:
    """Open the window on a source and run until it is closed; returns the exit code.

    ``args`` carries ``bundle``, ``expression``, ``backend``, ``landmark_model`` and optionally
    ``record``, ``settings``, ``screenshot``, ``quit_after`` and ``stall_report`` (a JSON file for
    the event loop's stalls, :mod:`gui.stall_monitor`).
    """
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow
    from gui.settings import AppSettings
    from realtime.pipeline.runner import SAMPLE_CLIP, preload

    try:
        source = _source_from_args(list(source_args))
    except ValueError as exc:
        print(f"affectscope gui: error: {exc}", file=sys.stderr)
        return 2
    problem = qt_binding_problem() or no_display_problem()
    if problem is not None:
        print(f"affectscope gui: error: {problem}", file=sys.stderr)
        return 1
    missing = missing_desktop_libraries()
    if missing:
        print(f"affectscope gui: error: the window needs X11 libraries this system lacks; install them "
              f"(Debian/Ubuntu: sudo apt install {' '.join(missing)}), or use 'affectscope live --headless' "
              f"(no window)", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    preload(getattr(args, "landmark_model", None))  # before the window appears: it must never freeze
    app.setApplicationName("affectscope")
    app.setOrganizationName("affectscope")

    window = MainWindow(bundle_dir=getattr(args, "bundle", None), expression_model=getattr(args, "expression", None),
                        backend=getattr(args, "backend", "auto") or "auto",
                        landmark_model=getattr(args, "landmark_model", None),
                        settings=AppSettings(getattr(args, "settings", None)))
    # Quit when this window has closed (not on "last window closed", which also fires outside any
    # event loop and would end the next one at once).
    quit_on_last = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)
    window.closed.connect(app.quit)
    window.show()
    stall_report = getattr(args, "stall_report", None)
    monitor = None
    if stall_report:
        from gui.stall_monitor import StallMonitor

        monitor = StallMonitor(sample_every_s=10.0)  # memory, threads, files, CPU too, for hour-long runs
        QTimer.singleShot(0, monitor.start)  # from the event loop's first turn: start-up is not a stall
        window.closing.connect(monitor.stop)  # ... to the close: finishing a recording is not running

    record = getattr(args, "record", None)
    outcome = {"rc": 0}  # 1 when what the command line asked for did not happen (scripts check it)
    if source is not None:
        kind, value = source
        if kind == "camera":
            window.open_camera(int(value), start=False)
        elif kind == "video" and Path(value).resolve() != SAMPLE_CLIP.resolve():
            window.open_video(value, start=False)
        elif kind in ("video", "demo"):
            window.source_bar.loop.setChecked(record is None)
            window.open_video(SAMPLE_CLIP, start=False)
        if kind == "session":  # read on a thread: the window is drawn and answers meanwhile
            window.session_opener.failed.connect(lambda *_: outcome.update(rc=1))
            done = window.open_session(value, wait=False)
        elif record:
            done = window.start_recording(record) is not None
        else:
            done = window.start()
        if not done:
            outcome["rc"] = 1
        if window.run is not None:
            window.run.failed.connect(lambda *_: outcome.update(rc=1))  # a source that does not start ...
            if window.run.error is not None:  # ... or had already failed before we listened (a missing file)
                outcome["rc"] = 1
        if monitor is not None and window.run is not None:
            window.run.started.connect(monitor.mark_running)  # stalls from here on are live running
    screenshot = getattr(args, "screenshot", None)
    quit_after = getattr(args, "quit_after", None)
    if screenshot and quit_after is None:
        quit_after = DEFAULT_SCREENSHOT_DELAY_S

    def finish() -> None:
        if screenshot:
            path = window.save_screenshot(screenshot)
            if path is None:
                outcome["rc"] = 1
            else:
                print(f"screenshot saved: {path}")
        window.close()

    if quit_after is not None:
        # Counted from the moment the source runs (loading the models can take seconds on a busy
        # machine): "--record --quit-after 60" records 60 s. A run that cannot start counts from then.
        armed = []

        def arm_quit(*_) -> None:
            if not armed:
                armed.append(True)
                QTimer.singleShot(int(float(quit_after) * 1000), finish)

        run = window.run if source is not None and source[0] != "session" else None
        opening = window.session_opener.pending is not None  # a session being read: from when it is open
        if opening:
            window.session_opener.opened.connect(arm_quit)
            window.session_opener.failed.connect(arm_quit)
        elif run is not None:
            run.started.connect(arm_quit)
            run.failed.connect(arm_quit)
        if not opening and (run is None or run.running or run.error is not None or not run.starting):
            arm_quit()  # nothing to wait for, or it already started / failed before we listened

    # Ctrl+C in the terminal, and SIGTERM / SIGHUP (kill, a logout, an experiment-control script)
    # close the window cleanly: a recording is finished as by Stop. The idle timer lets Python see
    # the signal.
    stop_signals = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, lambda *_: window.close()) for sig in stop_signals}
    wake = QTimer()
    wake.start(250)
    wake.timeout.connect(lambda: None)
    try:
        app.exec()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        wake.stop()
        if window.isVisible():
            window.close()
        app.setQuitOnLastWindowClosed(quit_on_last)
        if monitor is not None:
            monitor.stop()
            report = monitor.report()
            try:
                report.write(stall_report)
                print(f"{report.line()} (written to {stall_report})", file=sys.stderr)
            except OSError as exc:
                print(f"affectscope gui: error: {stall_report}: cannot write the stall report "
                      f"({exc.strerror or exc})", file=sys.stderr)
                outcome["rc"] = 1
    if outcome["rc"] and source is not None:  # what the window said, for the terminal and the script
        for text in window.messages.texts("error"):
            print(f"affectscope gui: error: {text}", file=sys.stderr)
    return outcome["rc"]


def build_parser() -> argparse.ArgumentParser:
    from engines.expressions import EXPRESSION_MODELS

    p = argparse.ArgumentParser(prog="python -m gui.app", description="affectscope desktop app")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, metavar="N", help="start on camera N")
    src.add_argument("--video", metavar="FILE", help="play a video file at its frame rate")
    src.add_argument("--session", metavar="DIR", help="replay a recorded session folder")
    src.add_argument("--demo", action="store_true", help="play the bundled sample clip (looping)")
    p.add_argument("--bundle", metavar="DIR", help="model bundle folder (default: the shipped bundle)")
    p.add_argument("--expression", choices=EXPRESSION_MODELS, default=None,
                   help="genuine/fake expression model (default: the last one used, else pooled)")
    p.add_argument("--backend", default="auto", choices=("auto", "eager", "compile", "onnxruntime", "tensorrt"),
                   help="valence inference backend")
    p.add_argument("--landmark-model", metavar="FILE", help="dlib 68-point model file")
    p.add_argument("--record", metavar="SESSION_DIR", help="record the live source into this (new) session folder")
    p.add_argument("--settings", metavar="FILE.ini", help="keep settings in this file instead of the user's")
    p.add_argument("--screenshot", metavar="PNG", help="save a PNG of the window and quit")
    p.add_argument("--quit-after", type=float, metavar="S", help="quit S seconds after the source starts (with --screenshot: save first)")
    p.add_argument("--stall-report", metavar="JSON", help="write the event loop's stalls to JSON when the window closes")
    return p


def source_args_from(ns: argparse.Namespace) -> list[str]:
    if ns.camera is not None:
        return ["--camera", str(ns.camera)]
    if ns.video:
        return ["--video", ns.video]
    if ns.session:
        return ["--session", ns.session]
    if ns.demo:
        return ["--demo"]
    return []


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    ns = build_parser().parse_args()
    sys.exit(main(source_args_from(ns), ns))
