"""Confidence terms of Eq. 6 and Eq. 7 and their ratio."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltbound.bounds.confidence import confidence_ratio, confidence_term, confidence_term_ib
from ltbound.bounds.sampling import long_tailed_counts, sampling_distribution

counts_st = st.lists(st.integers(1, 5000), min_size=1, max_size=12).map(np.array)


def test_ib_term_by_hand():
    """Eq. 6: M sqrt(ln(1/δ) / (2n)); with δ = e^-2, n = 100, M = 2 it is 2 / 10."""
    assert confidence_term_ib(100, 2.0, math.exp(-2)) == pytest.approx(0.2, rel=1e-14)
    assert confidence_term_ib(1, 1.0, 0.05) == pytest.approx(math.sqrt(math.log(20) / 2), rel=1e-14)


def test_sampling_term_by_hand():
    """Eq. 7 with counts (3, 1), p = (1/2, 1/2): Σ p²/n = 1/12 + 1/4 = 1/3; δ = e^-2 → ln(1/δ)/2 = 1."""
    assert confidence_term([3, 1], [0.5, 0.5], 3.0, math.exp(-2)) == pytest.approx(3 / math.sqrt(3), rel=1e-14)


def test_sampling_term_is_mcdiarmid_with_eq15_differences():
    """Eq. 7 equals sqrt(Σ_i c_i² ln(1/δ)/2) with c_i = p_j M / n_j for each of the n_j samples (Eq. 15)."""
    counts, p, m, d = np.array([50, 7, 3]), np.array([0.2, 0.3, 0.5]), 1.7, 0.01
    c = np.repeat(p * m / counts, counts)
    assert confidence_term(counts, p, m, d) == pytest.approx(math.sqrt((c ** 2).sum() * math.log(1 / d) / 2), rel=1e-12)


@given(counts_st, st.floats(0.01, 100), st.floats(1e-6, 0.999))
def test_sampling_term_at_ib_is_the_ib_term(counts, m, d):
    """With p_j = n_j / n, Eq. 7's term is exactly Eq. 6's."""
    p = counts / counts.sum()
    assert confidence_term(counts, p, m, d) == pytest.approx(confidence_term_ib(int(counts.sum()), m, d), rel=1e-12)
    assert confidence_ratio(counts, p) == pytest.approx(1.0, abs=1e-12)


@given(counts_st, st.lists(st.floats(0.01, 1.0), min_size=12, max_size=12))
def test_ratio_is_at_least_one_and_equals_term_ratio(counts, raw):
    """Cauchy–Schwarz: n Σ p_j²/n_j >= 1 for every probability vector p."""
    p = np.array(raw[:counts.size])
    p = p / p.sum()
    r = confidence_ratio(counts, p)
    assert r >= 1.0 - 1e-12
    ratio = confidence_term(counts, p, 1.0, 0.1) / confidence_term_ib(int(counts.sum()), 1.0, 0.1)
    assert r == pytest.approx(ratio, rel=1e-12)


@pytest.mark.parametrize("sampler", ["SQRT", "CB", "CR"])
def test_any_resampling_widens_the_term_on_cifar10_lt(sampler):
    """CIFAR-10-LT (imbalance 100): every sampler but IB has ratio > 1 (Eq. 7 wider than Eq. 6)."""
    counts = long_tailed_counts(5000, 10, 100)
    p = sampling_distribution(counts, sampler)
    r = confidence_ratio(counts, p)
    assert r > 1.0 + 1e-3
    # CB has the closed form sqrt(n Σ 1/(C² n_j)).
    if sampler == "CB":
        assert r == pytest.approx(math.sqrt(counts.sum() * np.sum(1.0 / counts) / 100), rel=1e-12)


def test_ratio_equals_one_only_at_ib():
    counts = np.array([10, 5, 1])
    assert confidence_ratio(counts, counts / 16) == pytest.approx(1.0, abs=1e-15)
    nudged = counts / 16 + np.array([1e-3, -1e-3, 0])
    assert confidence_ratio(counts, nudged) > 1.0


@pytest.mark.parametrize("delta", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_delta_outside_open_unit_interval_is_refused(delta):
    with pytest.raises(ValueError, match="delta"):
        confidence_term_ib(10, 1.0, delta)
    with pytest.raises(ValueError, match="delta"):
        confidence_term([5, 5], [0.5, 0.5], 1.0, delta)


@pytest.mark.parametrize("m", [0.0, -1.0, float("inf"), float("nan"), "a"])
def test_bad_loss_range_is_refused(m):
    with pytest.raises(ValueError, match="loss_range"):
        confidence_term_ib(10, m, 0.05)
    with pytest.raises(ValueError, match="loss_range"):
        confidence_term([5, 5], [0.5, 0.5], m, 0.05)


def test_bad_counts_and_p_are_refused():
    with pytest.raises(ValueError, match="empty classes"):
        confidence_term([5, 0], [0.5, 0.5], 1.0, 0.05)
    with pytest.raises(ValueError, match="non-negative"):
        confidence_ratio([5, -1], [0.5, 0.5])
    with pytest.raises(ValueError, match="whole numbers"):
        confidence_ratio([5, 1.5], [0.5, 0.5])
    with pytest.raises(ValueError, match="one entry per class"):
        confidence_ratio([5, 5, 5], [0.5, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        confidence_term([5, 5], [0.5, 0.6], 1.0, 0.05)
    with pytest.raises(ValueError, match="non-negative"):
        confidence_ratio([5, 5], [1.5, -0.5])
    with pytest.raises(ValueError, match="n must be an integer"):
        confidence_term_ib(0, 1.0, 0.05)
    with pytest.raises(ValueError, match="n must be an integer"):
        confidence_term_ib(2.5, 1.0, 0.05)
