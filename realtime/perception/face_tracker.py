"""Face finding for the live pipeline: Haar detection, MOSSE tracking, dlib landmarks, validation.

Costs measured on these machines (1 thread, 640 x 480) drive the design: Haar on a half-size frame
≈ 17 ms and MOSSE on a 200 px face at full size ≈ 5.6 ms, both over a 4 ms per-frame budget, while
dlib's predictor costs ≈ 1–2 ms. So detection runs on a downscaled frame and only when needed (no
track, a tracking failure, a drift between the landmark box and the tracked box, every N frames),
and MOSSE tracks on a downscaled frame as well. MOSSE keeps "tracking" a face that has left the
frame, so every frame's result is validated (tracker confidence, box inside the frame, landmark box
consistent with the tracked box) before a face is reported.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from realtime.perception.landmarks import LandmarkReader, aligned_crop, interocular, landmark_vector
from realtime.perception.one_euro import OneEuroFilter
from realtime.types import FaceObservation, TrackState

# The Haar box sits higher and a little wider than the HOG box dlib's predictor was trained on.
# Mapping measured on rotated/scaled/shifted astronaut frames (x, y offsets and size, in Haar widths).
_HAAR_TO_HOG = (0.015, 0.13, 0.96)


@dataclass
class TrackerSettings:
    detect_width: int = 320  # frames are downscaled to this width for Haar detection
    track_width: int = 320  # ... and for MOSSE tracking
    redetect_every: int = 15  # periodic re-detection (frames)
    lost_detect_every: int = 2  # while no face, try detection every this many frames
    min_face_frac: float = 0.08  # smallest face, as a fraction of the frame width
    drift_iou: float = 0.45  # landmark box vs tracked box IoU below this -> re-detect
    min_inside: float = 0.85  # fraction of the landmark box that must lie inside the frame
    haar_scale_factor: float = 1.15
    haar_min_neighbors: int = 4
    smooth: bool = True  # One-Euro filter on the landmarks (less jitter on a still face, no lag)
    smooth_min_cutoff_hz: float = 1.0
    smooth_beta: float = 40.0  # speed in inter-ocular distances per second


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def haar_to_hog(box) -> tuple[float, float, float, float]:
    x, y, w, h = box
    dx, dy, s = _HAAR_TO_HOG
    return (x + dx * w, y + dy * w, s * w, s * h)


def landmark_box(pts68: np.ndarray) -> tuple[float, float, float, float]:
    """A HOG-convention box from 68 landmarks (so the next frame's prediction starts from it)."""
    x0, y0 = pts68.min(0)
    x1, y1 = pts68.max(0)
    # dlib's HOG box spans the face from brow to chin at about the landmark extent; centre it there.
    w = max(x1 - x0, y1 - y0) * 0.98
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1) + 0.02 * w
    return (cx - w / 2, cy - w / 2, w, w)


class FaceTracker:
    """Frame (BGR) -> FaceObservation: one face, detected rarely, tracked always, validated each frame."""

    def __init__(
        self,
        reader: LandmarkReader | None = None,
        normalization: str = "similarity",
        crop_size: int = 64,
        settings: TrackerSettings | None = None,
    ):
        self.reader = reader or LandmarkReader()
        self.normalization = normalization
        self.crop_size = crop_size
        self.s = settings or TrackerSettings()
        self._filter = OneEuroFilter(self.s.smooth_min_cutoff_hz, self.s.smooth_beta)
        self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        if self._cascade.empty():
            raise RuntimeError("OpenCV's Haar frontal-face cascade could not be loaded; reinstall opencv-contrib-python-headless")
        self.reset()

    def reset(self) -> None:
        self._mosse = None
        self._track_scale = 1.0
        self._since_detect = 0
        self._since_lost = 0
        self._pred_box: tuple[float, float, float, float] | None = None  # HOG-convention box, full res
        self.detections = 0
        if hasattr(self, "_filter"):
            self._filter.reset()

    # -- detection -------------------------------------------------------------------------
    def detect(self, gray: np.ndarray, prefer=None):
        """Haar boxes (full-resolution pixels) on a downscaled gray frame; the preferred one first."""
        h, w = gray.shape
        scale = min(1.0, self.s.detect_width / w)
        small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
        min_side = max(20, int(self.s.min_face_frac * small.shape[1]))
        boxes = self._cascade.detectMultiScale(
            small, self.s.haar_scale_factor, self.s.haar_min_neighbors, minSize=(min_side, min_side)
        )
        self.detections += 1
        out = [tuple(float(v) / scale for v in b) for b in boxes]
        if prefer is not None:
            out.sort(key=lambda b: (-_iou(b, prefer), -b[2] * b[3]))
            if out and _iou(out[0], prefer) == 0.0:
                out.sort(key=lambda b: -b[2] * b[3])
        else:
            out.sort(key=lambda b: -b[2] * b[3])
        return out

    # -- tracking --------------------------------------------------------------------------
    def _track_frame(self, gray: np.ndarray) -> np.ndarray:
        return cv2.resize(gray, None, fx=self._track_scale, fy=self._track_scale, interpolation=cv2.INTER_AREA) \
            if self._track_scale < 1 else gray

    def _start_tracker(self, gray: np.ndarray, box) -> None:
        self._track_scale = min(1.0, self.s.track_width / gray.shape[1])
        x, y, w, h = (v * self._track_scale for v in box)
        self._mosse = cv2.legacy.TrackerMOSSE_create()
        self._mosse.init(self._track_frame(gray), (x, y, w, h))

    def _update_tracker(self, gray: np.ndarray):
        ok, b = self._mosse.update(self._track_frame(gray))
        if not ok:
            return None
        return tuple(v / self._track_scale for v in b)

    # -- per frame -------------------------------------------------------------------------
    def process(self, image: np.ndarray, frame_index: int, t_ns: int, gray: np.ndarray | None = None) -> FaceObservation:
        if gray is None:
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        state = TrackState.TRACKED
        tracked_box = None
        if self._mosse is not None:
            tracked_box = self._update_tracker(gray)
            self._since_detect += 1
            if tracked_box is None or self._since_detect >= self.s.redetect_every:
                tracked_box = None
        if tracked_box is None:
            if self._mosse is None and self._since_lost % self.s.lost_detect_every != 0:
                self._since_lost += 1
                return FaceObservation(frame_index, t_ns, TrackState.LOST)
            found = self._redetect(gray)
            if found is None:
                return self._lose(frame_index, t_ns)
            tracked_box = found
            state = TrackState.DETECTED

        pts = self._landmarks(gray, tracked_box, state)
        if pts is None or not self._plausible(pts, gray.shape):
            if state is TrackState.DETECTED:
                return self._lose(frame_index, t_ns)
            found = self._redetect(gray)  # drift or a face that left: one more look this frame
            if found is None:
                return self._lose(frame_index, t_ns)
            pts = self._landmarks(gray, found, TrackState.DETECTED)
            if pts is None or not self._plausible(pts, gray.shape):
                return self._lose(frame_index, t_ns)
            tracked_box = found
            state = TrackState.DETECTED
        self._since_lost = 0
        if self.s.smooth:
            pts = self._filter(pts, t_ns, scale=interocular(pts))
        lbox = landmark_box(pts)
        box = tuple(int(round(v)) for v in lbox)
        vec = landmark_vector(pts, lbox, self.normalization)
        crop = aligned_crop(image, pts, self.crop_size)
        return FaceObservation(frame_index, t_ns, state, box, pts, vec, crop)

    def _redetect(self, gray):
        prefer = self._pred_box
        boxes = self.detect(gray, prefer=prefer)
        if not boxes:
            return None
        box = boxes[0]
        self._start_tracker(gray, box)
        self._since_detect = 0
        return box

    def _landmarks(self, gray, tracked_box, state):
        hog = haar_to_hog(tracked_box)
        if state is TrackState.TRACKED and self._pred_box is not None:
            # The tracker follows translation; the last landmark box carries scale. Combine both.
            _, _, pw, ph = self._pred_box
            cx = tracked_box[0] + tracked_box[2] / 2
            cy = tracked_box[1] + tracked_box[3] / 2
            hx, hy, hw, hh = hog
            off_x = (hx + hw / 2) - cx
            off_y = (hy + hh / 2) - cy
            hog = (cx + off_x - pw / 2, cy + off_y - ph / 2, pw, ph)
            if _iou(hog, self._pred_box) < self.s.drift_iou:
                return None
        pts = self.reader.read(gray, hog)
        lbox = landmark_box(pts)
        if _iou(lbox, hog) < self.s.drift_iou:
            return None
        self._pred_box = lbox
        return pts

    def _plausible(self, pts: np.ndarray, shape) -> bool:
        h, w = shape
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        area = max((x1 - x0) * (y1 - y0), 1e-6)
        ix = max(0.0, min(x1, w) - max(x0, 0))
        iy = max(0.0, min(y1, h) - max(y0, 0))
        if ix * iy / area < self.s.min_inside:
            return False
        # Geometry: eyes above the nose tip above the mouth, eyes apart by a sane fraction of the face.
        le, re = pts[36:42].mean(0), pts[42:48].mean(0)
        iod = np.linalg.norm(re - le)
        face_w = x1 - x0
        if not (0.25 * face_w < iod < 0.6 * face_w):
            return False
        eye_y = 0.5 * (le[1] + re[1])
        nose, mouth = pts[33], pts[51:58].mean(0)
        axis = (re - le) / max(iod, 1e-6)
        normal = np.array([-axis[1], axis[0]])
        return bool(np.dot(nose - le, normal) > 0.15 * iod and np.dot(mouth - nose, normal) > 0.05 * iod and eye_y < y1)

    def _lose(self, frame_index, t_ns) -> FaceObservation:
        self._mosse = None
        self._pred_box = None
        self._since_lost = 1
        self._filter.reset()
        return FaceObservation(frame_index, t_ns, TrackState.LOST)
