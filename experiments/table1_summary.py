"""Compact CIFAR-LT run records and put their balanced test accuracy beside the paper's Table 1.

    python experiments/table1_summary.py --runs RUN_DIR... --records experiments/records --json OUT.json
    python experiments/table1_summary.py --compacted experiments/records/cifar10-lt-*/*    # summary only

Each complete run folder (written by ``python -m ltbound.train``) is compacted into
``RECORDS/<dataset>-<imbalance>/<schedule>-seed<seed>/`` (one ``record.npz`` + ``manifest.json``:
final-stage training losses as float16, correctness of every epoch as bits; the name comes
from the record, not from the run folder) and summarised *from the compact copy*, so the
printed numbers are those a clean clone computes: final balanced test accuracy with its 95%
interval (:func:`ltbound.statistics.heldout.accuracy_intervals`), many / medium / few groups, the best
epoch's accuracy, the recorded epoch times (training + evaluation: sum, fastest, median), and, per data set and imbalance, Switching against IB on the same test
images (:func:`ltbound.statistics.heldout.compare_on_test_set`: exact McNemar, paired bootstrap
interval; one run each, so a statement about these two models, not about the methods).
The paper's numbers (Table 1, ResNet-32, CIFAR-10-LT) are quoted beside them; this copy of
CIFAR-10 is JPEG-compressed (quality 75), so accuracies are close to, not identical with,
runs on the original files.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ltbound._outputs import add_overwrite_flag, refuse_existing, write_output
from ltbound._table import format_table
from ltbound.statistics.heldout import accuracy_intervals, compare_on_test_set
from ltbound.published import table1_accuracy
from ltbound.records import RecordError, check_same_test_set, compact_record, load_record

#: Table 1 of the paper, top-1 accuracy (%) of ResNet-32 on CIFAR-10-LT (ltbound.published):
#: "Cross Entropy*" (IB only, reproduced by the authors) and "Ours (S = 1)" (Switching).
PAPER_TABLE1 = {("cifar10-lt", imb, sch): table1_accuracy("cifar10-lt", imb, sch)
                for imb in (100, 50, 10) for sch in ("ib", "switching")}


def record_name(rec) -> Path:
    """``<dataset>-<imbalance>[-full][-png]/<schedule>-seed<seed>``: where a record goes under the records folder.

    Records of the paper's own recipe (preset ``cifar``, 200 epochs) go to ``...-full`` so that
    they sit beside, never over, the shortened (``cifar-short``) records of the same cell.
    """
    src = rec.source
    imb = src.get("imbalance")
    imb_text = "none" if imb is None else f"{float(imb):g}"
    full = "-full" if rec.preset == "cifar" else ""
    # Runs trained on the lossless PNG pixels sit beside, never over, the JPEG-trained records of a cell
    png = "-png" if _image_format(rec)["image_format"] == "png" else ""
    return Path(f"{src.get('dataset')}-{imb_text}{full}{png}") / f"{rec.label}-seed{rec.seed}"


def summarise(rec) -> dict:
    """One row of the table from a loaded (compact or full) record; accuracies as fractions."""
    src = rec.source
    key = (str(src.get("dataset")), int(round(float(src.get("imbalance") or 0))), rec.label)
    correct = rec.test_correct[-1]
    acc = accuracy_intervals(correct, rec.test_labels, train_counts=rec.counts, num_classes=rec.num_classes)
    epoch_s = [float(h.get("seconds") or 0) + float(h.get("eval_seconds") or 0) for h in rec.history]
    curve = rec.balanced_test_accuracy()
    best = int(np.argmax(curve))
    env = rec.manifest.get("environment", {})
    forked = rec.manifest.get("forked_from")
    return {"record": str(rec.path), "dataset": key[0], "imbalance": key[1], "schedule": key[2],
            "seed": rec.seed, "epochs": int(rec.epochs[-1]) if rec.epochs.size else 0,
            "preset": rec.preset, "complete": rec.complete,
            "balanced_test_accuracy": float(acc.balanced[0]), "balanced_low": float(acc.balanced[1]),
            "balanced_high": float(acc.balanced[2]),
            "groups": {g: (None if iv is None else float(iv[0])) for g, iv in acc.groups.items()},
            "per_class": [float(a) for a in rec.per_class_test_accuracy()[-1]],
            "paper_accuracy": PAPER_TABLE1.get(key),
            "best_balanced_test_accuracy": float(curve[best]), "best_epoch": int(rec.epochs[best]),
            "epoch_seconds_sum": sum(epoch_s), "epoch_seconds_fastest": min(epoch_s, default=0.0),
            "epoch_seconds_median": float(np.median(epoch_s)) if epoch_s else 0.0,
            "forked_from_epoch": None if not forked else forked.get("epoch"),
            "device": env.get("device"), "device_name": env.get("device_name"), "threads": env.get("torch_threads"),
            "amp": env.get("amp"), "torch": env.get("torch"),
            # None for records written before it was recorded (the 60- and 200-epoch CPU pairs: AVX-512 machines)
            "cpu_capability": env.get("cpu_capability"),
            # float32 unless the run asked for bf16 evaluation (docs/benchmarks.md: what that changes)
            "eval_precision": env.get("eval_precision") or "float32",
            **_image_format(rec)}


def _image_format(rec) -> dict:
    """``image_format`` of the training images and where it was read: the record's dataset field, or, for
    records written before the loader recorded it (the seed-0 CPU pairs), the name of the recorded archive
    (``cifar10-jpeg.tar.xz`` / ``cifar10-png.tar.xz``, the two of ../shared/data); None when neither says."""
    recorded = (rec.manifest.get("dataset") or {}).get("image_format")
    if recorded is not None:
        return {"image_format": recorded, "image_format_from": "record"}
    name = Path(str((rec.manifest.get("config") or {}).get("data_dir") or "")).name.lower()
    kinds = [k for k in ("jpeg", "png") if f"-{k}" in name]
    if len(kinds) == 1:
        return {"image_format": kinds[0], "image_format_from": f"archive name {name}"}
    return {"image_format": None, "image_format_from": None}


def seed_tests(rows: list[dict], alpha: float = 0.05) -> list[dict]:
    """Switching − IB over seeds, per data set, imbalance, recipe and image format with two seeds or more of both.

    Seeds are paired (each seed's Switching run forks that seed's IB run), so the interval is the paired
    t-interval of the per-seed differences (:func:`ltbound.statistics.heldout.compare_over_seeds`). The
    difference *exceeds its seed-to-seed spread* when that interval excludes 0. Also returned: each
    schedule's standard deviation over seeds, and whether the cell's records differ in evaluation
    precision (float32 / bf16: a provenance note, each run's numbers are still its own).
    """
    from ltbound.statistics.heldout import compare_over_seeds

    cells: dict = {}
    for w in rows:
        key = (w["dataset"], w["imbalance"], w["preset"], w.get("image_format"))
        cells.setdefault(key, {}).setdefault(w["schedule"], {})[w["seed"]] = w
    out = []
    for (ds, imb, preset, fmt), by in sorted(cells.items(), key=lambda kv: (str(kv[0][0]), -kv[0][1], str(kv[0][2]))):
        seeds = sorted(set(by.get("ib", {})) & set(by.get("switching", {})))
        if len(seeds) < 2:
            continue
        sw = [100 * by["switching"][k]["balanced_test_accuracy"] for k in seeds]
        ib = [100 * by["ib"][k]["balanced_test_accuracy"] for k in seeds]
        cmp = compare_over_seeds(sw, ib, alpha=alpha, paired=True)
        precisions = sorted({by[s][k]["eval_precision"] for s in ("ib", "switching") for k in seeds})
        out.append({"dataset": ds, "imbalance": imb, "preset": preset, "image_format": fmt, "seeds": seeds,
                    "switching": sw, "ib": ib, "per_seed_difference": [a - b for a, b in zip(sw, ib)],
                    "sd_switching": float(np.std(sw, ddof=1)), "sd_ib": float(np.std(ib, ddof=1)),
                    "exceeds_seed_spread": bool(cmp.low > 0 or cmp.high < 0), "eval_precisions": precisions,
                    **{f"mean_{k}": v for k, v in cmp.to_dict().items() if k in ("difference", "low", "high",
                                                                                "p_value", "verdict", "method")}})
    return out


def pair_tests(records: list) -> list[dict]:
    """Switching against IB on the same test images, for each data set and imbalance with both."""
    by_key: dict = {}
    for rec in records:
        src = rec.source
        # a pair is one recipe: a 60-epoch IB run is never tested against a 200-epoch Switching run
        by_key.setdefault((src.get("dataset"), src.get("imbalance"), rec.seed, rec.preset), {})[rec.label] = rec
    out = []
    for (ds, imb, seed, preset), recs in sorted(by_key.items(),
                                                key=lambda kv: (str(kv[0][0]), -float(kv[0][1] or 0), str(kv[0][3]))):
        if "ib" not in recs or "switching" not in recs:
            continue
        a, b = recs["switching"], recs["ib"]
        check_same_test_set(a, b)          # McNemar pairs the two models image by image
        pc = compare_on_test_set(a.test_correct[-1], b.test_correct[-1], a.test_labels, seed=0,
                                 num_classes=a.num_classes)
        out.append({"dataset": ds, "imbalance": imb, "seed": seed, "preset": preset, "comparison": "switching - ib",
                    **pc.to_dict()})
    return out


def _compact(run: Path, records_dir: Path) -> Path:
    rec = load_record(run)
    dst = records_dir / record_name(rec)
    if (dst / "manifest.json").exists():
        old = load_record(dst)
        if old.manifest.get("compacted_from") != run.name or old.epochs.tolist() != rec.epochs.tolist():
            raise RecordError(f"{dst} already holds another record (compacted from "
                              f"{old.manifest.get('compacted_from')!r}); move it away first")
        return dst
    return compact_record(run, dst)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="+", default=[], help="run record folders to compact and summarise")
    p.add_argument("--compacted", nargs="+", default=[], help="already compacted records to summarise")
    p.add_argument("--records", default="experiments/records", help="where compact records go")
    p.add_argument("--json", help="write the summary here too")
    add_overwrite_flag(p)
    a = p.parse_args(argv)
    if not a.runs and not a.compacted:
        p.error("give --runs (run folders to compact) or --compacted (compact records)")
    if a.json:
        refuse_existing(p, "--json", [a.json], a.overwrite)
    paths = []
    for r in map(Path, a.runs):
        if not (r / "manifest.json").is_file():
            print(f"table1_summary.py: skipping {r}: not a run record", file=sys.stderr)
            continue
        try:
            if load_record(r).manifest.get("status") != "complete":
                print(f"table1_summary.py: skipping {r}: the run is not complete (continue it with --resume)",
                      file=sys.stderr)
                continue
            paths.append(_compact(r, Path(a.records)))
        except RecordError as e:
            p.error(f"--runs: {e}")
    paths += [Path(c) for c in a.compacted]
    try:
        recs = [load_record(q) for q in paths]
    except RecordError as e:
        p.error(str(e))
    rows = [summarise(r) for r in recs]
    try:
        pairs = pair_tests(recs)
    except ValueError as e:
        p.error(str(e))
    f = lambda v: "-" if v is None else f"{100 * v:.1f}"  # noqa: E731
    table = [["/".join(Path(w["record"]).parts[-2:]), w["epochs"], f"{100 * w['balanced_test_accuracy']:.1f}",
              f"{100 * w['balanced_low']:.1f}-{100 * w['balanced_high']:.1f}",
              "-" if w["paper_accuracy"] is None else w["paper_accuracy"], f(w["groups"]["many"]),
              f(w["groups"]["medium"]), f(w["groups"]["few"]),
              f"{100 * w['best_balanced_test_accuracy']:.1f}@{w['best_epoch']}", f"{w['epoch_seconds_sum']:.0f}",
              f"{w['epoch_seconds_fastest']:.0f}", f"{w['epoch_seconds_median']:.0f}"] for w in rows]
    print(format_table(table, ["record", "ep", "bal.acc", "95% interval", "paper", "many", "med", "few", "best@ep",
                               "epoch s: sum", "fastest", "median"], align="lr", sep=" ", rule=None,
                       min_widths=(34,)))
    for q in pairs:
        print(f"{q['dataset']}({q['imbalance']:g}) {q['preset']} seed {q['seed']} Switching - IB: "
              f"{100 * q['difference']:+.1f} "
              f"points [{100 * q['low']:+.1f}, {100 * q['high']:+.1f}], {q['method']}, p = {q['p_value']:.2g} -> "
              f"{q['verdict']} (one run each: these two models)")
    seeds = seed_tests(rows)
    for q in seeds:
        per = ", ".join(f"{d:+.1f}" for d in q["per_seed_difference"])
        note = (f"; evaluation precision differs between runs ({' / '.join(q['eval_precisions'])})"
                if len(q["eval_precisions"]) > 1 else "")
        print(f"{q['dataset']}({q['imbalance']:g}) {q['preset']} over seeds {q['seeds']}: Switching - IB per seed "
              f"{per} points, mean {q['mean_difference']:+.1f} [{q['mean_low']:+.1f}, {q['mean_high']:+.1f}] "
              f"({q['mean_method']}), seed sd IB {q['sd_ib']:.1f}, Switching {q['sd_switching']:.1f} -> "
              + ("exceeds its seed-to-seed spread" if q["exceeds_seed_spread"] else
                 "within its seed-to-seed spread") + note)
    if a.json:
        doc = {"runs": rows, "switching_vs_ib": pairs, "switching_vs_ib_over_seeds": seeds,
               "paper_table1": {f"{k[0]}-ib{k[1]}-{k[2]}": v for k, v in PAPER_TABLE1.items()}}
        try:
            write_output(a.json, json.dumps(doc, indent=1) + "\n", "--json")
        except OSError as e:       # a full disk, a path under a file: one line, as the trainer's (status 1)
            print(f"table1_summary.py: error: {e}", file=sys.stderr)
            return 1
    return 0 if rows else 2


if __name__ == "__main__":
    sys.exit(main())
