"""The face tracker in a process of its own, for runs in real time (the window, live analysis).

Why: dlib's shape predictor keeps the interpreter lock for its whole call (about a millisecond a
frame), and the tracker's own Python runs between OpenCV's calls. On a machine short of CPU the
perception thread was preempted while holding the lock, and the window's event loop waited for it
behind other programs: the window's worst stalls (55-80 ms) were 85 % waiting and 15 % its own
work (``affectscope gui --stall-report``). In a child process perception competes for a core, not
for the lock, and the window's process no longer loads dlib's 100 MB predictor at all. On one core
shared with a busy loop (the window recording for 150 s, two runs each way): stalls over 50 ms
39 → 28 and 31 → 22, lateness p99 33.7 → 28.5 and 31.6 → 28.4 ms.

Each frame is copied into a shared buffer (an anonymous memory file both processes map; it grows
when a larger frame comes) and the child is asked to process it; the observation comes back over
the socket (landmarks, crop and vector: a few kilobytes). One frame is in flight at a time, so
the buffer is never written while the child reads it. The child runs
:class:`~realtime.perception.face_tracker.FaceTracker` itself, so observations are the same as
in the calling thread; it runs at the caller's priority (perception is as urgent as the window).

The helper process plumbing is :mod:`realtime.concurrency.helper_process` (POSIX only; elsewhere
:func:`tracker_for_real_time` returns the tracker itself).
"""
from __future__ import annotations

import logging
import mmap
import os
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from realtime.concurrency.helper_process import (
    AVAILABLE,
    HelperJobError,
    HelperProcess,
    HelperProcessError,
    exit_child,
    serve,
    spawn,
)
from realtime.perception.face_tracker import FaceTracker, TrackerSettings
from realtime.perception.landmarks import LandmarkModelError
from realtime.types import FaceObservation

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0  # importing OpenCV and dlib and reading the landmark model on a busy machine
FRAME_TIMEOUT_S = 30.0


class TrackerProcessError(HelperProcessError):
    """The perception process could not start, stopped answering, or ended."""


def _shared_file() -> int:
    """A file descriptor of anonymous memory (Linux), else of an unlinked temporary file."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("affectscope-frame")
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryFile(dir=shm) as f:
        return os.dup(f.fileno())


class TrackerProcess(HelperProcess):
    """A :class:`FaceTracker` (landmark model, normalization, crop size, settings) in a child
    process, with the tracker's ``process``/``reset`` interface."""

    def __init__(self, landmark_model: str | Path | None = None, normalization: str = "similarity",
                 crop_size: int = 64, settings: TrackerSettings | None = None,
                 start_timeout_s: float = START_TIMEOUT_S):
        if not AVAILABLE:
            raise TrackerProcessError("the perception process needs a POSIX system")
        try:
            self._fd = _shared_file()
        except OSError as exc:
            raise TrackerProcessError(f"cannot start the perception process: {exc}") from None
        self._buffer: mmap.mmap | None = None
        try:
            proc, conn = spawn(__name__, "the perception process", args=[str(self._fd)], pass_fds=[self._fd],
                               error=TrackerProcessError)
        except TrackerProcessError:
            os.close(self._fd)
            raise
        super().__init__(proc, conn, "the perception process", TrackerProcessError)
        try:
            problem = self.call(("init", None if landmark_model is None else str(landmark_model), normalization,
                                 crop_size, settings), start_timeout_s)
        except HelperJobError as exc:  # the tracker could not be made (an unknown normalization ...)
            self.close()
            raise TrackerProcessError(f"the perception process could not start: {exc}") from None
        except TrackerProcessError:
            self.close()
            raise
        if problem is not None:  # the landmark model cannot be read: said as the tracker would say it
            self.close()
            raise LandmarkModelError(problem)
        self.crop_size = crop_size

    def process(self, image: np.ndarray, frame_index: int, t_ns: int, gray: np.ndarray | None = None,
                clock_ns: int | None = None) -> FaceObservation:
        """As :meth:`FaceTracker.process` (``gray`` is made in the child)."""
        image = np.ascontiguousarray(image)
        if self._buffer is None or image.nbytes > len(self._buffer):
            if self._buffer is not None:
                self._buffer.close()
                self._buffer = None  # a resize that fails leaves no closed map behind
            os.ftruncate(self._fd, image.nbytes)
            self._buffer = mmap.mmap(self._fd, image.nbytes)
        np.ndarray(image.shape, image.dtype, buffer=self._buffer)[...] = image
        return self.call(("frame", len(self._buffer), image.shape, image.dtype.str, frame_index, t_ns, clock_ns),
                         FRAME_TIMEOUT_S)

    def reset(self) -> None:
        self.call(("reset",))

    def close(self, timeout: float = 5.0) -> None:
        super().close(timeout)
        if self._buffer is not None:
            self._buffer.close()
            self._buffer = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def tracker_for_real_time(landmark_model: str | Path | None, normalization: str, crop_size: int,
                          settings: TrackerSettings | None = None) -> FaceTracker | TrackerProcess:
    """A tracker in its own process where the system has them, else on the calling thread (also
    where the process cannot start: the run goes on as before, and the log says why)."""
    if AVAILABLE:
        try:
            return TrackerProcess(landmark_model, normalization, crop_size, settings)
        except TrackerProcessError as exc:
            log.warning("%s; face tracking runs on the perception thread instead", exc)
    from realtime.perception.landmarks import LandmarkReader

    return FaceTracker(LandmarkReader(landmark_model), normalization, crop_size, settings)


def _serve(sock_fd: int, frame_fd: int) -> int:
    from realtime.perception.landmarks import LandmarkReader

    state: dict = {"tracker": None, "buffer": None}

    def handle(message: tuple) -> tuple:
        op, tracker = message[0], state["tracker"]
        if op == "init":
            model, normalization, crop_size, settings = message[1:]
            try:
                reader = LandmarkReader(model)
            except LandmarkModelError as exc:
                return (str(exc),)
            state["tracker"] = FaceTracker(reader, normalization, crop_size, settings)
            return (None,)
        if tracker is None:
            raise RuntimeError(f"{op!r} before the tracker was made")
        if op == "frame":
            size, shape, dtype, index, t_ns, clock_ns = message[1:]
            buffer = state["buffer"]
            if buffer is None or len(buffer) != size:
                if buffer is not None:
                    buffer.close()
                state["buffer"] = buffer = mmap.mmap(frame_fd, size, prot=mmap.PROT_READ)
            image = np.ndarray(shape, np.dtype(dtype), buffer=buffer)
            return (tracker.process(image, index, t_ns, clock_ns=clock_ns),)
        if op == "reset":
            tracker.reset()
            return (None,)
        raise RuntimeError(f"unknown request {op!r}")

    return serve(Connection(sock_fd), handle)


if __name__ == "__main__":
    exit_child(_serve(int(sys.argv[1]), int(sys.argv[2])))
