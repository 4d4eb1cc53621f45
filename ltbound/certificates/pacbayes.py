"""PAC-Bayes certificates of a posterior's risk under a target class prior (numpy/scipy only).

A *certificate* is an upper bound U on a risk that holds with probability >= 1 − δ over the
draw of a certification set S; nothing in it is estimated. This module holds the bound core
for stochastic networks (issue 20) and the test-set bound it reduces to with KL = 0 and one
fixed classifier (shared with :func:`ltbound.statistics.heldout.certified_risk`).

Notation: S = m samples, class j has m_j of them; a posterior Q over weights, a prior P chosen
before S was seen (for example trained on a disjoint split D_prior); ℓ(h, z) in [0, 1];
L_j(Q) = E_{h~Q} E_{z~D_j} ℓ(h, z) the class-conditional risk, L̂_j(Q) its mean on the m_j
samples of class j; for a class prior π, the target-prior risk L_π(Q) = Σ_j π_j L_j(Q) and
its plug-in estimate L̂_π(Q) = Σ_j π_j L̂_j(Q). Everything is conditional on the labels of S
(class-conditional sampling: given the labels, the inputs of class j are i.i.d. from D_j), so
m_j and π may be used to choose δ-splits and λ-grids; the losses may not.

The binary kl and its inversion
-------------------------------
kl(q ‖ p) = q ln(q/p) + (1 − q) ln((1 − q)/(1 − p)) (0 ln 0 = 0). ``kl_inverse_upper(q, c)`` is
the largest p in [q, 1] with kl(q ‖ p) <= c (bisection, 64 halvings of [q, 1]: exact to float
resolution, and the upper end of the final bracket is returned, so it never undershoots).

PAC-Bayes-kl (Seeger 2002; Maurer 2004)
---------------------------------------
With probability >= 1 − δ, for all posteriors Q at once,
    kl(L̂(Q) ‖ L(Q)) <= (KL(Q ‖ P) + ln(2√m/δ)) / m,
so L(Q) <= kl⁻¹(L̂(Q), (KL + ln(2√m/δ))/m). Maurer (2004) proves it for losses in [0, 1] with
ξ(m) = Σ_k C(m,k)(k/m)^k(1 − k/m)^(m−k) <= 2√m in place of 2√m for m >= 8; ξ(m) <= 2√m holds
for every m >= 1 (ξ(1) = 2; checked exactly for m <= 1000 in tests/test_pacbayes.py).
Training objectives are relaxations of it (each >= the kl bound, tests pin that):

* f-classic (McAllester 1999 form, via Pinsker kl(q‖p) >= 2(p − q)²):
  L̂ + sqrt((KL + ln(2√m/δ)) / (2m))  (Pérez-Ortiz et al. 2021, Eq. f_classic);
* f-quad (kl(q‖p) >= (p − q)²/(2p)): (sqrt(L̂ + B/2) + sqrt(B/2))², B = (KL + ln(2√m/δ))/m
  (Pérez-Ortiz et al. 2021, Eq. f_quad; Rivasplata et al. 2019);
* λ-bound (Thiemann et al. 2017, Thm. 3): L̂/(1 − λ/2) + (KL + ln(2√m/δ))/(λ(1 − λ/2)m) for
  λ in (0, 2); it follows from the f-quad inequality and 2√(ab) <= λa + b/λ, so it holds for
  all λ simultaneously and λ may be optimised after seeing the data.

Monte Carlo term (Langford & Caruana 2002)
------------------------------------------
L̂_S(Q) is an average over h ~ Q; with N i.i.d. weight draws h_1..h_N the per-draw empirical
risks L̂_S(h_i) are i.i.d. in [0, 1] with mean L̂_S(Q) (given S). The Chernoff bound for means
of [0, 1] variables (Hoeffding 1963, Eq. 2.1: the Bernoulli has the largest moment generating
function) gives P(mean <= x) <= exp(−N kl(x ‖ L̂_S(Q))) for x <= L̂_S(Q), hence with
probability >= 1 − δ' over the draws
    L̂_S(Q) <= kl⁻¹(L̂_S(Q̂_N), ln(1/δ')/N).
Langford & Caruana (2002, the "sample convergence bound") state the two-sided version with
ln(2/δ')/N, which Pérez-Ortiz et al. (2021) use; the certificate needs only the upper side, so
ln(1/δ')/N is used here (``two_sided=True`` gives theirs). The two events are combined by a
union bound: δ = δ_PAC-Bayes + δ_MC, both printed in ``delta_split``. The kl form assumes the
worst variance q(1 − q) of a [0, 1] variable; the empirical risks of weight draws vary far less,
so ``mc_bound="bernstein"`` (Maurer & Pontil 2009, Thm. 4, one-sided, N >= 2) or ``"best"``
(both at δ'/2) is tighter once N is in the thousands.

Independent draws per sample (``mc_draws="per-sample"``). If every entry of the (N, m) loss
matrix comes from its own weight draw (sample i of pass k scored with h_{k,i} ~ Q, all draws
independent given S), the N·m_j losses of class j are independent in [0, 1] with average mean
L̂_j(Q) (not identically distributed: sample i has mean E_Q ℓ(h, z_i)). The Chernoff argument
still holds: for s >= 0, E exp(−s X_i) <= 1 − μ_i(1 − e^{−s}) (convexity on [0, 1]) and
Σ_i ln(1 − a μ_i) <= n ln(1 − a μ̄) (concavity of ln), so the sum's moment generating function
is at most that of a binomial with the average mean. The Monte Carlo bound is then the
test-set bound of the same class combination on N·m_j samples per class: kl⁻¹ at
ln(C₊/δ')/(N m_j) per class (``union``) or the class-weighted Chernoff bound with counts N·m_j
(``pooled``, ``pooled-chernoff``). One pass of per-sample draws costs what one shared draw
costs (``ltbound.train.stochastic.networks.sample_losses``) and gives an m_eff-fold larger Monte Carlo
sample: the term falls from ≈ sqrt(ln(1/δ')/N) to ≈ sqrt(Σ_j π_j² ln(1/δ')/(N m_j)).

Target-prior certificates: combining classes
--------------------------------------------
``"union"`` — a bound per class at δ_j = δ/C₊ (C₊ = classes with π_j > 0; equal shares, fixed
before the data; the allocation enters only through ln(1/δ_j), so shares ∝ π_j or 1/√m_j move
the bound little and equal shares are the convention of the test-set literature), union bound
over classes, combined as Σ_j π_j U_j. Per class: PAC-Bayes-kl on the m_j samples of class j;
with KL = 0 (Q = P, fixed before S) the test-set bound kl⁻¹(L̂_j, ln(1/δ_j)/m_j), or for one
fixed classifier with 0-1 loss the exact binomial tail (one-sided Clopper-Pearson at δ_j).

``"pooled"`` — one bound on L_π, with the paper's sqrt(Σ_j π_j²/m_j) structure (Eq. 7's
confidence term). L̂_π(h) = Σ_i w_i ℓ(h, z_i) with w_i = π_{y_i}/m_{y_i}; the summands are
independent with ranges w_i, so Hoeffding's lemma gives
    E_S exp(λ(L_π(h) − L̂_π(h))) <= exp(λ² Σ_i w_i²/8) = exp(λ² V/8),  V = Σ_j π_j²/m_j.
Donsker-Varadhan's change of measure and Markov's inequality then give, with probability
>= 1 − δ, for all Q:  λ(L_π(Q) − L̂_π(Q)) <= KL + ln(1/δ) + λ²V/8, i.e.
    L_π(Q) <= L̂_π(Q) + (KL + ln(K_λ/δ))/λ + λV/8
for every λ of a grid of K_λ values fixed in advance (union bound over the grid; the grid is
λ_k = λ₀·2^k, k < K_λ = 16, λ₀ = sqrt(8 ln(K_λ/δ)/V): it depends on counts, prior and δ only).
The unconstrained optimum λ* = sqrt(8B/V), B = KL + ln(K_λ/δ), gives L̂_π + sqrt(B·V/2)
(sympy check in the tests); with KL = 0 and a fixed classifier no grid is needed (Hoeffding's
inequality itself) and the bound is L̂_π + sqrt(ln(1/δ)·Σ_j π_j²/m_j / 2).

``"pooled-chernoff"`` — the same argument with the exact Bernoulli bound on each summand's
moment generating function instead of Hoeffding's lemma: for ℓ in [0, 1] with mean μ,
E e^{−sℓ} <= 1 − μ a(s), a(s) = 1 − e^{−s}. Writing a_j = 1 − exp(−λπ_j/m_j),
    E_S exp(−λ L̂_π(h) − Σ_j m_j ln(1 − a_j L_j(h))) <= 1,
and the convexity of x ↦ −ln(1 − a x) (Jensen under Q) turns the PAC-Bayes step into
    λ L̂_π(Q) + Σ_j m_j ln(1 − a_j L_j(Q)) >= −(KL + ln(K_λ/δ)).
The certificate is the largest π·e over e in [0, 1]^C satisfying this at the observed L̂_π
(a concave constraint: the maximiser is e_j = clip((1 − μ a_j m_j/π_j)/a_j, 0, 1), μ found by
bisection; the dual value is returned, an upper bound however the bisection ends), minimised
over the grid. Hoeffding's lemma is ln(1 − μa(s)) + sμ <= s²/8, so this is never looser than
``"pooled"`` at the same λ. With KL = 0 and a fixed classifier it is a test-set bound by test
inversion: the set {e : exp(λt) Π_j (1 − a_j e_j)^{m_j} > δ for all λ} is a 1 − δ confidence
set for the class risks (Chernoff bound on P_e(L̂_π <= t)), so λ may be chosen after seeing
the data and the bound is min over λ. A pooled "kl with an effective sample size"
(kl⁻¹(L̂_π, ln(1/δ)/n_eff), n_eff = 1/Σ_j π_j²/m_j) is *not* valid for unequal weights: with
m = (1000, 5, 5), errors (0, 0.2, 0), π = (0.5, 0.25, 0.25) it covers 0.67 at nominal 0.80,
where this bound covers (tests/test_pacbayes.py).

``"pooled-binomial"`` (KL = 0, one classifier, 0-1 loss, π_j/m_j equal over the classes with
π_j > 0 — a balanced test set with π balanced): the total error count is Poisson-binomial with
mean N·p̄, N = Σ m_j, p̄ = L_π. Hoeffding (1956, Thm. 4) proves P(S <= b) <= P(Bin(N, p̄) <= b)
only for 0 <= b <= N p̄ − 1 (it fails above: p = (1, 0.98), b = 1, pinned in the tests), so the
one-sided Clopper-Pearson limit U(k) is valid for every p̄ outside B = {p : P(Bin(N,p) <= ⌊Np⌋)
<= δ}, a set near p = 1 (for N = 1000, δ = 0.05: p >= 0.99995). With b₀ = inf B the bound is
U(k) if U(k) < b₀, else 1; a monotone-coupling argument (lower the p_i until the mean is just
below b₀) covers the p̄ in B. It is the exact pooled limit of issue 23: 0.0030 instead of 0.0516
for 100 images in each of 10 classes and no error.

``"auto"`` chooses by the counts and the prior only (never the errors): "pooled-binomial" where
it applies, else "pooled-chernoff".

KL = 0: a posterior fixed before S, or one chosen with S
---------------------------------------------------------
The test-set forms (free λ, no λ grid; kl⁻¹ at ln(1/δ_j)/m_j without Maurer's 2√m) hold for one
Q fixed before S. A PAC-Bayes bound holds on one event of probability >= 1 − δ for every Q at
once; switching to the test-set form when a posterior trained on S happens to land on KL = 0
mixes two events (level 1 − 2δ) and makes the certificate jump (0.4513 at KL = 0 against 0.4661
at KL = 1e-12 in one example). ``fixed_before_sample`` says which holds: False gives the
PAC-Bayes form at every KL, continuous at 0; True the test-set form, refused with KL > 0.

Where each wins (tests pin cases both ways): the union pays ln(C/δ) instead of ln(1/δ), but each
class keeps its own kl (or exact binomial) curvature, so it wins when one class carries almost
all of the weighted slack and its error is small (e.g. a prior concentrated on one large class
with no error). Pooling wins when the slack is spread over many classes (sqrt(Σ a_j²) < Σ a_j)
and when many small tail classes make δ/C expensive.

References
----------
Seeger (2002), "PAC-Bayesian generalisation error bounds for Gaussian process classification";
Maurer (2004), "A note on the PAC Bayesian theorem"; Langford & Caruana (2002), "(Not) bounding
the true error"; Maurer & Pontil (2009), "Empirical Bernstein bounds and sample variance
penalization"; Langford (2005), "Tutorial on practical prediction theory for classification";
McAllester (1999); Dziugaite & Roy (2017), "Computing nonvacuous generalization bounds for deep
(stochastic) neural networks", and (2018) "Data-dependent PAC-Bayes priors via differential
privacy"; Thiemann, Igel, Wintenberger & Seldin (2017), "A strongly quasiconvex PAC-Bayesian
bound"; Pérez-Ortiz, Rivasplata, Shawe-Taylor & Szepesvári (2021), "Tighter risk certificates
for neural networks", JMLR 22; Hoeffding (1956), "On the distribution of the number of
successes in independent trials"; Hoeffding (1963); Clopper & Pearson (1934); Donsker &
Varadhan (1975).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import (check_delta, check_finite_scalar, check_labels, check_positive_int,
                           check_probability_vector, real_array)
from .kl_bounds import _kl_inv_upper
from .pooled import LAMBDA_GRID_SIZE, _binom_upper, _chernoff_free, _chernoff_upper, _lambda_grid, _pooled_binomial

__all__ = ["target_risk_certificate", "PacBayesCertificate", "METHODS", "MC_BOUNDS", "MC_DRAWS"]

#: ways to combine the classes (module docstring)
METHODS = ("auto", "union", "union-kl", "pooled", "pooled-chernoff", "pooled-binomial")
#: Monte Carlo bounds for N weight draws (:func:`target_risk_certificate`)
MC_BOUNDS = ("kl", "bernstein", "best")
#: how the N weight draws of a loss matrix were made (:func:`target_risk_certificate`)
MC_DRAWS = ("shared", "per-sample")


@dataclass(frozen=True)
class _Problem:
    """A checked certification problem; the private cores trust it."""

    losses: np.ndarray          # (N, m) in [0, 1]
    labels: np.ndarray          # (m,)
    counts: np.ndarray          # (C,) m_j
    pi: np.ndarray              # (C,)
    kl: float
    delta: float
    method: str
    deterministic: bool         # 1-D losses: one classifier, no Monte Carlo term
    zero_one: bool              # every loss is 0 or 1
    mc_delta_fraction: float
    prior_grid_size: int
    mc_bound: str = "kl"
    mc_draws: str = "shared"
    fixed_before_sample: bool = False   # the test-set form (KL = 0 and Q fixed before S)

    @property
    def num_classes(self) -> int:
        return int(self.counts.size)


def _resolve_method(p: _Problem) -> str:
    """``"auto"`` from counts, prior, KL = 0 and the loss type only (never the errors)."""
    pos = p.pi > 0
    share = p.pi[pos] / p.counts[pos]
    equal = bool(np.all(np.abs(share - share[0]) <= 1e-12 * share[0]))
    exact = p.fixed_before_sample and p.deterministic and p.zero_one
    if p.method == "auto":
        return "pooled-binomial" if exact and equal else "pooled-chernoff"
    if p.method == "pooled-binomial" and not (exact and equal):
        raise ValueError("method='pooled-binomial' needs kl = 0, one deterministic classifier (1-D losses), "
                         "0-1 losses and π_j/m_j equal over the classes with π_j > 0 (a balanced test set "
                         "and a balanced prior); use 'pooled-chernoff' or 'auto'")
    return p.method


def _mc_upper(values: np.ndarray, log_delta: float, how: str) -> np.ndarray:
    """Upper bound on the mean over Q of each column of ``values`` (N draws, k columns in [0, 1]).

    "kl": kl⁻¹(mean, ln(1/δ)/N) (module docstring). "bernstein": the empirical Bernstein bound
    of Maurer & Pontil (2009, Thm. 4), mean + sqrt(2 V ln(2/δ)/N) + 7 ln(2/δ)/(3(N − 1)) with V the
    unbiased sample variance (N >= 2; it wins when the draws' risks vary little, as the
    empirical risks of weight draws do). "best": both at δ/2, the smaller.
    """
    n = values.shape[0]
    mean = values.mean(axis=0)
    if how == "best":
        return np.minimum(_mc_upper(values, log_delta - math.log(2.0), "kl"),
                          _mc_upper(values, log_delta - math.log(2.0), "bernstein"))
    if how == "kl" or n < 2:
        return _kl_inv_upper(mean, -log_delta / n)
    log_term = math.log(2.0) - log_delta
    var = values.var(axis=0, ddof=1)
    return np.minimum(mean + np.sqrt(2.0 * var * log_term / n) + 7.0 * log_term / (3.0 * (n - 1)), 1.0)


def _certify(p: _Problem) -> "PacBayesCertificate":
    method = _resolve_method(p)
    pos = p.pi > 0
    c_pos = int(pos.sum())
    m, pi = p.counts[pos].astype(np.float64), p.pi[pos]
    n_draws = p.losses.shape[0]
    # per-draw, per-class loss sums (N, C₊) by one product with the class indicator (m, C₊)
    onehot = (p.labels[:, None] == np.flatnonzero(pos)[None, :]).astype(np.float64)
    sums = p.losses @ onehot
    per_draw = sums / m
    raw_j = per_draw.mean(axis=0)
    raw = float(pi @ raw_j)
    # δ split in logs: δ may be as small as 5e-324, where δ/C underflows to 0
    log_delta = math.log(p.delta) - math.log(p.prior_grid_size)
    log_mc = -math.inf if p.deterministic else math.log(p.mc_delta_fraction) + log_delta
    log_main = log_delta if p.deterministic else math.log1p(-p.mc_delta_fraction) + log_delta
    test_set = p.fixed_before_sample
    split: dict = {"delta": p.delta, "prior_grid_size": p.prior_grid_size, "after_prior_grid": math.exp(log_delta),
                   "monte_carlo": math.exp(log_mc), "test_set" if test_set else "pac_bayes": math.exp(log_main)}
    if not p.deterministic:
        split["mc_bound"] = p.mc_bound if p.mc_draws == "shared" else "chernoff"
        split["mc_draws"] = p.mc_draws
    per_class_upper = None
    lam = None
    pooled_t = raw
    if method in ("union", "union-kl"):
        log_dj = log_main - math.log(c_pos)
        split["per_class"] = math.exp(log_dj)
        if p.deterministic:
            emp_j = raw_j
        else:
            split["monte_carlo_per_class"] = math.exp(log_mc - math.log(c_pos))
            if p.mc_draws == "per-sample":       # N·m_j independent losses per class (module docstring)
                emp_j = _kl_inv_upper(raw_j, -(log_mc - math.log(c_pos)) / (n_draws * m))
            else:
                emp_j = _mc_upper(per_draw, log_mc - math.log(c_pos), p.mc_bound)
        if test_set and p.deterministic and p.zero_one and method == "union":
            upper = _binom_upper(np.rint(raw_j * m), m, math.exp(log_dj))
        elif test_set:
            upper = _kl_inv_upper(emp_j, -log_dj / m)
        else:
            upper = _kl_inv_upper(emp_j, (p.kl + np.log(2.0 * np.sqrt(m)) - log_dj) / m)
        bound = float(pi @ upper)
        per_class_upper = np.zeros(p.num_classes)
        per_class_upper[pos] = upper
        corrected = float(pi @ emp_j)
    else:
        if p.deterministic:
            t = raw
        elif p.mc_draws == "per-sample":         # the Chernoff bound on N·m_j independent losses per class
            t = float(_chernoff_free(raw, n_draws * m, pi, -log_mc)[0][0])
        else:
            t = float(_mc_upper((per_draw @ pi)[:, None], log_mc, p.mc_bound)[0])
        corrected = pooled_t = t
        v = float(np.sum(pi ** 2 / m))
        if method == "pooled-binomial":
            k_total = int(np.rint(float(sums.sum())))
            bound = _pooled_binomial(k_total, int(m.sum()), math.exp(log_main))
        elif test_set and method == "pooled":
            lam = math.sqrt(8.0 * -log_main / v)
            bound = t + math.sqrt(-log_main * v / 2.0)
        elif test_set:
            bounds, lams = _chernoff_free(t, m, pi, -log_main)
            bound, lam = float(bounds[0]), float(lams[0])
        else:
            split["lambda_grid_size"] = LAMBDA_GRID_SIZE
            split["per_lambda"] = math.exp(log_main) / LAMBDA_GRID_SIZE
            b0 = math.log(LAMBDA_GRID_SIZE) - log_main
            grid = _lambda_grid(v, b0)
            if method == "pooled":
                vals = t + (p.kl + b0) / grid + grid * v / 8.0
            else:
                vals = _chernoff_upper(t, m, pi, p.kl + b0, grid)[0]
            i = int(np.argmin(vals))
            bound, lam = float(vals[i]), float(grid[i])
        bound = min(bound, 1.0)
    per_class_emp = np.zeros(p.num_classes)
    per_class_emp[pos] = raw_j
    return PacBayesCertificate(
        bound=float(bound), empirical=raw, per_class_empirical=per_class_emp, per_class_upper=per_class_upper,
        kl=p.kl, counts=p.counts, target_prior=p.pi, method=method, requested_method=p.method,
        num_samples=n_draws, deterministic=p.deterministic, mc_term=float(corrected - raw),
        delta=p.delta, delta_split=split, lam=lam, pooled_statistic=pooled_t if per_class_upper is None else None,
        kind="test-set" if test_set else "pac-bayes", zero_one=p.zero_one)


@dataclass(frozen=True)
class PacBayesCertificate:
    """An upper bound on the target-prior risk Σ_j π_j L_j(Q) (module docstring), with its terms.

    Attributes
    ----------
    bound : float
        With probability >= 1 − δ (over the certification set and, for N > 1, the weight
        draws), L_π(Q) <= bound.
    empirical : float
        Σ_j π_j L̂_j(Q̂_N), the π-weighted empirical risk of the N draws (of the classifier).
    per_class_empirical : ndarray, shape (C,)
        L̂_j(Q̂_N) of the classes with π_j > 0 (0 for the others, which the bound does not use).
    per_class_upper : ndarray, shape (C,), or None
        U_j of the union method (None for the pooled ones).
    kl : float
        KL(Q ‖ P) in nats (0: Q = P fixed before S, a test-set bound).
    counts : ndarray of int64, shape (C,)
        m_j, certification samples per class.
    target_prior : ndarray, shape (C,)
    method, requested_method : str
        The combination used (``"auto"`` resolved) and the one asked for.
    num_samples : int
        N, weight draws (1 for a deterministic classifier).
    deterministic : bool
        Losses were 1-D: one classifier, no Monte Carlo term.
    mc_term : float
        How much the Monte Carlo correction (sample convergence bound) raised the empirical
        risk that enters the bound (π-weighted); 0 when deterministic.
    delta, delta_split : float, dict
        δ and its split: ``prior_grid_size`` (K) and ``after_prior_grid`` = δ/K, ``monte_carlo``,
        ``pac_bayes`` or ``test_set``, and ``per_class`` (union) or ``lambda_grid_size`` /
        ``per_lambda`` (pooled PAC-Bayes).
    lam : float or None
        λ of the pooled bounds.
    pooled_statistic : float or None
        The (Monte Carlo corrected) L̂_π the pooled bounds start from.
    kind : str
        "pac-bayes" or "test-set" (KL = 0).
    zero_one : bool
        Every loss was 0 or 1.
    """

    bound: float
    empirical: float
    per_class_empirical: np.ndarray = field(repr=False)
    per_class_upper: np.ndarray | None = field(repr=False)
    kl: float
    counts: np.ndarray = field(repr=False)
    target_prior: np.ndarray = field(repr=False)
    method: str
    requested_method: str
    num_samples: int
    deterministic: bool
    mc_term: float
    delta: float
    delta_split: dict = field(repr=False)
    lam: float | None = None
    pooled_statistic: float | None = None
    kind: str = "pac-bayes"
    zero_one: bool = False

    @property
    def num_classes(self) -> int:
        return int(self.counts.size)

    @property
    def non_vacuous(self) -> bool:
        """bound < 1 − 1/C, the balanced error of guessing uniformly at random."""
        return bool(self.bound < 1.0 - 1.0 / self.num_classes)

    def to_dict(self) -> dict:
        return {"bound": float(self.bound), "empirical": float(self.empirical),
                "per_class_empirical": [float(v) for v in self.per_class_empirical],
                "per_class_upper": None if self.per_class_upper is None else [float(v) for v in self.per_class_upper],
                "kl": float(self.kl), "counts": [int(v) for v in self.counts],
                "target_prior": [float(v) for v in self.target_prior], "method": self.method,
                "requested_method": self.requested_method, "num_samples": int(self.num_samples),
                "deterministic": self.deterministic, "mc_term": float(self.mc_term), "delta": float(self.delta),
                "delta_split": {k: (float(v) if isinstance(v, float) else v) for k, v in self.delta_split.items()},
                "lam": None if self.lam is None else float(self.lam),
                "pooled_statistic": None if self.pooled_statistic is None else float(self.pooled_statistic),
                "kind": self.kind, "zero_one": self.zero_one, "non_vacuous": self.non_vacuous,
                "num_classes": self.num_classes}

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.delta_split.items())
        verdict = "non-vacuous" if self.non_vacuous else "vacuous"
        return (f"certified target-prior risk <= {self.bound:.4f} with probability >= {1 - self.delta:g} "
                f"({self.kind}, {self.method}; {verdict}: guessing is {1 - 1 / self.num_classes:.3f})\n"
                f"  empirical {self.empirical:.4f} + Monte Carlo term {self.mc_term:.4f} (N = {self.num_samples}), "
                f"KL = {self.kl:.4g} nats, m_j from {int(self.counts.min())} to {int(self.counts.max())}\n"
                f"  δ split: {parts}")


# ----------------------------------------------------------------------------- public boundary
def _check_prior(target_prior: Any, c: int | None) -> np.ndarray | None:
    if isinstance(target_prior, str):
        if target_prior != "balanced":
            raise ValueError(f"target_prior must be 'balanced' or a probability vector, got {target_prior!r}")
        return None
    return check_probability_vector(target_prior, "target_prior", size=c)


def _problem(losses: Any, labels: Any, *, kl: Any, target_prior: Any, delta: Any, num_classes: Any, method: Any,
             mc_delta_fraction: Any, prior_grid_size: Any, losses_name: str = "losses",
             mc_bound: Any = "kl", mc_draws: Any = "shared", fixed_before_sample: Any = None) -> _Problem:
    arr = real_array(losses, losses_name)
    if arr is None or arr.ndim not in (1, 2):
        raise ValueError(f"{losses_name} must be a real array of shape (m,) (one classifier) or (N, m) (N weight "
                         f"draws of the posterior), got {np.asarray(losses, dtype=object).shape}")
    if arr.ndim == 2 and arr.shape[0] == 0:
        raise ValueError(f"{losses_name} has N = 0 weight draws (shape {arr.shape}); pass at least one draw")
    if arr.shape[-1] == 0:
        raise ValueError(f"{losses_name} has no certification samples (shape {arr.shape})")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise ValueError(f"{losses_name} must lie in [0, 1] (0-1 loss, or a bounded loss scaled to [0, 1], e.g. "
                         f"cross-entropy clipped at M divided by M), found values in "
                         f"[{np.nanmin(arr):g}, {np.nanmax(arr):g}]" + (" and non-finite ones"
                                                                        if not np.all(np.isfinite(arr)) else ""))
    # the shared scalar check: it refuses strings ("0.05" would parse), bools, complex and masked values
    kl_v = check_finite_scalar(kl, "kl", low=0.0)
    if fixed_before_sample is None:                # the historical reading: KL = 0 means Q = P, fixed before S
        fixed = kl_v == 0.0
    elif isinstance(fixed_before_sample, (bool, np.bool_)):
        fixed = bool(fixed_before_sample)
        if fixed and kl_v != 0.0:
            raise ValueError(f"fixed_before_sample=True is the test-set bound of a posterior fixed before the "
                             f"certification set was drawn, which needs kl = 0 (got kl = {kl_v!r}); pass "
                             "fixed_before_sample=False for a posterior chosen with the data")
    else:
        raise ValueError(f"fixed_before_sample must be True, False or None, got {fixed_before_sample!r}")
    d = check_delta(delta)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    f = check_finite_scalar(mc_delta_fraction, "mc_delta_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    k = check_positive_int(prior_grid_size, "prior_grid_size")
    if mc_bound not in MC_BOUNDS:
        raise ValueError(f"mc_bound must be one of {MC_BOUNDS}, got {mc_bound!r}")
    if mc_draws not in MC_DRAWS:
        raise ValueError(f"mc_draws must be one of {MC_DRAWS} ('per-sample' when every loss of the matrix used its "
                         f"own weight draw), got {mc_draws!r}")
    c = None if num_classes is None else check_positive_int(num_classes, "num_classes")
    pi = _check_prior(target_prior, c)
    if c is None and pi is not None:
        c = pi.size
    y = check_labels(labels, c)
    if y.size != arr.shape[-1]:
        raise ValueError(f"{losses_name} has {arr.shape[-1]} samples (last axis) but labels has {y.size}; they must "
                         "describe the same certification samples in the same order")
    if c is None:
        c = int(y.max()) + 1
    counts = np.bincount(y, minlength=c).astype(np.int64)
    if pi is None:
        pi = np.full(c, 1.0 / c)
    empty = np.flatnonzero((counts == 0) & (pi > 0))
    if empty.size:
        raise ValueError(f"labels has no sample of classes {empty.tolist()} although the target prior gives them "
                         f"weight (num_classes = {c}); every class with π_j > 0 needs samples, so check labels and "
                         "num_classes (or give those classes π_j = 0)")
    deterministic = arr.ndim == 1
    arr2 = arr.reshape(1, -1) if deterministic else arr
    zero_one = bool(np.all((arr2 == 0) | (arr2 == 1)))
    return _Problem(losses=arr2, labels=y, counts=counts, pi=pi, kl=kl_v, delta=d, method=method,
                    deterministic=deterministic, zero_one=zero_one, mc_delta_fraction=f, prior_grid_size=k,
                    mc_bound=mc_bound, mc_draws=mc_draws, fixed_before_sample=fixed)


def target_risk_certificate(losses: Any, labels: Any, *, kl: float = 0.0, target_prior: Any = "balanced",
                            delta: float = 0.05, num_classes: int | None = None, method: str = "union",
                            mc_delta_fraction: float = 0.1, prior_grid_size: int = 1,
                            mc_bound: str = "kl", mc_draws: str = "shared",
                            fixed_before_sample: bool | None = None) -> PacBayesCertificate:
    """Certified target-prior risk Σ_j π_j L_j(Q) of a posterior Q from a certification set.

    Parameters
    ----------
    losses : array_like, shape (N, m) or (m,)
        Per-sample losses in [0, 1] of N weight draws h_i ~ Q (rows) on the m certification
        samples (0-1 loss, or a bounded loss scaled to [0, 1]). A 1-D array is one deterministic
        classifier (no Monte Carlo term); with ``kl`` > 0 that classifier must itself be the
        posterior (a point mass on a countable hypothesis set, KL = ln 1/P(h)) — the posterior
        mean of a Gaussian posterior is not, and needs the draws.
    labels : array_like of int, shape (m,)
        Classes in [0, C).
    kl : float >= 0
        KL(Q ‖ P) in nats, P chosen without the certification set. 0 means Q = P: the
        certificate is then a test-set bound (module docstring).
    target_prior : "balanced" or array_like, shape (C,)
        π (C is its length when ``num_classes`` is not given).
    delta : float in (0, 1)
        Total failure probability; its split is recorded in ``delta_split``.
    num_classes : int, optional
        C (default: the prior's length, else max label + 1). Classes with π_j > 0 need samples.
    method : {"union", "pooled", "pooled-chernoff", "union-kl", "pooled-binomial", "auto"}
        How to combine the classes (module docstring).
    mc_delta_fraction : float in (0, 1)
        Share of δ (after the prior grid) given to the Monte Carlo term when N draws are given.
        Default 0.1: the Monte Carlo budget ln(1/δ_MC)/N and the PAC-Bayes budget
        ln(1/δ_PB)/m_j trade at f/(1 − f) = m_j/N, so f ≈ 0.1 suits N ≈ 10 m_j of the tail
        classes (e.g. N = 500 draws, tail m_j = 50); pass m_tail/(m_tail + N) otherwise.
    prior_grid_size : int >= 1
        K, the number of priors (e.g. prior σ values) fixed in advance that this P was chosen
        from, after looking at data: δ/K is used (union bound over the grid).
    mc_bound : {"kl", "bernstein", "best"}
        Monte Carlo bound over the N rows when ``mc_draws="shared"`` (module docstring).
    mc_draws : {"shared", "per-sample"}
        "shared": row k is one weight draw scored on every sample (N i.i.d. rows). "per-sample":
        every entry used its own independent draw, so the class-j losses are N·m_j independent
        values and the Monte Carlo term is a Chernoff bound on them (module docstring);
        ``mc_bound`` is then not used.
    fixed_before_sample : bool or None
        Whether Q was fixed before the certification set was drawn (module docstring, "KL = 0").
        True: the test-set form (λ free, no λ grid, no ln(2√m) of the per-class kl), valid
        only for such a Q and only with ``kl = 0``. False: the PAC-Bayes form for every Q at
        once, also at KL = 0, so the bound is continuous in KL (at KL = 0 it is the limit of
        KL → 0+). None (default) keeps the historical reading, True exactly when ``kl == 0``;
        pass False whenever Q was chosen using the data (a trained posterior).

    Returns
    -------
    PacBayesCertificate
    """
    p = _problem(losses, labels, kl=kl, target_prior=target_prior, delta=delta, num_classes=num_classes,
                 method=method, mc_delta_fraction=mc_delta_fraction, prior_grid_size=prior_grid_size,
                 mc_bound=mc_bound, mc_draws=mc_draws, fixed_before_sample=fixed_before_sample)
    return _certify(p)
