"""Video -> training caches, with the live pipeline's own perception (``FaceTracker``).

- ``--format sasefe``: per clip, the 40-point landmark vector sequence (T, 80) of the tracked face
  (aug 0) plus ``--augment N`` more sequences from randomly shrunk face boxes (paper §2.4): for each
  augmentation one shrink factor and offset is drawn per video, applied every frame to the
  tracker's face box, and dlib's predictor is re-run from that box. Frames without a face are
  dropped. Written with :class:`training.cache.LandmarkCacheWriter`.
- ``--format recola``: per recording, the aligned face crops (T, S, S, 3), the annotated valence
  interpolated at each frame time, the times and a face flag (frames without a face keep a black
  crop and face = False). Written with :class:`training.cache.CropCacheWriter`.

Resumable: an item whose key is already in the cache index is skipped, so an interrupted run
continues where it stopped. With ``--jobs N`` videos are read in N processes; the cache is written
by the main process only.
"""
from __future__ import annotations

import argparse
import csv
import logging
import math
import multiprocessing
import re
import sys
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from realtime.perception.landmarks import NORMALIZATIONS, canonical_normalization, landmark_vector
from training.arguments import crop_side, non_negative_int, positive_float, positive_int
from training.cache import CropCacheWriter, LandmarkCacheWriter, claim_settings
from training.datasets import ClipFrames, ExpressionClip, Recording, load_recola, load_sasefe
from training.datasets.photos import SPLITS, LabelledPhoto, empty_split_note, load_photos, person_split
from training.photo_clips import PhotoClipSettings, photo_clip, photo_tracker, read_photo

log = logging.getLogger(__name__)

FORMATS = ("sasefe", "recola", "photos")
SHRINK_RANGE = (0.80, 0.95)  # augmented box side / tracked box side
SHIFT_RANGE = 0.04  # augmented box centre offset, fraction of the box side


@dataclass(frozen=True)
class BoxJitter:
    """One augmentation: the face box scaled by ``shrink`` about its centre, moved by (dx, dy) box sides."""

    shrink: float
    dx: float
    dy: float

    @staticmethod
    def draw(rng: np.random.Generator) -> "BoxJitter":
        return BoxJitter(float(rng.uniform(*SHRINK_RANGE)), float(rng.uniform(-SHIFT_RANGE, SHIFT_RANGE)),
                         float(rng.uniform(-SHIFT_RANGE, SHIFT_RANGE)))

    def apply(self, box) -> tuple[float, float, float, float]:
        x, y, w, h = box
        cx, cy = x + w / 2 + self.dx * w, y + h / 2 + self.dy * h
        nw, nh = w * self.shrink, h * self.shrink
        return (cx - nw / 2, cy - nh / 2, nw, nh)


def safe_key(text: str) -> str:
    """A cache key usable as a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)


def landmark_keys(clip: ExpressionClip, augment: int) -> list[str]:
    return [safe_key(f"{clip.key}_a{k}") for k in range(augment + 1)]


# -- per-process perception -----------------------------------------------------------------------
_STATE: dict = {}


def _tracker(normalization: str, crop_size: int, photos: bool = False):
    key = (normalization, crop_size, photos)
    if _STATE.get("key") != key:
        from realtime.perception.face_tracker import FaceTracker

        if multiprocessing.parent_process() is not None:
            cv2.setNumThreads(1)
        _STATE["key"], _STATE["tracker"] = key, (photo_tracker(normalization, crop_size) if photos else
                                                 FaceTracker(normalization=normalization, crop_size=crop_size))
    tracker = _STATE["tracker"]
    tracker.reset()
    return tracker


def landmark_sequences(frames, tracker, jitters: list[BoxJitter]) -> list[np.ndarray]:
    """[(T0, 80) tracked, (T1, 80) per jitter ...]: landmark vectors of frames with a face.

    frames: iterable of BGR frames; tracker: a reset ``FaceTracker``.
    """
    seqs: list[list[np.ndarray]] = [[] for _ in range(len(jitters) + 1)]
    reader = tracker.reader
    frame_ns = 1e9 / getattr(frames, "fps", 30.0)  # the landmark smoothing runs on the clip's own time
    for i, frame in enumerate(frames):
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        obs = tracker.process(frame, i, round(i * frame_ns), gray=gray)
        if not obs.face:
            continue
        seqs[0].append(obs.vector80)
        # the paper's augmentation: landmarks read again in a shrunk, shifted face box (and, for
        # face_box, normalized to that box)
        base = obs.face_box if tracker.normalization == "face_box" else obs.box
        for k, jit in enumerate(jitters, start=1):
            box = jit.apply(base)
            pts = reader.read(gray, box)
            seqs[k].append(landmark_vector(pts, box, tracker.normalization))
    return [np.asarray(s, np.float32).reshape(-1, 80) for s in seqs]


def _landmark_job(job: tuple) -> tuple[ExpressionClip, list[np.ndarray], int]:
    clip, augment, normalization, crop_size, seed, folder_fps = job
    rng = np.random.default_rng([seed, *clip.key.encode("utf-8")])
    jitters = [BoxJitter.draw(rng) for _ in range(augment)]
    frames = ClipFrames(clip.path, folder_fps)
    seqs = landmark_sequences(frames, _tracker(normalization, crop_size), jitters)
    return clip, seqs, frames.frame_count


def crop_clip(frames: ClipFrames, tracker, recording: Recording) -> dict[str, np.ndarray]:
    """{'crops' (T, S, S, 3) uint8, 'valence' (T,), 't_s' (T,), 'face' (T,) bool} for every frame."""
    s = tracker.crop_size
    crops, face = [], []
    for i, frame in enumerate(frames):
        obs = tracker.process(frame, i, round(i * 1e9 / frames.fps))  # smoothed on the clip's own time
        face.append(obs.face)
        crops.append(obs.crop if obs.face else np.zeros((s, s, 3), np.uint8))
    t = np.arange(len(crops)) / frames.fps
    return {"crops": np.asarray(crops, np.uint8).reshape(-1, s, s, 3), "valence": recording.valence_at(t),
            "t_s": t.astype(np.float32), "face": np.asarray(face, bool)}


def _crop_job(job: tuple) -> tuple[Recording, dict[str, np.ndarray], float]:
    rec, normalization, crop_size, folder_fps = job
    frames = ClipFrames(rec.video, folder_fps)
    return rec, crop_clip(frames, _tracker(normalization, crop_size), rec), frames.fps


def _map(fn, jobs: list, n_jobs: int):
    if n_jobs <= 1 or len(jobs) <= 1:
        yield from map(fn, jobs)
        return
    with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn")) as pool:
        yield from pool.map(fn, jobs)


def preprocess_sasefe(dataset: str | Path, cache: str | Path, augment: int = 4, normalization: str = "similarity",
                      crop_size: int = 64, jobs: int = 1, seed: int = 0, folder_fps: float = 30.0,
                      progress: bool = True) -> dict:
    """SASE-FE clips -> landmark cache. Returns counts: clips, skipped (already cached), sequences,
    frames, no_face (frames), and ``faceless``: the clips in which no frame showed a face, left out
    of the cache with a warning (a run of hours does not stop for one clip; a later run tries them
    again)."""
    # the shrunk-box copies per clip too: resumed with another count, the old copies would stay
    claim_settings(cache, landmark_normalization=normalization, crop_size=crop_size, augment=augment)
    from tqdm import tqdm

    writer = LandmarkCacheWriter(cache)
    clips = load_sasefe(dataset)
    todo = [c for c in clips if not all(k in writer.done for k in landmark_keys(c, augment))]
    stats = {"clips": len(clips), "skipped": len(clips) - len(todo), "sequences": 0, "frames": 0, "no_face": 0,
             "faceless": []}
    job_args = [(c, augment, normalization, crop_size, seed, folder_fps) for c in todo]
    for clip, seqs, n_frames in tqdm(_map(_landmark_job, job_args, jobs), total=len(todo), desc="landmarks",
                                     unit="clip", disable=not progress):
        stats["frames"] += n_frames
        stats["no_face"] += max(0, n_frames - len(seqs[0]))
        if len(seqs[0]) == 0:
            stats["faceless"].append(str(clip.path))
            log.warning("%s: no face found in any frame; left out (check the video, or the face tracker)", clip.path)
            continue
        for aug, (key, seq) in enumerate(zip(landmark_keys(clip, augment), seqs)):
            if key in writer.done:
                continue
            writer.add(key, clip.subject, clip.expression, clip.label, aug, seq)
            stats["sequences"] += 1
    return stats


def preprocess_recola(dataset: str | Path, cache: str | Path, normalization: str = "similarity", crop_size: int = 64,
                      jobs: int = 1, folder_fps: float = 30.0, progress: bool = True) -> dict:
    """RECOLA-style recordings -> crop-clip cache. Returns counts: recordings, skipped, frames, no_face."""
    claim_settings(cache, landmark_normalization=normalization, crop_size=crop_size)
    from tqdm import tqdm

    writer = CropCacheWriter(cache)
    recs = load_recola(dataset)
    todo = [r for r in recs if safe_key(r.key) not in writer.done]
    stats = {"recordings": len(recs), "skipped": len(recs) - len(todo), "frames": 0, "no_face": 0}
    job_args = [(r, normalization, crop_size, folder_fps) for r in todo]
    for rec, data, fps in tqdm(_map(_crop_job, job_args, jobs), total=len(todo), desc="crops", unit="recording",
                               disable=not progress):
        writer.add(safe_key(rec.key), rec.subject, rec.key, fps, data["crops"], data["valence"], data["t_s"],
                   data["face"])
        stats["frames"] += len(data["face"])
        stats["no_face"] += int((~data["face"]).sum())
    return stats


def photo_renders(photos: list[LabelledPhoto], min_clips: int) -> dict[str, int]:
    """Clips to render per photo of each category: rarer categories get more renders (each with its
    own motion, noise and compression), up to 4, so that each reaches about ``min_clips``."""
    counts: dict[str, int] = {}
    for p in photos:
        counts[p.emotion] = counts.get(p.emotion, 0) + 1
    return {e: int(min(4, max(1, math.ceil(min_clips / n)))) for e, n in counts.items()}


def _photo_job(job: tuple) -> tuple[str, LabelledPhoto, np.ndarray, np.ndarray]:
    key, photo, render, normalization, crop_size, seed = job
    rng = np.random.default_rng([seed, render, zlib.crc32(photo.key.encode("utf-8"))])
    crops, face = photo_clip(read_photo(photo.path), _tracker(normalization, crop_size, photos=True), rng)
    return key, photo, crops, face


def preprocess_photos(dataset: str | Path, cache: str | Path, normalization: str = "similarity", crop_size: int = 64,
                      jobs: int = 1, seed: int = 0, min_clips: int = 400, progress: bool = True) -> dict:
    """Labelled photos -> crop-clip cache: each photo as one clip of the STA's length (see
    :mod:`training.photo_clips`), its category's valence on every frame, the person as subject.

    Also writes ``CACHE/photos.csv`` (key, image, emotion, person, split) and
    ``CACHE/splits/{train,dev,test}.txt`` (the people of each split of :func:`person_split`), which
    ``affectscope train sta --holdout @FILE --test @FILE`` reads. Returns counts.
    """
    claim_settings(cache, landmark_normalization=normalization, crop_size=crop_size)
    from tqdm import tqdm

    photos = load_photos(dataset)
    renders = photo_renders(photos, min_clips)
    writer = CropCacheWriter(cache)
    root = Path(cache)
    settings = PhotoClipSettings()
    jobs_args = [(safe_key(f"{p.key}_r{k}"), p, k, normalization, crop_size, seed)
                 for p in photos for k in range(renders[p.emotion])]
    todo = [j for j in jobs_args if j[0] not in writer.done]
    stats = {"photos": len(photos), "clips": len(jobs_args), "skipped": len(jobs_args) - len(todo),
             "no_face_clips": 0, "renders": renders}
    listing = root / "photos.csv"
    new_listing = not listing.is_file()
    with listing.open("a", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        if new_listing:
            w.writerow(["key", "image", "emotion", "person", "split"])
        for key, photo, crops, face in tqdm(_map(_photo_job, todo, jobs), total=len(todo), desc="photo clips",
                                            unit="clip", disable=not progress):
            t = np.arange(settings.frames, dtype=np.float32) / settings.fps
            writer.add(key, photo.person, photo.key, settings.fps, crops,
                       np.full(settings.frames, photo.valence, np.float32), t, face)
            w.writerow([key, photo.path.name, photo.emotion, photo.person, person_split(photo.person)])
            fh.flush()
            stats["no_face_clips"] += int(not face.all())
    split_dir = root / "splits"
    split_dir.mkdir(parents=True, exist_ok=True)
    people = sorted({p.person for p in photos})
    stats["split_sizes"] = {}
    for name in SPLITS:
        members = [q for q in people if person_split(q) == name]
        (split_dir / f"{name}.txt").write_text("".join(f"{q}\n" for q in members), encoding="utf-8")
        stats["split_sizes"][name] = len(members)
    return stats


# -- command line --------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``affectscope preprocess``."""
    parser.add_argument("dataset", type=Path, help="dataset folder (real or synthetic)")
    parser.add_argument("--format", choices=FORMATS, required=True,
                        help="sasefe: landmark sequences for genuine/fake; recola: face crops + valence; "
                             "photos: labelled photos (labels.csv or EMOTION/ folders) as crop clips")
    parser.add_argument("--out", type=Path, required=True, help="cache folder (created; resumed if it exists)")
    parser.add_argument("--augment", type=non_negative_int, default=4,
                        help="sasefe: extra landmark sequences per video from randomly shrunk face boxes")
    parser.add_argument("--crop-size", type=crop_side, default=64, help="aligned crop side S (pixels)")
    parser.add_argument("--normalization", choices=NORMALIZATIONS, type=canonical_normalization, default="similarity",
                        help="landmark normalization (similarity: head motion removed; face_box: the paper's, to "
                             "the tracked face box; landmark_box: to the landmarks' own box)")
    parser.add_argument("--jobs", type=positive_int, default=1, help="worker processes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the box augmentation")
    parser.add_argument("--min-clips", type=positive_int, default=400,
                        help="photos: render rarer categories more than once (up to 4 clips a photo) until "
                             "each has about this many clips")
    parser.add_argument("--frame-folder-fps", type=positive_float, default=30.0,
                        help="frame rate assumed for clips given as folders of frames")


def run(args: argparse.Namespace) -> int:
    if args.augment < 0:
        raise SystemExit("--augment must be >= 0")
    if args.format == "sasefe":
        st = preprocess_sasefe(args.dataset, args.out, args.augment, args.normalization, args.crop_size,
                               args.jobs, args.seed, args.frame_folder_fps)
        print(f"{st['clips']} clips ({st['skipped']} already cached): wrote {st['sequences']} landmark sequences; "
              f"{st['no_face']} of {st['frames']} frames without a face -> {args.out / 'landmarks'}")
        if st["faceless"]:
            print(f"{len(st['faceless'])} clips without a face in any frame were left out: "
                  + ", ".join(st["faceless"]), file=sys.stderr)
    elif args.format == "photos":
        st = preprocess_photos(args.dataset, args.out, args.normalization, args.crop_size, args.jobs, args.seed,
                               args.min_clips)
        print(f"{st['photos']} photos as {st['clips']} clips ({st['skipped']} already cached; renders per photo "
              f"{st['renders']}); {st['no_face_clips']} clips lost the face on some frame -> {args.out / 'crops'}; "
              f"person-wise splits in {args.out / 'splits'}")
        note = empty_split_note(st["split_sizes"], "person")
        if note:
            print(f"affectscope: note: {note}", file=sys.stderr)
    else:
        st = preprocess_recola(args.dataset, args.out, args.normalization, args.crop_size, args.jobs,
                               args.frame_folder_fps)
        print(f"{st['recordings']} recordings ({st['skipped']} already cached); "
              f"{st['no_face']} of {st['frames']} frames without a face -> {args.out / 'crops'}")
    return 0
