"""The model registry: names of both families, configs with overrides, fresh networks."""
from __future__ import annotations

import pytest
import torch

from engines.lstmpb import LSTMPB, LSTMPBConfig
from engines.registry import create_model, list_models, model_config, model_family, register
from engines.sta import STA3DCNN, STAConfig, create_sta, registered_sta, sta_config


def test_every_family_is_listed():
    names = list_models()
    assert {"sta_small", "sta_small_bn", "sta_small_gray", "sta_paper", "sta_paper_no_attention"} <= set(names)
    assert model_config("sta_paper_no_attention").attention is False and model_config("sta_paper").attention
    assert {"lstmpb", "lstmpb_paper", "lstmpb_live"} <= set(names)
    assert names == sorted(names)
    assert list_models("sta") == registered_sta()
    assert set(list_models("lstmpb")) | set(list_models("sta")) == set(names)


def test_create_model_builds_the_family_network():
    assert isinstance(create_model("sta_small"), STA3DCNN)
    model = create_model("lstmpb_live")
    assert isinstance(model, LSTMPB) and model.config == model_config("lstmpb_live")
    assert model_family("lstmpb_paper") == "lstmpb" and model_family("sta_paper") == "sta"


def test_lstmpb_entries():
    assert model_config("lstmpb") == LSTMPBConfig()
    paper = model_config("lstmpb_paper")
    assert (paper.hidden, paper.frame_block, paper.reference, paper.closed_loop_after, paper.pb_activation) == (
        512, 1, "none", 0, "relu")
    live = model_config("lstmpb_live")
    assert (live.hidden, live.frame_block, live.reference, live.closed_loop_after, live.pb_activation) == (
        64, 5, "first", 3, "linear")


def test_overrides_replace_fields_and_are_checked():
    model = create_model("lstmpb_paper", hidden=16, layers=2)
    assert model.config == LSTMPBConfig(hidden=16, layers=2, pb_activation="relu")
    assert create_model("sta_small", crop_size=96).config.crop_size == 96
    assert model_config("sta_small_gray", crop_size=32) == STAConfig.from_dict(
        {**sta_config("sta_small_gray").to_dict(), "crop_size": 32})
    with pytest.raises(ValueError, match="LSTM-PB config has unknown field"):
        create_model("lstmpb", dropout=0.5)
    with pytest.raises(ValueError, match="STA config has unknown field"):
        model_config("sta_small", hidden=3)
    with pytest.raises(ValueError, match="reference"):
        model_config("lstmpb", reference="mean")


def test_unknown_names_are_refused_naming_the_registered_ones():
    with pytest.raises(ValueError, match=r"unknown model 'huge'; registered: \[.*'lstmpb'.*'sta_small'"):
        create_model("huge")
    with pytest.raises(ValueError, match=r"unknown STA model 'lstmpb'; registered"):
        sta_config("lstmpb")  # a name of the other family is no STA config
    with pytest.raises(ValueError, match="unknown model family"):
        register("gan")


def test_sta_functions_and_the_registry_agree():
    for name in registered_sta():
        assert sta_config(name) == model_config(name)
    torch.manual_seed(0)
    a = create_sta("sta_small", clip_length=8)
    torch.manual_seed(0)
    b = create_model("sta_small", clip_length=8)
    assert a.config == b.config
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
