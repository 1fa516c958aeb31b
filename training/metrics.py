"""Regression metrics for continuous affect and the AV+EC post-processing chain.

Metrics (``truth``, ``prediction`` 1-D, same length; NaN where undefined, as audmetric does):

* :func:`rmse` -- root mean squared error;
* :func:`pearson_cc` -- Pearson correlation coefficient;
* :func:`ccc` -- Lin's concordance correlation coefficient (paper eq. 4), with population
  (1/N) variances and covariance as in the AV+EC challenges:
  ``2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))^2)``.

Post-processing (AV+EC baselines, Ringeval et al.), each step a function ``pred -> pred`` on one
recording's prediction sequence, composed in this order by :class:`PostProcessing`:

1. :func:`median_filter` or :func:`moving_average` -- smoothing over ``window`` frames (centred);
2. :func:`center` -- remove the prediction's mean and add the training labels' mean;
3. :func:`scale` -- multiply the deviations so their std equals the training labels' std;
4. :func:`time_shift` -- delay (``shift > 0``) or advance the sequence by ``shift`` frames,
   compensating the annotators' reaction lag; the edges are padded with the nearest value.

The window and the shift are chosen on development data (:func:`tune_postprocessing`), the
statistics come from the training labels (:class:`LabelStats`), never from the test labels.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

__all__ = [
    "rmse", "pearson_cc", "ccc", "regression_metrics", "LabelStats", "median_filter", "moving_average",
    "center", "scale", "time_shift", "compose", "PostProcessing", "tune_postprocessing",
]


def _pair(truth: Sequence[float], prediction: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(truth, dtype=np.float64).ravel()
    p = np.asarray(prediction, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"truth has {t.size} values, prediction {p.size}; they must match")
    return t, p


def rmse(truth: Sequence[float], prediction: Sequence[float]) -> float:
    t, p = _pair(truth, prediction)
    if t.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((t - p) ** 2)))


def pearson_cc(truth: Sequence[float], prediction: Sequence[float]) -> float:
    t, p = _pair(truth, prediction)
    if t.size < 2:
        return float("nan")
    a, b = p - p.mean(), t - t.mean()
    denom = np.sqrt(np.dot(a, a) * np.dot(b, b))
    return float(np.dot(a, b) / denom) if denom > 0 else float("nan")


def ccc(truth: Sequence[float], prediction: Sequence[float]) -> float:
    """Lin's concordance correlation coefficient, population moments (paper eq. 4)."""
    t, p = _pair(truth, prediction)
    if t.size < 2:
        return float("nan")
    a, b = p - p.mean(), t - t.mean()
    n = t.size
    denom = np.dot(a, a) + np.dot(b, b) + n * (p.mean() - t.mean()) ** 2
    return float(2.0 * np.dot(a, b) / denom) if denom > 0 else float("nan")


def regression_metrics(truth: Sequence[float], prediction: Sequence[float]) -> dict[str, float]:
    """``{"rmse", "cc", "ccc"}`` of one pair of sequences."""
    return {"rmse": rmse(truth, prediction), "cc": pearson_cc(truth, prediction), "ccc": ccc(truth, prediction)}


def epoch_ranking(truth: Sequence[float]) -> str:
    """How epochs are ranked on held-out clips with valence ``truth``: "ccc"; "rmse" where every
    clip has the same valence (photos of one category, say), as CCC is then 0 whatever the model does."""
    return "ccc" if np.unique(np.asarray(truth, np.float64)).size > 1 else "rmse"


def selection_score(metrics: dict[str, float], ranked_by: str) -> float:
    """An epoch's score under ``ranked_by`` (higher is better): CCC, or minus RMSE. Not finite: -inf."""
    score = metrics["ccc"] if ranked_by == "ccc" else -metrics["rmse"]
    return score if np.isfinite(score) else -np.inf


# ----------------------------------------------------------------------------------------------
# Post-processing

@dataclass(frozen=True)
class LabelStats:
    """Mean and (population) std of the training labels."""

    mean: float
    std: float

    @classmethod
    def of(cls, labels: Iterable[float] | np.ndarray) -> "LabelStats":
        y = np.asarray(list(labels) if not isinstance(labels, np.ndarray) else labels, np.float64).ravel()
        if y.size == 0:
            raise ValueError("no training labels to take statistics from")
        return cls(float(y.mean()), float(y.std()))


def _seq(pred: Sequence[float]) -> np.ndarray:
    p = np.asarray(pred, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"a prediction sequence must be 1-D, got shape {p.shape}")
    return p


def _running(pred: Sequence[float], window: int, what: str, reduce) -> np.ndarray:
    p = _seq(pred)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"{what} window must be a positive odd number, got {window}")
    if window == 1 or p.size == 0:
        return p.copy()
    half = window // 2
    padded = np.pad(p, half, mode="reflect" if p.size > half else "edge")
    return reduce(np.lib.stride_tricks.sliding_window_view(padded, window))


def median_filter(pred: Sequence[float], window: int) -> np.ndarray:
    """Centred running median over ``window`` frames (odd; 1 = unchanged); edges padded by reflection."""
    return _running(pred, window, "median", lambda w: np.median(w, axis=-1))


def moving_average(pred: Sequence[float], window: int) -> np.ndarray:
    """Centred running mean over ``window`` frames (odd; 1 = unchanged); edges padded by reflection."""
    return _running(pred, window, "moving-average", lambda w: w.mean(axis=-1))


def center(pred: Sequence[float], stats: LabelStats) -> np.ndarray:
    """pred - mean(pred) + mean(training labels)."""
    p = _seq(pred)
    return p - p.mean() + stats.mean if p.size else p.copy()


def scale(pred: Sequence[float], stats: LabelStats) -> np.ndarray:
    """Deviations from the prediction's mean rescaled to the training labels' std (unchanged if flat)."""
    p = _seq(pred)
    if p.size == 0:
        return p.copy()
    sd = p.std()
    if sd == 0:
        return p.copy()
    m = p.mean()
    return (p - m) * (stats.std / sd) + m


def time_shift(pred: Sequence[float], shift: int) -> np.ndarray:
    """out[t] = pred[t - shift] (shift > 0 delays); edges repeat the nearest value."""
    p = _seq(pred)
    if shift == 0 or p.size == 0:
        return p.copy()
    idx = np.clip(np.arange(p.size) - shift, 0, p.size - 1)
    return p[idx]


def compose(*steps: Callable[[np.ndarray], np.ndarray]) -> Callable[[Sequence[float]], np.ndarray]:
    """Chain ``pred -> pred`` steps left to right."""
    def chain(pred: Sequence[float]) -> np.ndarray:
        out = _seq(pred)
        for step in steps:
            out = step(out)
        return out
    return chain


@dataclass(frozen=True)
class PostProcessing:
    """The AV+EC chain with its settings; ``__call__(pred, stats)`` applies it to one recording."""

    smoothing: str | None = "median"  # "median" | "mean" | None
    window: int = 1
    center: bool = True
    scale: bool = True
    shift: int = 0

    def __post_init__(self) -> None:
        if self.smoothing not in ("median", "mean", None):
            raise ValueError(f"smoothing must be 'median', 'mean' or None, got {self.smoothing!r}")

    def steps(self, stats: LabelStats) -> list[Callable[[np.ndarray], np.ndarray]]:
        out: list[Callable[[np.ndarray], np.ndarray]] = []
        if self.smoothing == "median" and self.window > 1:
            out.append(lambda p: median_filter(p, self.window))
        elif self.smoothing == "mean" and self.window > 1:
            out.append(lambda p: moving_average(p, self.window))
        if self.center:
            out.append(lambda p: center(p, stats))
        if self.scale:
            out.append(lambda p: scale(p, stats))
        if self.shift:
            out.append(lambda p: time_shift(p, self.shift))
        return out

    def __call__(self, pred: Sequence[float], stats: LabelStats) -> np.ndarray:
        return compose(*self.steps(stats))(pred)

    def to_dict(self) -> dict:
        return {"smoothing": self.smoothing, "window": self.window, "center": self.center,
                "scale": self.scale, "shift": self.shift}


def tune_postprocessing(preds: Sequence[np.ndarray], truths: Sequence[np.ndarray], stats: LabelStats,
                        windows: Iterable[int] = (1, 3, 5, 9, 15, 25), shifts: Iterable[int] = (0,),
                        smoothing: str = "median", center_: bool = True,
                        scale_: bool = True) -> tuple[PostProcessing, float]:
    """Grid-search window and shift on development recordings; best by CCC over the
    concatenated recordings. Returns (settings, dev CCC)."""
    if len(preds) != len(truths) or not preds:
        raise ValueError("need the same (non-zero) number of prediction and label sequences")
    truth_all = np.concatenate([np.asarray(t, np.float64).ravel() for t in truths])
    best: tuple[PostProcessing, float] | None = None
    for window, shift in itertools.product(windows, shifts):
        pp = PostProcessing(smoothing, window, center_, scale_, shift)
        score = ccc(truth_all, np.concatenate([pp(p, stats) for p in preds]))
        if best is None or (np.isfinite(score) and (not np.isfinite(best[1]) or score > best[1])):
            best = (pp, score)
    if best is None:
        raise ValueError("empty search grid: give at least one window and one shift")
    return best


def append_metrics_row(path, row: dict, fields) -> None:
    """Append one row to a metrics CSV (header written when the file is new); missing cells stay empty."""
    import csv
    from pathlib import Path

    path = Path(path)
    new = not path.is_file()
    with path.open("a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(fields))
        if new:
            w.writeheader()
        w.writerow({k: row.get(k, "") for k in fields})
