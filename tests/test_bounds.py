"""Eq. 6, Eq. 7 and the target-prior bound (ltbound.bounds.estimate): arithmetic, honesty, coverage, input checks."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltbound.bounds import theory
from ltbound.bounds.estimate import (BoundReport, BoundResult, check_loss_range, estimate_bounds, ib_bound,
                            sampling_bound, target_bound)
from ltbound.bounds.confidence import confidence_term, confidence_term_ib
from ltbound.bounds.sampling import sampling_distribution

COUNTS = [120, 40, 12, 4]


def make_problem(seed=0, counts=COUNTS, num_params=5, continuous=False):
    """A long-tailed toy problem: labels with the given counts, tail classes with higher loss."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(y)
    rate = np.linspace(0.05, 0.6, len(counts))[y] * np.linspace(1.3, 0.8, num_params)[:, None]
    if continuous:
        losses = np.minimum(rng.exponential(rate), 2.0)
    else:
        losses = (rng.random((num_params, y.size)) < rate).astype(np.float64)
    return losses, y


@pytest.fixture(scope="module")
def problem():
    return make_problem()


@pytest.fixture(scope="module")
def report(problem):
    losses, y = problem
    return estimate_bounds(losses, y, "CR", num_draws=200, num_bootstrap=100, theta_index=-1)


# ----------------------------------------------------------------------------- arithmetic

def test_terms_sum_to_total(report):
    """Every bound's terms sum to its total (the table is the bound)."""
    for res in (report.ib, report.sampling, report.target):
        assert math.fsum(t.value for t in res.terms) == pytest.approx(res.total, abs=1e-15)
        assert len({t.name for t in res.terms}) == len(res.terms)


def test_term_kinds_and_names(report):
    """Eq. 6 / target: objective, rademacher, monte_carlo, confidence; Eq. 7 adds residual.
    Objective, confidence and Monte Carlo deviation are rigorous; R̂ and −Q̂_n are estimates."""
    kinds = {t.name: t.kind for t in report.ib.terms}
    assert kinds == {"objective": "rigorous", "rademacher": "estimate", "monte_carlo": "rigorous",
                     "confidence": "rigorous"}
    assert {t.name: t.kind for t in report.sampling.terms} == {**kinds, "residual": "estimate"}
    assert {t.name: t.kind for t in report.target.terms} == kinds


def test_certificate_false_with_estimate_terms(report):
    """certificate is True only if every term is rigorous; a finite-Θ̂ Rademacher term never is."""
    for res in (report.ib, report.sampling, report.target):
        assert res.certificate is False
        assert res.certificate == all(t.kind == "rigorous" for t in res.terms)


def test_rademacher_and_monte_carlo_terms(report):
    """The Rademacher term is 2·value, the Monte Carlo term 2·(upper − value) >= 0, at δ_mc."""
    for res in (report.ib, report.sampling, report.target):
        rad = res.rademacher
        assert res.term("rademacher").value == 2 * rad.value
        assert res.term("monte_carlo").value == pytest.approx(2 * (rad.upper - rad.value))
        assert res.term("monte_carlo").value > 0
        assert rad.delta == pytest.approx(res.delta_split["monte_carlo"])


def test_delta_split_is_a_union_bound(problem):
    """δ = δ_McDiarmid + δ_MC; the confidence term uses (1 − f)·δ (Eq. 6)."""
    losses, y = problem
    res = ib_bound(losses, y, loss_range=1.0, delta=0.1, mc_delta_fraction=0.2, num_draws=50, theta_index=-1)
    assert sum(res.delta_split.values()) == pytest.approx(0.1)
    assert res.delta_split["monte_carlo"] == pytest.approx(0.02)
    assert res.term("confidence").value == pytest.approx(confidence_term_ib(y.size, 1.0, 0.08))


def test_objective_terms_match_definitions(problem):
    """Objectives are L^s = mean (Eq. 3), L = Σ p_j/n_j Σ_i L_ji (Eq. 4), L_π likewise."""
    losses, y = problem
    rep = estimate_bounds(losses, y, "CB", theta_index=2, num_draws=20)
    row = losses[2]
    counts = np.bincount(y)
    p = np.full(4, 0.25)
    assert rep.ib.term("objective").value == pytest.approx(row.mean())
    assert rep.sampling.term("objective").value == pytest.approx(float(row @ (p / counts)[y]))
    assert rep.target.term("objective").value == pytest.approx(float(row @ (p / counts)[y]))
    assert rep.sampling.term("confidence").value == pytest.approx(
        confidence_term(counts, p, 1.0, rep.sampling.delta_split["mcdiarmid"]))


def test_eq7_with_ib_equals_eq6(problem):
    """With p = IB and the same seed, Eq. 7 equals Eq. 6: Q̂_n = 0, L = L^s, equal confidence
    terms, one shared Rademacher estimate — equal to float rounding (weights (n_j/n)/n_j vs 1/n)."""
    losses, y = problem
    rep = estimate_bounds(losses, y, "IB", num_draws=100, seed=3, theta_index=-1)
    assert rep.sampling.rademacher is rep.ib.rademacher
    assert rep.sampling.term("residual").value == pytest.approx(0.0, abs=1e-15)
    assert rep.sampling.total == pytest.approx(rep.ib.total, rel=1e-13)
    assert rep.confidence_ratio == pytest.approx(1.0, rel=1e-13)
    # Separate calls with the same seed draw the same signs, so they agree too.
    alone = sampling_bound(losses, y, "IB", loss_range=1.0, num_draws=100, seed=3, theta_index=-1)
    assert alone.total == pytest.approx(rep.ib.total, rel=1e-13)


def test_target_with_training_prior_equals_eq6(problem):
    """The target bound with π_j = n_j/n is Eq. 6 (same objective, weights and confidence).
    Equal to float32 rounding: the sign sums run in float32 and the weights (n_j/n)/n_j and
    1/n can differ in their last float64 bit."""
    losses, y = problem
    pi = np.bincount(y) / y.size
    tgt = target_bound(losses, y, pi, loss_range=1.0, num_draws=100, seed=5, theta_index=-1)
    ib = ib_bound(losses, y, loss_range=1.0, num_draws=100, seed=5, theta_index=-1)
    assert tgt.total == pytest.approx(ib.total, rel=1e-6)
    for name in ("objective", "confidence"):
        assert tgt.term(name).value == pytest.approx(ib.term(name).value, rel=1e-12)


def test_target_with_p_shares_eq7_objective_and_confidence(problem):
    """Target(π = p) and Eq. 7 with p have the same objective L(θ) and confidence term; they
    differ by 2(R̂_w − R̂_n) + Q̂_n and bound different risks (R_p vs the long-tailed risk)."""
    losses, y = problem
    p = sampling_distribution(np.bincount(y), -1.0)
    rep = estimate_bounds(losses, y, p, target=p, num_draws=100, theta_index=-1)
    for name in ("objective", "confidence"):
        assert rep.target.term(name).value == pytest.approx(rep.sampling.term(name).value)
    diff = rep.sampling.total - rep.target.total
    expected = (rep.sampling.term("rademacher").value + rep.sampling.term("monte_carlo").value
                + rep.sampling.term("residual").value
                - rep.target.term("rademacher").value - rep.target.term("monte_carlo").value)
    assert diff == pytest.approx(expected)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), q=st.floats(-2, 2), k=st.integers(1, 6), theta=st.integers(0, 5))
def test_condition_never_positive_and_eq7_never_below_eq6(seed, q, k, theta):
    """Theorem 1 with the empirical Q̂_n: Q̂_n + L^s(θ) − L(θ) <= 0 at every row, so with
    Σ p²/n_j >= 1/n and a shared R̂, Eq. 7 >= Eq. 6 at θ (they bound the same risk)."""
    losses, y = make_problem(seed, counts=[30, 10, 3], num_params=k, continuous=True)
    rep = estimate_bounds(losses, y, q, loss_range=2.0, theta_index=theta % k, num_draws=20, seed=seed)
    assert rep.condition <= 0
    assert rep.sampling.total >= rep.ib.total - 1e-12
    gap = theory.theorem1_gap(losses, y, sampling_distribution(np.bincount(y), q), theta_index=theta % k)
    assert rep.condition == pytest.approx(gap.condition, abs=1e-12)


def test_condition_zero_at_argmin(problem):
    """The condition is 0 exactly at the row attaining Q̂_n."""
    losses, y = problem
    res = sampling_bound(losses, y, "CR", loss_range=1.0, num_draws=10, theta_index=-1)
    at = sampling_bound(losses, y, "CR", loss_range=1.0, num_draws=10, theta_index=res.residual.argmin)
    assert at.condition == 0.0


def test_bootstrap_error_reported(report):
    """With num_bootstrap > 0 the −Q̂_n term carries the bootstrap half-width as its error."""
    res = report.sampling
    half = 0.5 * (res.residual.ci_high - res.residual.ci_low)
    assert res.term("residual").error == pytest.approx(half)
    assert res.term("residual").value == -res.residual.value


def test_p_forms_agree(problem):
    """p as a sampler name, as q, or as the vector of Eq. 1 gives the same bound."""
    losses, y = problem
    counts = np.bincount(y)
    kw = dict(loss_range=1.0, num_draws=30, seed=1, theta_index=-1)
    by_name = sampling_bound(losses, y, "SQRT", **kw).total
    assert sampling_bound(losses, y, 0.5, **kw).total == by_name
    assert sampling_bound(losses, y, sampling_distribution(counts, 0.5), **kw).total == pytest.approx(by_name)


# ----------------------------------------------------------------------------- output

def test_json_round_trip(report, problem):
    """to_dict() is JSON-safe and survives a round trip; also with one sign draw (NaN error)."""
    d = report.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    losses, y = problem
    one = estimate_bounds(losses, y, "CB", num_draws=1, theta_index=-1).to_dict()
    assert json.loads(json.dumps(one, allow_nan=False)) == one
    assert one["ib"]["terms"][1]["error"] is None


def test_table_lists_every_term(report):
    """The text table names every term, its kind and the total; the report adds the comparisons."""
    text = report.table()
    for res in (report.ib, report.sampling, report.target):
        for t in res.terms:
            assert t.name in text and t.symbol in text
    assert "certificate: no" in text and "Theorem 1 condition" in text
    assert str(report) == text
    assert isinstance(report, BoundReport) and isinstance(report.ib, BoundResult)


def test_reproducible_with_same_seed(problem):
    """Same seed, same numbers; another seed, other Monte Carlo numbers."""
    losses, y = problem
    a = estimate_bounds(losses, y, "CR", num_draws=50, seed=7, num_bootstrap=20, theta_index=-1).to_dict()
    b = estimate_bounds(losses, y, "CR", num_draws=50, seed=7, num_bootstrap=20, theta_index=-1).to_dict()
    c = estimate_bounds(losses, y, "CR", num_draws=50, seed=8, num_bootstrap=20, theta_index=-1).to_dict()
    assert a == b
    assert a["ib"]["total"] != c["ib"]["total"]


def test_memmap_input_matches_array(problem, tmp_path):
    """A numpy memmap loss matrix gives the same report as the in-memory array."""
    losses, y = problem
    mm = np.lib.format.open_memmap(tmp_path / "l.npy", mode="w+", dtype=np.float32, shape=losses.shape)
    mm[:] = losses
    mm.flush()
    ro = np.load(tmp_path / "l.npy", mmap_mode="r")
    a = estimate_bounds(ro, y, "CR", num_draws=30, theta_index=-1).to_dict()
    b = estimate_bounds(losses.astype(np.float32), y, "CR", num_draws=30, theta_index=-1).to_dict()
    assert a == b


# ----------------------------------------------------------------------------- risks

def _synthetic_draw(rng, counts, mu):
    """Fixed finite class Θ: ℓ_θ(x) = 1[u < μ_θ,y] on a latent u ~ U(0, 1); risks are known."""
    y = np.repeat(np.arange(len(counts)), counts)
    u = rng.random(y.size)
    return (u[None, :] < mu[:, y]).astype(np.float64), y


def test_target_bound_covers_balanced_risk():
    """Coverage: on a fixed finite Θ with known class risks, the balanced-prior bound holds
    for all θ at once in >= 1 − δ of independent training draws, and so does Eq. 6 for the
    long-tailed risk; the objective alone (no complexity / confidence) does not."""
    counts = np.array([40, 12, 4])
    mu = np.array([[0.1, 0.3, 0.6], [0.2, 0.2, 0.2], [0.05, 0.4, 0.9], [0.3, 0.1, 0.5]])
    bal_risk = mu.mean(axis=1)
    lt_risk = mu @ (counts / counts.sum())
    rng = np.random.default_rng(11)
    draws, delta = 150, 0.1
    covered_t = covered_ib = covered_naive = 0
    for b in range(draws):
        losses, y = _synthetic_draw(rng, counts, mu)
        rep = estimate_bounds(losses, y, "IB", delta=delta, theta_index=0, num_draws=40, seed=b)
        w = (1.0 / len(counts) / counts)[y]
        obj_t = losses @ w
        bound_t = rep.target.total - rep.target.term("objective").value + obj_t
        bound_ib = rep.ib.total - rep.ib.term("objective").value + losses.mean(axis=1)
        covered_t += bool(np.all(bal_risk <= bound_t))
        covered_ib += bool(np.all(lt_risk <= bound_ib))
        covered_naive += bool(np.all(bal_risk <= obj_t))
    assert covered_t / draws >= 1 - delta
    assert covered_ib / draws >= 1 - delta
    assert covered_naive / draws < 1 - delta      # the check can fail: the terms are needed


def test_eq6_does_not_bound_balanced_risk():
    """Eq. 6 and Eq. 7 bound the long-tailed risk: with a head class learnt and a tail class
    always wrong, both sit below the balanced risk 1/2 (Eq. 7 even with CR weights: with one θ,
    −Q̂_n = L^s − L undoes the reweighting); the target bound with π uniform stays above it."""
    counts = np.array([1000, 10])
    mu = np.array([[0.0, 1.0]])
    losses, y = _synthetic_draw(np.random.default_rng(0), counts, mu)
    rep = estimate_bounds(losses, y, "CR", num_draws=100, theta_index=-1)
    balanced_risk = 0.5
    assert rep.ib.total < balanced_risk
    assert rep.sampling.total < balanced_risk
    assert rep.target.total >= balanced_risk


# ----------------------------------------------------------------------------- loss range

def test_check_loss_range_given_and_empirical():
    """check_loss_range returns (M, 'given') or (max − min, 'empirical')."""
    losses = np.array([[0.2, 0.5, 1.5]])
    assert check_loss_range(losses, 2.0) == (2.0, "given")
    assert check_loss_range(losses, None, empirical_range=True) == (pytest.approx(1.3), "empirical")


def test_empirical_range_is_not_a_certificate(problem):
    """With empirical_range=True the result says so and certificate is False."""
    losses, y = make_problem(continuous=True)
    res = ib_bound(losses, y, empirical_range=True, num_draws=20, theta_index=-1)
    assert res.loss_range_source == "empirical"
    assert res.loss_range == pytest.approx(losses.max() - losses.min())
    assert res.certificate is False
    assert "observed range" in res.term("confidence").note
    assert "observed losses" in res.table()


@pytest.mark.parametrize("loss_range, empirical, match", [
    (1.0, False, r"losses reach 2 but loss_range is 1: .*np\.minimum\(losses, cap\)"),
    (None, False, "loss_range must be given"),
    (3.0, True, "both given"),
    (0.0, False, "loss_range must be > 0"),
    (float("nan"), False, "loss_range must be finite"),
    (1.0, "yes", "empirical_range"),
])
def test_check_loss_range_rejects(loss_range, empirical, match):
    """A loss above M, a missing / ambiguous / non-positive M fail, naming the argument."""
    with pytest.raises(ValueError, match=match):
        check_loss_range(np.array([0.0, 2.0]), loss_range, empirical)


def test_empirical_range_of_constant_losses_rejected():
    """All-equal losses give a zero observed range, which cannot serve as M."""
    with pytest.raises(ValueError, match="empirical loss range is 0"):
        check_loss_range(np.ones((2, 3)), None, True)


def test_memmap_loss_above_range_rejected(tmp_path):
    """A memmapped loss matrix is scanned too: a loss above M is found."""
    mm = np.lib.format.open_memmap(tmp_path / "l.npy", mode="w+", dtype=np.float32, shape=(3, 10))
    mm[:] = 0.5
    mm[2, 7] = 3.2
    mm.flush()
    with pytest.raises(ValueError, match="losses reach 3.2"):
        check_loss_range(np.load(tmp_path / "l.npy", mmap_mode="r"), 1.0)


# ----------------------------------------------------------------------------- bad input

def _bad_losses(losses, value):
    out = losses.copy()
    out[1, 3] = value
    return out


@pytest.mark.parametrize("mutate, match", [
    (lambda l, y: (_bad_losses(l, np.nan), y), "losses must be finite"),
    (lambda l, y: (_bad_losses(l, np.inf), y), "losses must be finite"),
    (lambda l, y: (_bad_losses(l, -0.5), y), "losses must be non-negative"),
    (lambda l, y: (l[:, :-1], y), "losses has .* samples .* labels has"),
    (lambda l, y: (l, np.where(y == 3, 7, y)), "labels reach class 7 but p has 4 entries"),
    (lambda l, y: (l, np.where(y == 2, 1, y)), "empty classes"),
    (lambda l, y: (l, y.astype(float) + 0.5), "labels must hold whole numbers"),
    (lambda l, y: (l[None], y), "losses must be 1-D or 2-D"),
    (lambda l, y: (_bad_losses(l, 2.0), y), "losses reach 2 but loss_range is 1"),
])
def test_bad_data_rejected(problem, mutate, match):
    """NaN/inf/negative losses, mismatched shapes, labels outside [0, C), empty classes,
    losses above M all fail with a ValueError naming the argument."""
    losses, y = mutate(*problem)
    with pytest.raises(ValueError, match=match):
        estimate_bounds(losses, y, np.full(4, 0.25), num_draws=5, theta_index=-1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(p=float("nan")), "q"),
    (dict(p=float("inf")), "q"),
    (dict(p="XB"), "sampler"),
    (dict(p=[0.5, 0.5]), "labels reach class 3 but p has 2 entries"),
    (dict(p=[0.5, 0.5], num_classes=4), "p must have one entry per class"),
    (dict(p=[0.5, 0.5, 0.5, 0.5]), "p must sum to 1"),
    (dict(p=True), "p must be"),
    (dict(delta=0.0), "delta"),
    (dict(delta=1.0), "delta"),
    (dict(delta=float("nan")), "delta"),
    (dict(target="uniformish"), "target_prior"),
    (dict(target=[1.0, 0.0]), "target_prior has 2 entries"),
    (dict(target=[0.2] * 5), "empty classes \\[4\\]"),
    (dict(p=[0.2] * 5), "empty classes"),
    (dict(theta_index=5), "theta_index"),
    (dict(theta_index=-6), "theta_index"),
    (dict(theta_index=1.5), "theta_index"),
    (dict(num_draws=0), "num_draws"),
    (dict(seed=-1), "seed"),
    (dict(seed="a"), "seed"),
    (dict(num_bootstrap=-1), "num_bootstrap"),
    (dict(mc_delta_fraction=0.0), "mc_delta_fraction"),
    (dict(mc_delta_fraction=1.0), "mc_delta_fraction"),
    (dict(num_classes=3), "labels must lie in"),
    (dict(num_classes=0), "num_classes"),
    (dict(loss_range=-1.0), "loss_range"),
])
def test_bad_arguments_rejected(problem, kwargs, match):
    """Every argument of estimate_bounds is checked: p (vector, name, q), delta, target,
    theta_index, num_draws, seed, num_bootstrap, mc_delta_fraction, num_classes, loss_range."""
    losses, y = problem
    args = dict(p="CR", num_draws=5, theta_index=-1)
    args.update(kwargs)
    p = args.pop("p")
    with pytest.raises(ValueError, match=match):
        estimate_bounds(losses, y, p, **args)


def test_public_bounds_reject_bad_input(problem):
    """ib_bound, sampling_bound and target_bound validate at the boundary too."""
    losses, y = problem
    with pytest.raises(ValueError, match="loss_range must be given"):
        ib_bound(losses, y, theta_index=-1)
    with pytest.raises(ValueError, match="delta"):
        sampling_bound(losses, y, "CB", loss_range=1.0, delta=2.0, theta_index=-1)
    with pytest.raises(ValueError, match="target_prior"):
        target_bound(losses, y, [0.2, 0.2, 0.2, 0.5], loss_range=1.0, theta_index=-1)
    with pytest.raises(ValueError, match="losses must be finite"):
        target_bound(_bad_losses(losses, np.nan), y, loss_range=1.0, theta_index=-1)
