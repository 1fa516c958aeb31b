"""``affectscope bench --peer mediapipe``: affectscope's perception and MediaPipe FaceMesh timed on the
same decoded frames of one clip, side by side, in one run (and dlib's HOG detector with the 68
landmarks on every frame, the usual baseline).

Both read the clip with OpenCV and time only their per-frame work (decoding excluded: the decoder
runs on one thread, inside ``read``; FFmpeg's own decoding threads would go on working ahead while a
frame is timed and add ≈ 0.2 ms of CPU to every frame of either side): for
affectscope the face tracker's ``process`` (tracking, the periodic check, landmarks, head pose,
quality, the 80-value vector and the aligned crop), for MediaPipe the RGB conversion and
``FaceMesh.process``. Wall time per frame (p50, p95) and process CPU per frame (its mean: what a
frame costs the machine, MediaPipe's own threads included) are reported with their ratios.

MediaPipe runs in the interpreter given (``--peer-python``; default this one) through the standalone
script :mod:`realtime.benchmarks.mediapipe_peer`, so it can live in an environment of its own.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from realtime.perception.face_tracker import FaceTracker

PEER_SCRIPT = Path(__file__).with_name("mediapipe_peer.py")
NOT_INSTALLED = 3  # the peer script's exit status when MediaPipe is missing
INSTALL_HINT = ("install it in an environment of its own (python -m venv mp && "
                "mp/bin/pip install 'mediapipe<0.10.30') and pass --peer-python mp/bin/python")


class PeerUnavailable(RuntimeError):
    """The peer cannot run (not installed in the interpreter given, or it failed)."""


def _stats(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, np.float64)
    return {"p50": round(float(np.percentile(v, 50)), 3), "p95": round(float(np.percentile(v, 95)), 3),
            "mean": round(float(v.mean()), 3)}


def open_decoder(video: str | Path) -> cv2.VideoCapture:
    """The clip opened with a decoder that does all its work inside ``read`` (one thread)."""
    return cv2.VideoCapture(str(video), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])


def time_perception(video: str | Path, tracker: FaceTracker, max_frames: int | None = None) -> dict:
    """affectscope's per-frame perception on every frame of ``video`` (decoding not timed)."""
    cap = open_decoder(video)
    if not cap.isOpened():
        raise PeerUnavailable(f"{video}: cannot open the video")
    wall, cpu, faces = [], [], 0
    try:
        while max_frames is None or len(wall) < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            i = len(wall)
            t0, c0 = time.perf_counter(), time.process_time()
            obs = tracker.process(frame, i, int(i * 1e9 / 30))
            cpu.append((time.process_time() - c0) * 1e3)
            wall.append((time.perf_counter() - t0) * 1e3)
            faces += obs.face
    finally:
        cap.release()
    if not wall:
        raise PeerUnavailable(f"{video}: no frame could be decoded")
    return {"frames": len(wall), "frames_with_face": faces, "wall_ms": _stats(wall), "cpu_ms": _stats(cpu),
            "cpu_ms_frames": [round(c, 3) for c in cpu]}


def time_mediapipe(video: str | Path, python: str | None = None, max_frames: int | None = None,
                   timeout_s: float = 1800.0) -> dict:
    """MediaPipe FaceMesh on the same clip, in the interpreter ``python`` (default: this one)."""
    python = python or sys.executable
    cmd = [python, str(PEER_SCRIPT), str(video)] + ([str(max_frames)] if max_frames else [])
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError:
        raise PeerUnavailable(f"--peer-python {python}: no such interpreter") from None
    except subprocess.TimeoutExpired:
        raise PeerUnavailable(f"the MediaPipe peer ran over {timeout_s:.0f} s and was stopped") from None
    if done.returncode == NOT_INSTALLED:
        why = (done.stderr.strip().splitlines() or [f"MediaPipe is not installed for {python}"])[-1]
        raise PeerUnavailable(f"{why}: {INSTALL_HINT}")
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PeerUnavailable(f"the MediaPipe peer failed (exit {done.returncode}): {tail[0]}")
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        raise PeerUnavailable(f"the MediaPipe peer printed no result: {done.stdout[-200:]!r}") from None


def compare(ours: dict, peer: dict) -> dict:
    """Ratios affectscope / peer (below 1: affectscope costs less)."""
    def ratio(a, b):
        return round(a / b, 3) if b else None

    return {"cpu_per_frame": ratio(ours["cpu_ms"]["mean"], peer["cpu_ms"]["mean"]),
            "wall_p50": ratio(ours["wall_ms"]["p50"], peer["wall_ms"]["p50"]),
            "wall_p95": ratio(ours["wall_ms"]["p95"], peer["wall_ms"]["p95"])}


VIEWS = {"face_in_view": "the whole face in view", "face_not_in_view": "the face partly in view or gone"}


def split_by_view(ours_cpu: list[float], peer_cpu: list[float], in_view: np.ndarray) -> dict:
    """Mean CPU per frame of each side on the frames with the whole face in view and on the others,
    and their ratios: where each one's cost lies."""
    n = min(len(ours_cpu), len(peer_cpu), len(in_view))
    a_all, b_all, view = np.asarray(ours_cpu[:n]), np.asarray(peer_cpu[:n]), np.asarray(in_view[:n], bool)
    out = {}
    for name, mask in (("face_in_view", view), ("face_not_in_view", ~view)):
        if mask.any():
            a, b = float(a_all[mask].mean()), float(b_all[mask].mean())
            out[name] = {"frames": int(mask.sum()), "affectscope_cpu_ms": round(a, 3),
                         "mediapipe_cpu_ms": round(b, 3), "ratio": round(a / b, 3) if b else None}
    return out


def _median_summary(runs: list[dict]) -> dict:
    """One side's figures over the rounds: each figure's median (and the frame counts of the first)."""
    out = {"frames": runs[0]["frames"], "frames_with_face": runs[0]["frames_with_face"]}
    for key in ("wall_ms", "cpu_ms"):
        out[key] = {k: round(float(np.median([r[key][k] for r in runs])), 3) for k in runs[0][key]}
    return out


def run_peer_bench(video: str | Path, tracker: FaceTracker, python: str | None = None,
                   max_frames: int | None = None, rounds: int = 3, out=print,
                   in_view: np.ndarray | None = None) -> dict:
    """MediaPipe and affectscope in turn, ``rounds`` times, on the same frames: a shared machine's
    speed drifts by 20-30 % from one minute to the next, so each round's ratio compares runs made
    seconds apart, and the report gives each figure's median over the rounds. ``in_view`` (per
    frame: the whole face is in view; known for a generated clip) splits the CPU by it."""
    from realtime.benchmarks.bench import naive_peer

    per_round = []
    for r in range(rounds):
        peer = time_mediapipe(video, python, max_frames)  # first: a missing peer fails before the long part
        tracker.reset()
        ours = time_perception(video, tracker, max_frames)
        per_round.append({"affectscope": ours, "mediapipe": peer, "ratio": compare(ours, peer)})
        if in_view is not None and "cpu_ms_frames" in peer:
            per_round[-1]["by_view"] = split_by_view(ours["cpu_ms_frames"], peer["cpu_ms_frames"], in_view)
        q = per_round[-1]["ratio"]
        out(f"  round {r + 1}/{rounds}: CPU per frame {q['cpu_per_frame']}x, p50 {q['wall_p50']}x, p95 {q['wall_p95']}x")
    naive = naive_peer(Path(video), max_frames)
    ours = _median_summary([x["affectscope"] for x in per_round])
    peer = _median_summary([x["mediapipe"] for x in per_round])
    ratio = {k: round(float(np.median([x["ratio"][k] for x in per_round])), 3) for k in per_round[0]["ratio"]}
    report = {"clip": str(video), "rounds": per_round, "affectscope": ours, "mediapipe": peer,
              "dlib_hog_every_frame": naive, "ratio": ratio}
    if all("by_view" in x for x in per_round):
        report["by_view"] = {
            part: {k: round(float(np.median([x["by_view"][part][k] for x in per_round])), 3) if k != "frames"
                   else first[k] for k in first}
            for part, first in per_round[0]["by_view"].items()}
    out(f"perception on the same {ours['frames']} frames of {video} (medians of {rounds} rounds)")
    out(f"  {'':<12} {'faces':>6} {'wall p50':>9} {'wall p95':>9} {'CPU/frame':>10}")
    for name, r in (("affectscope", ours), ("mediapipe", peer)):
        out(f"  {name:<12} {r['frames_with_face']:6d} {r['wall_ms']['p50']:8.2f}  {r['wall_ms']['p95']:8.2f}  "
            f"{r['cpu_ms']['mean']:8.2f} ms")
    n = naive["per_frame_ms"]
    out(f"  {'dlib HOG':<12} {naive['frames_with_face']:6d} {n['p50']:8.2f}  {n['p95']:8.2f}  "
        f"{'':>8}    (detector + 68 landmarks on every frame)")
    out(f"  affectscope / mediapipe (median of the rounds' ratios): CPU per frame {ratio['cpu_per_frame']}x, "
        f"p50 {ratio['wall_p50']}x, p95 {ratio['wall_p95']}x")
    for part, v in report.get("by_view", {}).items():
        out(f"  CPU per frame on the {v['frames']} frames with {VIEWS[part]}: "
            f"affectscope {v['affectscope_cpu_ms']:.2f} ms, mediapipe {v['mediapipe_cpu_ms']:.2f} ms ({v['ratio']}x)")
    return report
