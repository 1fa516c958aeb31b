"""How busy the machine is around the process: its own CPU (with its children's) and the rest."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from realtime.benchmarks.process_stats import CpuTimes, cpu_shares, cpu_times

linux_only = pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads Linux /proc")


def test_shares_are_percentages_of_all_cores():
    before = CpuTimes(total=100.0, idle=50.0, steal=1.0, own=10.0)
    after = CpuTimes(total=120.0, idle=55.0, steal=2.0, own=20.0)  # 20 CPU-seconds passed on all cores
    assert cpu_shares(before, after) == {"busy_pct": 75.0, "own_pct": 50.0, "steal_pct": 5.0}
    assert cpu_shares(None, after) == {"busy_pct": None, "own_pct": None, "steal_pct": None}
    assert cpu_shares(after, after)["busy_pct"] is None  # no time passed


@linux_only
def test_a_busy_child_process_counts_as_this_process_cpu():
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.5: pass\n"
    child = subprocess.Popen([sys.executable, "-c", burn])
    try:
        time.sleep(0.2)  # the interpreter is up
        before = cpu_times()
        time.sleep(0.8)
        after = cpu_times()
    finally:
        child.wait(timeout=30)
    shares = cpu_shares(before, after)
    # one core busy for 0.8 s: 100 % / cores of the machine, give or take the clock's ticks
    expected = 100.0 / os.cpu_count()
    assert 0.6 * expected <= shares["own_pct"] <= min(100.0, 1.3 * expected), shares
    assert shares["busy_pct"] >= shares["own_pct"] - 5.0, shares
    assert after.own > before.own and after.steal >= before.steal
