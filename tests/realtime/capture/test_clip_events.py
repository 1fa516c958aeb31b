"""A video's own events (STEM_events.csv beside it): read, and handed out as the media time passes them."""
from __future__ import annotations

import shutil

import pytest

from realtime.capture.clip_events import ClipEvents, ClipEventsError, events_file, read_events
from realtime.pipeline.runner import SAMPLE_CLIP


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_events_are_read_in_time_order(tmp_path):
    f = _write(tmp_path / "v_events.csv", "t_s,label\n5.0, smile end \n1.5,smile onset\n")
    assert read_events(f) == [(1.5, "smile onset"), (5.0, "smile end")]
    assert events_file(tmp_path / "v.mp4") == f


@pytest.mark.parametrize("text, said", [
    ("time,label\n1,a\n", "expected the columns t_s,label"),
    ("t_s,label\n1,a\nsoon,b\n", "line 3: t_s 'soon' is not a number"),
    ("t_s,label\n-2,a\n", "before the video starts"),
])
def test_an_unreadable_events_file_is_named_with_what_is_wrong(tmp_path, text, said):
    f = _write(tmp_path / "v_events.csv", text)
    with pytest.raises(ClipEventsError, match=said) as err:
        read_events(f)
    assert str(f) in str(err.value)


def test_each_event_is_handed_out_once_as_the_media_time_passes_it():
    ev = ClipEvents([(1.0, "a"), (2.0, "b"), (2.0, "c")])
    assert ev.due(0.5) == []
    assert ev.due(1.0) == [(1.0, "a")]
    assert ev.due(1.9) == []
    assert ev.due(3.0) == [(2.0, "b"), (2.0, "c")]
    assert ev.due(100.0) == []


def test_a_looping_video_shows_its_events_again_each_pass():
    ev = ClipEvents([(1.0, "on"), (4.0, "off")], period_s=10.0)
    assert ev.due(12.0) == [(1.0, "on"), (4.0, "off"), (11.0, "on")]
    assert ev.due(13.9) == []
    assert ev.due(24.0) == [(14.0, "off"), (21.0, "on"), (24.0, "off")]


def test_the_sample_clip_says_what_each_episode_is(tmp_path):
    ev = ClipEvents.for_video(SAMPLE_CLIP, 984, 30.0)
    assert ev is not None and ev.period_s == pytest.approx(32.8)
    labels = [label for _, label in ev.events]
    assert labels[:2] == ["happiness genuine onset", "happiness genuine end"] and len(labels) == 10
    shutil.copy(SAMPLE_CLIP, tmp_path / "plain.mp4")
    assert ClipEvents.for_video(tmp_path / "plain.mp4", 984, 30.0) is None  # no events file: none
