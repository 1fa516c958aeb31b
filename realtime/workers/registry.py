"""The model workers a bundle calls for: one per model section the bundle has."""
from __future__ import annotations

import logging

from engines.bundle import Bundle
from engines.expressions import check_expression_model
from realtime.workers.base import ModelWorker

log = logging.getLogger(__name__)

# Each model family registers a builder: bundle, expression model -> worker.
_BUILDERS: dict[str, object] = {}


def register_worker(section: str):
    def deco(fn):
        _BUILDERS[section] = fn
        return fn
    return deco


def build_workers(bundle: Bundle, expression_model: str = "pooled", backend: str = "auto") -> list[ModelWorker]:
    """Workers for every model section present in ``bundle`` (an empty list for a perception-only bundle)."""
    check_expression_model(expression_model)
    import realtime.workers.lstmpb  # noqa: F401 - registers the "lstmpb" worker
    import realtime.workers.sta  # noqa: F401 - registers the "sta" worker

    workers = []
    for section, build in _BUILDERS.items():
        if bundle.has(section):
            workers.append(build(bundle, expression_model=expression_model, backend=backend))
    return workers


def available_models(bundle: Bundle) -> dict[str, bool]:
    """Which model families the bundle carries (and this build can run)."""
    import realtime.workers.lstmpb  # noqa: F401
    import realtime.workers.sta  # noqa: F401

    return {section: bundle.has(section) and section in _BUILDERS for section in ("sta", "lstmpb")}
