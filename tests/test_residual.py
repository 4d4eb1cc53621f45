"""Plug-in residual Q̂_n of Eq. 18 and its within-class bootstrap."""

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltbound.bounds.objectives import standard_objective, weighted_objective
from ltbound.bounds.residual import ResidualEstimate, q_residual
from ltbound.bounds.sampling import class_counts, sampling_distribution


@st.composite
def problems(draw):
    """Integer losses (K, n) with every class present, and a probability vector p."""
    c = draw(st.integers(1, 4))
    counts = draw(st.lists(st.integers(1, 6), min_size=c, max_size=c))
    labels = np.repeat(np.arange(c), counts)
    k = draw(st.integers(1, 4))
    vals = draw(st.lists(st.integers(0, 9), min_size=k * labels.size, max_size=k * labels.size))
    raw = np.array(draw(st.lists(st.integers(1, 10), min_size=c, max_size=c)), dtype=np.float64)
    return np.array(vals, dtype=np.float64).reshape(k, labels.size), labels, raw / raw.sum()


def test_two_class_example_by_hand():
    """Counts (3, 1), n = 4, p = (1/4, 3/4): coefficients p_j/n_j − 1/n are (−1/6, 1/2).

    Row 0 losses (1, 1, 1 | 2): g = −1/6·3 + 1/2·2 = 1/2.
    Row 1 losses (3, 0, 0 | 0): g = −1/6·3 + 0 = −1/2  → the min, at row 1.
    Row 2 losses (0, 0, 0 | 1): g = 1/2.
    """
    losses = np.array([[1, 1, 1, 2], [3, 0, 0, 0], [0, 0, 0, 1]], dtype=float)
    labels = np.array([0, 0, 0, 1])
    coef = [Fraction(1, 4) / 3 - Fraction(1, 4)] * 3 + [Fraction(3, 4) - Fraction(1, 4)]
    assert coef[0] == Fraction(-1, 6) and coef[3] == Fraction(1, 2)
    exact = [float(sum(c * Fraction(int(v)) for c, v in zip(coef, row))) for row in losses]
    est = q_residual(losses, labels, [0.25, 0.75])
    np.testing.assert_allclose(est.per_param, exact, atol=1e-15)
    np.testing.assert_allclose(exact, [0.5, -0.5, 0.5])
    assert est.value == pytest.approx(-0.5, abs=1e-15)
    assert est.argmin == 1
    assert est.ci_low is None and est.ci_high is None and est.num_bootstrap == 0


@given(problems())
def test_residual_is_weighted_minus_standard_objective(problem):
    """g(θ) = L(θ) − L^s(θ) (Eq. 4 minus Eq. 3), and the value is its min over rows."""
    losses, labels, p = problem
    est = q_residual(losses, labels, p)
    g = weighted_objective(losses, labels, p) - standard_objective(losses)
    np.testing.assert_allclose(est.per_param, g, rtol=1e-12, atol=1e-12)
    assert est.value == est.per_param.min()
    assert est.per_param[est.argmin] == est.value


@given(problems())
def test_theorem1_condition_is_never_positive_on_the_plug_in(problem):
    """For every θ in Θ̂: Q̂_n + L^s(θ) − L(θ) = min g − g(θ) <= 0 (DESIGN.md's key fact)."""
    losses, labels, p = problem
    est = q_residual(losses, labels, p)
    condition = est.value + standard_objective(losses) - weighted_objective(losses, labels, p)
    assert np.all(condition <= 1e-12)


@given(problems())
def test_residual_is_zero_for_ib(problem):
    """Under IB, p_j/n_j = 1/n: every coefficient of Eq. 18 vanishes."""
    losses, labels, _ = problem
    counts = class_counts(labels, int(labels.max()) + 1)
    est = q_residual(losses, labels, sampling_distribution(counts, "IB"))
    np.testing.assert_allclose(est.per_param, 0.0, atol=1e-12)
    assert est.value == pytest.approx(0.0, abs=1e-12)


def _noisy_problem(seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], [60, 25, 8])
    losses = rng.exponential(1.0, size=(4, labels.size)) + labels  # tail classes lose more
    return losses, labels, np.array([0.2, 0.3, 0.5])


def test_bootstrap_is_seeded():
    losses, labels, p = _noisy_problem()
    a = q_residual(losses, labels, p, num_bootstrap=300, seed=7)
    b = q_residual(losses, labels, p, num_bootstrap=300, seed=7)
    c = q_residual(losses, labels, p, num_bootstrap=300, seed=8)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    g = np.random.default_rng(7)
    d = q_residual(losses, labels, p, num_bootstrap=300, seed=g)
    assert (d.ci_low, d.ci_high) == (a.ci_low, a.ci_high)


def test_bootstrap_interval_contains_the_point_estimate_in_an_easy_case():
    """One θ with many samples: the plug-in value sits inside its own percentile interval."""
    losses, labels, p = _noisy_problem(1)
    est = q_residual(losses[:1], labels, p, num_bootstrap=500, seed=0, level=0.9)
    assert est.ci_low < est.value < est.ci_high
    assert est.level == 0.9 and est.num_bootstrap == 500


def test_bootstrap_resamples_within_class():
    """Losses constant within each class: every within-class resample gives the same g,
    so the interval collapses onto the value. Pooled resampling would not (class counts
    would change), so this fails if class membership is not preserved.
    """
    labels = np.repeat([0, 1], [5, 3])
    losses = np.array([[1.0] * 5 + [4.0] * 3, [2.0] * 5 + [3.0] * 3])
    est = q_residual(losses, labels, [0.5, 0.5], num_bootstrap=200, seed=3)
    assert est.ci_low == pytest.approx(est.value, abs=1e-14)
    assert est.ci_high == pytest.approx(est.value, abs=1e-14)


def test_wider_level_gives_wider_interval():
    losses, labels, p = _noisy_problem(2)
    narrow = q_residual(losses, labels, p, num_bootstrap=400, seed=0, level=0.5)
    wide = q_residual(losses, labels, p, num_bootstrap=400, seed=0, level=0.99)
    assert wide.ci_low <= narrow.ci_low <= narrow.ci_high <= wide.ci_high
    assert wide.ci_high - wide.ci_low > narrow.ci_high - narrow.ci_low


def test_to_dict_is_json_safe():
    losses, labels, p = _noisy_problem()
    est = q_residual(losses, labels, p, num_bootstrap=50, seed=0)
    d = json.loads(json.dumps(est.to_dict()))
    assert d["value"] == est.value and d["argmin"] == est.argmin
    assert d["per_param"] == est.per_param.tolist()
    assert d["ci_low"] == est.ci_low and d["num_bootstrap"] == 50
    assert json.loads(json.dumps(q_residual(losses, labels, p).to_dict()))["ci_high"] is None
    assert isinstance(est, ResidualEstimate)


def test_vector_and_memmap_inputs(tmp_path):
    losses, labels, p = _noisy_problem()
    single = q_residual(losses[2], labels, p)
    assert single.per_param.shape == (1,) and single.argmin == 0
    mm = np.memmap(tmp_path / "l.f64", dtype=np.float64, mode="w+", shape=losses.shape)
    mm[:] = losses
    np.testing.assert_array_equal(q_residual(mm, labels, p).per_param, q_residual(losses, labels, p).per_param)


def test_bad_inputs_are_refused():
    losses, labels, p = _noisy_problem()
    for bad, match in ((np.nan, "finite"), (np.inf, "finite"), (-0.5, "non-negative")):
        broken = losses.copy()
        broken[0, 3] = bad
        with pytest.raises(ValueError, match=match):
            q_residual(broken, labels, p)
    bad_labels = labels.copy()
    bad_labels[0] = 3
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        q_residual(losses, bad_labels, p)
    with pytest.raises(ValueError, match="empty classes"):
        q_residual(losses, np.where(labels == 1, 0, labels), p)
    with pytest.raises(ValueError, match="samples"):
        q_residual(losses[:, 1:], labels, p)
    with pytest.raises(ValueError, match="sum to 1"):
        q_residual(losses, labels, [0.2, 0.3, 0.6])
    with pytest.raises(ValueError, match="do not match"):
        q_residual(losses, labels, p, counts=[59, 26, 8])
    for level in (0.0, 1.0, 1.2, float("nan")):
        with pytest.raises(ValueError, match="level"):
            q_residual(losses, labels, p, level=level)
    with pytest.raises(ValueError, match="num_bootstrap"):
        q_residual(losses, labels, p, num_bootstrap=-1)
    with pytest.raises(ValueError, match="seed"):
        q_residual(losses, labels, p, num_bootstrap=5, seed=-1)
    with pytest.raises(ValueError, match="seed"):
        q_residual(losses, labels, p, num_bootstrap=5, seed="x")
