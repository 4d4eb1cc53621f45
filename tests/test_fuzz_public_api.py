"""Hostile input to the public bound API: every call either refuses with a ValueError/TypeError
whose message names one of the function's arguments, or returns only finite numbers.

Inputs are built from valid ones and then damaged: other dtypes (bool, int, float32, complex,
strings, objects), NaN/inf, extreme magnitudes (1e308, 1e-308, 5e-324, negative), other shapes
(transposed, 3-D, empty, one sample short) and extreme scalars (q, δ, M).

Every scalar argument is also given as a NumPy scalar (float32, float64, int64, complex128,
bool_): a real one must give exactly what the Python number of the same value gives, complex
and bool are refused by name (before, ``confidence_term_ib(10, 1, np.complex128(0.05+1j))``
silently dropped the imaginary part and returned 0.387).
"""
import dataclasses
import inspect
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ltbound
from ltbound.bounds import objectives as _obj, rademacher as _rad

_MODULES = ("bounds.sampling", "bounds.objectives", "bounds.confidence", "bounds.rademacher", "bounds.residual",
            "bounds.estimate", "statistics.heldout", "regularity.events", "regularity.correlation",
            "simulation.problems", "simulation.coverage", "bounds.theorem1",
            "statistics.decomposition", "certificates.pacbayes")


def _func(name):
    """A public function: from the curated top level, else from the module that defines it."""
    import importlib
    if name in ltbound.__all__:
        return getattr(ltbound, name)
    for mod in _MODULES:
        m = importlib.import_module(f"ltbound.{mod}")
        if hasattr(m, name):
            return getattr(m, name)
    raise AttributeError(name)

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


SCALARS = st.one_of(st.sampled_from(EXTREMES + [0.05, 0.5, 1.0, 2.0, -2.0, 1e308, -1e308, True, "x", None, 1 + 2j,
                                                 np.complex128(0.05 + 1j), np.bool_(True), np.float32(0.5),
                                                 np.int64(3), 10 ** 400, -10 ** 400]),
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
    "clopper_pearson": lambda d, c, y, L, p: ((d(c), d(c + 3)), dict(level=d.s(0.95))),
    "detectable_difference": lambda d, c, y, L, p: ((d.s(0.9), d.s(1000)), dict(alpha=d.s(0.05))),
    "compare_over_seeds": lambda d, c, y, L, p: ((d(L[0]), d(L[-1])), dict(alpha=d.s(0.05), paired=d.s(True))),
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
    func = _func(name)
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


# ----------------------------------------------------------------------------- NumPy scalars
_Y = np.repeat(np.arange(3), [5, 3, 2])
_L = np.random.default_rng(3).random((3, _Y.size))
_P = np.array([0.2, 0.3, 0.5])
_BOUND_KW = dict(loss_range=1.0, delta=0.05, num_draws=10, theta_index=-1)

# (function, positional args, keyword args, the scalar arguments to replace: index or name)
SCALAR_CALLS = [
    ("estimate_bounds", (_L, _Y, "CR"), dict(_BOUND_KW, num_bootstrap=2, mc_delta_fraction=0.5),
     ["loss_range", "delta", "num_draws", "theta_index", "num_bootstrap", "mc_delta_fraction", "num_classes"]),
    ("ib_bound", (_L, _Y), _BOUND_KW, ["loss_range", "delta", "num_draws"]),
    ("sampling_bound", (_L, _Y, -0.5), _BOUND_KW, [2, "loss_range", "delta"]),
    ("target_bound", (_L, _Y), _BOUND_KW, ["loss_range", "delta"]),
    ("sampling_distribution", ([5, 3, 2], -1.0), {}, [1]),
    ("confidence_term_ib", (10, 1.0, 0.05), {}, [0, 1, 2]),
    ("confidence_term", ([5, 3, 2], _P, 1.0, 0.05), {}, [2, 3]),
    ("rademacher_monte_carlo", (_L,), dict(num_draws=10, delta=0.05), ["num_draws", "delta"]),
    ("q_residual", (_L, _Y, _P), dict(num_bootstrap=3, level=0.9), ["num_bootstrap", "level"]),
    ("class_mean_losses", (_L, _Y, 3), {}, [2]),
    ("long_tailed_counts", (100, 3, 10.0), {}, [0, 1, 2]),
    ("clopper_pearson", (3, 10), dict(level=0.9), [0, 1, "level"]),
    ("detectable_difference", (0.9, 1000), dict(alpha=0.05), [0, 1, "alpha"]),
    ("compare_over_seeds", ([0.5, 0.6, 0.55], [0.4, 0.5, 0.45]), dict(alpha=0.05), ["alpha"]),
]
_DEFAULTS = {"num_classes": 3}


def _plain(obj):
    """A result as plain Python values (dicts, lists, floats) for an exact comparison."""
    if dataclasses.is_dataclass(obj) and hasattr(obj, "to_dict"):
        return _plain(obj.to_dict())
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


def _outcome(func, args, kwargs, slot, value):
    args, kwargs = list(args), dict(kwargs)
    if isinstance(slot, int):
        args[slot] = value
    else:
        kwargs[slot] = value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return "ok", _plain(func(*args, **kwargs))
        except ValueError as exc:
            return "refused", str(exc)


def _scalar_cases():
    for name, args, kwargs, slots in SCALAR_CALLS:
        params = list(inspect.signature(_func(name)).parameters)
        for slot in slots:
            arg = params[slot] if isinstance(slot, int) else slot
            base = args[slot] if isinstance(slot, int) else kwargs.get(slot, _DEFAULTS.get(slot))
            yield pytest.param(name, args, kwargs, slot, arg, base, id=f"{name}-{arg}")


@pytest.mark.parametrize("name, args, kwargs, slot, arg, base", list(_scalar_cases()))
def test_numpy_scalars_act_as_the_python_number_or_are_refused_by_name(name, args, kwargs, slot, arg, base):
    func = _func(name)
    for np_type, to_py in [(np.float64, float), (np.float32, float), (np.int64, int)]:
        value = np_type(base)
        if np_type is np.int64 and value != base:
            continue                        # 0.05 as an int64 is another number; its python twin is tested below
        got, want = _outcome(func, args, kwargs, slot, value), _outcome(func, args, kwargs, slot, to_py(value))
        assert got[0] == want[0], f"{name}({arg}={value!r}): {got} but the Python number gives {want}"
        if got[0] == "ok":
            assert got[1] == want[1], f"{name}({arg}={value!r}) differs from {to_py(value)!r}"
    assert _outcome(func, args, kwargs, slot, base)[0] == "ok", "the base value must be valid"
    for bad in (np.complex128(base + 1j), np.complex128(base), np.bool_(True), np.bool_(False), True):
        kind, msg = _outcome(func, args, kwargs, slot, bad)
        assert kind == "refused", f"{name}({arg}={bad!r}) was accepted: {msg}"
        assert arg in msg or (name == "sampling_distribution" and "q" in msg), msg


def test_the_complex_reproducer_is_refused():
    with pytest.raises(ValueError, match="delta must be a real number.*complex"):
        ltbound.confidence_term_ib(10, 1, np.complex128(0.05 + 1j))


# ----------------------------------------------------------------------------- pinned reproducers
# Each of these gave a silent or unclear result on main (issue 24, "reproducers from the fuzz run").

@pytest.mark.parametrize("q, want", [(1e308, [1.0, 0.0]), (-1e308, [0.0, 1.0]), (1e300, [1.0, 0.0])])
def test_sampling_distribution_reaches_its_limit_for_huge_q(q, want):
    """p_j(q) ∝ n_j^q tends to all mass on the largest class (q → +∞) or the smallest (q → −∞);
    main returned [nan nan] (q log n_j overflowed to inf − inf) and the bounds then blamed p."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(ltbound.sampling_distribution([100, 10], q), want)


def test_sampling_distribution_splits_the_limit_over_tied_classes_and_bounds_accept_it():
    np.testing.assert_array_equal(ltbound.sampling_distribution([100, 100, 10], 1e308), [0.5, 0.5, 0.0])
    rep = ltbound.estimate_bounds(_L, _Y, 1e308, theta_index=0, num_draws=10)
    np.testing.assert_array_equal(rep.sampling.p, [1.0, 0.0, 0.0])
    assert math.isfinite(rep.sampling.total)
    # an ordinary q keeps its ordinary value (the limit path is taken only on overflow)
    np.testing.assert_allclose(ltbound.sampling_distribution([100, 10], 2.0), [100 ** 2 / 10100, 100 / 10100])


def test_compare_over_seeds_needs_a_real_bool_for_paired():
    with pytest.raises(ValueError, match="paired must be True"):
        ltbound.compare_over_seeds([1, 2, 3], [1, 2, 4], paired="no")     # main ran a paired test
    assert ltbound.compare_over_seeds([1, 2, 3], [1, 2, 4], paired=np.bool_(False)).method == "Welch t"


@pytest.mark.parametrize("successes, trials, arg", [(3, np.nan, "trials"), (np.nan, 10, "successes"),
                                                    (3, np.inf, "trials"), (np.array([True]), 2, "successes")])
def test_clopper_pearson_refuses_non_finite_or_boolean_counts(successes, trials, arg):
    with pytest.raises(ValueError, match=arg):
        ltbound.clopper_pearson(successes, trials)             # main: (3, nan) gave (nan, 1.0)


def test_detectable_difference_is_finite_for_tiny_alpha():
    """z_{1−α/2} solves erfc(z/√2) = α; main computed ppf(1 − α/2), and 1 − 5e-17 rounds to 1 (inf).
    Oracle: z = √2 erfinv(1 − α) in mpmath at 400 digits, enough to hold 1 − 5e-324 exactly
    (α = 5e-324, whose α/2 underflows to 0 in float64, included)."""
    mpmath = pytest.importorskip("mpmath")
    for alpha in (1e-16, 1e-100, 1e-323, 5e-324):
        with mpmath.workdps(400):
            z = float(mpmath.sqrt(2) * mpmath.erfinv(1 - mpmath.mpf(alpha)))
        got = ltbound.detectable_difference(0.9, 1000, alpha=alpha)
        assert math.isfinite(got) and got == pytest.approx(z * math.sqrt(2 * 0.9 * 0.1 / 1000), rel=1e-12)
    assert ltbound.detectable_difference(0.9, 1000, alpha=1e-16) > ltbound.detectable_difference(0.9, 1000)


@pytest.mark.parametrize("paired", [True, False])
def test_compare_over_seeds_refuses_values_that_overflow_the_variance(paired):
    with pytest.raises(ValueError, match="values_a must be at most 1e\\+100"):
        ltbound.compare_over_seeds([1e200, 2e200, 3e200], [1e200, 2.5e200, 3e200], paired=paired)  # main: inf


@pytest.mark.parametrize("scale", [1e-170, 1e-200, 1e-300])
def test_monte_carlo_term_is_scale_invariant_for_tiny_losses(scale):
    """Every bound term scales with the losses. Main: the rigorous monte_carlo term (a sum of
    squares under a root) underflowed to 0 below ~1e-170, a silent loss of a rigorous term."""
    ref = ltbound.estimate_bounds(_L, _Y, "CR", loss_range=1.0, theta_index=0, num_draws=20)
    tiny = ltbound.estimate_bounds(_L * scale, _Y, "CR", loss_range=scale, theta_index=0, num_draws=20)
    for bound in ("ib", "sampling", "target"):
        want = getattr(ref, bound).term("monte_carlo").value
        got = getattr(tiny, bound).term("monte_carlo").value / scale
        assert want > 0 and got == pytest.approx(want, rel=1e-9), bound
    assert _rad.massart_bound(_L * scale).value / scale == pytest.approx(_rad.massart_bound(_L).value,
                                                                           rel=1e-12)


@pytest.mark.parametrize("call, arg", [
    (lambda: ltbound.confidence_term_ib(10, 10 ** 309, 0.5), "loss_range"),      # main: OverflowError
    (lambda: ltbound.confidence_term_ib(10 ** 309, 1.0, 0.5), "n"),              # main: OverflowError
    (lambda: ltbound.long_tailed_counts(100, 3, 10 ** 400), "imbalance"),
    (lambda: ltbound.rademacher_monte_carlo(_L, num_draws=10 ** 30), "num_draws"),   # main: hangs
    (lambda: ltbound.estimate_bounds(_L, _Y, "CR", theta_index=0, num_draws=10 ** 30), "num_draws"),
    (lambda: ltbound.q_residual(_L, _Y, _P, num_bootstrap=10 ** 30), "num_bootstrap"),
    (lambda: ltbound.estimate_bounds(_L[:, :3], [0, 1, 2 ** 40], "CR", theta_index=0), "labels"),  # main: 8 TiB
    (lambda: _obj.class_mean_losses(_L, _Y, 2 ** 40), "num_classes"),
    (lambda: ltbound.estimate_bounds(_L, _Y, "CR", theta_index=0, num_classes=2 ** 40), "num_classes"),
    (lambda: ltbound.estimate_bounds(_L, _Y, "CR", theta_index=0, seed=2 ** 64), "seed"),
])
def test_huge_integers_are_refused_at_the_boundary_by_name(call, arg):
    with pytest.raises(ValueError, match=rf"\b{arg}\b must be"):
        call()


def test_documented_maxima_are_accepted():
    """The maxima are limits, not off-by-one refusals: the largest values pass the checks."""
    from ltbound._validation import MAX_CLASSES, MAX_SEED, check_num_classes, check_seed
    from ltbound.bounds.rademacher import MAX_DRAWS, check_num_draws
    assert check_num_classes(MAX_CLASSES) == MAX_CLASSES and check_seed(MAX_SEED) == MAX_SEED
    assert check_num_draws(MAX_DRAWS) == MAX_DRAWS


def test_clopper_pearson_refuses_counts_beyond_float_precision():
    """Found by the hostile-input fuzz: 1e308 trials gave a NaN lower limit with no error."""
    with pytest.raises(ValueError, match="trials must be counts of at most 2\\*\\*62"):
        ltbound.clopper_pearson(0, 1e308)
    low, high = ltbound.clopper_pearson(0, 2 ** 40)
    assert np.isfinite(low) and np.isfinite(high)
