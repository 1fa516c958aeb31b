import csv

import pytest
from recorded_sessions import cut_clip

from realtime.sessions.batch import BatchError, find_videos, run_batch, session_names
from realtime.cli import main
from realtime.sessions.folder import read_session


@pytest.fixture
def video_folder(tmp_path):
    d = tmp_path / "videos"
    d.mkdir()
    cut_clip(d / "p01.mp4", 20)
    cut_clip(d / "p02.mp4", 25, start=100)
    (d / "p03_corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    (d / "notes.txt").write_text("not a video")
    return d


def test_find_videos_and_session_names(video_folder, tmp_path):
    files = find_videos([video_folder, video_folder / "p01.mp4"])
    assert [f.name for f in files] == ["p01.mp4", "p02.mp4", "p03_corrupt.mp4"]  # no duplicate, no .txt
    other = tmp_path / "other"
    other.mkdir()
    (other / "p01.mp4").write_bytes(b"")
    assert session_names([video_folder / "p01.mp4", other / "p01.mp4", video_folder / "p02.mp4"]) == \
        ["p01", "p01-2", "p02"]
    with pytest.raises(BatchError, match="no such file"):
        find_videos([tmp_path / "missing"])


def test_a_corrupt_video_fails_alone(video_folder, tmp_path):
    """... and each video's own events (STEM_events.csv) are recorded, or said to be unreadable."""
    (video_folder / "p01_events.csv").write_text("t_s,label\n0.2,on\n0.5,off\n", encoding="utf-8")
    (video_folder / "p02_events.csv").write_text("t_s,label\nsoon,on\n", encoding="utf-8")
    out = tmp_path / "sessions"
    results = run_batch([video_folder], out, jobs=2, progress=False)
    assert [(r[0].rsplit("/", 1)[-1], r[1]) for r in results] == [("p01.mp4", True), ("p02.mp4", True),
                                                                  ("p03_corrupt.mp4", False)]
    assert "p03_corrupt.mp4" in results[2][2] and "not a readable video" in results[2][2]
    for name, n in (("p01", 20), ("p02", 25)):
        s = read_session(out / name)
        assert s.complete and len(s) == n and s.meta["settings"]["command"] == "batch"
        assert (s.data["face"] == 1).mean() > 0.9
    assert read_session(out / "p01").events == [(0.2, "on"), (0.5, "off")]
    assert read_session(out / "p02").events == [] and "its events not recorded" in results[1][2]
    assert not (out / "p03_corrupt").exists()
    with (out / "batch.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["ok"] for r in rows] == ["1", "1", "0"] and rows[0]["session"] == str(out / "p01")
    assert rows[2]["session"] == ""  # no folder was made for the corrupt video: none is named


def test_analyze_of_a_folder_runs_the_batch(video_folder, tmp_path, capsys):
    (video_folder / "p02.mp4").unlink()
    assert main(["analyze", str(video_folder), "--out", str(tmp_path / "s"), "--jobs", "2"]) == 1
    out = capsys.readouterr().out
    assert "1 of 2 videos analysed" in out and "failed:" in out and "p03_corrupt.mp4" in out
    (video_folder / "p03_corrupt.mp4").unlink()
    assert main(["analyze", str(video_folder / "p01.mp4"), str(video_folder / "p01.mp4"),
                 "--out", str(tmp_path / "t"), "--jobs", "1"]) == 0


def test_batch_refuses_bad_input_before_starting_processes(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["analyze", str(tmp_path / "empty"), str(tmp_path / "empty"), "--out", str(tmp_path / "s")]) == 1
    assert "no videos found" in capsys.readouterr().err
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes(b"x")
    assert main(["analyze", str(tmp_path / "v"), "--out", str(tmp_path / "s"), "--bundle", str(tmp_path)]) == 1
    assert "bundle.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["analyze", str(tmp_path), "--out", "x", "--jobs", "0"])
    assert exc.value.code == 2
