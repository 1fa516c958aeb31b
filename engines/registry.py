"""The model registry: every named model configuration, of every model family, in one table.

A name (``sta_small``, ``lstmpb_paper``, ...) stands for a config factory of one family; a family
pairs a config class with the network it builds. :func:`create_model` builds a fresh network from
a name, :func:`model_config` gives its config, :func:`list_models` the names. Overrides replace
config fields and are checked by the config class (unknown fields and bad values raise
ValueError). More names register with :func:`register`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from torch import nn

from engines.lstmpb import LSTMPB, LSTMPBConfig
from engines.sta import STA3DCNN, STAConfig


@dataclass(frozen=True)
class Family:
    """A kind of model: its config class (with ``to_dict`` / ``from_dict``) and its network."""

    config: type
    network: Callable[[Any], nn.Module]


FAMILIES: dict[str, Family] = {
    "sta": Family(STAConfig, STA3DCNN),
    "lstmpb": Family(LSTMPBConfig, LSTMPB),
}


@dataclass(frozen=True)
class Entry:
    family: str
    make_config: Callable[[], Any]


_MODELS: dict[str, Entry] = {}


def register(family: str, name: str | None = None) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Decorator: register a config factory of ``family`` under ``name`` (default: the function's name)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; known: {sorted(FAMILIES)}")

    def add(fn: Callable[[], Any]) -> Callable[[], Any]:
        _MODELS[name or fn.__name__] = Entry(family, fn)
        return fn

    return add


def list_models(family: str | None = None) -> list[str]:
    """Registered names, sorted; only those of ``family`` when given."""
    return sorted(n for n, e in _MODELS.items() if family is None or e.family == family)


def model_family(name: str) -> str:
    """The family ('sta', 'lstmpb') of a registered name."""
    return _entry(name).family


def model_config(name: str, **overrides: Any) -> Any:
    """The config registered as ``name``, with ``overrides`` replacing its fields."""
    entry = _entry(name)
    config = entry.make_config()
    if overrides:
        config = FAMILIES[entry.family].config.from_dict({**config.to_dict(), **overrides})
    return config


def create_model(name: str, **overrides: Any) -> nn.Module:
    """A freshly initialised network of the config registered as ``name`` (see :func:`model_config`)."""
    return FAMILIES[model_family(name)].network(model_config(name, **overrides))


def _entry(name: str) -> Entry:
    try:
        return _MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered: {list_models()}") from None


# ----------------------------------------------------------------------------------------------
# STA-3DCNN (valence)


@register("sta")
def sta_small() -> STAConfig:
    """CPU real time at S=64: about a quarter of the paper's widths (one clip well under 100 ms)."""
    return STAConfig(encoder_widths=(8, 16), convlstm_hidden=(16, 8), conv3d_widths=(16, 32, 64, 128),
                     fc_hidden=(256, 128))


@register("sta")
def sta_small_bn() -> STAConfig:
    """``sta_small`` with BatchNorm3d after each 3D convolution and no dropout in the head.

    The shipped valence model. On two CPU cores the paper's form (no normalisation, dropout 0.5)
    stayed at the label mean for 2 epochs, and with dropout 0.5 the normalised form collapsed to
    a constant output at lr 1e-3; without dropout it learned (README, "What ships").
    """
    return replace(sta_small(), batch_norm=True, dropout=0.0)


@register("sta")
def sta_small_gray() -> STAConfig:
    """``sta_small_bn`` reading luminance only: the shipped valence model, trained on colour
    synthetic sessions and mostly grayscale photographs, so colour cannot carry the label."""
    return replace(sta_small_bn(), grayscale=True)


@register("sta")
def sta_paper() -> STAConfig:
    """The paper's network (Lee et al. 2018): regressor widths 32, 64, 128, 256, two linear layers
    (512 hidden, then the output), dropout 0.5, no normalisation; the decoder's ConvLSTMs with
    peepholes, no ReLU after its transposed convolutions, frame t's attention from the state of
    frame t−1. GPU-sized."""
    return STAConfig(fc_hidden=(512,), peephole=True, deconv_relu=False, attention_from_previous=True)


@register("sta")
def sta_paper_no_attention() -> STAConfig:
    """``sta_paper`` without the attention branch: the paper's Table 1 ablation."""
    return replace(sta_paper(), attention=False)


# ----------------------------------------------------------------------------------------------
# LSTM-PB (genuine / fake)


@register("lstmpb", name="lstmpb")
def lstmpb_default() -> LSTMPBConfig:
    """:class:`LSTMPBConfig`'s defaults: the paper's widths with the leaky PB drive."""
    return LSTMPBConfig()


@register("lstmpb")
def lstmpb_paper() -> LSTMPBConfig:
    """The paper's form: hidden 512, frame-rate steps of absolute landmarks, teacher forcing,
    plain ReLU on the PB drive."""
    return LSTMPBConfig(hidden=512, frame_block=1, reference="none", closed_loop_after=0, pb_activation="relu")


@register("lstmpb")
def lstmpb_live() -> LSTMPBConfig:
    """The shape ``affectscope train lstmpb`` trains by default and the shipped bundle holds:
    hidden 64 (one CPU core keeps up live), steps of 5 frames relative to the first one, closed
    loop after a 3-step prompt, linear PB drive."""
    return LSTMPBConfig(hidden=64, frame_block=5, reference="first", closed_loop_after=3, pb_activation="linear")
