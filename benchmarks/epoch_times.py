"""Seconds per epoch of real runs, read from their records: per run, per machine and evaluation precision.

A run record's history holds, per epoch, the wall seconds of training (``seconds``) and of
evaluation (``eval_seconds``) and the CPU seconds of each (``cpu_seconds``, ``eval_cpu_seconds``).
A long run outlives machines: it is resumed after a stop, on whatever machine the next session has,
and each resume entry of the manifest says what changed (``environment_changes``, compared and
refused unless allowed, and ``other_environment_changes``: CPU model, device name). This command
splits a run's epochs into the stretches one machine ran (between resumes), leaves out the first
``--settle`` epochs of each stretch (the first epoch after a start reads the data and warms caches
and is slower), and prints medians:

    python benchmarks/epoch_times.py experiments/records/cifar10-lt-100-full/*-seed1
    python benchmarks/epoch_times.py /root/cifar-full/runs/c10-50-ib-full --from-epoch 98 --to-epoch 109

A run forked off another (``forked_from``: Switching continues an IB run) is timed from the epoch
after the fork only; the epochs before are the source run's and are timed with it.

What the records do not say: what else ran on the machine at the time. The ratio of CPU seconds to
wall seconds (printed as "CPU share") is the closest they come: a process alone on a core
gets close to 1.0, one that shares its core with another busy process about 0.5. A machine named
``not recorded`` is one whose record predates the ``cpu_model`` field.

Only the manifest is read (its checksum and history are verified by
:func:`ltbound.records.read_manifest`); the loss files are not needed, so running folders, full
and compact records all work.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ltbound._outputs import OutputError, add_overwrite_flag, refuse_existing, write_output
from ltbound._table import format_table
from ltbound.records import RecordError, read_manifest

UNKNOWN = "not recorded"


def stretches(manifest: dict) -> list[dict]:
    """The run's own epochs, as stretches between starts and resumes, each with the machine that ran it.

    Returns a list of ``{"first": e0, "last": e1, "cpu_model": name, "start": why}`` in epoch order
    (``start``: ``"start"``, ``"fork"`` or ``"resume"``). The machine of a stretch is the CPU model
    the run had then: the environment's ``cpu_model`` after the last change, and, walking back over
    the resume entries, the "from" side of each recorded change of ``cpu_model``.
    """
    done = int(manifest["epochs_completed"])
    fork = manifest.get("forked_from")
    first = int(fork["epoch"]) + 1 if isinstance(fork, dict) and "epoch" in fork else 1
    cuts = sorted({int(r["after_epoch"]) for r in manifest.get("resumes", [])
                   if first <= int(r["after_epoch"]) < done})
    starts = [first] + [c + 1 for c in cuts if c + 1 > first]
    model = (manifest.get("environment") or {}).get("cpu_model") or UNKNOWN
    # the model each stretch ran on: walk back from the last, undoing each recorded change
    changes = {}
    for r in manifest.get("resumes", []):
        ch = {**(r.get("environment_changes") or {}), **(r.get("other_environment_changes") or {})}
        if "cpu_model" in ch:
            changes[int(r["after_epoch"]) + 1] = ch["cpu_model"]
    models = []
    for s in reversed(starts):
        models.append(model)
        if s in changes:
            model = changes[s][0] or UNKNOWN
    models.reverse()
    out = []
    for i, s in enumerate(starts):
        e1 = starts[i + 1] - 1 if i + 1 < len(starts) else done
        if e1 >= s:
            why = "fork" if (s == first and first > 1) else ("start" if s == 1 else "resume")
            out.append({"first": s, "last": e1, "cpu_model": models[i], "start": why})
    return out


def epoch_times(manifest: dict, settle: int = 2, from_epoch: int | None = None,
                to_epoch: int | None = None) -> list[dict]:
    """Medians of one run's seconds per epoch, one row per machine it ran on.

    ``settle``: epochs left out at the start of each stretch (start, fork, resume). ``from_epoch`` /
    ``to_epoch``: keep only epochs in that closed range. Each row: the machine, the epochs counted,
    medians of training, evaluation and total wall seconds, the fastest total, and the median CPU
    share (CPU seconds / wall seconds of the whole epoch; ``None`` where the history has no CPU
    seconds). Seconds are wall seconds.
    """
    hist = {int(h["epoch"]): h for h in manifest.get("history", [])}
    lo = from_epoch or 1
    hi = to_epoch or int(manifest["epochs_completed"])
    rows: dict[str, list[int]] = {}
    for st in stretches(manifest):
        keep = [e for e in range(st["first"] + settle, st["last"] + 1) if lo <= e <= hi]
        rows.setdefault(st["cpu_model"], []).extend(keep)
    out = []
    for model, epochs in rows.items():
        if not epochs:
            continue
        tr = np.array([float(hist[e].get("seconds") or 0.0) for e in epochs])
        ev = np.array([float(hist[e].get("eval_seconds") or 0.0) for e in epochs])
        cpu = [hist[e].get("cpu_seconds") for e in epochs]
        ecpu = [hist[e].get("eval_cpu_seconds") for e in epochs]
        share = None
        if all(c is not None for c in cpu) and all(c is not None for c in ecpu):
            share = float(np.median((np.array(cpu, float) + np.array(ecpu, float)) / (tr + ev)))
        out.append({"cpu_model": model, "epochs": len(epochs), "first_epoch": min(epochs), "last_epoch": max(epochs),
                    "train_median": float(np.median(tr)), "eval_median": float(np.median(ev)),
                    "epoch_median": float(np.median(tr + ev)), "epoch_fastest": float(np.min(tr + ev)),
                    "cpu_share_median": share})
    return out


def _describe(manifest: dict) -> dict:
    env = manifest.get("environment") or {}
    cfg = manifest.get("config") or {}
    return {"eval_precision": env.get("eval_precision", "float32"), "amp": env.get("amp"),
            "threads": env.get("torch_threads"), "n_train": manifest.get("n_train"), "n_test": manifest.get("n_test"),
            "schedule": cfg.get("schedule") or (manifest.get("run") or {}).get("label")}


def _name(path: str) -> str:
    p = Path(path)
    return f"{p.parent.name}/{p.name}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("records", nargs="+", help="run record folders (running, full or compact)")
    ap.add_argument("--settle", type=int, default=2,
                    help="epochs left out after each start, fork and resume (default 2)")
    ap.add_argument("--from-epoch", type=int, default=None, help="first epoch counted")
    ap.add_argument("--to-epoch", type=int, default=None, help="last epoch counted")
    ap.add_argument("--json", default=None, help="also write the rows as JSON to this file")
    add_overwrite_flag(ap)
    a = ap.parse_args(argv)
    if a.settle < 0:
        ap.error(f"--settle must be >= 0, got {a.settle}")
    for flag, v in (("--from-epoch", a.from_epoch), ("--to-epoch", a.to_epoch)):
        if v is not None and v < 1:
            ap.error(f"{flag} must be >= 1, got {v}")
    if a.from_epoch and a.to_epoch and a.from_epoch > a.to_epoch:
        ap.error(f"--from-epoch {a.from_epoch} is after --to-epoch {a.to_epoch}")
    if a.json:
        refuse_existing(ap, "--json", [a.json], a.overwrite)
    runs = []
    for path in a.records:
        try:
            manifest = read_manifest(Path(path))
        except (RecordError, OSError) as exc:
            ap.error(f"{path}: not a readable run record ({exc})")
        rows = epoch_times(manifest, a.settle, a.from_epoch, a.to_epoch)
        runs.append({"record": str(path), **_describe(manifest), "epochs_completed": manifest["epochs_completed"],
                     "stretches": stretches(manifest), "machines": rows})
    table = []
    for r in runs:
        if not r["machines"]:
            table.append([_name(r["record"]), "(no epoch left to count)", "", "", "", "", "", "", ""])
        for m in r["machines"]:
            share = "-" if m["cpu_share_median"] is None else f"{m['cpu_share_median']:.2f}"
            table.append([_name(r["record"]), m["cpu_model"], r["eval_precision"],
                          f"{m['first_epoch']}-{m['last_epoch']} ({m['epochs']})", f"{m['train_median']:.1f}",
                          f"{m['eval_median']:.1f}", f"{m['epoch_median']:.1f}", f"{m['epoch_fastest']:.1f}", share])
    print(f"# seconds per epoch (wall), medians; the first {a.settle} epoch(s) after each start, fork and resume "
          "left out; CPU share = CPU seconds / wall seconds (about 1.0 alone on a core)")
    print(format_table(table, ["run", "machine", "eval", "epochs (n)", "train s", "eval s", "epoch s", "fastest",
                               "CPU share"]))
    for r in runs:
        parts = [f"{s['first']}-{s['last']} {s['cpu_model']} ({s['start']})" for s in r["stretches"]]
        print(f"# {_name(r['record'])}: " + "; ".join(parts))
    if a.json:
        try:
            write_output(a.json, json.dumps({"settle": a.settle, "from_epoch": a.from_epoch, "to_epoch": a.to_epoch,
                                             "runs": runs}, indent=1) + "\n", "--json")
        except OutputError as exc:
            print(f"epoch_times.py: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
