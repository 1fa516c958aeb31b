"""Lab Streaming Layer: publish affect to other lab programs, record their markers.

Optional extra ``lab`` (``pip install affectscope[lab]``: pylsl, which bundles liblsl).

- :class:`LSLOutlet`, a result-bus subscriber, publishes two streams:

  * ``NAME`` (type ``Affect``): 7 float32 channels ``valence, p_fake, face, yaw, pitch, roll,
    good`` (NaN where a value does not exist yet; face and good 1/0; head pose in degrees),
    nominal rate = the source's fps. Each sample is stamped with
    its frame's capture time on the LSL clock:
    ``local_clock() - (time.monotonic_ns() - result.t_ns) / 1e9``, so a recorder (LabRecorder)
    aligns it with EEG, eye tracking, ... without the pipeline's latency.
  * ``NAME-markers`` (type ``Markers``, one string channel, irregular rate): markers set here
    (:meth:`LSLOutlet.push_marker`), e.g. from the GUI's marker button or replayed from a session.

- :class:`LSLMarkerInlet`, a thread, records the markers of another program's stream (by name)
  into the session's ``events.csv``, with the LSL timestamps mapped onto session time through a
  :class:`SessionClock` subscribed to the same pipeline.
"""
from __future__ import annotations

import argparse
import logging
import threading
import time
from typing import Any

from realtime.concurrency.stats import WorkerState
from realtime.concurrency.threads import StoppableThread
from realtime.types import AffectResult, Frame

log = logging.getLogger(__name__)

LAB_HINT = "pip install affectscope[lab]"
AFFECT_CHANNELS = ("valence", "p_fake", "face", "yaw", "pitch", "roll", "good")
_CHANNEL_UNITS = {"valence": "arbitrary (-1..1)", "p_fake": "probability", "face": "bool", "yaw": "degrees",
                  "pitch": "degrees", "roll": "degrees", "good": "bool"}


class LSLUnavailable(RuntimeError):
    """pylsl (or its liblsl) is missing."""


def require_pylsl():
    """The pylsl module, or :class:`LSLUnavailable` naming the extra to install."""
    try:
        import pylsl
    except (ImportError, RuntimeError) as exc:  # RuntimeError: pylsl present, liblsl not found
        raise LSLUnavailable(f"Lab Streaming Layer needs pylsl ({exc}): {LAB_HINT}") from None
    return pylsl


def lsl_time(pylsl_mod, t_ns: int) -> float:
    """A ``time.monotonic_ns`` instant on the LSL clock (seconds)."""
    return pylsl_mod.local_clock() - (time.monotonic_ns() - t_ns) / 1e9


class LSLOutlet:
    """Result-bus subscriber publishing the affect stream (and owner of the marker stream).

    Call it as ``outlet(result, frame)`` from the bus (cheap: one push, no copy of the frame).
    """

    def __init__(self, name: str = "affectscope", fps: float = 30.0, source_id: str | None = None,
                 markers: bool = True):
        self._lsl = require_pylsl()
        lsl = self._lsl
        self.name = name
        sid = source_id or f"affectscope-{name}"
        info = lsl.StreamInfo(name, "Affect", len(AFFECT_CHANNELS), float(fps), lsl.cf_float32, sid)
        chans = info.desc().append_child("channels")
        for ch in AFFECT_CHANNELS:
            c = chans.append_child("channel")
            c.append_child_value("label", ch)
            c.append_child_value("unit", _CHANNEL_UNITS[ch])
            c.append_child_value("type", "Affect")
        acq = info.desc().append_child("acquisition")
        acq.append_child_value("manufacturer", "affectscope")
        acq.append_child_value("timestamps", "frame capture time")
        self._outlet = lsl.StreamOutlet(info)
        self._markers = None
        if markers:
            minfo = lsl.StreamInfo(f"{name}-markers", "Markers", 1, lsl.IRREGULAR_RATE, lsl.cf_string, f"{sid}-markers")
            self._markers = lsl.StreamOutlet(minfo)
        self.samples = 0
        self.markers = 0
        self._lock = threading.Lock()

    def __call__(self, result: AffectResult, frame: Frame | None = None) -> None:
        nan = float("nan")
        pose = result.pose if result.face and result.pose is not None else (nan, nan, nan)
        sample = [nan if result.valence is None else float(result.valence),
                  nan if result.p_fake is None else float(result.p_fake),
                  1.0 if result.face else 0.0, *map(float, pose), 1.0 if result.good else 0.0]
        with self._lock:
            if self._outlet is None:
                return
            self._outlet.push_sample(sample, lsl_time(self._lsl, result.t_ns))
            self.samples += 1

    def push_marker(self, label: str, t_ns: int | None = None) -> None:
        """Publish a marker stamped at ``t_ns`` (``time.monotonic_ns``; default: now)."""
        if self._markers is None:
            raise RuntimeError("this outlet was made without a marker stream (markers=False)")
        with self._lock:
            if self._markers is None:
                return
            ts = self._lsl.local_clock() if t_ns is None else lsl_time(self._lsl, t_ns)
            self._markers.push_sample([str(label)], ts)
            self.markers += 1

    def close(self) -> None:
        with self._lock:
            self._outlet = None  # liblsl closes a stream when its outlet is released
            self._markers = None


class SessionClock:
    """Maps ``time.monotonic_ns`` instants onto a session's time axis (seconds).

    Subscribe it to the same pipeline as the :class:`~realtime.sessions.folder.SessionWriter`, before the
    pipeline starts. Session time is the source's own clock (``media_s``: the position in a video
    file, the time since capture started for a camera), as the session writer uses it; between
    frames it runs on from the latest one.
    """

    def __init__(self):
        self._first: tuple[int, float] | None = None
        self._latest: tuple[int, float] | None = None
        self._lock = threading.Lock()

    def __call__(self, result: AffectResult, frame: Frame | None = None) -> None:
        with self._lock:
            if self._first is None:
                self._first = (result.t_ns, result.media_s)
            self._latest = (result.t_ns, result.media_s)

    @property
    def started(self) -> bool:
        return self._first is not None

    def t_s(self, t_ns: int) -> float | None:
        """Session time of monotonic instant ``t_ns`` (None before the first frame)."""
        with self._lock:
            if self._first is None:
                return None
            ref_ns, ref_media = self._latest
            return ref_media + (t_ns - ref_ns) / 1e9


class LSLMarkerInlet(StoppableThread):
    """Records the markers of the LSL stream named ``stream_name`` into a session.

    ``add_event(label, t_s)`` is typically ``SessionWriter.add_event``. The stream is looked for
    until it appears (a lab program may start after affectscope); markers that arrive before the
    session's first frame are written once it has one (at their true, possibly negative, time).
    A multi-channel marker sample is written as its channels joined with ``|``.
    """

    def __init__(self, stream_name: str, add_event, clock: SessionClock, resolve_every_s: float = 0.5):
        super().__init__("lsl-markers")
        self._lsl = require_pylsl()
        self.stream_name = stream_name
        self.add_event = add_event
        self.clock = clock
        self.resolve_every_s = resolve_every_s
        self._inlet: Any = None
        self._pending: list[tuple[str, int]] = []  # (label, monotonic ns) before the first frame
        self.received = 0
        self.connected = threading.Event()

    def loop(self) -> None:
        lsl = self._lsl
        warned = False
        while not self.stopping:
            if self._inlet is None:
                found = lsl.resolve_byprop("name", self.stream_name, 1, self.resolve_every_s)
                if not found:
                    if not warned:
                        log.warning("LSL marker stream %r not found yet; still looking", self.stream_name)
                        warned = True
                    continue
                self._inlet = lsl.StreamInlet(found[0], max_buflen=360, recover=True,
                                              processing_flags=lsl.proc_clocksync)
                self._inlet.open_stream(timeout=5.0)
                self.connected.set()
                log.info("recording markers from LSL stream %r (%s)", self.stream_name, found[0].hostname())
            sample, ts = self._inlet.pull_sample(timeout=0.2)
            if sample is not None:
                label = "|".join(str(v) for v in sample)
                # ts is on this machine's LSL clock (proc_clocksync); map it to a monotonic instant
                t_ns = time.monotonic_ns() - int((lsl.local_clock() - ts) * 1e9)
                self._pending.append((label, t_ns))
                self.received += 1
                self.stats.processed += 1
            self._flush()

    def _flush(self) -> None:
        while self._pending and self.clock.started:
            label, t_ns = self._pending.pop(0)
            self.add_event(label, self.clock.t_s(t_ns))

    def teardown(self) -> None:
        self._flush()
        if self._pending:
            log.warning("%d LSL markers arrived before any frame and were not recorded", len(self._pending))
        if self._inlet is not None:
            self._inlet.close_stream()
            self._inlet = None


# -- CLI wiring ---------------------------------------------------------------------------------
def add_lsl_arguments(p: argparse.ArgumentParser, markers_in: bool = True) -> None:
    """``--lsl``, ``--lsl-name`` and (for recording commands) ``--lsl-markers``."""
    p.add_argument("--lsl", action="store_true",
                   help=f"publish valence, P(fake), face, head pose (yaw, pitch, roll) and landmark quality on Lab "
                        f"Streaming Layer, with a marker stream (needs: {LAB_HINT})")
    p.add_argument("--lsl-name", default="affectscope", metavar="NAME",
                   help="LSL stream name (default affectscope; markers go out on NAME-markers)")
    if markers_in:
        p.add_argument("--lsl-markers", metavar="STREAM",
                       help="record the markers of this LSL stream (another program's) into the session's events.csv")


class LSLAttachment:
    """What :func:`attach_lsl` set up on a pipeline; :meth:`close` before ``SessionWriter.finish``."""

    def __init__(self, outlet: LSLOutlet | None, inlet: LSLMarkerInlet | None, pipeline):
        self.outlet, self.inlet, self._pipeline = outlet, inlet, pipeline

    def describe(self) -> str:
        parts = []
        if self.outlet is not None:
            parts.append(f"publishing LSL streams {self.outlet.name!r} and {self.outlet.name + '-markers'!r}")
        if self.inlet is not None:
            parts.append(f"recording markers from LSL stream {self.inlet.stream_name!r}")
        return "; ".join(parts)

    def close(self) -> None:
        if self.inlet is not None:
            self.inlet.shutdown(3.0)
            if self.inlet.state is WorkerState.FAULTED:
                log.error("LSL marker inlet failed: %s", self.inlet.stats.error)
        if self.outlet is not None:
            self._pipeline.unsubscribe(self.outlet)
            self.outlet.close()


def attach_lsl(pipeline, writer=None, publish: bool = False, markers_from: str | None = None,
               name: str = "affectscope") -> LSLAttachment:
    """Subscribe an :class:`LSLOutlet` and/or start an :class:`LSLMarkerInlet` on ``pipeline``
    (call before ``pipeline.start()``). ``markers_from`` needs a session ``writer``."""
    if markers_from and writer is None:
        raise ValueError("recording LSL markers needs a session to write them to (--record)")
    outlet = inlet = None
    if publish:
        outlet = LSLOutlet(name, fps=pipeline.source.info.fps)
        pipeline.subscribe(outlet)
    if markers_from:
        clock = SessionClock()
        pipeline.subscribe(clock)
        inlet = LSLMarkerInlet(markers_from, writer.add_event, clock)
        inlet.start()
    return LSLAttachment(outlet, inlet, pipeline)
