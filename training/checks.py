"""Argument checks shared by the trainers: a bad count or rate is refused before any data is read."""
from __future__ import annotations

from pathlib import Path


def require_positive(**values: float | int | None) -> None:
    """Raise ValueError naming the first of ``values`` that is not > 0 (None: not set, allowed)."""
    for name, value in values.items():
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")


def require_run_folder(out: str | Path, resume: bool, markers: tuple[str, ...]) -> None:
    """Refuse, before any data is read, a run folder that cannot be one: a file, or (unless
    resuming) a folder holding an earlier run (any of ``markers``), whose metrics a new run would
    append to."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: not a folder (--out names the folder for the run)")
    if not resume and out.is_dir() and any((out / name).exists() for name in markers):
        raise ValueError(f"{out}: holds an earlier run; --resume continues it, or give a new folder")


def require_bundle_folder(path: str | Path | None) -> None:
    """Refuse, before any training, a bundle path that is a file."""
    if path is not None and Path(path).exists() and not Path(path).is_dir():
        raise ValueError(f"{path}: not a folder; a model bundle is a folder holding bundle.json")


def require_same_people(checkpoint: Path, asked: dict, saved: dict) -> None:
    """A resumed run keeps its held-out and test people: others given are refused, not ignored."""
    for name, said in (("holdout_subjects", "held-out subjects"), ("test_subjects", "test subjects")):
        if asked.get(name) and asked[name] != saved.get(name):
            raise ValueError(f"{checkpoint}: the run was started with {said} {saved.get(name)}, not {asked[name]}; "
                             f"a resumed run keeps its own (leave the option out, or start a new run in another "
                             f"folder)")
