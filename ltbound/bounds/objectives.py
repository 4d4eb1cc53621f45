"""Training objectives of Sect. 3.1: the IB mean (Eq. 3) and the class-weighted mean (Eq. 4).

Sampling a training example in two steps (class j with probability p_j, then an example
of that class uniformly) makes the expected mini-batch loss the weighted objective

    L(θ) = Σ_j Σ_{i=1}^{n_j} (p_j / n_j) L_ji(θ) + R(θ)            (Eq. 4)

and instance-balanced sampling (p_j = n_j / n) turns it into the plain mean

    L^s(θ) = (1/n) Σ_i L_i(θ) + R(θ).                                (Eq. 3)

The functions here return the **data term only** (R(θ) = 0): the regulariser is a
property of the parameters, not of the per-sample losses a run record stores, and it
appears identically in Eq. 6 and Eq. 7, so it cancels from every comparison of the two.

Loss input is a vector ``(n,)`` (one θ) or a matrix ``(num_params, n)`` (one row per θ
in a finite set Θ̂). Sums are accumulated in float64 whatever the input dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import (check_counts, check_labels, check_losses, check_num_classes, check_probability_vector,
                           check_same_length)

__all__ = ["standard_objective", "weighted_objective", "sample_weights", "class_mean_losses"]


def _loss_array(losses: Any) -> np.ndarray:
    # A memmap is viewed as a plain array so that check_losses checks finiteness and sign
    # on it too; these objectives read every entry anyway, so nothing is gained by streaming.
    if isinstance(losses, np.memmap):
        losses = np.asarray(losses)
    return check_losses(losses)


def _scalar_or_rows(values: np.ndarray, ndim: int) -> float | np.ndarray:
    return float(values) if ndim == 1 else values


def standard_objective(losses: Any) -> float | np.ndarray:
    """Instance-balanced objective L^s(θ) = (1/n) Σ_i L_i(θ), data term of Eq. 3.

    Parameters
    ----------
    losses : array_like, shape (n,) or (num_params, n)
        Per-sample losses L_i(θ) >= 0, finite.

    Returns
    -------
    float or ndarray of float64, shape (num_params,)
        The mean over samples (last axis); a float for a vector input.

    Notes
    -----
    R(θ) is taken as 0 (see the module docstring).
    """
    return _standard(_loss_array(losses))


def _standard(arr: np.ndarray) -> float | np.ndarray:
    """Core of :func:`standard_objective`: ``arr`` a checked loss vector or matrix."""
    return _scalar_or_rows(arr.mean(axis=-1, dtype=np.float64), arr.ndim)


def sample_weights(labels: Any, p: Any, counts: Any = None) -> np.ndarray:
    """Per-sample weights w_i = p_{y_i} / n_{y_i} of the weighted objective (Eq. 4).

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Class of each sample, in [0, C) with C = len(p).
    p : array_like, shape (C,)
        Class-sampling probabilities (e.g. Eq. 1), summing to 1.
    counts : array_like of int, shape (C,), optional
        Samples per class n_j. Defaults to the counts of ``labels``; if given it must
        equal them (a mismatch means the weights would not sum to 1).

    Returns
    -------
    w : ndarray of float64, shape (n,)
        Non-negative weights summing to 1; w_i = 1/n for all i when p is IB (p_j = n_j/n).
    """
    pv = check_probability_vector(p, "p")
    y = check_labels(labels, pv.size)
    return _sample_weights(y, pv, _check_counts_of(y, pv.size, counts))


def _check_counts_of(labels: np.ndarray, num_classes: int, counts: Any) -> np.ndarray:
    """n_j of checked labels, or the given ``counts`` after checking they equal them."""
    observed = np.bincount(labels, minlength=num_classes).astype(np.int64)
    if counts is None:
        return check_counts(observed, "counts of labels")
    n_j = check_counts(counts, "counts")
    if n_j.size != num_classes:
        raise ValueError(f"counts must have one entry per class ({num_classes} = len(p)), got {n_j.size}")
    if not np.array_equal(n_j, observed):
        raise ValueError(f"counts {n_j.tolist()} do not match the class counts of labels "
                         f"{observed.tolist()}; pass counts=None to use the labels' counts")
    return n_j


def _sample_weights(labels: np.ndarray, p: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Core of :func:`sample_weights`: int64 labels (n,), probability vector p (C,), counts (C,) >= 1."""
    return (p / counts)[labels]


def weighted_objective(losses: Any, labels: Any, p: Any, counts: Any = None) -> float | np.ndarray:
    """Class-weighted objective L(θ) = Σ_j Σ_i (p_j / n_j) L_ji(θ), data term of Eq. 4.

    Parameters
    ----------
    losses : array_like, shape (n,) or (num_params, n)
        Per-sample losses L_i(θ) >= 0, finite, in the same sample order as ``labels``.
    labels : array_like of int, shape (n,)
        Class of each sample, in [0, C) with C = len(p).
    p : array_like, shape (C,)
        Class-sampling probabilities summing to 1.
    counts : array_like of int, shape (C,), optional
        Samples per class; defaults to (and must equal) the counts of ``labels``.

    Returns
    -------
    float or ndarray of float64, shape (num_params,)
        A float for a vector input. With IB p (p_j = n_j / n) this equals
        :func:`standard_objective`.

    Notes
    -----
    R(θ) is taken as 0 (see the module docstring). Every class must have at least one
    sample, since p_j / n_j is undefined otherwise.
    """
    arr = _loss_array(losses)
    w = sample_weights(labels, p, counts)
    check_same_length(arr, w, "losses", "labels")
    return _weighted(arr, w)


def _weighted(arr: np.ndarray, w: np.ndarray) -> float | np.ndarray:
    """Core of :func:`weighted_objective`: checked losses (..., n) and weights w (n,) of Eq. 4."""
    return _scalar_or_rows(arr.astype(np.float64, copy=False) @ w, arr.ndim)


def class_mean_losses(losses: Any, labels: Any, num_classes: int) -> np.ndarray:
    """Mean loss of each class, L̄_j(θ) = (1/n_j) Σ_i L_ji(θ).

    Eq. 4 is Σ_j p_j L̄_j(θ) and Eq. 3 is Σ_j (n_j/n) L̄_j(θ); Appendix B.2's third
    assumption (L̄_i <= L̄_j for i < j, head classes first) is a statement about these.

    Parameters
    ----------
    losses : array_like, shape (n,) or (num_params, n)
        Per-sample losses >= 0, finite.
    labels : array_like of int, shape (n,)
        Class of each sample, in [0, num_classes).
    num_classes : int
        C >= 1. Every class must occur in ``labels``.

    Returns
    -------
    ndarray of float64, shape (C,) or (num_params, C)
    """
    c = check_num_classes(num_classes)
    arr = _loss_array(losses)
    y = check_labels(labels, c)
    check_same_length(arr, y, "losses", "labels")
    n_j = check_counts(np.bincount(y, minlength=c), "counts of labels")
    # Sorting samples by class makes each class one contiguous run, so reduceat sums all
    # classes of all rows in one pass without a (n, C) one-hot matrix.
    order = np.argsort(y, kind="stable")
    starts = np.concatenate(([0], np.cumsum(n_j)[:-1]))
    sums = np.add.reduceat(arr[..., order].astype(np.float64, copy=False), starts, axis=-1)
    return sums / n_j
