"""STA-3DCNN: forward pass of every registered config, input preprocessing, bundle save/load."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from engines.bundle import BundleError, load_bundle, write_bundle_json
from engines.sta import (STA3DCNN, STAConfig, create_sta, load_sta, preprocess_clip, registered_sta, save_sta,
                         sta_config, sta_section)

torch.set_num_threads(1)

TINY = STAConfig(crop_size=16, clip_length=4, encoder_widths=(4, 8), convlstm_hidden=(8, 4),
                 conv3d_widths=(4, 8, 8, 8), pooled_size=(1, 2, 2), fc_hidden=(16, 8))


def _check_outputs(valence: torch.Tensor, attention: torch.Tensor, b: int, cfg: STAConfig) -> None:
    assert valence.shape == (b,)
    assert attention.shape == (b, cfg.clip_length, cfg.crop_size, cfg.crop_size)
    assert torch.isfinite(valence).all() and torch.isfinite(attention).all()
    assert (attention >= 0).all()
    torch.testing.assert_close(attention.sum(dim=(-1, -2)), torch.ones(b, cfg.clip_length), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", registered_sta())
def test_every_registered_config_runs_a_clip(name):
    torch.manual_seed(0)
    model = create_sta(name).eval()
    cfg = model.config
    with torch.inference_mode():
        valence, attention = model(torch.randn(1, *cfg.input_shape))
    _check_outputs(valence, attention, 1, cfg)


def test_tiny_config_batch_and_gradients_reach_both_branches():
    torch.manual_seed(0)
    model = STA3DCNN(TINY)
    valence, attention = model(torch.randn(3, *TINY.input_shape))
    _check_outputs(valence.detach(), attention.detach(), 3, TINY)
    valence.sum().backward()
    for part in (model.attention.encoder[0].weight, model.attention.lstms[0].h2g.weight, model.conv1.weight,
                 model.head[-1].weight):
        assert part.grad is not None and part.grad.abs().sum() > 0


def test_attention_off_is_a_plain_3d_cnn_with_a_uniform_map():
    """The paper's Table 1 ablation: no attention branch, every pixel weighs the same, and it learns."""
    cfg = STAConfig.from_dict({**TINY.to_dict(), "attention": False})
    torch.manual_seed(0)
    model = STA3DCNN(cfg)
    assert model.attention is None and not any(k.startswith("attention.") for k in model.state_dict())
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in STA3DCNN(TINY).parameters())
    x = torch.randn(3, *cfg.input_shape)
    valence, attention = model(x)
    _check_outputs(valence.detach(), attention.detach(), 3, cfg)
    torch.testing.assert_close(attention, torch.full_like(attention, 1.0 / cfg.crop_size ** 2))
    valence.sum().backward()
    assert model.conv1.weight.grad.abs().sum() > 0 and model.head[-1].weight.grad.abs().sum() > 0
    assert STAConfig.from_dict({k: v for k, v in TINY.to_dict().items() if k != "attention"}).attention  # older configs


def test_the_papers_decoder_and_head():
    """sta_paper: peephole ConvLSTMs, no ReLU after the transposed convolutions, frame t's attention
    from the state of frame t−1 (so the last frame's pixels move no map), two linear layers."""
    paper = sta_config("sta_paper")
    assert (paper.peephole, paper.deconv_relu, paper.attention_from_previous, paper.fc_hidden) == (True, False, True, (512,))
    assert not sta_config("sta_paper_no_attention").attention and sta_config("sta_paper_no_attention").fc_hidden == (512,)
    cfg = STAConfig.from_dict({**TINY.to_dict(), "peephole": True, "deconv_relu": False,
                               "attention_from_previous": True, "fc_hidden": [16]})
    torch.manual_seed(0)
    model = STA3DCNN(cfg)
    assert sum(isinstance(m, torch.nn.Linear) for m in model.head) == 2
    sides = [lstm.peephole.shape for lstm in model.attention.lstms]
    assert sides == [(3, 8, 4, 4), (3, 4, 8, 8)]  # input, forget, output gate weights at each level's size
    with torch.no_grad():
        for lstm in model.attention.lstms:
            lstm.peephole.normal_(0, 0.5)  # (zero at the start: make them count)
    x = torch.randn(2, *cfg.input_shape)
    valence, att = model(x)
    _check_outputs(valence.detach(), att.detach(), 2, cfg)
    torch.testing.assert_close(att[:, 0], torch.full_like(att[:, 0], 1.0 / cfg.crop_size ** 2))  # nothing before it
    x2 = x.clone()
    x2[:, -1] += 1.0
    torch.testing.assert_close(model(x2)[1], att)  # the last frame reads the map of its predecessor
    x3 = x.clone()
    x3[:, 1] += 1.0
    assert not torch.allclose(model(x3)[1][:, 2], att[:, 2])
    valence.sum().backward()
    assert all(lstm.peephole.grad.abs().sum() > 0 for lstm in model.attention.lstms)
    old = STAConfig.from_dict({k: v for k, v in TINY.to_dict().items()
                               if k not in ("peephole", "deconv_relu", "attention_from_previous")})
    assert (old.peephole, old.deconv_relu, old.attention_from_previous) == (False, True, False)  # as trained


def test_batch_norm_option_normalises_the_regressor_and_keeps_the_papers_keys_without_it():
    plain, normed = STA3DCNN(TINY), STA3DCNN(STAConfig.from_dict({**TINY.to_dict(), "batch_norm": True}))
    assert not any("norm" in k or "running" in k for k in plain.state_dict())  # the paper's form, unchanged
    bn_keys = [k for k in normed.state_dict() if k.endswith("running_mean")]
    assert bn_keys == ["norm1.running_mean", "features.2.running_mean", "features.6.running_mean",
                       "features.10.running_mean"]
    torch.manual_seed(0)
    x = torch.randn(4, *TINY.input_shape) * 3 + 1
    feats = torch.relu(normed.norm1(normed.conv1(x.transpose(1, 2))))
    assert feats.std(dim=(0, 2, 3, 4)).min() > 0.1  # every channel varies across clips in training mode
    normed.train()(x)
    assert float(normed.norm1.running_mean.abs().sum()) > 0  # running statistics are learned
    _check_outputs(*[t.detach() for t in normed.eval()(x)], 4, normed.config)
    # a config stored before the option existed loads as the paper's form
    old = {k: v for k, v in TINY.to_dict().items() if k != "batch_norm"}
    assert STAConfig.from_dict(old).batch_norm is False


def test_model_rejects_wrong_input_shape():
    model = STA3DCNN(TINY)
    with pytest.raises(ValueError, match="crop size"):
        model(torch.zeros(1, 4, 3, 32, 32))
    with pytest.raises(ValueError, match=r"\(B, T, 3, S, S\)"):
        model(torch.zeros(1, 4, 16, 16))


def test_config_round_trip_and_validation():
    cfg = sta_config("sta_small")
    assert STAConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="multiple of 4"):
        STAConfig(crop_size=66)
    with pytest.raises(ValueError, match="STA config has unknown field"):
        STAConfig.from_dict({**cfg.to_dict(), "depth": 3})
    with pytest.raises(ValueError, match="registered"):
        create_sta("sta_huge")
    assert create_sta("sta_small", crop_size=96).config.crop_size == 96


def test_preprocess_clip_converts_bgr_to_standardised_rgb():
    crops = np.zeros((4, 16, 16, 3), np.uint8)
    crops[..., 0] = 255  # blue in BGR
    x = preprocess_clip(crops, TINY)
    assert x.shape == (1, 4, 3, 16, 16) and x.dtype == torch.float32
    assert torch.all(x[0, :, 2] == 1.0) and torch.all(x[0, :, 0] == -1.0)  # RGB: blue last, scaled to [-1, 1]
    with pytest.raises(ValueError, match="expects 4 crops of 16 px"):
        preprocess_clip(np.zeros((5, 16, 16, 3), np.uint8), TINY)
    with pytest.raises(ValueError, match="uint8"):
        preprocess_clip(np.zeros((4, 16, 16, 3), np.float32), TINY)



def test_grayscale_config_reads_luminance_only():
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    grey = cv2.cvtColor(colour.reshape(-1, 16, 3), cv2.COLOR_BGR2GRAY).reshape(4, 16, 16)
    grey3 = np.repeat(grey[..., None], 3, axis=-1)
    gray_cfg = STAConfig.from_dict({**TINY.to_dict(), "grayscale": True})
    x = preprocess_clip(colour, gray_cfg)
    assert torch.equal(x[:, :, 0], x[:, :, 1]) and torch.equal(x[:, :, 1], x[:, :, 2])
    torch.testing.assert_close(x, preprocess_clip(grey3, gray_cfg), atol=2.5 / 255, rtol=0)  # cv2 rounds to uint8
    assert not torch.allclose(preprocess_clip(colour, TINY), preprocess_clip(grey3, TINY), atol=0.1)
    assert sta_config("sta_small_gray").grayscale and not sta_config("sta_small_bn").grayscale
    assert STAConfig.from_dict({k: v for k, v in gray_cfg.to_dict().items() if k != "grayscale"}) == TINY


def _bundle(tmp_path, model, **top):
    save_sta(model, tmp_path / "sta.safetensors")
    meta = {"name": "t", "trained_on": "random weights", "landmark_normalization": "similarity",
            "crop_size": model.config.crop_size, "clip_length": model.config.clip_length,
            "clip_rate_fps": model.config.clip_rate_fps, "sta": sta_section(model, "sta.safetensors", {"ccc": 0.1})}
    meta.update(top)
    write_bundle_json(tmp_path, meta)
    return tmp_path


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(1)
    model = STA3DCNN(TINY).eval()
    loaded = load_sta(_bundle(tmp_path, model))
    assert not loaded.training and loaded.config == TINY
    x = torch.randn(2, *TINY.input_shape)
    with torch.inference_mode():
        for a, b in zip(model(x), loaded(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_load_strips_wrapper_prefixes(tmp_path):
    model = STA3DCNN(TINY)
    root = _bundle(tmp_path, model)
    state = load_file(str(root / "sta.safetensors"))
    save_file({f"module._orig_mod.{k}": v for k, v in state.items()}, str(root / "sta.safetensors"))
    assert load_sta(root).config == TINY


def test_bundle_refuses_shape_mismatch(tmp_path):
    model = STA3DCNN(TINY)
    root = _bundle(tmp_path, model)
    meta = json.loads((root / "bundle.json").read_text())
    meta["sta"]["config"]["fc_hidden"] = [32, 8]
    (root / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"sta\.safetensors.*has shape.*'sta.weights'"):
        load_sta(root)


def test_bundle_refuses_missing_keys(tmp_path):
    root = _bundle(tmp_path, STA3DCNN(TINY))
    state = load_file(str(root / "sta.safetensors"))
    state.pop("conv1.weight")
    save_file(state, str(root / "sta.safetensors"))
    with pytest.raises(BundleError, match=r"sta\.safetensors.*missing \['conv1.weight'\]"):
        load_sta(root)


def test_bundle_refuses_crop_size_disagreement_and_bad_config(tmp_path):
    root = _bundle(tmp_path, STA3DCNN(TINY), crop_size=32)
    with pytest.raises(BundleError, match=r"bundle.json: field 'sta.config.crop_size' is 16"):
        load_sta(root)
    meta = json.loads((root / "bundle.json").read_text())
    meta["crop_size"] = 16
    meta["sta"]["config"]["crop_size"] = "big"
    (root / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"field 'sta.config' is invalid"):
        load_sta(load_bundle(root))


def test_bundle_refuses_non_safetensors_weights(tmp_path):
    root = _bundle(tmp_path, STA3DCNN(TINY))
    (root / "sta.pt").write_bytes(b"not a checkpoint")
    meta = json.loads((root / "bundle.json").read_text())
    meta["sta"]["weights"] = "sta.pt"
    (root / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"'sta.weights' names sta.pt; only .safetensors"):
        load_sta(root)
    (root / "sta.safetensors").write_bytes(b"garbage")
    meta["sta"]["weights"] = "sta.safetensors"
    (root / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"sta\.safetensors: damaged \(7 bytes.*'sta.weights'"):
        load_sta(root)  # found when the bundle is opened
