"""Online genuine-versus-fake estimate from a live landmark stream.

The recognizer turns the landmark stream into the network's steps as training did
(:func:`engines.lstmpb.landmark_steps`): the mean of every ``frame_block`` frames, taken relative
to the first step after a reset (the face as it was found, before the expression, when the model
works on displacements). It keeps the last ``window`` steps in a preallocated ring. Every
``every`` new steps it runs ``iters`` recognition steps (paper eq. 1–2, weights frozen) over the
window, starting from its current PB (warm start), classifies the PB with XGBoost and smooths
P(fake) exponentially: ``p ← smoothing · p_new + (1 − smoothing) · p``. It starts over (PB at zero,
ring empty, new reference) on :meth:`reset`: when the face is lost or the expression model
changes. ``window``, ``every`` and ``min_frames`` count steps (frames for a frame-rate model).

Cost of one update is ``iters`` forward + backward passes over ``window`` steps. On one CPU core
the explicit NumPy back-propagation (:class:`engines.lstmpb.NumpyPBGradient`) costs about
0.25 ms per step for hidden 64 with 4 grid blocks (it is bound by per-call overhead below
hidden 128 and grows with hidden² above); a hidden-512 network needs about 7 ms per step and
cannot keep up live on a CPU. The class defaults (window 32, every 8, 2 iterations) keep one
update near 15 ms for hidden 64 with 4 blocks. A step model's defaults (:func:`settings_for`:
30 steps, every 3, 5 iterations; closed loop adds one product per step) cost about 35 ms per
update, once every 0.5 s.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Protocol

import numpy as np

from engines.bundle import Bundle, BundleError, known_fields
from engines.lstmpb import LSTMPB, LSTMPBConfig, NumpyPBGradient, for_expression, load_lstmpb


class ProbabilityModel(Protocol):
    def predict_one(self, pb: np.ndarray) -> float: ...


@dataclass(frozen=True)
class RecognizerSettings:
    """Online recognition settings; stored in the bundle as ``lstmpb.recognizer``."""

    window: int = 32  # steps the PB must explain
    every: int = 8  # new steps between PB updates
    iters: int = 2  # recognition steps per update (warm-started)
    lr: float = 0.9  # PB learning rate (eq. 1–2)
    smoothing: float = 0.3  # weight of the newest P(fake) in the exponential smoothing
    min_frames: int = 16  # steps needed before the first update

    def __post_init__(self) -> None:
        for name in ("window", "every", "iters", "min_frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"recognizer setting '{name}' must be a positive integer, got {value!r}")
        if self.window < 2:
            raise ValueError(f"recognizer setting 'window' must be at least 2 frames, got {self.window}")
        if not 2 <= self.min_frames <= self.window:
            raise ValueError(f"recognizer setting 'min_frames' must be within 2..window ({self.window}), "
                             f"got {self.min_frames}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"recognizer setting 'lr' must be a positive number, got {self.lr!r}")
        if not (isinstance(self.smoothing, (int, float)) and 0 < self.smoothing <= 1):
            raise ValueError(f"recognizer setting 'smoothing' must be in (0, 1], got {self.smoothing!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RecognizerSettings":
        data = known_fields(cls, dict(data) if isinstance(data, Mapping) else data, "recognizer settings")
        if "min_frames" not in data and "window" in data:
            data["min_frames"] = max(2, min(cls.min_frames, int(data["window"])))
        return cls(**data)


def settings_for(config: LSTMPBConfig, fps: float = 30.0) -> RecognizerSettings:
    """Recognizer defaults for a network: the class defaults for a frame-rate, teacher-forced one;
    for a step model, a window of about 5 s updated every 0.5 s with 5 warm-started steps, the
    first update once 3 steps past the closed-loop prompt are in. (10 steps per update cost about
    70 ms of mostly interpreter time: on 2 cores the perception thread then waits for the GIL and
    drops frames at 30 fps; 5 do not.)"""
    if config.frame_block == 1 and config.closed_loop_after == 0:
        return RecognizerSettings()
    rate = fps / config.frame_block  # steps per second
    window = max(8, round(5.0 * rate), config.closed_loop_after + 3)
    return RecognizerSettings(window=window, every=max(1, round(0.5 * rate)), iters=5,
                              min_frames=config.closed_loop_after + 3)


def recognizer_settings_from_bundle(bundle: Bundle) -> RecognizerSettings:
    return bundle.parse("lstmpb", "recognizer", RecognizerSettings.from_dict)


def recognition_steps(engine: NumpyPBGradient, window: np.ndarray, pb: np.ndarray, iters: int, lr: float
                      ) -> tuple[np.ndarray, float]:
    """``iters`` steps of eq. 1–2 from ``pb`` over one window.

    window: (1, n, 80); pb: (1, 64). Returns the new PB (1, 64) and the window's prediction error
    E of the last step (before its update).
    """
    err = float("nan")
    for _ in range(iters):
        g, E = engine(window, pb)
        pb = pb - lr * g
        err = float(E[0])
    return pb, err


def stream_pbs(engine: NumpyPBGradient, seq: np.ndarray, settings: RecognizerSettings) -> np.ndarray:
    """The PB after every update when the steps ``seq`` (T, 80) are streamed through a recognizer: (U, 64).

    Same schedule as :class:`OnlinePBRecognizer` (first update at ``min_frames`` steps, then every
    ``every`` steps, warm-started); used to train classifiers on the PBs the live recognizer sees.
    """
    seq = np.asarray(seq, engine.dtype)
    pb = np.zeros((1, engine.config.pb_dim), engine.dtype)
    out = []
    for end in range(settings.min_frames, len(seq) + 1, settings.every):
        window = seq[max(0, end - settings.window) : end][None]
        pb, _ = recognition_steps(engine, window, pb, settings.iters, settings.lr)
        out.append(pb[0].copy())
    return np.asarray(out, np.float32).reshape(len(out), engine.config.pb_dim)


class OnlinePBRecognizer:
    """Streaming PB recognition and P(fake) for one face.

    model: a trained :class:`LSTMPB` (its weights are snapshotted; call :meth:`set_model` after
    changing them). classifier: anything with ``predict_one(pb) -> P(fake)``, e.g.
    :class:`engines.pb_classifier.PBClassifier`. Not thread-safe: one worker thread owns it.
    """

    def __init__(self, model: LSTMPB, classifier: ProbabilityModel, window: int = RecognizerSettings.window,
                 every: int = RecognizerSettings.every, iters: int = RecognizerSettings.iters,
                 lr: float = RecognizerSettings.lr, smoothing: float = RecognizerSettings.smoothing,
                 min_frames: int | None = None):
        if min_frames is None:
            min_frames = max(2, min(RecognizerSettings.min_frames, window))
        self.settings = RecognizerSettings(window=window, every=every, iters=iters, lr=lr,
                                           smoothing=smoothing, min_frames=min_frames)
        self.classifier = classifier
        self._input_dim = model.config.input_dim
        self._ring = np.zeros((window, self._input_dim), np.float32)
        self._ordered = np.zeros((1, window, self._input_dim), np.float32)
        self._block = np.zeros(self._input_dim, np.float64)
        self._use_model(model)
        self.reset()

    def _use_model(self, model: LSTMPB) -> None:
        cfg = model.config
        if self.settings.min_frames <= cfg.closed_loop_after:
            raise ValueError(f"recognizer setting 'min_frames' ({self.settings.min_frames}) must exceed the "
                             f"model's closed-loop prompt ({cfg.closed_loop_after} steps): no step's error "
                             f"would count")
        self._engine = NumpyPBGradient(model, dtype=np.float32)
        self._frame_block = cfg.frame_block
        self._relative = cfg.reference != "none"

    @classmethod
    def from_bundle(cls, bundle: Bundle, expression: str = "pooled", **overrides: Any) -> "OnlinePBRecognizer":
        """Model, classifier of ``expression`` and recognizer settings from a bundle (the expression's
        own network where the bundle has one, see :func:`engines.lstmpb.for_expression`); keywords
        override settings."""
        from engines.pb_classifier import load_classifiers

        bundle = for_expression(bundle, expression)
        model, _ = load_lstmpb(bundle)
        classifiers = load_classifiers(bundle)
        if expression not in classifiers:
            raise BundleError(f"{bundle.root / 'bundle.json'}: 'lstmpb.classifiers' has no '{expression}' model; "
                              f"it has {sorted(classifiers)}")
        settings = {**recognizer_settings_from_bundle(bundle).to_dict(), **overrides}
        return cls(model, classifiers[expression], **settings)

    # -- state ----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the window, the reference, the PB and P(fake) (face lost, new person, model changed)."""
        self._count = 0  # steps written since the reset
        self._block[:] = 0.0
        self._in_block = 0  # frames summed into the step being built
        self._reference: np.ndarray | None = None
        self._since_update = 0
        self._pb = np.zeros((1, self._engine.config.pb_dim), np.float32)
        self._p_fake: float | None = None
        self._last_ms: float | None = None
        self._last_error: float | None = None
        self._updates = 0

    def set_model(self, model: LSTMPB, classifier: ProbabilityModel | None = None) -> None:
        """Swap the network (and classifier) and reset."""
        if model.config.input_dim != self._input_dim:
            raise ValueError(f"new model takes {model.config.input_dim} inputs, the recognizer holds {self._input_dim}")
        self._use_model(model)
        if classifier is not None:
            self.classifier = classifier
        self.reset()

    def set_classifier(self, classifier: ProbabilityModel) -> None:
        """Switch the expression model; the PB of the old one means nothing to the new one: reset."""
        self.classifier = classifier
        self.reset()

    @property
    def pb(self) -> np.ndarray:
        """Current PB estimate (64,), a copy."""
        return self._pb[0].copy()

    @property
    def p_fake(self) -> float | None:
        """Smoothed P(fake), None before the first update."""
        return self._p_fake

    @property
    def last_update_ms(self) -> float | None:
        """Wall time of the latest update (recognition + classification) in ms."""
        return self._last_ms

    @property
    def last_error(self) -> float | None:
        """Prediction error E over the window at the latest update (how well the PB explains it)."""
        return self._last_error

    @property
    def frames(self) -> int:
        """Steps currently in the window (frames for a frame-rate model)."""
        return min(self._count, self.settings.window)

    @property
    def frames_per_update(self) -> int:
        """Landmark frames between two PB updates once running: ``every`` steps of ``frame_block`` frames."""
        return self.settings.every * self._frame_block

    @property
    def reference(self) -> np.ndarray | None:
        """The step the window is taken relative to (80,), a copy; None before the first step or
        for a model on absolute landmarks."""
        return None if self._reference is None else self._reference.copy()

    @property
    def updates(self) -> int:
        return self._updates

    def window(self) -> np.ndarray:
        """The steps in the window, oldest first: (frames, 80), a copy."""
        return self._ordered_window()[0].copy()

    # -- streaming --------------------------------------------------------------------------------

    def _ordered_window(self) -> np.ndarray:
        W, n = self.settings.window, self.frames
        head = self._count % W  # next write position == oldest frame once the ring is full
        if self._count <= W:
            return self._ring[None, :n]
        tail = W - head
        self._ordered[0, :tail] = self._ring[head:]
        self._ordered[0, tail:] = self._ring[:head]
        return self._ordered

    def update(self, vec80: np.ndarray) -> float | None:
        """Add one frame's 80-value landmark vector; returns the smoothed P(fake) when the PB was
        updated on this frame, else None."""
        vec = np.asarray(vec80, np.float32).reshape(-1)
        if vec.shape[0] != self._input_dim:
            raise ValueError(f"landmark vector must have {self._input_dim} values, got {vec.shape[0]}")
        if not np.isfinite(vec).all():
            raise ValueError("landmark vector has non-finite values")
        self._block += vec
        self._in_block += 1
        if self._in_block < self._frame_block:
            return None
        step = (self._block / self._in_block).astype(np.float32)
        self._block[:] = 0.0
        self._in_block = 0
        if self._relative:
            if self._reference is None:
                self._reference = step
            step = step - self._reference
        s = self.settings
        self._ring[self._count % s.window] = step
        self._count += 1
        self._since_update += 1
        if self._count < s.min_frames or (self._updates > 0 and self._since_update < s.every):
            return None
        t0 = time.perf_counter()
        self._pb, self._last_error = recognition_steps(self._engine, self._ordered_window(), self._pb,
                                                       s.iters, s.lr)
        p = float(self.classifier.predict_one(self._pb[0]))
        self._p_fake = p if self._p_fake is None else s.smoothing * p + (1.0 - s.smoothing) * self._p_fake
        self._since_update = 0
        self._updates += 1
        self._last_ms = (time.perf_counter() - t0) * 1e3
        return self._p_fake
