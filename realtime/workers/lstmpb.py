"""The LSTM-PB worker: the online PB recognizer on the landmark stream -> P(fake) and the PB vector.

The recognizer (``engines.online_pb.OnlinePBRecognizer``) keeps its own window of the network's
steps (block means of landmark vectors) and re-estimates the PB every K steps; a job is due every
K steps' worth of frames. This worker feeds it every face frame's vector in order:
each job carries the recent vectors from the ring buffer with their frame indices, and the worker
feeds those it has not seen yet, so a skipped job loses no frames as long as the ring holds them.
The expression model can be switched while running; the recognizer then starts over.

Live, the recognizer runs in a process of its own (``realtime.workers.recognizer_process``: it
holds the interpreter lock while it runs, which froze the window); offline, on this thread. If
its process ends, the worker stops as faulted and says why.
"""
from __future__ import annotations

import logging
import threading


from engines.bundle import Bundle
from engines.expressions import check_expression_model
from realtime.workers.registry import register_worker
from realtime.perception.ring_buffer import PerceptionBuffers
from realtime.types import FaceObservation
from realtime.workers.base import ModelWorker

log = logging.getLogger(__name__)


class FakeExpressionWorker(ModelWorker):
    provides = ("p_fake", "pb", "p_fake_quality")
    quality_key = "p_fake_quality"

    def __init__(self, bundle: Bundle, expression_model: str = "pooled", every: int | None = None):
        super().__init__("lstmpb")
        self.bundle = bundle
        self.expression_model = check_expression_model(expression_model)
        self._recognizer = None
        self._every = every
        self._every_fixed = every is not None
        self._since = 0
        self._last_fed = -1
        self._pending_model: str | None = None
        self._pending_reset = False
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"lstmpb ({self.expression_model})"

    def setup(self) -> None:
        from realtime.workers.recognizer_process import AVAILABLE, LocalRecognizer, RecognizerProcess

        if self.lossless or not AVAILABLE:
            # Offline every job is waited for anyway; the recognizer stays on this thread.
            self._recognizer = LocalRecognizer(self.bundle, self.expression_model)
            self.backend_in_use = "numpy (online PB recognition) + xgboost"
        else:
            self._recognizer = RecognizerProcess(self.bundle.root, self.expression_model)  # says what is missing
            self.backend_in_use = f"numpy (online PB recognition, process {self._recognizer.pid}) + xgboost"
        if self._every is None:
            self._every = self._recognizer.frames_per_update

    def teardown(self) -> None:
        if self._recognizer is not None:
            self._recognizer.close()

    def set_expression_model(self, name: str) -> None:
        """Switch the genuine/fake classifier (pooled or one expression); takes effect on the next job."""
        check_expression_model(name)
        with self._lock:
            self._pending_model = name

    def due(self, obs: FaceObservation, buffers: PerceptionBuffers) -> bool:
        self._since += 1
        if self._every is None or self._since < self._every:
            return False
        self._since = 0
        return True

    def good_share(self, buffers: PerceptionBuffers) -> float | None:
        """Good frames among those not yet fed to the recognizer (what the next update reads)."""
        good, idx, _ = buffers.good.last(buffers.good.capacity)
        new = idx > self._last_fed  # read across threads: at worst one job's frames off
        return float(good[new].mean()) if new.any() else None

    def prepare(self, obs: FaceObservation, buffers: PerceptionBuffers):
        vecs, idx, _ = buffers.vectors.last(buffers.vectors.capacity)
        return vecs, idx

    def compute(self, job) -> dict:
        vecs, idx = job
        if self._pending_reset:
            self._pending_reset = False
            self._recognizer.reset()
        with self._lock:
            pending, self._pending_model = self._pending_model, None
        if pending is not None and pending != self.expression_model:
            if pending not in self._recognizer.expressions:
                log.warning("no '%s' classifier in the bundle; keeping %s", pending, self.expression_model)
            else:
                self.expression_model = pending
                # starts the recognizer over, on the expression's own network where the bundle has one
                every = self._recognizer.set_expression_model(pending)
                if not self._every_fixed:
                    self._every = every
                self._last_fed = -1
        new = idx > self._last_fed
        p, pb = self._recognizer.feed(vecs[new])
        if new.any():
            self._last_fed = int(idx[new][-1])
        if p is None:
            return {}
        return {"p_fake": p, "pb": pb}

    def on_reset(self) -> None:
        # Runs on the perception thread: the recognizer belongs to the worker thread, which resets
        # it before its next job (an in-flight job's output is discarded by the epoch bump).
        self._since = 0
        self._pending_reset = True


@register_worker("lstmpb")
def _build(bundle: Bundle, expression_model: str = "pooled", backend: str = "auto") -> FakeExpressionWorker:
    return FakeExpressionWorker(bundle, expression_model)
