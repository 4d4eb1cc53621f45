"""The certified risk difference (ltbound.certificates.difference) and the KL = 0 choice of ltbound.certificates.pacbayes."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ltbound.certificates import pacbayes as pb

from ltbound.certificates import pooled
from ltbound.certificates.difference import difference_over_grid, risk_difference_certificate

LONG_TAIL = np.array([120, 60, 30, 15, 8, 4])


def _se(delta: float, reps: int) -> float:
    return math.sqrt(delta * (1 - delta) / reps)


def _pair_losses(rng, probs: np.ndarray, y: np.ndarray, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """0-1 losses of A and B with per-class outcome probabilities (both right, both wrong, A only, B only)."""
    u = rng.random(shape + (y.size,))
    cum = np.cumsum(probs, axis=1)[y]                                  # (m, 4)
    outcome = (u[..., None] > cum[:, :3]).sum(axis=-1)                 # 0, 1, 2, 3
    la = ((outcome == 1) | (outcome == 2)).astype(np.float64)
    lb = ((outcome == 1) | (outcome == 3)).astype(np.float64)
    return la, lb


def _probs(err_b: np.ndarray, a_only: np.ndarray, b_only: np.ndarray) -> np.ndarray:
    both_wrong = err_b - b_only
    return np.stack([1 - both_wrong - a_only - b_only, both_wrong, a_only, b_only], axis=1)


def _batched_upper(values: np.ndarray, y: np.ndarray, delta: float, *, kl: float = 0.0, fixed: bool = False,
                   frac: float = 0.1) -> np.ndarray:
    """The pooled-chernoff certificate of the balanced mean of each row of ``values`` ((R, m) for one
    classifier, (R, N, m) for per-sample draws) through the private vectorised cores: what
    ``target_risk_certificate(..., method="pooled-chernoff", mc_draws="per-sample")`` computes, for R
    certification sets at once (the tests check it against the public function)."""
    counts = np.bincount(y).astype(float)
    pi = np.full(counts.size, 1.0 / counts.size)
    onehot = (y[:, None] == np.arange(counts.size)).astype(float)
    if values.ndim == 2:
        t, log_main = (values @ onehot / counts) @ pi, math.log(delta)
    else:
        raw = (values.mean(axis=1) @ onehot / counts) @ pi
        t = pooled._chernoff_free(raw, values.shape[1] * counts, pi, -math.log(frac * delta))[0]
        log_main = math.log((1 - frac) * delta)
    if fixed:
        return pooled._chernoff_free(t, counts, pi, -log_main)[0]
    b0 = math.log(pooled.LAMBDA_GRID_SIZE) - log_main
    grid = pooled._lambda_grid(float(np.sum(pi ** 2 / counts)), b0)
    return np.minimum(pooled._chernoff_upper(t, counts, pi, kl + b0, grid).min(axis=1), 1.0)


def _batched_interval(la, lb, y, delta, **kw) -> tuple[np.ndarray, np.ndarray]:
    x = la - lb
    plus, minus = np.maximum(x, 0), np.maximum(-x, 0)
    q = delta / 4
    upper = _batched_upper(plus, y, q, **kw) + _batched_upper(1 - minus, y, q, **kw) - 1
    lower = 1 - _batched_upper(minus, y, q, **kw) - _batched_upper(1 - plus, y, q, **kw)
    return lower, upper


# ----------------------------------------------------------------------------- reductions and identities
@pytest.mark.parametrize("method", ["pooled-chernoff", "union", "pooled"])
@pytest.mark.parametrize("draws", ["per-sample", "deterministic"])
def test_reduces_to_the_single_risk_certificate_when_b_is_a_zero_loss_predictor(method, draws):
    """B ≡ 0: X⁺ = ℓ_A and 1 − X⁻ ≡ 1, so upper = U(ℓ_A; δ/2) exactly (module docstring, Reduction)."""
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(LONG_TAIL.size), LONG_TAIL)
    shape = (y.size,) if draws == "deterministic" else (7, y.size)
    la = (rng.random(shape) < 0.2 + 0.1 * y / y.max()).astype(np.float64)
    kw = dict(method=method, mc_draws="per-sample", prior_grid_size=3, mc_delta_fraction=0.2)
    cert = risk_difference_certificate(la, np.zeros_like(la), y, kl_a=2.5, kl_b=0.0, delta=0.1, sides="upper", **kw)
    single = pb.target_risk_certificate(la, y, kl=2.5, delta=0.05, fixed_before_sample=False, **kw)
    assert cert.upper == pytest.approx(single.bound, rel=1e-12, abs=1e-15)
    assert cert.parts["not_B_only"]["bound"] == pytest.approx(1.0, abs=1e-15)
    # two-sided: δ/4 per part, and the lower side is a lower bound of A's own risk
    two = risk_difference_certificate(la, np.zeros_like(la), y, kl_a=2.5, kl_b=0.0, delta=0.1, **kw)
    quarter = pb.target_risk_certificate(la, y, kl=2.5, delta=0.025, fixed_before_sample=False, **kw)
    assert two.upper == pytest.approx(quarter.bound, rel=1e-12)
    assert -1.0 <= two.lower <= cert.empirical <= two.upper


def test_the_pair_kl_is_the_sum_and_the_grid_is_paid():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(LONG_TAIL.size), LONG_TAIL)
    la, lb = _pair_losses(rng, _probs(np.full(6, 0.3), np.full(6, 0.05), np.full(6, 0.03)), y, (5,))
    f = lambda ka, kb, **kw: risk_difference_certificate(la, lb, y, kl_a=ka, kl_b=kb, mc_draws="per-sample", **kw)
    assert f(1.0, 2.0).upper == f(3.0, 0.0).upper == f(0.0, 3.0).upper
    assert f(1.0, 2.0).upper < f(1.0, 4.0).upper and f(1.0, 2.0).lower > f(1.0, 4.0).lower
    assert f(1.0, 2.0).upper < f(1.0, 2.0, prior_grid_size=9).upper
    # the grid helper: every pair at K_A·K_B, the best side of each
    kls_a, kls_b = [0.5, 3.0], [0.2, 1.0, 8.0]
    mats_a = [la, np.clip(la + (rng.random(la.shape) < 0.02), 0, 1)]
    mats_b = [lb, lb, np.clip(lb - (rng.random(lb.shape) < 0.05), 0, 1)]
    g = difference_over_grid(mats_a, kls_a, mats_b, kls_b, y)
    all_pairs = [risk_difference_certificate(mats_a[i], mats_b[j], y, kl_a=kls_a[i], kl_b=kls_b[j],
                                             prior_grid_size=6, mc_draws="per-sample")
                 for i in range(2) for j in range(3)]
    assert g.upper == min(c.upper for c in all_pairs) and g.lower == max(c.lower for c in all_pairs)
    assert g.prior_grid_size == 6 and len(g.index_upper) == 2
    # one pair chosen after seeing the data (e.g. each schedule's own σ): both sides of that pair
    p = difference_over_grid(mats_a, kls_a, mats_b, kls_b, y, pair=(1, 2))
    assert (p.lower, p.upper) == (all_pairs[5].lower, all_pairs[5].upper) and p.index_lower == p.index_upper == (1, 2)
    with pytest.raises(ValueError, match="pair must be two grid indices"):
        difference_over_grid(mats_a, kls_a, mats_b, kls_b, y, pair=(2, 0))


def test_empirical_and_disagreement_are_the_pi_weighted_means():
    y = np.array([0, 0, 0, 0, 1, 1])
    la = np.array([1, 0, 0, 1, 1, 0], dtype=float)
    lb = np.array([0, 0, 1, 1, 0, 0], dtype=float)
    c = risk_difference_certificate(la, lb, y, kl_a=0.0, kl_b=0.0, fixed_before_sample=True)
    assert c.empirical == pytest.approx(0.5 * (2 / 4 - 2 / 4) + 0.5 * (1 / 2 - 0))
    assert c.disagreement == pytest.approx(0.5 * 2 / 4 + 0.5 * 1 / 2)
    assert c.lower <= c.empirical <= c.upper


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(1, 4), kl_a=st.floats(0, 20), kl_b=st.floats(0, 20),
       method=st.sampled_from(["pooled-chernoff", "union", "pooled"]))
def test_interval_contains_the_empirical_difference_and_lies_in_minus_one_one(seed, n, kl_a, kl_b, method):
    """Every part's certificate is at least its Monte Carlo corrected mean, so lower <= Δ̂_π <= upper, and
    the interval lies in [−1, 1] (losses in [0, 1], bounded CE included)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 12, size=rng.integers(2, 5))
    y = np.repeat(np.arange(counts.size), counts)
    la, lb = rng.random((n, y.size)), (rng.random((n, y.size)) < 0.3).astype(float)
    c = risk_difference_certificate(la, lb, y, kl_a=kl_a, kl_b=kl_b, method=method, mc_draws="per-sample")
    assert -1.0 <= c.lower <= c.empirical + 1e-12 and c.empirical - 1e-12 <= c.upper <= 1.0


# ----------------------------------------------------------------------------- verdicts both ways
@pytest.mark.parametrize("a_only,b_only,verdict", [(0.0, 0.25, "IB lower"), (0.25, 0.0, "Switching lower"),
                                                   (0.05, 0.05, "not proved")])
def test_the_verdict_comes_out_each_way(a_only, b_only, verdict):
    """A = IB, B = Switching on 300 images per class (3 classes): each direction is proved when the
    disagreements are one-sided, and nothing is proved when they balance."""
    rng = np.random.default_rng(3)
    counts = np.array([300, 300, 300])
    y = np.repeat(np.arange(3), counts)
    la, lb = _pair_losses(rng, _probs(np.full(3, 0.3), np.full(3, a_only), np.full(3, b_only)), y, (4,))
    c = risk_difference_certificate(la, lb, y, kl_a=1.0, kl_b=1.0, mc_draws="per-sample", names=("IB", "Switching"))
    assert c.verdict == verdict and c.proved == (verdict != "not proved")
    assert c.lower < c.empirical < c.upper
    assert c.separate[0] < c.lower and c.upper < c.separate[1]          # sharing the images pays
    assert verdict in c.summary() and c.to_dict()["verdict"] == verdict


# ----------------------------------------------------------------------------- coverage
def test_covers_with_posteriors_chosen_after_seeing_the_data():
    """Known risks, a long tail (m_j down to 4), and Q_A ⊗ Q_B = the point mass on the pair, among
    10 × 10 candidate pairs with the same class risks, whose empirical difference is *lowest* (the
    selection that pushes towards a false "A lower"); KL = ln 10 + ln 10. The upper bound covers
    the true Δ_π in >= 1 − δ of 200 draws of S, one-sided at δ = 0.2, although the selected pair's
    empirical difference lies below Δ_π in most draws."""
    rng = np.random.default_rng(4)
    c_n = LONG_TAIL.size
    y = np.repeat(np.arange(c_n), LONG_TAIL)
    err_b = np.linspace(0.1, 0.5, c_n)
    a_only, b_only = np.linspace(0.02, 0.15, c_n), np.linspace(0.01, 0.05, c_n)
    probs = _probs(err_b, a_only, b_only)
    true = float(np.mean(a_only - b_only))
    reps, k, delta = 200, 10, 0.2
    la, lb = _pair_losses(rng, probs, y, (reps, k * k))                 # (reps, K², m)
    w = 1.0 / (c_n * LONG_TAIL[y])
    best = np.argmin((la - lb) @ w, axis=1)
    kl = math.log(k)
    certs = [risk_difference_certificate(la[r, best[r]], lb[r, best[r]], y, kl_a=kl, kl_b=kl, delta=delta,
                                         sides="upper") for r in range(reps)]
    assert np.mean([c.empirical < true for c in certs]) > 0.9          # the selection is biased
    assert np.mean([c.upper >= true for c in certs]) >= 1 - delta - 3 * _se(delta, reps)


def test_covers_with_per_sample_weight_draws_and_heterogeneous_images():
    """Stochastic pair posterior with N = 6 per-sample draws: every image has its own outcome
    probabilities (Dirichlet around its class's), so the class means are averages of unequal
    per-image means; the two-sided interval at δ = 0.2 (Monte Carlo term included, KL = 0 in the
    PAC-Bayes form) covers Δ_π in >= 1 − δ of 250 certification sets."""
    rng = np.random.default_rng(5)
    c_n = LONG_TAIL.size
    y = np.repeat(np.arange(c_n), LONG_TAIL)
    class_probs = _probs(np.linspace(0.1, 0.4, c_n), np.linspace(0.03, 0.12, c_n), np.linspace(0.02, 0.04, c_n))
    true = float(np.mean(class_probs[:, 2] - class_probs[:, 3]))
    reps, n, delta = 1000, 6, 0.2
    g = rng.gamma(20 * class_probs[y], size=(reps, y.size, 4))                  # Dirichlet rows per image
    img = g / g.sum(axis=-1, keepdims=True)
    u = rng.random((reps, n, y.size))
    outcome = (u[..., None] > np.cumsum(img, axis=-1)[:, None, :, :3]).sum(axis=-1)    # (reps, N, m)
    la = ((outcome == 1) | (outcome == 2)).astype(float)
    lb = ((outcome == 1) | (outcome == 3)).astype(float)
    lower, upper = _batched_interval(la, lb, y, delta, frac=0.3)
    for r in range(2):                                                           # the public function agrees
        c = risk_difference_certificate(la[r], lb[r], y, kl_a=0.0, kl_b=0.0, delta=delta, mc_draws="per-sample",
                                        mc_delta_fraction=0.3)
        assert (c.lower, c.upper) == (pytest.approx(lower[r], rel=1e-9), pytest.approx(upper[r], rel=1e-9))
    # the class means of a Dirichlet around class_probs are class_probs: the target is exact
    assert np.mean((lower <= true) & (true <= upper)) >= 1 - delta - 3 * _se(delta, reps)


def test_variance_matters_naive_is_looser_and_a_plug_in_variance_bound_under_covers():
    """Built to fail if the variance were ignored. Two fixed classifiers that agree on all but a few
    images: in the four tail classes (4-8 images) A errs alone with probability 0.12, and never
    otherwise. (a) Hoeffding on the range-2 difference (variance ignored) covers but is far
    looser than the split bound; (b) a bound that uses the variance but mis-specifies it (normal
    approximation with the plug-in variance: an unseen disagreement has variance 0) under-covers
    badly; (c) the split bound covers. One-sided at δ = 0.1, 2000 draws of S."""
    rng = np.random.default_rng(6)
    counts = np.array([200, 100, 8, 6, 5, 4])
    c_n = counts.size
    y = np.repeat(np.arange(c_n), counts)
    a_only = np.array([0.0, 0.0, 0.12, 0.12, 0.12, 0.12])
    probs = _probs(np.full(c_n, 0.2), a_only, np.zeros(c_n))
    true = float(np.mean(a_only))
    reps, delta = 2000, 0.1
    la, lb = _pair_losses(rng, probs, y, (reps,))
    x = la - lb
    pi = np.full(c_n, 1.0 / c_n)
    onehot = (y[:, None] == np.arange(c_n)).astype(float)
    mean_j = x @ onehot / counts
    emp = mean_j @ pi
    v = float(np.sum(pi ** 2 / counts))
    naive = emp + math.sqrt(2.0 * v * math.log(1 / delta))             # Hoeffding, summands of range 2 π_j/m_j
    var_j = (x ** 2 @ onehot / counts - mean_j ** 2) * counts / (counts - 1)
    plug_in = emp + stats.norm.ppf(1 - delta) * np.sqrt(var_j @ (pi ** 2 / counts))
    split = (_batched_upper(np.maximum(x, 0), y, delta / 2, fixed=True)
             + _batched_upper(1 - np.maximum(-x, 0), y, delta / 2, fixed=True) - 1)
    for r in range(2):
        assert risk_difference_certificate(la[r], lb[r], y, kl_a=0.0, kl_b=0.0, delta=delta, sides="upper",
                                           fixed_before_sample=True).upper == pytest.approx(split[r], rel=1e-9)
    cover = {"naive": np.mean(naive >= true), "plug-in": np.mean(plug_in >= true), "split": np.mean(split >= true)}
    assert cover["split"] >= 1 - delta - 3 * _se(delta, reps), cover
    assert cover["naive"] >= 1 - delta, cover
    assert cover["plug-in"] < 1 - delta - 5 * _se(delta, reps), cover
    width_naive, width_split = np.mean(naive - emp), np.mean(split - emp)
    assert width_split < 0.8 * width_naive, (width_split, width_naive)
    # and narrower than two separate bounds (A's upper minus B's lower) at the same δ split
    one = risk_difference_certificate(la[0], lb[0], y, kl_a=0.0, kl_b=0.0, delta=delta, sides="upper",
                                      fixed_before_sample=True)
    assert one.separate[0] is None and one.upper < one.separate[1]


# ----------------------------------------------------------------------------- the KL = 0 choice (issue 31)
@pytest.mark.parametrize("method", ["pooled-chernoff", "union", "pooled"])
@pytest.mark.parametrize("stochastic", [False, True])
def test_kl_zero_is_continuous_unless_q_was_fixed_before_the_sample(method, stochastic):
    rng = np.random.default_rng(7)
    y = np.repeat(np.arange(LONG_TAIL.size), LONG_TAIL)
    loss = (rng.random((20, y.size) if stochastic else y.size) < 0.3).astype(float)
    kw = dict(method=method, mc_draws="per-sample")
    at0 = pb.target_risk_certificate(loss, y, kl=0.0, fixed_before_sample=False, **kw)
    near = pb.target_risk_certificate(loss, y, kl=1e-12, fixed_before_sample=False, **kw)
    fixed = pb.target_risk_certificate(loss, y, kl=0.0, fixed_before_sample=True, **kw)
    legacy = pb.target_risk_certificate(loss, y, kl=0.0, **kw)
    assert at0.kind == "pac-bayes" and fixed.kind == "test-set" and legacy.bound == fixed.bound
    assert abs(at0.bound - near.bound) < 1e-9
    assert fixed.bound < at0.bound                      # the test-set form is the smaller, for a fixed Q only
    # the historical default keeps the jump; the explicit choice removes it
    assert near.bound - legacy.bound > 1e-4


def test_the_difference_uses_one_form_for_both_posteriors():
    """fixed_before_sample=None in the difference: the test-set form only when both KL are 0, else the
    PAC-Bayes form for both (never one of each); True with a KL > 0 names the KL."""
    rng = np.random.default_rng(8)
    y = np.repeat(np.arange(3), [40, 20, 10])
    la, lb = (rng.random(y.size) < 0.2).astype(float), (rng.random(y.size) < 0.3).astype(float)
    both0 = risk_difference_certificate(la, lb, y, kl_a=0.0, kl_b=0.0, fixed_before_sample=None)
    fixed = risk_difference_certificate(la, lb, y, kl_a=0.0, kl_b=0.0, fixed_before_sample=True)
    assert both0.upper == fixed.upper and all(p["kind"] == "test-set" for p in fixed.parts.values())
    mixed = risk_difference_certificate(la, lb, y, kl_a=0.0, kl_b=1e-12, fixed_before_sample=None)
    pac = risk_difference_certificate(la, lb, y, kl_a=0.0, kl_b=0.0)
    assert all(p["kind"] == "pac-bayes" for p in mixed.parts.values())
    assert abs(mixed.upper - pac.upper) < 1e-9 and pac.upper > fixed.upper
    with pytest.raises(ValueError, match="kl_b = 0"):
        risk_difference_certificate(la, lb, y, kl_a=0.0, kl_b=0.5, fixed_before_sample=True)


def test_fixed_before_sample_is_checked():
    y = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="fixed_before_sample=True .* needs kl = 0"):
        pb.target_risk_certificate(np.zeros(3), y, kl=0.5, fixed_before_sample=True)
    with pytest.raises(ValueError, match="fixed_before_sample must be"):
        pb.target_risk_certificate(np.zeros(3), y, fixed_before_sample="yes")


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,match", [
    ({"losses_b": np.zeros((2, 4))}, "losses_a and losses_b must have one shape"),
    ({"losses_a": np.full(4, 2.0)}, "losses_a must lie in"),
    ({"kl_b": -1.0}, "kl_b must be"),
    ({"kl_a": float("nan")}, "kl_a must be"),
    ({"sides": "lower"}, "sides must be one of"),
    ({"method": "pooled-binomial"}, "method must be one of"),
    ({"delta": 1.5}, "delta"),
    ({"names": ("A", "A")}, "names must be two different strings"),
    ({"labels": np.array([0, 1, 1])}, "labels has 3"),
    ({"prior_grid_size": 0}, "prior_grid_size"),
])
def test_bad_input_names_the_argument(kwargs, match):
    args = {"losses_a": np.zeros(4), "losses_b": np.zeros(4), "labels": np.array([0, 1, 1, 0]), "kl_a": 0.0,
            "kl_b": 0.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        risk_difference_certificate(args.pop("losses_a"), args.pop("losses_b"), args.pop("labels"), **args)


def test_grid_helper_checks_its_sequences():
    y = np.array([0, 1])
    with pytest.raises(ValueError, match="losses_a has 2 grid points but kls_a has 1"):
        difference_over_grid([np.zeros(2), np.zeros(2)], [0.0], [np.zeros(2)], [0.0], y)
    with pytest.raises(ValueError, match="kls_b must be a non-empty sequence"):
        difference_over_grid([np.zeros(2)], [0.0], [np.zeros(2)], [], y)
    with pytest.raises(ValueError, match=r"losses_b\[0\]"):
        difference_over_grid([np.zeros(2)], [0.0], [np.full(2, -1.0)], [0.0], y)
