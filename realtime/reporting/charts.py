"""Small, dependency-free charts drawn with OpenCV: time series, histograms, marker lines.

Session reports must render on a default install, which has OpenCV and numpy but no plotting
library. Everything is drawn at ``scale`` times the logical size (2× by default) with anti-aliased
lines and sub-pixel coordinates, so the PNGs stay sharp on high-density screens when the HTML
shows them at their logical width. Coordinates passed in are logical pixels; colours are BGR.

OpenCV's Hershey fonts cover ASCII only: :func:`ascii_text` replaces anything else.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# BGR colours
WHITE = (255, 255, 255)
INK = (40, 30, 24)  # titles
TEXT = (99, 85, 71)  # tick labels, axis labels
GRID = (238, 234, 230)
AXIS = (203, 195, 187)
BLUE = (235, 99, 37)
ORANGE = (12, 88, 234)
GREEN = (74, 163, 22)
RED = (38, 38, 220)
PURPLE = (237, 58, 124)
TEAL = (136, 148, 13)
SHADE = (250, 247, 245)
ABSENT = (240, 232, 226)

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_SHIFT = 4  # sub-pixel bits for polylines
_ONE = 1 << _SHIFT


def ascii_text(s: str) -> str:
    """``s`` with characters OpenCV cannot draw replaced (dashes and quotes mapped, others '?')."""
    table = {"—": "-", "–": "-", "−": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "±": "+/-", "…": "..."}
    return "".join(table.get(c, c) if ord(c) >= 128 else c for c in s).encode("ascii", "replace").decode()


def nice_ticks(lo: float, hi: float, target: int = 6) -> np.ndarray:
    """Round tick values (steps of 1, 2, 2.5 or 5 × 10^k) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return np.array([lo])
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = np.arange(first, hi + step * 1e-6, step)
    return np.round(ticks, 10)


def tick_label(v: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and abs(step * 10 ** decimals - round(step * 10 ** decimals)) > 1e-6:
        decimals += 1
    s = f"{v:.{decimals}f}"
    return "0" if float(s) == 0 else s


class Figure:
    """A white canvas of ``width`` × ``height`` logical pixels, drawn at ``scale`` ×."""

    def __init__(self, width: int, height: int, scale: int = 2):
        self.width, self.height, self.scale = width, height, scale
        self.img = np.full((height * scale, width * scale, 3), 255, np.uint8)

    # -- primitives (logical coordinates) ------------------------------------------------------
    def _p(self, x: float, y: float) -> tuple[int, int]:
        return round(x * self.scale * _ONE), round(y * self.scale * _ONE)

    def line(self, x0, y0, x1, y1, color, width: float = 1.0) -> None:
        cv2.line(self.img, self._p(x0, y0), self._p(x1, y1), color, max(1, round(width * self.scale)),
                 cv2.LINE_AA, _SHIFT)

    def dashed(self, x0, y0, x1, y1, color, width: float = 1.0, dash: float = 5, gap: float = 4) -> None:
        length = math.hypot(x1 - x0, y1 - y0)
        if length == 0:
            return
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        s = 0.0
        while s < length:
            e = min(s + dash, length)
            self.line(x0 + ux * s, y0 + uy * s, x0 + ux * e, y0 + uy * e, color, width)
            s = e + gap

    def polyline(self, xs: np.ndarray, ys: np.ndarray, color, width: float = 1.5) -> None:
        pts = np.stack([xs, ys], 1) * self.scale * _ONE
        cv2.polylines(self.img, [np.round(pts).astype(np.int32)], False, color, max(1, round(width * self.scale)),
                      cv2.LINE_AA, _SHIFT)

    def rect(self, x0, y0, x1, y1, color, fill: bool = True, width: float = 1.0, alpha: float = 1.0) -> None:
        s = self.scale
        a, b = (round(x0 * s), round(y0 * s)), (round(x1 * s) - 1, round(y1 * s) - 1)
        if alpha >= 1.0:
            cv2.rectangle(self.img, a, b, color, -1 if fill else max(1, round(width * s)))
            return
        overlay = self.img.copy()
        cv2.rectangle(overlay, a, b, color, -1)
        cv2.addWeighted(overlay, alpha, self.img, 1 - alpha, 0, dst=self.img)

    def polygon(self, xs: np.ndarray, ys: np.ndarray, color, alpha: float = 1.0) -> None:
        pts = np.round(np.stack([xs, ys], 1) * self.scale * _ONE).astype(np.int32)
        if alpha >= 1.0:
            cv2.fillPoly(self.img, [pts], color, cv2.LINE_AA, _SHIFT)
            return
        overlay = self.img.copy()
        cv2.fillPoly(overlay, [pts], color, cv2.LINE_AA, _SHIFT)
        cv2.addWeighted(overlay, alpha, self.img, 1 - alpha, 0, dst=self.img)

    def text_size(self, s: str, size: float = 11, bold: bool = False) -> tuple[float, float]:
        """(width, height) in logical pixels of ``s`` at a cap height of about ``size`` px."""
        fs = size * self.scale / 22.0
        (w, h), _ = cv2.getTextSize(ascii_text(s), _FONT, fs, self._thick(bold))
        return w / self.scale, h / self.scale

    def _thick(self, bold: bool) -> int:
        return max(1, round(self.scale * (1.6 if bold else 0.75)))

    def text(self, s: str, x: float, y: float, size: float = 11, color=TEXT, anchor: str = "lb",
             bold: bool = False, bg=None) -> None:
        """Draw ``s``; ``anchor`` is horizontal (l, c, r) then vertical (t, m, b) of the text box;
        ``bg`` fills the box (plus a small margin) first, so that lines behind the text stop short."""
        s = ascii_text(s)
        w, h = self.text_size(s, size, bold)
        if anchor[0] == "c":
            x -= w / 2
        elif anchor[0] == "r":
            x -= w
        if anchor[1] == "t":
            y += h
        elif anchor[1] == "m":
            y += h / 2
        if bg is not None:
            self.rect(x - 4, y - h - 4, x + w + 4, y + 5, bg)
        fs = size * self.scale / 22.0
        cv2.putText(self.img, s, (round(x * self.scale), round(y * self.scale)), _FONT, fs, color,
                    self._thick(bold), cv2.LINE_AA)

    def tag(self, s: str, x: float, y: float, color, size: float = 10) -> float:
        """A filled label box with its left edge at ``x`` and top at ``y``; returns its right edge."""
        w, h = self.text_size(s, size, bold=True)
        pad = 4
        self.rect(x, y, x + w + 2 * pad, y + h + 2 * pad, color)
        self.text(s, x + pad, y + pad, size, WHITE, anchor="lt", bold=True)
        return x + w + 2 * pad

    def png(self) -> bytes:
        ok, buf = cv2.imencode(".png", self.img, [cv2.IMWRITE_PNG_COMPRESSION, 6])
        if not ok:
            raise RuntimeError("PNG encoding failed")
        return buf.tobytes()


@dataclass
class Axes:
    """A plot area at logical rectangle (x, y, w, h) of a figure, showing data ranges xlim × ylim."""

    fig: Figure
    x: float
    y: float
    w: float
    h: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]

    def px(self, v) -> np.ndarray:
        x0, x1 = self.xlim
        return self.x + (np.asarray(v, np.float64) - x0) / ((x1 - x0) or 1.0) * self.w

    def py(self, v) -> np.ndarray:
        y0, y1 = self.ylim
        return self.y + self.h - (np.asarray(v, np.float64) - y0) / ((y1 - y0) or 1.0) * self.h

    # -- frame, grid, labels -----------------------------------------------------------------
    def frame(self, title: str | None = None, ylabel: str | None = None, yticks=None, xticks=None,
              xlabels: bool = True, xlabel: str | None = None, subtitle: str | None = None) -> None:
        f = self.fig
        yt = nice_ticks(*self.ylim, target=4) if yticks is None else np.asarray(yticks, float)
        xt = nice_ticks(*self.xlim, target=8) if xticks is None else np.asarray(xticks, float)
        for v in yt:
            f.line(self.x, float(self.py(v)), self.x + self.w, float(self.py(v)), GRID, 1)
            step = float(np.diff(yt).min()) if len(yt) > 1 else 1.0
            f.text(tick_label(v, step), self.x - 7, float(self.py(v)), 10, TEXT, anchor="rm")
        for v in xt:
            f.line(float(self.px(v)), self.y, float(self.px(v)), self.y + self.h, GRID, 1)
        f.line(self.x, self.y + self.h, self.x + self.w, self.y + self.h, AXIS, 1)
        f.line(self.x, self.y, self.x, self.y + self.h, AXIS, 1)
        if xlabels:
            step = float(np.diff(xt).min()) if len(xt) > 1 else 1.0
            for v in xt:
                f.line(float(self.px(v)), self.y + self.h, float(self.px(v)), self.y + self.h + 4, AXIS, 1)
                f.text(tick_label(v, step), float(self.px(v)), self.y + self.h + 8, 10, TEXT, anchor="ct")
        if xlabel:
            f.text(xlabel, self.x + self.w, self.y + self.h + 26, 10, TEXT, anchor="rt")
        if title:
            self.title(title, subtitle)
        if ylabel:
            f.text(ylabel, self.x - 7, self.y - 9, 10, TEXT, anchor="rb")

    def title(self, title: str, subtitle: str | None = None) -> None:
        """Bold title (and a lighter subtitle) above the top-left corner, on a white backing."""
        f = self.fig
        f.text(title, self.x, self.y - 9, 12.5, INK, anchor="lb", bold=True, bg=WHITE)
        if subtitle:
            tw, _ = f.text_size(title, 12.5, bold=True)
            f.text(subtitle, self.x + tw + 10, self.y - 9, 10, TEXT, anchor="lb", bg=WHITE)

    def message(self, s: str) -> None:
        self.fig.text(s, self.x + self.w / 2, self.y + self.h / 2, 11, TEXT, anchor="cm", bg=WHITE)

    # -- data --------------------------------------------------------------------------------
    def series(self, t: np.ndarray, v: np.ndarray, color, width: float = 1.5, fill_to: float | None = None,
               fill_alpha: float = 0.16, max_gap_s: float | None = None) -> None:
        """A line through (t, v); NaN breaks the line, as does a time gap longer than ``max_gap_s``."""
        for a, b in _runs(t, v, max_gap_s):
            xs, ys = self.px(t[a:b]), self.py(np.clip(v[a:b], *sorted(self.ylim)))
            if fill_to is not None:
                base = float(self.py(fill_to))
                self.fig.polygon(np.r_[xs, xs[::-1]], np.r_[ys, np.full(len(xs), base)], color, fill_alpha)
            if b - a == 1:
                self.fig.line(float(xs[0]) - 0.5, float(ys[0]), float(xs[0]) + 0.5, float(ys[0]), color, width)
            else:
                self.fig.polyline(xs, ys, color, width)

    def hline(self, v: float, color, dashed: bool = True, width: float = 1.0) -> None:
        y = float(self.py(v))
        (self.fig.dashed if dashed else self.fig.line)(self.x, y, self.x + self.w, y, color, width)

    def vline(self, t: float, color, dashed: bool = True, width: float = 1.0, y0: float | None = None,
              y1: float | None = None) -> None:
        x = float(self.px(t))
        (self.fig.dashed if dashed else self.fig.line)(x, self.y if y0 is None else y0, x,
                                                        self.y + self.h if y1 is None else y1, color, width)

    def span(self, t0: float, t1: float, color, alpha: float = 1.0) -> None:
        x0 = float(np.clip(self.px(t0), self.x, self.x + self.w))
        x1 = float(np.clip(self.px(t1), self.x, self.x + self.w))
        if x1 > x0:
            self.fig.rect(x0, self.y, x1, self.y + self.h, color, alpha=alpha)

    def bars(self, edges: np.ndarray, counts: np.ndarray, color, alpha: float = 0.85) -> None:
        for lo, hi, c in zip(edges[:-1], edges[1:], counts):
            if c <= 0:
                continue
            x0, x1 = float(self.px(lo)), float(self.px(hi))
            self.fig.rect(x0 + 0.5, float(self.py(c)), max(x0 + 1.5, x1 - 0.5), self.y + self.h, color, alpha=alpha)


def _runs(t: np.ndarray, v: np.ndarray, max_gap_s: float | None) -> list[tuple[int, int]]:
    """[a, b) index ranges of consecutive finite values (split at time gaps > max_gap_s)."""
    ok = np.isfinite(v) & np.isfinite(t)
    if max_gap_s is not None and len(t) > 1:
        brk = np.r_[False, np.diff(t) > max_gap_s]
    else:
        brk = np.zeros(len(t), bool)
    runs, start = [], None
    for i in range(len(v)):
        if start is not None and (not ok[i] or brk[i]):
            runs.append((start, i))
            start = None
        if ok[i] and start is None:
            start = i
    if start is not None:
        runs.append((start, len(v)))
    return runs


def legend(fig: Figure, x: float, y: float, items: list[tuple[str, tuple]], size: float = 10) -> None:
    """Items (label, colour) from right edge ``x`` leftwards, text baseline near ``y``."""
    for label, color in reversed(items):
        w, _ = fig.text_size(label, size)
        fig.text(label, x, y, size, TEXT, anchor="rm")
        x -= w + 6
        fig.line(x - 16, y, x, y, color, 2.5)
        x -= 16 + 16
