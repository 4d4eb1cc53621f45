"""Run snapshots: a compact, committable copy of a run in progress that a fresh machine continues.

A long CPU run (200 epochs of CIFAR-10-LT take ≈ 5 h of one core) outlives the machine it
started on. :func:`pack_run` copies what a resume needs, verified, into a snapshot folder of
≈ 12 MB (a ResNet-32 run at epoch 200: 3.8 MB resume state + 45 KB per epoch):

    SNAP/snapshot.json         what the snapshot holds: run, epoch, SHA-256 and size of every file,
                               the checkpoints left behind (hashes only), the source manifest's hash
    SNAP/manifest.json         the run's manifest, unchanged (sealed by its own checksum; re-sealed
                               without the added files a pack leaves out, ``added_files="none"``)
    SNAP/split.npz, SNAP/state.pt, SNAP/epochs/epoch_NNNN.npz
    SNAP/checkpoints/...       only those asked for (``checkpoints=``): a fork source needs the
                               checkpoints its fork keeps; the others stay hashed in the manifest
    SNAP/pacbayes/...          any other file the manifest lists (``added_files`` in the index), e.g. the
                               posteriors and certification losses a certification stores in its prior's
                               record (:mod:`ltbound.train.stochastic.certified_run`), so an unfinished
                               certification continues from its snapshot with ``certify.py --resume``

:func:`restore_snapshot` verifies every file against ``snapshot.json`` and lays the run out
again (optionally pointing it at the data where they lie on the new machine; the resume
then checks that the split read there is the recorded one), and ``--resume`` continues it
to the record an uninterrupted run would have written (bitwise on the same kind of CPU;
tested). Epoch files never change once written, so successive snapshots of one run share
them and a git history stores each once.

What a snapshot does not carry: checkpoints not asked for (a later ``--theta perturb`` or
``record_model`` of those epochs says they are missing; the bounds over Θ̂ read the per-epoch
losses, which are carried), and the bits of a resume on another CPU kind (the resume then
needs ``--allow-env-change``, which the manifest records).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterable

from ...records import RecordError, load_record, training_settings, write_manifest
from ...records.format import checkpoint_rel, epoch_rel, read_manifest
from .state import read_state

__all__ = ["SNAPSHOT_FORMAT", "SNAPSHOT_VERSION", "continue_command", "pack_run", "read_snapshot", "restore_snapshot"]

SNAPSHOT_FORMAT = "ltbound-run-snapshot"
SNAPSHOT_VERSION = 1
_INDEX = "snapshot.json"
#: attempts at a consistent copy of a run that a training keeps writing (as a fork does)
_COPY_ATTEMPTS = 3


def _sha256(path: Path) -> dict:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return {"sha256": h.hexdigest(), "size": size}


def _checkpoint_list(checkpoints: str | Iterable[int] | None, held: list[int]) -> list[int]:
    if checkpoints is None or checkpoints == "none":
        return []
    if checkpoints == "all":
        return held
    if isinstance(checkpoints, str):
        try:
            wanted = [int(c) for c in checkpoints.split(",") if c.strip()]
        except ValueError:
            raise ValueError(f"checkpoints must be 'all', 'none' or a comma list of epochs, got {checkpoints!r}") from None
    else:
        wanted = [int(c) for c in checkpoints]
    missing = sorted(set(wanted) - set(held))
    if missing:
        raise ValueError(f"checkpoints: the run holds no checkpoint of epochs {missing} (it holds {held}); "
                         "name epochs it holds, or 'all'")
    return sorted(set(wanted))


def pack_run(run: str | os.PathLike, dest: str | os.PathLike, *,
             checkpoints: str | Iterable[int] | None = None, added_files: str = "all") -> dict:
    """Copy what continuing ``run`` needs into the snapshot folder ``dest``; return its index.

    ``run`` may be training meanwhile: the copy is taken again (up to 3 times) when the
    run's manifest changed while it was copied, as a fork does. Every copied data file is
    checked against the run's manifest (SHA-256) and ``state.pt`` must hold the manifest's
    last epoch, so a snapshot is always a consistent resume point.

    ``dest`` must be new, or a snapshot of the same run (same settings, label and seed) at
    an epoch no later than ``run``'s: it is then replaced as a whole (a crash in between
    keeps the old one). Anything else there is refused, never overwritten.

    ``checkpoints``: ``None``/``"none"`` (default), ``"all"``, or epochs to carry; the
    others stay listed (hashed) in the manifest and in the index's ``checkpoints_left``.

    ``added_files``: ``"all"`` (default) carries every other file the manifest lists (a
    certification's ``pacbayes/`` posteriors and losses); ``"none"`` leaves them out and removes
    them from the snapshot's manifest (re-sealed; the index keeps their hashes in
    ``added_files_left``), as if the run had stopped before they were written: a certification
    resumed from it trains and certifies them again, to the same numbers (their draws are seeded),
    for a snapshot a few MB per posterior smaller.

    The trainer saves its resume state after training an epoch and records the epoch after
    evaluating it, so for minutes in every epoch ``state.pt`` is one epoch ahead of the record;
    a resume takes such a state as it is (it evaluates and records that epoch first), and so
    does a snapshot (``state_epoch`` in the index says which).
    """
    if added_files not in ("all", "none"):
        raise ValueError(f"added_files must be 'all' or 'none', got {added_files!r}")
    run, dest = Path(run), Path(dest)
    for _ in range(_COPY_ATTEMPTS):
        raw = (run / "manifest.json").read_bytes() if (run / "manifest.json").is_file() else None
        if raw is None:
            raise RecordError(f"{run} is not a run record (no manifest.json); pack a folder written by "
                              "`python -m ltbound.train --out RUN`")
        manifest = load_record(run).manifest          # verifies every data file of the record
        if manifest.get("layout", "epochs") != "epochs":
            raise RecordError(f"{run} is a compact record: it is already complete and committable; "
                              "snapshots are for runs still training")
        e = int(manifest["epochs_completed"])
        if e < 1:
            raise RecordError(f"{run} has no completed epoch yet: nothing to snapshot")
        _check_replaceable(dest, manifest)
        held = sorted(int(Path(rel).stem.split("_")[-1]) for rel in (manifest.get("checkpoints") or {}))
        carry = _checkpoint_list(checkpoints, held)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent if dest.parent.exists() else None, prefix=f".{dest.name}."))
        try:
            index = _copy(run, tmp, manifest, e, carry, keep_added=added_files == "all")
            index["state_epoch"] = int(read_state(tmp / "state.pt")["epoch"])
            if (run / "manifest.json").read_bytes() != raw or index["state_epoch"] not in (e, e + 1):
                shutil.rmtree(tmp)
                continue                               # the run advanced meanwhile: copy again
            index["source_manifest_sha256"] = hashlib.sha256(raw).hexdigest()
            (tmp / _INDEX).write_text(json.dumps(index, indent=1) + "\n")
            _swap_into_place(tmp, dest)
            return index
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    raise RecordError(f"{run} kept changing while it was copied ({_COPY_ATTEMPTS} attempts); stop the training "
                      "(it continues with --resume) and pack then")


def _copy(run: Path, tmp: Path, manifest: dict, e: int, carry: list[int], keep_added: bool = True) -> dict:
    files = manifest.get("files") or {}
    rels = ["manifest.json", "split.npz", "state.pt"] + [epoch_rel(k) for k in range(1, e + 1)] \
        + [checkpoint_rel(c) for c in carry]
    # Files added to the record besides the training's own (a certification's pacbayes/ posteriors and
    # losses, by ltbound.records.add_file): the manifest lists them, so a restored record must hold them.
    own = set(rels)
    added = sorted(rel for rel in files if rel not in own and not rel.startswith("epochs/"))
    carried, left_added = (added, {}) if keep_added else ([], {rel: files[rel] for rel in added})
    rels += carried
    entries = {}
    for rel in rels:
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run / rel, tmp / rel)
        entries[rel] = _sha256(tmp / rel)
        expected = files.get(rel) or (manifest.get("checkpoints") or {}).get(rel)
        if expected is not None and expected["sha256"] != entries[rel]["sha256"]:
            raise RecordError(f"{run / rel} changed while it was copied or does not match its manifest; "
                              "pack again")
    if left_added:      # the snapshot's manifest no longer lists what it does not carry
        copied = json.loads((tmp / "manifest.json").read_text())
        copied["files"] = {rel: v for rel, v in copied["files"].items() if rel not in left_added}
        write_manifest(tmp, copied)
        entries["manifest.json"] = _sha256(tmp / "manifest.json")
    left = {rel: v for rel, v in (manifest.get("checkpoints") or {}).items() if rel not in entries}
    cfg = manifest.get("config") or {}
    return {"format": SNAPSHOT_FORMAT, "version": SNAPSHOT_VERSION, "run": Path(run).resolve().name,
            "label": (manifest.get("run") or {}).get("label"), "seed": (manifest.get("run") or {}).get("seed"),
            "epochs_completed": e, "epochs_planned": manifest.get("epochs_planned"),
            "dataset": cfg.get("dataset"), "imbalance": cfg.get("imbalance"), "data_dir": cfg.get("data_dir"),
            "environment": manifest.get("environment"),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": entries, "checkpoints_left": left, "added_files": carried, "added_files_left": left_added}


def _same_run(a: dict, b: dict) -> bool:
    strip = lambda m: {k: v for k, v in (training_settings(m.get("config")) or {}).items() if k != "data_dir"}  # noqa: E731
    return strip(a) == strip(b) and a.get("run") == b.get("run")


def _check_replaceable(dest: Path, manifest: dict) -> None:
    if not dest.exists() or (dest.is_dir() and not any(dest.iterdir())):
        return
    if not (dest / _INDEX).is_file():
        raise RecordError(f"{dest} exists and is not a snapshot; pack into a new folder (nothing was written)")
    old = read_snapshot(dest)
    old_manifest = json.loads((dest / "manifest.json").read_text())
    if not _same_run(old_manifest, manifest):
        raise RecordError(f"{dest} holds a snapshot of another run ({old['run']}, {old['label']} seed {old['seed']}); "
                          "pack into a new folder")
    if old["epochs_completed"] > int(manifest["epochs_completed"]):
        raise RecordError(f"{dest} holds a later snapshot of this run (epoch {old['epochs_completed']} > "
                          f"{manifest['epochs_completed']}); it is kept — pack into a new folder")


def _swap_into_place(tmp: Path, dest: Path) -> None:
    """``tmp`` becomes ``dest``; an old ``dest`` is removed only once the new one is in place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(tmp, 0o755)
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old)
    else:
        os.replace(tmp, dest)


def read_snapshot(snapshot: str | os.PathLike) -> dict:
    """The verified index of a snapshot folder: format, version, and every file's size and SHA-256.

    Raises RecordError naming the file that is missing, damaged or not listed.
    """
    snapshot = Path(snapshot)
    try:
        index = json.loads((snapshot / _INDEX).read_text())
    except FileNotFoundError:
        raise RecordError(f"{snapshot} is not a run snapshot (no {_INDEX}); make one with "
                          "`python -m ltbound.train pack RUN SNAPSHOT`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"{snapshot / _INDEX} cannot be read ({type(exc).__name__}); the snapshot is damaged") from None
    if not isinstance(index, dict) or index.get("format") != SNAPSHOT_FORMAT:
        raise RecordError(f"{snapshot / _INDEX} is not an ltbound run snapshot")
    if index.get("version") != SNAPSHOT_VERSION:
        raise RecordError(f"{snapshot} is a snapshot of format version {index.get('version')!r}; this ltbound "
                          f"reads version {SNAPSHOT_VERSION}")
    files = index.get("files")
    if not isinstance(files, dict) or not {"manifest.json", "state.pt", "split.npz"} <= set(files):
        raise RecordError(f"{snapshot / _INDEX} lists no manifest, state and split; the snapshot is damaged")
    for rel, want in files.items():
        p = snapshot / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise RecordError(f"{snapshot / _INDEX} names a file outside the snapshot ({rel!r})")
        if not p.is_file():
            raise RecordError(f"{p} is missing from the snapshot")
        if _sha256(p) != want:
            raise RecordError(f"{p} does not match {_INDEX} (size or SHA-256): the snapshot is damaged")
    extra = sorted(str(p.relative_to(snapshot)) for p in snapshot.rglob("*")
                   if p.is_file() and str(p.relative_to(snapshot)) not in files and p.name != _INDEX)
    if extra:
        raise RecordError(f"{snapshot} holds files its index does not list ({', '.join(extra[:3])}); "
                          "the snapshot was changed by hand")
    return index


def restore_snapshot(snapshot: str | os.PathLike, out: str | os.PathLike, *,
                     data_dir: str | os.PathLike | None = None) -> Path:
    """Lay out the run of ``snapshot`` in ``out`` (new or empty), ready for ``--resume``; return ``out``.

    Every file is verified first. ``data_dir`` points the run at its data on this machine
    (the record stores the data path absolute); the resume then rebuilds the split from it
    and refuses data that give another split. The manifest's ``restores`` records when, from
    which snapshot and epoch, the data path before, and the checkpoints not carried.
    """
    snapshot, out = Path(snapshot), Path(out)
    index = read_snapshot(snapshot)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RecordError(f"{out} exists and is not empty; restore into a new folder (nothing was written)")
    read_manifest(snapshot)                              # the manifest's own checksum and format
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        for rel in index["files"]:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(snapshot / rel, tmp / rel)
        manifest = json.loads((tmp / "manifest.json").read_text())
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "after_epoch": index["epochs_completed"],
                 "snapshot_sha256": _sha256(snapshot / _INDEX)["sha256"],
                 "checkpoints_not_carried": sorted(index.get("checkpoints_left") or {}),
                 "added_files_not_carried": sorted(index.get("added_files_left") or {})}
        if data_dir is not None:
            new = str(Path(data_dir).expanduser().resolve())
            if not Path(new).exists():
                raise ValueError(f"data_dir {data_dir} does not exist; give the path of the run's data on this machine")
            entry["data_dir_before"] = manifest["config"].get("data_dir")
            manifest["config"]["data_dir"] = new
        manifest["restores"] = list(manifest.get("restores") or []) + [entry]
        write_manifest(tmp, manifest)
        os.chmod(tmp, 0o755)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def continue_command(run: str | os.PathLike) -> str:
    """The command that continues the restored (or unfinished) run in folder ``run``.

    A run of the trainer continues with ``python -m ltbound.train --out RUN --resume``. A
    certification's prior (``experiments/certify.py``) trained on D_prior only: the trainer's
    CLI would rebuild the whole long-tailed split and its resume refuses the record, so such a
    run continues through ``certify.py --resume`` with its certification folder (the parent of
    ``runs/<schedule>``). A prior is recognised by its dataset's ``subset`` mark (written
    since 2026-12-06) or, for older records, by files of the certification (``pacbayes/``)
    kept or left out of a snapshot. An older prior whose certification had not started is
    not recognisable; the returned text then names both commands.
    """
    run = Path(run)
    manifest = read_manifest(run)
    subset = (manifest.get("dataset") or {}).get("subset") or {}
    listed = list(manifest.get("files") or {}) + [f for r in manifest.get("restores") or []
                                                   for f in r.get("added_files_not_carried") or []]
    trainer = f"python -m ltbound.train --out {run} --resume"
    if subset.get("role") == "certification prior" or any(f.startswith("pacbayes/") for f in listed):
        out = run.parent.parent if run.parent.name == "runs" else Path("OUT")
        schedule = manifest.get("config", {}).get("schedule")
        return (f"python experiments/certify.py --out {out} --resume, with the settings the certification "
                f"started with (see {run / 'manifest.json'} and docs/certificates.md); {run} is the prior of "
                f"schedule {schedule!r}, trained on D_prior, which the trainer's CLI cannot resume")
    if not subset and manifest.get("config", {}).get("checkpoint_epochs") == "end" and run.parent.name == "runs":
        return (f"{trainer}; or, if {run} is a certification's prior (experiments/certify.py writes "
                f"OUT/runs/<schedule>), python experiments/certify.py --out {run.parent.parent} --resume "
                "with the settings it started with")
    return trainer
