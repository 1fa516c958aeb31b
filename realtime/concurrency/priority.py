"""Background work yields the CPU to the window and to perception when cores are short.

On a 2-core machine the window's thread, perception, the recording's encoder, the valence model
and the genuine/fake recognizer's process all want a core at once now and then. The scheduler then
shares the cores evenly, and the window's paint or a frame's perception waits its turn behind work
that has seconds of slack: the session writer has a queue of seconds, the models' outputs are due
every half second or so, and a model job that is not ready is skipped, not queued. So that work
runs :func:`background_nice` steps lower (Linux ``nice`` levels: at 5 steps the scheduler weighs
it about a third of a normal thread). It only matters when the cores are short: on an idle core
a lowered thread runs as fast as any other.

``AFFECTSCOPE_BACKGROUND_NICE`` sets the steps (0 turns this off). On Linux the nice level is per
thread; elsewhere it is per process, so only the recognizer's own process is lowered there.
Lowering needs no privileges; nothing here ever raises a priority.
"""
from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

ENV = "AFFECTSCOPE_BACKGROUND_NICE"
DEFAULT_STEPS = 5


def background_nice() -> int:
    """Steps to lower background work by: ``$AFFECTSCOPE_BACKGROUND_NICE`` (0..19), else 5."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_STEPS
    try:
        steps = int(raw)
    except ValueError:
        steps = -1
    if not 0 <= steps <= 19:
        log.warning("%s=%r is not a whole number from 0 to 19; using %d", ENV, raw, DEFAULT_STEPS)
        return DEFAULT_STEPS
    return steps


def lower_this_thread(steps: int | None = None) -> bool:
    """Run the calling thread ``steps`` nice levels below the process's main thread (default
    :func:`background_nice`); threads it starts afterwards inherit the level, and a background
    thread started from one is not lowered twice. True if lowered; False where nothing was done
    (steps 0, a system without per-thread priorities, or a refusal, which is logged)."""
    steps = background_nice() if steps is None else steps
    if steps <= 0 or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        target = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + steps)  # pid: the main thread
        if target > os.getpriority(os.PRIO_PROCESS, tid):
            os.setpriority(os.PRIO_PROCESS, tid, target)
    except OSError as exc:
        log.info("could not lower the priority of thread %s: %s", threading.current_thread().name, exc)
        return False
    return True


def lower_this_process(steps: int | None = None, base: int | None = None) -> bool:
    """Run the whole calling process ``steps`` nice levels below ``base`` (default: its level now) —
    a helper process's own start. A process started from a thread that already runs lower starts at
    that thread's level, so its parent passes its own level as ``base`` (not lowered twice)."""
    steps = background_nice() if steps is None else steps
    if steps <= 0 or not hasattr(os, "nice"):
        return False
    try:
        now = os.nice(0)
        target = min(19, (now if base is None else base) + steps)
        if target > now:
            os.nice(target - now)
    except OSError as exc:
        log.info("could not lower the priority of process %d: %s", os.getpid(), exc)
        return False
    return True
