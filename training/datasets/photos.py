"""Labelled expression photographs (FER-style sets): loader, person-wise split, valence per category.

Two layouts are read:

- ``ROOT/labels.csv`` with the columns ``image,emotion,person`` (images under ``ROOT/images/`` or
  ``ROOT/``). ``person`` groups the photos of one person; it is what the split goes by.
- ``ROOT/EMOTION/*.jpg`` (one folder per category, as FER-2013, RAF-DB or AffectNet exports are
  often laid out). Such sets name no person, so the person is the file name without a trailing
  number (``Jane_Doe_0003.jpg`` -> ``Jane_Doe``); where names are arbitrary ids every photo is
  then its own person.

Category names are mapped onto one vocabulary (``happy`` -> ``happiness``, ``angry`` -> ``anger``
...). A photo of a category that has no valence target is refused with its path.

Valence targets (:data:`CATEGORY_VALENCE`): a photo carries a category, not a rating, so training
gives each category one valence. The values place the categories on the pleasure axis of Russell's
circumplex of affect (Russell 1980, "A circumplex model of affect", J. Pers. Soc. Psychol.
39(6)): happiness clearly positive, neutral zero, surprise near zero (it goes with pleasant and
unpleasant events alike), and the negative categories below zero, sadness and disgust lowest.
They are the project's own rounding of those positions, stated here so that a user can change
them; AffectNet's annotators (Mollahosseini et al. 2017) likewise worked within a valence range
per category (e.g. happy in (0, 1]).
"""
from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from training.datasets.video import IMAGE_SUFFIXES, DatasetError

CATEGORY_VALENCE: dict[str, float] = {
    "happiness": 0.7,
    "surprise": 0.1,
    "neutral": 0.0,
    "contempt": -0.4,
    "fear": -0.5,
    "anger": -0.5,
    "disgust": -0.6,
    "sadness": -0.6,
}
NEGATIVE = ("sadness", "anger", "disgust", "fear", "contempt")

_ALIASES = {
    "happy": "happiness", "joy": "happiness", "sad": "sadness", "angry": "anger", "disgusted": "disgust",
    "surprised": "surprise", "fearful": "fear", "afraid": "fear", "scared": "fear", "neutrality": "neutral",
    "calm": "neutral", "contemptuous": "contempt",
}
SPLITS = ("train", "dev", "test")
SPLIT_SHARES = (0.70, 0.15, 0.15)  # of the people, by a hash of the person's name


@dataclass(frozen=True)
class LabelledPhoto:
    path: Path
    emotion: str
    person: str

    @property
    def valence(self) -> float:
        return CATEGORY_VALENCE[self.emotion]

    @property
    def key(self) -> str:
        return self.path.stem


def category(name: str, where: str = "") -> str:
    """The project's name for an expression category (``Happy`` -> ``happiness``)."""
    n = name.strip().lower()
    n = _ALIASES.get(n, n)
    if n not in CATEGORY_VALENCE:
        raise DatasetError(f"{where}: expression category {name!r} is not one of {sorted(CATEGORY_VALENCE)} "
                           f"(or their usual synonyms)")
    return n


def person_from_filename(path: Path) -> str:
    """``Jane_Doe_0003.jpg`` -> ``Jane_Doe``: the name without a trailing number."""
    stem = re.sub(r"[_\- ]*\d+$", "", path.stem)
    return stem or path.stem


def person_split(person: str) -> str:
    """``train``, ``dev`` or ``test`` for a person, the same on every machine and for every dataset."""
    h = int.from_bytes(hashlib.sha256(person.encode("utf-8")).digest()[:8], "big") / 2.0 ** 64
    edge = 0.0
    for name, share in zip(SPLITS, SPLIT_SHARES):
        edge += share
        if h < edge:
            return name
    return SPLITS[-1]


def empty_split_note(counts: dict[str, int], what: str = "subject") -> str | None:
    """A note when a share of the person-wise split holds nobody (with few people the hash splits
    70/15/15 only on average), saying what to do instead; None when every share has someone."""
    empty = [split for split, n in counts.items() if n == 0]
    if not empty:
        return None
    return (f"no {what} fell in the {' or '.join(empty)} share of the person-wise split "
            f"({', '.join(f'{k} {v}' for k, v in counts.items())}); with this few, name the held-out and test "
            f"people yourself (--holdout, --test) instead of using the split files")


def _from_labels_csv(root: Path, index: Path) -> list[LabelledPhoto]:
    folder = root / "images" if (root / "images").is_dir() else root
    with index.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = {f.strip() for f in reader.fieldnames or ()}
        if not {"image", "emotion"} <= fields:
            raise DatasetError(f"{index}: header is {reader.fieldnames}; expected image,emotion,person")
        out = []
        for n, row in enumerate(reader, start=2):
            path = folder / row["image"].strip()
            if not path.is_file():
                raise DatasetError(f"{index}:{n}: image {path} not found")
            person = (row.get("person") or "").strip() or person_from_filename(path)
            out.append(LabelledPhoto(path, category(row["emotion"], f"{index}:{n}"), person))
    return out


def _from_folders(root: Path) -> list[LabelledPhoto]:
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            continue
        emotion = category(folder.name, str(folder))
        out += [LabelledPhoto(p, emotion, person_from_filename(p)) for p in images]
    return out


def load_photos(root: str | Path) -> list[LabelledPhoto]:
    """Every labelled photo of a set (see the module docstring), sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: photo folder not found")
    index = root / "labels.csv"
    photos = _from_labels_csv(root, index) if index.is_file() else _from_folders(root)
    if not photos:
        raise DatasetError(f"{root}: no labelled photos; expected labels.csv (image,emotion,person) "
                           f"or one folder of images per expression (happy/, sad/, ...)")
    return sorted(photos, key=lambda p: str(p.path))


def is_photo_set(root: str | Path) -> bool:
    """True for a folder in one of the two photo layouts (used to tell a photo set from a cache)."""
    root = Path(root)
    if (root / "labels.csv").is_file():
        return True
    if not root.is_dir():
        return False
    names = {p.name.lower() for p in root.iterdir() if p.is_dir()}
    return any(_ALIASES.get(n, n) in CATEGORY_VALENCE for n in names)
