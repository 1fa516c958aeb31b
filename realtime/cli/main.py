"""``affectscope``: the parser of every command and the one place user errors become one line."""
from __future__ import annotations

import argparse
import logging
import sys

from realtime import __version__
from realtime.cli import export, replay, report
from realtime.cli.analyze import cmd_analyze, default_jobs, jobs_argument
from realtime.cli.bench import cmd_bench
from realtime.cli.live import cmd_demo, cmd_gui, cmd_live
from realtime.cli.options import (CliError, OneLineParser, UsageError, add_model_options, add_window_options,
                                  camera_index, positive_float, positive_int)
from realtime.cli.train import COMMANDS, cmd_training


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="affectscope", description="Real-time facial affect: valence and genuine-vs-fake expression.")
    p.add_argument("--version", action="version", version=f"affectscope {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    from realtime.outlets.lsl import add_lsl_arguments

    a = sub.add_parser("analyze", help="analyze videos as fast as possible into session folders")
    a.add_argument("videos", nargs="+", metavar="VIDEO",
                   help="a video file (or a folder of images) -> the session SESSION_DIR; several videos or "
                        "folders of videos -> one session per video in SESSION_DIR/<video name>")
    a.add_argument("--out", required=True, metavar="SESSION_DIR", help="new session folder to write")
    a.add_argument("--jobs", type=jobs_argument, default=default_jobs(), metavar="N",
                   help="with several videos: how many are analysed at once, one process each")
    a.add_argument("--save-video", action="store_true", help="also store the frames as video (video.mkv) in the session")
    add_model_options(a)
    add_lsl_arguments(a, markers_in=False)
    a.set_defaults(fn=cmd_analyze)

    lv = sub.add_parser("live", help="run live on a camera or a video paced to real time")
    src = lv.add_mutually_exclusive_group(required=True)
    src.add_argument("--camera", type=camera_index, metavar="N", help="camera index")
    src.add_argument("--video", metavar="FILE", help="video file played at its frame rate")
    lv.add_argument("--record", metavar="SESSION_DIR", help="record a session folder")
    lv.add_argument("--no-video", action="store_true", help="with --record: do not store the video")
    lv.add_argument("--headless", action="store_true", help="no window: print a line of live figures per second")
    lv.add_argument("--seconds", type=positive_float, metavar="S", help="stop after S seconds")
    add_model_options(lv)
    add_window_options(lv)
    add_lsl_arguments(lv)
    lv.set_defaults(fn=cmd_live)

    d = sub.add_parser("demo", help="run on the bundled sample clip (no webcam needed)")
    d.add_argument("--headless", action="store_true", help="no window: print a line of live figures per second")
    d.add_argument("--record", metavar="SESSION_DIR", help="record a session folder")
    d.add_argument("--seconds", type=positive_float, metavar="S", help="stop after S seconds")
    add_model_options(d)
    add_window_options(d)
    d.set_defaults(fn=cmd_demo)

    g = sub.add_parser("gui", help="open the desktop app (optionally on a camera, a video or a recorded session)")
    gsrc = g.add_mutually_exclusive_group()
    gsrc.add_argument("--camera", type=camera_index, metavar="N", help="start on camera N")
    gsrc.add_argument("--video", metavar="FILE", help="start playing a video file")
    gsrc.add_argument("--session", metavar="DIR", help="open a recorded session for replay")
    g.add_argument("--record", metavar="SESSION_DIR", help="record a session folder")
    add_model_options(g)
    add_window_options(g)
    g.set_defaults(fn=cmd_gui)

    b = sub.add_parser("bench", help="measure the pipeline: throughput, per-stage latency, drops, naive peer")
    b.add_argument("--video", metavar="FILE", help="clip to use (default: one made from a real face photo)")
    b.add_argument("--seconds", type=positive_float, default=10.0, metavar="S", help="length of the paced run (default 10)")
    b.add_argument("--fps", type=positive_float, default=30.0, help="pace of the paced run (default 30)")
    b.add_argument("--json", metavar="OUT", help="also write the report as JSON")
    b.add_argument("--soak", type=positive_float, metavar="MINUTES",
                   help="instead: run live (looping the clip, default the sample clip) with both models and a "
                        "recording for MINUTES, sampling memory, threads, open files and frame counts")
    b.add_argument("--every", type=positive_float, default=10.0, metavar="S", help="--soak: seconds between samples")
    b.add_argument("--record", metavar="SESSION_DIR", help="--soak: keep the recording in this (new) folder")
    b.add_argument("--roll", action="store_true",
                   help="instead: perception on a real face photo tilted 0, ±20, ±35 and ±45 degrees (found, "
                        "landmark error, head-pose roll error, time per frame)")
    b.add_argument("--peer", choices=("mediapipe",),
                   help="instead: time perception beside MediaPipe FaceMesh on the same frames of the clip")
    b.add_argument("--peer-python", metavar="PYTHON",
                   help="--peer: the interpreter that has mediapipe installed (default: this one)")
    b.add_argument("--rounds", type=positive_int, metavar="N",
                   help="--peer: run the two in turn N times and report the medians (default 3)")
    add_model_options(b)
    b.set_defaults(fn=cmd_bench)

    for name, command, help_text in (
        ("replay", replay, "play a session back with its results, or re-analyze its video"),
        ("export", export, "export a session's frames as one CSV or Parquet table"),
        ("report", report, "write an HTML report with plots of a session"),
    ):
        sp = sub.add_parser(name, help=help_text)
        command.add_arguments(sp)
        sp.set_defaults(fn=command.run)

    for name, help_text in COMMANDS.items():
        s = sub.add_parser(name, help=help_text, add_help=False)
        s.add_argument("rest", nargs=argparse.REMAINDER)
        s.set_defaults(fn=cmd_training)
    return p


# Errors that name bad input (a file, a folder, a bundle, a session), by module and class: the
# modules are not imported here (an error of one means it has been).
_USER_ERRORS = (
    ("realtime.capture.sources", "SourceError"), ("engines.bundle", "BundleError"),
    ("realtime.perception.landmarks", "LandmarkModelError"), ("realtime.sessions.folder", "SessionError"),
    ("engines.backends.base", "BackendUnavailable"), ("realtime.reporting.report", "ReportError"),
    ("realtime.sessions.export", "ExportError"), ("realtime.sessions.batch", "BatchError"),
)


def user_error_message(exc: BaseException) -> str | None:
    """One line for an error about the user's input, or None for a fault of the program."""
    for module, name in _USER_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(exc, cls):
            return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:  # a path that cannot be read or written
        return f"{exc.filename}: {exc.strerror or exc}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if first is not None and argv[first] in COMMANDS:
        # Everything after a training command (--help included) belongs to that command's parser.
        args = parser.parse_args(argv[: first + 1])
        args.rest = argv[first + 1:]
    else:
        args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "fn", None):
        parser.print_help()
        return 2
    try:
        return int(args.fn(args) or 0)
    except UsageError as exc:
        print(f"affectscope: error: {exc} (see 'affectscope {args.command} --help')", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"affectscope: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        # what a command did not turn into a CliError itself but is still the user's input: a bad
        # file, folder, bundle or session named by the layer that found it (--verbose: the traceback)
        message = user_error_message(exc)
        if message is None or args.verbose:
            raise
        print(f"affectscope: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("affectscope: interrupted", file=sys.stderr)
        return 130

