"""The synthetic long-tailed problem and the coverage study of the bounds (ltbound.simulation.problems).

A hand-built problem with constant rules has deterministic losses and exactly known risks,
Rademacher complexities and Q_n, so every reported number there is checked against a
closed form. The Gaussian problem is checked against closed-form risks for C = 2, Bayes
optimality, and the coverage the bounds' derivations promise.
"""
import json
import math

import numpy as np
import pytest
from scipy.stats import binom, norm

from ltbound.simulation import coverage as cov, problems as sim
from ltbound.bounds.confidence import confidence_term, confidence_term_ib
from ltbound.bounds.residual import q_residual
from ltbound.bounds.sampling import sampling_distribution

FAST = dict(num_classes=5, n_max=200, imbalance=20, separation=2.5, num_hypotheses=20,
            num_risk_samples=20_000, seed=1)
DRAWS = 60


@pytest.fixture(scope="module")
def fast_problem():
    return sim.make_problem(**FAST)


@pytest.fixture(scope="module")
def fast_result(fast_problem):
    return cov.run_coverage(fast_problem, num_draws=DRAWS, num_sign_draws=60, seed=0)


# ----------------------------------------------------------------------------- problem
def test_make_problem_geometry_and_counts(fast_problem):
    p = fast_problem
    assert p.counts.tolist() == [200, 94, 44, 21, 10]
    dist = np.linalg.norm(p.means[:, None] - p.means[None], axis=2)
    np.testing.assert_allclose(dist[~np.eye(5, dtype=bool)], 2.5)
    assert p.num_hypotheses == 20 and p.weights.shape == (20, 5, 5) and p.n == 369
    assert np.all((p.class_risks >= 0) & (p.class_risks <= 1))


def test_same_seed_same_problem_other_seed_other_rules():
    a = sim.make_problem(**{**FAST, "num_risk_samples": 2000})
    b = sim.make_problem(**{**FAST, "num_risk_samples": 2000})
    c = sim.make_problem(**{**FAST, "num_risk_samples": 2000, "seed": 2})
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.class_risks, b.class_risks)
    assert not np.array_equal(a.weights, c.weights)


def test_risk_standard_error_is_small_and_honest(fast_problem):
    """Per-class zero-one risk s.e. (unbiased variance) <= 0.5/sqrt(m − 1); the prior-weighted
    s.e. adds the classes in quadrature."""
    p = fast_problem
    assert p.class_risk_se.max() <= 0.5 / math.sqrt(p.num_risk_samples - 1) + 1e-12
    assert p.class_risk_se.max() > 0
    np.testing.assert_allclose(p.class_risk_se, np.sqrt(p.class_risks * (1 - p.class_risks)
                                                        / (p.num_risk_samples - 1)), rtol=1e-6)
    np.testing.assert_allclose(p.risk_se("balanced"), np.sqrt((p.class_risk_se ** 2).mean(axis=1) / 5))
    np.testing.assert_allclose(p.risk("lt"), p.class_risks @ (p.counts / p.n))


def test_monte_carlo_risk_matches_closed_form_for_two_classes():
    """For C = 2 a linear rule errs on class j when a_j·x + c_j <= 0, x ~ N(μ_j, I), so
    R_j = Φ(−(a_j·μ_j + c_j) / ||a_j||) exactly; the Monte Carlo must agree within 4 s.e."""
    p = sim.make_problem(num_classes=2, dim=3, n_max=100, imbalance=5, separation=2.0,
                         num_hypotheses=12, num_risk_samples=50_000, seed=4)
    for t in range(p.num_hypotheses):
        for j in range(2):
            a = p.weights[t, j] - p.weights[t, 1 - j]
            c = p.biases[t, j] - p.biases[t, 1 - j]
            exact = norm.cdf(-(a @ p.means[j] + c) / np.linalg.norm(a))
            assert abs(p.class_risks[t, j] - exact) <= 4 * p.class_risk_se[t, j] + 1e-12


def test_bayes_rules_are_optimal_for_their_priors():
    """τ = 1 on the true means is the Bayes rule of the long-tailed prior, τ = 0 of the
    balanced prior; no rule in the bank beats either on its own risk (up to 3 s.e.)."""
    p = sim.make_problem(**{**FAST, "num_hypotheses": 8, "tau_range": (0.0, 1.0)})
    assert p.taus[0] == 0.0 and p.taus[1] == 1.0
    lt, bal = p.risk("lt"), p.risk("balanced")
    assert lt[1] <= lt.min() + 3 * p.risk_se("lt").max()
    assert bal[0] <= bal.min() + 3 * p.risk_se("balanced").max()
    assert lt[1] < lt[0] and bal[0] < bal[1]


def test_ramp_loss_dominates_zero_one():
    """Same seed, same Monte Carlo points: clip(1 − m/γ, 0, 1) >= 1[m <= 0] pointwise."""
    z = sim.make_problem(**{**FAST, "num_risk_samples": 5000})
    r = sim.make_problem(**{**FAST, "num_risk_samples": 5000, "loss": "ramp", "margin": 0.5})
    assert np.all(r.class_risks >= z.class_risks - 1e-15)
    assert np.any(r.class_risks > z.class_risks)
    losses, _ = sim.draw_training_set(r, 0)
    assert losses.min() >= 0 and losses.max() <= 1


def test_draw_training_set_shapes_and_reproducibility(fast_problem):
    losses, labels = sim.draw_training_set(fast_problem, 7)
    assert losses.shape == (20, 369) and labels.tolist() == np.repeat(np.arange(5), fast_problem.counts).tolist()
    assert set(np.unique(losses)) <= {0.0, 1.0}
    again, _ = sim.draw_training_set(fast_problem, np.random.default_rng(7))
    np.testing.assert_array_equal(losses, again)


# ----------------------------------------------------------------------------- hand-built case
def _exact_max_of_sign_sums(m1, w1, m2, w2):
    """E max(w1 S_{m1}, w2 S_{m2}) for independent sums of m signs, S = 2 Bin(m, 1/2) − m."""
    s1 = 2 * np.arange(m1 + 1) - m1
    s2 = 2 * np.arange(m2 + 1) - m2
    joint = np.outer(binom.pmf(np.arange(m1 + 1), m1, 0.5), binom.pmf(np.arange(m2 + 1), m2, 0.5))
    return float(np.sum(joint * np.maximum(w1 * s1[:, None], w2 * s2[None, :])))


@pytest.fixture(scope="module")
def constant_rules():
    """Two classes (90 and 10 samples), rule 0 always says class 0, rule 1 always class 1.
    Losses are deterministic: row 0 = 1[y = 1], row 1 = 1[y = 0]; R_j exactly 0 or 1."""
    p = sim.problem_from_rules(means=[[0.0], [1.0]], counts=[90, 10], weights=np.zeros((2, 2, 1)),
                               biases=[[1.0, 0.0], [0.0, 1.0]], num_risk_samples=100, seed=0)
    res = cov.run_coverage(p, num_draws=4, delta=0.5, samplers=("IB", "CB"), num_sign_draws=2000, seed=3)
    return p, res


def test_constant_rules_risks_are_exact(constant_rules):
    p, _ = constant_rules
    np.testing.assert_array_equal(p.class_risks, [[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(p.class_risk_se, 0.0)
    np.testing.assert_allclose(p.risk("lt"), [0.1, 0.9])
    np.testing.assert_allclose(p.risk("balanced"), [0.5, 0.5])


def test_constant_rules_bound_terms_and_coverage_by_hand(constant_rules):
    p, res = constant_rules
    r_exact = _exact_max_of_sign_sums(10, 1 / 100, 90, 1 / 100)
    r_pi_exact = _exact_max_of_sign_sums(10, 0.5 / 10, 90, 0.5 / 90)
    assert res.rademacher[0] == pytest.approx(r_exact, abs=0.004)
    assert res.rademacher_target[0] == pytest.approx(r_pi_exact, abs=0.006)
    # Q̂_n = min(g) with g = L_CB − L^s = [0.5 − 0.1, 0.5 − 0.9] in every draw.
    assert res.q_n["CB"][0] == pytest.approx(-0.4, abs=1e-12) and res.q_n["CB"][1] == pytest.approx(0, abs=1e-12)
    assert res.q_n["IB"][0] == pytest.approx(0.0, abs=1e-12)

    r_bar, r_pi = res.rademacher[0], res.rademacher_target[0]
    eq6 = 0.1 + 2 * r_bar + math.sqrt(math.log(2) / 200)                         # at rule 0
    eq7_cb = 0.5 + 2 * r_bar + 0.4 + math.sqrt(0.25 / 90 + 0.25 / 10) * math.sqrt(math.log(2) / 2)
    target = 0.5 + 2 * r_pi + math.sqrt(0.25 / 90 + 0.25 / 10) * math.sqrt(math.log(2) / 2)
    b6, b7, bt = res.bound("Eq. 6 (IB)"), res.bound("Eq. 7 (CB)"), res.bound("target (balanced)")
    assert b6.mean_bound == pytest.approx(eq6, abs=1e-12)
    assert b7.mean_bound == pytest.approx(eq7_cb, abs=1e-12)
    assert bt.mean_bound == pytest.approx(target, abs=1e-12)
    assert eq6 < 0.5   # so Eq. 6 at rule 0 covers the LT risk 0.1 but not the balanced risk 0.5
    assert b6.coverage == {"lt": 1.0, "balanced": 0.0, "sampler": 1.0}
    # For all θ at once: rule 1 has L^s = 0.9 = its LT risk, so the bound holds there too.
    assert b6.uniform_coverage == {"lt": 1.0, "balanced": 0.0, "sampler": 1.0}
    assert b7.coverage == {"lt": 1.0, "balanced": 1.0, "sampler": 1.0}
    assert bt.coverage["balanced"] == 1.0 and bt.uniform_coverage["balanced"] == 1.0
    assert res.picks["IB"]["counts"] == [4, 0]
    # Theorem 1 at the CB pick (rule 0, first of a tie): Q_n − g(θ̂) = −0.4 − 0.4 < 0.
    assert res.theorem1["CB"]["mean_condition_expected"] == pytest.approx(-0.8, abs=1e-12)
    assert res.theorem1["CB"]["condition_expected"] == 0.0
    assert res.bound_gap["CB"][0] == pytest.approx(eq7_cb - eq6, abs=1e-12)


def test_coverage_counts_draws_where_bound_is_above_risk(fast_problem, fast_result):
    """Recount coverage from the per-draw picks and values against the problem's risks."""
    for b in fast_result.bounds:
        theta = np.asarray(fast_result.per_draw[f"theta/{b.name}"])
        value = np.asarray(fast_result.per_draw[f"bound/{b.name}"])
        for risk, prior in (("lt", "lt"), ("balanced", "balanced")):
            expected = np.mean(value >= fast_problem.risk(prior)[theta])
            assert b.coverage[risk] == pytest.approx(expected)


# ----------------------------------------------------------------------------- coverage
def test_same_seed_same_result(fast_problem, fast_result):
    again = cov.run_coverage(fast_problem, num_draws=DRAWS, num_sign_draws=60, seed=0).to_dict()
    first = fast_result.to_dict()
    again.pop("seconds"), first.pop("seconds")
    assert again == first
    other = cov.run_coverage(fast_problem, num_draws=DRAWS, num_sign_draws=60, seed=1)
    assert other.per_draw["rademacher"].tolist() != fast_result.per_draw["rademacher"].tolist()


def test_eq6_covers_the_lt_risk(fast_result):
    """Eq. 6 holds with probability >= 1 − δ over D; allow 3 binomial s.e. of Monte Carlo slack."""
    slack = 3 * math.sqrt(0.05 * 0.95 / DRAWS)
    b = fast_result.bound("Eq. 6 (IB)")
    assert b.coverage["lt"] >= 0.95 - slack
    assert b.uniform_coverage["lt"] >= 0.95 - slack
    assert fast_result.bound("target (balanced)").coverage["balanced"] >= 0.95 - slack


def test_eq6_does_not_cover_the_balanced_risk_on_a_long_tailed_problem(fast_result):
    """Eq. 6 bounds E^s (prior n_j/n); on imbalance 20 its pick's balanced risk is far higher."""
    b = fast_result.bound("Eq. 6 (IB)")
    assert b.mean_risk["balanced"] > b.mean_risk["lt"] + 0.1
    assert b.coverage["balanced"] < 0.5 < b.coverage["lt"]


def test_eq7_with_ib_is_eq6(fast_result):
    np.testing.assert_allclose(fast_result.per_draw["bound/Eq. 7 (IB)"], fast_result.per_draw["bound/Eq. 6 (IB)"],
                               atol=1e-12)
    assert fast_result.theorem1["IB"]["condition_expected"] == 0.0


def test_q_n_is_the_average_of_q_residual(fast_problem, fast_result):
    """Q_n (Eq. 18) is E_D of q_residual's value: redraw the same D's and recompute."""
    for i in range(3):
        losses, labels = sim.draw_training_set(fast_problem, sim.training_set_rng(0, i))
        for name, q in (("CB", 0.0), ("CR", -1.0)):
            ref = q_residual(losses, labels, sampling_distribution(fast_problem.counts, q)).value
            assert fast_result.per_draw[f"q_hat/{name}"][i] == ref
    for name in ("CB", "CR"):
        v = np.asarray(fast_result.per_draw[f"q_hat/{name}"])
        assert fast_result.q_n[name][0] == pytest.approx(v.mean())
        assert fast_result.q_n[name][1] == pytest.approx(v.std(ddof=1) / math.sqrt(DRAWS))


def test_empirical_theorem1_condition_never_holds(fast_result):
    """With Q̂_n from the same D, Q̂_n + L^s(θ) − L(θ) = min g − g(θ) <= 0 (DESIGN.md)."""
    for t in fast_result.theorem1.values():
        assert t["condition_empirical"] == 0.0
        assert t["max_condition_empirical"] <= 1e-12


def test_rademacher_estimate_below_massart(fast_result):
    assert 0 < fast_result.rademacher[0] < fast_result.massart


def test_bound_constants_use_the_confidence_library(fast_problem, fast_result):
    """Eq. 6 minus its objective is 2 R̄_n + M sqrt(ln(1/δ)/(2n)) in every draw."""
    losses, labels = sim.draw_training_set(fast_problem, sim.training_set_rng(0, 0))
    theta = fast_result.per_draw["theta/Eq. 6 (IB)"][0]
    expected = losses[theta].mean() + 2 * fast_result.rademacher[0] + confidence_term_ib(369, 1.0, 0.05)
    assert fast_result.per_draw["bound/Eq. 6 (IB)"][0] == pytest.approx(expected, abs=1e-12)
    assert confidence_term(fast_problem.counts, fast_problem.lt_prior, 1.0, 0.05) == \
        pytest.approx(confidence_term_ib(369, 1.0, 0.05))


def test_result_is_json_safe_and_tabulates(fast_result):
    d = json.loads(json.dumps(fast_result.to_dict()))
    assert d["num_draws"] == DRAWS and len(d["bounds"]) == 5
    text = fast_result.table()
    for name in ("Eq. 6 (IB)", "Eq. 7 (CR)", "target (balanced)", "Theorem 1"):
        assert name in text
    with pytest.raises(ValueError, match="no bound named"):
        fast_result.bound("Eq. 9")


def test_ramp_loss_coverage_runs():
    p = sim.make_problem(**{**FAST, "loss": "ramp", "num_risk_samples": 5000, "num_hypotheses": 8})
    r = cov.run_coverage(p, num_draws=10, num_sign_draws=20, samplers=("CR",))
    assert r.problem["loss"] == "ramp" and r.bound("Eq. 7 (CR)").coverage["lt"] >= 0.0
    assert [b.name for b in r.bounds] == ["Eq. 6 (IB)", "Eq. 7 (CR)", "target (balanced)"]


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(num_classes=1), "num_classes"),
    (dict(dim=3), "dim must be >= num_classes"),
    (dict(separation=0.0), "separation"),
    (dict(loss="hinge"), "loss must be one of"),
    (dict(margin=-1.0), "margin"),
    (dict(n_max=5, imbalance=100), "empty classes"),
    (dict(imbalance=0.5), "imbalance"),
    (dict(num_hypotheses=1), "num_hypotheses"),
    (dict(tau_range=(1.0, 0.0)), "tau_range"),
    (dict(tau_range=1.0), "tau_range"),
    (dict(perturbation=-0.1), "perturbation"),
    (dict(num_risk_samples=1), "num_risk_samples"),
    (dict(seed=-1), "seed"),
])
def test_make_problem_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sim.make_problem(**{**FAST, "num_risk_samples": 1000, **kwargs})


def test_problem_from_rules_bad_input():
    ok = dict(means=[[0.0], [1.0]], counts=[5, 2], weights=np.zeros((2, 2, 1)), biases=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="weights must have shape"):
        sim.problem_from_rules(**{**ok, "weights": np.zeros((2, 3, 1))})
    with pytest.raises(ValueError, match="biases must have shape"):
        sim.problem_from_rules(**{**ok, "biases": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="counts must have one entry per class"):
        sim.problem_from_rules(**{**ok, "counts": [5, 2, 1]})
    with pytest.raises(ValueError, match="empty classes"):
        sim.problem_from_rules(**{**ok, "counts": [5, 0]})
    with pytest.raises(ValueError, match="means"):
        sim.problem_from_rules(**{**ok, "means": [[0.0], [np.nan]]})
    with pytest.raises(ValueError, match="taus"):
        sim.problem_from_rules(**ok, taus=[1.0])


def test_run_coverage_bad_input(fast_problem):
    with pytest.raises(ValueError, match="num_draws"):
        cov.run_coverage(fast_problem, num_draws=1)
    with pytest.raises(ValueError, match="delta"):
        cov.run_coverage(fast_problem, num_draws=2, delta=0.0)
    with pytest.raises(ValueError, match="samplers must be a non-empty tuple"):
        cov.run_coverage(fast_problem, num_draws=2, samplers="CR")
    with pytest.raises(ValueError, match="distinct"):
        cov.run_coverage(fast_problem, num_draws=2, samplers=("CR", "cr"))
    with pytest.raises(ValueError, match="sampler must be one of"):
        cov.run_coverage(fast_problem, num_draws=2, samplers=("XY",))
    with pytest.raises(ValueError, match="num_sign_draws"):
        cov.run_coverage(fast_problem, num_draws=2, num_sign_draws=0)
    with pytest.raises(ValueError, match="SimProblem"):
        cov.run_coverage({"counts": [1, 2]})
    with pytest.raises(ValueError, match="rng"):
        sim.draw_training_set(fast_problem, -3)
    with pytest.raises(ValueError, match="prior"):
        fast_problem.risk("uniform")


def test_confidence_difference_is_part_of_the_gap(fast_result):
    """Eq. 7's confidence term exceeds Eq. 6's (Cauchy–Schwarz), by exactly the reported amount."""
    for name, t in fast_result.theorem1.items():
        assert t["confidence_difference"] >= -1e-15
    assert fast_result.theorem1["IB"]["confidence_difference"] == pytest.approx(0.0, abs=1e-12)
    assert fast_result.theorem1["CR"]["confidence_difference"] > 0


def test_command_line_writes_json(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parents[1] / "experiments" / "simulate_coverage.py"
    out = tmp_path / "study.json"
    res = subprocess.run([sys.executable, str(script), "--preset", "small", "--draws", "4", "--sign-draws", "10",
                          "--samplers", "CR", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    d = json.loads(out.read_text())
    assert d["preset"] == "small" and d["num_draws"] == 4 and d["samplers"] == ["CR"]
    assert "Eq. 7 (CR)" in res.stdout
