"""Inference backends for the STA-3DCNN behind one interface, created by name.

- ``eager``: PyTorch on CPU or CUDA; always present; the reference.
- ``compile``: ``torch.compile`` (Inductor); on CPU it needs a C++ compiler.
- ``onnxruntime``: ONNX Runtime on CPU; the export is cached on disk (``pip install affectscope[onnx]``).
- ``tensorrt``: torch-tensorrt, fp16, CUDA; the engine is cached on disk
  (``pip install affectscope[tensorrt]``).
- ``auto``: the fastest one present: tensorrt (CUDA + torch-tensorrt), else compile on CUDA, else
  onnxruntime, else eager. It logs which one it chose.

Typical use (the STA worker)::

    model = load_sta(bundle)
    backend = create_backend("auto", model, torch.zeros(1, *model.config.input_shape))
    valence, attention = backend.infer(preprocess_clip(crops, model.config))

A named backend whose optional package is missing raises :class:`BackendUnavailable` naming the
pip extra. A ``tensorrt`` or ``compile`` build that fails falls back to the next one in the order
above, logging why; the returned backend's ``name`` and ``fallback_reason`` say what happened.
"""
from __future__ import annotations

import functools
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engines.backends.base import (BackendError, BackendUnavailable, InferenceBackend, default_cache_dir,
                                   model_fingerprint)
from engines.backends.compiled import CompileBackend, cpp_compiler
from engines.backends.eager import EagerBackend
from engines.backends.onnx_runtime import OnnxRuntimeBackend
from engines.backends.tensorrt import TensorRTBackend

__all__ = [
    "InferenceBackend", "BackendError", "BackendUnavailable", "Availability", "BACKENDS", "BACKEND_NAMES",
    "available_backends", "preference_order", "create_backend", "model_fingerprint", "default_cache_dir",
]

log = logging.getLogger("engines.backends")

BACKENDS: dict[str, type[InferenceBackend]] = {
    "eager": EagerBackend,
    "compile": CompileBackend,
    "onnxruntime": OnnxRuntimeBackend,
    "tensorrt": TensorRTBackend,
}
BACKEND_NAMES = ("auto", *BACKENDS)
FALLBACK_ON_BUILD_FAILURE = ("tensorrt", "compile")


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str


@functools.cache
def available_backends() -> dict[str, Availability]:
    """What can run here, checked once per process (packages are found, not imported)."""
    cuda = torch.cuda.is_available()
    cxx = cpp_compiler()
    has_ort = importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None
    has_trt = importlib.util.find_spec("torch_tensorrt") is not None
    out = {"eager": Availability(True, "PyTorch on CPU" + (" and CUDA" if cuda else ""))}
    if not hasattr(torch, "compile"):
        out["compile"] = Availability(False, "torch.compile needs torch >= 2.0")
    elif cuda or cxx:
        out["compile"] = Availability(True, ("CUDA; " if cuda else "") + (f"CPU with {cxx}" if cxx else "no C++ compiler for CPU"))
    else:
        out["compile"] = Availability(False, "no CUDA and no C++ compiler (g++/clang++) for Inductor on CPU")
    out["onnxruntime"] = (Availability(True, "onnx and onnxruntime installed (CPU)") if has_ort else
                          Availability(False, "pip install affectscope[onnx]"))
    if not has_trt:
        out["tensorrt"] = Availability(False, "pip install affectscope[tensorrt]")
    elif not cuda:
        out["tensorrt"] = Availability(False, "torch-tensorrt installed but no CUDA device")
    else:
        out["tensorrt"] = Availability(True, f"torch-tensorrt on {torch.cuda.get_device_name(0)}")
    return out


def preference_order(device: torch.device) -> list[str]:
    """Backends from fastest to slowest for a device (what ``auto`` tries, in order)."""
    if device.type == "cuda":
        return ["tensorrt", "compile", "onnxruntime", "eager"]
    return ["onnxruntime", "eager"]


def _default_device(name: str) -> torch.device:
    if name == "onnxruntime":
        return torch.device("cpu")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def create_backend(name: str, model: nn.Module, example_input: np.ndarray | torch.Tensor,
                   cache_dir: str | Path | None = None,
                   device: str | torch.device | None = None) -> InferenceBackend:
    """Build, load and return the backend ``name`` for ``model`` at ``example_input``'s shape.

    ``cache_dir``: where exported / compiled engines are kept (default: :func:`default_cache_dir`).
    ``device``: "cpu" / "cuda[:i]"; default CUDA when present (ONNX Runtime always runs on CPU).
    """
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown inference backend {name!r}; choose one of {list(BACKEND_NAMES)}")
    dev = torch.device(device) if device is not None else _default_device(name)
    avail = available_backends()
    if name == "auto":
        candidates = [n for n in preference_order(dev) if avail[n].available]
        log.info("backend auto: trying %s in this order", candidates)
    else:
        if not avail[name].available:
            reason = avail[name].reason
            raise BackendUnavailable(f"backend '{name}' is not available here: {reason}")
        order = preference_order(dev)
        later = order[order.index(name) + 1:] if name in order else ["eager"]
        candidates = [name] + ([n for n in later if avail[n].available] if name in FALLBACK_ON_BUILD_FAILURE else [])

    reasons: list[str] = []
    for i, cand in enumerate(candidates):
        cand_dev = torch.device("cpu") if cand == "onnxruntime" else dev
        backend = BACKENDS[cand](cache_dir=cache_dir, device=cand_dev)
        try:
            backend.load(model, example_input)
        except BackendError as exc:
            if i + 1 >= len(candidates):
                raise
            log.warning("backend %s failed, falling back to %s: %s", cand, candidates[i + 1], exc)
            reasons.append(f"{cand}: {exc}")
            continue
        backend.fallback_reason = "; ".join(reasons) or None
        log.info("inference backend: %s on %s (%s)%s", cand, cand_dev, avail[cand].reason,
                 f" after fallback ({backend.fallback_reason})" if reasons else "")
        return backend
    raise BackendError(f"no inference backend could be built for {name!r}")
