"""Long-tailed data sets: the CIFAR-LT protocol, the digits source, image folders and archives."""
from __future__ import annotations

import hashlib
import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ltbound.bounds.sampling import long_tailed_counts
from ltbound.train.data.datasets import (DATASETS, DataError, LTDataset, load_dataset, long_tailed_indices,
                                split_hash)

CIFAR10_LT100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


# ----------------------------------------------------------------------------- protocol
def test_long_tailed_indices_cifar10_imbalance_100_counts():
    labels = np.repeat(np.arange(10), 5000)
    idx = long_tailed_indices(labels, long_tailed_counts(5000, 10, 100.0), seed=0)
    assert np.bincount(labels[idx], minlength=10).tolist() == CIFAR10_LT100
    assert idx.dtype == np.int64 and len(np.unique(idx)) == idx.size == 12406
    # grouped by class in label order
    assert np.all(np.diff(labels[idx]) >= 0)


def test_long_tailed_indices_pinned_hash_on_cifar_like_labels():
    # Pinned once from long_tailed_indices(np.repeat(np.arange(10), 5000),
    # long_tailed_counts(5000, 10, 100), seed=0); a change means the protocol changed.
    labels = np.repeat(np.arange(10), 5000)
    idx = long_tailed_indices(labels, long_tailed_counts(5000, 10, 100.0), seed=0)
    assert split_hash(idx) == "f5a6ab138b23b845089475f48a506b9479d512102972d52a891a06c42a25baa3"


def test_long_tailed_indices_reproduce_global_seed_and_shuffle():
    """Same subset as the reference codebases' np.random.seed(s); np.random.shuffle(idx) per class."""
    rng = np.random.default_rng(7)
    labels = rng.permutation(np.repeat(np.arange(6), 40))  # interleaved, not sorted
    counts = long_tailed_counts(40, 6, 10.0)
    saved = np.random.get_state()
    try:
        np.random.seed(3)
        expected = []
        for j in range(6):
            idx = np.where(labels == j)[0]
            np.random.shuffle(idx)
            expected.append(idx[: counts[j]])
        expected = np.concatenate(expected)
        np.random.seed(123)
        before = np.random.get_state()[1].copy()
        got = long_tailed_indices(labels, counts, seed=3)
        assert np.array_equal(np.random.get_state()[1], before), "global numpy state was touched"
    finally:
        np.random.set_state(saved)
    assert np.array_equal(got, expected)


def test_long_tailed_indices_seed_changes_subset_not_counts():
    labels = np.repeat(np.arange(4), 50)
    counts = long_tailed_counts(50, 4, 5.0)
    a, b = long_tailed_indices(labels, counts, 0), long_tailed_indices(labels, counts, 1)
    assert not np.array_equal(a, b)
    assert np.array_equal(np.bincount(labels[a]), np.bincount(labels[b]))
    assert np.array_equal(a, long_tailed_indices(labels, counts, 0))


@pytest.mark.parametrize("labels, counts, seed, match", [
    (np.repeat(np.arange(2), 5), [6, 2], 0, "asks for 6 images of class 0"),
    (np.array([0, 1, 2]), [1, 1], 0, r"labels must lie in \[0, 2\)"),
    (np.repeat(np.arange(2), 5), [0, 2], 0, "empty classes"),
    (np.repeat(np.arange(2), 5), [2, 2], -1, "seed must be an integer"),
    (np.repeat(np.arange(2), 5), [2, 2], 1.5, "seed must be an integer"),
])
def test_long_tailed_indices_rejects_bad_input(labels, counts, seed, match):
    with pytest.raises(ValueError, match=match):
        long_tailed_indices(labels, counts, seed)


def test_split_hash_is_sha256_of_little_endian_int64():
    idx = np.array([3, 1, 2], dtype=np.int32)
    assert split_hash(idx) == hashlib.sha256(np.array([3, 1, 2], dtype="<i8").tobytes()).hexdigest()
    assert split_hash(idx) == split_hash([3, 1, 2])
    assert split_hash(idx) != split_hash([1, 2, 3])
    with pytest.raises(ValueError, match="1-D"):
        split_hash(np.zeros((2, 2), dtype=int))


# ----------------------------------------------------------------------------- digits
@pytest.fixture(scope="module")
def digits20() -> LTDataset:
    return load_dataset("digits-lt", imbalance=20.0)


def test_digits_shapes_counts_and_balanced_test(digits20):
    d = digits20
    expected = long_tailed_counts(130, 10, 20.0)
    assert d.counts.tolist() == expected.tolist() == [130, 93, 66, 47, 34, 24, 17, 12, 9, 6]
    assert d.train.images.shape == (int(expected.sum()), 1, 8, 8) and d.train.images.dtype == torch.uint8
    assert d.test.images.shape == (400, 1, 8, 8)
    assert d.train.labels.dtype == torch.int64
    assert np.bincount(d.test.labels.numpy()).tolist() == [40] * 10
    assert np.bincount(d.train.labels.numpy()).tolist() == d.counts.tolist()
    assert d.num_classes == 10 and d.class_names == [str(j) for j in range(10)]
    assert d.augment == "none" and d.default_model == "digits_net" and d.imbalance == 20.0
    # train and test are disjoint images of the source
    assert not set(d.train.indices.tolist()) & set(d.test.indices.tolist())


def test_digits_pinned_split_hash(digits20):
    # Pinned once from load_dataset("digits-lt", imbalance=20.0, split_seed=0).split_hash
    # (= split_hash(train.indices), positions into sklearn.datasets.load_digits()).
    assert digits20.split_hash == "8893350291c40341d15f73f58f6879eb2d012765b77a231c92269bd6efec0078"
    assert digits20.split_hash == split_hash(digits20.train.indices)


def test_digits_images_and_labels_are_the_source_at_indices(digits20):
    from sklearn.datasets import load_digits
    bunch = load_digits()
    for split in (digits20.train, digits20.test):
        assert np.array_equal(split.labels.numpy(), bunch.target[split.indices])
        expected = np.clip(bunch.images[split.indices] * 16, 0, 255).astype(np.uint8)
        assert np.array_equal(split.images[:, 0].numpy(), expected)
    assert int(digits20.train.images.max()) == 255


def test_digits_mean_std_are_training_statistics(digits20):
    x = digits20.train.images.double() / 255
    assert digits20.mean[0] == pytest.approx(float(x.mean()), rel=1e-12)
    assert digits20.std[0] == pytest.approx(float(x.std(unbiased=False)), rel=1e-12)


def test_digits_split_seed_imbalance_none_and_test_cap():
    other = load_dataset("digits-lt", imbalance=20.0, split_seed=1)
    assert other.counts.tolist() == [130, 93, 66, 47, 34, 24, 17, 12, 9, 6]
    assert other.split_hash != "8893350291c40341d15f73f58f6879eb2d012765b77a231c92269bd6efec0078"
    full = load_dataset("digits-lt", imbalance=None)
    assert len(full.train) == 1797 - 400 and full.imbalance == pytest.approx(full.counts.max() / full.counts.min())
    capped = load_dataset("digits-lt", imbalance=20.0, max_test_per_class=5)
    assert np.bincount(capped.test.labels.numpy()).tolist() == [5] * 10


def test_describe_is_json_safe(digits20):
    info = json.loads(json.dumps(digits20.describe()))
    assert info["counts"] == digits20.counts.tolist()
    assert info["n_train"] == 438 and info["n_test"] == 400
    assert info["shot_groups"] == {"many": [0], "medium": [1, 2, 3, 4, 5], "few": [6, 7, 8, 9]}
    for key in ("name", "num_classes", "class_names", "imbalance", "split_hash"):
        assert key in info


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="mnist-lt"), "name must be one of"),
    (dict(name="digits-lt", imbalance=0.5), "imbalance must be >= 1"),
    (dict(name="digits-lt", imbalance=float("nan")), "imbalance must be finite"),
    (dict(name="digits-lt", split_seed=-1), "split_seed"),
    (dict(name="digits-lt", max_test_per_class=0), "max_test_per_class"),
    (dict(name="digits-lt", download="yes"), "download"),
])
def test_load_dataset_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(**kwargs)


def test_digits_imbalance_that_empties_a_class_is_a_data_error():
    with pytest.raises(DataError, match="imbalance 500 with n_max 130 leaves class 8 with no training image"):
        load_dataset("digits-lt", imbalance=500.0)


# ----------------------------------------------------------------------------- image folders
def _write_tree(root: Path, spec: dict[str, dict[str, int]], size=(6, 5)) -> Path:
    """root/split/class/img_k.png with deterministic pixels (value encodes class and k)."""
    for split, classes in spec.items():
        for ci, (cls, k) in enumerate(sorted(classes.items())):
            d = root / split / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(k):
                arr = np.full((size[1], size[0], 3), 10 * ci + i, dtype=np.uint8)
                arr[0, 0, 0] = 200 + (split == "test")
                Image.fromarray(arr).save(d / f"img_{i:03d}.png")
    return root


def test_image_folder_synthetic_tree_labels_and_pixels(tmp_path):
    root = _write_tree(tmp_path, {"train": {"b": 8, "a": 8, "c": 8}, "test": {"a": 2, "b": 3, "c": 2}})
    d = load_dataset("image-folder", data_dir=root, imbalance=4.0)
    assert d.class_names == ["a", "b", "c"]
    assert d.counts.tolist() == long_tailed_counts(8, 3, 4.0).tolist() == [8, 4, 2]
    assert d.train.images.shape == (14, 3, 5, 6) and d.train.images.dtype == torch.uint8
    # position p of the sorted (class, file) listing has class p // 8 and file p % 8
    idx = d.train.indices
    assert np.array_equal(d.train.labels.numpy(), idx // 8)
    assert np.array_equal(d.train.images[:, 1, 2, 2].numpy(), 10 * (idx // 8) + idx % 8)
    assert np.bincount(d.test.labels.numpy()).tolist() == [2, 3, 2]
    assert d.augment == "crop-flip" and d.default_model == "resnet32"


def test_image_folder_imbalance_none_keeps_an_already_long_tailed_tree(tmp_path):
    root = _write_tree(tmp_path, {"train": {"a": 9, "b": 3}, "test": {"a": 1, "b": 1}})
    d = load_dataset("image-folder", data_dir=root, imbalance=None)
    assert d.counts.tolist() == [9, 3] and d.imbalance == 3.0


@pytest.mark.parametrize("spec, match", [
    ({"train": {"a": 2, "b": 2}}, "no test/ folder"),
    ({"test": {"a": 2, "b": 2}}, "no train/ folder"),
    ({"train": {"a": 2, "b": 2}, "test": {"a": 2, "c": 2}}, r"class folders differ .*only in train \['b'\], only in test \['c'\]"),
    ({"train": {"a": 2, "b": 0}, "test": {"a": 2, "b": 2}}, r"class folder .*train[/\\]b holds no image"),
])
def test_malformed_image_folder_raises_data_error(tmp_path, spec, match):
    _write_tree(tmp_path, spec)
    for split, classes in spec.items():  # empty class folders must exist to be reported as empty
        for cls in classes:
            (tmp_path / split / cls).mkdir(parents=True, exist_ok=True)
    with pytest.raises(DataError, match=match):
        load_dataset("image-folder", data_dir=tmp_path, imbalance=1.0)


def test_unreadable_image_names_the_file(tmp_path):
    root = _write_tree(tmp_path, {"train": {"a": 2, "b": 2}, "test": {"a": 1, "b": 1}})
    (root / "train" / "b" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"cannot read image .*broken\.jpg"):
        load_dataset("image-folder", data_dir=root, imbalance=1.0)


def test_mixed_image_sizes_are_refused(tmp_path):
    root = _write_tree(tmp_path, {"train": {"a": 2, "b": 2}, "test": {"a": 1, "b": 1}})
    Image.fromarray(np.zeros((9, 9, 3), dtype=np.uint8)).save(root / "train" / "b" / "img_big.png")
    with pytest.raises(DataError, match="must all have one size"):
        load_dataset("image-folder", data_dir=root, imbalance=1.0)


def test_missing_folder_and_non_tree_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("image-folder", data_dir=tmp_path / "nowhere")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(DataError, match="neither a folder nor a tar archive"):
        load_dataset("image-folder", data_dir=tmp_path / "f.txt")


def test_cifar_without_data_says_where_it_looked_and_how_to_fix(tmp_path):
    with pytest.raises(DataError, match=r"looked for .*cifar-10-batches-py.*pass data_dir.*download=True"):
        load_dataset("cifar10-lt", data_dir=tmp_path)
    # a missing archive is named as such, and no download is suggested: there is nothing to fetch into
    with pytest.raises(DataError, match=r"does not exist \(no such archive\)") as err:
        load_dataset("cifar10-lt", data_dir=tmp_path / "cifar10-jpeg.tar.xz")
    assert "download" not in str(err.value)
    with pytest.raises(DataError, match="cifar-100-python"):
        load_dataset("cifar100-lt", data_dir=tmp_path)


def test_cifar_name_on_a_tree_with_the_wrong_class_count(tmp_path):
    root = _write_tree(tmp_path, {"train": {"a": 2, "b": 2}, "test": {"a": 1, "b": 1}})
    with pytest.raises(DataError, match="cifar100-lt needs 100 class folders but .* has 2"):
        load_dataset("cifar100-lt", data_dir=root)


def test_archive_of_a_tree_loads_like_the_tree(tmp_path):
    root = _write_tree(tmp_path / "tree", {"train": {"a": 5, "b": 5}, "test": {"a": 2, "b": 2}})
    archive = tmp_path / "tree.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="data")  # a leading folder, as in the shared archive
    a = load_dataset("image-folder", data_dir=root, imbalance=5.0)
    b = load_dataset("image-folder", data_dir=archive, imbalance=5.0)
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.test.images, b.test.images)
    assert a.split_hash == b.split_hash and a.class_names == b.class_names
    bad = tmp_path / "bad.tar.xz"
    bad.write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot read archive"):
        load_dataset("image-folder", data_dir=bad)


# ----------------------------------------------------------------------------- torchvision source
def _fake_cifar10(root: Path, per_class_train: int, per_class_test: int) -> tuple[np.ndarray, np.ndarray]:
    """A torchvision-layout cifar-10-batches-py with tiny batches (integrity checks are patched)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train_y = rng.permutation(np.repeat(np.arange(10), per_class_train))
    test_y = np.repeat(np.arange(10), per_class_test)
    train_x = rng.integers(0, 256, (train_y.size, 3072), dtype=np.uint8)
    test_x = rng.integers(0, 256, (test_y.size, 3072), dtype=np.uint8)
    for i, part in enumerate(np.array_split(np.arange(train_y.size), 5), start=1):
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump({"data": train_x[part], "labels": train_y[part].tolist()}, f)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": test_x, "labels": test_y.tolist()}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CIFAR10_CLASSES}, f)
    return train_x, train_y


def test_torchvision_layout_is_converted_to_nchw(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)
    monkeypatch.setattr(tv_cifar.CIFAR10, "_check_integrity", lambda self: True)
    train_x, train_y = _fake_cifar10(tmp_path, per_class_train=6, per_class_test=3)
    d = load_dataset("cifar10-lt", data_dir=tmp_path, imbalance=None, max_test_per_class=2)
    assert d.class_names == CIFAR10_CLASSES and d.train.images.shape == (60, 3, 32, 32)
    assert np.array_equal(d.train.images.reshape(60, -1).numpy(), train_x)  # CHW order of the pickles
    assert np.array_equal(d.train.labels.numpy(), train_y)
    assert np.bincount(d.test.labels.numpy()).tolist() == [2] * 10
    # pointing at the batches folder itself works too
    same = load_dataset("cifar10-lt", data_dir=tmp_path / "cifar-10-batches-py", imbalance=None)
    assert same.split_hash == d.split_hash
    # the protocol needs 5,000 images of class 0
    with pytest.raises(DataError, match="not the full CIFAR training set"):
        load_dataset("cifar10-lt", data_dir=tmp_path, imbalance=10.0)


# ----------------------------------------------------------------------------- real JPEG CIFAR-10
def test_image_folder_on_real_cifar_subset(cifar_subset_dir):
    d = load_dataset("image-folder", data_dir=cifar_subset_dir, imbalance=10.0)
    assert d.class_names == CIFAR10_CLASSES == sorted(p.name for p in (cifar_subset_dir / "train").iterdir())
    assert d.counts.tolist() == long_tailed_counts(60, 10, 10.0).tolist()
    assert d.train.images.shape == (int(d.counts.sum()), 3, 32, 32) and d.train.images.dtype == torch.uint8
    assert d.test.images.shape == (200, 3, 32, 32)
    # labels match the folder each image came from, pixels match a direct PIL decode
    listing = [(cls, f) for cls in d.class_names
               for f in sorted(p.name for p in (cifar_subset_dir / "train" / cls).iterdir())]
    for k in (0, 17, len(d.train) - 1):
        cls, fname = listing[int(d.train.indices[k])]
        assert d.class_names[int(d.train.labels[k])] == cls
        direct = np.asarray(Image.open(cifar_subset_dir / "train" / cls / fname).convert("RGB"))
        assert np.array_equal(d.train.images[k].permute(1, 2, 0).numpy(), direct)
    assert all(0.2 < m < 0.7 for m in d.mean) and all(0.1 < s < 0.4 for s in d.std)


def test_cifar10_name_accepts_the_jpeg_tree(cifar_subset_dir):
    d = load_dataset("cifar10-lt", data_dir=cifar_subset_dir, imbalance=10.0, max_test_per_class=5)
    assert d.name == "cifar10-lt" and d.num_classes == 10 and len(d.test) == 50
    with pytest.raises(DataError, match="imbalance 100 with n_max 60 leaves class 9"):
        load_dataset("cifar10-lt", data_dir=cifar_subset_dir, imbalance=100.0)


def test_datasets_tuple_lists_every_source():
    assert DATASETS == ("digits-lt", "cifar10-lt", "cifar100-lt", "image-folder")
