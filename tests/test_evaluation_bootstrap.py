"""Bootstrap confidence intervals: sanity on cases with a known shape."""

from __future__ import annotations

import numpy as np
import pytest

from seal_engine.evaluation.bootstrap import bootstrap_ci, bootstrap_indices


def test_interval_contains_the_estimate_and_narrows_with_more_data():
    rng = np.random.default_rng(3)
    small = bootstrap_ci(list(rng.normal(0.7, 0.1, 20)), n_resamples=500)
    large = bootstrap_ci(list(rng.normal(0.7, 0.1, 500)), n_resamples=500)
    for ci in (small, large):
        assert ci.low <= ci.estimate <= ci.high
    assert (large.high - large.low) < (small.high - small.low)
    assert large.low < 0.7 < large.high  # the true mean


def test_constant_values_give_a_zero_width_interval():
    ci = bootstrap_ci([0.5] * 10, n_resamples=200)
    assert ci.estimate == ci.low == ci.high == pytest.approx(0.5)


def test_rates_from_booleans_and_missing_values():
    ci = bootstrap_ci([True, False, None, True, float("nan"), True], n_resamples=300)
    assert ci.n == 4 and ci.estimate == pytest.approx(0.75)
    assert 0.0 <= ci.low <= ci.high <= 1.0


def test_empty_and_single_value():
    assert bootstrap_ci([None, None]).estimate is None
    one = bootstrap_ci([0.3], n_resamples=50)
    assert one.estimate == one.low == one.high == pytest.approx(0.3)


def test_same_seed_same_interval():
    values = list(np.linspace(0, 1, 30))
    assert bootstrap_ci(values, seed=7, n_resamples=300) == bootstrap_ci(values, seed=7, n_resamples=300)


def test_cluster_bootstrap_is_wider_when_groups_differ():
    """Two characters, one all-good and one all-bad: resampling characters is far less certain than samples."""
    values = [1.0] * 20 + [0.0] * 20
    groups = ["a"] * 20 + ["b"] * 20
    plain = bootstrap_ci(values, n_resamples=500)
    cluster = bootstrap_ci(values, groups=groups, n_resamples=500)
    assert cluster.estimate == plain.estimate == pytest.approx(0.5)
    assert (cluster.high - cluster.low) > (plain.high - plain.low)


def test_custom_statistic_over_indices():
    data = np.array([1.0, 2.0, 3.0, 4.0])
    ci = bootstrap_indices(4, lambda idx: float(data[idx].max()), n_resamples=300)
    assert ci.estimate == 4.0 and ci.high == 4.0 and ci.low >= 1.0
    assert bootstrap_indices(0, lambda idx: 1.0).estimate is None
