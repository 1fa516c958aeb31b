"""Online PB recognizer: ring window, update schedule, warm start, smoothing, reset, bundle."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.bundle import BundleError, load_bundle, write_bundle_json
from engines.lstmpb import (LSTMPB, LSTMPBConfig, NumpyPBGradient, landmark_steps, recognize, save_class_pbs,
                            save_lstmpb)
from engines.online_pb import (OnlinePBRecognizer, RecognizerSettings, recognition_steps, settings_for,
                               stream_pbs)
from engines.pb_classifier import PBClassifier, XGBSettings


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return LSTMPB(LSTMPBConfig(hidden=16, layers=2)).eval()


@pytest.fixture(scope="module")
def classifier():
    """A real booster whose P(fake) depends on the first PB coordinates."""
    rng = np.random.default_rng(0)
    X = rng.normal(0, 0.05, (64, 64)).astype(np.float32)
    y = np.tile([0, 1], 32)
    X[:, 0] += 0.05 * (2 * y - 1)
    subjects = np.repeat([f"s{i}" for i in range(8)], 8)
    return PBClassifier(XGBSettings(max_rounds=60, early_stopping_rounds=20, nfold=4, reg_lambda=1.0)).fit(X, y, subjects)


def stream(frames: int, seed: int = 0) -> np.ndarray:
    t = np.arange(frames)[:, None]
    k = np.arange(80)[None, :]
    noise = np.random.default_rng(seed).normal(0, 0.01, (frames, 80))
    return (0.4 * np.sin(0.3 * t + 0.2 * k) + noise).astype(np.float32)


def test_updates_follow_the_schedule_and_window_holds_the_latest_frames(model, classifier):
    rec = OnlinePBRecognizer(model, classifier, window=8, every=3, iters=1, min_frames=4)
    frames = stream(20)
    updated = [i + 1 for i, v in enumerate(frames) if rec.update(v) is not None]
    assert updated == [4, 7, 10, 13, 16, 19]
    assert rec.updates == 6 and rec.frames == 8
    np.testing.assert_array_equal(rec.window(), frames[-8:])  # oldest first, across the ring's wrap


def test_update_is_warm_started_recognition(model, classifier):
    rec = OnlinePBRecognizer(model, classifier, window=8, every=4, iters=2, lr=0.9, min_frames=8)
    frames = stream(16)
    results = [rec.update(v) for v in frames[:8]]
    assert results[:7] == [None] * 7 and results[7] is not None
    first = rec.pb
    expected_first = recognize(model, frames[:8], iters=2, lr=0.9).numpy()
    np.testing.assert_allclose(first, expected_first, rtol=1e-4, atol=1e-6)
    for v in frames[8:12]:
        rec.update(v)
    warm = recognize(model, frames[4:12], iters=2, lr=0.9, pb0=first).numpy()
    cold = recognize(model, frames[4:12], iters=2, lr=0.9).numpy()
    np.testing.assert_allclose(rec.pb, warm, rtol=1e-4, atol=1e-6)
    assert np.abs(rec.pb - cold).max() > 1e-4  # it did start from the last estimate, not from zero
    assert rec.last_update_ms is not None and rec.last_update_ms > 0
    assert rec.last_error is not None and np.isfinite(rec.last_error)


def test_probability_is_exponentially_smoothed(model, classifier):
    rec = OnlinePBRecognizer(model, classifier, window=8, every=2, iters=3, smoothing=0.25, min_frames=4)
    raw, smoothed = [], []
    for v in stream(14, seed=1):
        p = rec.update(v)
        if p is not None:
            raw.append(classifier.predict_one(rec.pb))
            smoothed.append(p)
    expected = [raw[0]]
    for r in raw[1:]:
        expected.append(0.25 * r + 0.75 * expected[-1])
    np.testing.assert_allclose(smoothed, expected, rtol=1e-6)
    assert rec.p_fake == pytest.approx(expected[-1])


def test_reset_starts_over(model, classifier):
    rec = OnlinePBRecognizer(model, classifier, window=8, every=2, iters=1, min_frames=4)
    for v in stream(10):
        rec.update(v)
    assert rec.p_fake is not None and np.abs(rec.pb).max() > 0
    rec.reset()
    assert rec.p_fake is None and rec.frames == 0 and rec.updates == 0 and rec.last_update_ms is None
    assert not rec.pb.any()
    results = [rec.update(v) for v in stream(4, seed=2)]
    assert results[:3] == [None] * 3 and results[3] is not None
    np.testing.assert_array_equal(rec.window(), stream(4, seed=2))


def test_switching_the_classifier_resets(model, classifier):
    rec = OnlinePBRecognizer(model, classifier, window=8, every=2, iters=1, min_frames=4)
    for v in stream(6):
        rec.update(v)
    rec.set_classifier(classifier)
    assert rec.frames == 0 and rec.p_fake is None


def test_stream_pbs_match_the_recognizer(model, classifier):
    settings = RecognizerSettings(window=8, every=3, iters=2, min_frames=5)
    frames = stream(17)
    rec = OnlinePBRecognizer(model, classifier, **settings.to_dict())
    live = []
    for v in frames:
        if rec.update(v) is not None:
            live.append(rec.pb)
    offline = stream_pbs(NumpyPBGradient(model, dtype=np.float32), frames, settings)
    np.testing.assert_allclose(offline, np.asarray(live), rtol=1e-5, atol=1e-7)


def test_a_step_model_streams_block_means_relative_to_the_first_step(classifier):
    torch.manual_seed(2)
    cfg = LSTMPBConfig(hidden=16, layers=2, frame_block=5, reference="first", closed_loop_after=2,
                       pb_activation="linear")
    step_model = LSTMPB(cfg).eval()
    settings = RecognizerSettings(window=6, every=2, iters=3, min_frames=4)
    frames = stream(52) + 0.3  # 10 steps and 2 frames of a step still being built
    rec = OnlinePBRecognizer(step_model, classifier, **settings.to_dict())
    updated, live = [], []
    for i, v in enumerate(frames):
        if rec.update(v) is not None:
            updated.append(i + 1)
            live.append(rec.pb)
    assert updated == [20, 30, 40, 50]  # steps 4, 6, 8, 10 end on frames 20, 30, 40, 50
    assert rec.frames_per_update == 10
    steps = landmark_steps(frames, cfg)
    np.testing.assert_allclose(rec.reference, frames[:5].mean(0), atol=1e-6)
    np.testing.assert_allclose(rec.window(), steps[-6:], atol=1e-5)
    offline = stream_pbs(NumpyPBGradient(step_model, dtype=np.float32), steps, settings)
    np.testing.assert_allclose(offline, np.asarray(live), rtol=1e-4, atol=1e-5)
    # a reset takes a new reference: the face as it is found again
    rec.reset()
    for v in frames[25:30]:
        rec.update(v)
    np.testing.assert_allclose(rec.reference, frames[25:30].mean(0), atol=1e-6)
    assert not rec.window().any()
    # the first update needs a step whose error counts: past the closed-loop prompt
    with pytest.raises(ValueError, match="closed-loop prompt"):
        OnlinePBRecognizer(step_model, classifier, window=6, every=2, iters=1, min_frames=2)


def test_default_settings_follow_the_step_rate():
    assert settings_for(LSTMPBConfig(hidden=8, layers=1)) == RecognizerSettings()
    steps = settings_for(LSTMPBConfig(hidden=8, layers=1, frame_block=5, closed_loop_after=3))
    # 6 steps/s at 30 fps: a 5 s window, an update every 0.5 s, the first once 3 steps follow the prompt
    assert (steps.window, steps.every, steps.iters, steps.min_frames) == (30, 3, 5, 6)


def test_bad_input_and_settings_are_refused(model, classifier):
    rec = OnlinePBRecognizer(model, classifier, window=8, every=2, iters=1, min_frames=4)
    with pytest.raises(ValueError, match="80 values"):
        rec.update(np.zeros(68))
    with pytest.raises(ValueError, match="non-finite"):
        rec.update(np.full(80, np.nan))
    assert rec.frames == 0
    with pytest.raises(ValueError, match="smoothing"):
        RecognizerSettings(smoothing=0.0)
    with pytest.raises(ValueError, match="min_frames"):
        RecognizerSettings(window=8, min_frames=9)
    with pytest.raises(ValueError, match="recognizer settings has unknown field"):
        RecognizerSettings.from_dict({"window": 8, "speed": 2})


def test_recognition_steps_lower_the_window_error(model):
    engine = NumpyPBGradient(model, dtype=np.float32)
    window = stream(12)[None]
    pb = np.zeros((1, 64), np.float32)
    errors = []
    for _ in range(4):
        pb, e = recognition_steps(engine, window, pb, iters=5, lr=0.9)
        errors.append(e)
    assert errors[-1] < errors[0]


def write_bundle(root, model, classifier, recognizer):
    save_lstmpb(model, root / "lstmpb.safetensors")
    save_class_pbs({"anger/genuine": torch.zeros(64), "anger/fake": torch.ones(64)}, root / "pb.safetensors")
    classifier.save(root / "xgb_pooled.ubj")
    write_bundle_json(root, {"name": "t", "trained_on": "synthetic (test)", "landmark_normalization": "roi",
                             "crop_size": 64, "clip_length": 16, "clip_rate_fps": 4.0,
                             "lstmpb": {"config": model.config.to_dict(), "weights": "lstmpb.safetensors",
                                        "pb": "pb.safetensors", "classifiers": {"pooled": "xgb_pooled.ubj"},
                                        "recognizer": recognizer, "metrics": {}}})
    return load_bundle(root)


def test_from_bundle(model, classifier, tmp_path):
    bundle = write_bundle(tmp_path, model, classifier, {"window": 10, "every": 5, "iters": 1, "lr": 0.5,
                                                        "smoothing": 0.5})
    rec = OnlinePBRecognizer.from_bundle(bundle, iters=2)
    assert rec.settings == RecognizerSettings(window=10, every=5, iters=2, lr=0.5, smoothing=0.5, min_frames=10)
    assert sum(rec.update(v) is not None for v in stream(20)) == 3
    with pytest.raises(BundleError, match="no 'anger' model"):
        OnlinePBRecognizer.from_bundle(bundle, expression="anger")
    bundle = write_bundle(tmp_path, model, classifier, {"window": 1})
    with pytest.raises(BundleError, match=r"lstmpb\.recognizer.*window"):
        OnlinePBRecognizer.from_bundle(bundle)
