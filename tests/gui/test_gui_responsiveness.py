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

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer

from realtime.runner import SAMPLE_CLIP

pytestmark = pytest.mark.gui

MEASURE_S = 4.0


def test_event_loop_stays_responsive_while_the_pipeline_runs(make_window, qtbot, affect_factory, tmp_path):
    w = make_window(pipeline_factory=affect_factory)
    w.open_video(SAMPLE_CLIP)
    qtbot.waitUntil(lambda: w.video.frames_shown >= 20 and w.plots.points[0] > 0, timeout=10000)

    intervals: list[float] = []
    last = [time.perf_counter()]

    def probe():
        now = time.perf_counter()
        intervals.append((now - last[0]) * 1e3)
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(probe)
    shown0, processed0, t0 = w.video.frames_shown, w.run.pipeline.perception.stats.processed, time.perf_counter()
    last[0] = t0
    timer.start()
    qtbot.waitUntil(lambda: time.perf_counter() - t0 >= MEASURE_S, timeout=int(MEASURE_S * 1000) + 5000)
    timer.stop()
    elapsed = time.perf_counter() - t0
    shown = w.video.frames_shown - shown0
    processed = w.run.pipeline.perception.stats.processed - processed0
    late = np.maximum(np.array(intervals) - 10.0, 0.0)
    report = {
        "timer_lateness_ms": {"p50": float(np.percentile(late, 50)), "p95": float(np.percentile(late, 95)),
                              "max": float(late.max())},
        "display_fps": shown / elapsed,
        "processing_fps": processed / elapsed,
        "source_fps": 30.0,
        "ticks": len(intervals),
    }
    out = os.environ.get("AFFECTSCOPE_GUI_PERF_JSON")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    print("gui responsiveness:", json.dumps(report))
    assert report["timer_lateness_ms"]["p95"] <= 50.0, report
    assert report["display_fps"] >= min(25.0, 0.85 * report["processing_fps"]), report
    assert report["display_fps"] >= 20.0, report
