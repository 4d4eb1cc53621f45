"""The orderings of ltbound.compare separate schedules that do not differ at most alpha of the time.

A small run of benchmarks/bench_orderings.py (which prints the thorough rates): simulated run
results with no real difference between schedules, fed to ltbound.statistics.verdicts.orderings. Before
the t reference, seed pairing, single counting of the resampling error and Holm's correction,
the benchmark measured a pair called separated in 17% / 10% / 8.1% / 5.3% of such tables at
2 / 3 / 5 / 10 seeds (one pair, runs not paired, seed spread larger than the resampling
error; 1,000 tables each), and a table of 3 schedules with some separated pair in 40% / 27% /
22% / 16%. Seeded, so the rates are the same numbers on every run.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from tests._scripts import load_script

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_orderings.py"
ALPHA = 0.05
SIMS = 2000


def _bench():
    return load_script(BENCH, "bench_orderings")


def _at_most_nominal(rate: float, n: int) -> bool:
    """rate <= alpha plus two Monte Carlo standard errors of a rate alpha estimated from n trials."""
    return rate <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / n)


@pytest.mark.parametrize("paired", [True, False])
@pytest.mark.parametrize("seeds", [2, 3, 5, 10])
def test_false_separation_rate_is_at_most_alpha(seeds, paired):
    """One pair of schedules that do not differ, seed spread larger than the resampling error."""
    rate = _bench().pair_rate(seeds, SIMS, seed=seeds, seed_sd=0.01, run_sd=0.003, mc_sd=0.0005, paired=paired)
    assert _at_most_nominal(rate, SIMS), rate


@pytest.mark.parametrize("paired", [True, False])
def test_three_schedules_keep_the_family_at_alpha_and_rarely_disagree(paired):
    """Three pairs per table, through ltbound.statistics.verdicts.orderings: the chance of any false separation
    (Holm) and of a false DISAGREES."""
    r = _bench().error_rates(3, 3, 300, seed=11, seed_sd=0.003, run_sd=0.003, mc_sd=0.003, paired=paired)
    assert _at_most_nominal(r["family_rate"], r["sims"]), r
    assert _at_most_nominal(r["disagrees_rate"], r["sims"]), r


def test_a_real_difference_is_separated():
    """Not conservative to uselessness: a difference of 3 run standard deviations at 5 seeds is found."""
    b = _bench()
    import numpy as np
    from ltbound.statistics.verdicts import orderings

    rng = np.random.default_rng(5)
    found = 0
    for _ in range(100):
        runs = b.null_runs(rng, 2, 5, seed_sd=0.01, run_sd=0.003, mc_sd=0.0005)
        for r in runs:
            if r.label == "s1":
                r.report.ib.total += 0.01            # ib, sampling and target share one object
        o = orderings(b._summary(runs), runs)["eq6_total"]
        found += o["pairs"]["s0 vs s1"]["relation"] == 1
    assert found / 100 > 0.8, found
