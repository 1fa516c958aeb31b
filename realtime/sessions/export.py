"""``affectscope export SESSION --format csv|parquet --out FILE``: a session's frames as one table.

The table holds every ``frames.csv`` column in its order (``--no-landmarks`` leaves out the 136
landmark columns), one row per readable frame: a half-written last row of a cut-off session is
left out. Integer columns (frame, face, box, valence_updated) are integers, the others floats;
empty cells stay empty (CSV) or null (Parquet).

- CSV: floats written with the shortest text that reads back to the same number. Markers go to
  a sidecar ``FILE-stem.events.csv`` (``t_s,label``) when the session has any.
- Parquet (optional extra ``parquet``: ``pip install affectscope[parquet]``): typed columns; the
  session metadata and markers ride along as key-value metadata of the file
  (``affectscope.session``, ``affectscope.events``, JSON).
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime.sessions.folder import COLUMNS, Session, read_session

FORMATS = ("csv", "parquet")
INT_COLUMNS = frozenset(("frame", "face", "box_x", "box_y", "box_w", "box_h", "valence_updated", "good"))
LANDMARK_COLUMNS = frozenset(c for c in COLUMNS if c[0] in "xy" and c[1:].isdigit())
PARQUET_HINT = "pip install affectscope[parquet]"


class ExportError(RuntimeError):
    """An export that cannot be written; the message says why and what to do."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int
    columns: tuple[str, ...]
    events_path: Path | None  # CSV sidecar with the markers (None without markers or for Parquet)


def _cell(name: str, v: float) -> str:
    if math.isnan(v):
        return ""
    if name in INT_COLUMNS:
        return str(int(v))
    return repr(float(v))  # shortest round-trip text


def _require_pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError(f"Parquet export needs pyarrow, which is not installed: {PARQUET_HINT}") from None
    return pa, pq


def export_columns(landmarks: bool = True) -> tuple[str, ...]:
    return COLUMNS if landmarks else tuple(c for c in COLUMNS if c not in LANDMARK_COLUMNS)


def export_session(session: Session | str | Path, out: str | Path, fmt: str | None = None,
                   landmarks: bool = True) -> ExportResult:
    """Write the session's frames table to ``out`` as ``fmt`` (default: from the suffix, else csv)."""
    session = session if isinstance(session, Session) else read_session(session)
    out = Path(out)
    fmt = fmt or ("parquet" if out.suffix.lower() in (".parquet", ".pq") else "csv")
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    if out.resolve().parent == session.root.resolve() and out.name in ("frames.csv", "events.csv", "session.json"):
        raise ExportError(f"{out}: would overwrite the session's own file; pick another --out")
    if out.is_dir():
        raise ExportError(f"{out}: is a folder; --out names the file to write")
    out.parent.mkdir(parents=True, exist_ok=True)
    cols = export_columns(landmarks)
    if fmt == "csv":
        return _write_csv(session, out, cols)
    return _write_parquet(session, out, cols)


def _write_csv(session: Session, out: Path, cols: tuple[str, ...]) -> ExportResult:
    data = [session.data[c] for c in cols]
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for i in range(len(session)):
            w.writerow([_cell(c, float(col[i])) for c, col in zip(cols, data)])
    events_path = None
    if session.events:
        events_path = out.with_name(out.stem + ".events.csv")
        with events_path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(("t_s", "label"))
            for ts, label in session.events:
                w.writerow((repr(float(ts)), label))
    return ExportResult(out, len(session), cols, events_path)


def _write_parquet(session: Session, out: Path, cols: tuple[str, ...]) -> ExportResult:
    pa, pq = _require_pyarrow()
    arrays = []
    for c in cols:
        v = session.data[c]
        mask = np.isnan(v)
        if c in INT_COLUMNS:
            arrays.append(pa.array(np.where(mask, 0, v).astype(np.int64), type=pa.int64(), mask=mask))
        else:
            arrays.append(pa.array(v, type=pa.float64(), mask=mask))
    meta = {
        "affectscope.session": json.dumps(session.meta),
        "affectscope.events": json.dumps([[ts, label] for ts, label in session.events]),
    }
    table = pa.Table.from_arrays(arrays, names=list(cols)).replace_schema_metadata(meta)
    pq.write_table(table, out)
    return ExportResult(out, len(session), cols, None)


def read_table(path: str | Path) -> tuple[dict[str, np.ndarray], list[tuple[float, str]]]:
    """An exported table back as column -> float64 array (NaN where empty) and its markers."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        pa, pq = _require_pyarrow()
        table = pq.read_table(path)
        data = {name: np.asarray(table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)
                for name in table.column_names}
        raw = (table.schema.metadata or {}).get(b"affectscope.events", b"[]")
        return data, [(float(ts), str(label)) for ts, label in json.loads(raw)]
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise ExportError(f"{path}: empty file")
    header, body = rows[0], rows[1:]
    data = {name: np.array([float(r[j]) if r[j] != "" else np.nan for r in body], np.float64)
            for j, name in enumerate(header)}
    events: list[tuple[float, str]] = []
    side = path.with_name(path.stem + ".events.csv")
    if side.is_file():
        with side.open(newline="", encoding="utf-8") as fh:
            events = [(float(t), label) for t, label in list(csv.reader(fh))[1:]]
    return data, events
