"""ltbound.train beside the reference implementation (kaidic/LDAM-DRW): build the comparison's results file.

    # once, on the machine that trains (its torch and CPU kernel capability go into the results)
    python experiments/reference_comparison.py probe --out RUNS/environment.json
    # after the runs
    python experiments/reference_comparison.py build --ltbound RUNS/ltb-s0 RUNS/ltb-s1 \\
        --reference RUNS/ldam-s0 RUNS/ldam-s1 --environment RUNS/environment.json \\
        --cpu-monitor RUNS/cpu_monitor.tsv --out experiments/results/reference-comparison/results.json

Inputs
------
``--ltbound``: run folders of ``python -m ltbound.train``; read from their ``manifest.json``
(config, data set and the per-epoch ``history``: balanced test accuracy, per-class accuracy,
training and evaluation seconds).

``--reference``: the ``--root_log`` folders of the reference's ``cifar_train.py``. Each holds one
sub-folder with ``args.txt`` (the argparse namespace, read for ``seed`` and the recipe) and
``log_test.csv``, whose lines this script reads with three patterns, in order of appearance:

- ``val Results: Prec@1 <top-1 %> ...``                     one per epoch
- ``val Class Accuracy: [a,b,...]``                          one per epoch (3 decimals; x1000 = hits)
- ``Epoch <e> timing: train_seconds <s> eval_seconds <s> train_cpu_seconds <s> eval_cpu_seconds <s> lr <lr>``
  (written by the CPU adaptation, one per epoch)

Anything else in the file is ignored; a file whose three kinds of lines do not pair up epoch
by epoch is refused.

``--cpu-monitor`` (optional): a tab-separated file of samples ``time  pid  label  cpu_seconds
epochs_done`` (label = the run folder's name) taken every few seconds while the runs trained;
a run's CPU seconds for epoch e are the process's CPU time at the first sample showing e epochs
done minus that at e - 1 (the first epoch includes loading the data).

Statistics
----------
Every accuracy is on the 10,000 balanced test images, so top-1 = balanced accuracy. Per run: a
95% interval from the per-class hit counts (:func:`ltbound.statistics.heldout.accuracy_intervals`). Per
side: mean over seeds and the seeds' range and standard deviation. Sides: difference of the
means with the standard error sqrt(s_a^2/n_a + s_b^2/n_b), each s floored at the binomial
standard error of one run (with two seeds a standard deviation is a rough estimate); the
difference "exceeds its uncertainty" when it is larger than twice that standard error *and*
every run of one side is above every run of the other.

With one seed per side (the longer pair) there is no seed spread to measure. ``--seed-spread-from
RESULTS`` borrows it from another results file of the same comparison (the short recipe's, two
seeds per side): s = the root mean square of that file's per-side seed standard deviations, used
for both sides, floored at the binomial standard error as before. This assumes the seed spread at
the longer recipe's end is no larger than at the short one's; the results say that it is borrowed.
Each run also gets its **final-stage mean**: the mean balanced accuracy over the epochs after the last
learning-rate decay, which averages out the epoch-to-epoch swing of a single run (not the seed spread);
the two sides' final-stage means are compared with the same standard error.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from pathlib import Path

import numpy as np

from ltbound.statistics.heldout import accuracy_intervals
from ltbound.bounds.sampling import shot_group_means

REFERENCE = {
    "repository": "https://github.com/kaidic/LDAM-DRW",
    "commit": "2536330f2afdaa65618323cb5a5850efccce762a",
    "commit_date": "2021-12-24",
    "script": "cifar_train.py --loss_type CE --train_rule None (plain cross-entropy, instance-balanced sampling)",
}

ADAPTATION = {
    "summary": (
        "The reference code ran outside this repository, from an unpacked copy of the commit above, "
        "with a minimal CPU and data-loading adaptation: (1) a dataset class with torchvision CIFAR10's "
        "fields (data as N x 32 x 32 x 3 uint8, targets) that decodes the JPEG tree "
        "{train,test}/<class>/NNNN.jpg in sorted class and file order, used as the base class of the "
        "reference's IMBALANCECIFAR10 (whose own split rule then picks the long-tailed subset, unchanged) "
        "and as the test set; the chosen positions are saved and were checked equal to ltbound's split; "
        "(2) no .cuda() calls and no DataParallel: the model stays on the CPU in float32; "
        "pin_memory off; run with -j 0 (no DataLoader workers) and one thread; "
        "(3) the hard-coded learning-rate decays (x0.01 after epochs 160 and 180) became arguments "
        "(--milestone, --milestone_gamma, --milestone2) with the same 'epoch > m' rule, defaults "
        "unchanged; the 5-epoch warm-up is untouched; "
        "(4) tensorboardX, when missing, is replaced by a no-op writer; checkpoints are not written; "
        "(5) one extra log line per epoch with the training and evaluation wall and process CPU seconds."),
    "diff_summary": [
        "imbalance_cifar.py: +JPEGCIFAR10 dataset class (about 25 lines); IMBALANCECIFAR10 derives from it; "
        "3 lines record the chosen positions",
        "cifar_train.py: import fallback for tensorboardX (6 lines); 4 new arguments (--data_root, --milestone, "
        "--milestone_gamma, --milestone2); DataParallel(...).cuda() and 5 other .cuda() calls removed; "
        "datasets built from --data_root; pin_memory=False; adjust_learning_rate reads the milestone "
        "arguments; timing line after each epoch (8 lines); save_checkpoint disabled",
        "losses.py, utils.py, models/: unchanged",
    ],
}

_RESULTS = re.compile(r"^val Results: Prec@1\s+([0-9.]+)")
_CLASSES = re.compile(r"^val Class Accuracy:\s*\[([^\]]*)\]")
_TIMING = re.compile(r"^Epoch\s+(\d+)\s+timing:\s+train_seconds\s+([0-9.]+)\s+eval_seconds\s+([0-9.]+)\s+"
                     r"train_cpu_seconds\s+([0-9.]+)\s+eval_cpu_seconds\s+([0-9.]+)\s+lr\s+([0-9.eE+-]+)")


# ----------------------------------------------------------------------------- reading
def read_reference(folder: Path) -> dict:
    """Seed, recipe and per-epoch test results of one reference run (its --root_log folder)."""
    logs = sorted(folder.glob("*/log_test.csv"))
    if len(logs) != 1:
        raise SystemExit(f"{folder}: expected one */log_test.csv, found {len(logs)}")
    args = (logs[0].parent / "args.txt").read_text()

    def arg(name: str) -> str:
        m = re.search(rf"\b{name}=([^,)]+)", args)
        if m is None:
            raise SystemExit(f"{logs[0].parent / 'args.txt'}: no {name}=")
        return m.group(1).strip().strip("'\"")

    top1, per_class, timing = [], [], []
    for line in logs[0].read_text().splitlines():
        line = line.strip()
        if m := _RESULTS.match(line):
            top1.append(float(m.group(1)) / 100.0)
        elif m := _CLASSES.match(line):
            per_class.append([float(v) for v in m.group(1).split(",")])
        elif m := _TIMING.match(line):
            timing.append({"epoch": int(m.group(1)), "train_seconds": float(m.group(2)),
                           "eval_seconds": float(m.group(3)), "train_cpu_seconds": float(m.group(4)),
                           "eval_cpu_seconds": float(m.group(5)), "lr": float(m.group(6))})
    n = len(timing)
    if not (len(top1) == len(per_class) and len(top1) in (n, n + 1)) or \
            [t["epoch"] for t in timing] != list(range(1, n + 1)):
        raise SystemExit(f"{logs[0]}: {len(top1)} results, {len(per_class)} class-accuracy and {n} timing lines "
                         "do not pair up epoch by epoch")
    epochs = [{"epoch": t["epoch"], "top1": top1[i], "per_class": per_class[i], **t} for i, t in enumerate(timing)]
    recipe = {k: arg(k) for k in ("epochs", "batch_size", "lr", "momentum", "weight_decay", "milestone",
                                  "milestone_gamma", "milestone2", "loss_type", "train_rule", "imb_factor",
                                  "rand_number", "workers")}
    return {"side": "reference", "seed": int(arg("seed")), "folder": str(folder), "recipe": recipe,
            "epochs_planned": int(arg("epochs")), "epochs": epochs}


def read_ltbound(folder: Path) -> dict:
    """Seed, recipe and per-epoch test results of one ltbound.train run (its record's manifest)."""
    man = json.loads((folder / "manifest.json").read_text())
    cfg = man["config"]
    epochs = [{"epoch": int(h["epoch"]), "top1": float(h["test_acc"]), "per_class": list(h["test_acc_per_class"]),
               "train_seconds": float(h["seconds"]), "eval_seconds": float(h["eval_seconds"]), "lr": float(h["lr"]),
               # process CPU seconds, recorded by the trainer since issue 29 (absent in older records)
               "train_cpu_seconds": h.get("cpu_seconds"), "eval_cpu_seconds": h.get("eval_cpu_seconds")}
              for h in man.get("history", [])]
    return {"side": "ltbound", "seed": int(cfg["seed"]), "folder": str(folder), "recipe": cfg["recipe"],
            "split_hash": man["dataset"]["split_hash"], "counts": man["dataset"]["counts"],
            "epochs_planned": int(cfg["epochs"]), "environment": man.get("environment"),
            "status": man.get("status"), "epochs": epochs}


def read_cpu_monitor(path: Path | None) -> dict[str, dict[int, float]]:
    """label -> {epoch: process CPU seconds spent on that epoch}, from the monitor's samples.

    A run may be served by several processes (a run resumed after an interruption, or a run
    restarted from scratch under the same name): each process's CPU clock starts at zero, so
    differences are taken within one process only, and where two processes cover the same
    epoch the later one (the one that produced the run's final log) wins.
    """
    if path is None:
        return {}
    first_seen: dict[str, dict[str, dict[int, float]]] = {}      # label -> pid -> {done: cpu}
    for line in path.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) != 5:
            continue
        pid, label, cpu, done = parts[1], parts[2], float(parts[3]), int(parts[4])
        first = first_seen.setdefault(label, {}).setdefault(pid, {})
        if done >= 0 and done not in first:
            first[done] = cpu                  # CPU time when `done` epochs were first seen complete
    out: dict[str, dict[int, float]] = {}
    for label, by_pid in first_seen.items():
        merged: dict[int, float] = {}
        for first in by_pid.values():          # in order of first appearance: later processes override
            per = {e: first[e] - first[e - 1] for e in sorted(first) if e >= 1 and e - 1 in first}
            if 1 in first and 0 not in first:  # started after the monitor: epoch 1 includes loading the data
                per[1] = first[1]
            merged.update(per)
        out[label] = dict(sorted(merged.items()))
    return out


# ----------------------------------------------------------------------------- statistics
def run_summary(run: dict, counts: np.ndarray, cpu: dict[int, float]) -> dict:
    c = counts.size
    for e in run["epochs"]:
        pc = np.asarray(e["per_class"], dtype=np.float64)
        e["balanced_acc"] = float(pc.mean())
        e["groups"] = shot_group_means(pc, counts)
        e["cpu_seconds"] = cpu.get(e["epoch"])
        if e["cpu_seconds"] is None and e.get("train_cpu_seconds") is not None and e.get("eval_cpu_seconds") is not None:
            e["cpu_seconds"] = e["train_cpu_seconds"] + e["eval_cpu_seconds"]     # logged by the run itself
        if e.get("train_cpu_seconds") is None and e["cpu_seconds"] is not None:
            # No CPU split logged (ltbound): share the epoch's CPU time by its wall-time split.
            share = e["train_seconds"] / (e["train_seconds"] + e["eval_seconds"])
            e["train_cpu_seconds_estimated"] = e["cpu_seconds"] * share
            e["eval_cpu_seconds_estimated"] = e["cpu_seconds"] * (1 - share)
    done = len(run["epochs"])
    final = run["epochs"][-1] if done else None
    out = {"side": run["side"], "seed": run["seed"], "folder": run["folder"], "epochs_done": done,
           "epochs_planned": run["epochs_planned"], "complete": done == run["epochs_planned"]}
    if final is not None:
        hits = np.rint(np.asarray(final["per_class"]) * 1000).astype(np.int64)   # 1,000 test images per class
        labels = np.repeat(np.arange(c), 1000)
        correct = np.concatenate([np.arange(1000) < h for h in hits])
        rep = accuracy_intervals(correct, labels, train_counts=counts, num_classes=c)
        best = max(run["epochs"], key=lambda e: e["balanced_acc"])
        out["final"] = {"epoch": final["epoch"], "balanced_acc": final["balanced_acc"],
                        "balanced_acc_95": [float(rep.balanced[1]), float(rep.balanced[2])],
                        "many": final["groups"]["many"], "medium": final["groups"]["medium"],
                        "few": final["groups"]["few"], "per_class": final["per_class"]}
        out["best_epoch"] = {"epoch": best["epoch"], "balanced_acc": best["balanced_acc"],
                             "note": "selected on the test set (the reference prints this as 'Best Prec@1'); "
                                     "shown for context only"}
    later = [e for e in run["epochs"] if e["epoch"] >= 2]         # epoch 1 also loads the data / warms up
    med = lambda k: statistics.median([e[k] for e in later if e.get(k) is not None]) \
        if any(e.get(k) is not None for e in later) else None     # noqa: E731
    out["seconds_per_epoch"] = {"median_train_wall": med("train_seconds"), "median_eval_wall": med("eval_seconds"),
                                "median_cpu_train_plus_eval": med("cpu_seconds"),
                                "median_cpu_train": med("train_cpu_seconds"), "median_cpu_eval": med("eval_cpu_seconds"),
                                "median_cpu_train_estimated": med("train_cpu_seconds_estimated"),
                                "median_cpu_eval_estimated": med("eval_cpu_seconds_estimated"),
                                "epochs_used": "2.." + str(done)}
    out["per_epoch"] = [{k: e.get(k) for k in ("epoch", "lr", "balanced_acc", "groups", "train_seconds",
                                                "eval_seconds", "cpu_seconds", "train_cpu_seconds",
                                                "eval_cpu_seconds", "train_cpu_seconds_estimated",
                                                "eval_cpu_seconds_estimated")} for e in run["epochs"]]
    return out


def side_summary(runs: list[dict], epoch: int) -> dict | None:
    accs = [next((e["balanced_acc"] for e in r["per_epoch"] if e["epoch"] == epoch), None) for r in runs]
    accs = [a for a in accs if a is not None]
    if not accs:
        return None
    many = [next(e["groups"]["many"] for e in r["per_epoch"] if e["epoch"] == epoch) for r in runs
            if any(e["epoch"] == epoch for e in r["per_epoch"])]
    medium = [next(e["groups"]["medium"] for e in r["per_epoch"] if e["epoch"] == epoch) for r in runs
              if any(e["epoch"] == epoch for e in r["per_epoch"])]
    return {"epoch": epoch, "n_seeds": len(accs), "seeds": [r["seed"] for r in runs], "balanced_acc": accs,
            "mean": statistics.fmean(accs), "sd": statistics.stdev(accs) if len(accs) > 1 else None,
            "range": [min(accs), max(accs)], "many_mean": statistics.fmean(many),
            "medium_mean": statistics.fmean(medium)}


def compare(a: dict, b: dict, seed_sd: float | None = None) -> dict:
    """Side a minus side b at one epoch, with the standard error described in the module docstring;
    ``seed_sd`` (borrowed from another results file) stands in for a side whose seed spread is not measured."""
    def var(s: dict) -> float:
        binom = s["mean"] * (1 - s["mean"]) / 10000.0                       # one run on 10,000 images
        sd = s["sd"] if s["sd"] is not None else seed_sd
        return max(sd ** 2 if sd is not None else 0.0, binom) / s["n_seeds"]
    diff = a["mean"] - b["mean"]
    se = math.sqrt(var(a) + var(b))
    separated = min(a["balanced_acc"]) > max(b["balanced_acc"]) or max(a["balanced_acc"]) < min(b["balanced_acc"])
    measured = a["n_seeds"] > 1 and b["n_seeds"] > 1
    return {"epoch": a["epoch"], "seeds": {"ltbound": a["seeds"], "reference": b["seeds"]},
            "difference": diff, "standard_error": se, "ratio": diff / se if se > 0 else None,
            "seed_spread_measured": measured,
            "seed_spread": "measured" if measured else "borrowed" if seed_sd is not None else "not measured",
            "seed_ranges_separate": bool(separated),
            "exceeds_uncertainty": bool(abs(diff) > 2 * se and separated)}


def borrowed_seed_sd(path: Path) -> dict:
    """The seed spread of another results file of this comparison: the root mean square of its sides'
    seed standard deviations at their final epoch (see the module docstring)."""
    other = json.loads(Path(path).read_text())
    sds = {s: v["sd"] for s, v in (other.get("sides") or {}).items() if v and v.get("sd") is not None}
    if not sds:
        raise SystemExit(f"--seed-spread-from: {path} has no side with two or more complete seeds")
    return {"from": str(path), "sd": math.sqrt(statistics.fmean(v ** 2 for v in sds.values())), "per_side": sds,
            "epochs_there": max(r["epochs_planned"] for r in other["runs"]),
            "assumption": "the seed spread at this recipe's end is no larger than at the other recipe's end"}


def final_stage(run: dict) -> dict | None:
    """Mean balanced accuracy over the epochs after the last learning-rate decay (those at the final lr)."""
    eps = run["per_epoch"]
    if not run["complete"] or not eps:
        return None
    last_lr = eps[-1]["lr"]
    first = min(e["epoch"] for e in eps if all(math.isclose(x["lr"], last_lr, rel_tol=1e-6)
                                                 for x in eps if x["epoch"] >= e["epoch"]))
    stage = [e for e in eps if e["epoch"] >= first]
    accs = [e["balanced_acc"] for e in stage]
    return {"epochs": [first, eps[-1]["epoch"]], "mean": statistics.fmean(accs),
            "sd_over_epochs": statistics.stdev(accs) if len(accs) > 1 else None, "lr": last_lr,
            **{f"{g}_mean": statistics.fmean(e["groups"][g] for e in stage) for g in ("many", "medium")}}


def curves(a: dict, b: dict) -> dict | None:
    """How two runs' per-epoch balanced accuracies (a − b) compare before and in a's final stage."""
    acc_b = {e["epoch"]: e["balanced_acc"] for e in b["per_epoch"]}
    diff = {e["epoch"]: e["balanced_acc"] - acc_b[e["epoch"]] for e in a["per_epoch"] if e["epoch"] in acc_b}
    if not diff or not a.get("final_stage"):
        return None
    first = a["final_stage"]["epochs"][0]
    before = {e: d for e, d in diff.items() if e < first}
    after = {e: d for e, d in diff.items() if e >= first}
    signs = [d > 0 for e, d in sorted(before.items()) if d != 0]
    big = lambda part: max(part.items(), key=lambda kv: abs(kv[1])) if part else (None, 0.0)  # noqa: E731
    return {"largest_before": big(before), "largest_in_final_stage": big(after),
            "lead_changes_before": sum(x != y for x, y in zip(signs, signs[1:])), "final_stage_first": first}


# ----------------------------------------------------------------------------- commands
def probe(out: Path) -> None:
    import platform

    import torch
    from ltbound.train.loop.environment import cpu_name
    env = {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
           "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_model": cpu_name(),
           "mkldnn_available": bool(torch.backends.mkldnn.is_available()),
           "blas": (lambda m: m.group(1) if m else None)(re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())),
           "onednn": torch.backends.mkldnn.is_available() and next(
               (ln.strip() for ln in torch.__config__.show().splitlines() if "oneDNN" in ln or "MKL-DNN" in ln), None)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(env, indent=1) + "\n")
    print(json.dumps(env, indent=1))


def build(ns: argparse.Namespace) -> dict:
    cpu = read_cpu_monitor(ns.cpu_monitor)
    ltb = [read_ltbound(Path(p)) for p in ns.ltbound]
    ref = [read_reference(Path(p)) for p in ns.reference]
    counts = np.asarray(ltb[0]["counts"], dtype=np.int64)
    runs = [run_summary(r, counts, cpu.get(Path(r["folder"]).name, {})) for r in ltb + ref]
    for r in runs:      # whole-process times from GNU time -v, when a file <run folder>.time is there
        tf = Path(r["folder"] + ".time")
        text = tf.read_text() if tf.is_file() else ""
        if "User time" in text:
            # One entry per timed process (a resumed run appends one); a process killed with its machine
            # writes none, so the sums cover only the processes listed.
            num = lambda key: sum(float(v) for v in re.findall(rf"{key} \(seconds\): ([0-9.]+)", text))  # noqa: E731
            r["process_times"] = {"user_seconds": num("User time"), "system_seconds": num("System time"),
                                  "elapsed": re.findall(r"Elapsed \(wall clock\) time \([^)]*\): (\S+)", text),
                                  "processes_timed": text.count("User time"),
                                  "complete": re.findall(r"Exit status: (\d+)", text)[-1:] == ["0"],
                                  "note": "GNU time -v of each process that finished (killed processes write no "
                                          "entry); for a resumed run this is not the whole run's time"}
    by_side = {s: [r for r in runs if r["side"] == s] for s in ("ltbound", "reference")}
    last = min(r["epochs_done"] for r in runs)
    planned = max(r["epochs_planned"] for r in runs)
    # The comparison: complete runs at the planned last epoch; also every run at the last epoch all have done.
    sides = {s: side_summary([r for r in rs if r["complete"]], planned) for s, rs in by_side.items()}
    sides_common = {s: side_summary(rs, last) for s, rs in by_side.items()}
    borrowed = borrowed_seed_sd(ns.seed_spread_from) if ns.seed_spread_from else None
    seed_sd = borrowed["sd"] if borrowed else None
    for r in runs:
        r["final_stage"] = final_stage(r)
    stage = {s: [r["final_stage"]["mean"] for r in rs if r.get("final_stage")] for s, rs in by_side.items()}
    stage_cmp = None
    if all(stage.values()):
        fs = {s: {"epoch": "final stage", "n_seeds": len(v), "seeds": [r["seed"] for r in by_side[s] if r.get("final_stage")],
                  "balanced_acc": v, "mean": statistics.fmean(v), "sd": statistics.stdev(v) if len(v) > 1 else None}
              for s, v in stage.items()}
        stage_cmp = compare(fs["ltbound"], fs["reference"], seed_sd)
        stage_cmp["epochs"] = {s: [r["final_stage"]["epochs"] for r in by_side[s] if r.get("final_stage")]
                               for s in by_side}
    result = {
        "what": "ltbound.train beside kaidic/LDAM-DRW (plain cross-entropy, instance-balanced) on CIFAR-10-LT "
                f"(imbalance 100, split seed 0), the same JPEG images and class counts, a matched {planned}-epoch recipe",
        "reference": REFERENCE, "adaptation": ADAPTATION,
        "ltbound_commit": ns.ltbound_commit,
        "environment": json.loads(Path(ns.environment).read_text()) if ns.environment else None,
        "ltbound_environment": ltb[0].get("environment"),
        "how_run": ns.how_run,
        "data": {"source": "JPEG CIFAR-10 (quality 75) of ../shared/data/cifar10-jpeg.tar.xz, extracted; both sides "
                           "read the same files", "counts": [int(c) for c in counts],
                 "split_hash": ltb[0]["split_hash"], "test_images": 10000,
                 "shot_groups": "ltbound.bounds.sampling.shot_groups: many > 100 training images (classes 0-7), "
                                "medium 20-100 (classes 8-9), few < 20 (none)"},
        "recipe": {"ltbound": ltb[0]["recipe"], "reference": ref[0]["recipe"]},
        "runs": runs,
        "sides": sides,
        "seed_spread_borrowed": borrowed,
        "ltbound_minus_reference": compare(sides["ltbound"], sides["reference"], seed_sd) if all(sides.values()) else None,
        "ltbound_minus_reference_final_stage": stage_cmp,
        "common_epoch": last,
        "sides_at_common_epoch": sides_common,
        "ltbound_minus_reference_at_common_epoch":
            compare(sides_common["ltbound"], sides_common["reference"], seed_sd) if all(sides_common.values()) else None,
        "per_epoch_means": [{"epoch": e, **{s: side_summary(rs, e)["mean"] for s, rs in by_side.items()}}
                            for e in range(1, last + 1)],
    }
    return result


def table(result: dict) -> str:
    """The docs table: one row per run (final epoch), then each side's mean and the difference."""
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}"      # noqa: E731
    sec = lambda v: "-" if v is None else f"{v:.0f}"              # noqa: E731
    lines = ["| side | seed | epochs | balanced acc. (95% interval) | many | medium | best epoch (acc.) "
             "| train s/epoch | eval s/epoch | CPU s/epoch | CPU s train + eval |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    cpu_split = lambda t: (f"{t['median_cpu_train']:.0f} + {t['median_cpu_eval']:.0f}" if t.get("median_cpu_train")  # noqa: E731
                           else f"≈{t['median_cpu_train_estimated']:.0f} + ≈{t['median_cpu_eval_estimated']:.0f}"
                           if t.get("median_cpu_train_estimated") else "-")
    for r in result["runs"]:
        f, t = r.get("final"), r["seconds_per_epoch"]
        if f is None:
            continue
        lo, hi = f["balanced_acc_95"]
        lines.append(f"| {r['side']} | {r['seed']} | {r['epochs_done']}/{r['epochs_planned']} | {pct(f['balanced_acc'])} | "
                     f"({pct(lo)}, {pct(hi)}) | {pct(f['many'])} | {pct(f['medium'])} | "
                     f"{r['best_epoch']['epoch']} ({pct(r['best_epoch']['balanced_acc'])}) | "
                     f"{sec(t['median_train_wall'])} | {sec(t['median_eval_wall'])} | {sec(t['median_cpu_train_plus_eval'])} | "
                     f"{cpu_split(t)} |")
    lines[0] = lines[0].replace("balanced acc. (95% interval)", "balanced acc. | 95% interval")
    lines[1] = "|---|---|---|---|---|---|---|---|---|---|---|---|"
    runs = [r for r in result["runs"] if r["per_epoch"]]
    if runs:
        lines += ["", "| epoch | lr (end of epoch) | " + " | ".join(f"{r['side']} s{r['seed']}" for r in runs) + " |",
                  "|---|---|" + "---|" * len(runs)]
        for e in range(1, max(r["epochs_done"] for r in runs) + 1):
            lr = next(x["lr"] for r in runs for x in r["per_epoch"] if x["epoch"] == e)
            cells = [next((pct(x["balanced_acc"]) for x in r["per_epoch"] if x["epoch"] == e), "") for r in runs]
            lines.append(f"| {e} | {lr:.3g} | " + " | ".join(cells) + " |")
    final = result.get("ltbound_minus_reference")
    for key in ("ltbound_minus_reference", "ltbound_minus_reference_at_common_epoch"):
        d = result.get(key)
        if key.endswith("common_epoch") and final and d and d["epoch"] == final["epoch"]:
            continue              # every run complete: the last common epoch is the final one, said above
        if d:
            lines.append("")
            lines.append(f"ltbound - reference at epoch {d['epoch']} (seeds {d['seeds']['ltbound']} vs "
                         f"{d['seeds']['reference']}): {100 * d['difference']:+.1f} points, standard error "
                         f"{100 * d['standard_error']:.1f} ({'exceeds' if d['exceeds_uncertainty'] else 'within'} "
                         f"its uncertainty{_spread_words(d, result)})")
    staged = [r for r in runs if r.get("final_stage")]
    if staged:
        lines.append("")
        lines.append("final stage, mean over its epochs (sd over epochs): " + "; ".join(
            f"{r['side']} s{r['seed']} (epochs {r['final_stage']['epochs'][0]}-{r['final_stage']['epochs'][1]}) "
            f"{pct(r['final_stage']['mean'])} ({pct(r['final_stage']['sd_over_epochs'])}), many "
            f"{pct(r['final_stage']['many_mean'])}, medium {pct(r['final_stage']['medium_mean'])}" for r in staged))
    sides = {s: [r for r in staged if r["side"] == s] for s in ("ltbound", "reference")}
    if len(sides["ltbound"]) == 1 and len(sides["reference"]) == 1:
        c = curves(sides["ltbound"][0], sides["reference"][0])
        if c:
            (eb, db), (ea, da) = c["largest_before"], c["largest_in_final_stage"]
            lines.append(f"ltbound - reference per epoch: before epoch {c['final_stage_first']} at most "
                         f"{100 * db:+.1f} points (epoch {eb}), the lead changing {c['lead_changes_before']} times; "
                         f"in the final stage at most {100 * da:+.1f} (epoch {ea})")
    d = result.get("ltbound_minus_reference_final_stage")
    if d:
        span = lambda eps: ", ".join(f"{a}-{b}" for a, b in eps)      # noqa: E731
        lines.append("")
        lines.append(f"ltbound - reference, mean over the final stage (epochs {span(d['epochs']['ltbound'])} vs "
                     f"{span(d['epochs']['reference'])}): {100 * d['difference']:+.1f} points, standard error "
                     f"{100 * d['standard_error']:.1f} ({'exceeds' if d['exceeds_uncertainty'] else 'within'} "
                     f"its uncertainty{_spread_words(d, result)})")
    return "\n".join(lines)


def _spread_words(d: dict, result: dict) -> str:
    kind = d.get("seed_spread", "measured" if d["seed_spread_measured"] else "not measured")
    if kind == "borrowed":
        b = result["seed_spread_borrowed"]
        return (f"; seed spread borrowed from the {b['epochs_there']}-epoch recipe: "
                f"{100 * b['sd']:.1f} points per run")
    return "" if kind == "measured" else "; seed spread not measured"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("probe", help="record torch, CPU kernel capability and CPU model of this machine")
    p.add_argument("--out", type=Path, required=True)
    b = sub.add_parser("build", help="build results.json from the two sides' outputs")
    b.add_argument("--ltbound", nargs="+", required=True, help="ltbound.train run folders")
    b.add_argument("--reference", nargs="+", required=True, help="reference --root_log folders")
    b.add_argument("--environment", type=Path, help="the probe's JSON, written on the training machine")
    b.add_argument("--cpu-monitor", type=Path, help="tab-separated CPU-time samples taken during the runs")
    b.add_argument("--ltbound-commit", default=None, help="commit of ltbound the runs used")
    b.add_argument("--how-run", default=None, help="how the runs shared the machine (free text)")
    b.add_argument("--seed-spread-from", type=Path, default=None, metavar="RESULTS",
                   help="with one seed per side: borrow the seed spread of another results file of this comparison")
    b.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("table", help="print the docs table of a results file")
    t.add_argument("results", type=Path)
    ns = ap.parse_args(argv)
    if ns.command == "probe":
        probe(ns.out)
        return 0
    if ns.command == "table":
        print(table(json.loads(ns.results.read_text())))
        return 0
    result = build(ns)
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text(json.dumps(result, indent=1) + "\n")
    for key, dkey in (("sides", "ltbound_minus_reference"), ("sides_at_common_epoch",
                                                            "ltbound_minus_reference_at_common_epoch")):
        s, d = result[key], result[dkey]
        for side in ("ltbound", "reference"):
            if s[side]:
                print(f"{side:>9}: epoch {s[side]['epoch']}, seeds {s[side]['seeds']}, balanced acc "
                      + ", ".join(f"{a:.4f}" for a in s[side]["balanced_acc"]) + f" (mean {s[side]['mean']:.4f})")
        if d:
            print(f"ltbound - reference at epoch {d['epoch']}: {d['difference']:+.4f} (standard error "
                  f"{d['standard_error']:.4f}; {'exceeds' if d['exceeds_uncertainty'] else 'within'} its uncertainty"
                  f"{_spread_words(d, result)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
