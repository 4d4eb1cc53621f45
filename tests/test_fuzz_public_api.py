"""Hostile input to the public bound API: every call either refuses with a ValueError/TypeError
whose message names one of the function's arguments, or returns only finite numbers.

Inputs are built from valid ones and then damaged: other dtypes (bool, int, float32, complex,
strings, objects), NaN/inf, extreme magnitudes (1e308, 1e-308, 5e-324, negative), other shapes
(transposed, 3-D, empty, one sample short) and extreme scalars (q, δ, M).
"""
import dataclasses
import inspect
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ltbound

EXTREMES = [np.nan, np.inf, -np.inf, 1e308, -1e308, 1e-308, 5e-324, -1.0, 0.0, 1e200, 1e-200]


def _finite(obj, where="result"):
    """Assert every number in a result (floats, arrays, dataclasses, dicts, lists) is finite."""
    if dataclasses.is_dataclass(obj) and hasattr(obj, "to_dict"):
        return _finite(obj.to_dict(), where)
    if isinstance(obj, dict):
        for k, v in obj.items():
            _finite(v, f"{where}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _finite(v, f"{where}[{i}]")
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc":
            assert np.all(np.isfinite(obj)), f"{where} holds non-finite values {obj}"
        else:
            assert obj.dtype.kind in "biu", f"{where} has dtype {obj.dtype}"
    elif isinstance(obj, (float, np.floating)):
        assert math.isfinite(obj), f"{where} = {obj}"
    elif isinstance(obj, complex):
        raise AssertionError(f"{where} is complex: {obj}")


def _damage(draw, arr):
    """One damaged version of a valid array (or the array itself)."""
    kind = draw(st.sampled_from(["keep", "value", "dtype", "shape", "scale"]))
    a = np.array(arr, dtype=np.float64, copy=True)
    if kind == "value" and a.size:
        idx = draw(st.integers(0, a.size - 1))
        a.flat[idx] = draw(st.sampled_from(EXTREMES))
        return a
    if kind == "scale":
        with np.errstate(over="ignore", under="ignore"):
            return a * draw(st.sampled_from([1e308, 1e-308, 5e-324, 1e200, 1e-200, -1.0]))
    if kind == "dtype":
        to = draw(st.sampled_from(["bool", "int64", "float32", "complex", "str", "object", "list"]))
        if to == "complex":
            return a + 1j
        if to == "str":
            return a.astype(str)
        if to == "object":
            return a.astype(object)
        if to == "list":
            return a.tolist()
        return a.astype(to)
    if kind == "shape":
        how = draw(st.sampled_from(["T", "3d", "empty", "short", "scalar"]))
        if how == "T":
            return a.T
        if how == "3d":
            return a[None]
        if how == "empty":
            return a[..., :0]
        if how == "short":
            return a[..., :-1]
        return a.flat[0] if a.size else 0.0
    return a


@st.composite
def problems(draw):
    c = draw(st.integers(2, 4))
    counts = draw(st.lists(st.integers(1, 6), min_size=c, max_size=c))
    labels = np.repeat(np.arange(c), counts)
    k = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    losses = rng.random((k, labels.size))
    p = rng.dirichlet(np.ones(c))
    return counts, labels, losses, p


SCALARS = st.one_of(st.sampled_from(EXTREMES + [0.05, 0.5, 1.0, 2.0, -2.0, 1e308, -1e308, True, "x", None, 1 + 2j]),
                    st.floats(allow_nan=True, allow_infinity=True))

# (function, builder of its arguments from (draw, valid problem))
CALLS = {
    "estimate_bounds": lambda d, c, y, L, p: ((d(L), d(y), d(p)), dict(loss_range=d.s(1.0), delta=d.s(0.05),
                                                                        num_draws=10, num_bootstrap=0, theta_index=-1)),
    "ib_bound": lambda d, c, y, L, p: ((d(L), d(y)), dict(loss_range=d.s(1.0), delta=d.s(0.05), num_draws=10,
                                                          theta_index=-1)),
    "sampling_bound": lambda d, c, y, L, p: ((d(L), d(y), d(p)), dict(loss_range=d.s(1.0), delta=d.s(0.05),
                                                                       num_draws=10, theta_index=-1)),
    "target_bound": lambda d, c, y, L, p: ((d(L), d(y), d(p)), dict(loss_range=d.s(1.0), delta=d.s(0.05),
                                                                     num_draws=10, theta_index=-1)),
    "sampling_distribution": lambda d, c, y, L, p: ((d(c), d.s(-1.0)), {}),
    "confidence_term_ib": lambda d, c, y, L, p: ((d.s(10), d.s(1.0), d.s(0.05)), {}),
    "confidence_term": lambda d, c, y, L, p: ((d(c), d(p), d.s(1.0), d.s(0.05)), {}),
    "confidence_ratio": lambda d, c, y, L, p: ((d(c), d(p)), {}),
    "rademacher_monte_carlo": lambda d, c, y, L, p: ((d(L),), dict(num_draws=10, delta=d.s(0.05))),
    "rademacher_exact": lambda d, c, y, L, p: ((d(L[:, :8]), ), {}),
    "massart_bound": lambda d, c, y, L, p: ((d(L),), {}),
    "q_residual": lambda d, c, y, L, p: ((d(L), d(y), d(p)), {}),
    "standard_objective": lambda d, c, y, L, p: ((d(L),), {}),
    "weighted_objective": lambda d, c, y, L, p: ((d(L), d(y), d(p)), {}),
    "class_mean_losses": lambda d, c, y, L, p: ((d(L), d(y), len(c)), {}),
    "pearson": lambda d, c, y, L, p: ((d(L[0]), d(L[-1] + np.arange(L.shape[1]))), {}),
    "long_tailed_counts": lambda d, c, y, L, p: ((d.s(100), len(c), d.s(10.0)), {}),
}


class _Drawer:
    """d(array) draws a damaged array; d.s(default) draws the default or a hostile scalar."""

    def __init__(self, draw):
        self.draw = draw

    def __call__(self, arr):
        return _damage(self.draw, arr)

    def s(self, default):
        return self.draw(st.one_of(st.just(default), SCALARS))


@pytest.mark.parametrize("name", sorted(CALLS))
@settings(max_examples=40)
@given(data=st.data(), prob=problems())
def test_hostile_input_is_refused_by_name_or_gives_finite_numbers(name, data, prob):
    func = getattr(ltbound, name)
    counts, labels, losses, p = prob
    args, kwargs = CALLS[name](_Drawer(data.draw), np.array(counts), labels, losses, p)
    params = list(inspect.signature(func).parameters)
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # a numpy warning on the way is a silent number in the making
        try:
            result = func(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            msg = str(exc)
            assert any(p_ in msg for p_ in params) or "class counts of labels" in msg, \
                f"{name}: message names no argument of {params}: {msg!r}"
            return
    _finite(result, name)
