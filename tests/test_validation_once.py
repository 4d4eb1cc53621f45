"""The validation contract: a public function checks each argument once, then calls private cores.

Measured on the main branch before this contract (one ``estimate_bounds`` call with a
vector p and a vector target): ``check_delta`` ran 6 times, the class-weight vector p was
checked 8 times, the losses and the labels 8 times each, M 4 times, the seed 4 times. The
tests count every checker call in one public call, by replacing the checker in every ltbound
module that looks it up, so a core that calls a public function again fails them.
"""
import collections
import sys

import numpy as np
import pytest

import ltbound
# Loaded before the fixture patches them (ltbound's top level imports its modules lazily).
import ltbound.bounds.estimate
import ltbound.bounds.confidence
import ltbound.bounds.objectives
import ltbound.bounds.rademacher
import ltbound.bounds.residual
import ltbound.bounds.sampling
import ltbound.simulation.coverage
import ltbound.simulation.problems
from ltbound import _validation

CHECKERS = ("check_delta", "check_finite_scalar", "check_probability_vector", "check_losses", "check_labels",
            "check_counts", "check_seed", "check_random_state", "check_positive_int", "check_num_classes")


@pytest.fixture
def calls(monkeypatch):
    """Counter of (checker, argument name) over every ltbound module's checker look-ups."""
    counter = collections.Counter()
    for fname in CHECKERS:
        orig = getattr(_validation, fname)

        def counting(*args, _orig=orig, _fname=fname, **kwargs):
            name = args[1] if len(args) > 1 and isinstance(args[1], str) else kwargs.get("name", "")
            counter[(_fname, name)] += 1
            return _orig(*args, **kwargs)

        for mod in list(sys.modules.values()):
            if getattr(mod, "__name__", "").startswith("ltbound") and getattr(mod, fname, None) is orig:
                monkeypatch.setattr(mod, fname, counting)
    return counter


def _problem():
    y = np.repeat(np.arange(3), [5, 3, 2])
    losses = np.random.default_rng(0).random((4, y.size))
    return losses, y


def test_estimate_bounds_checks_delta_once(calls):
    losses, y = _problem()
    ltbound.estimate_bounds(losses, y, "CR", theta_index=0, num_draws=20)
    assert calls[("check_delta", "")] == 1
    assert calls[("check_finite_scalar", "delta")] == 1


def test_estimate_bounds_checks_the_class_weights_once(calls):
    losses, y = _problem()
    ltbound.estimate_bounds(losses, y, np.array([0.2, 0.3, 0.5]), target=np.array([0.3, 0.3, 0.4]),
                            theta_index=0, num_draws=20, num_bootstrap=5)
    assert calls[("check_probability_vector", "p")] == 1
    assert calls[("check_probability_vector", "target_prior")] == 1


def test_estimate_bounds_checks_losses_labels_counts_range_and_seed_once(calls):
    losses, y = _problem()
    ltbound.estimate_bounds(losses, y, "CB", loss_range=2.0, theta_index=0, num_draws=20, num_bootstrap=5)
    assert calls[("check_losses", "")] == 1
    assert calls[("check_labels", "")] == 1
    assert sum(v for (f, _), v in calls.items() if f == "check_counts") == 1
    assert calls[("check_finite_scalar", "loss_range")] == 1          # through check_m, the one check of M
    assert calls[("check_random_state", "")] == 1
    assert calls[("check_seed", "seed")] == 1
    assert calls[("check_positive_int", "num_draws")] == 1


def test_each_bound_checks_delta_and_losses_once(calls):
    losses, y = _problem()
    for func, args in [(ltbound.ib_bound, ()), (ltbound.sampling_bound, ("CR",)), (ltbound.target_bound, ())]:
        calls.clear()
        func(losses, y, *args, loss_range=1.0, theta_index=0, num_draws=20)
        assert calls[("check_delta", "")] == 1, func.__name__
        assert calls[("check_losses", "")] == 1, func.__name__


def test_the_counter_sees_a_repeated_check():
    """The counting fixture can fail: the public functions called one after another check twice."""
    counter = collections.Counter()
    orig = _validation.check_delta
    import ltbound.bounds.confidence as conf

    def counting(*args, **kwargs):
        counter["delta"] += 1
        return orig(*args, **kwargs)

    conf.check_delta = counting
    try:
        ltbound.confidence_term_ib(10, 1.0, 0.05)
        ltbound.confidence_term([5, 5], [0.5, 0.5], 1.0, 0.05)
    finally:
        conf.check_delta = orig
    assert counter["delta"] == 2


def test_run_coverage_checks_delta_once_for_all_draws(calls):
    prob = ltbound.simulation.problems.make_problem(num_classes=3, n_max=20, imbalance=4.0, num_hypotheses=4,
                                         num_risk_samples=200, seed=0)
    calls.clear()
    ltbound.simulation.coverage.run_coverage(prob, num_draws=3, num_sign_draws=10, seed=1)
    assert calls[("check_delta", "")] == 1
    assert calls[("check_losses", "")] == 0          # the draws are built here, not passed in


def test_one_seed_checker():
    """check_seed is the only definition of a valid seed: the private checkers are gone, and
    ints, numpy ints and Generators behave alike wherever a seed is taken."""
    import ltbound.simulation.problems
    import ltbound.train.data.datasets as data
    assert not hasattr(ltbound.simulation.problems, "_seed_int") and not hasattr(data, "_check_seed32")
    assert _validation.check_seed(np.int64(7)) == 7
    for bad in (-1, 3.0, None, True, np.bool_(False), "1", 2 ** 64):
        with pytest.raises(ValueError, match="seed must be"):
            _validation.check_seed(bad)
    with pytest.raises(ValueError, match=r"split_seed must be an integer >= 0 and <= 2\*\*32 - 1"):
        _validation.check_seed(2 ** 32, "split_seed", maximum=2 ** 32 - 1)
    g = np.random.default_rng(1)
    assert _validation.check_random_state(g) == (g, None)
    a, s = _validation.check_random_state(np.int64(4))
    assert s == 4 and a.random() == np.random.default_rng(4).random()
