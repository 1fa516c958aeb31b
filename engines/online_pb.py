"""Online genuine-versus-fake estimate from a live landmark stream.

The recognizer keeps the last ``window`` landmark vectors in a preallocated ring. Every ``every``
new frames it runs ``iters`` recognition steps (paper eq. 1–2, weights frozen) over the window,
starting from its current PB (warm start), classifies the PB with XGBoost and smooths P(fake)
exponentially: ``p ← smoothing · p_new + (1 − smoothing) · p``. It starts over (PB at zero, ring
empty) on :meth:`reset`: when the face is lost or the expression model changes.

Cost of one update is ``iters`` forward + backward passes over ``window`` steps. On one CPU core
the explicit NumPy back-propagation (:class:`engines.lstmpb.NumpyPBGradient`) costs about
0.25 ms per step for hidden 64 with 4 grid blocks (it is bound by per-call overhead below
hidden 128 and grows with hidden² above); a hidden-512 network needs about 7 ms per step and
cannot keep up live on a CPU. The defaults (window 32, every 8, 2 iterations) keep one update
near 15 ms for hidden 64 with 4 blocks.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Protocol

import numpy as np

from engines.bundle import Bundle, BundleError, known_fields
from engines.lstmpb import LSTMPB, NumpyPBGradient, load_lstmpb


class ProbabilityModel(Protocol):
    def predict_one(self, pb: np.ndarray) -> float: ...


@dataclass(frozen=True)
class RecognizerSettings:
    """Online recognition settings; stored in the bundle as ``lstmpb.recognizer``."""

    window: int = 32  # landmark frames the PB must explain
    every: int = 8  # new frames between PB updates
    iters: int = 2  # recognition steps per update (warm-started)
    lr: float = 0.9  # PB learning rate (eq. 1–2)
    smoothing: float = 0.3  # weight of the newest P(fake) in the exponential smoothing
    min_frames: int = 16  # frames needed before the first update

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
    """The PB after every update when ``seq`` (T, 80) is streamed through a recognizer: (U, 64).

    Same schedule as :class:`OnlinePBRecognizer` (first update at ``min_frames`` frames, then every
    ``every`` frames, warm-started); used to train classifiers on the PBs the live recognizer sees.
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
        self._engine = NumpyPBGradient(model, dtype=np.float32)
        self.classifier = classifier
        self._input_dim = model.config.input_dim
        self._ring = np.zeros((window, self._input_dim), np.float32)
        self._ordered = np.zeros((1, window, self._input_dim), np.float32)
        self.reset()

    @classmethod
    def from_bundle(cls, bundle: Bundle, expression: str = "pooled", **overrides: Any) -> "OnlinePBRecognizer":
        """Model, classifier of ``expression`` and recognizer settings from a bundle; keywords override settings."""
        from engines.pb_classifier import load_classifiers

        model, _ = load_lstmpb(bundle)
        classifiers = load_classifiers(bundle)
        if expression not in classifiers:
            raise BundleError(f"{bundle.root / 'bundle.json'}: 'lstmpb.classifiers' has no '{expression}' model; "
                              f"it has {sorted(classifiers)}")
        settings = {**recognizer_settings_from_bundle(bundle).to_dict(), **overrides}
        return cls(model, classifiers[expression], **settings)

    # -- state ----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the window, the PB and P(fake) (face lost, new person, model changed)."""
        self._count = 0  # frames written since the reset
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
        self._engine = NumpyPBGradient(model, dtype=np.float32)
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
        """Frames currently in the window."""
        return min(self._count, self.settings.window)

    @property
    def updates(self) -> int:
        return self._updates

    def window(self) -> np.ndarray:
        """The landmark frames in the window, oldest first: (frames, 80), a copy."""
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
        s = self.settings
        self._ring[self._count % s.window] = vec
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
