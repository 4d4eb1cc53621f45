"""Writing a run record: :class:`RecordWriter` (epoch by epoch, crash-safe, one writer per folder) and :func:`add_file`.

The folder's advisory lock (``RUN/.lock``, ``fcntl.flock``) keeps a second writer out;
:func:`clear_unfinished` and :func:`is_writer_debris` recognise what a writer killed during its
very first write leaves. Every file goes through :func:`_atomic_write_bytes` (temporary name,
fsync, ``os.replace``), and a data file is in place before the manifest that counts it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_labels, check_positive_int
from ._io import atomic_write_bytes as _atomic_write_bytes
from ._io import file_entry, pack, savez_bytes
from .format import (RECORD_FORMAT, RECORD_VERSION, RecordError, checkpoint_rel, derive_run_fields, epoch_rel,
                     json_default, read_manifest, training_settings, write_manifest)
from .read import _load_epochs_layout

__all__ = ["RecordWriter", "add_file", "DETERMINISM_FIELDS", "environment_changes", "other_environment_changes", "LOCK_NAME", "probe_lock",
           "is_writer_debris", "clear_unfinished", "remove_temp_files", "foreign_files", "refuse_foreign_files"]

LOCK_NAME = ".lock"
#: environment fields whose change can change a run's numbers: a resume compares them and refuses
#: (or, allowed, records) a change, so that a resumed run equals an uninterrupted one.
#: ``eval_precision`` changes only the recorded evaluation, not the training, but a record whose
#: epochs were evaluated in two precisions would not be one run's numbers either.
DETERMINISM_FIELDS = ("device", "torch", "torch_threads", "amp", "channels_last", "pipeline", "world_size",
                      "compile", "cpu_capability", "onednn_isa", "cpu_vendor", "eval_precision")


def environment_changes(old: dict, new: dict) -> dict:
    """{field: [old, new]} for each :data:`DETERMINISM_FIELDS` entry that differs between two environments.

    A field the old environment does not state (a record written before it was recorded) is
    unknown, not a change: the new value is recorded from then on.
    """
    return {k: [old.get(k), new.get(k)] for k in DETERMINISM_FIELDS if k in new and k in old and old[k] != new[k]}


def other_environment_changes(old: dict, new: dict) -> dict:
    """{field: [old, new]} for every other field of ``old`` (not in :data:`DETERMINISM_FIELDS`) that differs in ``new``.

    A resume overwrites the manifest's ``environment`` with its own, so these (the CPU model, numpy,
    the platform) go into the resume entry: the record still says where its earlier epochs ran.
    """
    return {k: [old.get(k), new.get(k)] for k in sorted(old) if k not in DETERMINISM_FIELDS and old.get(k) != new.get(k)}


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
    return path.is_dir() and not (path / "manifest.json").exists() and not foreign_files(path)


def foreign_files(path: str | os.PathLike) -> list[str]:
    """The files in ``path`` that a new writer may not delete, as relative paths (empty: it may start over).

    A writer starts over only in a folder whose contents it can rebuild exactly: the lock, temp
    files of interrupted atomic writes, ``split.npz`` (a function of the run's settings), empty
    ``epochs/``/``checkpoints/`` folders and, beside them, a ``manifest.json`` that records no
    completed epoch. Everything else may be someone's work: a checkpoint, ``state.pt`` (a trained
    epoch that ``--resume`` records), epoch files of a record whose manifest was lost, or any
    unrelated file. Nothing in such a folder is deleted (the caller refuses it).
    """
    path = Path(path)
    found = []
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if p.is_dir() and str(rel) in ("epochs", "checkpoints"):
            continue
        if p.is_file() and not p.is_symlink() and (
                str(rel) in ("split.npz", "manifest.json", LOCK_NAME)
                or (p.name.startswith(".") and p.name.endswith(".tmp")
                    and (len(rel.parts) == 1 or (len(rel.parts) == 2 and rel.parts[0] in ("epochs", "checkpoints"))))):
            continue
        if p.is_dir() and any(p.iterdir()):
            continue                     # its files are listed themselves
        found.append(str(rel) + ("/" if p.is_dir() else ""))
    return found


def clear_unfinished(path: str | os.PathLike) -> bool:
    """Remove what a writer killed before its first manifest left in ``path``; True if anything was.

    A folder without ``manifest.json`` is cleared only if :func:`foreign_files` finds nothing
    in it (the split, temp files, the lock): any other file keeps the folder untouched.
    """
    path = Path(path)
    if not path.is_dir() or (path / "manifest.json").exists() or not any(path.iterdir()):
        return False
    if foreign_files(path):
        return False
    for p in sorted(path.iterdir()):
        if p.name == LOCK_NAME:
            continue
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    return True


def refuse_foreign_files(path: Path, found: list[str], *, manifest: bool, resume_hint: str) -> None:
    """Raise RecordError saying which files keep a new run out of ``path`` (nothing is deleted)."""
    shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
    if manifest:
        what = f"holds a run record with no completed epoch and files it does not list ({shown})"
        how = f"continue that run with {resume_hint}, or choose another (new or empty) output folder"
    elif any(f in ("state.pt",) or f.startswith(("epochs/", "checkpoints/")) for f in found):
        what = f"holds run record files ({shown}) but no manifest.json (a record whose manifest was lost?)"
        how = "a record without its manifest cannot be resumed: choose another (new or empty) output folder"
    else:
        what = f"is not empty and holds no run record ({shown})"
        how = "choose an empty or new folder"
    raise RecordError(f"output folder {path} {what}; nothing was deleted: {how}")


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
            old = read_manifest(self.path)
            found = foreign_files(self.path)
            if old["epochs_completed"] == 0 and old.get("layout", "epochs") == "epochs" and not found:
                self._discard()           # nothing was recorded: start over (another config is fine)
            elif old["epochs_completed"] == 0 and old.get("layout", "epochs") == "epochs" and not resume:
                refuse_foreign_files(self.path, found, manifest=True, resume_hint="resume=True")
            elif not resume:
                raise RecordError(
                    f"output folder {self.path} already holds a run record "
                    f"(status {old.get('status')!r}, {old.get('epochs_completed')} epochs); "
                    "choose another folder, delete it, or pass resume=True to continue it")
            else:
                self._resume(old, fixed, allow_env_change)
                return
        elif any(p.name != LOCK_NAME for p in self.path.iterdir()):
            found = foreign_files(self.path)
            if found:
                refuse_foreign_files(self.path, found, manifest=False, resume_hint="resume=True")
            clear_unfinished(self.path)
        data = savez_bytes(train_indices=self._train_indices, train_labels=self._train_labels,
                            test_labels=self._test_labels)
        _atomic_write_bytes(self.path / "split.npz", data)
        self._manifest = {"format": RECORD_FORMAT, "version": RECORD_VERSION, "status": "running",
                          "layout": "epochs", "epochs_completed": 0, **fixed,
                          "n_train": self.n, "n_test": self.m, "files": {"split.npz": file_entry(data)},
                          "checkpoints": {}, "resumes": [], "timings": {}, "history": []}
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
        changes = environment_changes(env_old, env_new)
        if changes and not allow_env_change:
            detail = ", ".join(f"{k}: {a!r} then {b!r}" for k, (a, b) in changes.items())
            raise RecordError(f"cannot resume {self.path}: the environment differs from the one it was written in "
                              f"({detail}), so the continued run would not equal an uninterrupted one; resume in "
                              "the same environment, or pass allow_env_change=True to continue and record the change")
        manifest = dict(old)
        if old.get("version", 1) < 2:                      # upgrade: hash the verified files
            manifest.update(version=RECORD_VERSION, upgraded_from_version=old.get("version"))
        for k, v in derive_run_fields(old).items():        # top-level fields an older writer left out
            manifest.setdefault(k, v)
        resume_entry = {"after_epoch": old["epochs_completed"],
                        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "environment_changes": changes}
        others = other_environment_changes(env_old, env_new)
        if others:
            resume_entry["other_environment_changes"] = others
        if "checkpoints" not in manifest:
            # written before checkpoints were hashed: from here on they are; the ones already on disk
            # are hashed as found (nothing recorded them) and named in this resume's entry
            found = sorted(str(p.relative_to(self.path)) for p in (self.path / "checkpoints").glob("epoch_*.pt")) \
                if (self.path / "checkpoints").is_dir() else []
            manifest["checkpoints"] = {rel: file_entry((self.path / rel).read_bytes()) for rel in found}
            resume_entry["checkpoints_hashed_unverified"] = found
        files = dict(manifest.get("files") or {})
        for rel in ["split.npz"] + [epoch_rel(e) for e in range(1, old["epochs_completed"] + 1)]:
            if rel not in files:
                files[rel] = file_entry((self.path / rel).read_bytes())
        manifest["files"] = files
        if env_new:
            manifest["environment"] = env_new
        new_ds = fixed.get("dataset") or {}
        if "image_format" in new_ds and "image_format" not in (manifest.get("dataset") or {}):
            # written before records named their image format; the split was checked equal above
            manifest["dataset"] = {**manifest["dataset"], "image_format": new_ds["image_format"]}
        manifest["resumes"] = list(manifest.get("resumes") or []) + [resume_entry]
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
        float16 range (65504) are stored as 65504. A checkpoint of this epoch already saved at
        :meth:`checkpoint_path` is hashed into the manifest's ``checkpoints`` with it (save the
        checkpoint first, as the trainer does).
        """
        epoch = check_positive_int(epoch, "epoch")
        if epoch != self.epochs_completed + 1:
            raise RecordError(f"epoch must be {self.epochs_completed + 1} (the next one), got {epoch}")
        if not isinstance(summary, dict):
            raise ValueError(f"summary must be a dict of JSON-safe values, got {type(summary).__name__}")
        tl = _check_loss_values(train_loss, "train_loss", self.n)
        arrays = {"train_loss": np.minimum(tl, np.finfo(np.float16).max).astype(np.float16),
                  "train_correct": pack(_check_bits(train_correct, "train_correct", self.n)),
                  "test_correct": pack(_check_bits(test_correct, "test_correct", self.m))}
        if test_loss is not None:
            ts = _check_loss_values(test_loss, "test_loss", self.m)
            arrays["test_loss"] = np.minimum(ts, np.finfo(np.float16).max).astype(np.float16)
        try:
            entry = {"epoch": epoch, **json.loads(json.dumps(summary, default=json_default))}
        except (TypeError, ValueError) as e:
            raise ValueError(f"summary must hold JSON-safe values ({e})") from None
        rel = epoch_rel(epoch)
        data = savez_bytes(**arrays)
        _atomic_write_bytes(self.path / rel, data)
        self._manifest["files"][rel] = file_entry(data)
        ckpt = checkpoint_rel(epoch)
        if (self.path / ckpt).is_file():
            self._manifest.setdefault("checkpoints", {})[ckpt] = file_entry((self.path / ckpt).read_bytes())
        self._manifest["history"] = [h for h in self._manifest["history"] if h.get("epoch") != epoch] + [entry]
        self._manifest["epochs_completed"] = epoch
        write_manifest(self.path, self._manifest)

    def finish(self, *, timings: dict | None = None) -> None:
        """Mark the record complete; every planned epoch (``epochs_planned``) must be recorded."""
        planned = derive_run_fields(self._manifest)["epochs_planned"]
        if planned is not None and planned != self.epochs_completed:
            raise RecordError(f"cannot mark {self.path} complete: {self.epochs_completed} of its {planned} planned "
                              "epochs are recorded")
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
        return self.path / checkpoint_rel(check_positive_int(epoch, "epoch"))

    @property
    def state_path(self) -> Path:
        return self.path / "state.pt"


def _diff_keys(a: Any, b: Any) -> str:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return "config missing"
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "differs in " + ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys[:5])


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
        manifest = read_manifest(path)
        if manifest["version"] < 2:
            raise RecordError(f"{path} is a version 1 record: it has no file hashes; resume or recompact it first")
        data = savez_bytes(**{k: np.asarray(v) for k, v in arrays.items()})
        _atomic_write_bytes(path / rel, data)
        manifest["files"][rel] = file_entry(data)
        write_manifest(path, manifest)
    finally:
        lock.release()
    return path / rel


