"""A synthetic long-tailed problem with known risks, to measure how often the bounds hold.

The bounds of Sect. 3.1 are statements over the draw of the training set D: with
probability >= 1 − δ, a risk is below a computable expression. On real data the risk is
unknown and D is drawn once, so the statement cannot be checked. Here both are available:

* **Data.** C classes with Gaussian class conditionals N(μ_j, I_d) in R^d. The means are
  vertices of a scaled simplex, μ_j = (s/√2) e_j, so every pair of classes is at distance
  ``separation`` = s. D has exactly n_j samples of class j, with the long-tailed counts of
  :func:`ltbound.bounds.sampling.long_tailed_counts` (fixed counts, i.i.d. within each class: the
  setting of Eq. 14-16 and of CIFAR-LT).
* **Hypotheses.** A finite bank Θ of K linear rules f_θ(x) = argmax_j (w_θj·x + b_θj), fixed
  *before* any data is drawn (it depends only on the true means and the known counts), so a
  finite-class Rademacher bound over Θ is legitimate. Rule θ uses perturbed means w_θj and
  logit-adjusted biases b_θj = −||w_θj||²/2 + τ_θ log(n_j/n): τ = 0 is the nearest-mean
  (balanced-Bayes) rule, τ = 1 the Bayes rule of the long-tailed prior.
* **Losses** in [0, M] with M = 1: the zero-one loss 1[margin <= 0] or the ramp loss
  clip(1 − margin/γ, 0, 1), where margin = s_y(x) − max_{k≠y} s_k(x). A tie counts as an error.
* **True risks.** The per-class risk R_j(θ) = E[ℓ | y = j] of every rule, by Monte Carlo
  on ``num_risk_samples`` fresh points per class (common to all rules), computed once and
  stored with its standard error. The risk under a class prior π is Σ_j π_j R_j(θ).

:func:`ltbound.simulation.coverage.run_coverage` redraws D many times and, for each bound, counts the draws where the
bound is above the true risk. Three risks are compared against every bound:

* ``lt``: the long-tailed risk, prior n_j/n (E^s of Eq. 6; what Eq. 6 and, by its proof,
  Eq. 7 bound — see :mod:`ltbound.bounds.estimate`);
* ``balanced``: prior 1/C (the balanced test error the paper reports; what the target-prior
  bound with π uniform bounds);
* ``sampler``: the sampler's own prior p (what E_D L(θ) of Eq. 4 estimates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import (check_counts, check_finite_scalar, check_num_classes, check_positive_int,
                           check_probability_vector, check_random_state, check_seed)
from ..bounds.sampling import _long_tailed_counts

__all__ = ["SimProblem", "make_problem", "PRESETS", "problem_from_rules", "draw_training_set",
           "training_set_rng", "LOSSES", "draw_test_set"]

#: Losses the simulator knows; both lie in [0, 1], so M = 1.
LOSSES = ("zero-one", "ramp")
RISKS = ("lt", "balanced", "sampler")

#: Theorem 1's condition counts as holding when it exceeds this (loss units): with IB p the
#: terms are 0 up to rounding (p_j = n_j/n is computed in floating point).
_CONDITION_TOL = 1e-12

#: Points per chunk when evaluating the rules (bounds memory at chunk · K · C floats).
_CHUNK_POINTS = 4096


# ----------------------------------------------------------------------------- problem
@dataclass(frozen=True)
class SimProblem:
    """A synthetic long-tailed classification problem with a fixed finite Θ and known risks.

    Attributes
    ----------
    means : ndarray, shape (C, d)
        Class means μ_j; class conditionals are N(μ_j, I_d).
    counts : ndarray of int64, shape (C,)
        n_j, the training samples of class j in every draw of D.
    weights : ndarray, shape (K, C, d)
        Rule θ scores class j as weights[θ, j]·x + biases[θ, j].
    biases : ndarray, shape (K, C)
    taus : ndarray, shape (K,)
        Logit-adjustment strength of each rule (NaN for rules given by hand).
    loss : str
        "zero-one" or "ramp".
    margin : float
        γ of the ramp loss (unused for zero-one).
    loss_range : float
        M = 1: every loss lies in [0, 1].
    class_risks : ndarray, shape (K, C)
        R_j(θ) = E[ℓ(f_θ(x), j) | y = j], Monte Carlo.
    class_risk_se : ndarray, shape (K, C)
        Standard error of each entry of ``class_risks`` (0 where the loss is constant).
    num_risk_samples : int
        Monte Carlo points per class behind ``class_risks``.
    seed : int or None
        Seed of the rule bank and of the risk Monte Carlo.
    """

    means: np.ndarray = field(repr=False)
    counts: np.ndarray
    weights: np.ndarray = field(repr=False)
    biases: np.ndarray = field(repr=False)
    taus: np.ndarray = field(repr=False)
    loss: str
    margin: float
    loss_range: float
    class_risks: np.ndarray = field(repr=False)
    class_risk_se: np.ndarray = field(repr=False)
    num_risk_samples: int
    seed: int | None

    @property
    def num_classes(self) -> int:
        return int(self.counts.size)

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    @property
    def num_hypotheses(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def lt_prior(self) -> np.ndarray:
        """n_j / n, the class prior of D (and of E^s in Eq. 6)."""
        return self.counts / self.counts.sum()

    def _prior(self, prior: Any) -> np.ndarray:
        if isinstance(prior, str):
            key = prior.strip().lower()
            if key == "lt":
                return self.lt_prior
            if key == "balanced":
                return np.full(self.num_classes, 1.0 / self.num_classes)
            raise ValueError(f"prior must be 'lt', 'balanced' or a probability vector, got {prior!r}")
        return check_probability_vector(prior, "prior", size=self.num_classes)

    def risk(self, prior: Any = "lt") -> np.ndarray:
        """True risk Σ_j π_j R_j(θ) of every rule, shape (K,); prior 'lt', 'balanced' or π (C,)."""
        return self.class_risks @ self._prior(prior)

    def risk_se(self, prior: Any = "lt") -> np.ndarray:
        """Monte Carlo standard error of :meth:`risk`, sqrt(Σ_j π_j² se_j²), shape (K,).

        The classes use independent points, so their errors add in quadrature.
        """
        return np.sqrt((self.class_risk_se ** 2) @ self._prior(prior) ** 2)

    def to_dict(self) -> dict:
        """JSON-safe summary (the per-class risks included, the rule parameters not)."""
        return {"num_classes": self.num_classes, "dim": self.dim, "n": self.n,
                "counts": self.counts.tolist(), "num_hypotheses": self.num_hypotheses,
                "loss": self.loss, "margin": float(self.margin), "loss_range": float(self.loss_range),
                "taus": [None if math.isnan(t) else float(t) for t in self.taus],
                "class_risks": self.class_risks.tolist(), "class_risk_se": self.class_risk_se.tolist(),
                "max_class_risk_se": float(self.class_risk_se.max()),
                "num_risk_samples": int(self.num_risk_samples), "seed": self.seed}


def _check_loss(loss: Any, margin: Any) -> tuple[str, float]:
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return loss, check_finite_scalar(margin, "margin", low=0.0, low_open=True)


def _losses_of(weights: np.ndarray, biases: np.ndarray, x: np.ndarray, y: np.ndarray,
               loss: str, margin: float) -> np.ndarray:
    """ℓ(f_θ(x_i), y_i) for every rule θ and point i, shape (K, m).

    For the points of class j, margin_θ(x) = min_{k≠j} (w_θj − w_θk)·x + (b_θj − b_θk): one
    matrix product with the (d, (C−1)·K) rival differences, then a running minimum over the
    C − 1 rivals. Points are taken in chunks, which bounds memory at chunk · K · C floats.
    """
    k, c, d = weights.shape
    out = np.empty((k, x.shape[0]))
    for j in np.unique(y):
        idx = np.flatnonzero(y == j)
        others = np.delete(np.arange(c), j)
        # Rival-major layout, so that each rival's K columns are contiguous.
        diff_w = (weights[:, j:j + 1, :] - weights[:, others, :]).transpose(1, 0, 2).reshape(-1, d).T
        diff_b = (biases[:, j:j + 1] - biases[:, others]).T.reshape(-1)
        for s in range(0, idx.size, _CHUNK_POINTS):
            rows = idx[s:s + _CHUNK_POINTS]
            if c == 1:
                gap = np.full((rows.size, k), np.inf)
            else:
                g = (x[rows] @ diff_w).reshape(rows.size, c - 1, k)
                g += diff_b.reshape(c - 1, k)
                gap = g[:, 0].copy()
                for t in range(1, c - 1):
                    np.minimum(gap, g[:, t], out=gap)          # margin = s_y − max_{k≠y} s_k
            if loss == "zero-one":
                vals = (gap <= 0).astype(np.float64)           # a tie is an error
            else:
                vals = np.clip(1.0 - gap / margin, 0.0, 1.0)   # ramp loss, in [0, 1]
            out[:, rows] = vals.T
    return out


def problem_from_rules(means: Any, counts: Any, weights: Any, biases: Any, *, loss: str = "zero-one",
                       margin: float = 1.0, num_risk_samples: int = 200_000, seed: int = 0,
                       taus: Any = None) -> SimProblem:
    """A problem from explicit class means and linear rules; the true risks are computed here.

    Parameters
    ----------
    means : array_like, shape (C, d)
        Class means; class conditionals are N(μ_j, I_d).
    counts : array_like of int, shape (C,)
        Training samples per class, n_j >= 1.
    weights : array_like, shape (K, C, d)
    biases : array_like, shape (K, C)
        Rule θ predicts argmax_j weights[θ, j]·x + biases[θ, j].
    loss : {"zero-one", "ramp"}
    margin : float
        γ > 0 of the ramp loss.
    num_risk_samples : int
        Monte Carlo points per class for the true risks (common to all rules).
    seed : int
        Seed of the risk Monte Carlo.
    taus : array_like, shape (K,), optional
        Logit-adjustment strengths, for the record only.

    Returns
    -------
    SimProblem
    """
    mu = np.asarray(means, dtype=np.float64)
    if mu.ndim != 2 or mu.size == 0 or not np.all(np.isfinite(mu)):
        raise ValueError(f"means must be a finite (C, d) array, got shape {mu.shape}")
    c, d = mu.shape
    n_j = check_counts(counts)
    if n_j.size != c:
        raise ValueError(f"counts must have one entry per class ({c} = rows of means), got {n_j.size}")
    w = np.asarray(weights, dtype=np.float64)
    b = np.asarray(biases, dtype=np.float64)
    if w.ndim != 3 or w.shape[1:] != (c, d) or w.shape[0] == 0:
        raise ValueError(f"weights must have shape (K, {c}, {d}), got {w.shape}")
    if b.shape != w.shape[:2]:
        raise ValueError(f"biases must have shape ({w.shape[0]}, {c}), got {b.shape}")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
        raise ValueError("weights and biases must be finite")
    lname, gamma = _check_loss(loss, margin)
    m = check_positive_int(num_risk_samples, "num_risk_samples", minimum=2)
    s = check_seed(seed)
    t = np.full(w.shape[0], np.nan) if taus is None else np.asarray(taus, dtype=np.float64)
    if t.shape != (w.shape[0],):
        raise ValueError(f"taus must have one entry per rule ({w.shape[0]}), got shape {t.shape}")
    return _problem_from_rules(mu, n_j, w, b, lname, gamma, m, s, t)


def _problem_from_rules(mu: np.ndarray, n_j: np.ndarray, w: np.ndarray, b: np.ndarray, lname: str,
                        gamma: float, m: int, s: int, t: np.ndarray) -> SimProblem:
    """Core of :func:`problem_from_rules`: checked means (C, d), counts, rules, loss, seed."""
    c, d = mu.shape

    # Each class gets its own child stream, so a class's risks do not depend on C's order.
    rngs = [np.random.default_rng(ss) for ss in np.random.SeedSequence([s, 1]).spawn(c)]
    risks = np.empty((w.shape[0], c))
    se = np.empty((w.shape[0], c))
    for j in range(c):
        total = np.zeros(w.shape[0])
        total_sq = np.zeros(w.shape[0])
        for start in range(0, m, 16 * _CHUNK_POINTS):
            size = min(16 * _CHUNK_POINTS, m - start)
            x = mu[j] + rngs[j].standard_normal((size, d))
            vals = _losses_of(w, b, x, np.full(size, j), lname, gamma)
            total += vals.sum(axis=1)
            total_sq += (vals ** 2).sum(axis=1)
        mean = total / m
        var = np.maximum(total_sq / m - mean ** 2, 0.0) * m / (m - 1)
        risks[:, j] = mean
        se[:, j] = np.sqrt(var / m)
    return SimProblem(means=mu, counts=n_j, weights=w, biases=b, taus=t, loss=lname, margin=gamma,
                      loss_range=1.0, class_risks=risks, class_risk_se=se, num_risk_samples=m, seed=s)


def make_problem(num_classes: int = 10, dim: int | None = None, n_max: int = 500,
                 imbalance: float = 20.0, separation: float = 3.0, num_hypotheses: int = 40,
                 loss: str = "zero-one", *, margin: float = 1.0, tau_range: tuple[float, float] = (-1.0, 2.0),
                 perturbation: float = 0.5, num_risk_samples: int = 200_000, seed: int = 0) -> SimProblem:
    """The standard synthetic long-tailed problem (see the module docstring).

    Parameters
    ----------
    num_classes : int
        C >= 2.
    dim : int, optional
        d >= C (default C). Dimensions beyond C carry noise only.
    n_max, imbalance : int, float
        Class counts n_j = long_tailed_counts(n_max, C, imbalance) (exponential profile).
    separation : float
        Distance between any two class means (> 0); larger is easier.
    num_hypotheses : int
        K >= 2 rules. The first max(2, K // 4) use the true means with τ evenly spaced on
        ``tau_range``; the rest use means perturbed by N(0, σ²) noise, σ = perturbation ·
        U(0, 1) per rule, and τ ~ U(tau_range).
    loss : {"zero-one", "ramp"}
    margin : float
        γ of the ramp loss.
    tau_range : (float, float)
        Range of the logit-adjustment strength τ (bias τ log(n_j/n)).
    perturbation : float
        Largest standard deviation of the mean perturbations (>= 0).
    num_risk_samples : int
        Monte Carlo points per class for the true risks; the standard error of a per-class
        zero-one risk is at most 0.5/sqrt(num_risk_samples − 1) (0.0011 at 200,000).
    seed : int
        Seeds the rule bank and the risk Monte Carlo; same seed, same problem.

    Returns
    -------
    SimProblem
    """
    c = check_num_classes(num_classes, minimum=2)
    d = c if dim is None else check_positive_int(dim, "dim")
    if d < c:
        raise ValueError(f"dim must be >= num_classes ({c}) for the simplex means, got {d}")
    nm = check_positive_int(n_max, "n_max", maximum=2 ** 62 - 1, why=" (a sample count)")
    beta = check_finite_scalar(imbalance, "imbalance", low=1.0)
    counts = _long_tailed_counts(nm, c, beta, "exp")
    if np.any(counts < 1):
        raise ValueError(f"n_max={n_max} and imbalance={imbalance} leave empty classes "
                         f"(counts {counts.tolist()}); raise n_max or lower imbalance")
    sep = check_finite_scalar(separation, "separation", low=0.0, low_open=True)
    k = check_positive_int(num_hypotheses, "num_hypotheses", minimum=2)
    lname, gamma = _check_loss(loss, margin)
    m = check_positive_int(num_risk_samples, "num_risk_samples", minimum=2)
    if not (isinstance(tau_range, (tuple, list)) and len(tau_range) == 2):
        raise ValueError(f"tau_range must be a pair (low, high), got {tau_range!r}")
    t_lo = check_finite_scalar(tau_range[0], "tau_range[0]")
    t_hi = check_finite_scalar(tau_range[1], "tau_range[1]", low=t_lo)
    sigma_max = check_finite_scalar(perturbation, "perturbation", low=0.0)
    s = check_seed(seed)

    means = np.zeros((c, d))
    means[np.arange(c), np.arange(c)] = sep / math.sqrt(2.0)   # ||μ_i − μ_j|| = separation
    log_prior = np.log(counts / counts.sum())
    rng = np.random.default_rng(np.random.SeedSequence([s, 0]))
    k_grid = max(2, k // 4)
    taus = np.concatenate([np.linspace(t_lo, t_hi, k_grid), rng.uniform(t_lo, t_hi, k - k_grid)])
    sigma = np.concatenate([np.zeros(k_grid), sigma_max * rng.uniform(0.0, 1.0, k - k_grid)])
    w = means[None] + sigma[:, None, None] * rng.standard_normal((k, c, d))
    b = -0.5 * np.sum(w ** 2, axis=2) + taus[:, None] * log_prior        # logit adjustment
    return _problem_from_rules(means, counts, w, b, lname, gamma, m, s, taus)


def training_set_rng(seed: int, draw: int) -> np.random.Generator:
    """The Generator that :func:`~ltbound.simulation.coverage.run_coverage` (with this ``seed``) uses for draw ``draw``'s D.

    Draw i uses ``SeedSequence([seed, 2]).spawn(i + 1)[i]``: its first child stream draws
    D, its second the Rademacher signs. Exposed so a test can redraw the same D.
    """
    return _draw_rngs(check_seed(seed), check_positive_int(draw, "draw", minimum=0))[0]


def _draw_rngs(seed: int, draw: int) -> tuple[np.random.Generator, np.random.Generator]:
    """(D stream, Rademacher sign stream) of draw ``draw``; see :func:`training_set_rng`."""
    child = np.random.SeedSequence([seed, 2]).spawn(draw + 1)[draw]
    data, signs = child.spawn(2)
    return np.random.default_rng(data), np.random.default_rng(signs)


def draw_training_set(problem: SimProblem, rng: int | np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A fresh long-tailed training set D and the loss of every rule on it.

    Parameters
    ----------
    problem : SimProblem
    rng : int or numpy.random.Generator
        Source of the points; an int seeds a new Generator.

    Returns
    -------
    losses : ndarray of float64, shape (K, n)
        ℓ(f_θ(x_i), y_i) in [0, 1] for every rule θ and sample i.
    labels : ndarray of int64, shape (n,)
        Class of each sample, sorted: n_j samples of class j, in class order.
    """
    if not isinstance(problem, SimProblem):
        raise ValueError(f"problem must be a SimProblem (from make_problem), got {type(problem).__name__}")
    return _draw(problem, problem.counts, check_random_state(rng, "rng")[0])


def _draw(problem: SimProblem, per_class: Any, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Core of the two draws: ``per_class`` points of class j (an int, or counts n_j), class-sorted."""
    y = np.repeat(np.arange(problem.num_classes), per_class)
    x = problem.means[y] + rng.standard_normal((y.size, problem.dim))
    return _losses_of(problem.weights, problem.biases, x, y, problem.loss, problem.margin), y


def draw_test_set(problem: SimProblem, per_class: int, rng: int | np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A fresh test set with ``per_class`` points of every class, and every rule's loss on it.

    Returns ``losses`` (K, C·per_class) and ``labels`` (C·per_class,), class-sorted, as
    :func:`draw_training_set` does for the long-tailed training set.
    """
    if not isinstance(problem, SimProblem):
        raise ValueError(f"problem must be a SimProblem (from make_problem), got {type(problem).__name__}")
    m = check_positive_int(per_class, "per_class")
    return _draw(problem, m, check_random_state(rng, "rng")[0])


# ----------------------------------------------------------------------------- presets
#: Named configurations (used by experiments/simulate_coverage.py) of the coverage study. "wide": a rule bank spanning τ in [−1, 2]
#: with perturbed means (tail-favouring rules included). "narrow": τ in [0.8, 1.2] and
#: small perturbations, the "narrow Θ" of App. B.2's first assumption. "small": the fast
#: configuration of the tests.
PRESETS: dict[str, dict] = {
    "wide": dict(num_classes=10, n_max=500, imbalance=20.0, separation=3.0, num_hypotheses=40),
    "narrow": dict(num_classes=10, n_max=500, imbalance=20.0, separation=3.0, num_hypotheses=40,
                   tau_range=(0.8, 1.2), perturbation=0.1),
    "small": dict(num_classes=5, n_max=200, imbalance=20.0, separation=2.5, num_hypotheses=20,
                  num_risk_samples=20_000),
}
