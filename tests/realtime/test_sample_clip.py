"""The bundled sample clip shows what its events say, and the shipped models read it so.

The clip (``realtime/data/sample.mp4``, made by ``python -m training.synth.sample``) is a face at
rest that makes a genuine smile, genuine sadness, a posed smile, genuine disgust and posed disgust.
It is the first thing a new user sees (``affectscope demo``).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass

import numpy as np
import pytest

from engines.bundle import load_bundle
from realtime.pipeline.runner import SAMPLE_CLIP, build_pipeline
from realtime.capture.sources import VideoFileSource

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
        ("disgust", "fake")]
    assert all(a.end < b.start for a, b in zip(episodes, episodes[1:]))
    assert episodes[0].start >= 1.5  # the clip opens on the face at rest


@pytest.fixture(scope="module")
def shipped_run() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(media time, valence where a clip was published else NaN, P(fake)) of every frame of the
    sample clip through the live pipeline with the shipped bundle."""
    src = VideoFileSource(SAMPLE_CLIP)
    pipe = build_pipeline(src, load_bundle(), backend="eager", paced=False)
    rows = []
    pipe.subscribe(lambda r, _f: rows.append((r.media_s, r.valence if r.valence_updated else np.nan,
                                              np.nan if r.p_fake is None else r.p_fake)))
    pipe.start()
    assert pipe.wait(300)
    pipe.shutdown()
    assert not pipe.faults()
    return tuple(np.array(col, np.float64) for col in zip(*rows))


def shown_valence(shipped_run, expressions: tuple[str, ...]) -> dict[EventEpisode, float]:
    """Mean valence of each episode of ``expressions``, over the clips published once the
    expression fills most of the 3.75 s clip, until it ends."""
    t, valence, _ = shipped_run
    means = {}
    for ep in read_episodes():
        if ep.expression in expressions:
            shown = (t >= ep.start + 1.5) & (t <= ep.end) & np.isfinite(valence)
            assert shown.sum() >= 3, ep
            means[ep] = float(valence[shown].mean())
    return means


@pytest.mark.slow  # the 33 s clip through both shipped models: about 30 s on 2 cores
def test_shipped_valence_reads_each_smile_of_the_sample_clip(shipped_run):
    means = shown_valence(shipped_run, ("happiness",))
    assert len(means) == 2 and min(means.values()) > 0.2, means


@pytest.mark.slow
@pytest.mark.parametrize("expression", ["sadness", "disgust"])
def test_shipped_valence_reads_each_negative_expression_of_the_sample_clip(shipped_run, expression):
    means = shown_valence(shipped_run, (expression,))
    assert len(means) == {"sadness": 1, "disgust": 2}[expression] and max(means.values()) < -0.1, means


def p_fake_by_episode(shipped_run) -> dict[EventEpisode, float]:
    """Mean P(fake) of each episode, from its onset until a second after it ends."""
    t, _, p_fake = shipped_run
    means = {}
    for ep in read_episodes():
        during = (t >= ep.start) & (t <= ep.end + 1.0) & np.isfinite(p_fake)
        means[ep] = float(p_fake[during].mean())
    return means


@pytest.mark.slow
def test_shipped_p_fake_is_higher_on_the_posed_smile_than_on_the_genuine_one(shipped_run):
    means = {(ep.expression, ep.label): m for ep, m in p_fake_by_episode(shipped_run).items()}
    assert means["happiness", "fake"] > means["happiness", "genuine"] + 0.1, means


@pytest.mark.slow
def test_shipped_p_fake_is_higher_on_the_posed_episodes(shipped_run):
    means = p_fake_by_episode(shipped_run)
    posed = [m for ep, m in means.items() if ep.label == "fake"]
    genuine = [m for ep, m in means.items() if ep.label == "genuine"]
    assert min(posed) > max(genuine), means
