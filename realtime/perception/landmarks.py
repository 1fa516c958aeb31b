"""dlib 68-point landmarks, the paper's 40-point layout, its two normalizations and aligned crops.

The 40-point layout (Huynh & Kim 2017, Fig. 2; the reference code's selection), 0-based dlib indices:
36 kept points — brows 17–26, nose 30–35, eyes 36–47, outer lip 48, 50, 51, 52, 54, 56, 57, 58 — and 4
added midpoints — brow ends (0, 17) and (26, 16), cheeks (2, 29) and (14, 29). The vector holds the
40 x values then the 40 y values, scaled to [-1, 1].

Three normalizations (the bundle and the crop cache say which):
- ``face_box``: the paper's ROI normalization — relative to the **tracked face box** (x from the
  box's left edge over its width), the box the detector and tracker give, as the reference code
  does. An expression does not move the box, so a brow raise moves the brows only; head motion
  and tracker jitter leak into the signal.
- ``landmark_box``: relative to the box of the 68 landmarks themselves (called ``roi`` before; a
  bundle or cache that says ``roi`` means this). Any expression that moves the outermost points
  rescales every point.
- ``similarity``: translation, scale and roll removed using stable points (the four eye corners
  and the nose bridge/tip), so only the non-rigid expression remains.
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import cv2
import numpy as np

from engines.bundle import NORMALIZATIONS, canonical_normalization

KEPT = (
    *range(17, 27),
    *range(30, 36),
    *range(36, 48),
    48, 50, 51, 52, 54, 56, 57, 58,
)
MIDPOINTS = ((0, 17), (26, 16), (2, 29), (14, 29))
N_POINTS = len(KEPT) + len(MIDPOINTS)  # 40
VECTOR_SIZE = 2 * N_POINTS  # 80

# Stable points for the similarity normalization: outer/inner eye corners, nose bridge and tip.
_STABLE = np.array([36, 39, 42, 45, 27, 30])
_KEPT = np.array(KEPT)
_MID_A = np.array([a for a, _ in MIDPOINTS])
_MID_B = np.array([b for _, b in MIDPOINTS])

# Canonical positions of the stable points in the similarity frame: the mean 300-W face shape
# expressed in units of the outer-eye-corner distance, centred between the eye corners and the nose
# tip.  Values were measured from dlib predictions on frontal faces; any fixed frame would do.
_CANON_STABLE = np.array(
    [[-0.51, -0.21], [-0.21, -0.18], [0.21, -0.18], [0.51, -0.21], [0.00, -0.22], [0.00, 0.20]],
    dtype=np.float64,
)
_SIMILARITY_SCALE = 1.0 / 0.9  # canonical units -> [-1, 1] (mouth bottom ≈ 0.8, brows ≈ -0.55)

# Aligned crop: eye centres and nose tip at fixed fractions of the S x S crop.
_CROP_LEFT_EYE = (0.34, 0.40)
_CROP_RIGHT_EYE = (0.66, 0.40)
_CROP_NOSE = (0.50, 0.62)


class LandmarkModelError(RuntimeError):
    """The 68-point model file cannot be found or loaded."""


def default_model_path() -> Path:
    """The 68-point model of the ``face_recognition_models`` package (iBUG 300-W, non-commercial)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise LandmarkModelError(
            "the 68-point landmark model is not installed: pip install face_recognition_models "
            "(or pass a shape_predictor_68_face_landmarks.dat path in the settings)"
        )
    path = Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise LandmarkModelError(f"{path}: missing from the face_recognition_models package; reinstall it")
    return path


_PREDICTORS: dict[tuple[str, int, int], object] = {}  # (path, size, mtime) -> loaded predictor
_PREDICTORS_LOCK = threading.Lock()


def _shape_predictor(path: Path):
    """The loaded predictor of ``path``, once per process and file version.

    dlib reads the 100 MB model in about a second without releasing the GIL, so every other
    thread (the window's event loop among them) stands still meanwhile; a pipeline rebuilt for a
    new source or a restart reuses the loaded one. Prediction does not modify it, so pipelines may
    share it.
    """
    import dlib  # deferred: a heavy module, and its absence should name itself

    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _PREDICTORS_LOCK:
        if key not in _PREDICTORS:
            try:
                _PREDICTORS[key] = dlib.shape_predictor(str(path))
            except RuntimeError as exc:
                raise LandmarkModelError(f"{path}: not a dlib shape predictor ({exc})") from None
        return _PREDICTORS[key]


class LandmarkReader:
    """dlib's 68-point shape predictor on a gray image and a HOG-style face box."""

    def __init__(self, model_path: str | Path | None = None):
        import dlib

        path = Path(model_path) if model_path else default_model_path()
        if not path.is_file():
            raise LandmarkModelError(f"{path}: landmark model file not found")
        self._predictor = _shape_predictor(path)
        self._rect = dlib.rectangle
        self.model_path = path

    def read(self, gray: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """68 x 2 float32 landmarks in image pixels for a box (x, y, w, h) in the HOG convention.

        The predictor sees only the box and a margin around it: dlib's binding copies the image it
        is given, and the whole frame costs about half a millisecond more than the face region.
        """
        x, y, w, h = box
        m = 0.15 * max(w, h)
        x0, y0 = max(0, int(x - m)), max(0, int(y - m))
        x1, y1 = min(gray.shape[1], int(x + w + m) + 1), min(gray.shape[0], int(y + h + m) + 1)
        roi = np.ascontiguousarray(gray[y0:y1, x0:x1]) if x1 > x0 and y1 > y0 else gray
        if roi is gray:
            x0 = y0 = 0
        rx, ry = x - x0, y - y0
        rect = self._rect(int(round(rx)), int(round(ry)), int(round(rx + w)), int(round(ry + h)))
        shape = self._predictor(roi, rect)
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        pts += (x0, y0)
        return pts


def landmark_box(pts68: np.ndarray) -> tuple[float, float, float, float]:
    """A HOG-convention box from 68 landmarks (so the next frame's prediction starts from it)."""
    x0, y0 = pts68.min(0)
    x1, y1 = pts68.max(0)
    # dlib's HOG box spans the face from brow to chin at about the landmark extent; centre it there.
    w = max(x1 - x0, y1 - y0) * 0.98
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1) + 0.02 * w
    return (cx - w / 2, cy - w / 2, w, w)


def select40(pts68: np.ndarray) -> np.ndarray:
    """The 40 points (40 x 2) of the paper's layout from 68 dlib points."""
    pts68 = np.asarray(pts68, dtype=np.float32)
    return np.concatenate([pts68[_KEPT], 0.5 * (pts68[_MID_A] + pts68[_MID_B])], axis=0)


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2 x 3 similarity (rotation, uniform scale, translation) mapping src onto dst, least squares.

    In the plane this has a closed form (the transform is [[a, -b], [b, a]] plus a shift; a and b
    are two sums over the centred points), the same optimum as Umeyama's SVD solution at a tenth of
    its cost; it runs several times a frame."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    norm = max(float((s * s).sum()), 1e-12)
    a = float((s * d).sum()) / norm
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / norm
    m = np.array([[a, -b, 0.0], [b, a, 0.0]])
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def normalize_to_box(pts40: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    x, y, w, h = box
    nx = 2.0 * (pts40[:, 0] - x) / max(w, 1e-6) - 1.0
    ny = 2.0 * (pts40[:, 1] - y) / max(h, 1e-6) - 1.0
    return np.clip(np.concatenate([nx, ny]), -1.0, 1.0).astype(np.float32)


def normalize_similarity(pts68: np.ndarray, pts40: np.ndarray) -> np.ndarray:
    m = similarity_fit(np.asarray(pts68, np.float64)[_STABLE], _CANON_STABLE)
    p = pts40.astype(np.float64) @ m[:, :2].T + m[:, 2]
    p *= _SIMILARITY_SCALE
    return np.clip(np.concatenate([p[:, 0], p[:, 1]]), -1.0, 1.0).astype(np.float32)


def landmark_vector(pts68: np.ndarray, face_box: tuple[float, float, float, float] | None,
                    normalization: str) -> np.ndarray:
    """The 80-value vector (x0..x39, y0..y39) in [-1, 1] for one face; ``face_box`` (x, y, w, h):
    the tracked face box, used by ``face_box`` (``landmark_box`` takes the landmarks' own box)."""
    pts40 = select40(pts68)
    normalization = canonical_normalization(normalization)
    if normalization == "similarity":
        return normalize_similarity(pts68, pts40)
    if normalization == "face_box":
        if face_box is None:
            raise ValueError("the face_box normalization needs the tracked face box")
        return normalize_to_box(pts40, face_box)
    if normalization == "landmark_box":
        return normalize_to_box(pts40, landmark_box(np.asarray(pts68, np.float64)))
    raise ValueError(f"unknown landmark normalization {normalization!r}; expected one of {NORMALIZATIONS}")


def vector_to_points(vec80: np.ndarray) -> np.ndarray:
    """40 x 2 points back from an 80-value vector."""
    vec80 = np.asarray(vec80)
    return np.stack([vec80[:N_POINTS], vec80[N_POINTS:]], axis=1)


def eye_centres(pts68: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(image-left eye centre, image-right eye centre): means of dlib points 36–41 and 42–47."""
    return pts68[36:42].mean(0), pts68[42:48].mean(0)


def interocular(pts68: np.ndarray) -> float:
    """Distance between the eye centres, in pixels (the usual landmark-error unit)."""
    left, right = eye_centres(pts68)
    return float(np.linalg.norm(right - left))


def crop_transform(pts68: np.ndarray, size: int) -> np.ndarray:
    """2 x 3 similarity from the image into the S x S aligned crop."""
    left, right = eye_centres(np.asarray(pts68, np.float64))
    src = np.stack([left, right, np.asarray(pts68[30], np.float64)])
    dst = np.array([_CROP_LEFT_EYE, _CROP_RIGHT_EYE, _CROP_NOSE], np.float64) * size
    return similarity_fit(src, dst)


def aligned_crop(image: np.ndarray, pts68: np.ndarray, size: int) -> np.ndarray:
    """S x S crop with the eye centres and the nose tip at fixed canonical positions."""
    m = crop_transform(pts68, size)
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
