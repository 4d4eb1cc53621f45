"""Per-sample loss matrices over a finite parameter set Θ̂ (the input of Eq. 5 and Eq. 18).

The bound code takes a loss matrix of shape ``(num_params, n)``: one row per parameter θ
in a finite set Θ̂, one column per training sample. Two ways to build Θ̂ from a trained
network:

* :func:`loss_matrix` — the models saved at chosen epochs (checkpoints of a run record).
  This is a Θ̂ along the training trajectory.
* :func:`perturbation_loss_matrix` — the model itself plus ``k`` random models within a
  *relative radius* of it: each parameter tensor w is moved to w + r ||w|| u with u a
  uniformly random unit direction (a normalised Gaussian), so ||w' - w|| = r ||w|| exactly.
  This is "a narrow Θ̂ in the paper's sense": a small neighbourhood of the learned θ, on
  which the empirical Rademacher complexity (Eq. 5) is small by construction. It says
  nothing about the (much larger) class the training algorithm could reach; the bound
  results label such terms ``estimate``.

Losses are per-sample cross-entropy (natural log, nats) of the model in eval mode on
un-augmented, normalised images, or the 0-1 loss ``1 - correct``, from
:func:`ltbound.train.loop.evaluation.per_sample_losses` (re-exported here), the evaluation the
trainer records with. It runs in float32 (no autocast), so the same weights give the same
matrix on every call and the recorded losses of a checkpoint (of a record evaluated in float32,
the default; a record made with ``eval_precision="bf16"`` holds losses a few percent away).
"""

from __future__ import annotations

import copy
import itertools
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import torch

from ..._validation import check_finite_scalar, check_positive_int, check_seed
from ...losses import check_loss
from ...records import checkpoint_epochs, checkpoint_path
from ..loop.evaluation import per_sample_losses

__all__ = ["loss_matrix", "perturbation_loss_matrix", "perturbed_state_dicts", "per_sample_losses",
           "record_loss_matrix", "load_state_dict"]

#: the losses a model evaluation gives (the vocabulary of ltbound.losses.LOSSES, without
#: "ce-clipped": clip the returned matrix, or use record_perturbation_losses with a cap)
_LOSSES = ("ce", "zero-one")


# ----------------------------------------------------------------------------- helpers
def _check_loss(loss: str) -> str:
    return check_loss(loss, None, allowed=_LOSSES)[0]


def load_state_dict(source: Any) -> dict:
    """A model state dict from a dict, or from a checkpoint file written by the trainer.

    Trainer checkpoints are ``{"model": state_dict, "epoch": ..., ...}``; a bare state dict
    (as ``torch.save(model.state_dict(), path)`` writes) is accepted as well.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"checkpoint {path} does not exist")
        source = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(source, dict):
        raise ValueError(f"expected a state dict or a checkpoint path, got {type(source).__name__}")
    if "model" in source and isinstance(source["model"], dict):
        return source["model"]
    return source


def _to_matrix(rows: list[torch.Tensor]) -> np.ndarray:
    return torch.stack(rows).cpu().numpy().astype(np.float32, copy=False)


# ----------------------------------------------------------------------------- Θ̂ from checkpoints
def loss_matrix(model: torch.nn.Module, state_dicts_or_paths: Iterable[Any], images: Any, labels: Any, *,
                mean: Any, std: Any, batch_size: int = 1024, device: str | torch.device = "cpu",
                loss: str = "ce") -> np.ndarray:
    """Per-sample losses of every model in a finite Θ̂ given by saved weights.

    Parameters
    ----------
    model : torch.nn.Module
        The architecture; it is copied, so the caller's module keeps its weights.
    state_dicts_or_paths : iterable of state dicts or checkpoint paths, K >= 1 entries
        One θ per entry (e.g. ``RUN/checkpoints/epoch_0101.pt``); see :func:`load_state_dict`.
        Consumed one entry at a time (a generator of K large models is fine).
    images : uint8 array or tensor, shape (n, C, H, W)
        Un-augmented training images (the samples whose losses enter Eq. 5).
    labels : int array, shape (n,)
    mean, std : array_like, shape (C,)
        Normalisation used in training, [0, 1] pixel units.
    batch_size : int
    device : str or torch.device
    loss : {"ce", "zero-one"}
        Cross-entropy (nats) or 1 - correctness.

    Returns
    -------
    ndarray of float32, shape (K, n)
        Row k holds the losses of the k-th entry, in the given order (the layout every bound
        function of :mod:`ltbound` expects).
    """
    _check_loss(loss)
    dev = torch.device(device)
    net = copy.deepcopy(model).to(dev)
    rows = []
    for src in state_dicts_or_paths:
        net.load_state_dict(load_state_dict(src))
        ce, correct = per_sample_losses(net, images, labels, mean=mean, std=std,
                                        batch_size=batch_size, device=dev)
        rows.append(ce if loss == "ce" else (~correct).to(torch.float32))
    if not rows:
        raise ValueError("state_dicts_or_paths must hold at least one state dict or checkpoint path")
    return _to_matrix(rows)


# ----------------------------------------------------------------------------- narrow Θ̂
def perturbed_state_dicts(model: torch.nn.Module, *, k: int, radius: float, seed: int) -> Iterator[dict]:
    """Yield ``k`` state dicts of ``model`` with every parameter tensor moved by a relative radius.

    For each parameter tensor w (``model.named_parameters()``; buffers such as BatchNorm
    running statistics are copied unchanged) the i-th perturbation is
    w + radius · ||w||_F · g / ||g||_F with g ~ N(0, I) of w's shape, so that
    ||w' - w||_F = radius · ||w||_F exactly and the direction is uniform on the sphere.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified.
    k : int >= 1
    radius : float >= 0
    seed : int >= 0
        Seeds one CPU ``torch.Generator`` that draws every g in order (perturbation 1's
        tensors in ``named_parameters`` order, then perturbation 2's, ...), so the result
        does not depend on the model's device.

    Yields
    ------
    dict
        A state dict on the CPU (one at a time, so K large models need not fit in memory).
    """
    kk = check_positive_int(k, "k")
    r = check_finite_scalar(radius, "radius", low=0.0)
    sd = check_seed(seed)
    base = {name: t.detach().cpu().clone() for name, t in model.state_dict().items()}
    params = [name for name, _ in model.named_parameters()]
    gen = torch.Generator(device="cpu").manual_seed(sd)
    for _ in range(kk):
        out = {name: t.clone() for name, t in base.items()}
        for name in params:
            w = base[name].to(torch.float32)
            g = torch.randn(w.shape, generator=gen, dtype=torch.float32)
            scale = r * torch.linalg.vector_norm(w) / torch.linalg.vector_norm(g).clamp_min(1e-30)
            out[name] = (w + scale * g).to(base[name].dtype)
        yield out


def perturbation_loss_matrix(model: torch.nn.Module, images: Any, labels: Any, *, k: int, radius: float,
                             seed: int, mean: Any, std: Any, batch_size: int = 1024,
                             device: str | torch.device = "cpu", loss: str = "ce") -> np.ndarray:
    """Losses of a model and of ``k`` random models within a relative radius of it.

    Θ̂ = {θ} ∪ {θ_1, ..., θ_k} with θ_i from :func:`perturbed_state_dicts`: every parameter
    tensor w moves to w + radius · ||w|| · u, u a uniformly random unit direction. A narrow
    Θ̂ around the trained model, on which the empirical Rademacher complexity of Eq. 5 is
    small by construction; it does not describe the class training could reach.

    Parameters
    ----------
    model : torch.nn.Module
        The trained model (row 0); copied, never modified.
    images, labels, mean, std, batch_size, device, loss
        As in :func:`loss_matrix`.
    k, radius, seed
        As in :func:`perturbed_state_dicts`; ``radius=0`` gives k copies of row 0.

    Returns
    -------
    ndarray of float32, shape (k + 1, n)
        Row 0: the unperturbed model; row i: the i-th perturbation.
    """
    _check_loss(loss)
    check_positive_int(k, "k")
    check_finite_scalar(radius, "radius", low=0.0)
    check_seed(seed)
    original = {name: t.detach().cpu().clone() for name, t in model.state_dict().items()}
    thetas = itertools.chain([original], perturbed_state_dicts(model, k=k, radius=radius, seed=seed))
    return loss_matrix(model, thetas, images, labels, mean=mean, std=std, batch_size=batch_size,
                       device=device, loss=loss)


# ----------------------------------------------------------------------------- from a record
def record_loss_matrix(record_dir: str | os.PathLike, *, epochs: Iterable[int] | None = None,
                       data_dir: str | os.PathLike | None = None, batch_size: int = 1024,
                       device: str | torch.device = "cpu", loss: str = "ce") -> tuple[np.ndarray, np.ndarray]:
    """Loss matrix over the checkpoints of a run record, on that run's training split.

    Rebuilds the run's data set from its manifest (same name, imbalance and split seed;
    the split hash must match), builds its model and evaluates the saved checkpoints.

    Parameters
    ----------
    record_dir : path
        A run record written by ``python -m ltbound.train``.
    epochs : iterable of int, optional
        Checkpoint epochs to use (1-based); default every checkpoint in the record.
    data_dir : path, optional
        Where the data set lives; default ``$LTBOUND_DATA_DIR``, else the record's own path
        (:func:`ltbound.train.data.datasets.record_data_dir`). The split hash is checked. Each checkpoint
        is verified against its SHA-256 in the manifest before it is read.

    Returns
    -------
    matrix : ndarray of float32, shape (K, n)
    epochs : ndarray of int64, shape (K,)
        The epoch of each row.
    """
    ds, net, ckpt_dir, have = _record_setup(record_dir, data_dir)
    want = have if epochs is None else [check_positive_int(e, "epochs") for e in epochs]
    missing = [e for e in want if e not in have]
    if not want or missing:
        raise ValueError(f"epochs {missing or want} have no checkpoint in {ckpt_dir} (available: {have})")
    mat = loss_matrix(net, (checkpoint_path(record_dir, e) for e in want), ds.train.images, ds.train.labels,
                      mean=ds.mean, std=ds.std, batch_size=batch_size, device=device, loss=loss)
    return mat, np.asarray(want, dtype=np.int64)


def record_perturbation_losses(record_dir: str | os.PathLike, *, k: int, radius: float, seed: int,
                               loss: str = "ce", cap: float | None = None,
                               data_dir: str | os.PathLike | None = None, batch_size: int = 1024,
                               device: str | torch.device = "cpu") -> np.ndarray:
    """:func:`perturbation_loss_matrix` around a run record's final checkpoint, on its training split.

    ``loss`` is one of :data:`ltbound.losses.LOSSES`: "ce", "ce-clipped" (with ``cap``,
    required) or "zero-one". Returns (k + 1, n) float32, row 0 the unperturbed final model.
    The final checkpoint is verified against its SHA-256 in the manifest before it is read.
    """
    loss, cap = check_loss(loss, cap)
    ds, net, ckpt_dir, have = _record_setup(record_dir, data_dir)
    if not have:
        raise ValueError(f"{record_dir} has no checkpoint to perturb (looked in {ckpt_dir})")
    net.load_state_dict(load_state_dict(checkpoint_path(record_dir, have[-1])))
    if str(device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    mat = perturbation_loss_matrix(net, ds.train.images, ds.train.labels, k=k, radius=radius, seed=seed,
                                   mean=ds.mean, std=ds.std, batch_size=batch_size, device=device,
                                   loss="zero-one" if loss == "zero-one" else "ce")
    if cap is not None:
        mat = np.minimum(mat, np.float32(cap))
    return mat


def _record_setup(record_dir, data_dir):
    """Rebuild a record's data set (split hash checked) and model; list its checkpoint epochs."""
    from ...records import load_record
    from ..data.datasets import load_dataset, record_data_dir
    from ..loop.models import build_model

    rec = load_record(record_dir)
    src = rec.source                       # dataset, imbalance, split_seed, split_hash, model (format v2)
    missing = [k for k in ("dataset", "imbalance", "model") if src.get(k) is None]
    if missing:
        raise ValueError(f"record {record_dir} does not name its source {missing}; it was not written by "
                         "ltbound.train, so its data and model cannot be rebuilt")
    ckpt_dir = Path(record_dir) / "checkpoints"
    have = checkpoint_epochs(record_dir)   # from the manifest's hashes (older records: the files, with a warning)
    # data_dir, else $LTBOUND_DATA_DIR, else the record's (absolute since records store it so)
    ds = load_dataset(src["dataset"], data_dir=record_data_dir(rec.manifest, data_dir), imbalance=src["imbalance"],
                      split_seed=src.get("split_seed") or 0)
    if ds.split_hash != src.get("split_hash"):
        raise ValueError(f"the rebuilt training split of {src['dataset']!r} differs from the record's "
                         "(split hash mismatch); point data_dir at the data the run used")
    net = build_model(src["model"], ds.num_classes, in_channels=ds.train.images.shape[1])
    return ds, net, ckpt_dir, have
