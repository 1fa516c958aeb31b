"""Measurements the project ships: ``affectscope bench`` (throughput, per-stage latency, drops, a
naive peer) and the soak run (``bench --soak``: memory, threads, files and frames over time)."""
