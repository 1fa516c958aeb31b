"""Learning mode of the LSTM-PB, one batch at a time: the loss, the reported error and the update
of the weights and the class PBs (paper eq. 1–2). The loop around it is
:mod:`training.train_lstmpb`."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from engines.lstmpb import sequence_errors, step_mask


LOSSES = ("sum", "mean")


def prediction_loss(pred: Tensor, x: Tensor, mask: Tensor, reduction: str = "sum") -> Tensor:
    """Learning-mode loss: the step-averaged error E_b / (T_b − 1) of eq. 1, averaged over the batch.

    ``sum``: E_b = Σ_t ½‖x̂_{t+1} − x_{t+1}‖² summed over the 80 coordinates (x normalized).
    ``mean``: each step's error is the mean over the 80 coordinates of (x̂ − x)², as the authors'
    code computes it (Torch's MSECriterion): the paper's steps, gradients 40 times smaller, under
    which SGD at lr 0.01 on standardized inputs stalls at predicting the mean face.
    """
    if reduction not in LOSSES:
        raise ValueError(f"unknown loss {reduction!r}; expected one of {LOSSES}")
    steps = mask[:, :-1].sum(1).clamp_min(1.0)
    errors = sequence_errors(pred, x, mask)
    if reduction == "mean":
        errors = errors * (2.0 / x.shape[-1])
    return (errors / steps).mean()


def mean_squared_error(pred: Tensor, x: Tensor, mask: Tensor) -> float:
    """Mean squared next-frame error per coordinate over masked steps (the figure training reports)."""
    err = (pred[:, :-1] - x[:, 1:]).pow(2).sum(-1) * mask[:, :-1]
    return float(err.sum() / (mask[:, :-1].sum().clamp_min(1.0) * x.shape[-1]))


def learning_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, lengths: Tensor | None,
                  class_pbs: Tensor, class_index: Tensor, lr_pb: float, grad_clip: float | None = 5.0,
                  all_reduce: Callable[[Tensor], None] | None = None, loss: str = "sum") -> float:
    """One learning-mode update on a batch; returns the batch's mean squared error per coordinate.

    model: an :class:`LSTMPB` (or a DistributedDataParallel wrapping one).
    x: (B, T, 80) padded sequences; lengths: (B,) valid frames (None: all T).
    class_pbs: (K, 64) one PB per class, updated in place by the step-averaged back-propagated
    error of the class's sequences (eq. 1–2), averaged over those sequences.
    class_index: (B,) row of ``class_pbs`` for each sequence.
    all_reduce: sums a tensor in place across processes (DistributedDataParallel averages the
    weight gradients itself; the PB sums and counts go through this).
    loss: ``sum`` or ``mean`` over the coordinates (:func:`prediction_loss`).
    """
    B, T, _ = x.shape
    inner = getattr(model, "module", model)
    mask = step_mask(lengths, B, T, x.device, inner.config.error_from)
    p = class_pbs[class_index].detach().clone().requires_grad_(True)
    optimizer.zero_grad(set_to_none=True)
    pred = model(x, p)
    xn = inner.normalize(x)
    prediction_loss(pred, xn, mask, loss).backward()
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
