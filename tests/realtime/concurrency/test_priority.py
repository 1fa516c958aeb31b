"""Background work (session writer, model workers, the recognizer's process) runs below the window."""
from __future__ import annotations

import os
import sys
import threading

import pytest

from realtime.concurrency import priority
from realtime.concurrency.threads import StoppableThread

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice levels are per thread on Linux only")


class Probe(StoppableThread):
    """Records its own nice level, and that of a thread it starts, then ends."""

    def __init__(self, background: bool):
        super().__init__("probe")
        self.background = background
        self.levels: list[int] = []

    def loop(self) -> None:
        self.levels.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        child = threading.Thread(target=lambda: self.levels.append(
            os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        child.start()
        child.join()


def run_probe(background: bool) -> list[int]:
    probe = Probe(background)
    probe.start()
    assert probe.join(10)
    return probe.levels


@linux
def test_a_background_thread_and_the_threads_it_starts_run_lower_and_others_do_not(monkeypatch):
    here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    monkeypatch.delenv(priority.ENV, raising=False)
    assert run_probe(background=True) == [min(19, here + 5)] * 2
    assert run_probe(background=False) == [here] * 2
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == here  # the caller is untouched
    monkeypatch.setenv(priority.ENV, "0")  # turned off
    assert run_probe(background=True) == [here] * 2
    monkeypatch.setenv(priority.ENV, "12")
    assert run_probe(background=True) == [min(19, here + 12)] * 2


@linux
def test_a_background_thread_started_from_a_lowered_thread_is_lowered_once(monkeypatch):
    monkeypatch.delenv(priority.ENV, raising=False)
    main = os.getpriority(os.PRIO_PROCESS, os.getpid())
    levels = []

    def start_from_lowered():
        priority.lower_this_thread()
        levels.extend(run_probe(background=True))

    t = threading.Thread(target=start_from_lowered)
    t.start()
    t.join()
    assert levels == [min(19, main + 5)] * 2


@pytest.mark.parametrize("raw", ["-3", "20", "high", "2.5"])
def test_a_bad_setting_is_named_and_the_default_used(monkeypatch, caplog, raw):
    monkeypatch.setenv(priority.ENV, raw)
    assert priority.background_nice() == priority.DEFAULT_STEPS
    assert priority.ENV in caplog.text and repr(raw) in caplog.text


def test_model_workers_and_the_session_writer_are_background_and_the_pipeline_is_not():
    from realtime.pipeline.core import CaptureThread, PerceptionThread
    from realtime.sessions.folder import SessionWriter
    from realtime.workers.base import ModelWorker

    assert ModelWorker.background and SessionWriter.background
    assert not CaptureThread.background and not PerceptionThread.background


@pytest.mark.parametrize("base, expected", [(None, 8), (0, 5), (-3, 3)])
def test_a_helper_process_goes_lower_from_the_level_its_parent_gives(base, expected):
    """Started at nice 3 (as from a background thread), 5 steps below ``base``: 8 from where it
    runs, 5 from its parent's 0; a target above where it runs leaves it there (it cannot rise).
    (Levels relative to the one the tests run at, which ``nice pytest`` raises.)"""
    import subprocess

    start = os.nice(0)
    base_arg = None if base is None else start + base
    code = ("import os; os.nice(3); from realtime.concurrency.priority import lower_this_process; "
            f"lower_this_process(5, base={base_arg!r}); print(os.nice(0))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert int(done.stdout) == min(start + expected, 19)
