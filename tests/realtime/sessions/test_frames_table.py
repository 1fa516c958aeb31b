"""frames.csv read fast the way the writer leaves it, carefully otherwise, to the same arrays."""
import csv

import numpy as np
import pytest

from realtime.sessions import frames_table
from realtime.sessions.frames_table import TableError, read_frames_table

COLUMNS = ("frame", "t_s", "face", "valence", "x0", "y0")


def _rows(n: int, rng: np.random.Generator) -> list[list[str]]:
    """Rows as the session writer formats them: integers, fixed decimals, empty cells in runs and
    at both ends of a line."""
    rows = []
    for i in range(n):
        face = rng.random() < 0.7
        valence = f"{rng.uniform(-1, 1):.4f}" if rng.random() < 0.2 else ""
        pts = [f"{rng.uniform(0, 640):.1f}", f"{rng.uniform(0, 480):.1f}"] if face else ["", ""]
        rows.append([str(i) if i % 7 else "", f"{i / 30:.4f}", "1" if face else "0", valence, *pts])
    return rows


def _write(path, rows, header=COLUMNS):
    with path.open("w", newline="", encoding="utf-8") as fh:  # the csv module's \r\n, as the writer's
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _expected(rows):
    return np.array([[float(c or "nan") for c in r] for r in rows], np.float64)


@pytest.mark.parametrize("n, chunk", [(0, 1 << 20), (1, 1 << 20), (300, 1 << 20), (300, 64), (300, 997)])
def test_written_rows_come_back_exactly_across_chunks(tmp_path, monkeypatch, n, chunk):
    monkeypatch.setattr(frames_table, "CHUNK_BYTES", chunk)  # chunks cut lines anywhere
    rows = _rows(n, np.random.default_rng(n))
    _write(tmp_path / "frames.csv", rows)
    table, dropped = read_frames_table(tmp_path / "frames.csv", COLUMNS, "test/1")
    assert dropped == 0 and list(table) == list(COLUMNS)
    got = np.stack([table[c] for c in COLUMNS], 1)
    np.testing.assert_array_equal(got, _expected(rows).reshape(n, len(COLUMNS)))


def test_the_fast_and_the_careful_reader_agree(tmp_path):
    rows = _rows(500, np.random.default_rng(3))
    _write(tmp_path / "frames.csv", rows)
    with (tmp_path / "frames.csv").open("rb") as fh:
        fh.readline()
        parts, _ = frames_table._fast(fh, len(COLUMNS))
        fh.seek(0)
        careful, _ = frames_table._careful(fh.read().decode().partition("\n")[2], COLUMNS, tmp_path / "frames.csv")
    np.testing.assert_array_equal(np.concatenate(parts), careful)


@pytest.mark.parametrize("cut, kept", [(12, 49), (1, 50), (0, 50)])
def test_a_line_cut_off_mid_write_is_dropped_and_counted(tmp_path, cut, kept):
    """A recording killed mid-line: a last line short of cells is dropped; one cut in its last
    cell (or just its line end) reads as whole, as it would to anyone."""
    rows = _rows(50, np.random.default_rng(1))
    rows[-1][-1] = "123.4"
    _write(tmp_path / "frames.csv", rows)
    text = (tmp_path / "frames.csv").read_bytes()[:-2]  # without the last \r\n
    (tmp_path / "frames.csv").write_bytes(text[:len(text) - cut])
    table, dropped = read_frames_table(tmp_path / "frames.csv", COLUMNS, "test/1")
    assert dropped == 50 - kept and len(table["t_s"]) == kept
    np.testing.assert_array_equal(table["t_s"], _expected(rows)[:kept, 1])


def test_hand_edited_files_are_read_carefully(tmp_path):
    rows = _rows(20, np.random.default_rng(2))
    with (tmp_path / "frames.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")  # as a spreadsheet may save it
        w.writerow(COLUMNS)
        w.writerows(rows)
    table, dropped = read_frames_table(tmp_path / "frames.csv", COLUMNS, "test/1")
    assert dropped == 0
    np.testing.assert_array_equal(np.stack([table[c] for c in COLUMNS], 1), _expected(rows))


@pytest.mark.parametrize("damage, message", [
    (lambda rows: rows[6].__setitem__(3, "n/a?"), "line 8, column 'valence': 'n/a?' is not a number"),
    (lambda rows: rows[4].pop(), "line 6 has the wrong number of cells"),
    (lambda rows: rows.insert(9, []), "line 11 has the wrong number of cells"),
])
def test_damage_is_named_by_line_and_column(tmp_path, damage, message):
    rows = _rows(30, np.random.default_rng(4))
    damage(rows)
    _write(tmp_path / "frames.csv", rows)
    with pytest.raises(TableError, match=message.replace("?", r"\?")):
        read_frames_table(tmp_path / "frames.csv", COLUMNS, "test/1")


def test_a_header_of_other_columns_is_refused(tmp_path):
    _write(tmp_path / "frames.csv", _rows(3, np.random.default_rng(5)), header=COLUMNS[::-1])
    with pytest.raises(TableError, match="header does not match the test/1 columns"):
        read_frames_table(tmp_path / "frames.csv", COLUMNS, "test/1")
