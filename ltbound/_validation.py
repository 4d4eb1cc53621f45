"""Input checks at the public boundary.

Every public function of ltbound calls these first, so that bad input fails with a
``ValueError`` that names the argument, what it got and what it needs, instead of a
silent wrong number or a traceback from inside numpy.

The contract (scikit-learn's): a public function checks each argument once, then calls
private cores (``_name``, beside the public function) that trust their inputs and never
check again; a public function does not call another public function, whose checks would
run a second time. ``tests/test_validation_once.py`` counts the checks of one call.

Masked arrays (``numpy.ma``) are refused everywhere (:func:`check_not_masked`): numpy's
functions drop the mask and use the masked values, so a mask would be silently ignored.

Scalars: Python and NumPy real numbers are accepted and give the same float; bools,
complex numbers (NumPy's too, whose float() silently drops the imaginary part), strings
and integers beyond the float64 range are refused. Integers have documented maxima
(:data:`MAX_INT`, :data:`MAX_CLASSES`, :data:`MAX_SEED`) so that a stray huge value fails
here instead of overflowing, hanging or allocating terabytes further in.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def _describe(x: Any) -> str:
    arr = np.asarray(x) if not np.isscalar(x) else None
    if arr is not None and arr.ndim > 0:
        return f"an array of shape {arr.shape} and dtype {arr.dtype}"
    return repr(x)


def check_not_masked(x: Any, name: str) -> None:
    """Refuse a numpy masked array: np.asarray drops its mask and every masked value would be used."""
    if isinstance(x, np.ma.MaskedArray):
        raise ValueError(f"{name} is a numpy masked array: its mask would be ignored and the masked values used; "
                         f"pass the values you mean as a plain array ({name}.compressed() drops the masked "
                         f"entries, {name}.filled(v) replaces them)")


def real_array(x: Any, name: str = "the argument") -> np.ndarray | None:
    """``x`` as a float64 array, or None if it is not real numbers (complex, strings, objects, ragged).

    A masked array raises ValueError naming ``name`` (:func:`check_not_masked`).
    """
    check_not_masked(x, name)
    try:
        arr = np.asarray(x)
    except ValueError:      # ragged nested sequences
        return None
    if arr.dtype.kind not in "biuf":
        return None
    return arr.astype(np.float64)


def _is_real_scalar(value: Any) -> bool:
    """A real number: int, float, NumPy integer/floating, or another numbers.Real (Fraction).

    Refused: bool (True is not a number of samples or a probability), complex (float() of a
    NumPy complex silently drops the imaginary part), strings (float("0.05") would parse), and
    0-d arrays of those kinds.
    """
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iuf"
    if isinstance(value, (bool, np.bool_, str, bytes, complex, np.complexfloating)):
        return False
    return isinstance(value, (numbers.Real, np.integer, np.floating))


def check_finite_scalar(value: Any, name: str, *, low: float | None = None,
                        high: float | None = None, low_open: bool = False,
                        high_open: bool = False) -> float:
    """Return ``value`` as a float after checking it is a finite real in the given range.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``. Python and NumPy real
    scalars give the same float; bools, complex numbers (NumPy's too), strings and integers
    beyond the float64 range are refused with a ValueError naming ``name``.
    """
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a real number, got the boolean {value!r}")
    check_not_masked(value, name)
    if not _is_real_scalar(value):
        kind = " (complex: pass the real part only if the imaginary part is truly 0)" \
            if np.iscomplexobj(value) else ""
        raise ValueError(f"{name} must be a real number, got {_describe(value)}{kind}")
    try:
        v = float(value)
    except OverflowError:       # a Python int beyond 1.8e308
        raise ValueError(f"{name} must be finite, got an integer of {len(str(abs(int(value))))} digits "
                         "(beyond the float64 range)") from None
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {_describe(value)}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v!r}")
    if low is not None and (v < low or (low_open and v == low)):
        op = ">" if low_open else ">="
        raise ValueError(f"{name} must be {op} {low}, got {v!r}")
    if high is not None and (v > high or (high_open and v == high)):
        op = "<" if high_open else "<="
        raise ValueError(f"{name} must be {op} {high}, got {v!r}")
    return v


def check_delta(delta: Any, name: str = "delta") -> float:
    """A confidence parameter: a float strictly inside (0, 1).

    Any such δ, down to the smallest subnormal 5e-324, gives finite confidence terms, which
    use ln(1/δ) = -ln δ <= 744.5.
    """
    return check_finite_scalar(delta, name, low=0.0, high=1.0, low_open=True, high_open=True)


#: Largest integer a count-like argument (num_draws, num_bootstrap, n, ...) may take unless
#: its checker says otherwise: sample counts are int64 everywhere (and below 2**62 in check_counts).
MAX_INT = 2 ** 62


def check_positive_int(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None,
                       why: str = "") -> int:
    """An integer in [``minimum``, ``maximum``] (bools and non-integral floats are refused).

    ``maximum`` defaults to :data:`MAX_INT`; ``why`` (a clause) says why an argument has a
    smaller maximum, e.g. the run time it would take.
    """
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {float(value)!r}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {int(value)}")
    top = MAX_INT if maximum is None else maximum
    if int(value) > top:
        shown = f"{int(value)}" if int(value) < 10 ** 30 else f"an integer of {len(str(int(value)))} digits"
        raise ValueError(f"{name} must be at most {top:_}{why}, got {shown}")
    return int(value)


#: Largest number of classes (and largest class label + 1): per-class arrays are allocated
#: with one entry per class, so a stray label of 2**40 would ask for terabytes.
MAX_CLASSES = 2 ** 24


def check_num_classes(value: Any, name: str = "num_classes", *, minimum: int = 1) -> int:
    """C, the number of classes: an integer in [``minimum``, :data:`MAX_CLASSES`]."""
    return check_positive_int(value, name, minimum=minimum, maximum=MAX_CLASSES,
                              why=" (one entry per class is allocated)")


def check_counts(counts: Any, name: str = "counts", *, allow_zero: bool = False) -> np.ndarray:
    """Per-class sample counts n_j: a non-empty 1-D array of non-negative integers.

    Returns an int64 copy. With ``allow_zero=False`` (the default) every class must
    have at least one sample, since p_j(q) (Eq. 1) and p_j / n_j are undefined for
    an empty class.
    """
    check_not_masked(counts, name)
    arr = np.asarray(counts)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of per-class counts, got {_describe(counts)}")
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold whole numbers, got {arr.tolist()}")
        if np.any(np.abs(arr) > 2.0 ** 62):
            raise ValueError(f"{name} must hold sample counts below 2**62, got {arr.tolist()}")
    arr = arr.astype(np.int64)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got {arr.tolist()}")
    if not allow_zero and np.any(arr == 0):
        empty = np.flatnonzero(arr == 0).tolist()
        raise ValueError(
            f"{name} has empty classes {empty}: every class needs at least one sample "
            "(p_j / n_j is undefined for n_j = 0); drop empty classes or relabel first")
    return arr


def check_losses(losses: Any, name: str = "losses", *, ndim: tuple[int, ...] = (1, 2),
                 allow_negative: bool = False) -> np.ndarray:
    """A loss vector (n,) or matrix (num_params, n): finite and (by default) non-negative.

    numpy memmaps are returned as they are (not copied), so that chunked code can stream
    them; their finiteness is checked chunk by chunk by the caller.
    """
    if isinstance(losses, np.memmap):
        if losses.ndim not in ndim:
            raise ValueError(f"{name} must have {' or '.join(map(str, ndim))} dimensions, got shape {losses.shape}")
        if losses.size == 0:
            raise ValueError(f"{name} must not be empty, got shape {losses.shape}")
        return losses
    check_not_masked(losses, name)
    arr = np.asarray(losses)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}"
                         + ("; losses are real: take .real only if the imaginary part is truly 0"
                            if arr.dtype.kind == "c" else ""))
    if arr.ndim not in ndim:
        want = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be {want} (a loss vector (n,) or a loss matrix (num_params, n)), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False) if arr.dtype != np.float32 else arr
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite, found {arr[first]!r} at index {first}; "
                         "clip or drop non-finite losses first")
    if not allow_negative and np.any(arr < 0):
        first = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise ValueError(f"{name} must be non-negative (a loss), found {arr[first]!r} at index {first}")
    check_loss_magnitude(arr, name)
    return arr


#: largest loss magnitude accepted: sums, squares and sign-weighted sums of losses up to 1e100
#: over any realistic number of samples stay far inside float64 (max 1.8e308).
MAX_LOSS = 1e100


def check_loss_magnitude(arr: np.ndarray, name: str = "losses", offset: int = 0) -> None:
    """Refuse losses above :data:`MAX_LOSS` in magnitude (they would overflow the bound terms)."""
    if arr.dtype.kind != "f" or float(np.finfo(arr.dtype).max) <= MAX_LOSS:
        return                  # ints, bools, float16/32: finite values are below MAX_LOSS already
    big = np.abs(arr) > MAX_LOSS
    if big.any():
        first = tuple(int(i) for i in np.argwhere(big)[0])
        where = first if not offset else (*first[:-1], first[-1] + offset)
        raise ValueError(f"{name} must be at most {MAX_LOSS:g} in magnitude (larger values overflow sums and "
                         f"squares), found {arr[first]!r} at index {where}; rescale the losses (every bound "
                         "term scales with them)")


def check_m(loss_range: Any, name: str = "loss_range") -> float:
    """M, the range of a bounded loss: a finite float in (0, :data:`MAX_LOSS`].

    The one check of M (the bounds and the confidence terms call it); above MAX_LOSS the
    confidence terms M·sqrt(ln(1/δ)/2)·... overflow float64.
    """
    return check_finite_scalar(loss_range, name, low=0.0, low_open=True, high=MAX_LOSS)


def _first_bad(arr: np.ndarray) -> str:
    bad = ~np.isfinite(arr) | (arr != np.round(arr))
    return repr(float(arr.flat[int(np.flatnonzero(bad.ravel())[0])])) if bad.any() else "whole numbers"


def check_labels(labels: Any, num_classes: int | None = None, name: str = "labels") -> np.ndarray:
    """Integer class labels in [0, num_classes) as an int64 1-D array."""
    check_not_masked(labels, name)
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of class indices, got {_describe(labels)}")
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold whole numbers (finite), got {_first_bad(arr)}")
        if np.any(np.abs(arr) > 2.0 ** 62):
            raise ValueError(f"{name} must hold class indices, got {float(arr[np.argmax(np.abs(arr))])!r}")
    arr = arr.astype(np.int64)
    if num_classes is None and arr.max() >= MAX_CLASSES:
        raise ValueError(f"{name} must be class indices below {MAX_CLASSES:_} (one entry per class is "
                         f"allocated), found {int(arr.max())}; relabel the classes 0..C-1")
    if num_classes is not None:
        if arr.min() < 0 or arr.max() >= num_classes:
            bad = arr[(arr < 0) | (arr >= num_classes)]
            raise ValueError(f"{name} must lie in [0, {num_classes}), found {int(bad[0])}; "
                             "pass the right num_classes or relabel")
    elif arr.min() < 0:
        raise ValueError(f"{name} must be non-negative class indices, found {int(arr.min())}")
    return arr


def check_probability_vector(p: Any, name: str = "p", *, size: int | None = None,
                             atol: float = 1e-9) -> np.ndarray:
    """A probability vector: 1-D, finite, non-negative, summing to 1 within ``atol``."""
    arr = real_array(p, name)
    if arr is None or arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D probability vector, got {_describe(p)}")
    if size is not None and arr.size != size:
        raise ValueError(f"{name} must have one entry per class ({size}), got {arr.size}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative, got {arr.tolist()}")
    s = float(arr.sum())
    if abs(s - 1.0) > atol * max(1, arr.size):
        raise ValueError(f"{name} must sum to 1, got sum {s!r}; normalise it (p / p.sum())")
    return arr


def check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """The last axis of ``a`` (samples) must match the length of ``b``."""
    if a.shape[-1] != b.shape[0]:
        raise ValueError(f"{name_a} has {a.shape[-1]} samples (last axis) but {name_b} has {b.shape[0]}; "
                         "they must describe the same samples in the same order")


#: Largest accepted integer seed: torch.Generator.manual_seed takes seeds below 2**64, and a
#: seed recorded in a run record must fit an unsigned 64-bit integer.
MAX_SEED = 2 ** 64 - 1


def check_seed(seed: Any, name: str = "seed", *, maximum: int = MAX_SEED, _or: str = "") -> int:
    """The one seed checker: an explicit integer seed in [0, ``maximum``].

    Python and NumPy integers are accepted; bools, floats (3.0 is not a seed), None (no
    implicit entropy: the standards require an explicit seed) and negative numbers are refused.
    ``maximum`` is lower where a consumer needs it (2**32 − 1 for numpy's RandomState).
    Use :func:`check_random_state` where a numpy Generator is also accepted.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= int(seed) <= maximum:
        top = "2**64 - 1" if maximum == MAX_SEED else ("2**32 - 1" if maximum == 2 ** 32 - 1 else f"{maximum}")
        shown = repr(seed) if not isinstance(seed, (int, np.integer)) or abs(int(seed)) < 10 ** 30 \
            else f"an integer of {len(str(int(seed)))} digits"
        raise ValueError(f"{name} must be {_or}an integer >= 0 and <= {top} (an explicit seed), got {shown}")
    return int(seed)


def check_random_state(seed: Any, name: str = "seed") -> tuple[np.random.Generator, int | None]:
    """A seed or a numpy Generator, as the Generator to draw from (scikit-learn's check_random_state).

    Returns ``(generator, seed_value)``; ``seed_value`` is None for a Generator (used as it
    is, its state advancing), so results can record the integer seed that reproduces them
    when there is one. Integers are checked by :func:`check_seed`.
    """
    if isinstance(seed, np.random.Generator):
        return seed, None
    s = check_seed(seed, name, _or="a numpy Generator or ")
    return np.random.default_rng(s), s


def check_theta_index(theta_index: Any, num_rows: int) -> int:
    """The row of a ``(num_rows, n)`` loss matrix that is the model θ, as a nonnegative index.

    One convention for the whole library: a loss matrix has no default "model row". With one
    row there is nothing to choose (``None`` means row 0); with more, the caller must say
    which row is the model, because the builders order rows differently (perturbations put
    the model in row 0, a run's checkpoints put the final model last).
    """
    if theta_index is None:
        if num_rows == 1:
            return 0
        raise ValueError(f"theta_index is required for a loss matrix with {num_rows} rows: pass the row of "
                         "the model whose bound you want (0 for perturbation_loss_matrix and "
                         "model_loss_matrix, whose row 0 is the unperturbed model; -1 for checkpoints in "
                         "training order, whose last row is the final model)")
    if isinstance(theta_index, (bool, np.bool_)) or not isinstance(theta_index, (int, np.integer)):
        raise ValueError(f"theta_index must be an integer row of the loss matrix, got {theta_index!r}")
    if not -num_rows <= int(theta_index) < num_rows:
        raise ValueError(f"theta_index must lie in [{-num_rows}, {num_rows}) for a loss matrix with "
                         f"{num_rows} rows, got {theta_index}")
    return int(theta_index) % num_rows


def check_p_values(p_values: Any, name: str = "p_values") -> np.ndarray:
    """A 1-D array of p-values in [0, 1]; NaN marks an entry that was not tested (kept as NaN).

    Refused: strings, bools, complex, masked arrays, other shapes, ±inf and values outside
    [0, 1] (a p-value is a probability; an inf is not "untested" and would shrink the family).
    """
    arr = real_array(p_values, name)
    if arr is None or np.asarray(p_values).dtype.kind == "b":
        raise ValueError(f"{name} must be real numbers (p-values in [0, 1], NaN for untested), got {_describe(p_values)}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of p-values (one family), got shape {arr.shape}; "
                         "adjust each family separately")
    bad = ~np.isnan(arr) & ~((arr >= 0) & (arr <= 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must lie in [0, 1] (NaN marks an untested entry), found {float(arr[i])!r} at index {i}")
    return arr


def check_real_vector(x: Any, name: str, *, size: int | None = None, min_size: int = 1,
                      nonnegative: bool = False, size_of: str = "") -> np.ndarray:
    """A 1-D array of finite real numbers (bools, strings, complex and masked arrays refused).

    ``size`` (with ``size_of``, what the size must match, for the message) fixes the length;
    else at least ``min_size`` entries. ``nonnegative`` refuses negative values.
    """
    arr = real_array(x, name)
    if arr is None or np.asarray(x).dtype.kind == "b":
        raise ValueError(f"{name} must be real numbers, got {_describe(x)}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence, got shape {arr.shape}")
    if size is not None and arr.size != size:
        raise ValueError(f"{name} must have one entry per {size_of} ({size}), got {arr.size}")
    if arr.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} entr{'y' if min_size == 1 else 'ies'}, got {arr.size}")
    bad = ~np.isfinite(arr) | ((arr < 0) if nonnegative else False)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        need = "finite and >= 0" if nonnegative else "finite"
        raise ValueError(f"{name} must be {need}, found {float(arr[i])!r} at index {i}")
    return arr
