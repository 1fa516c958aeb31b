"""The window's parts on their own: ring buffers, the bridge, settings, the message bar."""
from __future__ import annotations

import html
import sys
import threading

import numpy as np
import pytest
import pyqtgraph as pg

from gui.bridge import ResultBridge
from gui.live import SourceSpec, new_session_dir
from gui.plot_items import GridLines, MarkerLines
from gui.plots import LIVE_RIGHT_MARGIN_S, POOR_Y, AffectPlots, TimeSeriesRing
from gui.settings import AppSettings
from realtime.pipeline.runner import SAMPLE_CLIP
from realtime.types import AffectResult, Frame, SourceInfo

pytestmark = pytest.mark.gui


def test_qt_binding_keeps_reference_counts(qapp):
    """PySide6 6.12.0 on Python 3.11 loses a reference to None per void call and aborts the app."""
    from gui.app import qt_binding_problem

    assert qt_binding_problem() is None


def test_time_series_ring_keeps_the_newest_rows_without_growing():
    ring = TimeSeriesRing(100, 2)
    buf = ring._buf
    nbytes = ring.nbytes
    for i in range(1000):
        ring.append(float(i), float(-i))
        assert len(ring) == min(i + 1, 100)
    assert ring._buf is buf and ring.nbytes == nbytes
    assert np.array_equal(ring.column(0), np.arange(900, 1000))
    assert np.array_equal(ring.column(1), -np.arange(900, 1000))
    assert ring.column(0).base is buf  # a view, not a copy
    ring.drop_before(950.0)
    assert ring.column(0)[0] == 950.0 and len(ring) == 50


def test_live_plots_scroll_a_fixed_window_with_fixed_storage(qtbot):
    p = AffectPlots(window_s=30.0, capacity=2048)
    qtbot.addWidget(p)
    nbytes = p.ring.nbytes + p.dots.nbytes
    for i in range(30 * 90):  # 90 s at 30 fps
        t = i / 30
        p.append(t, np.sin(t) if i % 40 else None, i % 16 == 0, 0.5 + 0.4 * np.cos(t))
        if i % 10 == 0:
            p.draw()
    p.draw()
    assert p.ring.nbytes + p.dots.nbytes == nbytes
    x, _ = p.valence_curve.getData()  # seconds before the newest point
    assert x[-1] == 0.0 and -31.5 <= x[0] <= -30.0
    lo, hi = p.valence_plot.getViewBox().viewRange()[0]
    assert (lo, hi) == (-30.0, LIVE_RIGHT_MARGIN_S)  # the axis is fixed: the data move
    n_val, n_dots, n_pf = p.points
    newest = (30 * 90 - 1) / 30
    kept = np.arange(30 * 90)[np.arange(30 * 90) / 30 >= newest + x[0]]
    assert n_pf == kept.size and n_val == np.count_nonzero(kept % 40)
    dot_i = np.arange(30 * 90)[np.arange(30 * 90) / 30 >= p.dots.column(0)[0]]
    assert n_dots == len(p.dots) == np.count_nonzero((dot_i % 16 == 0) & (dot_i % 40 != 0))
    p.add_marker(80.0, "old")
    p.add_marker(200.0, "new")
    p.append(120.0, 0.1, False, 0.2)
    p.draw()
    assert [label for _, label in p.markers] == ["new"]  # scrolled-out markers are removed


def test_the_curves_are_drawn_on_qts_fast_path(qtbot):
    """Curves 1 px wide: at 2 px Qt strokes them as outlines, and replaying an hour's session
    repainted its whole curves in 0.86 s at every move of the cursor (6.7 ms at 1 px)."""
    p = AffectPlots()
    qtbot.addWidget(p)
    for curve in (p.valence_curve, p.pfake_curve):
        pen = curve.opts["pen"]
        assert pen.widthF() <= 1.0 and pen.isCosmetic()


def test_the_live_time_axis_stays_put_and_each_draw_paints_each_plot_once(qtbot, monkeypatch):
    """Live, the axis reads seconds before now and never moves: a moving axis re-lays out its
    labels and repaints both plots whole (in 2-s steps: 12 ms of the event loop a step against 5 ms
    a draw). Markers move with the data, drawn by one item per plot."""
    from PySide6.QtWidgets import QApplication

    paints, relayouts = [], []
    paint = pg.GraphicsView.paintEvent
    monkeypatch.setattr(pg.GraphicsView, "paintEvent", lambda view, ev: (paints.append(view), paint(view, ev))[1])
    specs = pg.AxisItem.generateDrawSpecs
    monkeypatch.setattr(pg.AxisItem, "generateDrawSpecs", lambda axis, *a: (relayouts.append(axis), specs(axis, *a))[1])
    p = AffectPlots(window_s=30.0)
    qtbot.addWidget(p)
    p.resize(1000, 520)
    p.show()
    qtbot.waitExposed(p)
    per_draw, ranges = [], set()
    for i in range(30 * 40):
        t = i / 30
        p.append(t, 0.3 * np.sin(t), i % 16 == 0, 0.5)
        if i == 30 * 20:
            p.add_marker(t, "stimulus")
        if i % 3 == 0:
            if t > 5:
                paints[:], relayouts[:] = [], []
            p.draw()
            QApplication.processEvents()
            if t > 5:
                per_draw.append(len(paints))
                assert not relayouts, f"the axes were laid out again at {t:.1f} s"
                ranges.add(tuple(p.valence_plot.getViewBox().viewRange()[0]))
    assert set(per_draw) == {2}, per_draw  # the two plots, once each
    assert ranges == {(-30.0, LIVE_RIGHT_MARGIN_S)}
    p.draw()
    bottom = p.pfake_plot.getPlotItem().getAxis("bottom")
    assert bottom.tickStrings([-20.0, -10.0, 0.0], 1, 10) == ["-20 s", "-10 s", "now"]
    top, low = [i for i in p.valence_plot.getPlotItem().items + p.pfake_plot.getPlotItem().items
                if isinstance(i, MarkerLines)]
    newest = (30 * 40 - 1) / 30
    for item in (top, low):  # the marker at 20 s sits at 20 s minus the newest time
        assert list(item.positions()) == pytest.approx([20.0 - newest])
    # a replay shows session time again, markers where they were recorded
    p.show_session(np.arange(10.0), np.zeros(10), np.zeros(10), np.zeros(10), [(4.0, "x")])
    assert bottom.tickStrings([0.0, 5.0], 1, 5) == ["0 s", "5 s"] and list(top.positions()) == [4.0]


def test_the_grid_follows_the_time_axis_and_leaves_the_axes_to_their_labels(qtbot):
    """The grid is one item under the curves, not drawn by the axes (which would then span the
    plot and repaint their labels on every curve update)."""
    p = AffectPlots(window_s=30.0, capacity=256)
    qtbot.addWidget(p)
    p.resize(900, 400)
    p.show()
    for i in range(40 * 30):
        p.append(i / 30, 0.1, False, 0.3)
    p.draw()
    for widget, y_ticks in ((p.valence_plot, [-1, -0.5, 0, 0.5, 1]), (p.pfake_plot, [0, 0.25, 0.5, 0.75, 1])):
        item = widget.getPlotItem()
        assert all(item.getAxis(side).grid is False for side in ("left", "bottom"))
        (grid,) = [g for g in item.items if isinstance(g, GridLines)]
        lo, hi = item.getViewBox().viewRange()[0]
        vertical = sorted(line.x1() for line in grid._major if line.x1() == line.x2())
        horizontal = sorted(line.y1() for line in grid._major if line.y1() == line.y2())
        major = item.getAxis("bottom").tickValues(lo, hi, item.getViewBox().width())[0][1]
        assert vertical == sorted(major) and all(lo <= x <= hi for x in vertical) and len(vertical) >= 3
        assert horizontal == y_ticks and grid._minor  # minor lines between the labelled ones
        assert grid.boundingRect().left() == pytest.approx(lo) and grid.boundingRect().right() == pytest.approx(hi)


def test_poor_frames_run_as_a_band_under_both_plots(qtbot):
    p = AffectPlots(window_s=30.0, capacity=256)
    qtbot.addWidget(p)
    for i in range(90):  # frames 30..59 are faces with poor landmarks
        p.append(i / 30, 0.2, False, 0.4, poor=30 <= i < 60)
    p.draw()
    for band, y in ((p.valence_poor, POOR_Y[0]), (p.pfake_poor, POOR_Y[1])):
        x, ys = band.getData()
        shown = np.isfinite(ys)
        np.testing.assert_allclose(x[shown], np.arange(30, 60) / 30 - 89 / 30)  # seconds before the newest frame
        assert np.all(ys[shown] == y)


def test_the_video_shows_the_head_pose_and_says_when_landmarks_are_poor(qtbot):
    from gui.video_view import GOOD_COLOR, POOR_COLOR, VideoView, nose_line, pose_label

    v = VideoView()
    qtbot.addWidget(v)
    pts = np.zeros((68, 2))
    pts[36:42], pts[42:48], pts[30] = (100.0, 100.0), (160.0, 100.0), (130.0, 140.0)
    image = np.zeros((240, 320, 3), np.uint8)
    v.show_frame(image, True, (80, 60, 120, 140), pts, pose=(12.4, -3.0, 25.2), good=True)
    assert v.pose_text.isVisible() and v.pose_text.textItem.toPlainText() == "yaw +12° pitch −3° roll +25°"
    assert v.box.pen().color().name() == GOOD_COLOR and v.nose.isVisible()
    x0, y0, x1, y1 = nose_line(pts, (30.0, 30.0, 0.0))
    assert (x0, y0) == (130.0, 140.0) and x1 == pytest.approx(160.0) and y1 == pytest.approx(110.0)  # right, up
    v.show_frame(image, True, (80, 60, 120, 140), pts, pose=(48.0, 0.0, 0.0), good=False)
    assert v.box.pen().color().name() == POOR_COLOR and v.pose_text.textItem.toPlainText().endswith("· poor")
    v.set_overlay_visible("box", False)
    v.show_frame(image, True, (80, 60, 120, 140), pts, pose=(0.0, 0.0, 0.0))
    assert not v.pose_text.isVisible() and not v.nose.isVisible()
    v.show_frame(image, False)
    assert not v.pose_text.isVisible() and pose_label(None, True) == ""


def _result(i: int, face: bool = True, valence=None) -> tuple[AffectResult, Frame]:
    info = SourceInfo("video", "x.mp4", 8, 6, 30.0, 100)
    r = AffectResult(frame_index=i, t_ns=i, face=face, media_s=i / 30, valence=valence, valence_updated=valence is not None)
    return r, Frame(i, i, np.zeros((6, 8, 3), np.uint8), info, i / 30)


def test_bridge_keeps_the_latest_frame_and_every_plot_sample():
    b = ResultBridge(max_pending=50)
    assert b.take().result is None and not b.dirty

    def publish(lo, hi):
        for i in range(lo, hi):
            b(*_result(i, valence=0.5 if i % 16 == 0 else None))

    threads = [threading.Thread(target=publish, args=(k * 10, k * 10 + 10)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = b.take()
    assert taken.received == 40 and len(taken.samples) == 40 and taken.overflowed == 0
    assert sorted(s.t_s for s in taken.samples) == pytest.approx([i / 30 for i in range(40)])
    assert not b.dirty and b.take().samples == []
    publish(100, 180)  # the GUI stalled: the oldest samples go, the count says so
    taken = b.take()
    assert len(taken.samples) == 50 and taken.overflowed == 30 and taken.result.frame_index == 179


def test_settings_round_trip_and_defaults(tmp_path):
    path = tmp_path / "s.ini"
    s = AppSettings(path)
    assert s.expression_model == "pooled" and s.replay_speed == 1.0 and s.overlay("attention")
    s.expression_model = "sadness"
    s.replay_speed = 0.25
    s.set_overlay("landmarks", False)
    s.camera_index = 2
    s.sessions_dir = tmp_path / "sess"
    s.sync()
    t = AppSettings(path)
    assert (t.expression_model, t.replay_speed, t.overlay("landmarks"), t.camera_index) == ("sadness", 0.25, False, 2)
    assert t.sessions_dir == tmp_path / "sess"
    path.write_text("[model]\nexpression=nonsense\n[replay]\nspeed=7\n")
    u = AppSettings(path)
    assert u.expression_model == "pooled" and u.replay_speed == 1.0


def test_source_specs_and_session_folder_names(tmp_path):
    assert SourceSpec.camera(1).label == "Camera 1"
    demo = SourceSpec.video(SAMPLE_CLIP)
    assert demo.is_demo and demo.label == "Sample clip (demo)"
    assert SourceSpec.video(tmp_path / "a.mp4").label == "a.mp4"
    import datetime as dt

    now = dt.datetime(2024, 5, 6, 7, 8, 9)
    a = new_session_dir(tmp_path, now)
    assert a.name == "session-20240506-070809"
    a.mkdir()
    assert new_session_dir(tmp_path, now).name == "session-20240506-070809-2"


def test_message_bar_stacks_and_dismisses(qtbot):
    from gui.messages import ErrorRouter, MessageBar

    bar = MessageBar()
    qtbot.addWidget(bar)
    assert bar.isHidden()
    bar.error("first")
    bar.error("first")  # the same message again is kept once
    bar.info("second")
    assert bar.current.text == "first" and not bar.isHidden() and bar._more.text() == "+1 more"  # errors first
    bar.dismiss()
    assert bar.current.text == "second"
    bar.dismiss_all()
    assert bar.isHidden() and bar.texts() == ["first", "second"]

    router = ErrorRouter(bar)
    with qtbot.capture_exceptions() as caught:  # pytest-qt's hook first; the router chains to it
        old = sys.excepthook
        router.install()
        try:
            try:
                raise KeyError("boom")
            except KeyError:
                sys.excepthook(*sys.exc_info())
            qtbot.waitUntil(lambda: bar.current is not None, timeout=2000)
        finally:
            router.uninstall()
        assert sys.excepthook is old
    assert "KeyError" in bar.current.text and "boom" in bar.current.text
    assert [c[0] for c in caught] == [KeyError]  # the previous hook still saw it


def test_a_narrow_plot_shows_its_whole_window_with_the_legend_cut(qtbot):
    """The legends are one long line each: pyqtgraph's title held the plot's scene 660 px wide, and
    a plot narrower than that (a window on a small screen) showed only its left part, the newest
    values off screen."""
    p = AffectPlots(window_s=30.0, capacity=256)
    qtbot.addWidget(p)
    p.resize(460, 500)
    p.show()
    qtbot.waitExposed(p)
    for i in range(300):
        p.append(i / 30, 0.1, False, 0.3)
    p.draw()
    for widget in (p.valence_plot, p.pfake_plot):
        item = widget.getPlotItem()
        assert item.geometry().width() <= widget.width() < 300
        vb = item.getViewBox()
        right = vb.mapViewToScene(pg.Point(0.0, 0.0)).x()  # "now"
        assert right <= widget.width()


def test_the_status_bar_keeps_its_figures_whole_and_cuts_names(qtbot):
    """In a window narrower than the status line, every field had been cut alike ("30.0 fp",
    "face: ye"); the figures now keep their width and the names (what runs, the backends) give way."""
    from PySide6.QtWidgets import QMainWindow

    from gui.status import StatusLine
    from realtime.pipeline.health import PipelineStats, WorkerState

    w = QMainWindow()
    qtbot.addWidget(w)
    status = StatusLine(w.statusBar())
    w.resize(800, 400)
    w.show()
    qtbot.waitExposed(w)
    assert all(label.isHidden() for label in status.labels.values())  # nothing to say yet
    pct = {"p50": 5.0, "p95": 8.0, "p99": 9.0}
    stats = PipelineStats(WorkerState.RUNNING, 30.0, 30.0, 100, 100, 100, 0, 0, pct, pct, pct, 0)
    backend = "numpy (online PB recognition, process 12919) + xgboost, onnxruntime"
    status.show_live("Sample clip (demo)", stats, backend)
    status.show_display_rate(29.9)
    status.show_face(True)
    qtbot.wait(50)
    status.show_live("Sample clip (demo)", stats, backend, "● REC 120 frames")
    qtbot.wait(50)
    assert w.statusBar().minimumSizeHint().width() <= 780  # all of it fits a window on an 800-px screen
    for key in ("capture", "processing", "display", "dropped", "latency", "face", "rec"):
        label = status[key]
        assert label.width() >= label.fontMetrics().horizontalAdvance(label.text()), (key, label.text())
    assert status["backend"].text() == "backend: numpy + xgboost, onnxruntime"
    assert "process 12919" in status["backend"].toolTip()
    status.show_live("Sample clip (demo)", stats, backend, "")
    assert status["rec"].isHidden()  # not recording: no empty field holding room
    status.show_not_live("replay: s1", "auto")
    assert status["capture"].isHidden() and not status["mode"].isHidden()


def test_the_info_panel_shows_the_start_of_a_long_training_account(qtbot):
    from gui.info_panel import InfoPanel, summary

    long = "Genuine/fake (SYNTHETIC clips of REAL identities): " + "word " * 200
    short = summary(long)
    assert len(short) < 200 and short.endswith("(hover for all)") and long.startswith(short.split(" …")[0])
    assert summary("a short account") == "a short account"
    panel = InfoPanel()
    qtbot.addWidget(panel)
    from engines.bundle import load_bundle

    bundle = load_bundle()
    panel.show_live("demo", None, bundle, {"valence": None, "p_fake": None}, False, "pooled", None, SAMPLE_CLIP.parent, 0)
    assert "hover for all" in panel.text("bundle")
    assert html.escape(bundle.meta["trained_on"])[-40:] in panel.values["bundle"].toolTip()


def test_marker_labels_never_print_over_each_other(qtbot):
    """Markers a stimulus program sends every 0.1 s: each label goes to a free height or is left
    out (its line stays); markers seconds apart all keep their labels."""
    p = AffectPlots()
    qtbot.addWidget(p)
    p.resize(900, 600)
    p.show()
    for i in range(300):
        p.append(i / 30, 0.1, False, 0.2)
    for k in range(12):
        p.add_marker(4.0 + 0.1 * k, f"stimulus {k}")
    p.draw()
    labels = p._marker_items[0]
    p.grab()  # paints
    drawn = labels.labels_drawn
    assert 3 <= len(drawn) < 12
    boxes = [box for _, box in drawn]
    assert not any(a.intersects(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert drawn[0][0] == "stimulus 0"  # the earliest first
    p.clear_markers()
    for k in range(4):
        p.add_marker(1.0 + 2.0 * k, f"block {k}")
    p.draw()
    p.grab()
    assert sorted(text for text, _ in labels.labels_drawn) == [f"block {k}" for k in range(4)]
