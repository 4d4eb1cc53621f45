"""Long-tailed image data sets: the CIFAR-LT protocol, image-folder trees and a small embedded set.

Every source ends in the same :class:`LTDataset`: a long-tailed training split and a
balanced test split, both as uint8 image tensors on the CPU, plus the positions of the
chosen images in their source split (so that a run record can say exactly which images it
trained on, and :func:`split_hash` can fingerprint the split).

The long-tailed training set follows the standard CIFAR-LT protocol (Cao et al. 2019;
Zhou et al. 2020, used by the paper in Sect. 4.1): per-class counts
``n_j = int(n_max * imbalance ** (-j / (C - 1)))`` (:func:`ltbound.bounds.sampling.long_tailed_counts`,
imbalance = n_max / n_min), and for each class a seeded shuffle of its images, keeping the
first n_j (:func:`long_tailed_indices`).

Sources
-------
``digits-lt``
    scikit-learn's embedded handwritten digits (1,797 gray 8x8 images, no download):
    40 images per class form the balanced test set, the long-tailed training set is drawn
    from the rest with n_max = 130. Small enough for CPU tests and demos.
``cifar10-lt`` / ``cifar100-lt``
    torchvision's CIFAR-10 / CIFAR-100 (``data_dir/cifar-10-batches-py`` or
    ``data_dir/cifar-100-python``), n_max = 500 per class for CIFAR-100 and 5,000 for
    CIFAR-10. ``data_dir`` may instead be an image-folder tree or a tar archive of one
    (e.g. the JPEG CIFAR-10 in ``../shared/data``).
``image-folder``
    ``data_dir/{train,test}/<class>/*.{jpg,jpeg,png}``; sorted class folder names give the
    labels 0..C-1. ``data_dir`` may also be a ``.tar``/``.tar.gz``/``.tar.xz`` archive of
    such a tree (read in memory, no extraction).

For folder and archive sources, n_max is the smallest number of training images of any
class (5,000 for the full CIFAR-10 tree), and the images of a class are ordered by file
name; the chosen subset therefore differs from the one torchvision's ordering gives, even
with the same seed.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import numpy as np
import torch

from ..._validation import check_finite_scalar, check_positive_int, check_seed
from ...bounds.sampling import class_counts, long_tailed_counts, long_tailed_indices, shot_groups
from ...schedule import DATASETS   # the names live beside the recipes, readable without torch

#: Environment variable naming the data folder when ``data_dir`` is not given.
DATA_DIR_ENV = "LTBOUND_DATA_DIR"

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2")

_CIFAR = {
    # name: (torchvision class name, folder torchvision writes, n_max per class, classes)
    "cifar10-lt": ("CIFAR10", "cifar-10-batches-py", 5000, 10),
    "cifar100-lt": ("CIFAR100", "cifar-100-python", 500, 100),
}

#: Digits source: balanced test images per class and the head-class count of the LT pool
#: (every digit class has >= 174 images, so >= 134 remain after the test split).
DIGITS_TEST_PER_CLASS = 40
DIGITS_N_MAX = 130


class DataError(ValueError):
    """A data source that is missing or malformed; the message says what, where and how to fix it."""


@dataclass
class ImageSplit:
    """One split of a data set.

    Attributes
    ----------
    images : torch.Tensor, shape (N, C, H, W), uint8, CPU
    labels : torch.Tensor, shape (N,), int64, in [0, num_classes)
    indices : ndarray, shape (N,), int64
        Positions of these images in the source split (the source's train or test set,
        in the source's own order).
    """

    images: torch.Tensor
    labels: torch.Tensor
    indices: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class LTDataset:
    """A long-tailed training split and a balanced test split, ready for training.

    ``mean``/``std`` are per-channel statistics of the long-tailed training images in
    [0, 1] units (population std); ``augment`` names the training augmentation the
    trainer should apply ("crop-flip": pad 4, random crop back to the image size, random
    horizontal flip; "none"); ``default_model`` is a :func:`ltbound.train.loop.models.build_model`
    name.
    """

    name: str
    num_classes: int
    class_names: list[str]
    train: ImageSplit
    test: ImageSplit
    counts: np.ndarray
    imbalance: float
    split_hash: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: str
    default_model: str
    #: the image files' format for data read from an image tree ("png", "jpeg", or e.g. "jpeg+png"):
    #: lossy and lossless copies of one data set give other numbers (docs/cifar-cpu.md), so a record
    #: says which it was trained on; None for sources that are not image files (digits, torchvision)
    image_format: str | None = None
    #: what part of a data set's long-tailed split this is, when not all of it (a certification's
    #: D_prior: ``{"role": "certification prior", ...}``); None for the whole split. A run trained on
    #: a subset continues through the code that made the subset, not the trainer's CLI (which would
    #: rebuild the whole split), so restore reads this to say which command continues it.
    subset: dict | None = None

    def describe(self) -> dict[str, Any]:
        """JSON-safe summary for a run record's ``dataset`` field."""
        groups = shot_groups(self.counts)
        return {
            "name": self.name,
            "num_classes": int(self.num_classes),
            "class_names": list(self.class_names),
            "counts": [int(c) for c in self.counts],
            "imbalance": float(self.imbalance),
            "split_hash": self.split_hash,
            "n_train": len(self.train),
            "n_test": len(self.test),
            "shot_groups": {k: [int(i) for i in v] for k, v in groups.items()},
            "image_shape": [int(s) for s in self.train.images.shape[1:]],
            "mean": [float(m) for m in self.mean],
            "std": [float(s) for s in self.std],
            "augment": self.augment,
            "default_model": self.default_model,
            **({"image_format": self.image_format} if self.image_format is not None else {}),
            **({"subset": dict(self.subset)} if self.subset is not None else {}),
        }


# ----------------------------------------------------------------------------- protocol
def split_hash(indices: Any) -> str:
    """SHA-256 hex digest of the split's source positions, as little-endian int64 bytes."""
    arr = np.asarray(indices)
    if arr.ndim != 1:
        raise ValueError(f"indices must be a 1-D array of positions, got shape {arr.shape}")
    return hashlib.sha256(np.ascontiguousarray(arr, dtype="<i8").tobytes()).hexdigest()


def _lt_counts(n_max: int, num_classes: int, imbalance: float, where: str) -> np.ndarray:
    counts = long_tailed_counts(n_max, num_classes, imbalance)
    if np.any(counts < 1):
        j = int(np.flatnonzero(counts < 1)[0])
        raise DataError(f"imbalance {imbalance:g} with n_max {n_max} leaves class {j} with no "
                        f"training image in {where}; lower the imbalance or use a source with "
                        "more images per class")
    return counts


def _first_per_class(labels: np.ndarray, num_classes: int, k: int | None) -> np.ndarray:
    """Positions of the first k images (ascending position) of each class; all when k is None."""
    if k is None:
        return np.arange(labels.shape[0], dtype=np.int64)
    keep = [np.flatnonzero(labels == j)[:k] for j in range(num_classes)]
    return np.sort(np.concatenate(keep)).astype(np.int64)


def _channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and population std in [0, 1] units, accumulated in float64."""
    c = images.shape[1]
    flat = images.transpose(0, 1).reshape(c, -1)
    means, stds = [], []
    for ch in range(c):
        x = flat[ch].to(torch.float64) / 255.0
        m = float(x.mean())
        means.append(m)
        stds.append(float(torch.sqrt(torch.clamp(((x - m) ** 2).mean(), min=0.0))))
    return tuple(means), tuple(stds)


# ----------------------------------------------------------------------------- image trees
class _Tree:
    """An image-folder tree (directory or archive): split -> sorted classes -> sorted files."""

    def __init__(self, where: str, classes: list[str], files: dict[str, list[tuple[str, int]]],
                 reader: Callable[[str], bytes]):
        self.where = where
        self.classes = classes
        self.files = files  # split -> [(key, label)] in class order, then file name order
        self.reader = reader

    def labels(self, split: str) -> np.ndarray:
        return np.array([lab for _, lab in self.files[split]], dtype=np.int64)

    def image_format(self) -> str:
        """The files' format(s), from their suffixes: "jpeg", "png", or several joined by "+"."""
        kinds = {"jpeg" if key.lower().endswith((".jpg", ".jpeg")) else "png"
                 for split in self.files.values() for key, _ in split}
        return "+".join(sorted(kinds))

    def decode(self, split: str, positions: np.ndarray) -> torch.Tensor:
        keys = [self.files[split][int(i)][0] for i in positions]
        return _decode_many(keys, self.reader, self.where)


def _decode_one(key: str, reader: Callable[[str], bytes], where: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(reader(key))) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataError(f"cannot read image {key} in {where}: {exc}; remove or replace the file") from None


def _decode_many(keys: list[str], reader: Callable[[str], bytes], where: str) -> torch.Tensor:
    if not keys:
        raise DataError(f"no images to decode in {where}")
    # PIL releases the GIL while decoding, so threads give a near-linear speed-up.
    workers = min(32, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        arrays = list(pool.map(lambda k: _decode_one(k, reader, where), keys, chunksize=256))
    shape = arrays[0].shape
    for k, a in zip(keys, arrays):
        if a.shape != shape:
            raise DataError(f"images in {where} must all have one size: {keys[0]} is "
                            f"{shape[1]}x{shape[0]} but {k} is {a.shape[1]}x{a.shape[0]}; resize them first")
    stacked = np.stack(arrays)  # (N, H, W, 3)
    return torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous()


def _check_tree(where: str, per_split: dict[str, dict[str, list[str]]]) -> tuple[list[str], dict[str, list[tuple[str, int]]]]:
    """Validate split/class/file listings and turn them into labelled, sorted file lists."""
    missing = [s for s in ("train", "test") if s not in per_split]
    if missing:
        raise DataError(f"{where} is not an image-folder tree: no {' or '.join(s + '/' for s in missing)} "
                        "folder; expected <root>/train/<class>/*.jpg and <root>/test/<class>/*.jpg")
    train_cls, test_cls = sorted(per_split["train"]), sorted(per_split["test"])
    if not train_cls:
        raise DataError(f"{where}/train has no class folders; expected train/<class>/*.jpg")
    if train_cls != test_cls:
        only_train = sorted(set(train_cls) - set(test_cls))
        only_test = sorted(set(test_cls) - set(train_cls))
        raise DataError(f"class folders differ between {where}/train and {where}/test: only in train "
                        f"{only_train}, only in test {only_test}; both splits need the same classes")
    files: dict[str, list[tuple[str, int]]] = {}
    for split in ("train", "test"):
        listing: list[tuple[str, int]] = []
        for label, cls in enumerate(train_cls):
            names = sorted(per_split[split][cls])
            if not names:
                raise DataError(f"class folder {where}/{split}/{cls} holds no image "
                                f"({', '.join(IMAGE_SUFFIXES)}); every class needs images in both splits")
            listing.extend((name, label) for name in names)
        files[split] = listing
    return train_cls, files


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _dir_tree(root: Path) -> _Tree:
    where = str(root)
    per_split: dict[str, dict[str, list[str]]] = {}
    for split in ("train", "test"):
        d = root / split
        if not d.is_dir():
            continue
        per_split[split] = {}
        for cls_dir in d.iterdir():
            if cls_dir.is_dir():
                per_split[split][cls_dir.name] = [str(p) for p in cls_dir.iterdir()
                                                  if p.is_file() and _is_image(p.name)]
    classes, files = _check_tree(where, per_split)
    return _Tree(where, classes, files, lambda key: Path(key).read_bytes())


def _archive_tree(archive: Path) -> _Tree:
    """Read every image of a tar archive of an image-folder tree into memory (no extraction).

    Members are matched as ``.../<split>/<class>/<file>`` with any leading folders, the
    layout of ``../shared/data/cifar10-jpeg.tar.xz``.
    """
    where = str(archive)
    blobs: dict[str, bytes] = {}
    per_split: dict[str, dict[str, list[str]]] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if not member.isfile() or not _is_image(member.name):
                    continue
                parts = PurePosixPath(member.name).parts
                if len(parts) < 3 or parts[-3] not in ("train", "test"):
                    continue
                split, cls = parts[-3], parts[-2]
                fobj = tar.extractfile(member)
                if fobj is None:
                    continue
                blobs[member.name] = fobj.read()
                per_split.setdefault(split, {}).setdefault(cls, []).append(member.name)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"cannot read archive {where}: {exc}; pass an intact .tar/.tar.gz/.tar.xz "
                        "of a train/<class>/*.jpg, test/<class>/*.jpg tree") from None
    classes, files = _check_tree(where, per_split)
    return _Tree(where, classes, files, blobs.__getitem__)


def _is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _open_tree(path: Path) -> _Tree:
    if _is_archive(path):
        return _archive_tree(path)
    if not path.exists():
        raise DataError(f"data_dir {path} does not exist; pass data_dir pointing at a folder "
                        "with train/<class>/*.jpg and test/<class>/*.jpg (or a tar archive of one)")
    if not path.is_dir():
        raise DataError(f"{path} is neither a folder nor a tar archive; expected an image-folder tree "
                        "train/<class>/*.jpg, test/<class>/*.jpg or a .tar/.tar.gz/.tar.xz of one")
    return _dir_tree(path)


def _looks_like_tree(path: Path) -> bool:
    return _is_archive(path) or (path / "train").is_dir() or (path / "test").is_dir()


# ----------------------------------------------------------------------------- sources
def _resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    if data_dir is not None:
        return Path(data_dir).expanduser()
    return Path(os.environ.get(DATA_DIR_ENV, "data")).expanduser()


def _assemble(name: str, class_names: list[str], train_images: torch.Tensor, train_labels: np.ndarray,
              train_idx: np.ndarray, test_images: torch.Tensor, test_labels: np.ndarray,
              test_idx: np.ndarray, imbalance: float | None, augment: str, default_model: str) -> LTDataset:
    """The data set; ``imbalance=None`` (the whole source kept) records the split's own n_max / n_min."""
    c = len(class_names)
    counts = class_counts(train_labels, c)
    if imbalance is None:
        imbalance = float(counts.max() / counts.min())
    mean, std = _channel_stats(train_images)
    return LTDataset(
        name=name, num_classes=c, class_names=list(class_names),
        train=ImageSplit(train_images.contiguous(), torch.from_numpy(train_labels.astype(np.int64)),
                         train_idx.astype(np.int64)),
        test=ImageSplit(test_images.contiguous(), torch.from_numpy(test_labels.astype(np.int64)),
                        test_idx.astype(np.int64)),
        counts=counts, imbalance=float(imbalance), split_hash=split_hash(train_idx),
        mean=mean, std=std, augment=augment, default_model=default_model)


def _load_digits(imbalance: float | None, split_seed: int, max_test_per_class: int | None) -> LTDataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel values are 0..16 (Alpaydin & Kaynak's 4x4-block counts); x16 maps 16 to 256,
    # clipped to 255, so the images use the full uint8 range.
    pixels = np.clip(bunch.images * 16.0, 0, 255).astype(np.uint8)[:, None, :, :]  # (N, 1, 8, 8)
    labels = bunch.target.astype(np.int64)
    c = 10
    rs = np.random.RandomState(split_seed)
    test_parts, pool_parts = [], []
    for j in range(c):
        idx = np.flatnonzero(labels == j)
        rs.shuffle(idx)
        test_parts.append(np.sort(idx[:DIGITS_TEST_PER_CLASS]))
        pool_parts.append(idx[DIGITS_TEST_PER_CLASS:])
    test_idx = np.concatenate(test_parts)  # class order, ascending within class
    pool = np.sort(np.concatenate(pool_parts))
    if imbalance is None:
        train_idx = np.concatenate([pool[labels[pool] == j] for j in range(c)])
    else:
        counts = _lt_counts(DIGITS_N_MAX, c, imbalance, "the digits pool")
        train_idx = pool[long_tailed_indices(labels[pool], counts, split_seed)]
    if max_test_per_class is not None:
        test_idx = test_idx[_first_per_class(labels[test_idx], c, max_test_per_class)]
    train_labels = labels[train_idx]
    return _assemble("digits-lt", [str(j) for j in range(c)],
                     torch.from_numpy(pixels[train_idx]), train_labels, train_idx,
                     torch.from_numpy(pixels[test_idx]), labels[test_idx], test_idx,
                     imbalance, "none", "digits_net")


def _load_tree(name: str, tree: _Tree, imbalance: float | None, split_seed: int,
               max_test_per_class: int | None, expected_classes: int | None) -> LTDataset:
    c = len(tree.classes)
    if expected_classes is not None and c != expected_classes:
        raise DataError(f"{name} needs {expected_classes} class folders but {tree.where} has {c} "
                        f"({tree.classes[:5]}{'...' if c > 5 else ''}); point --data-dir at the right tree "
                        "or use --dataset image-folder")
    train_labels_all = tree.labels("train")
    if imbalance is None:
        train_idx = np.arange(train_labels_all.shape[0], dtype=np.int64)
    else:
        n_max = int(class_counts(train_labels_all, c).min())
        counts = _lt_counts(n_max, c, imbalance, tree.where)
        train_idx = long_tailed_indices(train_labels_all, counts, split_seed)
    test_labels_all = tree.labels("test")
    test_idx = _first_per_class(test_labels_all, c, max_test_per_class)
    train_labels = train_labels_all[train_idx]
    ds = _assemble(name, tree.classes,
                   tree.decode("train", train_idx), train_labels, train_idx,
                   tree.decode("test", test_idx), test_labels_all[test_idx], test_idx,
                   imbalance, "crop-flip", "resnet32")
    ds.image_format = tree.image_format()
    return ds


def _load_cifar(name: str, root: Path, imbalance: float | None, download: bool, split_seed: int,
                max_test_per_class: int | None) -> LTDataset:
    cls_name, folder, n_max, c = _CIFAR[name]
    if root.name == folder:  # the user pointed at the batches folder itself
        root = root.parent
    if not download and _looks_like_tree(root) and not (root / folder).is_dir():
        return _load_tree(name, _open_tree(root), imbalance, split_seed, max_test_per_class, c)
    if not download and not root.exists():
        kind = "archive" if root.name.lower().endswith(ARCHIVE_SUFFIXES) else "folder"
        raise DataError(f"{name}: data_dir {root} does not exist (no such {kind}); pass data_dir pointing at "
                        "a tar archive of train/<class>/*.jpg + test/<class>/*.jpg, such a folder, or "
                        f"torchvision's {folder} folder's parent (or set {DATA_DIR_ENV})")
    if not download and not (root / folder).is_dir():
        raise DataError(f"{name}: no CIFAR data in {root}: looked for {root / folder} (torchvision's layout) "
                        f"and {root}/train, {root}/test (an image-folder tree); pass data_dir pointing at a "
                        f"folder or archive that holds one of these (or set {DATA_DIR_ENV}), or "
                        f"download=True to let torchvision fetch CIFAR into {root}")
    import torchvision.datasets as tvd

    source = getattr(tvd, cls_name)
    try:
        train_set = source(str(root), train=True, download=download)
        test_set = source(str(root), train=False, download=download)
    except RuntimeError as exc:  # torchvision: "Dataset not found or corrupted"
        raise DataError(f"{name}: torchvision could not load {root / folder}: {exc}; delete the folder "
                        "and pass --download, or point --data-dir at an intact copy") from None
    train_x = torch.from_numpy(np.asarray(train_set.data)).permute(0, 3, 1, 2)  # NHWC -> NCHW
    test_x = torch.from_numpy(np.asarray(test_set.data)).permute(0, 3, 1, 2)
    train_y = np.asarray(train_set.targets, dtype=np.int64)
    test_y = np.asarray(test_set.targets, dtype=np.int64)
    if imbalance is None:
        train_idx = np.arange(train_y.shape[0], dtype=np.int64)
    else:
        counts = _lt_counts(n_max, c, imbalance, str(root / folder))
        try:
            train_idx = long_tailed_indices(train_y, counts, split_seed)
        except ValueError as exc:
            raise DataError(f"{name}: {root / folder} is not the full CIFAR training set ({exc}); "
                            f"the CIFAR-LT protocol takes n_max = {n_max} images of class 0") from None
    test_idx = _first_per_class(test_y, c, max_test_per_class)
    train_labels = train_y[train_idx]
    return _assemble(name, list(train_set.classes), train_x[train_idx], train_labels, train_idx,
                     test_x[test_idx], test_y[test_idx], test_idx, imbalance, "crop-flip", "resnet32")


# ----------------------------------------------------------------------------- a record's data
def record_data_dir(manifest: dict, data_dir: Any = None) -> str | None:
    """Where a run record's data set is: ``data_dir``, else ``$LTBOUND_DATA_DIR``, else the record's path.

    Records written before paths were stored absolute may hold a path relative to the folder
    the run was started from; such a path is tried as it is and, when missing, the error says
    so and how to point elsewhere. Built-in data (digits) needs no path: returns None.
    """
    from ...records import derive_run_fields

    cfg = manifest.get("config", {}) or {}       # data_dir has no top-level field: the trainer's setting
    name = derive_run_fields(manifest)["source"].get("dataset")
    if str(name or "").startswith("digits"):
        return None
    if data_dir is not None:
        chosen, source = str(data_dir), "data_dir"
    elif os.environ.get(DATA_DIR_ENV):
        chosen, source = os.environ[DATA_DIR_ENV], f"${DATA_DIR_ENV}"
    elif cfg.get("data_dir"):
        chosen, source = str(cfg["data_dir"]), "the record's data_dir"
    else:
        raise ValueError(f"the record names no data_dir for {name!r}; pass data_dir or set {DATA_DIR_ENV}")
    path = Path(chosen).expanduser()
    if not path.exists():
        relative = "" if path.is_absolute() else f" (relative, so read from {Path.cwd()})"
        raise ValueError(f"{source} {chosen}{relative} does not exist; pass data_dir pointing at the data set's "
                         f"folder or archive, or set {DATA_DIR_ENV} (the split hash is checked either way)")
    return str(path.resolve())


def load_dataset(name: str, *, data_dir: str | os.PathLike | None = None, imbalance: float | None = 100.0,
                 download: bool = False, split_seed: int = 0,
                 max_test_per_class: int | None = None) -> LTDataset:
    """Load a long-tailed training split and a balanced test split.

    Parameters
    ----------
    name : {'digits-lt', 'cifar10-lt', 'cifar100-lt', 'image-folder'}
    data_dir : path, optional
        Where the source lies (unused by 'digits-lt'). Default: the environment variable
        ``LTBOUND_DATA_DIR``, else ``./data``. For CIFAR, a folder holding torchvision's
        ``cifar-10-batches-py`` / ``cifar-100-python``, or an image-folder tree
        (``train/<class>/*.jpg``, ``test/<class>/*.jpg``), or a tar archive of one.
    imbalance : float >= 1 or None
        n_max / n_min of the long-tailed training set (Sect. 4.1). ``None`` keeps every
        training image of the source (for a tree that is already long-tailed).
    download : bool
        Let torchvision download CIFAR into ``data_dir`` when it is missing.
    split_seed : int in [0, 2**32)
        Seed of the per-class shuffles (:func:`long_tailed_indices`; for digits also of
        the train/test split).
    max_test_per_class : int, optional
        Keep only the first k test images of each class (by source position).

    Returns
    -------
    LTDataset

    Raises
    ------
    ValueError
        Bad arguments (unknown name, imbalance < 1, ...).
    DataError
        A missing or malformed source; the message says where it looked and what to do.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"name must be one of {list(DATASETS)}, got {name!r}")
    imb = None if imbalance is None else check_finite_scalar(imbalance, "imbalance", low=1.0)
    split_seed = check_seed(split_seed, "split_seed", maximum=2 ** 32 - 1)
    k = None if max_test_per_class is None else check_positive_int(max_test_per_class, "max_test_per_class")
    if not isinstance(download, (bool, np.bool_)):
        raise ValueError(f"download must be True or False, got {download!r}")
    if name == "digits-lt":
        return _load_digits(imb, split_seed, k)
    root = _resolve_data_dir(data_dir)
    if name in _CIFAR:
        return _load_cifar(name, root, imb, bool(download), split_seed, k)
    return _load_tree(name, _open_tree(root), imb, split_seed, k, None)

