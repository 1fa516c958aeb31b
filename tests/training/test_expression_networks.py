"""One LSTM-PB per expression in one bundle (the paper's six networks), beside an optional pooled
one: written by train xgb from per-expression runs, run live by expression model, evaluated each
on its own expression's clips."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.bundle import BundleError, load_bundle
from engines.lstmpb import expression_models, expression_networks, for_expression, load_lstmpb
from engines.online_pb import OnlinePBRecognizer
from realtime.workers.recognizer_process import LocalRecognizer
from tests.training.test_train_lstmpb import FAST_XGB, QUICK_STREAM, TINY, make_cache
from training import train_lstmpb as tl
from training import train_xgb as tx
from training.evaluate import evaluate_genuine_fake

BASE = {"name": "six", "trained_on": "synthetic landmark trajectories (test)", "landmark_normalization": "similarity",
        "crop_size": 64, "clip_length": 16, "clip_rate_fps": 4.0}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A cache of two expressions and an LSTM-PB run per expression (and a pooled one)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("nets")
    cache = make_cache(root / "cache")
    out = {}
    for i, expr in enumerate(("happiness", "anger", "pooled")):
        torch.manual_seed(i)
        out[expr] = root / f"run_{expr}"
        tl.train_lstmpb(cache, out[expr], epochs=2, holdout_subjects=["s3"], expression=expr, **TINY)
    return cache, out


def _xgb(cache, run, bundle, **kw):
    return tx.train_xgb(cache, run, bundle, recognizer=QUICK_STREAM, sequence_iters=5, settings=FAST_XGB,
                        progress=False, **kw)


def test_one_network_per_expression_in_one_bundle(runs, tmp_path):
    cache, run = runs
    bundle_dir = tmp_path / "b"
    _xgb(cache, run["happiness"], bundle_dir, base_meta=BASE)
    _xgb(cache, run["anger"], bundle_dir)
    bundle = load_bundle(bundle_dir)
    assert expression_networks(bundle) == ["anger", "happiness"] and expression_models(bundle) == ["anger", "happiness"]
    assert sorted(p.name for p in bundle_dir.glob("net_anger_*")) == [
        "net_anger_lstmpb.safetensors", "net_anger_lstmpb_pb.safetensors", "net_anger_xgb_anger.ubj",
        "net_anger_xgb_clip_anger.ubj", "net_anger_xgb_clip_pooled.ubj", "net_anger_xgb_pooled.ubj"]
    # each expression model runs on its own network: the weights of its own run
    for expr in ("happiness", "anger"):
        model, _ = load_lstmpb(for_expression(bundle, expr))
        trained, _, _, _ = tl.load_trained(run[expr])
        for (name, a), b in zip(model.state_dict().items(), trained.state_dict().values()):
            assert torch.equal(a, b), (expr, name)
    # no pooled network: the pooled expression model is refused, saying what the bundle has
    with pytest.raises(BundleError, match="one network per expression .anger, happiness. and no pooled one"):
        for_expression(bundle, "pooled")
    with pytest.raises(ValueError, match="no 'pooled' classifier"):
        LocalRecognizer(bundle, "pooled")

    # the live recognizer switches network with the expression model
    seq = np.load(cache / "landmarks" / "s3_anger_fake_0.npy")
    rec = LocalRecognizer(bundle, "happiness")
    rec.feed(seq)
    happiness_pb = rec.feed(seq)[1]
    rec.set_expression_model("anger")
    rec.feed(seq)
    p, anger_pb = rec.feed(seq)
    direct = OnlinePBRecognizer.from_bundle(bundle, "anger")
    for _ in range(2):
        for v in seq:
            direct.update(v)
    assert p == pytest.approx(direct.p_fake) and np.allclose(anger_pb, direct.pb)
    assert not np.allclose(happiness_pb, anger_pb)

    # evaluate scores each network on its own expression's clips, as train xgb's held-out figures
    report = evaluate_genuine_fake(bundle, cache, subjects=["s3"], progress=False)
    assert "metrics" not in report and sorted(report["networks"]) == ["anger", "happiness"]
    for expr in ("happiness", "anger"):
        held = bundle.section("lstmpb")["networks"][expr]["metrics"]["holdout"]
        figures = report["networks"][expr]["metrics"]
        assert figures[expr]["clips"] == 2 and figures[expr] == pytest.approx(held[expr], nan_ok=True)


def test_the_pooled_network_beside_the_expression_networks(runs, tmp_path):
    cache, run = runs
    bundle_dir = tmp_path / "b"
    _xgb(cache, run["happiness"], bundle_dir, base_meta=BASE)
    _xgb(cache, run["pooled"], bundle_dir)  # the pooled network keeps the expression network
    bundle = load_bundle(bundle_dir)
    assert expression_networks(bundle) == ["happiness"]
    assert expression_models(bundle) == ["anger", "happiness", "pooled"]
    pooled_model, _ = load_lstmpb(bundle)
    happy_model, _ = load_lstmpb(for_expression(bundle, "happiness"))
    assert for_expression(bundle, "anger") is bundle  # no network of its own: the pooled one
    assert not torch.equal(next(iter(pooled_model.state_dict().values())),
                           next(iter(happy_model.state_dict().values())))
    _xgb(cache, run["anger"], bundle_dir)  # and a later expression network keeps the pooled one
    bundle = load_bundle(bundle_dir)
    assert expression_networks(bundle) == ["anger", "happiness"] and "weights" in bundle.section("lstmpb")
    report = evaluate_genuine_fake(bundle, cache, subjects=["s3"], progress=False)
    assert report["metrics"]["pooled"]["clips"] == 4 and sorted(report["networks"]) == ["anger", "happiness"]
