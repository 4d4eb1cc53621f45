"""The generalisation bounds of Sect. 3.1, term by term: Eq. 6, Eq. 7 and a target-prior bound.

Setting and what each bound bounds
----------------------------------
The training set D has n_j examples of class j (counts fixed), drawn i.i.d. within each
class from the class-conditional distribution. Losses lie in [0, M]. θ is one row of a
loss matrix (``theta_index``); the Rademacher and Q_n terms use all rows, a finite Θ̂.

* **Eq. 6** (IB, Kawaguchi & Lu 2020): with probability >= 1 − δ over D, for all θ ∈ Θ,
  E^s[ℓ] <= L^s(θ) + 2 R_n(Θ) + M sqrt(ln(1/δ)/(2n)). E^s is the risk under the
  *training* class prior n_j/n (the long-tailed distribution), since E_D L^s(θ) is.
* **Eq. 7** (App. B.1): the same risk, E^s[ℓ] <= L(θ) + 2 R_n(Θ) − Q_n + M sqrt(Σ_j
  p_j²/n_j) sqrt(ln(1/δ)/2). The proof's symmetrisation step needs E[ℓ] = E_D L^s, so
  this too bounds the long-tailed risk, *not* the balanced test error the paper reports.
* **Target prior** (beyond the paper, :func:`target_bound`): the risk under any class
  prior π, R_π(θ) = Σ_j π_j E[ℓ | y = j] (π uniform: the balanced test risk).

Two facts the numbers here always show (see ``tests/test_bounds.py``):

1. With the empirical Q̂_n over Θ̂ ∋ θ, Eq. 7 − Eq. 6 = −(Q̂_n + L^s(θ) − L(θ)) + (confidence
   difference) >= 0: Theorem 1's condition Q̂_n + L^s − L is <= 0 (``ltbound.bounds.theory``) and
   Σ p_j²/n_j >= 1/n. So, for the risk they share, Eq. 7 is never below Eq. 6.
2. The target bound with π = n_j/n *is* Eq. 6 (same objective, same weights 1/n, same
   confidence term). With π = p it has Eq. 7's objective L(θ) and confidence term but a
   weighted Rademacher term and no −Q̂_n; it bounds R_p, a different risk from Eq. 7's, so
   neither dominates the other as a number, and only the target bound speaks of R_p.

Honesty of the terms
--------------------
Each :class:`BoundTerm` says ``rigorous`` (a closed form or a value computed from the
given losses) or ``estimate``. The Rademacher term is an estimate of R_n(Θ): Eq. 5 takes
E_D and a sup over Θ, and Θ̂ was picked by training on D. −Q̂_n is an estimate (Eq. 18 is
E_D of an infimum; we have one D). So ``certificate`` is False for every result here; the
flag exists so that a caller can never mistake these totals for guarantees.

What the Rademacher term needs to become a certificate: Θ̂ fixed before D is drawn (then
R̂_D(Θ̂) is computable, and the Monte Carlo ``upper`` bounds it rigorously), and a third
concentration step from R̂_D to R_n = E_D R̂_D (McDiarmid, bounded differences M|w_i|:
2M sqrt(Σ_i w_i² ln(1/δ')/2), i.e. the textbook 3M sqrt(ln(2/δ)/(2n)) in total for Eq. 6).
``theta_fixed=True`` adds that term and labels the Rademacher term rigorous; Eq. 6 and the
target bound are then certificates *up to the assumption* that Θ̂ did not depend on D, which
the caller asserts (never true of checkpoints trained on D). Eq. 7 keeps its estimated −Q̂_n.

Union bound
-----------
``delta`` is the total failure probability. McDiarmid's inequality over D gets
(1 − mc_delta_fraction)·δ; the Monte Carlo deviation of the Rademacher sign draws gets
mc_delta_fraction·δ and is charged as its own ``monte_carlo`` term, 2·(upper − value).
Each of the three bounds of :func:`estimate_bounds` holds at level δ on its own; the three
together would need 3δ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import (check_counts, check_delta, check_finite_scalar, check_labels, check_losses, check_m,
                           check_num_classes, check_positive_int, check_probability_vector, check_random_state,
                           check_same_length, check_theta_index)
from .confidence import _ib_term, _ratio, _term
from .objectives import _sample_weights, _standard, _weighted
from .rademacher import (RademacherEstimate, _chunk_columns, _draw_variance, _draws_for_variance, _monte_carlo,
                         _MAX_AUTO_DRAWS, check_num_draws)
from .residual import MAX_BOOTSTRAP, ResidualEstimate, _q_residual
from .results import BoundReport, BoundResult, BoundTerm, _negative_estimate
from .sampling import _distribution, parse_sampler
from .theorem1 import _theorem1_condition

__all__ = ["BoundTerm", "BoundResult", "BoundReport", "ib_bound", "sampling_bound",
           "target_bound", "estimate_bounds", "check_loss_range"]

RISK_TRAINING_PRIOR = ("E^s[ℓ]: expected loss under the training (long-tailed) class prior "
                       "n_j/n, class counts fixed")

#: Rows of a memmapped loss matrix scanned at a time by check_loss_range.
_SCAN_ROWS = 64
#: Rademacher sign draws when neither num_draws nor mc_std_error is given.
DEFAULT_DRAWS = 1000


# ----------------------------------------------------------------------------- inputs

def check_loss_range(losses: Any, loss_range: float | None, empirical_range: bool = False
                     ) -> tuple[float, str]:
    """The loss range M of the bounds, checked against the losses.

    Parameters
    ----------
    losses : array_like or numpy.memmap, shape (n,) or (num_params, n)
        Per-sample losses; finite and >= 0 (a memmap is scanned in row blocks).
    loss_range : float or None
        M > 0 with every loss in [0, M]: 0-1 loss M = 1, cross-entropy clipped at a cap c
        M = c. None only with ``empirical_range=True``.
    empirical_range : bool
        With ``loss_range=None``: use M = max − min of the observed losses. The bounded
        differences of McDiarmid's inequality need M over *all* possible samples, not the
        observed ones, so such a bound is not a certificate.

    Returns
    -------
    (M, source) : (float, str)
        source is "given" or "empirical".

    Raises
    ------
    ValueError
        If a loss exceeds M (naming the largest loss and how to fix it), if M is not a
        positive finite number, if both or neither of ``loss_range`` and
        ``empirical_range`` are given, or if the observed range is 0.
    """
    if not isinstance(empirical_range, (bool, np.bool_)):
        raise ValueError(f"empirical_range must be True or False, got {empirical_range!r}")
    return _loss_range(*_loss_extremes(losses), loss_range, empirical_range)


def _loss_range(lo: float, hi: float, loss_range: Any, empirical_range: bool) -> tuple[float, str]:
    """M and its source from the extremes of checked losses (the one check of ``loss_range``)."""
    if loss_range is None:
        if not empirical_range:
            raise ValueError("loss_range must be given: M with every loss in [0, M] (0-1 loss: 1.0; "
                             "cross-entropy clipped at a cap c: c); or pass empirical_range=True "
                             "to use the observed range (then the result is not a certificate)")
        m = hi - lo
        if not m > 0:
            raise ValueError(f"losses are all equal ({hi!r}), so the empirical loss range is 0; "
                             "pass loss_range explicitly")
        return m, "empirical"
    if empirical_range:
        raise ValueError(f"loss_range={loss_range!r} and empirical_range=True both given; pass "
                         "loss_range=None to use the observed range, or empirical_range=False")
    m = check_m(loss_range)
    if hi > m:
        raise ValueError(f"losses reach {hi:.6g} but loss_range is {m:g}: the bounds need every loss in "
                         f"[0, loss_range]; clip cross-entropy at the cap (np.minimum(losses, cap)) "
                         f"or pass a larger loss_range")
    return m, "given"


def _loss_extremes(losses: Any) -> tuple[float, float]:
    """(min, max) of the losses, checking them on the way (once: callers pass them unchecked).

    A memmap is scanned in row blocks, each block checked as it is read, so it is never
    loaded whole; every later pass over it trusts this scan.
    """
    if isinstance(losses, np.memmap):
        mat = check_losses(losses)                     # shape checks only for a memmap
        mat2 = mat.reshape(1, -1) if mat.ndim == 1 else mat
        lo, hi = math.inf, -math.inf
        for r0 in range(0, mat2.shape[0], _SCAN_ROWS):
            check_losses(np.asarray(mat2[r0:r0 + _SCAN_ROWS]))
            block = np.asarray(mat2[r0:r0 + _SCAN_ROWS], dtype=np.float64)
            lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
        return lo, hi
    arr = check_losses(losses)
    return float(arr.min()), float(arr.max())


def _checked_losses(losses: Any) -> tuple[Any, float, float]:
    """(losses, min, max): an in-memory array checked once (a memmap is kept and scanned)."""
    if isinstance(losses, np.memmap):
        return losses, *_loss_extremes(losses)
    arr = check_losses(losses)
    return arr, float(arr.min()), float(arr.max())


@dataclass(frozen=True)
class _Problem:
    """Validated inputs shared by the three bounds."""
    losses: Any                 # (K, n) array or memmap
    labels: np.ndarray
    counts: np.ndarray
    loss_range: float
    source: str
    delta: float
    delta_split: dict
    theta_index: int
    num_draws: int | None       # None: chosen per Rademacher estimate from mc_std_error
    generator: np.random.Generator | None     # the caller's Generator (None: an int seed)
    seed: int | None                          # the int seed (None: a Generator)
    theta_fixed: bool = False
    mc_std_error: float | None = None

    def rng(self) -> np.random.Generator:
        """The stream of one consumer (sign draws, bootstrap): a fresh Generator from an int
        seed for each, or the caller's Generator, shared and advancing, as documented."""
        return self.generator if self.seed is None else np.random.default_rng(self.seed)

    @property
    def n(self) -> int:
        return int(self.labels.size)

    @property
    def num_params(self) -> int:
        return int(self.losses.shape[0])

    def row(self) -> np.ndarray:
        return np.asarray(self.losses[self.theta_index], dtype=np.float64)


def _problem(losses: Any, labels: Any, *, num_classes: int | None, loss_range: float | None,
             empirical_range: bool, delta: float, theta_index: int | None, num_draws: int | None, seed: Any,
             mc_delta_fraction: float, class_vectors: dict | None = None,
             theta_fixed: bool = False, mc_std_error: float | None = None) -> _Problem:
    """Validate the shared inputs. ``class_vectors`` maps argument names to the per-class
    arguments (p, π); given as arrays and without ``num_classes``, their length is C, so a
    class absent from the labels is reported as empty, and a label beyond them as such."""
    if not isinstance(empirical_range, (bool, np.bool_)):
        raise ValueError(f"empirical_range must be True or False, got {empirical_range!r}")
    losses, lo, hi = _checked_losses(losses)
    m, source = _loss_range(lo, hi, loss_range, empirical_range)
    mat = losses.reshape(1, -1) if losses.ndim == 1 else losses
    c = None if num_classes is None else check_num_classes(num_classes)
    y = check_labels(labels, c)
    check_same_length(mat, y, "losses", "labels")
    if c is None:
        c = int(y.max()) + 1
        sized = {k: len(v) for k, v in (class_vectors or {}).items()
                 if not isinstance(v, str) and np.ndim(v) == 1}
        if sized:
            name, size = max(sized.items(), key=lambda kv: kv[1])
            if c > size:
                raise ValueError(f"labels reach class {c - 1} but {name} has {size} entries: {name} needs "
                                 f"one entry per class; pass num_classes, or a longer {name}")
            c = size
    counts = check_counts(np.bincount(y, minlength=c), "class counts of labels")
    d = check_delta(delta)
    f = check_finite_scalar(mc_delta_fraction, "mc_delta_fraction", low=0.0, high=1.0,
                            low_open=True, high_open=True)
    ti = check_theta_index(theta_index, mat.shape[0])
    if num_draws is not None and mc_std_error is not None:
        raise ValueError(f"pass num_draws ({num_draws!r}) or mc_std_error ({mc_std_error!r}), not both: "
                         "mc_std_error chooses the number of sign draws")
    if num_draws is None and mc_std_error is None:
        num_draws = DEFAULT_DRAWS
    b = None if num_draws is None else check_num_draws(num_draws)
    eps = None if mc_std_error is None else check_finite_scalar(mc_std_error, "mc_std_error", low=0.0, low_open=True)
    generator, seed_value = check_random_state(seed)
    if (1.0 - f) * d == 0 or f * d == 0:
        raise ValueError(f"delta = {d!r} split by mc_delta_fraction = {f!r} gives a part that rounds to 0 "
                         "(no finite bound); use a larger delta or a fraction nearer 0.5")
    if not isinstance(theta_fixed, (bool, np.bool_)):
        raise ValueError(f"theta_fixed must be True or False, got {theta_fixed!r}")
    split = {"mcdiarmid": (1.0 - f) * d, "monte_carlo": f * d}
    if theta_fixed:
        # a third concentration (R̂_D to R_n) shares the McDiarmid part equally with Φ
        split = {"mcdiarmid": 0.5 * (1.0 - f) * d, "rademacher_concentration": 0.5 * (1.0 - f) * d,
                 "monte_carlo": f * d}
    return _Problem(losses=mat, labels=y, counts=counts, loss_range=m, source=source, delta=d,
                    delta_split=split, theta_index=ti, num_draws=b,
                    generator=None if seed_value is not None else generator, seed=seed_value,
                    theta_fixed=bool(theta_fixed), mc_std_error=eps)


def _class_weights(p: Any, counts: np.ndarray, name: str = "p") -> tuple[np.ndarray, str]:
    """p as an array, from an array, a sampler name ('IB', 'CB', 'CR', 'SQRT') or a real q (Eq. 1)."""
    if isinstance(p, str):
        q, canonical = parse_sampler(p, name)
        label = f"q = {q:g}" if canonical.startswith("q=") else f"{canonical} (q = {q:g})"
        return _distribution(counts, q), label
    if isinstance(p, (bool, np.bool_)):
        raise ValueError(f"{name} must be a probability vector, a sampler name or a real q, got {p!r}")
    if np.ndim(p) == 0:
        try:
            q = check_finite_scalar(p, name)
        except ValueError:
            raise ValueError(f"{name} as a number is the exponent q of Eq. 1 and must be a finite real, "
                             f"got {p!r}") from None
        return _distribution(counts, q), f"q = {q:g}"
    pv = check_probability_vector(p, name, size=counts.size)
    return pv, "given p"


# ----------------------------------------------------------------------------- terms

def _rademacher(prob: _Problem, weights: np.ndarray | None) -> RademacherEstimate:
    # The losses were checked (a memmap scanned) by _problem: the core does not check again.
    w_abs = np.full(prob.n, 1.0 / prob.n) if weights is None else np.abs(weights)
    b = prob.num_draws
    if b is None:
        # mc_std_error is the wanted error of the term 2·R̂, so R̂ itself needs half of it; never
        # fewer draws than the default, which keeps the rigorous Monte Carlo term and the
        # standard error's own estimate steady where very few draws would meet the error.
        v = _draw_variance(prob.losses, w_abs, False)
        need = _draws_for_variance(v, prob.mc_std_error / 2.0)
        if need is None:
            raise ValueError(f"mc_std_error = {prob.mc_std_error:g} (of 2·R̂) would need "
                             f"{v / (prob.mc_std_error / 2.0) ** 2:.3g} sign draws for these losses (more than "
                             f"{_MAX_AUTO_DRAWS:,}); ask for a larger mc_std_error, or pass num_draws")
        b = max(DEFAULT_DRAWS, need)
    return _monte_carlo(prob.losses, w_abs, b, prob.rng(), prob.seed,
                        prob.delta_split["monte_carlo"], _chunk_columns(prob.losses, None), False)


def _rademacher_terms(rad: RademacherEstimate, eq: str, symbol: str, what: str,
                      prob: _Problem | None = None, sum_w2: float = 0.0) -> list[BoundTerm]:
    """2·R̂ and its Monte Carlo deviation; with ``prob.theta_fixed`` also the step from R̂_D to R_n.

    Θ̂ fixed before D: R̂_D(Θ̂) = E_ξ max_θ Σ_i w_i ξ_i L_i(θ) moves by at most M |w_i| when
    example i is replaced, so by McDiarmid R_n(Θ̂) = E_D R̂_D <= R̂_D + M sqrt(Σ_i w_i² ln(1/δ')/2)
    with probability >= 1 − δ' (``sum_w2`` = Σ_i w_i²: 1/n for Eq. 6/7, Σ_j π_j²/n_j for the
    target bound). Twice that is the ``concentration`` term; with w = 1/n and the δ split
    in halves it gives the textbook 3M sqrt(ln(2/δ)/(2n)) together with Eq. 6's own term.
    """
    fixed = prob is not None and prob.theta_fixed
    rad_note = (f"Monte Carlo mean over {rad.num_draws} sign draws of max over the {rad.num_params} "
                f"rows of Θ̂ of {what}; " + (
                    "with the monte_carlo term a rigorous upper bound on 2 R̂_D(Θ̂) — rigorous only if Θ̂ "
                    "was fixed before D was drawn (theta_fixed=True is the caller's assertion)" if fixed else
                    "an estimate of R_n(Θ), which takes E_D and sup over Θ (Eq. 5)"))
    if rad.value < 0:
        rad_note += (f"; below 0 by Monte Carlo error ({_negative_estimate(rad)}): the exact value is >= 0, "
                     f"the mean of {rad.num_draws} draws is unbiased and can fall below it, and the total "
                     f"uses value + monte_carlo = {symbol}⁺, which does not depend on that sign")
    terms = [
        BoundTerm("rademacher", f"2·{symbol}", 2.0 * rad.value, "rigorous" if fixed else "estimate", eq,
                  2.0 * rad.std_error, rad_note),
        BoundTerm("monte_carlo", f"2·({symbol}⁺ − {symbol})", 2.0 * (rad.upper - rad.value), "rigorous", eq,
                  None, f"Monte Carlo deviation: with probability >= 1 − {rad.delta:g} over the sign draws "
                  f"(rigorous in the draws) the mean plus this bounds E_ξ of the maximum on Θ̂"),
    ]
    if fixed:
        d_rc = prob.delta_split["rademacher_concentration"]
        terms.append(BoundTerm(
            "concentration", "2M·sqrt(Σw²·ln(1/δ)/2)",
            2.0 * prob.loss_range * math.sqrt(sum_w2 * math.log(1.0 / d_rc) / 2.0), "rigorous", eq, None,
            f"McDiarmid from R̂_D(Θ̂) to R_n(Θ̂) = E_D R̂_D at δ = {d_rc:g} (bounded differences M|w_i|); "
            "valid only if Θ̂ was fixed before D"))
    return terms


def _result(name: str, eq: str, risk: str, terms: list[BoundTerm], prob: _Problem, *,
            rad: RademacherEstimate, p: np.ndarray | None = None, target: np.ndarray | None = None,
            residual: ResidualEstimate | None = None, condition: float | None = None) -> BoundResult:
    total = float(math.fsum(t.value for t in terms))
    certificate = all(t.kind == "rigorous" for t in terms) and prob.source == "given"
    if prob.theta_fixed:
        name += " [rigorous up to: Θ̂ fixed before D]"
    return BoundResult(name=name, equation=eq, risk=risk, terms=tuple(terms), total=total,
                       certificate=certificate, n=prob.n, counts=prob.counts.copy(), p=p,
                       target_prior=target, loss_range=prob.loss_range, loss_range_source=prob.source,
                       delta=prob.delta, delta_split=dict(prob.delta_split),
                       theta_index=prob.theta_index, num_params=prob.num_params, rademacher=rad,
                       residual=residual, condition=condition)


def _m_note(prob: _Problem) -> str:
    if prob.source == "empirical":
        return f"; M = {prob.loss_range:g} is the observed range of the losses, so not a certificate"
    return f"; M = {prob.loss_range:g} given"


def _ib(prob: _Problem, rad: RademacherEstimate) -> BoundResult:
    d_mcd = prob.delta_split["mcdiarmid"]
    objective = float(_standard(prob.row()))                               # Eq. 3, R(θ) = 0
    terms = [
        BoundTerm("objective", "L^s(θ)", objective, "rigorous", "Eq. 3",
                  None, "mean training loss of θ (the IB objective, regulariser excluded)"),
        *_rademacher_terms(rad, "Eq. 6", "R̂_n(Θ̂)", "(1/n) Σ_i ξ_i L_i(θ)", prob, 1.0 / prob.n),
        BoundTerm("confidence", "M·sqrt(ln(1/δ)/(2n))",
                  _ib_term(prob.n, prob.loss_range, d_mcd), "rigorous", "Eq. 6", None,
                  f"McDiarmid over D at δ = {d_mcd:g}, bounded differences M/n" + _m_note(prob)),
    ]
    return _result("IB bound", "Eq. 6", RISK_TRAINING_PRIOR, terms, prob, rad=rad)


def _sampling(prob: _Problem, rad: RademacherEstimate, pv: np.ndarray, label: str,
              num_bootstrap: int) -> BoundResult:
    d_mcd = prob.delta_split["mcdiarmid"]
    objective = float(_weighted(prob.row(), _sample_weights(prob.labels, pv, prob.counts)))  # Eq. 4, R = 0
    res = _q_residual(np.asarray(prob.losses).astype(np.float64, copy=False), prob.labels, pv, prob.counts,
                      num_bootstrap, prob.rng(), 0.95)
    err = None if res.ci_low is None else 0.5 * (res.ci_high - res.ci_low)
    # Theorem 1's condition from the same per-row g that gave Q̂_n, so its sign is exact.
    condition = float(_theorem1_condition(res.per_param, prob.theta_index))
    terms = [
        BoundTerm("objective", "L(θ)", objective, "rigorous", "Eq. 4", None,
                  f"class-weighted training loss of θ, weights p_j/n_j with p = {label}"),
        *_rademacher_terms(rad, "Eq. 7", "R̂_n(Θ̂)", "(1/n) Σ_i ξ_i L_i(θ)", prob, 1.0 / prob.n),
        BoundTerm("residual", "−Q̂_n", -res.value, "estimate", "Eq. 18", err,
                  f"minus the min over the {prob.num_params} rows of Σ_j Σ_i (p_j/n_j − 1/n) L_ji; "
                  "Eq. 18 takes E_D of an infimum over Θ, one D gives an estimate"
                  + ("" if err is None else f" (error: half-width of a {res.level:g} within-class bootstrap interval)")),
        BoundTerm("confidence", "M·sqrt(Σp²/n)·sqrt(ln(1/δ)/2)",
                  _term(prob.counts, pv, prob.loss_range, d_mcd), "rigorous", "Eq. 7", None,
                  f"McDiarmid over D at δ = {d_mcd:g}, bounded differences p_j M/n_j (Eq. 15, 16)"
                  + _m_note(prob)),
    ]
    return _result(f"class-sampling bound (p = {label})", "Eq. 7", RISK_TRAINING_PRIOR, terms, prob, rad=rad,
                   p=pv.copy(), residual=res, condition=condition)


def _target(prob: _Problem, rad: RademacherEstimate, pi: np.ndarray, label: str) -> BoundResult:
    d_mcd = prob.delta_split["mcdiarmid"]
    objective = float(_weighted(prob.row(), _sample_weights(prob.labels, pi, prob.counts)))  # L_π: Eq. 4, p = π
    terms = [
        BoundTerm("objective", "L_π(θ)", objective, "rigorous", "target prior", None,
                  f"training loss of θ reweighted to the target prior ({label}): Σ_j π_j/n_j Σ_i L_ji"),
        *_rademacher_terms(rad, "target prior", "R̂_w(Θ̂)", "Σ_i ξ_i (π_j/n_j) L_i(θ)", prob,
                           float(np.sum(pi ** 2 / prob.counts))),
        BoundTerm("confidence", "M·sqrt(Σπ²/n)·sqrt(ln(1/δ)/2)",
                  _term(prob.counts, pi, prob.loss_range, d_mcd), "rigorous", "target prior",
                  None, f"McDiarmid over D at δ = {d_mcd:g}, bounded differences π_j M/n_j" + _m_note(prob)),
    ]
    risk = (f"R_π(θ) = Σ_j π_j E[ℓ | y = j], the risk under the target class prior ({label})")
    return _result(f"target-prior bound ({label})", "target prior", risk, terms, prob, rad=rad,
                   target=pi.copy())


def _target_prior(target_prior: Any, counts: np.ndarray) -> tuple[np.ndarray, str]:
    if isinstance(target_prior, str):
        if target_prior.strip().lower() != "balanced":
            raise ValueError(f"target_prior must be 'balanced' or a probability vector over the "
                             f"{counts.size} classes, got {target_prior!r}")
        return np.full(counts.size, 1.0 / counts.size), "balanced: π_j = 1/C"
    return check_probability_vector(target_prior, "target_prior", size=counts.size), "given π"


def _num_bootstrap(num_bootstrap: Any) -> int:
    return check_positive_int(num_bootstrap, "num_bootstrap", minimum=0, maximum=MAX_BOOTSTRAP,
                              why=" (each replicate is a pass over the losses)")


# ----------------------------------------------------------------------------- public

def ib_bound(losses: Any, labels: Any, *, num_classes: int | None = None,
             loss_range: float | None = None, empirical_range: bool = False, delta: float = 0.05,
             theta_index: int | None = None, num_draws: int | None = None, seed: int | np.random.Generator = 0,
             mc_delta_fraction: float = 0.5, theta_fixed: bool = False,
             mc_std_error: float | None = None) -> BoundResult:
    """The IB bound of Eq. 6 at θ, term by term.

    E^s[ℓ(f_θ(x), y)] <= L^s(θ) + 2 R_n(Θ) + M sqrt(ln(1/δ)/(2n))        (Eq. 6)

    Parameters
    ----------
    losses : array_like or numpy.memmap, shape (num_params, n) or (n,)
        Per-sample training losses, one row per θ in a finite Θ̂, in [0, M].
    labels : array_like of int, shape (n,)
        Classes in [0, C); every class present.
    num_classes : int, optional
        C; default max(labels) + 1.
    loss_range : float, optional
        M (required unless ``empirical_range=True``); see :func:`check_loss_range`.
    empirical_range : bool
        Use M = max − min of the observed losses (``loss_range=None``); not a certificate.
    delta : float
        Total failure probability in (0, 1), split by ``mc_delta_fraction``.
    theta_index : int, optional
        Row of ``losses`` that is the model θ (negative counts from the end). Required when
        ``losses`` has more than one row: the library has no default model row, since
        :func:`ltbound.train.loss_matrices.theta.perturbation_loss_matrix` puts the model in row 0 and a
        run's checkpoints put the final model last. ``None`` with one row means that row.
    num_draws : int, optional
        Rademacher sign draws (Monte Carlo, Eq. 5), at most 10^7; default 1000
        (:data:`DEFAULT_DRAWS`) unless ``mc_std_error`` is given.
    mc_std_error : float, optional
        The wanted Monte Carlo standard error of the term 2·R̂ (loss units): each Rademacher
        estimate then takes the number of sign draws that guarantees it for its loss matrix
        and weights, and at least :data:`DEFAULT_DRAWS` (:func:`ltbound.bounds.rademacher.draws_for_std_error`;
        the rigorous Monte Carlo term is then at most about 2.7 times it at δ_MC = 0.025).
        Not with ``num_draws``.
    seed : int or numpy.random.Generator
        Seed of the sign draws; same seed, same numbers.
    mc_delta_fraction : float
        Share of δ charged to the Monte Carlo deviation, in (0, 1).
    theta_fixed : bool, default False
        Assert that Θ̂ (the rows of ``losses``) was fixed before D was drawn. Then the
        Rademacher term is R̂_D(Θ̂) exactly (up to its rigorous Monte Carlo deviation) and a
        third McDiarmid term 2M sqrt(Σ_i w_i² ln(1/δ')/2) carries it to R_n(Θ̂), with the
        McDiarmid share of δ halved between Φ and this step: the result is rigorous up to
        that assumption (its name says so). False for checkpoints picked by training on D.

    Returns
    -------
    BoundResult
        Terms objective (rigorous), rademacher (estimate), monte_carlo (rigorous in the sign
        draws), confidence (rigorous). Bounds the risk under the training class prior n_j/n.
    """
    prob = _problem(losses, labels, num_classes=num_classes, loss_range=loss_range,
                    empirical_range=empirical_range, delta=delta, theta_index=theta_index,
                    num_draws=num_draws, seed=seed, mc_delta_fraction=mc_delta_fraction, theta_fixed=theta_fixed,
                    mc_std_error=mc_std_error)
    return _ib(prob, _rademacher(prob, None))


def sampling_bound(losses: Any, labels: Any, p: Any, *, num_classes: int | None = None,
                   loss_range: float | None = None, empirical_range: bool = False,
                   delta: float = 0.05, theta_index: int | None = None, num_draws: int | None = None,
                   seed: int | np.random.Generator = 0, mc_delta_fraction: float = 0.5, theta_fixed: bool = False,
                   num_bootstrap: int = 0, mc_std_error: float | None = None) -> BoundResult:
    """The class-sampling bound of Eq. 7 at θ, term by term.

    E[ℓ(f_θ(x), y)] <= L(θ) + 2 R_n(Θ) − Q_n(Θ; p, n) + M sqrt(Σ_j p_j²/n_j) sqrt(ln(1/δ)/2)   (Eq. 7)

    The risk on the left is the same as in Eq. 6, the long-tailed one (App. B.1's
    symmetrisation uses E[ℓ] = E_D L^s). Q_n is replaced by the plug-in Q̂_n over the rows
    (:func:`ltbound.bounds.residual.q_residual`), an estimate.

    Parameters
    ----------
    p : array_like, shape (C,), or str, or float
        Class weights: a probability vector, a sampler name ('IB', 'SQRT', 'CB', 'CR') or
        the exponent q of Eq. 1.
    num_bootstrap : int
        Within-class bootstrap replicates for the error of −Q̂_n (0: none; at most 10^7).
    Other parameters
        As :func:`ib_bound`.

    Returns
    -------
    BoundResult
        Terms objective, rademacher, monte_carlo, residual (estimate), confidence;
        ``condition`` = Q̂_n + L^s(θ) − L(θ) (Theorem 1), always <= 0.
    """
    prob = _problem(losses, labels, num_classes=num_classes, loss_range=loss_range,
                    empirical_range=empirical_range, delta=delta, theta_index=theta_index,
                    num_draws=num_draws, seed=seed, mc_delta_fraction=mc_delta_fraction, theta_fixed=theta_fixed,
                    mc_std_error=mc_std_error,
                    class_vectors={"p": p})
    pv, label = _class_weights(p, prob.counts)
    return _sampling(prob, _rademacher(prob, None), pv, label, _num_bootstrap(num_bootstrap))


def target_bound(losses: Any, labels: Any, target_prior: Any = "balanced", *,
                 num_classes: int | None = None, loss_range: float | None = None,
                 empirical_range: bool = False, delta: float = 0.05, theta_index: int | None = None,
                 num_draws: int | None = None, seed: int | np.random.Generator = 0,
                 mc_delta_fraction: float = 0.5, theta_fixed: bool = False,
                 mc_std_error: float | None = None) -> BoundResult:
    """Bound on the risk under a target class prior π (π uniform: the balanced test risk).

    With probability >= 1 − δ over D, for all θ ∈ Θ,

        R_π(θ) <= L_π(θ) + 2 R_w(Θ) + M sqrt(Σ_j π_j²/n_j) sqrt(ln(1/δ)/2),

    L_π(θ) = Σ_j (π_j/n_j) Σ_i L_ji(θ),  R_w(Θ) = E_{D,ξ} sup_θ Σ_i ξ_i w_i L_i(θ),  w_i = π_{y_i}/n_{y_i}.

    Derivation (beyond the paper; the same steps as App. B.1 with the weights w):

    1. Setting: the class counts n_j are fixed and the n_j examples of class j are i.i.d.
       from the class conditional P(x | y = j); R_π(θ) = Σ_j π_j E[ℓ | y = j]. Then
       E_D L_π(θ) = Σ_j π_j/n_j · n_j E[ℓ | y = j] = R_π(θ) for every fixed θ.
    2. Φ(D) = sup_θ R_π(θ) − L_π(θ). Replacing one example of class j changes L_π(θ) by at
       most π_j M/n_j for every θ, hence Φ by at most that. McDiarmid: with probability
       >= 1 − δ, Φ(D) <= E Φ + sqrt(Σ_j n_j (π_j M/n_j)² ln(1/δ)/2) = E Φ + M sqrt(Σ_j
       π_j²/n_j) sqrt(ln(1/δ)/2).
    3. Symmetrisation with a ghost sample D' of the same class structure: E Φ = E sup_θ
       E_{D'}[L_π(θ; D')] − L_π(θ; D) <= E sup_θ Σ_i w_i (ℓ(x'_i) − ℓ(x_i)); x_i and x'_i
       have the same distribution, so inserting ξ_i changes nothing and E Φ <= 2 R_w(Θ).

    With π = n_j/n this is Eq. 6 exactly. Eq. 6 and Eq. 7 bound R_{n/n}, the long-tailed
    risk; for the balanced test risk the paper reports, this bound (π uniform) is the one
    that applies. Here R_w is estimated by Monte Carlo over a finite Θ̂ (an estimate).

    Parameters
    ----------
    target_prior : 'balanced' or array_like, shape (C,)
        π: 'balanced' (π_j = 1/C) or a probability vector.
    Other parameters
        As :func:`ib_bound`.

    Returns
    -------
    BoundResult
        Terms objective (rigorous), rademacher (estimate, weighted), monte_carlo,
        confidence (rigorous); ``target_prior`` holds π.
    """
    prob = _problem(losses, labels, num_classes=num_classes, loss_range=loss_range,
                    empirical_range=empirical_range, delta=delta, theta_index=theta_index,
                    num_draws=num_draws, seed=seed, mc_delta_fraction=mc_delta_fraction, theta_fixed=theta_fixed,
                    mc_std_error=mc_std_error,
                    class_vectors={"target_prior": target_prior})
    pi, label = _target_prior(target_prior, prob.counts)
    return _target(prob, _rademacher(prob, (pi / prob.counts)[prob.labels]), pi, label)


def estimate_bounds(losses: Any, labels: Any, p: Any, *, target: Any = "balanced",
                    delta: float = 0.05, loss_range: float | None = 1.0,
                    num_classes: int | None = None, theta_index: int | None = None, num_draws: int | None = None,
                    seed: int | np.random.Generator = 0, num_bootstrap: int = 0,
                    empirical_range: bool = False, mc_delta_fraction: float = 0.5,
                    theta_fixed: bool = False, mc_std_error: float | None = None) -> BoundReport:
    """Eq. 6, Eq. 7 (with p) and the target-prior bound at θ, from one loss matrix.

    Parameters
    ----------
    losses : array_like or numpy.memmap, shape (num_params, n) or (n,)
        Per-sample training losses in [0, M], one row per θ in Θ̂.
    labels : array_like of int, shape (n,)
    p : array_like, shape (C,), or str, or float
        Class weights of Eq. 7: a probability vector, a sampler name ('IB', 'CB', 'CR',
        'SQRT') or the exponent q of Eq. 1.
    target : 'balanced' or array_like, shape (C,)
        π of the target-prior bound.
    delta : float
        Failure probability of *each* bound (total, split by ``mc_delta_fraction``).
    loss_range : float or None
        M, default 1.0 (0-1 loss). To use the observed range pass ``loss_range=None,
        empirical_range=True``.
    num_classes, theta_index, num_draws, seed, num_bootstrap, empirical_range, mc_delta_fraction, theta_fixed, mc_std_error
        As in :func:`ib_bound` and :func:`sampling_bound`.

    Returns
    -------
    BoundReport
        The unweighted Rademacher estimate is computed once and shared by Eq. 6 and Eq. 7,
        so with p = IB the two totals are equal. A numpy Generator as ``seed`` feeds the
        sign draws and the bootstrap in sequence (reproducible from its state).
    """
    prob = _problem(losses, labels, num_classes=num_classes, loss_range=loss_range,
                    empirical_range=empirical_range, delta=delta, theta_index=theta_index,
                    num_draws=num_draws, seed=seed, mc_delta_fraction=mc_delta_fraction, theta_fixed=theta_fixed,
                    mc_std_error=mc_std_error,
                    class_vectors={"p": p, "target_prior": target})
    pv, label = _class_weights(p, prob.counts)
    pi, pi_label = _target_prior(target, prob.counts)
    nb = _num_bootstrap(num_bootstrap)
    rad = _rademacher(prob, None)
    ib = _ib(prob, rad)
    sampling = _sampling(prob, rad, pv, label, nb)
    tgt = _target(prob, _rademacher(prob, (pi / prob.counts)[prob.labels]), pi, pi_label)
    return BoundReport(ib=ib, sampling=sampling, target=tgt, condition=float(sampling.condition),
                       confidence_ratio=_ratio(prob.counts, pv))
