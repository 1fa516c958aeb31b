"""Subjects of crop caches for training: which are there, lists given by name or by file.

A person-wise split is often a file of names (``CACHE/splits/dev.txt`` of a photo cache lists every
person of a dataset, cached or not); ``@FILE`` in a subject list stands for its names.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from training.cache import CacheError, CropItem, read_crop_cache

log = logging.getLogger(__name__)


def subject_names(entries: Sequence[str] | str | None) -> list[str]:
    """Subject names as given on a command line: several arguments, comma-separated ones, or both
    (``--holdout S1 S2``, ``--holdout S1,S2``); ``@FILE`` entries are kept for :func:`known_subjects`."""
    if entries is None:
        return []
    if isinstance(entries, str):
        entries = [entries]
    return [name for entry in entries for name in str(entry).split(",") if name]


def known_subjects(names: Sequence[str], subjects: list[str], what: str) -> list[str]:
    """``names`` checked against the cache's subjects. An entry ``@FILE`` stands for the subjects
    listed in FILE, one per line (e.g. ``CACHE/splits/dev.txt`` of a photo cache); those not in
    the cache are left out (a split lists every person of a dataset), named ones must be there."""
    listed: list[str] = []
    named: list[str] = []
    empty: list[str] = []
    for name in map(str, names):
        if name.startswith("@"):
            path = Path(name[1:])
            try:
                lines = path.read_text(encoding="utf-8").split()
            except OSError as exc:
                raise ValueError(f"{what} subject list {path}: cannot read it ({exc.strerror or exc})") from None
            if not lines:  # e.g. a share of a person-wise split that nobody fell in
                empty.append(str(path))
            listed += [q for q in lines if q in subjects]
            if lines and not set(lines) & set(subjects):
                log.warning("%s subject list %s names none of the cache's subjects", what, path)
        else:
            named.append(name)
    if empty and len(empty) == len(names):  # every entry an empty list: the option would select nobody
        raise ValueError(f"{what} subject list{'s' if len(empty) > 1 else ''} {', '.join(empty)} "
                         f"{'are' if len(empty) > 1 else 'is'} empty: nobody is named; name the subjects yourself "
                         f"or leave the option out")
    unknown = sorted(set(named) - set(subjects))
    if unknown:
        raise ValueError(f"{what} subjects {unknown} are not in the cache (subjects: {subjects[:20]}"
                         f"{' ...' if len(subjects) > 20 else ''})")
    return list(dict.fromkeys(named + listed))


def read_caches(cache_dirs: str | Path | Sequence[str | Path]) -> list[CropItem]:
    """The recordings of one or more crop caches (e.g. synthetic sessions beside photo clips)."""
    dirs = [cache_dirs] if isinstance(cache_dirs, (str, Path)) else list(cache_dirs)
    items: list[CropItem] = []
    for d in dirs:
        found = read_crop_cache(d)
        if not found:
            raise CacheError(f"{Path(d) / 'crops' / 'index.csv'}: no recordings indexed")
        items += found
    return items


def shorten(names: Sequence[str], keep: int = 8) -> str:
    """The first ``keep`` names and how many there are, for a log line."""
    return ", ".join(names[:keep]) + (f" ... ({len(names)} in all)" if len(names) > keep else "")
