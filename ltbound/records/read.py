"""Reading a run record: :func:`load_record` verifies it and returns a :class:`RunRecord`."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from ..losses import check_loss
from ._io import is_int, short
from .consistency import check_consistency
from .format import RecordError, derive_run_fields, epoch_rel, read_manifest
from .verify import check_against_history, check_array, check_packed, check_split, read_npz, verify_file

__all__ = ["RunRecord", "load_record", "read_file"]


@dataclass
class RunRecord:
    """A run record loaded into memory (and verified: see :func:`load_record`).

    Attributes
    ----------
    epochs : (E,) int
        The epochs whose per-sample arrays are present, 1-based.
    train_loss : (E_loss, n) float32
        Per-sample training cross-entropy after each epoch in ``loss_epochs`` (all epochs for
        a full record; a compact record may keep only some, e.g. the final stage).
    loss_epochs : (E_loss,) int
    train_correct : (E, n) bool ; test_correct : (E, m) bool
    test_loss : (E_test, m) float32 or None
        Per-sample test cross-entropy after each epoch in ``test_loss_epochs`` (all epochs for
        a full record; the final stage for a compact record, the last epoch for compact
        records written before ``test_loss_epochs`` existed).
    test_loss_epochs : (E_test,) int
    lr, q : (E,) float ; sampler : list of str, one per epoch (from the history)
    label, seed, source, final_stage_start_epoch, epochs_planned, preset : the version 2 top-level
        fields (derived for older records: :func:`~ltbound.records.derive_run_fields`)
    split_check : str
        How far the split was verified against its protocol: "protocol", "counts" or
        "unverified" (:mod:`ltbound.records.split`).
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
    test_loss_epochs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    split_check: str = "unverified"

    @property
    def num_classes(self) -> int:
        return int((self.manifest.get("dataset") or {}).get("num_classes")
                   or max(self.train_labels.max(), self.test_labels.max()) + 1)

    @property
    def counts(self) -> np.ndarray:
        return np.bincount(self.train_labels, minlength=self.num_classes).astype(np.int64)

    @property
    def n(self) -> int:
        return int(self.train_labels.size)

    @property
    def version(self) -> int:
        return int(self.manifest["version"])

    @property
    def status(self) -> str:
        return str(self.manifest["status"])

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def label(self) -> str:
        """The run's label (its schedule name); the folder name when the record names none."""
        lb = derive_run_fields(self.manifest)["run"].get("label")
        return str(lb) if lb is not None else self.path.name

    @property
    def seed(self) -> int | None:
        s = derive_run_fields(self.manifest)["run"].get("seed")
        return int(s) if is_int(s) else None

    @property
    def source(self) -> dict:
        """{dataset, imbalance, split_seed, split_hash, model}: where the run's data came from."""
        return dict(derive_run_fields(self.manifest)["source"])

    @property
    def final_stage_start_epoch(self) -> int:
        return int(derive_run_fields(self.manifest)["final_stage_start_epoch"])

    @property
    def epochs_planned(self) -> int | None:
        """The epochs the run was set to train (None when the record states no plan)."""
        e = derive_run_fields(self.manifest)["epochs_planned"]
        return int(e) if is_int(e) else None

    @property
    def preset(self) -> str | None:
        """The name of the training recipe the run started from (None when the record names none)."""
        p = derive_run_fields(self.manifest)["preset"]
        return str(p) if isinstance(p, str) else None

    def fingerprint(self) -> str:
        """SHA-256 of the run's per-sample results (split, correctness of every epoch, stored losses).

        Two records with the same fingerprint hold the same run, whatever their manifests say
        (a copy with its seed relabelled is not a second seed).
        """
        h = hashlib.sha256()
        for a in (self.train_indices, self.epochs, self.loss_epochs):
            h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
        for a in (self.train_correct, self.test_correct):
            h.update(np.packbits(a, axis=-1).tobytes())
        h.update(np.ascontiguousarray(self.train_loss, dtype="<f4").tobytes())
        return h.hexdigest()

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
        """Epochs of the last phase of the schedule (from :attr:`final_stage_start_epoch`), 1-based.

        For an IB-only run this is the whole last learning-rate stage (epochs after the last
        milestone) when the configuration records milestones, else every epoch.
        """
        return self.epochs[self.epochs >= self.final_stage_start_epoch]

    def loss_matrix(self, epochs: Iterable[int] | None = None, *, loss: str = "ce", cap: float | None = None) -> np.ndarray:
        """Per-sample training losses (K, n) of the models after the given epochs (a finite Θ̂).

        ``loss`` is one of :data:`ltbound.losses.LOSSES`: "ce" (raw cross-entropy), "ce-clipped" (clipped at
        ``cap``, required) or "zero-one" (1 - correctness). Default epochs:
        :meth:`final_stage_epochs`.
        """
        loss, cap, ep = self._matrix_args(epochs, loss, cap)
        if loss == "zero-one":
            rows = _rows_for(self.epochs, ep, "epochs")
            return 1.0 - self.train_correct[rows].astype(np.float64)
        rows = _rows_for(self.loss_epochs, ep, "epochs with stored losses")
        out = self.train_loss[rows].astype(np.float64)
        return np.minimum(out, cap) if cap is not None else out

    def _matrix_args(self, epochs, loss, cap) -> tuple[str, float | None, np.ndarray]:
        """(loss, cap, epochs as an int array) checked; the default epochs are the final stage's."""
        loss, cap = check_loss(loss, cap)
        ep = np.asarray(self.final_stage_epochs() if epochs is None else list(epochs), dtype=np.int64)
        if ep.size == 0:
            raise ValueError("epochs selects no epoch of this record")
        return loss, cap, ep

    def test_loss_matrix(self, epochs: Iterable[int] | None = None, *, loss: str = "ce",
                         cap: float | None = None) -> np.ndarray:
        """Per-sample *test* losses (K, m) of the models after the given epochs (as :meth:`loss_matrix`).

        "zero-one" is available for every recorded epoch (1 - ``test_correct``); "ce" and
        "ce-clipped" only for the epochs in ``test_loss_epochs`` (the final stage's epochs in
        records of the full recipe, the last epoch in older compact records); others raise
        ValueError naming the epochs that have them.
        """
        loss, cap, ep = self._matrix_args(epochs, loss, cap)
        if loss == "zero-one":
            rows = _rows_for(self.epochs, ep, "epochs")
            return 1.0 - self.test_correct[rows].astype(np.float64)
        if self.test_loss is None:
            raise ValueError(f"record {self.path} stores no per-sample test losses; use loss='zero-one'")
        rows = _rows_for(self.test_loss_epochs, ep, "epochs with stored test losses")
        out = self.test_loss[rows].astype(np.float64)
        return np.minimum(out, cap) if cap is not None else out


def _rows_for(have: np.ndarray, want: np.ndarray, what: str) -> np.ndarray:
    pos = {int(e): i for i, e in enumerate(have)}
    missing = [int(e) for e in want if int(e) not in pos]
    if missing:
        raise ValueError(f"epochs {missing[:5]} are not among this record's {what} "
                         f"({int(have.min()) if have.size else '-'}..{int(have.max()) if have.size else '-'})")
    return np.array([pos[int(e)] for e in want], dtype=np.int64)


def load_record(path: str | os.PathLike) -> RunRecord:
    """Read and verify a run record folder (either layout, format version 1 or 2).

    Only the completed epochs are read. Raises :class:`RecordError` (a ``ValueError``) naming
    the file and what is wrong for any damage the format can detect: a version other than
    1 or 2, a manifest that is not a JSON object or was edited (version 2 checksum), a data
    file whose size or SHA-256 differs from the manifest's (version 2), unreadable or
    truncated ``.npz`` files, arrays of the wrong shape or dtype for n and m, labels outside
    [0, C), negative or non-finite losses, a split that does not match its hash, epochs out
    of sequence, and epoch files that disagree with their history entry.
    """
    path = Path(path)
    if not path.is_dir():
        raise RecordError(f"run record folder {path} does not exist")
    manifest = read_manifest(path)
    if manifest.get("layout", "epochs") == "compact":
        rec = _load_compact(path, manifest)
        read = {"record.npz"}
    else:
        rec = _load_epochs_layout(path, manifest)
        read = {"split.npz", *(epoch_rel(e) for e in range(1, manifest["epochs_completed"] + 1))}
    if manifest["version"] >= 2:          # files a tool added (loss matrices, ...): present and intact
        for rel in sorted(set(manifest["files"]) - read):
            verify_file(path, rel, manifest)
    else:
        # a version 1 record carries no hashes: a damaged or edited file (or a version 2 record relabelled
        # 1 with its hashes removed) is caught only by the structural and cross-checks below
        warnings.warn(f"{path} is a version 1 run record: its files carry no SHA-256, so damage or edits are "
                      "caught only by its structure and cross-checks; resume or recompact it to upgrade it",
                      UserWarning, stacklevel=2)
    # the hashes catch damage, not a consistent edit: what the record states must agree with what it holds
    check_consistency(path, manifest, train_indices=rec.train_indices, test_loss=rec.test_loss, test_loss_epochs=rec.test_loss_epochs,
                      test_correct=rec.test_correct, num_classes=rec.num_classes)
    return rec


def _load_epochs_layout(path: Path, manifest: dict) -> RunRecord:
    split = read_npz(path, "split.npz", manifest, required=("train_indices", "train_labels", "test_labels"))
    train_indices, train_labels, test_labels, split_check = check_split(path, "split.npz", manifest, split)
    n, m = train_labels.size, test_labels.size
    e_done = manifest["epochs_completed"]
    history = list(manifest.get("history", []))
    losses, tcs, scs, sls = [], [], [], []
    for e in range(1, e_done + 1):
        tl, tc, sc, sl = _load_epoch(path, e, manifest, n, m, history[e - 1])
        losses.append(tl)
        tcs.append(tc)
        scs.append(sc)
        sls.append(sl)
    epochs = np.arange(1, e_done + 1, dtype=np.int64)
    have_test_loss = e_done > 0 and all(s is not None for s in sls)
    return RunRecord(
        path=path, manifest=manifest, train_indices=train_indices, train_labels=train_labels,
        test_labels=test_labels, epochs=epochs, loss_epochs=epochs.copy(),
        train_loss=np.stack(losses) if losses else np.zeros((0, n), np.float32),
        train_correct=np.stack(tcs) if tcs else np.zeros((0, n), bool),
        test_correct=np.stack(scs) if scs else np.zeros((0, m), bool),
        test_loss=np.stack(sls) if have_test_loss else None,
        test_loss_epochs=epochs.copy() if have_test_loss else np.zeros(0, np.int64),
        history=history, split_check=split_check)


def _load_compact(path: Path, manifest: dict) -> RunRecord:
    z = read_npz(path, "record.npz", manifest,
                  required=("train_indices", "train_labels", "test_labels", "epochs", "loss_epochs",
                            "train_loss", "train_correct", "test_correct"), optional=("test_loss", "test_loss_epochs"))
    f = str(path / "record.npz")
    train_indices, train_labels, test_labels, split_check = check_split(path, "record.npz", manifest, z)
    n, m = train_labels.size, test_labels.size
    e_done = manifest["epochs_completed"]
    epochs, loss_epochs = z["epochs"], z["loss_epochs"]
    check_array(f, "epochs", epochs, (e_done,), "int")
    if not np.array_equal(epochs, np.arange(1, e_done + 1)):
        raise RecordError(f"{f}: epochs must be 1..{e_done} (epochs_completed), got {short(epochs.tolist())}")
    _check_epoch_list(f, "loss_epochs", loss_epochs, epochs, manifest)
    check_array(f, "train_loss", z["train_loss"], (loss_epochs.size, n), "float16")
    tc = check_packed(f, "train_correct", z["train_correct"], (e_done,), n)
    sc = check_packed(f, "test_correct", z["test_correct"], (e_done,), m)
    test_loss, test_loss_epochs = None, np.zeros(0, np.int64)
    if "test_loss" in z:
        # compact records written before test_loss_epochs existed keep the last epoch's test losses only
        test_loss_epochs = z["test_loss_epochs"] if "test_loss_epochs" in z else epochs[-1:]
        _check_epoch_list(f, "test_loss_epochs", test_loss_epochs, epochs, manifest)
        check_array(f, "test_loss", z["test_loss"], (test_loss_epochs.size, m), "float16")
        test_loss = z["test_loss"].astype(np.float32)
    train_loss = z["train_loss"].astype(np.float32)
    history = list(manifest.get("history", []))
    rows = {int(e): i for i, e in enumerate(loss_epochs)}
    for e in range(e_done):
        check_against_history(f"{f} (epoch {e + 1})", history[e], tc[e], sc[e],
                              train_loss[rows[e + 1]] if e + 1 in rows else None)
    return RunRecord(
        path=path, manifest=manifest, train_indices=train_indices, train_labels=train_labels,
        test_labels=test_labels, epochs=epochs.astype(np.int64), loss_epochs=loss_epochs.astype(np.int64),
        train_loss=train_loss, train_correct=tc, test_correct=sc, test_loss=test_loss,
        test_loss_epochs=test_loss_epochs.astype(np.int64), history=history, split_check=split_check)


def _check_epoch_list(f: str, name: str, got: np.ndarray, epochs: np.ndarray, manifest: dict) -> None:
    """An epoch list of a compact record: increasing epochs of the record, equal to the manifest's list."""
    if got.ndim != 1 or got.dtype.kind not in "iu" or not np.all(np.isin(got, epochs)) or np.any(np.diff(got) <= 0):
        raise RecordError(f"{f}: {name} must be increasing epochs of the record, got {short(got.tolist())}")
    listed = manifest.get(name)
    if listed is not None and listed != got.tolist():
        raise RecordError(f"{f}: {name} {short(got.tolist())} differs from the manifest's {short(listed)}; "
                          "the record was edited — restore it from a copy")


def _load_epoch(path: Path, e: int, manifest: dict, n: int, m: int, h: dict) -> tuple:
    rel = epoch_rel(e)
    z = read_npz(path, rel, manifest, required=("train_loss", "train_correct", "test_correct"),
                  optional=("test_loss",))
    f = str(path / rel)
    check_array(f, "train_loss", z["train_loss"], (n,), "float16")
    tc = check_packed(f, "train_correct", z["train_correct"], (), n)
    sc = check_packed(f, "test_correct", z["test_correct"], (), m)
    sl = None
    if "test_loss" in z:
        check_array(f, "test_loss", z["test_loss"], (m,), "float16")
        sl = z["test_loss"].astype(np.float32)
    tl = z["train_loss"].astype(np.float32)
    check_against_history(f, h, tc, sc, tl)
    return tl, tc, sc, sl


def read_file(path: str | os.PathLike, rel: str) -> dict[str, np.ndarray]:
    """Arrays of a data file added with :func:`add_file`, after checking its hash."""
    path = Path(path)
    manifest = read_manifest(path)
    if manifest["version"] < 2 or rel not in manifest["files"]:
        raise RecordError(f"{path} lists no file {rel!r} in its manifest")
    data = verify_file(path, rel, manifest)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as e:
        raise RecordError(f"{path / rel} is not a readable .npz file ({type(e).__name__})") from None


