"""ltbound.statistics.heldout: intervals (with simulated coverage), the certified risk, paired comparisons."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ltbound.statistics import heldout as ev
from ltbound.simulation.coverage import certified_risk_coverage
from ltbound.simulation.problems import make_problem


def _test_set(rng, acc_per_class, per_class):
    per_class = np.broadcast_to(per_class, np.shape(acc_per_class))
    y = np.repeat(np.arange(len(acc_per_class)), per_class)
    return rng.random(y.size) < np.asarray(acc_per_class)[y], y


# ----------------------------------------------------------------------------- Clopper-Pearson
def test_clopper_pearson_matches_scipy_exact_interval():
    for x, m in ((0, 10), (3, 10), (10, 10), (57, 100), (1, 3)):
        lo, hi = ev.clopper_pearson(x, m, level=0.95)
        ci = stats.binomtest(x, m).proportion_ci(confidence_level=0.95, method="exact")
        assert lo == pytest.approx(ci.low, abs=1e-12) and hi == pytest.approx(ci.high, abs=1e-12)
    # closed form at x = 0: upper = 1 − (α/2)^(1/m)
    assert ev.clopper_pearson(0, 10)[1] == pytest.approx(1 - 0.025 ** 0.1, rel=1e-12)


def test_per_class_intervals_are_clopper_pearson():
    rng = np.random.default_rng(1)
    ok, y = _test_set(rng, [0.9, 0.6, 0.3], [50, 20, 7])
    rep = ev.accuracy_intervals(ok, y)
    x = np.bincount(y, weights=ok, minlength=3)
    lo, hi = ev.clopper_pearson(x, [50, 20, 7])
    np.testing.assert_allclose(rep.per_class_low, lo)
    np.testing.assert_allclose(rep.per_class_high, hi)
    np.testing.assert_allclose(rep.per_class, x / [50, 20, 7])
    assert rep.balanced[0] == pytest.approx(np.mean(x / [50, 20, 7]))
    assert rep.methods["balanced"] == "effective-n clopper-pearson"     # unequal m_j


def _coverage(acc, per_class, reps, seed, level=0.95):
    rng = np.random.default_rng(seed)
    truth = float(np.mean(acc))
    hits = 0
    method = None
    for _ in range(reps):
        ok, y = _test_set(rng, acc, per_class)
        rep = ev.accuracy_intervals(ok, y, level=level)
        hits += rep.balanced[1] <= truth <= rep.balanced[2]
        method = rep.methods["balanced"]
    return hits / reps, method


def test_balanced_interval_coverage_balanced_test_set():
    """Pooled Clopper-Pearson on a balanced test set: coverage >= 95% (Hoeffding 1956), by simulation."""
    cov, method = _coverage(np.linspace(0.98, 0.4, 10), 30, reps=1500, seed=2)
    assert method == "pooled clopper-pearson"
    assert cov >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / 1500)


@pytest.mark.parametrize("acc, m", [
    # a tail class near 50%: unsmoothed variances covered 0.92 here
    ([0.99, 0.97, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5], [400, 200, 100, 60, 30, 15, 8, 5]),
    # tail classes of 3 test images that are usually all right: unsmoothed covered 0.54
    ([0.99] * 8 + [0.95] * 2, [100] * 8 + [3, 3]),
])
def test_balanced_interval_coverage_unbalanced_test_set(acc, m):
    """Effective-n Clopper-Pearson with long-tailed test counts, by simulation."""
    cov, method = _coverage(np.array(acc), np.array(m), reps=1500, seed=3)
    assert method == "effective-n clopper-pearson"
    assert cov >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / 1500)


def test_coverage_check_can_fail_with_a_too_narrow_level():
    """The same simulation with a 50% interval covers about half the time: the check discriminates."""
    cov, _ = _coverage(np.linspace(0.98, 0.4, 10), 30, reps=600, seed=4, level=0.5)
    assert cov < 0.8


def test_shot_groups_use_training_counts():
    rng = np.random.default_rng(5)
    ok, y = _test_set(rng, [0.9] * 3 + [0.5] * 3, 40)
    rep = ev.accuracy_intervals(ok, y, train_counts=[500, 200, 150, 50, 30, 10])
    assert set(rep.groups) == {"many", "medium", "few"}
    assert rep.groups["few"] is not None and rep.groups["many"] is not None
    x = np.bincount(y, weights=ok, minlength=6) / 40
    assert rep.groups["many"][0] == pytest.approx(x[:3].mean())
    assert rep.groups["medium"][0] == pytest.approx(x[3:5].mean())
    assert rep.groups["few"][0] == pytest.approx(x[5])
    d = rep.to_dict()
    import json
    json.dumps(d)
    assert ev.accuracy_intervals(ok, y).groups == {"many": None, "medium": None, "few": None}


# ----------------------------------------------------------------------------- certified risk
def test_certified_risk_is_the_union_bound_of_one_sided_binomial_limits():
    rng = np.random.default_rng(6)
    ok, y = _test_set(rng, [0.95, 0.8, 0.6, 0.4], 25)
    res = ev.certified_risk(ok, y, delta=0.05, method="binomial")
    assert res.method == "union"
    k = 25 - np.bincount(y, weights=ok, minlength=4)
    for j in range(4):
        # one-sided upper limit at level 1 − δ/C: the upper end of a two-sided interval at 1 − 2δ/C
        hi = stats.binomtest(int(k[j]), 25).proportion_ci(confidence_level=1 - 2 * 0.05 / 4, method="exact").high
        assert res.per_class_upper[j] == pytest.approx(hi, rel=1e-9)
    assert res.bound == pytest.approx(res.per_class_upper.mean())
    assert res.empirical == pytest.approx(np.mean(k / 25))
    assert res.kind == "rigorous" and res.bound > res.empirical
    pi = np.array([0.7, 0.1, 0.1, 0.1])
    assert ev.certified_risk(ok, y, pi, method="binomial").bound == pytest.approx(pi @ res.per_class_upper)


def test_kl_inversion_is_looser_than_the_binomial_tail_and_solves_kl():
    rng = np.random.default_rng(7)
    ok, y = _test_set(rng, [0.9, 0.7, 0.5], 40)
    b = ev.certified_risk(ok, y, delta=0.1, method="binomial")
    kl = ev.certified_risk(ok, y, delta=0.1, method="kl")
    assert np.all(kl.per_class_upper >= b.per_class_upper - 1e-12)
    k = 40 - np.bincount(y, weights=ok, minlength=3)
    for j in range(3):
        q, u = k[j] / 40, kl.per_class_upper[j]
        assert ev._kl_bernoulli(q, u) == pytest.approx(math.log(3 / 0.1) / 40, rel=1e-6)


def test_certified_risk_coverage_in_the_simulator():
    """Coverage >= 1 − δ where the true balanced risk is known; the plain test error covers far less."""
    prob = make_problem(num_risk_samples=20_000, seed=0)
    res = certified_risk_coverage(prob, rule=0, per_class=20, num_draws=150, delta=0.05, seed=1)
    # the exact pooled limit (issue 23) runs close to 1 − δ: allow 3 standard errors of 150 draws
    assert res["coverage"] >= 0.95 - 3 * math.sqrt(0.05 * 0.95 / 150)
    assert res["mean_empirical"] == pytest.approx(res["true_risk"], abs=0.02)
    assert res["mean_bound"] > res["true_risk"]
    # the same count with the empirical risk in place of the bound: about half the draws
    rng = np.random.default_rng(2)
    from ltbound.simulation.problems import draw_test_set
    emp = [np.mean(1.0 - (draw_test_set(prob, 20, rng)[0][0] == 0)) for _ in range(100)]
    assert np.mean(np.array(emp) >= res["true_risk"]) < 0.8


# ----------------------------------------------------------------------------- issue 23: a tight certified risk
def _counts_set(m, k):
    y = np.repeat(np.arange(len(m)), m)
    ok = np.concatenate([np.r_[np.zeros(kk, bool), np.ones(mm - kk, bool)] for mm, kk in zip(m, k)])
    return ok, y


def test_balanced_test_set_gets_the_exact_pooled_limit():
    """100 images per class, no error: 0.0516 with the union of per-class limits, 0.0030 pooled (issue 23)."""
    ok, y = _counts_set([100] * 10, [0] * 10)
    cert = ev.certified_risk(ok, y, delta=0.05)
    assert cert.method == "pooled-binomial" and cert.per_class_upper is None
    assert cert.bound <= 0.01
    assert cert.bound == pytest.approx(1 - 0.05 ** (1 / 1000), rel=1e-9)              # 0.00299
    assert ev.certified_risk(ok, y, delta=0.05, method="binomial").bound == pytest.approx(0.0516, abs=5e-5)


def test_cifar_size_test_set_is_tighter_than_the_union():
    """1,000 test images per class, 2,250 errors in all (10% … 35% per class)."""
    k = np.rint(np.linspace(0.1, 0.35, 10) * 1000).astype(int)
    ok, y = _counts_set([1000] * 10, k)
    auto, union = ev.certified_risk(ok, y), ev.certified_risk(ok, y, method="binomial")
    assert auto.empirical == pytest.approx(0.225)
    assert union.bound == pytest.approx(0.2599, abs=1e-4) and auto.bound == pytest.approx(0.2320, abs=1e-4)
    assert (union.bound - 0.225) > 4.5 * (auto.bound - 0.225)                       # slack 0.035 vs 0.007


def test_long_tailed_test_set_and_any_prior_pool_evidence():
    m = [500, 300, 180, 108, 65, 39, 23, 14, 8, 5]
    ok, y = _counts_set(m, [0] * 10)
    auto, union = ev.certified_risk(ok, y), ev.certified_risk(ok, y, method="binomial")
    assert auto.method == "pooled-chernoff"
    assert auto.bound < 0.25 * union.bound                                          # 0.045 vs 0.197
    ok, y = _counts_set([100] * 4, [10, 10, 10, 10])
    pi = [0.4, 0.3, 0.2, 0.1]                                                        # a target prior: weights unequal
    assert ev.certified_risk(ok, y, pi).method == "pooled-chernoff"
    assert ev.certified_risk(ok, y, pi).bound < ev.certified_risk(ok, y, pi, method="binomial").bound


def _risk_coverage(method, m, err, pi, delta, draws, seed):
    rng = np.random.default_rng(seed)
    m, err = np.asarray(m), np.asarray(err)
    y = np.repeat(np.arange(m.size), m)
    true = float(np.asarray(pi) @ err)
    hit = 0
    for _ in range(draws):
        ok = rng.random(y.size) >= err[y]
        hit += ev.certified_risk(ok, y, pi, delta=delta, method=method).bound >= true
    return hit / draws


def test_certified_risk_covers_at_delta():
    """Exact pooled limit on a balanced test set with unequal class errors (the Poisson-binomial
    case): coverage >= 1 − δ at δ = 0.2 over 2,000 test sets, with a 3-standard-error allowance for
    the simulation. It runs close to 1 − δ (0.80-0.82 here), which is what makes the check bite;
    the pooled Chernoff cases are in tests/test_pacbayes.py (vectorised there)."""
    delta, draws = 0.2, 2000
    cover = _risk_coverage("auto", [60] * 5, [0.02, 0.05, 0.1, 0.2, 0.4], [0.2] * 5, delta, draws, seed=11)
    se = math.sqrt(delta * (1 - delta) / draws)
    assert 1 - delta - 3 * se <= cover <= 1 - delta + 0.05, cover


def test_an_invalid_pooled_bound_fails_the_same_coverage_check():
    """The check can fail: the plug-in normal (Wald) upper limit of Σ_j π_j k_j/m_j under-covers on
    a long-tailed test set whose small classes often show no error (0.70 at nominal 0.80)."""
    rng = np.random.default_rng(5)
    m, err = np.array([500, 120, 30, 8, 5]), np.array([0.01, 0.02, 0.05, 0.1, 0.1])
    pi, delta, draws = np.full(5, 0.2), 0.2, 2000
    k = rng.binomial(m, err, size=(draws, 5))
    t = (k / m) @ pi
    wald = t + stats.norm.isf(delta) * np.sqrt(((k / m) * (1 - k / m) / m) @ pi ** 2)
    assert np.mean(wald >= pi @ err) < 1 - delta - 3 * math.sqrt(delta * (1 - delta) / draws)


# ----------------------------------------------------------------------------- issue 24: silent certificates
def test_error_flags_instead_of_correctness_warn():
    ok, y = _counts_set([50] * 4, [45, 40, 42, 44])            # 'correct' mostly False: 0.145 < 1/4
    with pytest.warns(UserWarning, match="worse than guessing"):
        ev.certified_risk(ok, y)
    good, _ = _counts_set([50] * 4, [5, 10, 8, 6])
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ev.certified_risk(good, y)                              # a good model: no warning
    with pytest.raises(ValueError, match="correct must hold"):
        ev.certified_risk(np.full(200, 0.5), y)


def test_missing_class_is_an_error_not_a_smaller_c():
    ok, y = _counts_set([20] * 9, [2] * 9)                      # classes 0..8 only
    with pytest.raises(ValueError, match="no sample of classes \\[9\\].*num_classes = 10"):
        ev.certified_risk(ok, y, num_classes=10)
    with pytest.raises(ValueError, match="no sample of classes \\[9\\]"):
        ev.certified_risk(ok, y, np.full(10, 0.1))              # C from the prior's length
    pi = np.r_[np.full(9, 1 / 9), 0.0]                          # π_9 = 0: the class is not needed
    assert ev.certified_risk(ok, y, pi).bound < 1


@pytest.mark.parametrize("method", ev.RISK_METHODS)
def test_smallest_delta_gives_a_finite_bound(method):
    ok, y = _counts_set([40, 40], [4, 8])
    cert = ev.certified_risk(ok, y, delta=5e-324, method=method)   # ZeroDivisionError before (issue 24)
    assert 0 < cert.bound <= 1 and math.isfinite(cert.bound)


# ----------------------------------------------------------------------------- paired comparisons
def test_mcnemar_exact_small_case():
    a = np.array([1] * 10 + [1] * 5 + [0] * 5, bool)
    b = np.array([0] * 10 + [1] * 5 + [0] * 5, bool)
    p, nb, nc = ev.mcnemar_exact(a, b)
    assert (nb, nc) == (10, 0)
    assert p == pytest.approx(2 * 0.5 ** 10)
    assert ev.mcnemar_exact(a, a)[0] == 1.0


def test_compare_on_test_set_verdict_changes_with_the_data():
    rng = np.random.default_rng(8)
    y = np.repeat(np.arange(10), 100)
    base = rng.random(1000) < 0.7
    better = base | (rng.random(1000) < 0.3)           # strictly more right answers
    same = ev.compare_on_test_set(base, base, y, seed=0)
    assert same.verdict == ev.NO_DIFFERENCE and same.p_value == 1.0 and same.difference == 0.0
    up = ev.compare_on_test_set(better, base, y, seed=0)
    assert up.verdict == ev.BETTER and up.low > 0 and up.low <= up.difference <= up.high
    down = ev.compare_on_test_set(base, better, y, seed=0)
    assert down.verdict == ev.WORSE and down.high < 0
    assert down.p_value == pytest.approx(up.p_value)
    # a tiny difference on a small test set is not detectable
    flip = base.copy()
    flip[np.flatnonzero(~base)[:2]] = True
    small = ev.compare_on_test_set(flip, base, y, seed=0)
    assert small.verdict == ev.NO_DIFFERENCE and small.low <= 0 <= small.high
    assert small.method.startswith("exact McNemar")


def test_compare_on_test_set_is_seeded():
    rng = np.random.default_rng(9)
    y = np.repeat(np.arange(5), 40)
    a, b = rng.random(200) < 0.8, rng.random(200) < 0.75
    r1, r2 = ev.compare_on_test_set(a, b, y, seed=3), ev.compare_on_test_set(a, b, y, seed=3)
    assert (r1.low, r1.high) == (r2.low, r2.high)
    r3 = ev.compare_on_test_set(a, b, y, seed=4)
    assert (r3.low, r3.high) != (r1.low, r1.high)


def test_unbalanced_test_set_uses_stratified_randomization():
    rng = np.random.default_rng(10)
    y = np.repeat(np.arange(4), [200, 100, 30, 10])
    base = rng.random(y.size) < 0.6
    better = base | (rng.random(y.size) < 0.4)
    r = ev.compare_on_test_set(better, base, y, seed=0, num_bootstrap=500)
    assert r.method.startswith("stratified") and r.verdict == ev.BETTER
    same = ev.compare_on_test_set(base, base, y, seed=0, num_bootstrap=500)
    assert same.verdict == ev.NO_DIFFERENCE
    # the difference is in balanced accuracy (class means), not pooled accuracy
    acc = lambda c: np.mean([c[y == j].mean() for j in range(4)])    # noqa: E731
    assert r.difference == pytest.approx(acc(better) - acc(base))


def test_compare_over_seeds_matches_scipy_and_says_too_few():
    a, b = [0.80, 0.82, 0.81, 0.83], [0.78, 0.79, 0.80, 0.79]
    r = ev.compare_over_seeds(a, b)
    assert r.p_value == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert r.verdict == ev.BETTER and r.low > 0
    w = ev.compare_over_seeds(a, b, paired=False)
    assert w.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    noisy = ev.compare_over_seeds([0.8, 0.9, 0.7], [0.81, 0.79, 0.8])
    assert noisy.verdict == ev.NO_DIFFERENCE and noisy.low < 0 < noisy.high
    one = ev.compare_over_seeds([0.9], [0.8])
    assert one.verdict == ev.TOO_FEW and math.isnan(one.p_value)
    assert ev.compare_over_seeds(b, a).verdict == ev.WORSE
    import json
    json.dumps(one.to_dict())


def test_detectable_difference_value():
    # Table 1: IB 73.1% vs Switching 79.7% on CIFAR-10's 10,000 test images
    d = ev.detectable_difference(0.764, 10_000)
    assert d == pytest.approx(1.959964 * math.sqrt(2 * 0.764 * 0.236 / 10_000), rel=1e-6)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, match", [
    (lambda: ev.accuracy_intervals([1, 0, 2], [0, 1, 1]), "correct must hold"),
    (lambda: ev.accuracy_intervals([1, 0], [0, 1, 1]), "same test samples"),
    (lambda: ev.accuracy_intervals([1, 0], [0, 2]), "no test sample of classes \\[1\\]"),
    (lambda: ev.accuracy_intervals([1, 0], [0, 1], level=1.5), "level must be"),
    (lambda: ev.accuracy_intervals([1, 0], [0, 1], train_counts=[3]), "train_counts has 1 classes"),
    (lambda: ev.certified_risk([1, 0], [0, 1], delta=0), "delta must be"),
    (lambda: ev.certified_risk([1, 0], [0, 1], "uniform"), "target_prior must be"),
    (lambda: ev.certified_risk([1, 0], [0, 1], [0.5, 0.6]), "target_prior must sum to 1"),
    (lambda: ev.certified_risk([1, 0], [0, 1], method="hoeffding"), "method must be one of"),
    (lambda: ev.compare_on_test_set([1, 0], [1], [0, 1]), "correct_b has 1"),
    (lambda: ev.compare_over_seeds([0.8, 0.9], [0.7]), "paired=False"),
    (lambda: ev.compare_over_seeds([], [0.7]), "values_a must be"),
    (lambda: ev.clopper_pearson(5, 3), "successes <= trials"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_readme_evaluate_example_prints_what_it_says():
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "certified_risk" in b)
    ns: dict = {}
    exec(compile(block, "README.md", "exec"), ns)  # noqa: S102 - our own documentation
    assert [round(v, 3) for v in ns["acc"].balanced] == [0.767, 0.740, 0.793]
    # 0.353 with the union of per-class limits before issue 23; the exact pooled limit since
    assert round(ns["cert"].bound, 3) == 0.256
    pc = ns["pc"]
    assert pc.verdict == ev.NO_DIFFERENCE and round(pc.difference, 3) == 0.017
    assert (round(pc.low, 3), round(pc.high, 3), round(pc.p_value, 2)) == (-0.021, 0.052, 0.39)
