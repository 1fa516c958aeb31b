"""Genuine-versus-fake classifier on parametric-bias vectors: XGBoost ``binary:logistic``.

Paper settings (Huynh & Kim 2017): trees of depth 2, L2 penalty λ = 1000, row subsampling 0.8, up to
5000 boosting rounds, a decaying learning rate, and early stopping on cross-validated ROC AUC. The
folds here are subject-wise (no subject in both the training and the test part of a fold), so the
number of rounds is chosen for people the model has not seen; the final booster is then fit on
all the data with that number of rounds.

Models are stored in XGBoost's own format (``.ubj`` or ``.json``), never pickled.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from engines.bundle import Bundle, BundleError

SUFFIXES = (".ubj", ".json")

log = logging.getLogger(__name__)


SCHEDULES = ("decay", "restarts")


@dataclass(frozen=True)
class XGBSettings:
    """Booster and model-selection settings (defaults: the paper's)."""

    max_depth: int = 2
    reg_lambda: float = 1000.0
    subsample: float = 0.8
    max_rounds: int = 5000
    eta: float = 0.3  # learning rate of the first round
    eta_decay: float = 0.995  # eta of round r: max(eta_min, eta · eta_decay**r)
    eta_min: float = 0.01
    early_stopping_rounds: int = 200
    nfold: int = 5
    seed: int = 0
    nthread: int = 1
    # further L2 weights tried besides reg_lambda; the subject-wise CV AUC picks one (empty: reg_lambda only)
    lambda_candidates: tuple[float, ...] = ()
    # 'decay': eta falls every round (eta_at); 'restarts': the authors' code — boosting at a fixed eta
    # until early_stopping_rounds without a better validation AUC, then again from there at
    # eta × restart_decay, until max_fails stages in a row do not improve or eta < eta_min
    schedule: str = "decay"
    restart_decay: float = 0.5
    max_fails: int = 3

    def __post_init__(self) -> None:
        for name in ("max_depth", "max_rounds", "eta", "eta_min", "early_stopping_rounds", "nthread"):
            if not getattr(self, name) > 0:
                raise ValueError(f"XGBoost setting '{name}' must be > 0, got {getattr(self, name)}")
        if self.nfold < 2:
            raise ValueError(f"XGBoost setting 'nfold' must be at least 2 (subject-wise folds), got {self.nfold}")
        if not 0 < self.subsample <= 1 or self.reg_lambda < 0 or min(self.lambda_candidates, default=0) < 0:
            raise ValueError("XGBoost settings: subsample must be in (0, 1], reg_lambda and lambda_candidates >= 0")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"XGBoost setting 'schedule' must be one of {SCHEDULES}, got {self.schedule!r}")
        if not 0 < self.restart_decay < 1 or self.max_fails < 1:
            raise ValueError("XGBoost settings: restart_decay must be in (0, 1) and max_fails >= 1")

    def eta_at(self, round_index: int) -> float:
        return max(self.eta_min, self.eta * self.eta_decay ** round_index)

    def params(self) -> dict[str, Any]:
        return {
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "max_depth": self.max_depth,
            "lambda": self.reg_lambda,
            "subsample": self.subsample,
            "eta": self.eta,
            "seed": self.seed,
            "nthread": self.nthread,
            "tree_method": "exact",
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "XGBSettings":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown XGBoost setting(s) {unknown}; known: {sorted(known)}")
        data = dict(data)
        data["lambda_candidates"] = tuple(data.get("lambda_candidates", ()))
        return cls(**data)


def subject_folds(y: np.ndarray, subjects: Sequence[str], nfold: int, seed: int = 0
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-validation folds grouped by subject: (train indices, test indices) per fold.

    Subjects are shuffled (seeded) and dealt round-robin into ``min(nfold, #subjects)`` folds.
    Every fold must hold both classes on both sides (ROC AUC needs them); ValueError otherwise.
    """
    y = np.asarray(y)
    subjects = np.asarray([str(s) for s in subjects])
    if len(subjects) != len(y):
        raise ValueError(f"{len(subjects)} subject ids for {len(y)} samples")
    unique = np.array(sorted(set(subjects.tolist())))
    if len(unique) < 2:
        raise ValueError(f"subject-wise cross-validation needs at least 2 subjects, got {len(unique)}")
    k = min(int(nfold), len(unique))
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = {unique[j]: i % k for i, j in enumerate(order)}
    assign = np.array([fold_of[s] for s in subjects])
    folds = []
    for f in range(k):
        test = np.flatnonzero(assign == f)
        train = np.flatnonzero(assign != f)
        for part, idx in (("test", test), ("training", train)):
            if len(set(y[idx].tolist())) < 2:
                held = sorted(set(subjects[test].tolist()))
                raise ValueError(f"cross-validation fold {f} (test subjects {held}) has only one class in its "
                                 f"{part} part; each subject should contribute genuine and fake samples")
        folds.append((train, test))
    return folds


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties counted half); NaN when one class is absent."""
    y = np.asarray(y).astype(bool)
    scores = np.asarray(scores, dtype=float)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # 1-based average ranks
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


class PBClassifier:
    """XGBoost binary:logistic on PB vectors; ``predict_proba`` gives P(fake)."""

    def __init__(self, settings: XGBSettings | None = None, booster=None):
        self.settings = settings or XGBSettings()
        self.booster = booster
        self.cv_auc: float | None = None
        self.n_rounds: int | None = None
        if booster is not None:
            attrs = booster.attributes()
            self.cv_auc = float(attrs["cv_auc"]) if "cv_auc" in attrs else None
            self.n_rounds = int(attrs["n_rounds"]) if "n_rounds" in attrs else booster.num_boosted_rounds()

    @property
    def n_features(self) -> int:
        self._check_fitted()
        return int(self.booster.num_features())

    def _check_fitted(self) -> None:
        if self.booster is None:
            raise RuntimeError("PBClassifier is not fitted; call fit() or PBClassifier.load()")

    def fit(self, X: np.ndarray, y: np.ndarray, subjects: Sequence[str]) -> "PBClassifier":
        """X: (N, 64) PB vectors; y: (N,) 1 = fake, 0 = genuine; subjects: (N,) subject ids for the folds."""
        import xgboost as xgb

        X = np.asarray(X, np.float32)
        y = np.asarray(y).astype(np.float32)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be (N, features) with N = len(y) = {len(y)}, got {X.shape}")
        if not set(np.unique(y).tolist()) <= {0.0, 1.0} or len(np.unique(y)) < 2:
            raise ValueError("y must hold both classes, 0 (genuine) and 1 (fake)")
        folds = subject_folds(y, subjects, self.settings.nfold, self.settings.seed)
        if self.settings.schedule == "restarts":
            return self._fit_restarts(X, y, folds)
        dtrain = xgb.DMatrix(X, label=y, nthread=self.settings.nthread)
        best = None
        for lam in dict.fromkeys((self.settings.reg_lambda, *self.settings.lambda_candidates)):
            s = replace(self.settings, reg_lambda=float(lam), lambda_candidates=())
            schedule = xgb.callback.LearningRateScheduler(s.eta_at)
            history = xgb.cv(s.params(), dtrain, num_boost_round=s.max_rounds, folds=folds, metrics=["auc"],
                             maximize=True, early_stopping_rounds=s.early_stopping_rounds, as_pandas=False,
                             seed=s.seed, callbacks=[schedule], shuffle=False)
            auc = np.asarray(history["test-auc-mean"], dtype=float)
            if best is None or auc.max() > best[1].max():
                best = (s, auc)
        s, auc = best
        n_rounds = int(np.argmax(auc)) + 1
        schedule = xgb.callback.LearningRateScheduler(s.eta_at)
        booster = xgb.train(s.params(), dtrain, num_boost_round=n_rounds, callbacks=[schedule])
        booster.set_attr(cv_auc=f"{auc[n_rounds - 1]:.6f}", n_rounds=str(n_rounds),
                         settings=json.dumps(s.to_dict()))
        self.booster, self.cv_auc, self.n_rounds = booster, float(auc[n_rounds - 1]), n_rounds
        self.settings = s  # with the L2 weight the cross-validation chose
        return self

    def _stages(self, X, y, train, valid, s: "XGBSettings") -> tuple[dict[int, int], float]:
        """The restart schedule on one fold: {k: rounds kept at eta · restart_decay^k}, and the best
        validation AUC."""
        import xgboost as xgb

        dtr = xgb.DMatrix(X[train], label=y[train], nthread=s.nthread)
        dva = xgb.DMatrix(X[valid], label=y[valid], nthread=s.nthread)
        booster, best_auc, kept, fails, k = None, -np.inf, {}, 0, 0
        while s.eta * s.restart_decay ** k >= s.eta_min:
            eta = s.eta * s.restart_decay ** k
            b = xgb.train({**s.params(), "eta": eta}, dtr, num_boost_round=s.max_rounds, evals=[(dva, "valid")],
                          early_stopping_rounds=s.early_stopping_rounds, xgb_model=booster, verbose_eval=False)
            done = booster.num_boosted_rounds() if booster is not None else 0
            b = b[: b.best_iteration + 1]  # (the iteration counts the rounds of earlier stages too)
            auc = roc_auc(y[valid], b.predict(dva))
            if auc > best_auc and b.num_boosted_rounds() > done:
                booster, best_auc, fails = b, auc, 0
                kept[k] = b.num_boosted_rounds() - done
            else:
                fails += 1
                if fails >= s.max_fails:
                    break
            k += 1
        return kept, float(best_auc)

    def _fit_restarts(self, X, y, folds) -> "PBClassifier":
        """Staged boosting as the authors' code runs it, on each subject fold; the final booster is
        trained on all the data stage by stage: at each eta the median, over the folds, of the rounds
        each kept at it (a fold that skipped or never reached it counts 0). The authors' code keeps
        the last fold's booster instead."""
        import xgboost as xgb

        s = self.settings
        per_fold = [self._stages(X, y, train, valid, s) for train, valid in folds]
        levels = sorted({k for kept, _ in per_fold for k in kept})
        schedule = [(s.eta * s.restart_decay ** k, int(np.median([kept.get(k, 0) for kept, _ in per_fold])))
                    for k in levels]
        schedule = [(eta, rounds) for eta, rounds in schedule if rounds > 0] or [(s.eta, 1)]
        dtrain = xgb.DMatrix(X, label=y, nthread=s.nthread)
        booster = None
        for eta, rounds in schedule:
            booster = xgb.train({**s.params(), "eta": eta}, dtrain, num_boost_round=rounds, xgb_model=booster)
        cv_auc = float(np.mean([auc for _, auc in per_fold]))
        n_rounds = booster.num_boosted_rounds()
        booster.set_attr(cv_auc=f"{cv_auc:.6f}", n_rounds=str(n_rounds), settings=json.dumps(s.to_dict()),
                         stages=json.dumps(schedule))
        self.booster, self.cv_auc, self.n_rounds = booster, cv_auc, n_rounds
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """X: (N, 64) or (64,). Returns P(fake), (N,) float32."""
        self._check_fitted()
        X = np.asarray(X, np.float32)
        if X.ndim == 1:
            X = X[None]
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected PB vectors of shape (N, {self.n_features}), got {X.shape}")
        return np.asarray(self.booster.inplace_predict(X), np.float32).reshape(len(X))

    def predict_one(self, pb: np.ndarray) -> float:
        """P(fake) of one PB vector (64,)."""
        return float(self.predict_proba(pb)[0])

    def save(self, path: str | Path) -> Path:
        """Write the booster as ``.ubj`` (binary) or ``.json``."""
        self._check_fitted()
        path = Path(path)
        if path.suffix not in SUFFIXES:
            raise ValueError(f"{path}: an XGBoost model file must end in {' or '.join(SUFFIXES)}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(path))
        return path

    @classmethod
    def load(cls, path: str | Path, nthread: int = 1, where: str | None = None) -> "PBClassifier":
        """Read a booster saved by :meth:`save`; BundleError naming the file if it is not one."""
        import xgboost as xgb

        path = Path(path)
        named = f" (named by '{where}')" if where else ""
        if path.suffix not in SUFFIXES:
            raise BundleError(f"{path}{named}: an XGBoost model file must end in {' or '.join(SUFFIXES)}")
        if not path.is_file():
            raise BundleError(f"{path}{named}: missing")
        booster = xgb.Booster()
        try:
            booster.load_model(str(path))
            objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
        except (xgb.core.XGBoostError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BundleError(f"{path}{named}: not a readable XGBoost model ({first})") from None
        if objective != "binary:logistic":
            raise BundleError(f"{path}{named}: objective is {objective!r}, expected 'binary:logistic'")
        booster.set_param({"nthread": nthread})
        settings = XGBSettings()
        if "settings" in booster.attributes():
            try:
                settings = XGBSettings.from_dict(json.loads(booster.attributes()["settings"]))
            except (ValueError, TypeError) as exc:
                # the stored settings are informative only; the trees are what predicts
                log.info("%s: training settings stored with the model are unreadable (%s)", path, exc)
        return cls(settings, booster)


def pair_predictions(probs: np.ndarray, subjects: Sequence[str], expressions: Sequence[str]) -> np.ndarray:
    """Paper's test-time pairing: labels (N,) int, 1 = fake.

    A subject shows each expression twice, once felt and once posed. Within each (subject,
    expression) pair the clip with the higher P(fake) is labelled fake and the other genuine.
    Groups that are not pairs fall back to thresholding P(fake) at 0.5.
    """
    probs = np.asarray(probs, dtype=float)
    if not len(probs) == len(subjects) == len(expressions):
        raise ValueError("probs, subjects and expressions must have the same length")
    labels = (probs > 0.5).astype(int)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(subjects, expressions)):
        groups.setdefault((str(key[0]), str(key[1])), []).append(i)
    for idx in groups.values():
        if len(idx) == 2:
            a, b = idx
            fake = a if probs[a] > probs[b] else b
            labels[a] = labels[b] = 0
            labels[fake] = 1
    return labels


SECTION = "lstmpb"


def load_classifiers(bundle: Bundle, nthread: int = 1, field: str = "classifiers") -> dict[str, PBClassifier]:
    """Every classifier named in ``lstmpb.<field>`` ({"pooled": file, "<expression>": file}).

    ``classifiers``: on the PBs of the live recognizer's updates; ``clip_classifiers`` (optional,
    see :func:`load_clip_classifiers`): on one PB per whole clip.
    """
    from engines.expressions import EXPRESSION_MODELS
    from engines.lstmpb import lstmpb_config_from_bundle

    meta = bundle.root / "bundle.json"
    table = bundle.section(SECTION).get(field)
    if not isinstance(table, dict) or not table:
        raise BundleError(f"{meta}: field '{SECTION}.{field}' must map expression models to XGBoost files")
    pb_dim = lstmpb_config_from_bundle(bundle).pb_dim
    out = {}
    for name, rel in table.items():
        where = f"{SECTION}.{field}.{name}"
        if name not in EXPRESSION_MODELS:
            raise BundleError(f"{meta}: field '{where}': unknown expression model; use one of {EXPRESSION_MODELS}")
        if not isinstance(rel, str) or not rel:
            raise BundleError(f"{meta}: field '{where}' must name a file")
        path = (bundle.root / rel).resolve()
        if bundle.root.resolve() not in path.parents:
            raise BundleError(f"{meta}: field '{where}' points outside the bundle: {rel}")
        clf = PBClassifier.load(path, nthread=nthread, where=where)
        if clf.n_features != pb_dim:
            raise BundleError(f"{path} (named by '{where}'): classifier takes {clf.n_features} features, "
                              f"the LSTM-PB config has pb_dim {pb_dim}")
        out[name] = clf
    return out


def load_clip_classifiers(bundle: Bundle, nthread: int = 1) -> dict[str, PBClassifier] | None:
    """The whole-clip classifiers (``lstmpb.clip_classifiers``), None when the bundle has none."""
    if "clip_classifiers" not in bundle.section(SECTION):
        return None
    return load_classifiers(bundle, nthread, field="clip_classifiers")

