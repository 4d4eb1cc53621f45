"""Agreement of trained numbers across CPU kinds, at the uncertainty the output states (issue 29).

Within one CPU capability (and torch / numpy version) a CPU run is bitwise reproducible, and the
tests compare bitwise. On another kind of CPU torch runs other kernels, the training diverges in
the last digits and then further, much as a new seed would: there a statistic's mean over seeds
must agree with the committed one within ``Z`` standard errors of the difference of two means of
n seeds, sqrt((s_now² + s_then²) / n) (independent runs: conservative, since the same seed on two
machines starts from the same weights). A statistic with no spread over seeds on either side (a
confidence term, |Θ̂|) depends on the data sizes alone and must agree to rounding (``ATOL``).
"""
from __future__ import annotations

import math

#: standard errors allowed; measured on the committed main job (experiments/results/cpu-spread/): AVX2
#: and DEFAULT kernels move no mean by more than 0.75 SE of one mean (0.53 of the difference), while
#: the job at another learning rate moves 64 statistics beyond 3
Z = 3.0
#: floating-point rounding of quantities that are mathematically fixed (or zero, as Theorem 1's
#: condition for IB, ~1e-19)
ATOL = 1e-12


def disagreements(now: dict, then: dict, *, z: float = Z, atol: float = ATOL) -> list[str]:
    """The statistics of two main-job summaries ({schedule: {stat: {mean, std, values}}}) that differ
    by more than their uncertainty, one line each ([] when they agree)."""
    out = []
    for schedule, stats in then.items():
        if schedule not in now:
            out.append(f"{schedule}: missing")
            continue
        for stat, t in stats.items():
            if stat not in now[schedule]:
                out.append(f"{schedule} {stat}: missing")
                continue
            n_, n = now[schedule][stat], len(t["values"])
            if len(n_["values"]) != n:
                out.append(f"{schedule} {stat}: {len(n_['values'])} seeds, committed {n}")
                continue
            tol = z * math.sqrt((n_["std"] ** 2 + t["std"] ** 2) / n) + atol
            diff = abs(n_["mean"] - t["mean"])
            if not diff <= tol:
                out.append(f"{schedule} {stat}: {n_['mean']:.6g} vs committed {t['mean']:.6g} "
                           f"(|Δ| {diff:.3g} > {z:g} SE = {tol:.3g})")
    return out
