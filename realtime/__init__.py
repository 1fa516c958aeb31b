"""affectscope's streaming pipeline: sources, face tracking + landmarks, ring buffers, threads,
sessions, and the ``affectscope`` command line."""

__version__ = "0.1.0"
