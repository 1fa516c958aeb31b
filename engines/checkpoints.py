"""Checked reading of safetensors files: the one loader every model's weights go through.

:func:`read_safetensors` reads a file's tensors; :func:`load_checked_weights` loads them into a
freshly built network after checking them against it. A missing or unreadable file, missing or
unexpected tensor names, other shapes or non-float tensors raise
:class:`~engines.bundle.BundleError` naming the file and, for a bundle's part, the field of
``bundle.json`` that named it. Nothing here unpickles.
"""
from __future__ import annotations

from pathlib import Path
from typing import Collection, TypeVar

from torch import Tensor, nn

from engines.bundle import BundleError, strip_wrapper_prefixes

Module = TypeVar("Module", bound=nn.Module)

SHOWN_NAMES = 6  # tensor names listed in a mismatch message


def _where(path: Path, field: str | None) -> str:
    return f"{path} (named by '{field}')" if field else str(path)


def _few(names: list[str]) -> str:
    return f"{names[:SHOWN_NAMES]}{'...' if len(names) > SHOWN_NAMES else ''}"


def read_safetensors(path: str | Path, field: str | None = None) -> dict[str, Tensor]:
    """Every tensor of a safetensors file, on the CPU, as stored.

    ``field`` names the bundle field that points at the file, for the error messages. Raises
    BundleError when the file is missing or is not a readable safetensors file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{_where(path, field)}: missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{_where(path, field)}: not a readable safetensors file ({exc})") from None


def load_checked_weights(model: Module, path: str | Path, *, config: str, field: str | None = None,
                         config_field: str | None = None, keep_if_absent: Collection[str] = ()) -> Module:
    """Load the weights at ``path`` into ``model`` (built from the config they belong to) and return it.

    The file must hold exactly the model's tensors (DistributedDataParallel and torch.compile
    prefixes are ignored), each with the model's shape and a floating-point type; they are loaded
    as float32. ``config`` says in the messages what the model was built from (e.g. "the STA
    config"); ``field`` and ``config_field`` name the bundle fields of the weights and the config.
    ``keep_if_absent``: tensors that files written before they existed lack altogether; when none
    of them is in the file they keep the model's initial values. Raises BundleError on any mismatch.
    """
    path = Path(path)
    where = _where(path, field)
    state = strip_wrapper_prefixes(read_safetensors(path, field))
    expected = model.state_dict()
    if keep_if_absent and not set(keep_if_absent) & set(state):
        state.update({key: expected[key] for key in keep_if_absent})
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise BundleError(f"{where}: weights do not match {config}: missing {_few(missing)}, "
                          f"unexpected {_few(unexpected)}")
    hint = f" (does '{config_field}' match the weights in '{field}'?)" if field and config_field else ""
    for key, ref in expected.items():
        if tuple(state[key].shape) != tuple(ref.shape):
            raise BundleError(f"{where}: tensor '{key}' has shape {tuple(state[key].shape)}, {config} needs "
                              f"{tuple(ref.shape)}{hint}")
        if not state[key].is_floating_point():
            raise BundleError(f"{where}: tensor '{key}' is {state[key].dtype}, expected floating point")
    model.load_state_dict({key: value.float() for key, value in state.items()})
    return model
