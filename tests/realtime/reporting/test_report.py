import base64
import re

import cv2
import numpy as np
import pytest
from recorded_sessions import write_affect_session

from realtime.reporting.charts import BLUE, PURPLE, nice_ticks, tick_label
from realtime.cli import OneLineParser
from realtime.cli.report import add_arguments, run
from realtime.reporting.report import build_report, segment_stats
from realtime.sessions.folder import read_session


@pytest.fixture
def session(tmp_path):
    write_affect_session(tmp_path / "s", n=90, video=False)  # markers at 1.0 and 2.0 s
    return read_session(tmp_path / "s")


def _expected_segment(s, lo, hi, last=False):
    t = s.data["t_s"]
    sel = (t >= lo) & ((t <= hi) if last else (t < hi))
    return sel, np.nanmean(s.data["valence"][sel]), np.nanmean(s.data["p_fake"][sel]), np.mean(s.data["face"][sel] == 1)


def test_segments_between_markers(session):
    segs = segment_stats(session)
    assert [(g.label, g.start_s, g.frames) for g in segs] == [("start", 0.0, 30), ("stimulus on", 1.0, 30),
                                                             ("stimulus off", 2.0, 30)]
    t_end = session.data["t_s"][-1]
    for g, (lo, hi, last) in zip(segs, [(0, 1, False), (1, 2, False), (2, t_end, True)]):
        sel, v, p, f = _expected_segment(session, lo, hi, last)
        assert g.frames == sel.sum()
        assert g.valence_mean == pytest.approx(v) and g.p_fake_mean == pytest.approx(p) and g.face_rate == pytest.approx(f)
    assert segs[0].valence_mean > 0.4 and segs[1].valence_mean < -0.3  # the recorded levels
    assert segs[1].face_rate == pytest.approx(20 / 30)  # rows 40-49 have no face


def test_report_has_plots_and_per_segment_numbers(session, tmp_path):
    rep = build_report(session, tmp_path / "rep")
    page = rep.html.read_text(encoding="utf-8")
    assert [p.name for p in rep.pngs] == ["timeline.png", "timing.png"]
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(uris) == 2
    for uri, path in zip(uris, rep.pngs):
        png = base64.b64decode(uri)
        assert png == path.read_bytes()
        img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape[1] == 2000 and img.shape[0] > 500
    for g in rep.segments:  # every per-segment mean is in the table
        assert f"{g.valence_mean:+.3f}" in page and f"{g.p_fake_mean:.3f}" in page
        assert f"<td class='n'>{g.frames}</td>" in page
    assert "stimulus on" in page and "stimulus off" in page
    assert 'class="badge ok">complete' in page
    assert "synthetic-test" in page and "pooled" in page  # source and expression model
    assert "face present" in page and "latency" in page.lower()
    assert "http://" not in page and "https://" not in page  # self-contained


def _mask(img, bgr, tol=40):
    return (np.abs(img.astype(int) - np.array(bgr)).sum(-1) < tol)


def test_timeline_draws_levels_and_markers_where_they_are(session, tmp_path):
    rep = build_report(session, tmp_path / "rep")
    img = cv2.imread(str(rep.pngs[0]))
    blue = _mask(img, BLUE)
    cols = np.flatnonzero(blue.any(0))
    assert cols.size > 500  # the valence line runs across the plot
    x_first, x_last = cols.min(), cols.max()
    third = (x_last - x_first) // 3
    y_pos = np.median(np.nonzero(blue[:, x_first + 10: x_first + third - 10])[0])
    y_neg = np.median(np.nonzero(blue[:, x_first + third + 10: x_first + 2 * third - 10])[0])
    assert y_pos < y_neg - 100  # +0.5 is drawn well above -0.4
    purple_cols = np.flatnonzero(_mask(img, PURPLE).sum(0) > 200)  # long vertical dashed lines
    groups = np.split(purple_cols, np.flatnonzero(np.diff(purple_cols) > 5) + 1)
    assert len(groups) == 2  # one line per marker
    centres = [g.mean() for g in groups]
    assert centres[0] == pytest.approx(x_first + (x_last - x_first) * 30 / 89, abs=15)
    assert centres[1] == pytest.approx(x_first + (x_last - x_first) * 60 / 89, abs=15)


def test_report_of_a_session_without_models_or_markers(tmp_path):
    write_affect_session(tmp_path / "s", n=30, video=False, events=())
    s = read_session(tmp_path / "s")
    for c in ("valence", "p_fake"):
        s.data[c][:] = np.nan
    rep = build_report(s, tmp_path / "rep")
    page = rep.html.read_text(encoding="utf-8")
    assert len(rep.segments) == 1 and rep.segments[0].label == "start"
    assert "No markers were recorded" in page and ">—<" in page


def test_report_command(session, tmp_path, capsys):
    p = OneLineParser(prog="affectscope report")
    add_arguments(p)
    assert run(p.parse_args([str(session.root), "--out", str(tmp_path / "r")])) == 0
    out = capsys.readouterr().out
    assert "90 frames, 2 markers, 3 segments" in out and (tmp_path / "r" / "report.html").is_file()


def test_nice_ticks():
    assert nice_ticks(0, 14.97, 8).tolist() == [0, 2, 4, 6, 8, 10, 12, 14]
    assert nice_ticks(0, 14.97, 6).tolist() == [0, 2.5, 5, 7.5, 10, 12.5]
    assert nice_ticks(-1, 1, 4).tolist() == [-1, -0.5, 0, 0.5, 1]
    assert [tick_label(v, 0.25) for v in nice_ticks(0, 1, 4)] == ["0", "0.25", "0.50", "0.75", "1.00"]
