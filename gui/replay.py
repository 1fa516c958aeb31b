"""The window's hold on a session being replayed, built on ``realtime.sessions.replay.SessionPlayer``.

The player reads the session, keeps row k with video frame k (the writer stores one image per row,
so a seek is exact) and runs the playback clock; this module adds what the window asks of it:
seek by row, the newest due row per draw tick, and the row's values in display form. Qt-free.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime.sessions.replay import PlaybackItem, SessionPlayer
from realtime.sessions.folder import Session, SessionError


@dataclass(frozen=True)
class ReplayRow:
    """One recorded row for display: its video frame (BGR H x W x 3 uint8, or None), session time,
    face box (x, y, w, h), 68 x 2 landmarks and model values (None where the cell is empty)."""
    row: int
    frame: int
    t_s: float
    image: np.ndarray | None
    face: bool
    box: tuple[float, float, float, float] | None
    landmarks68: np.ndarray | None
    valence: float | None
    p_fake: float | None
    pose: tuple[float, float, float] | None = None  # yaw, pitch, roll (sessions before schema /2: None)
    good: bool = True
    valence_quality: float | None = None
    p_fake_quality: float | None = None


def _opt(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


class SessionReplay:
    """A session folder opened for replay; starts paused at its first row.
    Raises :class:`SessionError` for a folder that is not a session or holds no rows."""

    def __init__(self, root: str | Path, speed: float = 1.0):
        self.player = SessionPlayer(root, speed=speed)
        if len(self.player) == 0:
            self.player.close()
            raise SessionError(f"{Path(root) / 'frames.csv'}: holds no rows; nothing to replay")
        self.player.pause()
        self.t_s: np.ndarray = self.player.t
        self._has: dict[str, bool] = {}

    # -- what the session holds -----------------------------------------------------------------
    @property
    def session(self) -> Session:
        return self.player.session

    @property
    def root(self) -> Path:
        return self.session.root

    @property
    def rows(self) -> int:
        return len(self.player)

    @property
    def duration_s(self) -> float:
        """The session time of its last row (a recording started mid-run begins after 0)."""
        return self.player.end_s

    @property
    def length_s(self) -> float:
        """How long the recording lasts: its first row to its last."""
        return max(0.0, self.player.end_s - self.player.start_s)

    @property
    def has_video(self) -> bool:
        return self.player.has_video

    @property
    def video_note(self) -> str | None:
        """Why frames are missing (no video, unreadable video, fewer frames than rows), or None."""
        return self.player.video_note

    @property
    def events(self) -> list[tuple[float, str]]:
        return self.session.events

    def has_values(self, column: str) -> bool:
        """Whether the session recorded any value in ``column`` (e.g. 'valence', 'p_fake')."""
        if column not in self._has:
            self._has[column] = bool(np.isfinite(self.session.data[column]).any())
        return self._has[column]

    def row_at(self, t_s: float) -> int:
        """The last row recorded at or before session time ``t_s`` (clamped to the session)."""
        i = int(np.searchsorted(self.t_s, t_s, side="right")) - 1
        return min(max(i, 0), self.rows - 1)

    # -- moving through it ----------------------------------------------------------------------
    def seek_row(self, row: int) -> ReplayRow:
        """Row ``row`` (clamped) with its frame; playback, if on, continues from there."""
        row = min(max(int(row), 0), self.rows - 1)
        item = self.player.item_at(float(self.t_s[row]))
        return self._view(item)

    @property
    def playing(self) -> bool:
        return not self.player.paused

    def play(self) -> None:
        self.player.resume()

    def pause(self) -> None:
        self.player.pause()

    def set_speed(self, speed: float) -> None:
        self.player.speed = speed

    @property
    def at_end(self) -> bool:
        return self.player.at_end

    def due(self) -> ReplayRow | None:
        """The newest row whose time has come by the playback clock (None if none is due);
        rows passed over in between are not drawn."""
        items = self.player.due()
        return self._view(items[-1]) if items else None

    def close(self) -> None:
        self.player.close()

    # -- display form ---------------------------------------------------------------------------
    def _view(self, item: PlaybackItem) -> ReplayRow:
        v = item.values
        face = v["face"] == 1
        box = None
        if face and not math.isnan(v["box_x"]):
            box = (v["box_x"], v["box_y"], v["box_w"], v["box_h"])
        pts = self.session.landmarks(item.row) if face else None
        pose = None
        if face and not math.isnan(v["yaw"]):
            pose = (v["yaw"], v["pitch"], v["roll"])
        return ReplayRow(item.row, item.frame_index, item.t_s, item.image, bool(face), box, pts,
                         _opt(v["valence"]), _opt(v["p_fake"]), pose, v["good"] != 0,  # NaN (not judged): good
                         _opt(v["valence_quality"]), _opt(v["p_fake_quality"]))
