"""``affectscope live``, ``demo`` and ``gui``: a camera or a paced video, headless or in the window."""
from __future__ import annotations

import sys

from realtime.cli.analyze import attach_lsl, report_faults
from realtime.cli.options import CliError, UsageError, open_source, selected_models, video_events


def _no_screen() -> bool:
    """True on Linux without an X or Wayland display and no Qt platform chosen (e.g. over ssh)."""
    import os

    return (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"))


def _headless_fallback(args) -> None:
    if not args.headless and _no_screen() and not args.screenshot:
        print("affectscope: no screen found (no DISPLAY); running headless. Use --headless to say so, "
              "or set QT_QPA_PLATFORM=offscreen for the window off screen.", file=sys.stderr)
        args.headless = True


def cmd_live(args) -> int:
    _headless_fallback(args)
    if not args.headless:
        return _gui(["--camera", str(args.camera)] if args.camera is not None else ["--video", args.video], args)
    for flag, value in (("--screenshot", args.screenshot), ("--quit-after", args.quit_after),
                        ("--stall-report", args.stall_report)):
        if value is not None:
            raise UsageError(f"{flag} goes with the window; drop --headless"
                             + (" (headless, --seconds S stops after S seconds)" if flag == "--quit-after" else ""))
    if args.no_video and not args.record:
        raise UsageError("--no-video goes with --record (nothing is recorded without it)")
    from realtime.pipeline.runner import LatestResult, print_line, run_until_done, status_line
    from realtime.sessions.folder import SessionError
    from realtime.sessions.run import run_to_session

    models = selected_models(args)
    source = open_source(args.camera if args.camera is not None else args.video, live=True)
    latest = LatestResult()
    run: dict = {}
    events = video_events(args.video, source.info) if args.video is not None else None

    def on_start(pipeline, writer):
        run["pipeline"], run["writer"] = pipeline, writer
        pipeline.subscribe(latest)
        lsl = attach_lsl(args, pipeline, writer)
        info = source.info
        print_line(f"affectscope {args.command}: {info.kind} {info.uri} {info.width}x{info.height} @ {info.fps:.1f} fps, "
                   f"bundle {models.bundle.name}, expression model {args.expression}"
                   f"{', models: ' + ', '.join(w.name for w in pipeline.workers) if pipeline.workers else ', perception only'}")
        return lsl.close if lsl is not None else None

    said, shown = [], [""]

    def show_status(pipeline) -> None:
        r = latest.result
        for t, label in events.due(r.media_s) if events is not None and r is not None else ():
            print_line(f"t={t:7.2f}s event: {label}")  # the video's own, at their time in it
        line = status_line(pipeline, latest)
        if line != shown[0]:  # the last tick may have said it already
            print_line(line)
            shown[0] = line

    def tick() -> None:
        show_status(run["pipeline"])
        writer = run["writer"]
        if writer is not None and writer.failure and not said:  # within a second of the failed write
            said.append(writer.failure)
            print(f"affectscope: error: {writer.failure}", file=sys.stderr, flush=True)
        elif writer is not None and writer.behind:
            print(f"affectscope: warning: {writer.behind}", file=sys.stderr, flush=True)

    if args.record:
        try:
            done = run_to_session(source, models, args.record, paced=True, record_video=not args.no_video,
                                  settings={"command": "live", "backend": args.backend}, seconds=args.seconds,
                                  tick=tick, on_start=on_start, events=events and events.again())
        except SessionError as exc:
            raise CliError(str(exc)) from None
        why, faults = done.why, done.faults
        show_status(done.pipeline)
        print_line(f"recorded {done.writer.rows} frames to {args.record}")
    else:
        pipeline = models.pipeline(source, paced=True)
        close = on_start(pipeline, None)
        try:
            why = run_until_done(pipeline, seconds=args.seconds, tick=tick)
        finally:
            if close is not None:
                close()
        faults = pipeline.faults()
        show_status(pipeline)
    print_line(f"stopped: {why}")
    return report_faults(faults, args.record)


def cmd_demo(args) -> int:
    from realtime.pipeline.runner import SAMPLE_CLIP

    if not SAMPLE_CLIP.is_file():
        raise CliError(f"{SAMPLE_CLIP}: the bundled sample clip is missing; reinstall affectscope")
    args.video, args.camera, args.no_video = str(SAMPLE_CLIP), None, False
    _headless_fallback(args)
    if not args.headless:
        return _gui(["--demo"], args)
    return cmd_live(args)


def cmd_gui(args) -> int:
    if args.camera is not None:
        source = ["--camera", str(args.camera)]
    elif args.video:
        source = ["--video", args.video]
    elif args.session:
        source = ["--session", args.session]
    else:
        source = []
    return _gui(source, args)


def _gui(source_args: list[str], args) -> int:
    try:
        from gui import app  # the one place the command line reaches the window (see pyproject's contracts)
    except ImportError as exc:
        raise CliError(f"the desktop app cannot start ({exc}); run with --headless") from None
    return int(app.main(source_args, args) or 0)
