"""Compaction: a small, single-file, read-only copy of a run record, for committing to a repository."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ._io import atomic_write_bytes, file_entry, pack, savez_bytes
from .format import RECORD_VERSION, RecordError, derive_run_fields, manifest_checksum, write_manifest
from .read import _rows_for, load_record

__all__ = ["compact_record"]


def _check_epochs(loss_epochs: Iterable[Any]) -> np.ndarray:
    """``loss_epochs`` as sorted unique epoch numbers: integers >= 1 (2.5 is no epoch; int64 would keep 2)."""
    try:
        values = list(loss_epochs)
    except TypeError:
        raise ValueError(f"loss_epochs must be 'final-stage', 'all', 'last' or a list of epochs, got {loss_epochs!r}") from None
    bad = [v for v in values if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1]
    if bad or not values:
        raise ValueError(f"loss_epochs must list epochs as integers >= 1, got {bad[0]!r} in {values!r}" if bad else
                         "loss_epochs is empty: list at least one epoch (or pass 'final-stage', 'all' or 'last')")
    return np.unique(np.asarray(values, dtype=np.int64))


def compact_record(src: str | os.PathLike, dst: str | os.PathLike, *,
                   loss_epochs: str | Iterable[int] = "final-stage") -> Path:
    """Write a small, single-file copy of a record (for committing to a repository).

    Parameters
    ----------
    src : path
        A full record (``layout`` "epochs"); verified first.
    dst : path
        A new or empty folder.
    loss_epochs : "final-stage", "all", "last" or iterable of int
        The epochs whose per-sample training losses (float16) are kept.

    Returns
    -------
    Path
        ``dst``, a version 2 record of layout "compact".

    Notes
    -----
    Keeps correctness of every epoch as packed bits, the training losses of ``loss_epochs``,
    the per-sample test losses of every final-stage epoch (``test_loss_epochs``), the split
    and the manifest (history included). Checkpoints and resume state are dropped. The copy's
    ``files`` hashes ``record.npz``; ``source_files`` keeps the source's data-file hashes and
    ``source_record`` links it to its source run: {``path`` (absolute), ``manifest_checksum``
    (SHA-256 of the source manifest, as :func:`~ltbound.records.manifest_checksum`),
    ``checkpoints`` (the source's checkpoint hashes; for a source written before checkpoints were
    hashed, the files found in its ``checkpoints/`` hashed now, and ``checkpoints_hashed`` says
    "at compaction" rather than "when written")}.
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
        keep = _check_epochs(loss_epochs)
    rows = _rows_for(rec.loss_epochs, keep, "epochs with stored losses")
    dst = Path(dst)
    if (dst / "manifest.json").exists() or (dst.exists() and any(dst.iterdir())):
        raise RecordError(f"compact_record destination {dst} is not empty; choose a new folder")
    dst.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_indices": rec.train_indices, "train_labels": rec.train_labels, "test_labels": rec.test_labels,
        "epochs": rec.epochs, "loss_epochs": keep, "train_loss": rec.train_loss[rows].astype(np.float16),
        "train_correct": pack(rec.train_correct), "test_correct": pack(rec.test_correct),
    }
    test_keep: list[int] = []
    if rec.test_loss is not None:
        final = rec.final_stage_epochs()
        test_rows = _rows_for(rec.test_loss_epochs, final, "epochs with stored test losses")
        arrays.update(test_loss=rec.test_loss[test_rows].astype(np.float16), test_loss_epochs=final)
        test_keep = [int(e) for e in final]
    data = savez_bytes(**arrays)
    atomic_write_bytes(dst / "record.npz", data)
    manifest = {k: v for k, v in rec.manifest.items() if k not in ("checksum", "checkpoints")}
    for k, v in derive_run_fields(rec.manifest).items():
        manifest.setdefault(k, v)
    manifest.update(version=RECORD_VERSION, layout="compact", compacted_from=str(Path(src).name),
                    loss_epochs=[int(e) for e in keep], source_files=rec.manifest.get("files", {}),
                    source_record={"path": str(Path(src).resolve()),
                                   "manifest_checksum": manifest_checksum(rec.manifest),
                                   **_source_checkpoints(Path(src), rec.manifest)},
                    files={"record.npz": file_entry(data)})
    if test_keep:
        manifest["test_loss_epochs"] = test_keep
    write_manifest(dst, manifest)
    return dst


def _source_checkpoints(src: Path, manifest: dict) -> dict:
    """The source's checkpoint hashes for ``source_record``, and when they were taken."""
    if "checkpoints" in manifest:
        return {"checkpoints": manifest["checkpoints"], "checkpoints_hashed": "when written"}
    d = src / "checkpoints"
    files = sorted(d.glob("epoch_*.pt")) if d.is_dir() else []
    if not files:
        return {"checkpoints": None, "checkpoints_hashed": None}
    # read one at a time: a 200-epoch run's checkpoints are hundreds of MB together
    return {"checkpoints": {f"checkpoints/{f.name}": file_entry(f.read_bytes()) for f in files},
            "checkpoints_hashed": "at compaction"}
