"""A certified *difference* of two posteriors' target-prior risks, from one certification set (numpy/scipy only).

Question: is L_π(Q_A) − L_π(Q_B) < 0, i.e. does the network trained with schedule A have the
lower balanced risk? Two separate certificates (an upper bound on A's risk, a lower bound on
B's) waste what the runs share: both are scored on the same certification images S, and most
images are classified alike by both, so the per-image difference has far less variance than
either loss. This module bounds the difference directly and keeps that small variance.

Setting and notation (as :mod:`ltbound.certificates.pacbayes`)
-------------------------------------------------
S = m samples, m_j of class j; everything is conditional on the labels of S (given them, the
inputs of class j are i.i.d. from D_j). Two priors P_A, P_B chosen without S (for example
trained on a disjoint D_prior), two posteriors Q_A, Q_B chosen with S. ℓ(h, z) in [0, 1].
The *pair posterior* is the product Q = Q_A ⊗ Q_B over pairs g = (h_A, h_B), the pair prior
P = P_A ⊗ P_B, and KL(Q ‖ P) = KL(Q_A ‖ P_A) + KL(Q_B ‖ P_B) (the chain rule of relative
entropy for product measures: the log density ratio is a sum of two terms, each integrated
against its own factor). For a pair g and a sample z let

    X(g, z) = ℓ(h_A, z) − ℓ(h_B, z)  in [−1, 1],   X⁺ = max(X, 0),   X⁻ = max(−X, 0)  in [0, 1],

so X = X⁺ − X⁻ = X⁺ + (1 − X⁻) − 1. For 0-1 losses X is ternary, X⁺ = 1[A errs, B does not]
and X⁻ = 1[B errs, A does not]. With D_j^±(Q) = E_{g~Q} E_{z~D_j} X^±(g, z) and
Δ_π(Q) = Σ_j π_j (L_j(Q_A) − L_j(Q_B)), linearity of expectation gives

    Δ_π(Q) = Σ_j π_j D_j⁺(Q) + Σ_j π_j (1 − D_j⁻(Q)) − 1.                              (1)

The split (Wu & Seldin 2022)
----------------------------
Equation (1) is the split-kl decomposition of Wu & Seldin (2022, "Split-kl and
PAC-Bayes-split-kl inequalities for ternary random variables", NeurIPS; their split: a
ternary X in {−1, 0, 1} is b₀ + X_{|1} + X_{|2} with b₀ = −1, X_{|1} = 1[X >= 0] = 1 − X⁻ and
X_{|2} = 1[X >= 1] = X⁺). Each part is a [0, 1] loss of the pair g, so any certificate for
[0, 1] losses bounds its mean; the kl-type bounds used here adapt to a part's mean: when A and
B disagree on a fraction ε of the images both parts sit within ε of 0 or 1, where the kl (and
the Bernoulli moment bound of the pooled certificate) is of order sqrt(ε ln(1/δ)/m) + ln(1/δ)/m
instead of Hoeffding's sqrt(ln(1/δ)/m) for a range-2 variable. That is what "keeps the small
variance" means (Wu & Seldin's PAC-Bayes-split-kl applies PAC-Bayes-kl to each part; here the
per-part certificate is the target-prior one of :mod:`ltbound.certificates.pacbayes`).

Theorem (the certified difference)
----------------------------------
Let U(Y; δ') denote :func:`ltbound.certificates.pacbayes.target_risk_certificate` applied to a matrix Y of
[0, 1] losses of the pair posterior with ``kl = KL_A + KL_B``, the chosen class combination
(``"pooled-chernoff"``: the Chernoff bound on the π-weighted loss, λ grid paid in δ;
``"union"``: per-class PAC-Bayes-kl at δ/C₊; ``"pooled"``: Hoeffding), the pair-grid size K
and its Monte Carlo term. Then, with probability >= 1 − δ over S (and the weight draws), for
all posteriors Q_A, Q_B at once,

    upper = U(X⁺; δ/2) + U(1 − X⁻; δ/2) − 1                  >= Δ_π(Q)   (sides="upper")
    upper = U(X⁺; δ/4) + U(1 − X⁻; δ/4) − 1,
    lower = 1 − U(X⁻; δ/4) − U(1 − X⁺; δ/4)                   <= Δ_π(Q)   (sides="two-sided").

Proof. (i) Each U(Y; δ') is, by :func:`~ltbound.certificates.pacbayes.target_risk_certificate`'s theorem
(module :mod:`ltbound.certificates.pacbayes`: Donsker-Varadhan's change of measure from P to Q, Markov's
inequality, the Bernoulli bound on a [0, 1] variable's moment generating function, union over
the λ grid and the K priors), an upper bound on Σ_j π_j E_Q E_{D_j} Y that holds for every
pair posterior Q at once with probability >= 1 − δ'; it applies because Y is a [0, 1] loss of
the pair g = (h_A, h_B), the pair prior P = P_A ⊗ P_B does not depend on S, and
KL(Q ‖ P) = KL_A + KL_B (above). (ii) The prior grid: if P_A was chosen from K_A priors fixed in
advance and P_B from K_B, the pair prior is one of K = K_A·K_B; pass ``prior_grid_size = K``
(each part pays ln K; :func:`difference_over_grid` does this). (iii) Monte Carlo: the entry
(k, i) of the loss matrices is scored with a pair (h_A, h_B) drawn from Q_A ⊗ Q_B, independently
of every other entry (``mc_draws="per-sample"``: A's and B's draws are independent of each other
and per image, e.g. different seeds) or of the other rows (``"shared"``). A part Y is a
function of the entry's pair and image, so its N·m_j entries of class j are independent [0, 1]
variables given S with average mean E_Q Y on the class (per-sample), or its N rows are i.i.d.
(shared): the per-sample Chernoff argument or Langford & Caruana's bound of
:mod:`ltbound.certificates.pacbayes` applies to Y exactly as to a loss. Draws shared between A and B (the
same noise ε for both networks) are a coupling, not the product, and are not covered. (iv)
Union bound over the two (four) parts: all hold together with probability >= 1 − δ; on that
event (1) gives upper >= Δ_π(Q), and the same identity with the roles of A and B swapped
(−Δ_π = Σπ D⁻ + Σπ(1 − D⁺) − 1) gives lower <= Δ_π(Q). ∎

Corollaries. *Verdict*: on the same event, upper < 0 proves L_π(Q_A) < L_π(Q_B) and
lower > 0 proves the reverse; with ``sides="two-sided"`` the direction need not be chosen in
advance (the interval holds as a whole at 1 − δ), with ``"upper"`` only "A lower" can be
proved. *Reduction*: if Q_B is a constant predictor with zero loss, X⁺ = ℓ_A, X⁻ = 0, the part
1 − X⁻ is identically 1 and its certificate is 1 (every bound here is capped at 1 and is at
least the empirical mean), so upper = U(ℓ_A; δ/2): the single-risk certificate at δ/2
(tests/test_pacbayes_difference.py pins the equality).

Fixed classifiers (KL = 0)
--------------------------
With 1-D losses (two deterministic classifiers) and ``fixed_before_sample=True`` (both chosen
before S; KL must be 0) the parts get the test-set forms of :mod:`ltbound.certificates.pacbayes` (free λ):
a test-set bound on the difference of two fixed classifiers' balanced risks. Otherwise the
PAC-Bayes forms are used, continuous in KL down to 0.

References
----------
Wu & Seldin (2022), see above; Seeger (2002); Maurer (2004); Langford & Caruana (2002);
Hoeffding (1963); Donsker & Varadhan (1975); Cover & Thomas (2006), Thm. 2.5.3 (chain rule of
relative entropy).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from . import pacbayes as _pb
from .._validation import check_delta, check_positive_int

__all__ = ["risk_difference_certificate", "difference_over_grid", "DifferenceCertificate", "DIFFERENCE_METHODS",
           "SIDES"]

#: class combinations of the parts (:mod:`ltbound.certificates.pacbayes`); "pooled-binomial" needs one classifier per part
DIFFERENCE_METHODS = ("pooled-chernoff", "union", "union-kl", "pooled")
#: "two-sided": an interval at 1 − δ; "upper": only the upper bound, at 1 − δ
SIDES = ("two-sided", "upper")
#: the parts, in the order of the theorem: (name, built from X = ℓ_A − ℓ_B)
PARTS = ("A_only", "not_B_only", "B_only", "not_A_only")


@dataclass(frozen=True)
class DifferenceCertificate:
    """A certified interval for Δ_π = L_π(Q_A) − L_π(Q_B) (module docstring, Theorem).

    Attributes
    ----------
    upper : float
        With probability >= 1 − δ, Δ_π <= upper (in [−1, 1]).
    lower : float or None
        Δ_π >= lower (``sides="two-sided"``; None for ``"upper"``).
    empirical : float
        Σ_j π_j (L̂_j(A) − L̂_j(B)) on the certification set (mean over the N draws).
    disagreement : float
        Σ_j π_j mean of 1[X ≠ 0] (0-1 losses) or of |X|: how often the two differ.
    kl_a, kl_b : float
        KL(Q_A ‖ P_A), KL(Q_B ‖ P_B) in nats (the pair posterior's KL is their sum).
    delta, sides, method : float, str, str
    prior_grid_size : int
        K, the pair priors the two priors were chosen from (δ/K per pair).
    parts : dict
        part name -> :meth:`ltbound.certificates.pacbayes.PacBayesCertificate.to_dict` ("A_only" = X⁺,
        "not_B_only" = 1 − X⁻, and for two-sided "B_only" = X⁻, "not_A_only" = 1 − X⁺).
    names : tuple of str
        Labels of A and B for :meth:`verdict` and :meth:`summary`.
    index_upper, index_lower : tuple of int or None
        (i, j) grid indices of the pair each side came from (:func:`difference_over_grid`).
    separate : tuple of float or None
        For comparison, (lower, upper) from two separate bounds at the same δ split and grid:
        lower(L_π(Q_A)) − upper(L_π(Q_B)) and upper(L_π(Q_A)) − lower(L_π(Q_B)), each single
        bound the same certificate with its own posterior's KL (lower(L) = 1 − U(1 − ℓ)). It
        ignores that both are scored on the same images, so it is wider whenever the two
        disagree on few of them ("upper" sides: its lower side is None).
    """

    upper: float
    lower: float | None
    empirical: float
    disagreement: float
    kl_a: float
    kl_b: float
    delta: float
    sides: str
    method: str
    prior_grid_size: int
    parts: dict = field(repr=False)
    names: tuple = ("A", "B")
    index_upper: tuple | None = None
    index_lower: tuple | None = None
    separate: tuple | None = None

    @property
    def verdict(self) -> str:
        """"A lower" (upper < 0), "B lower" (lower > 0) or "not proved" (names from ``names``)."""
        a, b = self.names
        if self.upper < 0:
            return f"{a} lower"
        if self.lower is not None and self.lower > 0:
            return f"{b} lower"
        return "not proved"

    @property
    def proved(self) -> bool:
        return self.verdict != "not proved"

    def to_dict(self) -> dict:
        return {"upper": float(self.upper), "lower": None if self.lower is None else float(self.lower),
                "empirical": float(self.empirical), "disagreement": float(self.disagreement),
                "kl_a": float(self.kl_a), "kl_b": float(self.kl_b), "delta": float(self.delta), "sides": self.sides,
                "method": self.method, "prior_grid_size": int(self.prior_grid_size), "names": list(self.names),
                "verdict": self.verdict, "proved": self.proved, "parts": self.parts,
                "index_upper": None if self.index_upper is None else [int(v) for v in self.index_upper],
                "index_lower": None if self.index_lower is None else [int(v) for v in self.index_lower],
                "separate": None if self.separate is None else [None if v is None else float(v)
                                                                for v in self.separate]}

    def summary(self) -> str:
        a, b = self.names
        lo = "−1" if self.lower is None else f"{self.lower:+.4f}"
        return (f"risk({a}) − risk({b}) in [{lo}, {self.upper:+.4f}] with probability >= {1 - self.delta:g} "
                f"({self.method}, {self.sides}; empirical {self.empirical:+.4f}, they differ on "
                f"{self.disagreement:.4f} of the π-weighted images; KL {self.kl_a:.4g} + {self.kl_b:.4g} nats): "
                f"{self.verdict}")


def _is_zero(v: Any) -> bool:
    try:
        return float(v) == 0.0
    except (TypeError, ValueError):
        return False                             # the checks of _problem name the bad value


def _parts(la: np.ndarray, lb: np.ndarray, sides: str) -> dict[str, np.ndarray]:
    x = la - lb
    plus, minus = np.maximum(x, 0.0), np.maximum(-x, 0.0)
    out = {"A_only": plus, "not_B_only": 1.0 - minus}
    if sides == "two-sided":
        out.update(B_only=minus, not_A_only=1.0 - plus)
    return out


def _check_common(delta: Any, method: Any, sides: Any, prior_grid_size: Any, names: Any) -> tuple:
    d = check_delta(delta)
    if method not in DIFFERENCE_METHODS:
        raise ValueError(f"method must be one of {DIFFERENCE_METHODS}, got {method!r}")
    if sides not in SIDES:
        raise ValueError(f"sides must be one of {SIDES}, got {sides!r}")
    k = check_positive_int(prior_grid_size, "prior_grid_size")
    if (not isinstance(names, (tuple, list)) or len(names) != 2 or not all(isinstance(n, str) for n in names)
            or names[0] == names[1]):
        raise ValueError(f"names must be two different strings (A's and B's labels), got {names!r}")
    return d, k, tuple(names)


def _rename_kl(message: str, name: str) -> str:
    """The single-risk checks name ``kl``; here the argument is ``kl_a`` or ``kl_b``."""
    return (message.replace("kl must", f"{name} must").replace("needs kl = 0 (got kl =", f"needs {name} = 0 (got "
                                                                                          f"{name} ="))


def _pair_problems(losses_a: Any, losses_b: Any, labels: Any, *, kl_a: Any, kl_b: Any, target_prior: Any,
                   num_classes: Any, mc_delta_fraction: Any, mc_draws: Any, fixed_before_sample: Any,
                   name_a: str = "losses_a", name_b: str = "losses_b") -> tuple:
    """Validate A's and B's problems with the single-risk checks (each error names its argument)."""
    kw = dict(target_prior=target_prior, delta=0.5, num_classes=num_classes, method="union",
              mc_delta_fraction=mc_delta_fraction, prior_grid_size=1, mc_draws=mc_draws,
              fixed_before_sample=fixed_before_sample)
    try:
        pa = _pb._problem(losses_a, labels, kl=kl_a, losses_name=name_a, **kw)
    except ValueError as e:
        raise ValueError(_rename_kl(str(e), "kl_a")) from None
    try:
        pb = _pb._problem(losses_b, labels, kl=kl_b, losses_name=name_b, **kw)
    except ValueError as e:
        raise ValueError(_rename_kl(str(e), "kl_b")) from None
    if pa.losses.shape != pb.losses.shape or pa.deterministic != pb.deterministic:
        raise ValueError(f"{name_a} and {name_b} must have one shape, (m,) for two classifiers or (N, m) for N "
                         f"draws of each posterior scored on the same samples; got "
                         f"{np.shape(losses_a)} and {np.shape(losses_b)}")
    return pa, pb


def _certify_pair(pa, pb, *, delta: float, method: str, sides: str, grid: int, names: tuple,
                  index: tuple | None = None) -> DifferenceCertificate:
    n_parts = 2 if sides == "upper" else 4
    kl = pa.kl + pb.kl
    la, lb = pa.losses, pb.losses
    certs = {}
    for name, values in _parts(la, lb, sides).items():
        prob = dataclasses.replace(pa, losses=values, kl=kl, delta=delta / n_parts, method=method,
                                   prior_grid_size=grid, zero_one=bool(np.all((values == 0) | (values == 1))))
        certs[name] = _pb._certify(prob)
    upper = certs["A_only"].bound + certs["not_B_only"].bound - 1.0
    lower = None if sides == "upper" else 1.0 - certs["B_only"].bound - certs["not_A_only"].bound

    def single(p, values):                 # the same certificate on one posterior's own loss and KL
        return _pb._certify(dataclasses.replace(p, losses=values, delta=delta / n_parts, method=method,
                                                prior_grid_size=grid,
                                                zero_one=bool(np.all((values == 0) | (values == 1))))).bound
    sep_upper = single(pa, la) - (1.0 - single(pb, 1.0 - lb))
    sep_lower = None if sides == "upper" else (1.0 - single(pa, 1.0 - la)) - single(pb, lb)
    pos = pa.pi > 0
    onehot = (pa.labels[:, None] == np.flatnonzero(pos)[None, :]).astype(np.float64)
    m = pa.counts[pos].astype(np.float64)
    x = la - lb
    emp = float(pa.pi[pos] @ (x.mean(axis=0) @ onehot / m))
    dis = float(pa.pi[pos] @ (np.abs(x).mean(axis=0) @ onehot / m))
    return DifferenceCertificate(upper=float(upper), lower=None if lower is None else float(lower), empirical=emp,
                                 disagreement=dis, kl_a=pa.kl, kl_b=pb.kl, delta=delta, sides=sides, method=method,
                                 prior_grid_size=grid, parts={k: c.to_dict() for k, c in certs.items()}, names=names,
                                 index_upper=index, index_lower=None if sides == "upper" else index,
                                 separate=(None if sep_lower is None else float(sep_lower), float(sep_upper)))


def risk_difference_certificate(losses_a: Any, losses_b: Any, labels: Any, *, kl_a: float, kl_b: float,
                                target_prior: Any = "balanced", delta: float = 0.05, num_classes: int | None = None,
                                method: str = "pooled-chernoff", sides: str = "two-sided",
                                mc_delta_fraction: float = 0.1, prior_grid_size: int = 1,
                                mc_draws: str = "shared", fixed_before_sample: bool | None = False,
                                names: Sequence[str] = ("A", "B")) -> DifferenceCertificate:
    """Certified bounds on L_π(Q_A) − L_π(Q_B) from one certification set (module docstring, Theorem).

    Parameters
    ----------
    losses_a, losses_b : array_like, shape (N, m) or (m,)
        Per-sample losses in [0, 1] of N weight draws of Q_A and of Q_B on the same m
        certification samples, in the same order (0-1 losses: the difference is ternary). Entry
        (k, i) of the two matrices is one pair draw from Q_A ⊗ Q_B: A's and B's draws must be
        independent of each other (different seeds), per entry (``mc_draws="per-sample"``) or
        per row (``"shared"``). 1-D: two deterministic classifiers.
    labels : array_like of int, shape (m,)
    kl_a, kl_b : float >= 0
        KL(Q_A ‖ P_A), KL(Q_B ‖ P_B) in nats, each prior chosen without the certification set.
    target_prior : "balanced" or array_like, shape (C,)
    delta : float in (0, 1)
        The whole interval (or the upper bound) holds with probability >= 1 − δ.
    num_classes : int, optional
    method : {"pooled-chernoff", "union", "union-kl", "pooled"}
        Class combination of each part (:mod:`ltbound.certificates.pacbayes`).
    sides : {"two-sided", "upper"}
        "two-sided": four parts at δ/4, an interval whose verdict may go either way; "upper":
        two parts at δ/2, for a direction fixed before the data ("A lower" only).
    mc_delta_fraction : float in (0, 1)
        Share of each part's δ spent on its Monte Carlo term.
    prior_grid_size : int >= 1
        K = K_A·K_B, the pair priors (σ_A, σ_B) the two priors were chosen from.
    mc_draws : {"shared", "per-sample"}
    fixed_before_sample : bool or None
        False (default): posteriors chosen with the data (the PAC-Bayes forms, also at KL = 0).
        True: both fixed before S (test-set forms; needs kl_a = kl_b = 0). None: True when
        both KL are 0 (the historical reading of :func:`ltbound.certificates.pacbayes.target_risk_certificate`).
    names : (str, str)
        Labels of A and B in the verdict.

    Returns
    -------
    DifferenceCertificate
    """
    d, k, nm = _check_common(delta, method, sides, prior_grid_size, names)
    if fixed_before_sample is None:             # both or neither: one event for the pair
        fixed_before_sample = bool(np.ndim(kl_a) == 0 and np.ndim(kl_b) == 0 and _is_zero(kl_a) and _is_zero(kl_b))
    pa, pb = _pair_problems(losses_a, losses_b, labels, kl_a=kl_a, kl_b=kl_b, target_prior=target_prior,
                            num_classes=num_classes, mc_delta_fraction=mc_delta_fraction, mc_draws=mc_draws,
                            fixed_before_sample=fixed_before_sample)
    return _certify_pair(pa, pb, delta=d, method=method, sides=sides, grid=k, names=nm)


def difference_over_grid(losses_a: Sequence[Any], kls_a: Sequence[float], losses_b: Sequence[Any],
                         kls_b: Sequence[float], labels: Any, *, target_prior: Any = "balanced", delta: float = 0.05,
                         num_classes: int | None = None, method: str = "pooled-chernoff", sides: str = "two-sided",
                         mc_delta_fraction: float = 0.1, mc_draws: str = "per-sample",
                         names: Sequence[str] = ("A", "B"),
                         pair: Sequence[int] | None = None) -> DifferenceCertificate:
    """The certified difference when each prior was chosen from a grid (e.g. the σ grid of each schedule).

    Every pair (i, j) of A's K_A and B's K_B posteriors is certified with ``prior_grid_size =
    K_A·K_B`` (union bound over the pair priors, module docstring step (ii)); all pairs' parts
    hold together at 1 − δ, so any pair may be chosen after seeing the data.

    * ``pair=(i, j)``: the interval of that pair, both sides (e.g. the σ each schedule's own
      certificate chose: the difference of the two reported networks).
    * ``pair=None``: the smallest upper bound and the largest lower bound over all pairs; each
      side bounds the difference of its own pair (``index_upper``, ``index_lower``), so when they
      differ read each side for its pair.

    Parameters
    ----------
    losses_a : sequence of K_A arrays, each (N, m)
        A's loss matrix for each grid point (posterior i of A).
    kls_a : sequence of K_A floats
        KL(Q_A,i ‖ P_A,i) in nats.
    losses_b, kls_b : the same for B (K_B entries).
    labels, target_prior, delta, num_classes, method, sides, mc_delta_fraction, mc_draws, names
        As :func:`risk_difference_certificate` (posteriors chosen with the data).
    pair : (int, int), optional
        The grid indices (i, j) to report (above); None: the best side over all pairs.

    Returns
    -------
    DifferenceCertificate
        ``index_upper`` / ``index_lower`` say which pair (i, j) gave each side; ``parts``
        are those of the upper side's pair, with the lower side's parts under
        ``parts["lower_pair"]`` when the pairs differ.
    """
    d, _, nm = _check_common(delta, method, sides, 1, names)
    for seq, name in ((losses_a, "losses_a"), (kls_a, "kls_a"), (losses_b, "losses_b"), (kls_b, "kls_b")):
        if isinstance(seq, (str, bytes)) or not hasattr(seq, "__len__") or len(seq) == 0:
            raise ValueError(f"{name} must be a non-empty sequence (one entry per grid point), "
                             f"got {type(seq).__name__}")
    if len(losses_a) != len(kls_a):
        raise ValueError(f"losses_a has {len(losses_a)} grid points but kls_a has {len(kls_a)}")
    if len(losses_b) != len(kls_b):
        raise ValueError(f"losses_b has {len(losses_b)} grid points but kls_b has {len(kls_b)}")
    grid = len(losses_a) * len(losses_b)
    if pair is not None:
        if (isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2
                or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)
                or not (0 <= pair[0] < len(losses_a) and 0 <= pair[1] < len(losses_b))):
            raise ValueError(f"pair must be two grid indices (i < {len(losses_a)}, j < {len(losses_b)}), got {pair!r}")
        pairs = [(int(pair[0]), int(pair[1]))]
    else:
        pairs = [(i, j) for i in range(len(losses_a)) for j in range(len(losses_b))]
    best_up = best_lo = None
    for i, j in pairs:
        pa, pb = _pair_problems(losses_a[i], losses_b[j], labels, kl_a=kls_a[i], kl_b=kls_b[j],
                                target_prior=target_prior, num_classes=num_classes,
                                mc_delta_fraction=mc_delta_fraction, mc_draws=mc_draws, fixed_before_sample=False,
                                name_a=f"losses_a[{i}]", name_b=f"losses_b[{j}]")
        c = _certify_pair(pa, pb, delta=d, method=method, sides=sides, grid=grid, names=nm, index=(i, j))
        if best_up is None or c.upper < best_up.upper:
            best_up = c
        if sides == "two-sided" and (best_lo is None or c.lower > best_lo.lower):
            best_lo = c
    if best_lo is None or best_lo is best_up:
        return best_up
    parts = dict(best_up.parts)
    parts["lower_pair"] = best_lo.parts
    return dataclasses.replace(best_up, lower=best_lo.lower, index_lower=best_lo.index_lower, parts=parts,
                               separate=(best_lo.separate[0], best_up.separate[1]))

