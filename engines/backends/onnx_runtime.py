"""ONNX Runtime on CPU. The model is exported once per (model hash, input shape) and cached.

Cache file: ``<cache_dir>/onnx/<model hash[:16]>-<B>x<T>x3x<S>x<S>-fp32.onnx``. A later load of the
same model at the same shape opens that file without exporting again; a file ONNX Runtime cannot
open is exported again.
"""
from __future__ import annotations

import copy
import importlib.util
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engines.backends.base import (BackendError, InferenceBackend, missing_extra, model_fingerprint,
                                   shape_tag)

log = logging.getLogger("engines.backends")

OPSET = 17


def export_onnx(model: nn.Module, x: torch.Tensor, path: Path) -> None:
    """Export ``model(x) -> (valence, attention)`` to ``path`` (written atomically).

    The TorchScript-based exporter is used where this torch still has it (it needs no extra
    package); otherwise the torch.export-based one (which needs ``onnxscript``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    kwargs = dict(input_names=["clip"], output_names=["valence", "attention"], opset_version=OPSET)
    if any(p.device.type != "cpu" for p in model.parameters()):
        model = copy.deepcopy(model).to("cpu")  # export on CPU without moving the caller's model
    model = model.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            try:
                torch.onnx.export(model, (x,), str(tmp), dynamo=False, **kwargs)
            except TypeError:  # a torch without the legacy exporter's switch
                torch.onnx.export(model, (x,), str(tmp), dynamo=True, external_data=False, **kwargs)
        tmp.replace(path)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise BackendError(f"backend 'onnxruntime': ONNX export failed ({type(exc).__name__}: {exc})") from exc


class OnnxRuntimeBackend(InferenceBackend):
    name = "onnxruntime"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.model_path: Path | None = None
        self.cache_hit = False

    def _session(self, ort, path: Path):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, torch.get_num_threads())
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # A clip every 16 frames leaves the pool idle most of the time; spinning idle threads would
        # take a core from perception and the window between clips.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])

    def _load(self, model: nn.Module, x: torch.Tensor) -> None:
        if importlib.util.find_spec("onnxruntime") is None:
            raise missing_extra(self.name, "onnxruntime")
        if importlib.util.find_spec("onnx") is None:
            raise missing_extra(self.name, "onnx")
        if self.device.type != "cpu":
            raise BackendError(f"backend 'onnxruntime' runs on CPU here, not on {self.device}")
        import onnxruntime as ort

        path = self.cache_dir / "onnx" / f"{model_fingerprint(model)[:16]}-{shape_tag(x.shape)}-fp32.onnx"
        self.cache_hit = path.is_file()
        session = None
        if self.cache_hit:
            try:
                session = self._session(ort, path)
                log.info("onnxruntime: reusing cached export %s", path)
            except Exception as exc:  # a truncated or foreign file: export again
                log.warning("onnxruntime: cached export %s unusable (%s); exporting again", path, exc)
                self.cache_hit = False
        if session is None:
            log.info("onnxruntime: exporting the model to %s", path)
            export_onnx(model, x, path)
            session = self._session(ort, path)
        self.session = session
        self.model_path = path
        self._outputs = [o.name for o in session.get_outputs()]
        if self._outputs != ["valence", "attention"]:
            raise BackendError(f"{path}: outputs are {self._outputs}, expected ['valence', 'attention']")

    def _infer(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        valence, attention = self.session.run(self._outputs, {"clip": x.numpy()})
        return valence.astype(np.float32, copy=False), attention.astype(np.float32, copy=False)

    def close(self) -> None:
        self.session = None
        super().close()
