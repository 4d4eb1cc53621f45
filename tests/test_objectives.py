"""Objectives of Sect. 3.1: the IB mean (Eq. 3) and the class-weighted mean (Eq. 4)."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltbound.bounds.objectives import class_mean_losses, sample_weights, standard_objective, weighted_objective
from ltbound.bounds.sampling import class_counts, sampling_distribution

LABELS = np.array([0, 0, 0, 1, 1, 2])
LOSSES = np.array([[1, 2, 3, 4, 6, 10],
                   [0, 0, 3, 2, 2, 1]], dtype=np.float64)


def _fraction_weighted(losses_row, labels, p):
    """Eq. 4 data term in exact rational arithmetic: Σ_j Σ_i p_j / n_j L_ji."""
    counts = {}
    for y in labels:
        counts[int(y)] = counts.get(int(y), 0) + 1
    return sum(Fraction(p[int(y)]) / counts[int(y)] * Fraction(v) for v, y in zip(losses_row, labels))


@st.composite
def labelled_losses(draw, max_classes=4, max_per_class=5):
    """Integer-valued losses with labels covering every class (sorted by class)."""
    c = draw(st.integers(1, max_classes))
    counts = draw(st.lists(st.integers(1, max_per_class), min_size=c, max_size=c))
    labels = np.repeat(np.arange(c), counts)
    k = draw(st.integers(1, 3))
    vals = draw(st.lists(st.integers(0, 20), min_size=k * labels.size, max_size=k * labels.size))
    return np.array(vals, dtype=np.float64).reshape(k, labels.size), labels


@st.composite
def rational_p(draw, c):
    """A probability vector of exact fractions with denominator 60."""
    cuts = sorted(draw(st.lists(st.integers(0, 60), min_size=c - 1, max_size=c - 1)))
    edges = [0] + cuts + [60]
    return [Fraction(edges[i + 1] - edges[i], 60) for i in range(c)]


def test_standard_objective_is_the_mean_of_eq3():
    """Eq. 3 with R = 0: (1/n) Σ L_i; rows of a matrix are separate θ."""
    assert standard_objective(LOSSES[0]) == pytest.approx(26 / 6, abs=1e-15)
    np.testing.assert_allclose(standard_objective(LOSSES), [26 / 6, 8 / 6], atol=1e-15)
    assert isinstance(standard_objective(LOSSES[0]), float)


def test_weighted_objective_matches_hand_arithmetic():
    """Eq. 4 on a 3-class example: p = (1/2, 1/3, 1/6), counts (3, 2, 1).

    Row 0: 1/2 * (1+2+3)/3 + 1/3 * (4+6)/2 + 1/6 * 10 = 1 + 5/3 + 5/3 = 13/3.
    """
    p = [Fraction(1, 2), Fraction(1, 3), Fraction(1, 6)]
    got = weighted_objective(LOSSES, LABELS, [float(x) for x in p])
    assert got[0] == pytest.approx(13 / 3, abs=1e-14)
    assert got[1] == pytest.approx(float(_fraction_weighted(LOSSES[1], LABELS, p)), abs=1e-14)


@given(labelled_losses())
def test_ib_weights_reproduce_the_plain_mean(case):
    """Eq. 4 with p_j = n_j / n is Eq. 3: every sample weighs 1/n."""
    losses, labels = case
    counts = class_counts(labels, labels.max() + 1)
    p_ib = counts / counts.sum()
    np.testing.assert_allclose(weighted_objective(losses, labels, p_ib), standard_objective(losses),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sample_weights(labels, p_ib), 1.0 / labels.size, rtol=1e-12)
    # The q = 1 member of Eq. 1 is IB.
    np.testing.assert_allclose(sampling_distribution(counts, "IB"), p_ib, rtol=1e-12)


@given(labelled_losses().flatmap(lambda case: st.tuples(st.just(case), rational_p(int(case[1].max()) + 1))))
def test_weighted_objective_equals_exact_rational_oracle(args):
    """Eq. 4 agrees with exact Fraction arithmetic, and equals Σ_j p_j L̄_j."""
    (losses, labels), p = args
    pf = np.array([float(x) for x in p])
    got = weighted_objective(losses, labels, pf)
    exact = [float(_fraction_weighted(row, labels, p)) for row in losses]
    np.testing.assert_allclose(got, exact, rtol=1e-12, atol=1e-12)
    means = class_mean_losses(losses, labels, pf.size)
    np.testing.assert_allclose(means @ pf, exact, rtol=1e-12, atol=1e-12)


def test_sample_weights_are_p_over_n_and_sum_to_one():
    w = sample_weights(LABELS, [0.5, 0.3, 0.2])
    np.testing.assert_allclose(w, [0.5 / 3] * 3 + [0.3 / 2] * 2 + [0.2])
    assert w.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_array_equal(sample_weights(LABELS, [0.5, 0.3, 0.2], counts=[3, 2, 1]), w)


def test_class_mean_losses_by_hand():
    np.testing.assert_allclose(class_mean_losses(LOSSES, LABELS, 3), [[2, 5, 10], [1, 2, 1]])
    np.testing.assert_allclose(class_mean_losses(LOSSES[0], LABELS, 3), [2, 5, 10])
    # Unsorted labels give the same class means.
    perm = np.array([5, 3, 0, 4, 1, 2])
    np.testing.assert_allclose(class_mean_losses(LOSSES[:, perm], LABELS[perm], 3), [[2, 5, 10], [1, 2, 1]])


def test_vector_and_matrix_inputs_agree():
    p = [0.2, 0.3, 0.5]
    rows = weighted_objective(LOSSES, LABELS, p)
    for k in range(LOSSES.shape[0]):
        assert weighted_objective(LOSSES[k], LABELS, p) == pytest.approx(rows[k], abs=1e-15)


def test_float32_and_memmap_inputs(tmp_path):
    p = [0.2, 0.3, 0.5]
    mm = np.memmap(tmp_path / "l.f32", dtype=np.float32, mode="w+", shape=LOSSES.shape)
    mm[:] = LOSSES
    np.testing.assert_allclose(weighted_objective(mm, LABELS, p), weighted_objective(LOSSES, LABELS, p), rtol=1e-7)
    np.testing.assert_allclose(standard_objective(LOSSES.astype(np.float32)), standard_objective(LOSSES), rtol=1e-7)


@pytest.mark.parametrize("bad, match", [
    (np.nan, "finite"), (np.inf, "finite"), (-1.0, "non-negative")])
def test_bad_loss_values_are_refused(bad, match):
    losses = LOSSES.copy()
    losses[1, 2] = bad
    for fn in (lambda: standard_objective(losses), lambda: weighted_objective(losses, LABELS, [0.2, 0.3, 0.5]),
               lambda: class_mean_losses(losses, LABELS, 3)):
        with pytest.raises(ValueError, match=match):
            fn()


def test_bad_loss_value_in_memmap_is_refused(tmp_path):
    mm = np.memmap(tmp_path / "l.f32", dtype=np.float32, mode="w+", shape=LOSSES.shape)
    mm[:] = LOSSES
    mm[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        standard_objective(mm)


def test_bad_inputs_are_refused():
    p = [0.2, 0.3, 0.5]
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        weighted_objective(LOSSES, [0, 0, 0, 1, 1, 3], p)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        class_mean_losses(LOSSES, [0, 0, 0, 1, 1, -1], 3)
    with pytest.raises(ValueError, match="empty classes"):
        weighted_objective(LOSSES, [0, 0, 0, 0, 2, 2], p)
    with pytest.raises(ValueError, match="empty classes"):
        class_mean_losses(LOSSES, [0, 0, 0, 0, 2, 2], 3)
    with pytest.raises(ValueError, match="samples"):
        weighted_objective(LOSSES[:, :5], LABELS, p)
    with pytest.raises(ValueError, match="samples"):
        class_mean_losses(LOSSES[:, :5], LABELS, 3)
    with pytest.raises(ValueError, match="sum to 1"):
        weighted_objective(LOSSES, LABELS, [0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="non-negative"):
        sample_weights(LABELS, [-0.2, 0.7, 0.5])
    with pytest.raises(ValueError, match="do not match"):
        sample_weights(LABELS, p, counts=[2, 3, 1])
    with pytest.raises(ValueError, match="one entry per class"):
        sample_weights(LABELS, p, counts=[3, 2, 1, 1])
    with pytest.raises(ValueError, match="1-D or 2-D"):
        standard_objective(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="empty"):
        standard_objective(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="num_classes"):
        class_mean_losses(LOSSES, LABELS, 0)
