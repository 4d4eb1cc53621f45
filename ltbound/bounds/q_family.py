"""The q-family of Eq. 1 beyond the paper: how the residual moves with q, and what the confidence term costs.

* :func:`q_family_derivative` — d/dq Σ_j p_j(q) L̄_j = Cov_{p(q)}(L̄_J, log n_J), so for counts
  nonincreasing and class means nondecreasing the q-family residual r(q) is nonincreasing in q and
  r(q) >= r(1) = 0 for q <= 1 (CB, SQRT, CR included).
* :func:`confidence_identity` — n Σ_j p_j²/n_j − 1 = χ²(p ‖ p^IB) >= 0: every non-IB sampler pays
  a strictly larger confidence term in Eq. 7 than IB does in Eq. 6.
* :func:`q_family_residual` — r(q) = Σ_j (p_j(q) − n_j/n) L̄_j at a fixed θ, as a float or exactly.

The symbolic pieces use sympy (the ``[theory]`` extra) and the helpers of :mod:`ltbound.bounds.theory`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from fractions import Fraction
from typing import Any

import numpy as np

from .._validation import check_counts, check_finite_scalar
from .sampling import _distribution, sampler_q
from .theory import _check_num_classes, _is_zero, class_symbols, sp

__all__ = ["QFamilyDerivative", "ConfidenceIdentity", "q_family_derivative", "confidence_identity",
           "q_family_residual"]


# ----------------------------------------------------------------------------- q-family

@dataclass(frozen=True)
class QFamilyDerivative:
    """d/dq of E_{p(q)}[L̄_J] for the q-family of Eq. 1, and its covariance form.

    Attributes
    ----------
    derivative : sympy.Expr
        d/dq Σ_j p_j(q) L̄_j with p_j(q) = n_j^q / Σ_i n_i^q.
    covariance : sympy.Expr
        Cov_{p(q)}(L̄_J, log n_J) = Σ p_j L̄_j log n_j − (Σ p_j L̄_j)(Σ p_j log n_j).
    equal : bool
        sympy proved derivative == covariance.
    pair_form_equal : bool
        sympy proved covariance == ½ Σ_i Σ_j p_i p_j (L̄_i − L̄_j)(log n_i − log n_j)
        (the Chebyshev-sum identity behind the sign).
    """

    derivative: sp.Expr
    covariance: sp.Expr
    equal: bool
    pair_form_equal: bool


def q_family_derivative(num_classes: int) -> QFamilyDerivative:
    """Derive why the q-family residual r(q) is nonincreasing in q (beyond the paper).

    Theorem. Let p(q) be the q-family (Eq. 1) and r(q) = Σ_j (p_j(q) − n_j/n) L̄_j the
    residual of Eq. 18 at a fixed θ. Then

        r'(q) = Cov_{p(q)}(L̄_J, log n_J) = ½ Σ_i Σ_j p_i p_j (L̄_i − L̄_j)(log n_i − log n_j).

    If counts are nonincreasing and class means nondecreasing in j, every pair term is
    <= 0 (the two factors have opposite signs), so r is nonincreasing in q; since
    r(1) = 0 (IB), r(q) >= 0 for all q <= 1: SQRT, CB and CR all have a nonnegative
    residual at such a θ. (Equivalently: lowering q moves p(q) toward small classes in the
    likelihood-ratio order, p_j(q)/p_j(q') = c·n_j^{q−q'} is nondecreasing in j for q < q',
    and the expectation of a nondecreasing function increases.)

    Parameters
    ----------
    num_classes : int
        C in [2, 8].
    """
    return _q_family_derivative(_check_num_classes(num_classes))


@lru_cache(maxsize=None)
def _q_family_derivative(c: int) -> QFamilyDerivative:
    # Pure in C and sympy objects are immutable, so the (slow) derivation is cached.
    n, lbar, _ = class_symbols(c)
    q = sp.Symbol("q", real=True)
    z = sp.Add(*[nj ** q for nj in n])
    p = [nj ** q / z for nj in n]
    mean = sp.Add(*[pj * lj for pj, lj in zip(p, lbar)])
    derivative = sp.diff(mean, q)
    logs = [sp.log(nj) for nj in n]
    cov = (sp.Add(*[pj * lj * g for pj, lj, g in zip(p, lbar, logs)])
           - mean * sp.Add(*[pj * g for pj, g in zip(p, logs)]))
    pair = sp.Rational(1, 2) * sp.Add(*[p[i] * p[j] * (lbar[i] - lbar[j]) * (logs[i] - logs[j])
                                        for i in range(c) for j in range(c)])
    equal = _is_zero(derivative - cov)
    pair_equal = _is_zero(cov - pair)
    return QFamilyDerivative(derivative=derivative, covariance=cov, equal=bool(equal),
                             pair_form_equal=bool(pair_equal))


# ----------------------------------------------------------------------------- confidence

@dataclass(frozen=True)
class ConfidenceIdentity:
    """n Σ_j p_j²/n_j − 1 as a χ² divergence (Eq. 6 vs Eq. 7 confidence terms).

    Attributes
    ----------
    excess : sympy.Expr
        n Σ_j p_j²/n_j − 1 with p_C = 1 − Σ_{j<C} p_j.
    chi_square : sympy.Expr
        Σ_j (p_j − n_j/n)² / (n_j/n).
    equal : bool
        sympy proved excess == chi_square (so excess >= 0, = 0 iff p = IB).
    """

    excess: sp.Expr
    chi_square: sp.Expr
    equal: bool


def confidence_identity(num_classes: int) -> ConfidenceIdentity:
    """Prove n Σ_j p_j²/n_j − 1 = χ²(p ‖ p^IB) for a probability vector p.

    Theorem. For p on C classes (Σ p_j = 1) and π_j = n_j / n,
    n Σ_j p_j²/n_j − 1 = Σ_j p_j²/π_j − 2 Σ_j p_j + Σ_j π_j = Σ_j (p_j − π_j)²/π_j >= 0,
    with equality iff p = π. Hence the Eq. 7 confidence term M sqrt(Σ p_j²/n_j)
    sqrt(ln(1/δ)/2) is never below the Eq. 6 term M sqrt(ln(1/δ)/(2n)), and strictly above
    it for every non-IB sampler (the Cauchy–Schwarz comparison of the issue).

    Parameters
    ----------
    num_classes : int
        C in [2, 8].
    """
    return _confidence_identity(_check_num_classes(num_classes))


@lru_cache(maxsize=None)
def _confidence_identity(c: int) -> ConfidenceIdentity:
    # Pure in C and sympy objects are immutable, so the (slow) derivation is cached.
    n, _, total = class_symbols(c)
    ps = list(sp.symbols(f"p_1:{c}", real=True))
    ps.append(1 - sp.Add(*ps))
    excess = total * sp.Add(*[pj ** 2 / nj for pj, nj in zip(ps, n)]) - 1
    chi = sp.Add(*[(pj - nj / total) ** 2 / (nj / total) for pj, nj in zip(ps, n)])
    return ConfidenceIdentity(excess=excess, chi_square=chi, equal=_is_zero(excess - chi))


# ----------------------------------------------------------------------------- numeric

def _class_means(values: Any, size: int) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"class_means must be numeric, got {values!r}") from None
    if arr.ndim != 1 or arr.size != size:
        raise ValueError(f"class_means must have one entry per class ({size}), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"class_means must be finite, got {arr.tolist()}")
    return arr


def q_family_residual(counts: Any, q: str | float, class_means: Any, *,
                      exact: bool = False) -> float | sp.Expr:
    """Residual of the q-family against IB at a fixed θ: r(q) = Σ_j (p_j(q) − n_j/n) L̄_j.

    This is Eq. 18's inner sum Σ_j Σ_i (p_j/n_j − 1/n) L_ji written with class means
    L̄_j, for p = p(q) of Eq. 1. See :func:`q_family_derivative` for why r(q) >= 0 for
    q <= 1 when counts are nonincreasing and class means nondecreasing.

    Parameters
    ----------
    counts : array_like of int, shape (C,)
        n_j >= 1.
    q : float or {'IB', 'SQRT', 'CB', 'CR'}
        Exponent of Eq. 1 (finite).
    class_means : array_like, shape (C,)
        L̄_j in loss units (floats; Fractions or ints with ``exact=True``).
    exact : bool
        If True, compute in sympy with q, counts and means as exact rationals (a float is
        converted exactly: 0.1 becomes its binary value) and return a sympy number/expression
        (radicals for non-integer q); else a float computed in float64.

    Returns
    -------
    float or sympy.Expr
    """
    n_j = check_counts(counts, "counts")
    qv = sampler_q(q)
    if not exact:
        lbar = _class_means(class_means, n_j.size)
        p = _distribution(n_j, qv)
        return float(np.dot(p - n_j / n_j.sum(), lbar))
    if len(class_means) != n_j.size:
        raise ValueError(f"class_means must have one entry per class ({n_j.size}), got {len(class_means)}")
    lbar = []
    for v in class_means:
        if isinstance(v, Fraction):
            lbar.append(sp.Rational(v.numerator, v.denominator))
        else:
            lbar.append(sp.Rational(check_finite_scalar(v, "class_means")))
    qs = sp.Rational(qv)
    ns = [sp.Integer(int(x)) for x in n_j]
    z = sp.Add(*[x ** qs for x in ns])
    total = sp.Add(*ns)
    return sp.nsimplify(sp.Add(*[(x ** qs / z - x / total) * lj for x, lj in zip(ns, lbar)]))
