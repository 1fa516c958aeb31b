"""The one interface every inference backend implements, and what they share.

A backend serves one model at one input shape (the ``example_input`` it was loaded with):
``infer(x)`` with x (B, T, 3, S, S) float32 (numpy or torch) returns numpy float32
``(valence (B,), attention (B, T, S, S))``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch
from torch import nn

log = logging.getLogger("engines.backends")

EXTRAS = {"onnxruntime": "onnx", "tensorrt": "tensorrt"}


class BackendError(RuntimeError):
    """A backend could not be built or run; the message says why."""


class BackendUnavailable(BackendError):
    """A backend's optional package or device is missing; the message names what to install."""


def missing_extra(backend: str, package: str) -> BackendUnavailable:
    extra = EXTRAS.get(backend, backend)
    return BackendUnavailable(f"backend '{backend}' needs the package '{package}': "
                              f"pip install affectscope[{extra}]")


def model_fingerprint(model: nn.Module) -> str:
    """sha256 over the config (when the model has one), then every state-dict entry's name, dtype,
    shape and bytes, in key order. Equal fingerprints mean the same function of the input."""
    h = hashlib.sha256()
    cfg = getattr(model, "config", None)
    h.update(type(model).__name__.encode())
    if cfg is not None and hasattr(cfg, "to_dict"):
        h.update(json.dumps(cfg.to_dict(), sort_keys=True).encode())
    for key, value in sorted(model.state_dict().items()):
        t = value.detach().to("cpu").contiguous()
        h.update(key.encode())
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def shape_tag(shape: tuple[int, ...]) -> str:
    return "x".join(str(int(d)) for d in shape)


def default_cache_dir() -> Path:
    """``$AFFECTSCOPE_CACHE`` or ``$XDG_CACHE_HOME/affectscope`` (``~/.cache/affectscope``), then ``engines``."""
    root = os.environ.get("AFFECTSCOPE_CACHE")
    if root:
        return Path(root) / "engines"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "affectscope" / "engines"


def as_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"input must be a numpy array or a torch tensor, got {type(x).__name__}")
    return x.float()


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).numpy()


class InferenceBackend(ABC):
    """Runs an STA-style model: ``x (B, T, 3, S, S) -> (valence (B,), attention (B, T, S, S))``.

    Life cycle: ``load(model, example_input)`` once (build, export or compile; may take long),
    ``warmup(n)``, then ``infer(x)`` as often as needed, ``close()`` at the end.
    """

    name: str = "base"

    def __init__(self, cache_dir: str | Path | None = None, device: str | torch.device | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.input_shape: tuple[int, ...] | None = None
        self.fallback_reason: str | None = None  # set by the factory when this one replaced another

    def load(self, model: nn.Module, example_input: np.ndarray | torch.Tensor) -> "InferenceBackend":
        x = as_tensor(example_input)
        if x.dim() != 5:
            raise ValueError(f"example_input must be (B, T, 3, S, S), got {tuple(x.shape)}")
        self.input_shape = tuple(x.shape)
        self._load(model.eval(), x)
        return self

    def warmup(self, n: int = 3) -> None:
        if self.input_shape is None:
            raise BackendError(f"backend '{self.name}': call load() before warmup()")
        x = torch.zeros(self.input_shape)
        for _ in range(max(0, n)):
            self.infer(x)

    def infer(self, x: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        if self.input_shape is None:
            raise BackendError(f"backend '{self.name}': call load() before infer()")
        t = as_tensor(x)
        if tuple(t.shape) != self.input_shape:
            raise ValueError(f"backend '{self.name}' was loaded for input {self.input_shape}, "
                             f"got {tuple(t.shape)}; load it again for another shape")
        return self._infer(t)

    def close(self) -> None:
        self.input_shape = None

    def __enter__(self) -> "InferenceBackend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @abstractmethod
    def _load(self, model: nn.Module, x: torch.Tensor) -> None: ...

    @abstractmethod
    def _infer(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]: ...
