"""Argument checks shared by the trainers: a bad count or rate is refused before any data is read."""
from __future__ import annotations


def require_positive(**values: float | int | None) -> None:
    """Raise ValueError naming the first of ``values`` that is not > 0 (None: not set, allowed)."""
    for name, value in values.items():
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")
