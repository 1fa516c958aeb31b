"""Frame sources: a camera by index, a video file, a folder of images.

Each source opens eagerly (so a bad camera index or file fails before any thread starts), yields
BGR frames through :meth:`read`, and reports a clear :class:`SourceError` instead of hanging:
a camera that cannot be opened, a missing file, a file that is not a video, a stream that stops.
A camera that stops delivering is reopened a bounded number of times with back-off.
"""
from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np

from realtime.types import SourceInfo

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class SourceError(RuntimeError):
    """A source that cannot deliver frames; the message says what and what to do."""


class FrameSource(ABC):
    info: SourceInfo
    live: bool = False  # a live source is never waited for: the latest frame wins

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The next BGR frame, or None at the end of a finite source."""

    def media_time(self, index: int) -> float:
        """Seconds into the source of frame ``index``, the one :meth:`read` returned last. Sources
        with their own clock (a video's time stamps) say it; others count frames at ``info.fps``."""
        return index / self.info.fps

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _QuietOpenCV:
    """OpenCV prints a warning per camera index it fails to open; the error we raise says it better."""

    def __enter__(self):
        self._level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

    def __exit__(self, *exc):
        cv2.utils.logging.setLogLevel(self._level)


class CameraSource(FrameSource):
    live = True

    def __init__(self, index: int, width: int | None = None, height: int | None = None,
                 reconnects: int = 5, backoff_s: float = 0.25, backend: int = cv2.CAP_ANY):
        self.index, self.width, self.height = index, width, height
        self.reconnects, self.backoff_s, self.backend = reconnects, backoff_s, backend
        self._cap = self._open()
        ok, frame = self._cap.read()
        if not ok or frame is None:
            self._cap.release()
            raise SourceError(f"camera {index} opened but gives no frames; close other programs using it or pick another index")
        self._first = frame
        fps = self._cap.get(cv2.CAP_PROP_FPS) or 30.0
        self.info = SourceInfo("camera", str(index), frame.shape[1], frame.shape[0], float(fps if fps > 0 else 30.0))

    def _open(self) -> cv2.VideoCapture:
        with _QuietOpenCV():
            cap = cv2.VideoCapture(self.index, self.backend)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"camera {self.index} cannot be opened; check that it is plugged in and not used by "
                f"another program (cameras that open here: {list_cameras() or 'none'})"
            )
        if self.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        return cap

    def read(self) -> np.ndarray | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        ok, frame = self._cap.read()
        if ok and frame is not None:
            return frame
        for attempt in range(1, self.reconnects + 1):
            delay = self.backoff_s * 2 ** (attempt - 1)
            log.warning("camera %d stopped delivering frames; reconnect %d/%d in %.2f s",
                        self.index, attempt, self.reconnects, delay)
            time.sleep(delay)
            self._cap.release()
            try:
                self._cap = self._open()
            except SourceError:
                continue
            ok, frame = self._cap.read()
            if ok and frame is not None:
                return frame
        raise SourceError(f"camera {self.index} was lost and did not come back after {self.reconnects} reconnects")

    def close(self) -> None:
        self._cap.release()


def list_cameras(max_index: int = 4) -> list[int]:
    """Indices of the cameras that open (probes 0..max_index-1; quiet if there are none)."""
    found = []
    with _QuietOpenCV():
        for i in range(max_index):
            cap = cv2.VideoCapture(i)
            if cap.isOpened():
                found.append(i)
            cap.release()
    return found


class VideoFileSource(FrameSource):
    """A video file, its frames in order with the container's time stamps.

    Time comes from the file, not from index / fps: a variable-frame-rate clip keeps its true
    times. The header's frame rate is checked against the first frames' time stamps; when it is
    missing or disagrees, a warning says so and ``info.fps`` is what the frames show.
    """

    PROBE_FRAMES = 12  # frames read ahead at open to check the frame rate

    def __init__(self, path: str | Path, live: bool = False):
        self.path = Path(path)
        self.live = live
        if not self.path.exists():
            raise SourceError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise SourceError(f"{self.path}: is a folder; pass a video file (or use an image-folder source)")
        self._cap = cv2.VideoCapture(str(self.path))
        self._ahead: list[tuple[np.ndarray, float]] = []
        while self._cap.isOpened() and len(self._ahead) < self.PROBE_FRAMES:
            ok, frame = self._cap.read()
            if not ok or frame is None:
                break
            self._ahead.append((frame, self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1e3))
        if not self._ahead:
            self._cap.release()
            raise SourceError(f"{self.path}: not a readable video (corrupt, empty, or a codec OpenCV cannot decode)")
        first = self._ahead[0][0]
        fps = self._frame_rate(float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0), [t for _, t in self._ahead])
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        self.info = SourceInfo("video", str(self.path), first.shape[1], first.shape[0], fps, count)
        self.frames_read = 0
        self.ended_early = False
        self._stamps = self._increasing([t for _, t in self._ahead])
        self._t0 = self._ahead[0][1]
        self._last_s = 0.0

    @staticmethod
    def _increasing(times: list[float]) -> bool:
        return len(times) >= 2 and all(b > a for a, b in zip(times, times[1:]))

    def _frame_rate(self, header: float, times: list[float]) -> float:
        """The header's rate if the time stamps agree with it, else what they show (with a warning)."""
        seen = None
        if self._increasing(times):  # over the whole span: OpenCV rounds stamps to the nominal grid
            seen = (len(times) - 1) / (times[-1] - times[0])
        valid = 1.0 <= header <= 240.0
        if not valid:
            guess = seen if seen and 1.0 <= seen <= 240.0 else 30.0
            log.warning("%s: the header gives no usable frame rate (%s); using %.2f fps from the %s",
                        self.path, header, guess, "frames' time stamps" if seen else "default, no time stamps")
            return guess
        if seen and abs(seen - header) > 0.02 * header:
            log.warning("%s: the header says %.2f fps but the first frames come at %.2f fps (variable frame "
                        "rate?); times follow the frames' own time stamps", self.path, header, seen)
        return header

    def read(self) -> np.ndarray | None:
        if self._ahead:
            frame, t = self._ahead.pop(0)
        else:
            ok, frame = self._cap.read()
            if not ok or frame is None:
                self._check_end()
                return None
            t = self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1e3
        self.frames_read += 1
        if self._stamps and t - self._t0 > self._last_s:
            self._last_s = t - self._t0
        elif self._stamps and self.frames_read > 1:
            self._stamps = False  # time stamps stopped increasing: count frames from here
            log.warning("%s: frame time stamps stop increasing at frame %d; counting frames at %.2f fps",
                        self.path, self.frames_read - 1, self.info.fps)
        if not self._stamps:  # counting on from the last time, which never goes back
            self._last_s = self._last_s + 1.0 / self.info.fps if self.frames_read > 1 else 0.0
        return frame

    def media_time(self, index: int) -> float:
        return self._last_s

    def _check_end(self) -> None:
        """A file that stops well before its stated length is truncated or corrupt (judged by time
        where the file has time stamps: a variable-rate file's frame count is only an estimate)."""
        n = self.info.frame_count
        if not n or self.ended_early:
            return
        if self._stamps:
            expected = n / self.info.fps
            early = self._last_s < 0.95 * expected - 2.0 / self.info.fps
            where = f"{self._last_s:.2f} s of about {expected:.2f} s"
        else:
            early = self.frames_read < 0.95 * n - 1
            where = f"frame {self.frames_read} of {n}"
        if early:
            self.ended_early = True
            log.warning("%s: video stopped at %s (truncated or corrupt file)", self.path, where)

    def close(self) -> None:
        self._cap.release()


class LoopingVideoSource(FrameSource):
    """A video file played over and over, as one source: no rebuild between loops, and the media
    time keeps counting (loop k starts where loop k-1 ended), so a long run has one clock.
    ``looping`` may be switched off while it runs (e.g. while recording): the source then ends at
    the end of the file it is playing."""

    def __init__(self, path: str | Path, live: bool = True, looping: bool = True):
        self.path = Path(path)
        self.live = live
        self.looping = looping
        self._video = VideoFileSource(self.path, live)
        self.info = self._video.info  # frame_count: frames per pass
        self.loops = 0
        self.ended_early = False
        self._offset = 0.0
        self._last = 0.0

    def read(self) -> np.ndarray | None:
        frame = self._video.read()
        if frame is None and self.looping:
            self._video.close()
            self._offset = self._last + 1.0 / self.info.fps
            self._video = VideoFileSource(self.path, self.live)
            self.loops += 1
            frame = self._video.read()
            if frame is None:
                raise SourceError(f"{self.path}: gives no frames when reopened")
        elif frame is None:
            self.ended_early = self._video.ended_early
            return None
        self._last = self._offset + self._video.media_time(0)
        return frame

    def media_time(self, index: int) -> float:
        return self._last

    def close(self) -> None:
        self._video.close()


class ImageFolderSource(FrameSource):
    def __init__(self, path: str | Path, fps: float = 30.0, live: bool = False):
        self.path = Path(path)
        self.live = live
        if not self.path.is_dir():
            raise SourceError(f"{self.path}: not a folder of images")
        self.files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(f"{self.path}: holds no images ({', '.join(IMAGE_SUFFIXES)})")
        first = cv2.imread(str(self.files[0]))
        if first is None:
            raise SourceError(f"{self.files[0]}: not a readable image")
        self.info = SourceInfo("images", str(self.path), first.shape[1], first.shape[0], float(fps), len(self.files))
        self._i = 0

    def read(self) -> np.ndarray | None:
        while self._i < len(self.files):
            f = self.files[self._i]
            self._i += 1
            img = cv2.imread(str(f))
            if img is not None:
                return img
            log.warning("%s: not a readable image; skipped", f)
        return None


def open_source(spec: str | int | Path, live: bool = False) -> FrameSource:
    """A camera index (int or digits), a folder of images, or a video file."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return CameraSource(int(spec))
    p = Path(spec)
    if p.is_dir():
        return ImageFolderSource(p, live=live)
    return VideoFileSource(p, live=live)
