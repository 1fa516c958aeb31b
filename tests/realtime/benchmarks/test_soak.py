"""A clip that loops as one source, and the soak run that watches a live pipeline for leaks and losses."""
from __future__ import annotations

import json
import os

import numpy as np
from recorded_sessions import cut_clip

from realtime.cli import main
from realtime.capture.sources import LoopingVideoSource


def test_a_looping_source_keeps_one_clock(tmp_path):
    clip = cut_clip(tmp_path / "ten.mp4", 10)
    src = LoopingVideoSource(clip)
    times = []
    for i in range(25):
        assert src.read() is not None
        times.append(src.media_time(i))
    src.close()
    assert src.loops == 2 and src.info.frame_count == 10  # frames per pass
    np.testing.assert_allclose(np.diff(times), 1 / 30, atol=2e-3)  # no jump back at a loop, no gap


def test_soak_samples_a_live_recording_and_accounts_for_every_frame(tmp_path, capsys):
    clip = cut_clip(tmp_path / "second.mp4", 30)
    report_path, session = tmp_path / "soak.json", tmp_path / "session"
    assert main(["bench", "--video", str(clip), "--soak", "0.1", "--every", "2", "--record", str(session),
                 "--json", str(report_path)]) == 0
    r = json.loads(report_path.read_text())
    assert r["loops"] >= 4 and len(r["samples"]) == 3 and r["faults"] == []
    assert r["frames"]["captured"] >= 150 and abs(r["frames"]["not_accounted"]) <= 2  # the last frame in flight
    assert r["samples"][-1]["threads"] >= 4 and r["samples"][-1]["rss_mb"] > 100
    if os.name == "posix":  # the genuine/fake recognizer's own process is measured too
        assert r["samples"][-1]["children_rss_mb"] > 30
    meta = json.loads((session / "session.json").read_text())
    assert meta["complete"] and meta["frames"] == r["frames"]["rows"]
    assert "frames: " in capsys.readouterr().out
