"""The online PB recognizer in a process of its own, for live runs.

Why a process: the recognizer is a loop over the network's steps of small NumPy products, so it
holds the interpreter lock most of the time it runs (a few hundred milliseconds per update on a
shared core). In the same process as the window, the window's event loop then waited for the
lock and froze for 60-150 ms at a time, and perception lost frames to it. In its own process it
competes for a core, not for the lock. Only landmark vectors go in and a P(fake) and a PB come out,
a few kilobytes per update. The process runs at the lower priority of background work
(:mod:`realtime.concurrency.priority`).

The child is a :mod:`realtime.concurrency.helper_process` (started with ``python -m``, in its own
session, ending with its socket; POSIX only: elsewhere the worker keeps the recognizer on its own
thread).

Messages (pickled tuples; every answer is ``("ok", ...)`` or ``("error", text)``): the child
imports torch and waits; ``("load", bundle_root, expression)`` is answered with
``{"frames_per_update", "expressions"}``, ``("feed", vectors)`` with ``p_fake, pb``, ``("reset",)``
with ``None`` and ``("expression", name)`` with the new frames per update; ``("close",)`` ends it.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from realtime.concurrency.helper_process import (
    AVAILABLE,
    ONE_THREAD,
    HelperJobError,
    HelperProcess,
    exit_child,
    serve,
    spawn,
)
from realtime.concurrency.priority import lower_this_process
from realtime.workers.base import WorkerFatalError

START_TIMEOUT_S = 120.0  # importing torch and reading the bundle on a busy machine
# The parent's own nice level (its main thread's), from which the child goes lower: a child started
# from a background thread (a run's recognizer closing starts the next spare) inherits that thread's
# lower level and would otherwise be lowered twice.
_PARENT_NICE = "AFFECTSCOPE_PARENT_NICE"


class RecognizerProcessError(WorkerFatalError):
    """The recognizer's process could not start, stopped answering, or ended."""


RecognizerJobError = HelperJobError  # one request failed in the recognizer's process (which goes on)


class LocalRecognizer:
    """The recognizer on the calling thread, with the interface of :class:`RecognizerProcess`
    (offline runs, where every job is waited for, and systems without the process)."""

    def __init__(self, bundle, expression_model: str):
        from engines.lstmpb import expression_models

        self._bundle = bundle
        self.expressions = expression_models(bundle)
        self.frames_per_update = self.set_expression_model(expression_model)

    def feed(self, vectors: np.ndarray) -> tuple[float | None, np.ndarray | None]:
        for v in vectors:
            self._recognizer.update(v)
        p = self._recognizer.p_fake
        return (None, None) if p is None else (float(p), self._recognizer.pb)

    def reset(self) -> None:
        self._recognizer.reset()

    def set_expression_model(self, name: str) -> int:
        """Switch to expression model ``name`` (its classifier, and its own network where the bundle
        has one per expression) and start over; returns the frames per update of its network."""
        from engines.online_pb import OnlinePBRecognizer

        if name not in self.expressions:
            raise ValueError(f"{self._bundle.root / 'bundle.json'}: no '{name}' classifier "
                             f"(the bundle has {self.expressions})")
        self._recognizer = OnlinePBRecognizer.from_bundle(self._bundle, name)
        return self._recognizer.frames_per_update

    def close(self) -> None:
        pass


def _spawn() -> tuple[subprocess.Popen, Connection]:
    """A child that imports what a recognizer needs and waits for ``("load", root, expression)``."""
    env = dict(ONE_THREAD)  # one core: the recognizer is sequential; more BLAS threads only compete
    if hasattr(os, "getpriority"):
        env[_PARENT_NICE] = str(os.getpriority(os.PRIO_PROCESS, os.getpid()))
    return spawn(__name__, "the recognizer process", env=env, error=RecognizerProcessError)


_SPARE: list[tuple[subprocess.Popen, Connection]] = []
_SPARE_LOCK = threading.Lock()
# A run took the spare: the next one starts when that run's recognizer closes (the run has ended).
# Started with the run, its imports (an interpreter and torch, 1-2 s of a core) competed with the
# run's own start-up, when the window stalled most; started 20 s in, they gave a burst of about ten
# event-loop stalls over 50 ms within 1.5 s on a core short of CPU, in every such recording measured.
# When no run is live the machine has the slack.
_SPARE_OWED: list[bool] = []


def keep_spare() -> None:
    """Keep one child started ahead (importing torch takes it 1-2 s), so that the next live run's
    recognizer only has to read its bundle; each run that takes it starts the next one when it ends
    (:data:`_SPARE_OWED`). The window calls this once at start-up; without it every run starts its
    own child."""
    if not AVAILABLE:
        return
    with _SPARE_LOCK:
        if not _SPARE:
            _SPARE.append(_spawn())


def _take_spare() -> tuple[subprocess.Popen, Connection] | None:
    with _SPARE_LOCK:
        if not _SPARE:
            return None
        proc, conn = _SPARE.pop()
    if proc.poll() is not None:  # it ended meanwhile
        conn.close()
        return None
    with _SPARE_LOCK:
        _SPARE_OWED[:] = [True]
    return proc, conn


def _start_owed_spare() -> None:
    """Start the next spare if a run took the last one; called when a recognizer closes."""
    with _SPARE_LOCK:
        if not _SPARE_OWED:
            return
        _SPARE_OWED.clear()
    try:
        keep_spare()
    except RecognizerProcessError as exc:  # the next run starts its own child, and says so if it cannot
        logging.getLogger(__name__).warning("no spare recognizer process: %s", exc)


class RecognizerProcess(HelperProcess):
    """The recognizer of ``bundle_root``'s LSTM-PB and ``expression_model``'s classifier in a child
    process. Calls block the calling thread (not the interpreter) until the child answers."""

    def __init__(self, bundle_root: str | Path, expression_model: str, start_timeout_s: float = START_TIMEOUT_S):
        if not AVAILABLE:
            raise RecognizerProcessError("the recognizer process needs a POSIX system")
        super().__init__(*(_take_spare() or _spawn()), "the recognizer process", RecognizerProcessError)
        try:
            info = self.call(("load", str(bundle_root), expression_model), start_timeout_s)
        except RecognizerJobError as exc:  # the child could not load the bundle
            self.close()
            raise RecognizerProcessError(f"the recognizer process could not start: {exc}") from None
        except RecognizerProcessError:  # it ended, or did not answer in time: it is not left behind
            self.close()
            raise
        self.expressions: list[str] = info["expressions"]
        self.frames_per_update: int = info["frames_per_update"]

    def feed(self, vectors: np.ndarray) -> tuple[float | None, np.ndarray | None]:
        """Feed landmark vectors in order; the recognizer's P(fake) and PB after them (None, None
        until its first update)."""
        return self.call(("feed", np.ascontiguousarray(vectors, np.float32)))

    def reset(self) -> None:
        self.call(("reset",))

    def set_expression_model(self, name: str) -> int:
        return self.call(("expression", name))

    def close(self, timeout: float = 5.0) -> None:
        super().close(timeout)
        _start_owed_spare()


def _serve(fd: int) -> int:
    parent = os.environ.get(_PARENT_NICE, "")
    lower_this_process(base=int(parent) if parent.lstrip("-").isdigit() else None)  # its updates have slack
    state: dict = {"recognizer": None}
    try:
        from engines.bundle import load_bundle
        from engines.online_pb import OnlinePBRecognizer  # torch: the slow part, before a bundle is asked for

        del OnlinePBRecognizer  # LocalRecognizer imports it where it is used
    except Exception as exc:  # noqa: BLE001 - reported at the first request
        failure = f"{type(exc).__name__}: {exc}"
    else:
        failure = None

    def handle(message: tuple) -> tuple:
        op, recognizer = message[0], state["recognizer"]
        if failure is not None:
            raise HelperJobError(failure)
        if op == "load":
            state["recognizer"] = recognizer = LocalRecognizer(load_bundle(message[1]), message[2])
            return ({"expressions": recognizer.expressions, "frames_per_update": recognizer.frames_per_update},)
        if recognizer is None:
            raise RuntimeError(f"{op!r} before a bundle was loaded")
        if op == "feed":
            return recognizer.feed(message[1])
        if op == "reset":
            recognizer.reset()
            return (None,)
        if op == "expression":
            return (recognizer.set_expression_model(message[1]),)
        raise RuntimeError(f"unknown request {op!r}")

    return serve(Connection(fd), handle)


if __name__ == "__main__":
    exit_child(_serve(int(sys.argv[1])))
