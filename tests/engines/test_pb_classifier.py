"""XGBoost classifier on PB vectors: subject-wise CV, persistence, pairing, bundle loading."""
from __future__ import annotations

import json

import numpy as np
import pytest
import xgboost as xgb

from engines.bundle import BundleError, load_bundle, write_bundle_json
from engines.pb_classifier import (PBClassifier, XGBSettings, load_classifiers, pair_predictions, roc_auc,
                                   subject_folds)

FAST = XGBSettings(max_rounds=300, early_stopping_rounds=30, nfold=4)


def pb_samples(seed: int = 0, subjects: int = 8, per_clip: int = 4, shift: float = 1.5):
    """PB-like vectors: each subject has a genuine and a fake clip; fake PBs are shifted on 3 dims."""
    rng = np.random.default_rng(seed)
    X, y, subj = [], [], []
    for s in range(subjects):
        offset = rng.normal(0, 0.3, 64)  # per-person offset the classifier must see past
        for fake in (0, 1):
            v = rng.normal(0, 1, (per_clip, 64)) + offset
            v[:, :3] += shift * fake
            X.append(v)
            y += [fake] * per_clip
            subj += [f"p{s:02d}"] * per_clip
    return np.concatenate(X).astype(np.float32), np.asarray(y), np.asarray(subj)


@pytest.fixture(scope="module")
def fitted():
    X, y, subj = pb_samples()
    return PBClassifier(FAST).fit(X, y, subj), X, y, subj


def test_subject_folds_keep_subjects_apart():
    _, y, subj = pb_samples()
    folds = subject_folds(y, subj, nfold=4, seed=1)
    assert len(folds) == 4
    seen = []
    for train, test in folds:
        assert not set(subj[train]) & set(subj[test])
        assert set(y[test]) == {0, 1}
        seen += list(test)
    assert sorted(seen) == list(range(len(y)))


def test_subject_folds_refuse_single_class_or_subject():
    y = np.array([0, 0, 1, 1])
    with pytest.raises(ValueError, match="only one class"):
        subject_folds(y, ["a", "a", "b", "b"], nfold=2)
    with pytest.raises(ValueError, match="at least 2 subjects"):
        subject_folds(y, ["a"] * 4, nfold=2)


def test_fit_finds_the_signal(fitted):
    clf, X, y, _ = fitted
    assert clf.cv_auc is not None and clf.cv_auc > 0.8
    assert 1 <= clf.n_rounds <= FAST.max_rounds
    assert clf.booster.num_boosted_rounds() == clf.n_rounds
    p = clf.predict_proba(X)
    assert p.shape == (len(X),) and ((p >= 0) & (p <= 1)).all()
    assert p[y == 1].mean() > p[y == 0].mean()
    assert clf.predict_one(X[0]) == pytest.approx(float(p[0]))
    with pytest.raises(ValueError, match=r"\(N, 64\)"):
        clf.predict_proba(np.zeros((2, 10)))


def test_cross_validation_picks_the_l2_weight():
    from dataclasses import replace

    X, y, subj = pb_samples(seed=2, shift=0.8)
    alone = {lam: PBClassifier(replace(FAST, reg_lambda=lam)).fit(X, y, subj).cv_auc for lam in (1000.0, 30.0, 1.0)}
    clf = PBClassifier(replace(FAST, reg_lambda=1000.0, lambda_candidates=(30.0, 1.0))).fit(X, y, subj)
    best = max(alone, key=alone.get)
    assert len(set(alone.values())) > 1  # the weights do make a difference here
    assert clf.settings.reg_lambda == best and clf.cv_auc == pytest.approx(alone[best])
    assert json.loads(clf.booster.attributes()["settings"])["reg_lambda"] == best


def test_learning_rate_decays():
    s = XGBSettings(eta=0.3, eta_decay=0.99, eta_min=0.05)
    assert s.eta_at(0) == pytest.approx(0.3)
    assert s.eta_at(10) == pytest.approx(0.3 * 0.99 ** 10)
    assert s.eta_at(10_000) == pytest.approx(0.05)
    assert s.params()["max_depth"] == 2 and s.params()["lambda"] == 1000.0 and s.params()["subsample"] == 0.8


@pytest.mark.parametrize("suffix", [".ubj", ".json"])
def test_save_load_round_trip_is_exact(fitted, tmp_path, suffix):
    clf, X, _, _ = fitted
    path = clf.save(tmp_path / f"model{suffix}")
    again = PBClassifier.load(path)
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.n_rounds == clf.n_rounds and again.cv_auc == pytest.approx(clf.cv_auc, abs=1e-6)
    assert again.settings == FAST


def test_bad_files_are_refused(fitted, tmp_path):
    clf, _, _, _ = fitted
    with pytest.raises(ValueError, match=r"\.ubj or \.json"):
        clf.save(tmp_path / "model.bin")
    bad = tmp_path / "broken.ubj"
    bad.write_bytes(b"this is not a booster")
    with pytest.raises(BundleError, match=r"broken\.ubj.*not a readable XGBoost model"):
        PBClassifier.load(bad)
    with pytest.raises(BundleError, match="missing"):
        PBClassifier.load(tmp_path / "absent.ubj")
    regressor = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(np.zeros((4, 64)), label=np.arange(4)), 2)
    regressor.save_model(str(tmp_path / "regressor.ubj"))
    with pytest.raises(BundleError, match="binary:logistic"):
        PBClassifier.load(tmp_path / "regressor.ubj")


def test_pairing_labels_one_clip_of_each_pair_fake():
    probs = np.array([0.40, 0.45, 0.9, 0.8, 0.7])
    subjects = ["a", "a", "b", "b", "c"]
    expressions = ["happiness", "happiness", "anger", "anger", "anger"]
    labels = pair_predictions(probs, subjects, expressions)
    np.testing.assert_array_equal(labels, [0, 1, 1, 0, 1])  # the unpaired clip falls back to p > 0.5


def write_bundle_with_classifiers(root, classifiers: dict, pb_dim=64):
    cfg = {"input_dim": 80, "pb_dim": pb_dim, "context_dim": 64, "hidden": 16, "layers": 2, "tie_depth_weights": True}
    write_bundle_json(root, {"name": "t", "trained_on": "synthetic", "landmark_normalization": "similarity",
                             "crop_size": 64, "clip_length": 16, "clip_rate_fps": 4.0,
                             "lstmpb": {"config": cfg, "classifiers": classifiers}})
    return load_bundle(root)


def test_load_classifiers_from_bundle(fitted, tmp_path):
    clf, X, _, _ = fitted
    clf.save(tmp_path / "xgb_pooled.ubj")
    clf.save(tmp_path / "xgb_happiness.json")
    bundle = write_bundle_with_classifiers(tmp_path, {"pooled": "xgb_pooled.ubj", "happiness": "xgb_happiness.json"})
    loaded = load_classifiers(bundle)
    assert set(loaded) == {"pooled", "happiness"}
    np.testing.assert_array_equal(loaded["happiness"].predict_proba(X), clf.predict_proba(X))


def test_bundle_classifier_mismatches_are_named(fitted, tmp_path):
    clf, _, _, _ = fitted
    clf.save(tmp_path / "xgb_pooled.ubj")
    bundle = write_bundle_with_classifiers(tmp_path, {"pooled": "xgb_pooled.ubj"}, pb_dim=32)
    with pytest.raises(BundleError, match=r"lstmpb\.classifiers\.pooled.*64 features.*pb_dim 32"):
        load_classifiers(bundle)
    bundle = write_bundle_with_classifiers(tmp_path, {"joy": "xgb_pooled.ubj"})
    with pytest.raises(BundleError, match=r"lstmpb\.classifiers\.joy.*unknown expression model"):
        load_classifiers(bundle)
    with pytest.raises(BundleError, match=r"gone\.ubj: missing.*lstmpb\.classifiers\.pooled"):
        write_bundle_with_classifiers(tmp_path, {"pooled": "gone.ubj"})  # refused when the bundle is opened


@pytest.mark.parametrize("bad, match", [(dict(max_rounds=0), "'max_rounds' must be > 0"),
                                        (dict(nfold=1), "'nfold' must be at least 2"),
                                        (dict(subsample=1.5), "subsample must be in"),
                                        (dict(lambda_candidates=(10.0, -1.0)), "lambda_candidates >= 0")])
def test_bad_settings_are_refused_with_their_name(bad, match):
    with pytest.raises(ValueError, match=match):
        XGBSettings(**bad)
    with pytest.raises(ValueError, match=match):
        XGBSettings.from_dict({**XGBSettings().to_dict(), **bad})


def test_the_restart_schedule_of_the_authors_code():
    """Stages at a fixed eta, each from the last at half the eta, until stages stop improving: the
    final booster replays the stages the folds agree on."""
    X, y, subj = pb_samples(seed=2)
    s = XGBSettings(schedule="restarts", eta=0.4, max_rounds=300, early_stopping_rounds=20, nfold=4, max_fails=2,
                    eta_min=0.01)
    clf = PBClassifier(s).fit(X, y, subj)
    stages = json.loads(clf.booster.attributes()["stages"])
    assert stages and stages[0][0] == pytest.approx(0.4)
    assert all(b[0] == pytest.approx(a[0] * 0.5 ** round(np.log(b[0] / a[0]) / np.log(0.5))) and b[0] < a[0]
               for a, b in zip(stages, stages[1:]))  # halved at each restart (failed stages skipped)
    assert clf.n_rounds == sum(r for _, r in stages) and clf.cv_auc > 0.8
    Xt, yt, _ = pb_samples(seed=7)
    assert roc_auc(yt, clf.predict_proba(Xt)) > 0.8  # (L2 1000 keeps the probabilities near 0.5)
    with pytest.raises(ValueError, match="schedule"):
        XGBSettings(schedule="cosine")
