"""Every term of Eq. 6, Eq. 7 and the target bound recomputed from scratch, and Rademacher's `upper` rebuilt.

Each test recomputes a bound term by term with plain loops and the formulas as printed
(numbers below), so that a formula mutation in the library (a lost factor 2 on R, n for n_j
in a weight, the δ split swapped, a dropped rounding term) changes a number these tests pin.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from ltbound.bounds.estimate import estimate_bounds
from ltbound.bounds.rademacher import rademacher_monte_carlo

COUNTS = np.array([30, 12, 5])
M, DELTA, FRACTION, DRAWS = 2.0, 0.1, 0.3, 300


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(11)
    y = np.repeat(np.arange(3), COUNTS)
    losses = np.minimum(rng.exponential(np.array([0.2, 0.5, 0.9])[y] * rng.uniform(0.7, 1.3, (4, 1))), M)
    p = np.array([0.1, 0.3, 0.6])
    pi = np.array([0.5, 0.25, 0.25])
    rep = estimate_bounds(losses, y, p, target=pi, delta=DELTA, loss_range=M, num_draws=DRAWS, seed=5,
                          num_bootstrap=0, mc_delta_fraction=FRACTION, theta_index=-1)
    return losses, y, p, pi, rep


def _class_weighted(row, y, weights):
    """Σ_j weights_j / n_j Σ_{i in class j} L_i, by loops."""
    total = 0.0
    for j, n_j in enumerate(COUNTS):
        total += weights[j] / n_j * sum(row[i] for i in range(y.size) if y[i] == j)
    return total


def test_delta_split_charges_mcdiarmid_and_monte_carlo(setup):
    *_, rep = setup
    for res in (rep.ib, rep.sampling, rep.target):
        assert res.delta_split["mcdiarmid"] == pytest.approx((1 - FRACTION) * DELTA)
        assert res.delta_split["monte_carlo"] == pytest.approx(FRACTION * DELTA)
        assert res.rademacher.delta == pytest.approx(FRACTION * DELTA)


def test_eq6_terms_from_scratch(setup):
    losses, y, _, _, rep = setup
    n = int(COUNTS.sum())
    rad = rademacher_monte_carlo(losses, num_draws=DRAWS, seed=5, delta=FRACTION * DELTA)
    expected = {
        "objective": float(np.mean(losses[-1])),                                       # L^s(θ), Eq. 3
        "rademacher": 2.0 * rad.value,                                                 # 2 R_n (Eq. 6)
        "monte_carlo": 2.0 * (rad.upper - rad.value),
        "confidence": M * math.sqrt(math.log(1 / ((1 - FRACTION) * DELTA)) / (2 * n)),  # Eq. 6
    }
    got = {t.name: t.value for t in rep.ib.terms}
    assert got == pytest.approx(expected, rel=1e-12)


def test_eq7_terms_from_scratch(setup):
    losses, y, p, _, rep = setup
    rad = rademacher_monte_carlo(losses, num_draws=DRAWS, seed=5, delta=FRACTION * DELTA)
    # Q̂_n = min_θ Σ_j Σ_i (p_j/n_j − 1/n) L_ji(θ) (Eq. 18)
    n = int(COUNTS.sum())
    g = [_class_weighted(row, y, p) - float(np.mean(row)) for row in losses]
    assert n == y.size
    expected = {
        "objective": _class_weighted(losses[-1], y, p),                                # L(θ), Eq. 4
        "rademacher": 2.0 * rad.value,
        "monte_carlo": 2.0 * (rad.upper - rad.value),
        "residual": -min(g),
        "confidence": M * math.sqrt(float(np.sum(p ** 2 / COUNTS))) * math.sqrt(math.log(1 / ((1 - FRACTION) * DELTA)) / 2),
    }
    got = {t.name: t.value for t in rep.sampling.terms}
    assert got == pytest.approx(expected, rel=1e-12)
    assert rep.condition == pytest.approx(min(g) - g[-1], abs=1e-12)


def test_target_terms_from_scratch(setup):
    losses, y, _, pi, rep = setup
    w = np.array([pi[j] / COUNTS[j] for j in y])                                      # π_j / n_j, not π_j / n
    rad = rademacher_monte_carlo(losses, weights=w, num_draws=DRAWS, seed=5, delta=FRACTION * DELTA)
    expected = {
        "objective": _class_weighted(losses[-1], y, pi),
        "rademacher": 2.0 * rad.value,
        "monte_carlo": 2.0 * (rad.upper - rad.value),
        "confidence": M * math.sqrt(float(np.sum(pi ** 2 / COUNTS))) * math.sqrt(math.log(1 / ((1 - FRACTION) * DELTA)) / 2),
    }
    got = {t.name: t.value for t in rep.target.terms}
    assert got == pytest.approx(expected, rel=1e-12)
    # the weights matter: with π_j / n the Rademacher value differs
    wrong = rademacher_monte_carlo(losses, weights=pi[y] / y.size, num_draws=DRAWS, seed=5)
    assert abs(2 * wrong.value - expected["rademacher"]) > 1e-3


# ----------------------------------------------------------------------------- Rademacher upper
def _upper_parts(losses, weights, num_draws, delta):
    """t, r_q and r_64 of rademacher_monte_carlo's Notes, rebuilt from the documented formulas."""
    k, n = losses.shape
    tile, exact = 2048, 2.0 ** 24
    w = np.abs(weights)
    uniform = bool(np.all(w == w[0]))
    a = losses if uniform else losses * w           # equal weights are applied once, after quantising
    scale = float(w[0]) if uniform else 1.0
    half = np.empty(n)
    for s0 in range(0, n, tile):
        row = float(a[:, s0:s0 + tile].sum(axis=1).max())
        half[s0:s0 + tile] = 0.5 * scale * row / (exact - tile)
    spread = (scale if uniform else w) * losses.max(axis=0)
    c = 2.0 * (spread + half)
    t = math.sqrt(float(np.sum(c ** 2)) * math.log(1 / delta) / (2 * num_draws))
    r_q = math.sqrt(2 * math.log(k)) * math.sqrt(float(np.sum(half ** 2)))
    tiles = -(-n // tile)
    u = 2.0 ** -53
    r_64 = (tiles + 3) * u / (1 - (tiles + 3) * u) * float(spread.sum())
    return t, r_q, r_64


@pytest.mark.parametrize("weighted", [False, True])
def test_upper_is_value_plus_mcdiarmid_quantisation_and_float64_terms(weighted):
    """upper − value = t + r_q + r_64; each of r_q and r_64 is far above the float error of the check,
    so dropping either from the library's `upper` fails this test."""
    rng = np.random.default_rng(3)
    losses = rng.uniform(0, 5, size=(6, 5000))
    weights = rng.uniform(0.1, 1.0, 5000) / 5000 if weighted else np.full(5000, 1 / 5000)
    est = rademacher_monte_carlo(losses, weights=weights if weighted else None, num_draws=64, seed=1, delta=0.05)
    t, r_q, r_64 = _upper_parts(losses, weights, 64, 0.05)
    slack = abs((est.upper - est.value) - (t + r_q + r_64))
    ulp = math.ulp(est.upper) + math.ulp(est.value)
    assert slack <= 4 * ulp
    assert r_q > 100 * ulp and r_64 > 10 * ulp, (r_q, r_64, ulp)


def test_monte_carlo_docstring_states_the_tile_and_block_sizes_the_code_uses():
    from ltbound.bounds import rademacher
    doc = rademacher.rademacher_monte_carlo.__doc__
    assert f"{rademacher._TILE} columns" in doc and f"{rademacher._DRAW_BLOCK} draws" in doc
    assert "4096" not in doc and "1024" not in doc


# ----------------------------------------------------------------------------- Θ̂ fixed before D
def test_theta_fixed_adds_the_third_concentration_term(setup):
    losses, y, p, pi, plain = setup
    rep = estimate_bounds(losses, y, p, target=pi, delta=DELTA, loss_range=M, num_draws=DRAWS, seed=5,
                          num_bootstrap=0, mc_delta_fraction=FRACTION, theta_fixed=True, theta_index=-1)
    n = y.size
    half = 0.5 * (1 - FRACTION) * DELTA
    assert sum(rep.ib.delta_split.values()) == pytest.approx(DELTA)
    ib = {t.name: t for t in rep.ib.terms}
    assert ib["concentration"].value == pytest.approx(2 * M * math.sqrt(math.log(1 / half) / (2 * n)), rel=1e-12)
    assert ib["confidence"].value == pytest.approx(M * math.sqrt(math.log(1 / half) / (2 * n)), rel=1e-12)
    assert ib["rademacher"].kind == "rigorous"
    tgt = {t.name: t.value for t in rep.target.terms}
    assert tgt["concentration"] == pytest.approx(
        2 * M * math.sqrt(float(np.sum(pi ** 2 / COUNTS)) * math.log(1 / half) / 2), rel=1e-12)
    # Eq. 6 and the target bound become certificates up to the assumption; Eq. 7 keeps −Q̂_n (an estimate)
    assert rep.ib.certificate and rep.target.certificate and not rep.sampling.certificate
    assert "Θ̂ fixed before D" in rep.ib.name
    assert not plain.ib.certificate and rep.ib.total > plain.ib.total


def test_theta_fixed_reaches_the_textbook_three_m_term():
    """With (almost) no Monte Carlo share, confidence + concentration = 3M sqrt(ln(2/δ)/(2n))."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(2), [50, 10])
    losses = rng.random((3, 60))
    rep = estimate_bounds(losses, y, "CR", loss_range=1.0, delta=0.05, num_draws=10, num_bootstrap=0,
                          mc_delta_fraction=1e-12, theta_fixed=True, theta_index=-1)
    terms = {t.name: t.value for t in rep.ib.terms}
    assert terms["confidence"] + terms["concentration"] == pytest.approx(3 * math.sqrt(math.log(2 / 0.05) / 120),
                                                                         rel=1e-9)
    with pytest.raises(ValueError, match="theta_fixed must be True or False"):
        estimate_bounds(losses, y, "CR", loss_range=1.0, theta_fixed="yes", theta_index=-1)


def test_theta_fixed_eq6_covers_the_long_tailed_risk_in_the_simulator():
    """The simulator's rules are fixed before D: the certificate must cover the true LT risk."""
    from ltbound.bounds.estimate import ib_bound
    from ltbound.simulation.problems import draw_training_set, make_problem
    prob = make_problem(num_classes=5, n_max=200, imbalance=10, num_hypotheses=12, num_risk_samples=20_000, seed=0)
    lt_prior = prob.counts / prob.counts.sum()
    covered = plain_covered = 0
    draws = 40
    for i in range(draws):
        losses, y = draw_training_set(prob, np.random.default_rng([7, i]))
        theta = int(np.argmin(losses.mean(axis=1)))            # the rule training would pick
        res = ib_bound(losses, y, loss_range=1.0, delta=0.05, theta_index=theta, num_draws=100, seed=i,
                       theta_fixed=True)
        risk = float(prob.class_risks[theta] @ lt_prior)
        covered += res.total >= risk
        plain_covered += losses[theta].mean() >= risk          # the training loss alone
    assert covered == draws
    assert plain_covered < draws                               # the check can fail: training loss undercovers
