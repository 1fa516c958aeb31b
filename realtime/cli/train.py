"""The commands of the training package: ``synth``, ``preprocess``, ``train lstmpb|xgb|sta``, ``evaluate``.

Each is a module of ``training`` with ``add_arguments(parser)`` and ``run(args)``; it is imported
only when its command runs, so the live commands start without torch's training stack. These and
``gui.app`` are the imports of the command line above its own layer, listed in pyproject's
import contracts.
"""
from __future__ import annotations

from types import ModuleType

from realtime.cli.options import CliError, OneLineParser


def _synth() -> ModuleType:
    from training.synth import layouts

    return layouts


def _preprocess() -> ModuleType:
    from training import preprocess

    return preprocess


def _evaluate() -> ModuleType:
    from training import evaluate

    return evaluate


def _train_lstmpb() -> ModuleType:
    from training import train_lstmpb

    return train_lstmpb


def _train_xgb() -> ModuleType:
    from training import train_xgb

    return train_xgb


def _train_sta() -> ModuleType:
    from training import train_sta

    return train_sta


COMMANDS = {
    "synth": (_synth, "make synthetic expression videos (SASE-FE or RECOLA layout)"),
    "preprocess": (_preprocess, "videos -> cached landmark sequences and aligned crop clips"),
    "train": (None, "train a model: train lstmpb | train xgb | train sta"),
    "evaluate": (_evaluate, "evaluate a bundle on a dataset"),
}
TRAINERS = {"lstmpb": _train_lstmpb, "xgb": _train_xgb, "sta": _train_sta}


def cmd_training(args) -> int:
    """Run a training-package command on ``args.rest`` (everything after the command's name)."""
    load = COMMANDS[args.command][0]
    rest = list(args.rest)
    prog = f"affectscope {args.command}"
    if args.command == "train":
        if not rest or rest[0] not in TRAINERS:
            raise CliError(f"train needs a model: {' | '.join(TRAINERS)} (e.g. 'affectscope train sta --help')")
        load, prog = TRAINERS[rest[0]], f"affectscope train {rest[0]}"
        rest = rest[1:]
    try:
        mod = load()
    except ImportError as exc:
        raise CliError(f"'{prog}' is not available in this build ({exc})") from None
    parser = OneLineParser(prog=prog, description=(mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else None)
    mod.add_arguments(parser)
    args_rest = parser.parse_args(rest)
    try:
        return int(mod.run(args_rest) or 0)
    except (ValueError, FileNotFoundError) as exc:
        # bad input named by the training code: a missing cache (CacheError), a wrong bundle
        # (BundleError), an empty selection; --verbose keeps the traceback
        if args.verbose:
            raise
        raise CliError(f"{prog.removeprefix('affectscope ')}: {exc}") from None
