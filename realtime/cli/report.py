"""``affectscope report``: an HTML report with plots of a session."""
from __future__ import annotations

import argparse

from realtime.cli.options import CliError, say_session_state
from realtime.reporting.report import ReportError, build_report, plural
from realtime.sessions.folder import SessionError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session", metavar="SESSION", help="session folder")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for report.html and its PNG plots")


def run(args) -> int:
    try:
        rep = build_report(args.session, args.out)
    except (SessionError, ReportError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{args.out}: cannot write the report ({exc.strerror or exc})") from None
    s = rep.session
    say_session_state(s)
    n_seg = len(rep.segments)
    print(f"wrote {rep.html} ({len(s)} frames, {plural(len(s.events), 'marker')}, {plural(n_seg, 'segment')}) "
          f"and {', '.join(p.name for p in rep.pngs)}")
    return 0
