"""ltbound: the generalization bounds of the Switching paper, executable and checked on real losses.

The public API is a small set of plain functions over numpy arrays and a few result
dataclasses. Names are imported lazily, so ``import ltbound`` never imports torch; the
trainer lives in :mod:`ltbound.train`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # Eq. 1
    "sampling_distribution": "sampling", "sampler_q": "sampling", "parse_sampler": "sampling", "SAMPLER_Q": "sampling",
    "class_counts": "sampling", "long_tailed_counts": "sampling", "shot_groups": "sampling", "shot_group_means": "sampling",
    # Eq. 3, 4
    "standard_objective": "objectives", "weighted_objective": "objectives",
    "sample_weights": "objectives", "class_mean_losses": "objectives",
    # Eq. 6, 7 confidence terms
    "confidence_term_ib": "confidence", "confidence_term": "confidence",
    "confidence_ratio": "confidence",
    # Eq. 5
    "RademacherEstimate": "rademacher", "rademacher_monte_carlo": "rademacher",
    "rademacher_exact": "rademacher", "massart_bound": "rademacher",
    # Eq. 18
    "ResidualEstimate": "residual", "q_residual": "residual",
    # bounds
    "BoundTerm": "bounds", "BoundResult": "bounds", "BoundReport": "bounds",
    "ib_bound": "bounds", "sampling_bound": "bounds", "target_bound": "bounds",
    "estimate_bounds": "bounds", "check_loss_range": "bounds",
    # run records
    "RecordWriter": "records", "RunRecord": "records", "load_record": "records",
    "compact_record": "records",
    # Appendix A regularity measures (Eq. 8-13)
    "forgetting_events": "regularity", "learned_events": "regularity",
    "class_irregularity": "regularity", "pearson": "regularity",
    "cardinality_irregularity_correlation": "regularity", "regularity_from_record": "regularity",
    "plot_events": "regularity", "table12": "regularity",
    "averaged_events": "regularity", "correlation_test": "regularity",
    # simulator with known risks
    "make_problem": "simulate", "draw_training_set": "simulate", "run_coverage": "simulate",
    "SimProblem": "simulate", "CoverageResult": "simulate",
    "draw_test_set": "simulate", "certified_risk_coverage": "simulate",
    # theory as code (sympy), Eq. 21 and App. B.2
    "exchange_residual": "theory", "increase_residual": "theory", "q_family_residual": "theory",
    "confidence_excess": "theory", "theorem1_gap": "theory",
    # test-set statistics: intervals, certified risk, paired comparisons
    "clopper_pearson": "evaluate", "accuracy_intervals": "evaluate", "AccuracyReport": "evaluate",
    "certified_risk": "evaluate", "CertifiedRisk": "evaluate", "mcnemar_exact": "evaluate",
    "compare_on_test_set": "evaluate", "compare_over_seeds": "evaluate", "PairedComparison": "evaluate",
    "detectable_difference": "evaluate",
    # Table 9: squared-error bias-variance decomposition of softmax outputs
    "BiasVariance": "decomposition", "bias_variance": "decomposition",
    # comparison of run records
    "compare": "comparison", "Comparison": "comparison", "bounds_for_record": "comparison",
    "RunBounds": "comparison", "RecordError": "records",
    # a torch model and its training data in, bounds out (imports torch only when called)
    "bounds_for_model": "model_bounds",
}

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
