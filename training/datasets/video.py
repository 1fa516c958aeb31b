"""Frames of a clip, from a video file or from a folder of images, with their rate and count."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


class DatasetError(ValueError):
    """A dataset file or folder that is missing or malformed; the message names it and says what was expected."""


def is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def _natural_key(p: Path):
    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", p.name)]


def frame_files(folder: Path) -> list[Path]:
    """Image files of a frame folder in natural order (frame2 before frame10)."""
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)


class ClipFrames:
    """The frames of one clip: a video file, or a folder of images (one frame each, natural order).

    ``fps`` of a frame folder is not stored anywhere, so it is given (``folder_fps``).
    Iterating yields H x W x 3 uint8 BGR frames.
    """

    def __init__(self, path: str | Path, folder_fps: float = 30.0):
        self.path = Path(path)
        if self.path.is_dir():
            self._files = frame_files(self.path)
            if not self._files:
                raise DatasetError(f"{self.path}: frame folder holds no images (expected {', '.join(IMAGE_SUFFIXES)})")
            self.fps = float(folder_fps)
            self.frame_count = len(self._files)
        elif is_video(self.path):
            self._files = None
            cap = cv2.VideoCapture(str(self.path))
            if not cap.isOpened():
                raise DatasetError(f"{self.path}: OpenCV cannot open this video")
            fps = cap.get(cv2.CAP_PROP_FPS)
            self.fps = float(fps) if fps and fps > 0 else float(folder_fps)
            self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()
        else:
            raise DatasetError(f"{self.path}: not a video ({', '.join(VIDEO_SUFFIXES)}) nor a folder of frames")

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._files is not None:
            for f in self._files:
                image = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if image is None:
                    raise DatasetError(f"{f}: unreadable image in a frame folder")
                yield image
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                yield frame
        finally:
            cap.release()

    def count_frames(self) -> int:
        """Frames actually decodable (slow for videos: decodes them all)."""
        return self.frame_count if self._files is not None else sum(1 for _ in self)
