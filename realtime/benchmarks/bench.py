"""``affectscope bench``: the pipeline measured on one clip, in one process, against a naive peer.

1. fast:  the pipeline as fast as possible (file source, every frame) — frames/s, per-stage
          p50/p95/p99 ms (perception = tracking + landmarks + vector + crop; each model worker).
2. paced: the pipeline at the clip's fps with a live-source policy (latest frame wins) — dropped
          frames and capture→result latency p50/p95.
3. naive: dlib's HOG detector + 68 landmarks on every frame (the usual baseline), frames/s, and
          the ratio of the pipeline's throughput to it.
"""
from __future__ import annotations

import dataclasses
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from engines.bundle import load_bundle
from realtime.perception.landmarks import LandmarkReader
from realtime.benchmarks.motion_clip import make_motion_clip
from realtime.pipeline.runner import build_pipeline, run_until_done
from realtime.capture.sources import VideoFileSource


def _pct(values, qs=(50, 95, 99)) -> dict[str, float]:
    v = np.asarray(values, np.float64)
    if v.size == 0:  # nothing measured (e.g. no clip completed in a short run): null in the JSON
        return {f"p{q}": None for q in qs}
    return {f"p{q}": round(float(x), 3) for q, x in zip(qs, np.percentile(v, qs))}


def naive_peer(video: Path, max_frames: int | None = None) -> dict:
    """dlib HOG detection + 68 landmarks on every frame of ``video``."""
    import dlib

    detector = dlib.get_frontal_face_detector()
    reader = LandmarkReader()
    cap = cv2.VideoCapture(str(video))
    times, faces, n = [], 0, 0
    while max_frames is None or n < max_frames:
        ok, frame = cap.read()
        if not ok:
            break
        t0 = time.perf_counter()
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        rects = detector(gray, 0)
        if rects:
            r = max(rects, key=lambda r: r.width() * r.height())
            reader.read(gray, (r.left(), r.top(), r.width(), r.height()))
            faces += 1
        times.append((time.perf_counter() - t0) * 1e3)
        n += 1
    cap.release()
    total = sum(times) / 1e3
    return {"frames": n, "frames_with_face": faces, "fps": round(n / total, 2) if total else 0.0,
            "per_frame_ms": _pct(times)}


def backend_latencies(bundle, runs: int = 30) -> dict[str, dict]:
    """STA clip latency (ms) of every inference backend present, on the bundle's model, side by side."""
    import torch

    from engines.backends import BackendError, available_backends, create_backend
    from engines.sta import load_sta

    model = load_sta(bundle).eval()
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 255, (model.config.clip_length, model.config.crop_size, model.config.crop_size, 3),
                        dtype=np.uint8)
    from engines.sta import preprocess_clip

    x = preprocess_clip(clip, model.config)
    out: dict[str, dict] = {}
    for name, avail in available_backends().items():
        if not avail.available:
            out[name] = {"available": False, "reason": avail.reason}
            continue
        try:
            backend = create_backend(name, model, torch.zeros(1, *model.config.input_shape))
        except BackendError as exc:
            out[name] = {"available": False, "reason": str(exc)}
            continue
        try:
            if backend.name != name:  # a failed build fell back to another backend
                out[name] = {"available": False, "reason": f"build failed: {backend.fallback_reason}"}
                continue
            backend.warmup(3)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                backend.infer(x)
                times.append((time.perf_counter() - t0) * 1e3)
            out[name] = {"available": True, "device": str(getattr(backend, "device", "cpu")), **_pct(times, (50, 95))}
        finally:
            backend.close()
    return out


def _fast_run(path: Path, bundle, expression_model: str, backend: str, with_models: bool) -> tuple[dict, object]:
    from realtime.pipeline.core import Pipeline, PipelineSettings
    from realtime.pipeline.runner import make_tracker
    from realtime.workers.registry import build_workers

    src = VideoFileSource(path, live=False)
    workers = build_workers(bundle, expression_model, backend) if with_models else []
    pipe = Pipeline(src, make_tracker(bundle), workers, PipelineSettings(paced=False))
    pipe.start()  # returns once the models are loaded
    t0 = time.perf_counter()
    pipe.wait()
    wall = time.perf_counter() - t0
    pipe.shutdown()
    s = pipe.stats()
    return {
        "frames": s.frames_processed,
        "frames_with_face": s.frames_with_face,
        "fps": round(s.frames_processed / wall, 2),
        "stages_ms": {"perception": pipe.perception.track_ms.percentiles()}
        | {w.name: w.stats.latency.percentiles() for w in pipe.workers},
        "workers": {w.name: {"jobs": w.stats.processed, "skipped": w.stats.skipped} for w in pipe.workers},
    }, src.info


def run_bench(video: str | None = None, seconds: float = 10.0, bundle_dir: str | None = None,
              expression_model: str = "pooled", backend: str = "auto", fps: float = 30.0,
              out=print) -> dict:
    bundle = load_bundle(bundle_dir)
    with tempfile.TemporaryDirectory(prefix="affectscope-bench-") as tmp:
        if video is None:
            clip = make_motion_clip(n_frames=int(round(seconds * fps)), leave=None, seed=1)
            clip.fps = fps
            path = clip.write(Path(tmp) / "bench.mp4")
            clip_desc = f"generated: real face photo on moving similarity transforms, {len(clip.frames)} frames 640x480"
        else:
            path = Path(video)
            clip_desc = str(path)

        # 1. as fast as possible: perception alone (against the naive peer), then with the models
        #    (what 'analyze' does: every model job runs and perception waits for it)
        fast_report, info = _fast_run(path, bundle, expression_model, backend, with_models=False)
        fast_models = _fast_run(path, bundle, expression_model, backend, with_models=True)[0] if bundle.has("sta") \
            or bundle.has("lstmpb") else None

        # 2. paced, live policy
        src = VideoFileSource(path, live=True)
        src.info = dataclasses.replace(info, fps=fps)  # paced at --fps, whatever the file says
        pipe = build_pipeline(src, bundle, expression_model, backend, paced=True)
        run_until_done(pipe, seconds=seconds + 5)
        paced = pipe.stats()
        paced_report = {
            "fps_target": fps,
            "frames_captured": paced.frames_captured,
            "frames_processed": paced.frames_processed,
            "dropped": paced.dropped,
            "latency_ms": paced.latency_ms,
            "workers": {w.name: {"jobs": w.stats.processed, "skipped": w.stats.skipped,
                                 "latency_ms": w.stats.latency.percentiles()} for w in pipe.workers},
        }

        # 3. naive peer
        peer = naive_peer(path)

    # 4. STA inference backends, side by side
    backends = backend_latencies(bundle) if bundle.has("sta") else {}

    report = {
        "clip": clip_desc,
        "source": {"width": info.width, "height": info.height, "fps": info.fps},
        "machine": {"cpus": os.cpu_count(), "torch_threads": _torch_threads(), "platform": platform.platform()},
        "bundle": bundle.name,
        "models": [w.name for w in pipe.workers],
        "fast": fast_report,
        "fast_with_models": fast_models,
        "paced": paced_report,
        "naive_peer": peer,
        "sta_backends_ms": backends,
        "speedup_vs_naive": round(fast_report["fps"] / peer["fps"], 2) if peer["fps"] else None,
    }
    _print_report(report, out)
    return report


def _torch_threads() -> int | None:
    try:
        import torch

        return torch.get_num_threads()
    except ImportError:
        return None


def _ms(value, width: int = 0, digits: int = 2) -> str:
    """A figure in the text report; "n/a" where nothing was measured."""
    if value is None or not math.isfinite(value):
        return f"{'n/a':>{width}}"
    return f"{value:{width}.{digits}f}"


def _print_report(r: dict, out) -> None:
    f, p, n = r["fast"], r["paced"], r["naive_peer"]
    out(f"affectscope bench — {r['clip']} ({r['source']['width']}x{r['source']['height']}), "
        f"{r['machine']['cpus']} CPUs, bundle {r['bundle']}, models: {', '.join(r['models']) or 'none'}")
    out(f"  fast    {f['fps']:8.1f} frames/s perception only ({f['frames']} frames, face on {f['frames_with_face']})")
    fm = r["fast_with_models"]
    if fm is not None:
        out(f"          {fm['fps']:8.1f} frames/s with every model job run (as analyze does)")
    for stage, q in (fm or f)["stages_ms"].items():
        q = f["stages_ms"][stage] if stage == "perception" else q
        out(f"          {stage:<12} p50 {_ms(q['p50'], 7, 2)}  p95 {_ms(q['p95'], 7, 2)}  p99 {_ms(q['p99'], 7, 2)} ms")
    out(f"  paced   {p['fps_target']:.0f} fps: {p['frames_processed']}/{p['frames_captured']} frames, "
        f"dropped {p['dropped']}, capture→result p50 {_ms(p['latency_ms']['p50'])} ms  "
        f"p95 {_ms(p['latency_ms']['p95'])} ms")
    for name, w in p["workers"].items():
        out(f"          {name:<12} jobs {w['jobs']}  skipped {w['skipped']}  p50 {_ms(w['latency_ms']['p50'], 0, 1)} ms"
            + ("" if w["jobs"] else "  (no job in this run: make it longer with --seconds)"))
    out(f"  naive   {n['fps']:8.1f} frames/s  (dlib HOG + 68 landmarks every frame; "
        f"p50 {_ms(n['per_frame_ms']['p50'])} ms)")
    if r["speedup_vs_naive"] is not None:
        out(f"  speed-up vs naive: {r['speedup_vs_naive']:.2f}x")
    if r["sta_backends_ms"]:
        out("  STA clip latency by backend:")
        for name, b in r["sta_backends_ms"].items():
            if b["available"]:
                out(f"          {name:<12} p50 {_ms(b['p50'], 7, 2)}  p95 {_ms(b['p95'], 7, 2)} ms  ({b['device']})")
            else:
                out(f"          {name:<12} not available: {b['reason']}")
