"""Draw training clips so that rare valence levels are seen more often (``train sta --balance P``).

A labelled photo set is mostly happy and neutral faces: in the public sets we used, negative
expressions are fewer than one photo in ten. Under a plain MSE loss the model then gains little
from telling a sad face from a neutral one. Each epoch here draws as many clips as the set holds,
with replacement, a clip's chance proportional to ``count(its valence level) ** -P``: ``P = 0``
is uniform (every clip as often as in a plain shuffle, on average), ``P = 1`` gives every level the
same share, ``P = 0.5`` lies between. Levels are bins of the clip's label ``bin_width`` wide, so
continuous ratings and per-category targets are treated alike.

The draw depends only on the seed and the epoch, and each process of a distributed run takes
every ``world``-th of the same draw, so the processes see disjoint shares of one balanced epoch.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler


def level_weights(labels: np.ndarray, power: float, bin_width: float = 0.25) -> np.ndarray:
    """Per-clip drawing weight ``count(level) ** -power``, normalised to a mean of 1."""
    labels = np.asarray(labels, np.float64)
    if labels.ndim != 1 or not len(labels):
        raise ValueError("level_weights needs a non-empty 1-D array of clip labels")
    if power < 0 or not np.isfinite(power):
        raise ValueError(f"balance power must be a finite number >= 0, not {power}")
    levels = np.floor(labels / bin_width).astype(np.int64)
    _, inverse, counts = np.unique(levels, return_inverse=True, return_counts=True)
    w = counts[inverse].astype(np.float64) ** -power
    return w / w.mean()


class BalancedSampler(Sampler[int]):
    """``len(labels)`` clip indices an epoch, drawn with replacement by :func:`level_weights`."""

    def __init__(self, labels: np.ndarray, power: float, *, num_replicas: int = 1, rank: int = 0, seed: int = 0,
                 bin_width: float = 0.25):
        self.weights = torch.from_numpy(level_weights(labels, power, bin_width))
        self.num_replicas, self.rank, self.seed = num_replicas, rank, seed
        self.per_replica = -(-len(self.weights) // num_replicas)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_replica

    def __iter__(self) -> Iterator[int]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        total = self.per_replica * self.num_replicas
        draw = torch.multinomial(self.weights, total, replacement=True, generator=gen)
        return iter(draw[self.rank::self.num_replicas].tolist())
