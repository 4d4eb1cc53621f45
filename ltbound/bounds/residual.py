"""The residual term Q_n(Θ; p, n) of Eq. 7 / Eq. 18, estimated on one training set.

Eq. 18 defines

    Q_n = E_D [ inf_{θ∈Θ} Σ_j Σ_{i=1}^{n_j} (p_j/n_j − 1/n) L_ji(θ) ]
        = E_D [ inf_{θ∈Θ} g(θ; D) ],     g(θ; D) = L(θ; D) − L^s(θ; D),

the expected smallest gap between the class-weighted objective (Eq. 4) and the IB mean
(Eq. 3). Two things separate what can be computed from Q_n:

* Eq. 18 is an **expectation over the draw of D**; a run gives one D. The plug-in value
  here is one sample of the random variable inside E_D, not Q_n.
* The infimum runs over Θ; here it runs over a finite Θ̂ (the rows of a loss matrix,
  e.g. checkpoints), which gives min over Θ̂ >= inf over Θ for the same D.

So :func:`q_residual` returns an **estimate**, never a certified value. Its bootstrap
(resampling examples within each class, so n_j and hence the weights stay fixed) shows how
much the plug-in min moves when D is redrawn from its empirical distribution.

For every θ in Θ̂ the plug-in Q̂_n satisfies Q̂_n − g(θ) = min_θ' g(θ') − g(θ) <= 0, which
is the quantity Theorem 1's condition Q_n + L^s − L > 0 asks to be positive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import (check_finite_scalar, check_labels, check_losses, check_positive_int,
                           check_probability_vector, check_random_state, check_same_length)
from .objectives import _check_counts_of, _sample_weights

__all__ = ["ResidualEstimate", "q_residual"]

#: Upper bound on the entries of one (bootstrap block, n) multiplicity matrix; keeps the
#: bootstrap's memory independent of num_bootstrap. Fixed, so results depend on the seed only.
_BOOTSTRAP_BLOCK_ENTRIES = 1 << 22


@dataclass(frozen=True)
class ResidualEstimate:
    """Plug-in estimate of Q_n (Eq. 18) over a finite parameter set Θ̂.

    Attributes
    ----------
    value : float
        min over the rows θ of g(θ) = Σ_j Σ_i (p_j/n_j − 1/n) L_ji(θ) (loss units).
    argmin : int
        Row of the loss matrix attaining the minimum (first one on ties).
    per_param : ndarray of float64, shape (num_params,)
        g(θ) = L(θ) − L^s(θ) for every row.
    ci_low, ci_high : float or None
        Bootstrap percentile interval of the min at ``level``, resampling examples within
        each class; None when ``num_bootstrap == 0``.
    level : float
        Nominal coverage of the interval.
    num_bootstrap : int
        Number of bootstrap replicates (0: none).

    ``per_param`` is left out of ``==`` and ``hash`` (an array has no single truth value);
    compare it with ``numpy.array_equal``.
    """

    value: float
    argmin: int
    per_param: np.ndarray = field(repr=False, compare=False)
    ci_low: float | None
    ci_high: float | None
    level: float
    num_bootstrap: int

    def to_dict(self) -> dict:
        """JSON-safe dict (floats, ints, lists, None)."""
        return {
            "value": float(self.value),
            "argmin": int(self.argmin),
            "per_param": [float(v) for v in self.per_param],
            "ci_low": None if self.ci_low is None else float(self.ci_low),
            "ci_high": None if self.ci_high is None else float(self.ci_high),
            "level": float(self.level),
            "num_bootstrap": int(self.num_bootstrap),
        }


def q_residual(losses: Any, labels: Any, p: Any, *, counts: Any = None, num_bootstrap: int = 0,
               seed: int | np.random.Generator = 0, level: float = 0.95) -> ResidualEstimate:
    """Plug-in estimate of the residual Q_n(Θ; p, n) of Eq. 18 over the rows of a loss matrix.

    Parameters
    ----------
    losses : array_like, shape (num_params, n) or (n,)
        Per-sample losses L_i(θ) >= 0, finite, one row per θ in Θ̂ (a vector is one θ).
    labels : array_like of int, shape (n,)
        Class of each sample, in [0, C) with C = len(p); every class present.
    p : array_like, shape (C,)
        Class-sampling probabilities (Eq. 1) summing to 1.
    counts : array_like of int, shape (C,), optional
        Samples per class; defaults to (and must equal) the counts of ``labels``.
    num_bootstrap : int, default 0
        Bootstrap replicates for the percentile interval, at most 10^7 (:data:`MAX_BOOTSTRAP`);
        0 skips the bootstrap.
    seed : int or numpy.random.Generator, default 0
        Seed of the bootstrap; same seed, same interval.
    level : float, default 0.95
        Coverage of the percentile interval, in (0, 1).

    Returns
    -------
    ResidualEstimate

    Notes
    -----
    g(θ) = Σ_i (w_i − 1/n) L_i(θ) with w_i = p_{y_i}/n_{y_i} (Eq. 4 weights), so
    g = L − L^s (Eq. 4 minus Eq. 3, regulariser cancelled) and g ≡ 0 under IB p.
    Eq. 18 takes E_D of inf_Θ g; this function returns min over Θ̂ of g for the one D given
    (an estimate, see the module docstring). Each bootstrap replicate redraws, for every
    class j independently, n_j examples with replacement from that class's examples, and
    recomputes min over Θ̂ of g; the interval is the ((1−level)/2, (1+level)/2) quantiles
    of those minima. It describes sampling variability of the plug-in value under the
    empirical distribution, not a guarantee on Q_n.
    """
    if isinstance(losses, np.memmap):
        losses = np.asarray(losses)
    arr = check_losses(losses)
    mat = np.atleast_2d(arr).astype(np.float64, copy=False)
    pv = check_probability_vector(p, "p")
    y = check_labels(labels, pv.size)
    check_same_length(mat, y, "losses", "labels")
    n_j = _check_counts_of(y, pv.size, counts)
    nb = check_positive_int(num_bootstrap, "num_bootstrap", minimum=0, maximum=MAX_BOOTSTRAP,
                            why=" (each replicate is a pass over the losses)")
    lev = check_finite_scalar(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    rng, _ = check_random_state(seed)
    return _q_residual(mat, y, pv, n_j, nb, rng, lev)


#: Largest num_bootstrap accepted (a replicate costs one pass over the loss matrix).
MAX_BOOTSTRAP = 10 ** 7


def _q_residual(mat: np.ndarray, y: np.ndarray, p: np.ndarray, counts: np.ndarray, num_bootstrap: int,
                rng: np.random.Generator, level: float) -> ResidualEstimate:
    """Core of :func:`q_residual`: float64 losses (K, n), int64 labels (n,), p (C,), counts (C,)."""
    n = y.size
    coef = _sample_weights(y, p, counts) - 1.0 / n      # Eq. 18: p_j/n_j − 1/n per sample
    per_param = mat @ coef                              # g(θ) for every row
    argmin = int(np.argmin(per_param))
    value = float(per_param[argmin])

    ci_low = ci_high = None
    if num_bootstrap > 0:
        minima = _bootstrap_minima(mat, y, coef, p.size, num_bootstrap, rng)
        ci_low, ci_high = (float(v) for v in np.quantile(minima, [(1 - level) / 2, (1 + level) / 2]))
    return ResidualEstimate(value=value, argmin=argmin, per_param=per_param, ci_low=ci_low,
                            ci_high=ci_high, level=level, num_bootstrap=num_bootstrap)


def _bootstrap_minima(mat: np.ndarray, y: np.ndarray, coef: np.ndarray, num_classes: int,
                      num_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """min over rows of g on ``num_bootstrap`` within-class resamples; shape (num_bootstrap,).

    A resample is represented by its multiplicity matrix m (block, n): m[b, i] = how often
    example i was drawn in replicate b. Then g_b(θ) = Σ_i coef_i m[b, i] L_i(θ), one matrix
    product per block of replicates.
    """
    n = y.size
    members = [np.flatnonzero(y == j) for j in range(num_classes)]
    block = max(1, min(num_bootstrap, _BOOTSTRAP_BLOCK_ENTRIES // n))
    mat_t = mat.T
    out = np.empty(num_bootstrap)
    for start in range(0, num_bootstrap, block):
        bb = min(block, num_bootstrap - start)
        mult = np.empty((bb, n))
        rows = np.arange(bb)[:, None]
        for idx in members:
            nj = idx.size
            draws = rng.integers(0, nj, size=(bb, nj))
            hits = np.bincount((rows * nj + draws).ravel(), minlength=bb * nj)
            mult[:, idx] = hits.reshape(bb, nj)
        out[start:start + bb] = ((mult * coef) @ mat_t).min(axis=1)
    return out
