"""MediaPipe FaceMesh timed on every frame of a video: the peer of ``affectscope bench --peer mediapipe``.

A standalone script (OpenCV, NumPy and MediaPipe only; nothing of affectscope), because MediaPipe
does not install beside affectscope: it pulls its own non-headless OpenCV and an older protobuf.
Install it in an environment of its own and point the bench at that interpreter::

    python -m venv mp && mp/bin/pip install "mediapipe<0.10.30"
    affectscope bench --peer mediapipe --peer-python mp/bin/python

Run directly: ``PYTHON mediapipe_peer.py VIDEO`` prints one JSON object: frames, frames with a
face, wall and process-CPU milliseconds per frame (percentiles and mean), the MediaPipe version.
Decoding is not timed (one decoding thread, so none of it runs while a frame is timed); each frame's
time is the BGR→RGB conversion and ``FaceMesh.process`` (``refine_landmarks`` off, one face,
tracking mode), as a live application calls it.
Exit status 3 when MediaPipe (with its FaceMesh solution, whose model ships in the wheel; releases
from 0.10.30 on dropped it) is not installed in this interpreter.
"""
from __future__ import annotations

import json
import sys
import time

NOT_INSTALLED = 3


def _percentiles(values: list[float]) -> dict[str, float]:
    import numpy as np

    v = np.asarray(values, np.float64)
    if v.size == 0:
        return {"p50": float("nan"), "p95": float("nan"), "mean": float("nan")}
    return {"p50": round(float(np.percentile(v, 50)), 3), "p95": round(float(np.percentile(v, 95)), 3),
            "mean": round(float(v.mean()), 3)}


def time_facemesh(video: str, max_frames: int | None = None) -> dict:
    import cv2
    import mediapipe as mp

    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=False,
                                           min_detection_confidence=0.5, min_tracking_confidence=0.5)
    # one decoding thread, as affectscope's side: FFmpeg's threads would decode ahead while a frame is timed
    threads = getattr(cv2, "CAP_PROP_N_THREADS", None)
    cap = cv2.VideoCapture(video, cv2.CAP_FFMPEG, [threads, 1]) if threads is not None else cv2.VideoCapture(video)
    if not cap.isOpened():
        raise SystemExit(f"{video}: cannot open the video")
    wall, cpu, faces = [], [], 0
    try:
        while max_frames is None or len(wall) < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            t0, c0 = time.perf_counter(), time.process_time()
            res = mesh.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            cpu.append((time.process_time() - c0) * 1e3)
            wall.append((time.perf_counter() - t0) * 1e3)
            faces += bool(res.multi_face_landmarks)
    finally:
        cap.release()
        mesh.close()
    return {"peer": "mediapipe FaceMesh (refine_landmarks off)", "version": getattr(mp, "__version__", "?"),
            "frames": len(wall), "frames_with_face": faces, "wall_ms": _percentiles(wall),
            "cpu_ms": _percentiles(cpu), "cpu_ms_frames": [round(c, 3) for c in cpu]}


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: mediapipe_peer.py VIDEO [MAX_FRAMES]", file=sys.stderr)
        return 2
    import importlib.util

    if importlib.util.find_spec("mediapipe") is None:
        print(f"mediapipe is not installed for {sys.executable}", file=sys.stderr)
        return NOT_INSTALLED
    import mediapipe

    if not hasattr(mediapipe, "solutions"):
        print(f"mediapipe {mediapipe.__version__} has no FaceMesh solution (dropped in 0.10.30)", file=sys.stderr)
        return NOT_INSTALLED
    print(json.dumps(time_facemesh(argv[0], int(argv[1]) if len(argv) == 2 else None)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
