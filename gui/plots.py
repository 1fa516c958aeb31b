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
from PySide6.QtCore import QLineF, QRectF, Qt, Signal
from PySide6.QtGui import QFont, QPainter
from PySide6.QtWidgets import QGridLayout, QWidget

from gui.readouts import ValueReadout

VALENCE_COLOR = "#1a73e8"
PFAKE_COLOR = "#e8710a"
MARKER_COLOR = "#9334e6"
CURSOR_COLOR = "#202124"
POOR_COLOR = "#f9ab00"  # frames with poor landmarks (as the face box in the video)
POOR_Y = (-1.02, -0.015)  # where their band runs on the valence and P(fake) plots
LIVE_WINDOW_S = 30.0
# Live, the time axis moves in whole steps of this many seconds rather than with every draw: a
# moving axis re-lays out its ticks and repaints both plots whole, which on two shared cores took
# the event loop 50-100 ms at a time; in steps it does so once per step.
SCROLL_STEP_S = 2.0
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


class TimeAxis(pg.AxisItem):
    """Seconds below a minute ("12 s"), minutes:seconds above ("1:05")."""

    def tickStrings(self, values, scale, spacing):
        out = []
        for v in values:
            if abs(v) < 60:
                out.append(f"{v:g} s" if spacing >= 1 else f"{v:.1f} s")
            else:
                sign = "-" if v < 0 else ""
                m, s = divmod(abs(v), 60)
                out.append(f"{sign}{int(m)}:{int(s):02d}" if spacing >= 1 else f"{sign}{int(m)}:{s:04.1f}")
        return out


class GridLines(pg.GraphicsObject):
    """A plot's grid as one item under the curves: lines at the time axis's major and minor ticks
    and at fixed values, recomputed only when the view's range or size changes.

    pyqtgraph's own grid (``showGrid``) is drawn by the axes, which then span the whole plot: every
    curve update repainted both axes' tick labels too. A live draw of both plots (900 points each,
    drawn and painted offscreen) took 18.3 ms with it and 6.4 ms with this item, whose lines are
    opaque and not antialiased (blending them cost another 6 ms). The window recording a video
    for 200 s counted no event-loop stall over 50 ms while running, against 10-18 in 100-120 s
    before.
    """

    def __init__(self, y_values: list[float], time_axis: pg.AxisItem,
                 major: str = "#e3e4e5", minor: str = "#f2f2f3"):
        super().__init__()
        self._y = list(y_values)
        self._axis = time_axis
        self._rect = QRectF()
        self._major: list[QLineF] = []
        self._minor: list[QLineF] = []
        # opaque colours (the grey of the old grid over the white background): no blending per pixel
        self._major_pen = pg.mkPen(major, width=1)
        self._minor_pen = pg.mkPen(minor, width=1)
        self.setZValue(-100)

    def viewRangeChanged(self) -> None:
        vb = self.getViewBox()
        if vb is None:
            return
        (x0, x1), (y0, y1) = vb.viewRange()
        levels = self._axis.tickValues(x0, x1, max(1.0, vb.width())) if x1 > x0 else []
        major = list(levels[0][1]) if levels else []
        minor = [x for _, values in levels[1:] for x in values if x not in major]
        self.prepareGeometryChange()
        self._rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        self._major = [QLineF(x, y0, x, y1) for x in major] + [QLineF(x0, y, x1, y) for y in self._y]
        self._minor = [QLineF(x, y0, x, y1) for x in minor]
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter, *args) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)  # crisp, and cheap: axis-aligned lines
        painter.setPen(self._minor_pen)
        painter.drawLines(self._minor)
        painter.setPen(self._major_pen)
        painter.drawLines(self._major)


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
        self._right: float | None = None  # the live window's right edge (seconds), None before the first draw
        self._markers: list[tuple[float, pg.InfiniteLine, pg.InfiniteLine]] = []
        self._marker_serial = 0

        self.valence_plot = _plot("valence", (-1.05, 1.05), [-1, -0.5, 0, 0.5, 1], bottom_label=False)
        self.pfake_plot = _plot("P(fake)", (-0.03, 1.03), [0, 0.25, 0.5, 0.75, 1], bottom_label=True)
        self.pfake_plot.setXLink(self.valence_plot)
        vp, pp = self.valence_plot.getPlotItem(), self.pfake_plot.getPlotItem()

        vp.addItem(pg.InfiniteLine(0.0, angle=0, pen=pg.mkPen("#80868b", width=1, style=Qt.PenStyle.DashLine)))
        pp.addItem(pg.LinearRegionItem((0.5, 1.03), orientation="horizontal", movable=False,
                                       brush=pg.mkBrush(232, 113, 10, 22), pen=pg.mkPen(None)))
        self._threshold = pg.InfiniteLine(0.5, angle=0, pen=pg.mkPen("#80868b", width=1, style=Qt.PenStyle.DashLine))
        pp.addItem(self._threshold)

        self.valence_curve = vp.plot([], [], pen=pg.mkPen(VALENCE_COLOR, width=2), connect="finite")
        self.valence_dots = vp.plot([], [], pen=None, symbol="o", symbolSize=7, symbolBrush=VALENCE_COLOR,
                                    symbolPen=pg.mkPen("w", width=1))
        self.pfake_curve = pp.plot([], [], pen=pg.mkPen(PFAKE_COLOR, width=2), connect="finite")
        # frames whose landmarks cannot be trusted: a band along the bottom of each plot
        self.valence_poor = vp.plot([], [], pen=pg.mkPen(POOR_COLOR, width=5), connect="finite")
        self.pfake_poor = pp.plot([], [], pen=pg.mkPen(POOR_COLOR, width=5), connect="finite")
        for c in (self.valence_curve, self.pfake_curve, self.valence_poor, self.pfake_poor):
            c.setClipToView(True)
            c.setDownsampling(auto=True, method="peak")
        # The legend is the plot's title line: it never covers data or marker labels.
        vp.setTitle(_legend([(f"<b style='color:{VALENCE_COLOR}'>━━</b>", "valence, held between clips"),
                             (f"<b style='color:{VALENCE_COLOR}'>●</b>", "new value (one per 16-frame clip)"),
                             (f"<b style='color:{MARKER_COLOR}'>┆</b>", "marker"),
                             (f"<b style='color:{POOR_COLOR}'>▬</b>", "poor landmarks")]), size="10pt")
        pp.setTitle(_legend([(f"<b style='color:{PFAKE_COLOR}'>━━</b>", "P(fake): probability the expression is posed"),
                             ("<b style='color:#80868b'>╌╌</b>", "0.5 threshold")]), size="10pt")

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
        self._right = None
        self._dirty = True
        self.draw()

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

    def draw(self) -> None:
        """Push the ring buffers to the curves and scroll the window (live mode)."""
        if not self._live or not self._dirty:
            return
        self._dirty = False
        t_min = self._t_latest - self.window_s
        self.ring.drop_before(t_min - 1.0)
        self.dots.drop_before(t_min - 1.0)
        t = self.ring.column(0)
        self.valence_curve.setData(t, self.ring.column(1), connect="finite")
        self.pfake_curve.setData(t, self.ring.column(2), connect="finite")
        self._draw_poor(t, self.ring.column(3))
        self.valence_dots.setData(self.dots.column(0), self.dots.column(1))
        right = max(math.ceil(self._t_latest / SCROLL_STEP_S) * SCROLL_STEP_S, self.window_s)
        if right != self._right:
            self._right = right
            self.valence_plot.setXRange(right - self.window_s, right, padding=0)
            # the new range applied now: left to the paint, pyqtgraph applies it while painting, and
            # the changed transform has Qt paint each plot a second time (a step: 14 ms, now 9 ms)
            for plot in (self.valence_plot, self.pfake_plot):
                plot.getViewBox().updateMatrix()
        self._prune_markers(right - self.window_s)

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
        self._right = None
        self.clear_markers()
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
        pen = pg.mkPen(MARKER_COLOR, width=1.5, style=Qt.PenStyle.DashLine)
        position = 0.93 - 0.09 * (self._marker_serial % 3)  # staggered, so close markers stay legible
        self._marker_serial += 1
        top = pg.InfiniteLine(t_s, angle=90, pen=pen, label=label,
                              labelOpts={"position": position, "color": MARKER_COLOR, "fill": pg.mkBrush(255, 255, 255, 200),
                                         "anchors": [(0, 0.5), (0, 0.5)]})
        bottom = pg.InfiniteLine(t_s, angle=90, pen=pen)
        self.valence_plot.addItem(top, ignoreBounds=True)
        self.pfake_plot.addItem(bottom, ignoreBounds=True)
        self._markers.append((t_s, top, bottom))

    @property
    def markers(self) -> list[tuple[float, str]]:
        return [(t, top.label.toPlainText() if top.label is not None else "") for t, top, _ in self._markers]

    def clear_markers(self) -> None:
        for _, top, bottom in self._markers:
            self.valence_plot.removeItem(top)
            self.pfake_plot.removeItem(bottom)
        self._markers.clear()

    def _prune_markers(self, t_min: float) -> None:
        while self._markers and self._markers[0][0] < t_min - 1.0:
            _, top, bottom = self._markers.pop(0)
            self.valence_plot.removeItem(top)
            self.pfake_plot.removeItem(bottom)

    def set_notes(self, valence: str, p_fake: str) -> None:
        """Text in each plot's corner (e.g. why a model is unavailable); empty hides it."""
        for note, text in ((self.valence_note, valence), (self.pfake_note, p_fake)):
            if note.toPlainText() != text:
                note.setText(text)
            note.setVisible(bool(text))
