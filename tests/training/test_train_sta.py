"""STA training from a crop-clip cache: clips and labels, learning, checkpoints/resume, bundles, DDP."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.bundle import BundleError, load_bundle
from engines.sta import STAConfig, load_sta
from training.cache import CropCacheWriter, read_crop_cache
from training.train_sta import ValenceClips, augment_clips, train_sta, write_sta_bundle

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[2]

TINY = STAConfig(crop_size=16, clip_length=4, clip_rate_fps=5.0, encoder_widths=(4, 8), convlstm_hidden=(8, 4),
                 conv3d_widths=(4, 8, 8, 8), pooled_size=(1, 2, 2), fc_hidden=(16, 8), dropout=0.1)


def write_cache(root: Path, subjects=("s1", "s2", "s3"), frames: int = 120, fps: float = 10.0, seed: int = 0,
                crop_size: int = TINY.crop_size, held: dict[str, float] | None = None) -> Path:
    """Recordings whose valence is shown by the brightness of a central blob (a learnable cue);
    the subjects in ``held`` keep one valence throughout (as a photo of one category)."""
    rng = np.random.default_rng(seed)
    writer = CropCacheWriter(root)
    s = crop_size
    yy, xx = np.mgrid[:s, :s]
    blob = np.exp(-((yy - s / 2) ** 2 + (xx - s / 2) ** 2) / (2 * (s / 5) ** 2))
    for k, subject in enumerate(subjects):
        t = np.arange(frames) / fps
        valence = (0.8 * np.sin(2 * np.pi * t / (4.0 + k) + k)).astype(np.float32)
        if subject in (held or {}):
            valence[:] = held[subject]
        level = 128 + 110 * valence[:, None, None] * blob[None]
        crops = np.clip(level[..., None] + rng.normal(0, 8, (frames, s, s, 3)), 0, 255).astype(np.uint8)
        face = np.ones(frames, bool)
        face[frames // 2] = False  # one lost frame: clips that contain it are skipped
        writer.add(f"{subject}_r0", subject, "r0", fps, crops, valence, t.astype(np.float32), face)
    return root


def read_metrics(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_clips_sample_at_the_clip_rate_and_label_the_last_frame(tmp_path):
    items = read_crop_cache(write_cache(tmp_path / "cache", subjects=("s1",), frames=40))
    ds = ValenceClips(items, TINY)
    step = 2  # 10 fps recording, 5 fps clips
    ends = [int(c.frames[-1]) for c in ds.clips]
    for c in ds.clips:
        assert np.all(np.diff(c.frames) == step) and len(c.frames) == TINY.clip_length
        assert not (c.frames == 20).any()  # the frame without a face
    assert ends[0] == (TINY.clip_length - 1) * step and np.all(np.diff(ends) >= step)
    crops, label = ds[0]
    assert crops.shape == (4, 16, 16, 3) and crops.dtype == torch.uint8
    valence = items[0].load()["valence"]
    assert label.item() == pytest.approx(valence[ends[0]])


def test_augmentation_is_per_clip_and_stays_in_range():
    x = torch.rand(6, 4, 3, 16, 16)
    y = augment_clips(x.clone(), torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert not torch.allclose(x, y)
    same = augment_clips(x[:1, :1].repeat(1, 4, 1, 1, 1), torch.Generator().manual_seed(1))
    assert torch.allclose(same[:, 0], same[:, 1])  # the same draw on every frame of a clip


def test_model_learns_the_synthetic_cue_and_resume_continues(tmp_path):
    cache = write_cache(tmp_path / "cache", subjects=("s1", "s2", "s3", "s4"))
    out = tmp_path / "run"
    result = train_sta(cache, out, TINY, epochs=8, batch=8, lr=3e-3, holdout_subjects=["s3"], progress=False,
                       test_subjects=["s4"])
    rows = read_metrics(out / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(1, 9))
    assert {int(r["train_clips"]) for r in rows} == {len(ValenceClips(read_crop_cache(cache)[:2], TINY, None))}
    losses = [float(r["train_loss"]) for r in rows]
    assert losses[-1] < 0.5 * losses[0], losses
    assert max(float(r["val_ccc"]) for r in rows) > 0.8
    assert result.best_weights.is_file() and (out / "checkpoint.pt").is_file()
    # the test subject, never trained on nor used to pick the epoch, is scored once with the kept weights
    test = json.loads((out / "test.json").read_text())
    assert test == result.test_metrics and test["test_subjects"] == ["s4"] and test["test_clips"] > 0
    assert test["test_ccc"] > 0.6, test

    train_sta(cache, out, TINY, epochs=9, batch=8, lr=3e-3, holdout_subjects=["s3"], resume=True, progress=False)
    rows = read_metrics(out / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(1, 10))
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 9
    other = STAConfig.from_dict({**TINY.to_dict(), "fc_hidden": [32, 8]})
    with pytest.raises(ValueError, match="resume with the same config"):
        train_sta(cache, out, other, epochs=10, resume=True, holdout_subjects=["s3"], progress=False)
    # a new run into this folder would append its rows to this run's metrics.csv: refused
    with pytest.raises(ValueError, match="holds an earlier run"):
        train_sta(cache, out, TINY, epochs=1, holdout_subjects=["s3"], progress=False)
    assert [int(r["epoch"]) for r in read_metrics(out / "metrics.csv")] == list(range(1, 10))


def test_held_out_people_of_one_valence_pick_the_epoch_by_rmse(tmp_path, caplog):
    """Their CCC is 0 whatever the model does; the first epoch had been kept, silently."""
    cache = write_cache(tmp_path / "cache", held={"s3": 0.6})
    with caplog.at_level("WARNING", logger="training.train_sta"):
        result = train_sta(cache, tmp_path / "run", TINY, epochs=4, batch=8, lr=3e-3, holdout_subjects=["s3"],
                           progress=False)
    assert "CCC cannot rank epochs, RMSE does" in caplog.text
    rmse = [float(r["val_rmse"]) for r in read_metrics(tmp_path / "run" / "metrics.csv")]
    assert result.best_epoch == 1 + int(np.argmin(rmse)) and min(rmse) < rmse[0]


def test_nothing_is_left_behind_when_the_cache_is_missing(tmp_path):
    with pytest.raises(ValueError):
        train_sta(tmp_path / "no-cache", tmp_path / "run", TINY, epochs=1, progress=False)
    assert not (tmp_path / "run").exists()
    a_file = tmp_path / "bundle"
    a_file.write_text("")
    cache = write_cache(tmp_path / "cache", subjects=("s1", "s2"))
    with pytest.raises(ValueError, match="not a folder"):  # before any epoch
        train_sta(cache, tmp_path / "run2", TINY, epochs=1, bundle_dir=a_file, progress=False)


def test_bundle_written_by_training_loads_and_refuses_conflicts(tmp_path):
    cache = write_cache(tmp_path / "cache", subjects=("s1", "s2", "s3"), frames=40)
    bundle = tmp_path / "bundle"
    result = train_sta(cache, tmp_path / "run", TINY, epochs=1, batch=8, bundle_dir=bundle, progress=False,
                       test_subjects=["s3"])
    assert result.bundle_dir == bundle
    meta = load_bundle(bundle).meta
    assert meta["crop_size"] == 16 and meta["clip_length"] == 4 and meta["sta"]["weights"] == "sta.safetensors"
    metrics = meta["sta"]["metrics"]
    assert metrics["holdout_subjects"] == ["s2"] and metrics["test_subjects"] == ["s3"]
    assert metrics["test_ccc"] == result.test_metrics["test_ccc"]
    train_labels = ValenceClips(read_crop_cache(cache)[:1], TINY).labels()
    assert metrics["label_stats"]["mean"] == pytest.approx(train_labels.mean())
    assert metrics["label_stats"]["std"] == pytest.approx(train_labels.std())
    model = load_sta(bundle)
    assert model.config == TINY
    meta_json = json.loads((bundle / "bundle.json").read_text())
    meta_json["lstmpb"] = {"kept": True}
    (bundle / "bundle.json").write_text(json.dumps(meta_json))
    write_sta_bundle(bundle, model, {"ccc": 0.5})
    assert load_bundle(bundle).meta["lstmpb"] == {"kept": True}  # other sections survive
    bigger = STAConfig.from_dict({**TINY.to_dict(), "crop_size": 32})
    with pytest.raises(BundleError, match="field 'crop_size' is 16"):
        write_sta_bundle(bundle, type(model)(bigger))


def test_holdout_must_name_known_subjects(tmp_path):
    cache = write_cache(tmp_path / "cache", subjects=("s1", "s2"), frames=30)
    with pytest.raises(ValueError, match=r"\['s9'\] are not in the cache"):
        train_sta(cache, tmp_path / "run", TINY, epochs=1, holdout_subjects=["s9"], progress=False)
    with pytest.raises(ValueError, match=r"test subjects \['s7'\] are not in the cache"):
        train_sta(cache, tmp_path / "run", TINY, epochs=1, test_subjects=["s7"], progress=False)
    with pytest.raises(ValueError, match="must not pick the epoch"):
        train_sta(cache, tmp_path / "run", TINY, epochs=1, holdout_subjects=["s2"], test_subjects=["s2"],
                  progress=False)



@pytest.mark.parametrize("bad", [dict(epochs=0), dict(epochs=-1), dict(batch=0), dict(lr=0.0), dict(hop_s=-0.5)])
def test_counts_and_rates_must_be_positive_and_nothing_is_written(tmp_path, bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=rf"^{name} must be > 0"):
        train_sta(tmp_path / "no-cache", tmp_path / "run", TINY, progress=False, **{"epochs": 1, **bad})
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # two torch processes: 5-12 s on a shared 2-core machine
def test_two_process_ddp_on_cpu_trains(tmp_path):
    cache = write_cache(tmp_path / "cache", subjects=("s1", "s2"), frames=60)
    cfg_path = tmp_path / "tiny.json"
    cfg_path.write_text(json.dumps(TINY.to_dict()))
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "training.train_sta", "--cache", str(cache), "--out", str(out), "--config", str(cfg_path),
           "--epochs", "2", "--batch", "4", "--lr", "1e-3", "--no-progress", "--holdout", "s2"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "2 process(es)" in proc.stderr
    rows = read_metrics(out / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2]  # written once, by rank 0
    assert all(np.isfinite(float(r["val_ccc"])) for r in rows)
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 2


def test_several_caches_subject_lists_and_fine_tuning(tmp_path):
    synthetic = write_cache(tmp_path / "synthetic", subjects=("s1", "s2"), frames=40)
    photos = write_cache(tmp_path / "photos", subjects=("p1", "p2"), frames=40, seed=1)
    (tmp_path / "dev.txt").write_text("s2\nsomeone_not_cached\n")  # a split lists every person of a set
    (tmp_path / "test.txt").write_text("p2\n")
    bundle = tmp_path / "bundle"
    train_sta([synthetic, photos], tmp_path / "run", TINY, epochs=1, batch=8, bundle_dir=bundle, progress=False,
              holdout_subjects=[f"@{tmp_path / 'dev.txt'}"], test_subjects=[f"@{tmp_path / 'test.txt'}"])
    metrics = load_bundle(bundle).meta["sta"]["metrics"]
    assert metrics["holdout_subjects"] == ["s2"] and metrics["test_subjects"] == ["p2"]
    trained = [it for it in read_crop_cache(synthetic) + read_crop_cache(photos) if it.subject in ("s1", "p1")]
    assert int(read_metrics(tmp_path / "run" / "metrics.csv")[0]["train_clips"]) == len(ValenceClips(trained, TINY))

    # fine-tuning starts from the bundle's weights; input handling may change, layers may not
    gray = STAConfig.from_dict({**TINY.to_dict(), "grayscale": True})
    tuned = train_sta([synthetic, photos], tmp_path / "tuned", gray, epochs=1, batch=8, lr=1e-12, progress=False,
                      holdout_subjects=[], init_from=bundle)
    from safetensors.torch import load_file
    start = load_sta(bundle).state_dict()
    for name, value in load_file(str(tuned.best_weights)).items():
        torch.testing.assert_close(value, start[name], atol=1e-6, rtol=0)
    wider = STAConfig.from_dict({**TINY.to_dict(), "fc_hidden": [32, 8]})
    with pytest.raises(ValueError, match="do not match"):
        train_sta(synthetic, tmp_path / "x", wider, epochs=1, holdout_subjects=[], init_from=bundle, progress=False)
    with pytest.raises(ValueError, match="cannot read"):
        train_sta(synthetic, tmp_path / "x", TINY, epochs=1, holdout_subjects=[f"@{tmp_path / 'none.txt'}"],
                  progress=False)


def test_the_paper_recipe_trains_the_papers_network(tmp_path):
    import argparse

    from engines.sta import sta_config
    from training.train_sta import add_arguments, run

    cache = write_cache(tmp_path / "cache", subjects=("s1", "s2"), frames=50, fps=4.0, crop_size=64)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--cache", str(cache), "--out", str(tmp_path / "run"), "--recipe", "paper",
                              "--epochs", "1", "--batch", "2", "--hop-s", "4", "--holdout", "s2", "--no-progress"])
    assert run(args) == 0
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["config"]
    assert STAConfig.from_dict(saved) == sta_config("sta_paper")
    assert saved["peephole"] and saved["attention_from_previous"] and not saved["deconv_relu"]
    assert saved["fc_hidden"] == [512] and saved["conv3d_widths"] == [32, 64, 128, 256]


def test_a_resumed_run_repeats_the_uninterrupted_one(tmp_path):
    """Order, augmentation and dropout are drawn from the seed and the epoch: stopped after epoch 1
    and resumed, epoch 2 is the uninterrupted run's epoch 2."""
    cache = write_cache(tmp_path / "cache", subjects=("s1", "s2", "s3"))
    kw = dict(batch=8, lr=3e-3, holdout_subjects=["s3"], progress=False)
    train_sta(cache, tmp_path / "whole", TINY, epochs=2, **kw)
    train_sta(cache, tmp_path / "split", TINY, epochs=1, **kw)
    train_sta(cache, tmp_path / "split", TINY, epochs=2, resume=True, **kw)
    whole, split = (read_metrics(tmp_path / name / "metrics.csv") for name in ("whole", "split"))
    assert [r["train_loss"] for r in split] == [r["train_loss"] for r in whole]
    assert [r["val_ccc"] for r in split] == [r["val_ccc"] for r in whole]
