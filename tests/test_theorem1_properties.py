"""Property tests of the residual arguments behind Theorem 1 (Appendix B.2) and beyond.

Each test checks one statement, named in its function name; the docstring gives the
theorem, its assumptions and the equation number. The residual of a re-weighting p' at a
fixed θ is Eq. 18's inner sum

    g(p') = Σ_j Σ_i (p'_j / n_j − 1/n) L_ji,

computed here from per-sample losses in exact ``Fraction`` arithmetic (the oracle), so
that no float rounding can make a property pass or fail. Per-sample losses are built as
L_ji = L̄_j + e_ji with Σ_i e_ji = 0, so each class has the drawn mean exactly.
"""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ltbound.bounds import q_family, theory
from ltbound.bounds.confidence import confidence_ratio
from ltbound.bounds.sampling import sampling_distribution

# ----------------------------------------------------------------------------- strategies

MAX_CLASSES = 5


@st.composite
def decreasing_counts(draw, min_classes=2, max_classes=MAX_CLASSES, max_count=8):
    """Class counts sorted in nonincreasing order (head class first), n_j >= 1."""
    c = draw(st.integers(min_classes, max_classes))
    return sorted(draw(st.lists(st.integers(1, max_count), min_size=c, max_size=c)), reverse=True)


@st.composite
def nondecreasing_means(draw, size, strict_ends=False):
    """Class means L̄_1 <= ... <= L̄_C (tail loss larger), Fractions in [0, 10]."""
    vals = sorted(draw(st.lists(st.integers(0, 100), min_size=size, max_size=size)))
    if strict_ends and vals[0] == vals[-1]:
        vals[-1] += 1
    return [Fraction(v, 10) for v in vals]


@st.composite
def per_sample_losses(draw, counts, means):
    """Per-sample losses of each class with the given class mean exactly: L̄_j + e_ji, Σ_i e_ji = 0."""
    out = []
    for nj, m in zip(counts, means):
        e = [Fraction(v, 10) for v in draw(st.lists(st.integers(-5, 5), min_size=nj - 1, max_size=nj - 1))]
        e.append(-sum(e, Fraction(0)))
        out.append([m + ei for ei in e])
    return out


@st.composite
def probability_vectors(draw, size):
    """Exact probability vectors with positive rational entries."""
    w = draw(st.lists(st.integers(1, 20), min_size=size, max_size=size))
    s = sum(w)
    return [Fraction(v, s) for v in w]


# ----------------------------------------------------------------------------- oracles

def residual(losses_by_class, weights):
    """Eq. 18 inner sum at a fixed θ, from its definition, exactly."""
    n = sum(len(c) for c in losses_by_class)
    return sum((Fraction(w) / len(c) - Fraction(1, n)) * sum(c, Fraction(0))
               for w, c in zip(weights, losses_by_class))


def ib_weights(counts):
    n = sum(counts)
    return [Fraction(v, n) for v in counts]


def swapped_first_last(p):
    q = list(p)
    q[0], q[-1] = q[-1], q[0]
    return q


def raised_tail(counts, fraction):
    """App. B.2: p'_C = p_C + u(1 − p_C), p'_j = p_j (1 − p'_C)/(1 − p_C) for j < C."""
    p = ib_weights(counts)
    pc = p[-1]
    new_tail = pc + fraction * (1 - pc)
    return [pj * (1 - new_tail) / (1 - pc) for pj in p[:-1]] + [new_tail], pc, new_tail


def class_means_of(losses_by_class):
    return [sum(c, Fraction(0)) / len(c) for c in losses_by_class]


unit_fractions = st.integers(1, 10).map(lambda k: Fraction(k, 10))   # u in (0, 1]


# ----------------------------------------------------------------------------- Eq. 21

@st.composite
def exchange_problem(draw, ordered=True):
    counts = draw(decreasing_counts())
    means = draw(nondecreasing_means(len(counts)))
    if not ordered:
        means = means[::-1]
    losses = draw(per_sample_losses(counts, means))
    return counts, losses


@given(exchange_problem())
@example(([2, 1], [[Fraction(0), Fraction(0)], [Fraction(1)]]))
def test_exchange_residual_equals_eq21(problem):
    """Eq. 21: from IB (p_j = n_j/n), swapping p_1 and p_C gives the residual
    Σ_j Σ_i (p'_j/n_j − 1/n) L_ji = (p_C − p_1)(L̄_1 − L̄_C), for any losses."""
    counts, losses = problem
    p = ib_weights(counts)
    means = class_means_of(losses)
    assert residual(losses, swapped_first_last(p)) == (p[-1] - p[0]) * (means[0] - means[-1])


@given(exchange_problem())
@example(([2, 1], [[Fraction(0), Fraction(0)], [Fraction(1)]]))
def test_exchange_residual_positive_when_tail_is_smaller_and_worse(problem):
    """Eq. 21 and App. B.2 assumptions 2-3: if n_1 > n_C and L̄_C > L̄_1, the exchange residual is > 0."""
    counts, losses = problem
    means = class_means_of(losses)
    r = residual(losses, swapped_first_last(ib_weights(counts)))
    if counts[0] > counts[-1] and means[-1] > means[0]:
        assert r > 0
    else:
        assert r >= 0   # ties in counts or in the end means give exactly 0


@given(exchange_problem(ordered=False))
@example(([2, 1], [[Fraction(1), Fraction(1)], [Fraction(0)]]))
def test_exchange_residual_negative_when_class_mean_order_fails(problem):
    """Assumption 3 matters (Eq. 21): if the head class has the larger mean (L̄_1 > L̄_C) and
    n_1 > n_C, the exchange residual is < 0 — the paper's sign argument reverses."""
    counts, losses = problem
    means = class_means_of(losses)
    r = residual(losses, swapped_first_last(ib_weights(counts)))
    if counts[0] > counts[-1] and means[0] > means[-1]:
        assert r < 0
    else:
        assert r <= 0


# ----------------------------------------------------------------------------- App. B.2

@st.composite
def increase_problem(draw):
    counts = draw(decreasing_counts())
    means = draw(nondecreasing_means(len(counts)))
    losses = draw(per_sample_losses(counts, means))
    return counts, losses, draw(unit_fractions)


@given(increase_problem())
@example(([1, 1], [[Fraction(0)], [Fraction(1)]], Fraction(1, 2)))
def test_increase_residual_at_least_paper_bound(problem):
    """App. B.2: from IB, raising p_C to p'_C and renormalising the rest gives a residual
    >= (p'_C − p_C)(L̄_C − L̄_{C−1}) when class means are nondecreasing in j."""
    counts, losses, u = problem
    weights, pc, new_tail = raised_tail(counts, u)
    means = class_means_of(losses)
    assert residual(losses, weights) >= (new_tail - pc) * (means[-1] - means[-2])


@given(increase_problem())
def test_increase_paper_bound_nonnegative(problem):
    """App. B.2, last step: (p'_C − p_C)(L̄_C − L̄_{C−1}) >= 0 for p'_C > p_C, L̄_C >= L̄_{C−1}."""
    counts, losses, u = problem
    _, pc, new_tail = raised_tail(counts, u)
    means = class_means_of(losses)
    assert (new_tail - pc) * (means[-1] - means[-2]) >= 0


@given(increase_problem())
def test_increase_residual_equals_closed_form(problem):
    """App. B.2 exactly: residual = (p'_C − p_C)(L̄_C − Σ_{j<C} p_j L̄_j / (1 − p_C)), the tail
    mean minus the IB-weighted mean of the other classes (no ordering assumption needed)."""
    counts, losses, u = problem
    weights, pc, new_tail = raised_tail(counts, u)
    means = class_means_of(losses)
    p = ib_weights(counts)
    head = sum((pj * m for pj, m in zip(p[:-1], means[:-1])), Fraction(0)) / (1 - pc)
    assert residual(losses, weights) == (new_tail - pc) * (means[-1] - head)


@st.composite
def tail_largest_only(draw):
    """C = 3, L̄_3 >= L̄_1 > L̄_2: the tail mean is largest but the means are not monotone."""
    counts = draw(decreasing_counts(min_classes=3, max_classes=3))
    low = draw(st.integers(0, 50))
    mid = draw(st.integers(low + 1, 60))
    top = draw(st.integers(mid, 80))
    means = [Fraction(mid, 10), Fraction(low, 10), Fraction(top, 10)]
    losses = draw(per_sample_losses(counts, means))
    return counts, losses, draw(unit_fractions)


SMALLEST_COUNTEREXAMPLE = ([1, 1, 1], [[Fraction(1)], [Fraction(0)], [Fraction(1)]], Fraction(1, 4))


@given(tail_largest_only())
@example(SMALLEST_COUNTEREXAMPLE)
def test_increase_paper_bound_fails_without_monotone_means(problem):
    """Shown failing on purpose. App. B.2's middle inequality (line 3, L̄_j <= L̄_{C−1} for
    j < C) needs MONOTONE class means: with C = 3, L̄_3 largest but L̄_1 > L̄_2, the residual
    is strictly below the paper's bound (p'_C − p_C)(L̄_C − L̄_{C−1}), though still >= 0 (the
    conclusion survives; the chain does not). Pinned: the smallest case, counts (1, 1, 1),
    means (1, 0, 1), p'_3 = 1/2: residual 1/12 < bound 1/6."""
    counts, losses, u = problem
    weights, pc, new_tail = raised_tail(counts, u)
    means = class_means_of(losses)
    r = residual(losses, weights)
    bound = (new_tail - pc) * (means[-1] - means[-2])
    assert 0 <= r < bound


def test_smallest_counterexample_to_line3_is_pinned():
    """The pinned counterexample is the smallest: no C = 2 case breaks line 3 (it is an
    equality), and the first C = 3 case in order of (n, means) with a largest tail mean is
    counts (1, 1, 1), means (1, 0, 1); p'_3 = 1/2 gives residual 1/12 < bound 1/6."""
    def breaks(counts, means, u):
        losses = [[Fraction(m)] * nj for nj, m in zip(counts, means)]
        weights, pc, new_tail = raised_tail(counts, u)
        return residual(losses, weights) < (new_tail - pc) * (means[-1] - means[-2])

    grid = [Fraction(k, 4) for k in range(1, 5)]
    found = []
    for c in (2, 3):
        for counts in sorted({tuple(sorted(v, reverse=True))
                              for v in np.ndindex(*([3] * c))}, key=lambda v: (sum(v), v)):
            counts = [k + 1 for k in counts]
            for means in sorted(np.ndindex(*([2] * c)), key=lambda v: (sum(v), v)):
                if means[-1] < max(means):
                    continue     # the tail mean must be the largest
                if any(breaks(counts, means, u) for u in grid):
                    found.append((c, counts, list(means)))
    assert found, "expected a counterexample with C = 3"
    assert all(c == 3 for c, _, _ in found)
    assert found[0] == (3, [1, 1, 1], [1, 0, 1])
    counts, losses, u = SMALLEST_COUNTEREXAMPLE
    weights, pc, new_tail = raised_tail(counts, u)
    assert new_tail == Fraction(1, 2)
    assert residual(losses, weights) == Fraction(1, 12)
    assert (new_tail - pc) * (1 - 0) == Fraction(1, 6)


# ----------------------------------------------------------------------------- q-family

@st.composite
def q_problem(draw):
    c = draw(st.integers(2, 8))
    counts = sorted(draw(st.lists(st.integers(1, 5000), min_size=c, max_size=c)), reverse=True)
    # Means on a 0.01 grid in [0, 10]: exact enough that a strict sign is not lost to
    # subnormal underflow (5e-324 times a weight difference rounds to 0).
    means = sorted(v / 100 for v in draw(st.lists(st.integers(0, 1000), min_size=c, max_size=c)))
    return counts, means


TOL = 1e-12   # absolute, for float r(q) with |L̄| <= 10 and C <= 8


@given(q_problem(), st.floats(-4, 1))
@example(([5000, 2997, 1796, 1077, 645, 387, 232, 139], [0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3.0]), -1.0)
def test_q_family_residual_nonnegative_for_q_at_most_one(problem, q):
    """Beyond the paper (Eq. 1, Eq. 18): with counts nonincreasing and class means
    nondecreasing, r(q) = Σ_j (p_j(q) − n_j/n) L̄_j >= 0 for every q <= 1 (CR, CB, SQRT
    included). Reason: r(1) = 0 and r is nonincreasing in q (next test)."""
    counts, means = problem
    assert q_family.q_family_residual(counts, q, means) >= -TOL


@given(q_problem(), st.floats(-4, 3), st.floats(-4, 3))
def test_q_family_residual_nonincreasing_in_q(problem, q1, q2):
    """Beyond the paper: r'(q) = Cov_{p(q)}(L̄_J, log n_J) = ½ ΣΣ p_i p_j (L̄_i − L̄_j)(log n_i −
    log n_j) <= 0 when log n_j is nonincreasing and L̄_j nondecreasing (each pair has
    factors of opposite sign: Chebyshev's sum inequality). Equivalently p(q) for smaller q
    dominates p(q') in the likelihood-ratio order (p_j(q)/p_j(q') ∝ n_j^{q−q'} nondecreasing
    in j), so the expectation of the nondecreasing L̄ grows. Hence q1 <= q2 ⇒ r(q1) >= r(q2)."""
    counts, means = problem
    lo, hi = min(q1, q2), max(q1, q2)
    assert q_family.q_family_residual(counts, lo, means) >= q_family.q_family_residual(counts, hi, means) - TOL


@given(q_problem())
def test_q_family_residual_zero_at_ib(problem):
    """Eq. 1 with q = 1 is IB, whose residual against IB is 0 (to float rounding)."""
    counts, means = problem
    assert abs(q_family.q_family_residual(counts, "IB", means)) <= TOL


@given(q_problem())
@example(([10, 1], [0.0, 1.0]))   # reversed inside: head mean 1, tail mean 0
def test_q_family_residual_negative_when_means_decrease(problem):
    """Assumption matters: if class means *decrease* with j (head classes worse), the
    class-balanced residual r(0) is <= 0, strictly when counts and means both vary."""
    counts, means = problem
    means = means[::-1]
    r = q_family.q_family_residual(counts, "CB", means)
    assert r <= TOL
    if counts[0] > counts[-1] and means[0] > means[-1]:
        assert r < 0


# ----------------------------------------------------------------------------- confidence

@given(decreasing_counts(max_count=50).flatmap(lambda c: st.tuples(st.just(c), probability_vectors(len(c)))))
@example(([3, 1], [Fraction(3, 4), Fraction(1, 4)]))
def test_confidence_sum_at_least_one_over_n_equality_only_at_ib(problem):
    """Eq. 6 vs Eq. 7 confidence terms: Σ_j p_j²/n_j >= 1/n (Cauchy–Schwarz), with equality
    iff p_j = n_j/n (IB); every other sampler pays a larger confidence term. Exact check."""
    counts, p = problem
    n = sum(counts)
    s = sum(pj * pj / nj for pj, nj in zip(p, counts))
    if p == ib_weights(counts):
        assert s == Fraction(1, n)
    else:
        assert s > Fraction(1, n)
    excess = theory.confidence_excess(counts, [float(v) for v in p])
    assert excess == pytest.approx(float(n * s - 1), rel=1e-9, abs=1e-15)
    assert confidence_ratio(counts, [float(v) for v in p]) ** 2 == pytest.approx(float(n * s), rel=1e-12)


@given(decreasing_counts(max_count=5000), st.floats(-3, 3))
def test_confidence_excess_positive_for_q_family_unless_ib(counts, q):
    """Σ p_j(q)²/n_j > 1/n for every q != 1 when the counts are not all equal (Eq. 1, Eq. 7)."""
    p = sampling_distribution(counts, q)
    excess = theory.confidence_excess(counts, p)
    if len(set(counts)) > 1 and abs(q - 1.0) > 1e-3:
        assert excess > 0
    else:
        assert excess >= 0


# ----------------------------------------------------------------------------- Theorem 1

@st.composite
def loss_matrix_problem(draw):
    counts = draw(decreasing_counts(max_classes=4, max_count=5))
    labels = [j for j, nj in enumerate(counts) for _ in range(nj)]
    labels = draw(st.permutations(labels))
    k = draw(st.integers(1, 5))
    rows = draw(st.lists(st.lists(st.integers(0, 30), min_size=len(labels), max_size=len(labels)),
                         min_size=k, max_size=k))
    p = draw(probability_vectors(len(counts)))
    return rows, list(labels), counts, p


@given(loss_matrix_problem())
@example(([[1, 0], [0, 1]], [0, 1], [1, 1], [Fraction(1, 2), Fraction(1, 2)]))
def test_theorem1_condition_never_positive_with_empirical_q(problem):
    """Theorem 1 / Eq. 18: with the empirical Q̂_n = min_{θ'∈Θ̂} g(θ'), g = L − L^s (Eq. 3, 4),
    Q̂_n + L^s(θ) − L(θ) = min g − g(θ) <= 0 for every row θ, = 0 at the argmin. So the
    condition "Q_n + L^s − L > 0" never holds with quantities from one training set.
    Exact oracle; ltbound.bounds.theory.theorem1_gap must agree to float rounding."""
    rows, labels, counts, p = problem
    n = len(labels)
    ls = [sum((Fraction(v) for v in row), Fraction(0)) / n for row in rows]
    lw = [sum((p[y] / counts[y] * v for v, y in zip(row, labels)), Fraction(0)) for row in rows]
    q_hat = min(sum(((p[y] / counts[y] - Fraction(1, n)) * v for v, y in zip(row, labels)), Fraction(0))
                for row in rows)
    for t, _ in enumerate(rows):
        cond = q_hat + ls[t] - lw[t]
        assert cond <= 0
        got = theory.theorem1_gap(np.array(rows, dtype=float), labels, [float(v) for v in p], theta_index=t)
        assert got.condition <= 0
        assert got.condition == pytest.approx(float(cond), abs=1e-9)
    assert max(q_hat + ls[t] - lw[t] for t in range(len(rows))) == 0
