"""LSTM-PB files: weights and class PBs as safetensors, and the ``lstmpb`` section of a bundle.

The weights file holds the network's tensors with the config as JSON in its metadata; the class
PB file maps '<expression>/<genuine|fake>' to one PB each. Both are read through the checked
loader of :mod:`engines.checkpoints`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import torch
from torch import Tensor, nn

from engines.bundle import Bundle, BundleError, strip_wrapper_prefixes
from engines.checkpoints import load_checked_weights, read_safetensors
from engines.expressions import EXPRESSIONS, LABELS, POOLED
from engines.lstmpb.config import LSTMPBConfig
from engines.lstmpb.model import LSTMPB

SECTION = "lstmpb"

# buffers that weights written before inputs were normalized lack: they load as the identity
NORMALIZATION_BUFFERS = ("input_mean", "input_scale")


def save_lstmpb(model: nn.Module, path: str | Path) -> Path:
    """Write the weights as safetensors (prefixes stripped); the config goes in the file's metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    inner = getattr(model, "module", model)
    inner = getattr(inner, "_orig_mod", inner)
    state = {k: v.detach().cpu().contiguous() for k, v in strip_wrapper_prefixes(inner.state_dict()).items()}
    save_file(state, str(path), metadata={"config": json.dumps(inner.config.to_dict())})
    return path


def load_lstmpb_weights(path: str | Path, config: LSTMPBConfig, where: str | None = None) -> LSTMPB:
    """Build an :class:`LSTMPB` from ``config`` and load a safetensors file, checking names and shapes.

    ``where`` names the bundle field in error messages. Raises BundleError on any mismatch.
    """
    model = load_checked_weights(LSTMPB(config), path, config=f"the LSTM-PB config {config.to_dict()}",
                                 field=where, config_field=f"{SECTION}.config" if where else None,
                                 keep_if_absent=NORMALIZATION_BUFFERS)
    model.eval()
    return model


def class_key(expression: str, label: str) -> str:
    """Name of a class PB: '<expression>/<genuine|fake>'."""
    return f"{expression}/{label}"


def save_class_pbs(pbs: Mapping[str, Tensor], path: str | Path) -> Path:
    """Write class PBs ('<expression>/<label>' -> (pb_dim,)) as safetensors, float32."""
    from safetensors.torch import save_file

    path = Path(path)
    save_file({k: torch.as_tensor(v).detach().float().cpu().contiguous() for k, v in pbs.items()}, str(path))
    return path


def read_class_pbs(path: str | Path, pb_dim: int, where: str | None = None) -> dict[str, Tensor]:
    """Class PBs from safetensors: keys '<expression>/<label>', values (pb_dim,). BundleError if malformed."""
    path = Path(path)
    field = f" (named by '{where}')" if where else ""
    pbs = read_safetensors(path, where)
    if not pbs:
        raise BundleError(f"{path}{field}: holds no class PB")
    for key, value in pbs.items():
        expr, _, label = key.partition("/")
        if expr not in (*EXPRESSIONS, POOLED) or label not in LABELS:
            raise BundleError(f"{path}{field}: key {key!r} is not '<expression>/<genuine|fake>'")
        if tuple(value.shape) != (pb_dim,):
            raise BundleError(f"{path}{field}: PB {key!r} has shape {tuple(value.shape)}, expected ({pb_dim},)")
    return {k: v.float() for k, v in pbs.items()}


def lstmpb_config_from_bundle(bundle: Bundle) -> LSTMPBConfig:
    """The ``lstmpb.config`` of a bundle; BundleError naming the field when it is missing or invalid."""
    return bundle.parse(SECTION, "config", LSTMPBConfig.from_dict)


def load_lstmpb(bundle: Bundle) -> tuple[LSTMPB, LSTMPBConfig]:
    """The LSTM-PB network of a bundle (eval mode, CPU) and its config; BundleError when they disagree."""
    config = lstmpb_config_from_bundle(bundle)
    path = bundle.file(SECTION, "weights")
    return load_lstmpb_weights(path, config, where=f"{SECTION}.weights"), config


def load_class_pbs(bundle: Bundle) -> dict[str, Tensor]:
    """The learned class PBs of a bundle, keyed '<expression>/<label>'."""
    config = lstmpb_config_from_bundle(bundle)
    return read_class_pbs(bundle.file(SECTION, "pb"), config.pb_dim, where=f"{SECTION}.pb")


# -- one network per expression ------------------------------------------------------------------
# A bundle may hold, beside (or instead of) the pooled network of the ``lstmpb`` section, one
# network per expression as the paper trains them: ``lstmpb.networks.<expression>`` carries the
# same fields as the section (config, weights, pb, classifiers, clip_classifiers, recognizer,
# metrics). The expression model <expression> then runs on its own network; the others on the
# pooled one.
NETWORKS = "networks"


def expression_networks(bundle: Bundle) -> list[str]:
    """The expressions that have a network of their own (``lstmpb.networks``)."""
    nets = bundle.section(SECTION).get(NETWORKS) or {}
    if not isinstance(nets, dict):
        raise BundleError(f"{bundle.root / 'bundle.json'}: field '{SECTION}.{NETWORKS}' must map expressions "
                          f"to network sections")
    return sorted(nets)


def has_pooled_network(bundle: Bundle) -> bool:
    return "weights" in bundle.section(SECTION)


def for_expression(bundle: Bundle, expression: str) -> Bundle:
    """The bundle as expression model ``expression`` reads it: with ``lstmpb`` standing for the
    expression's own network where the bundle has one, else the bundle itself (the pooled network).
    Every loader that takes a bundle takes this view."""
    sec = bundle.section(SECTION)
    nets = sec.get(NETWORKS) or {}
    if expression in expression_networks(bundle):
        own = nets[expression]
        if not isinstance(own, dict):
            raise BundleError(f"{bundle.root / 'bundle.json'}: field '{SECTION}.{NETWORKS}.{expression}' must be "
                              f"a section like '{SECTION}'")
        return Bundle(bundle.root, {**bundle.meta, SECTION: own})
    if not has_pooled_network(bundle):
        raise BundleError(f"{bundle.root / 'bundle.json'}: no network for expression model '{expression}': the "
                          f"bundle has one network per expression ({', '.join(sorted(nets))}) and no pooled one")
    return bundle


def expression_models(bundle: Bundle) -> list[str]:
    """The expression models a bundle can run: the pooled network's classifiers, and each
    expression's own network (for that expression)."""
    names = set(expression_networks(bundle))
    if has_pooled_network(bundle):
        table = bundle.section(SECTION).get("classifiers")
        names |= set(table) if isinstance(table, dict) else set()
    return sorted(names)
