"""App. B.2, second part: raising the tail weight from IB and renormalising the others.

Claim: with p'_C > p_C and p'_j = p_j (1 − p'_C)/(1 − p_C) for j < C, the residual
Σ_j Σ_i (p'_j/n_j − 1/n) L_ji >= (p'_C − p_C)(L̄_C − L̄_{C−1}) >= 0 (a chain of six printed
lines), "and we can extend it to any tail class similarly"; hence "Q_n > 0 holds if the
sampling weight of tail classes is increased" (which is what CR does).

Evidence:

* symbolic, line by line (:func:`ltbound.bounds.theory.increase_residual`, C = 2..4): which lines
  are equalities, which one is an inequality and under what condition;
* a randomized search (fixed seed; residual through :mod:`ltbound.bounds.objectives`) under three
  assumptions on the class means: monotone (the paper's assumption 3), tail mean largest
  only, and only L̄_C >= L̄_{C−1} (what the printed final bound needs);
* the smallest counterexamples by exhaustive search over small integers: to the printed
  chain (line 3) with the tail mean largest, and to the conclusion (residual < 0 while the
  printed bound is > 0) with only L̄_C >= L̄_{C−1};
* the q-family (beyond the paper): the residual of CR, CB and SQRT against IB is >= 0 for
  monotone class means (:func:`ltbound.bounds.q_family.q_family_residual`, symbolic derivative by
  :func:`ltbound.bounds.q_family.q_family_derivative`).
"""

from __future__ import annotations

import functools
import itertools
from fractions import Fraction

import numpy as np

from ltbound.bounds.q_family import q_family_derivative, q_family_residual
from ltbound.bounds.theory import increase_residual

from paper_checks._check import FAILS, HOLDS, HOLDS_ONLY_IF, Outcome, check
from paper_checks._numeric import ib, residual, sorted_counts

SEED = 20210813
NUM_DRAWS = 1000
TOLERANCE = 1e-12


def increased(p: np.ndarray, new_tail: float) -> np.ndarray:
    """p'_C = new_tail, p'_j = p_j (1 − p'_C)/(1 − p_C) for j < C (App. B.2)."""
    out = p * (1.0 - new_tail) / (1.0 - p[-1])
    out[-1] = new_tail
    return out


def paper_bound(p: np.ndarray, new_tail: float, means: np.ndarray) -> float:
    """The printed final lower bound (p'_C − p_C)(L̄_C − L̄_{C−1})."""
    return (new_tail - p[-1]) * (means[-1] - means[-2])


def _draw(rng: np.random.Generator, kind: str) -> tuple[np.ndarray, np.ndarray, float]:
    c = int(rng.integers(3, 7))
    counts = sorted_counts(rng, c)
    if kind == "monotone":
        means = np.sort(rng.uniform(0.0, 3.0, size=c))
    elif kind == "tail largest":
        means = rng.uniform(0.0, 3.0, size=c)
        means[-1] = means.max() + rng.uniform(0.0, 0.5)
    else:   # only L̄_C >= L̄_{C-1}
        means = rng.uniform(0.0, 3.0, size=c)
        means[-1] = means[-2] + rng.uniform(0.0, 0.5)
    p_tail = counts[-1] / counts.sum()
    new_tail = float(rng.uniform(p_tail, 1.0))
    return counts, means, new_tail


def smallest(kind: str) -> dict | None:
    """Smallest integer instance (C = 3, counts <= 3 with n_1 > n_C, means <= 3, p'_C = 1/2) violating ``kind``.

    kind "chain": residual < printed bound with the tail mean largest (line 3 fails).
    kind "conclusion": residual < 0 < printed bound with L̄_C >= L̄_{C−1} only.
    """
    found = []
    for counts in itertools.product(range(1, 4), repeat=3):
        if list(counts) != sorted(counts, reverse=True) or counts[0] == counts[-1]:
            continue
        cnt = np.array(counts)
        p = ib(cnt)
        if p[-1] >= 0.5:
            continue
        for means in itertools.product(range(4), repeat=3):
            m = np.array(means, dtype=float)
            g = residual(cnt, m, increased(p, 0.5))
            bound = paper_bound(p, 0.5, m)
            if kind == "chain" and m[-1] >= m.max() and g < bound - TOLERANCE:
                found.append((sum(counts), max(means), counts, means, g, bound))
            if kind == "conclusion" and m[-1] >= m[-2] and g < -TOLERANCE and bound > TOLERANCE:
                found.append((sum(counts), max(means), counts, means, g, bound))
    if not found:
        return None
    found.sort(key=lambda f: (f[0], f[1]))
    _, _, counts, means, g, bound = found[0]
    n = sum(counts)
    # exact values: residual = (p'_C − p_C)(L̄_C − Σ_{j<C} p_j L̄_j/(1 − p_C)) (closed form of theory)
    pc, t = Fraction(counts[-1], n), Fraction(1, 2)
    head = sum(Fraction(c_, n) * m_ for c_, m_ in zip(counts[:-1], means[:-1])) / (1 - pc)
    return {"counts": list(counts), "means": list(means), "new_tail": "1/2",
            "residual": str((t - pc) * (means[-1] - head)), "printed_bound": str((t - pc) * (means[-1] - means[-2])),
            "residual_float": g, "printed_bound_float": bound}


#: Assumptions on the class means the search examines: the paper's assumption 3 (monotone) and two weaker ones.
KINDS = ("monotone", "tail largest", "last two ordered")


@functools.cache
def _symbolic() -> tuple[dict, bool]:
    """The symbolic line-by-line analysis (C = 2..4) and the q-family derivative (computed once per process)."""
    derivative = q_family_derivative(3)
    return {c: increase_residual(c) for c in (2, 3, 4)}, bool(derivative.equal and derivative.pair_form_equal)


def _cex_text(cex: dict | None, relation: str) -> str:
    if cex is None:
        return "none found by the exhaustive search"
    return (f"counts {cex['counts']}, means {cex['means']}, p'_C = 1/2: residual {cex['residual']} {relation} "
            f"printed bound {cex['printed_bound']}")


@check("increase_b2", claim="App. B.2: raising the tail weight gives residual >= (p'_C - p_C)(L_C - L_{C-1}) >= 0",
       where="App. B.2 (2nd display)")
def increase_b2(num_draws: int = NUM_DRAWS, kinds: tuple[str, ...] = KINDS) -> Outcome:
    """The verdict on App. B.2's chain, computed from the violations found under each assumption.

    Parameters
    ----------
    num_draws : int
        Random instances per assumption on the class means.
    kinds : tuple of str
        The assumptions examined, among :data:`KINDS`; "monotone" is always examined. With
        ``("monotone",)`` only the paper's assumption 3 is examined and, the chain being valid
        there, the verdict is ``holds``.

    Returns
    -------
    Outcome
        FAILS when the symbolic analysis or a monotone instance breaks the chain;
        HOLDS_ONLY_IF when a weaker assumption examined has a violation (of the printed chain
        or of the conclusion; the condition names the smallest); HOLDS when none has.
    """
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"kinds must be among {KINDS}, got {unknown}")
    kinds = ("monotone",) + tuple(k for k in KINDS[1:] if k in kinds)
    symbolic, derivative_ok = _symbolic()
    steps = {s.label: (s.relation, s.verdict) for s in symbolic[4].steps}
    printed_ge_but_equal = [lb for lb, (rel, v) in steps.items() if rel == ">=" and v == "equality"]
    real_inequalities = [lb for lb, (rel, v) in steps.items() if v == "inequality"]
    sym_ok = all(r.closed_form_equal and r.difference_form_equal and r.bound_holds_monotone
                 and r.bound_nonnegative_monotone and r.residual_nonnegative_tail_largest
                 for r in symbolic.values())
    line2_needs_ib = all(r.line2_needs_ib for r in symbolic.values())

    rng = np.random.default_rng(SEED)
    stats = {}
    for kind in kinds:
        below_bound = negative = 0
        for _ in range(num_draws):
            counts, means, t = _draw(rng, kind)
            p = ib(counts)
            g = residual(counts, means, increased(p, t))
            below_bound += g < paper_bound(p, t, means) - TOLERANCE
            negative += g < -TOLERANCE
        stats[kind] = {"draws": num_draws, "residual_below_printed_bound": int(below_bound),
                       "residual_negative": int(negative)}
    chain_cex = smallest("chain") if "tail largest" in kinds else None
    conclusion_cex = smallest("conclusion") if "last two ordered" in kinds else None

    # q-family (beyond the paper): CR/CB/SQRT residual >= 0 for monotone means.
    q_negative = {"monotone": 0, "tail largest": 0}
    for kind in q_negative:
        for _ in range(num_draws // 3):
            counts, means, _ = _draw(rng, kind)
            for q in ("CR", "CB", "SQRT"):
                q_negative[kind] += q_family_residual(counts, q, means) < -TOLERANCE

    search = "; ".join(f"{k} means -> residual below printed bound {v['residual_below_printed_bound']}, negative "
                       f"{v['residual_negative']}" for k, v in stats.items())
    summary = (f"Symbolic (C=2..4): exact residual = (p'_C - p_C)(Lbar_C - sum_(j<C) p_j Lbar_j/(1-p_C)); printed lines "
               f"{', '.join(printed_ge_but_equal)} are '>=' but equalities; the only inequalities are "
               f"{', '.join(real_inequalities)} (line 3 needs Lbar_j <= Lbar_(C-1) for all j < C; line 7 needs "
               f"Lbar_C >= Lbar_(C-1)); line 2 needs p = IB: {line2_needs_ib}; the printed left-hand sides omit the "
               f"primes and L_ji. Random search ({num_draws} draws each, seed {SEED}): {search}.")
    if "tail largest" in kinds:
        summary += f" Smallest chain counterexample (tail largest): {_cex_text(chain_cex, '<')}."
    if "last two ordered" in kinds:
        summary += (f" Smallest conclusion counterexample (only Lbar_C >= Lbar_(C-1)): "
                    f"{_cex_text(conclusion_cex, '< 0 <')}.")
    summary += (f" q-family: CR/CB/SQRT residual negative in {q_negative['monotone']} monotone draws, "
                f"{q_negative['tail largest']} tail-largest draws (d/dq = Cov identity proved: {derivative_ok}).")
    evidence = {"steps_C4": {k: {"relation": r, "verdict": v} for k, (r, v) in steps.items()},
                "printed_ge_but_equal": printed_ge_but_equal, "real_inequalities": real_inequalities,
                "symbolic_ok": sym_ok, "line2_needs_ib": line2_needs_ib, "random_search": stats,
                "kinds_examined": list(kinds),
                "smallest_chain_counterexample": chain_cex, "smallest_conclusion_counterexample": conclusion_cex,
                "q_family_negative": q_negative, "q_family_derivative_proved": derivative_ok, "seed": SEED}
    mono = stats["monotone"]
    if not sym_ok or mono["residual_below_printed_bound"] or mono["residual_negative"]:
        return Outcome(FAILS, summary, evidence,
                       condition="the chain fails even for monotone class means (see evidence)")
    parts = []
    tail = stats.get("tail largest")
    if tail is not None and (tail["residual_below_printed_bound"] or chain_cex is not None):
        survives = ("the conclusion (>= 0) survives but " if not tail["residual_negative"] else "")
        parts.append(f"with only the tail mean largest {survives}the printed chain does not "
                     f"({tail['residual_below_printed_bound']} of {num_draws} draws below the printed bound; "
                     f"smallest: {_cex_text(chain_cex, '<')})")
    last2 = stats.get("last two ordered")
    if last2 is not None and (last2["residual_negative"] or conclusion_cex is not None):
        parts.append(f"with only Lbar_C >= Lbar_(C-1) the conclusion fails ({last2['residual_negative']} of "
                     f"{num_draws} draws negative; smallest: {_cex_text(conclusion_cex, '< 0 <')})")
    if not parts:
        return Outcome(HOLDS, summary, evidence)
    return Outcome(HOLDS_ONLY_IF, summary, evidence, condition=(
        "class means are monotone (assumption 3) for every θ ∈ Θ; " + "; ".join(parts)))


if __name__ == "__main__":
    from paper_checks.run_all import main
    raise SystemExit(main(["--only", "increase_b2"], modules=["check_increase_b2"]))
