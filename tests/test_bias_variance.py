"""The bias² + variance decomposition of Table 9 (ltbound.bias_variance)."""
import numpy as np
import pytest

from ltbound import bias_variance


def test_hand_computed_case():
    # Two models, two samples, two classes.
    # sample 0 (label 0): p1 = (1, 0), p2 = (0.5, 0.5) -> mean (0.75, 0.25)
    #   bias² = 0.25² + 0.25² = 0.125; var = ((0.25² + 0.25²) + (0.25² + 0.25²)) / 2 = 0.125
    #   error = (0 + (0.25 + 0.25)) / 2 = 0.25
    # sample 1 (label 1): p1 = p2 = (0.2, 0.8) -> bias² = 0.04 + 0.04 = 0.08, var = 0, error = 0.08
    probs = np.array([[[1.0, 0.0], [0.2, 0.8]],
                      [[0.5, 0.5], [0.2, 0.8]]])
    r = bias_variance(probs, [0, 1])
    assert r.bias2 == pytest.approx((0.125 + 0.08) / 2)
    assert r.variance == pytest.approx(0.125 / 2)
    assert r.total == pytest.approx((0.25 + 0.08) / 2)
    # accuracy: sample 0 right for model 1, a tie (argmax -> class 0, right) for model 2; sample 1 right
    assert r.accuracy == pytest.approx(1.0)
    assert r.num_models == 2 and r.num_samples == 2
    np.testing.assert_allclose(r.bias2_per_sample, [0.125, 0.08])
    np.testing.assert_allclose(r.variance_per_sample, [0.125, 0.0], atol=1e-15)
    d = r.to_dict()
    assert d["bias2"] == pytest.approx(r.bias2) and len(d["per_class_accuracy"]) == 2


def test_identity_and_variance_zero_for_identical_models():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 50, 4))
    p = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    y = rng.integers(0, 4, size=50)
    r = bias_variance(p, y)
    assert r.total == pytest.approx(r.bias2 + r.variance, abs=1e-12)
    same = bias_variance(np.repeat(p[:1], 5, axis=0), y)
    assert same.variance == pytest.approx(0.0, abs=1e-15)
    assert same.total == pytest.approx(same.bias2)
    # disagreeing models have variance > 0: the decomposition can come out either way
    assert r.variance > 0.01


@pytest.mark.parametrize("probs, labels, match", [
    (np.full((2, 3), 0.5), [0, 1], "shape"),
    (np.full((1, 2, 2), 0.5), [0, 1], "at least 2 models"),
    (np.full((2, 2, 2), 0.7), [0, 1], "sum to 1"),
    (np.array([[[2.0, -1.0]], [[0.5, 0.5]]]), [0], "logits"),
    (np.full((2, 2, 2), 0.5), [0, 2], "labels"),
    (np.full((2, 2, 2), 0.5), [0, 1, 1], r"shape \(m,\)"),
])
def test_bad_input(probs, labels, match):
    with pytest.raises(ValueError, match=match):
        bias_variance(probs, labels)


# ----------------------------------------------------------------------------- 0-1 loss (Domingos; Kohavi-Wolpert)
from ltbound.statistics.decomposition import zero_one_decomposition  # noqa: E402


def test_zero_one_hand_computed_case():
    """K = 3 models, 3 classes, 4 samples (labels 0, 1, 2, 0):
    sample 0: predictions 0, 0, 1 -> main 0 = label: B = 0, V = 1/3, loss 1/3, net +1/3;
              KW bias² = ½((1 − 2/3)² + (1/3)²) = 1/9, var = ½(1 − 4/9 − 1/9) = 2/9.
    sample 1: predictions 0, 0, 1 -> main 0 ≠ 1: B = 1, V = 1/3, loss 2/3, net = −P̂(t) = −1/3.
    sample 2: predictions 0, 1, 1 -> main 1 ≠ 2: B = 1, V = 1/3, loss 1, net = −P̂(2) = 0
              (the off-main model is wrong too: variance that does not reduce the loss).
    sample 3: predictions 2, 2, 2 -> main 2 ≠ 0: B = 1, V = 0, loss 1; KW bias² = 1, var = 0.
    """
    pred = np.array([[0, 0, 0, 2],
                     [0, 0, 1, 2],
                     [1, 1, 1, 2]])
    r = zero_one_decomposition(pred, [0, 1, 2, 0])
    np.testing.assert_array_equal(r.main_prediction, [0, 0, 1, 2])
    np.testing.assert_allclose(r.bias_per_sample, [0, 1, 1, 1])
    np.testing.assert_allclose(r.variance_per_sample, [1 / 3, 1 / 3, 1 / 3, 0])
    np.testing.assert_allclose(r.net_variance_per_sample, [1 / 3, -1 / 3, 0, 0], atol=1e-15)
    np.testing.assert_allclose(r.loss_per_sample, [1 / 3, 2 / 3, 1, 1])
    assert r.kw_bias2_per_sample[0] == pytest.approx(1 / 9) and r.kw_variance_per_sample[0] == pytest.approx(2 / 9)
    assert r.kw_bias2_per_sample[3] == pytest.approx(1.0) and r.kw_variance_per_sample[3] == pytest.approx(0.0)
    assert r.loss == pytest.approx(3 / 4) and r.accuracy == pytest.approx(1 / 4)
    assert r.bias == pytest.approx(3 / 4) and r.variance == pytest.approx(0.25)
    assert r.variance_unbiased == pytest.approx(1 / 12) and r.variance_biased == pytest.approx(1 / 6)
    assert r.to_dict()["net_variance"] == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("seed, k, m, c", [(0, 2, 40, 2), (1, 5, 200, 2), (2, 4, 100, 3), (3, 7, 300, 10),
                                           (4, 10, 50, 4)])
def test_zero_one_identities(seed, k, m, c):
    """Per sample, exactly: loss = B + c(x)·V (Domingos' Theorem 2, noise-free), loss = bias²_KW + var_KW
    (Kohavi-Wolpert), and with two classes loss = B + (1 − 2B)·V; on average loss = 1 − accuracy."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, size=m)
    # models that agree with the label or with a per-sample favourite wrong class: both bias and variance
    favourite = (y + rng.integers(1, c, size=m)) % c
    pick = rng.random((k, m))
    pred = np.where(pick < 0.55, y, np.where(pick < 0.85, favourite, rng.integers(0, c, size=(k, m))))
    r = zero_one_decomposition(pred, y, num_classes=c)
    np.testing.assert_allclose(r.loss_per_sample, r.bias_per_sample + r.net_variance_per_sample, atol=1e-12)
    np.testing.assert_allclose(r.loss_per_sample, r.kw_bias2_per_sample + r.kw_variance_per_sample, atol=1e-12)
    assert r.loss == pytest.approx(1.0 - r.accuracy, abs=1e-12)
    assert r.loss == pytest.approx(r.bias + r.net_variance, abs=1e-12)
    assert r.loss == pytest.approx(r.kw_bias2 + r.kw_variance, abs=1e-12)
    assert r.variance == pytest.approx(r.variance_unbiased + r.variance_biased, abs=1e-12)
    if c == 2:
        b, v = r.bias_per_sample, r.variance_per_sample
        np.testing.assert_allclose(r.loss_per_sample, b + (1 - 2 * b) * v, atol=1e-12)
        assert r.net_variance == pytest.approx(r.variance_unbiased - r.variance_biased, abs=1e-12)
    # both kinds of samples occur, so the check is not vacuous
    assert 0 < r.bias < 1 and r.variance_biased > 0 and r.variance_unbiased > 0


def test_zero_one_identical_models_have_no_variance():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 4, size=60)
    one = rng.integers(0, 4, size=60)
    r = zero_one_decomposition(np.tile(one, (5, 1)), y)
    assert r.variance == 0 and r.kw_variance == pytest.approx(0.0, abs=1e-15) and r.net_variance == 0
    assert r.bias == r.loss == pytest.approx(np.mean(one != y)) and r.kw_bias2 == pytest.approx(r.loss)


def test_zero_one_tie_goes_to_the_smallest_class_whatever_the_label():
    """Two models predicting 0 and 1: the main prediction is 0 for either label, so B depends on the label
    (0 for label 0, 1 for label 1) while the loss and Kohavi-Wolpert's terms do not."""
    r = zero_one_decomposition([[0, 0], [1, 1]], [0, 1])
    np.testing.assert_array_equal(r.main_prediction, [0, 0])
    np.testing.assert_allclose(r.bias_per_sample, [0, 1])
    np.testing.assert_allclose(r.loss_per_sample, [0.5, 0.5])
    np.testing.assert_allclose(r.kw_bias2_per_sample, [0.25, 0.25])


def test_zero_one_loss_is_one_minus_accuracy_where_brier_is_not():
    """The same softmax outputs: the 0-1 total is the error rate, the squared-error total is not."""
    rng = np.random.default_rng(6)
    logits = rng.normal(size=(5, 300, 4)) + 2.0 * np.eye(4)[rng.integers(0, 4, size=300)]
    p = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    y = rng.integers(0, 4, size=300)
    zo = zero_one_decomposition(p.argmax(axis=2), y)
    sq = bias_variance(p, y)
    assert zo.loss == pytest.approx(1 - sq.accuracy, abs=1e-12)
    assert abs(sq.total - (1 - sq.accuracy)) > 0.05


@pytest.mark.parametrize("pred, labels, kw, match", [
    (np.zeros(3, int), [0, 1, 1], {}, r"shape \(K models, m samples\)"),
    (np.zeros((1, 3), int), [0, 1, 1], {}, "at least 2 models"),
    (np.full((2, 2), 0.5), [0, 1], {}, "predictions must hold whole numbers"),
    (np.array([[0, 3], [0, 1]]), [0, 1], {"num_classes": 3}, r"predictions must lie in \[0, 3\)"),
    (np.zeros((2, 2), int), [0, 1, 1], {}, r"labels must have shape \(m,\)"),
    (np.zeros((2, 2), int), [0, -1], {}, "labels must be non-negative"),
])
def test_zero_one_bad_input(pred, labels, kw, match):
    with pytest.raises(ValueError, match=match):
        zero_one_decomposition(pred, labels, **kw)
