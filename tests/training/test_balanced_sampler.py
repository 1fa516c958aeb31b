"""Balanced drawing of training clips by valence level (``train sta --balance``)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from training.balanced_sampler import BalancedSampler, level_weights
from training.train_sta import train_sta

# a photo set's proportions: many happy and neutral faces, few sad ones
LABELS = np.array([0.7] * 60 + [0.0] * 30 + [-0.6] * 10, np.float32)


def shares(indices) -> dict[float, float]:
    drawn = LABELS[np.asarray(list(indices))]
    return {v: float(np.mean(drawn == np.float32(v))) for v in (0.7, 0.0, -0.6)}


def test_power_one_gives_every_level_the_same_share_and_zero_keeps_the_set_as_it_is():
    flat = BalancedSampler(LABELS, 1.0, seed=3)
    flat.set_epoch(1)
    got = shares(list(flat) + [i for e in range(2, 40) for i in (flat.set_epoch(e) or flat)])
    assert all(abs(s - 1 / 3) < 0.03 for s in got.values()), got
    plain = BalancedSampler(LABELS, 0.0, seed=3)
    got = shares([i for e in range(40) for i in (plain.set_epoch(e) or plain)])
    assert abs(got[0.7] - 0.6) < 0.03 and abs(got[-0.6] - 0.1) < 0.02, got
    half = level_weights(LABELS, 0.5)
    assert half.mean() == pytest.approx(1.0)
    assert half[-1] / half[0] == pytest.approx(np.sqrt(60 / 10))  # sqrt of the count ratio


def test_the_draw_repeats_per_epoch_and_processes_take_disjoint_shares():
    a, b = BalancedSampler(LABELS, 0.5, seed=1), BalancedSampler(LABELS, 0.5, seed=1)
    a.set_epoch(4), b.set_epoch(4)
    assert list(a) == list(b) and len(list(a)) == len(a) == len(LABELS)
    b.set_epoch(5)
    assert list(a) != list(b)
    ranks = [BalancedSampler(LABELS, 0.5, num_replicas=3, rank=r, seed=1) for r in range(3)]
    for r in ranks:
        r.set_epoch(4)
    parts = [list(r) for r in ranks]
    assert [len(p) for p in parts] == [len(r) for r in ranks] == [34, 34, 34]
    # rank r takes draws r, r + 3, r + 6, ... of one draw of 102: together they are that draw
    gen = torch.Generator().manual_seed(1 * 1_000_003 + 4)
    one = torch.multinomial(torch.from_numpy(level_weights(LABELS, 0.5)), 102, replacement=True, generator=gen)
    assert [i for trio in zip(*parts) for i in trio] == one.tolist()


@pytest.mark.parametrize("power", [-0.5, float("nan")])
def test_a_negative_or_missing_power_is_refused_before_anything_is_read(tmp_path, power):
    with pytest.raises(ValueError, match="balance must be a finite number >= 0"):
        train_sta(tmp_path / "no-cache", tmp_path / "run", "sta_small", epochs=1, balance=power, progress=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="balance power"):
        level_weights(LABELS, power)
