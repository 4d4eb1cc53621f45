"""The paper's Table 12: published per-class regularity of CIFAR-10-LT (imbalance 50), with Eq. 13
recomputed from its columns. A paper fact, beside the measures of :mod:`ltbound.regularity.events`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Table12", "table12"]


# ----------------------------------------------------------------------------- Table 12
@dataclass(frozen=True)
class Table12:
    """Published per-class regularity of CIFAR-10-LT, imbalance 50 (Table 12 of the paper).

    Attributes
    ----------
    classes : ndarray of int64, shape (10,)
    cardinality : ndarray of int64, shape (10,)
        n_j (equal to ``long_tailed_counts(5000, 10, 50)``).
    frobenius : ndarray of float64, shape (10,)
        Published F-norm ||C_j||_F (Eq. 11).
    irregularity : ndarray of float64, shape (10,)
        Published I_j (Eq. 12), rounded to 4 decimals.
    pearson : float
        Published Eq. 13 coefficient, -0.6112.
    """

    classes: np.ndarray
    cardinality: np.ndarray
    frobenius: np.ndarray
    irregularity: np.ndarray
    pearson: float

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        return {"classes": self.classes.tolist(), "cardinality": self.cardinality.tolist(),
                "frobenius": self.frobenius.tolist(), "irregularity": self.irregularity.tolist(),
                "pearson": self.pearson}


def table12() -> Table12:
    """The published rows of Table 12 (App. A.2), as data.

    These are the paper's numbers (averaged over 10 ResNet-32 runs on CIFAR-10-LT with
    imbalance 50), kept so that the paper checks can recompute what follows from them:

    * I_j = F-norm / n_j (Eq. 12): every row agrees with the published irregularity to
      the 4 printed decimals.
    * Eq. 13 on (cardinality, published irregularity) gives -0.611155, which rounds to the
      published -0.6112; on (cardinality, unrounded F-norm / cardinality) it gives
      -0.611149 (-0.6111 at 4 decimals): the paper computed it from the rounded column.

    Note that the published F-norms vary only ~10x (44-447) while n_j varies 50x; with a
    constant F-norm, I_j ∝ 1/n_j and Eq. 13 would give corr(n, 1/n) = -0.6231 for these
    counts. Most of the reported correlation comes from dividing by n_j in Eq. 12.
    """
    return Table12(
        classes=np.arange(10, dtype=np.int64),
        cardinality=np.array([5000, 3237, 2096, 1357, 878, 568, 368, 238, 154, 100], dtype=np.int64),
        frobenius=np.array([85.7341, 44.3574, 296.3582, 397.6501, 267.5524, 447.2937, 253.5138,
                            355.5270, 279.5059, 363.4100]),
        irregularity=np.array([0.0171, 0.0137, 0.1414, 0.2930, 0.3047, 0.7875, 0.6889, 1.4938,
                               1.8150, 3.6341]),
        pearson=-0.6112,
    )
