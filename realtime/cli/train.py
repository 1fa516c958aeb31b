"""The commands of the training package: ``synth``, ``preprocess``, ``train lstmpb|xgb|sta``, ``evaluate``.

Each is a module of ``training`` with ``add_arguments(parser)`` and ``run(args)``; it is imported
only when its command runs, so the live commands start without torch's training stack. These and
``gui.app`` are the imports of the command line above its own layer, listed in pyproject's
import contracts.
"""
from __future__ import annotations

from types import ModuleType

from realtime.cli.options import CliError, OneLineParser, UsageError


def _module(name: str) -> ModuleType:
    """The training module of a command name: explicit imports, so the import contracts see them."""
    if name == "synth":
        from training.synth import layouts as module
    elif name == "preprocess":
        from training import preprocess as module
    elif name == "evaluate":
        from training import evaluate as module
    elif name == "lstmpb":
        from training import train_lstmpb as module
    elif name == "xgb":
        from training import train_xgb as module
    else:
        from training import train_sta as module
    return module


COMMANDS = {
    "synth": "make synthetic expression videos (SASE-FE or RECOLA layout)",
    "preprocess": "videos -> cached landmark sequences and aligned crop clips",
    "train": "train a model: train lstmpb | train xgb | train sta",
    "evaluate": "evaluate a bundle on a dataset",
}
TRAINERS = ("lstmpb", "xgb", "sta")


def cmd_training(args) -> int:
    """Run a training-package command on ``args.rest`` (everything after the command's name)."""
    name = args.command
    rest = list(args.rest)
    prog = f"affectscope {args.command}"
    if args.command == "train":
        if rest[:1] in (["-h"], ["--help"]):
            print(f"usage: affectscope train {{{','.join(TRAINERS)}}} ...\n\n{COMMANDS['train']}; "
                  f"'affectscope train MODEL --help' lists a model's options")
            return 0
        if not rest or rest[0] not in TRAINERS:
            raise UsageError(f"train needs a model: {' | '.join(TRAINERS)}")
        name, prog = rest[0], f"affectscope train {rest[0]}"
        rest = rest[1:]
    try:
        mod = _module(name)
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
