"""Is a record's training split the one its protocol (data set, imbalance, split seed) selects?

The long-tailed subset of the CIFAR-LT protocol depends only on the source's training labels,
the per-class counts (n_max and the imbalance, :func:`ltbound.bounds.sampling.long_tailed_counts`)
and the split seed (:func:`ltbound.bounds.sampling.long_tailed_indices`). What can be known without
the images:

* CIFAR-10-LT / CIFAR-100-LT, any layout: the class counts of the subset are the protocol's
  (for n_max = the split's largest class: 5,000 / 500 for the full sets, fewer for a subset of
  the archive as tests and dry runs use).
* CIFAR in the class-folder layout (``train/<class>/*`` sorted by class, then name; the
  full set keeps n_max images per class, so class j occupies positions
  [j·n_max, (j+1)·n_max)): the source labels are known, so the subset itself is recomputed
  and must equal the record's ``train_indices``.
* CIFAR in torchvision's layout (the pickled batches' order), digits, and other image
  folders: the order of the source labels is not in the record, so the subset cannot be
  recomputed here; the data rebuild (:mod:`ltbound.train.loss_matrices.theta`, the bridge) checks the split
  hash against the data themselves.

:func:`check_split_protocol` returns which of these applied: ``"protocol"`` (subset
recomputed and equal), ``"counts"`` (counts only) or ``"unverified"``.
"""

from __future__ import annotations

import numpy as np

from ..bounds.sampling import long_tailed_counts, long_tailed_indices
from ._io import is_int
from .format import RecordError, derive_run_fields

__all__ = ["CIFAR_SOURCES", "SPLIT_CHECKS", "check_split_protocol"]

#: data set name -> (n_max, number of classes) of its full training set (5,000 / 500 images per class)
CIFAR_SOURCES = {"cifar10-lt": (5000, 10), "cifar100-lt": (500, 100)}
#: what :func:`check_split_protocol` could verify, most to least
SPLIT_CHECKS = ("protocol", "counts", "unverified")


def check_split_protocol(f: str, manifest: dict, train_indices: np.ndarray, train_labels: np.ndarray) -> str:
    """Check a record's split against its protocol as far as the record allows; see the module docstring.

    Parameters
    ----------
    f : str
        The file named in an error.
    manifest : dict
        The record's manifest (``source``: dataset, imbalance, split_seed).
    train_indices, train_labels : ndarray of int64, shape (n,)
        The record's split (already checked for shape, range and distinctness).

    Returns
    -------
    str
        One of :data:`SPLIT_CHECKS`.

    Raises
    ------
    RecordError
        The class counts or (class-folder layout) the subset differ from the protocol's.
    """
    src = derive_run_fields(manifest)["source"]
    name, imbalance, seed = src.get("dataset"), src.get("imbalance"), src.get("split_seed")
    if name not in CIFAR_SOURCES or isinstance(imbalance, bool) or not isinstance(imbalance, (int, float)) \
            or not imbalance >= 1:
        return "unverified"
    full_n_max, c = CIFAR_SOURCES[name]
    got = np.bincount(train_labels, minlength=c)
    # n_max is the source's images per class: 5,000 for the full CIFAR-10 training set, fewer for
    # a subset of the archive (tests, dry runs). Under the protocol the largest class keeps n_max.
    n_max = int(got.max()) if got.size == c and 0 < got.max() <= full_n_max else full_n_max
    counts = long_tailed_counts(n_max, c, float(imbalance))
    if got.size != c or not np.array_equal(got, counts):
        raise RecordError(f"{f}: the training split has class counts {got.tolist()[:10]} but {name} at imbalance "
                          f"{imbalance:g} keeps {counts.tolist()[:10]} (n_max {n_max}); the split is not this "
                          "protocol's — a foreign or edited split")
    if not is_int(seed) or not 0 <= seed < 2 ** 32:
        return "counts"
    if not np.array_equal(train_indices // n_max, train_labels):
        return "counts"        # not the class-folder layout: the source's label order is unknown here
    want = long_tailed_indices(np.repeat(np.arange(c), n_max), counts, seed)
    whole = imbalance == 1 and np.array_equal(train_indices, np.arange(n_max * c))   # imbalance=None keeps all, in order
    if not (whole or np.array_equal(train_indices, want)):
        raise RecordError(f"{f}: train_indices are not the subset that {name}'s protocol selects at imbalance "
                          f"{imbalance:g} with split_seed {seed} (class-folder layout, where the source labels are "
                          "known); the split is foreign or was edited")
    return "protocol"
