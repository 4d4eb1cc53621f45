"""Confidence terms of the IB bound (Eq. 6) and of the class-sampling bound (Eq. 7).

Both come from McDiarmid's bounded-differences inequality applied to the worst-case
generalisation gap Φ(D) (Eq. 14). Replacing one training example of class j changes the
weighted objective of Eq. 4 by at most c_j = p_j M / n_j (Eq. 15), where M bounds the
spread of the loss. McDiarmid then gives, with probability >= 1 − δ over D,

    Φ(D) <= E_D Φ(D) + sqrt(Σ_i c_i² ln(1/δ) / 2)
          = E_D Φ(D) + M sqrt(Σ_j p_j² / n_j) sqrt(ln(1/δ) / 2)          (Eq. 16, Eq. 7)

since class j contributes n_j examples with c_i² = p_j² M² / n_j². With IB weights
p_j = n_j / n this is M sqrt(ln(1/δ) / (2n)), the term of Eq. 6.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validation import check_counts, check_delta, check_m, check_positive_int, check_probability_vector

__all__ = ["confidence_term_ib", "confidence_term", "confidence_ratio"]


def _loss_range(loss_range: Any) -> float:
    return check_m(loss_range)


def _counts_and_p(counts: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    n_j = check_counts(counts, "counts")
    pv = check_probability_vector(p, "p", size=n_j.size)
    return n_j, pv


def confidence_term_ib(n: int, loss_range: float, delta: float) -> float:
    """IB confidence term M sqrt(ln(1/δ) / (2n)) of Eq. 6.

    Parameters
    ----------
    n : int
        Number of training examples, >= 1.
    loss_range : float
        M > 0, a bound on |ℓ(f_θ(x), y) − ℓ(f_θ(x'), y')| over Θ (loss units).
    delta : float
        Failure probability over the draw of D, in (0, 1).

    Returns
    -------
    float
        In the units of the loss.
    """
    return _ib_term(check_positive_int(n, "n"), _loss_range(loss_range), check_delta(delta))


def _ib_term(n: int, loss_range: float, delta: float) -> float:
    """Core of :func:`confidence_term_ib`; trusts its (checked) inputs."""
    return loss_range * math.sqrt(-math.log(delta) / (2.0 * n))


def confidence_term(counts: Any, p: Any, loss_range: float, delta: float) -> float:
    """Class-sampling confidence term M sqrt(Σ_j p_j² / n_j) sqrt(ln(1/δ) / 2) of Eq. 7.

    Parameters
    ----------
    counts : array_like of int, shape (C,)
        Training examples per class n_j >= 1.
    p : array_like, shape (C,)
        Class-sampling probabilities (e.g. Eq. 1) summing to 1.
    loss_range : float
        M > 0 (loss units).
    delta : float
        Failure probability over the draw of D, in (0, 1).

    Returns
    -------
    float
        In the units of the loss; equals :func:`confidence_term_ib` with n = Σ n_j when
        p_j = n_j / n.

    Notes
    -----
    From the bounded differences c = p_j M / n_j of Eq. 15 and McDiarmid's inequality
    (Eq. 16): Σ_i c_i² = M² Σ_j n_j (p_j / n_j)² = M² Σ_j p_j² / n_j.
    """
    n_j, pv = _counts_and_p(counts, p)
    return _term(n_j, pv, _loss_range(loss_range), check_delta(delta))


def _term(counts: np.ndarray, p: np.ndarray, loss_range: float, delta: float) -> float:
    """Core of :func:`confidence_term`: int64 counts (C,) >= 1, probability vector p (C,)."""
    return loss_range * math.sqrt(float(np.sum(p ** 2 / counts))) * math.sqrt(-math.log(delta) / 2.0)


def confidence_ratio(counts: Any, p: Any) -> float:
    """Ratio of the Eq. 7 confidence term to the Eq. 6 one: sqrt(n Σ_j p_j² / n_j).

    Parameters
    ----------
    counts : array_like of int, shape (C,)
        Training examples per class n_j >= 1; n = Σ n_j.
    p : array_like, shape (C,)
        Class-sampling probabilities summing to 1.

    Returns
    -------
    float
        >= 1, with equality exactly at IB (p_j = n_j / n).

    Notes
    -----
    By Cauchy–Schwarz, 1 = (Σ_j p_j)² = (Σ_j (p_j/√n_j) √n_j)² <= (Σ_j p_j²/n_j)(Σ_j n_j),
    so n Σ_j p_j²/n_j >= 1, with equality iff p_j/√n_j ∝ √n_j, i.e. p_j = n_j/n. Any
    re-sampling (CB, CR, Switching's final phase) therefore *widens* the confidence
    term of Eq. 7 relative to Eq. 6, by this factor.
    """
    return _ratio(*_counts_and_p(counts, p))


def _ratio(counts: np.ndarray, p: np.ndarray) -> float:
    """Core of :func:`confidence_ratio`; trusts its (checked) inputs."""
    return math.sqrt(float(counts.sum()) * float(np.sum(p ** 2 / counts)))
