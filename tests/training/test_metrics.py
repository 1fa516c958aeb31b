"""Metrics agree with audmetric; the AV+EC post-processing steps do what they claim."""
from __future__ import annotations

import audmetric
import numpy as np
import pytest

from training.metrics import (LabelStats, PostProcessing, ccc, center, compose, median_filter, moving_average,
                              pearson_cc, regression_metrics, rmse, scale, time_shift, tune_postprocessing)


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_audmetric_on_random_data(seed):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(-1, 1, 200)
    pred = 0.6 * truth + rng.normal(0.1, 0.3, 200)
    assert ccc(truth, pred) == pytest.approx(audmetric.concordance_cc(truth, pred), abs=1e-6)
    assert pearson_cc(truth, pred) == pytest.approx(audmetric.pearson_cc(truth, pred), abs=1e-6)
    assert rmse(truth, pred) == pytest.approx(np.sqrt(audmetric.mean_squared_error(truth, pred)), abs=1e-6)


def test_identical_inputs_are_perfect_and_ccc_penalises_bias_and_scale():
    y = np.random.default_rng(0).normal(size=100)
    assert regression_metrics(y, y) == pytest.approx({"rmse": 0.0, "cc": 1.0, "ccc": 1.0})
    assert pearson_cc(y, 2 * y + 1) == pytest.approx(1.0)
    assert ccc(y, 2 * y + 1) < 0.7
    # population moments: [0, 1, 2] vs [0, 1, 1] (audmetric's docstring example)
    assert ccc([0, 1, 2], [0, 1, 1]) == pytest.approx(2 / 3)


def test_degenerate_inputs_are_nan_and_length_mismatch_raises():
    assert np.isnan(pearson_cc([1, 2, 3], [1, 1, 1]))
    assert np.isnan(ccc([1, 1], [1, 1]))
    assert np.isnan(ccc([1], [1]))
    with pytest.raises(ValueError, match="must match"):
        rmse([1, 2], [1])


def test_smoothing_filters():
    x = np.array([0, 0, 10, 0, 0, 1, 1, 1], float)
    assert median_filter(x, 3).tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert moving_average(np.ones(7), 5) == pytest.approx(np.ones(7))
    assert moving_average(x, 3)[2] == pytest.approx(10 / 3)
    assert median_filter(x, 1).tolist() == x.tolist()
    with pytest.raises(ValueError, match="odd"):
        median_filter(x, 4)


def test_center_scale_and_shift():
    stats = LabelStats.of([0.2, 0.4, 0.6])
    p = np.array([1.0, 2.0, 3.0, 4.0])
    c = center(p, stats)
    assert c.mean() == pytest.approx(stats.mean)
    s = scale(p, stats)
    assert s.std() == pytest.approx(stats.std) and s.mean() == pytest.approx(p.mean())
    assert time_shift(p, 1).tolist() == [1, 1, 2, 3]
    assert time_shift(p, -2).tolist() == [3, 4, 4, 4]
    chain = compose(lambda q: center(q, stats), lambda q: scale(q, stats))
    out = chain(p)
    assert out.mean() == pytest.approx(stats.mean) and out.std() == pytest.approx(stats.std)
    assert PostProcessing("median", 1, True, True, 0)(p, stats) == pytest.approx(out)


def test_tuning_recovers_the_lag_and_improves_ccc():
    rng = np.random.default_rng(3)
    t = np.arange(600)
    truth = np.sin(t / 40.0) * 0.5
    pred = 0.2 * np.roll(truth, -8) + rng.normal(0, 0.05, t.size) + 0.3  # leads by 8 frames, biased, shrunk
    stats = LabelStats.of(truth)
    pp, score = tune_postprocessing([pred], [truth], stats, windows=(1, 9, 25), shifts=range(0, 13, 4))
    assert pp.shift == 8 and pp.window > 1
    assert score > ccc(truth, pred) + 0.3
