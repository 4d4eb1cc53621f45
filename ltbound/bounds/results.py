"""The results of the bounds: one term (:class:`BoundTerm`), one bound at one θ (:class:`BoundResult`)
and the three bounds of :func:`ltbound.estimate_bounds` (:class:`BoundReport`), with their JSON and
text tables. Computing lives in :mod:`ltbound.bounds.estimate`; this module formats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._table import format_table
from .rademacher import RademacherEstimate
from .residual import ResidualEstimate

__all__ = ["BoundTerm", "BoundResult", "BoundReport"]


# ----------------------------------------------------------------------------- results

def _json_float(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class BoundTerm:
    """One additive term of a bound.

    Attributes
    ----------
    name : str
        "objective" | "rademacher" | "residual" | "confidence" | "monte_carlo"; unique
        within a result.
    symbol : str
        The term as written in the paper (e.g. "−Q̂_n").
    value : float
        Signed contribution, loss units; the terms sum to ``BoundResult.total``.
    kind : str
        "rigorous" (closed form, or computed from the given losses, or holding with the
        probability charged to it in the union bound) or "estimate".
    equation : str
        Where it comes from ("Eq. 7").
    error : float or None
        Monte Carlo standard error or bootstrap half-width, same units; None if exact.
    note : str
        One sentence on what the number is.
    """

    name: str
    symbol: str
    value: float
    kind: str
    equation: str
    error: float | None
    note: str

    def to_dict(self) -> dict:
        """JSON-safe dict (non-finite floats become None)."""
        return {"name": self.name, "symbol": self.symbol, "value": _json_float(self.value),
                "kind": self.kind, "equation": self.equation, "error": _json_float(self.error),
                "note": self.note}


@dataclass(frozen=True, eq=False)
class BoundResult:
    """A bound evaluated at one θ, with its terms, and how it was obtained.

    Attributes
    ----------
    name, equation, risk : str
        Which bound, which equation, and which risk it bounds.
    terms : tuple of BoundTerm
    total : float
        Sum of the term values (loss units).
    certificate : bool
        True only if every term is rigorous (never, with a finite-Θ̂ Rademacher term).
    n : int
    counts : ndarray of int64, shape (C,)
    p : ndarray, shape (C,), or None
        Class weights of the objective (Eq. 7); None for Eq. 6 and the target bound.
    target_prior : ndarray, shape (C,), or None
        π of the target bound; None otherwise.
    loss_range : float
        M.
    loss_range_source : str
        "given" or "empirical" (then not a certificate whatever the terms say).
    delta : float
        Total failure probability.
    delta_split : dict
        {"mcdiarmid": ..., "monte_carlo": ...}, summing to ``delta``.
    theta_index : int
        Row of the loss matrix that is θ (nonnegative).
    num_params : int
        |Θ̂|, rows of the loss matrix.
    rademacher : RademacherEstimate
    residual : ResidualEstimate or None
        Eq. 7 only.
    condition : float or None
        Theorem 1's Q̂_n + L^s(θ) − L(θ), Eq. 7 only (always <= 0 with the empirical Q̂_n).
    """

    name: str
    equation: str
    risk: str
    terms: tuple[BoundTerm, ...]
    total: float
    certificate: bool
    n: int
    counts: np.ndarray
    p: np.ndarray | None
    target_prior: np.ndarray | None
    loss_range: float
    loss_range_source: str
    delta: float
    delta_split: dict
    theta_index: int
    num_params: int
    rademacher: RademacherEstimate
    residual: ResidualEstimate | None
    condition: float | None

    def term(self, name: str) -> BoundTerm:
        """The term called ``name`` (KeyError if absent)."""
        for t in self.terms:
            if t.name == name:
                return t
        raise KeyError(f"{self.name} has no term {name!r}; terms: {[t.name for t in self.terms]}")

    def to_dict(self) -> dict:
        """JSON-safe dict: floats, ints, str, lists, None (``json.dumps`` works on it)."""
        return {
            "name": self.name, "equation": self.equation, "risk": self.risk,
            "terms": [t.to_dict() for t in self.terms], "total": _json_float(self.total),
            "certificate": bool(self.certificate), "n": int(self.n),
            "counts": [int(v) for v in self.counts],
            "p": None if self.p is None else [float(v) for v in self.p],
            "target_prior": None if self.target_prior is None else [float(v) for v in self.target_prior],
            "loss_range": float(self.loss_range), "loss_range_source": self.loss_range_source,
            "delta": float(self.delta), "delta_split": {k: float(v) for k, v in self.delta_split.items()},
            "theta_index": int(self.theta_index), "num_params": int(self.num_params),
            "rademacher": self.rademacher.to_dict(),
            "residual": None if self.residual is None else self.residual.to_dict(),
            "condition": _json_float(self.condition),
        }

    def table(self) -> str:
        """A readable, aligned table of the terms: name, symbol, kind, value, ± error."""
        head = (f"{self.name} [{self.equation}] — bounds {self.risk}\n"
                f"  θ = row {self.theta_index} of {self.num_params}, n = {self.n}, C = {self.counts.size}, "
                f"M = {self.loss_range:g} ({self.loss_range_source}), δ = {self.delta:g} "
                f"(McDiarmid {self.delta_split['mcdiarmid']:g}, Monte Carlo {self.delta_split['monte_carlo']:g})")
        rows = [("term", "symbol", "kind", "value", "± error")]
        for t in self.terms:
            rows.append((t.name, t.symbol, t.kind, f"{t.value:+.6f}",
                         "" if t.error is None or not math.isfinite(t.error) else f"{t.error:.2g}"))
        rows.append(("total", "", "", f"{self.total:+.6f}", ""))
        lines = [head, format_table(rows[1:], rows[0], align="lllr", indent="  ", rstrip=True,
                                    rule_before=(len(rows) - 2,))]
        if self.rademacher.value < 0:
            # E_ξ max_θ Σ w ξ L(θ) >= max_θ E_ξ Σ w ξ L(θ) = 0, so only the estimate can be negative
            rad = self.rademacher
            lines.append(f"  2·R̂ = {2 * rad.value:+.6f} ± {2 * rad.std_error:.2g} is a Monte "
                         f"Carlo mean of {self.rademacher.num_draws} sign draws, below 0 by sampling error "
                         f"({_negative_estimate(self.rademacher)}); the exact 2·R̂ is >= 0 (a max over Θ̂ of "
                         "zero-mean sums), and the total uses R̂⁺ = R̂ + the monte_carlo term, so it is the "
                         "same whatever the sign")
        if self.condition is not None:
            lines.append(f"  Theorem 1 condition Q̂_n + L^s(θ) − L(θ) = {self.condition:+.6f} (<= 0 always)")
        verdict = "yes" if self.certificate else (
            "no — " + ("M was taken from the observed losses; " if self.loss_range_source == "empirical" else "")
            + "terms marked 'estimate' are not guaranteed")
        lines.append(f"  certificate: {verdict}")
        return "\n".join(lines)

    __str__ = table


@dataclass(frozen=True, eq=False)
class BoundReport:
    """What :func:`estimate_bounds` returns: Eq. 6, Eq. 7 and the target-prior bound at θ.

    Attributes
    ----------
    ib : BoundResult
        Eq. 6 (long-tailed risk).
    sampling : BoundResult
        Eq. 7 with the given p (long-tailed risk).
    target : BoundResult
        Risk under the target prior (uniform: the balanced test risk).
    condition : float
        Theorem 1's Q̂_n + L^s(θ) − L(θ) at θ (<= 0).
    confidence_ratio : float
        sqrt(n Σ_j p_j²/n_j) >= 1: Eq. 7's confidence term over Eq. 6's.
    data_checks : dict or None
        What :func:`ltbound.bounds_for_model` checked about the data that gave the losses
        (samples read vs the data set's length, C and where it came from, whether a re-read
        index gave the same image, or that this was not checked) and Θ̂'s description;
        None when the losses were given (:func:`estimate_bounds`).
    """

    ib: BoundResult
    sampling: BoundResult
    target: BoundResult
    condition: float
    confidence_ratio: float
    data_checks: dict | None = None

    @property
    def theta_index(self) -> int:
        """Row of the loss matrix that is the model θ (nonnegative), shared by the three bounds."""
        return self.ib.theta_index

    @property
    def num_params(self) -> int:
        """|Θ̂|: rows of the loss matrix the Rademacher and Q̂_n terms range over."""
        return self.ib.num_params

    def to_dict(self) -> dict:
        """JSON-safe dict of the three bounds and the two comparisons."""
        d = {"ib": self.ib.to_dict(), "sampling": self.sampling.to_dict(),
             "target": self.target.to_dict(), "condition": _json_float(self.condition),
             "confidence_ratio": float(self.confidence_ratio)}
        if self.data_checks is not None:
            d["data_checks"] = dict(self.data_checks)
        return d

    def table(self) -> str:
        """The three tables and the two comparisons, as text."""
        diff = self.sampling.total - self.ib.total
        blocks = [
            self.ib.table(), self.sampling.table(), self.target.table(),
            (f"Eq. 7 − Eq. 6 = {diff:+.6f} (same risk; >= 0 with the empirical Q̂_n)\n"
             f"Theorem 1 condition Q̂_n + L^s − L = {self.condition:+.6f}\n"
             f"confidence ratio sqrt(n Σ p²/n_j) = {self.confidence_ratio:.4f}")]
        if self.data_checks is not None:
            blocks.append("Data the losses came from:\n" + "\n".join(
                f"  {k.replace('_', ' ')}: {v}" for k, v in self.data_checks.items()))
        return "\n\n".join(blocks)

    __str__ = table


def _negative_estimate(rad: RademacherEstimate) -> str:
    """How far below 0 a Monte Carlo R̂ lies, in its standard errors."""
    if rad.std_error > 0 and math.isfinite(rad.std_error):
        return f"{rad.value / rad.std_error:+.1f} standard errors"
    return "no standard error: one draw"
