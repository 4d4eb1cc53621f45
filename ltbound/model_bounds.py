"""Bounds for a trained torch model in one call: :func:`bounds_for_model`.

The common case of a torch user: a trained network and its training data in, Eq. 6, Eq. 7
and the balanced-risk bound out. The work is :func:`ltbound.train.bridge.model_loss_matrix`
(a finite Θ̂ around the model, per-sample bounded losses on the training data) followed by
:func:`ltbound.bounds.estimate_bounds` with the model's row named (``theta_index=0``).

This module imports torch only inside the call, so ``import ltbound`` stays torch-free.
"""

from __future__ import annotations

from typing import Any

from ._optional import require
from ._validation import check_positive_int
from .bounds import BoundReport, estimate_bounds
from .losses import BOUNDED_LOSSES, check_loss, loss_range

__all__ = ["bounds_for_model"]


def bounds_for_model(model: Any, train_data: Any, *, pixels: str, mean: Any = None, std: Any = None,
                     p: Any = "CR", theta: Any = "perturb", k: int = 16, radius: float = 0.01,
                     loss: str = "ce-clipped", cap: float | None = 5.0, delta: float = 0.05,
                     target: Any = "balanced", num_classes: int | None = None, num_draws: int = 1000,
                     num_bootstrap: int = 0, seed: int = 0, batch_size: int = 256, device: Any = "cpu",
                     progress: bool = True) -> BoundReport:
    """Eq. 6, Eq. 7 and the target-prior bound for a trained torch model, in one call.

    Builds Θ̂ around ``model`` (:func:`ltbound.train.bridge.model_loss_matrix`: the model in row 0, then ``k``
    perturbations or the given checkpoints), evaluates the bounded per-sample loss on the
    training data, and returns :func:`ltbound.estimate_bounds` at ``theta_index=0``.

    Parameters
    ----------
    model : torch.nn.Module
        The trained model whose generalization the bounds speak of.
    train_data : Dataset, DataLoader or (images, labels)
        The training set D the model was trained on (un-augmented); every class present.
    pixels, mean, std
        How the images are stored and the normalisation (see :func:`ltbound.train.bridge.data_loss_matrix`).
    p : str, float or array_like, shape (C,)
        Class weights of Eq. 7: 'IB', 'SQRT', 'CB', 'CR', the exponent q of Eq. 1, or a vector.
    theta : 'perturb' or sequence of nn.Module / state dict / checkpoint path
        Θ̂ besides the model (see :func:`ltbound.train.bridge.model_loss_matrix`).
    k, radius
        Perturbations of ``theta='perturb'``.
    loss : {'ce-clipped', 'zero-one'}
        A bounded loss: cross-entropy clipped at ``cap`` (M = cap) or 0-1 (M = 1).
    cap : float
        Clipping level of 'ce-clipped' (ignored for 'zero-one').
    delta : float in (0, 1)
        Failure probability of each bound.
    target : 'balanced' or array_like, shape (C,)
        Class prior of the target-prior bound.
    num_classes, num_draws, num_bootstrap
        As in :func:`ltbound.estimate_bounds`.
    seed : int >= 0
        Seeds the perturbations and the Rademacher sign draws (and the bootstrap).
    batch_size, device, progress
        Of the loss evaluation.

    Returns
    -------
    ltbound.bounds.BoundReport
        ``report.theta_index == 0`` (the model) and ``report.num_params`` = |Θ̂| = 1 + K.
    """
    # cap defaults to 5.0 for the default loss; with "zero-one" it is not used (M = 1)
    loss, cap_v = check_loss(loss, cap if loss == "ce-clipped" else None, allowed=BOUNDED_LOSSES)
    s = check_positive_int(seed, "seed", minimum=0)
    require("torch", "bounds_for_model")               # a clear message naming the extra if torch is absent
    from .train.bridge import model_loss_matrix    # torch, imported only here

    losses, labels = model_loss_matrix(model, train_data, theta=theta, k=k, radius=radius, seed=s, pixels=pixels,
                                       mean=mean, std=std, loss=loss, cap=cap_v, batch_size=batch_size,
                                       device=device, progress=progress)
    return estimate_bounds(losses, labels, p, target=target, delta=delta,
                           loss_range=loss_range(loss, cap_v), num_classes=num_classes, theta_index=0,
                           num_draws=num_draws, seed=s, num_bootstrap=num_bootstrap)
