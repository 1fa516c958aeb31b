"""Lab Streaming Layer on loopback: the affect stream, its markers, and markers from another program."""
import sys
import time
import uuid

import numpy as np
import pytest
from recorded_sessions import cut_clip, write_affect_session

from engines.bundle import load_bundle
from realtime.outlets.lsl import (
    AFFECT_CHANNELS,
    LSLMarkerInlet,
    LSLOutlet,
    LSLUnavailable,
    SessionClock,
    attach_lsl,
    require_pylsl,
)
from realtime.sessions.replay import SessionPlayer, play
from realtime.pipeline.runner import build_pipeline
from realtime.sessions.run import open_session_writer
from realtime.sessions.folder import read_session
from realtime.capture.sources import VideoFileSource

pylsl = pytest.importorskip("pylsl")


def _name(tag: str) -> str:
    return f"affectscope-test-{tag}-{uuid.uuid4().hex[:8]}"


def _inlet(name: str):
    found = pylsl.resolve_byprop("name", name, 1, 5.0)
    assert found, f"LSL stream {name} not found on loopback"
    inlet = pylsl.StreamInlet(found[0], max_buflen=60, processing_flags=pylsl.proc_clocksync)
    inlet.open_stream(timeout=5.0)
    return inlet


def _pull_all(inlet, n_expected: int, timeout: float = 5.0):
    samples, stamps = [], []
    deadline = time.monotonic() + timeout
    while len(samples) < n_expected and time.monotonic() < deadline:
        chunk, ts = inlet.pull_chunk(timeout=0.2)
        samples.extend(chunk)
        stamps.extend(ts)
    return np.array(samples, np.float64), np.array(stamps)


def _pipeline(clip, paced, session_dir=None):
    """A real pipeline on ``clip`` (the default bundle) and, with ``session_dir``, its session writer."""
    bundle = load_bundle()
    pipe = build_pipeline(VideoFileSource(clip), bundle, paced=paced)
    writer = open_session_writer(pipe, bundle, session_dir, "pooled", record_video=False) if session_dir else None
    return pipe, writer


def test_affect_stream_of_a_live_pipeline_matches_frames_csv(tmp_path):
    clip = cut_clip(tmp_path / "clip.mp4", 40, start=60, face_until=25)  # the face is gone after frame 25
    pipe, writer = _pipeline(clip, paced=True, session_dir=tmp_path / "s")
    name = _name("live")
    lsl = attach_lsl(pipe, writer, publish=True, name=name)
    inlet = _inlet(name)
    info = inlet.info()
    ch = info.desc().child("channels").child("channel")
    info_channels = []
    while not ch.empty():
        info_channels.append(ch.child_value("label"))
        ch = ch.next_sibling()
    t_before = pylsl.local_clock()
    pipe.start()
    assert pipe.wait(20)
    pipe.shutdown()
    writer.finish()
    s = read_session(tmp_path / "s")
    samples, stamps = _pull_all(inlet, len(s))
    lsl.close()
    assert info_channels == list(AFFECT_CHANNELS) and info.nominal_srate() == pytest.approx(30.0)
    assert info.channel_format() == pylsl.cf_float32
    assert len(samples) == len(s) == 40
    np.testing.assert_array_equal(samples[:, 2], s.data["face"])  # face channel = frames.csv
    assert 0 < s.data["face"].sum() < 40  # both present and absent frames are in the check
    np.testing.assert_array_equal(np.isnan(samples[:, 0]), np.isnan(s.data["valence"]))
    # head pose (frames.csv rounds to 0.1 degree) and the quality flag; no face: NaN pose, not good
    pose = np.c_[s.data["yaw"], s.data["pitch"], s.data["roll"]]
    np.testing.assert_allclose(samples[:, 3:6], pose, atol=0.051)
    np.testing.assert_array_equal(samples[:, 6], np.nan_to_num(s.data["good"]))
    assert np.all(np.diff(stamps) > 0)  # monotonic
    # stamped with the capture time: paced at 30 fps against a fixed schedule, so each stamp sits at
    # its frame's media time (up to scheduling jitter on a busy machine, which the pacing catches
    # up) and before the result was pushed
    np.testing.assert_allclose(stamps - stamps[0], s.data["t_s"] - s.data["t_s"][0], atol=0.25)
    assert np.median(np.diff(stamps)) == pytest.approx(1 / 30, abs=0.01)
    assert t_before - 0.1 < stamps[0] and stamps[-1] < pylsl.local_clock()


def test_replayed_values_reach_an_inlet(tmp_path):
    exp = write_affect_session(tmp_path / "s", n=60, video=False)
    name = _name("replay")
    outlet = LSLOutlet(name, fps=30.0)
    inlet, marker_inlet = _inlet(name), _inlet(name + "-markers")
    stats = play(SessionPlayer(tmp_path / "s", speed=0), [outlet], [lambda label, t_s: outlet.push_marker(label)],
                 print_every_s=None)
    samples, stamps = _pull_all(inlet, 60)
    markers, marker_stamps = [], []
    deadline = time.monotonic() + 5
    while len(markers) < 2 and time.monotonic() < deadline:
        m, ts = marker_inlet.pull_sample(timeout=0.2)
        if m is not None:
            markers.append(m[0])
            marker_stamps.append(ts)
    outlet.close()
    assert stats.rows == 60 and len(samples) == 60
    s = read_session(tmp_path / "s")
    np.testing.assert_allclose(samples[:, 0], s.data["valence"].astype(np.float32), rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(samples[:, 1], s.data["p_fake"].astype(np.float32), rtol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(samples[:, 2], exp["face"])
    assert np.all(np.diff(stamps) >= 0)
    assert markers == ["stimulus on", "stimulus off"] and marker_stamps[0] <= marker_stamps[1]


def test_markers_from_another_program_land_in_events_csv(tmp_path):
    clip = cut_clip(tmp_path / "clip.mp4", 60)  # 2 s paced
    pipe, writer = _pipeline(clip, paced=True, session_dir=tmp_path / "s")
    first = []
    pipe.subscribe(lambda r, f: first.append(r.t_ns) if not first else None)
    name = _name("stim")
    stim = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, name))
    lsl = attach_lsl(pipe, writer, markers_from=name)
    assert lsl.inlet.connected.wait(10), "the marker inlet did not find the stream"
    pipe.start()
    sent = []
    for label, at in (("trial 1", 0.5), ("trial 2", 1.3)):
        while not first or time.monotonic_ns() - first[0] < at * 1e9:
            time.sleep(0.005)
        t_ns = time.monotonic_ns()
        stim.push_sample([label], pylsl.local_clock())
        sent.append((label, (t_ns - first[0]) / 1e9))
    assert pipe.wait(20)
    pipe.shutdown()
    time.sleep(0.3)  # let the inlet take the last marker off the wire
    lsl.close()
    writer.finish()
    s = read_session(tmp_path / "s")
    assert [label for _, label in s.events] == ["trial 1", "trial 2"]
    for (t_rec, _), (_, t_sent) in zip(s.events, sent):
        assert t_rec == pytest.approx(t_sent, abs=0.05)
    assert 0 < s.events[0][0] < s.events[1][0] < s.data["t_s"][-1]
    assert lsl.inlet.received == 2


def test_session_clock_follows_the_media_time():
    from realtime.types import AffectResult

    clock = SessionClock()
    assert clock.t_s(123) is None
    clock(AffectResult(0, 1_000_000_000, False, media_s=5.0))
    clock(AffectResult(1, 1_500_000_000, False, media_s=5.5))
    assert clock.t_s(1_500_000_000) == pytest.approx(5.5)  # the source's clock, as frames.csv's t_s
    assert clock.t_s(1_750_000_000) == pytest.approx(5.75)


def test_missing_pylsl_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pylsl", None)  # as if not installed
    with pytest.raises(LSLUnavailable, match=r"pip install affectscope\[lab\]"):
        require_pylsl()
    with pytest.raises(LSLUnavailable, match=r"affectscope\[lab\]"):
        LSLOutlet("x")


def test_marker_inlet_needs_a_session(tmp_path):
    clip = cut_clip(tmp_path / "clip.mp4", 5)
    pipe, _ = _pipeline(clip, paced=False)
    with pytest.raises(ValueError, match="--record"):
        attach_lsl(pipe, None, markers_from="x")
    pipe.shutdown()


def test_marker_inlet_waits_for_a_stream_that_starts_later(tmp_path):
    events = []
    clock = SessionClock()
    name = _name("late")
    inlet = LSLMarkerInlet(name, lambda label, t: events.append((label, t)), clock, resolve_every_s=0.2)
    inlet.start()
    time.sleep(0.5)
    assert not inlet.connected.is_set()
    stim = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, name))
    assert inlet.connected.wait(10)
    stim.push_sample(["early"])  # before the session's first frame: held back
    deadline = time.monotonic() + 5
    while inlet.received < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert inlet.received == 1 and events == []
    from realtime.types import AffectResult

    clock(AffectResult(0, time.monotonic_ns(), False, media_s=0.0))
    deadline = time.monotonic() + 5
    while not events and time.monotonic() < deadline:
        time.sleep(0.02)
    assert inlet.shutdown(5)
    assert len(events) == 1 and events[0][0] == "early" and -1.0 < events[0][1] < 0  # before the first frame
