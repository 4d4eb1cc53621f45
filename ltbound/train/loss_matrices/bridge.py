"""From what torch users have to the loss matrices and bounds of :mod:`ltbound`.

A torch user holds a trained ``nn.Module`` (or several, or checkpoint files, or state
dicts) and a ``Dataset`` / ``DataLoader`` yielding ``(image, label)`` batches. This module
turns them into the ``(num_params, n)`` per-sample loss matrix every bound function takes,
and :func:`ltbound.bounds_for_model` turns them into the bounds in one call.

Image forms (the ``pixels`` argument) and the data-loader mistakes caught: see
:mod:`ltbound.train.loss_matrices.user_data`.

Row and column order
--------------------
Row k of a matrix from :func:`data_loss_matrix` belongs to the k-th entry of ``models``.
:func:`model_loss_matrix` puts the given model in **row 0** and its Θ̂ companions after it
(the order of :func:`ltbound.train.loss_matrices.theta.perturbation_loss_matrix`), and
:func:`ltbound.bounds_for_model` passes ``theta_index=0`` to the bounds. Column i is the i-th sample
in the order the data yields it (a shuffling ``DataLoader`` is iterated once, so every row
sees the same order); the labels come back in that order.

The data are read once: each batch goes through every model before the next batch is
read, so a ``DataLoader`` that decodes or shuffles pays that once, not K times. The K
models are held on the device together (K copies of the weights).

"""

from __future__ import annotations

import copy
import logging
import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
import torch.nn.functional as F

from ..._validation import check_positive_int
from ...losses import LOSSES, check_loss
from ...records import checkpoint_epochs, checkpoint_path
from ..data.datasets import record_data_dir
from .theta import load_state_dict, perturbed_state_dicts
from .user_data import (_check_pixels, _stats, _device, _loader, _check_repeatable, _labels_without_images,
                        _check_classes, _output_width, _batches, _inputs, _labels, PIXELS)

_log = logging.getLogger(__name__)

__all__ = ["PIXELS", "LOSSES", "data_loss_matrix", "model_loss_matrix", "record_model", "record_data_dir"]

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
def _say_cost(desc: str, k: int, total: int | None, rate: float, progress: bool) -> None:
    """The expected wall time of the whole pass, from the images per second of a timed batch."""
    if total is None or not rate > 0:
        return
    eta = total / rate
    line = (f"{desc}: {k} forward pass{'es' if k > 1 else ''} over {total} images at {rate:.0f} images/s "
            f"(timed on the second batch): about {eta:.0f} s ({eta / 60:.1f} min) in all")
    _log.info(line)
    if progress:
        from tqdm import tqdm
        tqdm.write(line, file=sys.stderr)


@torch.no_grad()
def _evaluate(models: Any, data: Any, *, pixels: str, mean: Any, std: Any, architecture: torch.nn.Module | None,
              loss: str, cap: float | None, batch_size: int, device: Any, channels_last: bool, progress: bool,
              desc: str, num_classes: int | None = None,
              every_class: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """:func:`data_loss_matrix` plus what was checked about the data (a dict for the result).

    ``num_classes``: C, else the models' output width; labels must lie in 0..C−1.
    ``every_class``: a class without a sample is a ValueError (the bounds need them all).
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
    c_given = None if num_classes is None else check_positive_int(num_classes, "num_classes")
    loader, total = _loader(data, bs)
    if not isinstance(channels_last, (bool, np.bool_)):
        raise ValueError(f"channels_last must be True or False, got {channels_last!r}")
    nets = _modules(models, architecture, dev, bool(channels_last))
    repeat = _check_repeatable(data, total)
    early = _labels_without_images(data)
    rows: list[list[torch.Tensor]] = [[] for _ in nets]
    labels: list[torch.Tensor] = []
    c, width, source, lo, hi, t0, timed = 0, 0, "", math.inf, -math.inf, 0.0, False
    with tqdm(total=total, unit="img", desc=desc, disable=not progress) as bar:
        for x, y in _batches(loader):
            xb = _inputs(x, pixels, mean_t, std_t, dev)
            if pixels == "normalized":
                b_lo, b_hi = torch.aminmax(xb)
                lo, hi = min(lo, float(b_lo)), max(hi, float(b_hi))
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            y_t = _labels(y, xb.shape[0])
            first = None
            if not labels:                       # first batch: the class count, then the cheap checks
                first, width = _output_width(nets[0], xb)
                if c_given is not None and c_given > width:
                    raise ValueError(f"num_classes = {c_given} but the model has {width} outputs; num_classes "
                                     "must not exceed the model's output width")
                c, source = (c_given, "num_classes") if c_given is not None else (width, "the model's output width")
                if early is not None:
                    _check_classes(early, c, source, every_class=every_class, when="the labels read before the pass")
            _check_classes(y_t.cpu().numpy(), c, source, every_class=False,
                           when=f"the labels of batch {len(labels) + 1}")
            yb = y_t.to(dev, non_blocking=True)
            for j, (net, row) in enumerate(zip(nets, rows)):
                logits = first if j == 0 and first is not None else net(xb).float()
                if logits.shape[1] != width:
                    raise ValueError(f"models[{j}] has {logits.shape[1]} outputs but models[0] has {width}")
                if loss == "zero-one":
                    row.append((logits.argmax(dim=1) != yb).to(torch.float32))
                else:
                    row.append(F.cross_entropy(logits, yb, reduction="none"))
            labels.append(yb)
            bar.update(xb.shape[0])
            # the first batch carries one-off costs (allocation, oneDNN set-up): time the second
            if len(labels) == 1:
                t0 = time.perf_counter()
            elif not timed:
                timed = True
                _say_cost(desc, len(nets), total, xb.shape[0] / max(time.perf_counter() - t0, 1e-9), progress)
    if not labels:
        raise ValueError("data yielded no samples")
    y_all = torch.cat(labels).cpu().numpy().astype(np.int64, copy=False)
    if total is not None and y_all.size != total:
        raise ValueError(f"data yielded {y_all.size} samples but its dataset holds {total}: the loader skips or "
                         "repeats samples (drop_last=True? a sampler over part of the data?), and the bounds need "
                         "each sample of D once; pass the Dataset itself, or a DataLoader with drop_last=False "
                         "and no sampler (pass a Subset to use part of a data set)")
    if every_class:
        _check_classes(y_all, c, source, every_class=True, when="the labels read")
    if pixels == "normalized" and lo >= 0.0 and hi <= 1.0:
        warnings.warn(f"pixels='normalized' but every pixel lies in [{lo:.3g}, {hi:.3g}], inside [0, 1] as "
                      "ToTensor() floats are before Normalize: if the model was trained on normalised images, "
                      "pass pixels='unit' with its mean and std; if it takes [0, 1] images as they are, pass "
                      "pixels='unit', mean=(0,)*C, std=(1,)*C to say so", UserWarning, stacklevel=3)
    mat = torch.stack([torch.cat(r) for r in rows]).cpu().numpy().astype(np.float32, copy=False)
    if cap_v is not None:
        np.minimum(mat, np.float32(cap_v), out=mat)
    checks = {"samples_read": int(y_all.size), "dataset_length": total, "num_classes": int(c),
              "num_classes_from": source, "same_image_on_reread": repeat,
              "classes_checked_before_pass": early is not None}
    return mat, y_all, checks


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
        Yields ``(images (B, C, H, W), labels (B,))``, un-augmented: a few indices of a
        map-style Dataset are read twice and must give the same image. A Dataset or a pair
        is batched by ``batch_size`` in order; a DataLoader keeps its own batching, and must
        yield each of its dataset's samples once (no ``drop_last``). The pair may be tensors,
        arrays, or a list of (C, H, W) images and a list of labels.
    pixels : {'uint8', 'unit', 'normalized'}
        How the images are stored (module docstring). Required: never guessed. 'normalized'
        on images that all lie in [0, 1] warns.
    mean, std : sequence of float, shape (C,), optional
        Per-channel normalisation in [0, 1] pixel units (mean in [0, 1], std in (0, 1];
        0..255 units are refused); required unless ``pixels='normalized'``, refused with it.
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
        A tqdm bar over the samples, and a line with the expected wall time once the
        second batch is timed (also logged at INFO level to ``ltbound.train.loss_matrices.bridge``).
    desc : str
        The bar's label.

    Returns
    -------
    losses : ndarray of float32, shape (K, n)
        Row k: the k-th entry of ``models``; column i: the i-th sample ``data`` yields.
    labels : ndarray of int64, shape (n,)
        The labels in the same column order, each in 0..C−1 with C the models' output width.
    """
    mat, labels, _ = _evaluate(models, data, pixels=pixels, mean=mean, std=std, architecture=architecture,
                               loss=loss, cap=cap, batch_size=batch_size, device=device,
                               channels_last=channels_last, progress=progress, desc=desc)
    return mat, labels


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
        ``model`` (:func:`ltbound.train.loss_matrices.theta.perturbed_state_dicts`, seeded by ``seed``). A
        sequence: rows 1..K are its entries (e.g. the checkpoints of the final training
        stage), state dicts and paths loaded into a copy of ``model``.
    k, radius, seed
        Used by 'perturb' only. The data are read once through 1 + k models, so the cost is
        1 + k evaluations of the data (the expected wall time is printed after the second
        batch); how k was chosen: the Notes of :func:`ltbound.bounds_for_model`.
    pixels, mean, std, loss, cap, batch_size, device, progress
        As in :func:`data_loss_matrix`.

    Returns
    -------
    losses : ndarray of float32, shape (1 + K, n)
        Row 0: ``model``; rows 1..: Θ̂'s other members, in order.
    labels : ndarray of int64, shape (n,)
    """
    mat, labels, _ = _model_loss_matrix(model, data, theta=theta, k=k, radius=radius, seed=seed, pixels=pixels,
                                        mean=mean, std=std, loss=loss, cap=cap, batch_size=batch_size,
                                        device=device, progress=progress)
    return mat, labels


def _model_loss_matrix(model: Any, data: Any, *, theta: Any, k: int, radius: float, seed: int, pixels: str,
                       mean: Any, std: Any, loss: str, cap: float | None, batch_size: int, device: Any,
                       progress: bool, num_classes: int | None = None,
                       every_class: bool = False) -> tuple[np.ndarray, np.ndarray, dict]:
    """:func:`model_loss_matrix` plus the data checks of :func:`_evaluate` and Θ̂'s description."""
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(theta, str):
        if theta != "perturb":
            raise ValueError(f"theta must be 'perturb' or a sequence of models / state dicts / checkpoint "
                             f"paths, got {theta!r}")
        others: list[Any] = list(perturbed_state_dicts(model, k=k, radius=radius, seed=seed))
        desc = f"losses of the model and {k} perturbations"
        described = f"the model + {k} perturbations (relative radius {float(radius):g}, seed {seed})"
    elif isinstance(theta, Iterable):
        others = list(theta)
        if not others:
            raise ValueError("theta is an empty sequence; pass 'perturb' or at least one model / checkpoint")
        desc = f"losses of the model and {len(others)} others"
        described = f"the model + {len(others)} given models"
    else:
        raise ValueError(f"theta must be 'perturb' or a sequence of models / state dicts / checkpoint paths, "
                         f"got {type(theta).__name__}")
    mat, labels, checks = _evaluate([model, *others], data, pixels=pixels, mean=mean, std=std, architecture=model,
                                    loss=loss, cap=cap, batch_size=batch_size, device=device, channels_last=True,
                                    progress=progress, desc=desc, num_classes=num_classes,
                                    every_class=every_class)
    return mat, labels, {"theta": described, **checks}


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
    from ...records import load_record
    from ..data.datasets import load_dataset
    from ..loop.models import build_model

    rec = load_record(record_dir)
    src = rec.source                       # dataset, imbalance, split_seed, split_hash, model (format v2)
    want = src.get("split_hash")
    if dataset is None:
        dataset = load_dataset(src["dataset"], data_dir=record_data_dir(rec.manifest, data_dir),
                               imbalance=src["imbalance"], split_seed=src.get("split_seed") or 0, max_test_per_class=1)
    # the rebuilt images must be the record's own training samples, position by position (a split of another
    # seed would bound the model on images it never trained on)
    if dataset.split_hash != want or not np.array_equal(np.asarray(dataset.train.indices), rec.train_indices):
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
