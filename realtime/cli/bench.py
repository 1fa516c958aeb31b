"""``affectscope bench``: throughput, latency and drops, or a soak run with memory and frame counts."""
from __future__ import annotations

import json
from pathlib import Path

from realtime.cli.options import CliError


# -- bench --------------------------------------------------------------------------------------
def cmd_bench(args) -> int:
    if args.soak is not None:
        return _soak(args)
    from realtime.benchmarks.bench import run_bench

    report = run_bench(video=args.video, seconds=args.seconds, bundle_dir=args.bundle,
                       expression_model=args.expression, backend=args.backend, fps=args.fps)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
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
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 1 if report["faults"] else 0


