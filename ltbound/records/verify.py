"""Verification of a record's files: hashes, array shapes and ranges, the split, and each epoch against its history.

Every check raises one :class:`~ltbound.records.RecordError` naming the file and what is wrong.
Checkpoints are verified only when one is read (:func:`checkpoint_path`), since the bounds
from per-sample arrays never need them.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import warnings
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ._io import BITORDER, is_int, short
from .format import RecordError, checkpoint_rel, read_manifest
from .split import check_split_protocol

__all__ = ["checkpoint_epochs", "checkpoint_path"]


def read_bytes(path: Path, rel: str) -> bytes:
    """The bytes of data file ``RUN/rel``; missing or unreadable -> RecordError naming it."""
    f = path / rel
    if not f.is_file():
        raise RecordError(f"{path}: data file {rel} is missing (the manifest lists it)")
    try:
        return f.read_bytes()
    except OSError as e:
        raise RecordError(f"{f} cannot be read ({e.strerror or e})") from None


def verify_file(path: Path, rel: str, manifest: dict) -> bytes:
    """Read ``RUN/rel`` and check its size and SHA-256 against the manifest (version 2)."""
    if Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise RecordError(f"{path}/manifest.json lists {rel!r}, which is not a file inside the record")
    f, data = path / rel, read_bytes(path, rel)
    want = manifest["files"].get(rel)
    if want is None:
        raise RecordError(f"{path}: manifest lists no hash for {rel}; the record is incomplete")
    if len(data) != want["size"]:
        raise RecordError(f"{f} has {len(data)} bytes but the manifest says {want['size']} "
                          "(truncated or replaced); restore it from a copy")
    if hashlib.sha256(data).hexdigest() != want["sha256"]:
        raise RecordError(f"{f} does not match its SHA-256 in the manifest (damaged or replaced by "
                          "another file); restore it from a copy")
    return data


def read_npz(path: Path, rel: str, manifest: dict, *, required: Iterable[str],
              optional: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Load one data file, checking size and SHA-256 (version 2) first; any damage -> RecordError."""
    f = path / rel
    data = verify_file(path, rel, manifest) if manifest.get("version", 1) >= 2 else read_bytes(path, rel)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            names = set(z.files)
            missing = [k for k in required if k not in names]
            if missing:
                raise RecordError(f"{f} lacks the arrays {missing} (has {sorted(names)})")
            return {k: z[k] for k in (*required, *optional) if k in names}
    except RecordError:
        raise
    except Exception as e:   # BadZipFile, EOFError, zlib.error, ValueError, OSError, ...
        raise RecordError(f"{f} is not a readable .npz file ({type(e).__name__}: {str(e)[:80]}); "
                          "it is truncated or damaged — restore it from a copy") from None


def check_array(f: str, name: str, a: np.ndarray, shape: tuple, kind: str) -> None:
    if a.shape != shape:
        raise RecordError(f"{f}: {name} has shape {a.shape}, expected {shape}")
    ok = {"int": a.dtype.kind in "iu", "uint8": a.dtype == np.uint8, "float16": a.dtype == np.float16}[kind]
    if not ok:
        raise RecordError(f"{f}: {name} has dtype {a.dtype}, expected {kind}")
    if kind == "float16" and a.size and not (np.all(np.isfinite(a)) and float(a.min()) >= 0):
        raise RecordError(f"{f}: {name} must be finite and >= 0 (a loss)")


def check_packed(f: str, name: str, a: np.ndarray, lead: tuple, count: int) -> np.ndarray:
    check_array(f, name, a, (*lead, (count + 7) // 8), "uint8")
    bits = np.unpackbits(a, axis=-1, bitorder=BITORDER)
    if bits.shape[-1] > count and np.any(bits[..., count:]):
        raise RecordError(f"{f}: {name} has bits set past sample {count} (packed for another sample count)")
    return bits[..., :count].astype(bool)


def check_split(path: Path, rel: str, manifest: dict, arrays: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """The split's arrays, checked against n, m, C, the class counts, the split hash and the protocol.

    Returns ``(train_indices, train_labels, test_labels, split_check)``, ``split_check`` one
    of :data:`ltbound.records.split.SPLIT_CHECKS`.
    """
    f = str(path / rel)
    ti, tl, sl = arrays["train_indices"], arrays["train_labels"], arrays["test_labels"]
    if ti.ndim != 1 or ti.size == 0:
        raise RecordError(f"{f}: train_indices must be a non-empty 1-D array, got shape {ti.shape}")
    n = int(ti.size)
    m = int(sl.size) if sl.ndim == 1 else -1
    check_array(f, "train_indices", ti, (n,), "int")
    check_array(f, "train_labels", tl, (n,), "int")
    if m < 1:
        raise RecordError(f"{f}: test_labels must be a non-empty 1-D array, got shape {sl.shape}")
    check_array(f, "test_labels", sl, (m,), "int")
    for key, want in (("n_train", n), ("n_test", m)):
        if key in manifest and manifest[key] != want:
            raise RecordError(f"{f} holds {want} {'training' if key == 'n_train' else 'test'} samples but the "
                              f"manifest's {key} is {manifest[key]}")
    ds = manifest.get("dataset") if isinstance(manifest.get("dataset"), dict) else {}
    c = ds.get("num_classes")
    if c is not None and not (is_int(c) and c >= 1):
        raise RecordError(f"{path}/manifest.json: dataset.num_classes must be a positive integer, got {c!r}")
    for name, a in (("train_labels", tl), ("test_labels", sl)):
        if a.min() < 0 or (c is not None and a.max() >= c):
            raise RecordError(f"{f}: {name} must lie in [0, {c if c is not None else 'C'}), "
                              f"found {int(a.min()) if a.min() < 0 else int(a.max())}")
    if ti.min() < 0 or np.unique(ti).size != n:
        raise RecordError(f"{f}: train_indices must be distinct non-negative positions")
    counts = ds.get("counts")
    if isinstance(counts, list) and c is not None and len(counts) == c:
        if np.bincount(tl, minlength=c).tolist() != counts:
            raise RecordError(f"{f}: train_labels have class counts other than the manifest's dataset.counts")
    want_hash = ds.get("split_hash")
    if isinstance(want_hash, str):
        got = hashlib.sha256(np.ascontiguousarray(ti, dtype="<i8").tobytes()).hexdigest()
        if got != want_hash:
            raise RecordError(f"{f}: train_indices do not match the manifest's dataset.split_hash "
                              "(another split, or reordered)")
    ti, tl = ti.astype(np.int64), tl.astype(np.int64)
    return ti, tl, sl.astype(np.int64), check_split_protocol(f, manifest, ti, tl)


def check_against_history(f: str, h: dict, train_correct: np.ndarray, test_correct: np.ndarray,
                          train_loss: np.ndarray | None = None) -> None:
    """An epoch's arrays must agree with its history entry (catches a file swapped for another epoch's,
    and consistent edits of the arrays that the history contradicts).

    Accuracies must match exactly (1e-9). ``mean_train_loss`` is the mean of the float32 losses
    before they were stored as float16, so the stored row's mean may differ by the float16
    rounding: at most 2**-11 of the mean, plus 2**-24 per sample for subnormals (a row
    clipped at float16's maximum is not compared).
    """
    for key, bits in (("train_acc", train_correct), ("test_acc", test_correct)):
        v = h.get(key)
        if _finite_number(v):
            if abs(float(bits.mean()) - float(v)) > 1e-9:
                raise RecordError(f"{f}: its {key} {float(bits.mean()):.6f} differs from the manifest's history "
                                  f"({float(v):.6f}) for epoch {h.get('epoch')}: the file belongs to another epoch "
                                  "or run")
    v = h.get("mean_train_loss")
    if train_loss is not None and _finite_number(v) and train_loss.size and \
            float(train_loss.max()) < float(np.finfo(np.float16).max):
        got = float(np.mean(train_loss, dtype=np.float64))
        if abs(got - float(v)) > 2.0 ** -11 * abs(float(v)) + 2.0 ** -24:
            raise RecordError(f"{f}: its training losses average {got:.6f} but the manifest's history says "
                              f"mean_train_loss {float(v):.6f} for epoch {h.get('epoch')}: the losses were edited "
                              "or belong to another epoch or run")


def _finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# ----------------------------------------------------------------------------- checkpoints
def checkpoint_epochs(path: str | os.PathLike) -> list[int]:
    """The epochs whose checkpoint a record holds, from its manifest's ``checkpoints`` (sorted).

    A record written before checkpoints were hashed lists none: then the files in
    ``RUN/checkpoints/`` are listed, with a warning that they are not verified.
    """
    path = Path(path)
    manifest = read_manifest(path)
    if "checkpoints" in manifest:
        return sorted(int(Path(rel).stem.split("_")[-1]) for rel in manifest["checkpoints"])
    d = path / "checkpoints"
    have = sorted(int(p.stem.split("_")[-1]) for p in d.glob("epoch_*.pt")) if d.is_dir() else []
    if have:
        _warn_unhashed(path)
    return have


def checkpoint_path(path: str | os.PathLike, epoch: int) -> Path:
    """The verified checkpoint file of ``epoch`` in a record: present, listed, size and SHA-256 as recorded.

    Raises RecordError for a checkpoint the manifest lists but is missing, damaged or replaced,
    and for one the manifest does not list. A record written before checkpoints were hashed
    (no ``checkpoints`` field) warns that its checkpoint is not verified and returns the path
    if the file exists.
    """
    path = Path(path)
    manifest = read_manifest(path)
    rel = checkpoint_rel(int(epoch))
    if "checkpoints" not in manifest:
        if not (path / rel).is_file():
            raise RecordError(f"{path} has no checkpoint for epoch {epoch} ({path / rel} is missing)")
        _warn_unhashed(path)
        return path / rel
    if rel not in manifest["checkpoints"]:
        raise RecordError(f"{path} holds no checkpoint of epoch {epoch} (its manifest lists "
                          f"{short(sorted(manifest['checkpoints']))})")
    verify_file(path, rel, {"files": manifest["checkpoints"]})
    return path / rel


def _warn_unhashed(path: Path) -> None:
    warnings.warn(f"{path} was written before checkpoints were hashed: its checkpoints are not verified "
                  "(a damaged or replaced checkpoint would go unnoticed)", UserWarning, stacklevel=3)
