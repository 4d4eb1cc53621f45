"""Pins that kill the mutants today's tests of ltbound.statistics.heldout let survive.

Each test fixes one detail of the statistics by a value computed independently of the code
(a closed form or scipy's beta quantile), so that replacing the detail by a plausible wrong
one fails here:

* the Student-t quantile (and t p-value) of :func:`compare_over_seeds` (a normal quantile
  gives an interval 2.2 times too narrow at 3 seeds and passed the older tests);
* the cap n* <= N on the effective sample size of the effective-n Clopper-Pearson interval
  (:func:`accuracy_intervals` on an unbalanced test set);
* the +1 in the randomization p-value (count + 1)/(B + 1) of :func:`compare_on_test_set` on an
  unbalanced test set (without it p can be 0, which no finite randomization test can claim).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ltbound.statistics import heldout as ev


def _t2_quantile(p: float) -> float:
    """Student-t quantile with 2 degrees of freedom, closed form: (2p − 1)/sqrt(2p(1 − p))."""
    return (2 * p - 1) / math.sqrt(2 * p * (1 - p))


def _t2_two_sided_p(t: float) -> float:
    """Two-sided p-value of t with 2 degrees of freedom, closed form: 1 − |t|/sqrt(2 + t²)."""
    return 1 - abs(t) / math.sqrt(2 + t * t)


@pytest.mark.parametrize("paired, values_b", [(True, [1.0, 2.0, 3.0]), (False, [0.0, 0.0, 0.0])])
def test_over_seeds_interval_uses_the_t_quantile_at_three_seeds(paired, values_b):
    """3 seeds, differences 1, 2, 3 (paired) or a constant B (Welch: df = 2 exactly).

    Mean 2, standard error 1/sqrt(3), 2 degrees of freedom either way: the 95% interval is
    2 ± t_{0.975,2}/sqrt(3) = 2 ± 2.484 (t_{0.975,2} = 4.303), which contains 0, and p = 0.074.
    With z_{0.975} = 1.96 it would be 2 ± 1.132 and p = 0.0005: a false "better".
    """
    values_a = np.array(values_b) + np.array([1.0, 2.0, 3.0])
    r = ev.compare_over_seeds(values_a, values_b, paired=paired)
    half = _t2_quantile(0.975) / math.sqrt(3)
    assert half == pytest.approx(2.4841377, rel=1e-7)
    assert r.difference == pytest.approx(2.0)
    assert r.low == pytest.approx(2.0 - half, rel=1e-9) and r.high == pytest.approx(2.0 + half, rel=1e-9)
    assert r.p_value == pytest.approx(_t2_two_sided_p(2.0 * math.sqrt(3)), rel=1e-9)
    assert r.p_value == pytest.approx(0.0741799, rel=1e-5)
    assert r.verdict == ev.NO_DIFFERENCE


def test_effective_sample_size_is_capped_at_the_test_size():
    """Class 0 all right (10 of 10), class 1 all wrong (0 of 20), balanced weights 1/2.

    Â = 1/2 and the smoothed variance v = Σ w_j² ã_j(1 − ã_j)/m_j = 0.002452 give
    n* = Â(1 − Â)/v = 102 > N = 30; capped, the interval is Clopper-Pearson of 15 out of 30.
    Uncapped it would claim 102 test images' worth of evidence from 30 images.
    """
    y = np.repeat([0, 1], [10, 20])
    correct = y == 0
    a_tilde = np.array([11 / 12, 1 / 22])
    v = float(np.sum(0.25 * a_tilde * (1 - a_tilde) / np.array([10, 20])))
    assert 0.25 / v > 100                              # the cap binds in this case
    rep = ev.accuracy_intervals(correct, y)
    assert rep.methods["balanced"] == "effective-n clopper-pearson"
    est, low, high = rep.balanced
    assert est == 0.5
    assert low == pytest.approx(stats.beta.ppf(0.025, 15, 16), rel=1e-12)
    assert high == pytest.approx(stats.beta.ppf(0.975, 16, 15), rel=1e-12)


@pytest.mark.parametrize("num_bootstrap", [99, 199])
def test_randomization_p_value_counts_the_observed_statistic(num_bootstrap):
    """Unbalanced test set (40 + 20 images), A right and B wrong on all 60: no sign flip but the
    all-plus / all-minus ones (probability 2^-59) reaches the observed statistic, so the count
    is 0 and p = (0 + 1)/(B + 1) exactly; without the +1 it would be 0."""
    y = np.repeat([0, 1], [40, 20])
    a, b = np.ones(60, bool), np.zeros(60, bool)
    r = ev.compare_on_test_set(a, b, y, num_bootstrap=num_bootstrap, seed=0)
    assert r.method.startswith("stratified McNemar randomization")
    assert r.p_value == 1.0 / (num_bootstrap + 1)


def test_randomization_p_value_is_one_when_every_flip_ties():
    """One discordant pair: every flip gives |statistic| = observed, count = B, p = (B + 1)/(B + 1) = 1."""
    y = np.repeat([0, 1], [40, 20])
    a = np.zeros(60, bool)
    a[0] = True
    r = ev.compare_on_test_set(a, np.zeros(60, bool), y, num_bootstrap=50, seed=1)
    assert r.p_value == 1.0 and r.verdict == ev.NO_DIFFERENCE
