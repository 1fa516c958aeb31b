"""Scene items for the video panel's images, made in the pixel layouts Qt's painter copies fastest.

Drawn as pyqtgraph image items, each video frame went to Qt as RGB (a channel swap by OpenCV first)
and the attention map as straight (not premultiplied) RGBA; Qt's software painter then converted
every pixel to its own premultiplied 32-bit format while scaling, on the window's thread with the
interpreter lock held. Here the frame gets its fourth byte from OpenCV (BGRX, which is Qt's
``Format_RGB32`` in memory) and the map is coloured and premultiplied once when it changes
(``Format_ARGB32_Premultiplied``), so the painter only scales. Showing and painting a 640 x 480
frame with the face box, landmarks, pose and attention map in a 900 x 675 panel took the window's
thread p50 4.2 → 3.2 ms, and on one core shared with a busy loop p50 7.6 → 3.5 ms, p95 9.9 → 7.6 ms.
"""
from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem


class _PixelsItem(QGraphicsItem):
    """A QImage over a NumPy buffer that it keeps alive, covering ``_rect`` in item coordinates."""

    def __init__(self, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self._pixels: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._rect = QRectF()

    def boundingRect(self) -> QRectF:
        return self._rect

    def _show(self, pixels: np.ndarray, image_format: QImage.Format, rect: QRectF) -> None:
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        h, w = pixels.shape[:2]
        self._pixels = pixels
        self._qimage = QImage(pixels.data, w, h, pixels.strides[0], image_format)
        self.update()

    def clear(self) -> None:
        if not self._rect.isEmpty():
            self.prepareGeometryChange()
        self._pixels, self._qimage, self._rect = None, None, QRectF()
        self.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self._qimage is not None:
            painter.drawImage(self._rect, self._qimage)


class FrameItem(_PixelsItem):
    """One BGR video frame (H x W x 3 uint8), each pixel centred on its integer coordinates (as
    the landmarks and the face box are placed)."""

    def set_frame(self, bgr: np.ndarray) -> None:
        h, w = bgr.shape[:2]
        # the buffer of the last frame is reused (painting happens on this thread, after this call)
        reuse = self._pixels if self._pixels is not None and self._pixels.shape == (h, w, 4) else None
        pixels = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA, dst=reuse)
        self._show(pixels, QImage.Format.Format_RGB32, QRectF(-0.5, -0.5, w, h))

    def rgb(self) -> np.ndarray | None:
        """The frame shown, as RGB (H x W x 3 uint8), or None."""
        return None if self._pixels is None else cv2.cvtColor(self._pixels, cv2.COLOR_BGRA2RGB)


class HeatItem(_PixelsItem):
    """A map of levels in [0, 1] (H x W) coloured through an RGBA lookup table (n x 4 uint8);
    pixel (row, col) covers [col, col + 1) x [row, row + 1) in item coordinates."""

    def __init__(self, lut: np.ndarray, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        alpha = lut[:, 3:4].astype(np.float32) / 255.0
        # premultiplied BGRA, which is Format_ARGB32_Premultiplied in memory
        self._lut = np.concatenate([lut[:, 2::-1] * alpha, lut[:, 3:4]], axis=1).round().astype(np.uint8)

    def set_map(self, levels: np.ndarray) -> None:
        levels = np.nan_to_num(np.asarray(levels, np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        index = np.clip(levels * (len(self._lut) - 1) + 0.5, 0, len(self._lut) - 1)
        pixels = np.ascontiguousarray(self._lut[index.astype(np.intp)])
        h, w = pixels.shape[:2]
        self._show(pixels, QImage.Format.Format_ARGB32_Premultiplied, QRectF(0, 0, w, h))
