"""Pooling the classes of a certificate: the exact binomial limit and the Chernoff (λ-grid) bounds.

A class-weighted risk Σ_j π_j R_j can be certified class by class (a union bound) or pooled: the
exact one-sided binomial limit of the pooled error count when the weights are equal
(Clopper & Pearson 1934; Hoeffding 1956), or a Chernoff bound of the weighted sum, optimised over a
λ grid fixed by the counts, the prior and δ (a union bound over the grid). Used by
:mod:`ltbound.certificates.pacbayes` (module docstring: the methods and when each wins).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from scipy import special, stats


#: λ grid of the pooled PAC-Bayes bounds: λ₀·2^k, k < LAMBDA_GRID_SIZE (union bound paid)
LAMBDA_GRID_SIZE = 16
_DUAL_HALVINGS = 40     # for the multiplier μ: the dual value is an upper bound at any μ


# ----------------------------------------------------------------------------- combining classes
def _binom_upper(k: np.ndarray, m: np.ndarray, d: Any) -> np.ndarray:
    """One-sided upper Clopper-Pearson limit: largest e with P(Bin(m, e) <= k) >= d."""
    k, m = np.asarray(k, dtype=np.float64), np.asarray(m, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = stats.beta.isf(d, k + 1.0, np.maximum(m - k, 1e-300))
    return np.where(k < m, u, 1.0)


@functools.lru_cache(maxsize=256)
def _hoeffding_region_start(n: int, delta: float) -> float:
    """b₀ = inf{p : P(Bin(n, p) <= ⌊np⌋) <= δ}, where Hoeffding (1956, Thm. 4) may not apply.

    On [k/n, (k+1)/n) the condition reads P(Bin(n, p) <= k) <= δ, decreasing in p, so the set
    there starts at the Clopper-Pearson limit p_k if p_k < (k+1)/n. Returns 1.0 if B is empty.
    """
    k = np.arange(n, dtype=np.float64)
    p_k = _binom_upper(k, np.full_like(k, float(n)), delta)
    inside = p_k < (k + 1.0) / n
    return float(p_k[inside].min()) if inside.any() else 1.0


#: Fixed levels δ' at which :func:`_pooled_binomial` looks for the first level where the
#: Clopper-Pearson limit enters Hoeffding's region (data-independent, so the choice is reproducible).
_POOLED_BINOMIAL_GRID = tuple(float(d) for d in np.logspace(-12.0, math.log10(0.999), 25))


def _pooled_binomial_raw(k_total: int, n_total: int, delta: float) -> float:
    """U(k) at level δ if it lies below b₀(δ) (Hoeffding's theorem applies), else the vacuous 1."""
    u = float(_binom_upper(np.array(float(k_total)), np.array(float(n_total)), delta))
    return u if u < _hoeffding_region_start(n_total, delta) else 1.0


def _pooled_binomial_valid(k_total: int, n_total: int, levels: np.ndarray) -> np.ndarray:
    """For each level δ', whether U(k) < b₀(δ') (the raw limit is not vacuous), in O(k) per level.

    b₀ is the smallest p_j = U(j) with p_j < (j + 1)/n; U(k) = p_k and p_j grows with j, so
    U(k) < b₀ exactly when no j <= k has p_j < (j + 1)/n: only j = 0..k need computing, not all n.
    """
    j = np.arange(k_total + 1, dtype=np.float64)
    p = _binom_upper(j[None, :], np.full((1, j.size), float(n_total)), np.asarray(levels, dtype=np.float64)[:, None])
    return ~np.any(p < (j + 1.0) / n_total, axis=1)


def _pooled_binomial(k_total: int, n_total: int, delta: float) -> float:
    """The exact pooled limit, non-increasing in δ: U(k) at level min(δ, t), t from (k, N) only.

    At larger δ Hoeffding's region B(δ) grows down towards 0 (for N = 1000 at δ = 0.4 it
    starts near 0.003), so the raw limit turns vacuous although it was 0.1057 at δ = 0.3. A
    limit at a level δ' <= δ is also a limit at δ, and here any minimum over such levels stays
    valid: each level's failure event is a lower tail {k < κ(δ')} of the one error count k, so
    their union is the largest of them, of probability <= δ. t is the first level where U(k)
    reaches b₀ (a scan of a fixed grid, then bisection in its bracket; 0 when the smallest grid
    level already fails, giving 1), so min(δ, t) grows with δ and the bound never does.
    """
    if k_total >= n_total:
        return 1.0
    grid = np.asarray(_POOLED_BINOMIAL_GRID)
    upto = int(np.searchsorted(grid, delta, side="left")) + 1         # the grid levels up to the first >= δ
    ok = _pooled_binomial_valid(k_total, n_total, grid[:upto])
    if ok.all():
        level = delta if delta <= grid[-1] or _pooled_binomial_valid(k_total, n_total, np.array([delta]))[0] \
            else grid[-1]
        return _pooled_binomial_raw(k_total, n_total, level)
    first = int(np.argmin(ok))
    if first == 0:
        return 1.0                       # invalid at 1e-12 already: the raw limit is (nearly) 1 anyway
    lo, hi = float(grid[first - 1]), float(grid[first])              # t lies in [lo, hi): bisect
    for _ in range(40):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if _pooled_binomial_valid(k_total, n_total, np.array([mid]))[0] else (lo, mid)
    return _pooled_binomial_raw(k_total, n_total, min(delta, lo))


def _chernoff_upper(t: Any, m: np.ndarray, pi: np.ndarray, budget: Any, lam: Any) -> np.ndarray:
    """max π·e over e in [0,1]^C with λt + Σ_j m_j ln(1 − a_j e_j) >= −budget (dual value).

    ``m``, ``pi`` over the classes with π_j > 0 (π sums to 1 there). ``t`` and ``budget``
    broadcast over a leading axis of D problems (one per certification set); ``lam`` has shape
    (K,) (shared) or (D, K); returns shape (D, K).
    """
    t = np.asarray(t, dtype=np.float64).reshape(-1, 1, 1)
    budget = np.asarray(budget, dtype=np.float64).reshape(-1, 1, 1)
    lam = np.asarray(lam, dtype=np.float64)
    lam = lam.reshape(1, -1, 1) if lam.ndim == 1 else lam[..., None]
    w = pi / m
    s = lam * w                                            # (D or 1, K, C)
    a = -np.expm1(-s)
    c = a / w
    rhs = (budget + lam * t)[..., 0]                       # (D, K): Σ_j m_j ln(1 − a_j e_j) >= −rhs

    def dual(mu):                                          # max over the box of the Lagrangian, and g(e)
        e = np.clip((1.0 - mu[..., None] * c) / a, 0.0, 1.0)
        # ln(1 − a e) = ln((1 − e) + e·exp(−s)), stable for e = 1 and large s
        g = np.sum(m * np.logaddexp(special.xlog1py(1.0, -e), special.xlogy(1.0, e) - s), axis=-1)
        return e @ pi + mu * (g + rhs), g

    shape = rhs.shape
    lo, hi = np.zeros(shape), np.broadcast_to(1.0 / c.min(axis=-1), shape).copy()
    for _ in range(_DUAL_HALVINGS):
        mid = 0.5 * (lo + hi)
        _, g = dual(mid)
        feasible = g >= -rhs
        hi, lo = np.where(feasible, mid, hi), np.where(feasible, lo, mid)
    out = np.minimum(np.minimum(dual(lo)[0], dual(hi)[0]), 1.0)
    return np.where(rhs >= lam[..., 0], 1.0, out)         # e = 1 everywhere is feasible


def _chernoff_free(t: Any, m: np.ndarray, pi: np.ndarray, budget: float) -> tuple[np.ndarray, np.ndarray]:
    """min over λ > 0 of :func:`_chernoff_upper` for each t (valid for any λ: the test-inversion argument).

    A coarse log grid (ratio 2) around Hoeffding's optimum, then a fine one (ratio 2^(1/16))
    between the neighbours of each row's best point; any λ gives a valid bound, so
    the search only affects tightness. Returns (bounds, λ), each of shape (D,).
    """
    t_all = np.atleast_1d(np.asarray(t, dtype=np.float64))
    t, back = np.unique(t_all, return_inverse=True)        # error counts repeat: solve each t once
    rows = np.arange(t.size)
    v = float(np.sum(pi ** 2 / m))
    grid = math.sqrt(8.0 * budget / v) * 2.0 ** np.arange(-3, 25, dtype=np.float64)
    vals = _chernoff_upper(t, m, pi, budget, grid)
    i = np.argmin(vals, axis=1)
    fine = grid[i][:, None] * 2.0 ** (np.arange(-16, 17) / 16.0)
    fvals = _chernoff_upper(t, m, pi, budget, fine)
    j = np.argmin(fvals, axis=1)
    better = fvals[rows, j] < vals[rows, i]
    bounds = np.where(better, fvals[rows, j], vals[rows, i])
    lams = np.where(better, fine[rows, j], grid[i])
    return bounds[back.ravel()], lams[back.ravel()]


def _lambda_grid(v: float, budget0: float) -> np.ndarray:
    """λ₀·2^k, k < LAMBDA_GRID_SIZE, λ₀ = sqrt(8 budget0/V): fixed by counts, prior and δ."""
    return math.sqrt(8.0 * budget0 / v) * 2.0 ** np.arange(LAMBDA_GRID_SIZE, dtype=np.float64)
