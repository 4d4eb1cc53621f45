"""Bias and variance of a classifier over independently trained models (Table 9): two decompositions.

Table 9 of the paper reports "Bias²", "Variance" and "Total Error" per method but does not
say how they are computed. Its own numbers answer: each printed total equals 1 − the printed
accuracy to within 0.008 (exactly for two of the five rows), which a 0-1 loss decomposition
implies and the squared error of softmax outputs does not (paper check
``table9_decomposition``). ltbound offers both.

Squared error (:func:`bias_variance`)
-------------------------------------
The squared-error (Brier) decomposition of the predicted class-probability vector over K
models trained independently (different seeds) on the same training set:

    for a test sample x with one-hot label e_y and the models' softmax outputs p_1(x), ..., p_K(x),
    p̄(x)      = (1/K) Σ_k p_k(x)                                   (main / average prediction)
    bias²(x)   = ||p̄(x) − e_y||²
    var(x)     = (1/K) Σ_k ||p_k(x) − p̄(x)||²
    error(x)   = (1/K) Σ_k ||p_k(x) − e_y||²  =  bias²(x) + var(x)  (exact identity)

averaged over the test samples. This is the decomposition of Geman, Bienenstock & Doursat
(1992) applied to the probability vector under squared loss, as used for deep classifiers by
Yang et al. (2020). It needs no "main prediction" and is smooth in the outputs, so its noise
across seeds is smaller at the K = 5-10 models a study can afford; but its magnitudes are not
the paper's (its total is a Brier score, not an error rate). The noise term of
the classical decomposition is taken to be zero: the test label is treated as the target
(no label noise), which is the usual convention for image benchmarks.

The randomness being averaged over is that of training (initialisation, sampling order,
augmentation) with the training set fixed, not that of drawing a new training set.

0-1 loss (:func:`zero_one_decomposition`)
-----------------------------------------
Beside it, the decomposition of the 0-1 loss of the K models' class predictions ŷ_1(x), ...,
ŷ_K(x), noise-free (the test label t = y is the optimal prediction), with P̂(c) = the
fraction of models that predict class c:

    loss(x)     = (1/K) Σ_k 1[ŷ_k(x) ≠ t] = 1 − P̂(t)                   (mean over samples = 1 − accuracy)
    y_m(x)      = argmax_c P̂(c)   (the main prediction: the mode over the K models; a tie goes
                                    to the smallest class index, whatever the label)
    B(x)        = 1[y_m(x) ≠ t]                                          (Domingos' bias)
    V(x)        = P̂(ŷ ≠ y_m(x))                                         (Domingos' variance)
    loss(x)     = B(x) + c(x) V(x),  c = 1 if B(x) = 0, c = −P̂(t | ŷ ≠ y_m) if B(x) = 1
                                                                          (Domingos 2000, Theorem 2)

so the mean loss is bias + net variance, net variance = V_u − V_b' with V_u the variance on
unbiased samples (it adds to the loss) and V_b' = mean of B·P̂(t | ŷ ≠ y_m)·V the variance on
biased samples (it removes loss: a model that leaves a wrong main prediction may hit the
label). With two classes P̂(t | ŷ ≠ y_m) = 1 on a biased sample and loss(x) = B + (1 − 2B) V.
The identity holds whichever mode is taken as y_m; the tie rule only moves loss between bias
and net variance. Kohavi & Wolpert (1996) decompose the same loss without a main prediction:

    bias²_KW(x) = ½ Σ_c (1[c = t] − P̂(c))²,   var_KW(x) = ½ (1 − Σ_c P̂(c)²),
    bias²_KW(x) + var_KW(x) = 1 − P̂(t) = loss(x)                          (noise-free)

which is ½ the squared error of the one-hot predictions decomposed as above. Either way the
total is the mean 0-1 loss, i.e. 1 − the models' mean accuracy: a published "total error" that
equals 1 − accuracy points to a 0-1 decomposition; the squared error of softmax outputs has no
such identity (its total is the mean Brier score).

References
----------
S. Geman, E. Bienenstock, R. Doursat, "Neural networks and the bias/variance dilemma",
Neural Computation 4(1), 1992.
P. Domingos, "A unified bias-variance decomposition and its applications", ICML 2000.
R. Kohavi, D. Wolpert, "Bias plus variance decomposition for zero-one loss functions", ICML 1996.
Z. Yang, Y. Yu, C. You, J. Steinhardt, Y. Ma, "Rethinking bias-variance trade-off for
generalization of neural networks", ICML 2020.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_labels, check_not_masked, check_num_classes

__all__ = ["BiasVariance", "bias_variance", "ZeroOneDecomposition", "zero_one_decomposition"]


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


@dataclass(frozen=True)
class ZeroOneDecomposition:
    """0-1 loss decompositions of K models' class predictions (Domingos 2000; Kohavi & Wolpert 1996).

    Attributes
    ----------
    loss : float
        Mean over samples of the models' mean 0-1 loss, = 1 − ``accuracy`` (exactly).
    accuracy : float
        Mean over models and samples of ŷ_k(x) == y.
    bias, variance, net_variance : float
        Domingos: test-set means of B(x), V(x) and c(x) V(x); ``loss == bias + net_variance``.
    variance_unbiased, variance_biased : float
        Means of V(x)·[B = 0] and V(x)·[B = 1] (Domingos' V_u and V_b over all samples).
    kw_bias2, kw_variance : float
        Kohavi-Wolpert bias² and variance; ``loss == kw_bias2 + kw_variance``.
    num_models, num_samples : int
        K and m.
    main_prediction : ndarray of int64, shape (m,)
        y_m(x), the mode of the K predictions (ties to the smallest class index).
    loss_per_sample, bias_per_sample, variance_per_sample, net_variance_per_sample,
    kw_bias2_per_sample, kw_variance_per_sample : ndarray, shape (m,)
        The per-sample terms (for a bootstrap over test samples).
    """

    loss: float
    accuracy: float
    bias: float
    variance: float
    net_variance: float
    variance_unbiased: float
    variance_biased: float
    kw_bias2: float
    kw_variance: float
    num_models: int
    num_samples: int
    main_prediction: np.ndarray
    loss_per_sample: np.ndarray
    bias_per_sample: np.ndarray
    variance_per_sample: np.ndarray
    net_variance_per_sample: np.ndarray
    kw_bias2_per_sample: np.ndarray
    kw_variance_per_sample: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        keys = ("loss", "accuracy", "bias", "variance", "net_variance", "variance_unbiased", "variance_biased",
                "kw_bias2", "kw_variance")
        return {**{k: float(getattr(self, k)) for k in keys}, "num_models": int(self.num_models),
                "num_samples": int(self.num_samples),
                "decomposition": "0-1 loss (Domingos 2000; Kohavi & Wolpert 1996), noise-free"}


def zero_one_decomposition(predictions: Any, labels: Any, num_classes: int | None = None) -> ZeroOneDecomposition:
    """Domingos' and Kohavi-Wolpert's 0-1 loss decompositions of K models' predictions on a test set.

    Parameters
    ----------
    predictions : array_like of int, shape (K, m)
        Predicted class of model k for test sample i (e.g. ``probs.argmax(axis=2)``); K >= 2.
    labels : array_like of int, shape (m,)
        Test labels in [0, C).
    num_classes : int, optional
        C (default: the largest class index in ``predictions`` or ``labels``, plus 1). Only
        the range check uses it; the decompositions do not depend on unpredicted classes.

    Returns
    -------
    ZeroOneDecomposition
        Test-set means and per-sample terms; see the module docstring for the formulas. Noise-
        free: the test label is the target.

    References
    ----------
    P. Domingos, "A unified bias-variance decomposition and its applications", ICML 2000 (Theorem 2).
    R. Kohavi, D. Wolpert, "Bias plus variance decomposition for zero-one loss functions", ICML 1996.
    """
    if num_classes is not None:
        num_classes = check_num_classes(num_classes)
    check_not_masked(predictions, "predictions")
    pred = np.asarray(predictions)
    if pred.ndim != 2:
        raise ValueError(f"predictions must have shape (K models, m samples), got shape {pred.shape}; "
                         "pass class indices, e.g. probs.argmax(axis=2)")
    k, m = pred.shape
    if k < 2 or m < 1:
        raise ValueError(f"predictions needs at least 2 models and 1 sample, got shape {pred.shape}; train more seeds")
    flat = check_labels(pred.ravel(), num_classes, name="predictions")
    y = check_labels(labels, num_classes, name="labels")
    if y.shape != (m,):
        raise ValueError(f"labels must have shape (m,) = ({m},) to match predictions, got {y.shape}")
    c = int(max(flat.max(), y.max())) + 1 if num_classes is None else int(num_classes)
    pred = flat.reshape(k, m)

    share = np.zeros((m, c))                                 # P̂(c | x): fraction of models predicting c
    np.add.at(share, (np.tile(np.arange(m), k), pred.ravel()), 1.0 / k)
    rows = np.arange(m)
    p_label = share[rows, y]
    loss = 1.0 - p_label                                     # mean 0-1 loss of the models at x
    main = share.argmax(axis=1)                              # the mode; argmax takes the first of ties
    bias = (main != y).astype(np.float64)                    # B(x)
    variance = 1.0 - share[rows, main]                       # V(x) = P̂(ŷ ≠ y_m)
    # c(x) V(x): +V on unbiased samples; −P̂(t | ŷ ≠ y_m) V = −P̂(t) on biased ones (Domingos, Theorem 2)
    net = np.where(bias == 0.0, variance, -p_label)
    onehot = np.zeros((m, c))
    onehot[rows, y] = 1.0
    kw_bias2 = 0.5 * ((onehot - share) ** 2).sum(axis=1)
    kw_var = 0.5 * (1.0 - (share ** 2).sum(axis=1))
    return ZeroOneDecomposition(
        loss=float(loss.mean()), accuracy=float((pred == y).mean()), bias=float(bias.mean()),
        variance=float(variance.mean()), net_variance=float(net.mean()),
        variance_unbiased=float((variance * (1.0 - bias)).mean()), variance_biased=float((variance * bias).mean()),
        kw_bias2=float(kw_bias2.mean()), kw_variance=float(kw_var.mean()), num_models=k, num_samples=m,
        main_prediction=main.astype(np.int64), loss_per_sample=loss, bias_per_sample=bias,
        variance_per_sample=variance, net_variance_per_sample=net, kw_bias2_per_sample=kw_bias2,
        kw_variance_per_sample=kw_var)
