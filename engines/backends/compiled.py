"""torch.compile (Inductor) on CPU or CUDA. On CPU Inductor generates C++ and needs a compiler."""
from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import torch
from torch import nn

from engines.backends.base import BackendError, BackendUnavailable, InferenceBackend, to_numpy


def cpp_compiler() -> str | None:
    """Path of the C++ compiler Inductor would use on CPU, or None."""
    for cand in (os.environ.get("CXX"), "g++", "c++", "clang++"):
        if cand and (path := shutil.which(cand)):
            return path
    return None


class CompileBackend(InferenceBackend):
    """``torch.compile(model, dynamic=False)``; the first call (inside :meth:`load`) compiles."""

    name = "compile"

    def _load(self, model: nn.Module, x: torch.Tensor) -> None:
        if not hasattr(torch, "compile"):
            raise BackendUnavailable("backend 'compile' needs torch >= 2.0")
        if self.device.type == "cpu" and cpp_compiler() is None:
            raise BackendUnavailable("backend 'compile' on CPU needs a C++ compiler (g++ or clang++) on PATH "
                                     "or in $CXX; install one or choose backend 'onnxruntime' or 'eager'")
        self.model = model.to(self.device)
        self.compiled = torch.compile(self.model, dynamic=False)
        try:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # raised inside Inductor's imports
                self.compiled(x.to(self.device))
        except Exception as exc:  # Inductor surfaces compiler/codegen failures as many exception types
            self.compiled = None
            raise BackendError(f"backend 'compile': torch.compile failed ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc

    def _infer(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            valence, attention = self.compiled(x.to(self.device, non_blocking=True))
        return to_numpy(valence), to_numpy(attention)

    def close(self) -> None:
        self.compiled = None
        self.model = None
        super().close()
