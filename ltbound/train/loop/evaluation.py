"""Per-sample evaluation: the cross-entropy and correctness of a model on every image.

The trainer fills each epoch of a run record with it (:func:`evaluate_splits`), and
:mod:`ltbound.train.loss_matrices.theta` builds loss matrices over a finite Θ̂ with it
(:func:`per_sample_losses`); both read the same numbers from the same weights because both
call the same kernel. The trainer evaluates in float32 by default (no autocast), so that a
checkpoint re-evaluated later gives the recorded losses bitwise; with
``eval_precision="bf16"`` it passes bfloat16 autocast (about 2x faster on a CPU with native
bf16 kernels; the per-sample losses then differ from float32 by a few percent:
``benchmarks/eval_precision.py`` measures it on real checkpoints).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..._validation import check_positive_int
from . import distributed as D
from ..data.augment import normalize

__all__ = ["per_sample_losses", "evaluate_splits"]


# ----------------------------------------------------------------------------- boundary checks
def _as_images(images: Any) -> torch.Tensor:
    x = torch.as_tensor(images)
    if x.ndim != 4:
        raise ValueError(f"images must have shape (n, C, H, W), got {tuple(x.shape)}")
    if x.dtype != torch.uint8:
        # Float images used to be taken as already normalised, silently ignoring mean/std
        # (ToTensor floats in [0, 1] gave wrong losses). Here the form is fixed: uint8.
        raise ValueError(f"images must be uint8 (0..255; normalised here with mean/std), got dtype {x.dtype}; "
                         "for float images use ltbound.train.loss_matrices.bridge.data_loss_matrix and say their form: "
                         "pixels='unit' (ToTensor floats in [0, 1]) or pixels='normalized'")
    if x.shape[0] == 0:
        raise ValueError("images must hold at least one image, got 0")
    return x


def _as_labels(labels: Any, n: int) -> torch.Tensor:
    y = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"labels must have shape ({n},) to match images, got {tuple(y.shape)}")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    lowest = int(y.min()) if n else 0      # one device read (n >= 1: _as_images refuses n = 0)
    if lowest < 0:
        raise ValueError(f"labels must be >= 0, got {lowest}")
    return y.to(torch.int64)


def _as_stats(v: Any, name: str, channels: int) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(v, dtype=np.float32)).reshape(-1)
    if t.numel() != channels:
        raise ValueError(f"{name} must have one value per channel ({channels}), got {t.numel()}")
    if name == "std" and bool((t <= 0).any()):
        raise ValueError(f"std must be positive, got {t.tolist()}")
    return t


# ----------------------------------------------------------------------------- public
@torch.no_grad()
def per_sample_losses(model: torch.nn.Module, images: Any, labels: Any, *, mean: Any, std: Any,
                      batch_size: int = 1024, device: str | torch.device = "cpu",
                      autocast_dtype: torch.dtype | None = None,
                      channels_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample cross-entropy and correctness of ``model`` in eval mode.

    Parameters
    ----------
    model : torch.nn.Module
        Already on ``device``. Put in eval mode for the call and restored to its previous
        mode afterwards (training-mode BatchNorm statistics are not touched).
    images : uint8 tensor or array, shape (n, C, H, W)
        Un-augmented images; moved to ``device`` one batch at a time (free if already there).
    labels : int array, shape (n,)
    mean, std : array_like, shape (C,)
        Normalisation in [0, 1] pixel units.
    batch_size : int
    device : str or torch.device
    autocast_dtype : torch.dtype or None
        Run the forward pass under autocast; the loss is computed from float32 logits
        either way. :mod:`ltbound.train.loss_matrices.theta` and the trainer by default pass None
        (float32); the trainer passes ``torch.bfloat16`` with ``eval_precision="bf16"``.
    channels_last : bool
        Convert each batch to channels-last memory format (matches a channels-last model).

    Returns
    -------
    loss : float32 tensor, shape (n,), on ``device``
        Cross-entropy in nats, -log softmax(f(x))_y.
    correct : bool tensor, shape (n,), on ``device``
        argmax f(x) == y (ties resolved by the lowest class index, as ``argmax`` does).
    """
    x_all = _as_images(images)
    y_all = _as_labels(labels, x_all.shape[0])
    bs = check_positive_int(batch_size, "batch_size")
    dev = torch.device(device)
    mean_t = _as_stats(mean, "mean", x_all.shape[1]).to(dev)
    std_t = _as_stats(std, "std", x_all.shape[1]).to(dev)
    return _losses(model, x_all, y_all, mean_t, std_t, bs, dev, autocast_dtype, channels_last)


def evaluate_splits(model: torch.nn.Module, splits, info: D.DistInfo, *, mean: torch.Tensor, std: torch.Tensor,
                    batch_size: int, device: torch.device, channels_last: bool,
                    autocast_dtype: torch.dtype | None = None) -> list[np.ndarray]:
    """Per-sample (loss, correct) of the trainer's model on each split, shared over the ranks.

    Parameters
    ----------
    model : torch.nn.Module
        On ``device``; its BatchNorm buffers already equal on every rank.
    splits : sequence of (uint8 tensor (n, C, H, W), int64 tensor (n,))
        The training and test images, un-augmented, as the trainer holds them.
    info : DistInfo
        Rank r evaluates the r-th contiguous chunk of each split; the rows are gathered.
    mean, std : float32 tensors (C,) on ``device``
    batch_size, device, channels_last, autocast_dtype
        As in :func:`per_sample_losses` (inputs are trusted: the trainer checked them);
        ``autocast_dtype`` is None (float32, the default) or ``torch.bfloat16``
        (``eval_precision="bf16"``).

    Returns
    -------
    list of CPU numpy arrays
        For every split in order: loss (n,) float32, then correct (n,) bool.
    """
    out = []
    for images, labels in splits:
        total = images.shape[0]
        chunk = math.ceil(total / info.world_size)
        lo, hi = min(info.rank * chunk, total), min((info.rank + 1) * chunk, total)
        rows = torch.zeros(2, chunk, dtype=torch.float32, device=device)
        if hi > lo:
            loss, correct = _losses(model, images[lo:hi], labels[lo:hi], mean, std, batch_size, device,
                                    autocast_dtype, channels_last)
            rows[0, :hi - lo], rows[1, :hi - lo] = loss, correct.float()
        full = D.gather_rows(info, rows, total).cpu().numpy()
        out += [full[0].astype(np.float32), full[1] > 0.5]
    return out


# ----------------------------------------------------------------------------- kernel
@torch.no_grad()
def _losses(model, x_all: torch.Tensor, y_all: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
            batch_size: int, device: torch.device, autocast_dtype, channels_last: bool):
    """:func:`per_sample_losses` on checked inputs (int64 labels, stats on ``device``)."""
    n = x_all.shape[0]
    was_training = model.training
    model.eval()
    losses = torch.empty(n, dtype=torch.float32, device=device)
    correct = torch.empty(n, dtype=torch.bool, device=device)
    try:
        for start in range(0, n, batch_size):
            xb = x_all[start:start + batch_size].to(device, non_blocking=True)
            yb = y_all[start:start + batch_size].to(device, non_blocking=True)
            xb = normalize(xb, mean, std)         # uint8 (checked at the boundary; the trainer holds uint8)
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None
                  else contextlib.nullcontext()):
                logits = model(xb)
            logits = logits.float()
            losses[start:start + batch_size] = F.cross_entropy(logits, yb, reduction="none")
            correct[start:start + batch_size] = logits.argmax(dim=1) == yb
    finally:
        model.train(was_training)
    return losses, correct
