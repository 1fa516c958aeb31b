"""A small but real model worker for GUI tests: it fills valence, P(fake) and an attention map
from the perception stream, so the plots and the overlay can be checked before the trained STA
and LSTM-PB bundles exist.

Every 16 face frames (like the STA worker) it reads the last 16 landmark vectors and the newest
aligned crop:
- valence from the lip gap (outer lips, bottom minus top, in the 40-point similarity frame)
  relative to the gap in the first window it saw (the face's neutral);
- P(fake) from the brow-to-eye distance relative to the first window's (raised brows read as posed);
- attention: the crop's gradient magnitude, smoothed, normalized to sum 1 (S x S).
The slopes map a typical spread of these distances (about 0.02 and 0.005) onto the value ranges.
"""
from __future__ import annotations

import cv2
import numpy as np

from realtime.workers.base import ModelWorker

UPPER_LIP, LOWER_LIP = 30, 34  # dlib 51 and 57 in the 40-point layout
BROWS = slice(0, 10)  # dlib 17-26
EYES = slice(16, 28)  # dlib 36-47


class LandmarkAffectWorker(ModelWorker):
    provides = ("valence", "p_fake", "attention")

    def __init__(self, every: int = 16):
        super().__init__("landmark-affect")
        self.every = every
        self.seen = 0
        self.jobs = 0
        self.neutral: tuple[float, float] | None = None  # (lip gap, brow distance) of the first window

    def due(self, obs, buffers) -> bool:
        self.seen += 1
        return self.seen % self.every == 0

    def prepare(self, obs, buffers):
        vecs, _, _ = buffers.vectors.last(self.every)
        crops, _, _ = buffers.crops.last(1)
        return vecs, crops[-1]

    def compute(self, job) -> dict:
        vecs, crop = job
        y = vecs[:, 40:]
        gap = float((y[:, LOWER_LIP] - y[:, UPPER_LIP]).mean())
        brow = float((y[:, EYES].mean(1) - y[:, BROWS].mean(1)).mean())
        if self.neutral is None:
            self.neutral = (gap, brow)
        valence = float(np.tanh((gap - self.neutral[0]) / 0.02))
        p_fake = float(1.0 / (1.0 + np.exp(-(brow - self.neutral[1]) / 0.005)))
        gray = crop.astype(np.float32).mean(2)
        gy, gx = np.gradient(gray)
        att = cv2.GaussianBlur(np.hypot(gx, gy), (0, 0), crop.shape[0] / 12)
        att /= max(float(att.sum()), 1e-6)
        self.jobs += 1
        return {"valence": valence, "p_fake": p_fake, "attention": att.astype(np.float32)}

    def on_reset(self) -> None:
        self.seen = 0


def landmark_affect_factory(source, bundle, expression_model, backend, landmark_model):
    """A GUI pipeline factory: the perception stack of ``bundle`` plus :class:`LandmarkAffectWorker`."""
    from realtime.pipeline.core import Pipeline, PipelineSettings
    from realtime.pipeline.runner import make_tracker

    return Pipeline(source, make_tracker(bundle, landmark_model), [LandmarkAffectWorker()],
                    PipelineSettings(paced=True, expression_model=expression_model))
