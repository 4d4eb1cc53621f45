"""Eq. 1: the q-family of class-sampling distributions and its named members.

Claim (Sect. 3.1): p_j = n_j^q / Σ_i n_i^q, with q = 1 instance-balanced (p_j = n_j / n),
q = 0 class-balanced (p_j = 1/C), q = −1 class-reversed (p_j ∝ 1/n_j). The check compares
:func:`ltbound.bounds.sampling.sampling_distribution` with exact rational oracles for these three
and SQRT (q = 1/2, against a 50-digit mpmath oracle), then at extreme q and counts, where
n_j^q alone overflows float64, against the same high-precision oracle.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np

from ltbound.bounds.sampling import long_tailed_counts, sampling_distribution

from paper_checks._check import FAILS, HOLDS, Outcome, check

#: float64 agreement required with the exact oracles (a few ulps of a probability).
TOLERANCE = 1e-13


def _exact_named(counts: np.ndarray, q: int) -> list[Fraction]:
    """Eq. 1 for integer q in exact rational arithmetic."""
    w = [Fraction(int(c)) ** q for c in counts]
    z = sum(w)
    return [x / z for x in w]


def _mp_oracle(counts: np.ndarray, q: float, digits: int = 50) -> np.ndarray:
    """Eq. 1 in mpmath at ``digits`` significant digits (no overflow at any q)."""
    with mpmath.workdps(digits):
        w = [mpmath.power(mpmath.mpf(int(c)), mpmath.mpf(q)) for c in counts]
        z = mpmath.fsum(w)
        return np.array([float(x / z) for x in w])


@check("eq1_sampling", claim="Eq. 1 q-family: q=1 IB n_j/n, q=0 CB 1/C, q=-1 CR ∝ 1/n_j, SQRT; stable at extreme q",
       where="Eq. 1, Sect. 3.1")
def eq1_sampling() -> Outcome:
    counts = long_tailed_counts(5000, 10, 100)          # CIFAR-10-LT, imbalance 100
    n = int(counts.sum())
    errors = {}
    for name, q in (("IB", 1), ("CB", 0), ("CR", -1)):
        exact = np.array([float(x) for x in _exact_named(counts, q)])
        errors[name] = float(np.max(np.abs(sampling_distribution(counts, name) - exact)))
    errors["SQRT"] = float(np.max(np.abs(sampling_distribution(counts, "SQRT") - _mp_oracle(counts, 0.5))))
    # The named definitions of Sect. 3.1, stated directly.
    ib_is_nj_over_n = bool(np.allclose(sampling_distribution(counts, 1.0), counts / n, rtol=0, atol=TOLERANCE))
    cb_uniform = bool(np.allclose(sampling_distribution(counts, 0.0), 1 / counts.size, rtol=0, atol=TOLERANCE))
    cr = sampling_distribution(counts, -1.0)
    cr_reciprocal = bool(np.allclose(cr * counts, (cr * counts)[0], rtol=1e-12, atol=0))

    # Extreme q: n_j^q overflows float64 (1e6^60 = 1e360), the log-space form must not.
    big = np.array([10 ** 6, 5 * 10 ** 5, 1000, 7, 1])
    extreme = {}
    finite_ok = True
    for q in (-1000.0, -60.0, -3.0, 3.0, 60.0, 1000.0):
        p = sampling_distribution(big, q)
        finite_ok &= bool(np.all(np.isfinite(p)) and abs(p.sum() - 1) < 1e-12 and np.all(p >= 0))
        extreme[f"q={q:g}"] = float(np.max(np.abs(p - _mp_oracle(big, q))))
    # Limits: q → +∞ puts all mass on the largest class, q → −∞ on the smallest.
    limits_ok = bool(sampling_distribution(big, 1000.0)[0] == 1.0 and sampling_distribution(big, -1000.0)[-1] == 1.0)

    worst = max(max(errors.values()), max(extreme.values()))
    ok = (worst <= TOLERANCE and finite_ok and limits_ok and ib_is_nj_over_n and cb_uniform and cr_reciprocal)
    summary = (f"CIFAR-10-LT(100) counts: max |error| vs exact oracle IB {errors['IB']:.1e}, CB {errors['CB']:.1e}, "
               f"CR {errors['CR']:.1e}, SQRT {errors['SQRT']:.1e}; p_CR·n_j constant: {cr_reciprocal}. "
               f"Counts up to 1e6 at q = ±60, ±1000: finite, sums to 1, max |error| vs 50-digit oracle "
               f"{max(extreme.values()):.1e}; q=±1000 puts all mass on the largest/smallest class: {limits_ok}.")
    return Outcome(HOLDS if ok else FAILS, summary,
                   {"max_abs_error_named": errors, "max_abs_error_extreme": extreme, "tolerance": TOLERANCE,
                    "finite_and_normalised": finite_ok, "limits": limits_ok, "ib_is_nj_over_n": ib_is_nj_over_n,
                    "cb_uniform": cb_uniform, "cr_reciprocal": cr_reciprocal},
                   condition="" if ok else f"largest error {worst:.2e} exceeds {TOLERANCE:g}")


if __name__ == "__main__":
    from paper_checks.run_all import main
    raise SystemExit(main(["--only", "eq1_sampling"], modules=["check_eq1_sampling"]))
