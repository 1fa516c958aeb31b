"""Clips of a real face photograph moved along known similarity transforms, with ground truth.

``affectscope bench`` uses one when no video is given, and the tests measure detection, landmark
error, jitter and re-acquisition on them. The photograph (``data/face.jpg``) is a crop of NASA's
portrait of astronaut Eileen Collins (public domain), as shipped in scikit-image's ``astronaut``.

The ground-truth landmarks are dlib's 68 points read once on the still photograph (HOG detector +
predictor at full resolution) and carried through each frame's known transform.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FACE_PHOTO = Path(__file__).resolve().parents[1] / "data" / "face.jpg"


@dataclass
class MotionClip:
    frames: list[np.ndarray]  # BGR uint8
    transforms: np.ndarray  # (N, 2, 3) photo -> frame
    landmarks: np.ndarray  # (N, 68, 2) ground truth in frame pixels
    visible: np.ndarray  # (N,) bool: every ground-truth landmark lies inside the frame (with margin)
    absent: np.ndarray  # (N,) bool: no part of the face is in the frame
    fps: float = 30.0
    rolls: np.ndarray | None = None  # (N,) the head's roll in degrees, counter-clockwise on screen

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        h, w = self.frames[0].shape[:2]
        vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
        if not vw.isOpened():
            raise RuntimeError(f"{path}: cannot open a video writer (mp4v)")
        for f in self.frames:
            vw.write(f)
        vw.release()
        return path


def photo_landmarks(photo: np.ndarray) -> np.ndarray:
    """dlib's 68 points on a still photo (HOG detector, largest face)."""
    import dlib

    from realtime.perception.landmarks import LandmarkReader

    gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    rects = dlib.get_frontal_face_detector()(gray, 1)
    if not rects:
        raise ValueError("no face found in the photo")
    r = max(rects, key=lambda r: r.width() * r.height())
    return LandmarkReader().read(gray, (r.left(), r.top(), r.width(), r.height()))


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    small = rng.uniform(40, 200, size=(6, 8, 3)).astype(np.float32)
    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(bg, 0, 255).astype(np.uint8)


def _transform(photo_shape, cx, cy, scale, roll_deg) -> np.ndarray:
    ph, pw = photo_shape[:2]
    m = cv2.getRotationMatrix2D((pw / 2, ph / 2), roll_deg, scale)
    m[:, 2] += (cx - pw / 2, cy - ph / 2)
    return m


def make_motion_clip(
    n_frames: int = 240,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
    leave: tuple[int, int] | None = (150, 180),
    still: tuple[int, int] | None = None,
    lighting: bool = True,
    noise_sigma: float = 3.0,
    base_scale: float = 1.4,
    photo: np.ndarray | None = None,
    roll_deg: float = 0.0,
    roll_amp_deg: float = 14.0,
) -> MotionClip:
    """A clip of ``n_frames`` at 30 fps with smooth translation, scale and roll.

    ``leave`` = (start, end): the face slides out to the right, is fully absent, and slides back
    in; ``still`` = (start, end): the face holds still (for jitter measurement). The head's roll
    swings by ``roll_amp_deg`` around ``roll_deg`` (counter-clockwise on screen, as OpenCV's
    rotations; the clip's ``rolls`` holds each frame's).
    """
    rng = np.random.default_rng(seed)
    w, h = size
    photo = cv2.imread(str(FACE_PHOTO)) if photo is None else photo
    if photo is None:
        raise FileNotFoundError(f"{FACE_PHOTO}: the bundled face photo is missing; reinstall affectscope")
    ref = photo_landmarks(photo)
    ph, pw = photo.shape[:2]
    bg = _background(rng, w, h)
    # The photo is pasted with a feathered alpha so its own edges do not look like a face border.
    alpha = np.zeros((ph, pw), np.float32)
    cv2.ellipse(alpha, (pw // 2, int(ph * 0.48)), (int(pw * 0.48), int(ph * 0.5)), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 9)
    phase = rng.uniform(0, 2 * np.pi, 4)
    frames, mats, lms, vis, absent, rolls = [], [], [], [], [], []
    t = np.arange(n_frames) / 30.0
    for i in range(n_frames):
        cx = w / 2 + 0.18 * w * np.sin(0.35 * t[i] * 2 * np.pi / 3 + phase[0])
        cy = h / 2 + 0.10 * h * np.sin(0.25 * t[i] * 2 * np.pi / 3 + phase[1])
        scale = base_scale * (1.0 + 0.22 * np.sin(0.2 * t[i] * 2 * np.pi / 3 + phase[2]))
        roll = roll_deg + roll_amp_deg * np.sin(0.3 * t[i] * 2 * np.pi / 3 + phase[3])
        if still is not None and still[0] <= i < still[1]:
            j = still[0]
            cx = w / 2 + 0.18 * w * np.sin(0.35 * t[j] * 2 * np.pi / 3 + phase[0])
            cy = h / 2 + 0.10 * h * np.sin(0.25 * t[j] * 2 * np.pi / 3 + phase[1])
            scale = base_scale * (1.0 + 0.22 * np.sin(0.2 * t[j] * 2 * np.pi / 3 + phase[2]))
            roll = roll_deg + roll_amp_deg * np.sin(0.3 * t[j] * 2 * np.pi / 3 + phase[3])
        if leave is not None:
            a, b = leave
            ramp = 12  # frames to slide out / back in
            if a <= i < b:
                k = min(i - a, b - 1 - i, ramp) / ramp
                cx += k * (w * 0.5 + pw * scale)
        m = _transform(photo.shape, cx, cy, scale, roll)
        warped = cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        a_w = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)[..., None]
        frame = warped.astype(np.float32) * a_w + bg.astype(np.float32) * (1 - a_w)
        if lighting:
            gain = 1.0 + 0.35 * np.sin(2 * np.pi * i / max(n_frames, 1))
            frame = frame * gain + 10 * np.sin(2 * np.pi * i / 97)
        if noise_sigma > 0:
            frame += rng.normal(0, noise_sigma, frame.shape).astype(np.float32)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
        pts = ref @ m[:, :2].T + m[:, 2]
        corners = np.array([[0, 0], [pw, 0], [0, ph], [pw, ph]], np.float64) @ m[:, :2].T + m[:, 2]
        margin = 4
        vis.append(bool(((pts >= margin) & (pts < np.array([w, h]) - margin)).all()))
        absent.append(bool(corners[:, 0].min() >= w or corners[:, 0].max() < 0))
        mats.append(m)
        lms.append(pts.astype(np.float32))
        rolls.append(roll)
    return MotionClip(frames, np.array(mats), np.array(lms), np.array(vis), np.array(absent),
                      rolls=np.array(rolls))
