"""Issue 11, item 6: extreme input that used to give silent numbers now gives a clear error
naming the argument, or the correct number."""
import math

import numpy as np
import pytest

import ltbound
from ltbound.bounds import rademacher as _rad
from ltbound.regularity import correlation
from ltbound.records import RecordWriter

LABELS = np.repeat(np.arange(3), [5, 3, 2])
LOSSES = np.random.default_rng(0).random((4, LABELS.size))


def test_complex_losses_are_refused_not_truncated_to_their_real_part():
    with pytest.raises(ValueError, match=r"losses must be a real numeric array, got dtype complex128"):
        ltbound.estimate_bounds(LOSSES + 1j, LABELS, "CR", loss_range=1.0, num_draws=10)
    with pytest.raises(ValueError, match=r"^p must be"):
        ltbound.confidence_term([5, 3, 2], np.array([0.5, 0.3, 0.2]) + 0j, 1.0, 0.05)


@pytest.mark.parametrize("q, expected", [(1e308, [1.0, 0.0, 0.0]), (-1e308, [0.0, 0.0, 1.0])])
def test_extreme_q_gives_the_limit_distribution(q, expected):
    """p_j(q) = n_j^q / Σ n_i^q tends to all mass on the largest (q -> +inf) or smallest class."""
    np.testing.assert_array_equal(ltbound.sampling_distribution([5, 3, 2], q), expected)
    # tied largest classes share the mass equally
    np.testing.assert_array_equal(ltbound.sampling_distribution([5, 5, 2], 1e308), [0.5, 0.5, 0.0])


def test_smallest_delta_gives_a_finite_confidence_term_or_a_clear_error():
    # ln(1/δ) = -ln δ is finite for every δ > 0, even the smallest subnormal
    got = ltbound.confidence_term_ib(10, 1.0, 5e-324)
    assert got == pytest.approx(math.sqrt(-math.log(5e-324) / 20.0), rel=1e-12) and math.isfinite(got)
    # the bounds split δ by the union bound: a part that rounds to 0 is named, not an inf total
    with pytest.raises(ValueError, match=r"delta = 5e-324 split by mc_delta_fraction"):
        ltbound.estimate_bounds(LOSSES, LABELS, "CR", loss_range=1.0, delta=5e-324, num_draws=10, theta_index=-1)
    tiny = ltbound.estimate_bounds(LOSSES, LABELS, "CR", loss_range=1.0, delta=1e-300, num_draws=10,
                                   theta_index=-1)
    assert math.isfinite(tiny.ib.total) and math.isfinite(tiny.sampling.total)


@pytest.mark.parametrize("scale", [1e200, 1e-200, 1e-300])
def test_pearson_is_scale_invariant_at_extreme_magnitudes(scale):
    x, y = np.array([1.0, 2.0, 3.0, 5.0]), np.array([1.0, 3.0, 2.0, 4.0])
    assert correlation.pearson(x * scale, y * scale) == pytest.approx(correlation.pearson(x, y), rel=1e-12)
    assert correlation.pearson(x * scale, y) == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-12)


def test_pearson_refuses_values_whose_differences_overflow():
    with pytest.raises(ValueError, match="x spans more than the float64 range"):
        correlation.pearson([-1.5e308, 0.0, 1.5e308], [1.0, 3.0, 2.0])


def test_losses_beyond_1e100_are_refused_before_they_overflow():
    with pytest.raises(ValueError, match=r"losses must be at most 1e\+100"):
        _rad.massart_bound(LOSSES * 1e200)


def _writer(tmp_path):
    return RecordWriter(tmp_path / "run", manifest={"config": {"schedule": "ib"}},
                        train_indices=np.arange(4), train_labels=[0, 0, 1, 1], test_labels=[0, 1])


@pytest.mark.parametrize("field, value, message", [
    ("train_loss", [0.1, np.nan, 0.2, 0.3], "train_loss must be finite"),
    ("train_loss", [0.1, -0.5, 0.2, 0.3], "train_loss must be >= 0"),
    ("train_loss", np.array([0.1, 0.2, 0.3, 0.4]) + 1j, "train_loss must be real numbers"),
    ("test_loss", [np.inf, 0.1], "test_loss must be finite"),
    ("train_correct", [1, 2, 0, 1], "train_correct must hold booleans"),
    ("train_correct", ["yes", "no", "no", "yes"], "train_correct must hold booleans"),
    ("test_correct", [0.5, 1.0], "test_correct must hold booleans"),
])
def test_write_epoch_refuses_values_it_would_store_wrongly(tmp_path, field, value, message):
    good = dict(train_loss=[0.1, 0.2, 0.3, 0.4], train_correct=[True, False, True, True],
                test_correct=[True, False], test_loss=[0.5, 0.9])   # CE <= ln C if correct, >= ln 2 if not
    with _writer(tmp_path) as w:
        with pytest.raises(ValueError, match=message):
            w.write_epoch(1, **{**good, field: value}, summary={})
        assert w.epochs_completed == 0 and not (tmp_path / "run" / "epochs").exists()
        w.write_epoch(1, **{**good, "train_correct": [1, 0, 1, 1]}, summary={})   # 0/1 integers are fine
    rec = ltbound.load_record(tmp_path / "run")
    assert rec.train_correct[0].tolist() == [True, False, True, True]
