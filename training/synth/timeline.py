"""Time courses: expression episodes (onset–apex–offset), blinks, head motion and lighting.

All functions take frame times ``t`` (seconds, shape (T,)) and return arrays over them, so a whole
clip's trajectories are computed at once before rendering.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


CURVES = ("cosine", "quintic")


def _ramp(x: np.ndarray, smooth: bool, curves: str = "cosine") -> np.ndarray:
    """0 -> 1 over x in [0, 1]. Family ``cosine``: raised cosine (smooth, zero velocity at both ends)
    or linear. Family ``quintic``: the quintic smootherstep (zero velocity and acceleration at both
    ends) or an ease-out sine (fast, all speed at the start)."""
    x = np.clip(x, 0.0, 1.0)
    if curves == "quintic":
        return x * x * x * (x * (6 * x - 15) + 10) if smooth else np.sin(0.5 * np.pi * x)
    return 0.5 - 0.5 * np.cos(np.pi * x) if smooth else x


@dataclass
class Episode:
    """One expression: AU apex intensities per side and an onset–apex–offset envelope.

    start: onset begins (s); onset/apex/offset: phase durations (s); smooth_onset/offset: raised
    cosine instead of a linear ramp; wobble: relative fluctuation of intensity during the apex;
    aus: {AU: (left, right)} apex intensities; au_delay: {AU: s} per-AU onset delay.
    """

    expression: str
    label: str  # "genuine" | "fake"
    start: float
    onset: float
    apex: float
    offset: float
    smooth_onset: bool
    smooth_offset: bool
    wobble: float
    wobble_hz: float
    aus: dict[int, tuple[float, float]]
    au_delay: dict[int, float] = field(default_factory=dict)
    role: str = "target"  # "target" | "lead-in" (the preceding expression of SASE-FE's X2N2Y codes)
    curves: str = "cosine"  # ramp family (CURVES)

    @property
    def apex_time(self) -> tuple[float, float]:
        return self.start + self.onset, self.start + self.onset + self.apex

    @property
    def end(self) -> float:
        return self.start + self.onset + self.apex + self.offset

    def envelope(self, t: np.ndarray, delay: float = 0.0) -> np.ndarray:
        """(T,) in [0, 1 + wobble]."""
        u = t - self.start - delay
        rise = _ramp(u / max(self.onset, 1e-3), self.smooth_onset, self.curves)
        fall = 1.0 - _ramp((u - self.onset - self.apex) / max(self.offset, 1e-3), self.smooth_offset, self.curves)
        env = np.where(u < self.onset, rise, fall)
        if self.wobble > 0:
            in_apex = (u >= self.onset) & (u < self.onset + self.apex)
            env = env * (1.0 + np.where(in_apex, self.wobble * np.sin(2 * np.pi * self.wobble_hz * u), 0.0))
        return np.where(u < 0, 0.0, env)

    def intensities(self, t: np.ndarray) -> dict[int, np.ndarray]:
        """{AU: (T, 2)} left/right intensities over time."""
        out = {}
        for au, (il, ir) in self.aus.items():
            env = self.envelope(t, self.au_delay.get(au, 0.0))
            out[au] = np.stack([il * env, ir * env], axis=1)
        return out

    def to_json(self) -> dict:
        d = asdict(self)
        d["aus"] = {str(k): [round(v[0], 4), round(v[1], 4)] for k, v in self.aus.items()}
        d["au_delay"] = {str(k): round(v, 4) for k, v in self.au_delay.items()}
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def add_intensities(total: dict[int, np.ndarray], part: dict[int, np.ndarray]) -> None:
    for au, v in part.items():
        total[au] = total[au] + v if au in total else v.copy()


def blink_track(t: np.ndarray, rng: np.random.Generator, rate_hz: float) -> tuple[np.ndarray, list[float]]:
    """(T,) closure in [0, 1] from blinks at Poisson times (fast close ~0.08 s, slower open ~0.18 s)."""
    times, s = [], float(rng.exponential(1.0 / rate_hz)) * 0.6
    while s < t[-1] + 0.5:
        times.append(s)
        s += 0.35 + float(rng.exponential(1.0 / rate_hz))
    closure = np.zeros_like(t)
    for b in times:
        close, hold, open_ = rng.uniform(0.06, 0.1), rng.uniform(0.02, 0.06), rng.uniform(0.12, 0.22)
        u = t - b
        c = np.where(u < close, _ramp(u / close, True),
                     np.where(u < close + hold, 1.0, 1.0 - _ramp((u - close - hold) / open_, True)))
        closure = np.maximum(closure, np.where(u < 0, 0.0, c))
    return closure, [round(b, 3) for b in times]


def smooth_noise(t: np.ndarray, rng: np.random.Generator, amplitude: float, f_lo: float, f_hi: float,
                 n: int = 3) -> np.ndarray:
    """(T,) sum of n sinusoids with random frequencies in [f_lo, f_hi] Hz, RMS about ``amplitude``."""
    out = np.zeros_like(t)
    for _ in range(n):
        f, ph = rng.uniform(f_lo, f_hi), rng.uniform(0, 2 * np.pi)
        out += np.sin(2 * np.pi * f * t + ph)
    return out * amplitude * np.sqrt(2.0 / n)


@dataclass
class Camera:
    """Per-clip framing, head motion, lighting and sensor settings (all drawn per clip)."""

    zoom: float  # face size relative to the identity canvas
    offset: tuple[float, float]  # face centre offset, fraction of the output frame
    roll_deg: float
    motion_px: float  # head translation RMS, in interocular distances
    motion_roll_deg: float
    motion_scale: float
    gain: float
    gain_drift: float
    gradient: float  # left-right lighting gradient (fraction)
    gradient_drift: float
    tint: tuple[float, float, float]  # per-channel gain (B, G, R)
    noise_sigma: float

    @staticmethod
    def draw(rng: np.random.Generator, session: bool = False) -> "Camera":
        return Camera(
            zoom=float(rng.uniform(0.85, 1.15)),
            offset=(float(rng.uniform(-0.06, 0.06)), float(rng.uniform(-0.05, 0.05))),
            roll_deg=float(rng.uniform(-4, 4)),
            motion_px=float(rng.uniform(0.02, 0.08 if session else 0.05)),
            motion_roll_deg=float(rng.uniform(0.5, 2.5)),
            motion_scale=float(rng.uniform(0.005, 0.025)),
            gain=float(rng.uniform(0.85, 1.12)),
            gain_drift=float(rng.uniform(0.0, 0.06)),
            gradient=float(rng.uniform(-0.12, 0.12)),
            gradient_drift=float(rng.uniform(0.0, 0.05)),
            tint=tuple(float(v) for v in rng.uniform(0.94, 1.06, 3)),
            noise_sigma=float(rng.uniform(1.5, 4.5)),
        )

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else [round(x, 4) for x in v] if isinstance(v, tuple) else v)
                for k, v in asdict(self).items()}


def head_motion(t: np.ndarray, cam: Camera, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Rigid, yaw-free head motion: {'tx', 'ty' (interocular units), 'roll' (deg), 'scale'} over t."""
    return {
        "tx": smooth_noise(t, rng, cam.motion_px, 0.05, 0.5),
        "ty": smooth_noise(t, rng, cam.motion_px * 0.7, 0.05, 0.5),
        "roll": cam.roll_deg + smooth_noise(t, rng, cam.motion_roll_deg, 0.05, 0.4),
        "scale": 1.0 + smooth_noise(t, rng, cam.motion_scale, 0.03, 0.3),
    }


def lighting(t: np.ndarray, cam: Camera, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(gain (T,), gradient (T,)): global gain and left-right gradient amplitude over time."""
    gain = cam.gain + smooth_noise(t, rng, cam.gain_drift, 0.02, 0.2, n=2)
    grad = cam.gradient + smooth_noise(t, rng, cam.gradient_drift, 0.02, 0.2, n=2)
    return gain, grad
