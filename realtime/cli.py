"""The ``affectscope`` command line.

Commands that need ``gui`` or ``training`` import them inside their own function, so that the
pipeline never depends on either package (DESIGN.md §1).
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from pathlib import Path

from realtime import __version__

log = logging.getLogger("affectscope")


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments: one line naming the problem (and where to get help), exit code 2."""

    def error(self, message: str):  # noqa: D401
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class CliError(Exception):
    """An error the user can act on: printed as one line, exit code 1."""


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return v


def _camera_index(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a camera index (0, 1, ...)")
    return int(text)


def _expression(text: str) -> str:
    from engines.expressions import EXPRESSION_MODELS

    if text not in EXPRESSION_MODELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not an expression model; choose from {', '.join(EXPRESSION_MODELS)}")
    return text


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", metavar="DIR", help="model bundle folder (default: the bundle shipped with affectscope)")
    p.add_argument("--expression", type=_expression, default="pooled", metavar="NAME",
                   help="genuine/fake expression model: pooled (default) or anger, contentment, disgust, "
                        "happiness, sadness, surprise")
    p.add_argument("--backend", default="auto", choices=("auto", "eager", "compile", "onnxruntime", "tensorrt"),
                   help="valence inference backend (default: auto, the fastest available)")
    p.add_argument("--landmark-model", metavar="FILE", help="dlib 68-point model file (default: face_recognition_models')")


def _load_bundle(args):
    from engines.bundle import BundleError, load_bundle

    try:
        return load_bundle(args.bundle)
    except BundleError as exc:
        raise CliError(f"bad model bundle: {exc}") from None


def _open(spec, live: bool):
    from realtime.sources import SourceError, open_source

    try:
        return open_source(spec, live=live)
    except SourceError as exc:
        raise CliError(str(exc)) from None


# -- analyze ------------------------------------------------------------------------------------
def cmd_analyze(args) -> int:
    if len(args.videos) > 1 or Path(args.videos[0]).is_dir() and not _is_image_folder(args.videos[0]):
        if args.lsl:
            raise CliError("--lsl publishes one live stream; analyze one video at a time with it")
        from realtime import batch

        return batch.run(args)
    from realtime.runner import build_pipeline, open_session_writer, run_until_done
    from realtime.session import SessionError

    bundle = _load_bundle(args)
    source = _open(args.videos[0], live=False)
    pipeline = build_pipeline(source, bundle, args.expression, args.backend, paced=False,
                              landmark_model=args.landmark_model)
    try:
        writer = open_session_writer(pipeline, bundle, args.out, args.expression, args.save_video,
                                     settings={"command": "analyze", "backend": args.backend})
    except SessionError as exc:
        pipeline.shutdown()
        raise CliError(str(exc)) from None
    lsl = _attach_lsl(args, pipeline, writer)
    why = run_until_done(pipeline, tick=lambda: _progress(pipeline))
    if lsl is not None:
        lsl.close()
    s = pipeline.stats()
    writer.finish({"stats": _summary(s), "stopped": why, "faults": pipeline.faults()})
    faults = writer.meta["faults"]  # the writer's own failure (a full disk) included
    print(f"\r{args.out}: {writer.rows} frames, face on {s['frames_with_face']}, "
          f"{s['processing_fps']:.0f} fps, perception p50 {s['perception_ms']['p50']:.1f} ms ({why})")
    return _report_faults(faults, args.out)


def _report_faults(faults: list[str], session) -> int:
    """Each fault on stderr (they are in session.json too); exit code 1 when there is any."""
    for f in faults:
        print(f"affectscope: fault: {f}", file=sys.stderr)
    if faults:
        print(f"affectscope: {session}: the session is written but not whole; see 'faults' in its session.json",
              file=sys.stderr)
    return 1 if faults else 0


def _is_image_folder(path: str) -> bool:
    from realtime.sources import IMAGE_SUFFIXES

    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in Path(path).iterdir())


def _attach_lsl(args, pipeline, writer):
    if not (getattr(args, "lsl", False) or getattr(args, "lsl_markers", None)):
        return None
    from realtime.lsl import LSLUnavailable, attach_lsl
    from realtime.runner import print_line

    try:
        lsl = attach_lsl(pipeline, writer, publish=args.lsl, markers_from=getattr(args, "lsl_markers", None),
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


def _summary(s: dict) -> dict:
    return {k: s[k] for k in ("frames_captured", "frames_processed", "frames_with_face", "dropped", "failed",
                              "perception_ms", "latency_ms")}


# -- live / demo --------------------------------------------------------------------------------
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
    if args.screenshot:
        raise CliError("--screenshot needs the window; drop --headless")
    from realtime.runner import LatestResult, build_pipeline, open_session_writer, print_line, run_until_done, status_line
    from realtime.session import SessionError

    bundle = _load_bundle(args)
    source = _open(args.camera if args.camera is not None else args.video, live=True)
    pipeline = build_pipeline(source, bundle, args.expression, args.backend, paced=True,
                              landmark_model=args.landmark_model)
    writer = None
    if args.record:
        try:
            writer = open_session_writer(pipeline, bundle, args.record, args.expression, not args.no_video,
                                         settings={"command": "live", "backend": args.backend})
        except SessionError as exc:
            pipeline.shutdown()
            raise CliError(str(exc)) from None
    latest = LatestResult()
    pipeline.subscribe(latest)
    lsl = _attach_lsl(args, pipeline, writer)
    print_line(f"affectscope live: {source.info.kind} {source.info.uri} {source.info.width}x{source.info.height} "
               f"@ {source.info.fps:.1f} fps, bundle {bundle.name}, expression model {args.expression}"
               f"{', models: ' + ', '.join(w.name for w in pipeline.workers) if pipeline.workers else ', perception only'}")
    said = []

    def tick() -> None:
        print_line(status_line(pipeline, latest))
        if writer is not None and writer.failure and not said:  # within a second of the failed write
            said.append(writer.failure)
            print(f"affectscope: error: {writer.failure}", file=sys.stderr, flush=True)
        elif writer is not None and writer.behind:
            print(f"affectscope: warning: {writer.behind}", file=sys.stderr, flush=True)

    why = run_until_done(pipeline, seconds=args.seconds, tick=tick)
    print_line(status_line(pipeline, latest))
    if lsl is not None:
        lsl.close()
    faults = pipeline.faults()
    if writer is not None:
        writer.finish({"stats": _summary(pipeline.stats()), "stopped": why, "faults": faults})
        faults = writer.meta["faults"]
        print_line(f"recorded {writer.rows} frames to {args.record}")
    print_line(f"stopped: {why}")
    return _report_faults(faults, args.record or "live run")


def cmd_demo(args) -> int:
    from realtime.runner import SAMPLE_CLIP

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
        gui_app = importlib.import_module("gui.app")
    except ImportError as exc:
        raise CliError(f"the desktop app cannot start ({exc}); run with --headless") from None
    return int(gui_app.main(source_args, args) or 0)


def _window_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window (with --quit-after)")
    p.add_argument("--quit-after", type=_positive_float, metavar="SECONDS", help="close the window after SECONDS")


# -- bench --------------------------------------------------------------------------------------
def cmd_bench(args) -> int:
    if args.soak is not None:
        return _soak(args)
    from realtime.bench import run_bench

    report = run_bench(video=args.video, seconds=args.seconds, bundle_dir=args.bundle,
                       expression_model=args.expression, backend=args.backend, fps=args.fps)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def _soak(args) -> int:
    from realtime.runner import SAMPLE_CLIP
    from realtime.session import SessionError
    from realtime.soak import run_soak
    from realtime.sources import SourceError

    try:
        report = run_soak(args.video or SAMPLE_CLIP, args.soak, bundle_dir=args.bundle, record=args.record,
                          every_s=args.every, expression_model=args.expression, backend=args.backend)
    except (SourceError, SessionError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 1 if report["faults"] else 0


# -- commands that live in the training package -------------------------------------------------
_DELEGATED = {
    "synth": ("training.synth.layouts", "make synthetic expression videos (SASE-FE or RECOLA layout)"),
    "preprocess": ("training.preprocess", "videos -> cached landmark sequences and aligned crop clips"),
    "train": (None, "train a model: train lstmpb | train xgb | train sta"),
    "evaluate": ("training.evaluate", "evaluate a bundle on a dataset"),
}
_TRAINERS = {"lstmpb": "training.train_lstmpb", "xgb": "training.train_xgb", "sta": "training.train_sta"}


def cmd_delegated(args) -> int:
    module = _DELEGATED[args.command][0]
    rest = list(args.rest)
    prog = f"affectscope {args.command}"
    if args.command == "train":
        if not rest or rest[0] not in _TRAINERS:
            raise CliError(f"train needs a model: {' | '.join(_TRAINERS)} (e.g. 'affectscope train sta --help')")
        module, prog = _TRAINERS[rest[0]], f"affectscope train {rest[0]}"
        rest = rest[1:]
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise CliError(f"'{prog}' is not available in this build ({exc})") from None
    parser = OneLineParser(prog=prog, description=(mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else None)
    mod.add_arguments(parser)
    args_rest = parser.parse_args(rest)
    try:
        return int(mod.run(args_rest) or 0)
    except (ValueError, FileNotFoundError) as exc:
        # bad input named by the training code: a missing cache (CacheError), a wrong bundle
        # (BundleError), an empty selection; --verbose keeps the traceback
        if args.verbose:
            raise
        raise CliError(f"{prog.removeprefix('affectscope ')}: {exc}") from None


def _run_module(module: str):
    return lambda args: int(importlib.import_module(module).run(args) or 0)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="affectscope", description="Real-time facial affect: valence and genuine-vs-fake expression.")
    p.add_argument("--version", action="version", version=f"affectscope {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)

    from realtime.batch import default_jobs, jobs_argument
    from realtime.lsl import add_lsl_arguments

    a = sub.add_parser("analyze", help="analyze videos as fast as possible into session folders")
    a.add_argument("videos", nargs="+", metavar="VIDEO",
                   help="a video file (or a folder of images) -> the session SESSION_DIR; several videos or "
                        "folders of videos -> one session per video in SESSION_DIR/<video name>")
    a.add_argument("--out", required=True, metavar="SESSION_DIR", help="new session folder to write")
    a.add_argument("--jobs", type=jobs_argument, default=default_jobs(), metavar="N",
                   help="with several videos: how many are analysed at once, one process each")
    a.add_argument("--save-video", action="store_true", help="also store the frames as video (video.mkv) in the session")
    _model_options(a)
    add_lsl_arguments(a, markers_in=False)
    a.set_defaults(fn=cmd_analyze)

    lv = sub.add_parser("live", help="run live on a camera or a video paced to real time")
    src = lv.add_mutually_exclusive_group(required=True)
    src.add_argument("--camera", type=_camera_index, metavar="N", help="camera index")
    src.add_argument("--video", metavar="FILE", help="video file played at its frame rate")
    lv.add_argument("--record", metavar="SESSION_DIR", help="record a session folder")
    lv.add_argument("--no-video", action="store_true", help="with --record: do not store the video")
    lv.add_argument("--headless", action="store_true", help="no window: print a line of live figures per second")
    lv.add_argument("--seconds", type=_positive_float, metavar="S", help="stop after S seconds")
    _model_options(lv)
    _window_options(lv)
    add_lsl_arguments(lv)
    lv.set_defaults(fn=cmd_live)

    d = sub.add_parser("demo", help="run on the bundled sample clip (no webcam needed)")
    d.add_argument("--headless", action="store_true", help="no window: print a line of live figures per second")
    d.add_argument("--record", metavar="SESSION_DIR", help="record a session folder")
    d.add_argument("--seconds", type=_positive_float, metavar="S", help="stop after S seconds")
    _model_options(d)
    _window_options(d)
    d.set_defaults(fn=cmd_demo)

    g = sub.add_parser("gui", help="open the desktop app (optionally on a camera, a video or a recorded session)")
    gsrc = g.add_mutually_exclusive_group()
    gsrc.add_argument("--camera", type=_camera_index, metavar="N", help="start on camera N")
    gsrc.add_argument("--video", metavar="FILE", help="start playing a video file")
    gsrc.add_argument("--session", metavar="DIR", help="open a recorded session for replay")
    g.add_argument("--record", metavar="SESSION_DIR", help="record a session folder")
    _model_options(g)
    _window_options(g)
    g.set_defaults(fn=cmd_gui)

    b = sub.add_parser("bench", help="measure the pipeline: throughput, per-stage latency, drops, naive peer")
    b.add_argument("--video", metavar="FILE", help="clip to use (default: one made from a real face photo)")
    b.add_argument("--seconds", type=_positive_float, default=10.0, metavar="S", help="length of the paced run (default 10)")
    b.add_argument("--fps", type=_positive_float, default=30.0, help="pace of the paced run (default 30)")
    b.add_argument("--json", metavar="OUT", help="also write the report as JSON")
    b.add_argument("--soak", type=_positive_float, metavar="MINUTES",
                   help="instead: run live (looping the clip, default the sample clip) with both models and a "
                        "recording for MINUTES, sampling memory, threads, open files and frame counts")
    b.add_argument("--every", type=_positive_float, default=10.0, metavar="S", help="--soak: seconds between samples")
    b.add_argument("--record", metavar="SESSION_DIR", help="--soak: keep the recording in this (new) folder")
    _model_options(b)
    b.set_defaults(fn=cmd_bench)

    for name, module, help_text in (
        ("replay", "realtime.replay", "play a session back with its results, or re-analyze its video"),
        ("export", "realtime.export", "export a session's frames as one CSV or Parquet table"),
        ("report", "realtime.report", "write an HTML report with plots of a session"),
    ):
        sp = sub.add_parser(name, help=help_text)
        importlib.import_module(module).add_arguments(sp)
        sp.set_defaults(fn=_run_module(module))

    for name, (_, help_text) in _DELEGATED.items():
        s = sub.add_parser(name, help=help_text, add_help=False)
        s.add_argument("rest", nargs=argparse.REMAINDER)
        s.set_defaults(fn=cmd_delegated)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if first is not None and argv[first] in _DELEGATED:
        # Everything after a delegated command (--help included) belongs to that command's parser.
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
        return args.fn(args)
    except CliError as exc:
        print(f"affectscope: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("affectscope: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
