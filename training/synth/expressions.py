"""The six SASE-FE expressions, genuine and fake, as distributions over AUs and timing.

Cues follow the literature on felt versus posed expressions (Ekman's "reliable" muscles; onset and
offset dynamics; asymmetry):

- genuine: the expression's reliable AUs present — AU6 with AU12 in happiness and contentment,
  AU1 + AU4 in sadness, AU23 in anger, AU1 + AU2 + AU5 in surprise, AU9 / AU10 in disgust; nearly
  symmetric; smooth (raised-cosine) onset of about 0.5–1.5 s, an apex that fluctuates a little, a
  smooth offset of about 0.6–1.5 s.
- fake (posed): the reliable AUs often missing and otherwise weak, other AUs of the prototype (or
  a substitute) carrying the display; left/right asymmetric; fast linear onset (mostly < 0.3 s);
  a longer flat apex; an abrupt offset (< 0.35 s).

Every cue's strength is drawn from a range and the genuine and fake ranges overlap, as they do in
people, so no single cue separates the classes perfectly.

SASE-FE codes: ``N2X`` (neutral to X) is the genuine clip; the fake clip ``P2N2X`` begins with the
preceding, felt expression P fading out, then neutral, then the posed X.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.expressions import EXPRESSIONS
from training.datasets.sasefe import CODES
from training.synth.style import STYLES, GeneratorStyle
from training.synth.timeline import Episode


@dataclass(frozen=True)
class AUSpec:
    """An AU's apex intensity ~ U(lo, hi), present with probability p (else 0)."""

    au: int
    lo: float
    hi: float
    p: float = 1.0


@dataclass(frozen=True)
class ExpressionSpec:
    genuine: tuple[AUSpec, ...]
    fake: tuple[AUSpec, ...]
    reliable: tuple[int, ...]


SPECS: dict[str, ExpressionSpec] = {
    "happiness": ExpressionSpec(
        genuine=(AUSpec(12, 0.6, 1.0), AUSpec(6, 0.45, 1.0), AUSpec(25, 0.2, 0.6, 0.6), AUSpec(26, 0.1, 0.3, 0.3)),
        fake=(AUSpec(12, 0.6, 1.0), AUSpec(6, 0.05, 0.5, 0.5), AUSpec(25, 0.2, 0.6, 0.6), AUSpec(20, 0.1, 0.3, 0.3)),
        reliable=(6,),
    ),
    "contentment": ExpressionSpec(
        genuine=(AUSpec(12, 0.3, 0.6), AUSpec(6, 0.4, 1.0)),
        fake=(AUSpec(12, 0.3, 0.65), AUSpec(6, 0.05, 0.55, 0.55), AUSpec(17, 0.1, 0.3, 0.3)),
        reliable=(6,),
    ),
    "sadness": ExpressionSpec(
        genuine=(AUSpec(1, 0.4, 0.95), AUSpec(4, 0.3, 0.8), AUSpec(15, 0.3, 0.8), AUSpec(17, 0.2, 0.5, 0.5)),
        fake=(AUSpec(1, 0.05, 0.45, 0.6), AUSpec(4, 0.05, 0.45, 0.6), AUSpec(15, 0.4, 0.9), AUSpec(17, 0.3, 0.7)),
        reliable=(1, 4),
    ),
    "anger": ExpressionSpec(
        genuine=(AUSpec(4, 0.5, 1.0), AUSpec(7, 0.3, 0.8), AUSpec(23, 0.5, 1.0), AUSpec(5, 0.2, 0.5, 0.3),
                 AUSpec(17, 0.2, 0.5, 0.4)),
        fake=(AUSpec(4, 0.5, 1.0), AUSpec(7, 0.2, 0.7), AUSpec(23, 0.05, 0.45, 0.5), AUSpec(10, 0.2, 0.5, 0.5),
              AUSpec(25, 0.2, 0.5, 0.3)),
        reliable=(23,),
    ),
    "surprise": ExpressionSpec(
        genuine=(AUSpec(1, 0.5, 1.0), AUSpec(2, 0.5, 1.0), AUSpec(5, 0.5, 1.0), AUSpec(26, 0.2, 0.7),
                 AUSpec(25, 0.2, 0.5, 0.7)),
        fake=(AUSpec(1, 0.3, 0.8), AUSpec(2, 0.4, 0.9), AUSpec(5, 0.05, 0.45, 0.5), AUSpec(26, 0.3, 0.8),
              AUSpec(25, 0.2, 0.5, 0.7)),
        reliable=(1, 2, 5),
    ),
    "disgust": ExpressionSpec(
        genuine=(AUSpec(9, 0.25, 0.85), AUSpec(10, 0.25, 0.8), AUSpec(4, 0.2, 0.5, 0.5), AUSpec(17, 0.2, 0.5, 0.4),
                 AUSpec(15, 0.2, 0.4, 0.3)),
        fake=(AUSpec(9, 0.05, 0.6, 0.65), AUSpec(10, 0.05, 0.6, 0.8), AUSpec(4, 0.3, 0.7), AUSpec(15, 0.3, 0.7),
              AUSpec(25, 0.2, 0.5, 0.5), AUSpec(20, 0.1, 0.3, 0.3)),
        reliable=(9, 10),
    ),
}
assert tuple(sorted(SPECS)) == tuple(sorted(EXPRESSIONS))

_LEAD_IN = {"H": "happiness", "S": "sadness", "D": "disgust"}


def lead_in_expression(code: str) -> str | None:
    """The preceding expression of a fake code (H2N2A -> happiness), None for N2X codes."""
    return _LEAD_IN[code[0]] if code.count("2") == 2 else None


def draw_aus(spec: tuple[AUSpec, ...], rng: np.random.Generator, asymmetry: float, weak_side: int,
             scale: float = 1.0) -> dict[int, tuple[float, float]]:
    """{AU: (left, right)} apex intensities; the weak side gets ``asymmetry`` (<= 1) of the strong one.

    ``scale`` multiplies the drawn intensities, which are capped at 1 (FACS "E", maximal).
    """
    out = {}
    for s in spec:
        present = rng.random() < s.p
        value = min(float(rng.uniform(s.lo, s.hi)) * scale, 1.0) if present else 0.0
        if value <= 0.0:
            continue
        sides = [value, value]
        sides[weak_side] = value * asymmetry
        out[s.au] = (sides[0], sides[1])
    return out


def draw_episode(expression: str, label: str, start: float, rng: np.random.Generator,
                 scale: float = 1.0, role: str = "target", curves: str = "cosine") -> Episode:
    """One genuine or fake episode of an expression starting at ``start`` seconds; ``curves`` is
    the ramp family of its onset and offset (:data:`training.synth.timeline.CURVES`)."""
    spec = SPECS[expression]
    weak = int(rng.integers(2))
    if label == "genuine":
        asym = float(rng.uniform(0.8, 1.0))
        aus = draw_aus(spec.genuine, rng, asym, weak, scale)
        onset, apex, offset = rng.uniform(0.4, 1.5), rng.uniform(0.5, 1.5), rng.uniform(0.6, 1.5)
        smooth_on = smooth_off = True
        wobble, delay_max = rng.uniform(0.03, 0.08), 0.15
    elif label == "fake":
        asym = float(rng.uniform(0.45, 0.95))
        aus = draw_aus(spec.fake, rng, asym, weak, scale)
        onset = rng.uniform(0.1, 0.3) if rng.random() < 0.85 else rng.uniform(0.3, 0.6)
        apex, offset = rng.uniform(1.2, 2.5), rng.uniform(0.1, 0.35)
        smooth_on = smooth_off = False
        wobble, delay_max = rng.uniform(0.0, 0.02), 0.04
    else:
        raise ValueError(f"label must be 'genuine' or 'fake', got {label!r}")
    delays = {au: float(rng.uniform(0, delay_max)) for au in aus}
    return Episode(expression, label, float(start), float(onset), float(apex), float(offset), smooth_on, smooth_off,
                   float(wobble), float(rng.uniform(0.4, 1.2)), aus, delays, role, curves)


def sasefe_episodes(expression: str, label: str, rng: np.random.Generator, max_s: float = 5.0,
                    style: GeneratorStyle = STYLES["a"]) -> tuple[list[Episode], float, tuple[float, float]]:
    """Episodes of one SASE-FE clip, its duration (s) and the neutral window (s) before the target.

    Genuine (N2X): neutral lead-in, then X. Fake (P2N2X): P (felt) fading out, neutral, then posed X.
    ``style`` sets the neutral durations and the ramp family.
    """
    code = CODES[expression][0 if label == "genuine" else 1]
    episodes = []
    prior = lead_in_expression(code)
    if prior is not None:
        lead = draw_episode(prior, "genuine", 0.0, rng, scale=float(rng.uniform(0.5, 0.9)), role="lead-in",
                            curves=style.curves)
        lead.onset, lead.apex = 0.0, float(rng.uniform(0.1, 0.4))
        lead.offset = float(rng.uniform(0.5, 1.0))
        lead.au_delay = {au: 0.0 for au in lead.aus}
        episodes.append(lead)
        neutral_start = lead.end
        start = neutral_start + float(rng.uniform(*style.gap_s))
    else:
        neutral_start = 0.0
        start = float(rng.uniform(*style.lead_s))
    target = draw_episode(expression, label, start, rng, curves=style.curves)
    tail = float(rng.uniform(*style.tail_s))
    over = target.end + tail - max_s
    if over > 0:  # fit the clip into max_s: shorten the apex first (not below 0.3 s), then the tail
        cut = min(over, target.apex - 0.3)
        target.apex -= cut
        tail = max(0.1, tail - (over - cut))
    episodes.append(target)
    duration = min(max_s, target.end + tail)
    return episodes, duration, (neutral_start, start)


# Long sessions carry a valence rating, so their expressions must show it: intensities near the top of
# each AU's range (the intensity scale of an episode; AUs are capped at 1) and short neutral gaps.
# A state in a conversation lasts: the apex is held for seconds, so the rating moves on the time scale
# of a clip (16 crops at 4 fps = 4 s) as a rating of a real recording does, not within it.
SESSION_SCALE = (1.2, 1.6)
SESSION_GAP_S = (0.5, 2.0)
SESSION_APEX_S = (4.0, 10.0)


def session_episodes(duration: float, rng: np.random.Generator, curves: str = "cosine") -> list[Episode]:
    """A long recording: random expressions (genuine or fake, strong, held for seconds) with short
    neutral gaps; ``curves`` is their ramp family."""
    episodes, t = [], float(rng.uniform(1.0, 3.0))
    misses = 0
    while misses < 5:  # a drawn episode that overruns the end is redrawn, up to five times
        expr = EXPRESSIONS[int(rng.integers(len(EXPRESSIONS)))]
        label = "genuine" if rng.random() < 0.6 else "fake"
        ep = draw_episode(expr, label, t, rng, scale=float(rng.uniform(*SESSION_SCALE)), curves=curves)
        ep.apex = float(rng.uniform(*SESSION_APEX_S))
        if ep.end > duration - 0.5:
            misses += 1
            continue
        episodes.append(ep)
        misses = 0
        t = ep.end + float(rng.uniform(*SESSION_GAP_S))
    return episodes
