"""Bounds from run records, side by side with what the models achieved.

:func:`compare` reads run records written by the trainer (``ltbound.train``), forms a
finite parameter set Θ̂ for each run, evaluates every term of Eq. 6, Eq. 7 and the
target-prior bound with :func:`ltbound.bounds.estimate.estimate_bounds`, measures the risks the
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
K perturbations of the final model from :func:`ltbound.train.loss_matrices.theta.perturbation_loss_matrix`)
and names the final model's row with ``theta_index`` (0 for perturbation matrices).

Three rooms
-----------
This module computes (:func:`compare`, :func:`bounds_for_record`); :mod:`ltbound.statistics.verdicts`
judges (coverage of each bound, orderings of the schedules, the pair tests and their family
correction); :mod:`ltbound.comparison.report` prints (:func:`format_comparison`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .._validation import check_delta, check_finite_scalar, check_positive_int
from ..bounds.estimate import BoundReport, estimate_bounds
from .report import format_comparison
from ..statistics.heldout import accuracy_intervals, certified_risk
from ..records import BOUNDED_LOSSES, RecordError, RunRecord, check_loss, check_one_experiment, load_record
from ..bounds.objectives import class_mean_losses
from ..bounds.sampling import sampling_distribution, shot_group_means
from ..statistics.verdicts import BOUND_TARGETS, bound_coverage, total_error
from ..statistics.verdicts import coverage as _coverage, orderings as _orderings

__all__ = ["RunBounds", "Comparison", "bounds_for_record", "compare", "DEFAULT_CAP", "LOSSES", "THETAS",
           # judged in ltbound.statistics.verdicts, printed by ltbound.comparison.report; importable from here as before
           "BOUND_TARGETS", "bound_coverage", "total_error", "format_comparison"]

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
    accuracy: dict = field(default_factory=dict)    # ltbound.statistics.heldout.AccuracyReport.to_dict() of the final model
    certified_balanced_risk: dict = field(default_factory=dict)  # CertifiedRisk.to_dict(): rigorous test-set bound
    status: str = "complete"    # the record's status: "complete", or "running" (compared only when allowed)
    epochs_completed: int = 0
    test_risk_lt_se: float = math.nan        # standard error of test_risk_lt (finite test set, per-class variances)
    test_risk_balanced_se: float = math.nan  # standard error of test_risk_balanced
    # per-image results of the final model (paired tests between single runs); not in to_dict
    test_correct: np.ndarray | None = field(default=None, repr=False, compare=False)
    test_labels: np.ndarray | None = field(default=None, repr=False, compare=False)
    # Eq. 6 / target bound checked on every member of Θ̂ with test losses (uniform_gaps); {} if none
    theta_gaps: dict = field(default_factory=dict)

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
        d["theta_gaps"] = self.theta_gaps
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
    theta_label: str = ""       # how Θ̂ was formed, in words (header, figure); "" = ``theta``

    @property
    def theta_words(self) -> str:
        """Θ̂ as the header and the figure name it: ``theta_label`` if given, else ``theta``."""
        return self.theta_label or self.theta

    def labels(self) -> list[str]:
        return list(self.summary)

    def to_dict(self) -> dict:
        return {"loss": self.loss, "loss_range": self.loss_range, "delta": self.delta, "theta": self.theta,
                "theta_label": self.theta_words,
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
        gap_epochs = epochs
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
        gap_epochs = None         # perturbations of the final model: no test losses of theirs
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
        test_risk_balanced_se=bal_se, test_correct=correct, test_labels=np.asarray(rec.test_labels),
        theta_gaps={} if gap_epochs is None else uniform_gaps(rec, gap_epochs, matrix, loss, cap, report))


def _class_means(matrix: np.ndarray, labels: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-row class means (K, C) of a (K, n) loss matrix and the class counts (C,)."""
    onehot = np.zeros((labels.size, num_classes))
    onehot[np.arange(labels.size), labels] = 1.0
    counts = onehot.sum(axis=0)
    return np.divide(matrix @ onehot, counts, out=np.zeros((matrix.shape[0], num_classes)), where=counts > 0), counts


#: A member of Θ̂ exceeds a bound's deviation term when its measured gap is above it by more than
#: this many test-set standard errors (≈ 95% one-sided per member; not corrected over members).
GAP_STANDARD_ERRORS = 2.0


def uniform_gaps(rec: RunRecord, epochs: np.ndarray, matrix: np.ndarray, loss: str, cap: float | None,
                 report: BoundReport) -> dict:
    """Eq. 6 and the target bound as the uniform statements they are, checked on every member of Θ̂.

    Both say: with probability ≥ 1 − δ, for *every* θ ∈ Θ, risk(θ) ≤ objective(θ) + deviation,
    where deviation = total − objective = 2·R_n + Monte Carlo term + confidence term is the same
    for every θ (Eq. 6; the target bound with π in place of n_j/n). Where the record holds test
    losses of the checkpoints in Θ̂ (0-1: every epoch; clipped cross-entropy: the epochs in
    ``test_loss_epochs``, all of the final stage for records of the full recipe), each member's
    gap, test risk(θ) − objective(θ), is set against the deviation: the bound is contradicted
    for a member whose gap exceeds it by more than :data:`GAP_STANDARD_ERRORS` test-set
    standard errors. Eq. 7 is left out: its residual −Q̂_n depends on θ.

    Parameters
    ----------
    rec : RunRecord
    epochs : (K,) int
        The epochs of Θ̂, ascending, in the row order of ``matrix``.
    matrix : (K, n) float
        Training losses of Θ̂ (the bounded loss the report used).
    loss, cap : the bounded loss (as in :func:`compare`).
    report : BoundReport
        The bounds computed from ``matrix``.

    Returns
    -------
    dict
        ``{}`` when no member has test losses; otherwise per bound ("eq6": long-tailed risk,
        "target": balanced risk) the deviation, the members' epochs, gaps and their standard
        errors, the largest gap and its epoch, and how many members exceed the deviation.
    """
    have = epochs if loss == "zero-one" else np.intersect1d(epochs, rec.test_loss_epochs)
    if have.size == 0:
        return {}
    rows = np.searchsorted(epochs, have)         # epochs of Θ̂ are ascending (final_stage_epochs)
    c = rec.num_classes
    test = rec.test_loss_matrix(have, loss=loss, cap=cap)                      # (K', m)
    test_means, m = _class_means(test, rec.test_labels, c)
    test_sq, _ = _class_means(test ** 2, rec.test_labels, c)
    # variance of each class mean: sample variance (ddof 1) / m_j
    var_mean = np.divide((test_sq - test_means ** 2) * m, m * np.maximum(m - 1.0, 1.0),
                         out=np.zeros_like(test_means), where=m > 0)
    train_means, _ = _class_means(matrix[rows], rec.train_labels, c)
    counts = rec.counts.astype(np.float64)
    out = {}
    for key, res, w, objective in (
            ("eq6", report.ib, counts / counts.sum(), matrix[rows].mean(axis=1)),      # L^s(θ), Eq. 3
            ("target", report.target, np.full(c, 1.0 / c), train_means.mean(axis=1))):  # L_π(θ), π uniform
        deviation = res.total - next(t.value for t in res.terms if t.name == "objective")
        gap = test_means @ w - objective
        se = np.sqrt(np.clip(var_mean, 0.0, None) @ (w ** 2))
        worst = int(np.argmax(gap))
        out[key] = {"deviation": float(deviation), "epochs": [int(e) for e in have],
                    "gap": [float(g) for g in gap], "gap_se": [float(x) for x in se],
                    "max_gap": float(gap[worst]), "max_gap_epoch": int(have[worst]),
                    "members": int(have.size), "members_in_theta": int(epochs.size),
                    "exceeded": int(np.sum(gap - deviation > GAP_STANDARD_ERRORS * se)),
                    "rule": f"gap - deviation > {GAP_STANDARD_ERRORS:g} test-set standard errors"}
    return out


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


def _agg(values: Sequence[float]) -> dict:
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    return {"mean": float(finite.mean()) if finite.size else None,
            "std": float(finite.std(ddof=1)) if finite.size > 1 else 0.0 if finite.size else None,
            "values": [None if not math.isfinite(x) else float(x) for x in v]}


#: compare's cap when none is given: 5.0 for "ce-clipped" (the main job's M), none for "zero-one"
DEFAULT_CAP = 5.0


def compare(records: Iterable[RunRecord | str | Path], *, loss: str = "ce-clipped", cap: float | None | str = "default",
            theta: str = "checkpoints", losses: Sequence[np.ndarray] | None = None,
            theta_index: int | None = None, delta: float = 0.05,
            num_draws: int | None = None, seed: int = 0, num_bootstrap: int = 200,
            mc_delta_fraction: float = 0.5, allow_incomplete: bool = False,
            allow_duplicates: bool = False, theta_label: str | None = None,
            mc_std_error: float | None = None) -> Comparison:
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
        (0 for :func:`ltbound.train.loss_matrices.theta.perturbation_loss_matrix`); required when they have
        more than one row. Not used with 'checkpoints' (the final model is the last epoch).
    delta : float in (0, 1)
        Total failure probability of each bound (union bound over its estimated parts).
    num_draws, seed, num_bootstrap : Monte Carlo sign draws (default 1000 unless ``mc_std_error``), their
        seed, bootstrap resamples of Q_n.
    mc_std_error : float, optional
        The wanted Monte Carlo standard error of every 2·R̂ term: each Rademacher estimate
        takes the sign draws that guarantee it for its loss matrix and weights, and at least
        1000 (:func:`ltbound.bounds.rademacher.draws_for_std_error`). Not with ``num_draws``.
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
    theta_label : str, optional
        How Θ̂ was formed, in words, for the header and the figure (e.g. "final model + 16
        perturbations (relative radius 0.01)" with ``theta='given'``); default ``theta``.

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
    if theta_label is not None and (not isinstance(theta_label, str) or not theta_label.strip()):
        raise ValueError(f"theta_label must be a non-empty string (how Θ̂ was formed, in words), got {theta_label!r}")
    delta = check_delta(delta)
    if not 1.0 - delta < 1.0:     # accuracy intervals at level 1 - delta: it must stay below 1 in float64
        raise ValueError(f"delta must be at least 1.2e-16 (1 - delta, the level of the test-accuracy intervals, "
                         f"rounds to 1 below it), got {delta!r}")
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
                      coverage=_coverage(runs, delta), theta_label=theta_label or "")
