"""Where a face is in a frame, and the geometry the face tracker needs: boxes in the convention
dlib's predictor was trained on (its HOG detector's), the Haar cascade's boxes mapped to it, and
the affine into an upright patch around a tilted face."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# The Haar box sits higher and a little wider than the HOG box dlib's predictor was trained on.
# Mapping measured on rotated/scaled/shifted astronaut frames (x, y offsets and size, in Haar widths).
HAAR_TO_HOG = (0.015, 0.13, 0.96)


@dataclass(frozen=True)
class FaceFrame:
    """Where a face is: centre, side of its (HOG-convention) box, and roll in degrees
    (counter-clockwise on screen). The box is square in the face's own upright frame."""

    cx: float
    cy: float
    size: float
    roll: float

    def box(self) -> tuple[float, float, float, float]:
        return (self.cx - self.size / 2, self.cy - self.size / 2, self.size, self.size)


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def haar_to_hog(box) -> tuple[float, float, float, float]:
    """A Haar cascade's box (x, y, w, h) as the HOG-convention box dlib's predictor expects."""
    x, y, w, h = box
    dx, dy, s = HAAR_TO_HOG
    return (x + dx * w, y + dy * w, s * w, s * h)


def upright_transform(face: FaceFrame, side: int, scale: float = 1.0) -> np.ndarray:
    """2 x 3 affine from the frame into a ``side`` x ``side`` patch with the face upright at its centre."""
    m = cv2.getRotationMatrix2D((face.cx, face.cy), -face.roll, scale)
    m[:, 2] += (side / 2.0 - face.cx, side / 2.0 - face.cy)
    return m


def apply_affine(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Points (N x 2) through a 2 x 3 affine, as float32."""
    return (np.asarray(pts, np.float64) @ m[:, :2].T + m[:, 2]).astype(np.float32)
