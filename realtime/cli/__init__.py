"""The ``affectscope`` command line: the composition root.

It is the one part of ``realtime`` that may reach up into ``gui`` (the window) and ``training``
(synth, preprocess, train, evaluate); those imports are listed in pyproject's import contracts.
Library code raises its own errors (``SessionError``, ``BundleError``, ``SourceError`` …); the
commands turn them into :class:`CliError`, which :func:`main` prints as one line with exit code 1.

Modules: ``options`` (parser, errors, shared options), ``analyze``, ``live`` (live, demo, gui),
``bench``, ``replay``, ``export``, ``report``, ``train`` (the training package's commands) and
``main`` (the parser of all of them).
"""
from realtime.cli.main import build_parser, main
from realtime.cli.options import CliError, OneLineParser

__all__ = ["CliError", "OneLineParser", "build_parser", "main"]
