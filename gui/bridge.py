"""The hand-over from the pipeline's result bus to the GUI thread.

Receiving is not drawing: the bus calls :class:`ResultBridge` on the perception thread, which only
stores the newest (result, frame) pair, queues the result's plot values, and sets a dirty flag.
The window's draw timer calls :meth:`ResultBridge.take` on the GUI thread. No widget is touched
and no Qt object is used off the GUI thread.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from realtime.types import AffectResult, Frame


@dataclass(frozen=True, slots=True)
class PlotSample:
    """The values one result contributes to the plots (media time in seconds)."""
    t_s: float
    face: bool
    valence: float | None
    valence_updated: bool
    p_fake: float | None
    poor: bool = False  # a face whose landmarks cannot be trusted (turned too far, a jump)


@dataclass(frozen=True, slots=True)
class Taken:
    """What the draw timer gets: the newest result and its frame (None when nothing new), and the
    plot samples of every result published since the previous take, oldest first."""
    result: AffectResult | None
    frame: Frame | None
    samples: list[PlotSample]
    received: int  # results received since the bridge was made
    overflowed: int  # samples lost because the GUI did not take them in time


class ResultBridge:
    """A result-bus subscriber safe to call from any thread; ``take`` runs on the GUI thread.

    Plot samples are at each result's media time (a looping video keeps counting it, see
    ``realtime.capture.sources.LoopingVideoSource``). ``max_pending`` bounds the queued plot samples when
    the GUI stalls.
    """

    def __init__(self, max_pending: int = 4096):
        self._lock = threading.Lock()
        self._result: AffectResult | None = None
        self._frame: Frame | None = None
        self._samples: deque[PlotSample] = deque()
        self._max_pending = max_pending
        self._dirty = False
        self.received = 0
        self.overflowed = 0

    def __call__(self, result: AffectResult, frame: Frame) -> None:
        sample = PlotSample(result.media_s, result.face, result.valence,
                            result.valence_updated, result.p_fake, result.face and not result.good)
        with self._lock:
            self._result, self._frame = result, frame
            if len(self._samples) >= self._max_pending:
                self._samples.popleft()
                self.overflowed += 1
            self._samples.append(sample)
            self.received += 1
            self._dirty = True

    @property
    def dirty(self) -> bool:
        return self._dirty

    def take(self) -> Taken:
        with self._lock:
            if not self._dirty:
                return Taken(None, None, [], self.received, self.overflowed)
            result, frame = self._result, self._frame
            samples = list(self._samples)
            self._samples.clear()
            self._dirty = False
            return Taken(result, frame, samples, self.received, self.overflowed)

    def latest(self) -> AffectResult | None:
        with self._lock:
            return self._result
