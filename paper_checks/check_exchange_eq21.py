"""Eq. 21 (App. B.2): exchanging the weights of the head and the tail class from IB.

Claim: from IB weights p_j = n_j / n, swapping p_1 and p_C gives the residual
Σ_j Σ_i (p'_j/n_j − 1/n) L_ji = (p_C − p_1)(Lbar_1 − Lbar_C) > 0, "therefore Q_n > 0"; "naturally"
the same for any pair i < j, "which is exactly how class-reversed sampling works".

Evidence:

* symbolic (:func:`ltbound.bounds.theory.exchange_residual`, C = 2..5): the identity, its middle
  line, and the printed first line (which omits the L_ji and is identically 0);
* a randomized search (fixed seed) with the residual evaluated by :mod:`ltbound.bounds.objectives`:
  the closed form for the 1 <-> C swap and for any i < j swap, and its sign: positive exactly
  when Lbar_C > Lbar_1 (the paper's assumption 3), negative otherwise;
* the smallest counterexample by exhaustive search over small integers;
* whether CR *is* a composition of exchanges: CR equals reversed IB iff n_j n_{C+1−j} is
  constant, which the exponential CIFAR-LT profile satisfies up to integer rounding.
"""

from __future__ import annotations

import functools
import itertools
from fractions import Fraction

import numpy as np

from ltbound.bounds.sampling import long_tailed_counts, sampling_distribution
from ltbound.bounds.theory import exchange_residual

from paper_checks._check import FAILS, HOLDS, HOLDS_ONLY_IF, Outcome, check
from paper_checks._numeric import ib, residual, sorted_counts

SEED = 20210519          # fixed: same draws, same verdict
NUM_DRAWS = 2000
TOLERANCE = 1e-12


def swapped(p: np.ndarray, i: int, j: int) -> np.ndarray:
    out = p.copy()
    out[i], out[j] = p[j], p[i]
    return out


def smallest_counterexample(tail_mean_larger: bool = False) -> dict | None:
    """Smallest (C, n, max mean) instance with n_1 > n_C whose exchange residual is < 0.

    With ``tail_mean_larger`` only class means with L̄_C > L̄_1 (the paper's assumption 3) are
    searched. None when the search finds no counterexample.
    """
    for c in (2, 3):
        found = []
        for counts in itertools.product(range(1, 4), repeat=c):
            if list(counts) != sorted(counts, reverse=True) or counts[0] == counts[-1]:
                continue
            for means in itertools.product(range(3), repeat=c):
                if tail_mean_larger and not means[-1] > means[0]:
                    continue
                cnt = np.array(counts)
                g = residual(cnt, np.array(means, float), swapped(ib(cnt), 0, c - 1))
                if g < -TOLERANCE:
                    # exact value from the closed form in rationals: (p_C − p_1)(Lbar_1 − Lbar_C)
                    n = sum(counts)
                    exact = Fraction(counts[-1] - counts[0], n) * (means[0] - means[-1])
                    found.append((sum(counts), max(means), counts, means, g, exact))
        if found:
            found.sort(key=lambda f: (f[0], f[1], -f[4]))
            _, _, counts, means, g, exact = found[0]
            return {"counts": list(counts), "means": list(means), "residual": g, "residual_exact": str(exact)}
    return None


@functools.cache
def _symbolic() -> dict:
    """The symbolic identity for C = 2..5 (deterministic; computed once per process)."""
    return {c: exchange_residual(c) for c in (2, 3, 4, 5)}


@check("exchange_eq21", claim="Eq. 21: swapping p_1 and p_C from IB gives (p_C - p_1)(L1 - LC) > 0, so Q_n > 0",
       where="Eq. 21, App. B.2")
def exchange_eq21(num_draws: int = NUM_DRAWS, tail_mean_larger: bool = False) -> Outcome:
    """The verdict on Eq. 21, computed from the identity and the counterexamples found.

    Parameters
    ----------
    num_draws : int
        Random instances (C, counts, class means) of the search.
    tail_mean_larger : bool
        Examine only class means with L̄_C > L̄_1 (assumption 3): the claim then has no
        counterexample and the verdict is ``holds``. The registered check searches all means.

    Returns
    -------
    Outcome
        FAILS when the exchange identity breaks; HOLDS_ONLY_IF when some examined instance
        has a residual <= 0 (the condition names the smallest); HOLDS when none has.
    """
    symbolic = _symbolic()
    identity_ok = all(s.equal and s.second_line_equal for s in symbolic.values())
    printed_lhs_zero = all(s.lhs_as_printed == 0 for s in symbolic.values())
    positive_proved = all(s.positive_under_assumptions for s in symbolic.values())

    rng = np.random.default_rng(SEED)
    max_err = 0.0
    sign_ok = 0
    tail_larger = head_larger = nonpositive = 0
    pair_err = 0.0
    for _ in range(num_draws):
        c = int(rng.integers(2, 7))
        counts = sorted_counts(rng, c)
        means = rng.uniform(0.0, 3.0, size=c)
        if tail_mean_larger and means[-1] <= means[0]:
            means[0], means[-1] = means[-1], means[0]
            means[-1] += 1e-3                  # a tie would give 0, outside L̄_C > L̄_1
        p = ib(counts)
        g = residual(counts, means, swapped(p, 0, c - 1))
        closed = (p[-1] - p[0]) * (means[0] - means[-1])    # Eq. 21's printed last line: the claim under test
        max_err = max(max_err, abs(g - closed))
        nonpositive += g <= TOLERANCE
        if means[-1] > means[0]:
            tail_larger += 1
            sign_ok += g > 0
        else:
            head_larger += 1
            sign_ok += g <= TOLERANCE
        i, j = sorted(rng.choice(c, size=2, replace=False))
        gij = residual(counts, means, swapped(p, i, j))
        pair_err = max(pair_err, abs(gij - (p[j] - p[i]) * (means[i] - means[j])))
    counter = smallest_counterexample(tail_mean_larger)

    # "exactly how class-reversed sampling works": CR vs reversed IB.
    cifar = long_tailed_counts(5000, 10, 100)
    cr_vs_rev = float(np.max(np.abs(sampling_distribution(cifar, "CR") - ib(cifar)[::-1])))
    toy = np.array([3, 2, 1])
    toy_cr, toy_rev = sampling_distribution(toy, "CR"), ib(toy)[::-1]

    domain = "means with Lbar_C > Lbar_1 only" if tail_mean_larger else "any class means"
    smallest = ("none found" if counter is None else f"counts {counter['counts']}, means {counter['means']} -> "
                f"residual {counter['residual_exact']}")
    summary = (f"Symbolic (C=2..5): identity {'proved' if identity_ok else 'NOT proved'}, > 0 proved for n_1 > n_C and "
               f"Lbar_C > Lbar_1: {positive_proved}. Printed first line omits L_ji: as printed it is "
               f"{'identically 0' if printed_lhs_zero else 'not 0'}. Random search ({num_draws} draws, seed {SEED}, "
               f"{domain}): max |residual - closed form| {max_err:.1e} (1<->C), {pair_err:.1e} (any i<j); sign = "
               f"sign(Lbar_C - Lbar_1) in {sign_ok}/{num_draws} ({tail_larger} with tail mean larger, {head_larger} with "
               f"head mean larger or equal); residual <= 0 in {nonpositive}. Smallest counterexample ({domain}): "
               f"{smallest}. CR vs reversed IB: max diff {cr_vs_rev:.1e} on CIFAR-10-LT(100) (exp. profile: "
               f"n_j n_(C+1-j) ~ const), but counts (3,2,1) give CR {np.round(toy_cr, 3).tolist()} vs reversed IB "
               f"{np.round(toy_rev, 3).tolist()}.")
    evidence = {"symbolic_identity": identity_ok, "printed_first_line_is_zero": printed_lhs_zero,
                "positive_proved_under_assumption": positive_proved, "max_abs_error_closed_form": max_err,
                "max_abs_error_pair_swap": pair_err, "sign_matches": int(sign_ok), "draws": num_draws,
                "draws_tail_mean_larger": tail_larger, "draws_head_mean_larger": head_larger,
                "draws_residual_nonpositive": int(nonpositive), "tail_mean_larger_only": tail_mean_larger,
                "smallest_counterexample": counter, "cr_vs_reversed_ib_cifar10_lt_100": cr_vs_rev,
                "cr_toy_321": toy_cr, "reversed_ib_toy_321": toy_rev, "seed": SEED}
    if not (identity_ok and max_err < 1e-9 and pair_err < 1e-9 and sign_ok == num_draws):
        return Outcome(FAILS, summary, evidence, condition="the exchange identity of Eq. 21 does not hold")
    if counter is None and not nonpositive:
        return Outcome(HOLDS, summary, evidence)
    found = (f"smallest: counts {counter['counts']}, means {counter['means']}, residual {counter['residual_exact']}"
             if counter is not None else "no small integer instance found")
    printed = "; the printed first line omits L_ji (as printed it is identically 0)" if printed_lhs_zero else ""
    return Outcome(HOLDS_ONLY_IF, summary, evidence, condition=(
        "Lbar_1(θ) < Lbar_C(θ) (assumption 3) at every θ ∈ Θ and every D, since Q_n = E_D inf_θ: "
        f"{nonpositive} of {num_draws} random instances give a residual <= 0, every one with Lbar_1 >= Lbar_C "
        f"({found}){printed}"))


if __name__ == "__main__":
    from paper_checks.run_all import main
    raise SystemExit(main(["--only", "exchange_eq21"], modules=["check_exchange_eq21"]))
