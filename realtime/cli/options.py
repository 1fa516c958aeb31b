"""What every command line shares: the parser that fails in one line, the user-facing error, the
argument types and the option groups (model choice, window)."""
from __future__ import annotations

import argparse
import math
import sys


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments: one line naming the problem (and where to get help), exit code 2."""

    def error(self, message: str):  # noqa: D401
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class CliError(Exception):
    """An error the user can act on: printed as one line, exit code 1."""


class UsageError(CliError):
    """Arguments that do not go together (a bad command line, like the parser's own errors): one
    line and where to get help, exit code 2."""


def output_file(path: str | None, flag: str) -> None:
    """Refuse, before any work, an output file that cannot be written (``output_file_problem``)."""
    from realtime.sessions.folder import output_file_problem

    problem = None if path is None else output_file_problem(path)
    if problem is not None:
        raise CliError(f"{flag} {path}: {problem}")


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return v


def non_negative_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number >= 0")
    return v


def positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number > 0")
    return int(text)


def camera_index(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a camera index (0, 1, ...)")
    return int(text)


def expression_model(text: str) -> str:
    from engines.expressions import EXPRESSION_MODELS

    if text not in EXPRESSION_MODELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not an expression model; choose from {', '.join(EXPRESSION_MODELS)}")
    return text


def add_model_options(p: argparse.ArgumentParser) -> None:
    """--bundle, --expression, --backend, --landmark-model: the model choice of every analysing command."""
    p.add_argument("--bundle", metavar="DIR", help="model bundle folder (default: the bundle shipped with affectscope)")
    p.add_argument("--expression", type=expression_model, default="pooled", metavar="NAME",
                   help="genuine/fake expression model: pooled (default) or anger, contentment, disgust, "
                        "happiness, sadness, surprise")
    p.add_argument("--backend", default="auto", choices=("auto", "eager", "compile", "onnxruntime", "tensorrt"),
                   help="valence inference backend (default: auto, the fastest available)")
    p.add_argument("--landmark-model", metavar="FILE",
                   help="dlib 68-point model file (default: the one of the face_recognition_models package)")


def add_window_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window (with --quit-after)")
    p.add_argument("--quit-after", type=positive_float, metavar="SECONDS", help="close the window SECONDS after the source starts playing")
    p.add_argument("--stall-report", metavar="JSON",
                   help="measure the window's event loop (a 10 ms timer's lateness; stalls over 50 ms) and write "
                        "the figures to JSON when the window closes")


def selected_models(args):
    """The :class:`~realtime.sessions.run.ModelSelection` of the model options (see add_model_options)."""
    from engines.backends import BackendUnavailable
    from engines.bundle import BundleError
    from realtime.perception.landmarks import LandmarkModelError
    from realtime.sessions.run import ModelSelection

    try:
        return ModelSelection.load(args.bundle, args.expression, args.backend, args.landmark_model)
    except BundleError as exc:
        raise CliError(f"bad model bundle: {exc}") from None
    except BackendUnavailable as exc:
        raise CliError(f"--backend {args.backend}: {exc}") from None
    except LandmarkModelError as exc:
        raise CliError(f"--landmark-model: {exc}") from None


def open_source(spec, live: bool):
    from realtime.capture.sources import SourceError, open_source as open_

    try:
        return open_(spec, live=live)
    except SourceError as exc:
        raise CliError(str(exc)) from None


def say_session_state(session) -> None:
    """Before a command's own output: that a session was cut off, and what in it looks edited or
    damaged (lines that were not read, time going back)."""
    if session.cut_off:
        from realtime.reporting.report import status_text

        print(f"{session.root}: {status_text(session)}", flush=True)
    for note in session.notes:
        print(f"affectscope: note: {note}", file=sys.stderr, flush=True)


def video_events(video: str, info):
    """The events file beside a video (``STEM_events.csv``), if it has one; one that cannot be read
    is said, and the video plays without it."""
    from realtime.capture.clip_events import ClipEvents, ClipEventsError

    try:
        return ClipEvents.for_video(video, info.frame_count, info.fps)
    except ClipEventsError as exc:
        print(f"affectscope: warning: {exc}: the video plays without its events", file=sys.stderr, flush=True)
        return None
