"""The per-sample losses a run record or a model evaluation gives: one vocabulary for the library.

``"ce"``
    Raw cross-entropy in nats. Unbounded, so not for the bounds (their confidence terms
    need a known range M).
``"ce-clipped"``
    min(ce, cap) with a clipping level ``cap`` > 0; its range is M = cap.
``"zero-one"``
    1 − correctness (argmax, ties to the lowest class); M = 1.

:func:`check_loss` checks a name and its cap once at a public boundary; :func:`loss_range`
turns a checked (loss, cap) into the M of Eq. 6/7's confidence terms.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

__all__ = ["LOSSES", "BOUNDED_LOSSES", "check_loss", "loss_range"]

#: loss name -> whether it needs a cap
LOSSES = {"ce": False, "ce-clipped": True, "zero-one": False}
#: the losses the bounds can use (bounded, with a known range M)
BOUNDED_LOSSES = ("ce-clipped", "zero-one")


def check_loss(loss: Any, cap: Any = None, *, allowed: Iterable[str] = tuple(LOSSES)) -> tuple[str, float | None]:
    """Check a loss name and its cap: returns ``(loss, cap)``, cap a float > 0 or None.

    The cap is required exactly when the loss needs it ("ce-clipped") and refused otherwise,
    so that a cap can never be silently ignored. ``allowed`` narrows the names a caller
    takes (e.g. :data:`BOUNDED_LOSSES` for the bounds).
    """
    allowed = tuple(allowed)
    if isinstance(loss, str) and loss in LOSSES and loss not in BOUNDED_LOSSES and loss not in allowed:
        raise ValueError(f"loss must be one of {list(allowed)}, got {loss!r}, which is unbounded: the bounds need "
                         "a bounded loss")
    if not isinstance(loss, str) or loss not in allowed:
        raise ValueError(f"loss must be one of {list(allowed)}, got {loss!r}")
    if LOSSES[loss]:
        if cap is None:
            raise ValueError(f"loss={loss!r} needs cap, the clipping level C > 0 of the cross-entropy (then M = C)")
        if isinstance(cap, (bool, np.bool_)) or not isinstance(cap, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(cap)) or float(cap) <= 0:
            raise ValueError(f"cap must be a finite number > 0 (the clipping level), got {cap!r}")
        return loss, float(cap)
    if cap is not None:
        raise ValueError(f"cap applies only to loss='ce-clipped'; loss={loss!r} takes cap=None, got cap={cap!r}")
    return loss, None


def loss_range(loss: str, cap: float | None) -> float:
    """M, the range [0, M] of a checked bounded loss: ``cap`` for "ce-clipped", 1 for "zero-one"."""
    if loss not in BOUNDED_LOSSES:
        raise ValueError(f"loss {loss!r} has no finite range; the bounds take one of {list(BOUNDED_LOSSES)}")
    return 1.0 if cap is None else float(cap)
