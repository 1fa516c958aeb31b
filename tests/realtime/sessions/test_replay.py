import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from recorded_sessions import EVENTS, FPS, cut_clip, grey_level, write_affect_session

from realtime.cli import CliError, OneLineParser
from realtime.cli.replay import add_arguments, run
from realtime.sessions.export import export_session, read_table
from realtime.sessions.replay import SessionPlayer, play, reanalyze
from realtime.reporting.report import build_report
from realtime.pipeline.runner import SAMPLE_CLIP
from realtime.sessions.folder import COLUMNS, SessionWriter, read_session
from realtime.sessions.run import ModelSelection


def _args(*argv):
    p = OneLineParser(prog="affectscope replay")
    add_arguments(p)
    return p.parse_args([str(a) for a in argv])


@pytest.fixture
def affect_session(tmp_path):
    exp = write_affect_session(tmp_path / "s", n=90, video=True)
    return tmp_path / "s", exp


def test_player_yields_every_row_with_its_own_video_frame(affect_session):
    root, exp = affect_session
    s = read_session(root)
    with SessionPlayer(root, speed=0) as player:
        assert player.has_video and player.video_note is None
        items = list(player)
    assert [it.row for it in items] == list(range(90))
    for it in items:
        for c in COLUMNS:
            a, b = it.values[c], s.data[c][it.row]
            assert a == b or (np.isnan(a) and np.isnan(b)), (it.row, c)
        assert it.image.shape == (48, 64, 3)
        assert abs(float(it.image.mean()) - grey_level(it.row)) < 4, it.row
    np.testing.assert_allclose([it.t_s for it in items], exp["t_s"], atol=1e-4)


def test_replay_through_a_session_writer_reproduces_frames_csv(affect_session, tmp_path):
    root, _ = affect_session
    player = SessionPlayer(root, speed=0)
    copy = SessionWriter(tmp_path / "copy", player.source_info())
    copy.start()
    markers = []
    stats = play(player, [copy], [lambda label, t: markers.append((t, label))], print_every_s=None)
    copy.finish()
    assert stats.rows == 90 and stats.images == 90 and stats.markers == 2
    assert markers == [(t, label) for t, label in EVENTS]
    assert (tmp_path / "copy" / "frames.csv").read_bytes() == (root / "frames.csv").read_bytes()


def test_seek_and_scrub(affect_session):
    root, _ = affect_session
    with SessionPlayer(root, speed=0) as player:
        player.seek(1.0)
        it = player.next_item()
        assert it.row == 30 and abs(float(it.image.mean()) - grey_level(30)) < 4
        it = player.item_at(2.01)
        assert it.row == 60 and abs(float(it.image.mean()) - grey_level(60)) < 4
        assert player.next_item().row == 61
        player.seek(0.0)
        assert player.next_item().row == 0


def test_paced_replay_keeps_the_recorded_timing(affect_session):
    root, _ = affect_session
    with SessionPlayer(root, speed=4.0) as player:  # 3 s of session in 0.75 s
        t0 = time.monotonic()
        first = player.due()
        time.sleep(0.3)
        batch = player.due()
        n_rows = len(list(player)) + len(first) + len(batch)
        wall = time.monotonic() - t0
    assert 1 <= len(first) <= 2  # only the row at t = 0 (and perhaps the next, 8 ms later) is due at once
    assert 30 <= len(first) + len(batch) <= 45  # 0.3 s × 4 × 30 fps ≈ 36 rows
    assert n_rows == 90 and 0.65 < wall < 1.2


def test_session_without_video_replays_results_alone(tmp_path):
    exp = write_affect_session(tmp_path / "s", n=40, video=False)
    player = SessionPlayer(tmp_path / "s", speed=0)
    items = list(player)
    assert not player.has_video and "no video" in player.video_note
    assert len(items) == 40 and all(it.image is None for it in items)
    np.testing.assert_array_equal([it.values["valence"] for it in items], exp["valence"])


def test_replay_command_prints_status_and_markers(affect_session, capsys):
    root, _ = affect_session
    assert run(_args(root, "--speed", "0")) == 0
    out = capsys.readouterr().out
    assert "replaying" in out and "video yes" in out
    assert "marker at 1.00s: stimulus on" in out and "marker at 2.00s: stimulus off" in out
    assert "replayed 90 rows (90 with image), 2 markers" in out
    assert [line for line in out.splitlines() if line.startswith("t=")][-1].startswith("t=   2.97s/   2.97s")


def test_replay_command_argument_errors(affect_session, tmp_path):
    root, _ = affect_session
    with pytest.raises(CliError, match="needs --out"):
        run(_args(root, "--reanalyze"))
    with pytest.raises(CliError, match="session.json: missing"):
        run(_args(tmp_path))


def test_reanalysis_writes_a_new_session_with_the_markers(tmp_path):
    clip = cut_clip(tmp_path / "clip.mp4", 45)
    # a real recording with video: perception on 45 frames of a real face
    from engines.bundle import load_bundle
    from realtime.pipeline.runner import build_pipeline, run_until_done
    from realtime.sessions.run import open_session_writer
    from realtime.capture.sources import VideoFileSource

    bundle = load_bundle()
    pipe = build_pipeline(VideoFileSource(clip), bundle, paced=False)
    writer = open_session_writer(pipe, bundle, tmp_path / "orig", "pooled", record_video=True)
    run_until_done(pipe)
    writer.add_event("look", 0.5)
    writer.finish()
    orig = read_session(tmp_path / "orig")

    why = reanalyze(orig, tmp_path / "new", ModelSelection(bundle)).why
    new = read_session(tmp_path / "new")
    assert why == "end of source" and new.complete and len(new) == len(orig) == 45
    assert new.meta["settings"]["reanalysis_of"] == str(orig.root)
    assert new.meta["source"]["uri"].endswith("video.mkv")
    assert new.events == [(0.5, "look")]
    # the same perception on the re-encoded frames finds the face on the same frames
    assert (new.data["face"] == orig.data["face"]).mean() > 0.95
    face = (new.data["face"] == 1) & (orig.data["face"] == 1)
    assert np.nanmedian(np.abs(new.data["x30"][face] - orig.data["x30"][face])) < 3.0


def test_reanalysis_needs_a_video(tmp_path):
    write_affect_session(tmp_path / "s", n=10, video=False)
    with pytest.raises(CliError, match="has no video"):
        run(_args(tmp_path / "s", "--reanalyze", "--out", tmp_path / "new"))


def test_killed_recording_is_accepted_by_replay_export_and_report(tmp_path, capsys):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "realtime.cli", "live", "--video", str(SAMPLE_CLIP),
                             "--headless", "--record", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    frames = out / "frames.csv"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if frames.is_file() and frames.read_text().count("\n") > 120:
                break
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    s = read_session(out)
    assert s.cut_off and not s.complete and len(s) >= 120
    # the Matroska video stays readable up to a second or two before the kill (the muxer's last
    # cluster is lost), on the session clock
    cap = cv2.VideoCapture(str(s.video))
    readable = 0
    while cap.read()[0]:
        readable += 1
    assert s.video.name == "video.mkv" and readable >= s.video_frame(len(s) - 1) + 1 - 60

    assert run(_args(out, "--speed", "0")) == 0
    text = capsys.readouterr().out
    assert "cut off" in text and f"replayed {len(s)} rows" in text

    res = export_session(out, tmp_path / "t.csv")
    data, _ = read_table(res.path)
    assert res.rows == len(s)
    np.testing.assert_array_equal(data["frame"], s.data["frame"])

    rep = build_report(out, tmp_path / "report")
    page = rep.html.read_text()
    assert "cut off" in page and "badge cut" in page
    assert all(p.stat().st_size > 10_000 for p in rep.pngs)


def test_player_timing_of_rows_matches_fps(affect_session):
    root, _ = affect_session
    player = SessionPlayer(root, speed=0, video=False)
    assert player.start_s == 0 and player.end_s == pytest.approx(89 / FPS, abs=1e-4)
    assert player.video_note == "video left out on request" and player.next_item().image is None
