"""A video's own annotations, handed out as the video plays them.

A video may come with a file of what happens when in it, beside it as ``STEM_events.csv`` with the
columns ``t_s,label`` (seconds into the video, and text). The bundled sample clip has one
(``sample_events.csv``: each expression's onset and end), so the demo says which expression the
face shows while valence and P(fake) answer. The window draws them on its plots, headless runs
print them, and a session recorded from the video holds them as markers at their times in it
(:func:`realtime.sessions.run.record_events`).

A looping video's media time keeps counting from one pass to the next, so each event comes again
once a pass, a pass's length later.
"""
from __future__ import annotations

import csv
from pathlib import Path


class ClipEventsError(ValueError):
    """An events file that cannot be read; the message names the file and the line."""


def events_file(video: str | Path) -> Path:
    """Where a video's events are looked for: ``STEM_events.csv`` beside it."""
    video = Path(video)
    return video.with_name(f"{video.stem}_events.csv")


def read_events(path: str | Path) -> list[tuple[float, str]]:
    """(t_s, label) rows of an events file, in time order."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"t_s", "label"} <= set(reader.fieldnames):
                raise ClipEventsError(f"{path}: expected the columns t_s,label, found {reader.fieldnames}")
            events = []
            for row in reader:
                try:
                    t = float(row["t_s"])
                except (TypeError, ValueError):
                    raise ClipEventsError(f"{path}, line {reader.line_num}: t_s {row['t_s']!r} is not a "
                                          f"number of seconds") from None
                if not t >= 0:
                    raise ClipEventsError(f"{path}, line {reader.line_num}: t_s {t} is before the video starts")
                events.append((t, (row["label"] or "").strip()))
    except (OSError, UnicodeDecodeError) as exc:
        raise ClipEventsError(f"{path}: {exc}") from None
    return sorted(events, key=lambda e: e[0])


class ClipEvents:
    """The events of one playing video, handed out once each as the media time passes them.

    ``period_s``: the length of one pass of a looping video (frames / fps), ``None`` for one pass.
    """

    def __init__(self, events: list[tuple[float, str]], period_s: float | None = None):
        self.events = list(events)
        self.period_s = period_s if period_s and period_s > 0 else None
        self._pass = 0
        self._next: int | None = 0  # index into events of the next one due (None: all handed out)

    @classmethod
    def for_video(cls, video: str | Path, frame_count: int | None, fps: float) -> ClipEvents | None:
        """The events of ``video`` if it has an events file (``None`` if it has none); a file that
        cannot be read raises :class:`ClipEventsError`."""
        path = events_file(video)
        if not path.is_file():
            return None
        period = frame_count / fps if frame_count and fps > 0 else None
        return cls(read_events(path), period)

    def again(self) -> ClipEvents:
        """The same events from the start, for another reader (one says them, one records them)."""
        return ClipEvents(self.events, self.period_s)

    def due(self, media_s: float) -> list[tuple[float, str]]:
        """(media time, label) of every event at or before ``media_s`` not handed out yet."""
        out = []
        while self.events and self._next is not None:
            t, label = self.events[self._next]
            t += self._pass * self.period_s if self.period_s else 0.0
            if t > media_s:
                break
            out.append((t, label))
            self._next += 1
            if self._next == len(self.events):
                if self.period_s is None:
                    self._next = None  # a single pass: nothing more comes
                    break
                self._pass, self._next = self._pass + 1, 0
        return out
