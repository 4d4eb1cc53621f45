"""The sympy derivations of ltbound.bounds.theory: each returned expression is what it claims to be.

Every check has two sides: the boolean sympy proved inside :mod:`ltbound.bounds.theory`, and an
independent evaluation of the returned expression at concrete rational points against
Eq. 18 computed from its definition in exact Fraction arithmetic. So a wrong expression
fails even if the internal proof step were wrong.
"""
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from ltbound.bounds import q_family, theory

CLASSES = [2, 3, 4]


def _points(c, count=5, seed=0):
    """Random exact points: decreasing counts, nondecreasing class means, a tail weight."""
    rng = np.random.default_rng(seed + c)
    for _ in range(count):
        counts = sorted((int(v) for v in rng.integers(1, 40, size=c)), reverse=True)
        means = sorted(Fraction(int(v), 7) for v in rng.integers(0, 30, size=c))
        n = sum(counts)
        pc = Fraction(counts[-1], n)
        new_tail = pc + (1 - pc) * Fraction(int(rng.integers(1, 10)), 10)
        yield counts, means, new_tail


def _residual(counts, means, weights):
    """Eq. 18 at a fixed θ from its definition, with Σ_i L_ji = n_j L̄_j, exactly."""
    n = sum(counts)
    return sum((Fraction(w) / nj - Fraction(1, n)) * nj * m for w, nj, m in zip(weights, counts, means))


def _subs(expr, symbols, values):
    return sp.nsimplify(expr.subs({s: sp.Rational(v.numerator, v.denominator) if isinstance(v, Fraction)
                                   else sp.Integer(v) for s, v in zip(symbols, values)}))


def _as_fraction(x):
    x = sp.Rational(x)
    return Fraction(int(x.p), int(x.q))


@pytest.mark.parametrize("c", CLASSES)
def test_exchange_residual_equals_eq21(c):
    """Eq. 21: swapping p_1 and p_C from IB gives (p_C − p_1)(L̄_1 − L̄_C); proved and evaluated."""
    d = theory.exchange_residual(c)
    assert d.equal and d.second_line_equal
    for counts, means, _ in _points(c):
        n = sum(counts)
        swapped = [Fraction(v, n) for v in counts]
        swapped[0], swapped[-1] = swapped[-1], swapped[0]
        oracle = _residual(counts, means, swapped)
        values = list(counts) + list(means)
        syms = list(d.counts) + list(d.means)
        assert _as_fraction(_subs(d.raw, syms, values)) == oracle
        assert _as_fraction(_subs(d.simplified, syms, values)) == oracle


@pytest.mark.parametrize("c", CLASSES)
def test_eq21_left_side_as_printed_is_identically_zero(c):
    """Eq. 21's first line printed without L_ji is Σ_j (p'_j − n_j/n) = 0 for any p'."""
    assert theory.exchange_residual(c).lhs_as_printed == 0


@pytest.mark.parametrize("c", CLASSES)
def test_exchange_residual_positive_under_assumptions(c):
    """Eq. 21 > 0 when n_1 > n_C and L̄_C > L̄_1 (proved by sympy over positive shifts)."""
    assert theory.exchange_residual(c).positive_under_assumptions


@pytest.mark.parametrize("c", CLASSES)
def test_increase_residual_closed_form(c):
    """App. B.2: residual = (p'_C − p_C)(L̄_C − Σ_{j<C} p_j L̄_j/(1 − p_C)); proved and evaluated."""
    d = theory.increase_residual(c)
    assert d.closed_form_equal and d.difference_form_equal
    syms = list(d.counts) + list(d.means) + [d.new_tail]
    for counts, means, new_tail in _points(c):
        n = sum(counts)
        pc = Fraction(counts[-1], n)
        weights = [Fraction(v, n) * (1 - new_tail) / (1 - pc) for v in counts[:-1]] + [new_tail]
        oracle = _residual(counts, means, weights)
        values = list(counts) + list(means) + [new_tail]
        assert _as_fraction(_subs(d.residual, syms, values)) == oracle
        assert _as_fraction(_subs(d.closed_form, syms, values)) == oracle
        bound = (new_tail - pc) * (means[-1] - means[-2])
        assert _as_fraction(_subs(d.paper_bound, syms, values)) == bound
        assert oracle >= bound >= 0


@pytest.mark.parametrize("c", CLASSES)
def test_increase_chain_steps_classified(c):
    """App. B.2 line by line: lines 1, 2, 4–6 are equalities; line 3 and the final >= 0 are
    inequalities under monotone class means (line 3 is an equality only for C = 2)."""
    d = theory.increase_residual(c)
    verdicts = {s.label: s.verdict for s in d.steps}
    assert [s.label for s in d.steps] == [f"line {k}" for k in range(1, 8)]
    for label in ("line 1", "line 2", "line 4", "line 5", "line 6"):
        assert verdicts[label] == "equality", label
    assert verdicts["line 3"] == ("equality" if c == 2 else "inequality")
    assert verdicts["line 7"] == "inequality"
    assert d.bound_holds_monotone and d.bound_nonnegative_monotone


@pytest.mark.parametrize("c", CLASSES)
def test_increase_line2_needs_ib_weights(c):
    """Line 2 of App. B.2 is an identity only with p_j = n_j/n (the −1/n terms cancel
    through it); with free weights it is not."""
    assert theory.increase_residual(c).line2_needs_ib


@pytest.mark.parametrize("c", CLASSES)
def test_increase_residual_nonnegative_with_largest_tail_mean(c):
    """The conclusion residual >= 0 survives with only L̄_C >= every other mean (proved)."""
    assert theory.increase_residual(c).residual_nonnegative_tail_largest


@pytest.mark.parametrize("c", [3, 4])
def test_increase_paper_bound_fails_with_only_largest_tail_mean(c):
    """Line 3 needs monotone means: at counts all 1, means (1, 0, …, 0, 1), p'_C = 1/2 the
    residual is below the paper's bound (C >= 3), though still >= 0."""
    d = theory.increase_residual(c)
    ex = d.tail_largest_counterexample
    assert ex is not None
    values = [Fraction(1)] * c + [Fraction(int(m)) for m in ex["means"]] + [Fraction(1, 2)]
    n = c
    weights = [Fraction(1, n) * (1 - values[-1]) / (1 - Fraction(1, n))] * (c - 1) + [values[-1]]
    oracle = _residual([1] * c, values[c:2 * c], weights)
    assert _as_fraction(ex["residual"]) == oracle
    assert 0 <= oracle < _as_fraction(ex["bound"])


def test_increase_no_counterexample_for_two_classes():
    """For C = 2 line 3 is an equality, so no counterexample exists."""
    assert theory.increase_residual(2).tail_largest_counterexample is None


@pytest.mark.parametrize("c", CLASSES)
def test_q_family_derivative_is_covariance(c):
    """d/dq Σ p_j(q) L̄_j = Cov_{p(q)}(L̄, log n) = ½ ΣΣ p_i p_j (L̄_i − L̄_j)(log n_i − log n_j)."""
    d = q_family.q_family_derivative(c)
    assert d.equal and d.pair_form_equal
    # Independent numeric check of the derivative by a central difference.
    rng = np.random.default_rng(c)
    counts = sorted(rng.integers(1, 100, size=c).tolist(), reverse=True)
    means = sorted(rng.uniform(0, 3, size=c).tolist())
    q0, h = -0.3, 1e-5
    fd = (q_family.q_family_residual(counts, q0 + h, means)
          - q_family.q_family_residual(counts, q0 - h, means)) / (2 * h)
    n_syms, l_syms, _ = theory.class_symbols(c)
    q = sp.Symbol("q", real=True)
    sub = {**dict(zip(n_syms, counts)), **dict(zip(l_syms, means)), q: q0}
    assert float(d.derivative.subs(sub)) == pytest.approx(fd, rel=1e-6, abs=1e-9)
    assert float(d.covariance.subs(sub)) == pytest.approx(fd, rel=1e-6, abs=1e-9)
    assert float(d.covariance.subs(sub)) <= 0  # decreasing counts, increasing means


@pytest.mark.parametrize("c", CLASSES)
def test_confidence_identity_is_chi_square(c):
    """n Σ p_j²/n_j − 1 = Σ (p_j − n_j/n)²/(n_j/n) (proved), evaluated at a random point."""
    d = q_family.confidence_identity(c)
    assert d.equal
    counts = [5 * (c - j) for j in range(c)]
    p = [Fraction(j + 1, c * (c + 1) // 2) for j in range(c)]
    n = sum(counts)
    oracle = n * sum(pj * pj / nj for pj, nj in zip(p, counts)) - 1
    n_syms, _, _ = theory.class_symbols(c)
    p_syms = sp.symbols(f"p_1:{c}", real=True)
    sub = {**dict(zip(n_syms, counts)), **{s: sp.Rational(v.numerator, v.denominator)
                                            for s, v in zip(p_syms, p[:-1])}}
    assert _as_fraction(sp.nsimplify(d.excess.subs(sub))) == oracle
    assert _as_fraction(sp.nsimplify(d.chi_square.subs(sub))) == oracle
    assert oracle > 0


def test_provably_nonnegative_is_sound_on_known_cases():
    """The coefficient check proves x² + xy >= 0 over nonnegatives and refuses x − y and
    expressions over real (not sign-constrained) symbols."""
    x, y = sp.symbols("x y", nonnegative=True)
    r = sp.Symbol("r", real=True)
    assert theory.provably_nonnegative(x ** 2 + x * y)
    assert theory.provably_nonnegative((x + 1) / (y + 2))
    assert not theory.provably_nonnegative(x - y)
    assert not theory.provably_nonnegative(r ** 2 + 1)


@pytest.mark.parametrize("bad", [1, 0, 9, 2.5, "3", True])
def test_derivations_reject_bad_num_classes(bad):
    """num_classes must be an integer in [2, 8]."""
    with pytest.raises(ValueError, match="num_classes"):
        theory.exchange_residual(bad)


def test_q_family_residual_exact_matches_float():
    """Exact (sympy) and float r(q) agree; r(IB) = 0 exactly."""
    counts, means = [50, 20, 5], [0.1, 0.5, 2.0]
    for q in ("CR", "CB", "SQRT", 1.0, -2.0):
        exact = q_family.q_family_residual(counts, q, means, exact=True)
        assert float(exact) == pytest.approx(q_family.q_family_residual(counts, q, means), rel=1e-12)
    assert q_family.q_family_residual(counts, "IB", means, exact=True) == 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(counts=[3, 0], q=0.0, class_means=[0, 1]), "counts"),
    (dict(counts=[3, 2], q=float("nan"), class_means=[0, 1]), "q"),
    (dict(counts=[3, 2], q="XX", class_means=[0, 1]), "sampler"),
    (dict(counts=[3, 2], q=0.0, class_means=[0, 1, 2]), "class_means"),
    (dict(counts=[3, 2], q=0.0, class_means=[0, float("inf")]), "class_means"),
])
def test_q_family_residual_rejects_bad_input(kwargs, match):
    """Bad counts, q or class means fail with a ValueError naming the argument."""
    with pytest.raises(ValueError, match=match):
        q_family.q_family_residual(**kwargs)


def test_theorem1_gap_rejects_bad_input():
    """theorem1_gap validates losses, labels, p and theta_index."""
    losses = np.ones((2, 4))
    labels = [0, 0, 1, 1]
    with pytest.raises(ValueError, match="losses"):
        theory.theorem1_gap(np.full((2, 4), np.nan), labels, [0.5, 0.5])
    with pytest.raises(ValueError, match="labels"):
        theory.theorem1_gap(losses, [0, 0, 1, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="p"):
        theory.theorem1_gap(losses, labels, [0.7, 0.7])
    with pytest.raises(ValueError, match="theta_index"):
        theory.theorem1_gap(losses, labels, [0.5, 0.5], theta_index=2)
    with pytest.raises(ValueError, match="losses"):
        theory.theorem1_gap(np.ones((2, 3)), labels, [0.5, 0.5])
    with pytest.raises(ValueError, match="empty"):
        theory.theorem1_gap(losses, [0, 0, 0, 0], [0.5, 0.5])


def test_confidence_excess_rejects_bad_p():
    """confidence_excess needs a probability vector with one entry per class."""
    with pytest.raises(ValueError, match="p"):
        theory.confidence_excess([3, 2], [0.5, 0.5, 0.0])
    with pytest.raises(ValueError, match="p"):
        theory.confidence_excess([3, 2], [0.9, 0.3])
