"""What a :class:`~realtime.perception.face_tracker.FaceTracker` can be set to (the defaults are
those measured in its module docstring)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrackerSettings:
    detect_width: int = 320  # frames are downscaled to this width for Haar detection
    track_width: int = 320  # ... and for MOSSE tracking
    redetect_every: int = 30  # periodic check that the tracked face is a face (frames)
    lost_detect_every: int = 1  # while no face, try detection every this many frames
    lost_patience: int = 10  # the first frames without a face are all searched (a face just lost is near)
    still_search_every: int = 4  # after that, a scene unchanged since the last search is searched this seldom
    still_change: float = 0.05  # "unchanged": the frames' 32 x 24 thumbnails (contrast-normalized) differ
    #                             by at most this on average (a still empty scene ≈ 0.01, a face coming in 0.3-0.5)
    refind_reach: float = 1.5  # a tracked face lost is looked for this many face widths around where it was
    roll_angles: tuple[float, ...] = (0.0, 25.0, -25.0, 50.0, -50.0)  # copies of the frame searched
    turned_scale: float = 0.75  # the turned copies are searched this much smaller than the upright frame
    min_face_frac: float = 0.08  # smallest face, as a fraction of the frame width
    drift_iou: float = 0.45  # landmark box vs searched box IoU below this -> not a face
    upright_below_deg: float = 8.0  # below this roll, landmarks are read on the frame itself; a fit
    #                                 tilted more than this in the frame it was read in is read again
    settle_deg: float = 3.0  # a new face found on a turned copy: its fit's roll within this of the patch's
    max_roll_step_deg: float = 10.0  # a tracked head turns at most this much in one frame (300°/s)
    check_face_px: int = 48  # face width in the periodic check's patch
    verify_face_px: int = 90  # face width in the patch where a new detection is verified (HOG sees ≥ 80 px)
    min_inside: float = 0.85  # fraction of the landmark box that must lie inside the frame
    max_candidates: int = 3  # faces of one search tried in turn (a turned copy may show a false one first)
    haar_scale_factor: float = 1.2  # the cascade's pyramid step (1.15: +16 % CPU a frame, the same roll figures)
    haar_min_neighbors: int = 4
    max_yaw_deg: float = 40.0  # quality: beyond these the 68-point fit is rough
    max_pitch_deg: float = 30.0
    max_jump: float = 0.08  # quality: rigid points moving (shape, not position) over this many IODs
    smooth: bool = True  # One-Euro filter on the landmarks (less jitter on a still face, no lag)
    smooth_min_cutoff_hz: float = 1.0
    smooth_beta: float = 40.0  # speed in inter-ocular distances per second
    # The caller knows a face is in view (a photograph): a new detection is not held to looking at
    # the camera nor to being seen by HOG too, checks that keep false faces out of an empty scene.
    face_in_view: bool = False
