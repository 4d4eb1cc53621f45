"""Branching a run off another run's record: several second stages from one first stage.

Switching (IB, then CR) and the other two-stage schedules of Tables 5-6 share their first
stage with an IB run. :func:`fork_record` lays out a new run folder that continues a source
record at its last epoch; the trainer then goes on as on a resume, so the fork ends in the
record an uninterrupted run would have written (bitwise on CPU; tested).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from ...records import (RECORD_VERSION, checkpoint_path, derive_run_fields, load_record, training_settings,
                        write_manifest)
from ...records.write import environment_changes
from ...records.format import checkpoint_rel
from ...schedule import Schedule
from .state import read_state

__all__ = ["fork_record", "fork_parents"]

#: Attempts at a consistent copy of a source that a running training keeps writing.
COPY_ATTEMPTS = 3


def fork_parents(samplers: dict[str, list[float]], *, chains: bool = True) -> dict[str, tuple[str, int]]:
    """Which runs can continue an earlier run's first epochs: name -> (earlier name, last shared epoch e).

    ``samplers`` maps each run, in training order, to its sampler q per epoch (epoch 1 first),
    all with the same recipe, seed and data. Two runs with the same q in epochs 1..e train
    bitwise the same model up to e, so a run is forked off the earlier run with the longest
    shared prefix (the first such one on ties), at e = that length, capped so that the fork
    trains at least one epoch of its own; runs that share nothing are trained from epoch 1.
    ``chains=False`` forks only off runs that are not forks themselves.
    """
    parents: dict[str, tuple[str, int]] = {}
    names = list(samplers)
    for i, name in enumerate(names):
        q = samplers[name]
        best: tuple = (None, 0)
        for earlier in names[:i]:
            if not chains and earlier in parents:
                continue
            shared = next((k for k, (x, y) in enumerate(zip(q, samplers[earlier])) if x != y),
                          min(len(q), len(samplers[earlier])))
            shared = min(shared, len(q) - 1)
            if shared > best[1]:
                best = (earlier, shared)
        if best[0] is not None:
            parents[name] = best
    return parents


class _SourceChanged(Exception):
    """The source record advanced while it was being copied."""


def fork_record(source: str | os.PathLike, out: Path, manifest: dict, schedule: Schedule) -> int:
    """Lay out ``out`` as a run that continues ``source``'s record at its last epoch e.

    The source may be a run that is still training: the copy is checked afterwards (the
    source manifest unchanged, the copied ``state.pt`` at epoch e) and retried
    :data:`COPY_ATTEMPTS` times if the source advanced meanwhile; the fork then continues
    from whatever epoch the consistent copy holds.

    Copies the split, epochs 1..e, ``state.pt`` (which must hold epoch e) and the wanted
    checkpoints up to e, and writes a manifest with the new run's fixed part (``manifest``:
    config, dataset, schedule, environment, checkpoint epochs), the source's history of
    epochs 1..e, and ``forked_from`` = {path, epoch, schedule, manifest_sha256}. The trainer
    then continues as on a resume. Returns e.

    Raises ValueError, before copying anything, when the two runs could differ in epochs
    1..e: another setting than schedule / checkpoint epochs, another sampler (q) in any
    epoch up to e, or another determinism-relevant environment (:data:`DETERMINISM_FIELDS`).
    """
    source = Path(source)
    for _ in range(COPY_ATTEMPTS):
        try:
            return _fork_once(source, out, manifest, schedule)
        except _SourceChanged:
            for sub in ("epochs", "checkpoints"):
                shutil.rmtree(out / sub, ignore_errors=True)
            for name in ("split.npz", "state.pt"):
                (out / name).unlink(missing_ok=True)
    raise ValueError(f"fork_from {source} kept changing while it was copied ({COPY_ATTEMPTS} attempts): a training "
                     "is writing it; stop it (it continues later with --resume) or fork from a copy of it")


def _fork_once(source: Path, out: Path, manifest: dict, schedule: Schedule) -> int:
    src = load_record(source).manifest          # verifies every file of the source (RecordError if damaged)
    raw = (source / "manifest.json").read_bytes()
    e = int(src.get("epochs_completed", 0))
    if e < 1:
        raise ValueError(f"fork_from {source} has no recorded epoch to start from")
    new_cfg, old_cfg = training_settings(manifest["config"]), training_settings(src.get("config", {}))
    free = {"schedule", "checkpoint_epochs"}
    diff = sorted(k for k in set(new_cfg) | set(old_cfg) if k not in free and new_cfg.get(k) != old_cfg.get(k))
    if diff:
        raise ValueError(f"fork_from {source}: the runs differ in {', '.join(diff)} "
                         f"({', '.join(f'{k} {old_cfg.get(k)!r} vs {new_cfg.get(k)!r}' for k in diff[:3] if k != 'recipe')}); "
                         "only schedule and checkpoint_epochs may differ")
    if e >= int(new_cfg["epochs"]):
        raise ValueError(f"fork_from {source} already holds {e} epochs; the new run has only {new_cfg['epochs']}")
    history = src.get("history", [])[:e]
    for h in history:
        if float(schedule.q_at(int(h["epoch"]))) != float(h["q"]):
            raise ValueError(f"fork_from {source}: epoch {h['epoch']} was trained with sampler {h['sampler']} "
                             f"(q={h['q']}) but schedule {new_cfg['schedule']} uses q={schedule.q_at(int(h['epoch']))}; "
                             f"fork from a record of at most {int(h['epoch']) - 1} epochs")
    env_new, env_old = manifest["environment"], src.get("environment", {})
    env_diff = list(environment_changes(env_old, env_new))
    if env_diff:
        detail = ", ".join(f"{k}: {env_old.get(k)!r} vs {env_new.get(k)!r}" for k in env_diff)
        raise ValueError(f"fork_from {source} ran in another environment ({detail}); "
                         "the fork would not reproduce it")
    state = read_state(source / "state.pt")
    if int(state["epoch"]) != e:
        raise ValueError(f"fork_from {source}: state.pt holds epoch {state['epoch']} but the record {e}; "
                         "fork from a record whose last epoch was saved completely")
    missing = [c for c in manifest["checkpoint_epochs"] if c <= e and not (source / "checkpoints" / f"epoch_{c:04d}.pt").is_file()]
    if missing:
        raise ValueError(f"fork_from {source} lacks the checkpoints of epochs {missing} that this run keeps")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "split.npz", out / "split.npz")
    (out / "epochs").mkdir(exist_ok=True)
    for h in history:
        name = f"epoch_{int(h['epoch']):04d}.npz"
        shutil.copy2(source / "epochs" / name, out / "epochs" / name)
    checkpoints = {}
    for c in manifest["checkpoint_epochs"]:
        if c <= e:
            rel = checkpoint_rel(c)
            (out / "checkpoints").mkdir(exist_ok=True)
            shutil.copy2(checkpoint_path(source, c), out / rel)     # verified against the source's hash
            checkpoints[rel] = (src.get("checkpoints") or {}).get(rel) or _file_entry(out / rel)
    shutil.copy2(source / "state.pt", out / "state.pt")
    # A running source writes epoch e+1's files, then state.pt, then its manifest: an unchanged
    # manifest and a copied state at e mean every copied file is the one of epochs 1..e.
    if (source / "manifest.json").read_bytes() != raw or int(read_state(out / "state.pt")["epoch"]) != e:
        raise _SourceChanged
    fixed = json.loads(json.dumps(manifest, default=str))
    fixed.update(derive_run_fields(fixed))       # the new run's label, final stage and source
    kept = {k: v for k, v in src.items() if k not in fixed and k not in ("checksum", "resumes", "files", "checkpoints")}
    copied = ["split.npz"] + [f"epochs/epoch_{int(h['epoch']):04d}.npz" for h in history]
    files = {rel: (src.get("files") or {}).get(rel) for rel in copied}
    new = {**kept, **fixed, "version": RECORD_VERSION, "status": "running", "epochs_completed": e,
           "history": history, "timings": {}, "resumes": [],
           "files": {rel: f if f is not None else _file_entry(out / rel) for rel, f in files.items()},
           "checkpoints": checkpoints,
           "forked_from": {"path": str(source.resolve()), "epoch": e, "schedule": old_cfg.get("schedule"),
                           "manifest_sha256": hashlib.sha256(raw).hexdigest()}}
    write_manifest(out, new)      # last: a crash before it leaves writer debris only (a rerun clears it)
    return e


def _file_entry(path: Path) -> dict:
    data = path.read_bytes()
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
