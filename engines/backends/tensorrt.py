"""TensorRT through torch-tensorrt (Dynamo frontend), fp16, on CUDA.

The engine is compiled once per (model hash, input shape, precision) and cached as an
ExportedProgram: ``<cache_dir>/tensorrt/<model hash[:16]>-<shape>-fp16.ep``. A cached file that
no longer loads (another GPU, another TensorRT) is rebuilt. ``torch_tensorrt`` is imported only
when this backend is chosen.
"""
from __future__ import annotations

import copy
import importlib.util
import inspect
import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engines.backends.base import (BackendError, BackendUnavailable, InferenceBackend, missing_extra,
                                   model_fingerprint, shape_tag, to_numpy)

log = logging.getLogger("engines.backends")

PRECISION = "fp16"


def _precision_kwargs(torch_tensorrt, dtype: torch.dtype) -> dict:
    """fp16 settings for this torch-tensorrt: recent releases follow the model's dtypes
    (``use_explicit_typing``; ``enabled_precisions`` is deprecated there), older ones need
    ``enabled_precisions``."""
    params = inspect.signature(torch_tensorrt.dynamo.compile).parameters
    if "use_explicit_typing" in params:
        return {"use_explicit_typing": True}
    return {"enabled_precisions": {dtype}}


class TensorRTBackend(InferenceBackend):
    name = "tensorrt"
    dtype = torch.float16

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.device.type != "cuda":
            self.device = torch.device("cuda")
        self.engine_path: Path | None = None
        self.cache_hit = False

    def _load(self, model: nn.Module, x: torch.Tensor) -> None:
        if importlib.util.find_spec("torch_tensorrt") is None:
            raise missing_extra(self.name, "torch-tensorrt")
        if not torch.cuda.is_available():
            raise BackendUnavailable("backend 'tensorrt' needs a CUDA device; none is visible to torch")
        try:
            import torch_tensorrt
        except Exception as exc:  # a wheel built for another torch / CUDA fails here
            raise BackendError(f"backend 'tensorrt': import torch_tensorrt failed ({type(exc).__name__}: {exc})") from exc

        fingerprint = model_fingerprint(model)
        path = self.cache_dir / "tensorrt" / f"{fingerprint[:16]}-{shape_tag(x.shape)}-{PRECISION}.ep"
        xh = x.to(self.device, self.dtype)
        module = None
        if path.is_file():
            try:
                module = torch.export.load(str(path)).module()
                with torch.inference_mode():
                    module(xh)
                self.cache_hit = True
                log.info("tensorrt: reusing cached engine %s", path)
            except Exception as exc:
                log.warning("tensorrt: cached engine %s does not load here (%s); rebuilding", path, exc)
                module = None
        if module is None:
            module = self._build(torch_tensorrt, model, xh, path)
        self.module = module
        self.engine_path = path

    def _build(self, torch_tensorrt, model: nn.Module, xh: torch.Tensor, path: Path):
        log.info("tensorrt: building an %s engine for input %s (once; cached at %s)",
                 PRECISION, tuple(xh.shape), path)
        net = copy.deepcopy(model).to(self.device, self.dtype).eval()
        try:
            trt_gm = torch_tensorrt.compile(net, ir="dynamo", inputs=[xh], min_block_size=1,
                                            **_precision_kwargs(torch_tensorrt, self.dtype))
            with torch.inference_mode():
                trt_gm(xh)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{os.getpid()}.{path.name}")
            torch_tensorrt.save(trt_gm, str(tmp), inputs=[xh])
            tmp.replace(path)
        except Exception as exc:
            raise BackendError(f"backend 'tensorrt': engine build failed ({type(exc).__name__}: {exc})") from exc
        return trt_gm

    def _infer(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            valence, attention = self.module(x.to(self.device, self.dtype, non_blocking=True))
        return to_numpy(valence), to_numpy(attention)

    def close(self) -> None:
        self.module = None
        super().close()
