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
