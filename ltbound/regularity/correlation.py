"""Eq. 13 and its significance: the Pearson coefficient of class cardinality and irregularity, and a
permutation test (with Spearman's coefficient) for the few classes a data set has (C = 10).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import _describe, check_positive_int, check_random_state, real_array

__all__ = ["pearson", "cardinality_irregularity_correlation", "CorrelationTest", "correlation_test"]


# ----------------------------------------------------------------------------- Eq. 13
def pearson(x: Any, y: Any) -> float:
    """Pearson correlation coefficient in the computational form of Eq. 13.

    Parameters
    ----------
    x, y : array_like, shape (C,)
        Paired finite values, C >= 2, neither constant.

    Returns
    -------
    float
        P = (Σxy − Σx Σy / C) / sqrt((Σx² − (Σx)²/C)(Σy² − (Σy)²/C)), in [-1, 1]; equal
        to ``np.corrcoef(x, y)[0, 1]``.
    """
    xv, yv = real_array(x), real_array(y)
    for name, v, raw in (("x", xv, x), ("y", yv, y)):
        if v is None or v.ndim != 1 or v.size < 2:
            raise ValueError(f"{name} must be a 1-D numeric array of at least 2 values, got {_describe(raw)}")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} must be finite, got {v.tolist()}")
    if xv.size != yv.size:
        raise ValueError(f"x and y must be paired (same length), got {xv.size} and {yv.size}")
    c = float(xv.size)
    # Eq. 13 as printed; the raw-moment form loses digits when the mean is large
    # relative to the spread, so shift both by their first value (P is shift-invariant).
    # Then scale each by its largest magnitude (P is scale-invariant too), so that values
    # near 1e200 do not overflow and values near 1e-200 do not underflow when squared.
    with np.errstate(over="ignore", invalid="ignore"):
        xs, ys = xv - xv[0], yv - yv[0]
    for name, v in (("x", xs), ("y", ys)):
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} spans more than the float64 range (differences overflow); rescale it")
    sx, sy = float(np.max(np.abs(xs))), float(np.max(np.abs(ys)))
    if sx == 0 or sy == 0:
        raise ValueError(f"{'x' if sx == 0 else 'y'} is constant; the Pearson coefficient (Eq. 13) is undefined")
    xs, ys = xs / sx, ys / sy
    sxy = np.sum(xs * ys) - np.sum(xs) * np.sum(ys) / c
    sxx = np.sum(xs * xs) - np.sum(xs) ** 2 / c
    syy = np.sum(ys * ys) - np.sum(ys) ** 2 / c
    if sxx <= 0 or syy <= 0:
        which = "x" if sxx <= 0 else "y"
        raise ValueError(f"{which} is constant; the Pearson coefficient (Eq. 13) is undefined")
    return float(np.clip(sxy / math.sqrt(sxx * syy), -1.0, 1.0))


def cardinality_irregularity_correlation(irregularity: Any, counts: Any) -> float:
    """Pearson coefficient (Eq. 13) between class cardinality n_j and irregularity I_j.

    Parameters
    ----------
    irregularity : array_like, shape (C,)
        I_j of Eq. 12.
    counts : array_like, shape (C,)
        n_j; for test-set irregularity pass the *training* counts to ask App. A's question
        (do classes with fewer training samples generalize less regularly?).

    Returns
    -------
    float
        P of Eq. 13 with N = counts and I = irregularity (Table 12: -0.6112).
    """
    return pearson(counts, irregularity)


# ----------------------------------------------------------------------------- significance
@dataclass(frozen=True)
class CorrelationTest:
    """Pearson (Eq. 13) and Spearman coefficients of C paired values, with permutation p-values.

    Attributes
    ----------
    pearson, spearman : float
        Eq. 13 on the values, and Eq. 13 on their ranks (average ranks for ties).
    p_pearson, p_spearman : float
        Two-sided: share of permutations with |coefficient| >= the observed |coefficient|.
    p_pearson_negative, p_spearman_negative : float
        One-sided: share with coefficient <= the observed one (small: the negative sign is
        unlikely under no association).
    num_permutations : int
        Permutations used (C! when exact).
    exact : bool
        True when all C! permutations were enumerated; else ``num_permutations`` random ones
        plus the observed order, p = (hits + 1) / (num_permutations + 1).
    seed : int or None
    """

    pearson: float
    spearman: float
    p_pearson: float
    p_spearman: float
    p_pearson_negative: float
    p_spearman_negative: float
    num_permutations: int
    exact: bool
    seed: int | None

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _permuted_coefficients(x: np.ndarray, y: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """Pearson coefficient of x with y[perm] for every row of perms (shape (B, C))."""
    xc = x - x.mean()
    yc = y - y.mean()
    return (yc[perms] @ xc) / math.sqrt(float(xc @ xc) * float(yc @ yc))


def correlation_test(x: Any, y: Any, *, num_permutations: int = 100_000, seed: Any = 0) -> CorrelationTest:
    """Pearson (Eq. 13) and Spearman coefficients with permutation p-values.

    With C = 10 classes a coefficient of -0.6 can arise by chance; the permutation test
    asks how often pairing the y values with x at random gives one as extreme.

    Parameters
    ----------
    x, y : array_like, shape (C,)
        Paired finite values, C >= 3, neither constant (e.g. counts n_j and irregularity I_j).
    num_permutations : int, default 100000
        Random permutations when C! exceeds it; otherwise all C! are enumerated (exact).
    seed : int or numpy.random.Generator, default 0
        Seeds the random permutations (unused when exact).

    Returns
    -------
    CorrelationTest

    Notes
    -----
    Under the null hypothesis of no association every pairing of y with x is equally
    likely. Comparisons allow a relative tolerance of 1e-12 so that permutations giving
    the observed coefficient up to rounding count as at least as extreme.
    """
    from scipy.stats import rankdata

    r = pearson(x, y)                                     # validates x, y (Eq. 13)
    xv, yv = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xv.size < 3:
        raise ValueError(f"x and y need at least 3 pairs for a permutation test, got {xv.size}")
    b = check_positive_int(num_permutations, "num_permutations")
    rng, seed_value = check_random_state(seed)
    rx, ry = rankdata(xv), rankdata(yv)
    rho = pearson(rx, ry)                                 # Spearman: Eq. 13 on ranks
    c = xv.size
    exact = math.factorial(c) <= b
    if exact:
        perms = np.array(list(itertools.permutations(range(c))), dtype=np.int64)
    else:
        perms = rng.permuted(np.tile(np.arange(c), (b, 1)), axis=1)
    tol = 1e-12
    out = {}
    for name, obs, xs, ys in (("pearson", r, xv, yv), ("spearman", rho, rx, ry)):
        sim = _permuted_coefficients(xs, ys, perms)
        hits_two = int(np.count_nonzero(np.abs(sim) >= abs(obs) - tol))
        hits_neg = int(np.count_nonzero(sim <= obs + tol))
        if exact:
            out[name] = (hits_two / perms.shape[0], hits_neg / perms.shape[0])
        else:
            out[name] = ((hits_two + 1) / (b + 1), (hits_neg + 1) / (b + 1))
    return CorrelationTest(pearson=r, spearman=rho, p_pearson=out["pearson"][0], p_spearman=out["spearman"][0],
                           p_pearson_negative=out["pearson"][1], p_spearman_negative=out["spearman"][1],
                           num_permutations=int(perms.shape[0]), exact=bool(exact),
                           seed=None if exact else seed_value)
