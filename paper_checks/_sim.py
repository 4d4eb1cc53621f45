"""The simulation study shared by the Eq. 7 coverage check and the Theorem 1 checks.

One :func:`ltbound.simulation.coverage.run_coverage` study on the standard synthetic long-tailed
problem (:func:`ltbound.simulation.problems.make_problem`): C = 10 Gaussian classes, counts
long_tailed_counts(500, 10, 20) (n = 1,698), a fixed bank of K = 40 linear rules, zero-one
loss (M = 1), 200 independent draws of D, δ = 0.05. It is computed once per process
(cached), so that the checks reading it do not pay twice.
"""

from __future__ import annotations

from functools import lru_cache

from ltbound.simulation.coverage import CoverageResult, run_coverage
from ltbound.simulation.problems import make_problem

#: Parameters of the study (printed with its evidence).
STUDY = {"num_classes": 10, "n_max": 500, "imbalance": 20.0, "num_hypotheses": 40, "loss": "zero-one",
         "num_risk_samples": 100_000, "problem_seed": 0, "num_draws": 200, "delta": 0.05,
         "samplers": ("IB", "CB", "CR"), "num_sign_draws": 200, "draw_seed": 0}


@lru_cache(maxsize=1)
def coverage_study() -> CoverageResult:
    """The cached coverage study with the parameters of :data:`STUDY`."""
    problem = make_problem(num_classes=STUDY["num_classes"], n_max=STUDY["n_max"], imbalance=STUDY["imbalance"],
                           num_hypotheses=STUDY["num_hypotheses"], loss=STUDY["loss"],
                           num_risk_samples=STUDY["num_risk_samples"], seed=STUDY["problem_seed"])
    return run_coverage(problem, num_draws=STUDY["num_draws"], delta=STUDY["delta"], samplers=STUDY["samplers"],
                        num_sign_draws=STUDY["num_sign_draws"], seed=STUDY["draw_seed"])
