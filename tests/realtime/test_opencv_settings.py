"""``import realtime`` sets how OpenCV runs before OpenCV loads: on the calling thread, its pool's
workers asleep between calls; a value the user has set is kept."""
from __future__ import annotations

import os
import subprocess
import sys

PROBE = "import realtime, cv2, os; print(cv2.getNumThreads(), os.environ['OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER'])"


def _probe(**env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.split()


def test_opencv_runs_on_the_calling_thread_with_sleeping_workers():
    assert _probe() == ["1", "0"]


def test_a_users_opencv_settings_are_kept():
    assert _probe(OPENCV_FOR_THREADS_NUM="2", OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER="100") == ["2", "100"]
