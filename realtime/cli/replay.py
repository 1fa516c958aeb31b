"""``affectscope replay``: a session played back with its results (to the terminal and LSL), or its
video re-analysed with the current models into a new session."""
from __future__ import annotations

import argparse
import signal
import sys
import threading

import numpy as np

from realtime.cli.analyze import report_faults
from realtime.cli.options import (CliError, UsageError, add_model_options, non_negative_float, say_session_state,
                                  selected_models)
from realtime.sessions.replay import SessionPlayer, play, reanalyze
from realtime.sessions.folder import Session, SessionError, read_session


def _speed(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if v < 0 or not np.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0 (0: as fast as possible)")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    from realtime.outlets.lsl import add_lsl_arguments

    p.add_argument("session", metavar="SESSION", help="session folder to play back")
    p.add_argument("--speed", type=_speed, default=1.0, metavar="X",
                   help="playback speed factor (default 1 = recorded timing; 0 = as fast as possible)")
    p.add_argument("--from", dest="start", type=non_negative_float, default=None, metavar="S",
                   help="start at S seconds of the session")
    p.add_argument("--reanalyze", action="store_true",
                   help="run the current bundle on the session's video into a new session (needs --out)")
    p.add_argument("--out", metavar="NEW_SESSION", help="with --reanalyze: the new session folder")
    p.add_argument("--save-video", action="store_true", help="with --reanalyze: also store the video in the new session")
    add_lsl_arguments(p, markers_in=False)
    add_model_options(p)


def run(args) -> int:
    from realtime.outlets.lsl import LSLOutlet, LSLUnavailable

    if args.reanalyze and not args.out:
        raise UsageError("--reanalyze needs --out NEW_SESSION (the folder for the new session)")
    if args.out and not args.reanalyze:
        raise UsageError("--out is for --reanalyze; plain replay writes nothing")
    if args.start is not None and args.reanalyze:
        raise UsageError("--from is for replay; --reanalyze runs the whole video")
    try:
        session = read_session(args.session)
    except SessionError as exc:
        raise CliError(str(exc)) from None
    say_session_state(session)
    outlet = None
    try:
        if args.lsl:
            outlet = LSLOutlet(args.lsl_name, fps=float(session.meta.get("source", {}).get("fps") or 30.0),
                               source_id=f"affectscope-replay-{session.root.name}")
            print(f"publishing LSL streams {args.lsl_name!r} and {args.lsl_name + '-markers'!r}", flush=True)
    except LSLUnavailable as exc:
        raise CliError(str(exc)) from None
    try:
        if args.reanalyze:
            return _run_reanalyze(args, session, outlet)
        return _run_replay(args, session, outlet)
    finally:
        if outlet is not None:
            outlet.close()


def _run_replay(args, session: Session, outlet) -> int:
    from realtime.reporting.report import plural

    player = SessionPlayer(session, speed=args.speed)
    if args.start is not None:
        if args.start > player.end_s:
            player.close()
            raise CliError(f"--from {args.start:g}: the session ends at {player.end_s:.2f} s")
        player.seek(args.start)
    print(f"replaying {session.root}: {len(player)} rows, {player.start_s:.2f}–{player.end_s:.2f} s, "
          f"{plural(len(session.events), 'marker')}, video {'yes' if player.has_video else 'no'}, speed "
          f"{'max' if args.speed == 0 else f'{args.speed:g}x'}", flush=True)
    if player.video_note:
        print(f"note: {player.video_note}", flush=True)
    stop = threading.Event()
    old = signal.signal(signal.SIGINT, lambda *_: stop.set()) if threading.current_thread() is threading.main_thread() else None
    try:
        on_marker = [lambda label, t_s: outlet.push_marker(label)] if outlet else []  # stamped now, as played
        stats = play(player, [outlet] if outlet else [], on_marker, stop=stop)
    finally:
        player.close()
        if old is not None:
            signal.signal(signal.SIGINT, old)
    print(f"replayed {stats.rows} rows ({stats.images} with image), {plural(stats.markers, 'marker')} ({stats.stopped})", flush=True)
    return 0


def _run_reanalyze(args, session: Session, outlet) -> int:
    models = selected_models(args)

    def progress():
        print(f"\rre-analysing {session.root.name}…", end="", file=sys.stderr, flush=True)

    try:
        done = reanalyze(session, args.out, models, args.save_video, [outlet] if outlet else [], tick=progress)
    except SessionError as exc:
        raise CliError(str(exc)) from None
    print(f"\r{args.out}: re-analysed {done.writer.rows} frames of {session.root} with bundle {models.bundle.name} "
          f"({done.why})", flush=True)
    return report_faults(done.faults, args.out)
