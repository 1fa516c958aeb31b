import json
import signal
import subprocess
import sys
import time

import pytest

from realtime.cli import main
from realtime.sessions.folder import read_session


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "realtime.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_every_command():
    out = _cli("--help").stdout
    for cmd in ("analyze", "live", "demo", "bench", "synth", "preprocess", "train", "evaluate"):
        assert cmd in out


@pytest.mark.parametrize("args", [
    ("live",),  # needs --camera or --video
    ("live", "--camera", "x"),
    ("analyze", "clip.mp4"),  # needs --out
    ("live", "--video", "a.mp4", "--expression", "joy"),
    ("bench", "--seconds", "-3"),
    ("frobnicate",),
])
def test_bad_arguments_one_line_exit_2(args):
    r = _cli(*args)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "error" in lines[0], r.stderr


def test_user_errors_are_one_line_exit_1(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "s")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "s"), "--bundle", str(tmp_path)]) == 1
    assert "bundle.json" in capsys.readouterr().err


@pytest.mark.parametrize("trainer", ["lstmpb", "sta"])
def test_training_on_a_missing_cache_is_one_line_exit_1(trainer, tmp_path, capsys):
    assert main(["train", trainer, "--cache", str(tmp_path / "nothing"), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"affectscope: error: train {trainer}: ") and "affectscope preprocess" in err


def test_analyze_writes_a_session(clip_file, tmp_path):
    r = _cli("analyze", str(clip_file), "--out", str(tmp_path / "s"))
    assert r.returncode == 0, r.stderr
    s = read_session(tmp_path / "s")
    assert s.complete and len(s) == 300
    assert s.meta["bundle"]["name"] == "default" and len(s.meta["bundle"]["sha256"]) == 64


def test_killed_analyze_leaves_readable_frames(clip_file, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "realtime.cli", "analyze", str(clip_file), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    frames = out / "frames.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if frames.is_file() and frames.read_text().count("\n") > 40:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    s = read_session(out)
    assert s.cut_off and not s.complete
    assert len(s) >= 40
    assert list(s.data["frame"][:40]) == list(range(40))


def test_live_headless_on_a_video_prints_figures(clip_file, tmp_path):
    r = _cli("live", "--video", str(clip_file), "--headless", "--seconds", "2.5", "--record", str(tmp_path / "rec"))
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.splitlines() if line.startswith("t=")]
    assert len(lines) >= 2 and "fps" in lines[0] and "P(fake)" in lines[0]
    s = read_session(tmp_path / "rec")
    assert s.complete and 50 <= len(s) <= 100
    assert s.video is not None


def test_live_headless_says_the_video_s_own_events_at_their_time(clip_file, tmp_path):
    import shutil

    video = shutil.copy(clip_file, tmp_path / "stim.mp4")
    (tmp_path / "stim_events.csv").write_text("t_s,label\n0.5,stimulus on\n1.5,stimulus off\n", encoding="utf-8")
    r = _cli("live", "--video", str(video), "--headless", "--seconds", "2.5", "--record", str(tmp_path / "rec"))
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stdout.splitlines() if "event:" in line]
    assert said == ["t=   0.50s event: stimulus on", "t=   1.50s event: stimulus off"], r.stdout
    assert read_session(tmp_path / "rec").events == [(0.5, "stimulus on"), (1.5, "stimulus off")]  # at their times
    assert main(["analyze", str(video), "--out", str(tmp_path / "fast")]) == 0
    assert read_session(tmp_path / "fast").events == [(0.5, "stimulus on"), (1.5, "stimulus off")]
    (tmp_path / "stim_events.csv").write_text("t_s,label\nsoon,stimulus on\n", encoding="utf-8")
    r = _cli("live", "--video", str(video), "--headless", "--seconds", "1")
    assert r.returncode == 0 and "event:" not in r.stdout
    assert "stim_events.csv, line 2: t_s 'soon' is not a number" in r.stderr
    assert "the video plays without its events" in r.stderr


def test_bench_json(tmp_path, clip_file):
    r = _cli("bench", "--video", str(clip_file), "--seconds", "2", "--json", str(tmp_path / "b.json"), timeout=300)
    assert r.returncode == 0, r.stderr
    # strict JSON (no NaN where a 2-s run measured nothing), which other languages' parsers read
    rep = json.loads((tmp_path / "b.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert rep["fast"]["frames"] == 300 and rep["fast"]["fps"] > 0
    assert rep["naive_peer"]["frames"] == 300 and rep["speedup_vs_naive"] > 0
    assert rep["paced"]["frames_captured"] > 0 and "p95" in rep["paced"]["latency_ms"]
    assert "speed-up vs naive" in r.stdout


def test_bench_roll_json(tmp_path, capsys):
    assert main(["bench", "--roll", "--seconds", "2", "--json", str(tmp_path / "r.json")]) == 0
    rows = json.loads((tmp_path / "r.json").read_text())["rolls"]
    assert [r["roll_deg"] for r in rows] == [0, 20, -20, 35, -35, 45, -45]
    assert all(r["found_settled"] >= 0.9 and r["false_faces"] == 0 for r in rows), rows
    assert "settled" in capsys.readouterr().out
