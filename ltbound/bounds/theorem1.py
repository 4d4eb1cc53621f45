"""Theorem 1's condition in numbers: one definition, numpy only (no sympy needed).

Theorem 1 says the class-sampling bound (Eq. 7) is below the IB bound (Eq. 6) when

    Q_n + L^s(θ) − L(θ) > 0,

with Q_n the residual of Eq. 18. Writing g(θ) = L(θ) − L^s(θ) = Σ_j Σ_i (p_j/n_j − 1/n) L_ji(θ)
(Eq. 3, 4, 18), the condition is Q − g(θ) for a value Q of the residual. This module holds the
one function that computes it (:func:`theorem1_condition`, whose checked-input core
``_theorem1_condition`` ``ltbound.bounds.estimate`` (Eq. 7's ``condition``), ``ltbound.simulation.problems`` (the
coverage study) and :func:`theorem1_gap` call), and
the numeric identity of the confidence terms (:func:`confidence_excess`). The symbolic
derivations behind them live in :mod:`ltbound.bounds.theory`, which needs sympy; these do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import (_describe, check_counts, check_finite_scalar, check_labels, check_losses, check_not_masked,
                           check_num_classes, check_probability_vector, check_same_length, check_theta_index,
                           real_array)

__all__ = ["theorem1_condition", "theorem1_gap", "Theorem1Gap", "confidence_excess"]


def theorem1_condition(g: Any, theta: Any, q: Any = None) -> float | np.ndarray:
    """Theorem 1's condition Q + L^s(θ) − L(θ) = Q − g(θ), from the per-row residuals g.

    Parameters
    ----------
    g : array_like of float, shape (K,) or (D, K)
        g(θ') = L(θ') − L^s(θ') for every row θ' of a finite Θ̂ (Eq. 18's inner sum), one row
        per draw of D in the 2-D case. Finite real numbers.
    theta : int, or array_like of int of shape (D,) for a 2-D ``g``
        The row that is θ (per draw in the 2-D case), in [−K, K).
    q : float, or array_like of shape (D,) for a 2-D ``g``, optional
        The residual Q, finite. Default: the empirical Q̂_n = min over the rows of g (per draw),
        for which the condition is min g − g(θ) <= 0, exactly 0 at the argmin (min and g(θ) are
        taken from the same vector, so the sign is exact in floating point). A Monte Carlo
        E_D value (the paper's Q_n) can be given instead.

    Returns
    -------
    float or ndarray, shape (D,)
        Loss units; Theorem 1 needs it > 0.
    """
    gv = real_array(g, "g")
    if gv is None or np.asarray(g).dtype.kind == "b" or gv.ndim not in (1, 2) or gv.size == 0:
        raise ValueError(f"g must be a non-empty real array of shape (K,) or (D, K) (one residual per row of "
                         f"Θ̂), got {_describe(g)}")
    if not np.all(np.isfinite(gv)):
        raise ValueError("g must be finite; a NaN or inf residual has no sign to test")
    k = gv.shape[-1]
    check_not_masked(theta, "theta")
    t = np.asarray(theta)
    want = () if gv.ndim == 1 else (gv.shape[0],)
    if isinstance(theta, (bool, np.bool_)) or t.shape != want or t.dtype.kind not in "iu" \
            or np.any(t < -k) or np.any(t >= k):
        what = "an integer row" if gv.ndim == 1 else f"{gv.shape[0]} integer rows, one per draw (row of g),"
        raise ValueError(f"theta must be {what} in [{-k}, {k}) (the model θ among the {k} rows of Θ̂), "
                         f"got {_describe(theta)}")
    th = int(t) % k if gv.ndim == 1 else t.astype(np.int64) % k
    qv = None
    if q is not None:
        if gv.ndim == 1:
            qv = check_finite_scalar(q, "q")
        else:
            qv = real_array(q, "q")
            if qv is None or np.asarray(q).dtype.kind == "b" or qv.shape not in ((), (gv.shape[0],)) \
                    or not np.all(np.isfinite(qv)):
                raise ValueError(f"q must be a finite number or {gv.shape[0]} finite numbers (one per draw), "
                                 f"got {_describe(q)}")
    return _theorem1_condition(gv, th, qv)


def _theorem1_condition(g: np.ndarray, theta: Any, q: Any = None) -> float | np.ndarray:
    """Core of :func:`theorem1_condition`: trusts ``g`` (float64, finite) and nonnegative ``theta``."""
    if g.ndim == 1:
        g_theta = g[theta]
        q_val = g.min() if q is None else q
    else:
        g_theta = g[np.arange(g.shape[0]), theta]
        q_val = g.min(axis=1) if q is None else q
    return q_val - g_theta


def confidence_excess(counts: Any, p: Any) -> float:
    """n Σ_j p_j²/n_j − 1 = χ²(p ‖ p^IB) >= 0 (see :func:`ltbound.bounds.q_family.confidence_identity`, its symbolic proof).

    The squared ratio of the Eq. 7 to the Eq. 6 confidence terms, minus one. Computed in
    the χ² form Σ_j (p_j − π_j)²/π_j, which is exactly 0 at p = π = IB and never negative
    in floating point.
    """
    n_j = check_counts(counts, "counts")
    pv = check_probability_vector(p, "p", size=n_j.size)
    pi = n_j / n_j.sum()
    return float(np.sum((pv - pi) ** 2 / pi))


@dataclass(frozen=True)
class Theorem1Gap:
    """Theorem 1's condition evaluated with the empirical Q̂_n over a finite Θ̂.

    Attributes
    ----------
    condition : float
        Q̂_n + L^s(θ) − L(θ) at θ = row ``theta_index``; always <= 0.
    q_hat : float
        Q̂_n = min over rows of g(θ') = Σ_j Σ_i (p_j/n_j − 1/n) L_ji(θ') (Eq. 18, one D).
    g_theta : float
        g(θ) = L(θ) − L^s(θ) at the chosen row.
    argmin : int
        Row attaining Q̂_n; the condition is 0 exactly there.
    g : ndarray, shape (num_params,)
        g for every row.
    theta_index : int
        The chosen row, as a nonnegative index.
    """

    condition: float
    q_hat: float
    g_theta: float
    argmin: int
    g: np.ndarray
    theta_index: int


def theorem1_gap(losses: Any, labels: Any, p: Any, *, num_classes: int | None = None,
                 theta_index: int | None = None) -> Theorem1Gap:
    """Theorem 1's condition Q̂_n + L^s(θ) − L(θ) with the empirical Q̂_n; it is never > 0.

    Identity. With g(θ) = L(θ) − L^s(θ) = Σ_j Σ_i (p_j/n_j − 1/n) L_ji(θ) (Eq. 3, 4, 18)
    and the empirical Q̂_n = min_{θ' ∈ Θ̂} g(θ') over a finite Θ̂ that contains θ,

        Q̂_n + L^s(θ) − L(θ) = min_θ' g(θ') − g(θ) <= 0,

    with equality exactly at the argmin. So Theorem 1's condition ("Q_n + L^s − L > 0")
    can never hold strictly with the quantities computed from one training set; only the
    gap between E_D[inf g] (the paper's Q_n) and one draw of D could make it positive.

    Parameters
    ----------
    losses : array_like, shape (num_params, n) or (n,)
        Per-sample losses, finite, >= 0.
    labels : array_like of int, shape (n,)
    p : array_like, shape (C,)
        Class weights (a probability vector).
    num_classes : int, optional
        C; defaults to len(p).
    theta_index : int, optional
        Row of the loss matrix that is θ (negative counts from the end); required with more
        than one row (:func:`ltbound._validation.check_theta_index`).

    Returns
    -------
    Theorem1Gap
    """
    arr = check_losses(np.asarray(losses))
    mat = arr.reshape(1, -1) if arr.ndim == 1 else arr
    pv = check_probability_vector(p, "p")
    c = pv.size if num_classes is None else check_num_classes(num_classes)
    if pv.size != c:
        raise ValueError(f"p must have one entry per class ({c}), got {pv.size}")
    y = check_labels(labels, c)
    check_same_length(mat, y, "losses", "labels")
    n_j = check_counts(np.bincount(y, minlength=c), "counts of labels")
    ti = check_theta_index(theta_index, mat.shape[0])
    w = (pv / n_j)[y] - 1.0 / y.size         # per-sample weight of g, Eq. 18
    g = mat.astype(np.float64, copy=False) @ w
    am = int(np.argmin(g))
    return Theorem1Gap(condition=float(_theorem1_condition(g, ti)), q_hat=float(g[am]), g_theta=float(g[ti]),
                       argmin=am, g=g, theta_index=ti)
