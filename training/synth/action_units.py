"""FACS action units as displacement fields of dlib's 68 landmarks, and valence from AU intensities.

Each action unit (AU) moves landmarks in a face-normalized frame: the origin halfway between the
eye centres, x along the line from the image-left eye centre to the image-right eye centre, y
perpendicular to it towards the chin, one unit = the interocular (eye-centre) distance. Fields are
therefore the same for every face and scale with it. Magnitudes are the displacement at intensity
1.0 (FACS "E", maximal); they were set from the FACS manual's appearance changes and checked by eye
on the identity photos.

Each field is given for the image-left half of the face (dlib points 0–7, 17–21, 31–32, 36–41,
48–50, 58–61, 67) and for midline points (8, 27–30, 33, 51, 57, 62, 66); the image-right half is its
mirror. The two halves have separate intensities, so an expression can be asymmetric: a midline
point takes the mean of the two sides' intensities.

AU45 (blink) depends on the eye's own opening, so :func:`blink_field` builds it from a face's
neutral landmarks.
"""
from __future__ import annotations

import numpy as np

N_LANDMARKS = 68

# dlib 68-point left/right correspondence (image-left index -> image-right index).
_PAIRS = (
    *((i, 16 - i) for i in range(8)),
    (17, 26), (18, 25), (19, 24), (20, 23), (21, 22),
    (31, 35), (32, 34),
    (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
    (48, 54), (49, 53), (50, 52), (58, 56), (59, 55),
    (60, 64), (61, 63), (67, 65),
)
MIRROR = np.arange(N_LANDMARKS)
for _a, _b in _PAIRS:
    MIRROR[_a], MIRROR[_b] = _b, _a
MIDLINE = frozenset({8, 27, 28, 29, 30, 33, 51, 57, 62, 66})
LEFT = frozenset(a for a, _ in _PAIRS)
RIGHT = frozenset(b for _, b in _PAIRS)

# Displacements (dx, dy) in interocular units at intensity 1, image-left half and midline only.
_AU_LEFT: dict[int, dict[int, tuple[float, float]]] = {
    1: {21: (0.0, -0.13), 20: (0.0, -0.10), 19: (0.0, -0.05), 18: (0.0, -0.02)},  # inner brow raiser
    2: {17: (0.0, -0.12), 18: (0.0, -0.12), 19: (0.0, -0.08), 20: (0.0, -0.03)},  # outer brow raiser
    4: {  # brow lowerer: brows down and drawn together
        21: (0.06, 0.07), 20: (0.04, 0.08), 19: (0.02, 0.07), 18: (0.0, 0.05), 17: (0.0, 0.03),
        37: (0.0, 0.015), 38: (0.0, 0.015),
    },
    5: {37: (0.0, -0.10), 38: (0.0, -0.10), 36: (0.0, -0.01), 39: (0.0, -0.01)},  # upper lid raiser
    6: {  # cheek raiser: lower lid and cheek up, outer brow slightly down
        41: (0.0, -0.085), 40: (0.0, -0.08), 36: (-0.005, -0.015), 17: (0.0, 0.015),
        1: (0.0, -0.02), 2: (-0.01, -0.025), 3: (-0.01, -0.02), 31: (0.0, -0.01), 48: (-0.01, -0.015),
    },
    7: {41: (0.0, -0.035), 40: (0.0, -0.035), 37: (0.0, 0.02), 38: (0.0, 0.02)},  # lid tightener
    9: {  # nose wrinkler
        31: (0.005, -0.06), 32: (0.0, -0.05), 33: (0.0, -0.045), 30: (0.0, -0.03), 29: (0.0, -0.02),
        21: (0.03, 0.05), 20: (0.0, 0.03), 39: (0.0, -0.01), 40: (0.0, -0.02),
        49: (0.0, -0.03), 50: (0.0, -0.04), 51: (0.0, -0.04), 61: (0.0, -0.035), 62: (0.0, -0.035),
    },
    10: {  # upper lip raiser
        48: (0.0, -0.03), 49: (-0.01, -0.08), 50: (0.0, -0.09), 51: (0.0, -0.08),
        60: (0.0, -0.03), 61: (0.0, -0.08), 62: (0.0, -0.075),
        31: (0.0, -0.025), 32: (0.0, -0.02), 33: (0.0, -0.015),
    },
    12: {  # lip corner puller
        48: (-0.13, -0.09), 60: (-0.11, -0.08), 49: (-0.06, -0.05), 59: (-0.06, -0.04),
        61: (-0.04, -0.03), 67: (-0.04, -0.02), 50: (-0.02, -0.015), 58: (-0.02, -0.01),
        3: (-0.02, -0.02), 4: (-0.015, -0.01), 31: (-0.01, -0.01),
    },
    15: {  # lip corner depressor
        48: (0.015, 0.09), 60: (0.01, 0.07), 49: (0.0, 0.03), 59: (0.0, 0.05), 67: (0.0, 0.03),
        58: (0.0, 0.02), 4: (0.0, 0.01), 5: (0.0, 0.01),
    },
    17: {  # chin raiser
        8: (0.0, -0.05), 7: (0.0, -0.045), 6: (0.0, -0.03),
        57: (0.0, -0.06), 58: (0.0, -0.055), 59: (0.0, -0.04), 66: (0.0, -0.04), 67: (0.0, -0.035),
        62: (0.0, -0.015), 51: (0.0, -0.01), 48: (0.0, -0.01),
    },
    20: {  # lip stretcher
        48: (-0.11, 0.02), 60: (-0.09, 0.015), 49: (-0.05, 0.0), 59: (-0.05, 0.01),
        61: (-0.03, 0.0), 67: (-0.03, 0.0), 4: (-0.015, 0.0), 5: (-0.015, 0.01),
    },
    23: {  # lip tightener: lips narrowed and thinned
        48: (0.09, 0.0), 60: (0.07, 0.0), 49: (0.05, 0.01), 59: (0.05, -0.01), 50: (0.015, 0.02),
        58: (0.015, -0.02), 51: (0.0, 0.025), 57: (0.0, -0.025), 61: (0.03, 0.01), 67: (0.03, -0.01),
        62: (0.0, 0.012), 66: (0.0, -0.012),
    },
    25: {  # lips part
        57: (0.0, 0.06), 58: (0.0, 0.055), 59: (0.0, 0.04), 66: (0.0, 0.08), 67: (0.0, 0.07),
        62: (0.0, -0.02), 61: (0.0, -0.015), 51: (0.0, -0.01),
    },
    26: {  # jaw drop
        8: (0.0, 0.30), 7: (0.005, 0.27), 6: (0.01, 0.21), 5: (0.01, 0.14), 4: (0.005, 0.08), 3: (0.0, 0.03),
        57: (0.0, 0.27), 58: (0.0, 0.25), 59: (0.0, 0.19), 66: (0.0, 0.27), 67: (0.0, 0.25),
        48: (0.01, 0.10), 60: (0.01, 0.12), 62: (0.0, -0.01),
    },
}
BLINK = 45
ACTION_UNITS: tuple[int, ...] = (*sorted(_AU_LEFT), BLINK)

# Valence contribution per unit intensity (mean of the two sides); valence = tanh(sum).
# Positive: the Duchenne smile (AU6 + AU12). Negative: brow lowering, lip-corner depression, nose
# wrinkling / upper-lip raising, and, weaker, the other components of anger, sadness and fear.
VALENCE_WEIGHTS: dict[int, float] = {
    12: 0.85, 6: 0.45,
    4: -0.45, 15: -0.55, 9: -0.45, 10: -0.35,
    1: -0.10, 7: -0.10, 17: -0.15, 20: -0.25, 23: -0.30,
}


def _side_fields(au: int) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) (68, 2) float32 fields for one AU, in interocular units."""
    left = np.zeros((N_LANDMARKS, 2), np.float32)
    right = np.zeros((N_LANDMARKS, 2), np.float32)
    for idx, (dx, dy) in _AU_LEFT[au].items():
        if idx in MIDLINE:
            left[idx] = (0.5 * dx, 0.5 * dy)
            right[idx] = (-0.5 * dx, 0.5 * dy)
        elif idx in LEFT:
            left[idx] = (dx, dy)
            right[MIRROR[idx]] = (-dx, dy)
        else:
            raise ValueError(f"AU{au}: point {idx} must be on the image-left half or the midline")
    return left, right


# (n_AU, 2 sides, 68, 2): every AU but the blink, face-normalized units.
FIELDS: dict[int, tuple[np.ndarray, np.ndarray]] = {au: _side_fields(au) for au in _AU_LEFT}


def face_frame(pts68: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(origin (2,), rotation (2, 2) whose columns are the face x and y axes in image pixels, iod).

    Image displacement = ``rotation @ d * iod`` for a face-frame displacement ``d``.
    """
    pts = np.asarray(pts68, np.float64)
    le, re = pts[36:42].mean(0), pts[42:48].mean(0)
    v = re - le
    iod = float(np.hypot(*v))
    ex = v / iod
    ey = np.array([-ex[1], ex[0]])
    return 0.5 * (le + re), np.stack([ex, ey], axis=1), iod


def to_face(pts68: np.ndarray) -> np.ndarray:
    """(68, 2) landmarks in the face-normalized frame of themselves."""
    origin, rot, iod = face_frame(pts68)
    return ((np.asarray(pts68, np.float64) - origin) @ rot) / iod


def blink_field(neutral68: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) (68, 2) fields that close each eye at intensity 1 (face-normalized units)."""
    f = to_face(neutral68)
    left = np.zeros((N_LANDMARKS, 2), np.float32)
    right = np.zeros((N_LANDMARKS, 2), np.float32)
    for field, (up1, up2, lo2, lo1) in ((left, (37, 38, 40, 41)), (right, (43, 44, 46, 47))):
        for up, lo in ((up1, lo1), (up2, lo2)):
            gap = f[lo] - f[up]
            field[up] = 0.85 * gap  # upper lid comes down most of the way
            field[lo] = -0.10 * gap  # lower lid rises a little
    return left, right


def landmark_displacement(
    intensities: dict[int, tuple[float, float]], blink: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """(68, 2) face-normalized displacement for per-AU (left, right) intensities."""
    d = np.zeros((N_LANDMARKS, 2), np.float32)
    for au, (il, ir) in intensities.items():
        if il == 0.0 and ir == 0.0:
            continue
        if au == BLINK:
            if blink is None:
                raise ValueError("AU45 needs the face's blink field (blink_field(neutral landmarks))")
            left, right = blink
        else:
            left, right = FIELDS[au]
        d += il * left + ir * right
    return d


def valence_from_aus(intensities: dict[int, np.ndarray | float]) -> np.ndarray | float:
    """Valence in [-1, 1] from per-AU intensities (each the mean of both sides; scalars or arrays)."""
    total = 0.0
    for au, w in VALENCE_WEIGHTS.items():
        if au in intensities:
            total = total + w * np.asarray(intensities[au], np.float64)
    return np.tanh(total)
