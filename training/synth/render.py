"""Render a clip plan: AU trajectories -> landmark displacements -> warped frames -> camera -> mp4.

Per frame: the face-frame landmark displacement of all active AUs (and blinks) is mapped to pixels,
the identity canvas is warped (:class:`FaceWarper`), newly opened mouth area is darkened, the
camera's similarity transform (framing + yaw-free head motion: translation, roll, scale) picks the
output view, then lighting (gain, left-right gradient, tint) and sensor noise are applied, the
style's blur and JPEG pass if it has them (:mod:`training.synth.style`), and the frame goes to the
encoder ('mp4v', lossy).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from training.synth.action_units import BLINK, blink_field, face_frame, landmark_displacement, valence_from_aus
from training.synth.identities import Identity
from training.synth.style import degrade
from training.synth.timeline import Camera, Episode, add_intensities, blink_track, head_motion, lighting
from training.synth.warp import WARPS, FaceWarper


@dataclass
class ClipPlan:
    """Everything that defines one clip; with the identity, rendering is deterministic."""

    key: str
    subject: str
    identity: str
    fps: float
    n_frames: int
    seed: int
    episodes: list[Episode]
    camera: Camera
    blink_rate_hz: float
    expression: str | None = None  # SASE-FE clips
    label: str | None = None
    code: str | None = None
    neutral_s: tuple[float, float] | None = None  # neutral window before the target expression
    rendering: dict = field(default_factory=dict)  # the style's per-clip values (GeneratorStyle.draw_rendering)
    extra: dict = field(default_factory=dict)

    @property
    def target(self) -> Episode | None:
        targets = [e for e in self.episodes if e.role == "target"]
        return targets[-1] if targets else None

    def to_json(self) -> dict:
        d = {
            "key": self.key, "subject": self.subject, "identity": self.identity, "fps": self.fps,
            "frames": self.n_frames, "seed": self.seed, "expression": self.expression, "label": self.label,
            "code": self.code, "blink_rate_hz": round(self.blink_rate_hz, 4),
            "camera": self.camera.to_json(), "episodes": [e.to_json() for e in self.episodes],
        }
        if self.rendering:
            d["rendering"] = self.rendering
        if self.neutral_s is not None:
            d["neutral_s"] = [round(v, 4) for v in self.neutral_s]
        if self.target is not None:
            d["apex_s"] = [round(v, 4) for v in self.target.apex_time]
        d.update(self.extra)
        return d


@dataclass
class ClipTruth:
    """Ground truth per frame: landmarks (T, 68, 2) output pixels, valence (T,), AU intensities
    (T, n_AU, 2) for ``aus``, blink closure (T,)."""

    landmarks: np.ndarray
    valence: np.ndarray
    aus: tuple[int, ...]
    intensities: np.ndarray
    blink: np.ndarray


def au_tracks(plan: ClipPlan, t: np.ndarray, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """{AU: (T, 2)} per-side intensities of all episodes plus blinks."""
    total: dict[int, np.ndarray] = {}
    for ep in plan.episodes:
        add_intensities(total, ep.intensities(t))
    closure, _ = blink_track(t, rng, plan.blink_rate_hz)
    total[BLINK] = np.stack([closure, closure], axis=1)
    return total


def valence_track(tracks: dict[int, np.ndarray]) -> np.ndarray:
    """(T,) valence in [-1, 1] from AU tracks (mean of the two sides)."""
    n = len(next(iter(tracks.values())))
    v = valence_from_aus({au: v.mean(1) for au, v in tracks.items()})
    return np.broadcast_to(np.asarray(v, np.float32), (n,)).copy()


class _MouthShade:
    """Darkens the part of the inner-lip polygon that is newly open (the mouth cavity).

    A photo with the lips closed has no mouth interior to stretch, so opening shows a dark cavity;
    a photo with the lips apart (teeth showing) already has one, and the warp stretches it.
    """

    def __init__(self, neutral: np.ndarray, iod: float):
        self.area0 = self._area(neutral[60:68])
        self.pad = int(0.3 * iod) + 2
        self.closed = float(np.clip(1.0 - self.area0 / (0.03 * iod * iod), 0.0, 1.0))

    @staticmethod
    def _area(poly: np.ndarray) -> float:
        x, y = poly[:, 0], poly[:, 1]
        return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))

    def apply(self, image: np.ndarray, pts: np.ndarray) -> None:
        poly = pts[60:68]
        area = self._area(poly)
        if self.closed == 0.0 or area <= self.area0 * 1.05 + 1.0:
            return
        alpha = 0.9 * self.closed * min(1.0, (area - self.area0) / area)
        h, w = image.shape[:2]
        x0, y0 = np.maximum(np.floor(poly.min(0)).astype(int) - self.pad, 0)
        x1, y1 = np.minimum(np.ceil(poly.max(0)).astype(int) + self.pad, (w, h))
        if x1 <= x0 or y1 <= y0:
            return
        roi = image[y0:y1, x0:x1]
        mask = np.zeros(roi.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round((poly - (x0, y0)) * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        m = cv2.GaussianBlur(mask, (3, 3), 0).astype(np.float32)[..., None] * (alpha / 255.0)
        cavity = np.array([28, 22, 48], np.float32)
        roi[:] = (roi.astype(np.float32) * (1 - m) + cavity * m).astype(np.uint8)


class ClipRenderer:
    """Renders clips of one identity at an output size (w, h) with a warp of :data:`WARPS`."""

    def __init__(self, identity: Identity, size: tuple[int, int], warp: str = "mesh"):
        self.identity = identity
        self.size = size
        self.warper = FaceWarper(identity.image, identity.landmarks, kind=warp)
        self.origin, self.rot, self.iod = face_frame(identity.landmarks)
        self.blink = blink_field(identity.landmarks)
        self.mouth = _MouthShade(identity.landmarks, self.iod)
        w, _ = size
        self._xramp = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :, None]

    def _camera_matrix(self, cam: Camera, motion: dict, i: int) -> np.ndarray:
        """2 x 3 similarity canvas -> output frame for frame i."""
        w, h = self.size
        s = cam.zoom * motion["scale"][i]
        a = np.deg2rad(motion["roll"][i])
        r = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        centre = self.origin  # the eye midpoint (level on the canvas)
        target = np.array([w * (0.5 + cam.offset[0]), h * (0.42 + cam.offset[1])])
        target = target + self.iod * cam.zoom * np.array([motion["tx"][i], motion["ty"][i]])
        m = np.empty((2, 3))
        m[:, :2] = r
        m[:, 2] = target - r @ centre
        return m

    def render(self, plan: ClipPlan, path: str | Path | None, frames: list | None = None) -> ClipTruth:
        """Render plan to an mp4 at ``path`` (None: no file) and return the ground truth.

        frames: if a list is given, every rendered H x W x 3 uint8 BGR frame is appended to it.
        """
        w, h = self.size
        rng = np.random.default_rng([plan.seed, 101])
        t = np.arange(plan.n_frames) / plan.fps
        tracks = au_tracks(plan, t, rng)
        motion = head_motion(t, plan.camera, rng)
        gain, grad = lighting(t, plan.camera, rng)
        tint = np.array(plan.camera.tint, np.float32)[None, None, :]
        sigma = plan.camera.noise_sigma
        noise_bank = rng.normal(0.0, sigma, (h + 24, w + 24, 3)).astype(np.float32)
        aus = tuple(sorted(tracks))
        au_scale = {int(au): float(v) for au, v in plan.rendering.get("au_scale", {}).items()}
        writer = None
        if path is not None:
            # written under a temporary name and renamed once whole: an interrupted run leaves no
            # cut clip that would pass for a finished one
            partial = Path(path).with_name(Path(path).stem + ".partial" + Path(path).suffix)
            writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), plan.fps, (w, h))
            if not writer.isOpened():
                raise OSError(f"{path}: OpenCV cannot write an mp4 ('mp4v') video here")
        truth_pts = np.zeros((plan.n_frames, 68, 2), np.float32)
        scale_to_px = self.rot.T * self.iod  # face frame -> canvas pixels (row vectors)
        try:
            for i in range(plan.n_frames):
                inten = {au: (float(v[i, 0]) * au_scale.get(au, 1.0), float(v[i, 1]) * au_scale.get(au, 1.0))
                         for au, v in tracks.items()}
                d_face = landmark_displacement(inten, self.blink)
                d_px = (d_face @ scale_to_px).astype(np.float32)
                canvas = self.warper.warp(d_px)
                pts = self.identity.landmarks + d_px
                self.mouth.apply(canvas, pts)
                m = self._camera_matrix(plan.camera, motion, i)
                frame = cv2.warpAffine(canvas, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
                truth_pts[i] = pts @ m[:, :2].T + m[:, 2]
                g = (gain[i] * (1.0 + grad[i] * self._xramp)) * tint
                ox, oy = rng.integers(0, 24, 2)
                out = frame.astype(np.float32)
                out *= g
                out += noise_bank[oy:oy + h, ox:ox + w]
                frame = degrade(np.clip(out, 0, 255).astype(np.uint8), plan.rendering)
                if writer is not None:
                    writer.write(frame)
                if frames is not None:
                    frames.append(frame)
        except BaseException:
            if writer is not None:
                writer.release()
                partial.unlink(missing_ok=True)
            raise
        if writer is not None:
            writer.release()
            partial.replace(path)
        return ClipTruth(truth_pts, valence_track(tracks), aus,
                         np.stack([tracks[a] for a in aus], axis=1).astype(np.float32), tracks[BLINK][:, 0].astype(np.float32))
