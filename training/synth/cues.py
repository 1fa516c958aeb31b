"""Landmark measures of the genuine/fake cues and of smiling/frowning, from 68-point sequences.

Measures are taken in a face frame fixed by the eye corners (36, 39, 42, 45), which the action
units barely move: origin at their mean, x along the eye line, unit = the distance between the two
eyes' corner midpoints. Each main cue rises with the expression's reliable AU(s):

- happiness, contentment (AU6): lower-eyelid raise;
- sadness (AU1 + AU4): inner brows raised relative to the outer brows and drawn together;
- anger (AU23): lips narrowed and thinned (mouth width plus outer-lip height, decreasing);
- surprise (AU5): upper-eyelid raise;
- disgust (AU9 / AU10): upper lip and nose base raised.
"""
from __future__ import annotations

import numpy as np


def face_coords(seq68: np.ndarray) -> np.ndarray:
    """(T, 68, 2) landmarks in the per-frame eye-corner frame (see module docstring)."""
    seq = np.asarray(seq68, np.float64)
    left = 0.5 * (seq[:, 36] + seq[:, 39])
    right = 0.5 * (seq[:, 42] + seq[:, 45])
    origin = seq[:, [36, 39, 42, 45]].mean(1)
    v = right - left
    unit = np.linalg.norm(v, axis=1, keepdims=True)
    ex = v / unit
    ey = np.stack([-ex[:, 1], ex[:, 0]], axis=1)
    rel = seq - origin[:, None]
    x = np.einsum("tpk,tk->tp", rel, ex) / unit
    y = np.einsum("tpk,tk->tp", rel, ey) / unit
    return np.stack([x, y], axis=-1)


def _y(f, idx):
    return f[:, list(idx), 1].mean(1)


def lower_lid_raise(f):
    return -_y(f, (40, 41, 46, 47))


def upper_lid_raise(f):
    return -_y(f, (37, 38, 43, 44))


def inner_brow(f):
    oblique = _y(f, (17, 18, 25, 26)) - _y(f, (20, 21, 22, 23))  # inner brows higher than outer (AU1)
    gap = f[:, 22, 0] - f[:, 21, 0]  # brows drawn together (AU4): weighted up, it is the clearer sign
    return oblique - 2.0 * gap


def lip_tightening(f):
    width = f[:, 54, 0] - f[:, 48, 0]
    height = _y(f, (56, 57, 58)) - _y(f, (50, 51, 52))
    return -(width + height)


def upper_lip_raise(f):
    return -(_y(f, (50, 51, 52)) + _y(f, (31, 32, 33, 34, 35)))


MAIN_CUE = {
    "happiness": lower_lid_raise,
    "contentment": lower_lid_raise,
    "sadness": inner_brow,
    "anger": lip_tightening,
    "surprise": upper_lid_raise,
    "disgust": upper_lip_raise,
}


def cue_series(expression: str, seq68: np.ndarray) -> np.ndarray:
    """(T,) main genuine-cue measure of an expression, in interocular units (up = more genuine)."""
    return MAIN_CUE[expression](face_coords(seq68))


def smile_frown(seq68: np.ndarray) -> np.ndarray:
    """(T,) smile (+) / frown (-) measure: lip-corner lift and widening minus brow lowering."""
    f = face_coords(seq68)
    corners = _y(f, (48, 54))
    centre = _y(f, (51, 57))
    lift = centre - corners
    width = f[:, 54, 0] - f[:, 48, 0]
    brows = -_y(f, (18, 19, 20, 21, 22, 23, 24, 25))
    return lift + 0.5 * width + 0.5 * brows


def window_median(values: np.ndarray, fps: float, window_s: tuple[float, float]) -> float:
    """Median of a series over a time window (NaNs, i.e. frames without a face, ignored)."""
    a, b = (int(round(w * fps)) for w in window_s)
    chunk = values[max(a, 0):max(b, a + 1)]
    return float(np.nanmedian(chunk)) if np.isfinite(chunk).any() else float("nan")


def rise_time(values: np.ndarray, fps: float, start_s: float, end_s: float, lo: float = 0.1, hi: float = 0.9) -> float:
    """Seconds for a series to go from lo to hi of its rise, searched within [start_s, end_s]."""
    a, b = int(round(start_s * fps)), int(round(end_s * fps))
    seg = values[a:b]
    if len(seg) < 3 or not np.isfinite(seg).any():
        return float("nan")
    base = np.nanmedian(values[max(0, a - int(0.3 * fps)):a + 1]) if a > 0 else seg[0]
    peak = np.nanmax(seg)
    if peak - base <= 0:
        return float("nan")
    rel = (seg - base) / (peak - base)
    above_lo = np.flatnonzero(rel >= lo)
    above_hi = np.flatnonzero(rel >= hi)
    if not len(above_lo) or not len(above_hi):
        return float("nan")
    return float(above_hi[0] - above_lo[0]) / fps


_NOT_EYELIDS = np.array([i for i in range(68) if i not in (37, 38, 40, 41, 43, 44, 46, 47)])


def cue_strength(expression: str, seq68: np.ndarray, fps: float, neutral_s: tuple[float, float],
                 apex_s: tuple[float, float]) -> float:
    """Main cue at the apex minus at neutral (medians over the two windows, 0.1 s inside each)."""
    cue = cue_series(expression, seq68)
    (n0, n1), (a0, a1) = neutral_s, apex_s
    return (window_median(cue, fps, (a0 + 0.1, max(a1 - 0.05, a0 + 0.2)))
            - window_median(cue, fps, (n0 + 0.1, max(n1 - 0.05, n0 + 0.2))))


def expression_motion(seq68: np.ndarray, fps: float, neutral_s: tuple[float, float]) -> np.ndarray:
    """(T,) mean distance of the landmarks (eyelids excluded: blinks) from their neutral median,
    in the eye-corner frame (head motion removed), median-filtered over 3 frames."""
    f = face_coords(seq68)[:, _NOT_EYELIDS]
    a, b = int(round(neutral_s[0] * fps)), int(round(neutral_s[1] * fps))
    ref = np.nanmedian(f[a:max(b, a + 1)], axis=0)
    d = np.linalg.norm(f - ref, axis=-1).mean(1)
    padded = np.concatenate([d[:1], d, d[-1:]])
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)


def onset_time(seq68: np.ndarray, fps: float, neutral_s: tuple[float, float], start_s: float,
               apex_s: tuple[float, float]) -> float:
    """10–90 % rise time (s) of the expression motion into the apex."""
    motion = expression_motion(seq68, fps, neutral_s)
    return rise_time(motion, fps, start_s - 0.1, apex_s[0] + 0.3)


def track_landmarks(frames, tracker=None) -> np.ndarray:
    """(T, 68, 2) landmarks read back by the live pipeline's FaceTracker (NaN where no face).

    frames: an iterable of BGR frames (e.g. ``training.datasets.ClipFrames(path)``).
    """
    from realtime.perception.face_tracker import FaceTracker

    tracker = tracker or FaceTracker()
    tracker.reset()
    out = []
    for i, frame in enumerate(frames):
        obs = tracker.process(frame, i, 0)
        out.append(obs.landmarks68 if obs.face else np.full((68, 2), np.nan, np.float32))
    return np.asarray(out, np.float32).reshape(-1, 68, 2)


def separation_auc(genuine: np.ndarray, fake: np.ndarray) -> float:
    """ROC AUC of a score that should be higher for genuine than for fake (Mann–Whitney, ties count half)."""
    g = np.asarray(genuine, np.float64)
    f = np.asarray(fake, np.float64)
    g, f = g[np.isfinite(g)], f[np.isfinite(f)]
    if not len(g) or not len(f):
        return float("nan")
    greater = (g[:, None] > f[None, :]).sum()
    ties = (g[:, None] == f[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(g) * len(f)))
