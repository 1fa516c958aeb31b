"""The STA worker: every 16 new face frames, the latest clip of aligned crops -> valence + attention.

The clip is ``clip_length`` crops sampled from the crop ring buffer at the bundle's clip rate
(paper: 16 crops at 4 fps, so a clip spans 4 s), ending at the newest frame. The model runs through
an inference backend chosen by name (``auto``: the fastest present), built on this worker's thread,
which also releases it.
"""
from __future__ import annotations

import logging

import numpy as np

from engines.bundle import Bundle
from realtime.workers.registry import register_worker
from realtime.perception.ring_buffer import PerceptionBuffers
from realtime.types import FaceObservation
from realtime.workers.base import ModelWorker

log = logging.getLogger(__name__)


class ValenceWorker(ModelWorker):
    provides = ("valence", "attention", "valence_quality")
    quality_key = "valence_quality"

    def __init__(self, bundle: Bundle, backend: str = "auto", every: int = 16, cache_dir=None):
        super().__init__("sta")
        self.bundle, self.backend_name, self.every, self.cache_dir = bundle, backend, every, cache_dir
        self.clip_length, self.clip_rate = bundle.clip_length, bundle.clip_rate_fps
        self._backend = None
        self._config = None
        self._new_frames = 0

    @property
    def stride(self) -> float:
        """Frames between the clip's crops at the source's frame rate (>= 1)."""
        return max(1.0, self.fps / self.clip_rate)

    def describe(self) -> str:
        return f"sta ({self.backend_in_use or self.backend_name})"

    def setup(self) -> None:
        import torch

        from engines.backends import create_backend
        from engines.sta import load_sta

        model = load_sta(self.bundle)
        model.eval()
        self._config = model.config
        if (model.config.clip_length, model.config.crop_size) != (self.clip_length, self.bundle.crop_size):
            raise ValueError(f"{self.bundle.root / 'bundle.json'}: the STA model takes {model.config.clip_length} "
                             f"crops of {model.config.crop_size} px but the bundle says {self.clip_length} of "
                             f"{self.bundle.crop_size}")
        example = torch.zeros(1, *model.config.input_shape)
        self._backend = create_backend(self.backend_name, model, example, cache_dir=self.cache_dir)
        self.backend_in_use = self._backend.name
        self._backend.warmup(2)

    def due(self, obs: FaceObservation, buffers: PerceptionBuffers) -> bool:
        self._new_frames += 1
        if self._new_frames < self.every:
            return False
        span = int(round(self.stride * (self.clip_length - 1))) + 1
        if len(buffers.crops) < span:
            return False
        self._new_frames = 0
        return True

    def good_share(self, buffers: PerceptionBuffers) -> float | None:
        """Good frames among the clip's crops (the same samples :meth:`prepare` takes)."""
        sample = buffers.good.sample(self.clip_length, self.stride)
        return None if sample is None else float(sample[0].mean())

    def prepare(self, obs: FaceObservation, buffers: PerceptionBuffers):
        sample = buffers.crops.sample(self.clip_length, self.stride)
        return None if sample is None else sample[0]

    def compute(self, crops: np.ndarray | None) -> dict:
        from engines.sta import preprocess_clip

        if crops is None:
            raise ValueError("clip not available")
        valence, attention = self._backend.infer(preprocess_clip(crops, self._config))
        v = float(np.clip(valence[0], -1.0, 1.0))
        return {"valence": v, "attention": attention[0].mean(0).astype(np.float32)}

    def on_reset(self) -> None:
        self._new_frames = 0

    def teardown(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


@register_worker("sta")
def _build(bundle: Bundle, expression_model: str = "pooled", backend: str = "auto") -> ValenceWorker:
    return ValenceWorker(bundle, backend=backend)
