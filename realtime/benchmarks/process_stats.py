"""What a process holds: resident memory (its own and its child processes'), open files. Linux
/proc; None elsewhere. Light to import: the window samples them while it runs."""
from __future__ import annotations

import os


def rss_mb() -> float | None:
    """Resident memory of this process in MB (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def children_rss_mb() -> float | None:
    """Resident memory of this process's child processes in MB (Linux /proc; None elsewhere)."""
    me, total = str(os.getpid()), 0
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                if fh.read().rsplit(")", 1)[1].split()[1] != me:  # field 4, after the command's parentheses
                    continue
            with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
                total += int(fh.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
    return total * os.sysconf("SC_PAGE_SIZE") / 1e6


def open_files() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None
