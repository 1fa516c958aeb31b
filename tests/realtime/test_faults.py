"""Damage is said out loud: in session.json ("faults"), on stderr and in the exit code."""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from engines.bundle import DEFAULT_BUNDLE_DIR
from realtime.cli import main


@pytest.fixture(scope="module")
def cut_avi(tmp_path_factory):
    """An AVI of 150 frames cut in half: the header says 150, only about 75 can be read."""
    folder = tmp_path_factory.mktemp("cut")
    whole = folder / "whole.avi"
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    for i in range(150):
        frame = np.full((120, 160, 3), i, np.uint8)
        cv2.putText(frame, str(i), (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255))
        writer.write(frame)
    writer.release()
    data = whole.read_bytes()
    cut = folder / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    return cut


def test_a_truncated_input_ends_as_a_session_with_a_fault_and_exit_1(cut_avi, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["analyze", str(cut_avi), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    meta = json.loads((out / "session.json").read_text())
    assert meta["complete"] is True  # every file is finished and readable ...
    assert len(meta["faults"]) == 1 and "ended after" in meta["faults"][0] and "of 150 frames" in meta["faults"][0]
    assert "fault: source:" in err and "not whole" in err  # ... and the damage is said
    assert 50 <= meta["frames"] < 150


def test_a_clean_run_has_no_faults(clip_file, tmp_path):
    out = tmp_path / "s"
    assert main(["analyze", str(clip_file), "--out", str(out)]) == 0
    assert json.loads((out / "session.json").read_text())["faults"] == []


def test_a_damaged_bundle_is_refused_before_the_first_frame(clip_file, tmp_path, capsys):
    bundle = shutil.copytree(DEFAULT_BUNDLE_DIR, tmp_path / "bundle")
    (bundle / "xgb_clip_sadness.ubj").unlink()  # a part the run would not even use
    out = tmp_path / "s"
    assert main(["analyze", str(clip_file), "--out", str(out), "--bundle", str(bundle)]) == 1
    err = capsys.readouterr().err
    assert "bad model bundle" in err and "xgb_clip_sadness.ubj: missing" in err
    assert not out.exists()


@pytest.fixture(scope="module")
def recorded(clip_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("rec") / "s"
    assert main(["analyze", str(clip_file), "--out", str(out)]) == 0
    return out


def _damaged_copy(recorded, tmp_path, line: int, column: str, value: str):
    copy = shutil.copytree(recorded, tmp_path / "damaged")
    lines = (copy / "frames.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    (copy / "frames.csv").write_text("\n".join(lines) + "\n")
    return copy


@pytest.mark.parametrize("command", ["replay", "export", "report"])
def test_a_damaged_cell_is_named_by_every_reader(recorded, tmp_path, capsys, command):
    copy = _damaged_copy(recorded, tmp_path, 7, "valence", "n/a?")
    out = tmp_path / ("out.csv" if command == "export" else "out")
    args = {"replay": ["replay", str(copy), "--speed", "100"], "export": ["export", str(copy), "--out", str(out)],
            "report": ["report", str(copy), "--out", str(out)]}[command]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "frames.csv: line 7, column 'valence': 'n/a?' is not a number" in err
    assert not out.exists()


def test_report_on_a_row_without_time_writes_nothing(recorded, tmp_path, capsys):
    copy = _damaged_copy(recorded, tmp_path, 5, "t_s", "")
    out = tmp_path / "report"
    assert main(["report", str(copy), "--out", str(out)]) == 1
    assert "line 5 has no time" in capsys.readouterr().err
    assert not out.exists()


def test_outputs_that_cannot_be_written_are_said_in_one_line(recorded, clip_file, tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    assert main(["report", str(recorded), "--out", str(a_file)]) == 1
    assert "is a file; --out names a folder" in capsys.readouterr().err
    assert main(["export", str(recorded), "--out", str(a_file / "table.csv")]) == 1
    assert f"{a_file} is not a folder" in capsys.readouterr().err
    assert main(["analyze", str(clip_file), "--out", str(a_file)]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["live", "--headless", "--video", str(clip_file), "--seconds", "1",
                 "--record", str(a_file / "session")]) == 1
    assert "cannot write the session there" in capsys.readouterr().err
