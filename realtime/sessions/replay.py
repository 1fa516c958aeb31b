"""Replay a session: its recorded results in step with its video, or a re-analysis of its video.

``affectscope replay SESSION [--speed X] [--from S] [--lsl]`` plays the recorded rows back at
their recorded times (prints a status line per second; ``--lsl`` republishes them, markers
included, on Lab Streaming Layer). ``--reanalyze --out NEW_SESSION`` runs the current bundle on
the session's video into a new session, carrying the markers over.

:class:`SessionPlayer` (Qt-free) is the engine, shared with the GUI: it yields
:class:`PlaybackItem` s (the recorded row with its video frame) in time order, paced by a clock
with a speed factor, and seeks. Video frame k of a session is the frame of row k (the writer
stores one image per row), so a seek is exact. A session without video replays its rows alone;
a cut-off session replays the rows that were written, and a video whose file was never closed
(the process was killed) is reported and left out.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path

import cv2
import numpy as np

from realtime.sessions.folder import Session, SessionError, read_session
from realtime.types import AffectResult, Frame, SourceInfo

if TYPE_CHECKING:
    from realtime.sessions.run import ModelSelection, SessionOutcome

log = logging.getLogger(__name__)

_NO_IMAGE = np.zeros((0, 0, 3), np.uint8)


@dataclass(frozen=True, slots=True)
class PlaybackItem:
    """One recorded row and its video frame.

    ``values`` maps every frames.csv column to its value (NaN where the cell was empty); ``image``
    is the H×W×3 BGR frame of the session's video that shows the row, or None when the session has
    no (readable) video.
    """

    row: int
    t_s: float
    image: np.ndarray | None
    values: dict[str, float]

    @property
    def frame_index(self) -> int:
        return int(self.values["frame"])

    def result(self, session: Session, t_ns: int | None = None) -> AffectResult:
        """The row as an :class:`AffectResult` (``t_ns``: its capture time now; default: now)."""
        v = self.values
        face = v["face"] == 1
        box = None
        if face and not np.isnan(v["box_x"]):
            box = tuple(int(v[k]) for k in ("box_x", "box_y", "box_w", "box_h"))
        val, pf = v["valence"], v["p_fake"]
        return AffectResult(
            frame_index=self.frame_index,
            t_ns=time.monotonic_ns() if t_ns is None else t_ns,
            face=bool(face),
            media_s=self.t_s,
            box=box,
            landmarks68=session.landmarks(self.row) if face else None,
            valence=None if np.isnan(val) else float(val),
            valence_updated=v["valence_updated"] == 1,
            p_fake=None if np.isnan(pf) else float(pf),
            expression_model=session.meta.get("expression_model"),
            latency_ms=0.0 if np.isnan(v["latency_ms"]) else float(v["latency_ms"]),
            pose=(v["yaw"], v["pitch"], v["roll"]) if face and not np.isnan(v["yaw"]) else None,
            good=bool(face) and v["good"] != 0,  # NaN (a session before the quality flag): good
            valence_quality=None if np.isnan(v["valence_quality"]) else float(v["valence_quality"]),
            p_fake_quality=None if np.isnan(v["p_fake_quality"]) else float(v["p_fake_quality"]),
            extras={"replayed_from": str(session.root), "row": self.row},
        )


class SessionPlayer:
    """Plays a session's rows (and video frames) back in time order.

    Two ways to drive it:

    - iterate (``for item in player``): blocks between items to keep to the recorded timing at
      ``speed`` × (``speed=0``: as fast as possible);
    - :meth:`due` from a UI timer: returns, without blocking, every item whose time has come.

    :meth:`seek` jumps (the next item is the first row at or after ``t_s``); :meth:`item_at` gives
    the row shown at a time (for scrubbing); :meth:`pause` / :meth:`resume` hold the clock.
    """

    def __init__(self, session: Session | str | Path, speed: float = 1.0, video: bool = True):
        self.session = session if isinstance(session, Session) else read_session(session)
        self.t = self.session.data["t_s"]
        self._t_sorted = np.maximum.accumulate(self.t) if len(self.t) else self.t
        self._cols = tuple(self.session.data)  # every column this version knows (NaN where a session lacks one)
        self._next = 0
        self._anchor: tuple[float, float] | None = None  # (wall monotonic s, session t_s)
        self._paused_at: float | None = None
        self._speed = 1.0
        self.speed = speed
        self.video_note: str | None = None
        self.video_frames = 0
        self._cap: cv2.VideoCapture | None = None
        self._cap_pos = 0
        self._last_image: np.ndarray | None = None
        self._lock = threading.Lock()
        if video:
            self._open_video()
        elif self.session.video is not None:
            self.video_note = "video left out on request"

    # -- video ---------------------------------------------------------------------------------
    def _open_video(self) -> None:
        path = self.session.video
        if path is None:
            self.video_note = "no video in this session: replaying the recorded results alone"
            return
        cap = cv2.VideoCapture(str(path))
        ok = cap.isOpened() and cap.read()[0]
        if not ok:
            cap.release()
            self.video_note = (f"{path.name} cannot be read (most likely the recording was killed before the video "
                               f"was closed): replaying the recorded results alone")
            return
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        self._cap, self._cap_pos = cap, 0
        self.video_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        needed = self.session.video_frame(len(self.session) - 1) + 1 if len(self.session) else 0
        if self.video_frames and self.video_frames < needed:
            self.video_note = (f"{path.name} holds {self.video_frames} frames, the rows need {needed}; rows past "
                               f"its end replay without an image")

    def _image(self, row: int) -> np.ndarray | None:
        if self._cap is None:
            return None
        k = self.session.video_frame(row)  # the video runs on the session clock
        if k == self._cap_pos - 1 and self._last_image is not None:
            return self._last_image  # several rows within one video frame
        if k != self._cap_pos:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, k)
        ok, img = self._cap.read()
        self._cap_pos = k + 1 if ok else -1
        self._last_image = img if ok else None
        return self._last_image

    @property
    def has_video(self) -> bool:
        return self._cap is not None

    @property
    def frame_size(self) -> tuple[int, int]:
        src = self.session.meta.get("source", {}) or {}
        return int(src.get("width") or 0), int(src.get("height") or 0)

    @property
    def fps(self) -> float:
        return float((self.session.meta.get("source", {}) or {}).get("fps") or 30.0)

    def source_info(self) -> SourceInfo:
        w, h = self.frame_size
        return SourceInfo("session", str(self.session.root), w, h, self.fps, len(self.session))

    # -- position and clock --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.session)

    @property
    def start_s(self) -> float:
        return float(self.t[0]) if len(self.t) else 0.0

    @property
    def end_s(self) -> float:
        return float(self.t[-1]) if len(self.t) else 0.0

    @property
    def position(self) -> int:
        """Row index of the next item."""
        return self._next

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value < 0 or not np.isfinite(value):
            raise ValueError(f"replay speed must be >= 0 (0: as fast as possible), got {value}")
        now_t = self.clock_t()
        self._speed = float(value)
        if now_t is not None:
            self._anchor = (time.monotonic(), now_t)

    def clock_t(self) -> float | None:
        """Session time the clock is at now (None before playback starts)."""
        if self._anchor is None:
            return None
        wall, t = self._anchor
        now = self._paused_at if self._paused_at is not None else time.monotonic()
        return t + (now - wall) * self._speed

    def seek(self, t_s: float) -> None:
        """Continue from the first row at or after ``t_s``; the clock restarts there."""
        with self._lock:
            self._next = int(np.searchsorted(self._t_sorted, t_s, side="left"))
            self._anchor = None

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = time.monotonic()

    def resume(self) -> None:
        if self._paused_at is not None:
            if self._anchor is not None:
                wall, t = self._anchor
                self._anchor = (wall + time.monotonic() - self._paused_at, t)
            self._paused_at = None

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    # -- items ---------------------------------------------------------------------------------
    def _item(self, row: int) -> PlaybackItem:
        values = {c: float(self.session.data[c][row]) for c in self._cols}
        return PlaybackItem(row, float(self.t[row]), self._image(row), values)

    def next_item(self) -> PlaybackItem | None:
        """The next item without waiting (None at the end)."""
        with self._lock:
            if self._next >= len(self.t):
                return None
            item = self._item(self._next)
            self._next += 1
            return item

    def item_at(self, t_s: float) -> PlaybackItem | None:
        """The row shown at ``t_s`` (the last one at or before it); playback continues after it."""
        with self._lock:
            if not len(self.t):
                return None
            row = max(0, int(np.searchsorted(self._t_sorted, t_s, side="right")) - 1)
            self._next = row + 1
            self._anchor = None
            return self._item(row)

    def _start_clock(self) -> None:
        if self._anchor is None and self._next < len(self.t):
            self._anchor = (time.monotonic(), float(self.t[self._next]))

    def due(self) -> list[PlaybackItem]:
        """Every item whose time has come by the playback clock (starts the clock on first use)."""
        if self.paused:
            return []
        self._start_clock()
        now_t = self.clock_t()
        out = []
        while self._next < len(self.t) and (self._speed == 0 or self.t[self._next] <= now_t):
            item = self.next_item()
            if item is None:
                break
            out.append(item)
        return out

    def wait_s(self) -> float | None:
        """Seconds until the next item is due (None at the end; 0 when it is already due)."""
        if self._next >= len(self.t):
            return None
        if self._speed == 0:
            return 0.0
        self._start_clock()
        return max(0.0, (float(self.t[self._next]) - self.clock_t()) / self._speed)

    def __iter__(self) -> Iterator[PlaybackItem]:
        while True:
            wait = self.wait_s()
            if wait is None:
                return
            if wait > 0:
                time.sleep(min(wait, 0.25))
                continue
            item = self.next_item()
            if item is None:
                return
            yield item

    @property
    def at_end(self) -> bool:
        return self._next >= len(self.t)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- headless playback --------------------------------------------------------------------------
Subscriber = Callable[[AffectResult, Frame], None]


@dataclass
class ReplayStats:
    rows: int = 0
    images: int = 0
    markers: int = 0
    stopped: str = "end of session"


def replay_line(player: SessionPlayer, item: PlaybackItem | None) -> str:
    total = len(player)
    if item is None:
        return f"t=   0.00s/{player.end_s:7.2f}s  row     0/{total}"
    v = item.values
    val = "   —  " if np.isnan(v["valence"]) else f"{v['valence']:+.3f}"
    pf = "  —  " if np.isnan(v["p_fake"]) else f"{v['p_fake']:.3f}"
    face = "yes" if v["face"] == 1 else "no "
    return (f"t={item.t_s:7.2f}s/{player.end_s:7.2f}s  row {item.row + 1:5d}/{total}  face {face}  "
            f"valence {val}  P(fake) {pf}  recorded latency {v['latency_ms']:6.1f} ms"
            f"{'' if item.image is not None else '  (no image)'}")


def play(player: SessionPlayer, subscribers: list[Subscriber] = (), on_marker: list[Callable[[str, float], None]] = (),
         print_every_s: float | None = 1.0, out=None, stop: threading.Event | None = None) -> ReplayStats:
    """Play ``player`` to its end: each item goes to ``subscribers`` as (AffectResult, Frame), each
    recorded marker to ``on_marker`` (label, t_s) when playback passes it; a status line per
    ``print_every_s`` of wall time goes to ``out`` (stdout)."""
    from realtime.pipeline.core import ResultBus

    out = out or sys.stdout
    bus = ResultBus()
    for fn in subscribers:
        bus.subscribe(fn)
    info = player.source_info()
    events = sorted(player.session.events)  # markers before the first row go out with it
    if 0 < player.position < len(player):
        events = [e for e in events if e[0] >= float(player.t[player.position])]
    ev_i = 0
    stats = ReplayStats()
    last_print = time.monotonic()
    item = None

    def markers_until(t: float) -> None:
        nonlocal ev_i
        while ev_i < len(events) and events[ev_i][0] <= t + 1e-9:
            ts, label = events[ev_i]
            ev_i += 1
            stats.markers += 1
            for fn in on_marker:
                fn(label, ts)
            if print_every_s is not None:
                print(f"marker at {ts:.2f}s: {label}", file=out, flush=True)

    for item in player:
        if stop is not None and stop.is_set():
            stats.stopped = "interrupted"
            break
        markers_until(item.t_s)
        t_ns = time.monotonic_ns()
        image = item.image if item.image is not None else _NO_IMAGE
        bus.publish(item.result(player.session, t_ns), Frame(item.frame_index, t_ns, image, info, item.t_s))
        stats.rows += 1
        stats.images += item.image is not None
        if print_every_s is not None and time.monotonic() - last_print >= print_every_s:
            last_print = time.monotonic()
            print(replay_line(player, item), file=out, flush=True)
    if stats.stopped == "end of session":
        markers_until(np.inf)  # markers set after the last frame
    if print_every_s is not None:
        print(replay_line(player, item), file=out, flush=True)
    return stats


# -- re-analysis --------------------------------------------------------------------------------
def reanalyze(session: Session | str | Path, out: str | Path, models: ModelSelection, record_video: bool = False,
              subscribers: list[Subscriber] = (), tick: Callable | None = None) -> SessionOutcome:
    """Run ``models`` on the session's video into a new session at ``out``; the markers are
    carried over, mapped row by row onto the new session's time axis (the new one runs on video
    time, frame k at k/fps; the old one on capture time)."""
    from realtime.sessions.run import run_to_session
    from realtime.capture.sources import SourceError, VideoFileSource

    session = session if isinstance(session, Session) else read_session(session)
    if session.video is None:
        raise SessionError(f"{session.root}: has no video, so there is nothing to re-analyse "
                           f"(its recorded results can still be replayed)")
    try:
        source = VideoFileSource(session.video)
    except SourceError as exc:
        raise SessionError(f"{exc}; the recorded results can still be replayed without --reanalyze") from None

    def attach(pipeline, _writer):
        for fn in subscribers:
            pipeline.subscribe(fn)

    def carry_markers(writer) -> None:
        fps = source.info.fps
        old_t = session.data["t_s"]
        for ts, label in session.events:
            if len(old_t) > 1:
                # old time -> fractional row -> video time of that row
                row = float(np.interp(ts, old_t, np.arange(len(old_t)), left=np.nan, right=np.nan))
                if np.isnan(row):  # outside the recorded rows: shift by the nearest end
                    row = (ts - old_t[0]) * fps if ts < old_t[0] else len(old_t) - 1 + (ts - old_t[-1]) * fps
                writer.add_event(label, row / fps)
            else:
                writer.add_event(label, ts)

    return run_to_session(source, models, out, paced=False, record_video=record_video,
                          settings={"command": "replay --reanalyze", "backend": models.backend,
                                    "reanalysis_of": str(session.root)},
                          tick=tick, on_start=attach, before_finish=carry_markers)
