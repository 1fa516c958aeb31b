"""RECOLA / AV+EC style valence data: a video per recording and a per-frame valence annotation.

Layout (AV+EC 2015/2016 names; the simpler alternatives are accepted too)::

    ROOT/recordings_video/REC.mp4          (or ROOT/videos/REC.mp4, or ROOT/REC.mp4)
    ROOT/ratings_individual/valence/REC.csv
        (or ROOT/ratings_gold_standard/valence/REC.csv, ROOT/valence/REC.csv, ROOT/REC.csv)
    ROOT/subjects.csv                      optional: recording,subject (default: subject = recording)

An annotation file has a header; its first column is the time in seconds (named time, frameTime or
t_s), every other numeric column is one rater (FM1, FF1, ... or a single valence column) and the
raters are averaged. Comma, semicolon and tab separators are accepted.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.datasets.video import DatasetError, is_video

VIDEO_DIRS = ("recordings_video", "videos", ".")
RATING_DIRS = ("ratings_individual/valence", "ratings_gold_standard/valence", "valence", ".")
TIME_COLUMNS = ("time", "frametime", "t_s", "t")


@dataclass(frozen=True)
class Recording:
    """One recording: video, subject and valence annotation (mean over raters) at times t_s."""

    key: str
    video: Path
    subject: str
    annotation: Path
    t_s: np.ndarray  # (N,) seconds
    valence: np.ndarray  # (N,) in [-1, 1], mean of the raters
    raters: tuple[str, ...]

    def valence_at(self, times: np.ndarray) -> np.ndarray:
        """Valence linearly interpolated at the given times (held constant outside the annotation)."""
        return np.interp(np.asarray(times, np.float64), self.t_s, self.valence).astype(np.float32)


def read_annotation(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(t_s (N,), mean valence (N,), rater names) from one annotation file."""
    text = path.read_text(encoding="utf-8")
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else "", delimiters=",;\t")
        delim = dialect.delimiter
    except csv.Error:
        delim = ","
    rows = list(csv.reader(text.splitlines(), delimiter=delim))
    if len(rows) < 2:
        raise DatasetError(f"{path}: empty annotation; expected a header (time, raters...) and one row per frame")
    header = [h.strip() for h in rows[0]]
    if header[0].lower() not in TIME_COLUMNS:
        raise DatasetError(f"{path}: first column is {header[0]!r}; expected a time column ({', '.join(TIME_COLUMNS)})")
    raters = tuple(h for h in header[1:] if h)
    if not raters:
        raise DatasetError(f"{path}: no rater columns after {header[0]!r}; expected e.g. time,FM1,FF1 or time,valence")
    values = np.empty((len(rows) - 1, len(raters) + 1), np.float64)
    for n, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row[: len(raters) + 1]]
        if len(cells) != len(raters) + 1:
            raise DatasetError(f"{path}:{n}: {len(cells)} values, expected {len(raters) + 1} ({', '.join(header)})")
        try:
            values[n - 2] = [float(c) for c in cells]
        except ValueError:
            raise DatasetError(f"{path}:{n}: non-numeric value in {cells}") from None
    t = values[:, 0]
    if np.any(np.diff(t) <= 0):
        raise DatasetError(f"{path}: time column is not strictly increasing")
    valence = values[:, 1:].mean(1)
    if np.any(np.abs(valence) > 1.0 + 1e-6):
        raise DatasetError(f"{path}: valence outside [-1, 1]")
    return t.astype(np.float64), valence.astype(np.float32), raters


def _subjects(root: Path) -> dict[str, str]:
    path = root / "subjects.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"recording", "subject"} <= {f.strip() for f in reader.fieldnames}:
            raise DatasetError(f"{path}: header is {reader.fieldnames}; expected recording,subject")
        return {r["recording"].strip(): r["subject"].strip() for r in reader}


def load_recola(root: str | Path) -> list[Recording]:
    """All recordings of a RECOLA / AV+EC style folder, sorted by key."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: RECOLA folder not found")
    videos: list[Path] = []
    for d in VIDEO_DIRS:
        folder = root / d
        if folder.is_dir():
            videos = sorted(p for p in folder.iterdir() if is_video(p))
            if videos:
                break
    if not videos:
        raise DatasetError(f"{root}: no videos; expected {VIDEO_DIRS[0]}/REC.mp4 (or videos/REC.mp4)")
    subjects = _subjects(root)
    out = []
    for v in videos:
        ann = next((root / d / f"{v.stem}.csv" for d in RATING_DIRS if (root / d / f"{v.stem}.csv").is_file()), None)
        if ann is None:
            raise DatasetError(f"{v}: no valence annotation; expected {RATING_DIRS[0]}/{v.stem}.csv under {root}")
        t, val, raters = read_annotation(ann)
        out.append(Recording(v.stem, v, subjects.get(v.stem, v.stem), ann, t, val, raters))
    return out
