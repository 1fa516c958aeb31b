"""A video's own events (STEM_events.csv beside it) drawn on the plots as the window plays it, and
written into a recording of it at their times."""
from __future__ import annotations

import shutil

import pytest

from realtime.sessions.folder import read_session


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.gui
def test_the_window_draws_and_records_a_video_s_events_and_says_when_they_cannot_be_read(
        make_window, qtbot, affect_factory, short_clip, tmp_path):
    clip = shutil.copy(short_clip, tmp_path / "stim.mp4")
    _write(tmp_path / "stim_events.csv", "t_s,label\n0.5,stimulus on\n1.5,stimulus off\n")
    w = make_window(pipeline_factory=affect_factory)
    w.source_bar.loop.setChecked(False)
    w.open_video(clip, start=False)
    w.start_recording(tmp_path / "rec")
    qtbot.waitUntil(lambda: len(w.plots.markers) == 2, timeout=20_000)
    assert w.plots.markers == [(0.5, "stimulus on"), (1.5, "stimulus off")]
    assert w._marker_count == 0  # the video's events are not the user's markers
    assert w.stop_recording() is not None
    assert read_session(tmp_path / "rec").events == [(0.5, "stimulus on"), (1.5, "stimulus off")]
    w.stop()
    _write(tmp_path / "stim_events.csv", "t_s,label\nlater,stimulus on\n")
    w.open_video(clip)
    # said once the window hears the source has started (a queued signal, after the run is live)
    qtbot.waitUntil(lambda: any("line 2" in t and "plays without its events" in t for t in w.messages.texts()),
                    timeout=20_000)
    assert w.mode == "live" and w.plots.markers == []
    w.stop()
