"""App. A regularity measures (Eq. 8-13): hand-made matrices with known answers, oracles
(np.cov, np.corrcoef, a loop over epochs), Table 12's arithmetic and bad input."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ltbound.regularity import events as rg

from ltbound.regularity import correlation, paper_table, plots
from ltbound.bounds.sampling import long_tailed_counts


def _columns(*cols):
    """Correctness matrix (E, N) from per-sample sequences over epochs 1..E."""
    return np.array(cols, dtype=bool).T


# ----------------------------------------------------------------------------- Eq. 8, 9
def test_learned_at_2_forgotten_at_4_relearned_at_5():
    """acc = 0,1,1,0,1: one forgetting event (epoch 4), learned after 3 epochs (Eq. 8, 9)."""
    correct = _columns([0, 1, 1, 0, 1])
    assert rg.forgetting_events(correct).tolist() == [1]
    assert rg.learned_events(correct).tolist() == [3]


def test_several_samples_known_counts():
    correct = _columns([1, 0, 1, 0, 1, 0],   # forgotten 3 times, learned 3
                       [1, 1, 1, 1, 1, 1],   # never forgotten, learned 6
                       [0, 0, 0, 0, 0, 1],   # learned at the last epoch only
                       [1, 1, 1, 1, 1, 0])   # forgotten once, at the end
    assert rg.forgetting_events(correct).tolist() == [3, 0, 0, 1]
    assert rg.learned_events(correct).tolist() == [3, 6, 1, 5]


def test_first_epoch_is_never_a_forgetting_event():
    """acc^0 := 0: a sample wrong after epoch 1 has not been forgotten (Eq. 8 at t = 1)."""
    correct = _columns([0, 0, 0], [0, 1, 0])
    assert rg.forgetting_events(correct).tolist() == [0, 1]
    # With a single epoch nothing can ever be forgotten.
    single = np.array([[True, False, True]])
    assert rg.forgetting_events(single).tolist() == [0, 0, 0]
    assert rg.learned_events(single).tolist() == [1, 0, 1]


def test_never_learned_sample_has_zero_events_by_default():
    correct = _columns([0, 0, 0, 0], [1, 0, 0, 0])
    assert rg.learned_events(correct).tolist() == [0, 1]
    assert rg.forgetting_events(correct).tolist() == [0, 1]


def test_never_learned_forgetting_flag_sets_only_never_learned_samples():
    correct = _columns([0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1])
    toneva = rg.forgetting_events(correct, never_learned_forgetting=math.inf)
    assert toneva[0] == math.inf and toneva[1:].tolist() == [1.0, 0.0]
    custom = rg.forgetting_events(correct, never_learned_forgetting=7)
    assert custom.tolist() == [7.0, 1.0, 0.0]


def test_test_set_aliases_are_eq8_and_eq9():
    assert rg.mal_generalizing_events is rg.forgetting_events
    assert rg.generalized_events is rg.learned_events


def test_accepts_zero_one_integers_like_bool():
    ints = np.array([[0, 1], [1, 1], [0, 1]], dtype=np.int8)
    assert rg.forgetting_events(ints).tolist() == rg.forgetting_events(ints.astype(bool)).tolist() == [1, 0]


@given(arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 8))))
def test_events_match_a_loop_over_epochs(correct):
    """Eq. 8 and 9 by their definitions, epoch by epoch, with acc^0 = 0."""
    e, n = correct.shape
    f_ref, l_ref = np.zeros(n, int), np.zeros(n, int)
    for i in range(n):
        prev = 0
        for t in range(e):
            acc = int(correct[t, i])
            f_ref[i] += int(prev == 1 and acc == 0)
            l_ref[i] += acc
            prev = acc
    np.testing.assert_array_equal(rg.forgetting_events(correct), f_ref)
    np.testing.assert_array_equal(rg.learned_events(correct), l_ref)
    # A sample can only be forgotten after being learned: F <= L, and F <= floor(E/2).
    assert np.all(rg.forgetting_events(correct) <= rg.learned_events(correct))
    assert np.all(rg.forgetting_events(correct) <= e // 2)


@pytest.mark.parametrize("bad, match", [
    (np.array([[0, 2], [1, 0]]), "0/1"),
    (np.array([[0.5, 1.0]]), "0/1"),
    (np.array([True, False]), "2-D"),
    (np.zeros((0, 3), bool), "non-empty"),
    (np.array([["a", "b"]]), "dtype"),
])
def test_bad_correctness_matrix(bad, match):
    with pytest.raises(ValueError, match=match):
        rg.forgetting_events(bad)
    with pytest.raises(ValueError, match=match):
        rg.learned_events(bad)


@pytest.mark.parametrize("value", [-1.0, float("nan"), True])
def test_bad_never_learned_forgetting(value):
    with pytest.raises(ValueError, match="never_learned_forgetting"):
        rg.forgetting_events(np.zeros((2, 2), bool), never_learned_forgetting=value)


# ----------------------------------------------------------------------------- Eq. 10-12
def test_class_irregularity_hand_example():
    """Class 0: (L, F) = (0, 0), (2, 2) -> population covariance [[1, 1], [1, 1]], ||C||_F = 2,
    I = 2 / 2 = 1. Class 1: three identical points -> zero covariance."""
    learned = [0, 2, 5, 5, 5]
    forgotten = [0, 2, 1, 1, 1]
    labels = [0, 0, 1, 1, 1]
    res = rg.class_irregularity(learned, forgotten, labels, 2)
    np.testing.assert_allclose(res.covariance[0], [[1, 1], [1, 1]])
    np.testing.assert_allclose(res.covariance[1], np.zeros((2, 2)))
    np.testing.assert_allclose(res.frobenius, [2.0, 0.0])
    assert res.cardinality.tolist() == [2, 3]
    np.testing.assert_allclose(res.irregularity, [1.0, 0.0])


@pytest.mark.parametrize("ddof", [0, 1])
def test_covariance_matches_np_cov(ddof):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 4, size=300)
    learned = rng.integers(0, 200, size=300)
    forgotten = rng.integers(0, 30, size=300)
    res = rg.class_irregularity(learned, forgotten, labels, 4, ddof=ddof)
    for j in range(4):
        m = labels == j
        ref = np.cov(np.vstack([learned[m], forgotten[m]]).astype(float), ddof=ddof)
        np.testing.assert_allclose(res.covariance[j], ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(res.frobenius[j], np.linalg.norm(ref, "fro"), rtol=1e-12)
        np.testing.assert_allclose(res.irregularity[j], np.linalg.norm(ref, "fro") / m.sum(), rtol=1e-12)
    assert res.ddof == ddof


def test_covariance_is_exact_for_large_offsets():
    """Centering first keeps the covariance exact when L is large and nearly constant."""
    learned = np.array([1e9, 1e9 + 1, 1e9 + 2, 1e9 + 3])
    res = rg.class_irregularity(learned, [0, 0, 0, 0], [0, 0, 0, 0], 1)
    assert res.covariance[0, 0, 0] == pytest.approx(1.25, abs=1e-9)


def test_class_irregularity_bad_input():
    ok = dict(learned=[1, 2, 3, 4], forgotten=[0, 1, 0, 1], labels=[0, 0, 1, 1], num_classes=2)
    with pytest.raises(ValueError, match="one entry per sample"):
        rg.class_irregularity(**{**ok, "forgotten": [0, 1, 0]})
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        rg.class_irregularity(**{**ok, "labels": [0, 0, 1, 2]})
    with pytest.raises(ValueError, match="classes \\[2\\]"):
        rg.class_irregularity(**{**ok, "num_classes": 3})
    with pytest.raises(ValueError, match="finite"):
        rg.class_irregularity(**{**ok, "forgotten": [0, math.inf, 0, 1]})
    with pytest.raises(ValueError, match="non-negative"):
        rg.class_irregularity(**{**ok, "learned": [1, -2, 3, 4]})
    with pytest.raises(ValueError, match="ddof"):
        rg.class_irregularity(**ok, ddof=2)
    with pytest.raises(ValueError, match="ddof=1"):
        rg.class_irregularity([1, 2, 3], [0, 0, 1], [0, 0, 1], 2, ddof=1)
    with pytest.raises(ValueError, match="num_classes"):
        rg.class_irregularity(**{**ok, "num_classes": 0})
    with pytest.raises(ValueError, match="learned"):
        rg.class_irregularity(**{**ok, "learned": [[1, 2], [3, 4]]})


# ----------------------------------------------------------------------------- Eq. 13
@given(arrays(np.float64, st.integers(2, 20), elements=st.floats(-1e3, 1e3)),
       st.integers(0, 2**32 - 1))
def test_pearson_eq13_equals_corrcoef(x, seed):
    y = np.random.default_rng(seed).normal(size=x.size) + 0.3 * x
    if np.ptp(x) == 0:
        with pytest.raises(ValueError, match="constant"):
            correlation.pearson(x, y)
        return
    assume(np.ptp(x) > 1e-6 * max(1.0, np.abs(x).max()))   # corrcoef itself is unreliable below
    assert correlation.pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-9)


def test_pearson_identities():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert correlation.pearson(x, 2 * x + 5) == pytest.approx(1.0)
    assert correlation.pearson(x, -x) == pytest.approx(-1.0)
    assert correlation.pearson(x, [1.0, -1.0, -1.0, 1.0]) == pytest.approx(0.0, abs=1e-15)
    # Shift-invariant, also where the raw-moment form of Eq. 13 would cancel badly.
    assert correlation.pearson(x + 1e9, [2.0, 1.0, 4.0, 3.0]) == pytest.approx(np.corrcoef(x, [2, 1, 4, 3])[0, 1], rel=1e-12)


@pytest.mark.parametrize("x, y, match", [
    ([1.0], [2.0], "at least 2"),
    ([1.0, 2.0], [1.0, 2.0, 3.0], "paired"),
    ([1.0, 1.0, 1.0], [1.0, 2.0, 3.0], "x is constant"),
    ([1.0, 2.0, 3.0], [5.0, 5.0, 5.0], "y is constant"),
    ([1.0, math.nan], [1.0, 2.0], "finite"),
    ([[1.0, 2.0]], [1.0, 2.0], "1-D"),
])
def test_pearson_bad_input(x, y, match):
    with pytest.raises(ValueError, match=match):
        correlation.pearson(x, y)


def test_cardinality_correlation_argument_order():
    irr = np.array([0.1, 0.4, 0.9])
    counts = np.array([300, 100, 20])
    assert correlation.cardinality_irregularity_correlation(irr, counts) == pytest.approx(np.corrcoef(counts, irr)[0, 1])


# ----------------------------------------------------------------------------- Table 12
def test_table12_rows_satisfy_eq12_to_printed_precision():
    t = paper_table.table12()
    assert t.cardinality.tolist() == long_tailed_counts(5000, 10, 50).tolist()
    np.testing.assert_allclose(np.round(t.frobenius / t.cardinality, 4), t.irregularity, atol=1e-12)


def test_table12_pearson_recomputed_from_published_columns():
    t = paper_table.table12()
    p_published_cols = correlation.cardinality_irregularity_correlation(t.irregularity, t.cardinality)
    p_from_fnorm = correlation.cardinality_irregularity_correlation(t.frobenius / t.cardinality, t.cardinality)
    assert round(p_published_cols, 4) == t.pearson
    # Unrounded F-norm / n gives -0.611149: -0.6111 at 4 decimals, within 1e-4 of the paper.
    assert p_from_fnorm == pytest.approx(t.pearson, abs=1e-4)
    # What a constant F-norm would give (I ∝ 1/n): close to the published value.
    assert correlation.pearson(t.cardinality, 1.0 / t.cardinality) == pytest.approx(-0.6231, abs=1e-4)


# ----------------------------------------------------------------------------- run records
def _stand_in_record(seed=0, epochs=12):
    """An object with RunRecord's attributes: head classes are learned early and kept."""
    rng = np.random.default_rng(seed)
    counts = np.array([60, 30, 12])
    y_train = np.repeat(np.arange(3), counts)
    y_test = np.repeat(np.arange(3), 20)
    ease_train = np.array([0.9, 0.6, 0.3])[y_train]
    ease_test = np.array([0.85, 0.5, 0.2])[y_test]
    train_correct = rng.random((epochs, y_train.size)) < ease_train
    test_correct = rng.random((epochs, y_test.size)) < ease_test
    return SimpleNamespace(train_correct=train_correct, test_correct=test_correct,
                           train_labels=y_train, test_labels=y_test, counts=counts, num_classes=3)


def test_regularity_from_record_matches_the_functions():
    rec = _stand_in_record()
    res = rg.regularity_from_record(rec)
    ref = rg.class_irregularity(rg.learned_events(rec.train_correct), rg.forgetting_events(rec.train_correct),
                                rec.train_labels, 3)
    np.testing.assert_allclose(res.train.irregularity, ref.irregularity)
    ref_test = rg.class_irregularity(rg.learned_events(rec.test_correct),
                                     rg.forgetting_events(rec.test_correct), rec.test_labels, 3)
    np.testing.assert_allclose(res.test.irregularity, ref_test.irregularity)
    assert res.train_pearson == pytest.approx(np.corrcoef(rec.counts, ref.irregularity)[0, 1])
    assert res.test_pearson == pytest.approx(np.corrcoef(rec.counts, ref_test.irregularity)[0, 1])
    assert res.test.cardinality.tolist() == [20, 20, 20]
    assert res.num_epochs == 12
    d = res.to_dict()
    assert d["train"]["cardinality"] == [60, 30, 12]
    assert "Pearson" in res.table()


def test_regularity_from_real_record_if_available(tmp_path):
    records = pytest.importorskip("ltbound.records", reason="ltbound.records not present yet")
    if not hasattr(records, "RecordWriter"):
        pytest.skip("ltbound.records has no RecordWriter yet")
    rec = _stand_in_record(seed=1, epochs=3)
    try:
        w = records.RecordWriter(tmp_path / "run", manifest={"config": {}, "dataset": {"num_classes": 3},
                                                             "schedule": [], "environment": {}},
                                 train_indices=np.arange(rec.train_labels.size), train_labels=rec.train_labels,
                                 test_labels=rec.test_labels)
        for t in range(3):
            w.write_epoch(t + 1, train_loss=np.zeros(rec.train_labels.size, np.float32),
                          train_correct=rec.train_correct[t], test_correct=rec.test_correct[t],
                          summary={"sampler": "IB"})
        w.finish()
    except TypeError as e:   # the writer's epoch API differs from what this test assumes
        pytest.skip(f"RecordWriter API differs from this test's assumption: {e}")
    res = rg.regularity_from_record(tmp_path / "run")
    ref = rg.regularity_from_record(rec)
    np.testing.assert_allclose(res.train.irregularity, ref.train.irregularity)
    np.testing.assert_allclose(res.test.irregularity, ref.test.irregularity)


def test_regularity_from_record_bad_input():
    with pytest.raises(ValueError, match="lacking"):
        rg.regularity_from_record(SimpleNamespace(train_correct=np.zeros((2, 2), bool)))
    rec = _stand_in_record()
    rec.test_correct = rec.test_correct[:-1]
    with pytest.raises(ValueError, match="same epochs"):
        rg.regularity_from_record(rec)
    rec = _stand_in_record()
    rec.counts = np.array([60, 30, 11])
    with pytest.raises(ValueError, match="do not match"):
        rg.regularity_from_record(rec)


# ----------------------------------------------------------------------------- plots
def test_plot_events_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 15)
    learned = rng.integers(0, 200, size=labels.size)
    forgotten = rng.integers(0, 20, size=labels.size)
    out = plots.plot_events(learned, forgotten, labels, 10, tmp_path / "figs" / "events.png", title="test")
    assert out.is_file() and out.stat().st_size > 1000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_events_bad_input(tmp_path):
    with pytest.raises(ValueError, match=".png"):
        plots.plot_events([1, 2], [0, 1], [0, 1], 2, tmp_path / "x.pdf")
    with pytest.raises(ValueError, match="one entry per sample"):
        plots.plot_events([1, 2], [0], [0, 1], 2, tmp_path / "x.png")
    with pytest.raises(ValueError, match="class_names"):
        plots.plot_events([1, 2], [0, 1], [0, 1], 2, tmp_path / "x.png", class_names=["a"])
