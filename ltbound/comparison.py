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
K perturbations of the final model from :func:`ltbound.train.theta.perturbation_loss_matrix`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ._validation import check_delta, check_positive_int
from .bounds import BoundReport, estimate_bounds
from .records import BOUNDED_LOSSES, RecordError, RunRecord, check_loss, load_record
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
    balanced_test_accuracy: float
    group_accuracy: dict        # many / medium / few balanced test accuracy (None when a group is empty)
    test_risk_lt: float         # final model's test risk under the training prior n_j/n (what Eq. 6/7 bound)
    test_risk_balanced: float   # final model's test risk under the uniform prior (what the target bound bounds)
    train_risk: float           # final model's L^s on the training set
    report: BoundReport
    status: str = "complete"    # the record's status: "complete", or "running" (compared only when allowed)
    epochs_completed: int = 0

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("label", "seed", "record", "final_sampler", "final_q", "theta",
                                          "balanced_test_accuracy", "group_accuracy", "test_risk_lt",
                                          "test_risk_balanced", "train_risk", "status", "epochs_completed")}
        d["theta_epochs"] = list(self.theta_epochs)
        d["bounds"] = self.report.to_dict()
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

    def labels(self) -> list[str]:
        return list(self.summary)

    def to_dict(self) -> dict:
        return {"loss": self.loss, "loss_range": self.loss_range, "delta": self.delta, "theta": self.theta,
                "runs": [r.to_dict() for r in self.runs], "summary": self.summary,
                "orderings": self.orderings}

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


def _test_risks(rec: RunRecord, loss: str, cap: float | None) -> tuple[float, float]:
    """The final model's test risk under the training prior n_j/n and under the uniform prior."""
    if loss == "zero-one" or rec.test_loss is None:
        per_sample = 1.0 - rec.test_correct[-1].astype(np.float64)
    else:
        per_sample = np.minimum(rec.test_loss[-1].astype(np.float64), cap)
    per_class = class_mean_losses(per_sample, rec.test_labels, rec.num_classes)
    counts = rec.counts
    return float(per_class @ (counts / counts.sum())), float(per_class.mean())


def bounds_for_record(rec: RunRecord | str | Path, *, loss: str = "zero-one", cap: float | None = None,
                      theta: str = "checkpoints", losses: np.ndarray | None = None, delta: float = 0.05,
                      num_draws: int = 1000, seed: int = 0, num_bootstrap: int = 200,
                      allow_incomplete: bool = False) -> RunBounds:
    """Bounds and measured risks for one run record (see :func:`compare`).

    ``loss`` / ``cap`` as in :func:`compare` (``cap`` required exactly for "ce-clipped").
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
    else:
        if losses is None:
            raise ValueError("theta='given' needs losses: a (K, n) loss matrix whose last row is the final model")
        matrix = np.asarray(losses, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != rec.n:
            raise ValueError(f"losses must have shape (K, {rec.n}) for record {rec.path}, got {matrix.shape}")
        theta_epochs = ()
    m_range = 1.0 if cap is None else cap
    p = sampling_distribution(rec.counts, final_q)
    report = estimate_bounds(matrix, rec.train_labels, p, target="balanced", delta=delta,
                             loss_range=m_range, num_classes=rec.num_classes, theta_index=-1,
                             num_draws=num_draws, seed=seed, num_bootstrap=num_bootstrap)
    lt_risk, bal_risk = _test_risks(rec, loss, cap)
    per_class_acc = rec.per_class_test_accuracy()[-1]
    groups = shot_group_means(per_class_acc, rec.counts)
    return RunBounds(
        label=rec.label, seed=0 if rec.seed is None else rec.seed, record=str(rec.path),
        final_sampler=final_sampler, final_q=final_q, theta=theta, theta_epochs=theta_epochs,
        balanced_test_accuracy=float(per_class_acc.mean()), group_accuracy=groups,
        test_risk_lt=lt_risk, test_risk_balanced=bal_risk, train_risk=float(matrix[-1].mean()),
        report=report, status=rec.status, epochs_completed=int(rec.epochs.size))


#: metric name -> function of RunBounds (what the summary aggregates over seeds)
def _metrics(r: RunBounds) -> dict[str, float]:
    rep = r.report
    out: dict[str, float] = {
        "balanced_test_accuracy": r.balanced_test_accuracy,
        "test_risk_lt": r.test_risk_lt,
        "test_risk_balanced": r.test_risk_balanced,
        "condition": rep.condition,
        "confidence_ratio": rep.confidence_ratio,
    }
    for g, v in r.group_accuracy.items():
        out[f"acc_{g}"] = math.nan if v is None else v
    for key, res in (("eq6", rep.ib), ("eq7", rep.sampling), ("target", rep.target)):
        out[f"{key}_total"] = res.total
        for t in res.terms:
            out[f"{key}_{t.name}"] = t.value
    return out


def _agg(values: Sequence[float]) -> dict:
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    return {"mean": float(finite.mean()) if finite.size else None,
            "std": float(finite.std(ddof=1)) if finite.size > 1 else 0.0 if finite.size else None,
            "values": [None if not math.isfinite(x) else float(x) for x in v]}


def _orderings(summary: dict, tol: float = 1e-9) -> dict:
    """Does each bound rank the schedules as balanced test accuracy does (lower bound ↔ higher accuracy)?

    ``agrees`` is None when a bound cannot rank the schedules (two means equal within ``tol``):
    a tie is not an agreement.
    """
    labels = list(summary)
    acc = np.array([summary[lb]["balanced_test_accuracy"]["mean"] for lb in labels])
    by_acc = [labels[i] for i in np.argsort(-acc, kind="stable")]
    out = {"by_test_accuracy": by_acc}
    for key in ("eq6_total", "eq7_total", "target_total"):
        b = np.array([summary[lb][key]["mean"] for lb in labels])
        by_bound = [labels[i] for i in np.argsort(b, kind="stable")]
        tied = bool(np.any(np.abs(b[:, None] - b[None, :])[np.triu_indices(b.size, 1)] <= tol))
        out[key] = {"by_bound": by_bound, "agrees": None if tied else by_bound == by_acc, "tied": tied,
                    "kendall_tau": _kendall_tau(-b, acc)}
    return out


def _kendall_tau(x: np.ndarray, y: np.ndarray) -> float | None:
    if x.size < 2:
        return None
    s = 0
    for i in range(x.size):
        for j in range(i + 1, x.size):
            s += np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
    return float(s / (x.size * (x.size - 1) / 2))


def compare(records: Iterable[RunRecord | str | Path], *, loss: str = "ce-clipped", cap: float | None = 5.0,
            theta: str = "checkpoints", losses: Sequence[np.ndarray] | None = None, delta: float = 0.05,
            num_draws: int = 1000, seed: int = 0, num_bootstrap: int = 200, allow_incomplete: bool = False,
            allow_duplicates: bool = False) -> Comparison:
    """Bounds of Eq. 6, Eq. 7 and the balanced-risk bound for each run record, aggregated per schedule.

    Parameters
    ----------
    records : iterable of RunRecord or record folders
        Runs of one data set and split (the training labels must agree).
    loss : {'zero-one', 'ce-clipped'}
        The bounded loss the bounds use: 0-1 loss (M = 1) or cross-entropy clipped at
        ``cap`` (M = cap). Any other name is a ValueError.
    cap : float > 0 or None
        Required with 'ce-clipped', and must be None with 'zero-one'.
    theta : {'checkpoints', 'given'}
        How Θ̂ is formed (module docstring); with 'given', ``losses`` holds one (K, n)
        matrix per record, last row the final model.
    delta : float in (0, 1)
        Total failure probability of each bound (union bound over its estimated parts).
    num_draws, seed, num_bootstrap : Monte Carlo sign draws, their seed, bootstrap resamples of Q_n.
    allow_incomplete : bool
        Compare records whose status is "running" (each run's ``status`` is reported);
        without it they raise :class:`~ltbound.records.RecordError`.
    allow_duplicates : bool
        Allow one record folder twice, or two records of the same label and seed (which
        would count one run as two seeds); without it they raise RecordError.

    Returns
    -------
    Comparison
        ``runs`` (one :class:`RunBounds` each), ``summary`` (per schedule: mean, std and
        values over seeds of every term and measured risk) and ``orderings``.
    """
    loss, cap = check_loss(loss, cap, allowed=LOSSES)
    if theta not in THETAS:
        raise ValueError(f"theta must be one of {THETAS}, got {theta!r}")
    delta = check_delta(delta)
    num_draws = check_positive_int(num_draws, "num_draws")
    recs = [r if isinstance(r, RunRecord) else load_record(r) for r in records]
    if not recs:
        raise ValueError("records is empty: pass at least one run record")
    if not allow_incomplete:
        running = [str(r.path) for r in recs if not r.complete]
        if running:
            raise RecordError(f"records {running[:3]} are not complete (still running or stopped early); let them "
                              "finish, or pass allow_incomplete=True to compare them as they are")
    ref = recs[0].train_labels
    for r in recs[1:]:
        if not np.array_equal(r.train_labels, ref):
            raise ValueError(f"records {recs[0].path} and {r.path} were trained on different splits; "
                             "compare runs of one data set and split")
    if not allow_duplicates:
        _check_duplicates(recs)
    if theta == "given" and (losses is None or len(losses) != len(recs)):
        raise ValueError("theta='given' needs one loss matrix per record in losses")
    runs = tuple(bounds_for_record(r, loss=loss, cap=cap, theta=theta,
                                   losses=None if losses is None else losses[i], delta=delta,
                                   num_draws=num_draws, seed=seed, num_bootstrap=num_bootstrap,
                                   allow_incomplete=allow_incomplete)
                 for i, r in enumerate(recs))
    per_label: dict[str, list[dict]] = {}
    for r in runs:
        per_label.setdefault(r.label, []).append(_metrics(r))
    summary = {lb: {k: _agg([m[k] for m in ms]) for k in ms[0]} for lb, ms in per_label.items()}
    return Comparison(runs=runs, loss=loss, loss_range=1.0 if cap is None else cap,
                      delta=delta, theta=theta, summary=summary, orderings=_orderings(summary))


def _check_duplicates(recs: Sequence[RunRecord]) -> None:
    """One folder twice, or two records of one label and seed, would count one run as two seeds."""
    seen: dict = {}
    for r in recs:
        for key in (("path", str(Path(r.path).resolve())),
                    ("run", r.label, r.seed) if r.seed is not None else None):
            if key is None:
                continue
            if key in seen:
                what = "the same folder" if key[0] == "path" else f"the same run (label {r.label!r}, seed {r.seed})"
                raise RecordError(f"records {seen[key]} and {r.path} are {what}: it would count as two seeds; "
                                  "pass each run once, or allow_duplicates=True")
            seen[key] = r.path


def format_comparison(comp: Comparison) -> str:
    """A readable table: schedules as rows, measured risks and bound terms as columns."""
    s = comp.summary
    if not s:
        return "(no runs)"
    first_run = comp.runs[0].report
    mark = {t.name: ("*" if t.kind == "estimate" else "") for res in (first_run.ib, first_run.sampling, first_run.target)
            for t in res.terms}
    header = (f"loss: {comp.loss} (M = {comp.loss_range:g}), delta = {comp.delta:g}, Θ̂ = {comp.theta}; "
              f"mean ± std over seeds; * = estimate, others rigorous")
    blocks = []

    def fmt(stat: dict) -> str:
        if stat["mean"] is None:
            return "-"
        # a spread that rounds to zero at 4 decimals is not shown; nor is the sign of a zero
        mean = 0.0 if abs(stat["mean"]) < 5e-5 else stat["mean"]
        return f"{mean:.4f}±{stat['std']:.4f}" if stat["std"] >= 5e-5 else f"{mean:.4f}"

    acc_cols = ["balanced_test_accuracy", "acc_many", "acc_medium", "acc_few", "test_risk_lt",
                "test_risk_balanced", "condition", "confidence_ratio"]
    blocks.append(_grid("Measured (balanced test set) and Theorem 1's condition Q_n + L^s - L",
                        acc_cols, s, fmt))
    for key, title in (("eq6", "Eq. 6 (IB objective): bounds the long-tailed risk"),
                       ("eq7", "Eq. 7 (final-stage p): bounds the long-tailed risk"),
                       ("target", "Target prior uniform: bounds the balanced test risk")):
        cols = [k for k in next(iter(s.values())) if k.startswith(key + "_") and k != key + "_total"]
        cols.append(key + "_total")
        names = [c[len(key) + 1:] + mark.get(c[len(key) + 1:], "") for c in cols]
        blocks.append(_grid(title, cols, s, fmt, names))
    o = comp.orderings
    lines = [f"By balanced test accuracy: {' > '.join(o['by_test_accuracy'])}"]
    for key in ("eq6_total", "eq7_total", "target_total"):
        verdict = ("cannot rank: some schedules tie" if o[key]["agrees"] is None
                   else "agrees" if o[key]["agrees"] else "DISAGREES")
        lines.append(f"By {key[:-6]} bound (lowest first): {' < '.join(o[key]['by_bound'])}"
                     f"  -> {verdict} with test accuracy")
    return header + "\n\n" + "\n\n".join(blocks) + "\n\n" + "\n".join(lines)


def _grid(title: str, cols: list[str], s: dict, fmt, names: list[str] | None = None) -> str:
    names = names or cols
    rows = [["schedule", *names]] + [[lb, *(fmt(s[lb][c]) if c in s[lb] else "-" for c in cols)] for lb in s]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = [title, "  ".join(h.ljust(w) for h, w in zip(rows[0], widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows[1:]]
    return "\n".join(out)
