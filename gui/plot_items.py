"""The plots' own graphics items: the time axis's labels, the grid, the markers and the legend.

Each is one item per plot whose work per live draw is a repaint: nothing is laid out again unless
the view's range or size changes.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter


class TimeAxis(pg.AxisItem):
    """Seconds below a minute ("12 s"), minutes:seconds above ("1:05"); with ``relative`` set (live),
    seconds before now: "-10 s" … "now"."""

    relative = False

    def tickStrings(self, values, scale, spacing):
        out = []
        for v in values:
            if self.relative and abs(v) < 1e-9:
                out.append("now")
            elif abs(v) < 60:
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


class MarkerLines(pg.GraphicsObject):
    """All markers of one plot as one item: a dashed vertical line each, and (``labels``) its label
    near the top, staggered over three heights so that close markers stay legible. A label that
    would overlap one already drawn at every height is left out (its line stays): markers a
    stimulus program sends every few hundred milliseconds would otherwise print over each other.
    ``labels_drawn`` holds the last paint's labels and their boxes on screen.

    Live, the markers move with the data every draw (they sit at seconds before now). As one
    ``pg.InfiniteLine`` each, with a label item of its own, every marker on screen added 0.35 ms to
    each draw; here a move is one repaint of this item, whatever the number of markers.
    """

    STAGGER = (0.93, 0.84, 0.75)  # label heights, as fractions of the view from its bottom

    def __init__(self, color: str, labels: bool):
        super().__init__()
        self._pen = pg.mkPen(color, width=1.5, style=Qt.PenStyle.DashLine)
        self._text_color = QColor(color)
        self._fill = QColor(255, 255, 255, 200)
        self._labels = labels
        self._font = QFont()
        self._font.setPointSize(9)
        self._metrics = QFontMetricsF(self._font)
        self._t = np.zeros(0)
        self._text: list[str] = []
        self._height: list[float] = []
        self._origin = 0.0
        self._rect = QRectF()
        self.labels_drawn: list[tuple[str, QRectF]] = []
        self.setZValue(10)

    def set_markers(self, t_s: list[float], labels: list[str], heights: list[float]) -> None:
        self._t = np.asarray(t_s, np.float64)
        self._text = list(labels)
        self._height = list(heights)
        self.update()

    def set_origin(self, t_s: float) -> None:
        """Draw each marker at its time minus ``t_s`` (live: the newest frame's time)."""
        if t_s != self._origin:
            self._origin = t_s
            if len(self._t):
                self.update()

    def positions(self) -> np.ndarray:
        """Where the markers are drawn on the time axis."""
        return self._t - self._origin

    def viewRangeChanged(self) -> None:
        vb = self.getViewBox()
        if vb is None:
            return
        (x0, x1), (y0, y1) = vb.viewRange()
        self.prepareGeometryChange()
        self._rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter, *args) -> None:
        r = self._rect
        self.labels_drawn = []
        if not len(self._t) or r.width() <= 0:
            return
        x = self.positions()
        shown = np.flatnonzero((x >= r.left()) & (x <= r.right()))
        if not shown.size:
            return
        painter.setPen(self._pen)
        painter.drawLines([QLineF(x[i], r.top(), x[i], r.bottom()) for i in shown])
        if not self._labels:
            return
        to_device = painter.transform()
        self.labels_drawn = self._place_labels(to_device, x, shown, r)
        painter.save()
        painter.resetTransform()
        painter.setFont(self._font)
        painter.setPen(self._text_color)
        for text, box in self.labels_drawn:
            painter.fillRect(box, self._fill)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def _place_labels(self, to_device, x: np.ndarray, shown: np.ndarray, r: QRectF) -> list[tuple[str, QRectF]]:
        """Each shown marker's label at its own height, or else the first other height where it
        overlaps no label placed before it (in time order); none free: left out."""
        placed: list[tuple[str, QRectF]] = []
        reach: list[QRectF] = []  # placed boxes a later label can still meet (their right edge past its left)
        for i in shown[np.argsort(x[shown], kind="stable")]:
            size = self._metrics.boundingRect(self._text[i]).adjusted(-3, -1, 3, 1)
            left = to_device.map(QPointF(x[i], r.top())).x() + 3
            reach = [b for b in reach if b.right() >= left]  # labels go left to right
            for h in (self._height[i], *(h for h in self.STAGGER if h != self._height[i])):
                p = to_device.map(QPointF(x[i], r.top() + h * r.height()))
                box = QRectF(size)
                box.moveTo(p.x() + 3, p.y() - box.height() / 2)
                if not any(box.intersects(b) for b in reach):
                    placed.append((self._text[i], box))
                    reach.append(box)
                    break
        return placed


class LegendLabel(pg.LabelItem):
    """A plot's one-line legend (its title line) that never widens the plot: cut at the right in a
    narrow plot. pyqtgraph's title sets its minimum width to its text's (660 px for the valence
    legend); a narrower plot's scene then stayed that wide and the view showed only its left part,
    the newest values and "now" off screen."""

    def updateMin(self) -> None:
        super().updateMin()
        self.setMinimumWidth(0)

    @classmethod
    def install(cls, plot: pg.PlotItem) -> "LegendLabel":
        """Put one in place of ``plot``'s title label (before its title is set)."""
        old = plot.titleLabel
        plot.layout.removeItem(old)
        old.setParentItem(None)
        label = cls("", size="11pt", parent=plot)
        plot.layout.addItem(label, 0, 1)
        plot.titleLabel = label
        return label
