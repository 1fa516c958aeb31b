"""Head pose per frame from the 68 landmarks: yaw, pitch and roll in degrees.

Six points of a mean adult face (nose tip, chin, the outer eye corners, the mouth corners; in
millimetres, nose tip at the origin) are fitted to the frame's landmarks with ``cv2.solvePnP``
under a pinhole camera whose focal length is the frame width (about a 53° horizontal field, a
webcam's) and whose centre is the frame's centre. The previous frame's pose seeds the next fit, so
the pose is stable and costs about 0.1 ms.

Axes and signs, as a viewer of the video sees them:

- **yaw**: the face turned toward the image's right is positive;
- **pitch**: the face tilted up (chin forward) is positive;
- **roll**: the head tilted counter-clockwise on screen is positive.

Upright and facing the camera, all three are 0. The fit is made for the range the 68-point model
reads well (about ±40° yaw, ±30° pitch); beyond that the landmarks, and so the pose, are rough.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

# dlib indices and a mean face (mm): x toward the image's right, y down, z away from the camera.
POSE_POINTS = (30, 8, 36, 45, 48, 54)
MEAN_FACE = np.array([
    (0.0, 0.0, 0.0),  # 30 nose tip
    (0.0, 63.6, 12.5),  # 8 chin
    (-43.3, -32.7, 26.0),  # 36 outer corner of the image-left eye
    (43.3, -32.7, 26.0),  # 45 outer corner of the image-right eye
    (-28.9, 28.9, 24.1),  # 48 image-left mouth corner
    (28.9, 28.9, 24.1),  # 54 image-right mouth corner
], np.float64)


def roll_from_eyes(pts68: np.ndarray) -> float:
    """The eye line's angle, degrees, counter-clockwise on screen (the in-plane roll)."""
    d = pts68[42:48].mean(0) - pts68[36:42].mean(0)
    return math.degrees(math.atan2(-float(d[1]), float(d[0])))


def euler_from_rotation(r: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from the rotation taking the mean face into the camera.

    R = Rz(roll') · Ry(yaw') · Rx(pitch') in the camera's axes (x right, y down, z forward);
    the signs are turned to the viewer's convention of the module docstring."""
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -float(r[2, 0])))))
    pitch = math.degrees(math.atan2(float(r[2, 1]), float(r[2, 2])))
    roll = math.degrees(math.atan2(float(r[1, 0]), float(r[0, 0])))
    return -yaw, -pitch, -roll


class HeadPose:
    """Per-stream pose estimator (keeps the last fit as the next one's starting point)."""

    def __init__(self):
        self._rvec: np.ndarray | None = None
        self._tvec: np.ndarray | None = None
        self._size: tuple[int, int] | None = None

    def reset(self) -> None:
        self._rvec = self._tvec = None

    def estimate(self, pts68: np.ndarray, frame_size: tuple[int, int]) -> tuple[float, float, float] | None:
        """(yaw, pitch, roll) in degrees for one face, or None when the fit fails."""
        w, h = frame_size
        cam = np.array([[w, 0.0, w / 2.0], [0.0, w, h / 2.0], [0.0, 0.0, 1.0]])
        img = np.asarray(pts68, np.float64)[list(POSE_POINTS)]
        guess = self._rvec is not None and self._size == frame_size
        try:
            ok, rvec, tvec = cv2.solvePnP(MEAN_FACE, img, cam, None,
                                          self._rvec.copy() if guess else None,
                                          self._tvec.copy() if guess else None,
                                          useExtrinsicGuess=guess, flags=cv2.SOLVEPNP_ITERATIVE)
        except cv2.error:
            ok = False
        if not ok or tvec[2, 0] <= 0:
            self.reset()
            return None
        self._rvec, self._tvec, self._size = rvec, tvec, frame_size
        r, _ = cv2.Rodrigues(rvec)
        return euler_from_rotation(r)
