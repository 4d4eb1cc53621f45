"""Verdicts on a comparison of run records: does a bound cover its risk, and does it rank as accuracy does.

:func:`ltbound.compare` (``ltbound.comparison.compare_runs``) computes bounds and measured risks; this
module judges them and nothing else:

* :func:`bound_coverage` — does each bound total lie above the test risk it bounds, beyond
  the error of both?
* :func:`orderings` — which bounds rank the schedules as balanced test accuracy does,
  counting only differences that survive a test whose family-wise error is at most alpha.

How a pair of schedules is tested (:func:`difference_test`)
-----------------------------------------------------------
A bound total of one run is T_r = τ_r + e_r: τ_r varies from seed to seed (initialisation,
data order), e_r is the resampling error of the estimated terms with standard error σ_r
(:func:`total_error`). Over k seeds the sample variance of T (or of the per-seed
differences T_a − T_b) estimates Var(τ) + Var(e): it already holds the resampling error, so
that error is counted once, as a floor of the estimated variance (max(s², mean σ_r²)), never
added to it. The reference distribution is Student's t with the degrees of freedom of that
variance estimate:

* paired by seed (both schedules ran the same seeds, each once; the trainer starts a seed's
  runs from one initialisation): t of the k per-seed differences, k − 1 degrees of freedom;
* otherwise Welch's t with Welch-Satterthwaite degrees of freedom;
* one run per schedule: the resampling errors are all there is; the normal reference, and
  the statement is about these trained runs, not the schedules;
* one run on one side and more on the other: no test ("too few seeds").

The floor matters because :func:`ltbound.compare` draws every run's Rademacher signs from one
seed: the runs' Monte Carlo errors are then not independent, and the spread over seeds can
miss part of them. Flooring only raises the variance, so each test stays at or below its
nominal level; with 2-3 seeds it is conservative (``benchmarks/bench_orderings.py``).
All pairs of one table (one bound, or accuracy, or a measured risk) form a family whose
p-values are adjusted by Holm's step-down procedure (:func:`holm`): a pair is separated when
its adjusted p-value is below alpha, so the chance that a table shows any false separation
is at most alpha. ``benchmarks/bench_orderings.py`` measures both rates by simulation.

References
----------
Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian
Journal of Statistics 6(2), 65-70.
Welch, B. L. (1947). The generalization of "Student's" problem when several different
population variances are involved. Biometrika 34(1-2), 28-35.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from scipy import special, stats

from .._validation import check_not_masked, check_p_values, check_real_vector
from .heldout import BETTER, NO_DIFFERENCE, TOO_FEW, WORSE, compare_on_test_set, compare_over_seeds

if TYPE_CHECKING:   # only for annotations
    from ..bounds.estimate import BoundResult

#: A run as the verdicts read it: :class:`ltbound.comparison.compare_runs.RunBounds` or any object with its fields
#: (comparison imports this module, so the class is not imported back).
RunLike = Any

#: (summary key, RunBounds.report attribute, measured risk attribute) of each bound: Eq. 6 and
#: Eq. 7 bound the risk under the training prior, the target-prior bound the balanced one.
BOUND_TARGETS = (("eq6", "ib", "test_risk_lt"), ("eq7", "sampling", "test_risk_lt"),
                 ("target", "target", "test_risk_balanced"))

#: method of a pair of single runs (normal reference, resampling or test-set error only)
THESE_RUNS = "these runs: resampling error, normal"


def total_error(res: "BoundResult") -> float:
    """Standard error of a bound total from its estimated parts (loss units).

    The Monte Carlo standard error of the Rademacher term (2·σ̂/sqrt(B)) and the bootstrap
    standard error of Q̂_n (half-width of its interval over z at its level), added in
    quadrature; 0 when no term is estimated by resampling.
    """
    var = (2.0 * res.rademacher.std_error) ** 2 if math.isfinite(res.rademacher.std_error) else 0.0
    q = res.residual
    if q is not None and q.ci_low is not None:
        z = float(stats.norm.ppf(0.5 + q.level / 2))
        var += ((q.ci_high - q.ci_low) / (2 * z)) ** 2
    return math.sqrt(var)


def bound_coverage(r: RunLike, alpha: float = 0.05) -> dict[str, dict]:
    """Does each bound total lie above the risk the final model reaches on the test set?

    A bound of Eq. 6/7 holds for the *population* risk with probability 1 − δ; the test
    set estimates that risk with standard error ``se`` (:func:`ltbound.comparison.compare_runs._test_risks`).
    The slack total − measured is compared with z_{1−α/2}·sqrt(se² + σ_total²), σ_total the
    resampling error of the estimated terms (:func:`total_error`):

    * ``"above"``: the total lies above the measured risk beyond that error;
    * ``"BELOW"``: it lies below beyond that error: the estimate is *not* a bound for this
      model. With Θ̂ = checkpoints this is expected when training overfits: R̂ over a few
      nearby checkpoints is far smaller than R_n(Θ) (``ltbound.comparison.compare_runs``), so the estimate
      misses the generalization gap;
    * ``"within error"`` otherwise.

    Returns bound key ("eq6", "eq7", "target") -> {"total", "measured", "slack", "error",
    "threshold", "verdict"}.
    """
    z = float(stats.norm.ppf(1 - alpha / 2))
    out = {}
    for key, attr, risk in BOUND_TARGETS:
        res = getattr(r.report, attr)
        measured = getattr(r, risk)
        se = getattr(r, risk + "_se")
        err = math.hypot(total_error(res), se if math.isfinite(se) else 0.0)
        slack = res.total - measured
        verdict = "above" if slack > z * err else "BELOW" if slack < -z * err else "within error"
        out[key] = {"total": res.total, "measured": measured, "slack": slack, "error": err,
                    "threshold": z * err, "verdict": verdict}
    return out


def coverage(runs: Sequence[RunLike], alpha: float) -> dict:
    """Per schedule and bound: each run's :func:`bound_coverage` and how many runs fall in each verdict."""
    out: dict = {}
    for r in runs:
        for key, cov in bound_coverage(r, alpha).items():
            entry = out.setdefault(r.label, {}).setdefault(key, {"runs": [], "above": 0, "BELOW": 0,
                                                                "within error": 0})
            entry["runs"].append({"seed": r.seed, **cov})
            entry[cov["verdict"]] += 1
    return out


# ----------------------------------------------------------------------------- pair tests
def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values of one family (NaN entries are not in the family).

    With the m finite p-values sorted, p_(1) <= ... <= p_(m), the adjusted value is
    max_{j <= i} min(1, (m − j + 1)·p_(j)); rejecting where it is below alpha keeps the
    probability of any false rejection at most alpha, whatever the dependence (Holm 1979).

    Parameters
    ----------
    p_values : sequence of float, shape (m,)
        P-values in [0, 1]; NaN marks a pair that was not tested. Infinite values, values
        outside [0, 1], strings and arrays of another shape are refused (ValueError).
    """
    return _holm(check_p_values(p_values))


def _holm(p_values: Sequence[float]) -> list[float]:
    """Core of :func:`holm`; trusts its input (p-values in [0, 1] or NaN)."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    if m:
        order = idx[np.argsort(p[idx], kind="stable")]
        scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
        out[order] = np.maximum.accumulate(scaled)
    return [float(v) for v in out]


def _holm_levels(p_values: Sequence[float], alpha: float) -> list[float]:
    """The level Holm tests each p-value at: alpha / (m − rank + 1), rank among the finite p-values."""
    p = np.asarray(p_values, dtype=np.float64)
    levels = np.full(p.shape, math.nan)
    idx = np.flatnonzero(np.isfinite(p))
    order = idx[np.argsort(p[idx], kind="stable")]
    levels[order] = alpha / (idx.size - np.arange(idx.size))
    return [float(v) for v in levels]


def _paired(seeds_a: Sequence[int], seeds_b: Sequence[int]) -> bool:
    """Both schedules ran the same seeds, each once: pair run by run."""
    return sorted(seeds_a) == sorted(seeds_b) and len(set(seeds_a)) == len(seeds_a)


def difference_test(values_a: Sequence[float], errors_a: Sequence[float], seeds_a: Sequence[int],
                    values_b: Sequence[float], errors_b: Sequence[float], seeds_b: Sequence[int]) -> dict[str, Any]:
    """Is the mean of a's values different from b's? Each value carries its own standard error.

    See the module docstring for the rule (the per-run errors floor the variance the seed
    spread estimates; t with its degrees of freedom; paired by seed where the runs are).

    Parameters
    ----------
    values_a, values_b : sequence of float, shapes (r_a,), (r_b,)
        One finite value per run.
    errors_a, errors_b : sequence of float, shapes (r_a,), (r_b,)
        The standard error of each value, finite and >= 0.
    seeds_a, seeds_b : sequence of int, shapes (r_a,), (r_b,)
        The seed of each run; runs are paired when both sides ran the same seeds once each.

    Returns
    -------
    dict
        ``difference`` (mean a − mean b), ``error`` (its standard error), ``df`` (None for
        the normal reference), ``p_value`` (two-sided; NaN when not testable), ``method``.
    """
    ta = check_real_vector(values_a, "values_a")
    tb = check_real_vector(values_b, "values_b")
    ea = check_real_vector(errors_a, "errors_a", size=ta.size, size_of="value of values_a", nonnegative=True)
    eb = check_real_vector(errors_b, "errors_b", size=tb.size, size_of="value of values_b", nonnegative=True)
    sa = _check_seeds(seeds_a, "seeds_a", ta.size, "values_a")
    sb = _check_seeds(seeds_b, "seeds_b", tb.size, "values_b")
    return _difference_test(ta, ea, sa, tb, eb, sb)


def _check_seeds(seeds: Any, name: str, size: int, values: str) -> list[int]:
    """One integer seed per value (pairing is by seed, so a length mismatch would pair the wrong runs)."""
    check_not_masked(seeds, name)
    arr = np.asarray(seeds)
    if arr.ndim != 1 or arr.size != size or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"{name} must hold one integer seed per value of {values} ({size}), got "
                         f"{arr.size} entr{'y' if arr.size == 1 else 'ies'} of dtype {arr.dtype}")
    return [int(v) for v in arr]


def _difference_test(ta: np.ndarray, ea: np.ndarray, seeds_a: Sequence[int], tb: np.ndarray, eb: np.ndarray,
                     seeds_b: Sequence[int]) -> dict[str, Any]:
    """Core of :func:`difference_test`; trusts its inputs (finite values, errors of their length)."""
    diff = float(ta.mean() - tb.mean())
    if ta.size == 1 and tb.size == 1:
        se, df, method = math.hypot(ea[0], eb[0]), None, THESE_RUNS
    elif ta.size < 2 or tb.size < 2:
        return {"difference": diff, "error": math.nan, "df": None, "p_value": math.nan, "method": TOO_FEW}
    elif _paired(seeds_a, seeds_b):
        ia, ib = np.argsort(seeds_a, kind="stable"), np.argsort(seeds_b, kind="stable")
        d = ta[ia] - tb[ib]
        var = max(float(d.var(ddof=1)), float(np.mean(ea[ia] ** 2 + eb[ib] ** 2)))
        se, df, method = math.sqrt(var / d.size), d.size - 1, "paired t"
    else:
        va = max(float(ta.var(ddof=1)), float(np.mean(ea ** 2))) / ta.size
        vb = max(float(tb.var(ddof=1)), float(np.mean(eb ** 2))) / tb.size
        se = math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (ta.size - 1) + vb ** 2 / (tb.size - 1)) if se > 0 else 1.0
        method = "Welch t"
    if se == 0:
        p = 0.0 if diff != 0 else 1.0
    else:
        x = -abs(diff) / se       # two-sided: twice the lower tail (scipy.special: no distribution objects)
        p = float(2 * (special.ndtr(x) if df is None else special.stdtr(df, x)))
    return {"difference": diff, "error": se, "df": df, "p_value": p, "method": method}


def _family(tests: dict[str, dict], alpha: float) -> dict[str, dict]:
    """Holm over one table's pairs: adds ``p_holm``, ``threshold`` (the critical difference at the
    level Holm tests the pair at) and ``relation`` (+1: a lower, −1: a higher, 0: tied)."""
    names = list(tests)
    ps = [tests[n]["p_value"] for n in names]
    family = sum(1 for p in ps if math.isfinite(p))
    for n, adj, level in zip(names, _holm(ps), _holm_levels(ps, alpha)):
        t = tests[n]
        t["family"] = family
        if not math.isfinite(adj):
            t.update(p_holm=None, threshold=math.nan, relation=0)
            continue
        crit = -(special.ndtri(level / 2) if t["df"] is None else special.stdtrit(t["df"], level / 2))
        t.update(p_holm=adj, threshold=float(crit) * t["error"],
                 relation=0 if not adj < alpha else (1 if t["difference"] < 0 else -1))
    return tests


def _one_test_set(runs: Sequence[RunLike]) -> bool:
    """Do all runs carry per-image results on the same test labels (so they can be paired)?"""
    ref = runs[0].test_labels
    return ref is not None and all(r.test_correct is not None and np.array_equal(r.test_labels, ref) for r in runs)


def _kendall_tau(x: np.ndarray, y: np.ndarray) -> float | None:
    if x.size < 2:
        return None
    s = 0
    for i in range(x.size):
        for j in range(i + 1, x.size):
            s += np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
    return float(s / (x.size * (x.size - 1) / 2))


def _accuracy_pairs(pairs, per_label, single: bool, alpha: float) -> dict[str, dict]:
    """Balanced accuracy of every pair (paired t over seeds, or McNemar for single runs), Holm over the table."""
    out: dict[str, dict] = {}
    for a, b in pairs:
        ra, rb = per_label.get(a, []), per_label.get(b, [])
        if not ra or not rb:
            continue
        if single:
            pc = compare_on_test_set(ra[0].test_correct, rb[0].test_correct, ra[0].test_labels, alpha=alpha, seed=0)
        else:
            va = [r.balanced_test_accuracy for r in sorted(ra, key=lambda r: r.seed)]
            vb = [r.balanced_test_accuracy for r in sorted(rb, key=lambda r: r.seed)]
            pc = compare_over_seeds(va, vb, alpha=alpha, paired=_paired([r.seed for r in ra], [r.seed for r in rb]))
        out[f"{a} vs {b}"] = pc.to_dict()
    adjusted = _holm([math.nan if d["p_value"] is None else d["p_value"] for d in out.values()])
    for d, adj in zip(out.values(), adjusted):
        d["p_holm"] = adj if math.isfinite(adj) else None
        if d["verdict"] != TOO_FEW:
            d["verdict"] = (NO_DIFFERENCE if not (adj < alpha and d["difference"] != 0) else
                            BETTER if d["difference"] > 0 else WORSE)
    return out


def _pair_tests(pairs, per_label, value, error) -> dict[str, dict]:
    """:func:`difference_test` of every pair, from per-run ``value(r)`` and ``error(r)``."""
    out = {}
    for a, b in pairs:
        ra, rb = per_label.get(a, []), per_label.get(b, [])
        if ra and rb:
            arr = lambda rs, f: np.asarray([f(r) for r in rs], dtype=np.float64)  # noqa: E731
            out[f"{a} vs {b}"] = _difference_test(arr(ra, value), arr(ra, error), [r.seed for r in ra],
                                                  arr(rb, value), arr(rb, error), [r.seed for r in rb])
    return out


def orderings(summary: dict, runs: Sequence[RunLike] = (), alpha: float = 0.05) -> dict:
    """Which bounds rank the schedules as balanced test accuracy does, counting only real differences.

    Pairs of schedules are compared twice, each table of pairs with Holm's correction (module
    docstring). Accuracy: the mean difference over seeds with a t-test
    (:func:`ltbound.statistics.heldout.compare_over_seeds`, paired by seed when both have the same
    seeds). When *every* schedule has exactly one run on one test set, the pair is compared
    image by image instead (:func:`ltbound.statistics.heldout.compare_on_test_set`, exact McNemar on a
    balanced test set): a statement about these two trained models, not about the schedules
    (``single_runs``). Bound total: :func:`difference_test` of the runs' totals with their
    resampling errors (:func:`total_error`). A bound's verdict:

    * ``"too few seeds"`` when some schedule has fewer than 2 seeds (no seed variance to test);
    * ``"DISAGREES"`` when some pair is significantly ordered one way by accuracy and the
      other way by the bound;
    * ``"agrees"`` when every pair that accuracy separates is separated the same way by the
      bound (and accuracy separates at least one);
    * ``"tied"`` otherwise: accuracy or the bound cannot separate the schedules.

    ``agrees`` is True / False / None for agrees / DISAGREES / anything else. The same
    verdict against the test risk the bound bounds (:data:`BOUND_TARGETS`; pairs compared
    with the test-set standard errors as the per-run errors) is ``versus_own_risk``.
    """
    labels = list(summary)
    acc = np.array([summary[lb]["balanced_test_accuracy"]["mean"] for lb in labels])
    by_acc = [labels[i] for i in np.argsort(-acc, kind="stable")]
    out: dict = {"by_test_accuracy": by_acc, "alpha": alpha}
    per_label: dict[str, list] = {lb: [] for lb in labels}
    for r in runs:
        per_label.setdefault(r.label, []).append(r)
    few = [lb for lb in labels if len(per_label.get(lb, [])) < 2]
    single = len(labels) >= 2 and bool(runs) and all(len(per_label.get(lb, [])) == 1 for lb in labels) and _one_test_set(runs)
    if single:
        few = []
        out["single_runs"] = True
    pairs = [(a, b) for i, a in enumerate(labels) for b in labels[i + 1:]]
    acc_pairs = _accuracy_pairs(pairs, per_label, single, alpha)
    out["accuracy_pairs"] = acc_pairs
    separated = any(pc["verdict"] in (BETTER, WORSE) for pc in acc_pairs.values())
    for bound, attr, risk_attr in BOUND_TARGETS:
        key = f"{bound}_total"
        b = np.array([summary[lb][key]["mean"] for lb in labels])
        bound_pairs = _family(_pair_tests(pairs, per_label, lambda r: getattr(r.report, attr).total,
                                          lambda r: total_error(getattr(r.report, attr))), alpha)
        risk_known = all(math.isfinite(getattr(r, a)) for r in runs for a in (risk_attr, risk_attr + "_se"))
        risk_pairs = _family(_pair_tests(pairs, per_label, lambda r: getattr(r, risk_attr),
                                         lambda r: getattr(r, risk_attr + "_se")), alpha) if risk_known else {}
        disagree = agree = unseparated = 0
        own = {"agree": 0, "disagree": 0, "unseparated": 0, "separated": False}
        for name, rel in bound_pairs.items():
            risk_rel = risk_pairs.get(name)
            if risk_rel is not None:
                rel["risk"] = risk_rel
                own["separated"] |= bool(risk_rel["relation"])
                if risk_rel["relation"] and rel["relation"]:
                    own["agree" if risk_rel["relation"] == rel["relation"] else "disagree"] += 1
                elif risk_rel["relation"]:
                    own["unseparated"] += 1
            verdict = acc_pairs[name]["verdict"]
            acc_rel = 1 if verdict == BETTER else -1 if verdict == WORSE else 0
            if acc_rel and rel["relation"] and acc_rel != rel["relation"]:
                disagree += 1
            elif acc_rel and rel["relation"] == acc_rel:
                agree += 1
            elif acc_rel:
                unseparated += 1
        if few or not runs:
            verdict = TOO_FEW
        elif disagree:
            verdict = "DISAGREES"
        elif agree and not unseparated:
            verdict = "agrees"
        else:
            verdict = "tied"
        out[key] = {"by_bound": [labels[i] for i in np.argsort(b, kind="stable")], "verdict": verdict,
                    "agrees": True if verdict == "agrees" else False if verdict == "DISAGREES" else None,
                    "tied": verdict == "tied", "accuracy_separates_a_pair": separated,
                    "pairs": bound_pairs, "kendall_tau": _kendall_tau(-b, acc)}
        if risk_known and runs:
            # The risk the bound speaks of: Eq. 6/7 bound the long-tailed risk, which can rank
            # schedules the other way round from balanced accuracy.
            own_verdict = (TOO_FEW if few else "DISAGREES" if own["disagree"] else
                           "agrees" if own["agree"] and not own["unseparated"] else "tied")
            risks = np.array([summary[lb][risk_attr]["mean"] for lb in labels])
            out[key]["versus_own_risk"] = {"risk": risk_attr, "verdict": own_verdict,
                                           "by_risk": [labels[i] for i in np.argsort(risks, kind="stable")],
                                           "risk_separates_a_pair": own["separated"]}
    if few:
        out["too_few_seeds"] = few
    return out

