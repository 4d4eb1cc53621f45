"""Classifier re-training on frozen features (ltbound.train.loop.retrain; Decouple's cRT)."""
import numpy as np
import pytest
import torch

from ltbound.train.loop.models import digits_net
from ltbound.train.loop.retrain import classifier_of, extract_features, predict_proba, retrain_classifier


def _toy(seed=0, counts=(40, 20, 10, 5)):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    centers = 3.0 * np.eye(len(counts), 6)
    x = centers[y] + rng.normal(scale=0.5, size=(y.size, 6))
    return x.astype(np.float32), y


def test_features_and_own_head_reproduce_the_model():
    torch.manual_seed(0)
    net = digits_net(10)
    images = torch.randint(0, 256, (37, 1, 8, 8), dtype=torch.uint8)
    mean, std = (0.3,), (0.2,)
    feats = extract_features(net, images, mean=mean, std=std, batch_size=16)
    assert feats.shape == (37, 64) and feats.dtype == np.float32
    w, b = classifier_of(net)
    with torch.no_grad():
        ref = torch.softmax(net((images.float() / 255 - 0.3) / 0.2), dim=1).numpy()
    np.testing.assert_allclose(predict_proba(feats, w, b), ref, atol=1e-5)


def test_retrain_learns_separable_features_and_is_seeded():
    x, y = _toy()
    w, b = retrain_classifier(x, y, "CB", epochs=20, batch_size=16, lr=0.1, seed=3)
    assert (predict_proba(x, w, b).argmax(1) == y).mean() == 1.0
    w2, b2 = retrain_classifier(x, y, "CB", epochs=20, batch_size=16, lr=0.1, seed=3)
    np.testing.assert_array_equal(w, w2)
    np.testing.assert_array_equal(b, b2)
    w3, _ = retrain_classifier(x, y, "CR", epochs=20, batch_size=16, lr=0.1, seed=3)
    assert not np.array_equal(w, w3)   # the sampler matters


def test_sampler_shifts_the_classifier_toward_the_tail():
    # Overlapping classes: IB sampling favours the head, CR the tail (mean predicted mass on class 3).
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), (80, 40, 20, 5))
    x = (np.eye(4, 6)[y] + rng.normal(scale=1.5, size=(y.size, 6))).astype(np.float32)
    tail = {}
    for q in ("IB", "CR"):
        w, b = retrain_classifier(x, y, q, epochs=30, batch_size=16, lr=0.05, seed=0)
        tail[q] = predict_proba(x, w, b)[:, 3].mean()
    assert tail["CR"] > tail["IB"] + 0.05


def test_fine_tune_from_init_with_tiny_lr_stays_put():
    x, y = _toy()
    w0 = np.ones((4, 6), np.float32)
    b0 = np.zeros(4, np.float32)
    w, b = retrain_classifier(x, y, "IB", epochs=1, lr=1e-8, momentum=0.0, weight_decay=0.0,
                              lr_schedule="constant", init=(w0, b0))
    np.testing.assert_allclose(w, w0, atol=1e-5)


@pytest.mark.parametrize("kw, match", [
    ({"labels": np.zeros(3, int)}, "labels has 3 entries"),
    ({"epochs": 0}, "epochs"),
    ({"lr_schedule": "step"}, "lr_schedule"),
    ({"init": (np.zeros((2, 2)), np.zeros(2))}, "init must be"),
])
def test_bad_input(kw, match):
    x, y = _toy()
    args = {"features": x, "labels": y, "q": "CB", **kw}
    with pytest.raises(ValueError, match=match):
        retrain_classifier(args.pop("features"), args.pop("labels"), args.pop("q"), **args)
