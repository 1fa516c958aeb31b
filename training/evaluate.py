"""Evaluate a model bundle on a preprocessed dataset cache; the ``affectscope evaluate`` command.

Genuine vs fake (the bundle's ``lstmpb`` section, the cache's landmark sequences): PB vectors by
the same streaming recognition the live worker runs, P(fake) per clip, accuracy, ROC AUC and the
paper's pairing (a subject's two clips of one expression), per expression and pooled; where the
bundle has whole-clip classifiers, the same metrics for them too (one PB per whole clip, the
paper's protocol).

Valence (the ``sta`` section, the cache's crop clips): clips sampled as in training, RMSE, Pearson
CC and CCC per recording and over all clips; with ``--postprocess`` also after the AV+EC chain
(median smoothing, centring and scaling to the label statistics stored in the bundle).

Valence on labelled photographs (a folder with ``labels.csv`` or ``EMOTION/`` folders instead of a
cache): see :mod:`training.evaluate_photos`.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from engines.bundle import Bundle, BundleError, load_bundle
from realtime.sessions.folder import json_safe, output_file_problem
from training.arguments import positive_float, positive_int
from training.cache import CacheError, read_crop_cache, read_landmark_cache
from training.datasets.photos import is_photo_set
from training.subject_lists import known_subjects


log = logging.getLogger(__name__)


class EvaluationError(ValueError):
    """Nothing to evaluate, or a bundle that cannot be: the message says what to do."""


def _subset(items, subjects: Sequence[str] | None):
    """The items of ``subjects`` (``@FILE`` entries: the names in FILE that the cache holds)."""
    if not subjects:
        return list(items)
    try:
        keep = set(known_subjects(subjects, sorted({it.subject for it in items}), "evaluated"))
    except ValueError as exc:
        raise CacheError(str(exc)) from None
    return [it for it in items if it.subject in keep]


def evaluate_genuine_fake(bundle: Bundle, cache: str | Path, subjects: Sequence[str] | None = None,
                          progress: bool = True, jobs: int = 1) -> dict[str, Any]:
    """Genuine vs fake on the cache's sequences: the pooled network on all of them (``metrics``,
    ``metrics_clip``), and each expression's own network, where the bundle has one per expression,
    on that expression's sequences (``networks.<expression>``)."""
    from engines.lstmpb import expression_networks, for_expression, has_pooled_network

    # every sequence of the clips, the shrunk-box copies too: a clip's P(fake) is the mean over them,
    # as in train xgb's held-out figures
    items = _subset(read_landmark_cache(cache), subjects)
    if not items:
        raise CacheError(f"{cache}: no landmark sequences to evaluate")
    out: dict[str, Any] = {"sequences": len(items), "clips": len({(it.subject, it.expression, it.label) for it in items}),
                           "subjects": sorted({it.subject for it in items})}
    seen = sorted(set(out["subjects"]) & set((bundle.section("lstmpb").get("metrics") or {}).get("train_subjects", [])))
    if seen:  # the figures are then not on people the model never saw: say so, beside them
        out["trained_on_subjects"] = seen
        log.warning("%d of the %d evaluated subjects were trained on (%s); these figures are not on unseen people",
                    len(seen), len(out["subjects"]), ", ".join(seen[:5]) + (" …" if len(seen) > 5 else ""))
    if has_pooled_network(bundle):
        out.update(_evaluate_network(bundle, items, progress, jobs))
    for expression in expression_networks(bundle):
        own = [it for it in items if it.expression == expression]
        if own:
            out.setdefault("networks", {})[expression] = _evaluate_network(for_expression(bundle, expression), own,
                                                                            progress, jobs)
    return out


def _evaluate_network(bundle: Bundle, items, progress: bool, jobs: int) -> dict[str, Any]:
    """The figures of the network the bundle (or view) names in its ``lstmpb`` section."""
    from engines.lstmpb import load_lstmpb
    from engines.online_pb import recognizer_settings_from_bundle
    from engines.pb_classifier import load_classifiers, load_clip_classifiers
    from training.train_xgb import collect_pbs, evaluate

    model, _ = load_lstmpb(bundle)
    recognizer = recognizer_settings_from_bundle(bundle)
    trained = bundle.section("lstmpb").get("metrics") or {}
    if trained.get("pb_source") == "sequence":  # the bundle's classifiers were fit on one PB per whole clip
        iters = int(trained.get("sequence_iters", 100))
        clips = collect_pbs(model, items, "sequence", recognizer, sequence_iters=iters, progress=progress, jobs=jobs)
        return {"metrics_clip": evaluate(load_classifiers(bundle), clips)}
    samples = collect_pbs(model, items, "stream", recognizer, progress=progress, jobs=jobs)
    out = {"metrics": evaluate(load_classifiers(bundle), samples)}
    clip_classifiers = load_clip_classifiers(bundle)
    if clip_classifiers is not None:
        iters = bundle.parse("lstmpb", "clip_iters", _positive_int)
        clips = collect_pbs(model, items, "sequence", recognizer, sequence_iters=iters, progress=progress, jobs=jobs)
        out["metrics_clip"] = evaluate(clip_classifiers, clips)
    return out


def _positive_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"must be a positive integer, got {value!r}")
    return value


def evaluate_valence(bundle: Bundle, cache: str | Path, subjects: Sequence[str] | None = None,
                     postprocess: bool = False) -> dict[str, Any]:
    import torch

    from engines.sta import load_sta
    from training.metrics import LabelStats, PostProcessing, regression_metrics
    from training.train_sta import ValenceClips, predict

    items = _subset(read_crop_cache(cache), subjects)
    model = load_sta(bundle)
    per_recording, truths, preds = {}, [], []
    for item in items:
        ds = ValenceClips([item], model.config)
        if len(ds) == 0:
            continue
        truth, pred = ds.labels(), predict(model, ds, 16, torch.device("cpu"))
        truths.append(truth)
        preds.append(pred)
        per_recording[item.key] = {"clips": len(ds), **regression_metrics(truth, pred)}
    if not truths:
        raise CacheError(f"{cache}: no clip with a face on every frame to evaluate")
    out: dict[str, Any] = {"recordings": len(truths), "clips": int(sum(len(t) for t in truths)),
                           "overall": regression_metrics(np.concatenate(truths), np.concatenate(preds)),
                           "per_recording": per_recording}
    if postprocess:
        sec = bundle.section("sta")
        stats_d = (sec.get("metrics") or {}).get("label_stats")
        stats = LabelStats(**stats_d) if stats_d else LabelStats.of(np.concatenate(truths))
        pp = PostProcessing(smoothing="median", window=5)
        post = [pp(p, stats) for p in preds]
        out["postprocessed"] = {"settings": pp.to_dict(), "label_stats": {"mean": stats.mean, "std": stats.std},
                                "label_stats_from": "bundle" if stats_d else "evaluation labels",
                                "overall": regression_metrics(np.concatenate(truths), np.concatenate(post))}
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", metavar="BUNDLE", help="model bundle folder")
    p.add_argument("dataset", metavar="CACHE_OR_PHOTOS",
                   help="a cache made by 'affectscope preprocess', or a labelled photo folder (labels.csv with "
                        "image,emotion,person, or one folder per emotion)")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON")
    p.add_argument("--subjects", nargs="+", metavar="ID",
                   help="evaluate only these subjects (e.g. held-out ones; @FILE: those listed in FILE)")
    p.add_argument("--postprocess", action="store_true", help="valence: also report after the AV+EC chain")
    p.add_argument("--per-frame", action="store_true",
                   help="valence as the papers score it: every frame of the annotation grid (clip values "
                        "interpolated, frames without a face too), post-processing tuned on --dev, applied to "
                        "--subjects (the test subjects)")
    p.add_argument("--dev", nargs="+", metavar="ID",
                   help="--per-frame: development subjects to tune the post-processing on (@FILE: those in FILE)")
    p.add_argument("--every", type=positive_float, default=0.25, metavar="S",
                   help="--per-frame: seconds between clip ends (default 0.25)")
    p.add_argument("--split", choices=("all", "train", "dev", "test"), default="all",
                   help="photos: only the people of this person-wise split (default all)")
    p.add_argument("--seed", type=int, default=1, help="photos: seed of each photo's motion, noise and compression")
    p.add_argument("--jobs", type=positive_int, default=1, help="genuine/fake: processes that find PB vectors (one per core)")


def run(args) -> int:
    try:
        bundle = load_bundle(args.bundle)
    except BundleError as exc:
        raise EvaluationError(f"bad model bundle: {exc}") from None
    root = Path(args.dataset)
    if not root.is_dir():
        raise EvaluationError(f"{root}: {'not a folder' if root.exists() else 'no such folder'}; give a preprocessed "
                              f"cache or a folder of labelled photos")
    problem = output_file_problem(args.json) if args.json else None
    if problem is not None:
        raise EvaluationError(f"--json {args.json}: {problem}")
    report: dict[str, Any] = {"bundle": bundle.name, "dataset": str(root)}
    if is_photo_set(root):
        return _run_photos(args, bundle, root, report)
    if bundle.has("lstmpb") and (root / "landmarks" / "index.csv").is_file():
        report["genuine_fake"] = evaluate_genuine_fake(bundle, root, args.subjects, jobs=max(1, args.jobs))
    if bundle.has("sta") and (root / "crops" / "index.csv").is_file():
        if args.per_frame:
            from training.evaluate_frames import evaluate_frames, frame_items

            test_items, dev_items = frame_items(root, args.subjects, args.dev, _subset)
            report["valence_frames"] = evaluate_frames(bundle, test_items, dev_items, args.every)
        else:
            report["valence"] = evaluate_valence(bundle, root, args.subjects, args.postprocess)
    elif args.per_frame:
        raise EvaluationError(f"--per-frame scores valence: {root} has no crops/ cache or the bundle no sta model")
    if len(report) == 2:
        raise EvaluationError(f"nothing to evaluate: {root} has no landmarks/ or crops/ cache for the bundle's models "
                       f"({', '.join(s for s in ('lstmpb', 'sta') if bundle.has(s)) or 'none'}); "
                       f"run 'affectscope preprocess' first")
    report = json_safe(report)
    _print(report)
    return _write_report(args.json, report)


def _run_photos(args, bundle: Bundle, root: Path, report: dict[str, Any]) -> int:
    from training.evaluate_photos import evaluate_photos, print_report

    if not bundle.has("sta"):
        raise EvaluationError(f"bundle {bundle.name} has no valence model (sta section) to evaluate on photos")
    report["valence_photos"] = evaluate_photos(bundle, root, args.split, args.seed)  # DatasetError: a ValueError
    report = json_safe(report)
    print_report(report["valence_photos"])
    return _write_report(args.json, report)


def _write_report(path: str | None, report: dict[str, Any]) -> int:
    if path:
        Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0


def _print(r: dict) -> None:
    if "valence_frames" in r:
        from training.evaluate_frames import print_frames

        print_frames(r["valence_frames"])
    if "genuine_fake" in r:
        g = r["genuine_fake"]
        print(f"genuine vs fake — {g['clips']} clips ({g['sequences']} sequences with the shrunk-box copies, "
              f"averaged per clip), subjects {g['subjects']}")
        _print_network(g, "")
        for expression, figures in (g.get("networks") or {}).items():
            print(f"  the {expression} network (one network per expression), on its {expression} clips")
            _print_network(figures, "  ")
    if "valence" in r:
        o = r["valence"]["overall"]
        print(f"valence — {r['valence']['clips']} clips in {r['valence']['recordings']} recordings: "
              f"CCC {o['ccc']:.3f}  CC {o['cc']:.3f}  RMSE {o['rmse']:.3f}")
        if "postprocessed" in r["valence"]:
            o = r["valence"]["postprocessed"]["overall"]
            print(f"  after AV+EC post-processing: CCC {o['ccc']:.3f}  CC {o['cc']:.3f}  RMSE {o['rmse']:.3f}")


def _print_network(g: dict, indent: str) -> None:
    fmt = lambda v: "  n/a" if v is None else f"{v:.3f}"  # noqa: E731
    for key, title in (("metrics", "live recognizer (P(fake) of every update, averaged per clip)"),
                       ("metrics_clip", "whole-clip classifiers (one PB per clip)")):
        if key not in g:
            continue
        print(f"{indent}  {title}")
        for name, m in g[key].items():
            print(f"{indent}    {name:<22} clips {m['clips']:4d}  accuracy {fmt(m['accuracy'])}  AUC {fmt(m['auc'])}  "
                  f"paired {fmt(m['accuracy_paired'])}")
