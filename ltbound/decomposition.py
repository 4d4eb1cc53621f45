"""Bias² + variance of a classifier's softmax outputs over independently trained models (Table 9).

Table 9 of the paper reports "Bias²", "Variance" and "Total Error" per method but does not
say how they are computed. ltbound uses the squared-error (Brier) decomposition of the
predicted class-probability vector over K models trained independently (different seeds)
on the same training set:

    for a test sample x with one-hot label e_y and the models' softmax outputs p_1(x), ..., p_K(x),
    p̄(x)      = (1/K) Σ_k p_k(x)                                   (main / average prediction)
    bias²(x)   = ||p̄(x) − e_y||²
    var(x)     = (1/K) Σ_k ||p_k(x) − p̄(x)||²
    error(x)   = (1/K) Σ_k ||p_k(x) − e_y||²  =  bias²(x) + var(x)  (exact identity)

averaged over the test samples. This is the decomposition of Geman, Bienenstock & Doursat
(1992) applied to the probability vector under squared loss, as used for deep classifiers by
Yang et al. (2020). We chose it over Domingos' (2000) 0-1 decomposition because it is an
exact identity (bias² + variance = total, as Table 9's "Total Error" column presumes), it
needs no tie-breaking rule for a "main prediction", and it is smooth in the outputs, so its
noise across seeds is smaller at the K = 5-10 models a study can afford. The noise term of
the classical decomposition is taken to be zero: the test label is treated as the target
(no label noise), which is the usual convention for image benchmarks.

The randomness being averaged over is that of training (initialisation, sampling order,
augmentation) with the training set fixed, not that of drawing a new training set.

References
----------
S. Geman, E. Bienenstock, R. Doursat, "Neural networks and the bias/variance dilemma",
Neural Computation 4(1), 1992.
P. Domingos, "A unified bias-variance decomposition", ICML 2000.
Z. Yang, Y. Yu, C. You, J. Steinhardt, Y. Ma, "Rethinking bias-variance trade-off for
generalization of neural networks", ICML 2020.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import check_labels

__all__ = ["BiasVariance", "bias_variance"]


@dataclass(frozen=True)
class BiasVariance:
    """Squared-error bias-variance decomposition of softmax outputs (see the module docstring).

    Attributes
    ----------
    bias2, variance, total : float
        Test-set means of bias²(x), var(x) and error(x); ``total == bias2 + variance`` up to
        rounding. Units: squared probability (each lies in [0, 2]).
    accuracy : float
        Mean over models and test samples of argmax p_k(x) == y.
    per_class_accuracy : ndarray, shape (C,)
        The same, per class (mean over the class's test samples; NaN for a class with none).
    num_models, num_samples : int
        K and m.
    bias2_per_sample, variance_per_sample : ndarray, shape (m,)
        bias²(x) and var(x) of each test sample (for a paired bootstrap over test samples).
    """

    bias2: float
    variance: float
    total: float
    accuracy: float
    per_class_accuracy: np.ndarray
    num_models: int
    num_samples: int
    bias2_per_sample: np.ndarray
    variance_per_sample: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {"bias2": float(self.bias2), "variance": float(self.variance), "total": float(self.total),
                "accuracy": float(self.accuracy),
                "per_class_accuracy": [None if not np.isfinite(v) else float(v) for v in self.per_class_accuracy],
                "num_models": int(self.num_models), "num_samples": int(self.num_samples),
                "decomposition": "squared error of softmax outputs (Geman et al. 1992)"}


def bias_variance(probs: Any, labels: Any) -> BiasVariance:
    """Bias², variance and total squared error of K models' softmax outputs on a test set.

    Parameters
    ----------
    probs : array_like of float, shape (K, m, C)
        Class probabilities of model k for test sample i (rows are probability vectors:
        entries in [0, 1] summing to 1 within 1e-4). K >= 2 for a variance to mean anything.
    labels : array_like of int, shape (m,)
        Test labels in [0, C).

    Returns
    -------
    BiasVariance
        Test-set means; see the module docstring for the formulas. A balanced test set makes
        these class-balanced averages, matching the balanced test accuracy the paper reports.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 3:
        raise ValueError(f"probs must have shape (K models, m samples, C classes), got shape {p.shape}; "
                         "stack the models' softmax outputs along a first axis")
    k, m, c = p.shape
    if k < 2 or m < 1 or c < 2:
        raise ValueError(f"probs needs at least 2 models, 1 sample and 2 classes, got shape {p.shape}; "
                         "train more seeds")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ValueError("probs must be finite probabilities in [0, 1]; pass softmax outputs, not logits")
    sums = p.sum(axis=2)
    if np.max(np.abs(sums - 1.0)) > 1e-4:
        raise ValueError(f"each probs[k, i] must sum to 1 (softmax outputs), got sums in "
                         f"[{sums.min():.6g}, {sums.max():.6g}]")
    y = check_labels(labels, c, name="labels")
    if y.shape != (m,):
        raise ValueError(f"labels must have shape (m,) = ({m},) to match probs, got {y.shape}")

    onehot = np.eye(c)[y]                                   # (m, C)
    mean_p = p.mean(axis=0)                                 # (m, C), the average prediction
    bias2 = ((mean_p - onehot) ** 2).sum(axis=1)            # (m,)
    var = ((p - mean_p) ** 2).sum(axis=2).mean(axis=0)      # (m,)
    total = ((p - onehot) ** 2).sum(axis=2).mean(axis=0)    # (m,), equals bias2 + var
    correct = (p.argmax(axis=2) == y).mean(axis=0)          # (m,) fraction of models right
    per_class = np.full(c, np.nan)
    cnt = np.bincount(y, minlength=c)
    hit = np.bincount(y, weights=correct, minlength=c)
    per_class[cnt > 0] = hit[cnt > 0] / cnt[cnt > 0]
    return BiasVariance(bias2=float(bias2.mean()), variance=float(var.mean()), total=float(total.mean()),
                        accuracy=float(correct.mean()), per_class_accuracy=per_class, num_models=k,
                        num_samples=m, bias2_per_sample=bias2, variance_per_sample=var)
