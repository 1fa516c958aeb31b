"""A still photograph as a short webcam clip, read by the live pipeline's own perception.

The STA-3DCNN reads clips of aligned face crops, and a labelled photograph is one frame. So each
photo is put into a 640 x 480 frame at a webcam's face size (a tight crop gets a defocused
surround, since cascade and landmark fits need the head's outline), then moved a little over the
clip (a slow drift of position, scale and roll: the small head motion of a person holding an
expression), with sensor noise, a brightness drift and JPEG compression on every frame. Each frame
goes through :class:`realtime.perception.face_tracker.FaceTracker`, as a live frame does; its aligned crops
are the clip. Training (``affectscope preprocess --format photos``) and evaluation
(``affectscope evaluate BUNDLE PHOTO_DIR``) both use :func:`photo_clip`, so the crops a model is
scored on are made the way the crops it learned from were, and the way the live pipeline makes
them.

The clip is written at the model's clip rate (``fps`` = 4 by default), so its 16 frames are
exactly one STA clip.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from training.synth.identities import warp_soft_border


@dataclass(frozen=True)
class PhotoClipSettings:
    size: tuple[int, int] = (640, 480)
    frames: int = 16
    fps: float = 4.0
    face_width: tuple[float, float] = (0.30, 0.46)  # photo width / frame width (the photo is about the face)
    drift_px: float = 10.0  # largest start-to-end shift, frame pixels
    roll_deg: float = 4.0  # largest roll at either end of the clip
    scale: float = 0.05  # largest relative zoom at either end
    noise_sigma: tuple[float, float] = (1.0, 4.0)
    jpeg_quality: tuple[int, int] = (45, 92)
    brightness: float = 0.06  # largest relative brightness change over the clip
    lead_in_frames: int = 5  # the first frame shown at most this often before the clip (one search angle each)


def _frame_transform(photo_shape, size, width_frac: float, centre, roll: float, zoom: float) -> np.ndarray:
    ph, pw = photo_shape[:2]
    s = width_frac * size[0] / pw * zoom
    m = cv2.getRotationMatrix2D((pw / 2, ph / 2), roll, s)
    m[:, 2] += (centre[0] - pw / 2, centre[1] - ph / 2)
    return m


def photo_frames(image: np.ndarray, rng: np.random.Generator,
                 settings: PhotoClipSettings = PhotoClipSettings()) -> list[np.ndarray]:
    """``settings.frames`` BGR frames of ``image`` (a face photo, colour or grey) drifting slightly."""
    st = settings
    w, h = st.size
    width_frac = rng.uniform(*st.face_width)
    centre0 = np.array([w / 2, h / 2]) + rng.uniform(-0.08, 0.08, 2) * (w, h)
    drift = rng.uniform(-1, 1, 2) * st.drift_px
    rolls = rng.uniform(-st.roll_deg, st.roll_deg, 2)
    zooms = 1.0 + rng.uniform(-st.scale, st.scale, 2)
    gains = 1.0 + rng.uniform(-st.brightness, st.brightness, 2)
    sigma = rng.uniform(*st.noise_sigma)
    quality = int(rng.integers(st.jpeg_quality[0], st.jpeg_quality[1] + 1))
    # The surround is made once, on a canvas a little larger than the frame; frames are cut from it.
    pad = 1.2
    big = (int(w * pad), int(h * pad))
    offset = np.array([(big[0] - w) / 2, (big[1] - h) / 2])
    canvas = warp_soft_border(image, _frame_transform(image.shape, big, width_frac * w / big[0],
                                                      centre0 + offset, 0.0, 1.0), big)
    cv2.setRNGSeed(int(rng.integers(2 ** 31)))  # cv2.randn: a fast, seeded sensor noise
    noise = np.empty((h, w, 3), np.float32)
    frames = []
    for k in range(st.frames):
        a = k / max(st.frames - 1, 1)
        a = a * a * (3 - 2 * a)  # smooth start and stop
        roll = (1 - a) * rolls[0] + a * rolls[1]
        zoom = (1 - a) * zooms[0] + a * zooms[1]
        c = centre0 + offset + a * drift
        m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), roll, zoom)
        m[:, 2] -= offset
        frame = cv2.warpAffine(canvas, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        gain = (1 - a) * gains[0] + a * gains[1]
        cv2.randn(noise, 0.0, sigma)
        noisy = frame.astype(np.float32)
        noisy *= gain
        noisy += noise
        frame = np.clip(noisy, 0, 255, out=noisy).astype(np.uint8)
        ok, enc = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        frames.append(cv2.imdecode(enc, cv2.IMREAD_COLOR) if ok else frame)
    return frames


def photo_tracker(normalization: str = "similarity", crop_size: int = 64):
    """The face tracker photo clips are read with: the live one, told a face is in view.

    Live, a face is found at rest looking at the camera and then followed through its expressions
    and turns; a photo clip must find it in the expression itself. With the checks a new detection
    faces live (looking at the camera, seen by HOG as well), there to keep false faces out of an
    empty scene, the face was lost on 81 of the test people's 487 photos (10 of their 14 disgusted
    ones), without them on 50 (8), so photo clips skip them
    (:class:`~realtime.perception.tracker_settings.TrackerSettings` ``face_in_view``); the crops
    are made as live."""
    from realtime.perception.face_tracker import FaceTracker
    from realtime.perception.tracker_settings import TrackerSettings

    return FaceTracker(normalization=normalization, crop_size=crop_size, settings=TrackerSettings(face_in_view=True))


def photo_clip(image: np.ndarray, tracker, rng: np.random.Generator,
               settings: PhotoClipSettings = PhotoClipSettings()) -> tuple[np.ndarray, np.ndarray]:
    """(crops uint8 (T, S, S, 3), face bool (T,)): the photo's clip through a reset ``FaceTracker``
    (:func:`photo_tracker`).

    Frames without a face keep a black crop and face = False, as in the crop cache.
    """
    tracker.reset()
    s = tracker.crop_size
    crops = np.zeros((settings.frames, s, s, 3), np.uint8)
    face = np.zeros(settings.frames, bool)
    step_ns = int(1e9 / settings.fps)
    frames = photo_frames(image, rng, settings)
    # Live, the face is in front of the camera before a clip starts, and the tracker searches one
    # roll angle a frame: so the first frame is shown until the face is found (or every angle has
    # been searched), and the clip starts on a tracked face, as a live clip does.
    for k in range(settings.lead_in_frames):
        if tracker.process(frames[0], k - settings.lead_in_frames, (k - settings.lead_in_frames) * step_ns).face:
            break
    for i, frame in enumerate(frames):
        obs = tracker.process(frame, i, i * step_ns)
        if obs.face:
            crops[i] = obs.crop
            face[i] = True
    return crops, face


def read_photo(path) -> np.ndarray:
    """A photo as H x W x 3 uint8 BGR (grey photos get three equal channels)."""
    from training.datasets.video import DatasetError

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"{path}: not a readable image (expected a JPEG or PNG face photo)")
    return image
