"""Issue 30, public functions that checked nothing: each bad input below gave a silent number or a
numpy traceback; now a ValueError naming the argument. And certified_risk never gets looser as δ grows.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ltbound.statistics.decomposition import zero_one_decomposition
from ltbound.statistics.heldout import RISK_METHODS, certified_risk, clopper_pearson, compare_over_seeds
from ltbound.certificates.kl_bounds import gaussian_kl, kl_inverse_upper
from ltbound.certificates.pacbayes import target_risk_certificate
from ltbound.bounds.rademacher import rademacher_monte_carlo
from ltbound.bounds.residual import q_residual
from ltbound.bounds.theorem1 import theorem1_condition
from ltbound.statistics.verdicts import difference_test, holm


# ----------------------------------------------------------------------------- certified_risk and δ
def test_default_method_is_not_vacuous_at_a_larger_delta():
    """10 x 100 test images, 10% errors: 0.1057 at δ = 0.3 was followed by the vacuous 1.0 at δ = 0.4."""
    labels = np.repeat(np.arange(10), 100)
    correct = np.ones(1000, bool)
    correct[np.random.default_rng(0).choice(1000, 100, replace=False)] = False
    at = {d: certified_risk(correct, labels, delta=d).bound for d in (0.3, 0.4, 0.8)}
    assert at[0.4] <= at[0.3] < 0.11 and at[0.8] <= at[0.4]
    few = [certified_risk(np.ones(28, bool), np.arange(28) % 2, delta=d).bound for d in (0.3, 0.8)]
    assert few[1] <= few[0] < 0.05                       # 28 samples, no error: was 1.0 at δ = 0.8


@settings(max_examples=25, deadline=None)
@given(per_class=st.lists(st.integers(1, 30), min_size=1, max_size=4),
       error_rate=st.floats(0.0, 1.0), d1=st.floats(1e-6, 0.98), d2=st.floats(1e-6, 0.98),
       method=st.sampled_from(RISK_METHODS), balanced_counts=st.booleans())
def test_a_larger_delta_never_gives_a_larger_bound(per_class, error_rate, d1, d2, method, balanced_counts):
    if balanced_counts:
        per_class = [per_class[0]] * len(per_class)     # where "auto" picks the exact pooled limit
    labels = np.repeat(np.arange(len(per_class)), per_class)
    correct = np.random.default_rng(1).random(labels.size) >= error_rate
    if method == "pooled-binomial" and len(set(per_class)) > 1:
        return                                          # refused there (needs equal π_j / m_j)
    lo, hi = sorted((d1, d2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)    # worse than guessing: a warning, not the point here
        b_lo = certified_risk(correct, labels, delta=lo, method=method).bound
        b_hi = certified_risk(correct, labels, delta=hi, method=method).bound
    assert b_hi <= b_lo + 1e-12, (lo, hi, b_lo, b_hi)


# ----------------------------------------------------------------------------- refused inputs
MASK = np.ma.array(np.ones(6), mask=[0, 0, 0, 0, 0, 1])

REFUSED = [
    ("holm negative", lambda: holm([-0.5, 0.2]), "p_values"),
    ("holm above 1", lambda: holm([0.2, 1.5]), "p_values"),
    ("holm strings", lambda: holm(["0.1", "0.2"]), "p_values"),
    ("holm inf", lambda: holm([0.01, np.inf]), "p_values"),
    ("holm 2-D", lambda: holm(np.full((2, 2), 0.1)), "p_values"),
    ("difference nan error", lambda: difference_test([1, 2, 3], [0.1, np.nan, 0.1], [0, 1, 2],
                                                     [1, 2, 3], [0.1] * 3, [0, 1, 2]), "errors_a"),
    ("difference 4 values 3 seeds", lambda: difference_test([1, 2, 3, 4], [0.1] * 4, [0, 1, 2],
                                                            [1, 2, 3], [0.1] * 3, [0, 1, 2]), "seeds_a"),
    ("difference short errors", lambda: difference_test([1, 2, 3], [0.1], [0, 1, 2],
                                                        [1, 2, 3], [0.1] * 3, [0, 1, 2]), "errors_a"),
    ("theorem1 nan", lambda: theorem1_condition(np.array([np.nan, 1.0]), 0), "g"),
    ("theorem1 inf", lambda: theorem1_condition([np.inf, 1.0], 0), "g"),
    ("theorem1 complex", lambda: theorem1_condition(np.array([1j, 1.0]), 0), "g"),
    ("theorem1 bool theta", lambda: theorem1_condition([1.0, 2.0], True), "theta"),
    ("theorem1 float g", lambda: theorem1_condition(1.5, 0), "g"),
    ("theorem1 float theta", lambda: theorem1_condition([1.0, 2.0], 1.0), "theta"),
    ("zero-one num_classes 3.5", lambda: zero_one_decomposition([[0, 1], [1, 0]], [0, 1], num_classes=3.5),
     "num_classes"),
    ("zero-one num_classes inf", lambda: zero_one_decomposition([[0, 1], [1, 0]], [0, 1], num_classes=np.inf),
     "num_classes"),
    ("rademacher masked", lambda: rademacher_monte_carlo(np.ma.array(np.ones((2, 4)), mask=[[0, 0, 0, 1]] * 2)),
     "losses"),
    ("rademacher huge weights", lambda: rademacher_monte_carlo(np.ones((2, 4)), weights=np.full(4, 1e300)), "weights"),
    ("rademacher zero weights", lambda: rademacher_monte_carlo(np.ones((2, 4)), weights=np.zeros(4)), "weights"),
    ("q_residual masked", lambda: q_residual(np.ma.array(np.ones((2, 6))), np.arange(6) % 2, "CB"), "losses"),
    ("compare_over_seeds masked", lambda: compare_over_seeds(MASK, np.ones(6)), "values_a"),
    ("clopper_pearson masked", lambda: clopper_pearson(np.ma.array([1, 2]), [3, 4]), "successes"),
    ("certified_risk masked", lambda: certified_risk(np.ma.array(np.ones(10, bool)), np.arange(10) % 2), "correct"),
    ("gaussian_kl masked", lambda: gaussian_kl(MASK, np.ones(6), 0.0, 1.0), "mu_q"),
    ("gaussian_kl overflow", lambda: gaussian_kl(np.zeros(2), np.full(2, 1e200), 0.0, 1e-200), "overflows"),
    ("kl_inverse_upper bool", lambda: kl_inverse_upper(True, 0.1), "q"),
    ("kl_inverse_upper string", lambda: kl_inverse_upper("0.1", 0.1), "q"),
    ("kl_inverse_upper bool budget", lambda: kl_inverse_upper(0.1, False), "budget"),
    ("target_risk_certificate kl string", lambda: target_risk_certificate(np.zeros(20), np.arange(20) % 2, kl="0.05"),
     "kl"),
]


@pytest.mark.parametrize("call, name", [(c, n) for _, c, n in REFUSED], ids=[i for i, _, _ in REFUSED])
def test_bad_input_is_refused_naming_the_argument(call, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # a RuntimeWarning is no refusal
        with pytest.raises(ValueError, match=name):
            call()


def test_holm_keeps_nan_as_untested_and_difference_test_still_works():
    assert holm([0.01, np.nan, 0.04]) == pytest.approx([0.02, np.nan, 0.04], nan_ok=True)
    r = difference_test([1, 2, 3], [0.1] * 3, [0, 1, 2], [1, 2, 4], [0.1] * 3, [0, 1, 2])
    assert r["method"] == "paired t" and 0 < r["p_value"] < 1
    assert theorem1_condition([1.0, 2.0], 1) == -1.0


def test_compact_record_refuses_a_fractional_epoch(tmp_path):
    from ltbound.records import compact_record
    from tests.test_record_faults import _make
    src = _make(tmp_path / "r", epochs=3)
    with pytest.raises(ValueError, match="loss_epochs"):
        compact_record(src, tmp_path / "c", loss_epochs=[2.5])
    assert not (tmp_path / "c").exists()
