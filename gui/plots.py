"""Valence and P(fake) over time on one shared time axis, with big current-value readouts.

Live, the plots show a rolling window (30 s by default) fed from fixed-size ring buffers: the curve
items are created once and updated with ``setData`` on contiguous views of preallocated arrays,
so drawing allocates nothing that grows with the session. In replay they show a whole session with
a draggable cursor. Markers are vertical lines on both plots.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QWidget

from gui.plot_items import GridLines, LegendLabel, MarkerLines, TimeAxis
from gui.readouts import ValueReadout

VALENCE_COLOR = "#1a73e8"
PFAKE_COLOR = "#e8710a"
MARKER_COLOR = "#9334e6"
CURSOR_COLOR = "#202124"
POOR_COLOR = "#f9ab00"  # frames with poor landmarks (as the face box in the video)
POOR_Y = (-1.02, -0.015)  # where their band runs on the valence and P(fake) plots
LIVE_WINDOW_S = 30.0
# Live, the time axis is fixed and reads seconds before the newest frame ("now" at the right edge):
# the data move, the axis does not. A moving axis re-lays out its ticks, regenerates its labels
# and repaints both plots whole; moved in steps of 2 s, each step cost the event loop 12 ms
# against 5 ms for a plain draw, and on a core shared with other work a step could come out as a
# stall of 50-110 ms. A fixed axis costs every draw the same.
LIVE_RIGHT_MARGIN_S = 0.6  # room right of "now", so the newest point and its dot are not cut
AXIS_WIDTH = 56


def configure_pyqtgraph() -> None:
    """pyqtgraph options the app relies on (row-major images, antialiased curves)."""
    pg.setConfigOptions(antialias=True, imageAxisOrder="row-major", foreground="#3c4043")


class TimeSeriesRing:
    """The newest ``capacity`` rows of ``n`` float64 columns, readable as contiguous views.

    Storage is a preallocated (n, 2 * capacity) array: appends write at the end and, when the end
    is reached, the live rows are moved back to the front (amortized O(1) per row, no allocation).
    """

    def __init__(self, capacity: int, n_columns: int):
        if capacity < 2:
            raise ValueError("capacity must be >= 2")
        self.capacity = capacity
        self._buf = np.full((n_columns, 2 * capacity), np.nan)
        self._start = 0
        self._end = 0

    def __len__(self) -> int:
        return self._end - self._start

    def clear(self) -> None:
        self._start = self._end = 0

    def append(self, *values: float) -> None:
        if self._end == self._buf.shape[1]:
            n = self._end - self._start
            self._buf[:, :n] = self._buf[:, self._start:self._end]
            self._start, self._end = 0, n
        self._buf[:, self._end] = values
        self._end += 1
        if self._end - self._start > self.capacity:
            self._start += 1

    def column(self, i: int) -> np.ndarray:
        """A view (no copy) of column ``i``, oldest first; valid until the next append."""
        return self._buf[i, self._start:self._end]

    def drop_before(self, t_min: float, time_column: int = 0) -> None:
        """Forget rows older than ``t_min`` (the time column must be increasing)."""
        t = self.column(time_column)
        self._start += int(np.searchsorted(t, t_min, side="left"))

    @property
    def nbytes(self) -> int:
        return self._buf.nbytes


def _legend(entries: list[tuple[str, str]]) -> str:
    """Rich text for a one-line legend: (coloured symbol, description) pairs."""
    return "&nbsp;&nbsp;&nbsp;".join(f"{sym}&nbsp;<span style='color:#3c4043'>{text}</span>" for sym, text in entries)


def _plot(title_left: str, y_range: tuple[float, float], ticks: list[float], bottom_label: bool) -> pg.PlotWidget:
    w = pg.PlotWidget(axisItems={"bottom": TimeAxis("bottom")}, background="w")
    p = w.getPlotItem()
    label_style = {"color": "#3c4043", "font-size": "11pt"}
    p.setLabel("left", title_left, **label_style)
    if bottom_label:
        p.setLabel("bottom", "time", **label_style)
    tick_font = QFont()
    tick_font.setPointSize(10)
    for side in ("left", "bottom"):
        ax = p.getAxis(side)
        ax.setTickFont(tick_font)
        ax.setPen(pg.mkPen("#5f6368"))
        ax.setTextPen(pg.mkPen("#3c4043"))
    p.getAxis("left").setWidth(AXIS_WIDTH)
    p.getAxis("left").setTicks([[(v, f"{v:g}") for v in ticks]])
    p.addItem(GridLines(ticks, p.getAxis("bottom")), ignoreBounds=True)
    p.setYRange(*y_range, padding=0)
    p.setLimits(yMin=y_range[0] - 0.2, yMax=y_range[1] + 0.2)
    p.setMouseEnabled(x=True, y=False)
    p.setMenuEnabled(False)
    p.hideButtons()
    return w


class AffectPlots(QWidget):
    """Two linked plots (valence, P(fake)) with a readout beside each.

    Live: :meth:`reset_live`, then :meth:`append` per result and :meth:`draw` per frame tick.
    Replay: :meth:`show_session` once, then :meth:`set_cursor`. ``cursor_dragged(t_s)`` is emitted
    when the user drags the replay cursor.
    """

    cursor_dragged = Signal(float)

    def __init__(self, parent: QWidget | None = None, window_s: float = LIVE_WINDOW_S, capacity: int = 4096):
        super().__init__(parent)
        self.window_s = window_s
        self.ring = TimeSeriesRing(capacity, 4)  # t, valence, p_fake, 1 where the face's landmarks were poor
        self.dots = TimeSeriesRing(max(64, capacity // 8), 2)  # t, valence where a new value arrived
        self._dirty = False
        self._live = True
        self._t_latest = 0.0
        self._markers: list[tuple[float, str, float]] = []  # time, label, label height
        self._marker_serial = 0

        self.valence_plot = _plot("valence", (-1.05, 1.05), [-1, -0.5, 0, 0.5, 1], bottom_label=False)
        self.pfake_plot = _plot("P(fake)", (-0.03, 1.03), [0, 0.25, 0.5, 0.75, 1], bottom_label=True)
        vp, pp = self.valence_plot.getPlotItem(), self.pfake_plot.getPlotItem()
        self._time_axes = [vp.getAxis("bottom"), pp.getAxis("bottom")]
        self._marker_items = [MarkerLines(MARKER_COLOR, labels=True), MarkerLines(MARKER_COLOR, labels=False)]
        vp.addItem(self._marker_items[0], ignoreBounds=True)
        pp.addItem(self._marker_items[1], ignoreBounds=True)

        vp.addItem(pg.InfiniteLine(0.0, angle=0, pen=pg.mkPen("#80868b", width=1, style=Qt.PenStyle.DashLine)))
        pp.addItem(pg.LinearRegionItem((0.5, 1.03), orientation="horizontal", movable=False,
                                       brush=pg.mkBrush(232, 113, 10, 22), pen=pg.mkPen(None)))
        self._threshold = pg.InfiniteLine(0.5, angle=0, pen=pg.mkPen("#80868b", width=1, style=Qt.PenStyle.DashLine))
        pp.addItem(self._threshold)

        # One pixel wide: Qt's painter draws such curves on a fast path; at 2 px it strokes them as
        # outlines, and a draw of both plots took the window's thread 15 ms instead of 3.5 (30 s of
        # held values at 30 fps, offscreen at 630 x 740), ten times a second; in replay, where each
        # cursor move repaints the whole session, 862 ms instead of 6.7 for an hour's session.
        self.valence_curve = vp.plot([], [], pen=pg.mkPen(VALENCE_COLOR, width=1), connect="finite")
        self.valence_dots = vp.plot([], [], pen=None, symbol="o", symbolSize=7, symbolBrush=VALENCE_COLOR,
                                    symbolPen=pg.mkPen("w", width=1))
        self.pfake_curve = pp.plot([], [], pen=pg.mkPen(PFAKE_COLOR, width=1), connect="finite")
        # frames whose landmarks cannot be trusted: a band along the bottom of each plot
        self.valence_poor = vp.plot([], [], pen=pg.mkPen(POOR_COLOR, width=5), connect="finite")
        self.pfake_poor = pp.plot([], [], pen=pg.mkPen(POOR_COLOR, width=5), connect="finite")
        for c in (self.valence_curve, self.pfake_curve, self.valence_poor, self.pfake_poor):
            c.setClipToView(True)
            c.setDownsampling(auto=True, method="peak")
        # The legend is the plot's title line: it never covers data or marker labels.
        for plot in (vp, pp):
            LegendLabel.install(plot)
        vp.setTitle(_legend([(f"<b style='color:{VALENCE_COLOR}'>━━</b>", "valence (held)"),
                             (f"<b style='color:{VALENCE_COLOR}'>●</b>", "new value, one per 16-frame clip"),
                             (f"<b style='color:{MARKER_COLOR}'>┆</b>", "marker"),
                             (f"<b style='color:{POOR_COLOR}'>▬</b>", "poor landmarks")]), size="10pt", justify="left")
        pp.setTitle(_legend([(f"<b style='color:{PFAKE_COLOR}'>━━</b>", "P(fake): probability the expression is posed"),
                             ("<b style='color:#80868b'>╌╌</b>", "0.5 threshold")]), size="10pt", justify="left")

        self.cursors = []
        for p in (vp, pp):
            line = pg.InfiniteLine(0.0, angle=90, movable=True, pen=pg.mkPen(CURSOR_COLOR, width=2),
                                   hoverPen=pg.mkPen("#d93025", width=3))
            line.setZValue(20)
            line.setVisible(False)
            line.sigDragged.connect(self._on_cursor_dragged)
            p.addItem(line, ignoreBounds=True)
            self.cursors.append(line)

        self.valence_note = self._note(vp)
        self.pfake_note = self._note(pp)

        self.valence_readout = ValueReadout("VALENCE", VALENCE_COLOR)
        self.pfake_readout = ValueReadout("P(FAKE)", PFAKE_COLOR)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(6)
        grid.addWidget(self.valence_plot, 0, 0)
        grid.addWidget(self.valence_readout, 0, 1)
        grid.addWidget(self.pfake_plot, 1, 0)
        grid.addWidget(self.pfake_readout, 1, 1)
        grid.setColumnStretch(0, 1)
        self.reset_live()

    @staticmethod
    def _note(plot_item) -> pg.TextItem:
        """A text pinned to the plot's top-left corner (view pixels, not data coordinates)."""
        note = pg.TextItem("", color="#5f6368", anchor=(0, 0))
        f = QFont()
        f.setPointSize(10)
        f.setItalic(True)
        note.setFont(f)
        note.setParentItem(plot_item.getViewBox())
        note.setPos(6, 4)
        note.setZValue(30)
        return note

    # -- live -----------------------------------------------------------------------------------
    def reset_live(self) -> None:
        """Empty rolling plots, no cursor, no markers."""
        self._live = True
        self.ring.clear()
        self.dots.clear()
        self.clear_markers()
        for line in self.cursors:
            line.setVisible(False)
        self._t_latest = 0.0
        # Live, each plot's range is set on its own: the x link lines the plots up by their geometry
        # on screen, and two plots a pixel apart would move each other's range on every draw.
        self.pfake_plot.setXLink(None)
        self._set_time_axis(relative=True)
        self.valence_plot.getPlotItem().setLimits(xMin=-self.window_s - 1.0, xMax=LIVE_RIGHT_MARGIN_S + 1.0)
        self._dirty = True
        self.draw()

    def _set_time_axis(self, relative: bool) -> None:
        for axis in self._time_axes:
            axis.relative = relative
            axis.picture = None  # labels drawn anew
            axis.update()
        p = self.pfake_plot.getPlotItem()
        p.setLabel("bottom", "seconds before now" if relative else "time", color="#3c4043", **{"font-size": "11pt"})

    def append(self, t_s: float, valence: float | None, valence_updated: bool, p_fake: float | None,
               poor: bool = False) -> None:
        """One result's values (None where there is none: no face, or no model); ``poor``: a face
        whose landmarks cannot be trusted (models skip windows made mostly of such frames)."""
        v = math.nan if valence is None else float(valence)
        p = math.nan if p_fake is None else float(p_fake)
        if len(self.ring) and t_s < self.ring.column(0)[-1]:
            self.ring.clear()  # time went backwards (a new source): start over
            self.dots.clear()
        self.ring.append(t_s, v, p, 1.0 if poor else math.nan)
        if valence_updated and not math.isnan(v):
            self.dots.append(t_s, v)
        self._t_latest = t_s
        self._dirty = True

    @property
    def live_range(self) -> tuple[float, float]:
        """The live time axis (seconds before the newest frame): fixed."""
        return -self.window_s, LIVE_RIGHT_MARGIN_S

    def draw(self) -> None:
        """Push the ring buffers to the curves, placed relative to the newest frame (live mode)."""
        if not self._live or not self._dirty:
            return
        self._dirty = False
        now = self._t_latest
        self.ring.drop_before(now - self.window_s - 1.0)
        self.dots.drop_before(now - self.window_s - 1.0)
        ago = self.ring.column(0) - now
        self.valence_curve.setData(ago, self.ring.column(1), connect="finite")
        self.pfake_curve.setData(ago, self.ring.column(2), connect="finite")
        self._draw_poor(ago, self.ring.column(3))
        self.valence_dots.setData(self.dots.column(0) - now, self.dots.column(1))
        self._prune_markers(now - self.window_s)
        for item in self._marker_items:
            item.set_origin(now)
        lo, hi = self.live_range
        for plot in (self.valence_plot, self.pfake_plot):
            vb = plot.getViewBox()
            (x0, x1), _ = vb.viewRange()
            if abs(x0 - lo) > 1e-9 or abs(x1 - hi) > 1e-9:  # the first draw, or after the user panned
                vb.setXRange(lo, hi, padding=0)

    @property
    def points(self) -> tuple[int, int, int]:
        """Finite data points on screen: (valence curve, valence dots, P(fake) curve)."""
        def n(item):
            _, y = item.getData()
            return 0 if y is None else int(np.isfinite(y).sum())
        return n(self.valence_curve), n(self.valence_dots), n(self.pfake_curve)

    # -- replay ---------------------------------------------------------------------------------
    def _draw_poor(self, t: np.ndarray, poor: np.ndarray) -> None:
        """``poor``: 1 where a frame's landmarks were poor, NaN elsewhere."""
        self.valence_poor.setData(t, poor * POOR_Y[0], connect="finite")
        self.pfake_poor.setData(t, poor * POOR_Y[1], connect="finite")

    def show_session(self, t_s: np.ndarray, valence: np.ndarray, valence_updated: np.ndarray,
                     p_fake: np.ndarray, events: list[tuple[float, str]], poor: np.ndarray | None = None) -> None:
        """A whole recorded session: arrays of one value per row (NaN where empty); ``poor``: True
        on rows whose face had poor landmarks (sessions before the quality flag: None)."""
        self._live = False
        self.pfake_plot.setXLink(self.valence_plot)  # panned and zoomed together
        self._set_time_axis(relative=False)
        self.clear_markers()
        for item in self._marker_items:
            item.set_origin(0.0)
        t = np.asarray(t_s, np.float64)
        v = np.asarray(valence, np.float64)
        upd = np.asarray(valence_updated, np.float64) > 0.5
        self.valence_curve.setData(t, v, connect="finite")
        self.pfake_curve.setData(t, np.asarray(p_fake, np.float64), connect="finite")
        self._draw_poor(t, np.where(np.asarray(poor, bool), 1.0, np.nan) if poor is not None else np.full(len(t), np.nan))
        mask = upd & np.isfinite(v)
        self.valence_dots.setData(t[mask], v[mask])
        for t_ev, label in events:
            self.add_marker(t_ev, label)
        end = float(t[-1]) if len(t) else 1.0
        self.valence_plot.getPlotItem().setLimits(xMin=-1.0, xMax=end + 1.0)
        self.valence_plot.setXRange(0.0, max(end, 1.0), padding=0.01)
        for line in self.cursors:
            line.setBounds((0.0, max(end, 0.0)))
            line.setVisible(True)
        self.set_cursor(0.0)

    def set_cursor(self, t_s: float) -> None:
        for line in self.cursors:
            if line.value() != t_s:
                line.blockSignals(True)
                line.setValue(t_s)
                line.blockSignals(False)

    @property
    def cursor_t(self) -> float:
        return float(self.cursors[0].value())

    def _on_cursor_dragged(self, line: pg.InfiniteLine) -> None:
        t = float(line.value())
        self.set_cursor(t)
        self.cursor_dragged.emit(t)

    # -- markers and notes ----------------------------------------------------------------------
    def add_marker(self, t_s: float, label: str) -> None:
        position = MarkerLines.STAGGER[self._marker_serial % len(MarkerLines.STAGGER)]
        self._marker_serial += 1
        self._markers.append((t_s, label, position))
        self._show_markers()

    def _show_markers(self) -> None:
        t, labels, heights = (list(c) for c in zip(*self._markers)) if self._markers else ([], [], [])
        for item in self._marker_items:
            item.set_markers(t, labels, heights)

    @property
    def markers(self) -> list[tuple[float, str]]:
        return [(t, label) for t, label, _ in self._markers]

    def clear_markers(self) -> None:
        self._markers.clear()
        self._show_markers()

    def _prune_markers(self, t_min: float) -> None:
        kept = [m for m in self._markers if m[0] >= t_min - 1.0]
        if len(kept) != len(self._markers):
            self._markers = kept
            self._show_markers()

    def set_notes(self, valence: str, p_fake: str) -> None:
        """Text in each plot's corner (e.g. why a model is unavailable); empty hides it."""
        for note, text in ((self.valence_note, valence), (self.pfake_note, p_fake)):
            if note.toPlainText() != text:
                note.setText(text)
            note.setVisible(bool(text))
