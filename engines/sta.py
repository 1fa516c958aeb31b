"""STA-3DCNN: spatiotemporal-attention 3D CNN for continuous valence.

Lee, Kim, Kim, Sohn, "Spatiotemporal attention based deep neural networks for emotion
recognition", ICASSP 2018, section 2.

Two branches read the same clip ``x`` of T aligned face crops, shape (B, T, 3, S, S):

* **attention** -- a 2D-CNN spatial encoder shared across frames (3x3 conv + ReLU, 2x2 max-pool,
  once per entry of ``encoder_widths``), then a temporal decoder: per level one 3x3 ConvLSTM
  running over the T frames followed by a x2 transposed convolution, until the maps are S x S
  again; a 1x1 convolution gives one logit per pixel and a spatial softmax per frame gives the
  attention A, shape (B, T, S, S), each frame summing to 1.
* **regressor** -- 3D convolutions with ``conv3d_widths`` filters (paper: 32, 64, 128, 256). The
  features after the first one are weighted by the attention, X'' = A (.) X'; three 3D max-pools,
  an average pool to ``pooled_size`` (keeps the head independent of S and T), two fully connected
  layers (ReLU, dropout 0.5) and a linear output: valence, shape (B,).

A sums to 1 over S x S, so its values are about 1/S^2. The product uses ``S^2 * A`` so that a
uniform attention leaves the features unchanged; this only rescales what the paper writes as
A (.) X' and keeps the activations in the range Xavier initialisation expects.

Input normalisation (recorded in the config, hence in the bundle): the crops are uint8 BGR
(T, S, S, 3), as the perception stage and the crop cache store them. :func:`preprocess_clip`
turns them into RGB float in [0, 1], then standardises per channel with ``input_mean`` and
``input_std`` (defaults 0.5 / 0.5, i.e. [-1, 1]); a ``grayscale`` config reads the luminance
on all three channels.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engines.bundle import Bundle, BundleError, known_fields, load_bundle
from engines.checkpoints import load_checked_weights

__all__ = [
    "STAConfig", "STA3DCNN", "ConvLSTMCell", "register_sta", "registered_sta", "create_sta",
    "sta_config", "preprocess_clip", "standardize", "crops_to_unit", "save_sta", "sta_section", "load_sta", "unwrap_sta",
    "DEFAULT_STA",
]

DEFAULT_STA = "sta_small"


@dataclass(frozen=True)
class STAConfig:
    """Everything needed to rebuild an :class:`STA3DCNN` (stored as ``sta.config`` in a bundle)."""

    crop_size: int = 64
    clip_length: int = 16
    clip_rate_fps: float = 4.0
    encoder_widths: tuple[int, ...] = (32, 64)
    convlstm_hidden: tuple[int, ...] = (64, 32)
    conv3d_widths: tuple[int, int, int, int] = (32, 64, 128, 256)
    pooled_size: tuple[int, int, int] = (1, 4, 4)
    fc_hidden: tuple[int, ...] = (512, 256)  # widths of the hidden linear layers (1 or 2) before the output
    dropout: float = 0.5
    # BatchNorm3d after each 3D convolution of the regressor (not in the paper). Without it the
    # regressor's features barely vary between clips at initialisation, and on CPU budgets training
    # sat at the label mean; configs stored without the field load as the paper's form (False).
    batch_norm: bool = False
    # Read luminance only (ITU-R BT.601 weights, replicated to the 3 input channels) before
    # standardising. Most labelled expression photographs are grayscale while webcams give colour;
    # a model that sees colour can learn the photo set's colour mix per category instead of the face.
    grayscale: bool = False
    # The spatiotemporal attention branch. Off, every pixel of every frame weighs the same (the map
    # is uniform): the paper's ablation of Table 1, a plain 3D-CNN on the same crops.
    attention: bool = True
    # The paper's decoder (its Fig. 2 and eq. 3–5): ConvLSTMs with peephole connections (Shi et al.
    # 2015's Hadamard weights on the cell), no ReLU after the transposed convolutions, and frame t's
    # attention from the decoder state of frame t−1 (the first frame's is uniform). Configs stored
    # without these fields load as they were trained: no peepholes, ReLU, attention from frame t.
    peephole: bool = False
    deconv_relu: bool = True
    attention_from_previous: bool = False
    input_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    input_std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def __post_init__(self) -> None:
        for name in ("encoder_widths", "convlstm_hidden", "conv3d_widths", "pooled_size", "fc_hidden",
                     "input_mean", "input_std"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        levels = len(self.encoder_widths)
        if levels < 1:
            raise ValueError("encoder_widths needs at least one entry")
        if len(self.convlstm_hidden) != levels:
            raise ValueError(f"convlstm_hidden has {len(self.convlstm_hidden)} entries; it needs one per "
                             f"encoder level ({levels})")
        if self.crop_size < 8 or self.crop_size % (2 ** levels):
            raise ValueError(f"crop_size {self.crop_size} must be a multiple of {2 ** levels} "
                             f"({levels} encoder pools)")
        if self.clip_length < 2:
            raise ValueError(f"clip_length {self.clip_length} must be >= 2")
        if self.clip_rate_fps <= 0:
            raise ValueError(f"clip_rate_fps {self.clip_rate_fps} must be > 0")
        if len(self.conv3d_widths) != 4 or len(self.fc_hidden) not in (1, 2) or len(self.pooled_size) != 3:
            raise ValueError("conv3d_widths needs 4 entries, fc_hidden 1 or 2, pooled_size 3")
        if len(self.input_mean) != 3 or len(self.input_std) != 3 or min(self.input_std) <= 0:
            raise ValueError("input_mean and input_std need 3 entries (RGB), std > 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout {self.dropout} must be in [0, 1)")
        sizes = (*self.encoder_widths, *self.convlstm_hidden, *self.conv3d_widths, *self.fc_hidden,
                 *self.pooled_size)
        if min(sizes) < 1:
            raise ValueError("layer widths and pooled_size must be positive")

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Shape of one clip without the batch axis: (T, 3, S, S)."""
        return (self.clip_length, 3, self.crop_size, self.crop_size)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "STAConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error (a config from another model)."""
        return cls(**known_fields(cls, data, "STA config"))


class ConvLSTMCell(nn.Module):
    """3x3 convolutional LSTM (Shi et al. 2015), with or without peephole connections.

    The input-to-gate convolution is applied to all frames at once (it is linear in x); only the
    hidden-to-gate convolution runs inside the time loop. Gate order: input, forget, cell, output.
    ``peephole_size`` (the maps' side): the input and forget gates also read W_ci ∘ C_{t−1} and
    W_cf ∘ C_{t−1}, the output gate W_co ∘ C_t (weights per channel and pixel, zero at the start).
    """

    def __init__(self, in_channels: int, hidden: int, kernel_size: int = 3, peephole_size: int | None = None):
        super().__init__()
        self.hidden = hidden
        pad = kernel_size // 2
        self.x2g = nn.Conv2d(in_channels, 4 * hidden, kernel_size, padding=pad)
        self.h2g = nn.Conv2d(hidden, 4 * hidden, kernel_size, padding=pad, bias=False)
        self.peephole = None
        if peephole_size is not None:  # rows: input, forget, output gate
            self.peephole = nn.Parameter(torch.zeros(3, hidden, peephole_size, peephole_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, C, H, W) -> hidden states (B, T, hidden, H, W)."""
        b, t, c, h, w = x.shape
        gx = self.x2g(x.reshape(b * t, c, h, w)).reshape(b, t, 4 * self.hidden, h, w)
        hid = x.new_zeros(b, self.hidden, h, w)
        cell = x.new_zeros(b, self.hidden, h, w)
        outs = []
        for step in range(t):
            gates = gx[:, step] + self.h2g(hid)
            i, f, g, o = gates.chunk(4, dim=1)
            if self.peephole is not None:
                i = i + self.peephole[0] * cell
                f = f + self.peephole[1] * cell
            cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
            if self.peephole is not None:
                o = o + self.peephole[2] * cell
            hid = torch.sigmoid(o) * torch.tanh(cell)
            outs.append(hid)
        return torch.stack(outs, dim=1)


class SpatiotemporalAttention(nn.Module):
    """Clip (B, T, 3, S, S) -> attention (B, T, S, S), a softmax over the S*S pixels of each frame."""

    def __init__(self, cfg: STAConfig):
        super().__init__()
        enc: list[nn.Module] = []
        cin = 3
        for width in cfg.encoder_widths:
            enc += [nn.Conv2d(cin, width, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            cin = width
        self.encoder = nn.Sequential(*enc)
        self.lstms = nn.ModuleList()
        self.ups = nn.ModuleList()
        side = cfg.crop_size // 2 ** len(cfg.encoder_widths)  # where the decoder starts
        for hidden in cfg.convlstm_hidden:
            self.lstms.append(ConvLSTMCell(cin, hidden, peephole_size=side if cfg.peephole else None))
            self.ups.append(nn.ConvTranspose2d(hidden, hidden, kernel_size=2, stride=2))
            cin, side = hidden, 2 * side
        self.logits = nn.Conv2d(cin, 1, kernel_size=1)
        self.deconv_relu = cfg.deconv_relu
        self.from_previous = cfg.attention_from_previous

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, s, _ = x.shape
        feats = self.encoder(x.reshape(b * t, c, s, s))
        for lstm, up in zip(self.lstms, self.ups):
            hw = feats.shape[-1]
            seq = lstm(feats.reshape(b, t, -1, hw, hw))
            feats = up(seq.reshape(b * t, -1, hw, hw))
            if self.deconv_relu:
                feats = F.relu(feats)
        logits = self.logits(feats).reshape(b, t, s * s)
        if self.from_previous:  # frame t attends by the state of frame t−1; the first frame uniformly
            logits = torch.cat([torch.zeros_like(logits[:, :1]), logits[:, :-1]], dim=1)
        return torch.softmax(logits, dim=-1).reshape(b, t, s, s)


class STA3DCNN(nn.Module):
    """Valence regressor with spatiotemporal attention.

    ``forward(x)``: x float (B, T, 3, S, S), normalised as :func:`preprocess_clip` does ->
    (valence (B,), attention (B, T, S, S)).
    """

    def __init__(self, config: STAConfig | None = None):
        super().__init__()
        self.config = cfg = config or STAConfig()
        w1, w2, w3, w4 = cfg.conv3d_widths
        self.attention = SpatiotemporalAttention(cfg) if cfg.attention else None
        self.conv1 = nn.Conv3d(3, w1, 3, padding=1)
        self.norm1 = nn.BatchNorm3d(w1) if cfg.batch_norm else nn.Identity()
        layers: list[nn.Module] = []
        for cin, cout in ((w1, w2), (w2, w3), (w3, w4)):
            layers += [nn.MaxPool3d(2, ceil_mode=True), nn.Conv3d(cin, cout, 3, padding=1),
                       *([nn.BatchNorm3d(cout)] if cfg.batch_norm else []), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool3d(cfg.pooled_size))
        head: list[nn.Module] = [nn.Flatten()]
        cin = w4 * int(np.prod(cfg.pooled_size))
        for width in cfg.fc_hidden:  # (module indices as before for two hidden layers: saved weights load)
            head += [nn.Linear(cin, width), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout)]
            cin = width
        self.head = nn.Sequential(*head, nn.Linear(cin, 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform weights, zero biases; ConvLSTM forget-gate bias 1."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, ConvLSTMCell):
                with torch.no_grad():
                    m.x2g.bias[m.hidden:2 * m.hidden].fill_(1.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 5 or x.shape[2] != 3 or x.shape[3] != x.shape[4]:
            raise ValueError(f"STA3DCNN expects (B, T, 3, S, S), got {tuple(x.shape)}")
        if x.shape[-1] != self.config.crop_size:
            raise ValueError(f"crop size {x.shape[-1]} differs from the model's {self.config.crop_size}")
        b, t, _, s, _ = x.shape
        feat = F.relu(self.norm1(self.conv1(x.transpose(1, 2))))   # X': (B, C1, T, S, S)
        if self.attention is not None:
            att = self.attention(x)                                # (B, T, S, S)
            feat = feat * (att * float(s * s)).unsqueeze(1)        # X'' = A (.) X'
        else:  # the ablation: a uniform map, X'' = X'
            att = x.new_full((b, t, s, s), 1.0 / (s * s))
        valence = self.head(self.features(feat)).squeeze(-1)       # (B,)
        return valence, att


# ----------------------------------------------------------------------------------------------
# Named configs (kept in :mod:`engines.registry`, family "sta")

def register_sta(fn: Callable[[], STAConfig]) -> Callable[[], STAConfig]:
    """Decorator: register a named config factory under the function's name."""
    from engines.registry import register

    return register("sta")(fn)


def registered_sta() -> list[str]:
    """Names of the registered STA configs, sorted."""
    from engines.registry import list_models

    return list_models("sta")


def sta_config(name: str) -> STAConfig:
    """The STA config registered as ``name``; ValueError naming the registered ones otherwise."""
    from engines.registry import model_config

    if name not in registered_sta():
        raise ValueError(f"unknown STA model {name!r}; registered: {registered_sta()}")
    return model_config(name)


def create_sta(name_or_config: str | STAConfig | None = None, **overrides: Any) -> STA3DCNN:
    """Build a fresh STA3DCNN from a registered name (default ``sta_small``) or a config.

    ``overrides`` replace config fields, e.g. ``create_sta("sta_small", crop_size=96)``.
    """
    if name_or_config is None:
        name_or_config = DEFAULT_STA
    cfg = sta_config(name_or_config) if isinstance(name_or_config, str) else name_or_config
    if overrides:
        cfg = STAConfig.from_dict({**cfg.to_dict(), **overrides})
    return STA3DCNN(cfg)


# ----------------------------------------------------------------------------------------------
# Input

LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601, as cv2.cvtColor's BGR2GRAY


def standardize(x: torch.Tensor, config: STAConfig) -> torch.Tensor:
    """RGB float in [0, 1], shape (..., 3, S, S) -> (x - input_mean) / input_std.

    With ``config.grayscale`` each channel is first replaced by the pixel's luminance.
    """
    if config.grayscale:
        w = torch.tensor(LUMA_WEIGHTS, dtype=x.dtype, device=x.device).view(3, 1, 1)
        x = (x * w).sum(dim=-3, keepdim=True).expand_as(x)
    mean = torch.tensor(config.input_mean, dtype=x.dtype, device=x.device).view(3, 1, 1)
    std = torch.tensor(config.input_std, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x - mean) / std


def crops_to_unit(crops: torch.Tensor) -> torch.Tensor:
    """uint8 BGR crops (..., S, S, 3) -> float32 RGB in [0, 1], shape (..., 3, S, S)."""
    x = crops.flip(-1).float().div_(255.0)
    return x.movedim(-1, -3).contiguous()


def preprocess_clip(crops: np.ndarray, config: STAConfig | None = None) -> torch.Tensor:
    """uint8 BGR crops (T, S, S, 3) -> float32 tensor (1, T, 3, S, S), RGB, standardised.

    x = (rgb / 255 - input_mean) / input_std. With a config, T and S must match it.
    """
    cfg = config or STAConfig()
    crops = np.asarray(crops)
    if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[3] != 3 or crops.shape[1] != crops.shape[2]:
        raise ValueError(f"crops must be uint8 (T, S, S, 3), got {crops.dtype} {crops.shape}")
    if config is not None and (crops.shape[0], crops.shape[1]) != (cfg.clip_length, cfg.crop_size):
        raise ValueError(f"clip is {crops.shape[0]} crops of {crops.shape[1]} px; the model expects "
                         f"{cfg.clip_length} crops of {cfg.crop_size} px")
    if not crops.flags.writeable:  # e.g. a view into a read-only ring buffer
        crops = crops.copy()
    return standardize(crops_to_unit(torch.from_numpy(crops)), cfg).unsqueeze(0)


# ----------------------------------------------------------------------------------------------
# Weights and bundles

def unwrap_sta(model: nn.Module) -> STA3DCNN:
    """The STA3DCNN inside a DDP / torch.compile wrapper."""
    inner = model
    for _ in range(4):
        if isinstance(inner, STA3DCNN):
            return inner
        nxt = getattr(inner, "_orig_mod", None)
        if nxt is None:
            nxt = getattr(inner, "module", None)
        if not isinstance(nxt, nn.Module):
            break
        inner = nxt
    raise TypeError(f"expected an STA3DCNN (possibly wrapped), got {type(model).__name__}")


def save_sta(model: nn.Module, path: str | Path) -> Path:
    """Write the weights (float32, contiguous) as safetensors; the config goes into its metadata."""
    from safetensors.torch import save_file

    net = unwrap_sta(model)
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path}: weights must be written as .safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in net.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata={"model": "sta3dcnn", "config": json.dumps(net.config.to_dict())})
    tmp.replace(path)
    return path


def sta_section(model: nn.Module, weights: str, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``sta`` section of ``bundle.json`` for weights saved at ``weights`` (relative path)."""
    return {"config": unwrap_sta(model).config.to_dict(), "weights": weights, "metrics": dict(metrics or {})}


def load_sta(bundle: Bundle | str | Path, device: str | torch.device = "cpu") -> STA3DCNN:
    """Rebuild the STA model of a bundle (section ``sta``) in eval mode.

    Refuses, with a :class:`BundleError` naming the file and field: a missing or malformed
    ``sta.config``; crop size / clip length / clip rate differing from the bundle's top level;
    weights that are not safetensors, miss keys, carry unknown keys or have other shapes.
    """
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle)
    meta_path = bundle.root / "bundle.json"
    cfg = bundle.parse("sta", "config", STAConfig.from_dict)
    for fld, have, want in (("crop_size", cfg.crop_size, bundle.crop_size),
                            ("clip_length", cfg.clip_length, bundle.clip_length),
                            ("clip_rate_fps", cfg.clip_rate_fps, bundle.clip_rate_fps)):
        if have != want:
            raise BundleError(f"{meta_path}: field 'sta.config.{fld}' is {have} but the bundle's "
                              f"'{fld}' is {want}; the perception stage and the model must agree")
    wpath = bundle.file("sta", "weights")
    if wpath.suffix != ".safetensors":
        raise BundleError(f"{meta_path}: field 'sta.weights' names {wpath.name}; only .safetensors is read")
    model = load_checked_weights(STA3DCNN(cfg), wpath, config="the STA config", field="sta.weights",
                                 config_field="sta.config")
    return model.to(device).eval()
