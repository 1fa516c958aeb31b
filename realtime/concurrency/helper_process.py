"""A helper process: work that would hold the interpreter lock, run beside the program instead.

A thread that runs Python (or a library that keeps the lock while it computes, as dlib's shape
predictor does) makes every other thread of the process wait its turn for the lock; when the
machine is short of CPU and that thread is preempted while holding it, the window's event loop
waits for a thread that itself waits for a core. In a process of its own the work competes for a
core, not for the lock. The caller's thread blocks on a socket (without the lock) until the answer.

The child is started with ``python -m MODULE FD [ARGS]`` (not ``fork``: the parent has threads and,
in the window, Qt), in its own session so that a Ctrl-C in the terminal reaches only the parent,
which ends the run in order; the child ends when its socket closes, also when the parent is
killed. POSIX only (the socket is handed over as a file descriptor): callers check
:data:`AVAILABLE` and keep the work on a thread elsewhere.

Messages are pickled tuples: a request ``(op, *args)``; every answer ``("ok", *values)`` or
``("error", text)``; ``("close",)`` ends the child.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

AVAILABLE = os.name == "posix"
CALL_TIMEOUT_S = 60.0
#: Keeps BLAS from starting a thread per core in a child whose work is sequential.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class HelperProcessError(RuntimeError):
    """The helper process could not start, stopped answering, or ended."""


class HelperJobError(RuntimeError):
    """One request failed in the helper process (which goes on)."""


def spawn(module: str, what: str, args: Iterable[str] = (), pass_fds: Iterable[int] = (),
          env: dict[str, str] | None = None,
          error: type[Exception] = HelperProcessError) -> tuple[subprocess.Popen, Connection]:
    """Start ``python -m module SOCKET_FD *args`` with the project importable; ``pass_fds`` are
    handed over too, ``env`` is added to this process's environment. Raises ``error`` naming
    ``what`` if it cannot start."""
    try:
        ours, theirs = socket.socketpair()
    except OSError as exc:
        raise error(f"cannot start {what}: {exc}") from None
    environment = {**os.environ, **(env or {}),
                   "PYTHONPATH": os.pathsep.join(p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)}
    try:
        proc = subprocess.Popen([sys.executable, "-m", module, str(theirs.fileno()), *args],
                                pass_fds=(theirs.fileno(), *pass_fds), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, env=environment, start_new_session=True)
    except OSError as exc:
        ours.close()
        raise error(f"cannot start {what}: {exc}") from None
    finally:
        theirs.close()
    return proc, Connection(ours.detach())


class HelperProcess:
    """The parent's end: requests answered in order; a child that ends or does not answer in
    time raises ``error`` (default :class:`HelperProcessError`), a failed request
    :class:`HelperJobError`."""

    def __init__(self, proc: subprocess.Popen, conn: Connection, what: str,
                 error: type[Exception] = HelperProcessError):
        self._proc, self._conn, self.what, self._error = proc, conn, what, error

    @property
    def pid(self) -> int:
        return self._proc.pid

    def call(self, message: tuple, timeout: float = CALL_TIMEOUT_S) -> Any:
        """Send ``message`` and wait for the answer: its one value, or a tuple of several."""
        try:
            self._conn.send(message)
            if not self._conn.poll(timeout):
                raise self._error(f"{self.what} did not answer within {timeout:.0f} s")
            reply = self._conn.recv()
        except (EOFError, OSError):
            code = self._proc.poll()
            raise self._error(f"{self.what} ended" + (f" (exit status {code})" if code is not None else "")) from None
        if reply[0] == "error":
            raise HelperJobError(reply[1])
        return reply[1] if len(reply) == 2 else reply[1:]

    def kill(self) -> None:
        """End the child now (a caller waiting for its answer then gets ``error``)."""
        try:
            self._proc.kill()
        except ProcessLookupError:
            pass

    def close(self, timeout: float = 5.0) -> None:
        """Ask the child to exit; end it if it does not."""
        try:
            self._conn.send(("close",))
        except OSError:
            pass
        self._conn.close()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def serve(conn: Connection, handle: Callable[[tuple], tuple]) -> int:
    """The child's loop: each request to ``handle`` (which returns the answer's values), until
    ``("close",)`` or the parent is gone; an exception in ``handle`` is answered as an error."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends the run; this process follows its socket
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return 0  # the parent is gone
        if message[0] == "close":
            return 0
        try:
            reply = ("ok", *handle(message))
        except HelperJobError as exc:  # said by the handler in its own words
            reply = ("error", str(exc))
        except Exception as exc:  # noqa: BLE001 - reported to the parent (a load that failed, a bad job)
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            try:
                conn.send(reply)
            except (EOFError, OSError):
                raise
            except Exception as exc:  # noqa: BLE001 - an answer that cannot be sent (not picklable)
                conn.send(("error", f"the answer to {message[0]!r} cannot be sent back: {exc}"))
        except (EOFError, OSError):
            return 0  # the parent is gone


def exit_child(code: int) -> None:
    """Leave without the interpreter's teardown (torch's takes over half a second, which the
    parent's Stop would wait for): nothing is left to flush or save."""
    sys.stderr.flush()
    os._exit(code)
