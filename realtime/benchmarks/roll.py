"""How perception holds on tilted heads: a real face photograph moved along known paths at a set
roll (0°, ±20°, ±35°, ±45°, swinging ±5° around it), leaving the frame once, through the face
tracker. ``affectscope bench --roll`` prints the table; the tests hold it to its targets.

Per roll: the share of frames with the whole face visible on which a face is reported (all of
them, and "settled": leaving out the frames it takes to find a face coming into view), faces
reported on frames without one, the mean landmark error (in inter-ocular distances, against the
photo's landmarks carried through each frame's known transform), the share of reported faces whose
landmarks are wrong (error over 0.15), the head-pose roll error against the true landmarks' eye
line, the time per frame (all frames; frames with a face) and the frames it takes to find the
face again once it is back in view.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from realtime.benchmarks.motion_clip import MotionClip, make_motion_clip
from realtime.perception.face_tracker import FaceTracker
from realtime.perception.head_pose import roll_from_eyes
from realtime.perception.landmarks import interocular

ROLLS = (0.0, 20.0, -20.0, 35.0, -35.0, 45.0, -45.0)
WRONG_FIT = 0.15  # landmark error (inter-ocular distances) above which a reported face is wrong
ACQUIRE_FRAMES = 10  # the target: a face is found within this many frames of coming into view


@dataclass
class RollFigures:
    roll_deg: float
    found: float  # share of fully visible frames with a face reported
    found_settled: float  # the same, leaving out the frames each visible stretch takes to find the face (≤ 10)
    false_faces: int  # faces reported on frames with no face at all
    landmark_error: float  # mean, inter-ocular distances, on visible frames with a face
    wrong_fits: float  # share of reported faces with landmark error > WRONG_FIT
    roll_error_deg: float  # mean |head-pose roll - true roll| on visible frames with a face
    ms_p50: float  # every frame
    ms_p95: float
    ms_p95_face: float  # frames with a face (tracking, the periodic check included)
    reacquire_frames: int  # frames from the face fully back in view to the first face reported


def roll_clip(roll_deg: float, n_frames: int = 150, seed: int = 5) -> MotionClip:
    """A clip at ``roll_deg`` (±5° swing) whose face slides out of the frame and back once."""
    return make_motion_clip(n_frames=n_frames, leave=(60, 100), seed=seed, roll_deg=roll_deg, roll_amp_deg=5.0)


def measure(clip: MotionClip, tracker: FaceTracker) -> RollFigures:
    obs, ms = [], []
    for i, frame in enumerate(clip.frames):
        t0 = time.perf_counter()
        obs.append(tracker.process(frame, i, int(i * 1e9 / clip.fps)))
        ms.append((time.perf_counter() - t0) * 1e3)
    found = np.array([o.face for o in obs])
    errs, roll_errs = [], []
    for i, o in enumerate(obs):
        if not o.face:
            continue
        if clip.visible[i]:
            errs.append(np.linalg.norm(o.landmarks68 - clip.landmarks[i], axis=1).mean() / interocular(clip.landmarks[i]))
        if o.pose is not None and clip.visible[i]:  # the true roll: the eye line of the true landmarks
            roll_errs.append(abs((o.pose[2] - roll_from_eyes(clip.landmarks[i]) + 180.0) % 360.0 - 180.0))
    errs = np.array(errs)
    settled = clip.visible.copy()
    for start, end in _stretches(clip.visible):  # the search for a face coming into view: at most ten frames
        hits = np.flatnonzero(found[start:end])
        settled[start:start + min(int(hits[0]) if hits.size else end - start, ACQUIRE_FRAMES)] = False
    back = [i for i in range(1, len(clip.frames)) if clip.visible[i] and not clip.visible[i - 1] and i > 60]
    reacquire = -1
    if back:
        later = np.flatnonzero(found[back[0]:])
        reacquire = int(later[0]) if later.size else len(clip.frames) - back[0]
    return RollFigures(
        roll_deg=float(np.median(clip.rolls)) if clip.rolls is not None else float("nan"),
        found=float(found[clip.visible].mean()) if clip.visible.any() else float("nan"),
        found_settled=float(found[settled].mean()) if settled.any() else float("nan"),
        false_faces=int(found[clip.absent].sum()),
        landmark_error=float(errs.mean()) if errs.size else float("nan"),
        wrong_fits=float((errs > WRONG_FIT).mean()) if errs.size else float("nan"),
        roll_error_deg=float(np.mean(roll_errs)) if roll_errs else float("nan"),
        ms_p50=float(np.percentile(ms, 50)),
        ms_p95=float(np.percentile(ms, 95)),
        ms_p95_face=float(np.percentile(np.array(ms)[found], 95)) if found.any() else float("nan"),
        reacquire_frames=reacquire,
    )


def _stretches(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def run_roll_bench(rolls=ROLLS, n_frames: int = 150, make_tracker: Callable[[], FaceTracker] = FaceTracker,
                   out: Callable[[str], None] = print) -> list[dict]:
    out(f"{'roll':>6} {'found':>6} {'settled':>7} {'false':>5} {'error':>6} {'wrong':>6} {'roll err':>8} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p95 face':>8} {'reacq':>5}")
    rows = []
    for roll in rolls:
        f = measure(roll_clip(roll, n_frames), make_tracker())
        f.roll_deg = roll  # the set roll (the clip swings ±5° around it)
        rows.append(asdict(f))
        out(f"{f.roll_deg:+6.0f} {f.found:6.1%} {f.found_settled:7.1%} {f.false_faces:5d} {f.landmark_error:6.3f} {f.wrong_fits:6.1%} "
            f"{f.roll_error_deg:8.1f} {f.ms_p50:7.1f} {f.ms_p95:7.1f} {f.ms_p95_face:8.1f} {f.reacquire_frames:5d}")
    return rows
