"""bench --peer mediapipe: affectscope's perception timed beside MediaPipe FaceMesh on the same frames.

MediaPipe does not install beside affectscope (it pulls its own OpenCV and an older protobuf), so
the side-by-side run is skipped unless the interpreter running the tests has it; what is tested
always is the affectscope side and that a missing peer is said with what to do.
"""
import importlib.util
import os
import sys

import numpy as np
import pytest

from realtime.benchmarks.peer import PeerUnavailable, run_peer_bench, split_by_view, time_mediapipe, time_perception
from realtime.cli import main
from realtime.perception.face_tracker import FaceTracker

HAS_MEDIAPIPE = importlib.util.find_spec("mediapipe") is not None
# an interpreter of an environment that has MediaPipe (see README, How a face is followed)
PEER_PYTHON = os.environ.get("AFFECTSCOPE_MEDIAPIPE_PYTHON") or (sys.executable if HAS_MEDIAPIPE else None)


def test_perception_is_timed_on_every_frame_of_the_clip(clip_file, motion_clip):
    r = time_perception(clip_file, FaceTracker(), max_frames=120)
    assert r["frames"] == 120
    assert r["frames_with_face"] >= 0.95 * motion_clip.visible[:120].sum()
    assert 0 < r["wall_ms"]["p50"] <= r["wall_ms"]["p95"] and r["cpu_ms"]["mean"] > 0
    assert len(r["cpu_ms_frames"]) == 120 and abs(np.mean(r["cpu_ms_frames"]) - r["cpu_ms"]["mean"]) < 0.01


@pytest.mark.skipif(HAS_MEDIAPIPE, reason="mediapipe is installed here")
def test_a_missing_peer_says_how_to_install_it(clip_file, capsys):
    with pytest.raises(PeerUnavailable, match=r"not installed.*python -m venv mp.*--peer-python"):
        time_mediapipe(clip_file, sys.executable, max_frames=5)
    assert main(["bench", "--peer", "mediapipe", "--video", str(clip_file)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mediapipe" in err.lower()
    with pytest.raises(PeerUnavailable, match="no such interpreter"):
        time_mediapipe(clip_file, "/nonexistent/python", max_frames=5)


def test_bench_modes_are_exclusive(capsys):
    assert main(["bench", "--roll", "--peer", "mediapipe"]) == 2  # options that do not go together
    assert "choose one" in capsys.readouterr().err
    assert main(["bench", "--peer-python", sys.executable]) == 2
    assert "goes with --peer" in capsys.readouterr().err
    assert main(["bench", "--rounds", "2"]) == 2
    assert "--rounds goes with --peer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--peer", "mediapipe", "--rounds", "0"])
    assert "'0' is not a whole number > 0" in capsys.readouterr().err


@pytest.mark.skipif(PEER_PYTHON is None, reason="mediapipe is not installed (it needs an environment of its own: "
                                               "set AFFECTSCOPE_MEDIAPIPE_PYTHON; see README, How a face is followed)")
def test_mediapipe_and_affectscope_on_the_same_frames(clip_file, motion_clip):
    lines = []
    r = run_peer_bench(clip_file, FaceTracker(), PEER_PYTHON, max_frames=90, rounds=2, out=lines.append,
                       in_view=motion_clip.visible)
    assert r["affectscope"]["frames"] == r["mediapipe"]["frames"] == 90
    assert r["mediapipe"]["frames_with_face"] > 60 and r["ratio"]["cpu_per_frame"] > 0
    assert len(r["rounds"]) == 2 and all(x["affectscope"]["frames_with_face"] > 60 for x in r["rounds"])
    ratios = sorted(x["ratio"]["cpu_per_frame"] for x in r["rounds"])
    assert ratios[0] <= r["ratio"]["cpu_per_frame"] <= ratios[-1]  # the median of the rounds
    assert any("affectscope / mediapipe" in line for line in lines)
    in_view = r["by_view"]["face_in_view"]
    assert in_view["frames"] == motion_clip.visible[:90].sum() and in_view["ratio"] > 0
    assert any("frames with the whole face in view" in line for line in lines)


def test_cpu_is_split_by_whether_the_face_is_in_view():
    view = np.array([True, True, False, True, False])
    r = split_by_view([1.0, 3.0, 8.0, 2.0, 6.0], [2.0, 2.0, 1.0, 2.0, 3.0, 9.0], view)  # the peer read a frame more
    assert r["face_in_view"] == {"frames": 3, "affectscope_cpu_ms": 2.0, "mediapipe_cpu_ms": 2.0, "ratio": 1.0}
    assert r["face_not_in_view"] == {"frames": 2, "affectscope_cpu_ms": 7.0, "mediapipe_cpu_ms": 2.0, "ratio": 3.5}
    assert list(split_by_view([1.0], [1.0], np.array([True]))) == ["face_in_view"]
