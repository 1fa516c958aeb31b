"""SASE-FE (genuine versus fake expressions) in its two layouts.

Training layout, one folder per subject, one clip per code::

    ROOT/SUBJECT/N2A.mp4      genuine anger   (neutral -> anger)
    ROOT/SUBJECT/H2N2A.mp4    fake anger      (happiness -> neutral -> posed anger)
    ROOT/SUBJECT/N2A/         ... or a folder of frames per code

Codes: N2A/H2N2A anger, N2C/H2N2C contentment, N2D/H2N2D disgust, N2H/S2N2H happiness,
N2S/H2N2S sadness, N2Sur/D2N2Sur surprise (case-insensitive; any common video suffix).

Validation/test layout (ChaLearn 2017 challenge), flat with a labels file::

    ROOT/0020166400_ANGER.mp4 ...
    ROOT/labels.csv           file,label[,subject]   label: genuine|fake (also true/real, posed)

Without a subject column every clip counts as its own subject.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from engines.expressions import EXPRESSIONS
from training.datasets.video import DatasetError, is_video

# expression -> (genuine code, fake code)
CODES: dict[str, tuple[str, str]] = {
    "anger": ("N2A", "H2N2A"),
    "contentment": ("N2C", "H2N2C"),
    "disgust": ("N2D", "H2N2D"),
    "happiness": ("N2H", "S2N2H"),
    "sadness": ("N2S", "H2N2S"),
    "surprise": ("N2Sur", "D2N2Sur"),
}
CODE_TO_CLASS: dict[str, tuple[str, str]] = {
    code: (expr, label) for expr, pair in CODES.items() for code, label in zip(pair, ("genuine", "fake"))
}
_CODE_BY_UPPER = {c.upper(): c for c in CODE_TO_CLASS}
_LABEL_WORDS = {"genuine": "genuine", "true": "genuine", "real": "genuine", "1": "genuine",
                "fake": "fake", "posed": "fake", "false": "fake", "0": "fake"}
_TEST_NAME = re.compile(r"^(?P<id>[^_]+)_(?P<expr>[A-Za-z]+)$")
LABEL_FILES = ("labels.csv", "valid_labels.csv", "test_labels.csv")


@dataclass(frozen=True)
class ExpressionClip:
    """One labelled clip: a video file or a frame folder."""

    key: str  # unique within the dataset, usable as a file name
    path: Path
    subject: str
    expression: str
    label: str  # "genuine" | "fake"
    code: str | None = None  # SASE-FE code in the training layout

    @property
    def is_fake(self) -> int:
        return int(self.label == "fake")


def _code_of(path: Path) -> str | None:
    stem = path.name if path.is_dir() else path.stem
    return _CODE_BY_UPPER.get(stem.upper())


def _visible(path: Path) -> bool:
    return not path.name.startswith((".", "_"))


def _load_training(root: Path, subjects: list[Path]) -> list[ExpressionClip]:
    clips = []
    for sdir in subjects:
        seen: dict[str, Path] = {}
        for item in sorted(p for p in sdir.iterdir() if _visible(p)):
            if not (is_video(item) or item.is_dir()):
                continue  # notes, thumbnails and the like
            code = _code_of(item)
            if code is None:
                raise DatasetError(
                    f"{item}: not a SASE-FE code; expected SUBJECT/CODE.mp4 or SUBJECT/CODE/ with CODE one of "
                    f"{', '.join(CODE_TO_CLASS)}"
                )
            if code in seen:
                raise DatasetError(f"{item}: code {code} appears twice in {sdir} (also {seen[code].name})")
            seen[code] = item
            expr, label = CODE_TO_CLASS[code]
            clips.append(ExpressionClip(f"{sdir.name}_{code}", item, sdir.name, expr, label, code))
        if not seen:
            raise DatasetError(f"{sdir}: subject folder without clips; expected CODE.mp4 files such as N2A.mp4")
    return clips


def _read_labels(path: Path) -> dict[str, tuple[str, str | None]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        if "file" not in fields or "label" not in fields:
            raise DatasetError(f"{path}: header is {reader.fieldnames}; expected columns file,label[,subject]")
        out = {}
        for n, row in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
            word = _LABEL_WORDS.get(row["label"].lower())
            if word is None:
                raise DatasetError(f"{path}:{n}: label {row['label']!r} is not one of genuine/fake (or true/real, posed)")
            out[Path(row["file"]).name] = (word, row.get("subject") or None)
        return out


def _load_test(root: Path, videos: list[Path], labels_path: Path | None) -> list[ExpressionClip]:
    if labels_path is None:
        found = [root / n for n in LABEL_FILES if (root / n).is_file()]
        if not found:
            raise DatasetError(
                f"{root}: ID_EXPRESSION videos without a labels file; expected {LABEL_FILES[0]} "
                "with columns file,label[,subject]"
            )
        labels_path = found[0]
    labels = _read_labels(labels_path)
    clips = []
    for v in videos:
        m = _TEST_NAME.match(v.stem)
        expr = m.group("expr").lower() if m else None
        if expr not in EXPRESSIONS:
            raise DatasetError(f"{v}: expected ID_EXPRESSION.mp4 with EXPRESSION one of {', '.join(EXPRESSIONS)}")
        if v.name not in labels:
            raise DatasetError(f"{labels_path}: no label for {v.name}")
        label, subject = labels.pop(v.name)
        clips.append(ExpressionClip(v.stem, v, subject or m.group("id"), expr, label))
    if labels:
        missing = sorted(labels)[:3]
        raise DatasetError(f"{labels_path}: labels for videos not in {root}: {', '.join(missing)}")
    return clips


def load_sasefe(root: str | Path, labels: str | Path | None = None) -> list[ExpressionClip]:
    """All labelled clips of a SASE-FE folder (either layout), sorted by key."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: SASE-FE folder not found")
    entries = [p for p in root.iterdir() if _visible(p)]
    videos = sorted(p for p in entries if is_video(p))
    subjects = sorted(p for p in entries if p.is_dir())
    if videos and subjects:
        raise DatasetError(
            f"{root}: holds both videos ({videos[0].name}) and folders ({subjects[0].name}); expected either "
            "SUBJECT/CODE.mp4 (training layout) or ID_EXPRESSION.mp4 + labels.csv (validation/test layout)"
        )
    if videos:
        clips = _load_test(root, videos, Path(labels) if labels else None)
    elif subjects:
        clips = _load_training(root, subjects)
    else:
        raise DatasetError(
            f"{root}: no SASE-FE clips; expected SUBJECT/CODE.mp4 (codes {', '.join(CODE_TO_CLASS)}) "
            "or ID_EXPRESSION.mp4 with a labels.csv"
        )
    return sorted(clips, key=lambda c: c.key)
