"""``affectscope analyze VIDEO_OR_FOLDER... --out DIR [--jobs N]`` with several videos: one process each.

Every video is analysed as fast as possible (like ``affectscope analyze``) into its own session
folder ``DIR/<video stem>`` by a pool of ``--jobs`` worker processes (spawn start method: no
state, threads or open devices are inherited). One progress bar counts videos. A video that
fails (unreadable, corrupt, an existing non-empty session folder, a crash) is reported with its
error and the others go on; the exit code is 1 if any failed. ``DIR/batch.csv`` lists every video
with its session, outcome and message.

Each worker runs torch and OpenCV on one thread: ``--jobs`` processes use ``--jobs`` cores. A
worker process analyses one video and exits; it replies with JSON, so a worker that crashes
(or is killed) fails its own video only.
"""
from __future__ import annotations

import csv
import json
import multiprocessing as mp
import os
import time
from dataclasses import asdict, dataclass
from multiprocessing.connection import wait as mp_wait
from pathlib import Path

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")


class BatchError(ValueError):
    """Bad batch input (nothing to analyse, a path that does not exist)."""


@dataclass(frozen=True)
class BatchJob:
    video: str
    session: str
    bundle_dir: str | None
    expression: str
    backend: str
    landmark_model: str | None = None
    save_video: bool = False


def find_videos(paths: list[str | Path], recursive: bool = False) -> list[Path]:
    """Files given, plus the videos (by suffix) inside folders given, in a stable order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            pattern = "**/*" if recursive else "*"
            out.extend(sorted(f for f in p.glob(pattern) if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES))
        elif p.exists():
            out.append(p)
        else:
            raise BatchError(f"{p}: no such file or folder")
    seen, unique = set(), []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def session_names(videos: list[Path]) -> list[str]:
    """One folder name per video: its stem, with ``-2``, ``-3`` ... where stems repeat."""
    count: dict[str, int] = {}
    names = []
    for v in videos:
        n = count.get(v.stem, 0) + 1
        count[v.stem] = n
        names.append(v.stem if n == 1 else f"{v.stem}-{n}")
    return names


def analyze_one(job: BatchJob) -> tuple[str, bool, str]:
    """Analyse one video into its session (runs in a worker process); never raises."""
    from engines.bundle import BundleError
    from realtime.sessions.folder import SessionError
    from realtime.sessions.run import ModelSelection, run_to_session
    from realtime.capture.clip_events import ClipEvents, ClipEventsError
    from realtime.capture.sources import SourceError, VideoFileSource

    t0 = time.monotonic()
    try:
        models = ModelSelection.load(job.bundle_dir, job.expression, job.backend, job.landmark_model)
        source = VideoFileSource(job.video)
        try:
            events, note = ClipEvents.for_video(job.video, source.info.frame_count, source.info.fps), ""
        except ClipEventsError as exc:  # said in batch.csv; the video is analysed without them
            events, note = None, f"; {exc}: its events not recorded"
        done = run_to_session(source, models, job.session, paced=False, record_video=job.save_video,
                              settings={"command": "batch", "backend": job.backend}, events=events)
        if done.faults:
            return job.video, False, "; ".join(done.faults)
        return job.video, True, (f"{done.writer.rows} frames, face on {done.stats.frames_with_face}, "
                                 f"{time.monotonic() - t0:.1f} s{note}")
    except (SourceError, SessionError, BundleError) as exc:  # messages that already name the file
        return job.video, False, str(exc)
    except Exception as exc:  # noqa: BLE001 - one failing video must not stop the batch
        return job.video, False, f"{type(exc).__name__}: {exc}"


def _worker_main(job: dict, conn) -> None:
    """Entry point of a worker process: one video, one JSON reply on ``conn``."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # read by torch when a model worker imports it
        os.environ[var] = "1"
    import cv2

    cv2.setNumThreads(1)
    video, ok, msg = analyze_one(BatchJob(**job))
    conn.send_bytes(json.dumps([video, ok, msg]).encode())
    conn.close()


def _run_processes(work: list[BatchJob], jobs: int, done) -> None:
    """At most ``jobs`` worker processes at once (spawned, one per video). A worker that dies
    without replying (crash, killed) fails its own video only."""
    ctx = mp.get_context("spawn")
    pending = list(work)
    running: dict[int, tuple[BatchJob, mp.Process, object]] = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                job = pending.pop(0)
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_worker_main, args=(asdict(job), send), name=f"batch-{Path(job.video).name}",
                                   daemon=True)
                proc.start()
                send.close()
                running[proc.sentinel] = (job, proc, recv)
            for key in mp_wait(list(running), timeout=1.0):
                job, proc, recv = running.pop(key)
                proc.join()
                try:
                    video, ok, msg = json.loads(recv.recv_bytes()) if recv.poll() else (None, None, None)
                except (EOFError, OSError, ValueError):
                    video = None
                recv.close()
                if video is None:
                    done(job.video, False, f"worker process died (exit code {proc.exitcode}) before finishing")
                else:
                    done(video, bool(ok), msg)
    finally:
        for job, proc, recv in running.values():  # interrupted: stop what still runs
            proc.terminate()
            proc.join(5)
            recv.close()


def run_batch(videos: list[str | Path], out_dir: str | Path, jobs: int = 2, bundle_dir: str | None = None,
              expression: str = "pooled", backend: str = "auto", landmark_model: str | None = None,
              save_video: bool = False, progress: bool = True) -> list[tuple[str, bool, str]]:
    """Analyse ``videos`` (files, or folders of videos) in ``jobs`` processes into
    ``out_dir/<stem>``; returns (video, ok, message) per video, in input order."""
    from tqdm import tqdm

    from engines.bundle import BundleError, load_bundle

    try:
        load_bundle(bundle_dir)  # a bad bundle fails here once, not in every worker
    except BundleError as exc:
        raise BatchError(f"bad model bundle: {exc}") from None
    files = find_videos(videos)
    if not files:
        raise BatchError(f"no videos found in {', '.join(map(str, videos))} (suffixes: {', '.join(VIDEO_SUFFIXES)}; "
                         f"a folder of images is analysed as one video when it is given on its own)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = [BatchJob(str(v), str(out / name), bundle_dir, expression, backend, landmark_model, save_video)
            for v, name in zip(files, session_names(files))]
    results: dict[str, tuple[str, bool, str]] = {}
    bar = tqdm(total=len(work), unit="video", desc="analysing", disable=not progress)

    def done(video: str, ok: bool, msg: str) -> None:
        results[video] = (video, ok, msg)
        bar.update(1)
        if not ok:
            bar.write(f"failed: {video}: {msg}")

    try:
        _run_processes(work, max(1, min(int(jobs), len(work))), done)
    finally:
        bar.close()
    ordered = [results[j.video] for j in work]
    with (out / "batch.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(("video", "session", "ok", "message"))
        for j, (video, ok, msg) in zip(work, ordered):  # no session named where none was written
            w.writerow((video, j.session if ok or Path(j.session).exists() else "", int(ok), msg))
    return ordered
