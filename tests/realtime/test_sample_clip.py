"""The bundled sample clip shows what its events say, and the shipped models read it so.

The clip (``realtime/data/sample.mp4``, made by ``python -m training.synth.sample``) is a face at
rest that makes a genuine smile, genuine sadness, a posed smile, genuine disgust and posed anger.
It is the first thing a new user sees (``affectscope demo``).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass

from realtime.runner import SAMPLE_CLIP

EVENTS = SAMPLE_CLIP.with_name("sample_events.csv")


@dataclass(frozen=True)
class EventEpisode:
    expression: str
    label: str  # genuine | fake
    start: float
    end: float


def read_episodes() -> list[EventEpisode]:
    with EVENTS.open(newline="", encoding="utf-8") as fh:
        rows = [(float(r["t_s"]), r["label"].split()) for r in csv.DictReader(fh)]
    onsets = [(t, words) for t, words in rows if words[-1] == "onset"]
    ends = [t for t, words in rows if words[-1] == "end"]
    return [EventEpisode(words[0], words[1], t, end) for (t, words), end in zip(onsets, ends)]


def test_events_describe_each_expression_once_in_order():
    episodes = read_episodes()
    assert [(e.expression, e.label) for e in episodes] == [
        ("happiness", "genuine"), ("sadness", "genuine"), ("happiness", "fake"), ("disgust", "genuine"),
        ("anger", "fake")]
    assert all(a.end < b.start for a, b in zip(episodes, episodes[1:]))
    assert episodes[0].start >= 1.5  # the clip opens on the face at rest
