"""Eager PyTorch on CPU or CUDA: the reference every other backend is checked against."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engines.backends.base import InferenceBackend, to_numpy


class EagerBackend(InferenceBackend):
    name = "eager"

    def _load(self, model: nn.Module, x: torch.Tensor) -> None:
        self.model = model.to(self.device)
        with torch.inference_mode():
            self.model(x.to(self.device))

    def _infer(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            valence, attention = self.model(x.to(self.device, non_blocking=True))
        return to_numpy(valence), to_numpy(attention)

    def close(self) -> None:
        self.model = None
        super().close()
