"""The video panel's frame: the screen's pixel layout, where the overlays expect it."""
from __future__ import annotations

import numpy as np
import pytest

from gui.video_view import VideoView

pytestmark = pytest.mark.gui

QUADRANTS = {(0, 0): (255, 0, 0), (0, 1): (0, 255, 0), (1, 0): (0, 0, 255), (1, 1): (255, 255, 255)}


def _quadrant_frame(w: int = 640, h: int = 480) -> np.ndarray:
    frame = np.zeros((h, w, 3), np.uint8)
    for (row, col), bgr in QUADRANTS.items():
        frame[row * h // 2:(row + 1) * h // 2, col * w // 2:(col + 1) * w // 2] = bgr
    return frame


@pytest.mark.parametrize("panel", [(900, 675), (500, 420)])
def test_the_frame_is_shown_in_its_colours_under_its_overlays(qtbot, panel):
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(*panel)
    view.show()
    frame = _quadrant_frame()
    view.show_frame(frame, True, box=(300.0, 220.0, 40.0, 40.0))
    shot = view.grab().toImage()
    ratio = view.devicePixelRatioF()

    def on_screen(x: float, y: float) -> tuple[int, int, int]:
        c = shot.pixelColor(view.mapFromScene(view.image.mapToScene(x, y)) * ratio)
        return c.red(), c.green(), c.blue()

    for (row, col), bgr in QUADRANTS.items():
        assert on_screen((col + 0.5) * 320, (row + 0.5) * 240) == bgr[::-1]  # BGR in, RGB on screen
    assert view.image.boundingRect().getRect() == (-0.5, -0.5, 640.0, 480.0)  # pixel centres on integers
    assert np.array_equal(view.shown_rgb, frame[..., ::-1])
    view.clear("gone")
    assert view.shown_rgb is None and view.image.boundingRect().isEmpty()


@pytest.mark.parametrize("level", [0.0, 0.5, 1.0])
def test_the_attention_map_blends_its_colours_over_the_frame(qtbot, level):
    """The map is premultiplied once; on screen each level's colour is blended by its alpha."""
    from gui.video_view import heat_lut

    view = VideoView()
    qtbot.addWidget(view)
    view.resize(640, 480)
    view.show()
    view.show_frame(np.full((480, 640, 3), 100, np.uint8), False)
    view.heat.set_map(np.full((16, 16), level, np.float32))
    view.heat.setTransform(view.heat.transform().fromScale(10.0, 10.0))
    view.heat.setPos(200, 100)
    view.heat.setVisible(True)
    shot = view.grab().toImage()
    c = shot.pixelColor(view.mapFromScene(view.heat.mapToScene(8.0, 8.0)) * view.devicePixelRatioF())
    r, g, b, a = heat_lut()[round(level * 255)].astype(float)
    expected = np.array([r, g, b]) * a / 255 + 100 * (1 - a / 255)
    assert np.abs(np.array([c.red(), c.green(), c.blue()]) - expected).max() <= 2
