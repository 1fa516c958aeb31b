"""Preallocated ring buffers for the perception stream (aligned crops, landmark vectors).

One writer (the perception thread) and any number of readers (model workers). A reader takes a
copy of the last ``n`` entries under a lock, so the writer never waits on a slow reader for longer
than one copy.
"""
from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    """Fixed-capacity buffer of equally shaped arrays with their frame indices and timestamps."""

    def __init__(self, capacity: int, shape: tuple[int, ...], dtype=np.float32):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.data = np.zeros((capacity, *shape), dtype=dtype)
        self.frame_index = np.full(capacity, -1, np.int64)
        self.t_ns = np.zeros(capacity, np.int64)
        self._written = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return min(self._written, self.capacity)

    @property
    def written(self) -> int:
        """Entries written since creation or the last clear (grows; the storage does not)."""
        return self._written

    def push(self, frame_index: int, t_ns: int, value: np.ndarray) -> None:
        with self._lock:
            i = self._written % self.capacity
            self.data[i] = value
            self.frame_index[i] = frame_index
            self.t_ns[i] = t_ns
            self._written += 1

    def clear(self) -> None:
        with self._lock:
            self._written = 0

    def last(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the last ``n`` entries (oldest first): values, frame indices, timestamps."""
        with self._lock:
            n = min(n, len(self))
            idx = (np.arange(self._written - n, self._written)) % self.capacity
            return self.data[idx].copy(), self.frame_index[idx].copy(), self.t_ns[idx].copy()

    def sample(self, n: int, stride: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """``n`` entries ending at the newest, ``stride`` entries apart (rounded); None if too few."""
        with self._lock:
            span = int(round(stride * (n - 1))) + 1
            if len(self) < span:
                return None
            offs = np.round(np.arange(n) * stride).astype(np.int64)
            idx = (self._written - span + offs) % self.capacity
            return self.data[idx].copy(), self.frame_index[idx].copy(), self.t_ns[idx].copy()


class PerceptionBuffers:
    """The face stream the model workers read: aligned crops, 80-value landmark vectors and each
    frame's quality flag (its landmarks can be trusted), entry for entry."""

    def __init__(self, capacity: int, crop_size: int):
        self.crops = RingBuffer(capacity, (crop_size, crop_size, 3), np.uint8)
        self.vectors = RingBuffer(capacity, (80,), np.float32)
        self.good = RingBuffer(capacity, (), np.bool_)

    def push(self, frame_index: int, t_ns: int, crop: np.ndarray, vector: np.ndarray, good: bool = True) -> None:
        self.crops.push(frame_index, t_ns, crop)
        self.vectors.push(frame_index, t_ns, vector)
        self.good.push(frame_index, t_ns, good)

    def clear(self) -> None:
        self.crops.clear()
        self.vectors.clear()
        self.good.clear()
