"""Face finding for the live pipeline: Haar detection, MOSSE tracking, dlib landmarks, head pose,
validation and a per-frame quality flag.

Costs measured on these machines (1 thread, 640 x 480) drive the design: Haar on a 320 px wide
frame ≈ 10–18 ms and MOSSE on a 200 px face at full size ≈ 5.6 ms, while dlib's predictor costs
≈ 1–3 ms (whatever the face's size) and rotating a face-sized patch ≈ 0.2 ms. So:

- Whole-frame detection runs on a downscaled frame and only when there is no face. It tries the
  upright frame and rotated copies of it (±25°, ±50°: Haar's frontal cascade holds about ±15° of
  roll, dlib's HOG detector about as much, so rotated copies are what finds a tilted head), one
  angle per frame, nearest the last known roll first, so a face that can be found is found within
  five frames at the cost of one Haar pass per frame without a face. A new detection must fit as
  a face looking at the camera (the frontal cascade finds no other), settle (found on a turned
  copy, its fit read again until its roll is within 3° of the patch's) and be seen again by
  dlib's HOG detector in an upright patch (≈ 3 ms, only on detections): on a turned copy of the
  frame Haar takes hair or a pattern for a face often enough that a second opinion pays. (A
  caller that knows a face is in view, a photograph, skips these two: ``face_in_view``.) Up to
  three faces of one pass are tried in turn. Once the face has been gone a while, a scene that has
  not changed since the last search is searched only every fourth frame.
- While a face is tracked, MOSSE follows it on a downscaled frame and the landmarks are read in a
  **roll-corrected patch** around it (the face turned upright by the last roll): dlib's predictor
  was trained on upright faces and slides off a head tilted past ~20°.
- The periodic check that the tracked thing is still a face (every 30th frame; each frame's fit is
  validated anyway) runs Haar on that small upright patch (the face ≈ 48 px), not over the whole
  frame: it costs 2–3 ms instead of a spike of 15–35 ms, and MOSSE is restarted on what it finds
  only when it has drifted from it.
- When MOSSE loses the face (a fast move, a change of light) or a fit fails, the face is looked
  for with the same small Haar pass in a patch around where it was (1.5 face widths each way)
  before a whole-frame search: tracking goes on at 1–3 ms where a new detection and its checks
  cost 15–30 ms. Only a face found nowhere near costs a whole-frame search.
- MOSSE keeps "tracking" a face that has left the frame, and the predictor always returns 68
  points, so every fit is validated before a face is reported: inside the frame, plausible
  geometry, the fit's box consistent with the box it searched, its roll consistent with the
  patch's (a fit that slid onto the brows or a hand is refused).

Each face also gets its head pose (:mod:`realtime.perception.head_pose`) and a quality flag
(:meth:`FaceTracker.quality`): False when the pose is beyond what the 68-point model reads well or
the fit jumped from the previous frame.
"""
from __future__ import annotations

import math
import threading

import cv2
import dlib
import numpy as np

from realtime.perception.face_frame import HAAR_TO_HOG, FaceFrame, apply_affine, haar_to_hog, iou, upright_transform
from realtime.perception.head_pose import HeadPose, roll_from_eyes
from realtime.perception.landmarks import (NORMALIZATIONS, LandmarkReader, aligned_crop, canonical_normalization,
                                          interocular, landmark_box, landmark_vector, similarity_fit)
from realtime.perception.one_euro import OneEuroFilter
from realtime.perception.tracker_settings import TrackerSettings
from realtime.types import FaceObservation, TrackState

# Points that move little with expression (eye corners, nose): a jump of these is a bad fit.
_RIGID = np.array([36, 39, 42, 45, 27, 30, 31, 35])


_HOG: list = []
_HOG_LOCK = threading.Lock()


def hog_detector():
    """dlib's HOG face detector, built once per process: building it deserializes its filters in
    about half a second without releasing the interpreter lock (the window would stand still).
    Trackers share it; their calls are serialized by ``_HOG_LOCK`` (they are rare: one per new
    detection)."""
    with _HOG_LOCK:
        if not _HOG:
            _HOG.append(dlib.get_frontal_face_detector())
        return _HOG[0]


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
        self.normalization = canonical_normalization(normalization)
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown landmark normalization {normalization!r}; expected one of {NORMALIZATIONS}")
        self.crop_size = crop_size
        self.s = settings or TrackerSettings()
        self._filter = OneEuroFilter(self.s.smooth_min_cutoff_hz, self.s.smooth_beta)
        self._pose = HeadPose()
        self._hog = hog_detector()
        self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        if self._cascade.empty():
            raise RuntimeError("OpenCV's Haar frontal-face cascade could not be loaded; reinstall opencv-contrib-python-headless")
        self._last_roll = 0.0
        self._clock_ns = 0  # the current frame's time in its source (see process)
        self._attempt = 0
        self.detections = 0  # whole-frame Haar passes
        self.checks = 0  # periodic checks on the face's patch
        self.verifications = 0  # new detections checked by the HOG detector
        self.reset()

    def reset(self) -> None:
        self._mosse = None
        self._track_scale = 1.0
        self._since_detect = 0
        self._since_lost = 0
        self._absent = 0  # frames in a row without a face
        self._scene: np.ndarray | None = None  # the thumbnail of the frame last searched, once absent a while
        self._since_search = 0
        self._face: FaceFrame | None = None  # the last fitted face
        self._box_size = 0.0  # the face box's side: the last detection's
        self._rigid: np.ndarray | None = None  # its rigid points (for the jump check)
        if hasattr(self, "_filter"):
            self._filter.reset()
            self._pose.reset()

    # -- detection -------------------------------------------------------------------------
    def _angles(self, n: int) -> list[float]:
        """The next ``n`` roll angles to search, nearest the last known roll first."""
        order = sorted(self.s.roll_angles, key=lambda a: abs(a - self._last_roll))
        return [order[(self._attempt + k) % len(order)] for k in range(n)]

    def find(self, gray: np.ndarray, angles: list[float]) -> list[FaceFrame]:
        """Haar on the downscaled frame turned by each angle in turn: the faces of the first pass that
        finds any (nearest the last face first, else the largest first), in full-resolution pixels."""
        h, w = gray.shape
        scale = min(1.0, self.s.detect_width / w)
        small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
        sh, sw = small.shape
        min_side = max(24, int(self.s.min_face_frac * sw))  # Haar's window is 24 px: no smaller
        max_side = max(min_side + 1, int(0.9 * min(sw, sh)))  # a "face" bigger than the frame is a texture
        for angle in angles:
            lo, hi = min_side, max_side
            if angle:
                # turn the frame so a head tilted by ``angle`` is upright, smaller (a tilted face is found
                # from 32 px in the 320 px frame), on a canvas of the frame's shape: a tilted head about a
                # face width from a corner is found once it moves in; a canvas grown to keep the corners
                # cost 1.7-2.2x the upright pass, this one about as much (the roll figures unchanged)
                k = self.s.turned_scale
                rw, rh = int(k * sw) + 1, int(k * sh) + 1
                m = cv2.getRotationMatrix2D((sw / 2, sh / 2), -angle, k)
                m[:, 2] += (rw / 2 - sw / 2, rh / 2 - sh / 2)
                img = cv2.warpAffine(small, m, (rw, rh), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT)
                back = cv2.invertAffineTransform(m)
                # not below the cascade's 24 px window: a smaller minimum makes OpenCV enlarge the
                # whole canvas for its first scales (the pass then cost 1.5-2x the upright one)
                lo, hi = max(24, int(k * min_side)), max(25, int(k * max_side))
            else:
                img, back = small, np.array([[1.0, 0, 0], [0, 1.0, 0]])
            boxes = self._cascade.detectMultiScale(img, self.s.haar_scale_factor, self.s.haar_min_neighbors,
                                                   minSize=(lo, lo), maxSize=(hi, hi))
            self.detections += 1
            if len(boxes) == 0:
                continue
            faces = []
            for b in boxes:
                x, y, bw, bh = haar_to_hog(tuple(float(v) for v in b))
                cx, cy = apply_affine(back, [[x + bw / 2, y + bh / 2]])[0] / scale
                side = bw / (self.s.turned_scale if angle else 1.0) / scale
                faces.append(FaceFrame(float(cx), float(cy), side, float(angle)))
            last = self._face
            if last is not None:
                faces.sort(key=lambda f: math.hypot(f.cx - last.cx, f.cy - last.cy))
            else:
                faces.sort(key=lambda f: -f.size)
            return faces
        return []

    def _look_near(self, gray: np.ndarray, face: FaceFrame, reach: float) -> FaceFrame | None:
        """Haar on a small upright patch around ``face`` (the face ``check_face_px`` wide in it): the
        face found nearest its centre, at most ``reach`` face widths away (image pixels, the
        detector's size, the searched roll), or None. The periodic check looks within 0.3 face
        widths; a tracked face MOSSE lost is looked for within ``refind_reach``. ≈ 1-3 ms, against
        5-10 ms for a whole-frame pass."""
        px = self.s.check_face_px
        k = px / max(face.size, 1.0)
        side = int(2 * (reach + 0.8) * px)
        m = upright_transform(face, side, k)
        patch = cv2.warpAffine(gray, m, (side, side), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        haar = px / HAAR_TO_HOG[2]
        boxes = self._cascade.detectMultiScale(patch, self.s.haar_scale_factor, self.s.haar_min_neighbors,
                                               minSize=(int(0.7 * haar),) * 2, maxSize=(int(1.4 * haar),) * 2)
        self.checks += 1
        best = None
        for b in boxes:
            x, y, bw, _ = haar_to_hog(tuple(float(v) for v in b))
            cx, cy = x + bw / 2, y + bw / 2
            d = math.hypot(cx - side / 2, cy - side / 2)
            if d < reach * px and (best is None or d < best[0]):
                best = (d, cx, cy, bw)
        if best is None:
            return None
        _, cx, cy, bw = best
        cx, cy = apply_affine(cv2.invertAffineTransform(m), [[cx, cy]])[0]
        return FaceFrame(float(cx), float(cy), bw / k, face.roll)

    def _verify(self, gray: np.ndarray, face: FaceFrame) -> bool:
        """A new detection seen again by dlib's HOG detector (other features than Haar's) in an
        upright patch where the fitted face is ``verify_face_px`` wide: ≈ 3 ms, only on detections."""
        px = self.s.verify_face_px
        side = int(2.2 * px)
        patch = cv2.warpAffine(gray, upright_transform(face, side, px / max(face.size, 1.0)), (side, side),
                               flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        self.verifications += 1
        with _HOG_LOCK:
            found = list(self._hog(patch, 0))
        for r in found:
            size = 0.5 * (r.width() + r.height())
            cx, cy = 0.5 * (r.left() + r.right()), 0.5 * (r.top() + r.bottom())
            if math.hypot(cx - side / 2, cy - side / 2) < 0.35 * px and 0.6 * px < size < 1.6 * px:
                return True
        return False

    # -- tracking --------------------------------------------------------------------------
    def _track_frame(self, gray: np.ndarray) -> np.ndarray:
        return cv2.resize(gray, None, fx=self._track_scale, fy=self._track_scale, interpolation=cv2.INTER_AREA) \
            if self._track_scale < 1 else gray

    def _start_tracker(self, gray: np.ndarray, face: FaceFrame) -> None:
        self._track_scale = min(1.0, self.s.track_width / gray.shape[1])
        side = face.size / HAAR_TO_HOG[2] * self._track_scale  # the size of Haar's box
        x, y = face.cx * self._track_scale - side / 2, face.cy * self._track_scale - side / 2
        self._mosse = cv2.legacy.TrackerMOSSE_create()
        self._mosse.init(self._track_frame(gray), (x, y, side, side))
        self._since_detect = 0
        self._box_size = face.size  # the detector's: the face box keeps it until the next detection

    def _update_tracker(self, gray: np.ndarray) -> FaceFrame | None:
        """The last face moved to where MOSSE follows it (size and roll carried over)."""
        ok, b = self._mosse.update(self._track_frame(gray))
        if not ok:
            return None
        cx = (b[0] + b[2] / 2) / self._track_scale
        cy = (b[1] + b[3] / 2) / self._track_scale
        last = self._face
        # MOSSE's place (anchored on a detection), the last fit's size and roll: taking the last
        # fit's place instead would feed its bias back into the next fit, frame after frame
        moved = FaceFrame(cx, cy, last.size, last.roll)
        if iou(moved.box(), last.box()) < self.s.drift_iou:  # MOSSE jumped: not the face any more
            return None
        return moved

    # -- landmarks -------------------------------------------------------------------------
    def fit(self, gray: np.ndarray, face: FaceFrame, new: bool = False) -> tuple[np.ndarray, FaceFrame] | None:
        """68 landmarks (image pixels) for a face searched at ``face``, and where they put it;
        None when the fit is not consistent with the search (drifted, sheared off, turned).

        dlib's predictor reads a face tilted up to about 15° in its box well, and beyond that it
        may fit the right points at the wrong tilt, even the opposite one. So a fit is accepted only
        when its roll is within ``upright_below_deg`` of the frame it was read in; otherwise it is
        read once more in a patch turned by what the first fit found, and must settle there.

        A ``new`` face found on a turned copy of the frame is held to ``settle_deg`` instead, with a
        third read allowed: a head tilted 45° found on the copy turned 25° can be read at 29° on the
        first pass, within 8° of the patch and with every point wrong; read again at 29° it moves
        on, and it is taken only once a read agrees with the patch it was read in (a read on the
        frame itself, below ``upright_below_deg``, keeps that bound)."""
        tol = self.s.settle_deg if new and abs(face.roll) >= self.s.upright_below_deg else self.s.upright_below_deg
        for _ in range(3 if new else 2):
            if abs(face.roll) < self.s.upright_below_deg:  # read on the frame itself: no warp
                searched_roll, box = 0.0, face.box()
                pts = self.reader.read(gray, box)
                local = pts
            else:  # read in a patch with the face turned upright
                side = int(1.6 * face.size) + 1
                m = upright_transform(face, side)
                patch = cv2.warpAffine(gray, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                searched_roll, box = face.roll, FaceFrame(side / 2.0, side / 2.0, face.size, 0.0).box()
                local = self.reader.read(patch, box)
                pts = apply_affine(cv2.invertAffineTransform(m), local)
            if iou(landmark_box(local), box) < self.s.drift_iou:
                return None
            found = self._frame_of(pts)
            if abs(found.roll - searched_roll) <= (tol if searched_roll else self.s.upright_below_deg):
                return pts, found
            face = found
        return None

    @staticmethod
    def _frame_of(pts: np.ndarray) -> FaceFrame:
        """The face frame the landmarks put the face in (their box measured in the face's upright frame)."""
        roll = roll_from_eyes(pts)
        centre = pts.mean(0)
        upright = apply_affine(cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), -roll, 1.0), pts)
        x, y, w, _ = landmark_box(upright)
        c = apply_affine(cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), roll, 1.0), [[x + w / 2, y + w / 2]])[0]
        return FaceFrame(float(c[0]), float(c[1]), float(w), roll)

    # -- per frame -------------------------------------------------------------------------
    def process(self, image: np.ndarray, frame_index: int, t_ns: int, gray: np.ndarray | None = None,
                clock_ns: int | None = None) -> FaceObservation:
        """One frame. ``t_ns``: when it was captured (kept in the observation); ``clock_ns``: its time
        in its source, which the landmark smoothing runs on (default ``t_ns``). A file analysed
        faster than real time must be smoothed on its own time stamps, or the landmarks (and both
        models' outputs) would depend on how busy the machine was."""
        self._clock_ns = t_ns if clock_ns is None else clock_ns
        if gray is None:
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if self._mosse is None:
            if self._since_lost % self.s.lost_detect_every != 0:
                self._since_lost += 1
                return FaceObservation(frame_index, t_ns, TrackState.LOST)
            if self._unchanged(gray):
                self._absent += 1
                return FaceObservation(frame_index, t_ns, TrackState.LOST)
            return self._detect(image, gray, frame_index, t_ns)
        face = self._update_tracker(gray)
        self._since_detect += 1
        if face is None:  # MOSSE lost it: a fast move, a jump in lighting, or it is gone
            return self._search_again(image, gray, frame_index, t_ns, near=True)
        fitted = self.fit(gray, face)
        if fitted is None or not self._plausible(fitted[0], gray.shape) or not self._continues(face, fitted[1]):
            return self._search_again(image, gray, frame_index, t_ns, near=True)
        if self._since_detect >= self.s.redetect_every:
            confirmed = self._look_near(gray, fitted[1], reach=0.3)
            if confirmed is None:  # not a face any more (or turned away): look over the whole frame
                return self._search_again(image, gray, frame_index, t_ns, near=False)
            self._reanchor(gray, face, confirmed)
        return self._observe(image, gray, frame_index, t_ns, TrackState.TRACKED, *fitted, searched=face)

    def _unchanged(self, gray: np.ndarray) -> bool:
        """Whether this frame may skip the whole-frame search: the face has been gone more than
        ``lost_patience`` frames, the scene has not changed since the last search and that was
        fewer than ``still_search_every`` frames ago. An empty chair costs a search every fourth
        frame instead of every frame (a search is 5-10 ms of CPU, a third of perception's CPU on a
        clip where the face is gone a sixth of the time); a face coming into view changes the
        scene, so it is searched for at once."""
        if self._absent < self.s.lost_patience:
            self._scene = None
            return False
        thumb = cv2.resize(gray, (32, 24), interpolation=cv2.INTER_AREA).astype(np.float32)
        thumb = (thumb - thumb.mean()) / (thumb.std() + 1.0)
        if self._scene is not None and self._since_search + 1 < self.s.still_search_every \
                and float(np.abs(thumb - self._scene).mean()) <= self.s.still_change:
            self._since_search += 1
            return True
        self._scene, self._since_search = thumb, 0
        return False

    def _detect(self, image, gray, frame_index, t_ns) -> FaceObservation:
        """A whole-frame search at one roll angle (a face just lost is looked for at its last roll,
        then one angle a frame); of the faces it finds (nearest the last one first, else the
        largest), the first whose fit holds and that passes a new face's checks (see _observe)."""
        faces = self.find(gray, self._angles(1))
        self._attempt += 1
        for face in faces[:self.s.max_candidates]:
            fitted = self.fit(gray, face, new=True)
            if fitted is not None and self._plausible(fitted[0], gray.shape):
                self._start_tracker(gray, face)
                obs = self._observe(image, gray, frame_index, t_ns, TrackState.DETECTED, *fitted, searched=face)
                if obs.face:
                    return obs
        return self._lose(frame_index, t_ns)

    def _reanchor(self, gray: np.ndarray, tracked: FaceFrame, confirmed: FaceFrame) -> None:
        """After a periodic check: MOSSE restarted on the detection when it has drifted from it (or
        the detector's size changed); otherwise kept (a restart costs about 2 ms)."""
        off = math.hypot(confirmed.cx - tracked.cx, confirmed.cy - tracked.cy) / max(confirmed.size, 1e-6)
        if off > 0.05 or abs(confirmed.size / max(self._box_size, 1e-6) - 1.0) > 0.1:
            self._start_tracker(gray, confirmed)
        else:
            self._since_detect = 0

    def _continues(self, searched: FaceFrame, found: FaceFrame) -> bool:
        """A tracked face moves on from the last frame's: its roll by at most ``max_roll_step_deg``
        and its size by at most a quarter (a fit that flips its tilt or shrinks onto a part of the
        face does not)."""
        ratio = found.size / max(searched.size, 1e-6)
        return abs(found.roll - searched.roll) <= self.s.max_roll_step_deg and 0.8 <= ratio <= 1.25

    def _search_again(self, image, gray, frame_index, t_ns, near: bool) -> FaceObservation:
        """A tracked face failed its fit or check: looked for once more this frame. With ``near``,
        first in a patch around where it was (a face that moved faster than MOSSE follows: found
        for 1-3 ms instead of a whole-frame pass and a new detection's verification); then over the
        whole frame, at its roll."""
        last = self._face
        self._mosse = None
        if near and last is not None:
            found = self._look_near(gray, last, self.s.refind_reach)
            if found is not None:
                fitted = self.fit(gray, found)
                if fitted is not None and self._plausible(fitted[0], gray.shape) and self._continues(found, fitted[1]):
                    self._start_tracker(gray, found)
                    return self._observe(image, gray, frame_index, t_ns, TrackState.TRACKED, *fitted, searched=found)
        return self._detect(image, gray, frame_index, t_ns)

    def _observe(self, image, gray, frame_index, t_ns, state, pts, face: FaceFrame, searched: FaceFrame) -> FaceObservation:
        """``face``: where the fit puts the face; ``searched``: where the detector or MOSSE had it."""
        if state is TrackState.DETECTED:  # a new detection starts afresh: no smoothing or pose carried over
            self._filter.reset()
            self._pose.reset()
        if self.s.smooth:
            pts = self._filter(pts, self._clock_ns, scale=interocular(pts))
        pose = self._pose.estimate(pts, (gray.shape[1], gray.shape[0]))
        if pose is None:  # no head of any pose projects to these points: not a face
            return self._lose(frame_index, t_ns)
        if state is TrackState.DETECTED and not self.s.face_in_view \
                and not (self._frontal(pose) and self._verify(gray, face)):
            # the frontal cascade finds faces that look at the camera; a detection whose fit says
            # otherwise, or that a second, independent detector does not see, is hair, a hand or a
            # pattern with a face-like fit
            return self._lose(frame_index, t_ns)
        self._since_lost = 0
        self._absent = 0
        self._scene = None
        self._attempt = 0
        self._face = face
        self._last_roll = face.roll
        good = self.quality(pts, pose)
        box = tuple(int(round(v)) for v in landmark_box(pts))
        # the tracked face box: MOSSE's (or the detection's) centre, the detector's size
        half = self._box_size / 2.0
        face_box = (searched.cx - half, searched.cy - half, self._box_size, self._box_size)
        vec = landmark_vector(pts, face_box, self.normalization)
        crop = aligned_crop(image, pts, self.crop_size)
        return FaceObservation(frame_index, t_ns, state, box, pts, vec, crop, pose, good, face_box)

    def _frontal(self, pose: tuple[float, float, float]) -> bool:
        return abs(pose[0]) <= self.s.max_yaw_deg and abs(pose[1]) <= self.s.max_pitch_deg

    def quality(self, pts: np.ndarray, pose: tuple[float, float, float]) -> bool:
        """Whether these landmarks can be trusted: a pose within the 68-point model's range and no
        jump of the rigid points' shape since the previous frame."""
        rigid = np.asarray(pts, np.float64)[_RIGID]
        prev, self._rigid = self._rigid, rigid
        if not self._frontal(pose):
            return False
        if prev is None:
            return True
        # shape change of the rigid points once position, scale and roll are taken out
        m = similarity_fit(prev, rigid)
        resid = np.linalg.norm(prev @ m[:, :2].T + m[:, 2] - rigid, axis=1).mean()
        return bool(resid <= self.s.max_jump * max(interocular(pts), 1e-6))

    def _plausible(self, pts: np.ndarray, shape) -> bool:
        h, w = shape
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        area = max((x1 - x0) * (y1 - y0), 1e-6)
        ix = max(0.0, min(x1, w) - max(x0, 0))
        iy = max(0.0, min(y1, h) - max(y0, 0))
        if ix * iy / area < self.s.min_inside:
            return False
        # Geometry, in the face's own frame: eyes apart by a sane fraction of the face, the nose tip
        # below the eyes and the mouth below the nose.
        le, re = pts[36:42].mean(0), pts[42:48].mean(0)
        iod = float(np.linalg.norm(re - le))
        axis = (re - le) / max(iod, 1e-6)
        normal = np.array([-axis[1], axis[0]])
        across = pts @ axis
        face_w = float(across.max() - across.min())
        if not (0.25 * face_w < iod < 0.6 * face_w):
            return False
        nose, mouth = pts[33], pts[51:58].mean(0)
        return bool(np.dot(nose - le, normal) > 0.15 * iod and np.dot(mouth - nose, normal) > 0.05 * iod)

    def _lose(self, frame_index, t_ns) -> FaceObservation:
        self._mosse = None
        self._face = None
        self._rigid = None
        self._since_lost = 1
        self._absent += 1
        self._filter.reset()
        self._pose.reset()
        return FaceObservation(frame_index, t_ns, TrackState.LOST)
