"""On-disk caches that training reads, so that no training loop decodes video.

Landmark cache (genuine/fake, LSTM-PB)::

    CACHE/landmarks/index.csv   key,subject,expression,label,aug,frames,file
    CACHE/landmarks/<key>.npy   float32 (T, 80): the 40-point vector per frame (x0..x39, y0..y39)

``label`` is ``genuine`` or ``fake``; ``aug`` is the augmentation index (0 = the detected face box,
1.. = randomly shrunk boxes, paper §2.4). Frames without a face are dropped from the sequence.

Crop-clip cache (valence, STA-3DCNN)::

    CACHE/crops/index.csv       key,subject,recording,frames,fps,crop_size,file
    CACHE/crops/<key>.npz       crops uint8 (T, S, S, 3) BGR, valence float32 (T,), t_s float32 (T,),
                                face bool (T,)

Rows are appended one per finished item (flushed), so an interrupted preprocessing run resumes
where it stopped: an item whose key is already indexed is skipped.

``CACHE/cache.json`` records how the cache was made (``landmark_normalization``, ``crop_size``):
a resumed run with other settings is refused, and ``train xgb`` gives a bundle the cache's
normalization (a bundle run live with another one would feed its models other numbers).
Caches made before the file existed have no record; their users say what they are.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.bundle import canonical_normalization

LANDMARK_FIELDS = ("key", "subject", "expression", "label", "aug", "frames", "file")
CROP_FIELDS = ("key", "subject", "recording", "frames", "fps", "crop_size", "file")


class CacheError(ValueError):
    """A cache folder that is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class LandmarkItem:
    key: str
    subject: str
    expression: str
    label: str
    aug: int
    frames: int
    path: Path

    @property
    def is_fake(self) -> int:
        return int(self.label == "fake")

    def load(self) -> np.ndarray:
        return np.load(self.path).astype(np.float32, copy=False)


@dataclass(frozen=True)
class CropItem:
    key: str
    subject: str
    recording: str
    frames: int
    fps: float
    crop_size: int
    path: Path

    def load(self) -> dict[str, np.ndarray]:
        with np.load(self.path) as z:
            return {k: z[k] for k in ("crops", "valence", "t_s", "face")}


# what each kind of cache holds, and the models it trains
_KINDS = {"landmarks": "landmark sequences (genuine/fake: train lstmpb, train xgb; preprocess --format sasefe)",
          "crops": "face-crop clips (valence: train sta; preprocess --format recola or photos)"}


def _read_index(index: Path, fields: tuple[str, ...]) -> list[dict[str, str]]:
    if not index.is_file():
        root, kind = index.parent.parent, index.parent.name
        other = [k for k in _KINDS if k != kind and (root / k / "index.csv").is_file()]
        if other:  # a cache, of the other kind
            raise CacheError(f"{root}: a cache of {_KINDS[other[0]]}; this needs {_KINDS[kind]}")
        if not root.is_dir():
            raise CacheError(f"{root}: no such cache folder; build it with 'affectscope preprocess'")
        raise CacheError(f"{index}: missing; build the cache with 'affectscope preprocess'")
    with index.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != fields:
            raise CacheError(f"{index}: header is {reader.fieldnames}, expected {list(fields)}")
        return list(reader)


def read_landmark_cache(root: str | Path) -> list[LandmarkItem]:
    base = Path(root) / "landmarks"
    items = []
    for row in _read_index(base / "index.csv", LANDMARK_FIELDS):
        if row["label"] not in ("genuine", "fake"):
            raise CacheError(f"{base / 'index.csv'}: key {row['key']}: label {row['label']!r} is not genuine/fake")
        items.append(LandmarkItem(row["key"], row["subject"], row["expression"], row["label"],
                                  int(row["aug"]), int(row["frames"]), base / row["file"]))
    return items


def read_crop_cache(root: str | Path) -> list[CropItem]:
    base = Path(root) / "crops"
    return [CropItem(r["key"], r["subject"], r["recording"], int(r["frames"]), float(r["fps"]),
                     int(r["crop_size"]), base / r["file"])
            for r in _read_index(base / "index.csv", CROP_FIELDS)]


SETTINGS_FILE = "cache.json"


def cache_settings(root: str | Path) -> dict | None:
    """How the cache at ``root`` was made (``landmark_normalization``, ``crop_size``), or None for a
    cache made before this was recorded."""
    path = Path(root) / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CacheError(f"{path}: unreadable ({exc}); delete it only if you know how the cache was made") from None
    if not isinstance(data, dict):
        raise CacheError(f"{path}: expected a JSON object")
    if isinstance(data.get("landmark_normalization"), str):  # an earlier name reads as the same computation
        data["landmark_normalization"] = canonical_normalization(data["landmark_normalization"])
    return data


def claim_settings(root: str | Path, **settings) -> None:
    """Record ``settings`` for a new cache, or check that a resumed one was made with them."""
    root = Path(root)
    if "landmark_normalization" in settings:
        settings["landmark_normalization"] = canonical_normalization(settings["landmark_normalization"])
    known = cache_settings(root)
    if known is None:
        root.mkdir(parents=True, exist_ok=True)
        (root / SETTINGS_FILE).write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
        return
    differ = {k: (known.get(k), v) for k, v in settings.items() if k in known and known[k] != v}
    if differ:
        said = ", ".join(f"{k} {a!r} (asked: {b!r})" for k, (a, b) in differ.items())
        raise CacheError(f"{root}: this cache was made with {said}; resume it with the same settings or "
                         f"write a new cache (--out)")


class _IndexAppender:
    def __init__(self, base: Path, fields: tuple[str, ...]):
        self.base = base
        self.fields = fields
        base.mkdir(parents=True, exist_ok=True)
        self.index = base / "index.csv"
        self.done: set[str] = set()
        if self.index.is_file():
            self.done = {r["key"] for r in _read_index(self.index, fields)}
        else:
            with self.index.open("w", newline="", encoding="utf-8") as fh:
                csv.writer(fh).writerow(fields)

    def append(self, row: dict) -> None:
        with self.index.open("a", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow([row[f] for f in self.fields])
        self.done.add(row["key"])


class LandmarkCacheWriter(_IndexAppender):
    def __init__(self, root: str | Path):
        super().__init__(Path(root) / "landmarks", LANDMARK_FIELDS)

    def add(self, key: str, subject: str, expression: str, label: str, aug: int, seq: np.ndarray) -> None:
        seq = np.asarray(seq, dtype=np.float32)
        if seq.ndim != 2 or seq.shape[1] != 80:
            raise ValueError(f"landmark sequence must be (T, 80), got {seq.shape}")
        np.save(self.base / f"{key}.npy", seq)
        self.append(dict(key=key, subject=subject, expression=expression, label=label, aug=aug,
                         frames=len(seq), file=f"{key}.npy"))


class CropCacheWriter(_IndexAppender):
    def __init__(self, root: str | Path):
        super().__init__(Path(root) / "crops", CROP_FIELDS)

    def add(self, key: str, subject: str, recording: str, fps: float, crops: np.ndarray,
            valence: np.ndarray, t_s: np.ndarray, face: np.ndarray) -> None:
        crops = np.asarray(crops, dtype=np.uint8)
        if crops.ndim != 4 or crops.shape[1] != crops.shape[2] or crops.shape[3] != 3:
            raise ValueError(f"crops must be (T, S, S, 3), got {crops.shape}")
        np.savez(self.base / f"{key}.npz", crops=crops, valence=np.asarray(valence, np.float32),
                 t_s=np.asarray(t_s, np.float32), face=np.asarray(face, bool))
        self.append(dict(key=key, subject=subject, recording=recording, frames=len(crops), fps=fps,
                         crop_size=crops.shape[1], file=f"{key}.npz"))
