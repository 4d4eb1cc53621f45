"""Theory as code: the residual arguments of Appendix B.2, re-derived with sympy and checked.

Theorem 1 of the paper compares the IB bound (Eq. 6) with the class-sampling bound (Eq. 7).
Its proof (Appendix B.2) studies the *residual* of a re-weighting p' against IB,

    g(p') = Σ_j Σ_{i=1}^{n_j} (p'_j / n_j − 1/n) L_ji = Σ_j (p'_j − n_j / n) L̄_j,       (Eq. 18)

written with the class means L̄_j = (1/n_j) Σ_i L_ji, and argues that g > 0 when tail
weights go up. The functions below derive each step symbolically for small C and *return*
the sympy expressions together with what sympy could prove about them, so that a test (or a
reader) can check the paper line by line:

* :func:`exchange_residual` — swapping p_1 and p_C from IB gives (p_C − p_1)(L̄_1 − L̄_C)
  (Eq. 21). True; Eq. 21's left-hand side is printed without the loss factors L_ji (as
  written it is Σ_j (p_j − n_j/n) = 0 for every probability vector).
* :func:`increase_residual` — raising the tail weight and renormalising (App. B.2). The
  first two lines are equalities (the second needs p = IB), the third is the only
  inequality and needs L̄_j <= L̄_{C−1} for every j < C (monotone class means give it; a
  largest tail mean alone does not), the next three "≥" are equalities, and the last needs
  L̄_C >= L̄_{C−1}. The exact residual is (p'_C − p_C)(L̄_C − Σ_{j<C} p_j L̄_j / (1 − p_C)).
* :func:`~ltbound.bounds.q_family.q_family_derivative` (in :mod:`ltbound.bounds.q_family`) — beyond the paper: d/dq Σ_j p_j(q) L̄_j = Cov_{p(q)}(L̄_J,
  log n_J), so for counts nonincreasing and class means nondecreasing the q-family residual
  r(q) is nonincreasing in q and r(q) >= r(1) = 0 for q <= 1 (CB, SQRT, CR included).
* :func:`~ltbound.bounds.q_family.confidence_identity` (idem) — n Σ_j p_j²/n_j − 1 = χ²(p ‖ p^IB) >= 0: every non-IB
  sampler pays a strictly larger confidence term in Eq. 7 than IB does in Eq. 6.
* :func:`theorem1_gap` — the key negative fact: with the *empirical* Q̂_n over a finite Θ̂
  that contains θ, Theorem 1's condition Q̂_n + L^s(θ) − L(θ) = min_θ' g(θ') − g(θ) <= 0.

All residual statements here are about one fixed θ (the class means of one model). The
paper's Q_n (Eq. 18) is E_D[inf_θ g(θ)]; a positive residual at each θ under an ordering
assumption that must hold for *every* θ ∈ Θ is what B.2 would need to conclude Q_n > 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .._optional import require
from .._validation import check_positive_int
# The numeric Theorem-1 functions live in ltbound.bounds.theorem1 (numpy only); re-exported here.
from .theorem1 import Theorem1Gap, confidence_excess, theorem1_condition, theorem1_gap  # noqa: F401

sp = require("sympy", "ltbound.bounds.theory (the symbolic derivations)")

__all__ = [
    "DerivationStep", "ExchangeResidual", "IncreaseResidual", "Theorem1Gap",
    "class_symbols", "exchange_residual", "increase_residual", "confidence_excess", "theorem1_gap",
    "provably_nonnegative",
]


# ----------------------------------------------------------------------------- helpers

def _check_num_classes(num_classes: Any, minimum: int = 2) -> int:
    c = check_positive_int(num_classes, "num_classes", minimum=minimum)
    if c > 8:
        # Symbolic simplification grows quickly with C; the statements are uniform in C
        # and small C is what the derivations are for.
        raise ValueError(f"num_classes must be <= 8 for the symbolic derivations, got {c}")
    return c


def class_symbols(num_classes: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...], sp.Expr]:
    """Sympy symbols for C classes: counts n_1..n_C (positive), class means L̄_1..L̄_C (real).

    Returns
    -------
    counts : tuple of sympy.Symbol, length C
    means : tuple of sympy.Symbol, length C
    total : sympy.Expr
        n = n_1 + ... + n_C.
    """
    c = _check_num_classes(num_classes, minimum=1)
    n = sp.symbols(f"n_1:{c + 1}", positive=True)
    lbar = sp.symbols(f"Lbar_1:{c + 1}", real=True)
    return tuple(n), tuple(lbar), sp.Add(*n)


def _residual(weights: list[sp.Expr], counts: tuple[sp.Symbol, ...],
              means: tuple[sp.Symbol, ...], total: sp.Expr) -> sp.Expr:
    # Eq. 18 at fixed θ with Σ_i L_ji = n_j L̄_j: Σ_j n_j (p'_j / n_j − 1/n) L̄_j.
    return sp.Add(*[nj * (wj / nj - 1 / total) * lj for wj, nj, lj in zip(weights, counts, means)])


def _is_zero(expr: sp.Expr) -> bool:
    # cancel() over a common denominator decides rational identities exactly (logs and
    # powers are treated as generators); simplify() is the slower fallback.
    if sp.cancel(sp.together(expr)) == 0:
        return True
    return sp.simplify(expr) == 0


def provably_nonnegative(expr: sp.Expr) -> bool:
    """A sound (not complete) check that ``expr`` >= 0 for all values of its symbols.

    Every free symbol must be declared nonnegative (or positive). The expression is put
    over a common denominator; it is reported nonnegative when the expanded numerator and
    denominator are polynomials whose coefficients are all >= 0 (and the denominator is
    not identically 0). ``False`` means "not proved", not "negative".
    """
    expr = sp.cancel(sp.together(sp.sympify(expr)))
    if any(not (s.is_nonnegative or s.is_positive) for s in expr.free_symbols):
        return False
    num, den = (sp.expand(part) for part in sp.fraction(sp.together(expr)))
    if den == 0:
        return False
    return _nonnegative_coefficients(num) and _nonnegative_coefficients(den)


def _nonnegative_coefficients(poly_expr: sp.Expr) -> bool:
    if poly_expr == 0:
        return True
    gens = sorted(poly_expr.free_symbols, key=str)
    if not gens:
        return bool(poly_expr >= 0)
    try:
        poly = sp.Poly(poly_expr, *gens)
    except sp.PolynomialError:
        return False  # e.g. logs or symbolic powers: not a polynomial, not proved
    return all(coef >= 0 for coef in poly.coeffs())


# ----------------------------------------------------------------------------- Eq. 21

@dataclass(frozen=True)
class ExchangeResidual:
    """Residual of swapping the weights of class 1 and class C from IB (Eq. 21).

    Attributes
    ----------
    counts, means : tuple of sympy.Symbol
        n_1..n_C and L̄_1..L̄_C.
    raw : sympy.Expr
        Σ_j n_j (p'_j / n_j − 1/n) L̄_j with p' = IB weights with p_1 and p_C swapped.
    simplified : sympy.Expr
        The paper's closed form (p_C − p_1)(L̄_1 − L̄_C), p_j = n_j / n.
    equal : bool
        sympy proved raw − simplified == 0.
    second_line_equal : bool
        The middle line of Eq. 21, n_1 (p_C/n_1 − 1/n) L̄_1 + n_C (p_1/n_C − 1/n) L̄_C,
        equals ``raw``.
    lhs_as_printed : sympy.Expr
        Eq. 21's first line as printed, Σ_j Σ_i (p'_j/n_j − 1/n) without the L_ji
        factors: it simplifies to 0 for every probability vector, so the losses must be
        read in.
    positive_under_assumptions : bool
        ``simplified`` > 0 proved for n_1 > n_C and L̄_C > L̄_1 (substituting
        n_1 = n_C + a, L̄_C = L̄_1 + b with a, b > 0).
    """

    counts: tuple[sp.Symbol, ...]
    means: tuple[sp.Symbol, ...]
    raw: sp.Expr
    simplified: sp.Expr
    equal: bool
    second_line_equal: bool
    lhs_as_printed: sp.Expr
    positive_under_assumptions: bool


def exchange_residual(num_classes: int) -> ExchangeResidual:
    """Derive the residual of the exchange argument of Appendix B.2 (Eq. 21).

    Theorem (Eq. 21). Start from IB weights p_j = n_j / n and swap p_1 and p_C (all other
    weights unchanged). Then the residual of Eq. 18 at a fixed θ is

        Σ_j Σ_i (p'_j / n_j − 1/n) L_ji = (p_C − p_1)(L̄_1 − L̄_C),

    which is > 0 when n_1 > n_C (so p_1 > p_C) and L̄_C > L̄_1 (tail loss larger).

    Parameters
    ----------
    num_classes : int
        C in [2, 8].

    Returns
    -------
    ExchangeResidual
    """
    return _exchange_residual(_check_num_classes(num_classes))


@lru_cache(maxsize=None)
def _exchange_residual(c: int) -> ExchangeResidual:
    # Pure in C and sympy objects are immutable, so the (slow) derivation is cached.
    n, lbar, total = class_symbols(c)
    p = [nj / total for nj in n]
    swapped = list(p)
    swapped[0], swapped[-1] = p[-1], p[0]
    raw = _residual(swapped, n, lbar, total)
    simplified = (p[-1] - p[0]) * (lbar[0] - lbar[-1])
    second = n[0] * (p[-1] / n[0] - 1 / total) * lbar[0] + n[-1] * (p[0] / n[-1] - 1 / total) * lbar[-1]
    lhs_printed = sp.simplify(sp.Add(*[nj * (wj / nj - 1 / total) for wj, nj in zip(swapped, n)]))
    # Sign under the assumptions: write n_1 = n_C + a and L̄_C = L̄_1 + b with a, b > 0.
    a, b = sp.symbols("a b", positive=True)
    signed = simplified.subs({lbar[-1]: lbar[0] + b}).subs({n[0]: n[-1] + a})
    return ExchangeResidual(
        counts=n, means=lbar, raw=raw, simplified=simplified,
        equal=_is_zero(raw - simplified),
        second_line_equal=_is_zero(second - raw),
        lhs_as_printed=lhs_printed,
        positive_under_assumptions=bool(provably_nonnegative(signed) and not _is_zero(signed)),
    )


# ----------------------------------------------------------------------------- App. B.2

@dataclass(frozen=True)
class DerivationStep:
    """One line of a derivation compared with the line before it.

    Attributes
    ----------
    label : str
        Which line of the paper ("line 2", ...).
    expression : sympy.Expr
        The line, as the paper writes it (with p_j = n_j / n).
    relation : str
        The relation the paper prints to the previous line: "=" or ">=".
    verdict : str
        "equality" (sympy proved previous − this == 0), "inequality" (proved >= 0 under
        ``condition``), or "fails" (a counterexample exists under the stated assumptions).
    condition : str
        The assumption that the verdict needs ("none", "p = IB", ...).
    drop : sympy.Expr
        previous − this, simplified.
    """

    label: str
    expression: sp.Expr
    relation: str
    verdict: str
    condition: str
    drop: sp.Expr


@dataclass(frozen=True)
class IncreaseResidual:
    """Residual of raising the tail weight from IB and renormalising the rest (App. B.2).

    Attributes
    ----------
    counts, means : tuple of sympy.Symbol
    new_tail : sympy.Symbol
        p'_C, the raised weight of the last class.
    residual : sympy.Expr
        Exact Σ_j n_j (p'_j / n_j − 1/n) L̄_j with p'_j = p_j (1 − p'_C)/(1 − p_C), j < C.
    closed_form : sympy.Expr
        (p'_C − p_C)(L̄_C − Σ_{j<C} p_j L̄_j / (1 − p_C)): the residual is the weight shift
        times the gap between the tail mean and the p-weighted mean of the other classes.
    closed_form_equal : bool
    paper_bound : sympy.Expr
        The paper's final lower bound (p'_C − p_C)(L̄_C − L̄_{C−1}).
    difference : sympy.Expr
        residual − paper_bound = (p'_C − p_C)/(1 − p_C) Σ_{j<C} p_j (L̄_{C−1} − L̄_j).
    difference_form_equal : bool
        sympy proved ``difference`` equals that closed form.
    bound_holds_monotone : bool
        difference >= 0 proved when p'_C >= p_C and L̄_1 <= ... <= L̄_{C−1}.
    bound_nonnegative_monotone : bool
        paper_bound >= 0 proved when p'_C >= p_C and L̄_{C−1} <= L̄_C.
    residual_nonnegative_tail_largest : bool
        residual >= 0 proved when p'_C >= p_C and L̄_C >= every other class mean (the
        conclusion survives with only a largest tail mean; the paper's chain does not).
    line2_needs_ib : bool
        True when line 2 is *not* an identity for free weights p_j (it holds only after
        substituting p_j = n_j / n).
    tail_largest_counterexample : dict or None
        For C >= 3, exact values at counts (1, ..., 1), class means (1, 0, ..., 0, 1)
        (tail mean largest, but L̄_1 > L̄_2), p'_C = 1/2: the residual is below the
        paper's bound there. Keys "counts", "means", "new_tail", "residual", "bound"
        (sympy Rationals). None for C = 2, where line 3 is an equality.
    steps : tuple of DerivationStep
        The paper's lines, each checked against the previous one.
    """

    counts: tuple[sp.Symbol, ...]
    means: tuple[sp.Symbol, ...]
    new_tail: sp.Symbol
    residual: sp.Expr
    closed_form: sp.Expr
    closed_form_equal: bool
    paper_bound: sp.Expr
    difference: sp.Expr
    difference_form_equal: bool
    bound_holds_monotone: bool
    bound_nonnegative_monotone: bool
    residual_nonnegative_tail_largest: bool
    line2_needs_ib: bool
    tail_largest_counterexample: dict | None
    steps: tuple[DerivationStep, ...]


def _monotone_substitution(lbar: tuple[sp.Symbol, ...], upto: int) -> tuple[dict, tuple[sp.Symbol, ...]]:
    # L̄_j = L̄_1 + d_1 + ... + d_{j-1} with d >= 0 (j <= upto) encodes a nondecreasing
    # prefix; L̄_1 itself is made nonnegative (losses are >= 0).
    base = sp.Symbol("L0", nonnegative=True)
    d = sp.symbols(f"d_1:{upto}", nonnegative=True) if upto > 1 else ()
    sub = {lbar[0]: base}
    for j in range(1, upto):
        sub[lbar[j]] = base + sp.Add(*d[:j])
    return sub, (base, *d)


def increase_residual(num_classes: int) -> IncreaseResidual:
    """Derive and check the tail-increase argument of Appendix B.2, line by line.

    Theorem (App. B.2, second part). From IB weights p_j = n_j / n raise the tail weight to
    p'_C > p_C and renormalise p'_j = p_j (1 − p'_C)/(1 − p_C) for j < C. The paper claims

        Σ_j Σ_i (p'_j / n_j − 1/n) L_ji >= (p'_C − p_C)(L̄_C − L̄_{C−1}) >= 0

    under its assumption 3 (L̄_i <= L̄_j for i < j: monotone class means).

    What sympy shows (for the given C):

    * line 1 (definition of the residual) — equality;
    * line 2 — equality *given p = IB* (it uses n_j/n = p_j; the −1/n terms are not
      dropped by mistake: p_j(1 − p'_C)/(1 − p_C) − n_j/n = −p_j (p'_C − p_C)/(1 − p_C));
    * line 3 — the only real inequality: it replaces L̄_j by L̄_{C−1} for j < C, valid iff
      Σ_{j<C} p_j (L̄_{C−1} − L̄_j) >= 0; monotone class means suffice; a largest tail mean
      alone does not (C = 3, L̄_1 > L̄_2 breaks it);
    * lines 4–6 — printed as ">=" but equalities (factoring, Σ_{j<C} p_j = 1 − p_C);
    * last ">= 0" — needs L̄_C >= L̄_{C−1} and p'_C >= p_C.

    The left-hand side of every line is printed as Σ_j Σ_i (p_j/n_j − 1/n), without the
    primes and the L_ji factors; it is read here as the residual of p'.

    Parameters
    ----------
    num_classes : int
        C in [2, 8].

    Returns
    -------
    IncreaseResidual
    """
    return _increase_residual(_check_num_classes(num_classes))


@lru_cache(maxsize=None)
def _increase_residual(c: int) -> IncreaseResidual:
    # Pure in C and sympy objects are immutable, so the (slow) derivation is cached.
    n, lbar, total = class_symbols(c)
    t = sp.Symbol("pprime_C", positive=True)
    p = [nj / total for nj in n]
    pc = p[-1]
    k = (t - pc) / (1 - pc)                      # the renormalisation's weight shift per unit p_j
    new = [pj * (1 - t) / (1 - pc) for pj in p[:-1]] + [t]
    residual = _residual(new, n, lbar, total)
    head_mean = sp.Add(*[pj * lj for pj, lj in zip(p[:-1], lbar[:-1])]) / (1 - pc)
    closed = (t - pc) * (lbar[-1] - head_mean)
    paper_bound = (t - pc) * (lbar[-1] - lbar[-2])
    difference = sp.factor(sp.cancel(sp.together(residual - paper_bound)))
    difference_form = k * sp.Add(*[pj * (lbar[-2] - lj) for pj, lj in zip(p[:-1], lbar[:-1])])

    # The paper's lines (App. B.2), with p_j = n_j / n substituted where it writes p_j.
    lines = [
        ("line 1", "=", n[-1] * (t / n[-1] - 1 / total) * lbar[-1]
         + sp.Add(*[(pj / nj * (1 - t) / (1 - pc) - 1 / total) * nj * lj
                    for pj, nj, lj in zip(p[:-1], n[:-1], lbar[:-1])])),
        ("line 2", "=", n[-1] * (t / n[-1] - 1 / total) * lbar[-1]
         - sp.Add(*[k * pj * lj for pj, lj in zip(p[:-1], lbar[:-1])])),
        ("line 3", ">=", (t - pc) * lbar[-1] - sp.Add(*[k * pj * lbar[-2] for pj in p[:-1]])),
        ("line 4", ">=", (t - pc) * lbar[-1] - k * lbar[-2] * sp.Add(*p[:-1])),
        ("line 5", ">=", (t - pc) * lbar[-1] - k * lbar[-2] * (1 - pc)),
        ("line 6", ">=", paper_bound),
    ]
    s = sp.Symbol("s", nonnegative=True)              # p'_C = p_C + s, s >= 0
    mono_sub, _ = _monotone_substitution(lbar, c - 1)
    mono_sub_full, _ = _monotone_substitution(lbar, c)
    conditions = {
        "line 1": "none (definition of the residual, Σ_i L_ji = n_j L̄_j)",
        "line 2": "p = IB (p_j = n_j / n)",
        "line 3": "p'_C >= p_C and L̄_j <= L̄_{C−1} for all j < C (monotone class means suffice)",
        "line 4": "none", "line 5": "none", "line 6": "none",
    }
    steps = []
    prev = residual
    for label, rel, expr in lines:
        drop = sp.cancel(sp.together(prev - expr))
        if _is_zero(drop):
            verdict = "equality"
        else:
            signed = drop.subs(mono_sub).subs({t: pc + s})
            verdict = "inequality" if provably_nonnegative(signed) else "not proved"
        steps.append(DerivationStep(label=label, expression=expr, relation=rel, verdict=verdict,
                                    condition=conditions[label], drop=drop))
        prev = expr
    # The last ">= 0" of the chain.
    last = paper_bound.subs({lbar[-1]: lbar[-2] + sp.Symbol("e", nonnegative=True)}).subs({t: pc + s})
    steps.append(DerivationStep(
        label="line 7", expression=sp.Integer(0), relation=">=",
        verdict="inequality" if provably_nonnegative(last.subs(mono_sub)) else "not proved",
        condition="p'_C >= p_C and L̄_{C−1} <= L̄_C", drop=paper_bound))

    # Largest tail mean only: L̄_C = max_j L̄_j + e, other means unordered nonnegative.
    e = sp.Symbol("e", nonnegative=True)
    others = sp.symbols(f"m_1:{c}", nonnegative=True)
    top = sp.Symbol("top", nonnegative=True)
    # Write each other mean as top − m_j (so L̄_j <= top) and L̄_C = top + e.
    tail_sub = {lbar[j]: top - others[j] for j in range(c - 1)}
    tail_sub[lbar[-1]] = top + e
    tail_res = residual.subs(tail_sub).subs({t: pc + s})

    # Line 2 with free weights w_j (not IB): the −1/n terms only cancel through n_j/n = p_j.
    w = sp.symbols(f"w_1:{c}", positive=True)
    wc = 1 - sp.Add(*w)
    line1_free = sp.Add(*[(wj / nj * (1 - t) / (1 - wc) - 1 / total) * nj * lj
                          for wj, nj, lj in zip(w, n[:-1], lbar[:-1])])
    line2_free = -sp.Add(*[(t - wc) / (1 - wc) * wj * lj for wj, lj in zip(w, lbar[:-1])])

    counterexample = None
    if c >= 3:
        values = {nj: 1 for nj in n}
        means = [sp.Integer(1)] + [sp.Integer(0)] * (c - 2) + [sp.Integer(1)]
        values.update(dict(zip(lbar, means)))
        values[t] = sp.Rational(1, 2)
        counterexample = {
            "counts": [1] * c, "means": means, "new_tail": sp.Rational(1, 2),
            "residual": sp.nsimplify(residual.subs(values)),
            "bound": sp.nsimplify(paper_bound.subs(values)),
        }
    return IncreaseResidual(
        counts=n, means=lbar, new_tail=t, residual=residual, closed_form=closed,
        closed_form_equal=_is_zero(residual - closed),
        paper_bound=paper_bound, difference=difference,
        difference_form_equal=_is_zero(difference - difference_form),
        bound_holds_monotone=provably_nonnegative(difference.subs(mono_sub).subs({t: pc + s})),
        bound_nonnegative_monotone=provably_nonnegative(paper_bound.subs(mono_sub_full).subs({t: pc + s})),
        residual_nonnegative_tail_largest=provably_nonnegative(sp.expand(tail_res)),
        line2_needs_ib=not _is_zero(line1_free - line2_free),
        tail_largest_counterexample=counterexample,
        steps=tuple(steps),
    )
