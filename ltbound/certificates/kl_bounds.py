"""The binary kl divergence, its inverses and the PAC-Bayes-kl family of bounds.

kl(q ‖ p) between Bernoulli(q) and Bernoulli(p); its upper and lower inverses (bisection to float
resolution); the PAC-Bayes-kl bound (Seeger 2002; Maurer 2004) and its relaxations (classic,
quad: Pérez-Ortiz et al. 2021; λ: Thiemann et al. 2017); the KL between diagonal Gaussians; the
Monte Carlo term of a stochastic classifier's risk (Langford & Caruana 2002). The certificates of
:mod:`ltbound.certificates.pacbayes` are built from these pieces.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from .._validation import check_delta, check_finite_scalar, check_positive_int, real_array

__all__ = ["kl_bernoulli", "kl_inverse_upper", "kl_inverse_lower", "pac_bayes_kl_bound", "bound_quad",
           "bound_classic", "bound_lambda", "gaussian_kl", "sample_convergence_bound"]

_HALVINGS = 64          # bisection steps: 2^-64 of [q, 1] is below float resolution


# ----------------------------------------------------------------------------- binary kl
def _kl(q: Any, p: Any) -> np.ndarray:
    # rel_entr and xlog1py keep 0 ln 0 = 0 and return inf at p in {0, 1} without numpy warnings;
    # log1p keeps the digits of a small p (kl(0 ‖ 1e-9) must be 1e-9)
    r = 1.0 - np.asarray(q, dtype=np.float64)
    return special.rel_entr(q, p) + special.xlog1py(r, -np.asarray(q)) - special.xlog1py(r, -np.asarray(p))


def _kl_inv_upper(q: Any, budget: Any) -> np.ndarray:
    q, b = np.broadcast_arrays(np.asarray(q, dtype=np.float64), np.asarray(budget, dtype=np.float64))
    lo, hi = q.copy(), np.ones_like(q)
    r = 1.0 - q
    h = special.xlog1py(r, -q)                   # kl(q ‖ p) = q ln(q/p) + h − (1 − q) ln(1 − p), no warnings
    for _ in range(_HALVINGS):
        mid = 0.5 * (lo + hi)
        ok = special.rel_entr(q, mid) + h - special.xlog1py(r, -mid) <= b
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return np.where(b <= 0, q, np.where(q >= 1.0, 1.0, hi))


def _kl_inv_lower(q: Any, budget: Any) -> np.ndarray:
    q, b = np.broadcast_arrays(np.asarray(q, dtype=np.float64), np.asarray(budget, dtype=np.float64))
    lo, hi = np.zeros_like(q), q.copy()
    r = 1.0 - q
    h = special.xlog1py(r, -q)
    for _ in range(_HALVINGS):
        mid = 0.5 * (lo + hi)
        ok = special.rel_entr(q, mid) + h - special.xlog1py(r, -mid) <= b
        lo, hi = np.where(ok, lo, mid), np.where(ok, mid, hi)
    return np.where(b <= 0, q, np.where(q <= 0.0, 0.0, lo))


def _unit(x: Any, name: str) -> np.ndarray:
    arr = real_array(x, name)
    if arr is None or _is_bool(x):
        raise ValueError(f"{name} must be a real number (or array) in [0, 1], got {x!r}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise ValueError(f"{name} must lie in [0, 1], got {arr.tolist()}")
    return arr


def _is_bool(x: Any) -> bool:
    """True for bools and boolean arrays: True is not a probability nor a number of nats."""
    return isinstance(x, (bool, np.bool_)) or (not np.isscalar(x) and np.asarray(x).dtype.kind == "b")


def _budget(x: Any, name: str) -> np.ndarray:
    arr = real_array(x, name)
    if arr is None or _is_bool(x) or np.any(np.isnan(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 (nats), got {x!r}")
    return arr


def _out(arr: np.ndarray) -> float | np.ndarray:
    return float(arr) if arr.ndim == 0 else arr


def kl_bernoulli(q: Any, p: Any) -> float | np.ndarray:
    """Binary relative entropy kl(q ‖ p) = q ln(q/p) + (1 − q) ln((1 − q)/(1 − p)).

    Parameters
    ----------
    q, p : float or array_like in [0, 1] (broadcast)
        0 ln 0 = 0, so kl(0 ‖ p) = −ln(1 − p) and kl(1 ‖ p) = −ln p; kl(q ‖ 0) = inf for q > 0.

    Returns
    -------
    float or ndarray (nats)
    """
    return _out(np.asarray(_kl(_unit(q, "q"), _unit(p, "p")), dtype=np.float64))


def kl_inverse_upper(q: Any, budget: Any) -> float | np.ndarray:
    """Largest p in [q, 1] with kl(q ‖ p) <= budget (Seeger 2002's inversion).

    Exact to float resolution (bisection; the returned p is never below the true root).
    budget = 0 gives q; budget = inf (or q = 1) gives 1.

    Parameters
    ----------
    q : float or array_like in [0, 1]
    budget : float or array_like >= 0 (nats; inf allowed)
    """
    return _out(_kl_inv_upper(_unit(q, "q"), _budget(budget, "budget")))


def kl_inverse_lower(q: Any, budget: Any) -> float | np.ndarray:
    """Smallest p in [0, q] with kl(q ‖ p) <= budget (never above the true root)."""
    return _out(_kl_inv_lower(_unit(q, "q"), _budget(budget, "budget")))


# ----------------------------------------------------------------------------- PAC-Bayes bounds
def _check_bound_args(empirical_risk: Any, kl: Any, m: Any, delta: Any) -> tuple[float, float, int, float]:
    r = check_finite_scalar(empirical_risk, "empirical_risk", low=0.0, high=1.0)
    k = check_finite_scalar(kl, "kl", low=0.0)
    return r, k, check_positive_int(m, "m"), check_delta(delta)


def _pb_budget(kl: float, m: Any, delta: float) -> Any:
    """(KL + ln(2√m/δ)) / m, Maurer (2004)."""
    return (kl + np.log(2.0 * np.sqrt(m)) - math.log(delta)) / m


def pac_bayes_kl_bound(empirical_risk: float, kl: float, m: int, delta: float) -> float:
    """PAC-Bayes-kl bound (Seeger 2002; Maurer 2004): kl⁻¹(L̂, (KL + ln(2√m/δ))/m).

    Parameters
    ----------
    empirical_risk : float in [0, 1]
        L̂_S(Q), the posterior's mean loss on the m certification samples (losses in [0, 1]).
    kl : float >= 0
        KL(Q ‖ P) in nats; P must not depend on S.
    m : int >= 1
    delta : float in (0, 1)

    Returns
    -------
    float
        With probability >= 1 − δ over S, L(Q) <= this, for every Q at once.
    """
    r, k, m, d = _check_bound_args(empirical_risk, kl, m, delta)
    return float(_kl_inv_upper(r, _pb_budget(k, m, d)))


def bound_classic(empirical_risk: float, kl: float, m: int, delta: float) -> float:
    """f-classic (Pérez-Ortiz et al. 2021; McAllester 1999): L̂ + sqrt((KL + ln(2√m/δ))/(2m)).

    Follows from the kl bound by Pinsker's inequality kl(q ‖ p) >= 2(p − q)²; not capped at 1
    (a training objective must keep its gradient).
    """
    r, k, m, d = _check_bound_args(empirical_risk, kl, m, delta)
    return r + math.sqrt(_pb_budget(k, m, d) / 2.0)


def bound_quad(empirical_risk: float, kl: float, m: int, delta: float) -> float:
    """f-quad (Pérez-Ortiz et al. 2021, Eq. 'f_quad'): (sqrt(L̂ + B/2) + sqrt(B/2))², B = (KL + ln(2√m/δ))/m.

    From kl(q ‖ p) >= (p − q)²/(2p) (p >= q): (p − q)² <= 2pB solves to p <= q + B + sqrt(2qB + B²),
    which is this square. Not capped at 1.
    """
    r, k, m, d = _check_bound_args(empirical_risk, kl, m, delta)
    b = _pb_budget(k, m, d)
    return (math.sqrt(r + b / 2.0) + math.sqrt(b / 2.0)) ** 2


def bound_lambda(empirical_risk: float, kl: float, m: int, delta: float, lam: float) -> float:
    """λ-bound (Thiemann et al. 2017, Thm. 3): L̂/(1 − λ/2) + (KL + ln(2√m/δ))/(λ(1 − λ/2)m), λ in (0, 2).

    From the f-quad inequality p − q <= sqrt(2pB) and sqrt(2pB) <= λp/2 + B/λ; it holds for all λ
    at once, so λ may be optimised on the data (no union bound). Not capped at 1.
    """
    r, k, m, d = _check_bound_args(empirical_risk, kl, m, delta)
    lam = check_finite_scalar(lam, "lam", low=0.0, high=2.0, low_open=True, high_open=True)
    return (r + _pb_budget(k, m, d) / lam) / (1.0 - lam / 2.0)


def gaussian_kl(mu_q: Any, sigma_q: Any, mu_p: Any, sigma_p: Any) -> float:
    """KL(Q ‖ P) between diagonal Gaussians, summed over all coordinates (nats).

    Σ_i [ln(σ_p/σ_q) + (σ_q² + (μ_q − μ_p)²)/(2σ_p²) − 1/2], computed as
    Σ_i [(r² − 1 − 2 ln r)/2 + (μ_q − μ_p)²/(2σ_p²)] with r = σ_q/σ_p (no cancellation when Q ≈ P).

    Parameters
    ----------
    mu_q, sigma_q : array_like, one shape (the posterior's means and standard deviations > 0)
    mu_p, sigma_p : array_like of that shape, or scalars (the prior's)
    """
    mq, sq = real_array(mu_q, "mu_q"), real_array(sigma_q, "sigma_q")
    mp, sp = real_array(mu_p, "mu_p"), real_array(sigma_p, "sigma_p")
    for arr, x, name in ((mq, mu_q, "mu_q"), (sq, sigma_q, "sigma_q"), (mp, mu_p, "mu_p"), (sp, sigma_p, "sigma_p")):
        if arr is None or _is_bool(x) or not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite real numbers")
    if sq.shape != mq.shape:
        raise ValueError(f"sigma_q must have the shape of mu_q {mq.shape}, got {sq.shape}")
    for arr, name in ((mp, "mu_p"), (sp, "sigma_p")):
        if arr.ndim and arr.shape != mq.shape:
            raise ValueError(f"{name} must be a scalar or have the shape of mu_q {mq.shape}, got {arr.shape}")
    for arr, name in ((sq, "sigma_q"), (sp, "sigma_p")):
        if np.any(arr <= 0):
            raise ValueError(f"{name} must be > 0 (standard deviations), found {float(arr.min())!r}")
    log_r = np.log(sq) - np.log(sp)
    with np.errstate(over="ignore", invalid="ignore"):    # an overflow is refused below, in words
        terms = 0.5 * (np.expm1(2.0 * log_r) - 2.0 * log_r) + (mq - mp) ** 2 / (2.0 * sp ** 2)
        total = float(np.sum(np.broadcast_to(terms, mq.shape)))
    if not math.isfinite(total):
        with np.errstate(all="ignore"):
            ratios = float(np.max(sq / sp)), float(np.max(np.abs(mq - mp) / sp))
        raise ValueError("KL(Q ‖ P) overflows float64: sigma_q / sigma_p or (mu_q - mu_p) / sigma_p is too large "
                         f"(largest ratios {ratios[0]:.3g} and {ratios[1]:.3g}); such a posterior has no finite "
                         "certificate: rescale the parameters or widen the prior")
    return total


def sample_convergence_bound(mc_risk: float, num_samples: int, delta: float, *, two_sided: bool = False) -> float:
    """Upper bound on L̂_S(Q) from N weight draws (Langford & Caruana 2002; module docstring).

    kl⁻¹(L̂_S(Q̂_N), ln(1/δ)/N): with probability >= 1 − δ over the N i.i.d. draws h_i ~ Q,
    L̂_S(Q) <= this (one-sided Chernoff bound for means of [0, 1] variables). ``two_sided=True``
    uses Langford & Caruana's ln(2/δ)/N, as Pérez-Ortiz et al. (2021) do.

    Parameters
    ----------
    mc_risk : float in [0, 1]
        L̂_S(Q̂_N) = (1/N) Σ_i L̂_S(h_i).
    num_samples : int >= 1
        N.
    delta : float in (0, 1)
    """
    r = check_finite_scalar(mc_risk, "mc_risk", low=0.0, high=1.0)
    n = check_positive_int(num_samples, "num_samples")
    d = check_delta(delta)
    return float(_kl_inv_upper(r, (math.log(2.0 if two_sided else 1.0) - math.log(d)) / n))
