"""Eq. 15-16 (App. B.1): the bounded differences p_j M / n_j behind Eq. 7's confidence term.

Claim: for Φ(D) = sup_θ E[ℓ_θ] − L(θ; D) (Eq. 14), replacing one example of class j changes
Φ by at most c_j = p_j M / n_j (Eq. 15), so McDiarmid gives the deviation
M sqrt(Σ_j p_j²/n_j) sqrt(ln(1/δ)/2) (Eq. 16, the last term of Eq. 7).

Brute force on a tiny finite problem: C = 2 classes with counts (3, 1), each class
conditional uniform on 3 points, a finite Θ of K = 5 loss tables in [0, M]. Every training
set D (3^4 = 81 of them) and every single replacement D' is enumerated; |Φ(D') − Φ(D)| is
measured with the library's objective (:func:`ltbound.bounds.objectives.weighted_objective`) and
compared with c_j for IB, CB and CR weights, and the implied McDiarmid term with
:func:`ltbound.bounds.confidence.confidence_term`.

The argument needs the class counts fixed (a replacement keeps the class). The check also
measures what happens when D is an i.i.d. sample of the long-tailed mixture instead, where
a replacement may change a label: the weights p_j(q)/n_j move with the counts.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from ltbound.bounds.confidence import confidence_term
from ltbound.bounds.objectives import weighted_objective
from ltbound.bounds.sampling import sampling_distribution

from paper_checks._check import FAILS, HOLDS, HOLDS_ONLY_IF, Outcome, check

SEED = 7
COUNTS = np.array([3, 1])
SUPPORT = 3          # points per class conditional
NUM_RULES = 5
DELTA = 0.05


def tiny_problem(seed: int = SEED) -> tuple[np.ndarray, np.ndarray, float]:
    """Loss tables ℓ_θ(x, j), shape (K, SUPPORT, C), their LT-prior risks (K,), and M.

    The first rule spans the full range [0, 1] on every class, so the bounded difference
    can be attained; the others are uniform draws.
    """
    rng = np.random.default_rng(seed)
    table = rng.uniform(0.0, 1.0, size=(NUM_RULES, SUPPORT, COUNTS.size))
    table[0, 0, :], table[0, 1, :] = 0.0, 1.0
    m = float(table.max() - table.min())
    prior = COUNTS / COUNTS.sum()                      # D's class prior n_j / n
    risk = table.mean(axis=1) @ prior                  # E[ℓ_θ] under the LT distribution
    return table, risk, m


@functools.lru_cache(maxsize=None)
def _weights(counts: tuple[int, ...], q: str) -> np.ndarray:
    """Eq. 1's weights for these counts (few distinct count vectors occur: computed once each)."""
    return sampling_distribution(np.array(counts), q)


def phi(table: np.ndarray, risk: np.ndarray, xs: tuple, ys: np.ndarray, q: str) -> float | None:
    """Φ(D) = max_θ E[ℓ_θ] − L(θ; D) (Eq. 14); None when a class is empty (weights undefined)."""
    counts = np.bincount(ys, minlength=COUNTS.size)
    if np.any(counts == 0):
        return None
    p = _weights(tuple(int(v) for v in counts), q)
    losses = table[:, np.asarray(xs), ys]               # (K, n)
    return float(np.max(risk - weighted_objective(losses, ys, p)))


def _ratio(change: np.ndarray | float, c: np.ndarray | float) -> np.ndarray:
    """|ΔΦ| / c_j, with 0/0 = 0 (a constant loss moves nothing and has M = 0)."""
    change, c = np.asarray(change, dtype=np.float64), np.asarray(c, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(change <= 1e-15, 0.0, change / c)


@check("eq7_mcdiarmid", claim="Eq. 15: one replaced example of class j moves Φ by <= p_j M / n_j (McDiarmid, Eq. 16)",
       where="Eq. 14-16, App. B.1")
def eq7_mcdiarmid(problem: tuple[np.ndarray, np.ndarray, float] | None = None) -> Outcome:
    """The verdict on Eq. 15, computed from the largest moves of Φ measured on a tiny problem.

    Parameters
    ----------
    problem : (table, risk, M), optional
        Loss tables ℓ_θ(x, j) of shape (K, SUPPORT, C), their risks under the LT prior (K,),
        and the loss range M; :func:`tiny_problem` by default.

    Returns
    -------
    Outcome
        FAILS when a same-class replacement moves Φ by more than p_j M / n_j (or the measured
        McDiarmid term exceeds Eq. 16's); HOLDS_ONLY_IF when that holds but a replacement that
        changes the label (i.i.d. draws from the LT mixture) moves Φ by more than the slot's
        p_j M / n_j: the argument needs the class counts fixed; HOLDS when no replacement of
        either kind exceeds it (e.g. a loss that does not depend on the example).
    """
    table, risk, m = tiny_problem() if problem is None else problem
    ys = np.repeat(np.arange(COUNTS.size), COUNTS)
    n = int(COUNTS.sum())
    fixed, relabel = {}, {}
    for q in ("IB", "CB", "CR"):
        p = sampling_distribution(COUNTS, q)
        c = p * m / COUNTS                                            # Eq. 15
        worst = np.zeros(COUNTS.size)
        worst_relabel = 0.0
        empties = 0
        for xs in itertools.product(range(SUPPORT), repeat=n):
            base = phi(table, risk, xs, ys, q)
            for i in range(n):
                for x_new in range(SUPPORT):
                    # Same class (fixed counts): the setting of Eq. 15.
                    xs2 = xs[:i] + (x_new,) + xs[i + 1:]
                    worst[ys[i]] = max(worst[ys[i]], abs(phi(table, risk, xs2, ys, q) - base))
                    # Another class (i.i.d. draws from the LT mixture): counts change.
                    for y_new in range(COUNTS.size):
                        if y_new == ys[i]:
                            continue
                        ys2 = ys.copy()
                        ys2[i] = y_new
                        other = phi(table, risk, xs2, ys2, q)
                        if other is None:
                            empties += 1
                        else:
                            worst_relabel = max(worst_relabel, float(_ratio(abs(other - base), c[ys[i]])))
        # McDiarmid with the measured differences vs the library's Eq. 16 term.
        measured_term = math.sqrt(float(np.sum(COUNTS * worst ** 2)) * math.log(1 / DELTA) / 2)
        fixed[q] = {"c_j": c, "max_change": worst, "ratio": _ratio(worst, c),
                    "mcdiarmid_measured": measured_term,
                    "mcdiarmid_eq16": confidence_term(COUNTS, p, m, DELTA)}
        relabel[q] = {"max_change_over_c_j": worst_relabel, "replacements_emptying_a_class": empties}

    within = all(np.all(v["ratio"] <= 1 + 1e-12) for v in fixed.values())
    tight = {q: bool(np.any(np.isclose(v["ratio"], 1.0))) for q, v in fixed.items()}
    terms_ok = all(v["mcdiarmid_measured"] <= v["mcdiarmid_eq16"] + 1e-12 for v in fixed.values())
    summary = (f"Tiny problem: counts {COUNTS.tolist()}, {SUPPORT} points per class, K = {table.shape[0]}, M = {m:.3f}, "
               f"all {SUPPORT ** n} training sets x {n * SUPPORT} same-class replacements. Max |ΔΦ| / (p_j M/n_j) per "
               "class: " + "; ".join(f"{q} {np.round(v['ratio'], 3).tolist()}" for q, v in fixed.items())
               + f" (<= 1: {within}; attained: {tight}). McDiarmid term from measured differences <= Eq. 16 term: "
               + ", ".join(f"{q} {v['mcdiarmid_measured']:.4f} <= {v['mcdiarmid_eq16']:.4f}" for q, v in fixed.items())
               + ". If a replacement may change the label (i.i.d. draws from the LT mixture), |ΔΦ| reaches "
               + ", ".join(f"{q} {v['max_change_over_c_j']:.2f}x" for q, v in relabel.items())
               + f" the slot's p_j M/n_j, and {relabel['CR']['replacements_emptying_a_class']} replacements empty a "
               "class (p_j/n_j undefined; not counted).")
    evidence = {"counts": COUNTS, "loss_range": m, "fixed_counts": fixed, "label_changes": relabel,
                "within_bound": within, "attained": tight, "delta": DELTA}
    if not (within and terms_ok):
        return Outcome(FAILS, summary, evidence,
                       condition="a same-class replacement moved Φ by more than p_j M / n_j")
    beyond = {q: v["max_change_over_c_j"] for q, v in relabel.items() if v["max_change_over_c_j"] > 1 + 1e-12}
    if not beyond:
        return Outcome(HOLDS, summary, evidence)
    return Outcome(HOLDS_ONLY_IF, summary, evidence, condition=(
        "the class counts n_j are fixed and a replaced example keeps its class (D drawn class by class, as in "
        "the CIFAR-LT protocol); with i.i.d. draws from the LT mixture a label change moves Φ by up to "
        + ", ".join(f"{r:.2f}x ({q})" for q, r in beyond.items()) + " p_j M/n_j"
        + (", and can empty a class" if relabel["CR"]["replacements_emptying_a_class"] else "")))


if __name__ == "__main__":
    from paper_checks.run_all import main
    raise SystemExit(main(["--only", "eq7_mcdiarmid"], modules=["check_eq7_mcdiarmid"]))
