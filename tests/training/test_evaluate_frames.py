"""Valence scored on every frame of the annotation grid, post-processing tuned on development
subjects and applied to test subjects (the papers' protocol)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_train_sta import TINY, write_cache

from engines.bundle import load_bundle
from engines.sta import STA3DCNN, load_sta
from realtime.cli import main
from training.cache import read_crop_cache
from training.evaluate_frames import evaluate_frames, frame_items, frame_predictions
from training.metrics import LabelStats, PostProcessing
from training.train_sta import write_sta_bundle


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("frames")
    cache = write_cache(root / "cache", subjects=("s1", "s2", "s3", "s4"), frames=80)
    torch.manual_seed(0)
    bundle = write_sta_bundle(root / "bundle", STA3DCNN(TINY), {"label_stats": {"mean": 0.1, "std": 0.4}},
                              trained_on="random weights (test)")
    return cache, load_bundle(bundle)


def test_every_frame_gets_a_value_and_clip_values_sit_at_their_last_frames(setup):
    cache, bundle = setup
    item = read_crop_cache(cache)[0]
    model = load_sta(bundle)
    truth, pred, clips = frame_predictions(model, item, every_s=0.2)
    face = item.load()["face"]
    assert len(truth) == len(pred) == len(face) == 80 and not face.all()  # the frame without a face is scored too
    assert clips > 5 and np.isfinite(pred).all()
    assert np.isclose(pred[~face], np.interp(np.flatnonzero(~face), np.arange(80), pred)).all()


def test_post_processing_is_tuned_on_dev_and_applied_to_test(setup, capsys):
    cache, bundle = setup
    test_items, dev_items = frame_items(cache, ["s3", "s4"], ["s1", "s2"], lambda items, s: [i for i in items if i.subject in s])
    r = evaluate_frames(bundle, test_items, dev_items, every_s=0.2)
    assert r["test_recordings"] == 2 and r["test_frames"] == 160
    assert r["postprocessing"]["tuned_on"] == ["s1", "s2"] and r["postprocessing"]["label_stats_from"] == "bundle"
    for key in ("raw", "postprocessed"):
        assert all(np.isfinite(r[key][m]) for m in ("rmse", "cc", "ccc")), r[key]
    pp = r["postprocessing"]
    assert pp["window"] % 2 == 1 and pp["shift"] >= 0 and pp["center"] and pp["scale"]
    # the chain centres and scales to the bundle's training-label statistics, not the test labels
    chain = PostProcessing(**{k: pp[k] for k in ("smoothing", "window", "center", "scale", "shift")})
    _, pred, _ = frame_predictions(load_sta(bundle), test_items[0], every_s=0.2)
    post = chain(pred, LabelStats(0.1, 0.4))
    assert post.mean() == pytest.approx(0.1, abs=0.02) and post.std() == pytest.approx(0.4, abs=0.03)
    with pytest.raises(ValueError, match="both development and test"):
        frame_items(cache, ["s3"], ["s3", "s1"], lambda items, s: [i for i in items if i.subject in s])
    no_dev = evaluate_frames(bundle, test_items, [], every_s=0.2)
    assert no_dev["postprocessed"] is None and "--dev" in no_dev["postprocessing_note"]


def test_the_command(setup, tmp_path, capsys):
    cache, bundle = setup
    out = tmp_path / "r.json"
    assert main(["evaluate", str(bundle.root), str(cache), "--per-frame", "--subjects", "s4", "--dev", "s1", "s2",
                 "--every", "0.2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "valence on every frame" in printed and "post-processed (tuned on 2 development subjects" in printed
    report = json.loads(out.read_text())["valence_frames"]
    assert report["test_frames"] == 80 and report["postprocessing"]["tuned_on"] == ["s1", "s2"]
