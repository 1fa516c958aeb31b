"""One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) for landmark jitter.

A low-pass filter whose cut-off rises with speed: a still face is smoothed strongly (less jitter),
a moving one hardly at all (no added lag). Speeds are measured in inter-ocular distances per
second, so the same settings fit small and large faces.
"""
from __future__ import annotations

import math

import numpy as np


class OneEuroFilter:
    def __init__(self, min_cutoff_hz: float = 1.0, beta: float = 40.0, d_cutoff_hz: float = 1.0,
                 default_dt_s: float = 1 / 30):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff_hz, beta, d_cutoff_hz
        self.default_dt = default_dt_s
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t_ns: int | None = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t_ns: int, scale: float = 1.0) -> np.ndarray:
        """Filter ``x`` (any shape) observed at ``t_ns``; ``scale`` is the unit of speed (pixels)."""
        x = np.asarray(x, np.float64)
        if self._x is None:
            self._x, self._dx, self._t_ns = x.copy(), np.zeros_like(x), t_ns
            return x.astype(np.float32)
        dt = (t_ns - self._t_ns) / 1e9
        if not (1e-3 <= dt <= 1.0):
            dt = self.default_dt
        self._t_ns = t_ns
        dx = (x - self._x) / dt / max(scale, 1e-6)
        a_d = self._alpha(self.d_cutoff, dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        a = self._alpha(cutoff, dt)
        self._x = a * x + (1 - a) * self._x
        return self._x.astype(np.float32)
