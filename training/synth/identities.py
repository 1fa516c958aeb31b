"""Identities for the generator: real face photographs, and identities derived from them.

Real photos (see ``photos/SOURCES.md`` for origin and licence): scikit-image's astronaut (Eileen
Collins, NASA, public domain), matplotlib's Grace Hopper (U.S. Navy, public domain) and mahotas's
portrait of its author Luis Pedro Coelho (MIT), plus any photos a user passes. Three real faces are
few, so further subjects are *derived* from each photo, and are not real people:

- face shape, by a one-off landmark warp: eye spacing, brow height, jaw width, face length, nose
  length, mouth width (each a few percent of the interocular distance);
- skin tone (a Lab shift inside the face), hair / clothes / background colour (hue and saturation
  outside it), overall contrast;
- mirroring (left/right swap of the photo and its landmarks).

Each identity is one subject of a generated dataset. Its image is a canvas larger than the output
frame (the camera's per-clip framing and head motion pick the view), with the face level (no
roll), the eye midpoint at the canvas centre and a fixed interocular distance.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from realtime.perception.landmarks import LandmarkReader
from training.synth.action_units import MIRROR, face_frame, to_face
from training.synth.warp import FaceWarper

PHOTO_DIR = Path(__file__).resolve().parent / "photos"


class IdentityError(ValueError):
    """A photo that cannot become an identity (unreadable, or no face found); names the photo."""


@dataclass(frozen=True)
class Photo:
    """A real face photograph: a name, where it comes from and its licence."""

    name: str
    origin: str
    licence: str
    path: Path | None = None  # None: loaded from a package (the astronaut)
    at_rest: bool = True  # the face shows no expression (False: e.g. a broad smile)
    person: str | None = None  # a labelled set's person: the subject's name, so splits by person hold
    pad: float = 0.0  # border added (fraction of the side) before detection: for tight face crops

    def load(self) -> np.ndarray:
        """H x W x 3 uint8 BGR."""
        if self.path is None:
            try:
                import skimage.data
            except ImportError:
                raise IdentityError(
                    f"photo {self.name!r} ships with scikit-image: pip install 'affectscope[synth]'"
                ) from None
            return cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
        image = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
        if image is None:
            raise IdentityError(f"{self.path}: not a readable image (expected a JPEG or PNG face photo)")
        return image


BUILTIN_PHOTOS: tuple[Photo, ...] = (
    Photo("astronaut", "scikit-image skimage.data.astronaut(): Eileen Collins, NASA", "public domain",
          at_rest=False),  # smiling broadly, teeth showing
    Photo("hopper", "matplotlib sample_data/grace_hopper.jpg: Grace Hopper, U.S. Navy", "public domain",
          PHOTO_DIR / "grace_hopper.jpg"),
    Photo("coelho", "mahotas demos/data/luispedro.jpg: Luis Pedro Coelho", "MIT (mahotas)",
          PHOTO_DIR / "luispedro.jpg"),
)


def user_photo(path: str | Path) -> Photo:
    p = Path(path)
    if not p.is_file():
        raise IdentityError(f"{p}: face photo not found")
    return Photo(p.stem, str(p), "user supplied", p)


@dataclass
class Identity:
    """A subject: a neutral face image and its 68 landmarks.

    image: canvas H x W x 3 uint8 BGR; landmarks: (68, 2) float32 canvas pixels; recipe: how it was
    made (photo, derivation parameters) for the manifest.
    """

    name: str
    photo: str
    image: np.ndarray
    landmarks: np.ndarray
    recipe: dict = field(default_factory=dict)

    @property
    def iod(self) -> float:
        return face_frame(self.landmarks)[2]


@functools.lru_cache(maxsize=1)
def _detector():
    import dlib

    return dlib.get_frontal_face_detector()


@functools.lru_cache(maxsize=1)
def _reader() -> LandmarkReader:
    return LandmarkReader()


def photo_landmarks(image: np.ndarray, name: str = "photo", pad: float = 0.0) -> np.ndarray:
    """(68, 2) float32 landmarks of the largest face in a still photo (dlib HOG + 68-point model).

    ``pad`` > 0 adds a replicated border of that fraction of each side first: the HOG detector needs
    some of the head's outline, which a photo cropped at the brows and chin lacks.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    b = int(round(pad * max(gray.shape)))
    if b:
        gray = cv2.copyMakeBorder(gray, b, b, b, b, cv2.BORDER_REPLICATE)
    rects = _detector()(gray, 1)
    if not rects:
        raise IdentityError(f"{name}: dlib found no frontal face; use a frontal, well-lit face photo")
    r = max(rects, key=lambda r: r.width() * r.height())
    return _reader().read(gray, (r.left(), r.top(), r.width(), r.height())) - np.float32(b)


def rest_fit_problem(pts68: np.ndarray, min_iod_px: float = 35.0) -> str | None:
    """Why a landmark fit is no sound face at rest to animate (None when it is): roll over 8 degrees,
    turned head, eyes shut, mouth open, or too few pixels between the eyes."""
    pts = np.asarray(pts68, np.float64)
    _, rot, iod = face_frame(pts)
    if iod < min_iod_px:
        return f"interocular distance {iod:.0f} px < {min_iod_px:.0f}"
    roll = float(np.degrees(np.arctan2(rot[1, 0], rot[0, 0])))
    if abs(roll) > 8.0:
        return f"roll {roll:.0f} deg"
    f = to_face(pts)
    if abs(f[30, 0] - 0.5 * (f[36, 0] + f[45, 0])) > 0.12:
        return "head turned (nose off the eyes' midline)"
    for eye in (slice(36, 42), slice(42, 48)):
        e = f[eye]
        opening = 0.5 * (abs(e[1, 1] - e[5, 1]) + abs(e[2, 1] - e[4, 1])) / max(abs(e[3, 0] - e[0, 0]), 1e-6)
        if opening < 0.17:
            return f"eye closed (opening {opening:.2f})"
    if abs(f[66, 1] - f[62, 1]) > 0.08:
        return "mouth open"
    return None


def photos_from_set(root: str | Path, count: int, seed: int = 0) -> list[Photo]:
    """Up to ``count`` identities from a labelled photo set (see :mod:`training.datasets.photos`):
    neutral photos, one per person, in an order drawn from ``seed``, each kept only when its
    landmark fit is a sound face at rest (:func:`rest_fit_problem`). The person's name becomes the
    subject's, so a split by person holds across the photos and the videos made from them."""
    from training.datasets.photos import load_photos

    neutral = [p for p in load_photos(root) if p.emotion == "neutral"]
    order = np.random.default_rng([seed, 4451]).permutation(len(neutral))
    out, seen = [], set()
    for i in order:
        lp = neutral[int(i)]
        if lp.person in seen:
            continue
        photo = Photo(lp.person, f"{Path(root).name}/{lp.path.name}", "research use (labelled photo set)",
                      lp.path, person=lp.person, pad=0.3)
        try:
            pts = photo_landmarks(photo.load(), photo.name, photo.pad)
        except IdentityError:
            continue
        if rest_fit_problem(pts) is None:
            out.append(photo)
            seen.add(lp.person)
            if len(out) >= count:
                break
    return out


def place_face(image: np.ndarray, pts68: np.ndarray, canvas: tuple[int, int], iod_px: float):
    """Level the face, scale it to ``iod_px`` and centre its eyes on a canvas (w, h); returns (image, pts)."""
    origin, rot, iod = face_frame(pts68)
    s = iod_px / iod
    # Map the face frame (x along the eyes) onto canvas axes: image = centre + s * R^T (p - origin).
    m = np.empty((2, 3))
    m[:, :2] = s * rot.T
    cw, ch = canvas
    m[:, 2] = np.array([cw / 2, ch / 2]) - m[:, :2] @ origin
    out = warp_soft_border(image, m, canvas)
    pts = np.asarray(pts68, np.float64) @ m[:, :2].T + m[:, 2]
    return out, pts.astype(np.float32)


def warp_soft_border(image: np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` warped by the 2 x 3 affine ``m`` into a (w, h) canvas; beyond the photo's edges its
    replicated border, defocused (a mirrored fill would add faces), so a tight crop gets a plausible
    surround instead of a hard frame."""
    out = cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpAffine(np.ones(image.shape[:2], np.float32), m, size, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if inside.min() < 1.0:
        k = int(0.05 * max(size)) | 1
        blurred = cv2.GaussianBlur(out, (k, k), 0)
        soft = cv2.GaussianBlur(inside, (9, 9), 0)[..., None]
        out = (soft * out + (1 - soft) * blurred).astype(np.uint8)
    return out


def base_identity(photo: Photo, canvas: tuple[int, int], iod_px: float) -> Identity:
    image = photo.load()
    pts = photo_landmarks(image, photo.name, photo.pad)
    placed, pts = place_face(image, pts, canvas, iod_px)
    return Identity(photo.name, photo.name, placed, pts, {"photo": photo.name, "derived": False})


# -- derived identities ----------------------------------------------------------------------
def shape_displacement(pts68: np.ndarray, params: dict) -> np.ndarray:
    """(68, 2) face-frame displacement (interocular units) for identity-level shape changes."""
    f = to_face(pts68)
    d = np.zeros((68, 2))
    half = params["eye_spacing"] / 2
    for idx in (*range(17, 22), *range(36, 42)):
        d[idx, 0] -= half
        d[MIRROR[idx], 0] += half
    d[17:27, 1] += params["brow_height"]
    jaw = np.arange(0, 17)
    d[jaw, 0] += params["jaw_width"] * f[jaw, 0] / max(np.abs(f[jaw, 0]).max(), 1e-6)
    chin_w = np.clip((f[jaw, 1] - f[30, 1]) / max(f[8, 1] - f[30, 1], 1e-6), 0, 1)
    d[jaw, 1] += params["face_length"] * chin_w
    lips = np.arange(48, 68)
    d[lips, 1] += params["face_length"] * 0.3
    d[lips, 0] += params["mouth_width"] * f[lips, 0] / max(abs(f[48, 0] - f[54, 0]) / 2, 1e-6)
    for idx, w in ((31, 1.0), (32, 1.0), (33, 1.0), (34, 1.0), (35, 1.0), (30, 0.7), (29, 0.4), (28, 0.2)):
        d[idx, 1] += params["nose_length"] * w
    return d.astype(np.float32)


def _face_mask(shape: tuple[int, int], pts68: np.ndarray) -> np.ndarray:
    """H x W float32 in [0, 1]: the face from the jaw line up to the forehead, feathered."""
    origin, rot, iod = face_frame(pts68)
    forehead = pts68[17:27] - 0.55 * iod * rot[:, 1]
    hull = cv2.convexHull(np.concatenate([pts68[:17], forehead]).astype(np.float32)).astype(np.int32)
    mask = np.zeros(shape, np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0)
    k = int(0.35 * iod) | 1
    return cv2.GaussianBlur(mask, (k, k), 0)


def skin_mask(image: np.ndarray, pts68: np.ndarray) -> np.ndarray:
    """H x W float32 in [0, 1]: skin-coloured pixels (neck, ears, forehead too) and the face itself.

    The colour model is the face's own: mean and covariance of Lab values on the cheeks and nose.
    """
    pts = np.asarray(pts68, np.float32)
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB).astype(np.float32)
    cheeks = np.zeros(image.shape[:2], np.uint8)
    for poly in ((1, 2, 3, 31, 29, 40), (15, 14, 13, 35, 29, 47), (29, 31, 33, 35)):
        cv2.fillConvexPoly(cheeks, pts[list(poly)].astype(np.int32), 1)
    sample = lab[cheeks > 0]
    mean = sample.mean(0)
    cov = np.cov(sample.T) + np.diag([60.0, 8.0, 8.0])  # tolerate shading more than hue change
    inv = np.linalg.inv(cov)
    diff = lab - mean
    d2 = np.einsum("hwi,ij,hwj->hw", diff, inv.astype(np.float32), diff)
    prob = np.exp(-0.5 * np.maximum(d2 - 4.0, 0.0) / 4.0).astype(np.float32)
    prob = cv2.GaussianBlur(prob, (5, 5), 0)
    return np.maximum(prob, _face_mask(image.shape[:2], pts))


def recolour(image: np.ndarray, pts68: np.ndarray, params: dict) -> np.ndarray:
    """Skin tone shift on skin, hue / saturation / lightness change elsewhere, contrast overall."""
    mask = skin_mask(image, pts68)[..., None]
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB).astype(np.float32)
    lab += np.array([params["skin_l"], params["skin_a"], params["skin_b"]], np.float32)
    face = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR)
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + params["hue_shift"]) % 180.0
    hsv[..., 1] = np.clip(hsv[..., 1] * params["saturation"], 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * params["lightness"], 0, 255)
    rest = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    out = mask * face.astype(np.float32) + (1 - mask) * rest.astype(np.float32)
    out = (out - 128.0) * params["contrast"] + 128.0
    return np.clip(out, 0, 255).astype(np.uint8)


def derive_params(rng: np.random.Generator) -> dict:
    """Random identity-level changes (see the module docstring)."""
    return {
        "eye_spacing": float(rng.uniform(-0.07, 0.07)),
        "brow_height": float(rng.uniform(-0.05, 0.04)),
        "jaw_width": float(rng.uniform(-0.10, 0.10)),
        "face_length": float(rng.uniform(-0.06, 0.10)),
        "nose_length": float(rng.uniform(-0.06, 0.07)),
        "mouth_width": float(rng.uniform(-0.06, 0.07)),
        "mirror": bool(rng.random() < 0.5),
        "skin_l": float(rng.uniform(-22, 12)),
        "skin_a": float(rng.uniform(-4, 9)),
        "skin_b": float(rng.uniform(-6, 14)),
        "hue_shift": float(rng.uniform(-14, 14)),  # OpenCV hue units (2 degrees)
        "saturation": float(rng.uniform(0.6, 1.3)),
        "lightness": float(rng.uniform(0.6, 1.15)),
        "contrast": float(rng.uniform(0.85, 1.15)),
    }


def derive_identity(base: Identity, name: str, params: dict) -> Identity:
    """A new subject from a base identity: shape warp, then mirroring, then colour."""
    _, rot, iod = face_frame(base.landmarks)
    disp = (shape_displacement(base.landmarks, params) @ rot.T) * iod
    image = FaceWarper(base.image, base.landmarks).warp(disp)
    pts = base.landmarks + disp
    if params["mirror"]:
        image = np.ascontiguousarray(image[:, ::-1])
        pts = pts[MIRROR].copy()
        pts[:, 0] = image.shape[1] - 1 - pts[:, 0]
    image = recolour(image, pts, params)
    return Identity(name, base.photo, image, pts.astype(np.float32),
                    {"photo": base.photo, "derived": True, **params})


def identity_name(photos: list[Photo], index: int) -> str:
    """Subject ``index``'s identity: the photo's name, with ``-vK`` for the K-th derived variant."""
    variant = index // len(photos)
    return photos[index % len(photos)].name + (f"-v{variant}" if variant else "")


def subject_label(photos: list[Photo], index: int) -> str:
    """The subject name of identity ``index``: the person of a labelled set's photo, else S001, S002 ..."""
    return photos[index % len(photos)].person or f"S{index + 1:03d}"


def identity_recipe(photos: list[Photo], index: int, seed: int) -> dict:
    """How subject ``index`` is made: its photo and, for derived identities, the drawn changes."""
    photo = photos[index % len(photos)]
    if index < len(photos):
        return {"photo": photo.name, "derived": False}
    return {"photo": photo.name, "derived": True, **derive_params(np.random.default_rng([seed, 7919, index]))}


def subject_identity(photos: list[Photo], index: int, seed: int, canvas: tuple[int, int], iod_px: float,
                     bases: dict | None = None) -> Identity:
    """Identity of subject ``index``: photo ``index % n``; the first pass over the photos unchanged,
    later passes derived with parameters drawn from (seed, index). ``bases`` caches base identities."""
    photo = photos[index % len(photos)]
    key = (photo.name, str(photo.path), canvas, iod_px)
    bases = bases if bases is not None else {}
    if key not in bases:
        bases[key] = base_identity(photo, canvas, iod_px)
    recipe = identity_recipe(photos, index, seed)
    if not recipe["derived"]:
        return bases[key]
    params = {k: v for k, v in recipe.items() if k not in ("photo", "derived")}
    return derive_identity(bases[key], identity_name(photos, index), params)
