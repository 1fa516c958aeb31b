"""Data that crosses threads: frozen, slotted records with capture timestamps.

Every record carries the frame index and the monotonic capture time (``time.monotonic_ns``).
Arrays are copied by the producer before a record is queued, so a consumer may keep them.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class SourceInfo:
    kind: str  # "camera" | "video" | "images" | "session"
    uri: str
    width: int
    height: int
    fps: float
    frame_count: int | None = None  # None for a live camera


@dataclass(frozen=True, slots=True)
class Frame:
    index: int
    t_ns: int
    image: np.ndarray  # H x W x 3 uint8, BGR
    source: SourceInfo
    media_s: float = 0.0  # position in the source: its time stamps (files), seconds since open (cameras)


class TrackState(str, enum.Enum):
    DETECTED = "detected"
    TRACKED = "tracked"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class FaceObservation:
    frame_index: int
    t_ns: int
    state: TrackState
    box: tuple[int, int, int, int] | None = None  # x, y, w, h in image pixels
    landmarks68: np.ndarray | None = None  # 68 x 2 float32, image pixels
    vector80: np.ndarray | None = None  # 40-point normalized vector: x0..x39, y0..y39 in [-1, 1]
    crop: np.ndarray | None = None  # S x S x 3 uint8 aligned face crop (BGR)
    pose: tuple[float, float, float] | None = None  # yaw, pitch, roll in degrees (perception.head_pose)
    good: bool = True  # the landmarks can be trusted (FaceTracker.quality; True when not judged)
    face_box: tuple[float, float, float, float] | None = None  # tracked face box (x, y, w, h): the
    #                                       detector's size at MOSSE's centre (the paper's ROI)

    @property
    def face(self) -> bool:
        return self.state is not TrackState.LOST and self.landmarks68 is not None


@dataclass(frozen=True, slots=True)
class AffectResult:
    frame_index: int
    t_ns: int  # capture time of the frame
    face: bool
    media_s: float = 0.0  # position of the frame in its source, seconds
    box: tuple[int, int, int, int] | None = None
    landmarks68: np.ndarray | None = None
    valence: float | None = None
    valence_updated: bool = False
    p_fake: float | None = None
    pb: np.ndarray | None = None
    expression_model: str | None = None
    latency_ms: float = 0.0  # capture -> publication
    attention: np.ndarray | None = None  # S x S map of the last clip (mean over time), or None
    pose: tuple[float, float, float] | None = None  # yaw, pitch, roll in degrees (perception.head_pose)
    good: bool = False  # this frame's landmarks can be trusted (FaceTracker.quality)
    valence_quality: float | None = None  # share of good frames in the clip that gave the valence
    p_fake_quality: float | None = None  # share of good frames among those the PB update read
    extras: dict = field(default_factory=dict)
