"""Test-set statistics the paper never gave: intervals, a certified balanced risk, paired tests.

Everything here reads *per-sample test correctness* (as run records hold it: one bool per
test image) and the test labels; numpy/scipy only.

Intervals for accuracies
------------------------
Per class, the number of correct test images x_j out of m_j is Binomial(m_j, a_j); its
exact Clopper-Pearson interval (beta quantiles) has coverage >= the level for every a_j.

A group accuracy (balanced, many / medium / few) is a weighted mean A = Σ_j w_j a_j of
independent binomial proportions. Two cases:

* ``"pooled clopper-pearson"``: when w_j ∝ m_j (the paper's balanced test sets, where
  balanced accuracy is plain accuracy), Σ_j x_j is Poisson-binomial with mean N·A, and the
  Clopper-Pearson interval of Σ x_j out of N = Σ m_j keeps its coverage: by Hoeffding (1956,
  Thm. 4) a Poisson-binomial sum is more concentrated than Binomial(N, A) in both tails — for
  tail points at least one unit beyond the mean (P(S <= b) <= the binomial's for b <= NA − 1),
  which excludes only proportions very close to 0 or 1 (tests/test_pacbayes.py shows it failing
  for b > NA − 1).
* ``"effective-n clopper-pearson"`` otherwise (after Korn & Graubard 1998): the estimate
  Â = Σ w_j x_j / m_j with variance v̂ = Σ w_j² ã_j(1 − ã_j)/m_j, ã_j = (x_j + 1)/(m_j + 2)
  (Laplace-smoothed, so a small class that is all right or all wrong still adds variance),
  defines an effective size n* = Â(1 − Â)/v̂, capped at N (n* = 1/Σ w_j²/m_j when Â is 0
  or 1), and the interval is the Clopper-Pearson interval of n*·Â successes out of n*
  (beta quantiles accept non-integer counts). Not exact; its coverage is checked by
  simulation in the tests (long-tailed test counts down to 5 per class: >= 0.95).

Certified balanced risk
-----------------------
For a model fixed before the test set is drawn, the test errors of class j are
Binomial(m_j, e_j), and ``certified_risk`` bounds Σ_j π_j e_j with probability >= 1 − δ. It
shares its core with :func:`ltbound.certificates.pacbayes.target_risk_certificate` (KL = 0, one classifier),
whose module docstring derives each method. The default ``"auto"`` decides from the counts and
the prior only: on a balanced test set with π balanced, the exact pooled Clopper-Pearson limit
of the total error count (valid by Hoeffding 1956, Thm. 4, in the region that theorem covers;
0.0030 instead of 0.0516 for 100 images per class and no error); otherwise the pooled Chernoff
bound, a test inversion with the exact Bernoulli moment generating function (0.045 instead of
0.197 on a long-tailed test set of 500 … 5 images with no error). ``"binomial"`` is the
per-class one-sided Clopper-Pearson limit at δ/C with a union bound (the method before issue
23, still the tighter one when one large class carries the error and the small ones are clean);
``method="kl"`` its Chernoff kl form (Langford 2005, "test set bound").

Paired comparisons
------------------
Two models on the same test set: the exact McNemar test on the discordant pairs (one
right, the other wrong), stratified by class when the test set is not balanced, and a
paired, class-stratified bootstrap interval for the difference of balanced accuracies.
Over seeds: the mean difference with a Student-t interval (paired by seed when both lists
have the same length and ``paired=True``, else Welch).

References: Clopper & Pearson (1934); Hoeffding (1956), "On the distribution of the number
of successes in independent trials"; Korn & Graubard (1998); Langford (2005), "Tutorial
on practical prediction theory for classification"; McNemar (1947).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special, stats

from .._validation import (MAX_INT, MAX_LOSS, _describe, check_counts, check_delta, check_finite_scalar, check_labels,
                           check_not_masked, check_num_classes, check_positive_int, check_probability_vector,
                           check_random_state, real_array)
from ..certificates import kl_bounds as _klb, pacbayes as _pb
from ..bounds.sampling import _shot_groups

BETTER, WORSE, NO_DIFFERENCE, TOO_FEW = "better", "worse", "no detectable difference", "too few seeds"
VERDICTS = (BETTER, WORSE, NO_DIFFERENCE, TOO_FEW)
RISK_METHODS = ("auto", "binomial", "kl", "pooled", "pooled-chernoff", "pooled-binomial", "union", "union-kl")


def _f(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


# ----------------------------------------------------------------------------- boundary checks
def _check_correct(correct: Any, name: str = "correct") -> np.ndarray:
    check_not_masked(correct, name)
    arr = np.asarray(correct)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of per-sample correctness (bool or 0/1), "
                         f"got shape {arr.shape}")
    if arr.dtype != bool:
        if not np.issubdtype(arr.dtype, np.number) or not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"{name} must hold per-sample correctness as bool or 0/1; "
                             "threshold predictions first (correct = predictions == labels)")
        arr = arr.astype(bool)
    return arr


def _check_level(level: Any, name: str = "level") -> float:
    return check_finite_scalar(level, name, low=0.0, high=1.0, low_open=True, high_open=True)


def _test_counts(labels: np.ndarray, num_classes: int | None) -> tuple[np.ndarray, int]:
    c = int(labels.max()) + 1 if num_classes is None else num_classes
    m = np.bincount(labels, minlength=c)
    if np.any(m == 0):
        raise ValueError(f"labels has no test sample of classes {np.flatnonzero(m == 0).tolist()}; every class "
                         "needs at least one test sample (pass num_classes only for classes that are tested)")
    return m, c


def _inputs(correct: Any, labels: Any, num_classes: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    ok = _check_correct(correct)
    c = None if num_classes is None else check_num_classes(num_classes)
    y = check_labels(labels, c)
    if y.size != ok.size:
        raise ValueError(f"correct has {ok.size} samples but labels has {y.size}; they must describe the same "
                         "test samples in the same order")
    m, c = _test_counts(y, c)
    return ok, y, m, c


# ----------------------------------------------------------------------------- intervals
def clopper_pearson(successes: Any, trials: Any, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact two-sided Clopper-Pearson interval of a binomial proportion.

    Parameters
    ----------
    successes, trials : array_like, same shape
        x and m with 0 <= x <= m, m >= 1 (non-integer x, m are accepted: the beta quantiles
        are then those of the effective-n method of the module docstring).
    level : float in (0, 1)
        Coverage; each tail gets (1 − level)/2.

    Returns
    -------
    low, high : ndarray of float64, the shape of ``successes``
    """
    level = _check_level(level)
    x, m = real_array(successes, "successes"), real_array(trials, "trials")
    for name, v, given in (("successes", x, successes), ("trials", m, trials)):
        if v is None or np.asarray(given).dtype == bool:
            raise ValueError(f"{name} must be real numbers (counts), got {_describe(given)}")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} must be finite, got {v.tolist()}")
        if np.any(np.abs(v) > MAX_INT):
            # the beta quantiles lose every digit beyond this (1e308 trials gave a NaN limit)
            raise ValueError(f"{name} must be counts of at most 2**62, got {v.tolist()}")
    if x.shape != m.shape or np.any(m <= 0) or np.any(x < 0) or np.any(x > m):
        raise ValueError(f"successes and trials must have one shape with 0 <= successes <= trials and trials > 0, "
                         f"got {x.tolist()} out of {m.tolist()}")
    return _cp(x, m, level)


def _cp(x: np.ndarray, m: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    a = (1.0 - level) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x > 0, stats.beta.ppf(a, np.maximum(x, 1e-300), m - x + 1), 0.0)
        high = np.where(x < m, stats.beta.ppf(1 - a, x + 1, np.maximum(m - x, 1e-300)), 1.0)
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def _weighted_interval(x: np.ndarray, m: np.ndarray, w: np.ndarray, level: float) -> tuple[float, float, float, str]:
    """Point estimate and interval of Σ w_j x_j/m_j (w sums to 1 over the classes used)."""
    a_hat = x / m
    est = float(w @ a_hat)
    share = w / m
    if np.allclose(share, share[0], rtol=1e-12, atol=0.0):
        lo, hi = _cp(np.array(x.sum()), np.array(m.sum(), dtype=np.float64), level)
        return est, float(lo), float(hi), "pooled clopper-pearson"
    # Laplace-smoothed per-class variances: the raw â_j(1 − â_j) is 0 for a small class that
    # happens to be all right or all wrong, which made the interval undercover (0.54-0.93 in
    # the coverage simulations of tests/test_evaluate.py); smoothed, every case covered >= 0.95.
    a_tilde = (x + 1.0) / (m + 2.0)
    v = float(np.sum(w ** 2 * a_tilde * (1 - a_tilde) / m))
    n_kish = 1.0 / float(np.sum(w ** 2 / m))
    n_eff = est * (1 - est) / v if 0 < est < 1 else n_kish
    n_eff = min(n_eff, float(m.sum()))
    lo, hi = _cp(np.array(est * n_eff), np.array(n_eff), level)
    return est, float(lo), float(hi), "effective-n clopper-pearson"


@dataclass(frozen=True)
class AccuracyReport:
    """Per-class, per-shot-group and balanced test accuracy with confidence intervals.

    Attributes
    ----------
    per_class, per_class_low, per_class_high : ndarray, shape (C,)
        Accuracy x_j/m_j of each class and its exact Clopper-Pearson interval.
    test_counts : ndarray of int64, shape (C,)
        m_j, test samples per class.
    balanced : (float, float, float)
        (estimate, low, high) of the mean of the per-class accuracies.
    groups : dict
        'many' / 'medium' / 'few' -> (estimate, low, high), or None when the group is empty
        or no ``train_counts`` were given (the groups are defined by training counts).
    level : float
    methods : dict
        Which interval method each aggregate used (module docstring).
    """

    per_class: np.ndarray = field(repr=False)
    per_class_low: np.ndarray = field(repr=False)
    per_class_high: np.ndarray = field(repr=False)
    test_counts: np.ndarray = field(repr=False)
    balanced: tuple
    groups: dict
    level: float
    methods: dict

    def to_dict(self) -> dict:
        def tri(t):
            return None if t is None else {"estimate": _f(t[0]), "low": _f(t[1]), "high": _f(t[2])}
        return {"per_class": [float(v) for v in self.per_class],
                "per_class_low": [float(v) for v in self.per_class_low],
                "per_class_high": [float(v) for v in self.per_class_high],
                "test_counts": [int(v) for v in self.test_counts],
                "balanced": tri(self.balanced), "groups": {g: tri(t) for g, t in self.groups.items()},
                "level": float(self.level), "methods": dict(self.methods)}


def accuracy_intervals(correct: Any, labels: Any, *, train_counts: Any = None, num_classes: int | None = None,
                       level: float = 0.95) -> AccuracyReport:
    """Per-class, shot-group and balanced test accuracy, each with a confidence interval.

    Parameters
    ----------
    correct : array_like of bool, shape (m,)
        Whether each test sample was classified correctly.
    labels : array_like of int, shape (m,)
        Its class, in [0, C).
    train_counts : array_like of int, shape (C,), optional
        Training samples per class; defines the many (>= 100) / medium / few (<= 20) shot
        groups of Sect. 4.4. Without it the groups are None.
    num_classes : int, optional
        C (default: max label + 1). Every class needs a test sample.
    level : float in (0, 1)
        Coverage of every interval (each is marginal, not simultaneous).

    Returns
    -------
    AccuracyReport
    """
    ok, y, m, c = _inputs(correct, labels, num_classes)
    level = _check_level(level)
    x = np.bincount(y, weights=ok.astype(np.float64), minlength=c)
    lo, hi = _cp(x, m.astype(np.float64), level)
    methods = {}
    est, blo, bhi, methods["balanced"] = _weighted_interval(x, m, np.full(c, 1.0 / c), level)
    groups: dict = {"many": None, "medium": None, "few": None}
    if train_counts is not None:
        tc = check_counts(train_counts, "train_counts")
        if tc.size != c:
            raise ValueError(f"train_counts has {tc.size} classes but the test labels have {c}; "
                             "pass one training count per class")
        for g, idx in _shot_groups(tc).items():
            if idx.size:
                ge, gl, gh, methods[g] = _weighted_interval(x[idx], m[idx], np.full(idx.size, 1.0 / idx.size), level)
                groups[g] = (ge, gl, gh)
    return AccuracyReport(per_class=x / m, per_class_low=lo, per_class_high=hi, test_counts=m,
                          balanced=(est, blo, bhi), groups=groups, level=level, methods=methods)


# ----------------------------------------------------------------------------- certified risk
def _kl_bernoulli(q: float, p: float) -> float:
    return float(_klb._kl(q, p))


def _kl_upper(q: float, budget: float) -> float:
    """Largest p >= q with kl(q ‖ p) <= budget."""
    return float(_klb._kl_inv_upper(q, budget))


@dataclass(frozen=True)
class CertifiedRisk:
    """A rigorous upper bound on a model's risk under a target class prior, from a test set.

    Attributes
    ----------
    bound : float
        With probability >= 1 − ``delta`` over the test set, the model's true 0-1 risk under π
        is at most this (the model must not depend on the test set).
    empirical : float
        Σ_j π_j k_j/m_j, the measured test risk under π.
    per_class_upper : ndarray, shape (C,), or None
        U_j of the union methods, each holding with probability >= 1 − δ/C₊; None for the
        pooled methods, which bound Σ_j π_j e_j directly.
    target_prior : ndarray, shape (C,)
    test_counts : ndarray of int64, shape (C,)
    delta : float
    method : str
        The method used ("auto" resolved; module docstring of :mod:`ltbound.certificates.pacbayes`).
    kind : str
        Always "rigorous": no term is estimated.
    requested_method : str
        The ``method`` argument.
    """

    bound: float
    empirical: float
    per_class_upper: np.ndarray | None = field(repr=False)
    target_prior: np.ndarray = field(repr=False)
    test_counts: np.ndarray = field(repr=False)
    delta: float
    method: str
    kind: str = "rigorous"
    requested_method: str = "auto"

    def to_dict(self) -> dict:
        return {"bound": float(self.bound), "empirical": float(self.empirical),
                "per_class_upper": None if self.per_class_upper is None else [float(v) for v in self.per_class_upper],
                "target_prior": [float(v) for v in self.target_prior],
                "test_counts": [int(v) for v in self.test_counts], "delta": float(self.delta),
                "method": self.method, "requested_method": self.requested_method, "kind": self.kind}


def certified_risk(correct: Any, labels: Any, target_prior: Any = "balanced", *, delta: float = 0.05,
                   num_classes: int | None = None, method: str = "auto") -> CertifiedRisk:
    """Test-set bound on the 0-1 risk under a target class prior (rigorous; module docstring).

    The same core as :func:`ltbound.certificates.pacbayes.target_risk_certificate` with KL = 0 and one
    classifier (its 0-1 losses are ``~correct``), where the methods are derived.

    Parameters
    ----------
    correct : array_like of bool or 0/1, shape (m,)
        Per-sample test *correctness* (``predictions == labels``, not error flags) of one model
        chosen without looking at this test set. A mean below 1/C (worse than guessing) warns:
        that is what error flags passed by mistake look like.
    labels : array_like of int, shape (m,)
    target_prior : "balanced" or array_like, shape (C,)
        π, the class prior of the risk to certify ("balanced": uniform, the paper's metric).
        Classes with π_j = 0 need no test samples; every other class does.
    delta : float in (0, 1)
        Failure probability over the draw of the test set.
    num_classes : int, optional
        C (default: the length of ``target_prior``, else max label + 1 — pass it when a class
        might be missing from the test set, or the missing class goes unnoticed).
    method : {"auto", "binomial", "kl", "pooled", "pooled-chernoff", "pooled-binomial", "union", "union-kl"}
        "auto" (default) decides from the counts and the prior only: the exact pooled
        Clopper-Pearson limit when π_j/m_j is equal over the classes (a balanced test set with π
        balanced), else the pooled Chernoff bound. "binomial" (= "union") is the per-class
        Clopper-Pearson limit at δ/C with a union bound, the method before issue 23; "kl"
        (= "union-kl") its Chernoff-kl form.

    Returns
    -------
    CertifiedRisk
    """
    ok = _check_correct(correct)
    if method not in RISK_METHODS:
        raise ValueError(f"method must be one of {RISK_METHODS}, got {method!r}")
    core = {"binomial": "union", "kl": "union-kl"}.get(method, method)
    problem = _pb._problem(1.0 - ok.astype(np.float64), labels, kl=0.0, target_prior=target_prior, delta=delta,
                           num_classes=num_classes, method=core, mc_delta_fraction=0.5, prior_grid_size=1,
                           losses_name="correct", fixed_before_sample=True)
    c = problem.num_classes
    if c > 1 and float(ok.mean()) < 1.0 / c:
        warnings.warn(f"correct has mean {float(ok.mean()):.3f}, below 1/C = {1.0 / c:.3f} (worse than guessing): "
                      "certified_risk wants per-sample correctness (predictions == labels); if these are error "
                      "flags, pass ~errors", UserWarning, stacklevel=2)
    cert = _pb._certify(problem)
    return CertifiedRisk(bound=cert.bound, empirical=cert.empirical, per_class_upper=cert.per_class_upper,
                         target_prior=cert.target_prior, test_counts=cert.counts, delta=cert.delta,
                         method=cert.method, requested_method=method)


# ----------------------------------------------------------------------------- paired comparisons
@dataclass(frozen=True)
class PairedComparison:
    """Model A against model B: difference A − B, its interval, a p-value and a verdict.

    Attributes
    ----------
    difference : float
        Balanced accuracy of A minus that of B (test-set comparison), or the mean over seeds
        of the per-seed metric difference (seed comparison).
    low, high : float
        Interval of the difference at level 1 − alpha (paired bootstrap percentile, or t).
    p_value : float
        Exact McNemar (test set) or t-test (seeds), two-sided.
    verdict : str
        "better" / "worse" (A than B) when p_value < alpha, "no detectable difference"
        otherwise, "too few seeds" when a seed comparison has fewer than 2 per model.
    alpha : float
    method : str
    details : dict
        Discordant counts, number of seeds, bootstrap replicates, seed.
    """

    difference: float
    low: float
    high: float
    p_value: float
    verdict: str
    alpha: float
    method: str
    details: dict = field(default_factory=dict)

    @property
    def significant(self) -> bool:
        return self.verdict in (BETTER, WORSE)

    def to_dict(self) -> dict:
        return {"difference": _f(self.difference), "low": _f(self.low), "high": _f(self.high),
                "p_value": _f(self.p_value), "verdict": self.verdict, "alpha": float(self.alpha),
                "method": self.method, "details": {k: (_f(v) if isinstance(v, float) else v)
                                                  for k, v in self.details.items()}}


def _verdict(diff: float, p: float, alpha: float) -> str:
    if p < alpha and diff != 0:
        return BETTER if diff > 0 else WORSE
    return NO_DIFFERENCE


def mcnemar_exact(correct_a: Any, correct_b: Any) -> tuple[float, int, int]:
    """Two-sided exact McNemar test: (p-value, b, c) with b = A right & B wrong, c the reverse.

    Under H0 (equal accuracy) each of the b + c discordant pairs is A's with probability
    1/2, so p = P(|Bin(b + c, 1/2) − (b + c)/2| >= |b − (b + c)/2|) (1 when b + c = 0).
    """
    a, b_ = _check_correct(correct_a, "correct_a"), _check_correct(correct_b, "correct_b")
    if a.size != b_.size:
        raise ValueError(f"correct_a has {a.size} samples but correct_b has {b_.size}: a paired test needs the "
                         "same test samples in the same order")
    return _mcnemar(a, b_)


def _mcnemar(a: np.ndarray, b_: np.ndarray) -> tuple[float, int, int]:
    """Core of :func:`mcnemar_exact`: two checked bool arrays of one length."""
    b = int(np.sum(a & ~b_))
    c = int(np.sum(~a & b_))
    p = 1.0 if b + c == 0 else float(stats.binomtest(b, b + c, 0.5).pvalue)
    return p, b, c


def compare_on_test_set(correct_a: Any, correct_b: Any, labels: Any, *, alpha: float = 0.05,
                        num_bootstrap: int = 2000, seed: int | np.random.Generator = 0,
                        num_classes: int | None = None) -> PairedComparison:
    """Paired comparison of two models' balanced accuracy on the same test set.

    Parameters
    ----------
    correct_a, correct_b : array_like of bool, shape (m,)
        Per-sample correctness of models A and B on the same samples, in the same order.
    labels : array_like of int, shape (m,)
    alpha : float in (0, 1)
        Level of the test; the interval has coverage 1 − alpha.
    num_bootstrap : int
        Paired bootstrap replicates, resampling test indices within each class.
    seed : int or numpy Generator
        Seeds the bootstrap (and the randomization test on unbalanced test sets).

    Returns
    -------
    PairedComparison
        ``difference`` = balanced accuracy of A − B. On a balanced test set the p-value is
        the exact McNemar test; otherwise it is a class-stratified sign-flip randomization
        test of the weighted discordance Σ_j (b_j − c_j)/m_j with ``num_bootstrap`` flips
        (McNemar's null, weighted as balanced accuracy weights the classes).
    """
    a, y, m, c = _inputs(correct_a, labels, num_classes)
    b = _check_correct(correct_b, "correct_b")
    if b.size != a.size:
        raise ValueError(f"correct_a has {a.size} samples but correct_b has {b.size}: a paired comparison needs "
                         "the same test samples in the same order")
    alpha = check_delta(alpha, "alpha")
    num_bootstrap = check_positive_int(num_bootstrap, "num_bootstrap")
    rng, seed_value = check_random_state(seed)
    d = a.astype(np.float64) - b.astype(np.float64)          # +1: A right, B wrong
    diff = float(np.mean(np.bincount(y, weights=d, minlength=c) / m))
    # Paired bootstrap, stratified by class (the class sizes of the test set are fixed by design).
    # Within class j each resampled pair contributes +1, -1 or 0, so a replicate's class sum is
    # (#+1) − (#−1) of a multinomial draw: one vectorised draw per class instead of per sample.
    plus = np.bincount(y, weights=(d > 0).astype(np.float64), minlength=c)
    minus = np.bincount(y, weights=(d < 0).astype(np.float64), minlength=c)
    reps = np.zeros(num_bootstrap)
    for j in range(c):
        pv = np.array([plus[j], minus[j], m[j] - plus[j] - minus[j]]) / m[j]
        draw = rng.multinomial(int(m[j]), pv, size=num_bootstrap)
        reps += (draw[:, 0] - draw[:, 1]) / m[j]
    reps /= c
    low, high = (float(v) for v in np.quantile(reps, [alpha / 2, 1 - alpha / 2]))
    if np.all(m == m[0]):
        p, nb, nc = _mcnemar(a, b)
        method = "exact McNemar + stratified paired bootstrap"
    else:
        disc = d != 0
        w = (1.0 / m)[y[disc]]
        obs = float(np.sum(w * d[disc]))
        signs = rng.choice(np.array([-1.0, 1.0]), size=(num_bootstrap, int(disc.sum())))
        null = signs @ w if disc.any() else np.zeros(num_bootstrap)
        p = float((1 + np.sum(np.abs(null) >= abs(obs) - 1e-12)) / (num_bootstrap + 1))
        nb, nc = int(np.sum(d > 0)), int(np.sum(d < 0))
        method = "stratified McNemar randomization + stratified paired bootstrap"
    return PairedComparison(difference=diff, low=low, high=high, p_value=p, verdict=_verdict(diff, p, alpha),
                            alpha=alpha, method=method,
                            details={"a_right_b_wrong": nb, "a_wrong_b_right": nc, "num_bootstrap": num_bootstrap,
                                     "seed": seed_value, "test_samples": int(a.size)})


def compare_over_seeds(values_a: Any, values_b: Any, *, alpha: float = 0.05, paired: bool = True) -> PairedComparison:
    """Mean difference of a metric (e.g. balanced accuracy) over seeds, with a t-interval.

    Parameters
    ----------
    values_a, values_b : array_like of float, shape (s_a,), (s_b,)
        The metric per seed for models A and B.
    alpha : float in (0, 1)
    paired : bool
        Pair the lists seed by seed (same length needed): t-interval of the per-seed
        differences. Otherwise Welch's unequal-variance t.

    Returns
    -------
    PairedComparison
        With fewer than 2 values on a side the interval and p-value are NaN and the verdict
        is "too few seeds".
    """
    if not isinstance(paired, (bool, np.bool_)):
        raise ValueError(f"paired must be True (pair the seeds) or False (Welch), got {paired!r}")
    va, vb = real_array(values_a, "values_a"), real_array(values_b, "values_b")
    for name, v, given in (("values_a", va, values_a), ("values_b", vb, values_b)):
        if v is None:
            raise ValueError(f"{name} must be real per-seed values, got {_describe(given)}")
        v = v.ravel()
        if v.size == 0 or not np.all(np.isfinite(v)):
            raise ValueError(f"{name} must be a non-empty list of finite per-seed values, got {v.tolist()}")
        if np.any(np.abs(v) > MAX_LOSS):
            raise ValueError(f"{name} must be at most {MAX_LOSS:g} in magnitude (per-seed metrics such as "
                             f"accuracies; larger values overflow the variance), got {v.tolist()}; rescale them")
    va, vb = va.ravel(), vb.ravel()
    alpha = check_delta(alpha, "alpha")
    if paired and va.size != vb.size:
        raise ValueError(f"paired=True needs one value per seed on both sides, got {va.size} and {vb.size}; "
                         "pass paired=False for unpaired (Welch) comparison")
    diff = float(va.mean() - vb.mean())
    details = {"seeds_a": int(va.size), "seeds_b": int(vb.size)}
    if va.size < 2 or vb.size < 2:
        return PairedComparison(diff, math.nan, math.nan, math.nan, TOO_FEW, alpha,
                                "paired t" if paired else "Welch t", details)
    if paired:
        d = va - vb
        se, df = float(d.std(ddof=1) / math.sqrt(d.size)), d.size - 1
        method = "paired t"
    else:
        sa, sb = va.var(ddof=1) / va.size, vb.var(ddof=1) / vb.size
        se = float(math.sqrt(sa + sb))
        df = float((sa + sb) ** 2 / (sa ** 2 / (va.size - 1) + sb ** 2 / (vb.size - 1))) if se > 0 else 1.0
        method = "Welch t"
    if se == 0:
        p = 1.0 if diff == 0 else 0.0
        low = high = diff
    else:
        t = diff / se
        p = float(2 * stats.t.sf(abs(t), df))
        half = float(stats.t.isf(alpha / 2, df) * se)     # isf: 1 − α/2 rounds to 1 for tiny α
        low, high = diff - half, diff + half
    return PairedComparison(diff, low, high, p, _verdict(diff, p, alpha), alpha, method, details)


def detectable_difference(accuracy: float, test_size: int, *, alpha: float = 0.05) -> float:
    """Smallest accuracy difference an unpaired two-proportion z-test could call significant.

    Two models each evaluated on ``test_size`` samples at accuracy near ``accuracy`` (a
    fraction in (0, 1)): the difference must exceed z_{1−α/2} · sqrt(2 a (1 − a) / N).
    This is the significance threshold (power 1/2), not a power-80% detectable effect; a
    paired test on the same images can detect smaller differences.
    """
    a = check_finite_scalar(accuracy, "accuracy", low=0.0, high=1.0, low_open=True, high_open=True)
    n = check_positive_int(test_size, "test_size")
    alpha = check_delta(alpha, "alpha")
    return float(_z_two_sided(alpha) * math.sqrt(2 * a * (1 - a) / n))


def _z_two_sided(alpha: float) -> float:
    """z_{1−α/2} for any α in (0, 1), finite down to the smallest subnormal α = 5e-324.

    isf(α/2), not ppf(1 − α/2): for α below ~1e-16, 1 − α/2 rounds to 1 and ppf gives inf.
    For α/2 that underflows to 0 (α = 5e-324) the quantile comes from log(α/2) instead.
    """
    if alpha / 2 > 0:
        return float(stats.norm.isf(alpha / 2))
    return float(-special.ndtri_exp(math.log(alpha) - math.log(2.0)))
