"""False separations of ``ltbound.compare``'s orderings when the schedules do not differ.

    python benchmarks/bench_orderings.py                  # 1,000 tables per row, 48 rows
    python benchmarks/bench_orderings.py --sims 250       # quicker, twice the Monte Carlo error

The default took 1,024 s on one core of a machine loaded with other jobs (load average about 9
on 2 cores); Monte Carlo standard error 0.007 at the nominal 0.05.

Simulates run results with *no real difference* between schedules and feeds them to
:func:`ltbound.statistics.verdicts.orderings`, the function ``compare`` calls. Each run's bound total is

    T = μ + u_seed + v + e,    u_seed ~ N(0, seed_sd²) (shared by a seed's runs: paired),
                               v ~ N(0, run_sd²),  e ~ N(0, mc_sd²) (the resampling error,
                               reported to the verdict as the run's standard error mc_sd),

and its balanced accuracy is 0.9 + u'_seed + v' alike. Printed per setting: the share of
pairs a table calls separated (per-pair false-separation rate), the share of tables with
any separated pair (family-wise rate), and the share of 3-schedule comparisons whose Eq. 6
verdict is ``DISAGREES`` — each against the nominal alpha = 0.05 with its Monte Carlo
standard error. ``tests/test_orderings_error_rates.py`` runs the same simulation, smaller.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from types import SimpleNamespace

import numpy as np

from ltbound._table import format_table
from ltbound.statistics.verdicts import difference_test, orderings

ALPHA = 0.05
SEEDS = (2, 3, 5, 10)
#: (name, seed_sd, run_sd, mc_sd): where the noise of a bound total comes from
SCENARIOS = (("seed spread dominates", 0.010, 0.003, 0.0005),
             ("resampling error dominates", 0.001, 0.0005, 0.003),
             ("comparable", 0.003, 0.003, 0.003))


def _res(total: float, error: float) -> SimpleNamespace:
    # total_error = 2·rademacher.std_error when no Q̂_n interval: report error/2
    return SimpleNamespace(total=total, rademacher=SimpleNamespace(std_error=error / 2), residual=None)


def null_runs(rng: np.random.Generator, num_schedules: int, num_seeds: int, *, seed_sd: float, run_sd: float,
              mc_sd: float, paired: bool = True) -> list[SimpleNamespace]:
    """Runs of ``num_schedules`` schedules that do not differ, ``num_seeds`` seeds each (test doubles of
    :class:`ltbound.comparison.compare_runs.RunBounds` carrying the fields the orderings read).

    ``paired=False`` gives every schedule its own seeds (no shared seed effect, Welch's test).
    """
    runs = []
    shared_t = rng.normal(0, seed_sd, num_seeds)
    shared_a = rng.normal(0, 0.01, num_seeds)
    for s in range(num_schedules):
        ut = shared_t if paired else rng.normal(0, seed_sd, num_seeds)
        ua = shared_a if paired else rng.normal(0, 0.01, num_seeds)
        totals = 0.5 + ut + rng.normal(0, run_sd, num_seeds) + rng.normal(0, mc_sd, num_seeds)
        accs = 0.9 + ua + rng.normal(0, 0.005, num_seeds)
        for k in range(num_seeds):
            res = _res(float(totals[k]), mc_sd)
            runs.append(SimpleNamespace(
                label=f"s{s}", seed=k if paired else s * num_seeds + k, balanced_test_accuracy=float(accs[k]),
                report=SimpleNamespace(ib=res, sampling=res, target=res), test_correct=None, test_labels=None,
                test_risk_lt=math.nan, test_risk_lt_se=math.nan, test_risk_balanced=math.nan,
                test_risk_balanced_se=math.nan))
    return runs


def _summary(runs: list) -> dict:
    by: dict[str, list] = {}
    for r in runs:
        by.setdefault(r.label, []).append(r)
    return {lb: {"balanced_test_accuracy": {"mean": float(np.mean([r.balanced_test_accuracy for r in rs]))},
                 **{k: {"mean": float(np.mean([r.report.ib.total for r in rs]))}
                    for k in ("eq6_total", "eq7_total", "target_total")}}
            for lb, rs in by.items()}


def error_rates(num_schedules: int, num_seeds: int, num_sims: int, *, seed: int = 0, seed_sd: float = 0.01,
                run_sd: float = 0.003, mc_sd: float = 0.0005, paired: bool = True) -> dict[str, float]:
    """False-separation and false-DISAGREES rates of the Eq. 6 orderings over ``num_sims`` null tables.

    Returns ``pair_rate`` (separated pairs / pairs), ``family_rate`` (tables with a separated
    pair / tables), ``disagrees_rate`` (tables whose verdict is DISAGREES / tables), ``pairs``
    and ``sims``.
    """
    rng = np.random.default_rng(seed)
    separated = pairs = families = disagrees = 0
    for _ in range(num_sims):
        runs = null_runs(rng, num_schedules, num_seeds, seed_sd=seed_sd, run_sd=run_sd, mc_sd=mc_sd, paired=paired)
        o = orderings(_summary(runs), runs, alpha=ALPHA)["eq6_total"]
        rel = [p["relation"] != 0 for p in o["pairs"].values()]
        separated += sum(rel)
        pairs += len(rel)
        families += any(rel)
        disagrees += o["verdict"] == "DISAGREES"
    return {"pair_rate": separated / pairs, "family_rate": families / num_sims,
            "disagrees_rate": disagrees / num_sims, "pairs": pairs, "sims": num_sims}


def pair_rate(num_seeds: int, num_sims: int, *, seed: int = 0, seed_sd: float = 0.01, run_sd: float = 0.003,
              mc_sd: float = 0.0005, paired: bool = True) -> float:
    """Share of ``num_sims`` null pairs that :func:`ltbound.statistics.verdicts.difference_test` rejects at alpha.

    The statistic alone (one pair is a family of one, so Holm leaves it as it is): the same
    null model as :func:`null_runs`, without building test doubles, so it runs many times faster.
    """
    rng = np.random.default_rng(seed)
    seeds_a = list(range(num_seeds))
    seeds_b = seeds_a if paired else [num_seeds + k for k in seeds_a]
    errors = [mc_sd] * num_seeds
    hits = 0
    for _ in range(num_sims):
        ua = rng.normal(0, seed_sd, num_seeds)
        ub = ua if paired else rng.normal(0, seed_sd, num_seeds)
        ta = ua + rng.normal(0, run_sd, num_seeds) + rng.normal(0, mc_sd, num_seeds)
        tb = ub + rng.normal(0, run_sd, num_seeds) + rng.normal(0, mc_sd, num_seeds)
        hits += difference_test(ta, errors, seeds_a, tb, errors, seeds_b)["p_value"] < ALPHA
    return hits / num_sims


def mc_error(rate: float, n: int) -> float:
    """Binomial standard error of a rate estimated from n trials, at the nominal rate when it is larger."""
    p = max(rate, ALPHA)
    return math.sqrt(p * (1 - p) / n)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sims", type=int, default=1000, help="null tables per setting")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.sims < 1:
        ap.error(f"--sims must be >= 1, got {a.sims}")
    t0 = time.perf_counter()
    print(f"alpha = {ALPHA}; {a.sims} null tables per row; ± = Monte Carlo standard error")
    rows = []
    for name, seed_sd, run_sd, mc_sd in SCENARIOS:
        for paired in (True, False):
            for schedules in (2, 3):
                for k in SEEDS:
                    r = error_rates(schedules, k, a.sims, seed=a.seed, seed_sd=seed_sd, run_sd=run_sd, mc_sd=mc_sd,
                                    paired=paired)
                    rows.append([name, "paired" if paired else "Welch", schedules, k,
                                 *(f"{r[key]:.4f} ± {mc_error(r[key], n):.4f}" for key, n in
                                   (("pair_rate", r["pairs"]), ("family_rate", r["sims"]),
                                    ("disagrees_rate", r["sims"])))])
    print(format_table(rows, ["scenario", "pairing", "schedules", "seeds", "per pair", "any pair", "DISAGREES"],
                       align="llr"))
    print(f"{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
