"""Shape and step layout of an LSTM-PB network: :class:`LSTMPBConfig`, its choices and
:func:`landmark_steps`, which turns landmark frames into the network's steps."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

import numpy as np

from engines.bundle import known_fields

# Negative slope of the PB drive per activation. Learning drives most class PBs to where every
# unit of W_p p is negative (11 of the 12 class PBs of a pooled model after 12 epochs). Under the
# plain ReLU such a PB has no effect on the prediction and no gradient, so neither learning nor
# recognition can move it again; the leaky form keeps it steering, at a tenth of the strength.
# "linear" (slope 1) drops the activation: W_p p + b enters the hidden sum as it is.
PB_ACTIVATIONS: dict[str, float] = {"relu": 0.0, "leaky_relu": 0.1, "linear": 1.0}

# What a sequence is taken relative to before normalization: nothing (absolute landmark
# positions, the paper), or its first step (the face before the expression starts, so the network
# sees how each landmark moves from this subject's neutral face, not the face's shape).
REFERENCES = ("none", "first")


@dataclass(frozen=True)
class LSTMPBConfig:
    """Shape of an LSTM-PB network; stored in the bundle as ``lstmpb.config``."""

    input_dim: int = 80
    pb_dim: int = 64
    context_dim: int = 64
    hidden: int = 512
    layers: int = 4
    tie_depth_weights: bool = True
    pb_activation: str = "leaky_relu"
    frame_block: int = 1  # landmark frames averaged into one network step (5: 6 steps/s from 30 fps)
    reference: str = "none"  # 'first': every step minus the sequence's first step
    closed_loop_after: int = 0  # 0: every step reads the observed frame; k: steps ≥ k read the last prediction

    def __post_init__(self) -> None:
        choices = {"pb_activation": sorted(PB_ACTIVATIONS), "reference": list(REFERENCES)}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in choices:
                if value not in choices[f.name]:
                    raise ValueError(f"LSTMPBConfig.{f.name} must be one of {choices[f.name]}, got {value!r}")
            elif f.type in ("int", int):
                low = 0 if f.name == "closed_loop_after" else 1
                if not isinstance(value, int) or isinstance(value, bool) or value < low:
                    kind = "a non-negative" if low == 0 else "a positive"
                    raise ValueError(f"LSTMPBConfig.{f.name} must be {kind} integer, got {value!r}")
            elif not isinstance(value, bool):
                raise ValueError(f"LSTMPBConfig.{f.name} must be true or false, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LSTMPBConfig":
        """Build from a dict; unknown or mistyped fields raise ValueError naming the field.

        A config stored before ``pb_activation`` existed describes weights trained with the plain ReLU;
        one stored before the step fields existed, a frame-rate, absolute, teacher-forced network.
        """
        values = known_fields(cls, dict(data) if isinstance(data, Mapping) else data, "LSTM-PB config")
        values.setdefault("pb_activation", "relu")
        return cls(**values)

    @property
    def error_from(self) -> int:
        """First predicted step whose error counts: the first one made after all teacher-forced inputs
        but the last (closed loop); 0 under teacher forcing."""
        return max(self.closed_loop_after - 1, 0)


def landmark_steps(frames: np.ndarray, config: LSTMPBConfig, reference: np.ndarray | None = None) -> np.ndarray:
    """Landmark frames (T, 80) -> the network's steps (T // frame_block, 80), float32.

    Each step is the mean of ``frame_block`` consecutive frames (a trailing partial block is
    dropped). With ``reference='first'`` every step is taken minus ``reference`` (a step, (80,)),
    by default the sequence's own first step.
    """
    frames = np.asarray(frames, np.float32)
    k, D = config.frame_block, config.input_dim
    if frames.ndim != 2 or frames.shape[1] != D:
        raise ValueError(f"landmark frames must be (T, {D}), got {frames.shape}")
    n = len(frames) // k * k
    if n == 0:
        raise ValueError(f"{len(frames)} landmark frames make no step of {k} frames")
    steps = frames[:n].reshape(-1, k, D).mean(1) if k > 1 else frames.copy()
    if config.reference == "first":
        steps -= steps[0].copy() if reference is None else np.asarray(reference, np.float32).reshape(D)
    return steps
