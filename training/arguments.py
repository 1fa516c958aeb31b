"""Argument types of the training commands: a count, a rate or a fraction that is out of range is
refused by the parser in one line (exit 2), before any data is read."""
from __future__ import annotations

import argparse
import math
from typing import Callable


def _bounded(kind: type, ok: Callable[[float], bool], says: str) -> Callable[[str], int | float]:
    """An argparse type: ``text`` as ``kind`` (a finite number), refused unless ``ok(value)``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") \
                from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text!r} {says}")
        return value

    return parse


positive_int = _bounded(int, lambda v: v >= 1, "must be a whole number >= 1")
non_negative_int = _bounded(int, lambda v: v >= 0, "must be a whole number >= 0")
positive_float = _bounded(float, lambda v: v > 0, "must be > 0")
non_negative_float = _bounded(float, lambda v: v >= 0, "must be >= 0")
fraction = _bounded(float, lambda v: 0 < v <= 1, "must be in (0, 1]")  # a share
crop_side = _bounded(int, lambda v: v >= 16, "is too small: a crop side of at least 16 pixels")
