"""Classifier re-training on a frozen backbone (Decouple's cRT; Tables 8, 9 and 10 of the paper).

Decouple (Kang et al., ICLR 2020) trains a network jointly, then freezes the feature
extractor and re-trains the last linear layer from scratch with class-balanced sampling
("classifier re-training", cRT). Here the frozen backbone's features are computed **once**
(eval mode: BatchNorm uses its running statistics; no augmentation), and the linear
classifier is trained on those fixed vectors with any member of the q-family of Eq. 1
(IB q=1, CB q=0, CR q=-1), drawn by the trainer's :class:`~ltbound.train.data.sampler.ClassSampler`.
Computing features once makes re-training cost a few matrix products per epoch instead of
full forward passes; the price is that augmentation is not seen by the classifier (Decouple
re-trains with augmented images). That difference is documented wherever the studies report
cRT numbers.

Schedule (:func:`retrain_classifier`): SGD with momentum, weight decay, a per-step cosine
decay from ``lr`` to 0 over ``epochs`` epochs (Decouple's cRT schedule shape: 10 epochs,
cosine), an epoch = n draws of the sampler, the last partial batch kept (as the trainer).
With ``lr_schedule="constant"`` the learning rate stays at ``lr`` (used to fine-tune an
existing classifier at the run's small learning rate).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..._validation import check_finite_scalar, check_labels, check_positive_int, check_seed
from ..data.augment import normalize
from ..data.sampler import ClassSampler

__all__ = ["extract_features", "retrain_classifier", "predict_proba", "classifier_of"]


def _head(model: torch.nn.Module) -> torch.nn.Linear:
    fc = getattr(model, "fc", None)
    if not isinstance(fc, torch.nn.Linear):
        raise ValueError(f"model must end in a torch.nn.Linear named 'fc' (the classifier re-training replaces), "
                         f"got {type(fc).__name__} for {type(model).__name__}.fc")
    return fc


def classifier_of(model: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """The model's last linear layer as float32 arrays ``(weight (C, d), bias (C,))``."""
    fc = _head(model)
    bias = fc.bias if fc.bias is not None else torch.zeros(fc.out_features)
    return (fc.weight.detach().cpu().numpy().astype(np.float32).copy(),
            bias.detach().cpu().numpy().astype(np.float32).copy())


@torch.no_grad()
def extract_features(model: torch.nn.Module, images: Any, *, mean: Any, std: Any, batch_size: int = 512,
                     device: str | torch.device = "cpu") -> np.ndarray:
    """Penultimate features of ``model`` (the input of its ``fc`` layer), in eval mode.

    Parameters
    ----------
    model : torch.nn.Module
        A network whose last layer is ``model.fc`` (ResNet-32, the digits net, ResNet-50).
        Moved to ``device``; left in eval mode.
    images : uint8 tensor, shape (n, C, H, W)
        Un-augmented images.
    mean, std : sequence of float, shape (C,)
        Normalisation in [0, 1] pixel units (the data set's).
    batch_size : int
    device : str or torch.device

    Returns
    -------
    ndarray of float32, shape (n, d)
    """
    fc = _head(model)
    bs = check_positive_int(batch_size, "batch_size")
    x_all = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if x_all.dtype != torch.uint8 or x_all.ndim != 4:
        raise ValueError(f"images must be a uint8 tensor of shape (n, C, H, W), got {x_all.dtype} {tuple(x_all.shape)}")
    dev = torch.device(device)
    model.to(dev).eval()
    mean_t = torch.as_tensor(np.asarray(mean, dtype=np.float32), device=dev)
    std_t = torch.as_tensor(np.asarray(std, dtype=np.float32), device=dev)
    captured: list[torch.Tensor] = []
    hook = fc.register_forward_hook(lambda _m, inp, _out: captured.append(inp[0].detach().float().cpu()))
    try:
        for start in range(0, x_all.shape[0], bs):
            model(normalize(x_all[start:start + bs].to(dev), mean_t, std_t))
    finally:
        hook.remove()
    return torch.cat(captured).numpy() if captured else np.zeros((0, fc.in_features), np.float32)


def retrain_classifier(features: Any, labels: Any, q: float | str, *, num_classes: int | None = None,
                       epochs: int = 10, batch_size: int = 128, lr: float = 0.1, momentum: float = 0.9,
                       weight_decay: float = 5e-4, lr_schedule: str = "cosine", seed: int = 0,
                       init: tuple[Any, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Train a linear classifier on fixed features with the q-sampler of Eq. 1 (cRT).

    Parameters
    ----------
    features : array_like of float, shape (n, d)
        Training features of a frozen backbone (:func:`extract_features`).
    labels : array_like of int, shape (n,)
        Training labels in [0, C); every class must occur.
    q : float or str
        Sampler: "IB" (q = 1), "SQRT", "CB" (0), "CR" (-1) or a float exponent of Eq. 1.
    num_classes : int, optional
        C; default ``labels.max() + 1``.
    epochs : int
        Epochs of n sampler draws each.
    batch_size, lr, momentum, weight_decay : SGD settings.
    lr_schedule : {"cosine", "constant"}
        Per-step cosine decay from ``lr`` to 0, or a constant ``lr``.
    seed : int
        Seeds the classifier's initialisation and the sampler; same seed -> same weights.
    init : (weight (C, d), bias (C,)), optional
        Start from this classifier (fine-tuning) instead of a fresh one ("from scratch":
        uniform in ±1/sqrt(d), the ``torch.nn.Linear`` default, from a seeded generator).

    Returns
    -------
    weight : ndarray float32, shape (C, d)
    bias : ndarray float32, shape (C,)
    """
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"features must be a finite (n, d) array with n >= 1, got shape {x.shape}")
    y = check_labels(labels, num_classes, name="labels")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"labels has {y.shape[0]} entries but features has {x.shape[0]} rows; pass the "
                         "labels of the featurised samples")
    c = int(num_classes) if num_classes is not None else int(y.max()) + 1
    e = check_positive_int(epochs, "epochs")
    bs = check_positive_int(batch_size, "batch_size")
    lr = check_finite_scalar(lr, "lr", low=0.0, low_open=True)
    mom = check_finite_scalar(momentum, "momentum", low=0.0, high=1.0, high_open=True)
    wd = check_finite_scalar(weight_decay, "weight_decay", low=0.0)
    if lr_schedule not in ("cosine", "constant"):
        raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {lr_schedule!r}")
    seed = check_seed(seed)
    d = x.shape[1]
    gen = torch.Generator().manual_seed(seed)
    if init is None:
        bound = 1.0 / math.sqrt(d)
        w = (torch.rand(c, d, generator=gen) * 2 - 1) * bound
        b = (torch.rand(c, generator=gen) * 2 - 1) * bound
    else:
        w = torch.as_tensor(np.asarray(init[0], dtype=np.float32)).clone()
        b = torch.as_tensor(np.asarray(init[1], dtype=np.float32)).clone()
        if tuple(w.shape) != (c, d) or tuple(b.shape) != (c,):
            raise ValueError(f"init must be (weight ({c}, {d}), bias ({c},)), got {tuple(w.shape)} and {tuple(b.shape)}")
    w.requires_grad_(True)
    b.requires_grad_(True)
    opt = torch.optim.SGD([w, b], lr=lr, momentum=mom, weight_decay=wd)
    sampler = ClassSampler(y, q, seed=seed, num_classes=c)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    steps = math.ceil(x.shape[0] / bs)
    total = e * steps
    for epoch in range(1, e + 1):
        idx = sampler.global_indices(epoch)
        for s in range(steps):
            t = (epoch - 1) * steps + s
            step_lr = lr if lr_schedule == "constant" else 0.5 * lr * (1 + math.cos(math.pi * t / total))
            for g in opt.param_groups:
                g["lr"] = step_lr
            bi = idx[s * bs:(s + 1) * bs]
            loss = F.cross_entropy(xt[bi] @ w.T + b, yt[bi])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return w.detach().numpy().copy(), b.detach().numpy().copy()


def predict_proba(features: Any, weight: Any, bias: Any) -> np.ndarray:
    """Softmax outputs (n, C) of the linear classifier ``features @ weight.T + bias`` (float64)."""
    x = np.asarray(features, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    b = np.asarray(bias, dtype=np.float64)
    if x.ndim != 2 or w.ndim != 2 or w.shape[1] != x.shape[1] or b.shape != (w.shape[0],):
        raise ValueError(f"features (n, d), weight (C, d) and bias (C,) must agree, got {x.shape}, {w.shape}, {b.shape}")
    z = x @ w.T + b
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)
