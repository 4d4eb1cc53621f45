"""The run record format: its fields, version, manifest checksum and the migration of older records.

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
    RUN/checkpoints/epoch_0001.pt   model weights (written by the trainer with torch; hashed in
                                the manifest's ``checkpoints``)
    RUN/state.pt                resume state (the trainer's business)
    RUN/.lock                   advisory lock (fcntl.flock) held by the one process writing

A *compact* record (:func:`~ltbound.records.compact_record`) holds the same arrays in one
``record.npz`` (correctness of all epochs as packed bits, training losses of chosen epochs
``loss_epochs`` and test losses of the final stage's epochs ``test_loss_epochs``, float16)
beside the manifest; :func:`~ltbound.records.load_record` reads both layouts.

``manifest.json`` fields: ``format`` ("ltbound-run-record"), ``version`` (2), ``status``
("running" | "complete"), ``epochs_completed`` (int >= 0; ``history`` has exactly that many
entries, epochs 1, 2, ...), ``layout`` ("epochs" | "compact"), ``n_train``, ``n_test``, and,
new in version 2, the fields readers use instead of digging in ``config``:

* ``run``: {``label`` (schedule name or None), ``seed`` (int or None)}
* ``final_stage_start_epoch``: first epoch of the final stage (after the last sampler switch;
  for a one-sampler run, after the last learning-rate milestone; else 1)
* ``source``: {``dataset``, ``imbalance``, ``split_seed``, ``split_hash``, ``model``}
* ``epochs_planned`` (int or None): the epochs the run was set to train; a ``complete``
  record holds exactly that many
* ``preset`` (str or None): the name of the training recipe it started from
* ``files``: {relative path: {``sha256``, ``size``}} for every data file (``split.npz``,
  each ``epochs/epoch_NNNN.npz``, ``record.npz``, and any loss matrix a tool adds)
* ``resumes``: one entry per resume ({``after_epoch``, ``time``, ``environment_changes``: the
  :data:`DETERMINISM_FIELDS` that changed, {field: [old, new]}; ``other_environment_changes``, where
  any: the same for the rest of ``environment``, which the resumed run's overwrites, e.g. ``cpu_model``})
* ``checksum``: SHA-256 of the manifest itself without this field (canonical JSON, sorted
  keys), so an edited manifest is detected too
* ``checkpoints``: {``checkpoints/epoch_NNNN.pt``: {``sha256``, ``size``}}, one per saved
  model (hashed when its epoch is recorded, verified when a checkpoint is read); records
  written before this field have unverified checkpoints (reading one warns)

and, as in version 1, ``config`` (the trainer configuration), ``dataset`` (name,
num_classes, class_names, counts, imbalance, split_hash, n_train, n_test, ...),
``schedule`` (list of {start_epoch, sampler, q}), ``environment`` (versions, device),
``timings`` and ``history`` (one JSON dict per completed epoch: epoch, lr, sampler, q,
mean_train_loss, train_acc, test_acc, test_acc_per_class, test_acc_groups, seconds, ...).
A manifest without some of these top-level fields (version 1, or version 2 written before
``epochs_planned`` and ``preset`` existed) is migrated on reading: :func:`derive_run_fields`
derives them from ``config``/``dataset``/``schedule``, and the file itself is left as it is
(so its checksum still verifies). Readers use the top-level fields, never ``config``.

A compact record's manifest adds ``loss_epochs`` and ``test_loss_epochs`` (the lists its
``record.npz`` must hold), ``compacted_from`` (the source folder's name), ``source_files``
(the source's data-file hashes) and ``source_record``: {``path`` (the source folder,
absolute), ``manifest_checksum`` (of the source manifest), ``checkpoints`` (the source's
checkpoint hashes)}. Compact records written before ``test_loss_epochs`` existed keep the
last epoch's test losses only.

Integrity: :func:`~ltbound.records.load_record` checks the version, every file's size and
SHA-256 (version 2), the status against the plan (``complete`` holds exactly
``epochs_planned`` epochs, and no record holds more), the split against
``dataset.split_hash`` and against its protocol where the record allows
(:mod:`ltbound.records.split`), every array's shape and dtype against n and m, value ranges
(labels in [0, C), losses finite and >= 0), the epoch sequence, each epoch's arrays against
its history entry (train and test accuracy exactly, ``mean_train_loss`` within the float16
rounding) and a compact record's epoch lists against its manifest's, and raises one
:class:`RecordError` naming the file and what is wrong. A version 1 record has no hashes:
it is checked for structure and consistency only.

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
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..schedule import Phase, Schedule
from ._io import atomic_write_bytes, is_int, short

__all__ = ["RECORD_FORMAT", "RECORD_VERSION", "READABLE_VERSIONS", "STATUSES", "LAYOUTS", "RecordError",
           "json_default", "manifest_checksum", "write_manifest", "read_manifest", "derive_run_fields",
           "training_settings", "epoch_rel", "checkpoint_rel"]

RECORD_FORMAT = "ltbound-run-record"
RECORD_VERSION = 2
READABLE_VERSIONS = (1, 2)
STATUSES = ("running", "complete")
LAYOUTS = ("epochs", "compact")


class RecordError(ValueError):
    """A folder that is not a readable run record, or a write that would corrupt one."""


def epoch_rel(e: int) -> str:
    """Path of epoch ``e``'s data file inside a record."""
    return f"epochs/epoch_{e:04d}.npz"


def checkpoint_rel(e: int) -> str:
    """Path of epoch ``e``'s checkpoint inside a record."""
    return f"checkpoints/epoch_{e:04d}.pt"


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` hook: numpy scalars and arrays, paths."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


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
    atomic_write_bytes(Path(path) / "manifest.json",
                       (json.dumps(manifest, indent=1, default=json_default) + "\n").encode())


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
    if is_int(version) and version > RECORD_VERSION:
        raise RecordError(f"{mpath} has format version {version}, newer than this ltbound reads "
                          f"({RECORD_VERSION}); upgrade ltbound")
    if not is_int(version) or version not in READABLE_VERSIONS:
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
    if not is_int(e_done) or e_done < 0:
        raise RecordError(f"{mpath}: epochs_completed must be an integer >= 0, got {e_done!r}")
    history = manifest.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise RecordError(f"{mpath}: history must be a list of one object per epoch, got {type(history).__name__}")
    got_epochs = [h.get("epoch") for h in history]
    if got_epochs != list(range(1, e_done + 1)):
        raise RecordError(f"{mpath}: history must hold epochs 1..{e_done} in order (epochs_completed = {e_done}), "
                          f"got {short(got_epochs)}")
    if version >= 2:
        files = manifest.get("files")
        if not isinstance(files, dict) or not all(
                isinstance(v, dict) and isinstance(v.get("sha256"), str) and is_int(v.get("size"))
                for v in files.values()):
            raise RecordError(f"{mpath}: files must map each data file to {{sha256, size}}, got {short(files)}")
    for key in ("n_train", "n_test"):
        if key in manifest and (not is_int(manifest[key]) or manifest[key] < 1):
            raise RecordError(f"{mpath}: {key} must be a positive integer, got {manifest[key]!r}")
    planned = manifest.get("epochs_planned")
    if planned is not None and (not is_int(planned) or planned < 1):
        raise RecordError(f"{mpath}: epochs_planned must be a positive integer or null, got {planned!r}")
    if manifest.get("preset") is not None and not isinstance(manifest["preset"], str):
        raise RecordError(f"{mpath}: preset must be a name or null, got {manifest['preset']!r}")
    _check_plan(mpath, manifest)
    if "checkpoints" in manifest and not (isinstance(manifest["checkpoints"], dict) and all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) and is_int(v.get("size"))
            for v in manifest["checkpoints"].values())):
        raise RecordError(f"{mpath}: checkpoints must map each checkpoint file to {{sha256, size}}, "
                          f"got {short(manifest['checkpoints'])}")
    return manifest


def _check_plan(mpath: Path, manifest: dict) -> None:
    """The status must agree with the plan: ``complete`` means every planned epoch is recorded."""
    planned = derive_run_fields(manifest)["epochs_planned"]
    if not is_int(planned):
        return                                  # a record that states no plan (not written by ltbound.train)
    e_done = manifest["epochs_completed"]
    if e_done > planned:
        raise RecordError(f"{mpath}: epochs_completed {e_done} exceeds the {planned} epochs the run planned; "
                          "the manifest is inconsistent — restore the record from a copy")
    if manifest["status"] == "complete" and e_done < planned:
        raise RecordError(f"{mpath}: status is 'complete' but only {e_done} of the {planned} planned epochs are "
                          "recorded; the record was cut short or edited — continue the run (--resume) or restore "
                          "it from a copy")


def read_manifest(path: str | os.PathLike) -> dict:
    """The checked manifest of the record in ``path`` (format, version, checksum, epochs, history)."""
    return _read_manifest(Path(path))


def derive_run_fields(manifest: dict) -> dict:
    """The version 2 top-level fields of a manifest, migrating what an older writer left out.

    Returns ``run``, ``final_stage_start_epoch``, ``source``, ``epochs_planned`` and
    ``preset``. Fields the manifest has are kept; missing ones are derived from ``config``,
    ``dataset`` and ``schedule`` (where version 1 readers found them). The manifest itself is
    not changed.
    """
    cfg = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    ds = manifest.get("dataset") if isinstance(manifest.get("dataset"), dict) else {}
    sched = manifest.get("schedule") if isinstance(manifest.get("schedule"), list) else []
    run = manifest.get("run")
    if not isinstance(run, dict):
        seed = cfg.get("seed")
        run = {"label": None if cfg.get("schedule") is None else str(cfg.get("schedule")),
               "seed": int(seed) if is_int(seed) else None}
    start = manifest.get("final_stage_start_epoch")
    if not is_int(start):
        start = derived_final_stage_start(manifest)
        start = 1 if start is None else start   # a malformed schedule: load_record's checks name it
    source = manifest.get("source")
    if not isinstance(source, dict):
        source = {"dataset": ds.get("name", cfg.get("dataset")), "imbalance": ds.get("imbalance", cfg.get("imbalance")),
                  "split_seed": cfg.get("split_seed"), "split_hash": ds.get("split_hash"), "model": cfg.get("model")}
    if "epochs_planned" in manifest:
        planned = manifest["epochs_planned"]
    else:
        planned = cfg.get("epochs") if is_int(cfg.get("epochs")) else None
    if "preset" in manifest:
        preset = manifest["preset"]
    else:
        preset = cfg.get("preset") if isinstance(cfg.get("preset"), str) else None
    return {"run": run, "final_stage_start_epoch": start, "source": source, "epochs_planned": planned,
            "preset": preset}


def derived_final_stage_start(manifest: dict) -> int | None:
    """The final stage's first epoch that ``schedule`` and the milestones in ``config`` give (None if malformed).

    The one rule (:meth:`ltbound.schedule.Schedule.final_stage_start`): the last phase's first
    epoch for a schedule that switches samplers, else the epoch after the last milestone.
    """
    cfg = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    sched = manifest.get("schedule") if isinstance(manifest.get("schedule"), list) else []
    ms = cfg.get("milestones") or []
    ms = ms if isinstance(ms, list) and all(is_int(m) for m in ms) else []
    try:
        return Schedule.from_list(sched or [Phase(1, "IB", 1.0).to_dict()]).final_stage_start(ms)
    except (KeyError, TypeError, ValueError):
        return None


def training_settings(config: Any) -> Any:
    """A manifest's ``config`` without what does not change training: the preset's free-text note.

    Resume and fork compare these, so that rewording a preset's description (its expected
    speed, say) does not lock its earlier runs out of ``--resume``.
    """
    if not isinstance(config, dict) or not isinstance(config.get("recipe"), dict):
        return config
    return {**config, "recipe": {k: v for k, v in config["recipe"].items() if k != "note"}}
