"""The PAC-Bayes bound core (ltbound.certificates.pacbayes): kl inversion, relaxations, KL of Gaussians,
the Monte Carlo term, target-prior certificates and their coverage with known risks."""
import math

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from ltbound.certificates import pacbayes as pb

from ltbound.certificates import kl_bounds as klb, pooled

LONG_TAIL = np.array([500, 300, 180, 108, 65, 39, 23, 14, 8, 5])


def _set(m, k):
    """Labels and 0-1 losses of a certification set with k_j errors among m_j samples of class j."""
    y = np.repeat(np.arange(len(m)), m)
    loss = np.concatenate([np.r_[np.ones(kk), np.zeros(mm - kk)] for mm, kk in zip(m, k)])
    return loss, y


# ----------------------------------------------------------------------------- binary kl
def test_kl_bernoulli_edges_and_values():
    assert klb.kl_bernoulli(0.0, 0.3) == pytest.approx(-math.log(0.7), rel=1e-15)
    assert klb.kl_bernoulli(1.0, 0.3) == pytest.approx(-math.log(0.3), rel=1e-15)
    assert klb.kl_bernoulli(0.2, 0.2) == 0.0
    assert klb.kl_bernoulli(0.0, 0.0) == 0.0 and klb.kl_bernoulli(1.0, 1.0) == 0.0
    assert klb.kl_bernoulli(0.5, 0.0) == math.inf and klb.kl_bernoulli(0.5, 1.0) == math.inf
    q, p = 0.3, 0.45
    assert klb.kl_bernoulli(q, p) == pytest.approx(q * math.log(q / p) + (1 - q) * math.log((1 - q) / (1 - p)), rel=1e-14)


@pytest.mark.parametrize("q", [0.0, 1e-9, 0.01, 0.2, 0.5, 0.77, 0.999])
@pytest.mark.parametrize("budget", [1e-8, 1e-3, 0.05, 1.0, 30.0])
def test_kl_inverse_solves_kl_equals_budget(q, budget):
    up = klb.kl_inverse_upper(q, budget)
    root = optimize.brentq(lambda p: klb.kl_bernoulli(q, p) - budget, q, 1 - 1e-16, xtol=1e-15, rtol=1e-15) \
        if klb.kl_bernoulli(q, 1 - 1e-16) > budget else 1.0
    assert abs(up - root) <= 1e-12
    assert up == 1.0 or klb.kl_bernoulli(q, up) >= budget * (1 - 1e-12)   # at or beyond the root
    lo = klb.kl_inverse_lower(q, budget)
    if q > 0 and klb.kl_bernoulli(q, 0.0) > budget:
        root_lo = optimize.brentq(lambda p: klb.kl_bernoulli(q, p) - budget, 0.0, q, xtol=1e-15, rtol=1e-15)
        assert abs(lo - root_lo) <= 1e-12 and klb.kl_bernoulli(q, lo) >= budget * (1 - 1e-12)
    else:
        assert lo == 0.0


def test_kl_inverse_boundary_budgets():
    assert klb.kl_inverse_upper(0.3, 0.0) == 0.3 and klb.kl_inverse_lower(0.3, 0.0) == 0.3
    assert klb.kl_inverse_upper(0.3, math.inf) == 1.0 and klb.kl_inverse_upper(0.3, 1e300) == 1.0
    assert klb.kl_inverse_upper(1.0, 0.1) == 1.0 and klb.kl_inverse_lower(0.0, 0.1) == 0.0
    # with q = 0 the inversion is closed-form: kl(0 ‖ p) = −ln(1 − p)
    assert klb.kl_inverse_upper(0.0, 0.7) == pytest.approx(-math.expm1(-0.7), abs=1e-15)
    arr = klb.kl_inverse_upper(np.array([0.1, 0.2]), 0.5)
    assert arr.shape == (2,) and arr[0] < arr[1]


def test_maurer_constant_holds_for_every_m_up_to_1000():
    """ξ(m) = Σ_k C(m,k)(k/m)^k(1−k/m)^(m−k) <= 2√m (Maurer 2004 proves it for m >= 8; here all m)."""
    for m in range(1, 1001):
        k = np.arange(m + 1)
        log_terms = (special.gammaln(m + 1) - special.gammaln(k + 1) - special.gammaln(m - k + 1)
                     + special.xlogy(k, k / m) + special.xlogy(m - k, 1 - k / m))
        xi = special.logsumexp(log_terms)
        assert xi <= math.log(2 * math.sqrt(m)) + 1e-12, m
        assert m < 8 or xi >= 0.5 * math.log(m)           # Maurer's lower bound √m: the 2√m is not loose by much


# ----------------------------------------------------------------------------- bounds and relaxations
def test_pac_bayes_kl_bound_is_the_inverted_maurer_budget():
    b = klb.pac_bayes_kl_bound(0.1, 20.0, 5000, 0.05)
    budget = (20.0 + math.log(2 * math.sqrt(5000) / 0.05)) / 5000
    assert klb.kl_bernoulli(0.1, b) == pytest.approx(budget, rel=1e-9) and b > 0.1


@pytest.mark.parametrize("risk", [0.0, 0.01, 0.1, 0.3, 0.6])
@pytest.mark.parametrize("kl", [0.0, 5.0, 500.0])
@pytest.mark.parametrize("m", [10, 1000, 60000])
def test_relaxations_are_above_the_kl_bound_and_equal_their_closed_forms(risk, kl, m):
    delta = 0.025
    exact = klb.pac_bayes_kl_bound(risk, kl, m, delta)
    b = (kl + math.log(2 * math.sqrt(m) / delta)) / m
    classic, quad = klb.bound_classic(risk, kl, m, delta), klb.bound_quad(risk, kl, m, delta)
    assert classic == pytest.approx(risk + math.sqrt(b / 2), rel=1e-12)
    assert quad == pytest.approx(risk + b + math.sqrt(2 * risk * b + b * b), rel=1e-12)
    assert classic >= exact - 1e-12 and quad >= exact - 1e-12
    for lam in (0.01, 0.3, 1.0, 1.9):
        lb = klb.bound_lambda(risk, kl, m, delta, lam)
        assert lb == pytest.approx((risk + b / lam) / (1 - lam / 2), rel=1e-12)
        assert lb >= quad - 1e-12          # the λ-bound relaxes f-quad, for every λ


def test_quad_is_the_root_of_the_relaxed_kl_inequality_sympy():
    sp = pytest.importorskip("sympy")
    p, q, b = sp.symbols("p q B", positive=True)
    quad = (sp.sqrt(q + b / 2) + sp.sqrt(b / 2)) ** 2
    assert sp.expand((quad - q) ** 2 - 2 * quad * b) == 0          # quad solves (p − q)² = 2pB
    assert sp.expand(quad - (q + b + sp.sqrt(2 * q * b + b ** 2))).equals(0)


def test_pooled_lambda_optimum_sympy():
    """min_λ B/λ + λV/8 = sqrt(BV/2) at λ* = sqrt(8B/V): the pooled bound's sqrt(Σ π_j²/m_j) form."""
    sp = pytest.importorskip("sympy")
    lam, b, v = sp.symbols("lambda B V", positive=True)
    f = b / lam + lam * v / 8
    (opt,) = sp.solve(sp.diff(f, lam), lam)
    assert sp.simplify(opt - sp.sqrt(8 * b / v)) == 0
    assert sp.simplify(f.subs(lam, opt) - sp.sqrt(b * v / 2)) == 0


# ----------------------------------------------------------------------------- Gaussian KL
def test_gaussian_kl_matches_numerical_integration():
    for mq, sq, mp, sp_ in [(0.3, 0.5, -0.1, 1.2), (0.0, 2.0, 0.0, 0.1), (1.0, 1.0, 1.0, 1.0)]:
        q, p = stats.norm(mq, sq), stats.norm(mp, sp_)
        lo, hi = mq - 40 * sq, mq + 40 * sq
        ref, _ = integrate.quad(lambda x: q.pdf(x) * (q.logpdf(x) - p.logpdf(x)), lo, hi, limit=200)
        assert klb.gaussian_kl(mq, sq, mp, sp_) == pytest.approx(ref, abs=1e-9)


def test_gaussian_kl_sums_coordinates_and_broadcasts_a_scalar_prior():
    rng = np.random.default_rng(0)
    mu_q, s_q = rng.normal(size=(3, 4)), rng.uniform(0.1, 1, (3, 4))
    mu_p = rng.normal(size=(3, 4))
    total = klb.gaussian_kl(mu_q, s_q, mu_p, 0.5)
    parts = sum(klb.gaussian_kl(a, b, c, 0.5) for a, b, c in zip(mu_q.ravel(), s_q.ravel(), mu_p.ravel()))
    assert total == pytest.approx(parts, rel=1e-12)
    # Monte Carlo estimate E_Q[ln q − ln p]
    x = mu_q + s_q * rng.standard_normal((40_000, 3, 4))
    mc = (stats.norm.logpdf(x, mu_q, s_q) - stats.norm.logpdf(x, mu_p, 0.5)).sum(axis=(1, 2))
    assert abs(mc.mean() - total) < 4 * mc.std() / math.sqrt(mc.size)
    assert klb.gaussian_kl(mu_q, s_q, mu_q, s_q) == 0.0
    # no cancellation for Q ≈ P
    assert klb.gaussian_kl(0.0, 1.0 + 1e-9, 0.0, 1.0) == pytest.approx(1e-18, rel=1e-6)


# ----------------------------------------------------------------------------- Monte Carlo term
def test_sample_convergence_bound_constant_and_coverage():
    assert klb.sample_convergence_bound(0.2, 100, 0.01) == pytest.approx(klb.kl_inverse_upper(0.2, math.log(100) / 100))
    assert klb.sample_convergence_bound(0.2, 100, 0.01, two_sided=True) == pytest.approx(
        klb.kl_inverse_upper(0.2, math.log(200) / 100))
    # coverage: N draws of [0, 1] risks (Beta, mean 0.3) per trial; the bound must be above 0.3
    rng = np.random.default_rng(1)
    n, delta, trials = 20, 0.1, 4000
    means = rng.beta(0.6, 1.4, (trials, n)).mean(axis=1)          # mean 0.3
    upper = klb._kl_inv_upper(means, math.log(1 / delta) / n)
    cover = np.mean(upper >= 0.3)
    assert cover >= 1 - delta
    # a bound that ignores the Monte Carlo error covers only about half the time
    assert np.mean(means >= 0.3) < 0.6


# ----------------------------------------------------------------------------- certificates: reductions
def test_union_with_kl_zero_and_one_classifier_is_per_class_clopper_pearson():
    loss, y = _set([25, 25, 25, 25], [1, 5, 10, 15])
    cert = pb.target_risk_certificate(loss, y, delta=0.05)
    for j, k in enumerate([1, 5, 10, 15]):
        hi = stats.binomtest(k, 25).proportion_ci(confidence_level=1 - 2 * 0.05 / 4, method="exact").high
        assert cert.per_class_upper[j] == pytest.approx(hi, rel=1e-9)
    assert cert.bound == pytest.approx(cert.per_class_upper.mean())
    assert cert.kind == "test-set" and cert.mc_term == 0.0 and cert.num_samples == 1
    assert cert.delta_split["per_class"] == pytest.approx(0.05 / 4)


def test_pooled_with_kl_zero_is_hoeffdings_test_set_bound():
    loss, y = _set(LONG_TAIL, [50, 30, 18, 10, 6, 4, 2, 1, 1, 0])
    cert = pb.target_risk_certificate(loss, y, method="pooled", delta=0.05)
    v = np.sum(0.1 ** 2 / LONG_TAIL)
    assert cert.bound == pytest.approx(cert.empirical + math.sqrt(math.log(20) * v / 2), rel=1e-12)


def test_pooled_binomial_is_the_exact_pooled_limit():
    loss, y = _set([100] * 10, [0] * 10)
    cert = pb.target_risk_certificate(loss, y, method="auto")
    assert cert.method == "pooled-binomial"
    assert cert.bound == pytest.approx(1 - 0.05 ** (1 / 1000), rel=1e-9)       # 0.00299
    union = pb.target_risk_certificate(loss, y, method="union")
    assert union.bound == pytest.approx(1 - 0.005 ** (1 / 100), rel=1e-9)      # 0.0516


def test_pooled_binomial_refuses_unequal_weights():
    loss, y = _set([100, 50], [0, 0])
    with pytest.raises(ValueError, match="pooled-binomial"):
        pb.target_risk_certificate(loss, y, method="pooled-binomial")
    assert pb.target_risk_certificate(loss, y, method="auto").method == "pooled-chernoff"


def test_hoeffding_1956_needs_its_condition():
    """Thm. 4 of Hoeffding (1956): P(S <= b) <= Binomial(n, p̄) cdf for b <= n p̄ − 1, not above it."""
    def pb_cdf(p, b):
        pmf = np.array([1.0])
        for pi in p:
            pmf = np.convolve(pmf, [1 - pi, pi])
        return pmf[: b + 1].sum()
    rng = np.random.default_rng(3)
    for _ in range(300):
        p = rng.beta(0.5, 0.5, rng.integers(2, 30))
        n, mean = p.size, p.mean()
        for b in range(0, int(math.floor(n * mean - 1)) + 1):
            assert pb_cdf(p, b) <= stats.binom.cdf(b, n, mean) + 1e-12
    # above n p̄ − 1 it fails: p = (1, 0.98), b = 1 > 2·0.99 − 1
    assert pb_cdf([1.0, 0.98], 1) > stats.binom.cdf(1, 2, 0.99)
    # the guard: near p = 1 the pooled limit is replaced by 1 where the theorem does not cover it
    assert pooled._hoeffding_region_start(2, 0.0199) < 1.0
    assert pooled._hoeffding_region_start(1000, 0.05) == pytest.approx(0.95 ** (1 / 1000), abs=1e-4)
    # two samples, one error, δ = 0.02: the Clopper-Pearson limit sqrt(0.98) = 0.98995 is where the
    # region starts (1 − p² <= δ), so the exact pooled certificate says 1 there, not 0.98995
    assert pooled._hoeffding_region_start(2, 0.02) == pytest.approx(math.sqrt(0.98), rel=1e-9)
    cert = pb.target_risk_certificate(np.array([0.0, 1.0]), np.array([0, 1]), delta=0.02, method="pooled-binomial")
    assert cert.bound == 1.0
    cert = pb.target_risk_certificate(np.array([0.0, 0.0]), np.array([0, 1]), delta=0.02, method="pooled-binomial")
    assert cert.bound == pytest.approx(1 - math.sqrt(0.02), rel=1e-9)


def test_chernoff_is_never_looser_than_hoeffding_at_the_same_lambda():
    m, pi = LONG_TAIL.astype(float), np.full(10, 0.1)
    grid = pooled._lambda_grid(float(np.sum(pi ** 2 / m)), math.log(16 / 0.05))
    v = float(np.sum(pi ** 2 / m))
    for t in (0.0, 0.05, 0.3, 0.7):
        for budget in (3.0, 30.0):
            ch = pooled._chernoff_upper(t, m, pi, budget, grid)[0]
            ho = np.minimum(t + budget / grid + grid * v / 8, 1.0)
            assert np.all(ch <= ho + 1e-12)


# ----------------------------------------------------------------------------- where each method wins
def test_pooling_wins_with_many_small_tail_classes():
    loss, y = _set(LONG_TAIL, [0] * 10)
    b = {m: pb.target_risk_certificate(loss, y, method=m).bound for m in ("union", "pooled", "pooled-chernoff")}
    assert b["pooled-chernoff"] < b["pooled"] < b["union"]
    assert b["union"] > 3 * b["pooled-chernoff"]           # 0.197 vs 0.045
    b = {m: pb.target_risk_certificate(loss, y, kl=5.0, method=m).bound for m in ("union", "pooled-chernoff")}
    assert b["pooled-chernoff"] < 0.5 * b["union"]            # 0.115 vs 0.341


def test_union_wins_when_one_large_class_carries_the_error_and_a_small_one_is_clean():
    # classes of 1000 and 50, errors 10% and 0: the pooled statistic cannot tell which class
    # erred, the union keeps the small class's clean record: 0.0957 vs 0.1169
    loss, y = _set([1000, 50], [100, 0])
    union = pb.target_risk_certificate(loss, y, method="union").bound
    pooled = pb.target_risk_certificate(loss, y, method="pooled-chernoff").bound
    assert union < pooled - 0.01
    union = pb.target_risk_certificate(loss, y, kl=5.0, method="union").bound
    pooled = pb.target_risk_certificate(loss, y, kl=5.0, method="pooled-chernoff").bound
    assert union < pooled - 0.01


# ----------------------------------------------------------------------------- Monte Carlo, δ split, grid
def test_monte_carlo_term_and_delta_split():
    rng = np.random.default_rng(4)
    y = np.repeat(np.arange(4), [200, 100, 50, 20])
    draws = (rng.random((300, y.size)) < 0.1).astype(float)
    for method in ("union", "pooled", "pooled-chernoff"):
        cert = pb.target_risk_certificate(draws, y, kl=12.0, delta=0.05, method=method, mc_delta_fraction=0.2)
        s = cert.delta_split
        assert s["monte_carlo"] == pytest.approx(0.01) and s["pac_bayes"] == pytest.approx(0.04)
        assert cert.mc_term > 0 and cert.num_samples == 300 and cert.kind == "pac-bayes"
        assert cert.bound > cert.empirical + cert.mc_term
        if method == "union":
            assert s["per_class"] == pytest.approx(0.01) and s["monte_carlo_per_class"] == pytest.approx(0.0025)
        else:
            assert s["per_lambda"] == pytest.approx(0.04 / pooled.LAMBDA_GRID_SIZE)
        d = cert.to_dict()
        import json
        json.dumps(d)
        assert "δ split" in cert.summary() and "Monte Carlo term" in cert.summary()
    grid = pb.target_risk_certificate(draws, y, kl=12.0, prior_grid_size=8)
    one = pb.target_risk_certificate(draws, y, kl=12.0)
    assert grid.bound > one.bound and grid.delta_split["after_prior_grid"] == pytest.approx(0.05 / 8)


def test_non_vacuous_both_ways():
    good, y = _set([100] * 10, [5] * 10)
    bad, _ = _set([100] * 10, [95] * 10)
    assert pb.target_risk_certificate(good, y).non_vacuous
    assert not pb.target_risk_certificate(bad, y).non_vacuous


def test_zero_prior_class_needs_no_samples():
    loss, y = _set([50, 50, 50], [1, 2, 3])
    pi = np.array([0.5, 0.5, 0.0, 0.0])
    cert = pb.target_risk_certificate(loss, y, target_prior=pi)
    assert cert.per_class_upper[3] == 0.0 and cert.delta_split["per_class"] == pytest.approx(0.025)


# ----------------------------------------------------------------------------- bad input
_L, _Y = _set([5, 5], [1, 2])


@pytest.mark.parametrize("kwargs, match", [
    ({"kl": -1.0}, "kl must be"), ({"kl": float("nan")}, "kl must be"), ({"kl": "big"}, "kl must be"),
    ({"kl": np.complex128(1 + 1j)}, "kl must be"), ({"kl": float("inf")}, "kl must be"), ({"kl": [1.0]}, "kl must be"),
    ({"delta": 0.0}, "delta must be"), ({"delta": 1.0}, "delta must be"),
    ({"target_prior": [0.5, 0.6]}, "target_prior must sum"), ({"target_prior": "uniform"}, "target_prior must be"),
    ({"target_prior": [0.3, 0.3, 0.4]}, "no sample of classes \\[2\\]"),
    ({"num_classes": 3}, "no sample of classes \\[2\\].*num_classes"),
    ({"method": "best"}, "method must be one of"), ({"mc_delta_fraction": 1.0}, "mc_delta_fraction"),
    ({"mc_delta_fraction": 0.0}, "mc_delta_fraction"), ({"prior_grid_size": 0}, "prior_grid_size"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pb.target_risk_certificate(_L, _Y, **kwargs)


@pytest.mark.parametrize("losses, labels, match", [
    (np.zeros((0, 10)), _Y, "N = 0"),
    (_L * 2, _Y, "must lie in \\[0, 1\\]"), (_L - 0.5, _Y, "must lie in \\[0, 1\\]"),
    (np.r_[_L[:-1], np.nan], _Y, "must lie in \\[0, 1\\]"),
    (_L, np.r_[_Y[:-1], -1], "labels must be non-negative"), (_L, _Y[:-1], "labels has 9"),
    (_L, np.r_[_Y[:-1], 7], None),
])
def test_bad_losses_and_labels(losses, labels, match):
    if match is None:      # label 7 with num_classes=2 is out of range
        with pytest.raises(ValueError, match="labels must lie in"):
            pb.target_risk_certificate(losses, labels, num_classes=2)
        return
    with pytest.raises(ValueError, match=match):
        pb.target_risk_certificate(losses, labels)


@pytest.mark.parametrize("call, match", [
    (lambda: klb.kl_inverse_upper(1.2, 0.1), "q must lie"), (lambda: klb.kl_inverse_upper(0.2, -1), "budget must be"),
    (lambda: klb.kl_inverse_upper(0.2, float("nan")), "budget must be"),
    (lambda: klb.pac_bayes_kl_bound(0.1, -0.1, 100, 0.05), "kl must be"),
    (lambda: klb.pac_bayes_kl_bound(0.1, float("nan"), 100, 0.05), "kl must be"),
    (lambda: klb.pac_bayes_kl_bound(0.1, 1.0, 0, 0.05), "m must be"),
    (lambda: klb.pac_bayes_kl_bound(0.1, 1.0, 10, 1.5), "delta must be"),
    (lambda: klb.bound_lambda(0.1, 1.0, 10, 0.05, 2.0), "lam must be"),
    (lambda: klb.gaussian_kl([0.0], [0.0], 0.0, 1.0), "sigma_q must be > 0"),
    (lambda: klb.gaussian_kl([0.0, 1.0], [1.0], 0.0, 1.0), "sigma_q must have the shape"),
    (lambda: klb.sample_convergence_bound(0.1, 0, 0.05), "num_samples must be"),
])
def test_bad_input_of_the_scalar_functions(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- coverage with known risks
def _se(delta, draws):
    return math.sqrt(delta * (1 - delta) / draws)


def test_pooled_chernoff_test_set_covers_on_a_long_tailed_set():
    """1,000 long-tailed certification sets (m_j = 500 … 5) from known class errors, one fixed
    classifier: the pooled Chernoff bound (the core the public function calls, vectorised over the
    draws) covers Σ_j π_j e_j in >= 1 − δ of them at δ = 0.2 (3-standard-error allowance)."""
    rng = np.random.default_rng(21)
    counts = np.array([500, 120, 30, 8, 5])
    m = counts.astype(float)
    err = np.array([0.05, 0.1, 0.2, 0.3, 0.3])
    pi, delta, draws = np.full(5, 0.2), 0.2, 1000
    k = rng.binomial(counts, err, size=(draws, 5))
    t = (k / m) @ pi
    bounds, _ = pooled._chernoff_free(t, m, pi, math.log(1 / delta))
    cover = np.mean(bounds >= pi @ err)
    assert cover >= 1 - delta - 3 * _se(delta, draws), cover
    # the public function computes the same numbers
    for i in range(3):
        loss, y = _set(counts, k[i])
        cert = pb.target_risk_certificate(loss, y, method="pooled-chernoff", delta=delta)
        assert cert.bound == pytest.approx(bounds[i], rel=1e-12)


def _batched_bounds(k, counts, pi, kl, delta, method):
    """The certificate of one deterministic 0-1 classifier for D error-count rows k (D, C) at once,
    through the private cores the public function calls (checked equal to it on a few rows)."""
    m = counts.astype(float)
    emp = k / m
    if method == "union":
        if kl == 0:
            return pooled._binom_upper(k, m, delta / m.size) @ pi
        return klb._kl_inv_upper(emp, (kl + np.log(2 * np.sqrt(m)) - math.log(delta / m.size)) / m) @ pi
    t = emp @ pi
    v = float(np.sum(pi ** 2 / m))
    if kl == 0:
        if method == "pooled":
            return t + math.sqrt(math.log(1 / delta) * v / 2)
        return pooled._chernoff_free(t, m, pi, math.log(1 / delta))[0]
    b0 = math.log(pooled.LAMBDA_GRID_SIZE / delta)
    grid = pooled._lambda_grid(v, b0)
    if method == "pooled":
        return np.minimum((t[:, None] + (kl + b0) / grid + grid * v / 8).min(axis=1), 1.0)
    return pooled._chernoff_upper(t, m, pi, kl + b0, grid).min(axis=1)


@pytest.mark.parametrize("method", ["union", "pooled", "pooled-chernoff"])
def test_selection_on_the_certification_set_needs_the_kl_term(method):
    """PAC-Bayes with a data-dependent posterior: among M = 100 classifiers with the same class
    errors, Q = the point mass on the one with the lowest π-weighted error on S (KL(Q ‖ uniform P)
    = ln M). With kl = ln M the certificate covers the true π-risk in >= 1 − δ of 1,000 draws;
    with kl = 0 (pretending Q was fixed in advance) the pooled ones do not: selection bias. The
    union's per-class δ/C slack happens to absorb this selection (0.97 with kl = 0)."""
    rng = np.random.default_rng(22)
    counts = np.array([200, 80, 30, 10])
    err = np.array([0.05, 0.1, 0.2, 0.3])
    pi, delta, draws, n_h = np.full(4, 0.25), 0.2, 1000, 100
    k = rng.binomial(counts, err, size=(draws, n_h, 4))
    best = k[np.arange(draws), np.argmin((k / counts) @ pi, axis=1)]            # (draws, 4)
    true = float(pi @ err)
    y = np.repeat(np.arange(4), counts)
    cover = {}
    for kl in (math.log(n_h), 0.0):
        bounds = _batched_bounds(best, counts, pi, kl, delta, method)
        for i in range(3):                                                      # the public function agrees
            loss, _ = _set(counts, best[i])
            cert = pb.target_risk_certificate(loss, y, kl=kl, method=method, delta=delta)
            assert cert.bound == pytest.approx(bounds[i], rel=1e-9, abs=1e-12)
        cover[kl] = float(np.mean(bounds >= true))
    assert cover[math.log(n_h)] >= 1 - delta - 3 * _se(delta, draws)
    if method != "union":
        assert cover[0.0] < 1 - delta - 3 * _se(delta, draws)


@pytest.mark.parametrize("method", ["union", "pooled-chernoff"])
def test_monte_carlo_certificate_covers(method):
    """Q = P a stochastic classifier (sample difficulty u_z ~ U(0, 1), a draw h errs on z when
    u_z < θ_{h,j}, θ_{h,j} ~ Beta with mean L_j): N = 30 draws per certification set, kl = 0, a
    long-tailed set; the certificate with its Monte Carlo term covers Σ_j π_j L_j in >= 1 − δ of
    1,000 sets at δ = 0.2 (computed through the private cores, checked against the public
    function on three sets)."""
    rng = np.random.default_rng(23)
    counts = np.array([150, 60, 20, 8])
    y = np.repeat(np.arange(4), counts)
    mean_err = np.array([0.05, 0.1, 0.2, 0.3])
    pi, delta, draws, n, frac = np.full(4, 0.25), 0.2, 1000, 30, 0.3
    u = rng.random((draws, y.size))
    theta = rng.beta(2 * mean_err, 2 * (1 - mean_err), size=(draws, n, 4))
    losses = u[:, None, :] < theta[:, :, y]                                        # (draws, N, m)
    raw_j = np.stack([losses[:, :, y == j].mean(axis=(1, 2)) for j in range(4)], axis=1)
    d_mc, d_main = frac * delta, (1 - frac) * delta
    m = counts.astype(float)
    if method == "union":
        emp = klb._kl_inv_upper(raw_j, math.log(4 / d_mc) / n)
        bounds = klb._kl_inv_upper(emp, math.log(4 / d_main) / m) @ pi
    else:
        t = klb._kl_inv_upper(raw_j @ pi, math.log(1 / d_mc) / n)
        bounds = pooled._chernoff_free(t, m, pi, math.log(1 / d_main))[0]
    for i in range(3):
        cert = pb.target_risk_certificate(losses[i].astype(float), y, method=method, delta=delta,
                                          mc_delta_fraction=frac)
        assert cert.bound == pytest.approx(bounds[i], rel=1e-9)
        assert cert.mc_term > 0
    assert np.mean(bounds >= pi @ mean_err) >= 1 - delta - 3 * _se(delta, draws)


def test_a_pooled_kl_with_an_effective_sample_size_is_not_valid():
    """kl⁻¹(L̂_π, ln(1/δ)/n_eff) with Kish's n_eff = 1/Σ_j π_j²/m_j treats the weighted mean as a
    binomial proportion; with one large clean class and two of 5 samples it under-covers badly,
    where the pooled Chernoff bound of this module covers (module docstring)."""
    rng = np.random.default_rng(24)
    counts, err, pi = np.array([1000, 5, 5]), np.array([0.0, 0.2, 0.0]), np.array([0.5, 0.25, 0.25])
    delta, draws = 0.2, 2000
    k = rng.binomial(counts, err, size=(draws, 3))
    t = (k / counts) @ pi
    n_eff = 1 / np.sum(pi ** 2 / counts)
    eff = klb._kl_inv_upper(t, math.log(1 / delta) / n_eff)
    ours, _ = pooled._chernoff_free(t, counts.astype(float), pi, math.log(1 / delta))
    true = float(pi @ err)
    assert np.mean(eff >= true) < 1 - delta - 3 * _se(delta, draws)
    assert np.mean(ours >= true) >= 1 - delta - 3 * _se(delta, draws)


def test_chernoff_inner_maximum_against_brute_force():
    """The dual value returned for one λ is >= the maximum of π·e over a fine grid of feasible e
    (it is an upper bound) and within the grid's resolution of it (it is the maximum)."""
    m, pi = np.array([40.0, 7.0]), np.array([0.6, 0.4])
    e1, e2 = np.meshgrid(np.linspace(0, 1, 1001), np.linspace(0, 1, 1001), indexing="ij")
    for t, budget, lam in [(0.05, 3.0, 60.0), (0.2, 8.0, 15.0), (0.0, 2.0, 400.0)]:
        a = -np.expm1(-lam * pi / m)
        g = m[0] * np.log1p(-a[0] * e1) + m[1] * np.log1p(-a[1] * e2)
        feasible = lam * t + g >= -budget
        brute = float((pi[0] * e1 + pi[1] * e2)[feasible].max())
        ours = float(pooled._chernoff_upper(t, m, pi, budget, np.array([lam]))[0, 0])
        assert ours >= brute - 1e-12 and ours - brute < 2e-3, (ours, brute)


def test_empirical_bernstein_monte_carlo_term_formula_and_coverage():
    """Maurer & Pontil (2009, Thm. 4): mean + sqrt(2 V ln(2/δ)/N) + 7 ln(2/δ)/(3(N − 1)); it covers
    the mean of [0, 1] draws in >= 1 − δ of 4,000 trials, and beats the kl form when the draws
    vary little (N = 2,000 draws around 0.2 with standard deviation 0.01)."""
    rng = np.random.default_rng(25)
    vals = rng.beta(2.0, 8.0, size=(40, 1))
    d = 0.1
    lt = math.log(2 / d)
    want = vals.mean() + math.sqrt(2 * vals.var(ddof=1) * lt / 40) + 7 * lt / (3 * 39)
    assert pb._mc_upper(vals, math.log(d), "bernstein")[0] == pytest.approx(want, rel=1e-12)
    assert pb._mc_upper(vals, math.log(d), "best")[0] == pytest.approx(min(
        pb._mc_upper(vals, math.log(d / 2), "kl")[0], pb._mc_upper(vals, math.log(d / 2), "bernstein")[0]))
    delta, trials, n = 0.2, 4000, 30
    draws = rng.beta(2.0, 8.0, size=(n, trials))                                 # mean 0.2
    cover = np.mean(pb._mc_upper(draws, math.log(delta), "bernstein") >= 0.2)
    assert cover >= 1 - delta - 3 * _se(delta, trials)
    tight = 0.2 + 0.01 * rng.standard_normal((2000, 1))
    assert pb._mc_upper(tight, math.log(0.005), "bernstein")[0] < pb._mc_upper(tight, math.log(0.005), "kl")[0] - 0.02


def test_mc_bound_is_recorded_and_checked():
    rng = np.random.default_rng(26)
    y = np.repeat(np.arange(3), [100, 50, 20])
    draws = (rng.random((200, y.size)) < 0.15).astype(float)
    for how in pb.MC_BOUNDS:
        cert = pb.target_risk_certificate(draws, y, kl=4.0, mc_bound=how, method="pooled-chernoff")
        assert cert.delta_split["mc_bound"] == how and cert.mc_term > 0
    with pytest.raises(ValueError, match="mc_bound must be one of"):
        pb.target_risk_certificate(draws, y, mc_bound="hoeffding")


@pytest.mark.parametrize("method", ["union", "pooled-chernoff"])
def test_per_sample_monte_carlo_term_covers_and_needs_independent_draws(method):
    """mc_draws="per-sample": the Monte Carlo upper bound of the empirical Gibbs risk L̂_π(Q) on
    one fixed certification set (samples of unequal difficulty, so the losses of a class are
    independent but not identically distributed) covers in >= 1 − δ' of 1,000 Monte Carlo
    repetitions when every loss has its own draw, and under-covers when the same N = 3 draws are
    shared by all samples (the assumption the option states is needed, not decorative).
    Computed through the private cores, checked against the public function on three repetitions."""
    from scipy import stats

    rng = np.random.default_rng(31)
    counts = np.array([200, 50, 12])
    y = np.repeat(np.arange(3), counts)
    mean_err = np.array([0.1, 0.25, 0.4])
    pi, d_mc, reps, n = np.full(3, 1 / 3), 0.1, 1000, 3
    u = rng.random(y.size)                                          # the fixed set's sample difficulties
    a, b = 0.5 * mean_err, 0.5 * (1 - mean_err)                     # draws' error rates vary a lot
    gibbs_j = np.array([stats.beta.sf(u[y == j], a[j], b[j]).mean() for j in range(3)])   # L̂_j(Q) exactly
    target = float(pi @ gibbs_j)
    m = counts.astype(float)
    cover = {}
    for draws in ("per-sample", "shared"):
        theta = (rng.beta(a[y], b[y], size=(reps, n, y.size)) if draws == "per-sample"
                 else rng.beta(a, b, size=(reps, n, 3))[:, :, y])
        losses = (u < theta).astype(float)                                          # (reps, N, m)
        raw_j = np.stack([losses[:, :, y == j].mean(axis=(1, 2)) for j in range(3)], axis=1)
        if method == "union":
            upper = klb._kl_inv_upper(raw_j, math.log(3 / d_mc) / (n * m)) @ pi
        else:
            upper = pooled._chernoff_free(raw_j @ pi, n * m, pi, math.log(1 / d_mc))[0]
        for r in range(3):      # kl = 0, δ split 1 : 1, so the Monte Carlo level is δ/2 = d_mc
            cert = pb.target_risk_certificate(losses[r], y, kl=0.0, method=method, delta=2 * d_mc,
                                              mc_delta_fraction=0.5, mc_draws="per-sample")
            assert cert.empirical + cert.mc_term == pytest.approx(upper[r], rel=1e-9)
        cover[draws] = float(np.mean(upper >= target))
    assert cover["per-sample"] >= 1 - d_mc - 3 * _se(d_mc, reps), cover
    assert cover["shared"] < 1 - d_mc - 3 * _se(d_mc, reps), cover


def test_per_sample_draws_shrink_the_monte_carlo_term_and_are_validated():
    """The same matrix read as per-sample draws has a much smaller Monte Carlo term than read as
    N shared draws (N·m_j against N samples), and a bad ``mc_draws`` names the argument."""
    rng = np.random.default_rng(32)
    y = np.repeat(np.arange(3), [300, 60, 20])
    losses = (rng.random((5, y.size)) < 0.3).astype(float)
    for method in ("union", "pooled-chernoff"):
        shared = pb.target_risk_certificate(losses, y, kl=1.0, method=method, mc_draws="shared")
        per = pb.target_risk_certificate(losses, y, kl=1.0, method=method, mc_draws="per-sample")
        assert 0 < per.mc_term < 0.5 * shared.mc_term and per.bound < shared.bound
        assert per.delta_split["mc_draws"] == "per-sample" and per.delta_split["mc_bound"] == "chernoff"
    with pytest.raises(ValueError, match="mc_draws"):
        pb.target_risk_certificate(losses, y, mc_draws="independent")
