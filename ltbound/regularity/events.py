"""Sample and class regularity measures of Appendix A (Eq. 8-13).

Input is a per-epoch correctness matrix ``correct`` of shape (E, N), bool: row t holds
acc_i^{t+1}, whether sample i is classified correctly after epoch t + 1 ends (the trainer
records it in eval mode after each epoch, which is the convention App. A states for both
training and test samples). From it:

* forgetting events  F_i^T = Σ_{t=1}^T 1[acc_i^{t-1} = 1, acc_i^t = 0]          (Eq. 8)
* cumulative learned events  L_i^T = Σ_{t=1}^T acc_i^t                           (Eq. 9)

For test samples the same two formulas give the mal-generalizing events (Eq. 8 on test
correctness) and the cumulative generalized events (Eq. 9 on test correctness); the
aliases :func:`mal_generalizing_events` and :func:`generalized_events` are the same
functions under the names App. A uses.

Per class j, the points (L_i^T, F_i^T) of its n_j samples give a 2x2 covariance C_j
(Eq. 10), its Frobenius norm (Eq. 11) and the irregularity I_j = ||C_j||_F / n_j (Eq. 12);
the Pearson coefficient (Eq. 13) of (n_j, I_j) over classes is the paper's summary
(Table 12: -0.6112 on CIFAR-10-LT, imbalance 50).

Several runs: :func:`averaged_events` averages each sample's events over runs of the same
split before Eq. 10-12, as App. A.2 averages 10 runs; :func:`match_samples` finds the same
source samples in another run (a balanced one, Figs. 8 and 10). With only C = 10 classes,
:func:`~ltbound.regularity.correlation.correlation_test` adds the Spearman coefficient and permutation p-values to Eq. 13.

Conventions (the paper leaves them open; these are ours, stated so they can be checked):

* t = 1: acc^0 := 0, so no sample can be forgotten at the first epoch (Eq. 8's sum
  starts at t = 1 and refers to acc^0, which the paper does not define).
* A sample never classified correctly has L = 0 and F = 0. Toneva et al. (2019) instead
  give never-learned samples infinite forgetting; App. A does not say so. Pass
  ``never_learned_forgetting`` to assign another value to such samples.
* Eq. 10 is written with expectations over the class's points, so the covariance is the
  population one (divisor n_j, ``ddof=0``) by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._table import format_table
from .._validation import _describe, check_finite_scalar, check_labels, check_positive_int
from .correlation import cardinality_irregularity_correlation

__all__ = [
    "forgetting_events", "learned_events", "mal_generalizing_events", "generalized_events",
    "ClassIrregularity", "class_irregularity", "RegularityResult", "regularity_from_record", "averaged_events",
    "match_samples",
]


# ----------------------------------------------------------------------------- validation
def _check_correct(correct: Any, name: str = "correct") -> np.ndarray:
    """A (E, N) matrix of 0/1 or bool correctness flags, returned as bool."""
    arr = np.asarray(correct)
    if arr.dtype == object or not (arr.dtype == bool or np.issubdtype(arr.dtype, np.number)):
        raise ValueError(f"{name} must be a bool (or 0/1) matrix of shape (epochs, samples), "
                         f"got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D matrix of shape (epochs, samples), "
                         f"got {_describe(correct)}")
    if arr.dtype != bool:
        if not np.all((arr == 0) | (arr == 1)):
            bad = arr[(arr != 0) & (arr != 1)].ravel()[0]
            raise ValueError(f"{name} must hold only 0/1 (or bool) correctness flags, found {bad!r}")
        arr = arr.astype(bool)
    return arr


def _check_events(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be a numeric 1-D array of event counts, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (one entry per sample), got {_describe(values)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (a covariance of infinite event counts is undefined); "
                         "use never_learned_forgetting=None or a finite value")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative event counts, found {arr[arr < 0][0]!r}")
    return arr.astype(np.float64)


# ----------------------------------------------------------------------------- Eq. 8, 9
def forgetting_events(correct: Any, *, never_learned_forgetting: float | None = None) -> np.ndarray:
    """Forgetting events F_i^T of every sample (Eq. 8).

    Parameters
    ----------
    correct : array_like of bool or {0, 1}, shape (E, N)
        Row t is acc^{t+1}: correctness of each of the N samples after epoch t + 1.
    never_learned_forgetting : float or None, default None
        Value given to samples that are never correct (L_i^T = 0). None keeps Eq. 8's
        value, which is 0 for them; Toneva et al. (2019) use ``math.inf``.

    Returns
    -------
    ndarray, shape (N,)
        int64 counts of transitions correct -> incorrect between consecutive epochs;
        float64 when ``never_learned_forgetting`` is given.

    Notes
    -----
    F_i^T = Σ_{t=1}^T 1[acc_i^{t-1} = 1, acc_i^t = 0] with acc_i^0 := 0 (Eq. 8), so the
    first epoch never counts as a forgetting event. Applied to test correctness this is
    the number of mal-generalizing events of App. A.
    """
    acc = _check_correct(correct)
    # acc^0 := 0: prepend an all-incorrect row so a sample cannot be forgotten at t = 1.
    previous = np.vstack([np.zeros((1, acc.shape[1]), dtype=bool), acc[:-1]])
    events = np.count_nonzero(previous & ~acc, axis=0).astype(np.int64)
    if never_learned_forgetting is None:
        return events
    value = float(never_learned_forgetting) if never_learned_forgetting == math.inf else \
        check_finite_scalar(never_learned_forgetting, "never_learned_forgetting", low=0.0)
    out = events.astype(np.float64)
    out[~acc.any(axis=0)] = value
    return out


def learned_events(correct: Any) -> np.ndarray:
    """Cumulative learned events L_i^T = Σ_{t=1}^T acc_i^t of every sample (Eq. 9).

    Parameters
    ----------
    correct : array_like of bool or {0, 1}, shape (E, N)
        Row t is acc^{t+1}, correctness after epoch t + 1.

    Returns
    -------
    ndarray of int64, shape (N,)
        Number of epochs after which the sample was correct, in [0, E]. Applied to test
        correctness this is the cumulative generalized events of App. A.
    """
    return np.count_nonzero(_check_correct(correct), axis=0).astype(np.int64)


#: Eq. 8 on test correctness: App. A's mal-generalizing events (same function).
mal_generalizing_events = forgetting_events
#: Eq. 9 on test correctness: App. A's cumulative generalized events (same function).
generalized_events = learned_events


# ----------------------------------------------------------------------------- Eq. 10-12
@dataclass(frozen=True)
class ClassIrregularity:
    """Per-class regularity statistics of App. A.2 (Eq. 10-12).

    Attributes
    ----------
    covariance : ndarray of float64, shape (C, 2, 2)
        Covariance of the (L, F) points of each class (Eq. 10); index 0 is L, 1 is F.
    frobenius : ndarray of float64, shape (C,)
        ||C_j||_F (Eq. 11), in squared event counts.
    cardinality : ndarray of int64, shape (C,)
        n_j, the samples of class j in the set the events come from.
    irregularity : ndarray of float64, shape (C,)
        I_j = ||C_j||_F / n_j (Eq. 12).
    ddof : int
        Delta degrees of freedom of the covariance (0: population, as Eq. 10 writes).
    """

    covariance: np.ndarray = field(repr=False)
    frobenius: np.ndarray
    cardinality: np.ndarray
    irregularity: np.ndarray
    ddof: int = 0

    def to_dict(self) -> dict:
        """JSON-safe dict (lists of floats and ints)."""
        return {"covariance": self.covariance.tolist(), "frobenius": self.frobenius.tolist(),
                "cardinality": self.cardinality.tolist(), "irregularity": self.irregularity.tolist(),
                "ddof": int(self.ddof)}

    def table(self) -> str:
        """One row per class, in the layout of Table 12."""
        rows = [[j, int(n), f"{f:.4f}", f"{i:.4f}"]
                for j, (n, f, i) in enumerate(zip(self.cardinality, self.frobenius, self.irregularity))]
        return format_table(rows, ["class", "cardinality", "F-norm", "irregularity"], align="r", sep=" ", rule=None,
                            min_widths=(5, 11, 12, 12))

    __str__ = table


def _check_event_pairs(learned, forgotten, labels, num_classes):
    """Validate one (L, F) point per sample and its label; returns (C, L, F, labels)."""
    c = check_positive_int(num_classes, "num_classes")
    lv = _check_events(learned, "learned")
    fv = _check_events(forgotten, "forgotten")
    y = check_labels(labels, c)
    if not (lv.size == fv.size == y.size):
        raise ValueError(f"learned, forgotten and labels must have one entry per sample, got "
                         f"lengths {lv.size}, {fv.size} and {y.size}")
    return c, lv, fv, y


def class_irregularity(learned: Any, forgotten: Any, labels: Any, num_classes: int, *,
                       ddof: int = 0) -> ClassIrregularity:
    """Covariance, Frobenius norm and irregularity of each class's (L, F) points (Eq. 10-12).

    Parameters
    ----------
    learned : array_like, shape (N,)
        Cumulative learned (or generalized) events L_i^T (Eq. 9), non-negative.
    forgotten : array_like, shape (N,)
        Forgetting (or mal-generalizing) events F_i^T (Eq. 8), non-negative, finite.
    labels : array_like of int, shape (N,)
        Class of each sample, in [0, num_classes); every class must occur.
    num_classes : int
        C >= 1.
    ddof : {0, 1}, default 0
        0: population covariance, E[(L − E L)(F − E F)] with E the mean over the class,
        as Eq. 10 is written. 1: the unbiased sample covariance (np.cov's default).

    Returns
    -------
    ClassIrregularity

    Notes
    -----
    C_j = [[Var L, Cov(L, F)], [Cov(F, L), Var F]] over the n_j samples of class j
    (Eq. 10); ||C_j||_F = sqrt(Σ_mn c_mn²) (Eq. 11); I_j = ||C_j||_F / n_j (Eq. 12), with
    n_j the number of samples of class j in the given set (for the training set, the
    long-tailed counts).
    """
    c, lv, fv, y = _check_event_pairs(learned, forgotten, labels, num_classes)
    if ddof not in (0, 1) or isinstance(ddof, bool):
        raise ValueError(f"ddof must be 0 (population covariance, Eq. 10) or 1, got {ddof!r}")
    n_j = np.bincount(y, minlength=c).astype(np.int64)
    if np.any(n_j <= ddof):
        small = np.flatnonzero(n_j <= ddof).tolist()
        raise ValueError(f"labels: classes {small} have {n_j[small].tolist()} samples; the covariance "
                         f"of Eq. 10 with ddof={ddof} needs more than {ddof} sample(s) per class")
    # Two passes with bincount: class means of L and F, then class sums of the centred
    # products (L − L̄)², (L − L̄)(F − F̄), (F − F̄)². Centring first avoids the cancellation
    # of the raw-moment form E[LF] − E[L]E[F].
    mean_l = np.bincount(y, weights=lv, minlength=c) / n_j
    mean_f = np.bincount(y, weights=fv, minlength=c) / n_j
    dl = lv - mean_l[y]
    df = fv - mean_f[y]
    denom = (n_j - ddof).astype(np.float64)
    s_ll = np.bincount(y, weights=dl * dl, minlength=c) / denom
    s_lf = np.bincount(y, weights=dl * df, minlength=c) / denom
    s_ff = np.bincount(y, weights=df * df, minlength=c) / denom
    cov = np.empty((c, 2, 2))
    cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 0], cov[:, 1, 1] = s_ll, s_lf, s_lf, s_ff   # Eq. 10
    frob = np.sqrt(np.sum(cov ** 2, axis=(1, 2)))                                      # Eq. 11
    return ClassIrregularity(covariance=cov, frobenius=frob, cardinality=n_j,
                             irregularity=frob / n_j, ddof=int(ddof))              # Eq. 12


# ----------------------------------------------------------------------------- run records
@dataclass(frozen=True)
class RegularityResult:
    """App. A measures of one run: training and test sets.

    Attributes
    ----------
    train, test : ClassIrregularity
        Per-class statistics of (L, F) on training samples and of (generalized,
        mal-generalizing) events on test samples.
    train_pearson : float or None
        Eq. 13 between the training counts and the training irregularity; None when the
        training irregularity or the counts are constant.
    test_pearson : float or None
        Eq. 13 between the *training* counts and the test irregularity; None when the
        test irregularity or the counts are constant.
    train_counts : ndarray of int64, shape (C,)
    num_epochs : int
        E, the rows of the correctness matrices.
    never_learned_forgetting : float or None
    """

    train: ClassIrregularity
    test: ClassIrregularity
    train_pearson: float | None
    test_pearson: float | None
    train_counts: np.ndarray
    num_epochs: int
    never_learned_forgetting: float | None = None

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        return {"train": self.train.to_dict(), "test": self.test.to_dict(),
                "train_pearson": self.train_pearson, "test_pearson": self.test_pearson,
                "train_counts": self.train_counts.tolist(), "num_epochs": int(self.num_epochs),
                "never_learned_forgetting": self.never_learned_forgetting}

    def table(self) -> str:
        """Per-class table for both sets and the two Pearson coefficients."""
        def fmt(p: float | None) -> str:
            return "undefined" if p is None else f"{p:.4f}"
        rows = [[j, int(self.train.cardinality[j]), f"{self.train.frobenius[j]:.4f}",
                 f"{self.train.irregularity[j]:.4f}", "|", int(self.test.cardinality[j]),
                 f"{self.test.frobenius[j]:.4f}", f"{self.test.irregularity[j]:.4f}"]
                for j in range(self.train_counts.size)]
        grid = format_table(rows, ["class", "n_train", "F-norm", "irreg", "|", "n_test", "F-norm", "irreg"], align="r",
                            sep=" ", rule=None, min_widths=(5, 7, 10, 8, 1, 6, 10, 8))
        return (grid + f"\nPearson (Eq. 13) vs training cardinality: train {fmt(self.train_pearson)}, "
                f"test {fmt(self.test_pearson)}  [{self.num_epochs} epochs]")

    __str__ = table


def _pearson_or_none(irregularity: np.ndarray, counts: np.ndarray) -> float | None:
    try:
        return cardinality_irregularity_correlation(irregularity, counts)
    except ValueError:
        return None


def regularity_from_record(record: Any, *, never_learned_forgetting: float | None = None,
                           ddof: int = 0) -> RegularityResult:
    """App. A measures (Eq. 8-13) of a run record, for training and test samples.

    Parameters
    ----------
    record : ltbound.records.RunRecord or path-like
        A loaded record (anything with ``train_correct`` (E, n), ``test_correct`` (E, m),
        ``train_labels``, ``test_labels``, ``counts`` and ``num_classes``) or the path of
        one, which is loaded with :func:`ltbound.records.load_record`.
    never_learned_forgetting : float or None
        Passed to :func:`forgetting_events`; must be finite here (Eq. 10 needs finite values).
    ddof : {0, 1}
        Passed to :func:`class_irregularity`.

    Returns
    -------
    RegularityResult
        Pearson coefficients are against the training counts, for both sets.
    """
    if isinstance(record, (str, Path)):
        from ..records import load_record   # lazy: records is only needed for paths
        record = load_record(record)
    missing = [a for a in ("train_correct", "test_correct", "train_labels", "test_labels",
                           "counts", "num_classes") if not hasattr(record, a)]
    if missing:
        raise ValueError(f"record must be a RunRecord (or have its attributes), got "
                         f"{type(record).__name__} lacking {missing}")
    c = check_positive_int(record.num_classes, "record.num_classes")
    counts = np.asarray(record.counts, dtype=np.int64)
    if counts.shape != (c,):
        raise ValueError(f"record.counts must have one entry per class ({c}), got shape {counts.shape}")
    tr = _check_correct(record.train_correct, "record.train_correct")
    te = _check_correct(record.test_correct, "record.test_correct")
    if tr.shape[0] != te.shape[0]:
        raise ValueError(f"record.train_correct has {tr.shape[0]} epochs but record.test_correct has "
                         f"{te.shape[0]}; both must cover the same epochs")
    train = class_irregularity(learned_events(tr),
                               forgetting_events(tr, never_learned_forgetting=never_learned_forgetting),
                               record.train_labels, c, ddof=ddof)
    test = class_irregularity(generalized_events(te),
                              mal_generalizing_events(te, never_learned_forgetting=never_learned_forgetting),
                              record.test_labels, c, ddof=ddof)
    if not np.array_equal(train.cardinality, counts):
        raise ValueError(f"record.counts {counts.tolist()} do not match the training labels' counts "
                         f"{train.cardinality.tolist()}")
    return RegularityResult(train=train, test=test,
                            train_pearson=_pearson_or_none(train.irregularity, counts),
                            test_pearson=_pearson_or_none(test.irregularity, counts),
                            train_counts=counts, num_epochs=int(tr.shape[0]),
                            never_learned_forgetting=never_learned_forgetting)


# ----------------------------------------------------------------------------- several runs
def _record_name(record: Any, k: int) -> str:
    return str(getattr(record, "path", f"records[{k}]"))


def averaged_events(records: Any, which: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Run-averaged events (Eq. 9, Eq. 8) of every sample, over runs that share a split.

    App. A.2 averages the events of each sample over 10 runs before Eq. 10-12; this does
    that for any number of runs.

    Parameters
    ----------
    records : sequence of RunRecord
        One or more loaded records (anything with ``train_correct`` (E, n), ``test_correct``
        (E, m), ``train_indices`` (n,), ``train_labels`` (n,) and ``test_labels`` (m,)).
        All must have the same training samples in the same order (equal ``train_indices``
        and ``train_labels``), the same test labels, and the same number of epochs E, so
        that column i is the same sample in every run and every count covers E epochs.
    which : {"train", "test"}
        "train": cumulative learned and forgetting events of training samples.
        "test": cumulative generalized and mal-generalizing events of test samples (the
        test set is assumed fixed and in the same order in every run; only its labels
        can be compared).

    Returns
    -------
    learned : ndarray of float64, shape (n,) or (m,)
        Mean over runs of L_i^E (Eq. 9), in [0, E].
    forgotten : ndarray of float64, shape (n,) or (m,)
        Mean over runs of F_i^E (Eq. 8, acc^0 := 0).

    Raises
    ------
    ValueError
        No records, ``which`` unknown, or runs with another split, test set or E.
    """
    if which not in ("train", "test"):
        raise ValueError(f"which must be 'train' or 'test', got {which!r}")
    runs = list(records)
    if not runs:
        raise ValueError("records must hold at least one run record, got none")
    ref = runs[0]
    for k, r in enumerate(runs[1:], start=1):
        a, b = _record_name(ref, 0), _record_name(r, k)
        same_split = (np.array_equal(r.train_indices, ref.train_indices)
                      and np.array_equal(r.train_labels, ref.train_labels))
        if not same_split:
            raise ValueError(f"records {a} and {b} use different training splits (train_indices or "
                             "train_labels differ); events can only be averaged over runs of the same samples")
        if not np.array_equal(r.test_labels, ref.test_labels):
            raise ValueError(f"records {a} and {b} have different test sets (test_labels differ); "
                             "events can only be averaged over runs of the same samples")
        if np.shape(r.train_correct)[0] != np.shape(ref.train_correct)[0]:
            raise ValueError(f"records {a} and {b} cover {np.shape(ref.train_correct)[0]} and "
                             f"{np.shape(r.train_correct)[0]} epochs; events count over E epochs, so "
                             "average runs of the same length")
    attr = "train_correct" if which == "train" else "test_correct"
    mats = [_check_correct(getattr(r, attr), f"records[{k}].{attr}") for k, r in enumerate(runs)]
    learned = np.mean([learned_events(c) for c in mats], axis=0)          # Eq. 9
    forgotten = np.mean([forgetting_events(c) for c in mats], axis=0)     # Eq. 8
    return learned, forgotten


def match_samples(indices: Any, reference_indices: Any) -> np.ndarray:
    """Positions in ``reference_indices`` of each entry of ``indices`` (same source samples).

    Used to put a long-tailed run beside a balanced run of the same source data set (Figs.
    7 vs 8): ``train_indices`` of both are positions in the source training set.

    Parameters
    ----------
    indices : array_like of int, shape (n,)
        Source positions of the samples to find (e.g. a long-tailed run's ``train_indices``).
    reference_indices : array_like of int, shape (N,)
        Source positions of another run's samples, without repeats.

    Returns
    -------
    ndarray of int64, shape (n,)
        ``pos`` with ``reference_indices[pos] == indices``.

    Raises
    ------
    ValueError
        ``reference_indices`` repeats a position, or some entry of ``indices`` is missing.
    """
    want = np.asarray(indices, dtype=np.int64).ravel()
    ref = np.asarray(reference_indices, dtype=np.int64).ravel()
    if ref.size == 0:
        raise ValueError("reference_indices is empty; it must list the reference run's source positions")
    order = np.argsort(ref, kind="stable")
    ref_sorted = ref[order]
    if np.any(np.diff(ref_sorted) == 0):
        raise ValueError("reference_indices repeat a source position; each sample must occur once")
    pos = np.minimum(np.searchsorted(ref_sorted, want), ref.size - 1)
    missing = want[ref_sorted[pos] != want]
    if missing.size:
        raise ValueError(f"{missing.size} of {want.size} samples are not in reference_indices "
                         f"(first: source position {int(missing[0])})")
    return order[pos].astype(np.int64)
