"""LSTM with parametric bias (LSTM-PB) over 40-point facial-landmark sequences.

Huynh & Kim, "Discrimination between genuine versus fake emotion using LSTM with parametric bias
and facial landmarks", ICCV workshops 2017. The network predicts the next landmark frame; a small
parametric-bias vector ``p`` (PB) that is shared by every step of a sequence steers the prediction.
Training "boils" each (expression, genuine/fake) class down to one PB; recognition finds the PB that
best explains an observed sequence with the weights frozen; a classifier on the PB says genuine or
fake.

Per step ``t`` (B sequences, H hidden units):

* inputs: landmarks ``x_t`` (B, 80), PB ``p`` (B, 64), context ``c_{t-1}`` (B, 64) fed back from the
  previous step (Jordan type; ``c_{-1} = 0``);
* core: a 2D Grid LSTM (Kalchbrenner et al.) along time and depth with ``layers`` blocks. Block
  ``l`` holds a time LSTM, whose state ``(h^l_t, m^l_t)`` runs along time, and a depth LSTM, whose
  state ``(h^l_d, m^l_d)`` runs up the blocks. The context enters the depth dimension through a
  linear map: ``h^0_d = W_c c_{t-1}``, ``m^0_d = 0``. Block ``l`` computes::

      h^l_t, m^l_t = LSTM_time^l(input=h^{l-1}_d, state=(h^l_{t-1}, m^l_{t-1}))
      h^l_d, m^l_d = LSTM_depth (input=h^l_t,     state=(h^{l-1}_d, m^{l-1}_d))

  with the depth LSTM's weights tied across blocks (``tie_depth_weights``);
* read-out: ``hidden = ReLU(W_x x_t) + act(W_p p) + ReLU(h^L_d)``,
  ``x̂_{t+1} = tanh(W_o hidden)`` (B, 80), ``c_t = tanh(W_k hidden)`` (B, 64). ``act`` is a leaky
  ReLU (slope 0.1) by default: with the paper's plain ReLU (``pb_activation="relu"``, still how
  weights stored without that field load) a class PB that falls where no unit of ``W_p p`` is
  positive stops steering anything, for good.

Errors and the PB rule (paper eq. 1–2). The prediction error of a sequence is
``E = Σ_t ½‖x̂_{t+1} − x_{t+1}‖²`` over its ``T − 1`` predicted steps. Each step sees its own copy
``p_t`` of the PB; the update is the step-averaged back-propagated error::

    δp = lr_pb · (1/(T−1)) · Σ_t ∂E/∂p_t,        p ← p − δp

Weights learn from the same step-averaged error by back-propagation through time over whole
sequences. Landmarks enter through a per-coordinate normalization ``x_n = (x − mean) ⊙ scale``
fitted on the training data and stored with the weights; inputs, predictions and errors all live
in that space (raw landmark coordinates differ by about 0.06 across a dataset and by 0.01 from
frame to frame, too little for SGD to move the weights).

Steps and closed loop (config fields, all off in the paper's form). A step may be the mean of
``frame_block`` frames, and the sequence may be taken relative to its first step
(:func:`landmark_steps`): the network then sees how each landmark moves away from the subject's
neutral face, not the face's shape. With ``closed_loop_after = k`` only the first k steps read the
observed input; later steps read the previous prediction, and errors count from step k − 1. Under
teacher forcing the best guess of the next frame is almost the current one, and learning lets
the PBs fall silent; in closed loop the PB must carry the course of the whole expression.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engines.bundle import Bundle, BundleError, known_fields, strip_wrapper_prefixes
from engines.expressions import EXPRESSIONS, LABELS, POOLED

SECTION = "lstmpb"


# --------------------------------------------------------------------------------------------
# configuration

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


# --------------------------------------------------------------------------------------------
# the network


class LSTMPB(nn.Module):
    """Next-frame predictor steered by a parametric bias; see the module docstring for the maths."""

    def __init__(self, config: LSTMPBConfig | None = None):
        super().__init__()
        self.config = cfg = config or LSTMPBConfig()
        H, L = cfg.hidden, cfg.layers
        n_depth = 1 if cfg.tie_depth_weights else L
        self.in_proj = nn.Linear(cfg.input_dim, H)  # W_x
        self.pb_proj = nn.Linear(cfg.pb_dim, H)  # W_p
        self.ctx_in = nn.Linear(cfg.context_dim, H)  # W_c: context -> depth input of block 1
        # time LSTMs, one per block; gate order i, f, g, o (torch.lstm_cell)
        self.time_ih = nn.Parameter(torch.empty(L, 4 * H, H))  # on h^{l-1}_d
        self.time_hh = nn.Parameter(torch.empty(L, 4 * H, H))  # on h^l_{t-1}
        self.time_bias = nn.Parameter(torch.empty(L, 4 * H))
        # depth LSTM, tied across blocks unless tie_depth_weights is False
        self.depth_ih = nn.Parameter(torch.empty(n_depth, 4 * H, H))  # on h^l_t
        self.depth_hh = nn.Parameter(torch.empty(n_depth, 4 * H, H))  # on h^{l-1}_d
        self.depth_bias = nn.Parameter(torch.empty(n_depth, 4 * H))
        self.out_proj = nn.Linear(H, cfg.input_dim)  # W_o
        self.ctx_out = nn.Linear(H, cfg.context_dim)  # W_k
        # input normalization x_n = (x − mean) ⊙ scale, set from the training data (identity until then)
        self.register_buffer("input_mean", torch.zeros(cfg.input_dim))
        self.register_buffer("input_scale", torch.ones(cfg.input_dim))
        self.reset_parameters()

    def set_normalization(self, mean: Tensor | np.ndarray, scale: Tensor | np.ndarray) -> None:
        """Per-coordinate input normalization ``x_n = (x − mean) ⊙ scale`` (each (80,), scale > 0)."""
        mean = torch.as_tensor(np.asarray(mean, np.float32)).reshape(-1)
        scale = torch.as_tensor(np.asarray(scale, np.float32)).reshape(-1)
        D = self.config.input_dim
        if mean.shape != (D,) or scale.shape != (D,):
            raise ValueError(f"normalization mean and scale must be ({D},), got {tuple(mean.shape)}, {tuple(scale.shape)}")
        if not (torch.isfinite(mean).all() and torch.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("normalization mean must be finite and scale finite and positive")
        with torch.no_grad():
            self.input_mean.copy_(mean)
            self.input_scale.copy_(scale)

    def normalize(self, x: Tensor) -> Tensor:
        """Landmark vectors (…, 80) -> the network's space, where it predicts and its errors are measured."""
        return (x - self.input_mean) * self.input_scale

    def denormalize(self, xn: Tensor) -> Tensor:
        """Inverse of :meth:`normalize`."""
        return xn / self.input_scale + self.input_mean

    def reset_parameters(self) -> None:
        H = self.config.hidden
        bound = 1.0 / math.sqrt(H)
        for p in (self.time_ih, self.time_hh, self.depth_ih, self.depth_hh):
            nn.init.uniform_(p, -bound, bound)
        for b in (self.time_bias, self.depth_bias):
            nn.init.zeros_(b)
            b.data[:, H : 2 * H] = 1.0  # forget gates open at the start
        for lin in (self.in_proj, self.pb_proj, self.ctx_in, self.out_proj, self.ctx_out):
            lin.reset_parameters()

    # -- pieces shared by forward, generation and the explicit gradient -------------------------

    def _cells(self) -> tuple[list[tuple[Tensor, Tensor, Tensor]], list[tuple[Tensor, Tensor, Tensor]]]:
        """Per block: (w_ih, w_hh, bias) of the time LSTM and of the depth LSTM (views, no copies)."""
        tied = self.config.tie_depth_weights
        t_ih, t_hh, t_b = self.time_ih.unbind(0), self.time_hh.unbind(0), self.time_bias.unbind(0)
        d_ih, d_hh, d_b = self.depth_ih.unbind(0), self.depth_hh.unbind(0), self.depth_bias.unbind(0)
        time = [(t_ih[l], t_hh[l], t_b[l]) for l in range(self.config.layers)]
        depth = [(d_ih[0 if tied else l], d_hh[0 if tied else l], d_b[0 if tied else l])
                 for l in range(self.config.layers)]
        return time, depth

    def _readout(self) -> tuple[Tensor, Tensor]:
        """W_o and W_k stacked: one (80 + 64, H) matrix and its bias, so a step does one matmul."""
        w = torch.cat((self.out_proj.weight, self.ctx_out.weight), 0)
        b = torch.cat((self.out_proj.bias, self.ctx_out.bias), 0)
        return w, b

    def input_drive(self, x: Tensor) -> Tensor:
        """ReLU(W_x x) for every step at once: normalized (B, T, 80) -> (B, T, H)."""
        return F.relu(self.in_proj(x))

    def pb_drive(self, pb: Tensor) -> Tensor:
        """act(W_p p): (B, 64) -> (B, H), act the config's ``pb_activation``."""
        slope = PB_ACTIVATIONS[self.config.pb_activation]
        z = self.pb_proj(pb)
        return F.leaky_relu(z, slope) if slope else F.relu(z)

    def pb_active_units(self, pb: Tensor) -> Tensor:
        """Units of W_p p above zero for each PB (B, 64) -> (B,); 0: dead under ReLU, 1/10 strength if leaky."""
        with torch.no_grad():
            return (self.pb_proj(torch.as_tensor(pb, dtype=self.pb_proj.weight.dtype)) > 0).sum(-1)

    def zero_state(self, batch: int, device=None, dtype=None) -> list[Tensor]:
        """Grid time state and context at t = −1: [h^1..h^L, m^1..m^L, c], all zeros."""
        H, L, C = self.config.hidden, self.config.layers, self.config.context_dim
        p = self.time_bias
        device, dtype = device or p.device, dtype or p.dtype
        return [torch.zeros(batch, H, device=device, dtype=dtype) for _ in range(2 * L)] + [
            torch.zeros(batch, C, device=device, dtype=dtype)
        ]

    def run(self, drive_x: Tensor, drive_p: Tensor, state: list[Tensor] | None = None
            ) -> tuple[Tensor, list[Tensor]]:
        """Roll the recurrence over precomputed drives.

        drive_x: (B, T, H) = ReLU(W_x x_t) of normalized x_t; drive_p: (B, H) = act(W_p p).
        Returns the predictions x̂_{t+1} (B, T, 80, normalized) and the final state (see :meth:`zero_state`).
        """
        B, T, _ = drive_x.shape
        cfg = self.config
        L, D = cfg.layers, cfg.input_dim
        state = state if state is not None else self.zero_state(B, drive_x.device, drive_x.dtype)
        h, m, ctx = list(state[:L]), list(state[L : 2 * L]), state[2 * L]
        time_w, depth_w = self._cells()
        w_read, b_read = self._readout()
        w_c, b_c = self.ctx_in.weight, self.ctx_in.bias
        zero_mem = torch.zeros_like(h[0])
        lstm_cell = torch.lstm_cell
        outs = []
        for t in range(T):
            hd = F.linear(ctx, w_c, b_c)
            md = zero_mem
            for l in range(L):
                w_ih, w_hh, b = time_w[l]
                h[l], m[l] = lstm_cell(hd, (h[l], m[l]), w_ih, w_hh, b)
                w_ih, w_hh, b = depth_w[l]
                hd, md = lstm_cell(h[l], (hd, md), w_ih, w_hh, b)
            hidden = drive_x[:, t] + drive_p + F.relu(hd)
            out = torch.tanh(torch.addmm(b_read, hidden, w_read.t()))
            ctx = out[:, D:]
            outs.append(out[:, :D])
        return torch.stack(outs, 1), h + m + [ctx]

    def forward(self, x: Tensor, pb: Tensor) -> Tensor:
        """x: (B, T, 80) landmarks; pb: (B, 64) or (64,).

        Returns x̂ (B, T, 80) in the normalized space: x̂[:, t] predicts ``normalize(x)[:, t + 1]``.
        """
        if x.dim() != 3 or x.shape[-1] != self.config.input_dim:
            raise ValueError(f"x must be (B, T, {self.config.input_dim}), got {tuple(x.shape)}")
        if pb.dim() == 1:
            pb = pb.expand(x.shape[0], -1)
        if pb.shape != (x.shape[0], self.config.pb_dim):
            raise ValueError(f"pb must be ({x.shape[0]}, {self.config.pb_dim}), got {tuple(pb.shape)}")
        return self.predict(self.normalize(x), self.pb_drive(pb))

    def predict(self, xn: Tensor, drive_p: Tensor) -> Tensor:
        """Predictions x̂_{t+1} (B, T, 80) for normalized steps xn (B, T, 80) and drive_p = act(W_p p).

        Under teacher forcing every step reads its observed input. With ``closed_loop_after = k``
        the first k steps read the observed input and every later step reads the network's own
        previous prediction (generation mode after a short prompt), so the PB has to carry the
        course of the whole sequence, not only the next frame's correction.
        """
        k = self.config.closed_loop_after
        if not k or k >= xn.shape[1]:
            pred, _ = self.run(self.input_drive(xn), drive_p)
            return pred
        pred, state = self.run(self.input_drive(xn[:, :k]), drive_p)
        outs = [pred]
        y = pred[:, -1:]
        for _ in range(xn.shape[1] - k):
            y, state = self.run(self.input_drive(y), drive_p, state)
            outs.append(y)
        return torch.cat(outs, 1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------------------------
# errors, masks and the PB gradient


def step_mask(lengths: Tensor | None, batch: int, steps: int, device=None, error_from: int = 0) -> Tensor:
    """(B, T) float mask of predicted steps whose error counts: error_from ≤ t < length − 1.

    ``error_from``: :attr:`LSTMPBConfig.error_from` (closed loop: the prompt's predictions do not count).
    """
    if lengths is None:
        m = torch.ones(batch, steps, device=device)
        m[:, -1] = 0.0
    else:
        lengths = torch.as_tensor(lengths, device=device)
        m = (torch.arange(steps, device=device)[None, :] < (lengths[:, None] - 1)).float()
    m[:, :error_from] = 0.0
    return m


def sequence_errors(pred: Tensor, x: Tensor, mask: Tensor) -> Tensor:
    """Per sequence E = Σ_t ½‖x̂_{t+1} − x_{t+1}‖² over masked steps: (B,); x normalized, as pred."""
    err = pred[:, :-1] - x[:, 1:]
    return 0.5 * (err.pow(2).sum(-1) * mask[:, :-1]).sum(1)


def _pb_batch(pb: Tensor, batch: int, dim: int) -> Tensor:
    pb = torch.as_tensor(pb)
    if pb.dim() == 1:
        pb = pb.expand(batch, -1)
    if pb.shape != (batch, dim):
        raise ValueError(f"pb must be ({dim},) or ({batch}, {dim}), got {tuple(pb.shape)}")
    return pb


def _as_batch(seq: Tensor | np.ndarray, input_dim: int) -> tuple[Tensor, bool]:
    x = torch.as_tensor(np.asarray(seq, dtype=np.float32) if isinstance(seq, np.ndarray) else seq)
    single = x.dim() == 2
    if single:
        x = x[None]
    if x.dim() != 3 or x.shape[-1] != input_dim:
        raise ValueError(f"landmark sequence must be (T, {input_dim}) or (B, T, {input_dim}), got {tuple(x.shape)}")
    if x.shape[1] < 2:
        raise ValueError(f"a sequence needs at least 2 frames to predict one, got {x.shape[1]}")
    return x.float(), single


def pb_gradient(model: LSTMPB, x: Tensor, pb: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Step-averaged PB gradient by autograd, weights untouched.

    x: (B, T, 80); pb: (B, 64) or (64,); lengths: (B,) valid frames per sequence (default T).
    Returns (g, E): g = (1/(T_b−1)) Σ_t ∂E_b/∂p_t (B, 64) and the per-sequence errors E (B,).
    """
    B, T, _ = x.shape
    mask = step_mask(lengths, B, T, x.device, model.config.error_from)
    steps = mask.sum(1).clamp_min(1.0)
    p = _pb_batch(pb, B, model.config.pb_dim).detach().clone().requires_grad_(True)
    xn = model.normalize(x).detach()
    with torch.enable_grad():
        pred = model.predict(xn, model.pb_drive(p))
        E = sequence_errors(pred, xn, mask)
        (g,) = torch.autograd.grad((E / steps).sum(), [p])
    return g, E.detach()


class NumpyPBGradient:
    """Explicit back-propagation through time of the step-averaged PB gradient, in NumPy.

    Recognition freezes the weights and needs only ∂E/∂p, for one short window at a time on a
    CPU core; at that size the cost is per-operation overhead, not arithmetic, so this engine keeps
    weight snapshots laid out for few, small NumPy calls per step:

    * sigmoid(z) = ½·tanh(z/2) + ½: the i, f, o gate columns of the weights are pre-scaled by ½, so
      one ``tanh`` and one affine map give all four gates;
    * the two products with the depth hidden ``h^{l−1}_d`` (time-LSTM input and depth-LSTM state)
      are one matrix product; each cell's backward pass is one product with its stacked weights;
    * the PB enters only through act(W_p p) at every step, so
      Σ_t ∂E/∂p_t = W_pᵀ (act'(W_p p) ⊙ Σ_t ∂E/∂hidden_t), one product at the end.

    Build it once per set of weights (it copies them); call it with (x, pb, mask).
    """

    def __init__(self, model: LSTMPB, dtype=None):
        cfg = model.config
        self.config = cfg
        H = cfg.hidden
        dtype = np.dtype(dtype) if dtype is not None else np.dtype(
            np.float64 if model.time_bias.dtype == torch.float64 else np.float32)
        self.dtype = dtype

        def arr(t: Tensor) -> np.ndarray:
            return np.ascontiguousarray(t.detach().cpu().numpy().astype(dtype, copy=False))

        scale = np.full(4 * H, 0.5, dtype)
        scale[2 * H : 3 * H] = 1.0
        self.scale = scale
        self.offset = np.where(scale == 0.5, 0.5, 0.0).astype(dtype)
        with torch.no_grad():
            time_w, depth_w = model._cells()
            w_read, b_read = model._readout()
            self.time_in, self.time_rec, self.time_b, self.time_back = [], [], [], []
            self.depth_in, self.depth_b, self.depth_back, self.hd_mat = [], [], [], []
            for (t_ih, t_hh, t_b), (d_ih, d_hh, d_b) in zip(time_w, depth_w):
                t_in, t_rec = arr(t_ih).T * scale, arr(t_hh).T * scale  # (H, 4H)
                d_in, d_rec = arr(d_ih).T * scale, arr(d_hh).T * scale
                self.time_rec.append(np.ascontiguousarray(t_rec))
                self.time_b.append(arr(t_b) * scale)
                self.depth_in.append(np.ascontiguousarray(d_in))
                self.depth_b.append(arr(d_b) * scale)
                self.hd_mat.append(np.ascontiguousarray(np.concatenate((t_in, d_rec), 1)))  # (H, 8H)
                self.time_back.append(np.ascontiguousarray(np.concatenate((t_in, t_rec), 0).T))  # (4H, 2H)
                self.depth_back.append(np.ascontiguousarray(np.concatenate((d_in, d_rec), 0).T))
            self.ctx_w = arr(model.ctx_in.weight)  # (H, C)
            self.ctx_wT = np.ascontiguousarray(self.ctx_w.T)
            self.ctx_b = arr(model.ctx_in.bias)
            self.read_w = arr(w_read)  # (D + C, H)
            self.read_wT = np.ascontiguousarray(self.read_w.T)
            self.read_b = arr(b_read)
            self.in_w = arr(model.in_proj.weight)  # (H, D)
            self.in_wT = np.ascontiguousarray(self.in_w.T)
            self.in_b = arr(model.in_proj.bias)
            self.pb_w = arr(model.pb_proj.weight)  # (H, P)
            self.pb_wT = np.ascontiguousarray(self.pb_w.T)
            self.pb_b = arr(model.pb_proj.bias)
            self.pb_slope = PB_ACTIVATIONS[cfg.pb_activation]
            self.in_mean = arr(model.input_mean)
            self.in_scale = arr(model.input_scale)

    def __call__(self, x: np.ndarray, pb: np.ndarray, mask: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """x: (B, T, 80) steps (normalized here, as the model does); pb: (B, 64);
        mask: (B, T) 1 where x̂_t has a target x_{t+1} (default t < T−1); steps before the config's
        ``error_from`` never count.

        Returns g (B, 64) = (1/Σ_t mask) Σ_t ∂E/∂p_t and the errors E (B,).

        In closed loop (``closed_loop_after = k``) step t ≥ k reads the prediction of step t − 1,
        so the error of a later step also flows back into that prediction: ∂E/∂x̂_t gains
        W_xᵀ (ReLU'(W_x x̂_t) ⊙ ∂E/∂hidden_{t+1}).
        """
        cfg, H, L, D = self.config, self.config.hidden, self.config.layers, self.config.input_dim
        x = (np.asarray(x, self.dtype) - self.in_mean) * self.in_scale
        B, T, _ = x.shape
        pb = np.asarray(pb, self.dtype).reshape(B, cfg.pb_dim)
        if mask is None:
            mask = np.ones((B, T), self.dtype)
            mask[:, -1] = 0.0
        mask = np.array(mask, self.dtype)  # a copy: the prompt's steps are zeroed below
        mask[:, : cfg.error_from] = 0.0
        steps = T - 1  # the last frame has no target: its step never reaches E
        scale, offset = self.scale, self.offset
        tanh, multiply = np.tanh, np.multiply
        fed_back = cfg.closed_loop_after if 0 < cfg.closed_loop_after < steps else steps  # first step on x̂

        drive_x = np.empty((B, steps, H), self.dtype)
        np.matmul(x[:, :fed_back], self.in_wT, out=drive_x[:, :fed_back])
        drive_x[:, :fed_back] += self.in_b
        np.maximum(drive_x[:, :fed_back], 0.0, out=drive_x[:, :fed_back])
        pre_p = pb @ self.pb_wT + self.pb_b
        slope_p = np.where(pre_p > 0, 1.0, self.pb_slope).astype(self.dtype)  # act'(W_p p)
        drive_p = pre_p * slope_p

        def cell(z, m_prev):
            a = tanh(z, out=z)
            gates = a * scale
            gates += offset
            deriv = a * a
            np.subtract(1.0, deriv, out=deriv)
            deriv *= scale
            m = gates[:, H : 2 * H] * m_prev
            m += gates[:, :H] * gates[:, 2 * H : 3 * H]
            tm = tanh(m)
            return gates[:, 3 * H :] * tm, m, (gates, deriv, m_prev, tm)

        h = [np.zeros((B, H), self.dtype) for _ in range(L)]
        m = [np.zeros((B, H), self.dtype) for _ in range(L)]
        zero = np.zeros((B, H), self.dtype)
        ctx = np.zeros((B, cfg.context_dim), self.dtype)
        tape = []
        E = np.zeros(B, self.dtype)
        for t in range(steps):
            if t >= fed_back:  # closed loop: this step reads the last prediction
                z = out[:, :D] @ self.in_wT
                z += self.in_b
                np.maximum(z, 0.0, out=drive_x[:, t])
            hd = ctx @ self.ctx_wT
            hd += self.ctx_b
            md = zero
            blocks = []
            for l in range(L):
                hdw = hd @ self.hd_mat[l]
                z = h[l] @ self.time_rec[l]
                z += hdw[:, : 4 * H]
                z += self.time_b[l]
                h[l], m[l], saved_t = cell(z, m[l])
                z = h[l] @ self.depth_in[l]
                z += hdw[:, 4 * H :]
                z += self.depth_b[l]
                hd, md, saved_d = cell(z, md)
                blocks.append((saved_t, saved_d))
            top_on = hd > 0
            hidden = drive_x[:, t] + drive_p
            hidden += hd * top_on
            out = hidden @ self.read_wT
            out += self.read_b
            tanh(out, out=out)
            ctx = out[:, D:]  # a view into this step's output: the next step makes a new array
            err = out[:, :D] - x[:, t + 1]
            err *= mask[:, t, None]
            E += 0.5 * np.einsum("bd,bd->b", err, err)
            dout_scale = out * out
            np.subtract(1.0, dout_scale, out=dout_scale)
            tape.append((blocks, top_on, err, dout_scale))

        def cell_back(dh, dm, saved, back_w):
            gates, deriv, m_prev, tm = saved
            dm_tot = dh * gates[:, 3 * H :]
            dm_tot *= 1.0 - tm * tm
            if dm is not None:
                dm_tot += dm
            dz = np.empty((B, 4 * H), self.dtype)
            multiply(dm_tot, gates[:, 2 * H : 3 * H], out=dz[:, :H])
            multiply(dm_tot, m_prev, out=dz[:, H : 2 * H])
            multiply(dm_tot, gates[:, :H], out=dz[:, 2 * H : 3 * H])
            multiply(dh, tm, out=dz[:, 3 * H :])
            dz *= deriv
            d = dz @ back_w
            return d[:, :H], d[:, H:], dm_tot * gates[:, H : 2 * H]  # d input, d h_prev, d m_prev

        dh_time = [zero] * L
        dm_time: list = [None] * L
        dout = np.zeros((B, D + cfg.context_dim), self.dtype)
        dhidden_sum = np.zeros((B, H), self.dtype)
        dfed = None  # ∂E/∂x̂_t through step t + 1's input (closed loop)
        for t in range(steps - 1, -1, -1):
            blocks, top_on, err, dout_scale = tape[t]
            dout[:, :D] = err
            if dfed is not None:
                dout[:, :D] += dfed
            if t == steps - 1:
                dout[:, D:] = 0.0  # the last context is never used
            else:
                dout[:, D:] = dctx
            dout *= dout_scale
            dhidden = dout @ self.read_w
            dhidden_sum += dhidden
            dfed = ((dhidden * (drive_x[:, t] > 0)) @ self.in_w) if t >= fed_back else None
            dhd = dhidden * top_on
            dmd = None
            for l in range(L - 1, -1, -1):
                saved_t, saved_d = blocks[l]
                d_ht, dhd, dmd = cell_back(dhd, dmd, saved_d, self.depth_back[l])
                d_ht += dh_time[l]
                d_in, dh_time[l], dm_time[l] = cell_back(d_ht, dm_time[l], saved_t, self.time_back[l])
                dhd = dhd + d_in
            dctx = dhd @ self.ctx_w
        n = np.maximum(mask[:, :steps].sum(1), 1.0)
        g = ((dhidden_sum * slope_p) @ self.pb_w) / n[:, None]
        return g, E


def pb_gradient_manual(model: LSTMPB, x: Tensor | np.ndarray, pb: Tensor | np.ndarray,
                       lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """:func:`pb_gradient` by the explicit NumPy back-propagation of :class:`NumpyPBGradient`.

    Same arguments and results (g (B, 64), E (B,)), as tensors in the model's dtype.
    """
    x = torch.as_tensor(x)
    B, T, _ = x.shape
    mask = step_mask(lengths, B, T, error_from=model.config.error_from).numpy()
    pb = _pb_batch(torch.as_tensor(pb), B, model.config.pb_dim)
    engine = NumpyPBGradient(model)
    g, E = engine(x.detach().cpu().numpy(), pb.detach().cpu().numpy(), mask)
    dtype = model.time_bias.dtype
    return torch.from_numpy(g).to(dtype), torch.from_numpy(E).to(dtype)


# --------------------------------------------------------------------------------------------
# learning, recognition and generation modes


def prediction_loss(pred: Tensor, x: Tensor, mask: Tensor) -> Tensor:
    """Learning-mode loss: the step-averaged error E_b / (T_b − 1) of eq. 1, averaged over the batch.

    E_b = Σ_t ½‖x̂_{t+1} − x_{t+1}‖² summed over the 80 coordinates (x normalized). Averaging over
    coordinates as well would shrink the gradients 40-fold, and SGD at the paper's lr 0.01 then
    stalls at predicting the mean face.
    """
    steps = mask[:, :-1].sum(1).clamp_min(1.0)
    return (sequence_errors(pred, x, mask) / steps).mean()


def mean_squared_error(pred: Tensor, x: Tensor, mask: Tensor) -> float:
    """Mean squared next-frame error per coordinate over masked steps (the figure training reports)."""
    err = (pred[:, :-1] - x[:, 1:]).pow(2).sum(-1) * mask[:, :-1]
    return float(err.sum() / (mask[:, :-1].sum().clamp_min(1.0) * x.shape[-1]))


def learning_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, lengths: Tensor | None,
                  class_pbs: Tensor, class_index: Tensor, lr_pb: float, grad_clip: float | None = 5.0,
                  all_reduce: Callable[[Tensor], None] | None = None) -> float:
    """One learning-mode update on a batch; returns the batch's mean squared error per coordinate.

    model: an :class:`LSTMPB` (or a DistributedDataParallel wrapping one).
    x: (B, T, 80) padded sequences; lengths: (B,) valid frames (None: all T).
    class_pbs: (K, 64) one PB per class, updated in place by the step-averaged back-propagated
    error of the class's sequences (eq. 1–2), averaged over those sequences.
    class_index: (B,) row of ``class_pbs`` for each sequence.
    all_reduce: sums a tensor in place across processes (DistributedDataParallel averages the
    weight gradients itself; the PB sums and counts go through this).
    """
    B, T, _ = x.shape
    inner = getattr(model, "module", model)
    mask = step_mask(lengths, B, T, x.device, inner.config.error_from)
    p = class_pbs[class_index].detach().clone().requires_grad_(True)
    optimizer.zero_grad(set_to_none=True)
    pred = model(x, p)
    xn = inner.normalize(x)
    loss = prediction_loss(pred, xn, mask)
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    with torch.no_grad():
        # loss = (1/B) Σ_b E_b / (T_b − 1), so the step-averaged gradient of E_b is B·∂loss/∂p_b
        g = p.grad * B
        K = class_pbs.shape[0]
        sums = torch.zeros(K, class_pbs.shape[1] + 1, device=x.device, dtype=g.dtype)
        sums[:, :-1].index_add_(0, class_index, g)
        sums[:, -1].index_add_(0, class_index, torch.ones(B, device=x.device, dtype=g.dtype))
        if all_reduce is not None:
            all_reduce(sums)
        seen = sums[:, -1] > 0
        class_pbs[seen] -= lr_pb * sums[seen, :-1] / sums[seen, -1:]
    return mean_squared_error(pred.detach(), xn, mask)


def recognize(model: LSTMPB, seq: Tensor | np.ndarray, iters: int, lr: float = 0.9,
              pb0: Tensor | np.ndarray | None = None, lengths: Tensor | None = None,
              engine: NumpyPBGradient | None = None) -> Tensor:
    """Recognition mode: the PB that explains ``seq`` with the weights frozen (eq. 1–2, ``iters`` times).

    seq: (T, 80) or (B, T, 80) steps (:func:`landmark_steps`); pb0: start PB, (64,) or (B, 64),
    zeros when None (online: the last estimate); lengths: (B,) valid steps of padded sequences. On a CPU the gradient comes from the
    explicit NumPy engine (pass one in to reuse its weight snapshot), on a GPU from autograd.
    Returns (64,) or (B, 64), float32 on the CPU.
    """
    x, single = _as_batch(seq, model.config.input_dim)
    B, T, _ = x.shape
    dim = model.config.pb_dim
    p = torch.zeros(B, dim) if pb0 is None else _pb_batch(torch.as_tensor(pb0, dtype=torch.float32), B, dim)
    p = p.detach().float().cpu().clone()
    if engine is None and model.time_bias.device.type == "cpu":
        engine = NumpyPBGradient(model)
    if engine is not None:
        mask = step_mask(lengths, B, T, error_from=model.config.error_from).numpy()
        xn, pn = x.detach().cpu().numpy(), p.numpy().astype(engine.dtype)
        for _ in range(int(iters)):
            g, _ = engine(xn, pn, mask)
            pn = pn - lr * g
        p = torch.from_numpy(np.asarray(pn, np.float32))
    else:
        dev = model.time_bias.device
        x, p = x.to(dev), p.to(dev)
        lengths = None if lengths is None else torch.as_tensor(lengths, device=dev)
        for _ in range(int(iters)):
            g, _ = pb_gradient(model, x, p, lengths)
            p = p - lr * g
        p = p.float().cpu()
    return p[0] if single else p


@torch.no_grad()
def generate(model: LSTMPB, pb: Tensor | np.ndarray, x0: Tensor | np.ndarray, steps: int) -> Tensor:
    """Generation mode: closed-loop roll-out from a first step x0 (80,); returns the steps x̂_1..x̂_steps (steps, 80).

    For a model on displacements (``reference='first'``) the first step is zeros: the neutral face.
    """
    dev = model.time_bias.device
    pb = torch.as_tensor(pb, dtype=torch.float32, device=dev).reshape(1, -1)
    x = model.normalize(torch.as_tensor(x0, dtype=torch.float32, device=dev).reshape(1, 1, -1))
    drive_p = model.pb_drive(pb)
    state = None
    frames = []
    for _ in range(int(steps)):
        y, state = model.run(model.input_drive(x), drive_p, state)
        x = y
        frames.append(y[0, 0])
    return model.denormalize(torch.stack(frames, 0))


# --------------------------------------------------------------------------------------------
# files: weights, class PBs and the bundle section


def save_lstmpb(model: nn.Module, path: str | Path) -> Path:
    """Write the weights as safetensors (prefixes stripped); the config goes in the file's metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    inner = getattr(model, "module", model)
    inner = getattr(inner, "_orig_mod", inner)
    state = {k: v.detach().cpu().contiguous() for k, v in strip_wrapper_prefixes(inner.state_dict()).items()}
    save_file(state, str(path), metadata={"config": json.dumps(inner.config.to_dict())})
    return path


def load_lstmpb_weights(path: str | Path, config: LSTMPBConfig, where: str | None = None) -> LSTMPB:
    """Build an :class:`LSTMPB` from ``config`` and load a safetensors file, checking names and shapes.

    ``where`` names the bundle field in error messages. Raises BundleError on any mismatch.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    field = f" (named by '{where}')" if where else ""
    try:
        state = strip_wrapper_prefixes(load_file(str(path)))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{path}{field}: not a readable safetensors file ({exc})") from None
    model = LSTMPB(config)
    expected = model.state_dict()
    if not {"input_mean", "input_scale"} & set(state):  # weights saved before inputs were normalized
        state.update(input_mean=expected["input_mean"], input_scale=expected["input_scale"])
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise BundleError(f"{path}{field}: weights do not match the LSTM-PB config {config.to_dict()}: "
                          f"missing {missing[:6]}, unexpected {extra[:6]}")
    for key, ref in expected.items():
        if tuple(state[key].shape) != tuple(ref.shape):
            raise BundleError(f"{path}{field}: tensor '{key}' has shape {tuple(state[key].shape)}, the config "
                              f"{config.to_dict()} needs {tuple(ref.shape)} (does lstmpb.config match the weights?)")
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model.eval()
    return model


def class_key(expression: str, label: str) -> str:
    """Name of a class PB: '<expression>/<genuine|fake>'."""
    return f"{expression}/{label}"


def save_class_pbs(pbs: Mapping[str, Tensor], path: str | Path) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    save_file({k: torch.as_tensor(v).detach().float().cpu().contiguous() for k, v in pbs.items()}, str(path))
    return path


def read_class_pbs(path: str | Path, pb_dim: int, where: str | None = None) -> dict[str, Tensor]:
    """Class PBs from safetensors: keys '<expression>/<label>', values (pb_dim,). BundleError if malformed."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    field = f" (named by '{where}')" if where else ""
    try:
        pbs = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{path}{field}: not a readable safetensors file ({exc})") from None
    if not pbs:
        raise BundleError(f"{path}{field}: holds no class PB")
    for key, value in pbs.items():
        expr, _, label = key.partition("/")
        if expr not in (*EXPRESSIONS, POOLED) or label not in LABELS:
            raise BundleError(f"{path}{field}: key {key!r} is not '<expression>/<genuine|fake>'")
        if tuple(value.shape) != (pb_dim,):
            raise BundleError(f"{path}{field}: PB {key!r} has shape {tuple(value.shape)}, expected ({pb_dim},)")
    return {k: v.float() for k, v in pbs.items()}


def lstmpb_config_from_bundle(bundle: Bundle) -> LSTMPBConfig:
    return bundle.parse(SECTION, "config", LSTMPBConfig.from_dict)


def load_lstmpb(bundle: Bundle) -> tuple[LSTMPB, LSTMPBConfig]:
    """The LSTM-PB network of a bundle (eval mode, CPU) and its config; BundleError when they disagree."""
    config = lstmpb_config_from_bundle(bundle)
    path = bundle.file(SECTION, "weights")
    return load_lstmpb_weights(path, config, where=f"{SECTION}.weights"), config


def load_class_pbs(bundle: Bundle) -> dict[str, Tensor]:
    """The learned class PBs of a bundle, keyed '<expression>/<label>'."""
    config = lstmpb_config_from_bundle(bundle)
    return read_class_pbs(bundle.file(SECTION, "pb"), config.pb_dim, where=f"{SECTION}.pb")
