"""A user's training data read as batches, and the data-loader mistakes caught on the way.

:mod:`ltbound.train.loss_matrices.bridge` (loss matrices) and :func:`ltbound.bounds_for_model` read a torch
user's ``Dataset`` / ``DataLoader`` / ``(images, labels)`` through these helpers; this module
holds the one idea "what a user's data are and whether they are D as the bounds define it".

Image forms (the ``pixels`` argument; always explicit, never inferred from the dtype)
-------------------------------------------------------------------------------------
``"uint8"``
    Integers 0..255, e.g. ``transforms.PILToTensor()`` or a raw uint8 array. The model
    sees ``(x / 255 − mean) / std``; ``mean`` and ``std`` are required.
``"unit"``
    Floats in [0, 1], e.g. ``transforms.ToTensor()``. The model sees ``(x − mean) / std``;
    ``mean`` and ``std`` are required, and a value outside [0, 1] is an error.
``"normalized"``
    Floats the model takes as they are (normalisation already in the transforms);
    ``mean`` and ``std`` must not be given.

``mean`` and ``std`` are per channel in [0, 1] pixel units (as ``transforms.Normalize``
takes them after ``ToTensor``). The same images in the three forms give the same losses
up to float32 rounding (tested).

Data-loader mistakes that are caught (the losses of D are per-sample losses on D's own,
un-augmented images; each mistake below would give a number that is silently wrong)
----------------------------------------------------------------------------------
* ``mean`` / ``std`` in 0..255 units (outside [0, 1] / (0, 1]): ValueError before any work.
* ``pixels='normalized'`` on images that all lie in [0, 1] (never normalised): a warning
  after the pass, naming ``pixels='unit'``.
* A random transform (crop, flip): two reads of one index must give the same image; a few
  indices of a map-style Dataset are read twice before the pass (ValueError if they differ).
  An ``IterableDataset`` has no indices, so this is not checked, and the result says so.
* A loader that skips samples (``drop_last=True`` with a ragged last batch, a sampler over
  part of the data, one that draws with replacement): ValueError before the pass where the
  DataLoader shows it, else after it when the samples read differ from ``len(dataset)``.
* Labels outside 0..C−1 (1-based labels, C the model's output width or ``num_classes``) and
  channels-last images: a ValueError at the first batch, not a torch error from inside the model.
* With ``every_class=True`` (:func:`ltbound.bounds_for_model`): a class with no sample (a
  ``Subset``, a data set missing the last class) is a ValueError, raised before the pass
  when the labels can be read without the images (tensors, ``TensorDataset``, torchvision
  data sets, ``Subset`` / ``ConcatDataset`` of those), else after it.
"""

from __future__ import annotations

import random
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from torch.utils.data import (ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler, Subset,
                              TensorDataset, WeightedRandomSampler)


#: Image forms of the ``pixels`` argument (module docstring).
PIXELS = ("uint8", "unit", "normalized")
#: Indices of a map-style dataset read twice to detect a random transform (a flip alone
#: leaves one index unchanged with probability 1/2, so 8 indices miss it with 1/256).
REPEAT_READS = 8



# ----------------------------------------------------------------------------- checks
def _check_pixels(pixels: Any, mean: Any, std: Any) -> None:
    if pixels not in PIXELS:
        raise ValueError(f"pixels must be one of {PIXELS} (how the data's images are stored: uint8 0..255, "
                         f"floats in [0, 1] as ToTensor gives, or already normalised), got {pixels!r}")
    if pixels == "normalized":
        if mean is not None or std is not None:
            raise ValueError("mean/std were given but pixels='normalized' says the images are already "
                             "normalised; drop mean and std, or pass pixels='unit' (ToTensor floats) or "
                             "pixels='uint8'")
    elif mean is None or std is None:
        raise ValueError(f"pixels={pixels!r} needs mean and std, the per-channel normalisation the model was "
                         "trained with, in [0, 1] pixel units (e.g. mean=(0.4914, 0.4822, 0.4465)); "
                         "if the images are already normalised pass pixels='normalized'")


def _stats(v: Any, name: str) -> torch.Tensor:
    try:
        arr = np.asarray(v, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of per-channel floats, got {v!r}") from None
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold one finite float per channel, got {arr.tolist()}")
    if name == "std" and np.any(arr <= 0):
        raise ValueError(f"std must be > 0 per channel, got {arr.tolist()}")
    # [0, 1] pixel units: a mean lies in [0, 1] and a std of values in [0, 1] is at most 0.5
    # (1 allowed: mean 0, std 1 is "no normalisation"); 0..255 units (e.g. 125.3, 63.0) are refused
    if name == "mean" and (np.any(arr < 0) or np.any(arr > 1)):
        raise ValueError(f"mean must be in [0, 1] pixel units (as Normalize takes it after ToTensor), got "
                         f"{arr.tolist()}{'; in 0..255 units? divide by 255' if np.any(arr > 1) else ''}")
    if name == "std" and np.any(arr > 1):
        raise ValueError(f"std must be in (0, 1] pixel units (as Normalize takes it after ToTensor), got "
                         f"{arr.tolist()}; in 0..255 units? divide by 255")
    return torch.as_tensor(arr, dtype=torch.float32)


def _device(device: Any) -> torch.device:
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device, got {device!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be a CPU or CUDA device, got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here; pass device='cpu'")
    return dev


# ----------------------------------------------------------------------------- data
def _is_label_sequence(v: Any) -> bool:
    """True for a 1-D sequence of scalars (labels), False for an (image, label) sample or images."""
    if isinstance(v, (torch.Tensor, np.ndarray)):
        return v.ndim == 1
    if not isinstance(v, (tuple, list)):
        return False
    try:
        arr = np.asarray(v)
    except (TypeError, ValueError):   # ragged: e.g. (image, label)
        return False
    return arr.ndim == 1 and arr.dtype != object


def _is_pair(data: Any) -> bool:
    """(images, labels): a pair whose second entry is as long a sequence of labels.

    A list of two (image, label) samples is not a pair: its second entry holds an image.
    """
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        return False
    if not isinstance(data[0], (tuple, list)):
        return True                     # tensors / arrays: checked for shape by _pair
    return _is_label_sequence(data[1]) and len(data[1]) == len(data[0])


def _stack_images(images: Any) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        return images
    if isinstance(images, (tuple, list)):
        if not images:
            raise ValueError("data as (images, labels) holds no images")
        if all(isinstance(im, torch.Tensor) for im in images):
            shapes = {tuple(im.shape) for im in images}
            if len(shapes) > 1:
                raise ValueError(f"data as (images, labels): the images have different shapes {sorted(shapes)[:3]}; "
                                 "resize them to one (C, H, W)")
            return torch.stack(list(images))
        try:
            arrs = [np.asarray(im) for im in images]
            return torch.as_tensor(np.stack(arrs))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"data as (images, labels): the images cannot be stacked into one (n, C, H, W) "
                             f"array ({exc}); give tensors of one shape") from None
    try:
        return torch.as_tensor(np.asarray(images))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"data as (images, labels): images must be a tensor, an array or a list of tensors, "
                         f"got {type(images).__name__} ({exc})") from None


def _pair(data: Any, batch_size: int) -> tuple[Iterable, int]:
    x = _stack_images(data[0])
    try:
        y = data[1] if isinstance(data[1], torch.Tensor) else torch.as_tensor(np.asarray(data[1]))
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"data as (images, labels): labels must be a sequence of integers, got "
                         f"{type(data[1]).__name__}") from None
    if x.ndim < 1 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"data as (images, labels) needs images of shape (n, C, H, W) and labels of shape "
                         f"(n,), got {tuple(x.shape)} and {tuple(y.shape)}")
    return ((x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)), int(x.shape[0])


def _loader(data: Any, batch_size: int) -> tuple[Iterable, int | None]:
    """An iterable of (images, labels) batches and the number of samples when known.

    A DataLoader that would skip or repeat samples is refused here, before the pass.
    """
    if isinstance(data, DataLoader):
        try:
            n = len(data.dataset)  # type: ignore[arg-type]
        except TypeError:       # an IterableDataset without __len__
            n = None
        if data.drop_last and n is not None and data.batch_size and n % data.batch_size:
            raise ValueError(f"data is a DataLoader with drop_last=True: it skips the last {n % data.batch_size} of "
                             f"its {n} samples (batch_size {data.batch_size}), and the bounds need every sample "
                             "of D; build it with drop_last=False")
        sampler = data.sampler
        if (isinstance(sampler, WeightedRandomSampler) and sampler.replacement) or \
                (isinstance(sampler, RandomSampler) and sampler.replacement):
            raise ValueError(f"data is a DataLoader whose sampler ({type(sampler).__name__}) draws with "
                             "replacement: samples repeat and others are missed, and the bounds need each sample "
                             "of D once; use shuffle=False (or shuffle=True) without a weighted sampler")
        return data, n
    if _is_pair(data):
        return _pair(data, batch_size)
    if isinstance(data, Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        return DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0), len(data)
    raise ValueError(f"data must be a torch Dataset, a DataLoader or a pair (images, labels), got "
                     f"{type(data).__name__}")


def _map_dataset(data: Any) -> Any:
    """The indexable data set behind ``data``; None for tensors (nothing random) or an IterableDataset."""
    if _is_pair(data):
        return None
    ds = data.dataset if isinstance(data, DataLoader) else data
    return None if isinstance(ds, IterableDataset) else ds


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float, str, bytes, np.generic)) or a is None:
        return a == b or (a != a and b != b)
    ta = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.array(a))    # a copy: PIL arrays are read-only
    tb = b if isinstance(b, torch.Tensor) else torch.as_tensor(np.array(b))
    return ta.shape == tb.shape and ta.dtype == tb.dtype and torch.equal(torch.nan_to_num(ta), torch.nan_to_num(tb))


def _check_repeatable(data: Any, n: int | None) -> str:
    """Read ``REPEAT_READS`` indices twice; a random transform gives two different images.

    The global RNGs (torch, numpy, random) are restored afterwards, so the check does not
    move the caller's random streams. Returns what was found, for the result.
    """
    ds = _map_dataset(data)
    if ds is None and _is_pair(data):
        return "not needed: tensors given"
    if ds is None or not n:
        return ("NOT CHECKED: an IterableDataset has no indices to read twice; if it applies a random "
                "transform the losses are not those of D's own images")
    idx = sorted({int(i) for i in np.linspace(0, n - 1, min(n, REPEAT_READS))})
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        for i in idx:
            first, second = ds[i], ds[i]
            fa = first[0] if isinstance(first, (tuple, list)) else first
            fb = second[0] if isinstance(second, (tuple, list)) else second
            try:
                same = _same(fa, fb)
            except (TypeError, ValueError, RuntimeError):
                same = True        # not comparable as arrays (e.g. PIL): _batches will name the fix
            if not same:
                raise ValueError(f"data yields a different image each time index {i} is read: a random transform "
                                 "(RandomCrop, RandomHorizontalFlip, ...) is applied. The training losses in the "
                                 "bounds are those of D's own images; pass the training set with the test-time "
                                 "transform only (e.g. ToTensor(), then pixels='unit' with mean and std)")
            if isinstance(first, (tuple, list)) and len(first) > 1 and not _same(first[1], second[1]):
                raise ValueError(f"data yields a different label each time index {i} is read (a random target "
                                 "transform?); the bounds need each sample's own label")
    finally:
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])
    return f"checked: {len(idx)} indices read twice gave the same images"


def _labels_without_images(data: Any) -> np.ndarray | None:
    """The labels ``data`` will yield (in some order), when they can be read without the images.

    Tensors, TensorDataset, torchvision data sets (their ``targets``, unless a
    ``target_transform`` changes them), and Subset / ConcatDataset of those; else None.
    Only for the class checks, which need the counts, not the order; a DataLoader qualifies
    when its sampler visits every index once (sequential or shuffled).
    """
    if _is_pair(data):
        y = data[1]
        return np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y)
    if isinstance(data, DataLoader):
        if type(data.sampler) not in (torch.utils.data.SequentialSampler, RandomSampler):
            return None
        data = data.dataset
    return _dataset_labels(data)


def _dataset_labels(ds: Any) -> np.ndarray | None:
    if isinstance(ds, Subset):
        inner = _dataset_labels(ds.dataset)
        return None if inner is None else inner[np.asarray(ds.indices, dtype=np.int64)]
    if isinstance(ds, ConcatDataset):
        parts = [_dataset_labels(d) for d in ds.datasets]
        return None if any(p is None for p in parts) else np.concatenate(parts)
    if isinstance(ds, TensorDataset) and len(ds.tensors) >= 2:
        return ds.tensors[1].cpu().numpy()
    if type(ds).__module__.startswith("torchvision.datasets") and getattr(ds, "target_transform", None) is None:
        targets = getattr(ds, "targets", None)
        if targets is not None:
            arr = np.asarray(targets.cpu() if isinstance(targets, torch.Tensor) else targets)
            if arr.ndim == 1 and arr.size == len(ds):
                return arr
    return None


def _check_classes(labels: np.ndarray, c: int, source: str, *, every_class: bool, when: str) -> None:
    """Labels within 0..c−1 and, with ``every_class``, every class present."""
    if labels.size == 0:
        return
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= c:
        one_based = " (1-based labels? subtract 1)" if lo >= 1 and hi == c else ""
        raise ValueError(f"labels must lie in 0..{c - 1} (C = {c}, {source}) but {when} reach {lo if lo < 0 else hi}"
                         f"{one_based}")
    if every_class:
        counts = np.bincount(labels.astype(np.int64), minlength=c)
        empty = np.flatnonzero(counts == 0).tolist()
        if empty:
            raise ValueError(f"classes {empty} have no sample in data ({when}), but C = {c} ({source}): the bounds "
                             "need the whole training set D, every class present (a Subset? a data set missing "
                             "classes?); pass the full training set, or num_classes if C is not the number of "
                             "classes")


def _in_channels(net: torch.nn.Module) -> int | None:
    for m in net.modules():
        ch = getattr(m, "in_channels", None)
        if isinstance(ch, int):
            return ch
    return None


def _output_width(net: torch.nn.Module, xb: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The first model's logits on the first batch; an image layout it cannot take is a ValueError.

    The model is run first and its error explained after, so a model whose first module in
    ``modules()`` order is not its input layer is never refused wrongly.
    """
    try:
        logits = net(xb).float()
    except RuntimeError as exc:
        ch = _in_channels(net)
        hint = (f"; the model's first convolution takes {ch} channels and the batch's last axis has {ch}: "
                "channels last? permute the images to (batch, C, H, W)"
                if ch is not None and xb.shape[1] != ch and xb.shape[-1] == ch else "")
        raise ValueError(f"the model cannot run on the data's first batch of shape {tuple(xb.shape)}, read as "
                         f"(batch, C, H, W){hint} (torch said: {str(exc).splitlines()[0]})") from None
    if logits.ndim != 2:
        raise ValueError(f"the model must return logits of shape (batch, C), got {tuple(logits.shape)}")
    return logits, int(logits.shape[1])


def _batches(loader: Iterable) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    it = iter(loader)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except TypeError as exc:       # default_collate on PIL images, strings, ...
            raise ValueError(f"data yields items torch cannot batch ({exc}); give the Dataset a transform "
                             "that returns tensors: PILToTensor() (then pixels='uint8') or ToTensor() "
                             "(then pixels='unit')") from None
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError(f"data must yield (images, labels) batches, got a {type(batch).__name__}")
        yield batch[0], batch[1]


def _inputs(x: Any, pixels: str, mean: torch.Tensor | None, std: torch.Tensor | None,
            dev: torch.device) -> torch.Tensor:
    """One batch as the float32 model input on ``dev``, after checking it has the stated form."""
    x = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if x.ndim != 4:
        raise ValueError(f"data must yield image batches of shape (batch, C, H, W), got {tuple(x.shape)}")
    if mean is not None and x.shape[1] != mean.numel():
        hint = (" (channels last? permute the images to (batch, C, H, W))"
                if x.shape[-1] == mean.numel() else "")
        raise ValueError(f"images have {x.shape[1]} channels (shape {tuple(x.shape)}) but mean/std have "
                         f"{mean.numel()} entries{hint}")
    if pixels == "uint8":
        if x.dtype != torch.uint8:
            raise ValueError(f"pixels='uint8' but the data yields images of dtype {x.dtype}; for ToTensor() "
                             "floats in [0, 1] pass pixels='unit', for already normalised floats "
                             "pixels='normalized'")
        xf = x.to(dev, non_blocking=True).to(torch.float32).div_(255.0)
    else:
        if not x.dtype.is_floating_point:
            raise ValueError(f"pixels={pixels!r} expects float images but the data yields dtype {x.dtype}; "
                             "for 0..255 integers pass pixels='uint8'")
        xf = x.to(dev, non_blocking=True).to(torch.float32)
        if pixels == "unit":
            lo, hi = torch.aminmax(xf)
            if float(lo) < 0.0 or float(hi) > 1.0:
                raise ValueError(f"pixels='unit' expects images in [0, 1] (as ToTensor gives) but a batch "
                                 f"spans [{float(lo):.4g}, {float(hi):.4g}]; already normalised images are "
                                 "pixels='normalized'")
    if mean is not None:
        # out of place: for float input on its own device xf *is* the caller's tensor (no copy was made)
        xf = (xf - mean.to(dev)[None, :, None, None]) / std.to(dev)[None, :, None, None]
    return xf


def _labels(y: Any, batch: int) -> torch.Tensor:
    y = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y))
    if y.ndim != 1 or y.shape[0] != batch:
        raise ValueError(f"data must yield labels of shape (batch,) = ({batch},), got {tuple(y.shape)}")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    return y.to(torch.int64)


# ----------------------------------------------------------------------------- models
