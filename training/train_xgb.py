"""PB vectors by recognition, the XGBoost genuine/fake classifiers, their evaluation, and the bundle.

After :mod:`training.train_lstmpb`, every training sequence gets PB vectors by recognition mode
(weights frozen), one of two ways:

* ``stream`` (default): the sequence is streamed through the online recognizer's schedule
  (:func:`engines.online_pb.stream_pbs`), giving one PB per update: the classifier learns from the
  same kind of PB it will see live;
* ``sequence``: the paper's way, one PB per whole sequence, ``sequence_iters`` steps from zero.

A :class:`engines.pb_classifier.PBClassifier` is fit per expression and one pooled over all, with
subject-wise cross-validation choosing the number of rounds (and the L2 weight among candidates).
In stream mode a second set, the whole-clip classifiers, is fit on sequence-mode PBs: they judge a
finished clip, as the paper does, and go into the bundle as ``lstmpb.clip_classifiers``. Held-out
subjects (those left out of LSTM-PB training) are scored per clip (a clip's PBs, its augmented
copies included, averaged), with and without the paper's pairing. :func:`write_lstmpb_bundle`
writes the ``lstmpb`` section and its files into a bundle folder.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from engines.bundle import NORMALIZATIONS, BundleError, canonical_normalization, load_bundle, write_bundle_json
from engines.expressions import POOLED
from engines.lstmpb import NETWORKS, LSTMPB, NumpyPBGradient, landmark_steps, save_class_pbs, save_lstmpb
from engines.online_pb import RecognizerSettings, settings_for, stream_pbs
from engines.pb_classifier import PBClassifier, XGBSettings, pair_predictions, roc_auc
from realtime.sessions.folder import json_safe
from training.arguments import fraction, positive_float, positive_int
from training.cache import CacheError, LandmarkItem, cache_settings, read_landmark_cache
from training.checks import require_bundle_folder
from training.recipes import XGB_RECIPES
from training.train_lstmpb import load_trained, select_items

MODES = ("stream", "sequence")


# --------------------------------------------------------------------------------------------
# PB vectors


@dataclass(frozen=True)
class PBSamples:
    """PB vectors with their labels: X (M, 64); y, subjects, expressions, clips (M,).

    ``clips`` names the clip a vector came from ('<subject>/<expression>/<label>'): augmented copies
    of a video and the successive PBs of a stream share it.
    """

    X: np.ndarray
    y: np.ndarray
    subjects: np.ndarray
    expressions: np.ndarray
    clips: np.ndarray

    def subset(self, mask: np.ndarray) -> "PBSamples":
        return PBSamples(self.X[mask], self.y[mask], self.subjects[mask], self.expressions[mask], self.clips[mask])

    def __len__(self) -> int:
        return len(self.y)


def sequence_pbs(model: LSTMPB, seqs: Sequence[np.ndarray], iters: int = 30, lr: float = 0.9,
                 batch_size: int = 16, progress: bool = False) -> np.ndarray:
    """One PB per whole sequence by recognition from zero: (N, 64).

    seqs: the network's steps (:func:`engines.lstmpb.landmark_steps`). Sequences of similar length
    are batched (padded and masked) to cut per-step overhead.
    """
    from tqdm import tqdm

    engine = NumpyPBGradient(model, dtype=np.float32)
    order = np.argsort([len(s) for s in seqs], kind="stable")
    out = np.zeros((len(seqs), model.config.pb_dim), np.float32)
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    for chunk in tqdm(chunks, desc="PB per sequence", unit="batch", disable=not progress, leave=False):
        lengths = np.array([len(seqs[i]) for i in chunk])
        x = np.zeros((len(chunk), lengths.max(), model.config.input_dim), np.float32)
        for row, i in enumerate(chunk):
            x[row, : lengths[row]] = seqs[i]
        mask = (np.arange(x.shape[1])[None, :] < (lengths[:, None] - 1)).astype(np.float32)
        pb = np.zeros((len(chunk), model.config.pb_dim), np.float32)
        for _ in range(iters):
            g, _ = engine(x, pb, mask)
            pb = pb - lr * g
        out[chunk] = pb
    return out


def _collect_shard(job: tuple) -> "PBSamples":
    model, items, mode, recognizer, sequence_iters = job
    torch.set_num_threads(1)
    return collect_pbs(model, items, mode, recognizer, sequence_iters)


def _collect_in_processes(model: LSTMPB, items: Sequence[LandmarkItem], mode: str, recognizer: RecognizerSettings,
                          sequence_iters: int, jobs: int, progress: bool) -> "PBSamples":
    """collect_pbs over ``jobs`` spawned processes, one contiguous share of the items each (so the
    result is in item order, as with one process); recognition of a sequence is single-threaded
    NumPy, so processes are what scales."""
    import os
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from tqdm import tqdm

    shards = [list(part) for part in np.array_split(np.arange(len(items)), jobs * 4) if len(part)]
    work = [(model, [items[i] for i in part], mode, recognizer, sequence_iters) for part in shards]
    single = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    saved = {k: os.environ.get(k) for k in single}
    os.environ.update(single)  # spawned workers read these at start: one BLAS thread each
    try:
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            parts = list(tqdm(pool.map(_collect_shard, work), total=len(work), desc=f"PB ({mode}, {jobs} jobs)",
                              unit="share", disable=not progress, leave=False))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return PBSamples(*(np.concatenate([getattr(p, f) for p in parts], 0)
                       for f in ("X", "y", "subjects", "expressions", "clips")))


def collect_pbs(model: LSTMPB, items: Sequence[LandmarkItem], mode: str = "stream",
                recognizer: RecognizerSettings | None = None, sequence_iters: int = 100,
                progress: bool = False, jobs: int = 1) -> PBSamples:
    """PB vectors of cache items by recognition mode (see the module docstring for the modes);
    ``jobs`` > 1 shares the items among that many processes (the same vectors, in the same order)."""
    from tqdm import tqdm

    if mode not in MODES:
        raise ValueError(f"unknown PB mode {mode!r}; choose one of {MODES}")
    recognizer = recognizer or settings_for(model.config)
    if jobs > 1 and len(items) >= 2 * jobs:
        return _collect_in_processes(model, items, mode, recognizer, sequence_iters, jobs, progress)
    X, y, subjects, expressions, clips = [], [], [], [], []
    if mode == "sequence":
        seqs = [landmark_steps(it.load(), model.config) for it in items]
        pbs = sequence_pbs(model, seqs, sequence_iters, recognizer.lr, progress=progress)
        per_item = [pbs[i : i + 1] for i in range(len(items))]
    else:
        engine = NumpyPBGradient(model, dtype=np.float32)
        per_item = [stream_pbs(engine, landmark_steps(it.load(), model.config), recognizer)
                    for it in tqdm(items, desc="PB by streaming", unit="seq", disable=not progress, leave=False)]
    for it, pbs in zip(items, per_item):
        n = len(pbs)
        X.append(pbs)
        y += [it.is_fake] * n
        subjects += [it.subject] * n
        expressions += [it.expression] * n
        clips += [f"{it.subject}/{it.expression}/{it.label}"] * n
    dim = model.config.pb_dim
    return PBSamples(np.concatenate(X, 0) if X else np.zeros((0, dim), np.float32), np.asarray(y, int),
                     np.asarray(subjects, str), np.asarray(expressions, str), np.asarray(clips, str))


# --------------------------------------------------------------------------------------------
# metrics


def accuracy(y: np.ndarray, predicted: np.ndarray) -> float:
    y, predicted = np.asarray(y), np.asarray(predicted)
    return float((y == predicted).mean()) if len(y) else float("nan")


@dataclass(frozen=True)
class ClipScores:
    """P(fake) per clip (mean over the clip's PB vectors) with the clip's labels."""

    clips: np.ndarray
    probs: np.ndarray
    y: np.ndarray
    subjects: np.ndarray
    expressions: np.ndarray


def clip_scores(samples: PBSamples, probs: np.ndarray) -> ClipScores:
    names, inverse = np.unique(samples.clips, return_inverse=True)
    sums = np.bincount(inverse, weights=probs, minlength=len(names))
    counts = np.bincount(inverse, minlength=len(names))
    first = np.array([np.flatnonzero(inverse == i)[0] for i in range(len(names))], int)
    return ClipScores(names, sums / counts, samples.y[first], samples.subjects[first], samples.expressions[first])


def score_clips(scores: ClipScores) -> dict[str, float]:
    """Accuracy (threshold 0.5), ROC AUC, and accuracy with the paper's pairing."""
    paired = pair_predictions(scores.probs, scores.subjects, scores.expressions)
    return {"clips": int(len(scores.y)), "accuracy": accuracy(scores.y, scores.probs > 0.5),
            "auc": roc_auc(scores.y, scores.probs), "accuracy_paired": accuracy(scores.y, paired)}


def evaluate(classifiers: Mapping[str, PBClassifier], samples: PBSamples) -> dict[str, dict[str, float]]:
    """Per expression and overall, clip-level metrics of the expression's own classifier (or the
    pooled one where it has none) and of the pooled classifier on everything."""
    out: dict[str, dict[str, float]] = {}
    if len(samples) == 0:
        return out
    own = np.zeros(len(samples))
    for expr in sorted(set(samples.expressions.tolist())):
        m = samples.expressions == expr
        clf = classifiers.get(expr, classifiers[POOLED])
        own[m] = clf.predict_proba(samples.X[m])
        out[expr] = score_clips(clip_scores(samples.subset(m), own[m]))
    out["all_expression_models"] = score_clips(clip_scores(samples, own))
    out[POOLED] = score_clips(clip_scores(samples, classifiers[POOLED].predict_proba(samples.X)))
    return out


# --------------------------------------------------------------------------------------------
# classifiers and the bundle


def fit_classifiers(samples: PBSamples, settings: XGBSettings | None = None, expressions: Sequence[str] | None = None,
                    eta_by_expression: Mapping[str, float] | None = None
                    ) -> tuple[dict[str, PBClassifier], dict[str, str]]:
    """Pooled classifier plus one per expression; returns (classifiers, skipped expressions with why).
    ``eta_by_expression``: a starting learning rate per expression model (the paper recipe's)."""
    settings = settings or XGBSettings()
    etas = dict(eta_by_expression or {})

    def settings_of(model: str) -> XGBSettings:
        return replace(settings, eta=etas[model]) if model in etas else settings

    classifiers = {POOLED: PBClassifier(settings_of(POOLED)).fit(samples.X, samples.y, samples.subjects)}
    skipped = {}
    wanted = expressions if expressions is not None else sorted(set(samples.expressions.tolist()))
    for expr in wanted:
        m = samples.expressions == expr
        try:
            classifiers[expr] = PBClassifier(settings_of(expr)).fit(samples.X[m], samples.y[m], samples.subjects[m])
        except ValueError as exc:
            skipped[expr] = str(exc)
    return classifiers, skipped


def write_lstmpb_bundle(bundle_dir: str | Path, model: LSTMPB, class_pbs: Mapping[str, torch.Tensor],
                        classifiers: Mapping[str, PBClassifier], recognizer: RecognizerSettings,
                        metrics: Mapping[str, Any] | None = None, base_meta: Mapping[str, Any] | None = None,
                        clip_classifiers: Mapping[str, PBClassifier] | None = None, clip_iters: int | None = None,
                        network: str | None = None) -> Path:
    """Write the LSTM-PB files and the ``lstmpb`` section into a bundle folder; returns bundle.json.

    ``clip_classifiers`` (optional) judge one PB per whole clip, found by ``clip_iters`` recognition
    steps from zero. ``network``: an expression whose own network this is (the paper trains one per
    expression); it goes to ``lstmpb.networks.<expression>`` (files ``net_<expression>_*``) beside
    the pooled network and the other expressions' networks, which stay. Without it, the pooled
    network is written (and the per-expression ones stay).

    An existing bundle.json keeps its other sections (e.g. ``sta``); a new one takes the top-level
    fields (name, trained_on, landmark_normalization, crop_size, clip_length, clip_rate_fps) from
    ``base_meta``. The result is read back with :func:`engines.bundle.load_bundle` as a check.
    """
    root = Path(bundle_dir)
    root.mkdir(parents=True, exist_ok=True)
    if (root / "bundle.json").is_file():
        meta = dict(load_bundle(root).meta)
        meta.pop("schema", None)
        meta.update(base_meta or {})
    elif base_meta is None:
        raise ValueError(f"{root}: no bundle.json yet; pass base_meta with name, trained_on, "
                         "landmark_normalization, crop_size, clip_length and clip_rate_fps")
    else:
        meta = dict(base_meta)
    if POOLED not in classifiers:
        raise ValueError("a bundle needs the pooled classifier")
    prefix = f"net_{network}_" if network else ""
    save_lstmpb(model, root / f"{prefix}lstmpb.safetensors")
    save_class_pbs(class_pbs, root / f"{prefix}lstmpb_pb.safetensors")
    files = {name: clf.save(root / f"{prefix}xgb_{name}.ubj").name for name, clf in classifiers.items()}
    section = {
        "config": model.config.to_dict(),
        "weights": f"{prefix}lstmpb.safetensors",
        "pb": f"{prefix}lstmpb_pb.safetensors",
        "classifiers": files,
        "recognizer": recognizer.to_dict(),
        "metrics": json_safe(dict(metrics or {})),
    }
    for stale in root.glob(f"{prefix}xgb_clip_*.ubj"):
        stale.unlink()
    if clip_classifiers:
        if POOLED not in clip_classifiers or clip_iters is None:
            raise ValueError("whole-clip classifiers need the pooled one and their recognition steps (clip_iters)")
        section["clip_classifiers"] = {name: clf.save(root / f"{prefix}xgb_clip_{name}.ubj").name
                                       for name, clf in clip_classifiers.items()}
        section["clip_iters"] = int(clip_iters)
    old = dict(meta.get("lstmpb") or {})
    networks = dict(old.get(NETWORKS) or {})
    if network:
        networks[network] = section
        pooled = {k: v for k, v in old.items() if k != NETWORKS}
        meta["lstmpb"] = {**pooled, NETWORKS: networks}
    else:
        meta["lstmpb"] = {**section, **({NETWORKS: networks} if networks else {})}
    path = write_bundle_json(root, meta)
    load_bundle(root)
    return path


def train_xgb(cache_dir: str | Path, lstmpb_dir: str | Path, bundle_dir: str | Path, mode: str = "stream",
              recognizer: RecognizerSettings | None = None, sequence_iters: int = 100,
              settings: XGBSettings | None = None, base_meta: Mapping[str, Any] | None = None,
              clip_classifiers_too: bool = True, progress: bool = True, jobs: int = 1,
              eta_by_expression: Mapping[str, float] | None = None) -> dict[str, Any]:
    """PB vectors of the LSTM-PB's training sequences, classifiers, held-out evaluation, bundle.

    In stream mode, ``clip_classifiers_too`` also fits the whole-clip classifiers (sequence-mode
    PBs, ``sequence_iters`` steps each); the held-out metrics of those are ``holdout_clip``.

    The held-out subjects and the expression model are those of ``lstmpb_dir/train.json``.
    Returns the metrics written into the bundle's ``lstmpb.metrics``.
    """
    from tqdm import tqdm

    require_bundle_folder(bundle_dir)
    recorded = (cache_settings(cache_dir) or {}).get("landmark_normalization")
    if recorded and (Path(bundle_dir) / "bundle.json").is_file():
        existing = load_bundle(bundle_dir).landmark_normalization
        if existing != recorded:
            raise BundleError(f"{bundle_dir}: its models read landmarks normalized by {existing!r}, the cache "
                              f"{cache_dir} holds {recorded!r} ones; write the LSTM-PB into another bundle")
    model, config, class_pbs, state = load_trained(lstmpb_dir)
    recognizer = recognizer or settings_for(config)
    expression = state["settings"]["expression"]
    holdout = list(state["settings"].get("holdout_subjects", []))
    test_subjects = list(state["settings"].get("test_subjects", []))
    items = read_landmark_cache(cache_dir)
    train_items = select_items(items, expression, holdout + test_subjects)
    test_items = [it for it in select_items(items, expression) if it.subject in set(holdout)]
    if not train_items:
        raise ValueError(f"{cache_dir}: no training sequences for expression model '{expression}'")
    train = collect_pbs(model, train_items, mode, recognizer, sequence_iters, progress, jobs)
    classifiers, skipped = fit_classifiers(train, settings, eta_by_expression=eta_by_expression)
    clip_classifiers = None
    if mode == "stream" and clip_classifiers_too:
        clip_train = collect_pbs(model, train_items, "sequence", recognizer, sequence_iters, progress, jobs)
        clip_classifiers, _ = fit_classifiers(clip_train, settings, eta_by_expression=eta_by_expression)
    metrics: dict[str, Any] = {
        "pb_source": mode,
        "sequence_iters": sequence_iters,  # recognition steps of a whole-clip PB (evaluate repeats them)
        "expression_model": expression,
        "train_sequences": len(train_items),
        "train_subjects": sorted(set(train.subjects.tolist())),
        "holdout_subjects": holdout,
        "test_subjects": test_subjects,
        "cv_auc": {name: clf.cv_auc for name, clf in classifiers.items()},
        "rounds": {name: clf.n_rounds for name, clf in classifiers.items()},
        "reg_lambda": {name: clf.settings.reg_lambda for name, clf in classifiers.items()},
        "skipped": skipped,
        "lstmpb_best_train_mse": state.get("best_mse"),
    }
    if clip_classifiers:
        metrics["clip_cv_auc"] = {name: clf.cv_auc for name, clf in clip_classifiers.items()}
        metrics["clip_reg_lambda"] = {name: clf.settings.reg_lambda for name, clf in clip_classifiers.items()}
    if test_items:
        test = collect_pbs(model, test_items, mode, recognizer, sequence_iters, progress, jobs)
        metrics["holdout"] = evaluate(classifiers, test)
        if clip_classifiers:
            clip_test = collect_pbs(model, test_items, "sequence", recognizer, sequence_iters, progress, jobs)
            metrics["holdout_clip"] = evaluate(clip_classifiers, clip_test)
    write_lstmpb_bundle(bundle_dir, model, class_pbs, classifiers, recognizer, metrics, base_meta,
                        clip_classifiers, sequence_iters if clip_classifiers else None,
                        network=None if expression == POOLED else expression)
    figures = json.dumps(json_safe({"cv_auc": metrics["cv_auc"], "holdout": metrics.get("holdout"),
                                     "holdout_clip": metrics.get("holdout_clip")}), indent=2)
    (tqdm.write if progress else print)(figures)  # the figures, with or without progress bars
    return metrics


# --------------------------------------------------------------------------------------------
# command line (wired as 'affectscope train xgb')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache", required=True, help="preprocessed cache folder (holds landmarks/index.csv)")
    parser.add_argument("--recipe", default="affectscope", choices=sorted(XGB_RECIPES),
                        help="affectscope (default) or paper (the paper's whole-clip PBs and the authors' XGBoost "
                             "schedule); --mode, --lambda and --max-rounds given as well override it")
    parser.add_argument("--lstmpb", required=True, help="output folder of 'train lstmpb'")
    parser.add_argument("--bundle", required=True, help="bundle folder to write (merged into an existing one)")
    parser.add_argument("--mode", choices=MODES, default=None,
                        help="PB per online update (stream, as live) or per whole sequence (sequence, as the paper)")
    parser.add_argument("--sequence-iters", type=positive_int, default=100,
                        help="recognition steps per whole sequence (mode sequence, whole-clip classifiers)")
    parser.add_argument("--no-clip-classifiers", action="store_true",
                        help="in stream mode, skip the whole-clip classifiers (one PB per finished clip)")
    live = parser.add_argument_group("live recognizer (stored in the bundle; default: suited to the "
                                     "LSTM-PB's step rate, see engines.online_pb.settings_for)")
    live.add_argument("--window", type=positive_int, default=None, help="steps the PB must explain")
    live.add_argument("--every", type=positive_int, default=None, help="new steps between updates")
    live.add_argument("--iters", type=positive_int, default=None, help="recognition steps per online update")
    live.add_argument("--min-frames", type=positive_int, default=None, help="steps before the first update")
    live.add_argument("--lr-pb", type=positive_float, default=RecognizerSettings.lr)
    live.add_argument("--smoothing", type=fraction, default=RecognizerSettings.smoothing)
    parser.add_argument("--max-rounds", type=positive_int, default=None)
    parser.add_argument("--lambda", dest="reg_lambda", type=float, nargs="+", default=None,
                        help="L2 weight(s) of the boosters; with several, subject-wise CV AUC picks one per "
                             "classifier (paper: 1000)")
    parser.add_argument("--nfold", type=positive_int, default=XGBSettings.nfold)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help="bundle name (new bundles)")
    parser.add_argument("--trained-on", default=None,
                        help="the bundle's account of its training data (default for a new bundle: the runs and "
                             "caches used; given for an existing bundle, it replaces its account)")
    parser.add_argument("--normalization", choices=NORMALIZATIONS, type=canonical_normalization, default=None,
                        help="landmark normalization of the cache, for caches that do not record it "
                             "(default: the cache's record, else similarity)")
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="processes that find PB vectors (recognition is single-threaded: one per core), "
                             "and threads of each booster")
    parser.add_argument("--no-progress", action="store_true")


def cache_normalization(cache_dir: str | Path, given: str | None = None) -> str:
    """The landmark normalization of a cache: its record (``cache.json``), which ``given`` must
    match; for a cache without a record, ``given`` (default similarity)."""
    recorded = (cache_settings(cache_dir) or {}).get("landmark_normalization")
    given = canonical_normalization(given) if given else given
    if recorded and given and given != recorded:
        raise CacheError(f"{cache_dir}: made with landmark normalization {recorded!r}, not {given!r}; drop "
                         f"--normalization or preprocess the data again with --normalization {given}")
    return recorded or given or "similarity"


def run(args: argparse.Namespace) -> int:
    _, config, _, _ = load_trained(args.lstmpb)
    base = settings_for(config).to_dict()
    given = {"window": args.window, "every": args.every, "iters": args.iters, "min_frames": args.min_frames}
    base.update({k: v for k, v in given.items() if v is not None}, lr=args.lr_pb, smoothing=args.smoothing)
    if args.window is not None and args.min_frames is None:
        base["min_frames"] = min(base["min_frames"], args.window)
    recognizer = RecognizerSettings(**base)
    recipe = XGB_RECIPES[args.recipe]
    mode = args.mode or recipe["mode"]
    lambdas = args.reg_lambda or recipe["reg_lambda"]
    # --jobs also gives the boosters that many threads: after the PB vectors are found, fitting and
    # cross-validating fourteen boosters ran on one core of two for over half an hour
    settings = XGBSettings(max_rounds=args.max_rounds or recipe["max_rounds"], nfold=args.nfold, seed=args.seed,
                           nthread=max(1, args.jobs),
                           reg_lambda=lambdas[0], lambda_candidates=tuple(lambdas[1:]), **recipe["settings"])
    normalization = cache_normalization(args.cache, args.normalization)
    base_meta = None
    if not (Path(args.bundle) / "bundle.json").is_file():
        trained_on = args.trained_on or (f"LSTM-PB run {Path(args.lstmpb).resolve()} + XGBoost ({mode} PBs) on the "
                                         f"landmark cache {Path(args.cache).resolve()}; held-out and test subjects "
                                         f"as in the LSTM-PB run's train.json")
        base_meta = {"name": args.name or Path(args.bundle).name, "trained_on": trained_on,
                     "landmark_normalization": normalization, "crop_size": 64, "clip_length": 16,
                     "clip_rate_fps": 4.0}
    elif args.name or args.trained_on:
        base_meta = {k: v for k, v in (("name", args.name), ("trained_on", args.trained_on)) if v}
    train_xgb(args.cache, args.lstmpb, args.bundle, mode=mode, recognizer=recognizer,
              sequence_iters=args.sequence_iters, settings=settings, base_meta=base_meta,
              clip_classifiers_too=not args.no_clip_classifiers, progress=not args.no_progress,
              jobs=max(1, args.jobs), eta_by_expression=recipe["eta_by_expression"])
    print(f"wrote the lstmpb section of {Path(args.bundle) / 'bundle.json'}")
    return 0
