"""Valence of a bundle on labelled photographs (``affectscope evaluate BUNDLE PHOTO_DIR``).

Each photo becomes one clip of the STA's length (:func:`training.photo_clips.photo_clip`: the photo
moving a little over 16 frames at webcam size, with sensor noise and JPEG compression), read by the
live pipeline's face tracker, turned into the model input by :func:`engines.sta.preprocess_clip`
and scored by the bundle's STA, as the valence worker does. A clip where the face was lost on any
frame is counted, not scored (the live worker would not publish it either).

Reported: per category the number of clips and the mean and spread of valence, and three ROC AUCs
of valence as a score: happiness against the negative categories (:data:`NEGATIVE`), happiness
against neutral, neutral against the negative categories, each with a 95 % bootstrap interval
over people (:func:`auc_interval`): with a few dozen photos of a category an AUC is uncertain by
several hundredths, and the interval says by how much. ``split`` keeps the people of one
person-wise split (:func:`training.datasets.photos.person_split`), e.g. ``test`` for people the
shipped model was never trained on nor tuned with.
"""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from engines.bundle import Bundle
from engines.pb_classifier import roc_auc
from training.datasets.photos import NEGATIVE, LabelledPhoto, load_photos, person_split

WIDE_INTERVAL = 0.2  # an AUC interval wider than this is said to be so in the printed report
AUC_PAIRS = (("happy_vs_negative", ("happiness",), NEGATIVE),
             ("happy_vs_neutral", ("happiness",), ("neutral",)),
             ("neutral_vs_negative", ("neutral",), NEGATIVE))


def photo_valence(bundle: Bundle, photos: Sequence[LabelledPhoto], seed: int = 1, batch: int = 16,
                  progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(valence per photo, NaN where the face was lost; face found on every frame, bool)."""
    import torch
    from tqdm import tqdm

    from engines.sta import load_sta, preprocess_clip
    from training.photo_clips import photo_clip, photo_tracker, read_photo

    model = load_sta(bundle).eval()
    cfg = model.config
    tracker = photo_tracker(bundle.landmark_normalization, cfg.crop_size)
    valence = np.full(len(photos), np.nan, np.float32)
    whole = np.zeros(len(photos), bool)
    pending: list[tuple[int, torch.Tensor]] = []

    def flush() -> None:
        if pending:
            with torch.inference_mode():
                out, _ = model(torch.cat([x for _, x in pending]))
            valence[[i for i, _ in pending]] = out.float().numpy()
            pending.clear()

    for i, photo in enumerate(tqdm(photos, desc="photos", unit="photo", disable=not progress)):
        rng = np.random.default_rng([seed, zlib.crc32(photo.key.encode("utf-8"))])
        crops, face = photo_clip(read_photo(photo.path), tracker, rng)
        whole[i] = bool(face.all())
        if whole[i]:
            pending.append((i, preprocess_clip(crops, cfg)))
            if len(pending) >= batch:
                flush()
    flush()
    return valence, whole


def summarize(photos: Sequence[LabelledPhoto], valence: np.ndarray) -> dict[str, Any]:
    """Per-category counts and valence statistics and the three AUCs (NaN valence = not scored)."""
    emotions = np.array([p.emotion for p in photos])
    scored = np.isfinite(valence)
    per_category = {}
    for emotion in sorted(set(emotions.tolist())):
        v = valence[(emotions == emotion) & scored]
        per_category[emotion] = {
            "photos": int((emotions == emotion).sum()), "scored": int(len(v)),
            "mean": float(v.mean()) if len(v) else None, "std": float(v.std()) if len(v) else None,
            "target": photos[int(np.flatnonzero(emotions == emotion)[0])].valence}
    people = np.array([p.person for p in photos])
    aucs = {}
    for name, pos, neg in AUC_PAIRS:
        is_pos, is_neg = np.isin(emotions, pos) & scored, np.isin(emotions, neg) & scored
        keep = is_pos | is_neg
        aucs[name] = {"auc": roc_auc(is_pos[keep], valence[keep]), "positive": int(is_pos.sum()),
                      "negative": int(is_neg.sum()),
                      "ci95": list(auc_interval(is_pos[keep], valence[keep], people[keep]))}
    return {"photos": len(photos), "scored": int(scored.sum()), "face_lost": int((~scored).sum()),
            "per_category": per_category, "auc": aucs}


def auc_interval(is_pos: np.ndarray, scores: np.ndarray, people: np.ndarray, rounds: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the ROC AUC, resampling people with replacement (all of a
    person's photos together: photos of one person are not independent draws). NaN, NaN when
    fewer than half the resamples hold both classes."""
    _, group = np.unique(people, return_inverse=True)
    members = [np.flatnonzero(group == k) for k in range(group.max() + 1)] if len(group) else []
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        rows = np.concatenate([members[k] for k in rng.integers(len(members), size=len(members))]) \
            if members else np.empty(0, int)
        auc = roc_auc(is_pos[rows], scores[rows])
        if np.isfinite(auc):
            values.append(auc)
    if len(values) < rounds / 2:
        return float("nan"), float("nan")
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def evaluate_photos(bundle: Bundle, root: str | Path, split: str = "all", seed: int = 1,
                    progress: bool = True) -> dict[str, Any]:
    """The report of the module docstring for the photo set ``root``."""
    photos = load_photos(root)
    if split != "all":
        photos = [p for p in photos if person_split(p.person) == split]
    if not photos:
        raise ValueError(f"{root}: no photo of people in split '{split}'")
    valence, _ = photo_valence(bundle, photos, seed, progress=progress)
    out = {"split": split, "people": len({p.person for p in photos}), **summarize(photos, valence)}
    out["per_photo"] = [{"image": p.path.name, "emotion": p.emotion, "person": p.person,
                         "valence": float(v) if np.isfinite(v) else None} for p, v in zip(photos, valence)]
    return out


def _shown(v: float | None, fmt: str) -> str:
    return "  n/a" if v is None or not np.isfinite(v) else format(v, fmt)


def print_report(r: dict[str, Any]) -> None:
    """The report on the terminal (unscored values, NaN or None after JSON, as n/a)."""
    print(f"valence on photos — split {r['split']}: {r['photos']} photos of {r['people']} people, "
          f"{r['scored']} scored, {r['face_lost']} lost the face on some frame")
    for emotion, c in r["per_category"].items():
        print(f"  {emotion:<10} {c['scored']:5d} of {c['photos']:5d}  mean {_shown(c['mean'], '+.3f')}  "
              f"std {_shown(c['std'], '.3f')}  (target {c['target']:+.2f})")
    for name, a in r["auc"].items():
        lo, hi = a.get("ci95", (None, None))
        interval = ""
        if lo is not None and np.isfinite(lo):
            interval = f"  95 % interval {_shown(lo, '.3f')}–{_shown(hi, '.3f')} (people resampled)"
            if hi - lo > WIDE_INTERVAL:
                interval += ": too few photos to measure it closely"
        print(f"  AUC {name.replace('_', ' '):<20} {_shown(a['auc'], '.3f')}  "
              f"({a['positive']} vs {a['negative']} clips){interval}")
