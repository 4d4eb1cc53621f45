"""ltbound: the generalization bounds of the Switching paper, executable and checked on real losses.

The public API is a small set of plain functions over numpy arrays and a few result
dataclasses, grouped in :data:`API` (bounds, certificates, statistics, records, simulation,
paper facts); ``__all__`` is their union. Names are imported lazily, so ``import ltbound`` never
imports torch; the trainer lives in :mod:`ltbound.train`, the paper's numbers in
:mod:`ltbound.published`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: The curated public API, by what a user does with it: name -> module that defines it. Every
#: other function stays reachable from its module (``ltbound.regularity.plots.plot_events``,
#: ``ltbound.bounds.objectives.weighted_objective``, ``ltbound.bounds.rademacher.massart_bound``, ...).
API: dict[str, dict[str, str]] = {
    # Eq. 6/7 and the balanced-risk bound from per-sample losses, every term labelled
    "bounds": {
        **{n: "bounds.estimate" for n in ("estimate_bounds", "ib_bound", "sampling_bound", "target_bound",
                                 "BoundReport", "BoundResult", "BoundTerm")},
        "bounds_for_model": "model_bounds",
        **{n: "bounds.sampling" for n in ("sampling_distribution", "long_tailed_counts")},
        **{n: "bounds.confidence" for n in ("confidence_term_ib", "confidence_term")},
        "rademacher_monte_carlo": "bounds.rademacher", "q_residual": "bounds.residual",
        **{n: "bounds.theorem1" for n in ("theorem1_condition", "theorem1_gap", "Theorem1Gap")},
    },
    # certificates: PAC-Bayes with a data-dependent prior, and its test-set case
    "certificates": {
        **{n: "certificates.pacbayes" for n in ("target_risk_certificate", "PacBayesCertificate")},
        **{n: "certificates.kl_bounds" for n in ("pac_bayes_kl_bound", "kl_inverse_upper", "sample_convergence_bound",
                                                 "gaussian_kl")},
        **{n: "statistics.heldout" for n in ("certified_risk", "CertifiedRisk")},
        **{n: "certificates.difference" for n in ("risk_difference_certificate", "DifferenceCertificate")},
    },
    # test-set statistics and comparisons that say whether a difference exceeds its uncertainty
    "statistics": {
        **{n: "statistics.heldout" for n in ("accuracy_intervals", "AccuracyReport", "clopper_pearson", "mcnemar_exact",
                                   "compare_on_test_set", "compare_over_seeds", "PairedComparison",
                                   "detectable_difference")},
        **{n: "statistics.verdicts" for n in ("holm", "difference_test")},
        **{n: "statistics.decomposition" for n in ("bias_variance", "zero_one_decomposition")},
    },
    # run records of the trainer, verified on load, and their comparison
    "records": {
        **{n: "records" for n in ("load_record", "RunRecord", "RecordError", "compact_record")},
        **{n: "comparison.compare_runs" for n in ("compare", "Comparison", "bounds_for_record")},
        **{n: "regularity.events" for n in ("regularity_from_record", "class_irregularity")},
    },
    # the simulator with known risks
    "simulation": {**{n: "simulation.problems" for n in ("make_problem", "draw_training_set", "SimProblem")},
                   **{n: "simulation.coverage" for n in ("run_coverage", "CoverageResult")}},
    # the paper's published numbers (module ltbound.published) and its Table 12
    "paper facts": {"table12": "regularity.paper_table"},
}

_EXPORTS: dict[str, str] = {name: module for group in API.values() for name, module in group.items()}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ltbound' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ltbound.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
