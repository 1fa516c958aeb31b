"""Train the STA-3DCNN valence regressor from the crop-clip cache (``affectscope train sta``).

Data: every recording of ``CACHE/crops`` (see :mod:`training.cache`) is cut into clips of
``clip_length`` crops taken every ``step = round(fps / clip_rate_fps)`` frames (paper: 16 crops at
4 fps). A new clip starts every ``hop_s`` seconds (default: one clip period, ``step`` frames).
A clip is used only if the face was found on every one of its frames. Its label is the
valence at the clip's **last** frame: the live pipeline publishes each clip's valence at that
frame, so training and use agree and the model stays causal.

Recipe (paper section 2): MSE loss, Adam lr 1e-4, mini-batches of 16 clips per process, Xavier
init, augmentation with one random draw per clip applied to all its frames (horizontal flip,
contrast, brightness, per-channel colour gain). Subjects in ``holdout_subjects`` are never
trained on; RMSE, Pearson CC and CCC on their clips are written to ``OUT/metrics.csv`` after
every epoch, and the epoch with the best CCC (RMSE if all their clips share one valence) is
kept. Subjects in ``test_subjects`` are neither trained on nor used to pick the epoch: the kept
weights are scored on them once, at the end (``test_rmse``, ``test_cc``, ``test_ccc``): the
figure to report for unseen people.

Files in ``OUT``: ``checkpoint.pt`` (every epoch: weights, optimizer, epoch; read back with
``torch.load(weights_only=True)``), ``sta_best.safetensors`` (best held-out CCC, or the last
epoch without held-out data), ``metrics.csv``. ``--resume`` continues from ``checkpoint.pt``.
``--bundle DIR`` writes the best weights and the ``sta`` section into a model bundle.

Distributed: the same command runs under ``torchrun`` (DistributedDataParallel; gloo on CPU,
NCCL on GPUs); each process reads its own share of the clips through a DistributedSampler.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from engines.bundle import BundleError, write_bundle_json
from engines.sta import (STA3DCNN, STAConfig, crops_to_unit, load_sta, registered_sta, save_sta, sta_config,
                         sta_section, standardize, unwrap_sta)
from training.arguments import non_negative_float, non_negative_int, positive_float, positive_int
from training.balanced_sampler import BalancedSampler
from training.recipes import STA_RECIPES
from training.cache import CacheError, CropItem
from training.subject_lists import known_subjects, read_caches, shorten, subject_names
from training.checks import require_bundle_folder, require_positive, require_run_folder
from training.distributed import init_distributed, is_main_process, resolve_device
from training.metrics import LabelStats, append_metrics_row, epoch_ranking, regression_metrics, selection_score

log = logging.getLogger("training.train_sta")

METRIC_FIELDS = ("epoch", "train_loss", "val_loss", "val_rmse", "val_cc", "val_ccc", "train_clips", "val_clips",
                 "seconds")
CHECKPOINT = "checkpoint.pt"
BEST_WEIGHTS = "sta_best.safetensors"


# ----------------------------------------------------------------------------------------------
# Clips

@dataclass(frozen=True)
class ClipRef:
    recording: int      # index into the dataset's recordings
    frames: np.ndarray  # (T,) frame indices, increasing; the label is at frames[-1]


class ValenceClips(Dataset):
    """Clips of one set of recordings. Item: (crops uint8 (T, S, S, 3) BGR, valence float32 at the last frame).

    The recordings are held in memory (uint8 crops: T*S*S*3 bytes per frame).
    """

    def __init__(self, items: Sequence[CropItem], config: STAConfig, hop_s: float | None = None):
        self.config = config
        self.items = list(items)
        self.crops: list[np.ndarray] = []
        self.valence: list[np.ndarray] = []
        self.clips: list[ClipRef] = []
        for rec, item in enumerate(self.items):
            if item.crop_size != config.crop_size:
                raise CacheError(f"{item.path}: crops are {item.crop_size} px, the STA config needs "
                                 f"{config.crop_size} px; rebuild the cache or change crop_size")
            data = item.load()
            self.crops.append(data["crops"])
            self.valence.append(data["valence"].astype(np.float32))
            self.clips += self.clip_refs(rec, data["face"], item.fps, config, hop_s)

    @staticmethod
    def clip_refs(rec: int, face: np.ndarray, fps: float, config: STAConfig, hop_s: float | None) -> list[ClipRef]:
        step = max(1, round(fps / config.clip_rate_fps))
        hop = max(1, round(hop_s * fps)) if hop_s else step
        span = (config.clip_length - 1) * step
        offsets = np.arange(config.clip_length) * step
        refs = []
        for end in range(span, len(face), hop):
            frames = end - span + offsets
            if face[frames].all():
                refs.append(ClipRef(rec, frames))
        return refs

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        ref = self.clips[i]
        crops = torch.from_numpy(self.crops[ref.recording][ref.frames])
        return crops, torch.tensor(self.valence[ref.recording][ref.frames[-1]])

    def labels(self) -> np.ndarray:
        return np.array([self.valence[r.recording][r.frames[-1]] for r in self.clips], np.float32)


def augment_clips(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Per-clip random flip, contrast, brightness and colour gain, the same on all T frames.

    x: RGB float in [0, 1], (B, T, 3, S, S) -> same shape, clamped to [0, 1].
    """
    b = x.shape[0]
    u = lambda lo, hi, *shape: torch.empty(b, *shape).uniform_(lo, hi, generator=gen)  # noqa: E731
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip.view(b, 1, 1, 1, 1), x.flip(-1), x)
    mean = x.mean(dim=(1, 2, 3, 4), keepdim=True)
    x = (x - mean) * u(0.7, 1.3, 1, 1, 1, 1) + mean            # contrast
    x = x + u(-0.1, 0.1, 1, 1, 1, 1)                           # brightness
    x = x * u(0.9, 1.1, 1, 3, 1, 1)                            # colour gain per channel
    return x.clamp_(0.0, 1.0)


def batch_to_input(crops: torch.Tensor, config: STAConfig, gen: torch.Generator | None = None) -> torch.Tensor:
    """uint8 BGR (B, T, S, S, 3) -> model input (B, T, 3, S, S); augmented when ``gen`` is given."""
    x = crops_to_unit(crops)
    if gen is not None:
        x = augment_clips(x, gen)
    return standardize(x, config)


# ----------------------------------------------------------------------------------------------
# Training

@dataclass
class TrainResult:
    epochs_done: int
    best_epoch: int
    best_metrics: dict[str, float]
    out_dir: Path
    best_weights: Path
    bundle_dir: Path | None = None
    test_metrics: dict[str, Any] = field(default_factory=dict)  # test_rmse/_cc/_ccc, test_subjects, test_clips


def split_by_subject(items: Sequence[CropItem], holdout_subjects: Sequence[str] | None
                     ) -> tuple[list[CropItem], list[CropItem], list[str]]:
    """(train items, held-out items, held-out subjects). ``None``: hold out the last subject in sorted
    order when there are at least two; ``[]``: hold out nobody."""
    subjects = sorted({it.subject for it in items})
    if holdout_subjects is None:
        holdout = subjects[-1:] if len(subjects) >= 2 else []
    else:
        holdout = known_subjects(holdout_subjects, subjects, "held-out")
    train = [it for it in items if it.subject not in holdout]
    val = [it for it in items if it.subject in holdout]
    if not train:
        raise ValueError(f"no recordings left to train on after holding out {holdout}")
    return train, val, holdout


def _resolve_config(config: str | STAConfig | dict | Path) -> STAConfig:
    if isinstance(config, STAConfig):
        return config
    if isinstance(config, dict):
        return STAConfig.from_dict(config)
    if isinstance(config, Path) or str(config).endswith(".json"):
        return STAConfig.from_dict(json.loads(Path(config).read_text(encoding="utf-8")))
    return sta_config(str(config))


@torch.inference_mode()
def predict(model: nn.Module, data: ValenceClips, batch: int, device: torch.device) -> np.ndarray:
    """Valence for every clip of ``data`` in order, shape (N,)."""
    was_training = model.training
    model.eval()
    out = []
    loader = DataLoader(data, batch_size=batch, shuffle=False)
    for crops, _ in loader:
        valence, _ = model(batch_to_input(crops, data.config).to(device))
        out.append(valence.float().cpu().numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def score_subjects(model: nn.Module, items: Sequence[CropItem], batch: int = 16) -> dict[str, Any]:
    """RMSE, CC and CCC of ``model`` on every clip of ``items`` (one clip per clip period), pooled."""
    data = ValenceClips(items, unwrap_sta(model).config)
    if len(data) == 0:
        raise ValueError("the test recordings hold no clip with a face on every frame")
    m = regression_metrics(data.labels(), predict(model, data, batch, torch.device("cpu")))
    return {**{f"test_{k}": _finite(v) for k, v in m.items()},
            "test_subjects": sorted({it.subject for it in items}), "test_clips": len(data)}


def _append_metrics(path: Path, row: dict[str, Any]) -> None:
    append_metrics_row(path, row, METRIC_FIELDS)


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _init_weights(net: STA3DCNN, bundle: str | Path) -> None:
    """Fine-tuning: start from a bundle's STA weights. The layers must match; input handling
    (``grayscale``, ``input_mean``/``input_std``) and dropout may differ."""
    source = load_sta(bundle)
    try:
        net.load_state_dict(source.state_dict())
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ValueError(f"{bundle}: its STA layers do not match config {net.config.to_dict()} ({first}); "
                         f"train with the bundle's config or without --init-from") from None


def _finite(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def train_sta(cache_dir: str | Path | Sequence[str | Path], out_dir: str | Path, config: str | STAConfig | dict | Path = "sta_small",
              epochs: int = 30, batch: int = 16, lr: float = 1e-4, resume: bool = False, seed: int = 0,
              holdout_subjects: Sequence[str] | None = None, hop_s: float | None = None,
              num_workers: int = 0, bundle_dir: str | Path | None = None, trained_on: str | None = None,
              progress: bool = True, test_subjects: Sequence[str] = (),
              init_from: str | Path | None = None, balance: float = 0.0) -> TrainResult:
    """Train (or, with ``resume``, continue training) an STA-3DCNN; see the module docstring."""
    from tqdm import tqdm

    require_positive(epochs=epochs, batch=batch, lr=lr, hop_s=hop_s)
    if not (math.isfinite(balance) and balance >= 0):
        raise ValueError(f"balance must be a finite number >= 0, not {balance}")
    device = resolve_device("auto")
    ctx = init_distributed(device)
    cfg = _resolve_config(config)
    out = Path(out_dir)
    require_run_folder(out, resume, ("metrics.csv", "checkpoint.pt"))
    require_bundle_folder(bundle_dir)

    items = read_caches(cache_dir)
    subjects = sorted({it.subject for it in items})
    test = known_subjects(test_subjects, subjects, "test")
    if holdout_subjects is not None:
        holdout_subjects = known_subjects(holdout_subjects, subjects, "held-out")
    if holdout_subjects is not None and set(test) & set(holdout_subjects):
        raise ValueError(f"subjects {sorted(set(test) & set(holdout_subjects))} are both held out and test "
                         f"subjects; the test subjects must not pick the epoch")
    test_items = [it for it in items if it.subject in test]
    train_items, val_items, holdout = split_by_subject([it for it in items if it.subject not in test],
                                                       holdout_subjects)
    train_ds = ValenceClips(train_items, cfg, hop_s)
    val_ds = ValenceClips(val_items, cfg, hop_s) if val_items else None
    if len(train_ds) == 0:
        raise ValueError(f"no clips of {cfg.clip_length} crops with a face on every frame in the training recordings")
    ranked_by = epoch_ranking(val_ds.labels()) if val_ds is not None and len(val_ds) else "ccc"
    if ctx.main:
        log.info("STA training: %d train clips from %d recordings, %d held-out clips (%d subjects %s), "
                 "%d test recordings (%d subjects), %d process(es)", len(train_ds), len(train_items),
                 len(val_ds) if val_ds else 0, len(holdout), shorten(holdout), len(test_items), len(test),
                 ctx.world)
        if ranked_by == "rmse":
            log.warning("all held-out clips have valence %.3g: CCC cannot rank epochs, RMSE does", val_ds.labels()[0])
        out.mkdir(parents=True, exist_ok=True)  # the run's folder once its data is known to be there
    ctx.barrier()
    torch.manual_seed(seed)
    np.random.seed(seed)
    net = STA3DCNN(cfg)
    if init_from is not None and not resume:
        _init_weights(net, init_from)
        if ctx.main:
            log.info("starting from the weights of %s", init_from)
    net = net.to(device)
    optim = torch.optim.Adam(net.parameters(), lr=lr)
    start_epoch, best_ccc, best_epoch, best_metrics = 0, -math.inf, 0, {}
    ckpt_path = out / CHECKPOINT
    if resume:
        if not ckpt_path.is_file():
            raise FileNotFoundError(f"{ckpt_path}: no checkpoint to resume from")
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if ckpt.get("config") != cfg.to_dict():
            raise ValueError(f"{ckpt_path}: checkpoint was trained with config {ckpt.get('config')}, "
                             f"not {cfg.to_dict()}; resume with the same config")
        net.load_state_dict(ckpt["model"])
        optim.load_state_dict(ckpt["optimizer"])
        start_epoch = int(ckpt["epoch"])
        best_ccc = float(ckpt.get("best_ccc", -math.inf)) if ckpt.get("ranked_by", "ccc") == ranked_by else -math.inf
        best_epoch = int(ckpt.get("best_epoch", 0))
        best_metrics = dict(ckpt.get("best_metrics", {}))
        if ctx.main:
            log.info("resuming after epoch %d from %s", start_epoch, ckpt_path)

    model = ctx.wrap(net, device)
    if balance:
        sampler = BalancedSampler(train_ds.labels(), balance, num_replicas=ctx.world, rank=ctx.rank, seed=seed)
    else:
        sampler = DistributedSampler(train_ds, num_replicas=ctx.world, rank=ctx.rank, shuffle=True, seed=seed)
    loader = DataLoader(train_ds, batch_size=batch, sampler=sampler, num_workers=num_workers, drop_last=False)
    loss_fn = nn.MSELoss()

    for epoch in range(start_epoch + 1, epochs + 1):
        t0 = time.perf_counter()
        sampler.set_epoch(epoch)
        # every random draw of an epoch (order, augmentation, dropout) from the seed and the epoch
        # alone: a run resumed after epoch k repeats the uninterrupted run's epoch k + 1
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch * 1_009 + ctx.rank)
        torch.manual_seed(seed * 1_000_003 + epoch * 1_009 + ctx.rank + 500_009)
        model.train()
        total, count = 0.0, 0
        bar = tqdm(loader, desc=f"epoch {epoch}/{epochs}", disable=not (progress and ctx.main), leave=False)
        for crops, target in bar:
            x = batch_to_input(crops, cfg, gen).to(device, non_blocking=True)
            target = target.to(device, torch.float32)
            valence, _ = model(x)
            loss = loss_fn(valence, target)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            total += float(loss.detach()) * len(target)
            count += len(target)
            bar.set_postfix(loss=f"{total / max(count, 1):.4f}")
        bar.close()
        stats = torch.tensor([total, count], dtype=torch.float64, device=device)
        ctx.all_reduce(stats)
        train_loss = float(stats[0] / stats[1].clamp(min=1))

        if ctx.main:
            row: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss, "train_clips": len(train_ds),
                                   "val_clips": len(val_ds) if val_ds else 0}
            if val_ds is not None and len(val_ds):
                truth = val_ds.labels()
                pred = predict(net, val_ds, batch, device)
                m = regression_metrics(truth, pred)
                row.update(val_loss=float(np.mean((truth - pred) ** 2)), val_rmse=m["rmse"], val_cc=m["cc"],
                           val_ccc=m["ccc"])
                score = selection_score(m, ranked_by)
            else:
                m, score = {}, -math.inf
            improved = score > best_ccc or (best_epoch == 0) or not (val_ds is not None and len(val_ds))
            if improved:
                best_ccc, best_epoch = score, epoch
                best_metrics = {k: _finite(v) for k, v in m.items()}
                best_metrics["train_loss"] = train_loss
                save_sta(net, out / BEST_WEIGHTS)
            row["seconds"] = round(time.perf_counter() - t0, 3)
            _append_metrics(out / "metrics.csv", row)
            _save_checkpoint(ckpt_path, {
                "epoch": epoch, "model": net.state_dict(), "optimizer": optim.state_dict(),
                "config": cfg.to_dict(), "best_ccc": best_ccc, "best_epoch": best_epoch,
                "best_metrics": best_metrics, "seed": seed, "holdout": list(holdout), "ranked_by": ranked_by,
            })
            line = (f"epoch {epoch}/{epochs}: train loss {train_loss:.4f}"
                    + "".join(f", held-out {k} {v:.4f}" for k, v in m.items()) + (" (best)" if improved else ""))
            if progress:  # as train lstmpb: a line an epoch beside the bar
                tqdm.write(line)
            else:
                log.info(line)
        ctx.barrier()

    result = TrainResult(epochs_done=max(epochs, start_epoch), best_epoch=best_epoch, best_metrics=best_metrics,
                         out_dir=out, best_weights=out / BEST_WEIGHTS)
    if ctx.main and (test_items or bundle_dir is not None):
        from safetensors.torch import load_file
        best = STA3DCNN(cfg)
        best.load_state_dict(load_file(str(out / BEST_WEIGHTS)))
        if test_items:
            result.test_metrics = score_subjects(best, test_items, batch)
            (out / "test.json").write_text(json.dumps(result.test_metrics, indent=2) + "\n", encoding="utf-8")
            log.info("test subjects %s: %s", test, ", ".join(
                f"{k} {v:.4f}" for k, v in result.test_metrics.items() if isinstance(v, float)))
        if bundle_dir is not None:
            caches = [cache_dir] if isinstance(cache_dir, (str, Path)) else list(cache_dir)
            desc = trained_on or (f"STA-3DCNN on crop cache(s) {', '.join(str(Path(c).resolve()) for c in caches)}; "
                                  f"held-out subjects {holdout or 'none'}; test subjects {test or 'none'}")
            metrics = {**best_metrics, "best_epoch": best_epoch, "holdout_subjects": list(holdout),
                       "label_stats": asdict(LabelStats.of(train_ds.labels())), **result.test_metrics}
            result.bundle_dir = write_sta_bundle(bundle_dir, best, metrics, trained_on=desc)
    ctx.barrier()
    ctx.leave()
    return result


# ----------------------------------------------------------------------------------------------
# Bundle

def write_sta_bundle(bundle_dir: str | Path, model: nn.Module, metrics: dict[str, Any] | None = None, *,
                     name: str | None = None, trained_on: str = "", landmark_normalization: str = "similarity",
                     weights_name: str = "sta.safetensors") -> Path:
    """Write ``weights_name`` and the ``sta`` section into a bundle folder; returns the folder.

    An existing ``bundle.json`` keeps its other sections; its crop size, clip length and clip rate
    must equal the model's (the perception stage produces what the bundle says). A new bundle takes
    them from the model config. The result is read back with :func:`engines.sta.load_sta`.
    """
    root = Path(bundle_dir)
    meta_path = root / "bundle.json"
    cfg: STAConfig = unwrap_sta(model).config
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{meta_path}: not valid JSON ({exc}); fix or remove it") from None
        for fld, want in (("crop_size", cfg.crop_size), ("clip_length", cfg.clip_length),
                          ("clip_rate_fps", cfg.clip_rate_fps)):
            if fld in meta and meta[fld] != want:
                raise BundleError(f"{meta_path}: field '{fld}' is {meta[fld]}, the STA model needs {want}; "
                                  f"write to another bundle folder or train with a matching config")
        meta.pop("schema", None)
    else:
        meta = {"name": name or root.name, "trained_on": trained_on,
                "landmark_normalization": landmark_normalization}
    meta.update(crop_size=cfg.crop_size, clip_length=cfg.clip_length, clip_rate_fps=cfg.clip_rate_fps)
    if name:
        meta["name"] = name
    save_sta(model, root / weights_name)
    section = sta_section(model, weights_name, metrics)
    section["trained_on"] = trained_on
    meta["sta"] = section
    write_bundle_json(root, meta)
    load_sta(root)  # refuse to leave a bundle behind that does not load
    return root


# ----------------------------------------------------------------------------------------------
# Command line

def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of ``affectscope train sta``."""
    parser.add_argument("--cache", required=True, type=Path, nargs="+", metavar="CACHE",
                        help="cache folder(s) holding crops/index.csv (e.g. synthetic sessions and photo clips)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (checkpoint, metrics.csv, weights)")
    parser.add_argument("--recipe", default="affectscope", choices=sorted(STA_RECIPES),
                        help="affectscope (sta_small: real time on a CPU) or paper (sta_paper, the paper's network; "
                             "where the paper is silent — optimizer, rate, batch, epochs — the options below)")
    parser.add_argument("--config", default=None,
                        help=f"registered STA model ({', '.join(registered_sta())}) or a JSON config file "
                             "(overrides the recipe's)")
    parser.add_argument("--epochs", type=positive_int, default=30, help="passes over the training clips (default 30)")
    parser.add_argument("--batch", type=positive_int, default=16, help="clips per mini-batch and process")
    parser.add_argument("--lr", type=positive_float, default=1e-4, help="Adam learning rate (default 1e-4)")
    parser.add_argument("--seed", type=int, default=0, help="seed for initialisation, shuffling and augmentation")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument("--holdout", nargs="*", default=None, metavar="SUBJECT",
                        help="subjects to evaluate on and never train on (default: the last subject; "
                             "give the flag alone to hold out nobody); @FILE reads a list, one per line, "
                             "such as a photo cache's splits/dev.txt")
    parser.add_argument("--test", nargs="+", default=(), metavar="SUBJECT",
                        help="subjects never trained on nor used to pick the epoch; the kept weights are "
                             "scored on them at the end (OUT/test.json and the bundle's metrics); @FILE as "
                             "for --holdout")
    parser.add_argument("--init-from", type=Path, default=None, metavar="BUNDLE",
                        help="start from this bundle's STA weights (fine-tuning; same layers)")
    parser.add_argument("--hop-s", type=positive_float, default=None, help="seconds between clip starts (default: one clip period)")
    parser.add_argument("--balance", type=non_negative_float, default=0.0, metavar="P",
                        help="draw clips with weight count(valence level)**-P, so rare levels are seen more "
                             "(0: a plain shuffle, the default; 1: every level equally often)")
    parser.add_argument("--workers", type=non_negative_int, default=0, help="DataLoader worker processes")
    parser.add_argument("--bundle", type=Path, default=None, help="write the best model into this bundle folder")
    parser.add_argument("--trained-on", default=None, help="text for the bundle's trained_on field")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def run(args: argparse.Namespace) -> int:
    config = args.config or STA_RECIPES[args.recipe]
    holdout = None if args.holdout is None else subject_names(args.holdout)  # None: the default hold-out
    result = train_sta(args.cache, args.out, config=config, epochs=args.epochs, batch=args.batch, lr=args.lr,
                       resume=args.resume, seed=args.seed, holdout_subjects=holdout, hop_s=args.hop_s,
                       num_workers=args.workers, bundle_dir=args.bundle, trained_on=args.trained_on,
                       progress=not args.no_progress, test_subjects=subject_names(args.test),
                       init_from=args.init_from, balance=args.balance)
    if is_main_process():
        print(f"best epoch {result.best_epoch}: " +
              ", ".join(f"{k} {v:.4f}" for k, v in result.best_metrics.items() if isinstance(v, float)))
        if result.test_metrics:
            print(f"test subjects ({shorten(result.test_metrics['test_subjects'])}): " +
                  ", ".join(f"{k} {v:.4f}" for k, v in result.test_metrics.items() if isinstance(v, float)))
        print(f"weights: {result.best_weights}" + (f"; bundle: {result.bundle_dir}" if result.bundle_dir else ""))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m training.train_sta ...`` (also under ``torchrun ... -m training.train_sta``)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = add_arguments(argparse.ArgumentParser(prog="train_sta", description=__doc__.split("\n\n")[0]))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
