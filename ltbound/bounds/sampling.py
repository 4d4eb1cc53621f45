"""Class-sampling distributions of the q-family (Eq. 1) and long-tailed class counts.

Sampling a training example is two steps (Sect. 3.1): draw a class j with probability
p_j(q) = n_j^q / sum_i n_i^q (Eq. 1), then an example of that class uniformly. Named
members of the family:

=====  =====  =========================================================
name   q      meaning
=====  =====  =========================================================
IB     1      instance-balanced: p_j = n_j / n, every example equally likely
SQRT   0.5    square-root sampling
CB     0      class-balanced: p_j = 1 / C
CR     -1     class-reversed: p_j proportional to 1 / n_j
=====  =====  =========================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import logsumexp

from .._validation import (_describe, check_counts, check_finite_scalar, check_labels, check_num_classes,
                           check_positive_int, check_seed, real_array)

#: q of the named samplers of Sect. 3.1 (Eq. 1).
SAMPLER_Q: dict[str, float] = {"IB": 1.0, "SQRT": 0.5, "CB": 0.0, "CR": -1.0}
_NAME_OF_Q = {q: name for name, q in SAMPLER_Q.items()}

#: Shot-group thresholds used for reporting (Sect. 4.4): many > 100, medium 20-100, few < 20.
MANY_SHOT_MIN = 101
FEW_SHOT_MAX = 19


def parse_sampler(spec: str | float, name: str = "sampler") -> tuple[float, str]:
    """The one reader of the sampler vocabulary: ``(q, canonical name)`` of a sampler spec.

    Every place that takes a sampler (:func:`sampling_distribution`, the bounds' ``p``, the
    trainer's schedules and :class:`ltbound.train.data.sampler.ClassSampler`) reads it here.

    Parameters
    ----------
    spec : str or float
        A named sampler of Eq. 1 ('IB', 'SQRT', 'CB', 'CR'; any case, surrounding blanks
        ignored), the string ``'q=<float>'``, or a finite real q.
    name : str
        The argument name used in error messages.

    Returns
    -------
    q : float
        The exponent of Eq. 1.
    canonical : str
        'IB', 'SQRT', 'CB' or 'CR' for a name, and for a number equal to a named sampler's q;
        ``'q=<q:g>'`` otherwise (a ``'q=...'`` string keeps that form, e.g. 'q=1').
    """
    if isinstance(spec, str):
        text = spec.strip()
        if text[:2].lower() == "q=":
            try:
                value = float(text[2:])
            except ValueError:
                raise ValueError(f"{name} must be one of {sorted(SAMPLER_Q)} or 'q=<float>', got {spec!r}") from None
            value = check_finite_scalar(value, "q")
            return value, f"q={value:g}"
        key = text.upper()
        if key not in SAMPLER_Q:
            raise ValueError(f"{name} must be one of {sorted(SAMPLER_Q)} (a sampler name), 'q=<float>' or a real q, "
                             f"got {spec!r}")
        return SAMPLER_Q[key], key
    value = check_finite_scalar(spec, "q")
    return value, _NAME_OF_Q.get(value, f"q={value:g}")


def sampler_q(name_or_q: str | float) -> float:
    """The exponent q of a named sampler ('IB', 'SQRT', 'CB', 'CR', any case), 'q=<float>' or a number."""
    return parse_sampler(name_or_q)[0]


def sampling_distribution(counts: Any, q: str | float) -> np.ndarray:
    """Class-sampling probabilities p_j(q) = n_j^q / sum_i n_i^q (Eq. 1).

    Parameters
    ----------
    counts : array_like of int, shape (C,)
        Training examples per class, n_j >= 1.
    q : float or {'IB', 'SQRT', 'CB', 'CR'}
        Exponent of the family; any finite real.

    Returns
    -------
    p : ndarray of float64, shape (C,)
        Non-negative, sums to 1.

    Notes
    -----
    Computed in log space, log p_j = q log n_j - logsumexp(q log n), so that large |q| or
    large counts neither overflow nor underflow to 0/0 (n_j^q alone overflows float64 for
    n_j = 10^6, q = 60); for |q| so large that even q log n_j overflows, p is the limit (the
    uniform distribution over the largest classes for q → +∞, the smallest for q → −∞). An
    empty class is refused: n_j^q is undefined for q < 0 and for q >= 0 the example draw of
    step 2 is impossible.
    """
    return _distribution(check_counts(counts), sampler_q(q))


def _distribution(counts: np.ndarray, q: float) -> np.ndarray:
    """Core of :func:`sampling_distribution`: int64 counts (C,) >= 1 and a finite q.

    When |q| is so large that q log n_j overflows (|q| >~ 1e307), the logs are first shifted
    by the extreme class (largest n_j for q > 0, smallest for q < 0), which leaves every
    exponent <= 0 and the extreme classes at exactly 0: p tends to the uniform distribution
    over the largest (q → +∞) or smallest (q → −∞) classes, and this computes that limit.
    The ordinary path is kept for all other q so that its numbers do not change.
    """
    log_n = np.log(counts.astype(np.float64))
    with np.errstate(over="ignore"):
        log_w = q * log_n
        if not np.all(np.isfinite(log_w)):
            log_w = q * (log_n - (log_n.max() if q > 0 else log_n.min()))
    p = np.exp(log_w - logsumexp(log_w))
    return p / p.sum()


def class_counts(labels: Any, num_classes: int) -> np.ndarray:
    """Examples per class, n_j, for labels in [0, num_classes); shape (num_classes,), int64."""
    c = check_num_classes(num_classes)
    y = check_labels(labels, c)
    return np.bincount(y, minlength=c).astype(np.int64)


def long_tailed_counts(n_max: int, num_classes: int, imbalance: float, profile: str = "exp") -> np.ndarray:
    """Per-class counts of the standard CIFAR-LT protocol.

    ``profile="exp"``: n_j = int(n_max * imbalance ** (-j / (C - 1))) for j = 0..C-1
    (the protocol of Cao et al. 2019 and Zhou et al. 2020 that the paper uses; imbalance
    = n_max / n_min, Sect. 4.1). ``profile="step"``: the first half of the classes keep
    n_max, the rest get int(n_max / imbalance).

    CIFAR-10 (n_max 5000): imbalance 100 gives [5000, 2997, 1796, 1077, 645, 387, 232,
    139, 83, 50] (12,406 in all); imbalance 50 gives the cardinality column of Table 12
    (13,996).
    """
    nm = check_positive_int(n_max, "n_max", maximum=2 ** 62 - 1, why=" (a sample count)")
    c = check_num_classes(num_classes)
    beta = check_finite_scalar(imbalance, "imbalance", low=1.0)
    if profile not in ("exp", "step"):
        raise ValueError(f"profile must be 'exp' or 'step', got {profile!r}")
    return _long_tailed_counts(nm, c, beta, profile)


def _long_tailed_counts(nm: int, c: int, beta: float, profile: str) -> np.ndarray:
    """Core of :func:`long_tailed_counts`; trusts its (checked) inputs."""
    if profile == "exp":
        if c == 1:
            return np.array([nm], dtype=np.int64)
        j = np.arange(c, dtype=np.float64)
        # Computed as in the reference implementations (float product, then int()),
        # so that the rounding matches the published counts exactly.
        return np.array([int(nm * beta ** (-jj / (c - 1))) for jj in j], dtype=np.int64)
    head = c // 2                                                       # profile "step"
    return np.array([nm] * head + [int(nm / beta)] * (c - head), dtype=np.int64)


def long_tailed_indices(labels: Any, counts: Any, seed: int = 0) -> np.ndarray:
    """Positions of a long-tailed subset: the first ``counts[j]`` of each class after a seeded shuffle.

    Parameters
    ----------
    labels : array_like of int, shape (N,)
        Labels of the source split, in [0, C) with C = len(counts).
    counts : array_like of int, shape (C,)
        Images to keep per class, n_j >= 1 (e.g. from
        :func:`ltbound.bounds.sampling.long_tailed_counts`).
    seed : int in [0, 2**32)
        Seed of one ``numpy.random.RandomState`` used for all classes in label order.

    Returns
    -------
    indices : ndarray of int64, shape (sum(counts),)
        Positions into ``labels``, grouped by class in label order.

    Notes
    -----
    For each class, its positions in ascending order are shuffled in place by the one
    RandomState, sequentially across classes, and the first n_j kept. This reproduces the
    reference codebases' ``np.random.seed(seed)`` followed by ``np.random.shuffle(idx)``
    per class (the CIFAR-LT protocol of Cao et al. 2019 / Zhou et al. 2020), without
    touching numpy's global random state.
    """
    n = check_counts(counts, "counts")
    y = check_labels(labels, len(n))
    seed = check_seed(seed, maximum=2 ** 32 - 1)                 # a numpy RandomState seed
    available = np.bincount(y, minlength=len(n))
    short = np.flatnonzero(available < n)
    if short.size:
        j = int(short[0])
        raise ValueError(f"counts asks for {int(n[j])} images of class {j} but labels hold only "
                         f"{int(available[j])}; lower n_max or the imbalance")
    rs = np.random.RandomState(seed)
    chosen = []
    for j in range(len(n)):
        idx = np.flatnonzero(y == j)  # ascending positions, int64 (np.where's order)
        rs.shuffle(idx)
        chosen.append(idx[: n[j]])
    return np.concatenate(chosen).astype(np.int64)


def shot_groups(counts: Any) -> dict[str, np.ndarray]:
    """Class indices of the many (> 100), medium (20-100) and few (< 20) shot groups.

    Thresholds of Sect. 4.4 on training examples per class. Returns a dict
    ``{'many': idx, 'medium': idx, 'few': idx}`` of int64 index arrays (possibly empty).
    """
    return _shot_groups(check_counts(counts, allow_zero=True))


def _shot_groups(n: np.ndarray) -> dict[str, np.ndarray]:
    """Core of :func:`shot_groups`: checked int64 counts."""
    return {
        "many": np.flatnonzero(n >= MANY_SHOT_MIN),
        "medium": np.flatnonzero((n > FEW_SHOT_MAX) & (n < MANY_SHOT_MIN)),
        "few": np.flatnonzero(n <= FEW_SHOT_MAX),
    }


def shot_group_means(per_class: Any, counts: Any) -> dict[str, float | None]:
    """Mean of a per-class quantity (e.g. test accuracy) over each shot group of :func:`shot_groups`.

    Non-finite entries (a class with no test sample) are left out; a group with no class, or
    only such entries, gives None. Returns ``{'many': ..., 'medium': ..., 'few': ...}``.
    """
    values = real_array(per_class)
    if values is None:
        raise ValueError(f"per_class must be real numbers, one per class, got {_describe(per_class)}")
    n = check_counts(counts, allow_zero=True)
    if values.shape != n.shape:
        raise ValueError(f"per_class has shape {values.shape} but counts has {n.shape}: one value per class")
    out: dict[str, float | None] = {}
    for group, idx in _shot_groups(n).items():
        v = values[idx]
        v = v[np.isfinite(v)]
        out[group] = float(v.mean()) if v.size else None
    return out
