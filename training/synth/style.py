"""Generator styles: two independent renderings of the same expression cues.

A model of genuine versus posed expressions should read the cues (which muscles act, how fast the
onset is, how long the apex, how asymmetric the two sides), not the generator's particulars. A
style fixes everything the cues do not depend on; training on one style and scoring on the other
tells which of the two a model has learned.

- ``a``: the piecewise-affine warp, each AU's displacement field as set in
  :mod:`training.synth.action_units`, raised-cosine smooth ramps and linear fast ones, the
  SASE-FE clip timing of :func:`training.synth.expressions.sasefe_episodes`, sensor noise and the
  'mp4v' encoder only.
- ``b``: a thin-plate spline warp; the AU displacement fields scaled per clip (0.75–1.3) and per AU
  (±15 %), as faces differ in how far a muscle moves them; quintic smooth ramps and ease-out fast
  ones; other neutral lead-in, gap and tail durations; optical blur and a JPEG pass (quality
  30–70) before the encoder.

Both styles draw the cue strengths from the same distributions (:data:`SPECS`), so the expected
separability of genuine and posed clips is the same; only the rendering differs.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class GeneratorStyle:
    """What a style sets. Ranges are (low, high) of a uniform draw per clip."""

    name: str
    warp: str  # training.synth.warp.WARPS
    curves: str  # training.synth.timeline.CURVES
    au_scale: tuple[float, float]  # all AU displacement fields of a clip
    au_jitter: float  # and each AU's own, relative
    lead_s: tuple[float, float]  # neutral before the target of an N2X clip
    gap_s: tuple[float, float]  # neutral between the lead-in and the target of a P2N2X clip
    tail_s: tuple[float, float]  # after the target's offset
    blur_sigma: tuple[float, float]  # Gaussian blur of the frame (pixels; 0: none)
    jpeg_quality: tuple[int, int] | None  # a JPEG pass before the encoder (None: none)

    def draw_rendering(self, seed: int, aus: tuple[int, ...]) -> dict:
        """Per-clip rendering values (JSON-ready), from their own generator; none for a style that
        varies none of them (``a``), whose clips are those the generator made before styles existed."""
        if self.au_scale == (1.0, 1.0) and not self.au_jitter and not any(self.blur_sigma) \
                and self.jpeg_quality is None:
            return {}
        rng = np.random.default_rng([seed, 202])
        scale = float(rng.uniform(*self.au_scale))
        out = {"au_scale": {str(au): round(scale * float(rng.uniform(1 - self.au_jitter, 1 + self.au_jitter)), 4)
                            for au in aus},
               "blur_sigma": round(float(rng.uniform(*self.blur_sigma)), 3)}
        if self.jpeg_quality is not None:
            out["jpeg_quality"] = int(rng.integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1))
        return out


STYLES: dict[str, GeneratorStyle] = {
    "a": GeneratorStyle("a", warp="mesh", curves="cosine", au_scale=(1.0, 1.0), au_jitter=0.0,
                        lead_s=(0.6, 1.2), gap_s=(0.5, 0.9), tail_s=(0.3, 0.7), blur_sigma=(0.0, 0.0),
                        jpeg_quality=None),
    "b": GeneratorStyle("b", warp="tps", curves="quintic", au_scale=(0.75, 1.3), au_jitter=0.15,
                        lead_s=(0.3, 1.8), gap_s=(0.3, 1.3), tail_s=(0.2, 1.0), blur_sigma=(0.4, 1.1),
                        jpeg_quality=(30, 70)),
}


def style(name: str) -> GeneratorStyle:
    try:
        return STYLES[name]
    except KeyError:
        raise ValueError(f"unknown generator style {name!r}; choose one of {', '.join(STYLES)}") from None


def degrade(frame: np.ndarray, rendering: dict) -> np.ndarray:
    """The optical blur and JPEG pass of a clip's rendering values (``{}``: the frame unchanged)."""
    sigma = rendering.get("blur_sigma", 0.0)
    if sigma > 0:
        frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    quality = rendering.get("jpeg_quality")
    if quality is not None:
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise OSError("OpenCV could not JPEG-encode a frame")
        frame = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return frame
