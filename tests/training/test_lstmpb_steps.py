"""LSTM-PB learning mode: the loss, the reported error and the update of weights and class PBs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.lstmpb import LSTMPB, LSTMPBConfig, pb_gradient, sequence_errors, step_mask
from training.lstmpb_steps import learning_step, mean_squared_error, prediction_loss

TINY = LSTMPBConfig(hidden=16, layers=2)


def sequences(seed: int, n: int = 4, frames: int = 8) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).uniform(-1, 1, (n, frames, 80)).astype(np.float32))


def test_learning_step_moves_class_pbs_by_step_averaged_gradient():
    torch.manual_seed(3)
    model = LSTMPB(TINY)
    x, idx = sequences(3), torch.tensor([0, 0, 1, 1])
    class_pbs = torch.randn(2, 64) * 0.1
    before = class_pbs.clone()
    g, _ = pb_gradient(model, x, before[idx])  # weights before the step
    expected = before - 0.9 * torch.stack([g[idx == k].mean(0) for k in (0, 1)])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    learning_step(model, opt, x, None, class_pbs, idx, lr_pb=0.9)
    torch.testing.assert_close(class_pbs, expected, rtol=1e-4, atol=1e-6)


def test_learning_step_leaves_unseen_classes_alone_and_reports_the_error():
    torch.manual_seed(4)
    model = LSTMPB(TINY)
    x, idx = sequences(4, n=2), torch.tensor([0, 0])
    class_pbs = torch.randn(3, 64) * 0.1
    before = class_pbs.clone()
    with torch.no_grad():
        expected = mean_squared_error(model(x, before[idx]), model.normalize(x), step_mask(None, 2, 8))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    assert learning_step(model, opt, x, None, class_pbs, idx, lr_pb=0.9) == pytest.approx(expected, rel=1e-6)
    assert not torch.equal(class_pbs[0], before[0])
    assert torch.equal(class_pbs[1:], before[1:])


def test_loss_is_the_step_averaged_error_and_mse_is_per_coordinate():
    pred, x = torch.zeros(2, 5, 80), torch.ones(2, 5, 80)
    lengths = torch.tensor([5, 3])
    mask = step_mask(lengths, 2, 5)
    assert sequence_errors(pred, x, mask).tolist() == [0.5 * 80 * 4, 0.5 * 80 * 2]
    assert float(prediction_loss(pred, x, mask)) == pytest.approx(40.0)  # ½·80 per predicted step
    assert mean_squared_error(pred, x, mask) == pytest.approx(1.0)
