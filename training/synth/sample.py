"""The sample clip shipped with the program (``realtime/data/sample.mp4``), reproducibly.

A synthetic session made from a face at rest: the portrait of Grace Hopper (U.S. Navy, public
domain) that matplotlib ships as sample data. It shows, each from and back to the resting face: a
genuine smile, genuine sadness, a posed smile, genuine disgust and posed anger, with events marking
each expression's onset and end. Regenerate with ``python -m training.synth.sample OUT_DIR``.

For a demo the expressions are clear (each episode's strongest action unit at full intensity) and
held for 2-2.5 s, long enough for a valence clip (16 frames at 4 fps, 3.75 s) to see them; a
posed expression still keeps its fast onset and offset, asymmetry and longer apex.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from training.synth.expressions import draw_episode
from training.synth.identities import BUILTIN_PHOTOS, base_identity
from training.synth.render import ClipPlan, ClipRenderer
from training.synth.timeline import Camera

SEQUENCE = (("happiness", "genuine"), ("sadness", "genuine"), ("happiness", "fake"), ("disgust", "genuine"),
            ("anger", "fake"))
PHOTO = BUILTIN_PHOTOS[1]  # Grace Hopper, at rest
GAP_S = 2.5  # resting face between expressions


def _strengthen(aus: dict[int, tuple[float, float]], peak: float) -> dict[int, tuple[float, float]]:
    """All action units scaled by one factor so the strongest reaches ``peak``: what tells a posed
    expression from a genuine one (which AUs are weak, the left/right ratio) is kept."""
    k = max(1.0, peak / max(max(lr) for lr in aus.values()))
    return {au: (left * k, right * k) for au, (left, right) in aus.items()}


def write_sample(out_dir: str | Path, size: tuple[int, int] = (640, 480), fps: float = 30.0, seed: int = 2024) -> Path:
    """Write sample.mp4 and sample_events.csv (t_s,label) into out_dir; returns the video path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    identity = base_identity(PHOTO, (int(size[0] * 1.45), int(size[1] * 1.45)), 0.19 * size[0])
    episodes, t = [], 2.0
    for expr, label in SEQUENCE:
        ep = draw_episode(expr, label, t, rng)
        ep.aus = _strengthen(ep.aus, 1.0)
        ep.apex = 2.0 if label == "genuine" else 2.5
        episodes.append(ep)
        t = ep.end + GAP_S
    duration = t + 0.5
    cam = Camera.draw(rng)
    cam.zoom, cam.offset, cam.roll_deg, cam.noise_sigma = 1.0, (0.0, 0.0), 0.0, 1.0
    plan = ClipPlan("sample", "S001", PHOTO.name, fps, int(round(duration * fps)), seed, episodes, cam, 0.25)
    path = out_dir / "sample.mp4"
    ClipRenderer(identity, size).render(plan, path)
    with (out_dir / "sample_events.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["t_s", "label"])
        for ep in episodes:
            w.writerow([f"{ep.start:.2f}", f"{ep.expression} {ep.label} onset"])
            w.writerow([f"{ep.end:.2f}", f"{ep.expression} {ep.label} end"])
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    print(write_sample(args.out_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
