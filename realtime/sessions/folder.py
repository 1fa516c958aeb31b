"""Session folders: record (``SessionWriter``) and read back (``read_session``).

::

    SESSION/session.json  schema affectscope.session/1: created (UTC), source, bundle, expression
                          model, software versions, settings; "complete": false until the end;
                          at the end "faults": what went wrong (a source that ended early or failed,
                          a model that did not load or faulted), empty for a clean run
    SESSION/frames.csv    one row per processed frame, appended and flushed as results arrive
    SESSION/video.mkv     optional: the frames on the session clock (frame k shows the first
                          row's t_s + k / fps;
                          a gap repeats the previous frame), so it lines up with frames.csv;
                          Matroska, readable after a kill up to a second or two before it
    SESSION/events.csv    t_s,label markers
    SESSION/drops.csv     only when frames were dropped: first_frame,frames,t_s for each run of
                          frames captured but not processed (a live source kept the newest)

``session.json`` is written when recording starts and replaced (atomically, by rename) when it
ends; rows already in ``frames.csv`` are never rewritten. A process killed mid-recording leaves
every row flushed before the kill readable, and the reader says the session was cut off.
"""
from __future__ import annotations

import csv
import datetime as _dt
import errno
import json
import logging
import math
import os
import platform
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import cv2
import numpy as np

from realtime.concurrency.threads import StoppableThread
from realtime.sessions.frames_table import TableError, read_frames_table
from realtime.types import AffectResult, Frame, SourceInfo

log = logging.getLogger(__name__)

SCHEMA = "affectscope.session/2"
_LANDMARKS = (*(f"x{i}" for i in range(68)), *(f"y{i}" for i in range(68)))
_HEAD = ("frame", "t_s", "face", "box_x", "box_y", "box_w", "box_h", "valence", "valence_updated", "p_fake",
         "latency_ms")
# Added in /2: head pose (degrees), whether the frame's landmarks can be trusted (1/0), and the share
# of such frames in the input of each model output.
POSE_QUALITY_COLUMNS = ("yaw", "pitch", "roll", "good", "valence_quality", "p_fake_quality")
COLUMNS: tuple[str, ...] = (*_HEAD, *POSE_QUALITY_COLUMNS, *_LANDMARKS)
#: The frames.csv columns of every schema this version reads (older sessions read with NaN in the
#: columns they lack).
SCHEMA_COLUMNS: dict[str, tuple[str, ...]] = {"affectscope.session/1": (*_HEAD, *_LANDMARKS), SCHEMA: COLUMNS}
EVENT_COLUMNS = ("t_s", "label")
DROP_COLUMNS = ("first_frame", "frames", "t_s")  # a run of frames captured but not processed
# Matroska: written as it goes, so a killed recording leaves its video readable up to the muxer's
# last unfinished cluster, a second or two (MP4 writes its index on close and leaves nothing).
# MPEG-4 Part 2 video, as OpenCV's wheels can encode it.
VIDEO_FILE = "video.mkv"


class SessionError(ValueError):
    """A session folder that cannot be read; the message names the file and what is wrong."""


def software_versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("affectscope", "numpy", "opencv-contrib-python-headless", "dlib-bin", "torch", "xgboost-cpu"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _fmt(v: float | None, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return f"{v:.{digits}f}"


def result_row(r: AffectResult, t_s: float) -> list[str]:
    """One frames.csv row (strings) in COLUMNS order."""
    if r.face and r.box is not None:
        box = [str(int(v)) for v in r.box]
    else:
        box = ["", "", "", ""]
    if r.face and r.landmarks68 is not None:
        xs = [f"{v:.1f}" for v in r.landmarks68[:, 0]]
        ys = [f"{v:.1f}" for v in r.landmarks68[:, 1]]
    else:
        xs = ys = [""] * 68
    pose = [f"{v:.1f}" for v in r.pose] if r.face and r.pose is not None else ["", "", ""]
    return [
        str(r.frame_index), f"{t_s:.4f}", "1" if r.face else "0", *box,
        _fmt(r.valence), "1" if r.valence_updated else "0", _fmt(r.p_fake), f"{r.latency_ms:.2f}",
        *pose, ("1" if r.good else "0") if r.face else "", _fmt(r.valence_quality, 3), _fmt(r.p_fake_quality, 3),
        *xs, *ys,
    ]


def check_new_session_folder(root: str | Path, overwrite: bool = False) -> None:
    """Raise SessionError when ``root`` cannot hold a new session: a file, or a folder with things in
    it (a front end asks this before it starts a source to record)."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise SessionError(f"{root}: is a file, not a folder; pick a new session folder")
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise SessionError(f"{root}: folder exists and is not empty; pick a new session folder")


def output_file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be written as a new output file (the path is a folder, or its folder is
    missing or not a folder), or None: checked before any work, not found after it."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        return "is a folder; give a file name"
    if not parent.is_dir():
        return f"{parent} is not a folder" + ("" if parent.exists() else " (it does not exist)")
    return None


def json_safe(value: Any) -> Any:
    """``value`` ready for strict JSON, which other tools' parsers read: every non-finite float (a
    percentile of nothing, say) as None (Python's own writer puts NaN, which they refuse), NumPy
    numbers as Python ones, mapping keys as strings. Sessions, benchmarks and training reports all
    go through it."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _write_json_atomic(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class SessionWriter(StoppableThread):
    """A result-bus subscriber that writes a session folder on its own thread.

    The bus call only enqueues (the frame image is referenced, not copied: frames are never
    modified after capture). The queue is bounded; a full queue makes the publisher wait a
    little rather than lose rows — a session is a record. It holds seconds of frames, so the
    writer runs at a lower priority than the window and perception.
    """

    background = True

    def __init__(self, root: str | Path, source: SourceInfo, *, bundle: dict | None = None,
                 expression_model: str | None = None, settings: dict | None = None,
                 record_video: bool = False, queue_size: int = 512, overwrite: bool = False):
        super().__init__("session-writer")
        self.root = Path(root)
        check_new_session_folder(self.root, overwrite)
        self.source = source
        self.record_video = record_video
        self._q: queue.Queue = queue.Queue(maxsize=queue_size)
        self._video: cv2.VideoWriter | None = None
        self._events_lock = threading.Lock()
        self.rows = 0
        self.frames_dropped = 0  # captured, never processed (see drops.csv)
        self.failure: str | None = None  # set when a write fails; the recording has stopped
        self._last_index: int | None = None
        self._drops_fh = None
        self.video_frames = self.video_repeated = self.video_skipped = 0
        self._last_image: np.ndarray | None = None
        self._video_t0: float | None = None
        self.meta: dict[str, Any] = {
            "schema": SCHEMA,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "source": {"kind": source.kind, "uri": source.uri, "width": source.width,
                       "height": source.height, "fps": source.fps},
            "bundle": bundle or {},
            "expression_model": expression_model,
            "software": software_versions(),
            "settings": settings or {},
            "video": VIDEO_FILE if record_video else None,
            "complete": False,
        }
        if record_video:  # the clock is known from the start, so even a killed session replays in step
            self.meta["video_frames"] = {"fps": source.fps}
        try:
            self._create_files()
        except OSError as exc:
            raise SessionError(f"{self.root}: cannot write the session there ({exc.strerror or exc}); pick a "
                               f"folder you can write to") from None

    def _create_files(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(self.root / "session.json", self.meta)
        self._frames_fh = open(self.root / "frames.csv", "w", newline="", encoding="utf-8")
        self._frames_csv = csv.writer(self._frames_fh)
        self._frames_csv.writerow(COLUMNS)
        self._frames_fh.flush()
        self._events_fh = open(self.root / "events.csv", "w", newline="", encoding="utf-8")
        self._events_csv = csv.writer(self._events_fh)
        self._events_csv.writerow(EVENT_COLUMNS)
        self._events_fh.flush()

    # -- subscriber (any thread) -------------------------------------------------------------
    def __call__(self, result: AffectResult, frame: Frame) -> None:
        if self.failure is not None:  # nothing more can be written: never hold up the pipeline
            self.stats.dropped += 1
            return
        item = (result, frame.image if self.record_video else None)
        while True:
            try:
                self._q.put(item, timeout=0.5)
                return
            except queue.Full:
                if not self.is_alive():
                    self.stats.dropped += 1
                    return
                log.warning("session writer is behind (disk slow?); waiting")

    @property
    def backlog(self) -> int:
        """Results waiting to be written (each with its frame when recording video)."""
        return self._q.qsize()

    @property
    def behind(self) -> str | None:
        """A warning while the writer falls behind (a slow disk): more than a quarter of its buffer
        waits. Past a full buffer the pipeline waits for the disk rather than lose rows."""
        n, cap = self._q.qsize(), self._q.maxsize
        if cap and n > cap // 4:
            return (f"recording is falling behind: {n} frames waiting to be written "
                    f"(about {n / max(self.source.fps, 1.0):.0f} s; the disk is slow)")
        return None

    def t_s(self, result: AffectResult) -> float:
        """Session time of a result: the source's own clock (the position in a video file, the time
        since capture started for a camera), the same clock the live plots and markers use; a
        recording started mid-run begins where the run was."""
        return result.media_s

    def add_event(self, label: str, t_s: float) -> None:
        """A marker at session time ``t_s`` (written and flushed at once; any thread)."""
        with self._events_lock:
            try:
                self._events_csv.writerow([f"{t_s:.4f}", label])
                self._events_fh.flush()
            except (OSError, ValueError) as exc:  # ValueError: the file was closed after a failure
                log.error("%s: marker %r at %.2f s not saved (%s)", self.root, label, t_s, exc)

    # -- writer thread -----------------------------------------------------------------------
    def loop(self) -> None:
        while not (self.stopping and self._q.empty()):
            try:
                result, image = self._q.get(timeout=0.1)
            except queue.Empty:
                continue
            if self.failure is not None:
                continue  # drain what was queued; it cannot be written
            try:
                self._write(result, image)
            except OSError as exc:
                self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        """A write failed (a full disk, a removed drive): the recording stops, what is on disk stays
        readable, and ``failure`` says so for the front ends to show at once."""
        why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        self.failure = (f"recording stopped: cannot write to {self.root} ({why}); the {self.rows} frames written "
                        f"before are readable")
        log.error("%s", self.failure)

    def _write(self, result: AffectResult, image: np.ndarray | None) -> None:
        t_s = self.t_s(result)
        self._note_gap(result.frame_index, t_s)
        self._frames_csv.writerow(result_row(result, t_s))
        self._frames_fh.flush()
        self.rows += 1
        self.stats.processed += 1
        if image is not None:
            self._write_video(image, t_s)

    def _note_gap(self, index: int, t_s: float) -> None:
        """Frames captured but never processed (a live source keeps only the newest frame when
        processing is busy) leave a gap in the frame numbers: each gap is a line of drops.csv."""
        if self._last_index is not None and index > self._last_index + 1:
            missing = index - self._last_index - 1
            self.frames_dropped += missing
            if self._drops_fh is None:
                self._drops_fh = open(self.root / "drops.csv", "w", newline="", encoding="utf-8")
                self._drops_csv = csv.writer(self._drops_fh)
                self._drops_csv.writerow(DROP_COLUMNS)
            self._drops_csv.writerow([self._last_index + 1, missing, f"{t_s:.4f}"])
            self._drops_fh.flush()
        self._last_index = index if self._last_index is None else max(index, self._last_index)

    def _write_video(self, image: np.ndarray, t_s: float) -> None:
        """The video runs on the session clock: its frame k shows the session at t0 + k / fps seconds,
        t0 being the first row's time.
        A frame that comes late (a drop, a slow camera) repeats the previous one over the gap; one
        that comes early (a source faster than its nominal rate) waits for the next slot."""
        if self._video is None:
            h, w = image.shape[:2]
            self._video = cv2.VideoWriter(str(self.root / VIDEO_FILE), cv2.VideoWriter_fourcc(*"mp4v"),
                                          self.source.fps, (w, h))
        if self._video_t0 is None:
            self._video_t0 = t_s  # the video starts with the recording
        slot = int(np.floor((t_s - self._video_t0) * self.source.fps + 0.5))
        if slot < self.video_frames:
            self.video_skipped += 1
            return
        while self.video_frames < slot:  # repeat the last frame over a gap
            self._video.write(self._last_image if self._last_image is not None else image)
            self.video_frames += 1
            self.video_repeated += 1
        self._video.write(image)
        self.video_frames += 1
        self._last_image = image

    def teardown(self) -> None:
        for close in (self._frames_fh.close, self._drops_fh.close if self._drops_fh else None,
                      self._close_events, self._video.release if self._video is not None else None):
            if close is None:
                continue
            try:
                close()
            except OSError as exc:  # flushing on a full disk
                if self.failure is None:
                    self._fail(exc)

    def _close_events(self) -> None:
        with self._events_lock:
            self._events_fh.close()

    def finish(self, extra: dict | None = None, timeout: float = 30.0) -> None:
        """Write what is queued, close the files, and mark session.json complete."""
        self.stop()
        self.join(timeout)
        self.meta.update(extra or {})
        if self.record_video:
            self.meta["video_frames"] = {"written": self.video_frames, "repeated": self.video_repeated,
                                         "skipped": self.video_skipped, "fps": self.source.fps}
        if self.failure is not None:
            self.meta["faults"] = [*self.meta.get("faults", []), self.failure]
        self.meta.update(complete=True, frames=self.rows, frames_dropped=self.frames_dropped,
                         ended=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        try:
            _write_json_atomic(self.root / "session.json", self.meta)
        except OSError as exc:  # the disk is still full: the first session.json stays ("complete": false)
            log.error("%s: cannot finish session.json (%s); the rows in frames.csv are readable", self.root,
                      exc.strerror or exc)


@dataclass
class Session:
    root: Path
    meta: dict[str, Any]
    columns: tuple[str, ...]
    data: dict[str, np.ndarray]  # column -> float array (NaN where empty)
    events: list[tuple[float, str]] = field(default_factory=list)
    truncated_rows: int = 0  # a last line cut off mid-write (killed process)
    notes: list[str] = field(default_factory=list)  # what was read but looks edited or damaged

    @property
    def complete(self) -> bool:
        return bool(self.meta.get("complete"))

    @property
    def cut_off(self) -> bool:
        return not self.complete or self.truncated_rows > 0

    @property
    def video(self) -> Path | None:
        """The session's video file: the one session.json names, else video.mkv or (sessions
        recorded before Matroska) video.mp4; None when there is none."""
        names = [self.meta.get("video")] if isinstance(self.meta.get("video"), str) else []
        for name in [*names, VIDEO_FILE, "video.mp4"]:
            p = self.root / name
            if p.is_file():
                return p
        return None

    def video_frame(self, row: int) -> int:
        """Index of the video frame that shows ``row``: on the session clock for sessions that
        record it (``video_frames.fps`` in session.json), else one video frame per row."""
        timing = self.meta.get("video_frames")
        if isinstance(timing, dict) and float(timing.get("fps") or 0) > 0:
            t = self.data["t_s"]
            return int(np.floor((t[row] - t[0]) * float(timing["fps"]) + 0.5))
        return row

    def __len__(self) -> int:
        return len(self.data["frame"])

    def landmarks(self, row: int) -> np.ndarray | None:
        xs = np.array([self.data[f"x{i}"][row] for i in range(68)])
        ys = np.array([self.data[f"y{i}"][row] for i in range(68)])
        if np.isnan(xs).any():
            return None
        return np.stack([xs, ys], 1).astype(np.float32)


def read_session(root: str | Path) -> Session:
    root = Path(root)
    meta_path, frames_path = root / "session.json", root / "frames.csv"
    if not root.is_dir():
        raise SessionError(f"{root}: not a session folder")
    if not meta_path.is_file():
        raise SessionError(f"{meta_path}: missing; not an affectscope session folder")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SessionError(f"{meta_path}: not valid JSON ({exc})") from None
    columns = SCHEMA_COLUMNS.get(meta.get("schema"))
    if columns is None:
        raise SessionError(f"{meta_path}: field 'schema' is {meta.get('schema')!r}, expected one of "
                           f"{', '.join(SCHEMA_COLUMNS)} (a newer affectscope wrote it? update affectscope)")
    if not frames_path.is_file():
        raise SessionError(f"{frames_path}: missing")
    try:
        table, truncated = read_frames_table(frames_path, columns, meta["schema"])
    except TableError as exc:
        raise SessionError(str(exc)) from None
    rows = len(table["t_s"])
    data = {name: table[name] if name in table else np.full(rows, np.nan)  # what an older schema lacks: NaN
            for name in COLUMNS}
    if rows and np.isnan(data["t_s"]).any():
        line = int(np.flatnonzero(np.isnan(data["t_s"]))[0]) + 2
        raise SessionError(f"{frames_path}: line {line} has no time (column 't_s' is empty); every frame needs "
                           f"one — restore the file from a copy or remove that line")
    notes = []
    back = np.flatnonzero(np.diff(data["t_s"]) < 0)
    if back.size:
        notes.append(f"{frames_path}: the time goes back at line {int(back[0]) + 3} ({back.size} "
                     f"{'place' if back.size == 1 else 'places'}); the file was edited or damaged")
    events, skipped = _read_events(root / "events.csv")
    if skipped:
        notes.append(f"{root / 'events.csv'}: line{'s' if len(skipped) > 1 else ''} "
                     f"{', '.join(map(str, skipped[:5]))}{' …' if len(skipped) > 5 else ''} not read "
                     f"(expected t_s,label with a time in seconds)")
    return Session(root, meta, columns, data, events, truncated, notes)


def _read_events(path: Path) -> tuple[list[tuple[float, str]], list[int]]:
    """The markers of an events.csv, and the numbers of its lines that are not one."""
    events: list[tuple[float, str]] = []
    skipped: list[int] = []
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as fh:
            for line, r in enumerate(list(csv.reader(fh))[1:], start=2):
                try:
                    if len(r) != 2 or not math.isfinite(t := float(r[0])):
                        raise ValueError
                    events.append((t, r[1]))
                except ValueError:
                    if any(cell.strip() for cell in r):  # a blank line is nothing to mention
                        skipped.append(line)
    return events, skipped
