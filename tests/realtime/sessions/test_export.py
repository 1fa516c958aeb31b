import csv
import json
import sys

import numpy as np
import pytest
from recorded_sessions import EVENTS, write_affect_session

from realtime.cli import CliError, OneLineParser
from realtime.cli.export import add_arguments, run
from realtime.sessions.export import INT_COLUMNS, LANDMARK_COLUMNS, ExportError, export_session, read_table
from realtime.sessions.folder import COLUMNS, read_session


@pytest.fixture
def session(tmp_path):
    write_affect_session(tmp_path / "s", n=60, video=False)
    return read_session(tmp_path / "s")


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(a, b, equal_nan=True)


def test_csv_round_trips_every_column(session, tmp_path):
    res = export_session(session, tmp_path / "out" / "table.csv")
    assert res.rows == 60 and res.columns == COLUMNS
    with res.path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 61
    assert rows[1][COLUMNS.index("frame")] == "0" and rows[1][COLUMNS.index("box_x")] == "10"  # ints stay ints
    data, events = read_table(res.path)
    for c in COLUMNS:
        assert _same(data[c], session.data[c]), c
    assert np.isnan(data["valence"][40:50]).all() and np.isnan(data["x0"][40:50]).all()  # empty cells stay empty
    assert events == list(EVENTS) and res.events_path.name == "table.events.csv"


def test_csv_without_landmarks(session, tmp_path):
    res = export_session(session, tmp_path / "t.csv", landmarks=False)
    data, _ = read_table(res.path)
    assert list(data) == [c for c in COLUMNS if c not in LANDMARK_COLUMNS] and len(res.columns) == 17
    assert _same(data["p_fake"], session.data["p_fake"])


def test_parquet_round_trips_every_column_with_types_and_metadata(session, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    res = export_session(session, tmp_path / "t.parquet")
    table = pq.read_table(res.path)
    assert tuple(table.column_names) == COLUMNS
    for c in COLUMNS:
        assert str(table.schema.field(c).type) == ("int64" if c in INT_COLUMNS else "double"), c
    assert table.column("box_x").null_count == 10 and table.column("valence").null_count == 10
    data, events = read_table(res.path)
    for c in COLUMNS:
        assert _same(data[c], session.data[c]), c
    assert events == list(EVENTS)
    meta = json.loads(table.schema.metadata[b"affectscope.session"])
    assert meta["schema"] == "affectscope.session/2" and meta["bundle"]["name"] == "test"


def test_parquet_without_pyarrow_names_the_extra(session, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ExportError, match=r"pip install affectscope\[parquet\]"):
        export_session(session, tmp_path / "t.parquet")
    assert not (tmp_path / "t.parquet").exists()


def test_export_refuses_to_overwrite_the_session(session):
    with pytest.raises(ExportError, match="own file"):
        export_session(session, session.root / "frames.csv")


def test_export_command(session, tmp_path, capsys):
    p = OneLineParser(prog="affectscope export")
    add_arguments(p)
    assert run(p.parse_args([str(session.root), "--format", "csv", "--out", str(tmp_path / "x.csv")])) == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'x.csv'}: 60 rows × 153 columns" in out and "x.events.csv" in out
    assert read_table(tmp_path / "x.csv")[0]["frame"].tolist() == list(range(60))
    with pytest.raises(CliError, match="session.json: missing"):
        run(p.parse_args([str(tmp_path), "--out", str(tmp_path / "y.csv")]))
