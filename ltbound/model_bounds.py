"""Bounds for a trained torch model in one call: :func:`bounds_for_model`.

The common case of a torch user: a trained network and its training data in, Eq. 6, Eq. 7
and the balanced-risk bound out. The work is :func:`ltbound.train.loss_matrices.bridge.model_loss_matrix`
(a finite Θ̂ around the model, per-sample bounded losses on the training data) followed by
:func:`ltbound.bounds.estimate.estimate_bounds` with the model's row named (``theta_index=0``).

This module imports torch only inside the call, so ``import ltbound`` stays torch-free.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ._optional import require
from ._validation import check_seed
from .bounds.estimate import BoundReport, estimate_bounds
from .losses import BOUNDED_LOSSES, check_loss, loss_range

__all__ = ["bounds_for_model"]


def bounds_for_model(model: Any, train_data: Any, *, pixels: str, mean: Any = None, std: Any = None,
                     p: Any = "CR", theta: Any = "perturb", k: int = 16, radius: float = 0.01,
                     loss: str = "ce-clipped", cap: float | None = 5.0, delta: float = 0.05,
                     target: Any = "balanced", num_classes: int | None = None, num_draws: int = 1000,
                     num_bootstrap: int = 0, seed: int = 0, batch_size: int = 256, device: Any = "cpu",
                     progress: bool = True) -> BoundReport:
    """Eq. 6, Eq. 7 and the target-prior bound for a trained torch model, in one call.

    Builds Θ̂ around ``model`` (:func:`ltbound.train.loss_matrices.bridge.model_loss_matrix`: the model in row 0, then ``k``
    perturbations or the given checkpoints), evaluates the bounded per-sample loss on the
    training data, and returns :func:`ltbound.estimate_bounds` at ``theta_index=0``.

    Parameters
    ----------
    model : torch.nn.Module
        The trained model whose generalization the bounds speak of.
    train_data : Dataset, DataLoader or (images, labels)
        The training set D the model was trained on, whole and un-augmented: every class
        present (an empty class is a ValueError, before the pass where the labels can be read
        without the images), each sample once (a DataLoader with ``drop_last=True`` or a
        sampler over part of it is refused), the same image each time an index is read (a few
        indices are read twice; ``report.data_checks`` says whether this could be checked).
    pixels, mean, std
        How the images are stored and the normalisation (see :func:`ltbound.train.loss_matrices.bridge.data_loss_matrix`).
    p : str, float or array_like, shape (C,)
        Class weights of Eq. 7: 'IB', 'SQRT', 'CB', 'CR', the exponent q of Eq. 1, or a vector.
    theta : 'perturb' or sequence of nn.Module / state dict / checkpoint path
        Θ̂ besides the model (see :func:`ltbound.train.loss_matrices.bridge.model_loss_matrix`).
    k, radius
        Perturbations of ``theta='perturb'``: the data are read once, through 1 + k models, so
        the cost is that of 1 + k evaluations of the training set (a line before the pass
        gives the expected wall time, timed on the second batch). See the Notes on k.
    loss : {'ce-clipped', 'zero-one'}
        A bounded loss: cross-entropy clipped at ``cap`` (M = cap) or 0-1 (M = 1).
    cap : float
        Clipping level of 'ce-clipped' (ignored for 'zero-one').
    delta : float in (0, 1)
        Failure probability of each bound.
    target : 'balanced' or array_like, shape (C,)
        Class prior of the target-prior bound.
    num_classes : int, optional
        C; default the model's output width (so a data set missing its last class is an
        error, not a bound for fewer classes). Labels must lie in 0..C−1.
    num_draws, num_bootstrap
        As in :func:`ltbound.estimate_bounds`.
    seed : int >= 0
        Seeds the perturbations and the Rademacher sign draws (and the bootstrap).
    batch_size, device, progress
        Of the loss evaluation.

    Returns
    -------
    ltbound.bounds.estimate.BoundReport
        ``report.theta_index == 0`` (the model) and ``report.num_params`` = |Θ̂| = 1 + K;
        ``report.data_checks`` says what was checked about ``train_data`` and describes Θ̂
        (printed at the end of ``report.table()``).

    Notes
    -----
    *The number k of perturbations.* Θ̂ = the model and k random models at relative radius r;
    the Rademacher term is E_ξ max over Θ̂ (Eq. 5), so a larger k is a larger Θ̂ and a larger
    term, not a more precise estimate of one fixed quantity: 2·R̂ grows by about the same
    step per doubling of k and had not levelled off at k = 64 or 128 (measured below). The
    Monte Carlo error of the term at a fixed Θ̂ comes from the sign draws (``num_draws``);
    k adds the randomness of which perturbations were drawn. Measured with
    ``python benchmarks/own_model_mistakes.py --archive ... --k-study --seeds 4 --k-max 64`` (small CNN,
    CIFAR-10-LT(10) subset, n = 246, 4 perturbation seeds) and ``... --digits --k-study``
    (the README's digits model, n = 438, 8 seeds), 1000 sign draws, r = 0.01:

    * CIFAR subset: 2·R̂ = 0.0030 at k = 16, +0.0015 per doubling of k; spread over
      perturbation seeds 0.0006 at k = 16; sign-draw standard error 0.0047.
    * digits: 2·R̂ = 0.0010 at k = 16, +0.0002 per doubling; spread 0.0001; standard error 0.0004.

    At k = 16 the spread over perturbation seeds is 4–8 times below the sign-draw standard
    error and 1/10–1/20 of the charged ``monte_carlo`` term (0.013, 0.0012), and one doubling
    of k (twice the cost) moves 2·R̂ by less than one sign-draw standard error. No k is
    singled out by its Monte Carlo error, so the default k = 16 (17 passes over the data)
    is kept for continuity with the committed perturbation results; the pass's expected
    wall time is printed before it runs, and k = 4 or 8 costs 5 or 9 passes for a 2·R̂
    smaller by a few steps above.
    """
    # cap defaults to 5.0 for the default loss; with "zero-one" it is not used (M = 1)
    loss, cap_v = check_loss(loss, cap if loss == "ce-clipped" else None, allowed=BOUNDED_LOSSES)
    s = check_seed(seed)
    require("torch", "bounds_for_model")               # a clear message naming the extra if torch is absent
    from .train.loss_matrices.bridge import _model_loss_matrix    # torch, imported only here

    losses, labels, checks = _model_loss_matrix(model, train_data, theta=theta, k=k, radius=radius, seed=s,
                                                pixels=pixels, mean=mean, std=std, loss=loss, cap=cap_v,
                                                batch_size=batch_size, device=device, progress=progress,
                                                num_classes=num_classes, every_class=True)
    report = estimate_bounds(losses, labels, p, target=target, delta=delta, loss_range=loss_range(loss, cap_v),
                             num_classes=checks["num_classes"], theta_index=0, num_draws=num_draws, seed=s,
                             num_bootstrap=num_bootstrap)
    return dataclasses.replace(report, data_checks=checks)
