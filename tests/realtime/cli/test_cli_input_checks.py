"""Bad input to the command line is refused before any work, in one line: a file or folder that
cannot be used, a model part that cannot load, options that do not go together (exit 2, like the
parser's own errors), and what a session holds that looks edited or damaged is said."""
import json

import pytest

from engines.backends import available_backends
from realtime.cli import main
from realtime.cli.options import output_file, CliError
from realtime.sessions.folder import json_safe, read_session


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("args, says", [
    (["replay", "SESSION", "--reanalyze"], "--reanalyze needs --out"),
    (["replay", "SESSION", "--out", "x"], "--out is for --reanalyze"),
    (["demo", "--headless", "--quit-after", "2"], "--seconds"),
    (["live", "--video", "VIDEO", "--headless", "--screenshot", "x.png"], "--screenshot goes with the window"),
    (["live", "--video", "VIDEO", "--headless", "--no-video"], "--no-video goes with --record"),
    (["bench", "--roll", "--soak", "1"], "separate runs"),
    (["bench", "--rounds", "2"], "--rounds goes with --peer"),
    (["train"], "train needs a model"),
])
def test_options_that_do_not_go_together_exit_2(args, says, clip_file, tmp_path, capsys):
    args = [str(clip_file) if a == "VIDEO" else str(tmp_path) if a == "SESSION" else a for a in args]
    assert main(args) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert says in line and "--help" in line


@pytest.mark.parametrize("args", [
    ["live", "--video", "x.mp4", "--headless", "--seconds", "nan"],
    ["replay", "x", "--from", "-5"],
    ["synth", "--out", "x", "--fps", "0"],
    ["synth", "--out", "x", "--subjects", "0"],
    ["preprocess", "x", "--format", "photos", "--out", "c", "--crop-size", "0"],
    ["train", "sta", "--cache", "c", "--bundle", "b", "--epochs", "0"],
])
def test_numbers_out_of_range_are_refused_by_the_parser(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    _one_error_line(capsys.readouterr().err)


def test_train_help_lists_the_models(capsys):
    assert main(["train", "--help"]) == 0
    assert "lstmpb,xgb,sta" in capsys.readouterr().out


def test_bench_refuses_a_json_path_it_cannot_write_before_running(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    assert main(["bench", "--seconds", "60", "--json", str(blocker / "out.json")]) == 1
    assert "is not a folder" in _one_error_line(capsys.readouterr().err)
    assert main(["bench", "--seconds", "60", "--video", str(tmp_path / "missing.mp4")]) == 1
    assert "no such file" in _one_error_line(capsys.readouterr().err)
    with pytest.raises(CliError, match="is a folder"):
        output_file(str(tmp_path), "--json")


def test_a_bad_landmark_model_is_refused_before_the_run(clip_file, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["analyze", str(clip_file), "--out", str(out), "--landmark-model", str(tmp_path / "no.dat")]) == 1
    assert "--landmark-model" in _one_error_line(capsys.readouterr().err)
    not_a_model = tmp_path / "model.dat"
    not_a_model.write_bytes(b"not a model")
    assert main(["bench", "--peer", "mediapipe", "--landmark-model", str(not_a_model)]) == 1
    assert "not a dlib shape predictor" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


@pytest.mark.skipif(available_backends()["tensorrt"].available, reason="TensorRT runs here")
def test_a_backend_that_cannot_run_here_is_refused_before_the_run(clip_file, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["analyze", str(clip_file), "--out", str(out), "--backend", "tensorrt"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "tensorrt" in line and "available: auto, eager" in line
    assert not out.exists()


def test_replay_from_past_the_end_says_where_the_session_ends(clip_file, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["analyze", str(clip_file), "--out", str(out)]) == 0
    end = read_session(out).data["t_s"][-1]
    capsys.readouterr()
    assert main(["replay", str(out), "--from", str(end + 5)]) == 1
    assert f"ends at {end:.2f} s" in _one_error_line(capsys.readouterr().err)


def test_edited_session_files_are_read_and_said(clip_file, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["analyze", str(clip_file), "--out", str(out)]) == 0
    (out / "events.csv").write_text("t_s,label\n1.5,start\nfoo,bar\n3.0\n\n2.0,nan-free\n", encoding="utf-8")
    lines = (out / "frames.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[10], lines[11] = lines[11], lines[10]  # frames 9 and 10 swapped: the time goes back at line 12
    (out / "frames.csv").write_text("".join(lines), encoding="utf-8")
    s = read_session(out)
    assert s.events == [(1.5, "start"), (2.0, "nan-free")]
    assert any("events.csv: lines 3, 4 not read" in n for n in s.notes), s.notes
    assert any("time goes back at line 12" in n for n in s.notes), s.notes
    capsys.readouterr()
    assert main(["export", str(out), "--out", str(tmp_path / "t.csv")]) == 0
    err = capsys.readouterr().err
    assert err.count("note:") == 2


def test_json_safe_writes_no_nan():
    import numpy as np

    data = {"p50": float("nan"), "runs": [1.0, float("inf"), {"x": -float("inf")}], "n": np.int64(3), "name": "a",
            "auc": np.float32(0.5), 7: np.float64("nan")}
    text = json.dumps(json_safe(data), allow_nan=False)
    assert json.loads(text) == {"p50": None, "runs": [1.0, None, {"x": None}], "n": 3, "name": "a", "auc": 0.5,
                                "7": None}
