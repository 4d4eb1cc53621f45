"""Empirical Rademacher complexity of a finite Θ̂ (Eq. 5): Monte Carlo, exact, Massart."""

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ltbound.bounds.rademacher import RademacherEstimate, massart_bound, rademacher_exact, rademacher_monte_carlo


@st.composite
def small_matrices(draw, max_k=5, max_n=9):
    """Loss matrices (K, n), K <= 5, n <= 9, entries in [0, 10]."""
    k = draw(st.integers(1, max_k))
    n = draw(st.integers(1, max_n))
    vals = draw(st.lists(st.floats(0.0, 10.0, allow_nan=False, allow_infinity=False),
                         min_size=k * n, max_size=k * n))
    return np.array(vals).reshape(k, n)


def _random_cases(count=8, seed=0):
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        k, n = int(rng.integers(2, 8)), int(rng.integers(4, 13))
        cases.append(rng.exponential(1.0, size=(k, n)))
    return cases


def test_exact_by_hand():
    """Two θ, n = 1, w = 1: E max(ξ a, ξ b) = (max(a, b) + max(−a, −b)) / 2 = (max − min) / 2."""
    est = rademacher_exact([[1.0], [3.0]], weights=[1.0])
    assert est.value == pytest.approx(1.0, abs=1e-15)
    assert (est.method, est.std_error, est.upper, est.num_draws, est.delta) == ("exact", 0.0, est.value, 2, 0.0)
    # n = 2, w = 1/2: E max over {(1,0), (0,1)} of (ξ1 L1 + ξ2 L2)/2 = (1 + 1 + 1 + (−1)) / 8 ... by enumeration:
    # ξ=(+,+): max(1,1)/2=1/2; (+,−): max(1,−1)/2=1/2; (−,+): 1/2; (−,−): −1/2 → mean 1/4.
    assert rademacher_exact([[1.0, 0.0], [0.0, 1.0]]).value == pytest.approx(0.25, abs=1e-15)


@pytest.mark.parametrize("losses", _random_cases(), ids=lambda a: f"{a.shape}")
def test_monte_carlo_agrees_with_exact_enumeration(losses):
    """|MC − exact| <= 4 standard errors (a 4σ event has probability ~6e-5 per case)."""
    exact = rademacher_exact(losses)
    mc = rademacher_monte_carlo(losses, num_draws=4000, seed=11)
    assert abs(mc.value - exact.value) <= 4 * mc.std_error + 1e-12
    assert mc.upper >= exact.value


def test_upper_holds_at_its_stated_delta_over_repeated_seeds():
    """P(upper < exact) <= δ over the draws; with δ = 0.2 and 200 seeds, far fewer than
    40 + slack failures are allowed (the McDiarmid deviation is conservative)."""
    losses = np.random.default_rng(3).exponential(1.0, size=(6, 10))
    exact = rademacher_exact(losses).value
    misses = sum(rademacher_monte_carlo(losses, num_draws=20, seed=s, delta=0.2).upper < exact
                 for s in range(200))
    assert misses <= 40 + 3 * math.sqrt(200 * 0.2 * 0.8)


def test_deviation_bound_formula():
    """upper − value = sqrt(Σ c_i² ln(1/δ)/(2B)) + rounding, c_i = 2|w_i| max_θ L_i(θ)."""
    losses = np.array([[1.0, 2.0, 0.5], [3.0, 0.0, 1.0]])
    w = np.array([0.2, -0.5, 0.3])
    est = rademacher_monte_carlo(losses, weights=w, num_draws=100, seed=0, delta=0.1)
    c = 2 * np.abs(w) * losses.max(axis=0)
    t = math.sqrt((c ** 2).sum() * math.log(10) / 200)
    assert est.upper - est.value == pytest.approx(t, rel=1e-3)
    assert est.upper - est.value >= t


def test_single_hypothesis_is_zero():
    """K = 1: E_ξ Σ w_i ξ_i L_i = 0 exactly; MC is 0 within its error; Massart gives 0."""
    row = np.array([[0.3, 1.2, 2.0, 0.7, 5.0]])
    assert rademacher_exact(row).value == pytest.approx(0.0, abs=1e-15)
    mc = rademacher_monte_carlo(row, num_draws=2000, seed=5)
    assert abs(mc.value) <= 4 * mc.std_error
    assert massart_bound(row).value == 0.0
    assert rademacher_exact(row[0]).num_params == 1


@given(small_matrices(), st.floats(0.0, 50.0))
def test_scales_linearly_with_the_losses(losses, c):
    """R̂(c L) = c R̂(L) for c >= 0; MC with the same seed uses the same signs."""
    assert rademacher_exact(c * losses).value == pytest.approx(c * rademacher_exact(losses).value,
                                                               rel=1e-9, abs=1e-12)
    base = rademacher_monte_carlo(losses, num_draws=64, seed=2).value
    scaled = rademacher_monte_carlo(c * losses, num_draws=64, seed=2).value
    bound = 1e-5 * c * np.abs(losses).sum() / losses.shape[1]   # float32 rounding, relative to Σ|wL|
    assert abs(scaled - c * base) <= bound + 1e-12


@given(small_matrices())
def test_exact_is_below_massart(losses):
    """Massart's lemma: E max_θ Σ w ξ L <= max_θ ||w ⊙ L(θ)||_2 sqrt(2 ln K)."""
    assert rademacher_exact(losses).value <= massart_bound(losses).value + 1e-12


@pytest.mark.parametrize("losses", _random_cases(4, seed=9), ids=lambda a: f"{a.shape}")
def test_monte_carlo_is_below_massart(losses):
    mc = rademacher_monte_carlo(losses, num_draws=2000, seed=0)
    ms = massart_bound(losses)
    assert mc.value < ms.value
    assert ms.value == pytest.approx(np.sqrt(((losses / losses.shape[1]) ** 2).sum(axis=1).max())
                                     * math.sqrt(2 * math.log(losses.shape[0])), rel=1e-12)


@given(small_matrices(), st.lists(st.floats(-2.0, 2.0), min_size=9, max_size=9))
def test_weighted_exact_matches_brute_force(losses, raw_w):
    """Weighted exact enumeration equals an independent itertools loop, and depends on |w| only."""
    import itertools
    n = losses.shape[1]
    w = np.array(raw_w[:n])
    assume(np.any(w))                # all-zero weights are refused (issue 30): a forgotten prior, not a weighting
    brute = np.mean([max(float(np.dot(np.array(s) * w, row)) for row in losses)
                     for s in itertools.product([-1.0, 1.0], repeat=n)])
    got = rademacher_exact(losses, weights=w).value
    assert got == pytest.approx(brute, rel=1e-9, abs=1e-12)
    assert rademacher_exact(losses, weights=np.abs(w)).value == pytest.approx(got, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("losses", _random_cases(4, seed=5), ids=lambda a: f"{a.shape}")
def test_weighted_monte_carlo_matches_weighted_exact(losses):
    n = losses.shape[1]
    w = np.random.default_rng(n).dirichlet(np.ones(n))      # weights like π_j / n_j, sum 1
    exact = rademacher_exact(losses, weights=w)
    mc = rademacher_monte_carlo(losses, weights=w, num_draws=4000, seed=1)
    assert abs(mc.value - exact.value) <= 4 * mc.std_error + 1e-12
    assert mc.upper >= exact.value


def _big(seed=0, k=5, n=5000):
    return np.random.default_rng(seed).exponential(1.0, size=(k, n))


def test_chunk_size_does_not_change_the_value():
    """Same seed, any chunk size: the same signs meet the same losses in the same order."""
    losses = _big()
    ref = rademacher_monte_carlo(losses, num_draws=600, seed=4)
    for chunk in (1, 2048, 4096, 4097, 10 ** 6):
        est = rademacher_monte_carlo(losses, num_draws=600, seed=4, chunk_size=chunk)
        assert est.value == ref.value and est.std_error == ref.std_error and est.upper == ref.upper
    w = np.random.default_rng(1).random(losses.shape[1])
    assert (rademacher_monte_carlo(losses, weights=w, num_draws=600, seed=4, chunk_size=2048).value
            == rademacher_monte_carlo(losses, weights=w, num_draws=600, seed=4).value)


def test_memmap_gives_the_in_memory_value(tmp_path):
    losses = _big(1).astype(np.float32)
    path = tmp_path / "losses.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=losses.shape)
    mm[:] = losses
    mm.flush()
    ro = np.memmap(path, dtype=np.float32, mode="r", shape=losses.shape)
    ref = rademacher_monte_carlo(losses, num_draws=300, seed=9)
    for chunk in (None, 2048):
        assert rademacher_monte_carlo(ro, num_draws=300, seed=9, chunk_size=chunk).value == ref.value
    assert massart_bound(ro).value == pytest.approx(massart_bound(losses).value, rel=1e-12)


def test_memmap_with_bad_values_is_refused(tmp_path):
    mm = np.memmap(tmp_path / "bad.f64", dtype=np.float64, mode="w+", shape=(3, 5000))
    mm[:] = 1.0
    mm[2, 4500] = np.nan
    with pytest.raises(ValueError, match=r"finite.*\(2, 4500\)"):
        rademacher_monte_carlo(mm, num_draws=10, chunk_size=2048)
    mm[2, 4500] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        massart_bound(mm)


def test_same_seed_same_value_and_different_seed_differs():
    losses = _big(2, n=300)
    a = rademacher_monte_carlo(losses, num_draws=200, seed=1)
    assert a == rademacher_monte_carlo(losses, num_draws=200, seed=1)
    assert a.value != rademacher_monte_carlo(losses, num_draws=200, seed=2).value
    g = rademacher_monte_carlo(losses, num_draws=200, seed=np.random.default_rng(1))
    assert g.value == a.value and g.seed is None and a.seed == 1


def test_float32_and_float64_inputs_agree_within_rounding():
    losses = _big(3, n=3000)
    a = rademacher_monte_carlo(losses, num_draws=500, seed=0)
    b = rademacher_monte_carlo(losses.astype(np.float32), num_draws=500, seed=0)
    assert a.value == pytest.approx(b.value, rel=1e-4)


def test_many_draws_span_several_blocks():
    """B > 1024 draws (more than one sign block): agrees with exact and std error shrinks as 1/sqrt(B)."""
    losses = _random_cases(1, seed=4)[0]
    exact = rademacher_exact(losses).value
    small = rademacher_monte_carlo(losses, num_draws=500, seed=0)
    large = rademacher_monte_carlo(losses, num_draws=8000, seed=0)
    assert abs(large.value - exact) <= 4 * large.std_error
    assert large.std_error == pytest.approx(small.std_error / 4, rel=0.25)
    assert large.num_draws == 8000


def test_one_draw_has_undefined_std_error():
    est = rademacher_monte_carlo(_big(n=20), num_draws=1, seed=0)
    assert math.isnan(est.std_error)
    assert json.loads(json.dumps(est.to_dict()))["std_error"] is None


def test_to_dict_is_json_safe():
    for est in (rademacher_monte_carlo(_big(n=30), num_draws=50), rademacher_exact(_big(n=8)),
                massart_bound(_big(n=30))):
        d = json.loads(json.dumps(est.to_dict()))
        assert d["method"] == est.method and d["value"] == est.value and d["n"] == est.n
        assert isinstance(est, RademacherEstimate)


def test_exact_refuses_large_n():
    with pytest.raises(ValueError, match="n <= 20"):
        rademacher_exact(np.ones((2, 21)))


@pytest.mark.parametrize("bad, match", [(np.nan, "finite"), (np.inf, "finite"), (-1.0, "non-negative")])
def test_bad_losses_are_refused(bad, match):
    losses = np.ones((2, 4))
    losses[1, 1] = bad
    for fn in (rademacher_monte_carlo, rademacher_exact, massart_bound):
        with pytest.raises(ValueError, match=match):
            fn(losses)


def test_bad_arguments_are_refused():
    losses = np.ones((2, 4))
    with pytest.raises(ValueError, match="weights must have shape"):
        rademacher_monte_carlo(losses, weights=np.ones(3))
    with pytest.raises(ValueError, match="weights must be finite"):
        rademacher_exact(losses, weights=[1.0, np.nan, 1.0, 1.0])
    with pytest.raises(ValueError, match="weights must be a real"):
        massart_bound(losses, weights=np.array(["a"] * 4))
    for draws in (0, -3, 1.5, True):
        with pytest.raises(ValueError, match="num_draws"):
            rademacher_monte_carlo(losses, num_draws=draws)
    for delta in (0.0, 1.0, 2.0, float("nan")):
        with pytest.raises(ValueError, match="delta"):
            rademacher_monte_carlo(losses, delta=delta)
    for seed in (-1, 1.5, "a"):
        with pytest.raises(ValueError, match="seed"):
            rademacher_monte_carlo(losses, seed=seed)
    with pytest.raises(ValueError, match="chunk_size"):
        rademacher_monte_carlo(losses, chunk_size=0)
    with pytest.raises(ValueError, match="1-D or 2-D"):
        rademacher_monte_carlo(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="empty"):
        massart_bound(np.ones((2, 0)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_and_tiny_losses_neither_overflow_nor_vanish(dtype):
    """Losses near the float32 limits: float32 products are done on per-tile normalised
    entries, so the value scales exactly like the exact enumeration."""
    base = np.random.default_rng(0).exponential(1.0, size=(4, 10))
    exact = rademacher_exact(base).value
    for c in (1e37, 1e-40):
        est = rademacher_monte_carlo((base * c).astype(dtype), num_draws=4000, seed=3)
        assert math.isfinite(est.value) and math.isfinite(est.upper)
        ref = rademacher_monte_carlo(base, num_draws=4000, seed=3)
        # float32 input at 1e-40 is subnormal: its own rounding (relative ~1e-5 of the
        # smallest entries) dominates; otherwise the result is c times the unscaled one.
        rel = 1e-3 if (dtype == np.float32 and c < 1) else 1e-5
        assert est.value == pytest.approx(c * ref.value, rel=rel)
        assert abs(est.value / c - exact) <= 4 * ref.std_error + 1e-3 * exact


def test_inputs_are_not_modified():
    losses = _big(6, n=3000)
    w = np.random.default_rng(0).random(3000)
    before, w_before = losses.copy(), w.copy()
    rademacher_monte_carlo(losses, num_draws=10, chunk_size=2048)
    rademacher_monte_carlo(losses, weights=w, num_draws=10)
    massart_bound(losses, weights=w)
    np.testing.assert_array_equal(losses, before)
    np.testing.assert_array_equal(w, w_before)


@given(small_matrices(max_n=9), st.sampled_from([1e-300, 1e-3, 1.0, 1e6, 1e290]))
def test_quantised_tiles_make_the_float32_product_exact(losses, c):
    """The internal contract behind bitwise reproducibility: q holds whole numbers, every row
    sum of a tile is below 2^24 (so any order of ±q sums is exact in float32), and
    |q·step − a| <= step/2 (the quantisation error charged to ``upper``); the 1e-300 slack
    covers float64 subnormals, where steps themselves lose relative precision."""
    from ltbound.bounds import rademacher as rmod
    a = losses * c
    q, colmax, step = rmod._quantised_chunk(a, None, 0, a.shape[1], False)
    assert np.all(q == np.rint(q))
    assert np.all(np.abs(q).sum(axis=1) < 2 ** 24)
    np.testing.assert_array_equal(colmax, a.max(axis=0))
    assert np.all(np.abs(q.astype(np.float64) * step[0] - a) <= 0.5 * step[0] * (1 + 1e-12) + 1e-300)


def test_all_zero_losses_charge_no_monte_carlo_or_rounding_error():
    """A loss matrix of zeros (e.g. 0-1 losses of models that fit the training set) has
    R̂ = 0 exactly; no rounding or deviation term may inflate ``upper`` (regression: an
    all-zero tile once charged half a unit per entry, 0.1 in a bound of 0.17)."""
    from ltbound.bounds.rademacher import rademacher_monte_carlo
    zeros = np.zeros((3, 438))
    for w in (None, np.linspace(0.0, 1.0, 438)):
        est = rademacher_monte_carlo(zeros, weights=w, num_draws=200, seed=0)
        assert est.value == 0.0 and est.upper == 0.0
