"""``affectscope export``: a session's frames as one CSV or Parquet table."""
from __future__ import annotations

import argparse

from realtime.cli.options import CliError, output_file, say_session_state
from realtime.sessions.export import FORMATS, PARQUET_HINT, ExportError, export_session
from realtime.sessions.folder import SessionError, read_session


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("session", metavar="SESSION", help="session folder")
    p.add_argument("--out", required=True, metavar="FILE", help="table to write (.csv or .parquet)")
    p.add_argument("--format", choices=FORMATS, help="csv or parquet (default: from the --out suffix, else csv); "
                                                     f"parquet needs pyarrow: {PARQUET_HINT}")
    p.add_argument("--no-landmarks", action="store_true", help="leave out the 136 landmark columns x0..y67")


def run(args) -> int:
    output_file(args.out, "--out")  # a missing folder or a file in the way named as such, before reading
    try:
        session = read_session(args.session)
        res = export_session(session, args.out, args.format, landmarks=not args.no_landmarks)
    except (SessionError, ExportError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{args.out}: cannot write the table ({exc.strerror or exc}); pick a file in a folder "
                       f"you can write to") from None
    say_session_state(session)
    extra = f", markers in {res.events_path}" if res.events_path else ""
    print(f"wrote {res.path}: {res.rows} rows × {len(res.columns)} columns{extra}")
    return 0
