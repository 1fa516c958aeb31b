"""``affectscope bench``: throughput, latency and drops; or a soak run with memory and frame counts; or
perception on tilted heads (``--roll``); or perception beside MediaPipe (``--peer mediapipe``)."""
from __future__ import annotations

import json
from pathlib import Path

from realtime.cli.options import CliError, UsageError, output_file, selected_models


# -- bench --------------------------------------------------------------------------------------
def cmd_bench(args) -> int:
    modes = [flag for flag, on in (("--soak", args.soak is not None), ("--roll", args.roll),
                                   ("--peer", args.peer is not None)) if on]
    if len(modes) > 1:
        raise UsageError(f"bench: {' and '.join(modes)} are separate runs; choose one")
    for flag, value in (("--peer-python", args.peer_python), ("--rounds", args.rounds)):
        if value is not None and args.peer is None:
            raise UsageError(f"bench: {flag} goes with --peer mediapipe")
    output_file(args.json, "--json")  # before minutes of work, not after
    if args.video is not None and not Path(args.video).is_file():
        raise CliError(f"bench: --video {args.video}: no such file")
    if args.roll:
        return _roll(args)
    selected_models(args)  # a bad bundle, backend or landmark model said in one line, before the run
    if args.soak is not None:
        return _soak(args)
    if args.peer is not None:
        return _peer(args)
    from realtime.benchmarks.bench import run_bench

    report = run_bench(video=args.video, seconds=args.seconds, bundle_dir=args.bundle,
                       expression_model=args.expression, backend=args.backend, fps=args.fps)
    _write_json(args, report)
    return 0


def _write_json(args, report) -> None:
    if args.json:
        from realtime.sessions.folder import json_safe

        Path(args.json).write_text(json.dumps(json_safe(report), indent=2, allow_nan=False) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


def _roll(args) -> int:
    from realtime.benchmarks.roll import run_roll_bench

    _write_json(args, {"rolls": run_roll_bench(n_frames=int(round(args.seconds * args.fps)))})
    return 0


def _peer(args) -> int:
    import tempfile

    from realtime.benchmarks.motion_clip import make_motion_clip
    from realtime.benchmarks.peer import PeerUnavailable, run_peer_bench
    from realtime.pipeline.runner import make_tracker

    models = selected_models(args)
    with tempfile.TemporaryDirectory(prefix="affectscope-peer-") as tmp:
        video, in_view = args.video, None
        if video is None:
            clip = make_motion_clip(n_frames=int(round(args.seconds * args.fps)), leave=(90, 150), seed=1)
            video, in_view = clip.write(Path(tmp) / "peer.mp4"), clip.visible
        try:
            report = run_peer_bench(video, make_tracker(models.bundle, models.landmark_model),
                                    python=args.peer_python, rounds=args.rounds or 3, in_view=in_view)
        except PeerUnavailable as exc:
            raise CliError(f"bench --peer mediapipe: {exc}") from None
    _write_json(args, report)
    return 0


def _soak(args) -> int:
    from realtime.pipeline.runner import SAMPLE_CLIP
    from realtime.sessions.folder import SessionError
    from realtime.benchmarks.soak import run_soak
    from realtime.capture.sources import SourceError

    try:
        report = run_soak(args.video or SAMPLE_CLIP, args.soak, bundle_dir=args.bundle, record=args.record,
                          every_s=args.every, expression_model=args.expression, backend=args.backend)
    except (SourceError, SessionError) as exc:
        raise CliError(str(exc)) from None
    _write_json(args, report)
    return 1 if report["faults"] else 0


