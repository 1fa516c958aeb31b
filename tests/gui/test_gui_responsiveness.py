"""Event-loop responsiveness while the pipeline runs: timer lateness and display rate.

A 10 ms precise timer measures how late the GUI thread serves it while the window shows the
sample clip (30 fps, paced) through the full perception pipeline plus a model worker that fills
both plots and the attention overlay. Targets: lateness p95 <= 50 ms; display >= 25 fps. The
machine is shared, so the display target is checked against what the pipeline delivered: the
window must show at least 85 % of the processed frames (and never less than 20 fps).
"""
from __future__ import annotations

import json
import os
import time

import pytest
from PySide6.QtCore import QTimer

from gui.stall_monitor import StallMonitor
from realtime.pipeline.runner import SAMPLE_CLIP

pytestmark = pytest.mark.gui

MEASURE_S = 4.0


def test_event_loop_stays_responsive_while_the_pipeline_runs(make_window, qtbot, affect_factory, tmp_path):
    w = make_window(pipeline_factory=affect_factory)
    w.open_video(SAMPLE_CLIP)
    qtbot.waitUntil(lambda: w.video.frames_shown >= 20 and w.plots.points[0] > 0, timeout=10000)

    monitor = StallMonitor(period_ms=10, threshold_ms=50.0)
    shown0, processed0, t0 = w.video.frames_shown, w.run.session.stats().frames_processed, time.perf_counter()
    monitor.start()
    qtbot.waitUntil(lambda: time.perf_counter() - t0 >= MEASURE_S, timeout=int(MEASURE_S * 1000) + 5000)
    monitor.stop()
    elapsed = time.perf_counter() - t0
    shown = w.video.frames_shown - shown0
    processed = w.run.session.stats().frames_processed - processed0
    stalls = monitor.report()
    report = {
        "timer_lateness_ms": {"p50": stalls.p50_ms, "p95": stalls.p95_ms, "max": stalls.max_ms},
        "stalls_over_50_ms": stalls.stalls,
        "display_fps": shown / elapsed,
        "processing_fps": processed / elapsed,
        "source_fps": 30.0,
        "ticks": stalls.ticks,
    }
    out = os.environ.get("AFFECTSCOPE_GUI_PERF_JSON")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    print("gui responsiveness:", json.dumps(report))
    assert report["timer_lateness_ms"]["p95"] <= 50.0, report
    assert report["display_fps"] >= min(25.0, 0.85 * report["processing_fps"]), report
    assert report["display_fps"] >= 20.0, report


def test_stall_monitor_counts_a_blocked_event_loop(qtbot):
    monitor = StallMonitor(period_ms=10, threshold_ms=50.0)
    monitor.start()
    qtbot.wait(150)
    QTimer.singleShot(0, lambda: time.sleep(0.2))  # a slot that keeps the event loop for 200 ms
    qtbot.wait(300)
    monitor.stop()
    report = monitor.report()
    assert report.stalls >= 1 and report.max_ms >= 150.0, report
    t_worst, ms_worst, own_ms = max(report.worst, key=lambda w: w[1])
    assert 0.1 <= t_worst <= 0.45 and ms_worst == report.max_ms
    assert own_ms < 50.0  # asleep, not computing: the window's thread hardly ran
    assert report.ticks >= 10 and "stall" in report.line()
    assert report.running_since_s is None and "running" not in report.line()


def _spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_stall_monitor_says_how_much_of_a_stall_was_the_windows_own_work(qtbot):
    monitor = StallMonitor(period_ms=10, threshold_ms=50.0)
    monitor.start()
    qtbot.wait(100)
    QTimer.singleShot(0, lambda: _spin(0.15))  # a slot computing for 150 ms of its thread's CPU
    qtbot.wait(400)
    monitor.stop()
    _, ms_worst, own_ms = max(monitor.report().worst, key=lambda w: w[1])
    assert ms_worst >= 140.0 and 140.0 <= own_ms <= ms_worst + 20.0


def test_stall_monitor_keeps_stalls_after_the_analysis_is_up_apart(qtbot):
    monitor = StallMonitor(period_ms=10, threshold_ms=50.0)
    monitor.start()
    QTimer.singleShot(50, lambda: time.sleep(0.2))  # start-up: loading models
    QTimer.singleShot(400, monitor.mark_running)
    QTimer.singleShot(600, lambda: time.sleep(0.12))  # a freeze while running
    qtbot.wait(900)
    monitor.stop()
    r = monitor.report()
    assert r.stalls == 2 and r.running_stalls == 1, r
    assert 0.35 <= r.running_since_s <= 0.6 and 100.0 <= r.running_max_ms < r.max_ms, r
    assert "running (from" in r.line()


def test_stall_monitor_measures_up_to_its_stop(qtbot):
    """The app stops it when the window starts closing: finishing a recording then is not running."""
    monitor = StallMonitor(period_ms=10, threshold_ms=50.0)
    monitor.start()
    qtbot.wait(200)
    monitor.stop()
    QTimer.singleShot(0, lambda: time.sleep(0.2))  # the close: joins threads, finishes files
    qtbot.wait(300)
    monitor.stop()  # a second stop changes nothing
    r = monitor.report()
    assert r.stalls == 0 and r.max_ms < 150.0 and 0.15 <= r.seconds <= 0.45, r


@pytest.mark.slow
def test_the_demo_window_with_both_shipped_models_does_not_freeze(qapp, tmp_path):
    """The app as a user starts it (``affectscope demo``): the shipped bundle, valence and P(fake),
    the sample clip at 30 fps, 20 s. The genuine/fake recognizer runs in its own process and the
    plots redraw at 10 Hz, so the event loop is not held up for long while the analysis runs.

    The responsiveness targets (no stall over 50 ms, lateness p99 well under a frame) are measured
    with ``affectscope demo --stall-report`` on a quiet machine (README), not here: on a shared CI
    machine the count of 50-ms stalls varies with the neighbours (0 in 45 s on 2 quiet cores, 8 in
    20 s on CI). This test guards what a user sees as a frozen window, which the app did before
    the recognizer left the GUI's process: stalls of a second and more (1.1-7.4 s), 38-52 over
    50 ms in 45 s, lateness p99 above 100 ms."""
    import argparse

    from gui.app import main

    path = tmp_path / "stalls.json"
    args = argparse.Namespace(bundle=None, expression="pooled", backend="auto", landmark_model=None, record=None,
                              screenshot=None, quit_after=20.0, settings=str(tmp_path / "s.ini"),
                              stall_report=str(path))
    assert main(["--demo"], args) == 0
    r = json.loads(path.read_text())
    print("demo window:", json.dumps(r))
    assert r["running_since_s"] is not None and r["running_since_s"] < 10.0, r  # the analysis came up
    assert r["ticks"] >= 0.5 * r["seconds"] * 1000 / r["period_ms"], r  # the monitor ran throughout
    assert r["running_max_ms"] < 1000.0 and r["running_p99_ms"] < 100.0, r
    assert r["samples"] and r["samples"][0]["children_rss_mb"], r  # the recognizer's process was up


def test_stall_monitor_samples_memory_threads_and_files_for_long_runs(qtbot):
    monitor = StallMonitor(period_ms=10, sample_every_s=0.2)
    monitor.start()
    qtbot.wait(700)
    monitor.stop()
    samples = monitor.report().samples
    assert 3 <= len(samples) <= 5 and samples[0]["t_s"] < samples[-1]["t_s"] <= 1.0
    assert set(samples[0]) == {"t_s", "rss_mb", "children_rss_mb", "threads", "open_files", "stalls",
                               "machine_busy_pct", "own_cpu_pct", "steal_pct"}
    assert samples[0]["machine_busy_pct"] is None  # nothing to compare the first sample with
    if os.path.isdir("/proc/self"):
        assert all(s["rss_mb"] > 10 and s["threads"] >= 1 and s["open_files"] >= 1 for s in samples)
        for s in samples[1:]:
            assert 0.0 <= s["own_cpu_pct"] <= 100.0 and 0.0 <= s["steal_pct"] <= 100.0
            assert 0.0 <= s["machine_busy_pct"] <= 100.0
