"""Bounds from run records, side by side with what the models achieved.

:func:`compare` reads run records written by the trainer (``ltbound.train``), forms a
finite parameter set Θ̂ for each run, evaluates every term of Eq. 6, Eq. 7 and the
target-prior bound with :func:`ltbound.bounds.estimate_bounds`, measures the risks the
bounds speak of on the held-out test set, and aggregates over seeds per schedule.

Which risk is which
-------------------
Eq. 6 and Eq. 7 bound the risk under the *long-tailed training distribution* (class prior
n_j / n); the paper reports accuracy on the *balanced* test set. Both are measured here
from the per-sample test results of the final model: the long-tailed test risk reweights
the per-class test errors by n_j / n, the balanced one averages them. The target-prior
bound (``target="balanced"``) is the bound on the second.

Θ̂ (``theta``)
--------------
``"checkpoints"``: the models after each epoch of the run's final stage (the epochs after
the last sampler switch; for a one-sampler run, the epochs after the last learning-rate
milestone), whose per-sample training losses the record holds. The last row is the final
model, θ. A Rademacher complexity over this Θ̂ is an *estimate* of R_n(Θ) (Θ̂ was picked by
training on D), never a certificate. ``"given"``: the caller passes loss matrices (e.g.
K perturbations of the final model from :func:`ltbound.train.theta.perturbation_loss_matrix`)
and names the final model's row with ``theta_index`` (0 for perturbation matrices).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy import stats

from ._validation import check_delta, check_finite_scalar, check_positive_int
from .bounds import BoundReport, BoundResult, _display_width, _pad, estimate_bounds
from .evaluate import (PairedComparison, accuracy_intervals, certified_risk, compare_on_test_set,
                       compare_over_seeds)
from .records import BOUNDED_LOSSES, RecordError, RunRecord, check_loss, check_one_experiment, load_record
from .objectives import class_mean_losses
from .sampling import sampling_distribution, shot_group_means

LOSSES = BOUNDED_LOSSES
THETAS = ("checkpoints", "given")


@dataclass(frozen=True)
class RunBounds:
    """Bounds and measured risks of one run (one schedule, one seed)."""
    label: str                  # schedule name as given by the record's configuration
    seed: int
    record: str                 # path of the record
    final_sampler: str
    final_q: float
    theta: str
    theta_epochs: tuple[int, ...]
    theta_index: int            # row of the run's loss matrix that is the final model (nonnegative)
    balanced_test_accuracy: float
    group_accuracy: dict        # many / medium / few balanced test accuracy (None when a group is empty)
    test_risk_lt: float         # final model's test risk under the training prior n_j/n (what Eq. 6/7 bound)
    test_risk_balanced: float   # final model's test risk under the uniform prior (what the target bound bounds)
    train_risk: float           # final model's L^s on the training set
    report: BoundReport
    accuracy: dict = field(default_factory=dict)    # ltbound.evaluate.AccuracyReport.to_dict() of the final model
    certified_balanced_risk: dict = field(default_factory=dict)  # CertifiedRisk.to_dict(): rigorous test-set bound
    status: str = "complete"    # the record's status: "complete", or "running" (compared only when allowed)
    epochs_completed: int = 0
    test_risk_lt_se: float = math.nan        # standard error of test_risk_lt (finite test set, per-class variances)
    test_risk_balanced_se: float = math.nan  # standard error of test_risk_balanced
    # per-image results of the final model (paired tests between single runs); not in to_dict
    test_correct: np.ndarray | None = field(default=None, repr=False, compare=False)
    test_labels: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("label", "seed", "record", "final_sampler", "final_q", "theta",
                                          "balanced_test_accuracy", "group_accuracy", "test_risk_lt",
                                          "test_risk_balanced", "train_risk", "status", "epochs_completed",
                                          "test_risk_lt_se", "test_risk_balanced_se")}
        d["theta_epochs"] = list(self.theta_epochs)
        d["theta_index"] = int(self.theta_index)
        d["num_params"] = int(self.report.num_params)
        d["bounds"] = self.report.to_dict()
        d["accuracy"] = self.accuracy
        d["certified_balanced_risk"] = self.certified_balanced_risk
        return d


@dataclass(frozen=True)
class Comparison:
    """Per-run results and their aggregate per schedule (mean and standard deviation over seeds)."""
    runs: tuple[RunBounds, ...]
    loss: str
    loss_range: float
    delta: float
    theta: str
    summary: dict = field(default_factory=dict)   # label -> metric -> {"mean", "std", "values"}
    orderings: dict = field(default_factory=dict) # which bounds rank the schedules as test accuracy does
    coverage: dict = field(default_factory=dict)  # label -> bound -> per-run bound_coverage and counts

    def labels(self) -> list[str]:
        return list(self.summary)

    def to_dict(self) -> dict:
        return {"loss": self.loss, "loss_range": self.loss_range, "delta": self.delta, "theta": self.theta,
                "runs": [r.to_dict() for r in self.runs], "summary": self.summary,
                "orderings": self.orderings, "coverage": self.coverage}

    def table(self) -> str:
        return format_comparison(self)

    __str__ = table


def _final_phase(rec: RunRecord) -> tuple[str, float]:
    sched = rec.manifest.get("schedule") or []
    if sched:
        last = sched[-1]
        return str(last.get("sampler")), float(last.get("q"))
    if rec.history:
        return str(rec.history[-1].get("sampler")), float(rec.history[-1].get("q"))
    raise ValueError(f"record {rec.path} names no sampler (no schedule in its manifest)")


def _test_risks(rec: RunRecord, loss: str, cap: float | None) -> tuple[float, float, float, float]:
    """The final model's test risk under the training prior n_j/n and under the uniform prior.

    Returns (risk_lt, risk_balanced, se_lt, se_balanced). Both risks are weighted sums
    Σ_j w_j·mean_j of per-class test means; their standard errors are
    sqrt(Σ_j w_j²·s_j²/m_j) with s_j² the per-class sample variance (ddof 1) over the m_j
    test samples of class j (the classes are sampled independently).
    """
    if loss == "zero-one" or rec.test_loss is None:
        per_sample = 1.0 - rec.test_correct[-1].astype(np.float64)
    else:
        per_sample = np.minimum(rec.test_loss[-1].astype(np.float64), cap)
    c = rec.num_classes
    per_class = class_mean_losses(per_sample, rec.test_labels, c)
    m = np.bincount(rec.test_labels, minlength=c).astype(np.float64)
    sq = np.bincount(rec.test_labels, weights=(per_sample - per_class[rec.test_labels]) ** 2, minlength=c)
    var_of_mean = np.divide(sq, m * np.maximum(m - 1.0, 1.0), out=np.zeros(c), where=m > 0)
    counts = rec.counts
    w_lt, w_bal = counts / counts.sum(), np.full(c, 1.0 / c)
    return (float(per_class @ w_lt), float(per_class.mean()),
            float(np.sqrt(w_lt ** 2 @ var_of_mean)), float(np.sqrt(w_bal ** 2 @ var_of_mean)))


#: (summary key, RunBounds.report attribute, measured risk attribute) of each bound: Eq. 6 and
#: Eq. 7 bound the risk under the training prior, the target-prior bound the balanced one.
BOUND_TARGETS = (("eq6", "ib", "test_risk_lt"), ("eq7", "sampling", "test_risk_lt"),
                 ("target", "target", "test_risk_balanced"))


def bound_coverage(r: "RunBounds", alpha: float = 0.05) -> dict[str, dict]:
    """Does each bound total lie above the risk the final model reaches on the test set?

    A bound of Eq. 6/7 holds for the *population* risk with probability 1 − δ; the test
    set estimates that risk with standard error ``se`` (:func:`_test_risks`). The slack
    total − measured is compared with z_{1−α/2}·sqrt(se² + σ_total²), σ_total the
    resampling error of the estimated terms (:func:`total_error`):

    * ``"above"``: the total lies above the measured risk beyond that error;
    * ``"BELOW"``: it lies below beyond that error: the estimate is *not* a bound for this
      model. With Θ̂ = checkpoints this is expected when training overfits: R̂ over a few
      nearby checkpoints is far smaller than R_n(Θ) (module docstring), so the estimate
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


def bounds_for_record(rec: RunRecord | str | Path, *, loss: str = "zero-one", cap: float | None = None,
                      theta: str = "checkpoints", losses: np.ndarray | None = None,
                      theta_index: int | None = None, delta: float = 0.05,
                      num_draws: int | None = None, seed: int = 0, num_bootstrap: int = 200,
                      mc_delta_fraction: float = 0.5, allow_incomplete: bool = False,
                      mc_std_error: float | None = None) -> RunBounds:
    """Bounds and measured risks for one run record (see :func:`compare`).

    ``loss`` / ``cap`` as in :func:`compare` (``cap`` required exactly for "ce-clipped").
    ``theta_index`` names the final model's row of ``losses`` (``theta='given'`` only).
    A record whose status is not "complete" raises :class:`~ltbound.records.RecordError`
    unless ``allow_incomplete=True``; the result's ``status`` says which it was.
    """
    loss, cap = check_loss(loss, cap, allowed=LOSSES)
    if theta not in THETAS:
        raise ValueError(f"theta must be one of {THETAS}, got {theta!r}")
    if not isinstance(rec, RunRecord):
        rec = load_record(rec)
    if not rec.complete and not allow_incomplete:
        raise RecordError(f"record {rec.path} is not complete (status {rec.status!r}, {rec.epochs.size} epochs): "
                          "its bounds would describe an unfinished run; let it finish, or pass "
                          "allow_incomplete=True to compare it as it is")
    if rec.epochs.size == 0:
        raise ValueError(f"record {rec.path} has no completed epoch")
    final_sampler, final_q = _final_phase(rec)
    if theta == "checkpoints":
        epochs = rec.final_stage_epochs()
        if loss == "ce-clipped":
            epochs = np.intersect1d(epochs, rec.loss_epochs)
        if epochs.size == 0:
            raise ValueError(f"record {rec.path} holds no per-sample losses of its final stage")
        matrix = rec.loss_matrix(epochs, loss=loss, cap=cap)
        theta_epochs = tuple(int(e) for e in epochs)
        if theta_index is not None:
            raise ValueError("theta_index is only for theta='given': with theta='checkpoints' the rows are the "
                             "final-stage epochs in order and the final model is the last")
        theta_index = -1
    else:
        if losses is None:
            raise ValueError("theta='given' needs losses: a (K, n) loss matrix, and theta_index, its row that "
                             "is the final model")
        matrix = np.asarray(losses, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != rec.n:
            raise ValueError(f"losses must have shape (K, {rec.n}) for record {rec.path}, got {matrix.shape}")
        theta_epochs = ()
    m_range = 1.0 if cap is None else cap
    p = sampling_distribution(rec.counts, final_q)
    report = estimate_bounds(matrix, rec.train_labels, p, target="balanced", delta=delta,
                             loss_range=m_range, num_classes=rec.num_classes, theta_index=theta_index,
                             num_draws=num_draws, seed=seed, num_bootstrap=num_bootstrap,
                             mc_delta_fraction=mc_delta_fraction, mc_std_error=mc_std_error)
    lt_risk, bal_risk, lt_se, bal_se = _test_risks(rec, loss, cap)
    per_class_acc = rec.per_class_test_accuracy()[-1]
    groups = shot_group_means(per_class_acc, rec.counts)
    correct = np.asarray(rec.test_correct[-1], dtype=bool)
    acc = accuracy_intervals(correct, rec.test_labels, train_counts=rec.counts, num_classes=rec.num_classes,
                             level=1.0 - delta)
    cert = certified_risk(correct, rec.test_labels, "balanced", delta=delta, num_classes=rec.num_classes)
    return RunBounds(
        label=rec.label, seed=0 if rec.seed is None else rec.seed, record=str(rec.path),
        final_sampler=final_sampler, final_q=final_q, theta=theta, theta_epochs=theta_epochs,
        theta_index=report.theta_index,
        balanced_test_accuracy=float(per_class_acc.mean()), group_accuracy=groups,
        test_risk_lt=lt_risk, test_risk_balanced=bal_risk,
        train_risk=float(matrix[report.theta_index].mean()),
        report=report, accuracy=acc.to_dict(), certified_balanced_risk=cert.to_dict(),
        status=rec.status, epochs_completed=int(rec.epochs.size), test_risk_lt_se=lt_se,
        test_risk_balanced_se=bal_se, test_correct=correct, test_labels=np.asarray(rec.test_labels))


#: metric name -> function of RunBounds (what the summary aggregates over seeds)
def _metrics(r: RunBounds) -> dict[str, float]:
    rep = r.report
    out: dict[str, float] = {
        "balanced_test_accuracy": r.balanced_test_accuracy,
        "test_risk_lt": r.test_risk_lt,
        "test_risk_balanced": r.test_risk_balanced,
        "condition": rep.condition,
        "confidence_ratio": rep.confidence_ratio,
        "num_params": float(rep.num_params),
    }
    if r.accuracy:
        out["balanced_acc_low"] = r.accuracy["balanced"]["low"]
        out["balanced_acc_high"] = r.accuracy["balanced"]["high"]
    if r.certified_balanced_risk:
        out["certified_balanced_risk"] = r.certified_balanced_risk["bound"]
    for g, v in r.group_accuracy.items():
        out[f"acc_{g}"] = math.nan if v is None else v
    for key, res in (("eq6", rep.ib), ("eq7", rep.sampling), ("target", rep.target)):
        out[f"{key}_total"] = res.total
        for t in res.terms:
            out[f"{key}_{t.name}"] = t.value
    for key, attr, risk in BOUND_TARGETS:   # "slack_" keys: not bound terms, so not "eq6_"-prefixed
        out[f"slack_{key}"] = getattr(rep, attr).total - getattr(r, risk)
    return out


def _coverage(runs: Sequence[RunBounds], alpha: float) -> dict:
    """Per schedule and bound: each run's :func:`bound_coverage` and how many runs fall in each verdict."""
    out: dict = {}
    for r in runs:
        for key, cov in bound_coverage(r, alpha).items():
            entry = out.setdefault(r.label, {}).setdefault(key, {"runs": [], "above": 0, "BELOW": 0,
                                                                "within error": 0})
            entry["runs"].append({"seed": r.seed, **cov})
            entry[cov["verdict"]] += 1
    return out


def _agg(values: Sequence[float]) -> dict:
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    return {"mean": float(finite.mean()) if finite.size else None,
            "std": float(finite.std(ddof=1)) if finite.size > 1 else 0.0 if finite.size else None,
            "values": [None if not math.isfinite(x) else float(x) for x in v]}


def total_error(res: BoundResult) -> float:
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


def _bound_relation(ta: list[float], ea: list[float], tb: list[float], eb: list[float], z: float) -> dict:
    """Is schedule a's mean bound total lower (+1) or higher (−1) than b's beyond the combined error, or tied (0)?

    The error of a mean over k seeds is sqrt((mean_r σ_r² + s²)/k): σ_r the resampling error of
    run r's total (:func:`total_error`), s the standard deviation over seeds (0 for one seed).
    """
    def mean_se(t, e):
        t, e = np.asarray(t), np.asarray(e)
        spread = t.var(ddof=1) if t.size > 1 else 0.0
        return float(t.mean()), math.sqrt((np.mean(e ** 2) + spread) / t.size)
    ma, sa = mean_se(ta, ea)
    mb, sb = mean_se(tb, eb)
    diff, err = ma - mb, math.hypot(sa, sb)
    rel = 0 if abs(diff) <= z * err else (1 if diff < 0 else -1)
    return {"difference": diff, "error": err, "threshold": z * err, "relation": rel}


def _orderings(summary: dict, runs: Sequence[RunBounds] = (), alpha: float = 0.05) -> dict:
    """Which bounds rank the schedules as balanced test accuracy does, counting only real differences.

    Pairs of schedules are compared twice. Accuracy: the mean difference over seeds with a
    t-interval (:func:`ltbound.evaluate.compare_over_seeds`, paired by seed when both have the
    same seeds); a pair is tied unless p < ``alpha``. When *every* schedule has exactly one
    run on one test set, the pair is compared image by image instead
    (:func:`ltbound.evaluate.compare_on_test_set`, exact McNemar on a balanced test set):
    a statement about these two trained models, not about the schedules (``single_runs``).
    Bound total: tied unless the difference of the means exceeds z_{1−α/2} times its
    combined resampling and seed error (:func:`_bound_relation`). A bound's verdict:

    * ``"too few seeds"`` when some schedule has fewer than 2 seeds (no seed variance to test);
    * ``"DISAGREES"`` when some pair is significantly ordered one way by accuracy and the
      other way by the bound;
    * ``"agrees"`` when every pair that accuracy separates is separated the same way by the
      bound (and accuracy separates at least one);
    * ``"tied"`` otherwise: accuracy or the bound cannot separate the schedules.

    ``agrees`` is True / False / None for agrees / DISAGREES / anything else. The same
    verdict against the test risk the bound bounds (:data:`BOUND_TARGETS`; pairs compared
    with the test-set standard errors, :func:`_risk_relation`) is ``versus_own_risk``.
    """
    labels = list(summary)
    acc = np.array([summary[lb]["balanced_test_accuracy"]["mean"] for lb in labels])
    by_acc = [labels[i] for i in np.argsort(-acc, kind="stable")]
    out: dict = {"by_test_accuracy": by_acc, "alpha": alpha}
    per_label: dict[str, list[RunBounds]] = {lb: [] for lb in labels}
    for r in runs:
        per_label.setdefault(r.label, []).append(r)
    few = [lb for lb in labels if len(per_label.get(lb, [])) < 2]
    single = len(labels) >= 2 and bool(runs) and all(len(per_label.get(lb, [])) == 1 for lb in labels) and _one_test_set(runs)
    if single:
        few = []
        out["single_runs"] = True
    z = float(stats.norm.ppf(1 - alpha / 2))
    pairs = [(a, b) for i, a in enumerate(labels) for b in labels[i + 1:]]
    acc_pairs: dict[str, dict] = {}
    for a, b in pairs:
        ra, rb = per_label.get(a, []), per_label.get(b, [])
        if not ra or not rb:
            continue
        seeds_a, seeds_b = [r.seed for r in ra], [r.seed for r in rb]
        paired = sorted(seeds_a) == sorted(seeds_b) and len(set(seeds_a)) == len(seeds_a)
        va = [r.balanced_test_accuracy for r in sorted(ra, key=lambda r: r.seed)]
        vb = [r.balanced_test_accuracy for r in sorted(rb, key=lambda r: r.seed)]
        if single:
            pc: PairedComparison = compare_on_test_set(ra[0].test_correct, rb[0].test_correct, ra[0].test_labels,
                                                       alpha=alpha, seed=0)
        else:
            pc = compare_over_seeds(va, vb, alpha=alpha, paired=paired)
        acc_pairs[f"{a} vs {b}"] = pc.to_dict()
    out["accuracy_pairs"] = acc_pairs
    for bound, attr, risk_attr in BOUND_TARGETS:
        key = f"{bound}_total"
        b = np.array([summary[lb][key]["mean"] for lb in labels])
        by_bound = [labels[i] for i in np.argsort(b, kind="stable")]
        bound_pairs: dict[str, dict] = {}
        disagree = agree = unseparated = 0
        own = {"agree": 0, "disagree": 0, "unseparated": 0, "separated": False, "available": True}
        for a_lb, b_lb in pairs:
            name = f"{a_lb} vs {b_lb}"
            ra, rb = per_label.get(a_lb, []), per_label.get(b_lb, [])
            if not ra or not rb:
                continue
            rel = _bound_relation([getattr(r.report, attr).total for r in ra],
                                  [total_error(getattr(r.report, attr)) for r in ra],
                                  [getattr(r.report, attr).total for r in rb],
                                  [total_error(getattr(r.report, attr)) for r in rb], z)
            bound_pairs[name] = rel
            risk_rel = _risk_relation(ra, rb, risk_attr, z)
            if risk_rel is None:
                own["available"] = False
            else:
                rel["risk"] = risk_rel
                own["separated"] |= bool(risk_rel["relation"])
                if risk_rel["relation"] and rel["relation"]:
                    own["agree" if risk_rel["relation"] == rel["relation"] else "disagree"] += 1
                elif risk_rel["relation"]:
                    own["unseparated"] += 1
            verdict = acc_pairs[name]["verdict"]
            acc_rel = 1 if verdict == "better" else -1 if verdict == "worse" else 0
            if acc_rel and rel["relation"] and acc_rel != rel["relation"]:
                disagree += 1
            elif acc_rel and rel["relation"] == acc_rel:
                agree += 1
            elif acc_rel:
                unseparated += 1
        separated = any(pc["verdict"] in ("better", "worse") for pc in acc_pairs.values())
        if few or not runs:
            verdict = "too few seeds"
        elif disagree:
            verdict = "DISAGREES"
        elif agree and not unseparated:
            verdict = "agrees"
        else:
            verdict = "tied"
        out[key] = {"by_bound": by_bound, "verdict": verdict,
                    "agrees": True if verdict == "agrees" else False if verdict == "DISAGREES" else None,
                    "tied": verdict == "tied", "accuracy_separates_a_pair": separated,
                    "pairs": bound_pairs, "kendall_tau": _kendall_tau(-b, acc)}
        if own["available"] and runs:
            # The risk the bound speaks of: Eq. 6/7 bound the long-tailed risk, which can rank
            # schedules the other way round from balanced accuracy.
            own_verdict = ("too few seeds" if few else "DISAGREES" if own["disagree"] else
                           "agrees" if own["agree"] and not own["unseparated"] else "tied")
            risks = np.array([summary[lb][risk_attr]["mean"] for lb in labels])
            out[key]["versus_own_risk"] = {"risk": risk_attr, "verdict": own_verdict,
                                           "by_risk": [labels[i] for i in np.argsort(risks, kind="stable")],
                                           "risk_separates_a_pair": own["separated"]}
    if few:
        out["too_few_seeds"] = few
    return out


def _risk_relation(ra: Sequence[RunBounds], rb: Sequence[RunBounds], attr: str, z: float) -> dict | None:
    """Is a's measured test risk lower (+1) or higher (−1) than b's beyond the error, or tied (0)?

    As :func:`_bound_relation`, with each run's test-set standard error in place of the
    resampling error (the two test risks are treated as independent, which is conservative
    for runs evaluated on the same images). None when the runs carry no such risk.
    """
    vals = [[getattr(r, attr) for r in rs] for rs in (ra, rb)]
    errs = [[getattr(r, attr + "_se") for r in rs] for rs in (ra, rb)]
    if not all(math.isfinite(v) for side in vals + errs for v in side):
        return None
    return _bound_relation(vals[0], errs[0], vals[1], errs[1], z)


def _one_test_set(runs: Sequence[RunBounds]) -> bool:
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


#: compare's cap when none is given: 5.0 for "ce-clipped" (the main job's M), none for "zero-one"
DEFAULT_CAP = 5.0


def compare(records: Iterable[RunRecord | str | Path], *, loss: str = "ce-clipped", cap: float | None | str = "default",
            theta: str = "checkpoints", losses: Sequence[np.ndarray] | None = None,
            theta_index: int | None = None, delta: float = 0.05,
            num_draws: int | None = None, seed: int = 0, num_bootstrap: int = 200,
            mc_delta_fraction: float = 0.5, allow_incomplete: bool = False,
            allow_duplicates: bool = False, mc_std_error: float | None = None) -> Comparison:
    """Bounds of Eq. 6, Eq. 7 and the balanced-risk bound for each run record, aggregated per schedule.

    Parameters
    ----------
    records : iterable of RunRecord or record folders
        Runs of one data set and split (the training labels must agree).
    loss : {'zero-one', 'ce-clipped'}
        The bounded loss the bounds use: 0-1 loss (M = 1) or cross-entropy clipped at
        ``cap`` (M = cap). Any other name is a ValueError.
    cap : float > 0, None or "default"
        The clipping level with 'ce-clipped' (required there; "default" = :data:`DEFAULT_CAP`);
        with 'zero-one' it must be None or "default" (an explicit cap would be ignored, so it
        is refused).
    theta : {'checkpoints', 'given'}
        How Θ̂ is formed (module docstring); with 'given', ``losses`` holds one (K, n)
        matrix per record and ``theta_index`` names the row that is the final model.
    theta_index : int, optional
        With ``theta='given'``: the final model's row of every matrix in ``losses``
        (0 for :func:`ltbound.train.theta.perturbation_loss_matrix`); required when they have
        more than one row. Not used with 'checkpoints' (the final model is the last epoch).
    delta : float in (0, 1)
        Total failure probability of each bound (union bound over its estimated parts).
    num_draws, seed, num_bootstrap : Monte Carlo sign draws (default 1000 unless ``mc_std_error``), their
        seed, bootstrap resamples of Q_n.
    mc_std_error : float, optional
        The wanted Monte Carlo standard error of every 2·R̂ term: each Rademacher estimate
        takes the sign draws that guarantee it for its loss matrix and weights, and at least
        1000 (:func:`ltbound.rademacher.draws_for_std_error`). Not with ``num_draws``.
    mc_delta_fraction : float in (0, 1)
        Share of ``delta`` charged to the Monte Carlo deviation of the sign draws; the
        McDiarmid confidence terms get the rest, (1 − fraction)·delta.
    allow_incomplete : bool
        Compare records whose status is "running" (each run's ``status`` is reported);
        without it they raise :class:`~ltbound.records.RecordError`.
    allow_duplicates : bool
        Allow one record folder twice, two records of the same label and seed, or two records
        with identical per-sample results (a copy with its seed relabelled), each of which would
        count one run as two seeds; without it they raise RecordError. Records of different
        splits (data set, imbalance, split seed or split hash) are always refused.

    Returns
    -------
    Comparison
        ``runs`` (one :class:`RunBounds` each), ``summary`` (per schedule: mean, std and
        values over seeds of every term and measured risk) and ``orderings``.
    """
    if isinstance(cap, str) and cap == "default":
        cap = DEFAULT_CAP if loss == "ce-clipped" else None
    loss, cap = check_loss(loss, cap, allowed=LOSSES)
    if theta not in THETAS:
        raise ValueError(f"theta must be one of {THETAS}, got {theta!r}")
    delta = check_delta(delta)
    if num_draws is not None and mc_std_error is not None:
        raise ValueError(f"pass num_draws ({num_draws!r}) or mc_std_error ({mc_std_error!r}), not both: "
                         "mc_std_error chooses the number of sign draws")
    if num_draws is not None:
        num_draws = check_positive_int(num_draws, "num_draws")
    if mc_std_error is not None:
        mc_std_error = check_finite_scalar(mc_std_error, "mc_std_error", low=0.0, low_open=True)
    mc_delta_fraction = check_finite_scalar(mc_delta_fraction, "mc_delta_fraction", low=0.0, high=1.0,
                                            low_open=True, high_open=True)
    recs = [r if isinstance(r, RunRecord) else load_record(r) for r in records]
    if not recs:
        raise ValueError("records is empty: pass at least one run record")
    if not allow_incomplete:
        running = [str(r.path) for r in recs if not r.complete]
        if running:
            raise RecordError(f"records {running[:3]} are not complete (still running or stopped early); let them "
                              "finish, or pass allow_incomplete=True to compare them as they are")
    check_one_experiment(recs, allow_duplicates=allow_duplicates)   # one split; each run once
    if theta == "given" and (losses is None or len(losses) != len(recs)):
        raise ValueError("theta='given' needs one loss matrix per record in losses")
    runs = tuple(bounds_for_record(r, loss=loss, cap=cap, theta=theta,
                                   losses=None if losses is None else losses[i], theta_index=theta_index,
                                   delta=delta, num_draws=num_draws, seed=seed, num_bootstrap=num_bootstrap,
                                   mc_delta_fraction=mc_delta_fraction, allow_incomplete=allow_incomplete,
                                   mc_std_error=mc_std_error)
                 for i, r in enumerate(recs))
    per_label: dict[str, list[dict]] = {}
    for r in runs:
        per_label.setdefault(r.label, []).append(_metrics(r))
    summary = {lb: {k: _agg([m[k] for m in ms]) for k in ms[0]} for lb, ms in per_label.items()}
    return Comparison(runs=runs, loss=loss, loss_range=1.0 if cap is None else cap,
                      delta=delta, theta=theta, summary=summary, orderings=_orderings(summary, runs, alpha=delta),
                      coverage=_coverage(runs, delta))


def format_comparison(comp: Comparison) -> str:
    """A readable table: schedules as rows, measured risks and bound terms as columns."""
    s = comp.summary
    if not s:
        return "(no runs)"
    first_run = comp.runs[0].report
    mark = {t.name: ("*" if t.kind == "estimate" else "") for res in (first_run.ib, first_run.sampling, first_run.target)
            for t in res.terms}
    split = first_run.ib.delta_split
    header = (f"loss: {comp.loss} (M = {comp.loss_range:g}), delta = {comp.delta:g} per bound, split "
              f"McDiarmid {split['mcdiarmid']:g} (confidence terms) + Monte Carlo {split['monte_carlo']:g} "
              f"(sign draws), Θ̂ = {comp.theta}; mean ± std over seeds; * = estimate, others rigorous; "
              f"acc interval: test-set {1 - comp.delta:g} interval (mean of its ends over seeds); certified: "
              f"rigorous test-set bound on the balanced 0-1 error at delta {comp.delta:g}")
    # The Monte Carlo error of every 2·R̂ in the tables, once: the draws and the largest standard error.
    rads = [res.rademacher for r in comp.runs for res in (r.report.ib, r.report.target)
            if res.rademacher is not None and res.rademacher.method == "monte-carlo"]
    ses = [2.0 * rad.std_error for rad in rads if math.isfinite(rad.std_error)]
    if rads:
        draws = sorted({rad.num_draws for rad in rads})
        header += (f"; 2·R̂ from {f'{draws[0]:,}' if len(draws) == 1 else f'{draws[0]:,}-{draws[-1]:,}'} sign draws"
                   + (f", Monte Carlo standard error <= {max(ses):.4f}" if ses else ""))
    blocks = []

    def fmt(stat: dict) -> str:
        if stat["mean"] is None:
            return "-"
        # a spread that rounds to zero at 4 decimals is not shown; nor is the sign of a zero
        mean = 0.0 if abs(stat["mean"]) < 5e-5 else stat["mean"]
        return f"{mean:.4f}±{stat['std']:.4f}" if stat["std"] >= 5e-5 else f"{mean:.4f}"

    def fmt_count(stat: dict) -> str:
        vals = [int(v) for v in stat["values"] if v is not None]
        return str(vals[0]) if len(set(vals)) == 1 else f"{min(vals)}-{max(vals)}"

    acc_cols = ["balanced_test_accuracy", "balanced_acc_low", "balanced_acc_high", "certified_balanced_risk",
                "acc_many", "acc_medium", "acc_few", "test_risk_lt",
                "test_risk_balanced", "condition", "confidence_ratio", "num_params"]
    acc_names = [c if c != "num_params" else "|Θ̂|" for c in acc_cols]
    blocks.append(_grid("Measured (balanced test set), Theorem 1's condition Q_n + L^s - L, and |Θ̂| "
                        "(models in each run's Θ̂; with 1 the Rademacher term is 0 by construction)",
                        acc_cols, s, fmt, acc_names, special={"num_params": fmt_count}))
    risk_of = {key: risk for key, _, risk in BOUND_TARGETS}
    for key, title in (("eq6", "Eq. 6 (IB objective): bounds the long-tailed risk"),
                       ("eq7", "Eq. 7 (final-stage p): bounds the long-tailed risk"),
                       ("target", "Target prior uniform: bounds the balanced test risk")):
        cols = [k for k in next(iter(s.values())) if k.startswith(key + "_") and k != key + "_total"]
        cols.append(key + "_total")
        names = [_TERM_LABELS.get(c[len(key) + 1:], c[len(key) + 1:]) + mark.get(c[len(key) + 1:], "")
                 for c in cols]
        cols += [risk_of[key], f"slack_{key}"]
        names += ["test risk", "total − test"]
        if comp.coverage:
            cols.append(f"cover_{key}")
            names.append("vs test risk")
        blocks.append(_grid(title, cols, s, fmt, names,
                            cells={(lb, f"cover_{key}"): _coverage_cell(comp.coverage.get(lb, {}).get(key))
                                   for lb in s}))
    o = comp.orderings
    lines = [f"By balanced test accuracy: {' > '.join(o['by_test_accuracy'])}"]
    if o.get("single_runs"):
        lines.append("  one run per schedule: accuracy pairs are paired tests on the test images and bound pairs use "
                     "the resampling error only; both speak of these trained models, not of the schedules")
    for name, pc in o.get("accuracy_pairs", {}).items():
        ci = "" if pc["low"] is None else f" [{pc['low']:+.4f}, {pc['high']:+.4f}]"
        p = "" if pc["p_value"] is None else f", p = {pc['p_value']:.3g}"
        lines.append(f"  balanced acc {name}: {pc['difference']:+.4f}{ci} ({pc['method']}{p}) -> {pc['verdict']}")
    words = {"agrees": "agrees with test accuracy", "DISAGREES": "DISAGREES with test accuracy",
             "too few seeds": "not assessed: fewer than 2 seeds for " + ", ".join(o.get("too_few_seeds", []))}
    for key in ("eq6_total", "eq7_total", "target_total"):
        words["tied"] = ("tied: the bound does not separate the pairs test accuracy separates"
                         if o[key].get("accuracy_separates_a_pair") else
                         f"tied: test accuracy separates no pair at alpha = {o.get('alpha', comp.delta):g}")
        lines.append(f"By {key[:-6]} bound (lowest first): {' < '.join(o[key]['by_bound'])}"
                     f"  -> {words[o[key]['verdict']]}")
        own = o[key].get("versus_own_risk")
        if own:
            what = "balanced" if own["risk"] == "test_risk_balanced" else "long-tailed"
            lines.append(f"  against the {what} test risk it bounds (lowest first: {' < '.join(own['by_risk'])}): "
                         f"{own['verdict']}")
        for name, pr in o[key].get("pairs", {}).items():
            rel = {1: "lower", -1: "higher", 0: "tied"}[pr["relation"]]
            risk = pr.get("risk")
            tail = "" if risk is None else (f"; test risk {risk['difference']:+.4f} ± {risk['threshold']:.4f} -> "
                                            f"{ {1: 'lower', -1: 'higher', 0: 'tied'}[risk['relation']] }")
            lines.append(f"  {name}: {pr['difference']:+.4f} ± {pr['threshold']:.4f} -> {rel}{tail}")
    below = [(lb, key) for lb, per in comp.coverage.items() for key, e in per.items() if e["BELOW"]]
    if below:
        lines.append("Bound below the measured test risk beyond its error (so not a bound for that model; "
                     f"R̂ over {'the final-stage checkpoints' if comp.theta == 'checkpoints' else 'the given Θ̂'} "
                     "misses the generalization gap): "
                     + ", ".join(f"{key} for {lb}" for lb, key in below))
    return header + "\n\n" + "\n\n".join(blocks) + "\n\n" + "\n".join(lines)


def _coverage_cell(entry: dict | None) -> str:
    """'above 3/3', 'BELOW 2/3, within 1/3', ... for one schedule and bound."""
    if not entry:
        return "-"
    n = len(entry["runs"])
    return ", ".join(f"{v} {entry[v]}/{n}" for v in ("above", "BELOW", "within error") if entry[v])


#: Column labels of bound terms in the table: the Rademacher column holds 2·R̂ (Eq. 6, 7), not R̂.
_TERM_LABELS = {"rademacher": "2·R̂", "monte_carlo": "2·(R̂⁺−R̂)", "residual": "−Q̂_n"}


def _grid(title: str, cols: list[str], s: dict, fmt, names: list[str] | None = None,
          special: dict | None = None, cells: dict | None = None) -> str:
    names = names or cols
    special = special or {}
    cells = cells or {}

    def cell(lb: str, c: str) -> str:
        if (lb, c) in cells:
            return cells[(lb, c)]
        if c not in s[lb]:
            return "-"
        return special[c](s[lb][c]) if c in special else fmt(s[lb][c])

    rows = [["schedule", *names]] + [[lb, *(cell(lb, c) for c in cols)] for lb in s]
    widths = [max(_display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = [title, "  ".join(_pad(h, w, left=True) for h, w in zip(rows[0], widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(_pad(c, w, left=True) for c, w in zip(r, widths)) for r in rows[1:]]
    return "\n".join(out)
