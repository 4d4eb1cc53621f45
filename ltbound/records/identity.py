"""Which records may be compared as runs of one experiment: one data split, each run counted once."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .format import RecordError
from .read import RunRecord

__all__ = ["check_one_experiment", "check_same_test_set"]

#: the source fields that define the data a run saw; records compared together must agree on them
_SPLIT_FIELDS = ("dataset", "imbalance", "split_seed", "split_hash")


def check_one_experiment(records: Sequence[RunRecord], *, allow_duplicates: bool = False) -> None:
    """Refuse records that cannot be runs (seeds) of one experiment.

    Parameters
    ----------
    records : sequence of RunRecord
    allow_duplicates : bool
        Skip the duplicate checks (same folder, same label and seed, same per-sample results);
        the split checks always apply.

    Raises
    ------
    ValueError
        Two records were trained on different splits: other training labels or sample positions,
        or another data set, imbalance, split seed or split hash in their ``source``.
    RecordError
        Without ``allow_duplicates``: one folder twice, two records of one label and seed, or
        two records holding identical per-sample results (one run copied with its seed
        relabelled), any of which would count one run as two seeds.
    """
    if not records:
        return
    first = records[0]
    for r in records[1:]:
        if not (np.array_equal(r.train_labels, first.train_labels)
                and np.array_equal(r.train_indices, first.train_indices)):
            raise ValueError(f"records {first.path} and {r.path} were trained on different splits (other training "
                             "samples); compare runs of one data set and split")
        a, b = first.source, r.source
        differ = [k for k in _SPLIT_FIELDS if a.get(k) is not None and b.get(k) is not None and a[k] != b[k]]
        if differ:
            detail = ", ".join(f"{k} {a[k]!r} vs {b[k]!r}" for k in differ)
            raise ValueError(f"records {first.path} and {r.path} were trained on different splits ({detail}); "
                             "runs with another split are another experiment, not another seed: compare them "
                             "separately")
    if allow_duplicates:
        return
    seen: dict = {}
    for r in records:
        keys = [("path", str(Path(r.path).resolve()))]
        if r.seed is not None:
            keys.append(("run", r.label, r.seed))
        keys.append(("results", r.fingerprint()))
        for key in keys:
            if key in seen:
                what = {"path": "the same folder",
                        "run": f"the same run (label {r.label!r}, seed {r.seed})",
                        "results": f"the same run: their per-sample results are identical (seeds "
                                   f"{seen[key].seed!r} and {r.seed!r}; a copy with its seed relabelled?)"}[key[0]]
                raise RecordError(f"records {seen[key].path} and {r.path} are {what}: it would count as two seeds; "
                                  "pass each run once, or allow_duplicates=True")
            seen[key] = r


def check_same_test_set(a: RunRecord, b: RunRecord) -> None:
    """Refuse pairing two records image by image (McNemar) unless they hold one test set in one order.

    A record stores its test labels, not the images, so what can be checked is checked: the
    same data set (``source.dataset``), the same test subset (``config.max_test_per_class``)
    and the same labels in the same order. This is the condition
    :func:`ltbound.compare`'s paired tests use (equal test labels), plus the data set.

    Raises
    ------
    ValueError
        Naming both records and what differs.
    """
    def subset(r: RunRecord):
        cfg = r.manifest.get("config") if isinstance(r.manifest.get("config"), dict) else {}
        return cfg.get("max_test_per_class")

    why = None
    if a.source.get("dataset") != b.source.get("dataset"):
        why = f"data sets {a.source.get('dataset')!r} and {b.source.get('dataset')!r}"
    elif subset(a) != subset(b):
        why = f"test subsets max_test_per_class {subset(a)!r} and {subset(b)!r}"
    elif a.test_labels.shape != b.test_labels.shape:
        why = f"{a.test_labels.size} and {b.test_labels.size} test images"
    elif not np.array_equal(a.test_labels, b.test_labels):
        first = int(np.flatnonzero(a.test_labels != b.test_labels)[0])
        why = f"test labels that differ from image {first} on (another test set, or another order)"
    if why is not None:
        raise ValueError(f"records {a.path} and {b.path} hold {why}: a paired test compares the two models image by "
                         "image, so both must be evaluated on the same test images in the same order")
