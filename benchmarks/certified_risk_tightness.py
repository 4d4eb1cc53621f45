"""Tightness and coverage of the certified target-prior risk (issue 23; ltbound.certificates.pacbayes).

Prints, for fixed test sets, the certificate of ``ltbound.statistics.heldout.certified_risk`` before
issue 23 (``method="binomial"``: per-class Clopper-Pearson at δ/C, union bound) and now
(default ``"auto"``), and the coverage of each method over simulated test sets with known class
errors at δ = 0.2 (nominal 0.80), with its Monte Carlo standard error. Deterministic (seeded).

    python benchmarks/certified_risk_tightness.py            # about a minute on one core
    python benchmarks/certified_risk_tightness.py --draws 10000
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from ltbound.statistics import heldout as ev
from ltbound.certificates import pacbayes as pb
from ltbound.certificates import kl_bounds as klb, pooled

LONG_TAIL = [500, 300, 180, 108, 65, 39, 23, 14, 8, 5]


def _set(m, k):
    y = np.repeat(np.arange(len(m)), m)
    ok = np.concatenate([np.r_[np.zeros(kk, bool), np.ones(mm - kk, bool)] for mm, kk in zip(m, k)])
    return ok, y


def tightness() -> None:
    print("certificate at δ = 0.05: empirical | before (union) | after (auto) | slack ratio")
    cases = [
        ("10 classes x 100, no error", [100] * 10, [0] * 10, "balanced"),
        ("10 x 1000 (CIFAR-size), 2,250 errors", [1000] * 10,
         list(np.rint(np.linspace(0.1, 0.35, 10) * 1000).astype(int)), "balanced"),
        ("long tail 500 … 5, no error", LONG_TAIL, [0] * 10, "balanced"),
        ("long tail 500 … 5, about 10% error", LONG_TAIL, [50, 30, 18, 11, 6, 4, 2, 1, 1, 0], "balanced"),
        ("4 x 100, 10% each, prior (.4, .3, .2, .1)", [100] * 4, [10] * 4, [0.4, 0.3, 0.2, 0.1]),
        ("1000 and 50, 10% and 0% (union wins)", [1000, 50], [100, 0], "balanced"),
    ]
    for name, m, k, pi in cases:
        ok, y = _set(m, k)
        old = ev.certified_risk(ok, y, pi, method="binomial")
        new = ev.certified_risk(ok, y, pi)
        ratio = (old.bound - old.empirical) / (new.bound - new.empirical)
        print(f"  {name}: {new.empirical:.4f} | {old.bound:.4f} | {new.bound:.4f} ({new.method}) | {ratio:.1f}")


def coverage(draws: int) -> None:
    delta = 0.2
    se = math.sqrt(delta * (1 - delta) / draws)
    print(f"coverage at δ = {delta} (nominal {1 - delta:.2f}), {draws} test sets, Monte Carlo s.e. {se:.3f}")
    setups = [("balanced 5 x 60, errors .02-.4", np.array([60] * 5), np.array([0.02, 0.05, 0.1, 0.2, 0.4])),
              ("long tail 500, 120, 30, 8, 5, errors .05-.3", np.array([500, 120, 30, 8, 5]),
               np.array([0.05, 0.1, 0.2, 0.3, 0.3]))]
    for name, counts, err in setups:
        pi = np.full(counts.size, 1 / counts.size)
        k = np.random.default_rng(11).binomial(counts, err, size=(draws, counts.size))
        t = (k / counts) @ pi
        true = float(pi @ err)
        res = {"union (before)": pooled._binom_upper(k, counts, delta / counts.size) @ pi,
               "pooled Hoeffding": t + math.sqrt(math.log(1 / delta) * np.sum(pi ** 2 / counts) / 2),
               "pooled Chernoff": pooled._chernoff_free(t, counts.astype(float), pi, math.log(1 / delta))[0]}
        if np.all(counts == counts[0]):
            res["exact pooled (auto)"] = np.array([pooled._pooled_binomial(int(s), int(counts.sum()), delta)
                                                   for s in k.sum(axis=1)])
        print(f"  {name}:")
        for label, b in res.items():
            print(f"    {label}: {np.mean(b >= true):.4f}  (mean bound {np.mean(b):.4f}, true {true:.4f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=4000)
    args = parser.parse_args()
    tightness()
    coverage(args.draws)


if __name__ == "__main__":
    main()
