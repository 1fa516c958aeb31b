"""Session folders with known contents for the replay / export / report / LSL tests.

``write_affect_session`` records, through the real :class:`SessionWriter`, a session whose every
value is known: valence and P(fake) change per segment, the face is absent for a stretch, and
each video frame is a flat grey whose level encodes its row, so a test can tell which frame a
replay shows. ``cut_clip`` makes a short real-face video from the bundled sample.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from realtime.pipeline.runner import SAMPLE_CLIP
from realtime.sessions.folder import SessionWriter
from realtime.types import AffectResult, Frame, SourceInfo

FPS = 30.0
W, H = 64, 48
EVENTS = ((1.0, "stimulus on"), (2.0, "stimulus off"))
ABSENT = range(40, 50)  # rows without a face


def grey_level(row: int) -> int:
    return 20 + (row * 37) % 216


def expected_values(n: int) -> dict[str, np.ndarray]:
    """Per-row valence, P(fake), face, latency of :func:`write_affect_session` (NaN = empty)."""
    t = np.arange(n) / FPS
    face = np.ones(n, bool)
    face[[i for i in ABSENT if i < n]] = False
    # valence is updated every 4th row and held in between; its level depends on the segment
    held_t = (np.arange(n) // 4) * 4 / FPS
    valence = np.round(np.where(held_t < 1.0, 0.5, np.where(held_t < 2.0, -0.4, 0.1)) + 0.02 * np.sin(held_t * 7), 4)
    p_fake = np.round(np.where(t < 1.0, 0.2, np.where(t < 2.0, 0.7, 0.4)) + 0.01 * np.cos(t * 5), 4)
    valence[~face] = np.nan
    p_fake[~face] = np.nan
    latency = np.round(30 + 10 * np.sin(np.arange(n)), 2)
    return {"t_s": t, "face": face.astype(float), "valence": valence, "p_fake": p_fake, "latency_ms": latency}


def write_affect_session(root: Path, n: int = 90, video: bool = True, events=EVENTS) -> dict[str, np.ndarray]:
    info = SourceInfo("video", "synthetic-test", W, H, FPS, n)
    writer = SessionWriter(root, info, bundle={"name": "test", "sha256": "0" * 64}, expression_model="pooled",
                           settings={"command": "test"}, record_video=video)
    writer.start()
    exp = expected_values(n)
    base = np.stack(np.meshgrid(np.linspace(10, 50, 17), np.linspace(10, 38, 4)), -1).reshape(-1, 2)[:68]
    for i in range(n):
        face = bool(exp["face"][i])
        lm = (base + [i * 0.1, 0]).astype(np.float32) if face else None
        r = AffectResult(
            frame_index=i, t_ns=1_000_000_000 + i * 33_333_333, face=face, media_s=i / FPS,
            box=(10 + i % 3, 10, 40, 30) if face else None, landmarks68=lm,
            valence=None if np.isnan(exp["valence"][i]) else float(exp["valence"][i]),
            valence_updated=face and i % 4 == 0,
            p_fake=None if np.isnan(exp["p_fake"][i]) else float(exp["p_fake"][i]),
            latency_ms=float(exp["latency_ms"][i]),
        )
        image = np.full((H, W, 3), grey_level(i), np.uint8)
        writer(r, Frame(i, r.t_ns, image, info, i / FPS))
    for t, label in events:
        writer.add_event(label, t)
    writer.finish()
    return exp


def cut_clip(dst: Path, n: int, start: int = 0, face_until: int | None = None) -> Path:
    """``n`` frames of the bundled real-face sample clip, from frame ``start``, as an mp4; with
    ``face_until``, frames from that index on show an empty grey background (no face)."""
    cap = cv2.VideoCapture(str(SAMPLE_CLIP))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    vw = None
    for i in range(n):
        ok, frame = cap.read()
        if not ok:
            break
        if face_until is not None and i >= face_until:
            frame = np.full_like(frame, 120)
        if vw is None:
            vw = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (frame.shape[1], frame.shape[0]))
        vw.write(frame)
    cap.release()
    vw.release()
    return dst
