"""Numeric helpers shared by the residual checks (Eq. 18, 21, App. B.2).

The residual of a re-weighting p' against IB at one θ is g = L(θ) − L^s(θ) (Eq. 4 minus
Eq. 3, the summand of Eq. 18). The checks evaluate it with the library's objectives on a
loss vector whose every sample of class j carries the class mean L̄_j, so that a property
search exercises :mod:`ltbound.bounds.objectives` rather than a private copy of the formula.
"""

from __future__ import annotations

import numpy as np

from ltbound.bounds.objectives import standard_objective, weighted_objective
from ltbound.bounds.sampling import sampling_distribution


def class_mean_problem(counts: np.ndarray, means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(losses (n,), labels (n,)): n_j samples of class j, each with loss L̄_j >= 0."""
    labels = np.repeat(np.arange(len(counts)), counts)
    return np.asarray(means, dtype=np.float64)[labels], labels


def residual(counts: np.ndarray, means: np.ndarray, p_new: np.ndarray) -> float:
    """g = L(θ) − L^s(θ) = Σ_j Σ_i (p'_j/n_j − 1/n) L_ji (Eq. 3, 4, 18) via ltbound.bounds.objectives."""
    losses, labels = class_mean_problem(counts, means)
    return float(weighted_objective(losses, labels, p_new, counts) - standard_objective(losses))


def ib(counts: np.ndarray) -> np.ndarray:
    """IB weights p_j = n_j / n (Eq. 1 with q = 1)."""
    return sampling_distribution(counts, "IB")


def sorted_counts(rng: np.random.Generator, c: int, high: int = 1000) -> np.ndarray:
    """C counts in [1, high], nonincreasing, with n_1 > n_C (classes sorted as in Sect. 3.1)."""
    while True:
        counts = np.sort(rng.integers(1, high + 1, size=c))[::-1]
        if counts[0] > counts[-1]:
            return counts.astype(np.int64)
