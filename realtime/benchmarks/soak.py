"""``affectscope bench --soak MINUTES``: the live pipeline left running, watched for leaks and losses.

A clip loops as one live source (paced at its frame rate, the newest frame wins, as a webcam)
through perception and both models, recorded into a session with video, for MINUTES. Every
``every_s`` seconds a sample is taken: resident memory (RSS; of the child processes too: the
face tracker and the genuine/fake recognizer run in them), threads, open files, frames
captured, processed and dropped, session rows. The report gives the growth of each after a
warm-up (the first sample after ``warmup_s``), the largest capture→result latency p95 seen,
and whether every captured frame is accounted for: a row of ``frames.csv`` or a frame counted
in ``drops.csv``.
"""
from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from engines.bundle import load_bundle
from realtime.pipeline.runner import build_pipeline
from realtime.sessions.run import open_session_writer
from realtime.benchmarks.process_stats import children_rss_mb, open_files, rss_mb
from realtime.capture.sources import LoopingVideoSource


@dataclass(frozen=True)
class SoakSample:
    t_s: float
    rss_mb: float | None
    children_rss_mb: float | None  # the processes this one started (the face tracker's, the recognizer's)
    threads: int
    open_files: int | None
    captured: int
    processed: int
    dropped: int
    rows: int
    latency_p95_ms: float


def run_soak(video: str | Path, minutes: float, bundle_dir: str | None = None, record: str | Path | None = None,
             every_s: float = 10.0, warmup_s: float = 60.0, expression_model: str = "pooled",
             backend: str = "auto", out: Callable[[str], None] = print) -> dict:
    """Run the soak described in the module docstring; returns the report (samples included)."""
    bundle = load_bundle(bundle_dir)
    with tempfile.TemporaryDirectory(prefix="affectscope-soak-") as tmp:
        session = Path(record) if record is not None else Path(tmp) / "session"
        source = LoopingVideoSource(video, live=True)
        pipeline = build_pipeline(source, bundle, expression_model, backend, paced=True)
        writer = open_session_writer(pipeline, bundle, session, expression_model, record_video=True,
                                     settings={"command": "bench --soak", "backend": backend})
        pipeline.start()
        t0 = time.monotonic()
        samples: list[SoakSample] = []
        stop = threading.Event()
        try:
            while not stop.wait(max(0.0, t0 + (len(samples) + 1) * every_s - time.monotonic())):
                s = pipeline.stats()
                sample = SoakSample(round(time.monotonic() - t0, 1), rss_mb(), children_rss_mb(),
                                    threading.active_count(), open_files(),
                                    s.frames_captured, s.frames_processed, s.dropped, writer.rows,
                                    s.latency_ms["p95"])
                samples.append(sample)
                out(_sample_line(sample))
                if sample.t_s >= minutes * 60.0 or pipeline.finished:
                    break
        finally:
            pipeline.shutdown()
            writer.finish({"stats": pipeline.stats().summary(),
                           "stopped": "soak ended", "faults": [str(f) for f in pipeline.faults()]})
        captured = pipeline.capture.stats.processed
        accounted = writer.rows + writer.frames_dropped
        report = {
            "video": str(video), "minutes": minutes, "loops": source.loops, "bundle": bundle.name,
            "models": [w.name for w in pipeline.workers], "session": str(session) if record else None,
            "samples": [asdict(x) for x in samples],
            "growth_after_warmup": _growth(samples, warmup_s),
            "latency_p95_ms_max": max((x.latency_p95_ms for x in samples), default=float("nan")),
            "frames": {"captured": captured, "rows": writer.rows, "dropped_logged": writer.frames_dropped,
                       "dropped_by_capture": pipeline.capture.stats.dropped,
                       "not_accounted": captured - accounted},
            "faults": writer.meta.get("faults", []),
        }
    _print_summary(report, out)
    return report


def _growth(samples: list[SoakSample], warmup_s: float) -> dict:
    after = [x for x in samples if x.t_s >= warmup_s] or samples[-1:]
    if not after:
        return {}
    first, last = after[0], after[-1]

    def delta(a, b):
        return None if a is None or b is None else round(b - a, 2)

    return {"from_s": first.t_s, "to_s": last.t_s, "rss_mb": delta(first.rss_mb, last.rss_mb),
            "children_rss_mb": delta(first.children_rss_mb, last.children_rss_mb),
            "threads": last.threads - first.threads, "open_files": delta(first.open_files, last.open_files)}


def _sample_line(x: SoakSample) -> str:
    rss = "  n/a " if x.rss_mb is None else f"{x.rss_mb:6.0f}"
    kids = "n/a" if x.children_rss_mb is None else f"{x.children_rss_mb:.0f}"
    return (f"  {x.t_s:7.1f} s  RSS {rss} MB (+{kids} MB in child processes)  threads {x.threads:3d}  files {x.open_files}  captured {x.captured:7d}"
            f"  processed {x.processed:7d}  dropped {x.dropped:5d}  rows {x.rows:7d}  latency p95 {x.latency_p95_ms:6.1f} ms")


def _print_summary(r: dict, out: Callable[[str], None]) -> None:
    g, f = r["growth_after_warmup"], r["frames"]
    signed = lambda v: "n/a" if v is None else f"{v:+g}"  # noqa: E731
    out(f"soak — {r['video']}, {r['minutes']:g} min, {r['loops']} loops, bundle {r['bundle']}, "
        f"models: {', '.join(r['models']) or 'none'}")
    if g:
        out(f"  after warm-up ({g['from_s']:.0f}-{g['to_s']:.0f} s): RSS {signed(g['rss_mb'])} MB (child processes "
            f"{signed(g['children_rss_mb'])} MB), threads "
            f"{signed(g['threads'])}, open files {signed(g['open_files'])}")
    out(f"  frames: {f['captured']} captured, {f['rows']} recorded, {f['dropped_logged']} dropped (in drops.csv), "
        f"{f['not_accounted']} not accounted for; latency p95 at most {r['latency_p95_ms_max']:.1f} ms")
    for fault in r["faults"]:
        out(f"  fault: {fault}")
