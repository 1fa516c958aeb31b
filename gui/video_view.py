"""The video panel: the current frame with the face box, the 40 landmarks and the attention map.

With the box: the head pose (yaw, pitch, roll in degrees) written above it and drawn as the line
the nose points along, and the box's colour says whether the frame's landmarks can be trusted
(green) or not (amber: turned too far, or the fit jumped).

Items are created once; each new frame only updates them (``set_frame``, ``setImage``, ``setData``,
``setRect``). The frame and the attention map are :mod:`gui.image_items`.

The STA attention map lives in the aligned-crop frame (S x S, eye centres and nose tip at fixed
positions); it is drawn over the face through the inverse of the crop's similarity warp, computed
from the frame's landmarks (``realtime.perception.landmarks.crop_transform``).
"""
from __future__ import annotations

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPen, QTextOption, QTransform
from PySide6.QtWidgets import QGraphicsLineItem, QGraphicsRectItem

from gui.image_items import FrameItem, HeatItem
from realtime.perception.landmarks import crop_transform, select40
from realtime.concurrency.stats import RateMeter

OVERLAYS = ("box", "landmarks", "attention")
GOOD_COLOR, POOR_COLOR = "#34d058", "#f9ab00"


def pose_label(pose: tuple[float, float, float] | None, good: bool) -> str:
    """'yaw +12° pitch −3° roll +25°', and ' · poor' when the landmarks cannot be trusted."""
    if pose is None:
        return ""
    text = " ".join(f"{name} {v:+.0f}°".replace("-", "−") for name, v in zip(("yaw", "pitch", "roll"), pose))
    return text if good else f"{text} · poor"


def nose_line(landmarks68: np.ndarray, pose: tuple[float, float, float]) -> tuple[float, float, float, float]:
    """The line the nose points along: from the nose tip, one inter-ocular distance long when the head
    is turned 90° (viewer's signs: yaw right +, pitch up +)."""
    tip = landmarks68[30]
    iod = float(np.linalg.norm(landmarks68[42:48].mean(0) - landmarks68[36:42].mean(0)))
    yaw, pitch = np.radians(pose[0]), np.radians(pose[1])
    return float(tip[0]), float(tip[1]), float(tip[0] + iod * np.sin(yaw)), float(tip[1] - iod * np.sin(pitch))


def _screen_pen(color: str, width_px: float) -> QPen:
    """A pen as wide on screen whatever the zoom."""
    pen = QPen(QColor(color))
    pen.setWidthF(width_px)
    pen.setCosmetic(True)
    return pen


def heat_lut(n: int = 256) -> np.ndarray:
    """n x 4 uint8 RGBA lookup table: transparent at 0, then through red to yellow, more opaque."""
    x = np.linspace(0.0, 1.0, n)
    lut = np.zeros((n, 4), np.uint8)
    lut[:, 0] = 255
    lut[:, 1] = np.clip(2.0 * x - 0.6, 0, 1) * 255
    lut[:, 2] = np.clip(4.0 * x - 3.2, 0, 1) * 255
    lut[:, 3] = np.clip((x - 0.15) / 0.85, 0, 1) ** 0.8 * 190
    return lut


def edge_taper(size: int, border: float = 0.15) -> np.ndarray:
    """size x size weights: 1 inside, falling to 0 over the outer ``border`` of the crop (raised
    cosine), so the overlay has no hard square edge on the frame."""
    x = (np.arange(size) + 0.5) / size
    d = np.minimum(x, 1.0 - x) / border
    w = np.where(d >= 1.0, 1.0, 0.5 - 0.5 * np.cos(np.pi * np.clip(d, 0.0, 1.0)))
    return np.outer(w, w).astype(np.float32)


def affine_to_qtransform(m: np.ndarray) -> QTransform:
    """QTransform of a 2 x 3 affine [[a, b, c], [d, e, f]]: x' = a x + b y + c, y' = d x + e y + f."""
    return QTransform(float(m[0, 0]), float(m[1, 0]), float(m[0, 1]), float(m[1, 1]), float(m[0, 2]), float(m[1, 2]))


class VideoView(pg.GraphicsView):
    """Shows BGR frames (H x W x 3 uint8) with overlays; ``show_frame`` runs on the GUI thread."""

    def __init__(self, parent=None):
        super().__init__(parent, background="#1e1f22")
        self.setMinimumSize(320, 240)
        self.vb = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False, enableMenu=False)
        self.vb.setDefaultPadding(0.0)
        self.setCentralItem(self.vb)

        self.image = FrameItem()  # pixel (col, row) centred on (x, y), as landmarks are
        self.heat = HeatItem(heat_lut())
        self.heat.setZValue(1)
        self.box = QGraphicsRectItem()
        self.box.setPen(_screen_pen(GOOD_COLOR, 2.0))
        self.box.setZValue(2)
        self._box_good: bool | None = True
        self.nose = QGraphicsLineItem()
        self.nose.setPen(_screen_pen("#4fc3f7", 3.0))
        self.nose.setZValue(4)
        self.pose_text = pg.TextItem("", color="#e8eaed", fill=pg.mkBrush(0, 0, 0, 150), anchor=(0, 1))
        self.pose_text.setZValue(9)
        small = QFont()
        small.setPointSize(8)
        self.pose_text.setFont(small)
        self.points = pg.ScatterPlotItem(size=5, pen=pg.mkPen("#0b3d1a", width=0.8),
                                         brush=pg.mkBrush("#7CFC9A"), pxMode=True)
        self.points.setZValue(3)
        for item in (self.image, self.heat, self.box, self.points, self.nose, self.pose_text):
            self.vb.addItem(item)

        big = QFont()
        big.setPointSize(16)
        big.setBold(True)
        self.badge = pg.TextItem("", color="w", fill=pg.mkBrush(179, 38, 30, 220), anchor=(0, 0))
        self.badge.setFont(big)
        self.badge.setZValue(10)
        self.vb.addItem(self.badge)
        self.caption = pg.TextItem("", color="#e8eaed", fill=pg.mkBrush(0, 0, 0, 150), anchor=(0, 1))
        self.caption.setZValue(10)
        self.vb.addItem(self.caption)
        self.placeholder = pg.TextItem("", color="#bdc1c6", anchor=(0.5, 0.5))
        mid = QFont()
        mid.setPointSize(13)
        self.placeholder.setFont(mid)
        # a message (an error naming a long path) wraps, anywhere if it must, centred in the panel
        wrap = QTextOption(Qt.AlignmentFlag.AlignHCenter)
        wrap.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.placeholder.textItem.document().setDefaultTextOption(wrap)
        self.vb.addItem(self.placeholder)

        self._shape: tuple[int, int] | None = None
        self._attention_src: np.ndarray | None = None
        self._visible = {name: True for name in OVERLAYS}
        self.face_shown = False
        self.frames_shown = 0
        self.rate = RateMeter(64)
        self.clear("No source.\nChoose a camera, open a video or a recorded session,\nor start the demo.")

    # -- state ----------------------------------------------------------------------------------
    @property
    def shown_rgb(self) -> np.ndarray | None:
        """The RGB image on screen (H x W x 3 uint8), or None."""
        return self.image.rgb() if self._shape is not None else None

    def set_overlay_visible(self, name: str, on: bool) -> None:
        if name not in OVERLAYS:
            raise ValueError(f"unknown overlay {name!r}; expected one of {OVERLAYS}")
        self._visible[name] = bool(on)
        if not on:
            for item in {"box": (self.box, self.nose, self.pose_text), "landmarks": (self.points,),
                         "attention": (self.heat,)}[name]:
                item.setVisible(False)

    def overlay_visible(self, name: str) -> bool:
        return self._visible[name]

    @property
    def attention_shown(self) -> bool:
        return self.heat.isVisible()

    # -- drawing --------------------------------------------------------------------------------
    def clear(self, message: str = "") -> None:
        """No frame: an empty panel with a centred message."""
        self._shape = None
        self.image.clear()
        for item in (self.heat, self.box, self.points, self.nose, self.pose_text, self.badge, self.caption):
            item.setVisible(False)
        self.placeholder.setTextWidth(max(160, self.width() - 40))
        self.placeholder.setText(message)
        self.placeholder.setVisible(bool(message))
        self.placeholder.setPos(320, 240)
        self.vb.setRange(QRectF(0, 0, 640, 480), padding=0)
        self.face_shown = False

    def show_frame(self, image_bgr: np.ndarray, face: bool, box=None, landmarks68: np.ndarray | None = None,
                   attention: np.ndarray | None = None, caption: str = "", no_face_text: str = "NO FACE",
                   pose: tuple[float, float, float] | None = None, good: bool = True) -> None:
        """Draw one frame. ``box`` (x, y, w, h) and ``landmarks68`` (68 x 2) in image pixels;
        ``attention`` (S x S, any scale) in the aligned-crop frame of these landmarks; ``pose``
        (yaw, pitch, roll in degrees) and ``good`` (the landmarks can be trusted) with the box."""
        h, w = image_bgr.shape[:2]
        if self._shape != (h, w):
            self._shape = (h, w)
            self.placeholder.setVisible(False)
            self.vb.setRange(QRectF(-0.5, -0.5, w, h), padding=0)
        self.image.set_frame(image_bgr)

        has_pts = face and landmarks68 is not None
        self.box.setVisible(bool(face and box is not None and self._visible["box"]))
        if self.box.isVisible():
            x, y, bw, bh = (float(v) for v in box)
            self.box.setRect(x, y, bw, bh)
            if good != self._box_good:
                pen = self.box.pen()
                pen.setColor(QColor(GOOD_COLOR if good else POOR_COLOR))
                self.box.setPen(pen)
                self._box_good = good
        self._draw_pose(pose if self.box.isVisible() else None, good, box, landmarks68 if has_pts else None)
        self.points.setVisible(bool(has_pts and self._visible["landmarks"]))
        if self.points.isVisible():
            self.points.setData(pos=select40(landmarks68))
        self._draw_attention(attention if has_pts and self._visible["attention"] else None, landmarks68)

        self.badge.setVisible(not face)
        if not face:
            self.badge.setText(f" {no_face_text} ")
            self.badge.setPos(8 * w / 640, 8 * w / 640)
        self.caption.setVisible(bool(caption))
        if caption:
            self.caption.setText(caption)
            self.caption.setPos(0, h)
        self.face_shown = bool(face)
        self.frames_shown += 1
        self.rate.tick()

    def _draw_pose(self, pose, good: bool, box, landmarks68) -> None:
        self.pose_text.setVisible(pose is not None)
        self.nose.setVisible(pose is not None and landmarks68 is not None)
        if pose is None:
            return
        text = pose_label(pose, good)
        if self.pose_text.textItem.toPlainText() != text:
            self.pose_text.setText(text)
        self.pose_text.setColor(GOOD_COLOR if good else POOR_COLOR)
        self.pose_text.setPos(float(box[0]), float(box[1]))
        if landmarks68 is not None:
            self.nose.setLine(*nose_line(np.asarray(landmarks68, np.float64), pose))

    def _draw_attention(self, attention: np.ndarray | None, landmarks68: np.ndarray | None) -> None:
        if attention is None or landmarks68 is None or attention.ndim != 2:
            self.heat.setVisible(False)
            return
        if attention is not self._attention_src:  # a new map: normalize once
            a = np.asarray(attention, np.float32)
            lo, hi = float(a.min()), float(a.max())
            a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
            self.heat.set_map(a * edge_taper(a.shape[0]))
            self._attention_src = attention
        size = attention.shape[0]
        to_image = cv2.invertAffineTransform(crop_transform(np.asarray(landmarks68, np.float64), size))
        to_image[:, 2] -= 0.5 * (to_image[:, 0] + to_image[:, 1])  # crop pixel centres, as in warpAffine
        self.heat.setTransform(affine_to_qtransform(to_image))
        self.heat.setVisible(True)
