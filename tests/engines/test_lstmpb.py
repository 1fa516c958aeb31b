"""LSTM-PB: shapes, the explicit PB gradient, learning / recognition / generation modes, files."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from engines.bundle import BundleError, load_bundle, write_bundle_json
from engines.lstmpb import (LSTMPB, LSTMPBConfig, NumpyPBGradient, generate, landmark_steps, load_class_pbs,
                            load_lstmpb, pb_gradient, recognize, save_class_pbs, save_lstmpb, step_mask)
from training.lstmpb_steps import learning_step

TINY = LSTMPBConfig(hidden=16, layers=2)


def pb_gradient_manual(model: LSTMPB, x, pb, lengths=None) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`pb_gradient` by the explicit NumPy back-propagation of :class:`NumpyPBGradient`.

    Same arguments and results (g (B, 64), E (B,)), as tensors in the model's dtype.
    """
    x = torch.as_tensor(x)
    B, T, _ = x.shape
    mask = step_mask(lengths, B, T, error_from=model.config.error_from).numpy()
    pb = torch.as_tensor(pb).expand(B, model.config.pb_dim)
    engine = NumpyPBGradient(model)
    g, E = engine(x.detach().cpu().numpy(), pb.detach().cpu().numpy(), mask)
    dtype = model.time_bias.dtype
    return torch.from_numpy(g).to(dtype), torch.from_numpy(E).to(dtype)


def two_class_sequences(seed: int, per_class: int = 4, frames: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Landmark-like trajectories: genuine = slow and symmetric, fake = fast and left/right asymmetric.

    Returns x (2·per_class, frames, 80) in [-1, 1] and labels (0 genuine, 1 fake).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None]
    k = np.arange(40)[None, :]
    seqs, labels = [], []
    for fake in (0, 1):
        for _ in range(per_class):
            freq = 0.5 if fake else 0.25
            amp = np.where(k % 2 == 0, 0.5, 0.15) if fake else np.full(k.shape, 0.35)
            phase = rng.uniform(-0.2, 0.2)
            xs = 0.3 * np.cos(0.7 * k) + amp * np.sin(freq * t + phase + 0.1 * k)
            ys = 0.3 * np.sin(0.5 * k) + 0.5 * amp * np.cos(freq * t + phase)
            seqs.append(np.concatenate([xs, ys], 1) + rng.normal(0, 0.01, (frames, 80)))
            labels.append(fake)
    return np.asarray(seqs, np.float32), np.asarray(labels)


@pytest.fixture(scope="module")
def trained():
    """A tiny LSTM-PB trained in learning mode on the two synthetic classes (≈3 s)."""
    torch.set_num_threads(1)
    x_np, labels = two_class_sequences(seed=0)
    torch.manual_seed(0)
    model = LSTMPB(TINY)
    class_pbs = torch.zeros(2, TINY.pb_dim)
    opt = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9)
    x, idx = torch.from_numpy(x_np), torch.from_numpy(labels)
    losses = [learning_step(model, opt, x, None, class_pbs, idx, lr_pb=0.9) for _ in range(200)]
    model.eval()
    return model, class_pbs, x_np, labels, losses


@pytest.mark.parametrize("tied", [True, False])
def test_forward_shapes_and_range(tied):
    torch.manual_seed(0)
    model = LSTMPB(LSTMPBConfig(hidden=16, layers=2, tie_depth_weights=tied))
    x = torch.rand(3, 10, 80) * 2 - 1
    pred = model(x, torch.randn(3, 64))
    assert pred.shape == (3, 10, 80)
    assert torch.isfinite(pred).all() and pred.abs().max() < 1.0
    assert model.depth_ih.shape[0] == (1 if tied else 2)
    with pytest.raises(ValueError, match=r"\(B, T, 80\)"):
        model(torch.zeros(3, 10, 40), torch.zeros(3, 64))


def test_depth_weights_are_shared_when_tied():
    tied = sum(p.numel() for p in LSTMPB(LSTMPBConfig(hidden=16, layers=4)).parameters())
    untied = sum(p.numel() for p in LSTMPB(LSTMPBConfig(hidden=16, layers=4, tie_depth_weights=False)).parameters())
    assert untied - tied == 3 * (2 * 4 * 16 * 16 + 4 * 16)


def test_config_round_trip_and_validation():
    cfg = LSTMPBConfig(hidden=32, layers=3, tie_depth_weights=False)
    assert LSTMPBConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert LSTMPBConfig().to_dict() == {"input_dim": 80, "pb_dim": 64, "context_dim": 64, "hidden": 512,
                                        "layers": 4, "tie_depth_weights": True, "pb_activation": "leaky_relu",
                                        "frame_block": 1, "reference": "none", "closed_loop_after": 0}
    # a config stored before the fields existed: plain ReLU, frame-rate, absolute, teacher-forced
    old = LSTMPBConfig.from_dict({"hidden": 16, "layers": 2})
    assert (old.pb_activation, old.frame_block, old.reference, old.closed_loop_after) == ("relu", 1, "none", 0)
    with pytest.raises(ValueError, match="pb_activation"):
        LSTMPBConfig(pb_activation="gelu")
    with pytest.raises(ValueError, match="reference"):
        LSTMPBConfig(reference="mean")
    with pytest.raises(ValueError, match="frame_block"):
        LSTMPBConfig(frame_block=0)
    with pytest.raises(ValueError, match="closed_loop_after must be a non-negative"):
        LSTMPBConfig(closed_loop_after=-1)
    assert LSTMPBConfig(closed_loop_after=3).error_from == 2 and LSTMPBConfig().error_from == 0
    with pytest.raises(ValueError, match="unknown field"):
        LSTMPBConfig.from_dict({"hidden": 16, "dropout": 0.1})
    with pytest.raises(ValueError, match="hidden"):
        LSTMPBConfig(hidden=0)


@pytest.mark.parametrize("tied,activation,closed_loop", [
    (True, "leaky_relu", 0), (False, "leaky_relu", 0), (True, "relu", 0), (True, "linear", 0),
    (True, "linear", 3), (False, "leaky_relu", 1), (True, "relu", 4)])
def test_explicit_pb_gradient_equals_autograd(tied, activation, closed_loop):
    torch.manual_seed(1)
    model = LSTMPB(LSTMPBConfig(hidden=16, layers=3, tie_depth_weights=tied, pb_activation=activation,
                                closed_loop_after=closed_loop)).double()
    x = torch.rand(3, 11, 80, dtype=torch.float64) * 2 - 1
    pb = torch.randn(3, 64, dtype=torch.float64)
    lengths = torch.tensor([11, 6, 9])
    g_auto, e_auto = pb_gradient(model, x, pb, lengths)
    g_manual, e_manual = pb_gradient_manual(model, x, pb, lengths)
    assert g_auto.abs().max() > 1e-3  # a real gradient, not zeros on both sides
    torch.testing.assert_close(g_manual, g_auto, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(e_manual, e_auto, rtol=1e-9, atol=1e-12)


def test_pb_gradient_is_step_averaged_error_gradient():
    """g = (1/(T−1)) ∂E/∂p with E = Σ_t ½‖x̂_{t+1} − x_{t+1}‖², checked against a finite difference."""
    torch.manual_seed(2)
    model = LSTMPB(TINY).double()
    x = torch.rand(1, 9, 80, dtype=torch.float64) * 2 - 1
    pb = torch.randn(1, 64, dtype=torch.float64)
    g, _ = pb_gradient(model, x, pb)
    direction = torch.randn(1, 64, dtype=torch.float64)
    eps = 1e-6
    e_plus = pb_gradient(model, x, pb + eps * direction)[1]
    e_minus = pb_gradient(model, x, pb - eps * direction)[1]
    numeric = float((e_plus - e_minus) / (2 * eps)) / 8  # 8 predicted steps
    assert numeric == pytest.approx(float((g * direction).sum()), rel=1e-5)


def test_learning_lowers_the_error_and_separates_class_pbs(trained):
    _, class_pbs, _, _, losses = trained
    assert losses[-1] < 0.25 * losses[0]
    assert (class_pbs[0] - class_pbs[1]).norm() > 0.3


def test_recognition_converges_to_the_class_pb(trained):
    model, class_pbs, x, labels, _ = trained
    pbs = recognize(model, x, iters=100)  # batch, from zero
    assert pbs.shape == (len(x), 64)
    dist = torch.cdist(pbs, class_pbs)
    own = dist[torch.arange(len(x)), labels]
    other = dist[torch.arange(len(x)), 1 - labels]
    assert (own < other).all(), (own, other)
    start = class_pbs[labels].norm(dim=1)  # distance from the zero start
    assert (own < 0.7 * start).all()  # at least 30 % of the way from zero to its own class PB
    # one sequence, warm start: more steps from the previous estimate keep lowering the error
    single = recognize(model, x[0], iters=3)
    assert single.shape == (64,)
    more = recognize(model, x[0], iters=10, pb0=single)
    seq = torch.from_numpy(x[:1])
    assert pb_gradient(model, seq, more[None])[1] < pb_gradient(model, seq, single[None])[1]


def test_generation_depends_on_the_pb(trained):
    model, class_pbs, x, _, _ = trained
    genuine = generate(model, class_pbs[0], x[0, 0], steps=20)
    fake = generate(model, class_pbs[1], x[0, 0], steps=20)
    assert genuine.shape == fake.shape == (20, 80)
    assert torch.isfinite(genuine).all()
    assert (genuine - fake).abs().mean() > 0.02
    # the genuine PB's roll-out follows the genuine sequence more closely than the fake PB's does
    target = torch.from_numpy(x[0, 1:12])
    assert (genuine[:11] - target).abs().mean() < (fake[:11] - target).abs().mean()


def test_a_pb_with_no_positive_unit_is_dead_under_relu_and_alive_under_leaky_relu():
    x = torch.rand(2, 9, 80) * 2 - 1
    pb = torch.randn(2, 64) * 0.1
    grads = {}
    for activation in ("relu", "leaky_relu"):
        torch.manual_seed(5)
        model = LSTMPB(LSTMPBConfig(hidden=16, layers=2, pb_activation=activation))
        with torch.no_grad():
            model.pb_proj.bias.fill_(-10.0)  # every unit of W_p p negative for this small PB
        assert model.pb_active_units(pb).tolist() == [0, 0]
        grads[activation], _ = pb_gradient(model, x, pb)
        g_np, _ = NumpyPBGradient(model, dtype=np.float64)(x.numpy(), pb.numpy())
        np.testing.assert_allclose(g_np, grads[activation].numpy(), rtol=1e-4, atol=1e-7)
    assert torch.count_nonzero(grads["relu"]) == 0  # nothing can move that PB again
    assert grads["leaky_relu"].abs().max() > 1e-4


def test_numpy_engine_float32_matches_float64():
    torch.manual_seed(4)
    model = LSTMPB(TINY)
    x = (np.random.default_rng(0).random((2, 10, 80)) * 2 - 1).astype(np.float32)
    pb = np.zeros((2, 64), np.float32)
    g32, _ = NumpyPBGradient(model, dtype=np.float32)(x, pb)
    g64, _ = NumpyPBGradient(model, dtype=np.float64)(x, pb)
    np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-6)


def normalized_twin(seed: int) -> tuple[LSTMPB, LSTMPB, np.ndarray, np.ndarray]:
    """Two models with the same weights: one normalizes its input, the other does not."""
    torch.manual_seed(seed)
    plain = LSTMPB(TINY).eval()
    rng = np.random.default_rng(seed)
    mean = rng.uniform(-0.5, 0.5, 80).astype(np.float32)
    scale = rng.uniform(2.0, 6.0, 80).astype(np.float32)
    scaled = LSTMPB(TINY).eval()
    scaled.load_state_dict(plain.state_dict())
    scaled.set_normalization(mean, scale)
    return plain, scaled, mean, scale


def test_normalization_is_applied_by_every_mode():
    plain, scaled, mean, scale = normalized_twin(6)
    raw = (np.random.default_rng(1).random((2, 9, 80)) * 0.2 - 0.1).astype(np.float32)
    normed = (raw - mean) * scale
    pb = torch.randn(2, 64) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(scaled(torch.from_numpy(raw), pb), plain(torch.from_numpy(normed), pb))
    g_raw, e_raw = pb_gradient(scaled, torch.from_numpy(raw), pb)
    g_norm, e_norm = pb_gradient(plain, torch.from_numpy(normed), pb)
    torch.testing.assert_close(g_raw, g_norm)
    torch.testing.assert_close(e_raw, e_norm)
    g_manual, _ = pb_gradient_manual(scaled, raw, pb)  # the NumPy engine normalizes the same way
    torch.testing.assert_close(g_manual, g_raw, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(recognize(scaled, raw, iters=3), recognize(plain, normed, iters=3),
                               rtol=1e-4, atol=1e-6)
    frames = generate(scaled, pb[0], raw[0, 0], steps=5)  # landmark units again
    expected = generate(plain, pb[0], normed[0, 0], steps=5) / torch.from_numpy(scale) + torch.from_numpy(mean)
    torch.testing.assert_close(frames, expected, rtol=1e-5, atol=1e-5)


def test_normalization_is_checked_and_saved(tmp_path):
    _, scaled, mean, scale = normalized_twin(7)
    with pytest.raises(ValueError, match=r"\(80,\)"):
        scaled.set_normalization(mean[:40], scale)
    with pytest.raises(ValueError, match="positive"):
        scaled.set_normalization(mean, -scale)
    bundle = write_lstmpb_bundle_folder(tmp_path, scaled)
    loaded, _ = load_lstmpb(bundle)
    np.testing.assert_array_equal(loaded.input_mean.numpy(), mean)
    np.testing.assert_array_equal(loaded.input_scale.numpy(), scale)


# --------------------------------------------------------------------------------------------
# files and bundles


def write_lstmpb_bundle_folder(root, model, section_overrides=None):
    save_lstmpb(model, root / "lstmpb.safetensors")
    save_class_pbs({"happiness/genuine": torch.zeros(64), "happiness/fake": torch.ones(64)},
                   root / "lstmpb_pb.safetensors")
    section = {"config": model.config.to_dict(), "weights": "lstmpb.safetensors", "pb": "lstmpb_pb.safetensors",
               "classifiers": {}, "recognizer": {}, "metrics": {}}
    section.update(section_overrides or {})
    write_bundle_json(root, {"name": "tiny", "trained_on": "synthetic trajectories (test)",
                             "landmark_normalization": "similarity", "crop_size": 64, "clip_length": 16,
                             "clip_rate_fps": 4.0, "lstmpb": section})
    return load_bundle(root)


def test_bundle_round_trip(tmp_path):
    torch.manual_seed(5)
    model = LSTMPB(TINY).eval()
    bundle = write_lstmpb_bundle_folder(tmp_path, model)
    loaded, config = load_lstmpb(bundle)
    assert config == TINY
    x = torch.rand(2, 7, 80)
    pb = torch.randn(2, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, pb), model(x, pb), rtol=0, atol=0)
    pbs = load_class_pbs(bundle)
    assert set(pbs) == {"happiness/genuine", "happiness/fake"}
    assert torch.equal(pbs["happiness/fake"], torch.ones(64))


def test_prefixed_state_dict_loads(tmp_path):
    torch.manual_seed(6)
    model = LSTMPB(TINY)
    bundle = write_lstmpb_bundle_folder(tmp_path, model)
    state = {f"module._orig_mod.{k}": v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp_path / "lstmpb.safetensors"))
    loaded, _ = load_lstmpb(bundle)
    assert torch.equal(loaded.time_hh, model.time_hh)


def test_weights_saved_without_normalization_load_as_identity(tmp_path):
    torch.manual_seed(8)
    model = LSTMPB(TINY).eval()
    bundle = write_lstmpb_bundle_folder(tmp_path, model)
    state = {k: v for k, v in model.state_dict().items() if k not in ("input_mean", "input_scale")}
    save_file(state, str(tmp_path / "lstmpb.safetensors"))
    loaded, _ = load_lstmpb(bundle)
    assert torch.equal(loaded.input_mean, torch.zeros(80)) and torch.equal(loaded.input_scale, torch.ones(80))


def test_config_that_does_not_match_the_weights_is_refused(tmp_path):
    model = LSTMPB(TINY)
    bundle = write_lstmpb_bundle_folder(tmp_path, model, {"config": {**TINY.to_dict(), "hidden": 32}})
    with pytest.raises(BundleError, match=r"lstmpb\.safetensors.*lstmpb\.weights.*shape"):
        load_lstmpb(bundle)


def test_weights_with_missing_tensors_are_refused(tmp_path):
    model = LSTMPB(TINY)
    bundle = write_lstmpb_bundle_folder(tmp_path, model)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "pb_proj.weight"}
    save_file(state, str(tmp_path / "lstmpb.safetensors"))
    with pytest.raises(BundleError, match=r"missing \['pb_proj.weight'\]"):
        load_lstmpb(bundle)


def test_corrupt_weights_file_is_refused(tmp_path):
    bundle = write_lstmpb_bundle_folder(tmp_path, LSTMPB(TINY))
    (tmp_path / "lstmpb.safetensors").write_bytes(b"\x00\x01 not safetensors")
    with pytest.raises(BundleError, match=r"lstmpb\.safetensors.*not a readable safetensors"):
        load_lstmpb(bundle)


def test_missing_or_invalid_section_fields_are_named(tmp_path):
    model = LSTMPB(TINY)
    with pytest.raises(BundleError, match=r"absent\.safetensors.*lstmpb\.weights"):
        write_lstmpb_bundle_folder(tmp_path, model, {"weights": "absent.safetensors"})  # refused when opened
    bundle = write_lstmpb_bundle_folder(tmp_path, model, {"config": {"hidden": 16, "layers": 2, "depth": 3}})
    with pytest.raises(BundleError, match=r"lstmpb\.config.*unknown field"):
        load_lstmpb(bundle)


def test_malformed_class_pbs_are_refused(tmp_path):
    bundle = write_lstmpb_bundle_folder(tmp_path, LSTMPB(TINY))
    save_class_pbs({"happiness/maybe": torch.zeros(64)}, tmp_path / "lstmpb_pb.safetensors")
    with pytest.raises(BundleError, match=r"lstmpb\.pb.*'happiness/maybe'"):
        load_class_pbs(bundle)
    save_class_pbs({"happiness/fake": torch.zeros(32)}, tmp_path / "lstmpb_pb.safetensors")
    with pytest.raises(BundleError, match=r"shape \(32,\), expected \(64,\)"):
        load_class_pbs(bundle)


def test_landmark_steps_average_blocks_and_take_the_first_step_as_reference():
    frames = np.arange(23 * 80, dtype=np.float32).reshape(23, 80) / 100.0
    cfg = LSTMPBConfig(hidden=8, layers=1, frame_block=5, reference="first")
    steps = landmark_steps(frames, cfg)
    assert steps.shape == (4, 80)  # the 3 frames of a partial block are dropped
    blocks = frames[:20].reshape(4, 5, 80).mean(1)
    np.testing.assert_allclose(steps, blocks - blocks[0], atol=1e-5)
    assert not steps[0].any()
    ref = np.full(80, 0.5, np.float32)
    np.testing.assert_allclose(landmark_steps(frames, cfg, reference=ref), blocks - ref, atol=1e-5)
    np.testing.assert_array_equal(landmark_steps(frames, LSTMPBConfig(hidden=8, layers=1)), frames)
    with pytest.raises(ValueError, match="make no step"):
        landmark_steps(frames[:4], cfg)
    with pytest.raises(ValueError, match=r"\(T, 80\)"):
        landmark_steps(frames[:, :40], cfg)


def test_closed_loop_reads_its_own_predictions_after_the_prompt():
    torch.manual_seed(3)
    model = LSTMPB(LSTMPBConfig(hidden=16, layers=2, closed_loop_after=3))
    x = torch.randn(2, 9, 80) * 0.3
    pb = torch.randn(2, 64)
    pred = model(x, pb)
    # steps after the prompt ignore the observed input: changing it changes nothing
    x2 = x.clone()
    x2[:, 3:] = torch.randn(2, 6, 80)
    torch.testing.assert_close(model(x2, pb), pred)
    # the prompt is read: changing it changes every prediction
    x3 = x.clone()
    x3[:, 1] += 1.0
    assert (model(x3, pb) - pred)[:, 1:].abs().amax(-1).min() > 0
    # generation from the prompt's last prediction matches the closed-loop predictions
    teacher = LSTMPB(LSTMPBConfig(hidden=16, layers=2))
    teacher.load_state_dict(model.state_dict())
    tf = teacher(x, pb)
    torch.testing.assert_close(tf[:, :3], pred[:, :3])
    assert (tf[:, 3:] - pred[:, 3:]).abs().max() > 1e-4
    # the prompt's predictions but the last do not count in the error
    mask = step_mask(None, 2, 9, error_from=model.config.error_from)
    assert mask[:, :2].sum() == 0 and mask[:, 2:8].min() == 1 and mask[:, 8].max() == 0

