"""The NumPy PB-gradient engine used live: explicit back-propagation through time of the
step-averaged PB gradient of an :class:`~engines.lstmpb.model.LSTMPB`, weights frozen."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from engines.lstmpb.config import PB_ACTIVATIONS

if TYPE_CHECKING:
    from engines.lstmpb.model import LSTMPB


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
