"""The sample clip shipped with the program (``realtime/data/sample.mp4``), reproducibly.

A synthetic session of the astronaut photo (Eileen Collins, NASA, public domain): neutral, a genuine
smile, a posed smile, genuine sadness, posed surprise and a genuine disgust, with events marking each
expression's onset. Regenerate with ``python -m training.synth.sample OUT_DIR``.
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

SEQUENCE = (("happiness", "genuine"), ("happiness", "fake"), ("sadness", "genuine"), ("surprise", "fake"),
            ("disgust", "genuine"))


def write_sample(out_dir: str | Path, size: tuple[int, int] = (640, 480), fps: float = 30.0, seed: int = 2024) -> Path:
    """Write sample.mp4 and sample_events.csv (t_s,label) into out_dir; returns the video path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photo = BUILTIN_PHOTOS[0]
    identity = base_identity(photo, (int(size[0] * 1.45), int(size[1] * 1.45)), 0.19 * size[0])
    episodes, t = [], 1.5
    for expr, label in SEQUENCE:
        ep = draw_episode(expr, label, t, rng)
        if label == "genuine":  # make the genuine ones clearly so for a demo
            ep.aus = {au: (max(v[0], 0.6), max(v[1], 0.6)) for au, v in ep.aus.items()}
        episodes.append(ep)
        t = ep.end + 1.0
    duration = t + 0.5
    cam = Camera.draw(rng)
    cam.zoom, cam.offset, cam.roll_deg, cam.noise_sigma = 1.0, (0.0, 0.0), 0.0, 2.0
    plan = ClipPlan("sample", "S001", photo.name, fps, int(round(duration * fps)), seed, episodes, cam, 0.25)
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
