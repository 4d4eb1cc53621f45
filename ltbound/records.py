"""Run records: the documented, versioned file format between the trainer and everything else.

The trainer (:mod:`ltbound.train`) writes one record per run; the bound code, the main job
and the paper checks read it with :func:`load_record`. This module uses numpy and json only.

Format, version 2 (version 1 is still read)
-------------------------------------------
A record is a directory::

    RUN/manifest.json           see below
    RUN/split.npz               train_indices (n,) int64, train_labels (n,) int64,
                                test_labels (m,) int64
    RUN/epochs/epoch_0001.npz   one file per completed epoch (1-based):
                                  train_loss    (n,) float16   per-sample cross-entropy, eval mode,
                                                               un-augmented images, after the epoch
                                  train_correct (ceil(n/8),) uint8: packed bits (np.packbits,
                                                               little bit order)
                                  test_correct  (ceil(m/8),) uint8: packed bits
                                  test_loss     (m,) float16   (optional)
    RUN/checkpoints/epoch_0001.pt   model weights (the trainer's business, torch)
    RUN/state.pt                resume state (the trainer's business)
    RUN/.lock                   advisory lock (fcntl.flock) held by the one process writing

A *compact* record (:func:`compact_record`) holds the same arrays in one ``record.npz``
(correctness of all epochs as packed bits, losses of chosen epochs as float16) beside the
manifest; :func:`load_record` reads both layouts.

``manifest.json`` fields: ``format`` ("ltbound-run-record"), ``version`` (2), ``status``
("running" | "complete"), ``epochs_completed`` (int >= 0; ``history`` has exactly that many
entries, epochs 1, 2, ...), ``layout`` ("epochs" | "compact"), ``n_train``, ``n_test``, and,
new in version 2, the fields readers use instead of digging in ``config``:

* ``run``: {``label`` (schedule name or None), ``seed`` (int or None)}
* ``final_stage_start_epoch``: first epoch of the final stage (after the last sampler switch;
  for a one-sampler run, after the last learning-rate milestone; else 1)
* ``source``: {``dataset``, ``imbalance``, ``split_seed``, ``split_hash``, ``model``}
* ``files``: {relative path: {``sha256``, ``size``}} for every data file (``split.npz``,
  each ``epochs/epoch_NNNN.npz``, ``record.npz``, and any loss matrix a tool adds)
* ``resumes``: one entry per resume ({``after_epoch``, ``time``, ``environment_changes``})
* ``checksum``: SHA-256 of the manifest itself without this field (canonical JSON, sorted
  keys), so an edited manifest is detected too

and, as in version 1, ``config`` (the trainer configuration), ``dataset`` (name,
num_classes, class_names, counts, imbalance, split_hash, n_train, n_test, ...),
``schedule`` (list of {start_epoch, sampler, q}), ``environment`` (versions, device),
``timings`` and ``history`` (one JSON dict per completed epoch: epoch, lr, sampler, q,
mean_train_loss, train_acc, test_acc, test_acc_per_class, test_acc_groups, seconds, ...).
For a version 1 record, :class:`RunRecord` derives ``run``, ``final_stage_start_epoch`` and
``source`` from ``config``/``dataset``/``schedule`` the same way.

Integrity: :func:`load_record` checks the version, every file's size and SHA-256 (version 2),
the split against ``dataset.split_hash``, every array's shape and dtype against n and m,
value ranges (labels in [0, C), losses finite and >= 0), the epoch sequence and each epoch
file against its history entry (train and test accuracy), and raises one :class:`RecordError`
naming the file and what is wrong. A version 1 record has no hashes: it is checked for
structure and consistency only.

Float16 losses: cross-entropy in [0, 65504] keeps about 3 significant digits (relative
error <= 2**-11), far below the Monte Carlo and sampling errors of every bound term.

Crash safety: every file is written to a temporary name and moved into place with
``os.replace`` (atomic on POSIX); an epoch file is in place before the manifest that counts
it, so a run killed at any moment leaves ``epochs_completed`` complete epochs readable. A
folder killed during its very first write (before a manifest exists) holds only files the
writer creates; a new writer clears it instead of refusing it. Files follow the umask.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ._validation import check_labels, check_positive_int
from .schedule import Phase, Schedule

RECORD_FORMAT = "ltbound-run-record"
RECORD_VERSION = 2
READABLE_VERSIONS = (1, 2)
STATUSES = ("running", "complete")
LAYOUTS = ("epochs", "compact")
_BITORDER = "little"
LOCK_NAME = ".lock"
#: environment fields whose change can change a run's numbers (compared on resume)
DETERMINISM_FIELDS = ("device", "torch", "torch_threads", "amp", "channels_last", "pipeline", "world_size",
                      "compile")
_EPOCH_FILE = re.compile(r"epoch_\d{4,}\.(npz|pt)")


class RecordError(ValueError):
    """A folder that is not a readable run record, or a write that would corrupt one."""


#: the per-sample losses a record gives: name -> needs a cap. One vocabulary for the library.
#: "ce": raw cross-entropy (unbounded: not for the bounds); "ce-clipped": min(ce, cap), M = cap;
#: "zero-one": 1 - correctness, M = 1.
LOSSES = {"ce": False, "ce-clipped": True, "zero-one": False}
#: the losses the bounds can use (bounded, with a known range M)
BOUNDED_LOSSES = ("ce-clipped", "zero-one")


def check_loss(loss: Any, cap: Any = None, *, allowed: Iterable[str] = tuple(LOSSES)) -> tuple[str, float | None]:
    """Check a loss name and its cap: returns ``(loss, cap)``, cap a float > 0 or None.

    The cap is required exactly when the loss needs it ("ce-clipped") and refused otherwise,
    so that a cap can never be silently ignored.
    """
    allowed = tuple(allowed)
    if not isinstance(loss, str) or loss not in allowed:
        raise ValueError(f"loss must be one of {list(allowed)}, got {loss!r}")
    if LOSSES[loss]:
        if cap is None:
            raise ValueError(f"loss={loss!r} needs cap, the clipping level C > 0 of the cross-entropy (then M = C)")
        if isinstance(cap, bool) or not isinstance(cap, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(cap)) or float(cap) <= 0:
            raise ValueError(f"cap must be a finite number > 0 (the clipping level), got {cap!r}")
        return loss, float(cap)
    if cap is not None:
        raise ValueError(f"cap applies only to loss='ce-clipped'; loss={loss!r} takes cap=None, got cap={cap!r}")
    return loss, None


# ----------------------------------------------------------------------------- atomic I/O
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())          # mkstemp makes 0600; a record follows the umask
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=json_default).encode()


def manifest_checksum(manifest: dict) -> str:
    """SHA-256 of a manifest without its ``checksum`` field (canonical JSON, sorted keys)."""
    return hashlib.sha256(_canonical({k: v for k, v in manifest.items() if k != "checksum"})).hexdigest()


def write_manifest(path: str | os.PathLike, manifest: dict) -> None:
    """Write ``RUN/manifest.json`` atomically, sealed with its checksum (version 2)."""
    manifest = json.loads(json.dumps(manifest, default=json_default))
    if int(manifest.get("version", 0)) >= 2:
        manifest["checksum"] = manifest_checksum(manifest)
    _atomic_write_bytes(Path(path) / "manifest.json",
                        (json.dumps(manifest, indent=1, default=json_default) + "\n").encode())


def _savez_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _file_entry(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


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


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# ----------------------------------------------------------------------------- manifest
def _read_manifest(path: Path) -> dict:
    """Read and check ``RUN/manifest.json``: JSON object, format, version, status, epochs, history."""
    mpath = path / "manifest.json"
    if not mpath.is_file():
        raise RecordError(f"{path} is not a run record: it has no manifest.json "
                          "(a record is the folder written by `python -m ltbound.train --out DIR`)")
    try:
        manifest = json.loads(mpath.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise RecordError(f"{mpath} is not valid JSON ({type(e).__name__}: {str(e)[:80]}); "
                          "the manifest is damaged — restore the record from a copy") from None
    except OSError as e:
        raise RecordError(f"{mpath} cannot be read ({e.strerror or e})") from None
    if not isinstance(manifest, dict):
        raise RecordError(f"{mpath} must hold a JSON object, got {type(manifest).__name__}; "
                          "the manifest is damaged — restore the record from a copy")
    if manifest.get("format") != RECORD_FORMAT:
        raise RecordError(f"{mpath} is not an ltbound run record (format {manifest.get('format')!r}, "
                          f"expected {RECORD_FORMAT!r})")
    version = manifest.get("version")
    if _is_int(version) and version > RECORD_VERSION:
        raise RecordError(f"{mpath} has format version {version}, newer than this ltbound reads "
                          f"({RECORD_VERSION}); upgrade ltbound")
    if not _is_int(version) or version not in READABLE_VERSIONS:
        raise RecordError(f"{mpath} has format version {version!r}; readable versions are "
                          f"{list(READABLE_VERSIONS)} (an integer)")
    if version >= 2:
        got = manifest.get("checksum")
        if got != manifest_checksum(manifest):
            raise RecordError(f"{mpath}: checksum {'missing' if got is None else 'mismatch'}: the manifest was "
                              "changed after it was written; restore it from a copy")
    if manifest.get("status") not in STATUSES:
        raise RecordError(f"{mpath}: status must be one of {list(STATUSES)}, got {manifest.get('status')!r}")
    if manifest.get("layout", "epochs") not in LAYOUTS:
        raise RecordError(f"{mpath}: layout must be one of {list(LAYOUTS)}, got {manifest.get('layout')!r}")
    e_done = manifest.get("epochs_completed")
    if not _is_int(e_done) or e_done < 0:
        raise RecordError(f"{mpath}: epochs_completed must be an integer >= 0, got {e_done!r}")
    history = manifest.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise RecordError(f"{mpath}: history must be a list of one object per epoch, got {type(history).__name__}")
    got_epochs = [h.get("epoch") for h in history]
    if got_epochs != list(range(1, e_done + 1)):
        raise RecordError(f"{mpath}: history must hold epochs 1..{e_done} in order (epochs_completed = {e_done}), "
                          f"got {_short(got_epochs)}")
    if version >= 2:
        files = manifest.get("files")
        if not isinstance(files, dict) or not all(
                isinstance(v, dict) and isinstance(v.get("sha256"), str) and _is_int(v.get("size"))
                for v in files.values()):
            raise RecordError(f"{mpath}: files must map each data file to {{sha256, size}}, got {_short(files)}")
    for key in ("n_train", "n_test"):
        if key in manifest and (not _is_int(manifest[key]) or manifest[key] < 1):
            raise RecordError(f"{mpath}: {key} must be a positive integer, got {manifest[key]!r}")
    return manifest


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def read_manifest(path: str | os.PathLike) -> dict:
    """The checked manifest of the record in ``path`` (format, version, checksum, epochs, history)."""
    return _read_manifest(Path(path))


def derive_run_fields(manifest: dict) -> dict:
    """The version 2 top-level fields (``run``, ``final_stage_start_epoch``, ``source``) of a manifest.

    Fields the manifest already has are kept; missing ones are derived from ``config``,
    ``dataset`` and ``schedule`` (how version 1 readers found them).
    """
    cfg = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    ds = manifest.get("dataset") if isinstance(manifest.get("dataset"), dict) else {}
    sched = manifest.get("schedule") if isinstance(manifest.get("schedule"), list) else []
    run = manifest.get("run")
    if not isinstance(run, dict):
        seed = cfg.get("seed")
        run = {"label": None if cfg.get("schedule") is None else str(cfg.get("schedule")),
               "seed": int(seed) if _is_int(seed) else None}
    start = manifest.get("final_stage_start_epoch")
    if not _is_int(start):
        ms = cfg.get("milestones") or []
        ms = ms if isinstance(ms, list) and all(_is_int(m) for m in ms) else []
        try:        # the schedule knows its final stage (one rule, in ltbound.schedule)
            start = Schedule.from_list(sched or [Phase(1, "IB", 1.0).to_dict()]).final_stage_start(ms)
        except (KeyError, TypeError, ValueError):
            start = 1   # a malformed schedule: load_record's checks name it
    source = manifest.get("source")
    if not isinstance(source, dict):
        source = {"dataset": ds.get("name", cfg.get("dataset")), "imbalance": ds.get("imbalance", cfg.get("imbalance")),
                  "split_seed": cfg.get("split_seed"), "split_hash": ds.get("split_hash"), "model": cfg.get("model")}
    return {"run": run, "final_stage_start_epoch": start, "source": source}


# ----------------------------------------------------------------------------- data files
def _read_npz(path: Path, rel: str, manifest: dict, *, required: Iterable[str],
              optional: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Load one data file, checking size and SHA-256 (version 2) first; any damage -> RecordError."""
    f = path / rel
    data = _verify_file(path, rel, manifest) if manifest.get("version", 1) >= 2 else _read_bytes(path, rel)
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


def _check_array(f: str, name: str, a: np.ndarray, shape: tuple, kind: str) -> None:
    if a.shape != shape:
        raise RecordError(f"{f}: {name} has shape {a.shape}, expected {shape}")
    ok = {"int": a.dtype.kind in "iu", "uint8": a.dtype == np.uint8, "float16": a.dtype == np.float16}[kind]
    if not ok:
        raise RecordError(f"{f}: {name} has dtype {a.dtype}, expected {kind}")
    if kind == "float16" and a.size and not (np.all(np.isfinite(a)) and float(a.min()) >= 0):
        raise RecordError(f"{f}: {name} must be finite and >= 0 (a loss)")


def _check_packed(f: str, name: str, a: np.ndarray, lead: tuple, count: int) -> np.ndarray:
    _check_array(f, name, a, (*lead, (count + 7) // 8), "uint8")
    bits = np.unpackbits(a, axis=-1, bitorder=_BITORDER)
    if bits.shape[-1] > count and np.any(bits[..., count:]):
        raise RecordError(f"{f}: {name} has bits set past sample {count} (packed for another sample count)")
    return bits[..., :count].astype(bool)


def _check_split(path: Path, rel: str, manifest: dict, arrays: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = str(path / rel)
    ti, tl, sl = arrays["train_indices"], arrays["train_labels"], arrays["test_labels"]
    if ti.ndim != 1 or ti.size == 0:
        raise RecordError(f"{f}: train_indices must be a non-empty 1-D array, got shape {ti.shape}")
    n = int(ti.size)
    m = int(sl.size) if sl.ndim == 1 else -1
    _check_array(f, "train_indices", ti, (n,), "int")
    _check_array(f, "train_labels", tl, (n,), "int")
    if m < 1:
        raise RecordError(f"{f}: test_labels must be a non-empty 1-D array, got shape {sl.shape}")
    _check_array(f, "test_labels", sl, (m,), "int")
    for key, want in (("n_train", n), ("n_test", m)):
        if key in manifest and manifest[key] != want:
            raise RecordError(f"{f} holds {want} {'training' if key == 'n_train' else 'test'} samples but the "
                              f"manifest's {key} is {manifest[key]}")
    ds = manifest.get("dataset") if isinstance(manifest.get("dataset"), dict) else {}
    c = ds.get("num_classes")
    if c is not None and not (_is_int(c) and c >= 1):
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
    return ti.astype(np.int64), tl.astype(np.int64), sl.astype(np.int64)


def _check_against_history(f: str, h: dict, train_correct: np.ndarray, test_correct: np.ndarray) -> None:
    """An epoch file must agree with its history entry (catches a file swapped for another epoch's)."""
    for key, bits in (("train_acc", train_correct), ("test_acc", test_correct)):
        v = h.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            if abs(float(bits.mean()) - float(v)) > 1e-9:
                raise RecordError(f"{f}: its {key} {float(bits.mean()):.6f} differs from the manifest's history "
                                  f"({float(v):.6f}) for epoch {h.get('epoch')}: the file belongs to another epoch "
                                  "or run")


def _epoch_rel(e: int) -> str:
    return f"epochs/epoch_{e:04d}.npz"


def _load_epoch(path: Path, e: int, manifest: dict, n: int, m: int, h: dict) -> tuple:
    rel = _epoch_rel(e)
    z = _read_npz(path, rel, manifest, required=("train_loss", "train_correct", "test_correct"),
                  optional=("test_loss",))
    f = str(path / rel)
    _check_array(f, "train_loss", z["train_loss"], (n,), "float16")
    tc = _check_packed(f, "train_correct", z["train_correct"], (), n)
    sc = _check_packed(f, "test_correct", z["test_correct"], (), m)
    sl = None
    if "test_loss" in z:
        _check_array(f, "test_loss", z["test_loss"], (m,), "float16")
        sl = z["test_loss"].astype(np.float32)
    _check_against_history(f, h, tc, sc)
    return z["train_loss"].astype(np.float32), tc, sc, sl


# ----------------------------------------------------------------------------- lock
class _Lock:
    """An advisory ``fcntl.flock`` on ``RUN/.lock``, held while a process writes the record."""

    def __init__(self, path: Path) -> None:
        import fcntl
        self.file = path / LOCK_NAME
        self._fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            self._fd = None
            raise RecordError(f"another process is writing the run record {path} (it holds {self.file}); "
                              "wait for it to finish or stop it, or write to another folder") from None

    def __del__(self) -> None:
        self.release()

    def release(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)          # closing the descriptor releases the flock
            self._fd = None


def probe_lock(path: str | os.PathLike) -> None:
    """Raise RecordError now if another process holds ``path``'s record lock (checks before slow work)."""
    path = Path(path)
    if (path / LOCK_NAME).is_file():
        _Lock(path).release()


def is_writer_debris(path: str | os.PathLike) -> bool:
    """True if ``path`` has no manifest and holds only what a writer killed in its first write leaves."""
    path = Path(path)
    return path.is_dir() and not (path / "manifest.json").exists() and _writer_debris_only(path)


def _writer_debris_only(path: Path) -> bool:
    """True if ``path`` (no manifest) holds only what a writer killed in its very first write leaves."""
    for p in path.rglob("*"):
        rel = p.relative_to(path)
        if p.is_dir():
            if str(rel) not in ("epochs", "checkpoints"):
                return False
        elif not (str(rel) in ("split.npz", "state.pt", LOCK_NAME)
                  or (p.name.startswith(".") and p.name.endswith(".tmp"))
                  or (len(rel.parts) == 2 and rel.parts[0] in ("epochs", "checkpoints")
                      and _EPOCH_FILE.fullmatch(p.name))):
            return False
    return True


def clear_unfinished(path: str | os.PathLike) -> bool:
    """Remove what a writer killed before its first manifest left in ``path``; True if anything was.

    A folder without ``manifest.json`` that holds only record files (split, epoch files,
    checkpoints, resume state, the lock, temp files) can be no one else's; any other file
    keeps the folder untouched.
    """
    path = Path(path)
    if not path.is_dir() or (path / "manifest.json").exists() or not any(path.iterdir()):
        return False
    if not _writer_debris_only(path):
        return False
    for p in sorted(path.iterdir()):
        if p.name == LOCK_NAME:
            continue
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return True


def remove_temp_files(path: str | os.PathLike) -> None:
    """Delete leftover ``.NAME.*.tmp`` files of interrupted atomic writes (call with the lock held)."""
    path = Path(path)
    for d in (path, path / "epochs", path / "checkpoints"):
        if d.is_dir():
            for p in d.iterdir():
                if p.is_file() and p.name.startswith(".") and p.name.endswith(".tmp"):
                    p.unlink(missing_ok=True)


def _check_loss_values(x: Any, name: str, size: int) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be real numbers (per-sample losses), got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got {int(np.sum(~np.isfinite(a)))} NaN/inf values "
                         f"(first at sample {int(np.flatnonzero(~np.isfinite(a))[0])})")
    if a.size and a.min() < 0:
        raise ValueError(f"{name} must be >= 0 (a loss), got minimum {a.min():g}")
    return a


def _check_bits(x: Any, name: str, size: int) -> np.ndarray:
    a = np.asarray(x)
    if a.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {a.shape}")
    if a.dtype == bool:
        return a
    if a.dtype.kind not in "iuf" or not np.all((a == 0) | (a == 1)):
        raise ValueError(f"{name} must hold booleans (or 0/1) per sample, got dtype {a.dtype}"
                         + (f" with values {np.unique(a)[:4].tolist()}" if a.dtype.kind in "iuf" else ""))
    return a.astype(bool)


# ----------------------------------------------------------------------------- writer
class RecordWriter:
    """Write a run record epoch by epoch, crash-safely, as the one writer of its folder.

    Parameters
    ----------
    path : path-like
        The record folder. Created if missing.
    manifest : dict
        The fixed, JSON-safe part of the manifest: ``config``, ``dataset``, ``schedule``,
        ``environment`` (and anything else the trainer wants to keep). The version 2 fields
        ``run``, ``final_stage_start_epoch`` and ``source`` are taken from it when given,
        else derived from ``config`` / ``dataset`` / ``schedule``.
    train_indices, train_labels : array_like of int, shape (n,)
        Positions of the training samples in the source data set, and their labels.
    test_labels : array_like of int, shape (m,)
    resume : bool
        Continue a record of the same configuration already in ``path``. Every file on disk
        is verified first (as :func:`load_record` does). Without it, a folder that already
        holds a record with completed epochs, or any other files, is refused.
    allow_env_change : bool
        On resume, continue even if a determinism-relevant environment field
        (:data:`DETERMINISM_FIELDS`: device, threads, amp, torch version, ...) differs from
        the record's; the change is recorded in the manifest's ``resumes``.

    Raises
    ------
    RecordError
        Another process holds the folder's lock; the folder holds something else; a resume
        finds a damaged record, another configuration or (without ``allow_env_change``)
        another environment.

    Notes
    -----
    The writer holds an advisory lock (``fcntl.flock`` on ``RUN/.lock``) until :meth:`close`
    (or until the process ends). A record with no completed epoch holds nothing worth
    keeping: a new writer replaces it. So does a folder left by a writer killed during its
    first write (only record files, no manifest).
    """

    def __init__(self, path: str | os.PathLike, *, manifest: dict, train_indices: Any,
                 train_labels: Any, test_labels: Any, resume: bool = False, allow_env_change: bool = False) -> None:
        self.path = Path(path)
        if not isinstance(manifest, dict):
            raise ValueError(f"manifest must be a dict, got {type(manifest).__name__}")
        self._train_labels = check_labels(train_labels, name="train_labels")
        self._test_labels = check_labels(test_labels, name="test_labels")
        self._train_indices = np.asarray(train_indices)
        if self._train_indices.dtype.kind not in "iu":
            raise ValueError(f"train_indices must hold integers, got dtype {self._train_indices.dtype}")
        self._train_indices = self._train_indices.astype(np.int64)
        if self._train_indices.shape != self._train_labels.shape:
            raise ValueError(f"train_indices has shape {self._train_indices.shape} but train_labels "
                             f"has {self._train_labels.shape}; they must describe the same samples")
        self.n = int(self._train_labels.size)
        self.m = int(self._test_labels.size)
        fixed = json.loads(json.dumps(manifest, default=json_default))
        fixed.update(derive_run_fields(fixed))
        if self.path.exists() and not self.path.is_dir():
            raise RecordError(f"run record folder {self.path} exists and is not a folder; choose another path")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RecordError(f"cannot create the run record folder {self.path} ({e.strerror or e})") from None
        try:
            self._lock = _Lock(self.path)
        except OSError as e:
            raise RecordError(f"cannot write in the run record folder {self.path} ({e.strerror or e})") from None
        try:
            self._open(fixed, resume, allow_env_change)
        except BaseException:
            self.close()
            raise

    def _open(self, fixed: dict, resume: bool, allow_env_change: bool) -> None:
        if (self.path / "manifest.json").exists():
            old = _read_manifest(self.path)
            if old["epochs_completed"] == 0 and old.get("layout", "epochs") == "epochs":
                self._discard()           # nothing was recorded: start over (another config is fine)
            elif not resume:
                raise RecordError(
                    f"output folder {self.path} already holds a run record "
                    f"(status {old.get('status')!r}, {old.get('epochs_completed')} epochs); "
                    "choose another folder, delete it, or pass resume=True to continue it")
            else:
                self._resume(old, fixed, allow_env_change)
                return
        elif any(p.name != LOCK_NAME for p in self.path.iterdir()):
            if not clear_unfinished(self.path):
                raise RecordError(f"output folder {self.path} is not empty and holds no run record; "
                                  "choose an empty or new folder")
        data = _savez_bytes(train_indices=self._train_indices, train_labels=self._train_labels,
                            test_labels=self._test_labels)
        _atomic_write_bytes(self.path / "split.npz", data)
        self._manifest = {"format": RECORD_FORMAT, "version": RECORD_VERSION, "status": "running",
                          "layout": "epochs", "epochs_completed": 0, **fixed,
                          "n_train": self.n, "n_test": self.m, "files": {"split.npz": _file_entry(data)},
                          "resumes": [], "timings": {}, "history": []}
        write_manifest(self.path, self._manifest)

    def _discard(self) -> None:
        for p in sorted(self.path.iterdir()):
            if p.name not in (LOCK_NAME, "manifest.json"):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        (self.path / "manifest.json").unlink()    # last: a crash in between leaves writer debris only

    def _resume(self, old: dict, fixed: dict, allow_env_change: bool) -> None:
        if old.get("layout", "epochs") != "epochs":
            raise RecordError(f"cannot resume {self.path}: it is a compact record (read-only)")
        if training_settings(old.get("config")) != training_settings(fixed.get("config")):
            raise RecordError(f"cannot resume {self.path}: it was written with another configuration "
                              f"({_diff_keys(training_settings(old.get('config')), training_settings(fixed.get('config')))}); "
                              "use a new folder")
        rec = _load_epochs_layout(self.path, old)          # verifies every file on disk
        if not (np.array_equal(rec.train_indices, self._train_indices)
                and np.array_equal(rec.train_labels, self._train_labels)
                and np.array_equal(rec.test_labels, self._test_labels)):
            raise RecordError(f"cannot resume {self.path}: its training split differs from this run's")
        env_old, env_new = old.get("environment") or {}, fixed.get("environment") or {}
        changes = {k: [env_old.get(k), env_new.get(k)] for k in DETERMINISM_FIELDS
                   if k in env_new and env_old.get(k) != env_new.get(k)}
        if changes and not allow_env_change:
            detail = ", ".join(f"{k}: {a!r} then {b!r}" for k, (a, b) in changes.items())
            raise RecordError(f"cannot resume {self.path}: the environment differs from the one it was written in "
                              f"({detail}), so the continued run would not equal an uninterrupted one; resume in "
                              "the same environment, or pass allow_env_change=True to continue and record the change")
        manifest = dict(old)
        if old.get("version", 1) < 2:                      # upgrade: hash the verified files, add v2 fields
            manifest.update(version=RECORD_VERSION, upgraded_from_version=old.get("version"))
            for k, v in derive_run_fields(old).items():
                manifest.setdefault(k, v)
        files = dict(manifest.get("files") or {})
        for rel in ["split.npz"] + [_epoch_rel(e) for e in range(1, old["epochs_completed"] + 1)]:
            if rel not in files:
                files[rel] = _file_entry((self.path / rel).read_bytes())
        manifest["files"] = files
        if env_new:
            manifest["environment"] = env_new
        manifest["resumes"] = list(manifest.get("resumes") or []) + [
            {"after_epoch": old["epochs_completed"], "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "environment_changes": changes}]
        manifest["status"] = "running"
        self._manifest = manifest
        remove_temp_files(self.path)
        write_manifest(self.path, self._manifest)

    @property
    def epochs_completed(self) -> int:
        return int(self._manifest["epochs_completed"])

    @property
    def manifest(self) -> dict:
        return self._manifest

    def write_epoch(self, epoch: int, *, train_loss: Any, train_correct: Any, test_correct: Any,
                    test_loss: Any = None, summary: dict) -> None:
        """Append epoch ``epoch`` (1-based, must be ``epochs_completed + 1``).

        ``train_loss`` (n,) and ``test_loss`` (m,) must be finite and >= 0;
        ``train_correct`` (n,) and ``test_correct`` (m,) booleans (or 0/1). Losses above the
        float16 range (65504) are stored as 65504.
        """
        epoch = check_positive_int(epoch, "epoch")
        if epoch != self.epochs_completed + 1:
            raise RecordError(f"epoch must be {self.epochs_completed + 1} (the next one), got {epoch}")
        if not isinstance(summary, dict):
            raise ValueError(f"summary must be a dict of JSON-safe values, got {type(summary).__name__}")
        tl = _check_loss_values(train_loss, "train_loss", self.n)
        arrays = {"train_loss": np.minimum(tl, np.finfo(np.float16).max).astype(np.float16),
                  "train_correct": _pack(_check_bits(train_correct, "train_correct", self.n)),
                  "test_correct": _pack(_check_bits(test_correct, "test_correct", self.m))}
        if test_loss is not None:
            ts = _check_loss_values(test_loss, "test_loss", self.m)
            arrays["test_loss"] = np.minimum(ts, np.finfo(np.float16).max).astype(np.float16)
        try:
            entry = {"epoch": epoch, **json.loads(json.dumps(summary, default=json_default))}
        except (TypeError, ValueError) as e:
            raise ValueError(f"summary must hold JSON-safe values ({e})") from None
        rel = _epoch_rel(epoch)
        data = _savez_bytes(**arrays)
        _atomic_write_bytes(self.path / rel, data)
        self._manifest["files"][rel] = _file_entry(data)
        self._manifest["history"] = [h for h in self._manifest["history"] if h.get("epoch") != epoch] + [entry]
        self._manifest["epochs_completed"] = epoch
        write_manifest(self.path, self._manifest)

    def finish(self, *, timings: dict | None = None) -> None:
        """Mark the record complete."""
        if timings is not None:
            self._manifest["timings"] = json.loads(json.dumps(timings, default=json_default))
        self._manifest["status"] = "complete"
        write_manifest(self.path, self._manifest)

    def close(self) -> None:
        """Release the folder's lock (the writer can no longer be used safely by others' standards)."""
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.release()

    def __enter__(self) -> "RecordWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def checkpoint_path(self, epoch: int) -> Path:
        d = self.path / "checkpoints"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"epoch_{check_positive_int(epoch, 'epoch'):04d}.pt"

    @property
    def state_path(self) -> Path:
        return self.path / "state.pt"


def training_settings(config: Any) -> Any:
    """A manifest's ``config`` without what does not change training: the preset's free-text note.

    Resume and fork compare these, so that rewording a preset's description (its expected
    speed, say) does not lock its earlier runs out of ``--resume``.
    """
    if not isinstance(config, dict) or not isinstance(config.get("recipe"), dict):
        return config
    return {**config, "recipe": {k: v for k, v in config["recipe"].items() if k != "note"}}


def _diff_keys(a: Any, b: Any) -> str:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return "config missing"
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "differs in " + ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys[:5])


# ----------------------------------------------------------------------------- reader
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
    lr, q : (E,) float ; sampler : list of str, one per epoch (from the history)
    label, seed, source, final_stage_start_epoch : the version 2 fields (derived for version 1)
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
        return int(s) if _is_int(s) else None

    @property
    def source(self) -> dict:
        """{dataset, imbalance, split_seed, split_hash, model}: where the run's data came from."""
        return dict(derive_run_fields(self.manifest)["source"])

    @property
    def final_stage_start_epoch(self) -> int:
        return int(derive_run_fields(self.manifest)["final_stage_start_epoch"])

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

        ``loss`` is one of :data:`LOSSES`: "ce" (raw cross-entropy), "ce-clipped" (clipped at
        ``cap``, required) or "zero-one" (1 - correctness). Default epochs:
        :meth:`final_stage_epochs`.
        """
        loss, cap = check_loss(loss, cap)
        ep = np.asarray(self.final_stage_epochs() if epochs is None else list(epochs), dtype=np.int64)
        if ep.size == 0:
            raise ValueError("epochs selects no epoch of this record")
        if loss == "zero-one":
            rows = _rows_for(self.epochs, ep, "epochs")
            return 1.0 - self.train_correct[rows].astype(np.float64)
        rows = _rows_for(self.loss_epochs, ep, "epochs with stored losses")
        out = self.train_loss[rows].astype(np.float64)
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
    manifest = _read_manifest(path)
    if manifest.get("layout", "epochs") == "compact":
        rec = _load_compact(path, manifest)
        read = {"record.npz"}
    else:
        rec = _load_epochs_layout(path, manifest)
        read = {"split.npz", *(_epoch_rel(e) for e in range(1, manifest["epochs_completed"] + 1))}
    if manifest["version"] >= 2:          # files a tool added (loss matrices, ...): present and intact
        for rel in sorted(set(manifest["files"]) - read):
            _verify_file(path, rel, manifest)
    return rec


def _read_bytes(path: Path, rel: str) -> bytes:
    """The bytes of data file ``RUN/rel``; missing or unreadable -> RecordError naming it."""
    f = path / rel
    if not f.is_file():
        raise RecordError(f"{path}: data file {rel} is missing (the manifest lists it)")
    try:
        return f.read_bytes()
    except OSError as e:
        raise RecordError(f"{f} cannot be read ({e.strerror or e})") from None


def _verify_file(path: Path, rel: str, manifest: dict) -> bytes:
    """Read ``RUN/rel`` and check its size and SHA-256 against the manifest (version 2)."""
    if Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise RecordError(f"{path}/manifest.json lists {rel!r}, which is not a file inside the record")
    f, data = path / rel, _read_bytes(path, rel)
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


def _load_epochs_layout(path: Path, manifest: dict) -> RunRecord:
    split = _read_npz(path, "split.npz", manifest, required=("train_indices", "train_labels", "test_labels"))
    train_indices, train_labels, test_labels = _check_split(path, "split.npz", manifest, split)
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
        history=history)


def _load_compact(path: Path, manifest: dict) -> RunRecord:
    z = _read_npz(path, "record.npz", manifest,
                  required=("train_indices", "train_labels", "test_labels", "epochs", "loss_epochs",
                            "train_loss", "train_correct", "test_correct"), optional=("test_loss",))
    f = str(path / "record.npz")
    train_indices, train_labels, test_labels = _check_split(path, "record.npz", manifest, z)
    n, m = train_labels.size, test_labels.size
    e_done = manifest["epochs_completed"]
    epochs, loss_epochs = z["epochs"], z["loss_epochs"]
    _check_array(f, "epochs", epochs, (e_done,), "int")
    if not np.array_equal(epochs, np.arange(1, e_done + 1)):
        raise RecordError(f"{f}: epochs must be 1..{e_done} (epochs_completed), got {_short(epochs.tolist())}")
    if loss_epochs.ndim != 1 or loss_epochs.dtype.kind not in "iu" or not np.all(np.isin(loss_epochs, epochs)) \
            or np.any(np.diff(loss_epochs) <= 0):
        raise RecordError(f"{f}: loss_epochs must be increasing epochs of the record, got {_short(loss_epochs.tolist())}")
    _check_array(f, "train_loss", z["train_loss"], (loss_epochs.size, n), "float16")
    tc = _check_packed(f, "train_correct", z["train_correct"], (e_done,), n)
    sc = _check_packed(f, "test_correct", z["test_correct"], (e_done,), m)
    test_loss = None
    if "test_loss" in z:
        _check_array(f, "test_loss", z["test_loss"], (1, m), "float16")
        test_loss = z["test_loss"].astype(np.float32)
    history = list(manifest.get("history", []))
    for e in range(e_done):
        _check_against_history(f"{f} (epoch {e + 1})", history[e], tc[e], sc[e])
    return RunRecord(
        path=path, manifest=manifest, train_indices=train_indices, train_labels=train_labels,
        test_labels=test_labels, epochs=epochs.astype(np.int64), loss_epochs=loss_epochs.astype(np.int64),
        train_loss=z["train_loss"].astype(np.float32), train_correct=tc, test_correct=sc,
        test_loss=test_loss, history=history)


def add_file(path: str | os.PathLike, rel: str, **arrays: np.ndarray) -> Path:
    """Add a data file (e.g. a loss matrix over a finite Θ̂) to a record, hashed in its manifest.

    Writes ``RUN/rel`` (an ``.npz`` of ``arrays``) atomically and records its SHA-256 and size
    under ``files``, holding the record's lock; :func:`load_record` then verifies it. Read it
    back with :func:`read_file`. Only version 2 records can hold added files.
    """
    path = Path(path)
    rel_path = Path(rel)
    if rel_path.is_absolute() or ".." in rel_path.parts or rel_path.suffix != ".npz" \
            or rel in ("split.npz", "record.npz") or rel_path.parts[0] in ("epochs", "checkpoints"):
        raise ValueError(f"rel must be a new .npz path inside the record (not split, record, epochs/ or "
                         f"checkpoints/), got {rel!r}")
    if not arrays:
        raise ValueError("add_file needs at least one array")
    lock = _Lock(path)
    try:
        manifest = _read_manifest(path)
        if manifest["version"] < 2:
            raise RecordError(f"{path} is a version 1 record: it has no file hashes; resume or recompact it first")
        data = _savez_bytes(**{k: np.asarray(v) for k, v in arrays.items()})
        _atomic_write_bytes(path / rel, data)
        manifest["files"][rel] = _file_entry(data)
        write_manifest(path, manifest)
    finally:
        lock.release()
    return path / rel


def read_file(path: str | os.PathLike, rel: str) -> dict[str, np.ndarray]:
    """Arrays of a data file added with :func:`add_file`, after checking its hash."""
    path = Path(path)
    manifest = _read_manifest(path)
    if manifest["version"] < 2 or rel not in manifest["files"]:
        raise RecordError(f"{path} lists no file {rel!r} in its manifest")
    data = _verify_file(path, rel, manifest)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as e:
        raise RecordError(f"{path / rel} is not a readable .npz file ({type(e).__name__})") from None


def compact_record(src: str | os.PathLike, dst: str | os.PathLike, *,
                   loss_epochs: str | Iterable[int] = "final-stage") -> Path:
    """Write a small, single-file copy of a record (for committing to a repository).

    Keeps correctness of every epoch as packed bits, per-sample training losses (float16)
    only for ``loss_epochs`` ("final-stage", "all", "last" or explicit epochs), the test
    losses of the last epoch, the split and the manifest (history included). Checkpoints
    and resume state are dropped. The source is verified first; the copy is a version 2
    record whose ``files`` hashes ``record.npz`` and whose ``source_files`` keeps the
    source's file hashes.
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
        keep = np.unique(np.asarray(list(loss_epochs), dtype=np.int64))
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
    data = _savez_bytes(**arrays)
    _atomic_write_bytes(dst / "record.npz", data)
    manifest = {k: v for k, v in rec.manifest.items() if k != "checksum"}
    for k, v in derive_run_fields(rec.manifest).items():
        manifest.setdefault(k, v)
    manifest.update(version=RECORD_VERSION, layout="compact", compacted_from=str(Path(src).name),
                    loss_epochs=[int(e) for e in keep], source_files=rec.manifest.get("files", {}),
                    files={"record.npz": _file_entry(data)})
    write_manifest(dst, manifest)
    return dst
