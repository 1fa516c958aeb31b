"""What a process holds: resident memory (its own and its child processes'), open files, and how
busy the machine is around it (its CPU, the rest of the machine's, time a hypervisor took). Linux
/proc; None elsewhere. Light to import: the window samples them while it runs."""
from __future__ import annotations

import os
from dataclasses import dataclass


def rss_mb() -> float | None:
    """Resident memory of this process in MB (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _children() -> dict[str, list[str]] | None:
    """This process's child processes: pid -> the fields of /proc/PID/stat after the command."""
    me, out = str(os.getpid()), {}
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()  # from field 3, after the command's parentheses
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
        if len(fields) > 12 and fields[1] == me:
            out[pid] = fields
    return out


def children_rss_mb() -> float | None:
    """Resident memory of this process's child processes in MB (Linux /proc; None elsewhere)."""
    children, total = _children(), 0
    if children is None:
        return None
    for pid in children:
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
                total += int(fh.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total * os.sysconf("SC_PAGE_SIZE") / 1e6


@dataclass(frozen=True)
class CpuTimes:
    """Seconds of CPU since boot: the machine's on all cores (``total``; ``idle`` including waits
    for disk; ``steal``, taken by the hypervisor for other guests) and this process's with its
    live child processes (``own``)."""

    total: float
    idle: float
    steal: float
    own: float


def cpu_times() -> CpuTimes | None:
    """Now's :class:`CpuTimes` (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            v = [int(x) for x in fh.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    except (OSError, ValueError):
        return None
    if len(v) < 8:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    own = sum(os.times()[:2])
    for fields in (_children() or {}).values():
        try:
            own += (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14 and 15)
        except ValueError:
            continue
    return CpuTimes(sum(v) / tick, (v[3] + v[4]) / tick, v[7] / tick, own)


def cpu_shares(before: CpuTimes | None, after: CpuTimes | None) -> dict[str, float | None]:
    """Between two :func:`cpu_times`, as percentages of all the machine's cores: ``busy_pct`` (the
    whole machine), ``own_pct`` (this process and its children; the rest of ``busy_pct`` is other
    programs') and ``steal_pct``. None where a snapshot is missing or no time passed."""
    if before is None or after is None or after.total <= before.total:
        return {"busy_pct": None, "own_pct": None, "steal_pct": None}
    span = after.total - before.total
    pct = lambda x: round(100.0 * max(0.0, x) / span, 1)  # noqa: E731
    return {"busy_pct": pct(span - (after.idle - before.idle)),
            "own_pct": min(100.0, pct(after.own - before.own)),
            "steal_pct": pct(after.steal - before.steal)}


def open_files() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None
