"""Learning mode of the LSTM-PB: weights and one PB per (expression, genuine/fake) class.

Reads the landmark cache (:mod:`training.cache`), turns every sequence into the network's steps
(:func:`engines.lstmpb.landmark_steps`: blocks of frames, relative to the first one), trains by
back-propagation through time over whole sequences (step-averaged next-step error; teacher-forced
or closed loop after a prompt; SGD with momentum or Adam) while each class PB follows the
step-averaged back-propagated error of its sequences (paper eq. 1–2). Both learning rates are
multiplied by ``lr_decay`` after ``patience`` epochs without a lower training error (0: never).
The command line's two recipes, ``affectscope`` and ``paper``, are in :mod:`training.recipes`.

Output folder::

    OUT/lstmpb.safetensors   weights of the best epoch (lowest training error)
    OUT/pb.safetensors       class PBs of that epoch, keys '<expression>/<genuine|fake>'
    OUT/train.json           config, settings, classes, held-out subjects, progress
    OUT/metrics.csv          one row per epoch
    OUT/checkpoint/          the last epoch: weights, PBs, optimizer state, state.json (for resume)

Runs unchanged under ``torchrun``: with WORLD_SIZE > 1 it joins the process group (gloo on CPU,
NCCL on GPUs), each rank takes its share of every epoch's sequences, DistributedDataParallel
averages the weight gradients and the PB updates are summed across ranks.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from engines.expressions import EXPRESSIONS, LABELS, POOLED, check_expression_model
from engines.lstmpb import (LSTMPB, PB_ACTIVATIONS, REFERENCES, LSTMPBConfig, class_key, landmark_steps,
                            load_lstmpb_weights, read_class_pbs, save_class_pbs, save_lstmpb)
from training.arguments import fraction, non_negative_int, positive_float, positive_int
from training.cache import LandmarkItem, read_landmark_cache
from training.checks import require_positive, require_run_folder, require_same_people
from training.distributed import init_distributed, is_main_process, resolve_device
from training.lstmpb_steps import LOSSES, learning_step
from training.recipes import RECIPES, recipe_settings
from training.metrics import append_metrics_row
from training.subject_lists import known_subjects, subject_names

WEIGHTS = "lstmpb.safetensors"
PBS = "pb.safetensors"
STATE = "train.json"
METRICS = "metrics.csv"
CHECKPOINT = "checkpoint"
METRIC_FIELDS = ("epoch", "train_mse", "lr", "lr_pb", "seconds", "sequences", "improved", "pbs_below_zero")


@dataclass
class TrainSettings:
    expression: str = POOLED
    epochs: int = 100
    batch_size: int = 4
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    lr_pb: float = 0.9
    patience: int = 10
    grad_clip: float = 5.0
    max_frames: int | None = None  # crop longer sequences to a random span of this many frames
    seed: int = 0
    holdout_subjects: list[str] = field(default_factory=list)
    test_subjects: list[str] = field(default_factory=list)  # neither trained on nor scored by 'train xgb'
    input_spread: float = 0.3  # std of every coordinate after the input normalization
    standardize: bool = True  # False: the 80 values as the landmark vector has them (the paper)
    loss: str = "sum"  # over the coordinates: 'sum' (½Σ) or 'mean' (the paper's MSE)
    lr_decay: float = 0.1  # both learning rates are multiplied by this after `patience` epochs
    recipe: str = "affectscope"  # the recipe the settings came from (recorded in train.json)

    def __post_init__(self) -> None:
        require_positive(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                         lr_pb=self.lr_pb, max_frames=self.max_frames, input_spread=self.input_spread)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if not 0.0 < self.lr_decay < 1.0:
            raise ValueError(f"lr_decay must lie in (0, 1), got {self.lr_decay!r}")


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    epochs: int  # epochs completed
    best_mse: float
    weights: Path
    pbs: Path


# --------------------------------------------------------------------------------------------
# data


def select_items(items: Sequence[LandmarkItem], expression: str, holdout_subjects: Sequence[str] = ()
                 ) -> list[LandmarkItem]:
    """Items of one expression (all of them for 'pooled'), held-out subjects removed, key order."""
    check_expression_model(expression)
    held = set(holdout_subjects)
    chosen = [it for it in items if (expression == POOLED or it.expression == expression)
              and it.subject not in held and it.frames >= 2]
    return sorted(chosen, key=lambda it: it.key)


def class_names(items: Sequence[LandmarkItem]) -> list[str]:
    """Class PB names present in the items, in a fixed order ('<expression>/<label>')."""
    present = {(it.expression, it.label) for it in items}
    unknown = sorted({e for e, _ in present} - set(EXPRESSIONS))
    if unknown:
        raise ValueError(f"landmark cache has unknown expression(s) {unknown}; expected {EXPRESSIONS}")
    return [class_key(e, lab) for e in EXPRESSIONS for lab in LABELS if (e, lab) in present]


def input_statistics(items: Sequence[LandmarkItem], spread: float, config: LSTMPBConfig | None = None,
                     standardize: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-coordinate normalization of the training steps and the copy baseline.

    The steps are those of ``config`` (:func:`engines.lstmpb.landmark_steps`; the frames
    themselves when None). Returns (mean (80,), scale (80,), copy_mse): ``(x − mean) ⊙ scale`` has
    standard deviation ``spread`` per coordinate over all steps (a coordinate that never moves
    still gets a finite scale), and copy_mse is the normalized mean squared error of predicting no
    motion over the steps whose error counts: x̂_{t+1} = x_t under teacher forcing, the last
    observed step of the prompt in closed loop. A model has to beat it to have learned any
    dynamics. Steps relative to a reference keep their zero: the mean is 0 and the first step of
    every sequence stays at 0. ``standardize`` False: mean 0 and scale 1 (the values as they are).
    """
    relative = config is not None and config.reference != "none"
    prompt = config.closed_loop_after if config is not None else 0
    total, total_sq, diff_sq, n, n_diff = 0.0, 0.0, 0.0, 0, 0
    for it in items:  # one read per sequence: frame sums for the statistics, step sums for the baseline
        seq = np.asarray(it.load() if config is None else landmark_steps(it.load(), config), np.float64)
        if not prompt:
            d = np.diff(seq, axis=0)
        else:  # too short a sequence has no step after its prompt
            d = seq[prompt:] - seq[min(prompt, len(seq)) - 1]
        total = total + seq.sum(0)
        total_sq = total_sq + (seq * seq).sum(0)
        diff_sq = diff_sq + (d * d).sum(0)
        n += len(seq)
        n_diff += len(d)
    mean = total / n
    std = np.sqrt(np.maximum(total_sq / n - mean * mean, 0.0))
    floor = np.median(std[std > 0]) * 1e-3 if (std > 0).any() else 1.0
    scale = spread / np.maximum(std, floor)
    if relative or not standardize:
        mean = np.zeros_like(mean)
    if not standardize:
        scale = np.ones_like(scale)
    copy_mse = float((diff_sq * scale * scale).sum() / max(n_diff * len(scale), 1))
    return mean.astype(np.float32), scale.astype(np.float32), copy_mse


OPTIMIZERS = ("sgd", "adam")


def make_optimizer(name: str, params, lr: float, momentum: float) -> torch.optim.Optimizer:
    """'sgd' (with momentum, the paper) or 'adam'."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=momentum)


def pad_batch(seqs: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences (T_i, 80) -> padded (B, T_max, 80) and lengths (B,)."""
    lengths = torch.tensor([len(s) for s in seqs])
    x = torch.zeros(len(seqs), int(lengths.max()), seqs[0].shape[1])
    for i, s in enumerate(seqs):
        x[i, : len(s)] = torch.from_numpy(np.asarray(s, np.float32))
    return x, lengths


def epoch_order(n: int, epoch: int, seed: int, world: int, rank: int, batch_size: int) -> list[np.ndarray]:
    """This rank's batches of item indices for one epoch (same permutation on every rank).

    The permutation is padded by wrapping so that every rank runs the same number of batches.
    """
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    per_round = world * batch_size
    total = int(math.ceil(n / per_round)) * per_round
    perm = np.concatenate([perm] * int(math.ceil(total / n)))[:total]
    mine = perm[rank::world]
    return [mine[i : i + batch_size] for i in range(0, len(mine), batch_size)]


# --------------------------------------------------------------------------------------------
# checkpoints


def _save_checkpoint(folder: Path, model: LSTMPB, pbs: dict[str, torch.Tensor],
                     optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_lstmpb(model, folder / "weights.safetensors.tmp")
    save_class_pbs(pbs, folder / "pb.safetensors.tmp")
    buffers = {f"{key}.{i}": torch.as_tensor(value).detach().cpu().contiguous()
               for i, s in optimizer.state_dict()["state"].items() for key, value in s.items() if value is not None}
    save_file(buffers, str(folder / "optimizer.safetensors.tmp"))
    (folder / "state.json.tmp").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    for name in ("weights.safetensors", "pb.safetensors", "optimizer.safetensors", "state.json"):
        (folder / f"{name}.tmp").replace(folder / name)  # state.json last: it marks a complete checkpoint


def _load_checkpoint(folder: Path, config: LSTMPBConfig
                     ) -> tuple[LSTMPB, dict[str, torch.Tensor], dict[int, dict[str, torch.Tensor]]]:
    """Weights, class PBs and the optimizer's per-parameter state {index: {name: tensor}}."""
    from safetensors.torch import load_file

    model = load_lstmpb_weights(folder / "weights.safetensors", config)
    pbs = read_class_pbs(folder / "pb.safetensors", config.pb_dim)
    buffers: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in load_file(str(folder / "optimizer.safetensors")).items():
        key, _, index = name.rpartition(".")
        key = "momentum_buffer" if key == "momentum" else key  # checkpoints of SGD-only versions
        buffers.setdefault(int(index), {})[key] = value
    return model, pbs, buffers


def _append_metrics(path: Path, row: dict[str, Any]) -> None:
    append_metrics_row(path, row, METRIC_FIELDS)


# --------------------------------------------------------------------------------------------
# the loop


def train_lstmpb(cache_dir: str | Path, out_dir: str | Path, expression: str = POOLED, epochs: int = 100,
                 hidden: int = 64, layers: int = 4, pb_dim: int = 64, context_dim: int = 64,
                 tie_depth_weights: bool = True, pb_activation: str = "leaky_relu", frame_block: int = 1,
                 reference: str = "none", closed_loop_after: int = 0, optimizer: str = "sgd",
                 batch_size: int = 4, lr: float = 0.01, momentum: float = 0.9,
                 lr_pb: float = 0.9, patience: int = 10, grad_clip: float = 5.0, max_frames: int | None = None,
                 resume: bool = False, seed: int = 0, holdout_subjects: Sequence[str] = (),
                 test_subjects: Sequence[str] = (), device: str = "cpu", progress: bool = True,
                 init_from: str | Path | None = None, standardize: bool = True, loss: str = "sum",
                 lr_decay: float = 0.1, recipe: str = "affectscope") -> TrainResult:
    """Train an LSTM-PB on the landmark cache at ``cache_dir``; write weights, PBs and logs to ``out_dir``.

    The keyword defaults are the paper's learning mode (frame-rate steps, absolute landmarks,
    teacher forcing, SGD); ``affectscope train lstmpb`` defaults to the set-up that separates
    genuine from posed expressions on unseen subjects (:data:`training.recipes.RECIPE`). hidden defaults to 64, not
    the paper's 512: one core keeps up with live recognition at 64 (see :mod:`engines.online_pb`).
    ``holdout_subjects`` are left out (``train xgb`` scores its classifiers on them);
    ``test_subjects`` are left out of both, for the figure reported once. ``init_from`` (a bundle
    folder) starts from its LSTM-PB weights and class PBs (same config and classes). ``patience`` 0 never lowers the
    learning rates. ``resume`` continues from ``out_dir/checkpoint`` with its settings; other
    arguments must agree.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    device = resolve_device(device)
    ctx = init_distributed(device)
    config = LSTMPBConfig(hidden=hidden, layers=layers, pb_dim=pb_dim, context_dim=context_dim,
                          tie_depth_weights=tie_depth_weights, pb_activation=pb_activation,
                          frame_block=frame_block, reference=reference, closed_loop_after=closed_loop_after)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {OPTIMIZERS}")
    settings = TrainSettings(expression=check_expression_model(expression), epochs=epochs, batch_size=batch_size,
                             optimizer=optimizer,
                             lr=lr, momentum=momentum, lr_pb=lr_pb, patience=patience, grad_clip=grad_clip,
                             max_frames=max_frames, seed=seed, holdout_subjects=sorted(set(holdout_subjects)),
                             test_subjects=sorted(set(test_subjects)), standardize=standardize, loss=loss,
                             lr_decay=lr_decay, recipe=recipe)
    if set(settings.holdout_subjects) & set(settings.test_subjects):
        raise ValueError(f"subjects {sorted(set(settings.holdout_subjects) & set(settings.test_subjects))[:5]} "
                         f"are both held out and test subjects; a subject is one or the other")
    require_run_folder(out_dir, resume, (METRICS, CHECKPOINT))
    ckpt = out_dir / CHECKPOINT
    resumed: dict[str, Any] | None = None
    if resume and (ckpt / "state.json").is_file():
        resumed = json.loads((ckpt / "state.json").read_text(encoding="utf-8"))
        config = LSTMPBConfig.from_dict(resumed["config"])
        saved = TrainSettings(**{"optimizer": "sgd", **resumed["settings"]})
        require_same_people(ckpt, asdict(settings), asdict(saved))
        saved.epochs = epochs  # the one setting a resumed run may change: how far to go
        settings = saved
    elif resume:
        raise FileNotFoundError(f"{ckpt / 'state.json'}: nothing to resume; run without --resume to start")

    items = select_items(read_landmark_cache(cache_dir), settings.expression,
                         settings.holdout_subjects + settings.test_subjects)
    if not items:
        raise ValueError(f"{cache_dir}: no landmark sequences for expression model '{settings.expression}' "
                         f"outside the held-out and test subjects (they are {len(set(settings.holdout_subjects))} "
                         f"and {len(set(settings.test_subjects))} of the cache's people; check the lists given to "
                         f"--holdout and --test)")
    classes = class_names(items)
    class_index = {name: i for i, name in enumerate(classes)}
    item_class = [class_index[class_key(it.expression, it.label)] for it in items]

    torch.manual_seed(settings.seed)
    model = LSTMPB(config)
    mean, scale, copy_mse = input_statistics(items, settings.input_spread, config, settings.standardize)
    model.set_normalization(mean, scale)
    class_pbs = torch.zeros(len(classes), config.pb_dim)
    if init_from is not None and resumed is None:
        model, class_pbs = _initial_weights(init_from, config, classes, mean, scale)
    optimizer_state: dict[int, dict[str, torch.Tensor]] = {}
    start_epoch, best, since_best = 0, float("inf"), 0
    cur_lr, cur_lr_pb = settings.lr, settings.lr_pb
    if resumed is not None:
        if resumed["classes"] != classes:
            raise ValueError(f"{ckpt}: checkpoint classes {resumed['classes']} differ from the cache's {classes}")
        model, pbs, optimizer_state = _load_checkpoint(ckpt, config)
        class_pbs = torch.stack([pbs[name] for name in classes])
        start_epoch, best, since_best = resumed["epoch"], resumed["best_mse"], resumed["since_best"]
        cur_lr, cur_lr_pb = resumed["lr"], resumed["lr_pb"]
    model.to(device).train()
    class_pbs = class_pbs.to(device)
    net = ctx.wrap(model, device)
    optimizer = make_optimizer(settings.optimizer, model.parameters(), cur_lr, settings.momentum)
    if optimizer_state:
        sd = optimizer.state_dict()
        sd["state"] = {i: {k: (v if k == "step" else v.to(device)) for k, v in bufs.items()}
                       for i, bufs in optimizer_state.items()}
        optimizer.load_state_dict(sd)

    if ctx.main:
        out_dir.mkdir(parents=True, exist_ok=True)
    ctx.barrier()

    def state_json(epoch: int) -> dict[str, Any]:
        return {"config": config.to_dict(), "settings": asdict(settings), "classes": classes,
                "epoch": epoch, "best_mse": best, "since_best": since_best, "lr": cur_lr, "lr_pb": cur_lr_pb,
                "world_size": ctx.world, "sequences": len(items), "copy_mse": copy_mse,
                "cache": str(Path(cache_dir).resolve()),
                "done": epoch >= settings.epochs}

    for epoch in range(start_epoch, settings.epochs):
        t0 = time.perf_counter()
        rng_crop = np.random.default_rng([settings.seed, epoch, ctx.rank])
        batches = epoch_order(len(items), epoch, settings.seed, ctx.world, ctx.rank, settings.batch_size)
        total = torch.zeros(2, dtype=torch.float64, device=device)  # NCCL reduces device tensors only
        bar = tqdm(batches, desc=f"lstmpb epoch {epoch + 1}/{settings.epochs}", unit="batch",
                   disable=not (progress and ctx.main), leave=False)
        for batch in bar:
            seqs = []
            for i in batch:
                seq = items[i].load()
                if settings.max_frames and len(seq) > settings.max_frames:
                    start = int(rng_crop.integers(0, len(seq) - settings.max_frames + 1))
                    seq = seq[start : start + settings.max_frames]
                seqs.append(landmark_steps(seq, config))
            x, lengths = pad_batch(seqs)
            idx = torch.as_tensor([item_class[i] for i in batch], device=device)
            mse = learning_step(net, optimizer, x.to(device), lengths.to(device), class_pbs, idx, cur_lr_pb,
                                settings.grad_clip, all_reduce=ctx.all_reduce if ctx.active else None,
                                loss=settings.loss)
            if not math.isfinite(mse):
                raise FloatingPointError(f"training error became {mse} at epoch {epoch + 1}; lower --lr")
            total[0] += mse * len(batch)
            total[1] += len(batch)
            bar.set_postfix(mse=f"{mse:.5f}")
        bar.close()
        ctx.all_reduce(total)
        epoch_mse = float(total[0] / total[1])
        improved = epoch_mse < best
        if improved:
            best, since_best = epoch_mse, 0
        else:
            since_best += 1
            if settings.patience and since_best >= settings.patience:
                cur_lr, cur_lr_pb, since_best = cur_lr * settings.lr_decay, cur_lr_pb * settings.lr_decay, 0
                for group in optimizer.param_groups:
                    group["lr"] = cur_lr
        pbs = {name: class_pbs[i].detach().cpu() for i, name in enumerate(classes)}
        # class PBs whose every unit of W_p p is negative: with a plain ReLU they steer nothing
        below_zero = int((model.pb_active_units(class_pbs.detach()) == 0).sum())
        if ctx.main:
            if improved:
                save_lstmpb(model, out_dir / WEIGHTS)
                save_class_pbs(pbs, out_dir / PBS)
            state = state_json(epoch + 1)
            _save_checkpoint(ckpt, model, pbs, optimizer, state)
            (out_dir / STATE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
            _append_metrics(out_dir / METRICS, {
                "epoch": epoch + 1, "train_mse": f"{epoch_mse:.6g}", "lr": f"{cur_lr:.6g}",
                "lr_pb": f"{cur_lr_pb:.6g}", "seconds": f"{time.perf_counter() - t0:.2f}",
                "sequences": len(items), "improved": int(improved), "pbs_below_zero": below_zero})
            if progress:
                tqdm.write(f"epoch {epoch + 1}/{settings.epochs}: mse {epoch_mse:.5f}"
                           f"{' (best)' if improved else ''}  lr {cur_lr:.3g}  lr_pb {cur_lr_pb:.3g}")
        ctx.barrier()
    ctx.leave()
    return TrainResult(out_dir, max(start_epoch, settings.epochs), best, out_dir / WEIGHTS, out_dir / PBS)


def _initial_weights(bundle_dir: str | Path, config: LSTMPBConfig, classes: list[str], mean, scale
                     ) -> tuple[LSTMPB, torch.Tensor]:
    """The LSTM-PB and class PBs of a bundle to fine-tune from, with this data's input normalization."""
    from engines.bundle import load_bundle
    from engines.expressions import POOLED
    from engines.lstmpb import for_expression, load_class_pbs, load_lstmpb

    expressions = {c.partition("/")[0] for c in classes}
    # one expression's run starts from that expression's own network where the bundle has one
    bundle = for_expression(load_bundle(bundle_dir), expressions.pop() if len(expressions) == 1 else POOLED)
    model, theirs = load_lstmpb(bundle)
    if theirs != config:
        raise ValueError(f"{bundle_dir}: its LSTM-PB config {theirs.to_dict()} differs from this run's "
                         f"{config.to_dict()}; pass the same options or start from scratch")
    pbs = load_class_pbs(bundle)
    missing = [c for c in classes if c not in pbs]
    if missing:
        raise ValueError(f"{bundle_dir}: no class PBs for {missing}; start from scratch")
    model.set_normalization(mean, scale)
    return model, torch.stack([pbs[c].reshape(-1) for c in classes]).float()


def load_trained(out_dir: str | Path) -> tuple[LSTMPB, LSTMPBConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """The best weights, class PBs and train.json of a finished (or running) training folder."""
    out_dir = Path(out_dir)
    state_path = out_dir / STATE
    if not state_path.is_file():
        raise FileNotFoundError(f"{state_path}: missing; train the LSTM-PB first ('affectscope train lstmpb')")
    state = json.loads(state_path.read_text(encoding="utf-8"))
    config = LSTMPBConfig.from_dict(state["config"])
    model = load_lstmpb_weights(out_dir / WEIGHTS, config)
    pbs = read_class_pbs(out_dir / PBS, config.pb_dim)
    return model, config, pbs, state


# --------------------------------------------------------------------------------------------
# command line (wired as 'affectscope train lstmpb')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache", required=True, help="preprocessed cache folder (holds landmarks/index.csv)")
    parser.add_argument("--out", required=True, help="training output folder")
    parser.add_argument("--recipe", default="affectscope", choices=sorted(RECIPES),
                        help="every setting below at once: affectscope (the default: separates genuine from "
                             "posed on unseen people) or paper (Huynh & Kim 2017 and the authors' code); "
                             "options given as well override it")
    parser.add_argument("--expression", default=POOLED, choices=[POOLED, *EXPRESSIONS],
                        help="train on one expression or on all of them with one PB per class (pooled); the "
                             "paper trains one network per expression")
    parser.add_argument("--epochs", type=positive_int, help="passes over the sequences (affectscope 150, paper 100)")
    parser.add_argument("--hidden", type=positive_int,
                        help="grid LSTM width (paper 512; affectscope 64 keeps live recognition within a CPU core)")
    parser.add_argument("--layers", type=positive_int)
    parser.add_argument("--pb-dim", type=positive_int)
    parser.add_argument("--context-dim", type=positive_int)
    parser.add_argument("--untied-depth", action="store_true", help="one depth LSTM per block instead of tied")
    parser.add_argument("--pb-activation", choices=sorted(PB_ACTIVATIONS),
                        help="activation of the PB drive W_p p (the paper's relu can leave class PBs "
                             "with no effect; see metrics.csv pbs_below_zero)")
    parser.add_argument("--frame-block", type=positive_int, help="landmark frames averaged into one step (paper: 1)")
    parser.add_argument("--reference", choices=REFERENCES,
                        help="take every step relative to the sequence's first one (first) or not (none, paper)")
    parser.add_argument("--closed-loop-after", type=non_negative_int,
                        help="steps that read the observed input before the network reads its own "
                             "predictions (0: teacher forcing throughout, paper)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help="adam, or sgd with momentum 0.9 (paper)")
    parser.add_argument("--batch-size", type=positive_int, help="sequences per update (paper: 1)")
    parser.add_argument("--lr", type=positive_float, help="weight learning rate (paper: SGD 0.01)")
    parser.add_argument("--lr-pb", type=positive_float, help="PB learning rate (eq. 1-2; both recipes 0.9)")
    parser.add_argument("--patience", type=positive_int,
                        help="epochs without improvement before both learning rates are lowered (paper: 10; 0: never)")
    parser.add_argument("--lr-decay", type=fraction, help="factor the learning rates are lowered by (paper: 0.9)")
    parser.add_argument("--loss", choices=LOSSES,
                        help="error over the 80 values per step: sum (½Σ) or mean (the paper's MSE)")
    parser.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=None,
                        help="scale every coordinate to a standard deviation of 0.3 (the paper does not)")
    parser.add_argument("--max-frames", type=positive_int, default=None, help="crop longer sequences (default: whole)")
    parser.add_argument("--holdout", nargs="*", default=[], metavar="SUBJECT",
                        help="subject ids (several, or comma-separated; @FILE, e.g. SET/split_dev.txt, reads a "
                             "list) left out of training; 'train xgb' scores its classifiers on them")
    parser.add_argument("--test", nargs="*", default=[], metavar="SUBJECT",
                        help="subject ids (as for --holdout) left out of training and of 'train xgb''s figures: "
                             "score them once with 'affectscope evaluate --subjects'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    parser.add_argument("--init-from", metavar="BUNDLE", default=None,
                        help="start from this bundle's LSTM-PB weights and class PBs (fine-tuning)")
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    def listed(given, what: str) -> list[str]:  # names checked against the cache's people
        names = subject_names(given)
        return known_subjects(names, sorted({it.subject for it in read_landmark_cache(args.cache)}), what) if names else []

    holdout, test = listed(args.holdout, "held-out"), listed(args.test, "test")
    result = train_lstmpb(args.cache, args.out, expression=args.expression,
                          tie_depth_weights=not args.untied_depth, max_frames=args.max_frames,
                          resume=args.resume, seed=args.seed, holdout_subjects=holdout, test_subjects=test,
                          device=args.device, init_from=args.init_from, progress=not args.no_progress,
                          recipe=args.recipe, **recipe_settings(args))
    if is_main_process():
        print(f"LSTM-PB: {result.epochs} epochs, best training mse {result.best_mse:.5f}; "
              f"weights {result.weights}, class PBs {result.pbs}")
    return 0
