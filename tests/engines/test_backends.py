"""Inference backends: parity with eager, the on-disk export cache, availability and errors."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from engines.backends import (BACKEND_NAMES, BackendUnavailable, InferenceBackend, available_backends,
                              create_backend, model_fingerprint)
from engines.sta import STA3DCNN, STAConfig

torch.set_num_threads(1)

TINY = STAConfig(crop_size=16, clip_length=4, encoder_widths=(4, 8), convlstm_hidden=(8, 4),
                 conv3d_widths=(4, 8, 8, 8), pooled_size=(1, 2, 2), fc_hidden=(16, 8))
AVAILABLE = available_backends()
CUDA = torch.cuda.is_available()
HAS_TRT = importlib.util.find_spec("torch_tensorrt") is not None


@pytest.fixture
def model_and_input():
    torch.manual_seed(0)
    model = STA3DCNN(TINY).eval()
    x = torch.randn(2, *TINY.input_shape)
    with torch.inference_mode():
        valence, attention = model(x)
    return model, x, valence.numpy(), attention.numpy()


def assert_parity(backend: InferenceBackend, x, valence, attention, tol: float) -> None:
    v, a = backend.infer(x)
    assert v.dtype == np.float32 and a.dtype == np.float32
    assert v.shape == valence.shape and a.shape == attention.shape
    np.testing.assert_allclose(v, valence, atol=tol, rtol=tol)
    s2 = attention.shape[-1] * attention.shape[-2]  # compare attention relative to a uniform map
    np.testing.assert_allclose(a * s2, attention * s2, atol=tol, rtol=tol)


def test_availability_is_reported_with_reasons():
    assert set(AVAILABLE) == set(BACKEND_NAMES) - {"auto"}
    assert AVAILABLE["eager"].available
    for name, info in AVAILABLE.items():
        assert info.reason, name
    assert available_backends() is AVAILABLE  # checked once


def test_eager_matches_model_and_checks_shape(model_and_input, tmp_path):
    model, x, valence, attention = model_and_input
    with create_backend("eager", model, x, cache_dir=tmp_path, device="cpu") as backend:
        assert backend.name == "eager"
        backend.warmup(1)
        assert_parity(backend, x.numpy(), valence, attention, 1e-6)
        with pytest.raises(ValueError, match="loaded for input"):
            backend.infer(torch.zeros(1, *TINY.input_shape))


@pytest.mark.skipif(not AVAILABLE["onnxruntime"].available, reason=AVAILABLE["onnxruntime"].reason)
def test_onnxruntime_matches_eager(model_and_input, tmp_path):
    model, x, valence, attention = model_and_input
    backend = create_backend("onnxruntime", model, x, cache_dir=tmp_path)
    assert backend.name == "onnxruntime"
    assert_parity(backend, x, valence, attention, 1e-4)
    backend.close()


@pytest.mark.skipif(not AVAILABLE["onnxruntime"].available, reason=AVAILABLE["onnxruntime"].reason)
def test_onnxruntime_matches_eager_with_batch_norm(tmp_path):
    torch.manual_seed(0)
    model = STA3DCNN(STAConfig.from_dict({**TINY.to_dict(), "batch_norm": True}))
    x = torch.randn(2, *TINY.input_shape)
    model.train()(x * 2 + 0.5)  # running statistics away from their initial values
    with torch.inference_mode():
        valence, attention = model.eval()(x)
    backend = create_backend("onnxruntime", model, x, cache_dir=tmp_path)
    assert_parity(backend, x, valence.numpy(), attention.numpy(), 1e-4)
    backend.close()


def test_onnxruntime_export_is_cached_and_keyed_by_model_and_shape(model_and_input, tmp_path):
    model, x, valence, attention = model_and_input
    first = create_backend("onnxruntime", model, x, cache_dir=tmp_path)
    assert not first.cache_hit and first.model_path.is_file()
    path, mtime = first.model_path, first.model_path.stat().st_mtime_ns
    first.close()

    second = create_backend("onnxruntime", model, x, cache_dir=tmp_path)
    assert second.cache_hit and second.model_path == path
    assert path.stat().st_mtime_ns == mtime  # not exported again
    assert_parity(second, x, valence, attention, 1e-4)

    other_shape = create_backend("onnxruntime", model, x[:1], cache_dir=tmp_path)
    assert not other_shape.cache_hit and other_shape.model_path != path

    with torch.no_grad():
        model.head[-1].bias.add_(1.0)
    changed = create_backend("onnxruntime", model, x, cache_dir=tmp_path)
    assert not changed.cache_hit and changed.model_path != path
    v, _ = changed.infer(x)
    np.testing.assert_allclose(v, valence + 1.0, atol=1e-4)


@pytest.mark.skipif(not AVAILABLE["onnxruntime"].available, reason=AVAILABLE["onnxruntime"].reason)
def test_onnxruntime_replaces_a_corrupt_cached_file(model_and_input, tmp_path):
    model, x, valence, attention = model_and_input
    path = create_backend("onnxruntime", model, x, cache_dir=tmp_path).model_path
    path.write_bytes(b"truncated")
    backend = create_backend("onnxruntime", model, x, cache_dir=tmp_path)
    assert not backend.cache_hit
    assert_parity(backend, x, valence, attention, 1e-4)


def test_fingerprint_follows_weights_and_config():
    torch.manual_seed(0)
    a = STA3DCNN(TINY)
    b = STA3DCNN(TINY)
    b.load_state_dict(a.state_dict())
    assert model_fingerprint(a) == model_fingerprint(b)
    with torch.no_grad():
        b.conv1.bias[0] += 1e-3
    assert model_fingerprint(a) != model_fingerprint(b)


def test_auto_picks_the_fastest_available_on_cpu(model_and_input, tmp_path):
    model, x, valence, attention = model_and_input
    backend = create_backend("auto", model, x, cache_dir=tmp_path, device="cpu")
    expected = "onnxruntime" if AVAILABLE["onnxruntime"].available else "eager"
    assert backend.name == expected
    assert_parity(backend, x, valence, attention, 1e-4)


def test_unknown_backend_is_refused(model_and_input):
    model, x, *_ = model_and_input
    with pytest.raises(ValueError, match="choose one of"):
        create_backend("openvino", model, x)


def test_failed_compile_build_falls_back_with_the_reason(model_and_input, tmp_path, monkeypatch, caplog):
    model, x, valence, attention = model_and_input
    monkeypatch.setenv("PATH", str(tmp_path))  # no C++ compiler reachable for Inductor on CPU
    monkeypatch.delenv("CXX", raising=False)
    with caplog.at_level("WARNING", logger="engines.backends"):
        backend = create_backend("compile", model, x, cache_dir=tmp_path, device="cpu")
    assert backend.name == "eager"
    assert "C++ compiler" in backend.fallback_reason
    assert "falling back to eager" in caplog.text
    assert_parity(backend, x, valence, attention, 1e-6)


@pytest.mark.skipif(HAS_TRT, reason="torch-tensorrt is installed")
def test_missing_tensorrt_names_the_extra(model_and_input, tmp_path):
    model, x, *_ = model_and_input
    with pytest.raises(BackendUnavailable, match=r"pip install affectscope\[tensorrt\]"):
        create_backend("tensorrt", model, x, cache_dir=tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not AVAILABLE["compile"].available, reason=AVAILABLE["compile"].reason)
def test_compile_matches_eager(model_and_input, tmp_path):
    model, x, valence, attention = model_and_input
    backend = create_backend("compile", model, x, cache_dir=tmp_path, device="cpu")
    assert backend.name == "compile", backend.fallback_reason
    assert_parity(backend, x, valence, attention, 1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_eager_on_cuda_matches_cpu(model_and_input, tmp_path):
    model, x, valence, attention = model_and_input
    backend = create_backend("eager", model, x, cache_dir=tmp_path, device="cuda")
    assert_parity(backend, x, valence, attention, 1e-3)  # cuDNN may use TF32


@pytest.mark.gpu
@pytest.mark.skipif(not (CUDA and HAS_TRT), reason="needs a CUDA device and torch-tensorrt")
def test_tensorrt_fp16_matches_eager_and_caches_the_engine(model_and_input, tmp_path):
    model, x, valence, attention = model_and_input
    first = create_backend("tensorrt", model, x, cache_dir=tmp_path)
    assert first.name == "tensorrt", first.fallback_reason
    assert_parity(first, x, valence, attention, 1e-2)
    path, mtime = first.engine_path, first.engine_path.stat().st_mtime_ns
    first.close()
    second = create_backend("tensorrt", model, x, cache_dir=tmp_path)
    assert second.cache_hit and second.engine_path == path and path.stat().st_mtime_ns == mtime
    assert_parity(second, x, valence, attention, 1e-2)
