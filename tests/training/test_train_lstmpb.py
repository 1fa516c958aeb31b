"""LSTM-PB training loop (checkpoints, resume, DDP) and the XGBoost stage with bundle export."""
from __future__ import annotations

import argparse
import csv
import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from engines.bundle import load_bundle, write_bundle_json
from engines.lstmpb import load_class_pbs, load_lstmpb, load_lstmpb_weights
from engines.online_pb import OnlinePBRecognizer, RecognizerSettings
from engines.pb_classifier import XGBSettings, load_classifiers
from training import recipes
from training import train_lstmpb as tl
from training import train_xgb as tx
from training.cache import LandmarkCacheWriter, read_landmark_cache

TINY = dict(hidden=8, layers=2, batch_size=4, lr=0.05, progress=False)
FAST_XGB = XGBSettings(max_rounds=40, early_stopping_rounds=10, nfold=3)
QUICK_STREAM = RecognizerSettings(window=8, every=4, iters=2, min_frames=6)


def landmark_sequence(rng: np.random.Generator, fake: bool, frames: int, expression_shift: float) -> np.ndarray:
    """Genuine: slow, symmetric; fake: fast onset, left/right asymmetric. (frames, 80) in [-1, 1]."""
    t = np.arange(frames)[:, None]
    k = np.arange(40)[None, :]
    freq = 0.5 if fake else 0.25
    amp = np.where(k % 2 == 0, 0.5, 0.15) if fake else np.full(k.shape, 0.35)
    phase = rng.uniform(-0.3, 0.3)
    xs = 0.3 * np.cos(0.7 * k + expression_shift) + amp * np.sin(freq * t + phase + 0.1 * k)
    ys = 0.3 * np.sin(0.5 * k) + 0.5 * amp * np.cos(freq * t + phase)
    return (np.concatenate([xs, ys], 1) + rng.normal(0, 0.01, (frames, 80))).astype(np.float32)


def make_cache(root, subjects=4, expressions=("happiness", "anger"), augs=2, seed=0, frames=None):
    """A landmark cache like preprocessing writes: every subject shows each expression genuinely and posed.

    Sequences have 12..16 frames, or exactly ``frames``."""
    rng = np.random.default_rng(seed)
    writer = LandmarkCacheWriter(root)
    for s in range(subjects):
        for e, expr in enumerate(expressions):
            for label in ("genuine", "fake"):
                for aug in range(augs):
                    n = frames or int(rng.integers(12, 17))
                    seq = landmark_sequence(rng, label == "fake", n, expression_shift=0.8 * e)
                    writer.add(f"s{s}_{expr}_{label}_{aug}", f"s{s}", expr, label, aug, seq)
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return make_cache(tmp_path_factory.mktemp("cache"))


def read_metrics(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------------------------
# train_lstmpb


def test_training_writes_outputs_and_resume_equals_an_uninterrupted_run(cache, tmp_path):
    full = tl.train_lstmpb(cache, tmp_path / "full", epochs=3, **TINY)
    tl.train_lstmpb(cache, tmp_path / "split", epochs=2, **TINY)
    resumed = tl.train_lstmpb(cache, tmp_path / "split", epochs=3, resume=True, **TINY)
    assert full.epochs == resumed.epochs == 3
    for run in ("full", "split"):
        rows = read_metrics(tmp_path / run / "metrics.csv")
        assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
        assert all(np.isfinite(float(r["train_mse"])) for r in rows)
        state = json.loads((tmp_path / run / "train.json").read_text())
        assert state["done"] and state["epoch"] == 3
        assert state["classes"] == ["anger/genuine", "anger/fake", "happiness/genuine", "happiness/fake"]
    model_a, _, pbs_a, _ = tl.load_trained(tmp_path / "full")
    model_b, _, pbs_b, _ = tl.load_trained(tmp_path / "split")
    for (name, a), (_, b) in zip(model_a.state_dict().items(), model_b.state_dict().items()):
        torch.testing.assert_close(a, b, msg=name)
    for key in pbs_a:
        torch.testing.assert_close(pbs_a[key], pbs_b[key])
    assert any(p.abs().max() > 0 for p in pbs_a.values())  # the class PBs did learn


STEPS = dict(frame_block=2, reference="first", closed_loop_after=2, pb_activation="linear", optimizer="adam",
             hidden=8, layers=2, batch_size=4, lr=0.01, progress=False)


def test_step_model_with_adam_resumes_exactly_and_stores_its_config(cache, tmp_path):
    full = tl.train_lstmpb(cache, tmp_path / "full", epochs=3, **STEPS)
    tl.train_lstmpb(cache, tmp_path / "split", epochs=2, **STEPS)
    tl.train_lstmpb(cache, tmp_path / "split", epochs=3, resume=True, **STEPS)
    model_a, config, pbs_a, state = tl.load_trained(tmp_path / "full")
    model_b, _, pbs_b, _ = tl.load_trained(tmp_path / "split")
    assert (config.frame_block, config.reference, config.closed_loop_after) == (2, "first", 2)
    assert state["settings"]["optimizer"] == "adam" and full.epochs == 3
    for (name, a), (_, b) in zip(model_a.state_dict().items(), model_b.state_dict().items()):
        torch.testing.assert_close(a, b, msg=name)  # Adam's moments and step count came back
    for key in pbs_a:
        torch.testing.assert_close(pbs_a[key], pbs_b[key])
    assert not model_a.input_mean.any()  # displacements from the first step keep their zero
    rows = read_metrics(tmp_path / "full" / "metrics.csv")
    assert all(np.isfinite(float(r["train_mse"])) and float(r["train_mse"]) > 0 for r in rows)


def test_unknown_optimizer_is_refused(cache, tmp_path):
    with pytest.raises(ValueError, match="unknown optimizer"):
        tl.train_lstmpb(cache, tmp_path, epochs=1, **{**STEPS, "optimizer": "rmsprop"})


def test_training_lowers_the_error(cache, tmp_path):
    tl.train_lstmpb(cache, tmp_path, epochs=8, **TINY)
    rows = read_metrics(tmp_path / "metrics.csv")
    assert float(rows[-1]["train_mse"]) < float(rows[0]["train_mse"])
    # pbs_below_zero of the best epoch counts the saved class PBs with no positive unit of W_p p
    best = [r for r in rows if r["improved"] == "1"][-1]
    model, _, pbs, _ = tl.load_trained(tmp_path)
    assert int(best["pbs_below_zero"]) == int((model.pb_active_units(torch.stack(list(pbs.values()))) == 0).sum())


def test_one_expression_and_held_out_subjects(cache, tmp_path):
    tl.train_lstmpb(cache, tmp_path, expression="anger", epochs=1, holdout_subjects=["s3"], **TINY)
    state = json.loads((tmp_path / "train.json").read_text())
    assert state["classes"] == ["anger/genuine", "anger/fake"]
    assert state["sequences"] == 3 * 2 * 2  # 3 subjects x genuine/fake x 2 augmentations
    assert state["settings"]["holdout_subjects"] == ["s3"]
    _, config, pbs, _ = tl.load_trained(tmp_path)
    assert set(pbs) == {"anger/genuine", "anger/fake"} and config.hidden == 8
    # batches of 5 wrap the epoch's 12 sequences round to 15; the metrics count each sequence once
    tl.train_lstmpb(cache, tmp_path / "fives", expression="anger", epochs=1, holdout_subjects=["s3"],
                    **{**TINY, "batch_size": 5})
    assert int(read_metrics(tmp_path / "fives" / "metrics.csv")[0]["sequences"]) == 12


def test_resume_without_a_checkpoint_is_refused(cache, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        tl.train_lstmpb(cache, tmp_path, epochs=1, resume=True, **TINY)


def test_a_new_run_into_an_earlier_runs_folder_is_refused(cache, trained_dir):
    """Its rows would be appended to the earlier run's metrics.csv."""
    with pytest.raises(ValueError, match="holds an earlier run"):
        tl.train_lstmpb(cache, trained_dir, epochs=1, **TINY)
    # resumed with other held-out people: refused, not silently ignored
    with pytest.raises(ValueError, match="held-out subjects"):
        tl.train_lstmpb(cache, trained_dir, epochs=5, resume=True, holdout_subjects=["s2"], **TINY)


@pytest.mark.parametrize("bad", [dict(epochs=0), dict(epochs=-3), dict(batch_size=0), dict(lr=-0.1)])
def test_counts_and_rates_must_be_positive(tmp_path, bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=rf"^{name} must be > 0"):
        tl.train_lstmpb(tmp_path / "no-cache", tmp_path / "run", **{"epochs": 1, **TINY, **bad})
    assert not (tmp_path / "run").exists()


def test_epoch_order_shards_evenly_and_covers_every_item():
    n, world, batch = 11, 2, 3
    shards = [tl.epoch_order(n, epoch=5, seed=1, world=world, rank=r, batch_size=batch) for r in range(world)]
    assert len(shards[0]) == len(shards[1])
    flat = [np.concatenate(s) for s in shards]
    assert set(np.concatenate(flat)) == set(range(n))
    assert len(flat[0]) == len(flat[1]) == 6
    again = tl.epoch_order(n, epoch=5, seed=1, world=world, rank=0, batch_size=batch)
    assert all(np.array_equal(a, b) for a, b in zip(again, shards[0]))


def test_command_line_entry(cache, tmp_path):
    parser = argparse.ArgumentParser()
    tl.add_arguments(parser)
    defaults = parser.parse_args(["--cache", "c", "--out", "o"])
    assert recipes.recipe_settings(defaults) == recipes.RECIPES["affectscope"]
    assert {k: recipes.RECIPES["affectscope"][k] for k in recipes.RECIPE} == recipes.RECIPE
    paper = recipes.recipe_settings(parser.parse_args(["--cache", "c", "--out", "o", "--recipe", "paper", "--lr", "0.02"]))
    assert paper == {**recipes.RECIPES["paper"], "lr": 0.02}  # an option given overrides its recipe
    (tmp_path / "test.txt").write_text("s1\nnot-in-this-cache\n")
    args = parser.parse_args(["--cache", str(cache), "--out", str(tmp_path), "--epochs", "1", "--hidden", "8",
                              "--layers", "1", "--holdout", "s0", "--test", f"@{tmp_path / 'test.txt'}",
                              "--frame-block", "2", "--closed-loop-after", "2", "--no-progress"])
    assert tl.run(args) == 0
    state = json.loads((tmp_path / "train.json").read_text())
    assert state["config"]["layers"] == 1 and state["settings"]["holdout_subjects"] == ["s0"]
    assert state["settings"]["test_subjects"] == ["s1"]
    outside = sum(1 for it in read_landmark_cache(cache) if it.subject not in ("s0", "s1"))
    assert state["sequences"] == outside
    assert state["config"]["frame_block"] == 2 and state["config"]["reference"] == "first"
    assert state["config"]["pb_activation"] == "linear" and state["settings"]["optimizer"] == "adam"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, cache_dir: str, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    tl.train_lstmpb(cache_dir, out_dir, epochs=2, grad_clip=0.0, **{**TINY, "batch_size": 2})


@pytest.mark.slow
def test_distributed_training_on_two_cpu_processes_equals_one_process(tmp_path):
    """Two gloo ranks with batches of 2 take the same steps as one process with batches of 4
    (equal-length sequences, no clipping): the sharding, DDP's weight gradients and the summed
    PB updates must all be right for the results to agree."""
    cache = make_cache(tmp_path / "cache", frames=14)
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(cache), str(tmp_path / "ddp")), nprocs=2, join=True)
    tl.train_lstmpb(cache, tmp_path / "single", epochs=2, grad_clip=0.0, **{**TINY, "batch_size": 4})
    state = json.loads((tmp_path / "ddp" / "train.json").read_text())
    assert state["world_size"] == 2 and state["done"]
    rows = read_metrics(tmp_path / "ddp" / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert int(rows[0]["sequences"]) == 32  # both ranks' shares counted once: 4 subjects x 2 x 2 x 2
    ddp_model, _, ddp_pbs, _ = tl.load_trained(tmp_path / "ddp")
    one_model, _, one_pbs, _ = tl.load_trained(tmp_path / "single")
    for (name, a), (_, b) in zip(ddp_model.state_dict().items(), one_model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    assert set(ddp_pbs) == set(one_pbs)
    for key in one_pbs:
        assert one_pbs[key].abs().max() > 0
        torch.testing.assert_close(ddp_pbs[key], one_pbs[key], rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------------------
# train_xgb: PB vectors, classifiers, evaluation, bundle


def test_roc_auc_matches_pair_counting():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    s = np.round(rng.random(40), 1)  # many ties
    pos, neg = s[y == 1], s[y == 0]
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert tx.roc_auc(y, s) == pytest.approx(brute)
    assert tx.roc_auc([1, 1], [0.2, 0.3]) != tx.roc_auc([1, 1], [0.2, 0.3])  # NaN: one class only


def test_clip_scores_average_each_clip():
    samples = tx.PBSamples(np.zeros((5, 64)), np.array([0, 0, 1, 1, 1]), np.array(["a"] * 5),
                           np.array(["anger"] * 5), np.array(["a/anger/genuine"] * 2 + ["a/anger/fake"] * 3))
    scores = tx.clip_scores(samples, np.array([0.1, 0.3, 0.6, 0.7, 0.8]))
    got = dict(zip(scores.clips, scores.probs))
    assert got == pytest.approx({"a/anger/genuine": 0.2, "a/anger/fake": 0.7})
    metrics = tx.score_clips(scores)
    assert metrics["accuracy"] == 1.0 and metrics["accuracy_paired"] == 1.0 and metrics["auc"] == 1.0


@pytest.fixture(scope="module")
def trained_dir(cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("lstmpb")
    torch.set_num_threads(1)
    tl.train_lstmpb(cache, out, epochs=4, holdout_subjects=["s3"], **TINY)
    return out


@pytest.mark.parametrize("mode", ["stream", "sequence"])
def test_xgb_stage_writes_a_usable_bundle(cache, trained_dir, tmp_path, mode):
    base = {"name": "tiny", "trained_on": "synthetic landmark trajectories (test)",
            "landmark_normalization": "similarity", "crop_size": 64, "clip_length": 16, "clip_rate_fps": 4.0}
    metrics = tx.train_xgb(cache, trained_dir, tmp_path, mode=mode, recognizer=QUICK_STREAM, sequence_iters=5,
                           settings=FAST_XGB, base_meta=base, progress=False)
    assert metrics["holdout_subjects"] == ["s3"] and "s3" not in metrics["train_subjects"]
    assert set(metrics["cv_auc"]) == {"pooled", "anger", "happiness"}
    held = metrics["holdout"]
    assert held["pooled"]["clips"] == 4  # s3: 2 expressions x genuine/fake, augmentations averaged
    assert set(held["anger"]) == {"clips", "accuracy", "auc", "accuracy_paired"}

    bundle = load_bundle(tmp_path)
    section = bundle.section("lstmpb")
    assert section["metrics"]["pb_source"] == mode
    assert section["recognizer"] == QUICK_STREAM.to_dict()
    model, config = load_lstmpb(bundle)
    assert config.hidden == 8
    assert set(load_class_pbs(bundle)) == {"anger/genuine", "anger/fake", "happiness/genuine", "happiness/fake"}
    assert set(load_classifiers(bundle)) == {"pooled", "anger", "happiness"}
    rec = OnlinePBRecognizer.from_bundle(bundle, expression="anger")
    seq = np.load(cache / "landmarks" / "s3_anger_fake_0.npy")
    probs = [p for p in (rec.update(v) for v in seq) if p is not None]
    assert probs and all(0.0 <= p <= 1.0 for p in probs)

    # stream mode also fits the whole-clip classifiers; the evaluate command scores both
    from engines.pb_classifier import load_clip_classifiers
    from training.evaluate import evaluate_genuine_fake

    clip = load_clip_classifiers(bundle)
    report = evaluate_genuine_fake(bundle, cache, subjects=["s3"], progress=False)
    assert report["clips"] == 4 and report["sequences"] == 8  # the shrunk-box copies too, averaged per clip
    assert "trained_on_subjects" not in report  # s3 was held out
    if mode == "stream":  # a person the model was trained on is named beside the figures
        trained = metrics["train_subjects"][0]
        assert evaluate_genuine_fake(bundle, cache, subjects=[trained], progress=False)["trained_on_subjects"] == [trained]
    if mode == "stream":
        assert report["metrics"]["pooled"]["clips"] == 4
        assert set(clip) == {"pooled", "anger", "happiness"} and section["clip_iters"] == 5
        assert set(held) >= {"pooled"} and metrics["holdout_clip"]["pooled"]["clips"] == 4
        assert report["metrics_clip"]["pooled"]["clips"] == 4
        _same_figures(report["metrics"], held)  # evaluate and train xgb's held-out figures agree
    else:  # the bundle's classifiers judge one PB per whole clip: so does evaluate
        assert clip is None and "metrics" not in report and "holdout_clip" not in metrics
        _same_figures(report["metrics_clip"], held)


def _same_figures(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for key in a:
        assert a[key] == pytest.approx(b[key], nan_ok=True), key


def test_bundle_export_keeps_other_sections(cache, trained_dir, tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "sta.safetensors"))  # a bundle's parts must exist
    write_bundle_json(tmp_path, {"name": "both", "trained_on": "x", "landmark_normalization": "roi", "crop_size": 48,
                                 "clip_length": 16, "clip_rate_fps": 4.0, "sta": {"weights": "sta.safetensors"}})
    model, _, pbs, _ = tl.load_trained(trained_dir)
    samples = tx.collect_pbs(model, tl.select_items(read_landmark_cache(cache), "pooled"), mode="sequence",
                             sequence_iters=3)
    classifiers, _ = tx.fit_classifiers(samples, FAST_XGB, expressions=[])
    tx.write_lstmpb_bundle(tmp_path, model, pbs, classifiers, RecognizerSettings())
    meta = json.loads((tmp_path / "bundle.json").read_text())
    assert meta["sta"] == {"weights": "sta.safetensors"} and meta["crop_size"] == 48
    assert meta["lstmpb"]["classifiers"] == {"pooled": "xgb_pooled.ubj"}
    load_lstmpb_weights(tmp_path / "lstmpb.safetensors", model.config)


def test_pb_vectors_from_two_processes_equal_those_of_one(cache, trained_dir):
    model, _, _, _ = tl.load_trained(trained_dir)
    items = tl.select_items(read_landmark_cache(cache), "pooled")[:8]
    one = tx.collect_pbs(model, items, "stream", QUICK_STREAM)
    two = tx.collect_pbs(model, items, "stream", QUICK_STREAM, jobs=2)
    np.testing.assert_allclose(two.X, one.X, atol=1e-5)
    assert two.clips.tolist() == one.clips.tolist() and two.y.tolist() == one.y.tolist()


def test_bundle_export_needs_top_level_fields_for_a_new_bundle(trained_dir, tmp_path):
    model, _, pbs, _ = tl.load_trained(trained_dir)
    with pytest.raises(ValueError, match="base_meta"):
        tx.write_lstmpb_bundle(tmp_path, model, pbs, {}, RecognizerSettings())


def test_xgb_command_line_entry(cache, trained_dir, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    tx.add_arguments(parser)
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    argv = ["--cache", str(cache), "--lstmpb", str(trained_dir), "--window", "8",
            "--every", "4", "--iters", "1", "--max-rounds", "20", "--nfold", "3", "--no-progress"]
    with pytest.raises(ValueError, match="not a folder"):  # before the PB vectors are found
        tx.run(parser.parse_args(argv + ["--bundle", str(a_file)]))
    # a new bundle without --trained-on says which runs and caches made it
    assert tx.run(parser.parse_args(argv + ["--bundle", str(tmp_path / "default")])) == 0
    assert f"LSTM-PB run {trained_dir.resolve()}" in load_bundle(tmp_path / "default").meta["trained_on"]
    assert '"cv_auc"' in capsys.readouterr().out  # the figures, without progress bars too
    assert tx.run(parser.parse_args(argv + ["--bundle", str(tmp_path), "--trained-on", "synthetic trajectories",
                                            "--name", "cli", "--jobs", "2"])) == 0
    bundle = load_bundle(tmp_path)
    assert bundle.name == "cli" and bundle.landmark_normalization == "similarity"
    assert bundle.section("lstmpb")["recognizer"]["window"] == 8
    booster = load_classifiers(bundle)["pooled"].booster
    assert json.loads(booster.attributes()["settings"])["nthread"] == 2  # --jobs threads each booster too



def test_xgb_paper_recipe_end_to_end(cache, trained_dir, tmp_path):
    """--recipe paper: one PB per whole clip, the authors' staged schedule with their starting eta
    per expression, L2 1000 only."""
    parser = argparse.ArgumentParser()
    tx.add_arguments(parser)
    argv = ["--cache", str(cache), "--lstmpb", str(trained_dir), "--bundle", str(tmp_path), "--recipe", "paper",
            "--sequence-iters", "5", "--max-rounds", "30", "--nfold", "3", "--no-progress",
            "--trained-on", "synthetic trajectories"]
    assert tx.run(parser.parse_args(argv)) == 0
    bundle = load_bundle(tmp_path)
    section = bundle.section("lstmpb")
    assert section["metrics"]["pb_source"] == "sequence"
    from engines.pb_classifier import load_classifiers

    classifiers = load_classifiers(bundle)
    for model, start in (("pooled", 0.1), ("happiness", 0.1), ("anger", 0.55)):
        attrs = classifiers[model].booster.attributes()
        settings = json.loads(attrs["settings"])
        assert (settings["schedule"], settings["reg_lambda"], settings["max_depth"], settings["subsample"],
                settings["early_stopping_rounds"], settings["restart_decay"]) == ("restarts", 1000.0, 2, 0.8, 500, 0.5)
        assert settings["eta"] == start and json.loads(attrs["stages"])[0][0] == start


def test_input_statistics_normalize_to_the_spread_and_give_the_copy_baseline():
    from types import SimpleNamespace

    from training.train_lstmpb import input_statistics

    rng = np.random.default_rng(3)
    seqs = [(rng.normal(0.2, 0.05, (30, 80)) + np.linspace(0, 0.1, 30)[:, None]).astype(np.float32) for _ in range(4)]
    seqs[0][:, 5] = 0.7  # a coordinate that never moves in one sequence is fine
    items = [SimpleNamespace(load=lambda s=s: s) for s in seqs]
    mean, scale, copy_mse = input_statistics(items, spread=0.3)
    frames = np.concatenate(seqs)
    normed = (frames - mean) * scale
    np.testing.assert_allclose(normed.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(normed.std(0), 0.3, rtol=1e-3)
    expected = np.mean(np.concatenate([np.diff(s, axis=0) * scale for s in seqs]) ** 2)
    assert copy_mse == pytest.approx(expected, rel=1e-5)


def test_input_statistics_of_steps_keep_the_reference_and_measure_the_closed_loop_baseline():
    from types import SimpleNamespace

    from engines.lstmpb import LSTMPBConfig, landmark_steps
    from training.train_lstmpb import input_statistics

    rng = np.random.default_rng(4)
    seqs = [(rng.normal(0.2, 0.01, (31, 80)) + np.linspace(0, 0.2, 31)[:, None] ** 2).astype(np.float32)
            for _ in range(3)]
    items = [SimpleNamespace(load=lambda s=s: s) for s in seqs]
    cfg = LSTMPBConfig(hidden=8, layers=1, frame_block=3, reference="first", closed_loop_after=2)
    mean, scale, hold_mse = input_statistics(items, spread=0.3, config=cfg)
    steps = [landmark_steps(s, cfg) for s in seqs]
    assert not mean.any()
    np.testing.assert_allclose((np.concatenate(steps) * scale).std(0), 0.3, rtol=1e-3)
    # no motion in closed loop: every counted step predicted by the prompt's last step
    expected = np.mean(np.concatenate([(st[2:] - st[1]) * scale for st in steps]) ** 2)
    assert hold_mse == pytest.approx(expected, rel=1e-5)



def test_fine_tuning_starts_from_a_bundle_and_refuses_another_config(cache, tmp_path):
    torch.set_num_threads(1)
    long = make_cache(tmp_path / "long", subjects=2, augs=1, frames=60)  # 12 steps of 5 frames: past the prompt
    shipped = load_bundle()
    start, _ = load_lstmpb(shipped)
    out = tmp_path / "ft"
    tl.train_lstmpb(long, out, epochs=1, init_from=shipped.root, progress=False,
                    **{k: v for k, v in recipes.RECIPE.items() if k not in ("epochs", "patience")})
    state = json.loads((out / "train.json").read_text())
    tuned, _, pbs, _ = tl.load_trained(out)
    # one epoch of small steps from the shipped weights: close to them, not a fresh network
    w0, w1 = start.state_dict(), tuned.state_dict()
    moved = max(float((w1[k] - w0[k]).abs().max()) for k in w0 if not k.startswith("input_") and w0[k].is_floating_point())
    assert 0 < moved < 0.05 and state["epoch"] == 1
    with pytest.raises(ValueError, match=r"LSTM-PB config .* differs from this run's"):
        tl.train_lstmpb(cache, tmp_path / "bad", epochs=1, init_from=shipped.root, **TINY)


def test_the_paper_recipe_end_to_end(tmp_path):
    """--recipe paper sets every choice of the paper: a 4 x 512 grid LSTM with PB 64, frame-rate
    absolute steps as they come (no standardization), teacher forcing, ReLU PB drive, SGD one
    sequence at a time on the mean squared error, rates x 0.9 after 10 epochs without progress."""
    torch.set_num_threads(1)
    small = make_cache(tmp_path / "c", subjects=1, expressions=("happiness",), augs=1)
    parser = argparse.ArgumentParser()
    tl.add_arguments(parser)
    args = parser.parse_args(["--cache", str(small), "--out", str(tmp_path / "run"), "--recipe", "paper",
                              "--expression", "happiness", "--epochs", "2", "--no-progress"])
    assert tl.run(args) == 0
    state = json.loads((tmp_path / "run" / "train.json").read_text())
    assert {k: state["config"][k] for k in ("hidden", "layers", "pb_dim", "frame_block", "reference",
                                              "closed_loop_after", "pb_activation")} == {
        "hidden": 512, "layers": 4, "pb_dim": 64, "frame_block": 1, "reference": "none",
        "closed_loop_after": 0, "pb_activation": "relu"}
    from engines.lstmpb import LSTMPBConfig
    from engines.registry import model_config

    assert LSTMPBConfig.from_dict(state["config"]) == model_config("lstmpb_paper")  # the registered paper form
    st = state["settings"]
    assert (st["recipe"], st["optimizer"], st["lr"], st["momentum"], st["lr_pb"], st["batch_size"], st["patience"],
            st["lr_decay"], st["loss"], st["standardize"], st["expression"]) == (
        "paper", "sgd", 0.01, 0.9, 0.9, 1, 10, 0.9, "mean", False, "happiness")
    model, config, pbs, _ = tl.load_trained(tmp_path / "run")
    assert torch.all(model.input_mean == 0) and torch.all(model.input_scale == 1)  # the values as they come
    assert sorted(pbs) == ["happiness/fake", "happiness/genuine"] and state["sequences"] == 2
    rows = read_metrics(tmp_path / "run" / "metrics.csv")
    assert len(rows) == 2 and all(np.isfinite(float(r["train_mse"])) for r in rows)


def test_the_mean_loss_is_the_sum_loss_over_half_the_coordinates():
    from training.lstmpb_steps import prediction_loss

    torch.manual_seed(0)
    pred, x = torch.randn(3, 6, 80), torch.randn(3, 6, 80)
    mask = torch.ones(3, 6)
    assert float(prediction_loss(pred, x, mask, "mean")) == pytest.approx(float(prediction_loss(pred, x, mask)) / 40)
    with pytest.raises(ValueError, match="loss"):
        prediction_loss(pred, x, mask, "max")
