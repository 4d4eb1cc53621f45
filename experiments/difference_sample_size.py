"""How many certification images would prove "Switching lower"? A planning estimate from a certify run's marginals.

A committed certify result (results.json) holds each schedule's per-class empirical 0-1 risk on
D_cert, not the per-image losses, so the certified difference cannot be computed from it; this
script *estimates* it. Per class j, with e_j(A), e_j(B) the two schedules' empirical errors and
d_j = e_j(A) − e_j(B), it assumes the disagreement rates

    P(A errs, B does not) = max(d_j, 0) + ρ·min(e_j(A), e_j(B)),
    P(B errs, A does not) = max(−d_j, 0) + ρ·min(e_j(A), e_j(B)),

(ρ = 0: the two disagree only where their error rates differ; larger ρ: more churn, for
example from the independent weight draws of two stochastic networks). It builds loss matrices
with exactly these class rates for D_cert's counts scaled by s (every class), N passes of
per-sample draws, and the two chosen posteriors' KL, and certifies the difference as
``experiments/certify.py`` does (two-sided, pooled-chernoff, the K² σ pairs paid for, δ), and
one-sided (``sides="upper"``: the direction "A lower" fixed before the data). It prints the
certified interval per (ρ, s) and the smallest s whose upper bound is below 0.
Nothing here is a certificate: it plans the size of one.

    python experiments/difference_sample_size.py experiments/results/certify-cifar10-lt-100/results.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ltbound.certificates.difference import risk_difference_certificate

SCALES = (1, 2, 4, 8, 12, 16, 24, 32)
CHURN = (0.0, 0.1, 0.25)


def planned_losses(e_a, e_b, counts, rho: float, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(losses_a, losses_b, labels) with the assumed class disagreement rates, exactly (rounded counts)."""
    la, lb, ys = [], [], []
    for j, m in enumerate(counts):
        d = e_a[j] - e_b[j]
        base = rho * min(e_a[j], e_b[j])
        size = n * m
        k_plus, k_minus = round((max(d, 0) + base) * size), round((max(-d, 0) + base) * size)
        a = np.zeros(size)
        b = np.zeros(size)
        a[:k_plus] = 1
        b[k_plus:k_plus + k_minus] = 1
        la.append(a.reshape(n, m))
        lb.append(b.reshape(n, m))
        ys.append(np.full(m, j))
    return np.concatenate(la, axis=1), np.concatenate(lb, axis=1), np.concatenate(ys)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="difference_sample_size.py", description=__doc__.split("\n\n")[0])
    p.add_argument("results", help="results.json of experiments/certify.py")
    p.add_argument("--a", default="switching", help="schedule A (Δ = risk(A) − risk(B))")
    p.add_argument("--b", default="ib", help="schedule B")
    a = p.parse_args(argv)
    res = json.loads(Path(a.results).read_text())
    runs = {r["schedule"]: r for r in res["runs"]}
    if a.a not in runs or a.b not in runs:
        p.error(f"results hold {sorted(runs)}; --a and --b must name two of them")
    ca, cb = (min(runs[s]["certificates"]["zero-one"].values(), key=lambda c: c["bound"]) for s in (a.a, a.b))
    counts = np.asarray(ca["counts"])
    n = int(ca["num_samples"])
    cfg = runs[a.a]["config"]
    k = len(cfg["sigma_grid"])
    e_a, e_b = np.asarray(ca["per_class_empirical"]), np.asarray(cb["per_class_empirical"])
    print(f"{a.a} − {a.b}: empirical balanced difference {float(np.mean(e_a - e_b)):+.4f}; D_cert per class "
          f"{counts.tolist()}, N = {n}, KL {ca['kl']:.3g} + {cb['kl']:.3g}, {k}² σ pairs, δ = {cfg['delta']:g}")
    print(f"{'ρ':>5} {'scale s':>8} {'tail m_j':>8} {'D_cert':>7} {'certified interval':>22} {'one-sided upper':>15}")
    for rho in CHURN:
        first = first_one = None
        for s in SCALES:
            m = np.maximum(np.rint(counts * s).astype(int), 1)
            la, lb, y = planned_losses(e_a, e_b, m, rho, n)
            c = risk_difference_certificate(la, lb, y, kl_a=ca["kl"], kl_b=cb["kl"], delta=cfg["delta"],
                                            prior_grid_size=k * k, mc_draws="per-sample",
                                            mc_delta_fraction=cfg["mc_delta_fraction"])
            one = risk_difference_certificate(la, lb, y, kl_a=ca["kl"], kl_b=cb["kl"], delta=cfg["delta"],
                                              prior_grid_size=k * k, mc_draws="per-sample", sides="upper",
                                              mc_delta_fraction=cfg["mc_delta_fraction"])
            print(f"{rho:>5g} {s:>8g} {int(m.min()):>8d} {int(m.sum()):>7d} [{c.lower:+.4f}, {c.upper:+.4f}] "
                  f"{one.upper:>+15.4f}")
            if first is None and c.upper < 0:
                first = (s, int(m.min()))
            if first_one is None and one.upper < 0:
                first_one = (s, int(m.min()))
        print(f"  ρ = {rho:g}: two-sided " + (f"proves {a.a} lower from scale {first[0]:g} (tail m_j = {first[1]})"
                                              if first else f"proves nothing up to scale {SCALES[-1]:g}")
              + "; one-sided (direction fixed in advance) " + (f"from scale {first_one[0]:g} (tail m_j = "
                                                               f"{first_one[1]})" if first_one else "never"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
