"""Preprocessing: landmark caches with box augmentation, crop caches, resumability, the command."""
from __future__ import annotations

import argparse
import os

import numpy as np
import pytest

from training.cache import CacheError, cache_settings, read_crop_cache, read_landmark_cache
from training.preprocess import BoxJitter, add_arguments, preprocess_recola, preprocess_sasefe, run
from training.synth import SynthConfig, generate
from training.train_xgb import cache_normalization

TINY = dict(size=(320, 240), fps=10.0, clip_max_s=3.0, progress=False)


@pytest.fixture(scope="module")
def sasefe_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("pp_sasefe")
    return out, generate(SynthConfig(out=out, subjects=1, seed=8, expressions=("happiness",), **TINY))


def test_box_jitter_shrinks_about_the_centre():
    jit = BoxJitter(0.8, 0.0, 0.0)
    assert jit.apply((100, 50, 200, 200)) == pytest.approx((120, 70, 160, 160))
    rng = np.random.default_rng(0)
    for _ in range(50):
        x, y, w, h = BoxJitter.draw(rng).apply((0, 0, 100, 100))
        assert 80 <= w <= 95 and -10 < x < 20


def test_landmark_cache_with_augmentation(sasefe_set, tmp_path):
    root, manifest = sasefe_set
    stats = preprocess_sasefe(root, tmp_path, augment=2, progress=False)
    assert stats["clips"] == 2 and stats["sequences"] == 6 and stats["no_face"] <= 0.01 * stats["frames"]
    items = read_landmark_cache(tmp_path)
    frames = {c["key"]: c["frames"] for c in manifest["clips"]}
    assert sorted((i.key, i.aug) for i in items) == sorted(
        (f"{k}_a{a}", a) for k in frames for a in range(3))
    for item in items:
        seq = item.load()
        clip_key = item.key.rsplit("_a", 1)[0]
        assert seq.shape == (frames[clip_key], 80) and np.isfinite(seq).all() and np.abs(seq).max() <= 1.0
        assert item.expression == "happiness" and item.subject == "S001"
        assert item.label == {"S001_N2H": "genuine", "S001_S2N2H": "fake"}[clip_key]
    by_key = {i.key: i for i in items}
    a0, a1 = by_key["S001_N2H_a0"].load(), by_key["S001_N2H_a1"].load()
    diff = np.abs(a0 - a1).mean()
    assert 1e-4 < diff < 0.1  # a shrunk box moves the landmarks a little, not wildly


def test_preprocess_resumes_after_an_interruption(sasefe_set, tmp_path):
    root, _ = sasefe_set
    preprocess_sasefe(root, tmp_path, augment=1, progress=False)
    index = tmp_path / "landmarks" / "index.csv"
    lines = index.read_text().splitlines()
    assert len(lines) == 1 + 4
    # A run killed before its last row was appended: drop that row.
    index.write_text("\n".join(lines[:-1]) + "\n")
    lost_key = lines[-1].split(",")[0]
    kept = tmp_path / "landmarks" / f"{lines[1].split(',')[0]}.npy"
    mtime = os.stat(kept).st_mtime_ns
    stats = preprocess_sasefe(root, tmp_path, augment=1, progress=False)
    assert stats["skipped"] == 1 and stats["sequences"] == 1
    assert index.read_text().splitlines() == lines
    assert os.stat(kept).st_mtime_ns == mtime and lost_key in lines[-1]
    again = preprocess_sasefe(root, tmp_path, augment=1, progress=False)
    assert again["skipped"] == 2 and again["sequences"] == 0
    # the cache says how it was made, and a resumed run with other settings is refused
    assert cache_settings(tmp_path) == {"landmark_normalization": "similarity", "crop_size": 64, "augment": 1}
    with pytest.raises(CacheError, match=r"made with landmark_normalization 'similarity' \(asked: 'face_box'\)"):
        preprocess_sasefe(root, tmp_path, augment=1, normalization="face_box", progress=False)
    with pytest.raises(CacheError, match=r"made with augment 1 \(asked: 0\)"):  # its copies would stay
        preprocess_sasefe(root, tmp_path, augment=0, progress=False)
    assert cache_normalization(tmp_path) == "similarity"
    with pytest.raises(CacheError, match=r"made with landmark normalization 'similarity', not 'landmark_box'"):
        cache_normalization(tmp_path, "roi")  # the earlier name of landmark_box


def test_crop_cache_for_valence(tmp_path):
    data = tmp_path / "recola"
    manifest = generate(SynthConfig(out=data, layout="recola", subjects=1, seed=9, session_s=(4.0, 4.0), **TINY))
    cache = tmp_path / "cache"
    stats = preprocess_recola(data, cache, crop_size=48, progress=False)
    assert stats["recordings"] == 1 and stats["frames"] == manifest["clips"][0]["frames"]
    (item,) = read_crop_cache(cache)
    d = item.load()
    n = manifest["clips"][0]["frames"]
    assert d["crops"].shape == (n, 48, 48, 3) and item.crop_size == 48 and item.fps == pytest.approx(10.0)
    assert d["face"].mean() >= 0.99 and d["crops"][d["face"]].mean() > 20
    np.testing.assert_allclose(d["t_s"], np.arange(n) / 10.0, atol=1e-5)
    assert np.abs(d["valence"]).max() <= 1.0
    assert preprocess_recola(data, cache, crop_size=48, progress=False)["skipped"] == 1


def test_command_line(sasefe_set, tmp_path, capsys):
    root, _ = sasefe_set
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([str(root), "--format", "sasefe", "--out", str(tmp_path), "--augment", "0",
                              "--normalization", "roi"])
    assert run(args) == 0
    assert "wrote 2 landmark sequences" in capsys.readouterr().out
    items = read_landmark_cache(tmp_path)
    assert len(items) == 2 and all(i.aug == 0 for i in items)
    with pytest.raises(SystemExit):
        parser.parse_args([str(root), "--format", "avec", "--out", str(tmp_path)])


def test_a_clip_without_a_face_is_left_out_and_named(sasefe_set, tmp_path, caplog):
    import shutil

    import cv2

    root, manifest = sasefe_set
    data = tmp_path / "data"
    shutil.copytree(root, data)
    clips = sorted(data.rglob("*.mp4"))
    blank = clips[0]
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (320, 240))
    for i in range(20):
        writer.write(np.full((240, 320, 3), 40 + 4 * i, np.uint8))  # no face on any frame
    writer.release()
    with caplog.at_level("WARNING"):
        stats = preprocess_sasefe(data, tmp_path / "cache", augment=1, progress=False)
    assert stats["faceless"] == [str(blank)] and stats["sequences"] == 2  # the other clip, and its copy
    assert {i.key.rsplit("_a", 1)[0] for i in read_landmark_cache(tmp_path / "cache")} == {clips[1].parent.name + "_" + clips[1].stem}
    assert str(blank) in caplog.text and "left out" in caplog.text
