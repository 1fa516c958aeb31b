"""The sample clip shipped with the program (``realtime/data/sample.mp4``), reproducibly.

A synthetic session made from a face at rest: the portrait of Grace Hopper (U.S. Navy, public
domain) that matplotlib ships as sample data. It shows, each from and back to the resting face: a
genuine smile, genuine sadness, a posed smile, genuine disgust and posed disgust, with events marking
each expression's onset and end. No anger: the generator's anger (brows lowered, lids tightened, lips
pressed or parted) is too faint on this face, whose brows sit behind the frames of her glasses, for a
person to see it as anger. Regenerate with ``python -m training.synth.sample OUT_DIR``.

For a demo each expression is a clear example of its class (:func:`clear_episode`), lasting 3.4-3.7 s
from onset to end, about a valence clip's span (16 frames at 4 fps, 3.75 s).
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from training.synth.expressions import SESSION_SCALE, SPECS
from training.synth.identities import BUILTIN_PHOTOS, base_identity
from training.synth.render import ClipPlan, ClipRenderer
from training.synth.timeline import Camera, Episode

SEQUENCE = (("happiness", "genuine"), ("sadness", "genuine"), ("happiness", "fake"), ("disgust", "genuine"),
            ("disgust", "fake"))
PHOTO = BUILTIN_PHOTOS[1]  # Grace Hopper, at rest
GAP_S = 2.5  # resting face between expressions
# Intensity scale of every expression: the middle of the range the valence-rated sessions use (AUs
# capped at 1). At 1.0 the disgust was hard to see on this face, whose mouth turns up at rest and
# whose brows sit behind the frames of her glasses.
SCALE = sum(SESSION_SCALE) / 2


def clear_episode(expression: str, label: str, start: float, rng: np.random.Generator,
                  scale: float = 1.0) -> Episode:
    """An unambiguous example of a genuine or a posed expression, for a demo.

    The generator's training clips draw every cue from overlapping ranges; here each cue sits at
    the end of its range that the literature gives its class. Genuine: every AU of the expression
    at 80 % of its range, the reliable ones included, nearly symmetric, raised-cosine onset of 1 s,
    an apex of 1.5 s (the longest the generator gives a felt expression: held longer, it would
    show a posed one's long apex) and an offset of 1.2 s. Posed: the reliable AUs at the bottom of
    their range, the rest at 80 %, the weaker side at 55 %, a linear onset of 0.15 s, a flat apex
    of 3 s and an abrupt 0.2 s offset.
    ``scale`` multiplies the intensities of the AUs at 80 % (capped at 1); the posed expression's
    reliable AUs stay at the bottom of their range.
    """
    spec = SPECS[expression]
    genuine = label == "genuine"
    aus = {}
    for au_spec in spec.genuine if genuine else spec.fake:
        if not genuine and au_spec.au in spec.reliable:
            value = au_spec.lo
        elif au_spec.p < 0.5:
            continue
        else:
            value = min(1.0, scale * (au_spec.lo + 0.8 * (au_spec.hi - au_spec.lo)))
        aus[au_spec.au] = (value, value * (0.95 if genuine else 0.55))
    delays = {au: float(rng.uniform(0.0, 0.15 if genuine else 0.03)) for au in aus}
    return Episode(expression, label, start, onset=1.0 if genuine else 0.15, apex=1.5 if genuine else 3.0,
                   offset=1.2 if genuine else 0.2, smooth_onset=genuine, smooth_offset=genuine,
                   wobble=0.05 if genuine else 0.01, wobble_hz=float(rng.uniform(0.4, 1.2)), aus=aus,
                   au_delay=delays)


def write_sample(out_dir: str | Path, size: tuple[int, int] = (640, 480), fps: float = 30.0, seed: int = 2024) -> Path:
    """Write sample.mp4 and sample_events.csv (t_s,label) into out_dir; returns the video path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    identity = base_identity(PHOTO, (int(size[0] * 1.45), int(size[1] * 1.45)), 0.19 * size[0])
    episodes, t = [], 2.0
    for expr, label in SEQUENCE:
        ep = clear_episode(expr, label, t, rng, SCALE)
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
