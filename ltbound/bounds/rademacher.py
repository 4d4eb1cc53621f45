"""Empirical Rademacher complexity of a finite parameter set Θ̂ (Eq. 5).

Eq. 5 defines R_n(Θ) = E_{D,ξ}[sup_θ (1/n) Σ_i ξ_i ℓ(f_θ(x_i), y_i)] with independent
uniform signs ξ_i ∈ {−1, +1}. Given one training set D and a loss matrix whose rows are
the θ of a finite Θ̂, this module computes the inner expectation over ξ,

    R̂(Θ̂; D, w) = E_ξ [ max_{θ∈Θ̂} Σ_i w_i ξ_i L_i(θ) ],     w_i = 1/n by default,   (Eq. 5)

in its signed form (no absolute value). The weighted form (w_i = π_{y_i}/n_{y_i}) is
the one the target-prior bound needs. What it is **not**: R_n(Θ) itself. Eq. 5 also
takes E_D, and Θ̂ is a finite subset of Θ picked by training on D, so R̂ is an estimate
of R_n(Θ), not a bound on it.

Three ways to compute R̂:

* :func:`rademacher_exact` enumerates all 2^n sign vectors (n <= 20): the exact value.
* :func:`rademacher_monte_carlo` averages B independent sign draws, and reports an
  ``upper`` value that is >= R̂ with probability >= 1 − δ over the draws (McDiarmid).
* :func:`massart_bound`: Massart's finite-class lemma, a closed-form ceiling on R̂.

How many draws: :func:`draws_for_std_error` gives the B after which the Monte Carlo
standard error of R̂ is at most a wanted value for this loss matrix, whatever the draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import (MAX_LOSS, check_delta, check_finite_scalar, check_loss_magnitude, check_losses,
                           check_not_masked, check_positive_int, check_random_state)

__all__ = ["RademacherEstimate", "rademacher_monte_carlo", "rademacher_exact", "massart_bound",
           "draws_for_std_error"]

#: Sign draws processed together: one (block, tile) sign matrix per matrix product. Fixed
#: (not a user knob) because the layout of the random stream depends on it. Measured with
#: benchmarks/bench_rademacher.py on 2 cores, (64, 50000) float32, 1000 draws: 512 x 2048
#: tiles ran 1.39-1.57x the bare product on a quiet machine (1024 x 4096: 1.61x; 256 x 8192:
#: 1.55x), but each multi-threaded BLAS call synchronises its threads, so under heavy load
#: (load 7) small tiles fell to 4.8x against 1.6x for 1024 x 4096.
_DRAW_BLOCK = 512
#: Columns per tile: the unit of random-stream layout, of quantisation and of one float32
#: product. A multiple of 64 so that a tile is a whole number of 64-bit random words;
#: 2048 columns x 512 draws x 4 bytes = 4 MiB of signs.
_TILE = 2048
#: Integer-valued float32 products are exact while every partial sum stays below 2^24.
_EXACT_INT32 = 2.0 ** 24
#: Bytes of float32 loss data held at once when the loss matrix is processed in chunks.
_CHUNK_BYTES = 256 << 20
#: Largest n for which rademacher_exact enumerates 2^n sign vectors.
_EXACT_MAX_N = 20
#: Unit roundoff of float64.
_U64 = 2.0 ** -53
#: Most sign draws draws_for_std_error hands out (about 5 minutes for a (30, 12406) matrix on
#: one core); a smaller wanted error is refused rather than run for hours.
_MAX_AUTO_DRAWS = 1_000_000

# Row b of this table is the 8 signs encoded by the byte b (bit set -> +1, clear -> -1):
# expanding random bytes through it turns 1 random bit into one float32 sign in one pass.
_SIGN_TABLE = (np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1)
               .astype(np.float32) * 2.0 - 1.0)


@dataclass(frozen=True)
class RademacherEstimate:
    """Estimate of E_ξ max_θ Σ_i w_i ξ_i L_i(θ) over a finite Θ̂ (Eq. 5, signed form).

    Attributes
    ----------
    value : float
        The estimate (loss units; with w = 1/n, a mean loss).
    std_error : float
        Monte Carlo standard error, sample std of the per-draw maxima / sqrt(num_draws);
        0 for "exact" and "massart"; NaN when num_draws == 1.
    upper : float
        ``value`` plus a deviation that makes it >= the exact expectation with probability
        >= 1 − ``delta`` over the sign draws (McDiarmid, plus a quantisation bound);
        equal to ``value`` for "exact" and "massart" (both deterministic).
    delta : float
        Failure probability charged to ``upper`` (0 for "exact" and "massart").
    num_draws : int
        Sign vectors used: B for "monte-carlo", 2**n for "exact", 0 for "massart".
    method : str
        "monte-carlo", "exact" or "massart".
    num_params : int
        K, rows of the loss matrix (|Θ̂|).
    n : int
        Samples (columns).
    seed : int or None
        Seed of the sign draws; None when not drawn or when a Generator was passed.
    """

    value: float
    std_error: float
    upper: float
    delta: float
    num_draws: int
    method: str
    num_params: int
    n: int
    seed: int | None

    def to_dict(self) -> dict:
        """JSON-safe dict; non-finite floats (std_error of a single draw) become None."""
        def num(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None
        return {"value": num(self.value), "std_error": num(self.std_error),
                "upper": num(self.upper), "delta": float(self.delta),
                "num_draws": int(self.num_draws), "method": self.method,
                "num_params": int(self.num_params), "n": int(self.n),
                "seed": None if self.seed is None else int(self.seed)}


# --------------------------------------------------------------------------- inputs

def _losses_2d(losses: Any) -> np.ndarray:
    """Validated (K, n) view; memmaps stay memmaps (their values are checked when read)."""
    arr = check_losses(losses)
    return arr[None, :] if arr.ndim == 1 else arr


def _weights(weights: Any, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    check_not_masked(weights, "weights")
    w = np.asarray(weights)
    if w.dtype == bool or not np.issubdtype(w.dtype, np.number) or np.iscomplexobj(w):
        raise ValueError(f"weights must be a real numeric array, got dtype {w.dtype}")
    if w.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), one per sample (column of losses), got shape {w.shape}")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"weights must be finite, found {w[~np.isfinite(w)][0]!r}")
    # |w| times losses (each <= MAX_LOSS) must stay far inside float64: with |w| <= MAX_LOSS every
    # product is <= 1e200 and sums over any realistic n stay finite (1e300 gave a NaN standard error)
    big = np.abs(w) > MAX_LOSS
    if big.any():
        i = int(np.flatnonzero(big)[0])
        raise ValueError(f"weights must be at most {MAX_LOSS:g} in magnitude, found {float(w[i])!r} at index {i}; "
                         "rescale the weights (the complexity scales with them)")
    if not np.any(w):
        raise ValueError("weights are all 0: the weighted complexity would be 0 whatever the losses; pass the "
                         "per-sample weights w_i (default 1/n)")
    return w


def _check_chunk(block: np.ndarray, c0: int) -> None:
    """Finiteness and sign of a chunk read from a memmap (in-memory input is checked whole)."""
    bad = ~np.isfinite(block)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(f"losses must be finite, found {block[r, c]!r} at index {(int(r), int(c0 + c))}")
    if np.any(block < 0):
        r, c = np.argwhere(block < 0)[0]
        raise ValueError(f"losses must be non-negative (a loss), found {block[r, c]!r} at index {(int(r), int(c0 + c))}")
    check_loss_magnitude(block, "losses", offset=c0)


def _chunk_columns(mat: np.ndarray, chunk_size: Any) -> int:
    """Columns per chunk: a whole number of tiles, so chunking never changes the arithmetic."""
    k, n = mat.shape
    if chunk_size is None:
        cols = max(1, _CHUNK_BYTES // (4 * k))
    else:
        cols = check_positive_int(chunk_size, "chunk_size")
    cols = -(-cols // _TILE) * _TILE
    return min(cols, -(-n // _TILE) * _TILE)


def _quantised_chunk(mat: np.ndarray, w_abs: np.ndarray | None, c0: int, c1: int,
                     is_memmap: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer-valued float32 version of (|w| ⊙ L)[:, c0:c1], built tile by tile.

    Returns ``(q, colmax, step)``: ``q`` (K, c1 − c0) float32 holds whole numbers,
    ``colmax`` (c1 − c0,) is max_θ L_i(θ), and ``step`` (tiles,) is the value of one unit in
    each tile: |q · step − a| <= step / 2 entrywise, with a = |w| ⊙ L (or L when ``w_abs``
    is None: equal weights are applied later as one factor).

    In each tile the step makes the largest row sum Σ_i q_i(θ) at most 2^24 − T/2, so every
    partial sum of ±q over the tile, in any order, is an integer below 2^24 and the float32
    product with ±1 signs is exact, whatever BLAS, blocking or thread count computes it.
    """
    k = mat.shape[0]
    q = np.empty((k, c1 - c0), dtype=np.float32)
    colmax = np.empty(c1 - c0)
    step = np.empty(-(-(c1 - c0) // _TILE))
    for j, s0 in enumerate(range(c0, c1, _TILE)):
        s1 = min(c1, s0 + _TILE)
        block = np.asarray(mat[:, s0:s1], dtype=np.float64)
        if is_memmap:
            _check_chunk(block, s0)
        colmax[s0 - c0:s1 - c0] = block.max(axis=0)     # losses are >= 0: this is max |L|
        if w_abs is not None:
            block = block * w_abs[s0:s1]
        # One unit is the largest row sum / (2^24 − T): rint adds at most 1/2 per entry,
        # hence T/2 of head room below 2^24.
        row = float(block.sum(axis=1).max())
        if row == 0.0:
            # An all-zero tile is represented exactly: no rounding error to charge.
            q[:, s0 - c0:s1 - c0], step[j] = 0.0, 0.0
            continue
        if not 1e-280 < row < 1e280:
            # Extreme magnitudes: normalise by the largest entry first so that neither the
            # factor nor the sums leave the float64 range.
            top = float(block.max())
            block = block / top
            row_n = float(block.sum(axis=1).max())
            factor, step[j] = (_EXACT_INT32 - _TILE) / row_n, top * (row_n / (_EXACT_INT32 - _TILE))
        else:
            factor, step[j] = (_EXACT_INT32 - _TILE) / row, row / (_EXACT_INT32 - _TILE)
        units = block * factor                  # a new array: ``block`` may be the caller's memory
        # Whole numbers below 2^24 are exact in float32, so rounding straight into q is exact.
        np.rint(units, out=q[:, s0 - c0:s1 - c0], casting="same_kind")
    return q, colmax, step


# --------------------------------------------------------------------------- Monte Carlo

def rademacher_monte_carlo(losses: Any, *, weights: Any = None, num_draws: int = 1000,
                           seed: int | np.random.Generator = 0, delta: float = 0.05,
                           chunk_size: int | None = None) -> RademacherEstimate:
    """Monte Carlo estimate of E_ξ max_θ Σ_i w_i ξ_i L_i(θ) (Eq. 5 on a finite Θ̂).

    Parameters
    ----------
    losses : array_like or numpy.memmap, shape (num_params, n) or (n,)
        Per-sample losses L_i(θ) >= 0, finite; one row per θ. A memmap is read in
        column chunks and never loaded whole.
    weights : array_like, shape (n,), optional
        Per-sample weights w_i, finite (any sign; ξ is symmetric). Default 1/n (Eq. 5).
    num_draws : int, default 1000
        B independent sign vectors, 1 <= B <= 10^7 (:data:`MAX_DRAWS`).
    seed : int or numpy.random.Generator, default 0
        Same seed, same signs, same value, whatever ``chunk_size``.
    delta : float, default 0.05
        Failure probability, over the sign draws, charged to ``upper``; in (0, 1).
    chunk_size : int, optional
        Columns of the loss matrix held in memory (as float32) at a time, rounded up to a
        multiple of 2048 (``_TILE``). Default: as many as fit in 256 MiB. Does not change the result.

    Returns
    -------
    RademacherEstimate
        ``method="monte-carlo"``.

    Notes
    -----
    Since ξ is symmetric, E_ξ max_θ Σ_i w_i ξ_i L_i(θ) depends on |w| only; |w| is used.

    *Arithmetic.* Each tile of 2048 columns (``_TILE``) of a = |w| ⊙ L is quantised to whole numbers
    q = rint(a / s) with a step s chosen so that every row sum of q is below 2^24; then the
    float32 product of a (draws, tile) ±1 matrix with q^T is **exact** (all partial sums
    are integers below 2^24), whatever BLAS or thread count computes it, and results are
    bitwise reproducible for a seed. Tile results are scaled by s and summed in float64.
    float32 is used because this product is the whole cost and runs about twice as fast
    as in float64. Equal weights (the default 1/n) are applied once at the end.

    *Upper value.* Let a' = s q be the quantised matrix, |a' − a| <= s/2 entrywise. Then
    ``upper`` = value + t + r_q + r_64, holding with probability >= 1 − δ:

    * t = sqrt(Σ_i c_i² ln(1/δ) / (2B)), c_i = 2 max_θ |a'_i(θ)|. Flipping ξ_bi changes
      every Σ_i ξ_bi a'_i(θ) by at most c_i, hence the draw's max by at most c_i; the mean
      of B draws is a function of Bn independent signs with differences c_i / B, and
      McDiarmid's inequality gives P(mean <= E max_θ Σ ξ a' − t) <= δ.
    * r_q = sqrt(2 ln K) · sqrt(Σ_i (s_i/2)²) bounds E max_θ Σ ξ a − E max_θ Σ ξ a'
      <= E max_θ Σ ξ (a − a') by Massart's lemma (0 for K = 1). On the benchmark's
      (64, 50000) matrix it is 1.5e-4 of the value and 1e-3 of t.
    * r_64 = γ_{n_tiles+3} Σ_i max_θ a_i(θ), γ_k = k u/(1 − k u) with the float64 unit
      roundoff u, covers the float64 weighting, scaling and sums across tiles.

    *Memory* is O(K · chunk + 512 · 2048), independent of B. Signs come from the seeded
    Generator's raw 64-bit words, one byte expanded to 8 float32 signs through a table;
    the stream is laid out per (block of 512 draws (``_DRAW_BLOCK``), tile of 2048 columns), so the chunk
    size never changes which sign meets which loss nor any arithmetic. With more than one
    chunk the losses are re-read (and re-quantised) once per block of 512 draws.
    """
    mat = _losses_2d(losses)
    w_abs = np.abs(_weights(weights, mat.shape[1]))
    b_total = check_num_draws(num_draws)
    d = check_delta(delta)
    rng, seed_value = check_random_state(seed)
    cols = _chunk_columns(mat, chunk_size)
    return _monte_carlo(mat, w_abs, b_total, rng, seed_value, d, cols, isinstance(losses, np.memmap))


#: Largest num_draws accepted: the run time is linear in the draws, and 10^7 draws already put
#: the Monte Carlo standard error at 3e-4 of the spread of the per-draw maxima.
MAX_DRAWS = 10 ** 7


def check_num_draws(num_draws: Any) -> int:
    """B, the number of Rademacher sign draws: an integer in [1, :data:`MAX_DRAWS`]."""
    return check_positive_int(num_draws, "num_draws", maximum=MAX_DRAWS,
                              why=" (the run time is linear in the draws)")


def _monte_carlo(mat: np.ndarray, w_abs: np.ndarray, b_total: int, rng: np.random.Generator,
                 seed_value: int | None, d: float, cols: int, is_memmap: bool) -> RademacherEstimate:
    """Core of :func:`rademacher_monte_carlo`; trusts its inputs.

    ``mat`` (K, n) checked losses (a memmap's values are checked here chunk by chunk when
    ``is_memmap``), ``w_abs`` (n,) |weights|, ``cols`` columns per chunk (a multiple of the tile).
    """
    k, n = mat.shape
    chunk_starts = list(range(0, n, cols))
    # Equal weights factor out of the product: scale the float64 result once (max commutes
    # with a non-negative scale) instead of scaling every loss.
    uniform = bool(np.all(w_abs == w_abs[0]))
    scale = float(w_abs[0]) if uniform else 1.0
    w_mat = None if uniform else w_abs

    colmax = np.empty(n)
    steps = np.empty(-(-n // _TILE))
    cached = None
    if len(chunk_starts) == 1:
        # The whole quantised matrix fits: build it once for all draws.
        cached = _quantised_chunk(mat, w_mat, 0, n, is_memmap)
        colmax[:], steps[:] = cached[1], cached[2]

    raw = rng.bit_generator
    signs = np.empty(_DRAW_BLOCK * _TILE, dtype=np.float32)
    partial = np.empty((_DRAW_BLOCK, k), dtype=np.float32)
    count, mean, m2 = 0, 0.0, 0.0                      # running mean and sum of squares
    for b0 in range(0, b_total, _DRAW_BLOCK):
        m = min(_DRAW_BLOCK, b_total - b0)
        acc = np.zeros((m, k))
        for c0 in chunk_starts:
            c1 = min(n, c0 + cols)
            if cached is not None:
                q, _, step = cached
            else:
                q, cm, step = _quantised_chunk(mat, w_mat, c0, c1, is_memmap)
                if b0 == 0:
                    colmax[c0:c1] = cm
                    steps[c0 // _TILE:c0 // _TILE + step.size] = step
            for j, t0 in enumerate(range(c0, c1, _TILE)):
                t1 = min(c1, t0 + _TILE)
                width = t1 - t0
                words = -(-width // 64)
                groups = -(-width // 8)
                # "<u8": little-endian bytes, so the signs do not depend on the platform.
                bits = raw.random_raw(m * words).astype("<u8", copy=False).view(np.uint8)
                bits = bits.reshape(m, words * 8)[:, :groups]
                s3 = signs[:m * groups * 8].reshape(m, groups, 8)
                np.take(_SIGN_TABLE, bits, axis=0, out=s3, mode="wrap")
                s = s3.reshape(m, groups * 8)[:, :width]
                # q[:, tile].T is a transposed view: BLAS reads it in place, no copy.
                np.matmul(s, q[:, t0 - c0:t1 - c0].T, out=partial[:m])
                acc += partial[:m] * step[j]
        block_max = acc.max(axis=1) * scale
        # Chan et al.'s pairwise update: memory O(1) in B, no catastrophic cancellation.
        bm = float(block_max.mean())
        bm2 = float(((block_max - bm) ** 2).sum())
        tot = count + m
        diff = bm - mean
        mean += diff * m / tot
        m2 += bm2 + diff * diff * count * m / tot
        count = tot

    std_error = math.sqrt(m2 / (count - 1) / count) if count > 1 else float("nan")
    half_step = 0.5 * scale * np.repeat(steps, _TILE)[:n]          # max |a'_i − a_i|
    spread = (w_abs if w_mat is not None else scale) * colmax        # max_θ a_i(θ)
    c = 2.0 * (spread + half_step)
    c_scale, c_sq = _scaled_sum_sq(c)
    t = c_scale * math.sqrt(c_sq * -math.log(d) / (2.0 * count))
    h_scale, h_sq = _scaled_sum_sq(half_step)
    r_q = math.sqrt(2.0 * math.log(k)) * (h_scale * math.sqrt(h_sq))
    r_64 = _gamma(steps.size + 3, _U64) * float(spread.sum())
    return RademacherEstimate(value=mean, std_error=std_error, upper=mean + t + r_q + r_64,
                              delta=d, num_draws=count, method="monte-carlo",
                              num_params=k, n=n, seed=seed_value)


def _scaled_sum_sq(v: np.ndarray) -> tuple[float, float]:
    """(s, Σ (v_i/s)²) with s·sqrt(Σ (v_i/s)²) = ||v||_2, free of under- and overflow.

    s = 1 while Σ v_i² is a normal float64 well inside the range (then the sum is the plain
    one, bit for bit); otherwise s = max |v_i|, so that losses scaled to 1e-170 (whose
    squares underflow to 0) still get their deviation terms instead of a silent 0.
    """
    sq = float(np.sum(v ** 2))
    if 1e-280 < sq < 1e280 or not np.any(v):
        return 1.0, sq
    top = float(np.max(np.abs(v)))
    return top, float(np.sum((v / top) ** 2))


def _gamma(k: int, u: float) -> float:
    """Higham's γ_k = k u / (1 − k u): relative error bound of a k-term floating sum."""
    return k * u / (1.0 - k * u)


# --------------------------------------------------------------------------- number of draws

def draws_for_std_error(losses: Any, std_error: float, weights: Any = None) -> int:
    """Sign draws B that make the Monte Carlo standard error of R̂ at most ``std_error``.

    The standard deviation of :func:`rademacher_monte_carlo`'s mean over B draws is at most
    sqrt(V / B), with V below computed from the losses alone (no draws), so

        B = max(2, ceil(V / ε²)),    V = Σ_i max_θ (|w_i| L_i(θ))²,    ε = ``std_error``,

    guarantees a standard error <= ε for this loss matrix, not only on average.

    Parameters
    ----------
    losses : array_like or numpy.memmap, shape (num_params, n) or (n,)
        Per-sample losses L_i(θ) >= 0, finite; one row per θ (as for :func:`rademacher_monte_carlo`).
    std_error : float
        ε > 0, the wanted standard error of R̂ (loss units; the term 2·R̂ of a bound then has
        standard error <= 2ε).
    weights : array_like, shape (n,), optional
        Per-sample weights w_i, default 1/n.

    Returns
    -------
    int
        B >= 2 (two draws give a finite sample standard error).

    Raises
    ------
    ValueError
        When B would exceed 1,000,000 draws: ask for a larger ``std_error``.

    Notes
    -----
    *Why V bounds the variance.* Let f(ξ) = max_θ Σ_i ξ_i a_i(θ) with a_i(θ) = |w_i| L_i(θ) >= 0
    (ξ is symmetric, so the signs of w do not matter). Replacing ξ_i by an independent copy
    changes f only when the sign flips (probability 1/2), and then by at most
    2 m_i, m_i = max_θ a_i(θ). The Efron–Stein inequality gives

        Var_ξ f <= (1/2) Σ_i E[(f(ξ) − f(ξ^(i)))²] <= (1/2) Σ_i (1/2)(2 m_i)² = Σ_i m_i² = V,

    and the mean of B independent draws has variance Var f / B <= V / B. For one θ (K = 1)
    Var f = Σ_i a_i² = V exactly; for several θ the maximum varies less, so the achieved
    error (``RademacherEstimate.std_error``) is usually below ε (on the CIFAR-10-LT records,
    by 1.1-2.2 times).

    *The rigorous deviation shrinks with it.* The McDiarmid deviation in ``upper`` is
    t = sqrt(Σ_i c_i² ln(1/δ) / (2B)) with c_i = 2 m_i (quantisation aside), i.e.
    t = sqrt(2 ln(1/δ)) · sqrt(V / B) <= sqrt(2 ln(1/δ)) · ε: 2.7 ε at δ = 0.025.

    References
    ----------
    Efron, B. and Stein, C. (1981). The jackknife estimate of variance. Ann. Statist. 9(3).
    Boucheron, S., Lugosi, G. and Massart, P. (2013). Concentration Inequalities, Thm. 3.1 and Cor. 3.2.
    """
    mat = _losses_2d(losses)
    w_abs = np.abs(_weights(weights, mat.shape[1]))
    eps = check_finite_scalar(std_error, "std_error", low=0.0, low_open=True)
    v = _draw_variance(mat, w_abs, isinstance(losses, np.memmap))
    b = _draws_for_variance(v, eps)
    if b is None:
        raise ValueError(f"std_error = {eps:g} would need {v / (eps * eps):.3g} sign draws for these losses (more "
                         f"than {_MAX_AUTO_DRAWS:,}); ask for a larger std_error, or pass num_draws")
    return b


def _draw_variance(mat: np.ndarray, w_abs: np.ndarray, is_memmap: bool) -> float:
    """V = Σ_i max_θ (|w_i| L_i(θ))², the bound on the variance of one draw (trusts its inputs)."""
    cols = _chunk_columns(mat, None)
    v = 0.0
    for c0 in range(0, mat.shape[1], cols):
        block = np.asarray(mat[:, c0:c0 + cols], dtype=np.float64)
        if is_memmap:
            _check_chunk(block, c0)
        v += float(((block.max(axis=0) * w_abs[c0:c0 + cols]) ** 2).sum())
    return v


def _draws_for_variance(v: float, eps: float) -> int | None:
    """max(2, ceil(V / ε²)), or None when that exceeds :data:`_MAX_AUTO_DRAWS`."""
    ratio = v / (eps * eps)
    return max(2, math.ceil(ratio)) if ratio <= _MAX_AUTO_DRAWS else None


# --------------------------------------------------------------------------- exact

def rademacher_exact(losses: Any, weights: Any = None) -> RademacherEstimate:
    """Exact E_ξ max_θ Σ_i w_i ξ_i L_i(θ) by enumerating all 2^n sign vectors (Eq. 5).

    Parameters
    ----------
    losses : array_like, shape (num_params, n) or (n,)
        Per-sample losses >= 0, finite; n <= 20.
    weights : array_like, shape (n,), optional
        Per-sample weights, default 1/n.

    Returns
    -------
    RademacherEstimate
        ``method="exact"``, ``std_error=0``, ``upper == value``, ``num_draws = 2**n``.
        Computed in float64; exact up to float64 rounding.
    """
    mat = np.asarray(_losses_2d(np.asarray(losses) if isinstance(losses, np.memmap) else losses),
                     dtype=np.float64)
    k, n = mat.shape
    if n > _EXACT_MAX_N:
        raise ValueError(f"rademacher_exact enumerates 2**n sign vectors and needs n <= {_EXACT_MAX_N}, "
                         f"got n = {n}; use rademacher_monte_carlo for larger n")
    w = _weights(weights, n)
    a_t = (mat * w).T                                  # (n, K)
    total = 2 ** n
    block = min(total, 1 << 14)
    shifts = np.arange(n, dtype=np.int64)
    acc = 0.0
    for start in range(0, total, block):
        codes = np.arange(start, min(total, start + block), dtype=np.int64)
        signs = 1.0 - 2.0 * ((codes[:, None] >> shifts) & 1)
        acc += float((signs @ a_t).max(axis=1).sum())
    value = acc / total
    return RademacherEstimate(value=value, std_error=0.0, upper=value, delta=0.0,
                              num_draws=total, method="exact", num_params=k, n=n, seed=None)


# --------------------------------------------------------------------------- Massart

def massart_bound(losses: Any, weights: Any = None) -> RademacherEstimate:
    """Massart's finite-class lemma: a closed-form ceiling on E_ξ max_θ Σ_i w_i ξ_i L_i(θ).

    For a finite set A ⊂ R^n of K vectors, E_ξ max_{a∈A} Σ_i ξ_i a_i <= r sqrt(2 ln K) with
    r = max_{a∈A} ||a||_2 (Massart 2000). Here a(θ) = w ⊙ L(θ), so

        R̂(Θ̂; D, w) <= max_θ ||w ⊙ L(θ)||_2 · sqrt(2 ln K).

    Parameters
    ----------
    losses : array_like or numpy.memmap, shape (num_params, n) or (n,)
        Per-sample losses >= 0, finite; K is the number of rows as given (duplicate rows
        are not merged, which can only loosen the bound).
    weights : array_like, shape (n,), optional
        Per-sample weights, default 1/n.

    Returns
    -------
    RademacherEstimate
        ``method="massart"``, ``std_error=0``, ``upper == value``, ``num_draws=0``.

    Notes
    -----
    For K = 1 it gives 0, which is exact: E_ξ Σ_i ξ_i a_i = 0 for the signed form.
    """
    mat = _losses_2d(losses)
    k, n = mat.shape
    w = _weights(weights, n)
    is_memmap = isinstance(losses, np.memmap)
    cols = _chunk_columns(mat, None)
    sq, top = np.zeros(k), 0.0
    for c0 in range(0, n, cols):
        block = np.asarray(mat[:, c0:c0 + cols], dtype=np.float64)
        if is_memmap:
            _check_chunk(block, c0)
        a = block * w[c0:c0 + cols]
        top = max(top, float(np.abs(a).max()))
        sq += (a ** 2).sum(axis=1)
    scale = 1.0
    if top > 0 and not float(sq.max()) > 1e-280:
        # The squares underflowed (losses near 1e-170): sum them again scaled by the largest
        # entry, so that the ceiling is not a silent 0. Normal inputs never take this path.
        scale, sq = top, np.zeros(k)
        for c0 in range(0, n, cols):
            sq += ((np.asarray(mat[:, c0:c0 + cols], dtype=np.float64) * w[c0:c0 + cols] / top) ** 2).sum(axis=1)
    value = scale * math.sqrt(float(sq.max())) * math.sqrt(2.0 * math.log(k))
    return RademacherEstimate(value=value, std_error=0.0, upper=value, delta=0.0, num_draws=0,
                              method="massart", num_params=k, n=n, seed=None)
