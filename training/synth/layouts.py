"""Synthetic datasets in the real datasets' layouts, with a manifest; the ``affectscope synth`` command.

Layouts (read back by :mod:`training.datasets`):

- ``sasefe``: ``OUT/S001/N2A.mp4``, ``OUT/S001/H2N2A.mp4`` ... 12 clips per subject.
- ``sasefe-test``: ``OUT/<10-digit id>_<EXPRESSION>.mp4`` and ``OUT/labels.csv`` (file,label,subject).
- ``recola``: ``OUT/recordings_video/<rec>.mp4``, ``OUT/ratings_individual/valence/<rec>.csv``
  (time + three raters: the true valence with per-rater gain, lag, bias and noise),
  ``OUT/subjects.csv``. Sessions show strong expressions with short neutral gaps, on faces
  photographed at rest, so the valence is visible in the face.

Every layout also gets ``manifest.json`` (all parameters of every clip), ``manifest.csv`` (one row
per clip) and ``truth.npz`` (per clip: true landmarks, valence, AU intensities, blink). Output is
deterministic for a seed, whatever the number of jobs. All of it is synthetic: results on it are
never accuracy on people.
"""
from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from engines.expressions import EXPRESSIONS
from training.arguments import positive_float, positive_int
from training.datasets.photos import SPLITS, empty_split_note, person_split
from training.datasets.sasefe import CODES
from training.synth.identities import (BUILTIN_PHOTOS, Photo, identity_name, identity_recipe, photos_from_set,
                                      subject_identity, subject_label, user_photo)
from training.synth.expressions import SPECS, sasefe_episodes, session_episodes
from training.synth.render import ClipPlan, ClipRenderer, ClipTruth
from training.synth.style import STYLES, GeneratorStyle, style
from training.synth.timeline import Camera, smooth_noise

LAYOUTS = ("sasefe", "sasefe-test", "recola")
MANIFEST_SCHEMA = "affectscope.synth/1"


@dataclass
class SynthConfig:
    """What to generate. size: output (w, h); iod_frac: interocular distance / frame width."""

    out: Path
    layout: str = "sasefe"
    subjects: int = 4
    seed: int = 0
    faces: list[Path] = field(default_factory=list)
    builtin_faces: bool = True
    jobs: int = 1
    size: tuple[int, int] = (480, 360)
    fps: float = 30.0
    clip_max_s: float = 5.0
    session_s: tuple[float, float] = (30.0, 60.0)
    sessions_per_subject: int = 1
    expressions: tuple[str, ...] = EXPRESSIONS
    labels: tuple[str, ...] = ("genuine", "fake")
    iod_frac: float = 0.19
    progress: bool = True
    faces_from: Path | None = None  # a labelled photo set: identities from its neutral photos
    style: str = "a"  # training.synth.style.STYLES
    only_subjects: tuple[str, ...] | None = None  # render only these subjects (None: all)

    @property
    def generator_style(self) -> GeneratorStyle:
        return style(self.style)

    def photos(self) -> list[Photo]:
        """Identity photos; long sessions (recola) only use faces at rest, whose valence is 0.

        With ``faces_from``, the set's neutral photos fill up the subjects beyond the other photos,
        one person each, so that no person's face is used for two subjects."""
        photos = list(BUILTIN_PHOTOS) if self.builtin_faces else []
        photos += [user_photo(p) for p in self.faces]
        if self.layout == "recola":
            photos = [p for p in photos if p.at_rest]
        if self.faces_from is not None:
            need = self.subjects - len(photos)
            found = photos_from_set(self.faces_from, need, self.seed) if need > 0 else []
            if len(found) < need:
                raise ValueError(f"{self.faces_from}: {len(found)} neutral photos with a sound landmark fit, "
                                 f"{need} needed for {self.subjects} subjects; ask for fewer subjects")
            photos += found
        if not photos:
            raise ValueError("no identity photos: pass --faces PHOTO or keep the built-in ones")
        return photos

    @property
    def canvas(self) -> tuple[int, int]:
        return int(round(self.size[0] * 1.45)), int(round(self.size[1] * 1.45))


def plan_sasefe(cfg: SynthConfig, identity_names: list[str], subject_names: list[str]) -> list[ClipPlan]:
    """One clip per (subject, expression, label), each drawn from its own seeded generator."""
    plans = []
    for s in range(cfg.subjects):
        for e, expr in enumerate(cfg.expressions):
            for lab in cfg.labels:
                clip_seed = int(np.random.SeedSequence([cfg.seed, s, EXPRESSIONS.index(expr), lab == "fake"])
                                .generate_state(1)[0])
                rng = np.random.default_rng(clip_seed)
                episodes, duration, neutral = sasefe_episodes(expr, lab, rng, cfg.clip_max_s, cfg.generator_style)
                code = CODES[expr][0 if lab == "genuine" else 1]
                plans.append(ClipPlan(
                    key=f"{subject_names[s]}_{code}", subject=subject_names[s], identity=identity_names[s],
                    fps=cfg.fps, n_frames=int(round(duration * cfg.fps)), seed=clip_seed, episodes=episodes,
                    camera=Camera.draw(rng), blink_rate_hz=float(rng.uniform(0.15, 0.45)),
                    expression=expr, label=lab, code=code, neutral_s=neutral,
                    rendering=cfg.generator_style.draw_rendering(clip_seed, _episode_aus(episodes)),
                ))
    return plans


def plan_recola(cfg: SynthConfig, identity_names: list[str], subject_names: list[str]) -> list[ClipPlan]:
    plans = []
    for s in range(cfg.subjects):
        for k in range(cfg.sessions_per_subject):
            clip_seed = int(np.random.SeedSequence([cfg.seed, s, 1000 + k]).generate_state(1)[0])
            rng = np.random.default_rng(clip_seed)
            duration = float(rng.uniform(*cfg.session_s))
            rec = subject_names[s] if cfg.sessions_per_subject == 1 else f"{subject_names[s]}-{k + 1}"
            episodes = session_episodes(duration, rng, cfg.generator_style.curves)
            plans.append(ClipPlan(
                key=rec, subject=subject_names[s], identity=identity_names[s], fps=cfg.fps,
                n_frames=int(round(duration * cfg.fps)), seed=clip_seed, episodes=episodes,
                camera=Camera.draw(rng, session=True), blink_rate_hz=float(rng.uniform(0.15, 0.45)),
                rendering=cfg.generator_style.draw_rendering(clip_seed, _episode_aus(episodes)),
            ))
    return plans


def _episode_aus(episodes) -> tuple[int, ...]:
    return tuple(sorted({au for ep in episodes for au in ep.aus}))


def clip_path(cfg: SynthConfig, plan: ClipPlan) -> Path:
    if cfg.layout == "sasefe":
        return cfg.out / plan.subject / f"{plan.code}.mp4"
    if cfg.layout == "sasefe-test":
        return cfg.out / f"{plan.extra['test_id']}_{plan.expression.upper()}.mp4"
    return cfg.out / "recordings_video" / f"{plan.key}.mp4"


def rater_columns(valence: np.ndarray, fps: float, seed: int, n: int = 3) -> np.ndarray:
    """(T, n) rater traces: the true valence with per-rater gain, lag (<= 0.3 s), bias and slow noise."""
    rng = np.random.default_rng([seed, 55])
    t = np.arange(len(valence)) / fps
    out = np.empty((len(valence), n), np.float32)
    for k in range(n):
        lag = rng.uniform(0.0, 0.3)
        v = np.interp(t - lag, t, valence)
        v = rng.uniform(0.85, 1.1) * v + rng.uniform(-0.04, 0.04) + smooth_noise(t, rng, 0.03, 0.1, 1.0)
        out[:, k] = np.clip(v, -1.0, 1.0)
    return out


# -- workers ---------------------------------------------------------------------------------
_WORKER: dict = {}


def _render_job(job: tuple) -> tuple[str, ClipTruth, float]:
    photos, seed, subject_index, canvas, iod_px, size, warp, plan, path = job
    key = (tuple((p.name, str(p.path)) for p in photos), seed, subject_index, canvas, iod_px, size, warp)
    if "threads" not in _WORKER:  # one process per core: keep OpenCV single-threaded inside it
        import cv2

        _WORKER["threads"] = cv2.getNumThreads()
        if multiprocessing.parent_process() is not None:
            cv2.setNumThreads(1)
    if _WORKER.get("key") != key:
        bases = _WORKER.setdefault("bases", {})
        identity = subject_identity(photos, subject_index, seed, canvas, iod_px, bases)
        _WORKER["key"], _WORKER["renderer"] = key, ClipRenderer(identity, size, warp)
    t0 = time.perf_counter()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    truth = _WORKER["renderer"].render(plan, path)
    return plan.key, truth, time.perf_counter() - t0


def generate(cfg: SynthConfig) -> dict:
    """Write a synthetic dataset; returns the manifest (also written to ``out/manifest.json``).

    With ``jobs > 1`` clips render in spawned processes: a script calling this needs the usual
    ``if __name__ == "__main__":`` guard.
    """
    if cfg.layout not in LAYOUTS:
        raise ValueError(f"unknown layout {cfg.layout!r}; choose one of {', '.join(LAYOUTS)}")
    if cfg.subjects < 1:
        raise ValueError("--subjects must be at least 1")
    photos = cfg.photos()
    names = [identity_name(photos, i) for i in range(cfg.subjects)]
    subjects = [subject_label(photos, i) for i in range(cfg.subjects)]
    plans = (plan_recola if cfg.layout == "recola" else plan_sasefe)(cfg, names, subjects)
    if cfg.only_subjects is not None:
        unknown = sorted(set(cfg.only_subjects) - set(subjects))
        if unknown:
            raise ValueError(f"--only: subjects {unknown[:5]} are not among the {len(subjects)} generated "
                             f"(these photos and --subjects give {', '.join(subjects[:5])} ...)")
        plans = [p for p in plans if p.subject in set(cfg.only_subjects)]
    if cfg.layout == "sasefe-test":
        ids = np.random.default_rng([cfg.seed, 99]).choice(10**10, size=len(plans), replace=False)
        for p, i in zip(plans, ids):
            p.extra["test_id"] = f"{int(i):010d}"
    cfg.out.mkdir(parents=True, exist_ok=True)
    subject_index = {name: i for i, name in enumerate(subjects)}
    iod_px = cfg.iod_frac * cfg.size[0]
    # Clips of one subject go to one worker in order, so each worker builds few identities.
    warp = cfg.generator_style.warp
    jobs = [(photos, cfg.seed, subject_index[p.subject], cfg.canvas, iod_px, cfg.size, warp, p,
             str(clip_path(cfg, p))) for p in plans]
    truths: dict[str, ClipTruth] = {}
    t0 = time.perf_counter()
    bar = tqdm(total=len(jobs), desc=f"synth {cfg.layout}", unit="clip", disable=not cfg.progress)
    if cfg.jobs <= 1:
        for job in jobs:
            key, truth, _ = _render_job(job)
            truths[key] = truth
            bar.update()
    else:
        # Jobs are already grouped by subject; chunks keep a subject's clips on one worker.
        chunk = max(1, min(len(cfg.expressions) * len(cfg.labels), len(jobs) // (2 * cfg.jobs) or 1))
        with ProcessPoolExecutor(cfg.jobs, mp_context=get_context("spawn")) as pool:
            for key, truth, _ in pool.map(_render_job, jobs, chunksize=chunk):
                truths[key] = truth
                bar.update()
    bar.close()
    elapsed = time.perf_counter() - t0
    manifest = _write_outputs(cfg, photos, names, plans, truths, elapsed)
    return manifest


def _write_outputs(cfg: SynthConfig, photos: list[Photo], names: list[str], plans: list[ClipPlan],
                   truths: dict[str, ClipTruth], elapsed: float) -> dict:
    out = cfg.out
    clips = []
    for p in plans:
        d = p.to_json()
        d["file"] = clip_path(cfg, p).relative_to(out).as_posix()
        clips.append(d)
    if cfg.layout == "sasefe-test":
        with (out / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["file", "label", "subject"])
            for p in plans:
                w.writerow([clip_path(cfg, p).name, p.label, p.subject])
    if cfg.layout == "recola":
        ann_dir = out / "ratings_individual" / "valence"
        ann_dir.mkdir(parents=True, exist_ok=True)
        for p in plans:
            raters = rater_columns(truths[p.key].valence, p.fps, p.seed)
            with (ann_dir / f"{p.key}.csv").open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["time", "FM1", "FM2", "FF1"])
                for i, row in enumerate(raters):
                    w.writerow([f"{i / p.fps:.4f}", *(f"{v:.4f}" for v in row)])
        with (out / "subjects.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["recording", "subject"])
            for p in plans:
                w.writerow([p.key, p.subject])
    frames = sum(p.n_frames for p in plans)
    rendered = {p.subject for p in plans}
    split_sizes = write_splits(out, sorted(rendered))
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "synthetic": True,
        "layout": cfg.layout,
        "seed": cfg.seed,
        "style": cfg.style,
        "size": list(cfg.size),
        "fps": cfg.fps,
        "photos": [{"name": ph.name, "origin": ph.origin, "licence": ph.licence} for ph in photos],
        "subjects": [{"subject": subject_label(photos, i), "identity": n, "split": person_split(subject_label(photos, i)),
                      "recipe": identity_recipe(photos, i, cfg.seed)} for i, n in enumerate(names)
                     if subject_label(photos, i) in rendered],
        "clips": clips,
        "split_sizes": split_sizes,
        "stats": {"clips": len(plans), "frames": frames, "seconds": round(elapsed, 2), "jobs": cfg.jobs},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    with (out / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        cols = ["key", "file", "subject", "identity", "expression", "label", "code", "frames", "fps",
                "onset_s", "apex_s", "offset_s", "asymmetry", "reliable_intensity"]
        w.writerow(cols)
        for p, c in zip(plans, clips):
            tgt = p.target
            row = [p.key, c["file"], p.subject, p.identity, p.expression or "", p.label or "", p.code or "",
                   p.n_frames, p.fps]
            if tgt is not None and p.expression is not None:
                rel = [np.mean(tgt.aus.get(au, (0.0, 0.0))) for au in SPECS[p.expression].reliable]
                pairs = [min(a, b) / max(a, b) for a, b in tgt.aus.values() if max(a, b) > 0]
                row += [f"{tgt.onset:.3f}", f"{tgt.apex:.3f}", f"{tgt.offset:.3f}",
                        f"{min(pairs) if pairs else 1.0:.3f}", f"{float(np.mean(rel)):.3f}"]
            else:
                row += ["", "", "", "", ""]
            w.writerow(row)
    arrays = {}
    for key, tr in truths.items():
        arrays[f"{key}/landmarks"] = tr.landmarks
        arrays[f"{key}/valence"] = tr.valence
        arrays[f"{key}/intensities"] = tr.intensities
        arrays[f"{key}/aus"] = np.array(tr.aus, np.int16)
        arrays[f"{key}/blink"] = tr.blink
    np.savez_compressed(out / "truth.npz", **arrays)
    return manifest


def write_splits(out: Path, subjects: list[str]) -> dict[str, int]:
    """``out/split_{train,dev,test}.txt``: the subjects by the person-wise split of the photo sets
    (a hash of the name, 70/15/15), so a person falls in the same share in every dataset made from
    them; ``@out/split_test.txt`` names them in training commands. (Files, not a folder: a folder
    beside the subjects would read as one.)"""
    counts = {}
    for split in SPLITS:
        names = [s for s in subjects if person_split(s) == split]
        (out / f"split_{split}.txt").write_text("".join(f"{s}\n" for s in names), encoding="utf-8")
        counts[split] = len(names)
    return counts


def load_truth(root: str | Path, key: str) -> ClipTruth:
    """Ground truth of one generated clip from ``root/truth.npz``."""
    with np.load(Path(root) / "truth.npz") as z:
        return ClipTruth(z[f"{key}/landmarks"], z[f"{key}/valence"], tuple(int(a) for a in z[f"{key}/aus"]),
                         z[f"{key}/intensities"], z[f"{key}/blink"])


# -- command line ------------------------------------------------------------------------------
def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 480x360") from None
    if w < 160 or h < 120:
        raise argparse.ArgumentTypeError(f"size {text!r}: at least 160x120")
    return w, h


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``affectscope synth``."""
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--layout", choices=LAYOUTS, default="sasefe",
                        help="sasefe: SUBJECT/CODE.mp4; sasefe-test: ID_EXPRESSION.mp4 + labels.csv; "
                             "recola: long sessions with per-frame valence ratings")
    parser.add_argument("--subjects", type=positive_int, default=4, help="number of subjects (identities)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faces", type=Path, nargs="+", default=[], metavar="PHOTO",
                        help="extra frontal face photos, one identity each (after the built-in ones)")
    parser.add_argument("--no-builtin-faces", action="store_true", help="use only the --faces photos")
    parser.add_argument("--faces-from", type=Path, default=None, metavar="PHOTO_SET",
                        help="a labelled photo set (labels.csv or EMOTION/ folders): its neutral photos with a "
                             "sound landmark fit, one per person, fill the subjects beyond the other photos; "
                             "each subject is named after its person")
    parser.add_argument("--style", choices=tuple(STYLES), default="a",
                        help="generator style: what the genuine/fake cues do not depend on (warp, AU displacement "
                             "scales, ramp shapes, clip timing, blur and compression); train on one, test on the "
                             "other (see training.synth.style)")
    parser.add_argument("--only", nargs="+", default=None, metavar="SUBJECT",
                        help="render only these subjects (or @FILE, e.g. OTHER_SET/split_test.txt) of the ones "
                             "the other options define")
    parser.add_argument("--jobs", type=positive_int, default=1, help="worker processes")
    parser.add_argument("--size", type=_size, default=(480, 360), help="frame size WxH (default 480x360)")
    parser.add_argument("--fps", type=positive_float, default=30.0)
    parser.add_argument("--session-seconds", type=positive_float, nargs=2, default=(30.0, 60.0), metavar=("MIN", "MAX"),
                        help="recola layout: session length range")
    parser.add_argument("--sessions-per-subject", type=positive_int, default=1)


def _subject_names(names: list[str] | None) -> tuple[str, ...] | None:
    """Names, with ``@FILE`` read as the names in FILE (one per line)."""
    if names is None:
        return None
    out: list[str] = []
    for name in names:
        if name.startswith("@"):
            try:
                out += Path(name[1:]).read_text(encoding="utf-8").split()
            except OSError as exc:
                raise ValueError(f"--only {name}: cannot read the subject list ({exc.strerror or exc})") from None
        else:
            out.append(name)
    return tuple(out)


def run(args: argparse.Namespace) -> int:
    cfg = SynthConfig(
        out=args.out, layout=args.layout, subjects=args.subjects, seed=args.seed, faces=list(args.faces),
        builtin_faces=not args.no_builtin_faces, jobs=max(1, args.jobs or os.cpu_count() or 1), size=args.size,
        fps=args.fps, session_s=tuple(args.session_seconds), sessions_per_subject=args.sessions_per_subject,
        faces_from=args.faces_from, style=args.style, only_subjects=_subject_names(args.only),
    )
    manifest = generate(cfg)
    st = manifest["stats"]
    rate = st["clips"] / max(st["seconds"], 1e-9) * 60
    print(f"wrote {st['clips']} synthetic clips ({st['frames']} frames) to {cfg.out} in {st['seconds']:.1f} s "
          f"({rate:.0f} clips/min, {cfg.jobs} jobs)")
    note = empty_split_note(manifest["split_sizes"])
    if note:
        print(f"affectscope: note: {note}", file=sys.stderr)
    return 0
