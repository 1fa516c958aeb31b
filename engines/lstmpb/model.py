"""The LSTM-PB network and its torch-side modes.

:class:`LSTMPB` (the next-frame predictor steered by a parametric bias; the maths is in the
:mod:`engines.lstmpb` package docstring), the step mask and per-sequence errors, the PB gradient by
autograd, and the recognition and generation modes. The live PB gradient on a CPU comes from the
NumPy engine in :mod:`engines.lstmpb.recognition`.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engines.lstmpb.config import PB_ACTIVATIONS, LSTMPBConfig
from engines.lstmpb.recognition import NumpyPBGradient

# --------------------------------------------------------------------------------------------
# the network


class LSTMPB(nn.Module):
    """Next-frame predictor steered by a parametric bias; the maths is in the docstring of
    :mod:`engines.lstmpb`."""

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


# --------------------------------------------------------------------------------------------
# recognition and generation modes


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
