"""``affectscope analyze``: videos analysed as fast as possible into session folders, one or many."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from realtime.cli.options import CliError, open_source, selected_models, video_events


def cmd_analyze(args) -> int:
    if len(args.videos) > 1 or Path(args.videos[0]).is_dir() and not _is_image_folder(args.videos[0]):
        if args.lsl:
            raise CliError("--lsl publishes one live stream; analyze one video at a time with it")
        return _run_batch(args)
    from realtime.sessions.folder import SessionError
    from realtime.sessions.run import run_to_session

    models = selected_models(args)
    source = open_source(args.videos[0], live=False)
    running = []

    def on_start(pipeline, writer):
        running.append(pipeline)
        lsl = attach_lsl(args, pipeline, writer)
        return lsl.close if lsl is not None else None

    try:
        done = run_to_session(source, models, args.out, paced=False, record_video=args.save_video,
                              settings={"command": "analyze", "backend": args.backend},
                              tick=lambda: _progress(running[0]), on_start=on_start,
                              events=video_events(args.videos[0], source.info) if source.info.kind == "video" else None)
    except SessionError as exc:
        raise CliError(str(exc)) from None
    s = done.stats
    print(f"\r{args.out}: {done.writer.rows} frames, face on {s.frames_with_face}, "
          f"{s.processing_fps:.0f} fps, perception p50 {s.perception_ms['p50']:.1f} ms ({done.why})")
    return report_faults(done.faults, args.out)  # the writer's own failure (a full disk) included


def report_faults(faults: list, session: str | None) -> int:
    """Each fault on stderr (in session.json too when a session was written: ``session``, its
    folder); exit code 1 when there is any."""
    for f in faults:
        print(f"affectscope: fault: {f}", file=sys.stderr)
    if faults and session is not None:
        print(f"affectscope: {session}: the session is written but not whole; see 'faults' in its session.json",
              file=sys.stderr)
    elif faults:
        print("affectscope: the run had faults (above); nothing was recorded (--record DIR keeps a session)",
              file=sys.stderr)
    return 1 if faults else 0


def _is_image_folder(path: str) -> bool:
    from realtime.capture.sources import IMAGE_SUFFIXES

    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in Path(path).iterdir())


def attach_lsl(args, pipeline, writer):
    if not (getattr(args, "lsl", False) or getattr(args, "lsl_markers", None)):
        return None
    from realtime.outlets.lsl import LSLUnavailable, attach_lsl as _attach
    from realtime.pipeline.runner import print_line

    try:
        lsl = _attach(pipeline, writer, publish=args.lsl, markers_from=getattr(args, "lsl_markers", None),
                         name=args.lsl_name)
    except (LSLUnavailable, ValueError) as exc:
        pipeline.shutdown()
        raise CliError(str(exc)) from None
    print_line(lsl.describe())
    return lsl


def _progress(pipeline) -> None:
    n = pipeline.source.info.frame_count
    done = pipeline.perception.stats.processed
    if n:
        print(f"\ranalyzing: {done}/{n} frames ({100 * done / n:.0f} %)", end="", file=sys.stderr, flush=True)


def default_jobs() -> int:
    return min(4, os.cpu_count() or 1)


def jobs_argument(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes (1, 2, ...)")
    return int(text)


def _run_batch(args) -> int:
    """Several videos (or folders of them): one session each, in processes, listed in batch.csv."""
    from realtime.sessions.batch import BatchError, run_batch

    try:
        results = run_batch(args.videos, args.out, args.jobs, args.bundle, args.expression, args.backend,
                            args.landmark_model, args.save_video)
    except BatchError as exc:
        raise CliError(str(exc)) from None
    failed = [r for r in results if not r[1]]
    print(f"{len(results) - len(failed)} of {len(results)} videos analysed into {args.out} (list: "
          f"{Path(args.out) / 'batch.csv'})")
    for video, _, msg in failed:
        print(f"  failed: {video}: {msg}")
    return 1 if failed else 0
