"""From what torch users have to the loss matrices and bounds of :mod:`ltbound`.

A torch user holds a trained ``nn.Module`` (or several, or checkpoint files, or state
dicts) and a ``Dataset`` / ``DataLoader`` yielding ``(image, label)`` batches. This module
turns them into the ``(num_params, n)`` per-sample loss matrix every bound function takes,
and :func:`ltbound.bounds_for_model` turns them into the bounds in one call.

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

Row and column order
--------------------
Row k of a matrix from :func:`data_loss_matrix` belongs to the k-th entry of ``models``.
:func:`model_loss_matrix` puts the given model in **row 0** and its Θ̂ companions after it
(the order of :func:`ltbound.train.theta.perturbation_loss_matrix`), and
:func:`ltbound.bounds_for_model` passes ``theta_index=0`` to the bounds. Column i is the i-th sample
in the order the data yields it (a shuffling ``DataLoader`` is iterated once, so every row
sees the same order); the labels come back in that order.

The data are read once: each batch goes through every model before the next batch is
read, so a ``DataLoader`` that decodes or shuffles pays that once, not K times. The K
models are held on the device together (K copies of the weights).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from .._validation import check_positive_int
from ..losses import LOSSES, check_loss
from ..records import checkpoint_epochs, checkpoint_path
from .data import record_data_dir
from .theta import load_state_dict, perturbed_state_dicts

__all__ = ["PIXELS", "LOSSES", "data_loss_matrix", "model_loss_matrix", "record_model", "record_data_dir"]

#: Image forms of the ``pixels`` argument (module docstring).
PIXELS = ("uint8", "unit", "normalized")


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
def _loader(data: Any, batch_size: int) -> tuple[Iterable, int | None]:
    """An iterable of (images, labels) batches and the number of samples when known."""
    if isinstance(data, DataLoader):
        try:
            n = len(data.dataset)  # type: ignore[arg-type]
        except TypeError:       # an IterableDataset without __len__
            n = None
        return data, n
    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data[0], (tuple, list)):
        x = data[0] if isinstance(data[0], torch.Tensor) else torch.as_tensor(np.asarray(data[0]))
        y = data[1] if isinstance(data[1], torch.Tensor) else torch.as_tensor(np.asarray(data[1]))
        if x.ndim < 1 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise ValueError(f"data as (images, labels) needs images of shape (n, C, H, W) and labels of shape "
                             f"(n,), got {tuple(x.shape)} and {tuple(y.shape)}")
        return ((x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)), int(x.shape[0])
    if isinstance(data, Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        return DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0), len(data)
    raise ValueError(f"data must be a torch Dataset, a DataLoader or a pair (images, labels), got "
                     f"{type(data).__name__}")


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
def _modules(models: Any, architecture: torch.nn.Module | None, dev: torch.device,
             channels_last: bool) -> list[torch.nn.Module]:
    """Eval-mode copies on ``dev``, one per entry; the caller's modules are left untouched."""
    entries = [models] if isinstance(models, torch.nn.Module) else list(models)
    if not entries:
        raise ValueError("models must hold at least one model, state dict or checkpoint path")
    if architecture is not None and not isinstance(architecture, torch.nn.Module):
        raise ValueError(f"architecture must be a torch.nn.Module, got {type(architecture).__name__}")
    out = []
    for i, m in enumerate(entries):
        if isinstance(m, torch.nn.Module):
            net = copy.deepcopy(m)
        elif isinstance(m, (dict, str, os.PathLike)):
            if architecture is None:
                raise ValueError(f"models[{i}] is a {type(m).__name__}, which needs architecture: a "
                                 "torch.nn.Module of the right shape to load the weights into")
            net = copy.deepcopy(architecture)
            net.load_state_dict(load_state_dict(m))
        else:
            raise ValueError(f"models[{i}] must be a torch.nn.Module, a state dict or a checkpoint path, got "
                             f"{type(m).__name__}")
        net = net.to(dev).eval()
        out.append(net.to(memory_format=torch.channels_last) if channels_last else net)
    return out


# ----------------------------------------------------------------------------- public
@torch.no_grad()
def data_loss_matrix(models: Any, data: Any, *, pixels: str, mean: Any = None, std: Any = None,
                     architecture: torch.nn.Module | None = None, loss: str = "ce", cap: float | None = None,
                     batch_size: int = 256, device: Any = "cpu", channels_last: bool = True,
                     progress: bool = True, desc: str = "per-sample losses") -> tuple[np.ndarray, np.ndarray]:
    """Per-sample losses of each model on each sample of ``data``.

    Parameters
    ----------
    models : torch.nn.Module, or sequence of nn.Module / state dict / checkpoint path, K >= 1
        One θ per entry. Modules are copied (the caller's keep their device and mode); state
        dicts and paths (``torch.save(model.state_dict(), path)`` or a trainer checkpoint) are
        loaded into a copy of ``architecture``. Every copy runs in eval mode, float32.
    data : Dataset, DataLoader or (images, labels)
        Yields ``(images (B, C, H, W), labels (B,))``, un-augmented. A Dataset or a pair is
        batched by ``batch_size`` in order; a DataLoader keeps its own batching.
    pixels : {'uint8', 'unit', 'normalized'}
        How the images are stored (module docstring). Required: never guessed.
    mean, std : sequence of float, shape (C,), optional
        Per-channel normalisation in [0, 1] pixel units; required unless
        ``pixels='normalized'``, refused with it.
    architecture : torch.nn.Module, optional
        The network that state-dict and path entries are loaded into.
    loss : {'ce', 'ce-clipped', 'zero-one'}
        Cross-entropy in nats, cross-entropy clipped at ``cap`` (bounded, M = cap), or
        1 − correct (argmax, ties to the lowest class).
    cap : float > 0, optional
        Only with ``loss='ce-clipped'``.
    batch_size : int
    device : 'auto', 'cpu', 'cuda', 'cuda:N' or torch.device
    channels_last : bool
        Run the models in channels-last memory format, as the trainer's evaluation does: with
        ResNet-32 on a 2-core CPU (oneDNN) 1.4x the images per CPU-second of NCHW; the losses
        agree with NCHW up to float32 rounding.
    progress : bool
        A tqdm bar over the samples.
    desc : str
        The bar's label.

    Returns
    -------
    losses : ndarray of float32, shape (K, n)
        Row k: the k-th entry of ``models``; column i: the i-th sample ``data`` yields.
    labels : ndarray of int64, shape (n,)
        The labels in the same column order.
    """
    from tqdm import tqdm

    _check_pixels(pixels, mean, std)
    loss, cap_v = check_loss(loss, cap)
    bs = check_positive_int(batch_size, "batch_size")
    dev = _device(device)
    mean_t = None if mean is None else _stats(mean, "mean")
    std_t = None if std is None else _stats(std, "std")
    if mean_t is not None and mean_t.numel() != std_t.numel():
        raise ValueError(f"mean and std must have one entry per channel each, got {mean_t.numel()} and {std_t.numel()}")
    loader, total = _loader(data, bs)
    if not isinstance(channels_last, (bool, np.bool_)):
        raise ValueError(f"channels_last must be True or False, got {channels_last!r}")
    nets = _modules(models, architecture, dev, bool(channels_last))
    rows: list[list[torch.Tensor]] = [[] for _ in nets]
    labels: list[torch.Tensor] = []
    with tqdm(total=total, unit="img", desc=desc, disable=not progress) as bar:
        for x, y in _batches(loader):
            xb = _inputs(x, pixels, mean_t, std_t, dev)
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yb = _labels(y, xb.shape[0]).to(dev, non_blocking=True)
            for net, row in zip(nets, rows):
                logits = net(xb).float()
                if loss == "zero-one":
                    row.append((logits.argmax(dim=1) != yb).to(torch.float32))
                else:
                    row.append(F.cross_entropy(logits, yb, reduction="none"))
            labels.append(yb)
            bar.update(xb.shape[0])
    if not labels:
        raise ValueError("data yielded no samples")
    y_all = torch.cat(labels).cpu().numpy()
    if y_all.min() < 0:
        raise ValueError(f"labels must be >= 0, got {int(y_all.min())}")
    mat = torch.stack([torch.cat(r) for r in rows]).cpu().numpy().astype(np.float32, copy=False)
    if cap_v is not None:
        np.minimum(mat, np.float32(cap_v), out=mat)
    return mat, y_all.astype(np.int64, copy=False)


def model_loss_matrix(model: torch.nn.Module, data: Any, *, theta: Any = "perturb", k: int = 16,
                      radius: float = 0.01, seed: int = 0, pixels: str, mean: Any = None, std: Any = None,
                      loss: str = "ce", cap: float | None = None, batch_size: int = 256, device: Any = "cpu",
                      progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Losses of ``model`` (row 0) and of a finite Θ̂ around it, on ``data``.

    Parameters
    ----------
    model : torch.nn.Module
        The model whose bound is wanted; row 0.
    theta : 'perturb' or sequence of nn.Module / state dict / checkpoint path
        'perturb': rows 1..k are ``k`` random models within relative radius ``radius`` of
        ``model`` (:func:`ltbound.train.theta.perturbed_state_dicts`, seeded by ``seed``). A
        sequence: rows 1..K are its entries (e.g. the checkpoints of the final training
        stage), state dicts and paths loaded into a copy of ``model``.
    k, radius, seed
        Used by 'perturb' only.
    pixels, mean, std, loss, cap, batch_size, device, progress
        As in :func:`data_loss_matrix`.

    Returns
    -------
    losses : ndarray of float32, shape (1 + K, n)
        Row 0: ``model``; rows 1..: Θ̂'s other members, in order.
    labels : ndarray of int64, shape (n,)
    """
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(theta, str):
        if theta != "perturb":
            raise ValueError(f"theta must be 'perturb' or a sequence of models / state dicts / checkpoint "
                             f"paths, got {theta!r}")
        others: list[Any] = list(perturbed_state_dicts(model, k=k, radius=radius, seed=seed))
        desc = f"losses of the model and {k} perturbations"
    elif isinstance(theta, Iterable):
        others = list(theta)
        if not others:
            raise ValueError("theta is an empty sequence; pass 'perturb' or at least one model / checkpoint")
        desc = f"losses of the model and {len(others)} others"
    else:
        raise ValueError(f"theta must be 'perturb' or a sequence of models / state dicts / checkpoint paths, "
                         f"got {type(theta).__name__}")
    return data_loss_matrix([model, *others], data, pixels=pixels, mean=mean, std=std, architecture=model,
                            loss=loss, cap=cap, batch_size=batch_size, device=device, progress=progress,
                            desc=desc)


# ----------------------------------------------------------------------------- run records
def record_model(record_dir: Any, *, data_dir: Any = None, dataset: Any = None,
                 epoch: int | None = None) -> tuple[torch.nn.Module, Any]:
    """A run record's model at one checkpoint and the data set it was trained on.

    Parameters
    ----------
    record_dir : path
        A run record written by ``python -m ltbound.train``.
    data_dir : path, optional
        Where the data lie (see :func:`record_data_dir`: this, else ``$LTBOUND_DATA_DIR``,
        else the record's own path). The rebuilt training split must have the record's split hash.
    dataset : LTDataset, optional
        The data set, already loaded (its split hash is checked against the record's).
    epoch : int, optional
        Checkpoint epoch (1-based); default the record's last checkpoint.

    Returns
    -------
    model : torch.nn.Module
        On the CPU, in eval mode, with the checkpoint's weights.
    dataset : LTDataset
    """
    from ..records import load_record
    from .data import load_dataset
    from .models import build_model

    rec = load_record(record_dir)
    src = rec.source                       # dataset, imbalance, split_seed, split_hash, model (format v2)
    want = src.get("split_hash")
    if dataset is None:
        dataset = load_dataset(src["dataset"], data_dir=record_data_dir(rec.manifest, data_dir),
                               imbalance=src["imbalance"], split_seed=src.get("split_seed") or 0, max_test_per_class=1)
    if dataset.split_hash != want:
        raise ValueError(f"the training split of {dataset.name!r} from the given data differs from record "
                         f"{record_dir}'s (split hash {dataset.split_hash} vs {want}); point data_dir at the data "
                         "the run used")
    ckpt_dir = Path(record_dir) / "checkpoints"
    have = checkpoint_epochs(record_dir)   # from the manifest's hashes (older records: the files, with a warning)
    if not have:
        raise ValueError(f"record {record_dir} has no checkpoint (looked in {ckpt_dir})")
    e = have[-1] if epoch is None else check_positive_int(epoch, "epoch")
    if e not in have:
        raise ValueError(f"epoch must be one with a checkpoint in {ckpt_dir} ({have}), got {e}")
    net = build_model(src["model"], dataset.num_classes, in_channels=int(dataset.train.images.shape[1]))
    net.load_state_dict(load_state_dict(checkpoint_path(record_dir, e)))   # size and SHA-256 verified
    return net.eval(), dataset
