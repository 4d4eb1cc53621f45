"""Run records: the documented, versioned file format between the trainer and everything else.

The trainer (:mod:`ltbound.train`) writes one record per run; the bound code, the main job
and the paper checks read it with :func:`load_record`. This module uses numpy and json only.

Format, version 1
-----------------
A record is a directory::

    RUN/manifest.json           see below
    RUN/split.npz               train_indices (n,) int64, train_labels (n,) int64,
                                test_labels (m,) int64
    RUN/epochs/epoch_0001.npz   one file per completed epoch (1-based):
                                  train_loss    (n,) float16   per-sample cross-entropy, eval mode,
                                                               un-augmented images, after the epoch
                                  train_correct (n,) packed bits (np.packbits, little bit order)
                                  test_correct  (m,) packed bits
                                  test_loss     (m,) float16   (optional)
    RUN/checkpoints/epoch_0001.pt   model weights (the trainer's business, torch)
    RUN/state.pt                resume state (the trainer's business)

A *compact* record (:func:`compact_record`) holds the same arrays in one ``record.npz``
(correctness of all epochs as packed bits, losses of chosen epochs as float16) beside the
manifest; :func:`load_record` reads both layouts.

``manifest.json`` fields: ``format`` ("ltbound-run-record"), ``version`` (1), ``status``
("running" | "complete"), ``epochs_completed``, ``layout`` ("epochs" | "compact"),
``config`` (the trainer configuration), ``dataset`` (name, num_classes, class_names,
counts, imbalance, split_hash, n_train, n_test, ...), ``schedule`` (list of
{start_epoch, sampler, q}), ``environment`` (versions, device), ``timings`` and
``history`` (one JSON dict per completed epoch: epoch, lr, sampler, q, mean_train_loss,
train_acc, test_acc, test_acc_per_class, test_acc_groups, seconds, ...).

Float16 losses: cross-entropy in [0, 65504] keeps about 3 significant digits (relative
error <= 2**-11), far below the Monte Carlo and sampling errors of every bound term.

Crash safety: every file is written to a temporary name and moved into place with
``os.replace`` (atomic on POSIX); an epoch file is in place before the manifest that counts
it, so a run killed at any moment leaves ``epochs_completed`` complete epochs readable.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ._validation import check_labels, check_positive_int
from .schedule import Phase, Schedule

RECORD_FORMAT = "ltbound-run-record"
RECORD_VERSION = 1
_BITORDER = "little"


class RecordError(ValueError):
    """A folder that is not a readable run record, or a write that would corrupt one."""


# ----------------------------------------------------------------------------- atomic I/O
def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _atomic_write_json(path: Path, obj: Any) -> None:
    _atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=False, default=json_default) + "\n").encode())


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    import io
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    _atomic_write_bytes(path, buf.getvalue())


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` hook: numpy scalars and arrays, paths."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _pack(bits: np.ndarray) -> np.ndarray:
    return np.packbits(np.asarray(bits, dtype=bool), axis=-1, bitorder=_BITORDER)


def _unpack(packed: np.ndarray, count: int) -> np.ndarray:
    return np.unpackbits(packed, count=count, bitorder=_BITORDER, axis=-1).astype(bool)


def _read_manifest(path: Path) -> dict:
    mpath = path / "manifest.json"
    if not mpath.is_file():
        raise RecordError(f"{path} is not a run record: it has no manifest.json "
                          "(a record is the folder written by `python -m ltbound.train --out DIR`)")
    try:
        manifest = json.loads(mpath.read_text())
    except json.JSONDecodeError as e:
        raise RecordError(f"{mpath} is not valid JSON ({e})") from None
    if manifest.get("format") != RECORD_FORMAT:
        raise RecordError(f"{mpath} is not an ltbound run record (format {manifest.get('format')!r})")
    if int(manifest.get("version", -1)) > RECORD_VERSION:
        raise RecordError(f"{mpath} has format version {manifest.get('version')}, newer than this "
                          f"ltbound reads ({RECORD_VERSION}); upgrade ltbound")
    return manifest


# ----------------------------------------------------------------------------- writer
class RecordWriter:
    """Write a run record epoch by epoch, crash-safely.

    Parameters
    ----------
    path : path-like
        The record folder. Created if missing.
    manifest : dict
        The fixed, JSON-safe part of the manifest: ``config``, ``dataset``, ``schedule``,
        ``environment`` (and anything else the trainer wants to keep).
    train_indices, train_labels : array_like of int, shape (n,)
        Positions of the training samples in the source data set, and their labels.
    test_labels : array_like of int, shape (m,)
    resume : bool
        Continue a record of the same configuration already in ``path``. Without it, a
        folder that already holds a record, or any other files, is refused.
    """

    def __init__(self, path: str | os.PathLike, *, manifest: dict, train_indices: Any,
                 train_labels: Any, test_labels: Any, resume: bool = False) -> None:
        self.path = Path(path)
        if not isinstance(manifest, dict):
            raise ValueError(f"manifest must be a dict, got {type(manifest).__name__}")
        self._train_labels = check_labels(train_labels, name="train_labels")
        self._test_labels = check_labels(test_labels, name="test_labels")
        self._train_indices = np.asarray(train_indices, dtype=np.int64)
        if self._train_indices.shape != self._train_labels.shape:
            raise ValueError(f"train_indices has shape {self._train_indices.shape} but train_labels "
                             f"has {self._train_labels.shape}; they must describe the same samples")
        self.n = int(self._train_labels.size)
        self.m = int(self._test_labels.size)
        fixed = json.loads(json.dumps(manifest, default=json_default))

        if (self.path / "manifest.json").exists():
            old = _read_manifest(self.path)
            if not resume:
                raise RecordError(
                    f"output folder {self.path} already holds a run record "
                    f"(status {old.get('status')!r}, {old.get('epochs_completed')} epochs); "
                    "choose another --out, delete it, or pass resume to continue it")
            if old.get("config") != fixed.get("config"):
                raise RecordError(f"cannot resume {self.path}: it was written with another configuration "
                                  f"({_diff_keys(old.get('config'), fixed.get('config'))}); use a new --out")
            self._manifest = old
            self._manifest["status"] = "running"
            self._check_split_matches()
        else:
            if self.path.exists() and any(self.path.iterdir()):
                raise RecordError(f"output folder {self.path} is not empty and holds no run record; "
                                  "choose an empty or new folder")
            self.path.mkdir(parents=True, exist_ok=True)
            _atomic_savez(self.path / "split.npz", train_indices=self._train_indices,
                          train_labels=self._train_labels, test_labels=self._test_labels)
            self._manifest = {"format": RECORD_FORMAT, "version": RECORD_VERSION, "status": "running",
                              "layout": "epochs", "epochs_completed": 0, **fixed,
                              "n_train": self.n, "n_test": self.m, "timings": {}, "history": []}
            _atomic_write_json(self.path / "manifest.json", self._manifest)

    def _check_split_matches(self) -> None:
        with np.load(self.path / "split.npz") as z:
            same = (np.array_equal(z["train_indices"], self._train_indices)
                    and np.array_equal(z["train_labels"], self._train_labels)
                    and np.array_equal(z["test_labels"], self._test_labels))
        if not same:
            raise RecordError(f"cannot resume {self.path}: its training split differs from this run's")

    @property
    def epochs_completed(self) -> int:
        return int(self._manifest["epochs_completed"])

    @property
    def manifest(self) -> dict:
        return self._manifest

    def write_epoch(self, epoch: int, *, train_loss: Any, train_correct: Any, test_correct: Any,
                    test_loss: Any = None, summary: dict) -> None:
        """Append epoch ``epoch`` (1-based, must be ``epochs_completed + 1``)."""
        epoch = check_positive_int(epoch, "epoch")
        if epoch != self.epochs_completed + 1:
            raise RecordError(f"epoch must be {self.epochs_completed + 1} (the next one), got {epoch}")
        tl = np.asarray(train_loss, dtype=np.float64)
        if tl.shape != (self.n,) or not np.all(np.isfinite(tl)):
            raise ValueError(f"train_loss must be finite with shape ({self.n},), got shape {tl.shape}")
        tc = np.asarray(train_correct)
        sc = np.asarray(test_correct)
        if tc.shape != (self.n,):
            raise ValueError(f"train_correct must have shape ({self.n},), got {tc.shape}")
        if sc.shape != (self.m,):
            raise ValueError(f"test_correct must have shape ({self.m},), got {sc.shape}")
        arrays = {"train_loss": np.minimum(tl, np.finfo(np.float16).max).astype(np.float16),
                  "train_correct": _pack(tc), "test_correct": _pack(sc)}
        if test_loss is not None:
            ts = np.asarray(test_loss, dtype=np.float64)
            if ts.shape != (self.m,):
                raise ValueError(f"test_loss must have shape ({self.m},), got {ts.shape}")
            arrays["test_loss"] = np.minimum(ts, np.finfo(np.float16).max).astype(np.float16)
        _atomic_savez(self.path / "epochs" / f"epoch_{epoch:04d}.npz", **arrays)
        entry = {"epoch": epoch, **json.loads(json.dumps(summary, default=json_default))}
        self._manifest["history"] = [h for h in self._manifest["history"] if h.get("epoch") != epoch] + [entry]
        self._manifest["epochs_completed"] = epoch
        _atomic_write_json(self.path / "manifest.json", self._manifest)

    def finish(self, *, timings: dict | None = None) -> None:
        """Mark the record complete."""
        if timings is not None:
            self._manifest["timings"] = json.loads(json.dumps(timings, default=json_default))
        self._manifest["status"] = "complete"
        _atomic_write_json(self.path / "manifest.json", self._manifest)

    def checkpoint_path(self, epoch: int) -> Path:
        d = self.path / "checkpoints"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"epoch_{check_positive_int(epoch, 'epoch'):04d}.pt"

    @property
    def state_path(self) -> Path:
        return self.path / "state.pt"


def _diff_keys(a: Any, b: Any) -> str:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return "config missing"
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "differs in " + ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys[:5])


# ----------------------------------------------------------------------------- reader
@dataclass
class RunRecord:
    """A run record loaded into memory.

    Attributes
    ----------
    epochs : (E,) int
        The epochs whose per-sample arrays are present, 1-based.
    train_loss : (E_loss, n) float32
        Per-sample training cross-entropy after each epoch in ``loss_epochs`` (all epochs for
        a full record; a compact record may keep only some, e.g. the final stage).
    loss_epochs : (E_loss,) int
    train_correct : (E, n) bool ; test_correct : (E, m) bool
    lr, q : (E,) float ; sampler : list of str, one per epoch (from the history)
    """
    path: Path
    manifest: dict
    train_indices: np.ndarray
    train_labels: np.ndarray
    test_labels: np.ndarray
    epochs: np.ndarray
    loss_epochs: np.ndarray
    train_loss: np.ndarray
    train_correct: np.ndarray
    test_correct: np.ndarray
    test_loss: np.ndarray | None
    history: list[dict] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return int(self.manifest.get("dataset", {}).get("num_classes")
                   or max(self.train_labels.max(), self.test_labels.max()) + 1)

    @property
    def counts(self) -> np.ndarray:
        return np.bincount(self.train_labels, minlength=self.num_classes).astype(np.int64)

    @property
    def n(self) -> int:
        return int(self.train_labels.size)

    @property
    def complete(self) -> bool:
        return self.manifest.get("status") == "complete"

    @property
    def lr(self) -> np.ndarray:
        return np.array([h.get("lr", np.nan) for h in self.history], dtype=np.float64)

    @property
    def q(self) -> np.ndarray:
        return np.array([h.get("q", np.nan) for h in self.history], dtype=np.float64)

    @property
    def sampler(self) -> list[str]:
        return [str(h.get("sampler", "")) for h in self.history]

    def test_accuracy(self) -> np.ndarray:
        """(E,) overall test accuracy after each epoch."""
        return self.test_correct.mean(axis=1)

    def per_class_test_accuracy(self) -> np.ndarray:
        """(E, C) test accuracy of each class after each epoch."""
        c = self.num_classes
        onehot = np.eye(c, dtype=np.float64)[self.test_labels]          # (m, C)
        per = self.test_correct.astype(np.float64) @ onehot               # (E, C)
        return per / np.maximum(onehot.sum(axis=0), 1)

    def balanced_test_accuracy(self) -> np.ndarray:
        """(E,) mean of per-class test accuracies (equals overall accuracy on a balanced test set)."""
        return self.per_class_test_accuracy().mean(axis=1)

    def final_stage_epochs(self) -> np.ndarray:
        """Epochs of the last phase of the schedule (after the last switch), 1-based.

        For an IB-only run this is the whole last learning-rate stage (epochs after the last
        milestone) when the configuration records milestones, else every epoch.
        """
        phases = self.manifest.get("schedule") or [Phase(1, "IB", 1.0).to_dict()]   # no schedule: one phase
        ms = (self.manifest.get("config", {}) or {}).get("milestones") or []
        return self.epochs[self.epochs >= Schedule.from_list(phases).final_stage_start(ms)]

    def loss_matrix(self, epochs: Iterable[int] | None = None, *, loss: str = "ce", cap: float | None = None) -> np.ndarray:
        """Per-sample training losses (K, n) of the models after the given epochs (a finite Θ̂).

        ``loss="ce"``: cross-entropy, clipped at ``cap`` if given; ``loss="zero-one"``:
        1 - correctness. Default epochs: :meth:`final_stage_epochs`.
        """
        ep = np.asarray(self.final_stage_epochs() if epochs is None else list(epochs), dtype=np.int64)
        if ep.size == 0:
            raise ValueError("epochs selects no epoch of this record")
        if loss == "zero-one":
            rows = _rows_for(self.epochs, ep, "epochs")
            return 1.0 - self.train_correct[rows].astype(np.float64)
        if loss == "ce":
            rows = _rows_for(self.loss_epochs, ep, "epochs with stored losses")
            out = self.train_loss[rows].astype(np.float64)
            return np.minimum(out, cap) if cap is not None else out
        raise ValueError(f"loss must be 'ce' or 'zero-one', got {loss!r}")


def _rows_for(have: np.ndarray, want: np.ndarray, what: str) -> np.ndarray:
    pos = {int(e): i for i, e in enumerate(have)}
    missing = [int(e) for e in want if int(e) not in pos]
    if missing:
        raise ValueError(f"epochs {missing[:5]} are not among this record's {what} "
                         f"({int(have.min()) if have.size else '-'}..{int(have.max()) if have.size else '-'})")
    return np.array([pos[int(e)] for e in want], dtype=np.int64)


def load_record(path: str | os.PathLike) -> RunRecord:
    """Read a run record folder (either layout). Only the completed epochs are read."""
    path = Path(path)
    if not path.is_dir():
        raise RecordError(f"run record folder {path} does not exist")
    manifest = _read_manifest(path)
    layout = manifest.get("layout", "epochs")
    if layout == "compact":
        with np.load(path / "record.npz") as z:
            n, m = int(z["train_labels"].size), int(z["test_labels"].size)
            return RunRecord(
                path=path, manifest=manifest, train_indices=z["train_indices"].astype(np.int64),
                train_labels=z["train_labels"].astype(np.int64), test_labels=z["test_labels"].astype(np.int64),
                epochs=z["epochs"].astype(np.int64), loss_epochs=z["loss_epochs"].astype(np.int64),
                train_loss=z["train_loss"].astype(np.float32),
                train_correct=_unpack(z["train_correct"], n), test_correct=_unpack(z["test_correct"], m),
                test_loss=z["test_loss"].astype(np.float32) if "test_loss" in z.files else None,
                history=list(manifest.get("history", [])))
    e_done = int(manifest.get("epochs_completed", 0))
    with np.load(path / "split.npz") as z:
        train_indices, train_labels, test_labels = (z["train_indices"].astype(np.int64),
                                                    z["train_labels"].astype(np.int64),
                                                    z["test_labels"].astype(np.int64))
    n, m = train_labels.size, test_labels.size
    losses, tcs, scs, sls = [], [], [], []
    for e in range(1, e_done + 1):
        f = path / "epochs" / f"epoch_{e:04d}.npz"
        if not f.is_file():
            raise RecordError(f"{path} claims {e_done} epochs but {f.name} is missing")
        with np.load(f) as z:
            losses.append(z["train_loss"].astype(np.float32))
            tcs.append(_unpack(z["train_correct"], n))
            scs.append(_unpack(z["test_correct"], m))
            sls.append(z["test_loss"].astype(np.float32) if "test_loss" in z.files else None)
    epochs = np.arange(1, e_done + 1, dtype=np.int64)
    have_test_loss = e_done > 0 and all(s is not None for s in sls)
    return RunRecord(
        path=path, manifest=manifest, train_indices=train_indices, train_labels=train_labels,
        test_labels=test_labels, epochs=epochs, loss_epochs=epochs.copy(),
        train_loss=np.stack(losses) if losses else np.zeros((0, n), np.float32),
        train_correct=np.stack(tcs) if tcs else np.zeros((0, n), bool),
        test_correct=np.stack(scs) if scs else np.zeros((0, m), bool),
        test_loss=np.stack(sls) if have_test_loss else None,
        history=list(manifest.get("history", []))[:e_done])


def compact_record(src: str | os.PathLike, dst: str | os.PathLike, *,
                   loss_epochs: str | Iterable[int] = "final-stage") -> Path:
    """Write a small, single-file copy of a record (for committing to a repository).

    Keeps correctness of every epoch as packed bits, per-sample training losses (float16)
    only for ``loss_epochs`` ("final-stage", "all", "last" or explicit epochs), the test
    losses of the last epoch, the split and the manifest (history included). Checkpoints
    and resume state are dropped.
    """
    rec = load_record(src)
    if rec.manifest.get("layout") == "compact":
        raise RecordError(f"{src} is already a compact record")
    if isinstance(loss_epochs, str):
        if loss_epochs == "final-stage":
            keep = rec.final_stage_epochs()
        elif loss_epochs == "all":
            keep = rec.epochs
        elif loss_epochs == "last":
            keep = rec.epochs[-1:]
        else:
            raise ValueError(f"loss_epochs must be 'final-stage', 'all', 'last' or a list of epochs, got {loss_epochs!r}")
    else:
        keep = np.asarray(list(loss_epochs), dtype=np.int64)
    rows = _rows_for(rec.loss_epochs, keep, "epochs with stored losses")
    dst = Path(dst)
    if (dst / "manifest.json").exists() or (dst.exists() and any(dst.iterdir())):
        raise RecordError(f"compact_record destination {dst} is not empty; choose a new folder")
    dst.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_indices": rec.train_indices, "train_labels": rec.train_labels, "test_labels": rec.test_labels,
        "epochs": rec.epochs, "loss_epochs": keep, "train_loss": rec.train_loss[rows].astype(np.float16),
        "train_correct": _pack(rec.train_correct), "test_correct": _pack(rec.test_correct),
    }
    if rec.test_loss is not None:
        arrays["test_loss"] = rec.test_loss[-1:].astype(np.float16)
    _atomic_savez(dst / "record.npz", **arrays)
    manifest = dict(rec.manifest)
    manifest.update(layout="compact", compacted_from=str(Path(src).name),
                    loss_epochs=[int(e) for e in keep])
    _atomic_write_json(dst / "manifest.json", manifest)
    return dst
