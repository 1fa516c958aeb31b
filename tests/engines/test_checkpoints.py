"""The checked safetensors loader: what it loads, and what it refuses with the file named."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from engines.bundle import BundleError
from engines.checkpoints import load_checked_weights, read_safetensors


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.register_buffer("scale", torch.ones(3))


def saved(tmp_path, state, name="w.safetensors"):
    path = tmp_path / name
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def load(path, **kwargs):
    return load_checked_weights(Tiny(), path, config="the tiny config", **kwargs)


def test_good_file_loads_every_tensor_as_float32(tmp_path):
    torch.manual_seed(0)
    source = Tiny()
    state = {k: v.double() for k, v in source.state_dict().items()}
    state["scale"] = torch.full((3,), 2.0, dtype=torch.float64)
    model = load(saved(tmp_path, state))
    assert model.fc.weight.dtype == torch.float32
    torch.testing.assert_close(model.fc.weight, source.fc.weight)
    assert torch.equal(model.scale, torch.full((3,), 2.0))


def test_wrapper_prefixes_are_ignored(tmp_path):
    source = Tiny()
    path = saved(tmp_path, {f"module._orig_mod.{k}": v for k, v in source.state_dict().items()})
    assert torch.equal(load(path).fc.bias, source.fc.bias)


def test_missing_key_is_refused_naming_file_field_and_tensor(tmp_path):
    state = Tiny().state_dict()
    state.pop("fc.bias")
    path = saved(tmp_path, state)
    with pytest.raises(BundleError, match=r"w\.safetensors \(named by 'm\.weights'\): weights do not match the tiny "
                                          r"config: missing \['fc.bias'\], unexpected \[\]"):
        load(path, field="m.weights")


def test_unexpected_key_is_refused(tmp_path):
    path = saved(tmp_path, {**Tiny().state_dict(), "extra": torch.zeros(1)})
    with pytest.raises(BundleError, match=r"missing \[\], unexpected \['extra'\]"):
        load(path)


def test_wrong_shape_is_refused_naming_both_fields(tmp_path):
    path = saved(tmp_path, {**Tiny().state_dict(), "fc.weight": torch.zeros(3, 5)})
    with pytest.raises(BundleError, match=r"w\.safetensors \(named by 'm\.weights'\): tensor 'fc\.weight' has shape "
                                          r"\(3, 5\), the tiny config needs \(3, 4\) \(does 'm\.config' match the "
                                          r"weights in 'm\.weights'\?\)"):
        load(path, field="m.weights", config_field="m.config")


def test_integer_tensor_is_refused(tmp_path):
    path = saved(tmp_path, {**Tiny().state_dict(), "scale": torch.ones(3, dtype=torch.int64)})
    with pytest.raises(BundleError, match=r"tensor 'scale' is torch\.int64, expected floating point"):
        load(path)


def test_truncated_file_is_refused(tmp_path):
    path = saved(tmp_path, Tiny().state_dict())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match=r"w\.safetensors: not a readable safetensors file"):
        load(path)
    path.write_bytes(data[:5])  # not even the header's length
    with pytest.raises(BundleError, match=r"w\.safetensors: not a readable safetensors file"):
        read_safetensors(path)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(BundleError, match=r"absent\.safetensors \(named by 'm\.weights'\): missing"):
        load(tmp_path / "absent.safetensors", field="m.weights")


def test_tensors_older_files_lack_keep_their_initial_values_only_when_all_are_absent(tmp_path):
    source = Tiny()
    path = saved(tmp_path, {k: v for k, v in source.state_dict().items() if k != "scale"})
    assert torch.equal(load(path, keep_if_absent=("scale",)).scale, torch.ones(3))
    with pytest.raises(BundleError, match=r"missing \['scale'\]"):
        load(path)
    with pytest.raises(BundleError, match=r"missing \['fc.bias'\]"):
        load(saved(tmp_path, {"fc.weight": source.fc.weight, "scale": source.scale}), keep_if_absent=("scale", "fc.bias"))
