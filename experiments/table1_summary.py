"""Compact CIFAR-LT run records and put their balanced test accuracy beside the paper's Table 1.

    python experiments/table1_summary.py --runs RUN_DIR... --records experiments/records --json OUT.json

Each run folder (written by ``python -m ltbound.train``) is compacted into
``RECORDS/<run name>/`` (one ``record.npz`` + ``manifest.json``: final-stage losses as float16,
correctness of every epoch as bits) and summarised: final balanced test accuracy overall and
per shot group, wall time, device. The paper's numbers (Table 1, ResNet-32, CIFAR-10-LT) are
quoted beside them; this copy of CIFAR-10 is JPEG-compressed (quality 75), so accuracies are
close to, not identical with, runs on the original files.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ltbound.records import compact_record, load_record
from ltbound.sampling import shot_group_means

#: Table 1 of the paper, top-1 accuracy (%) of ResNet-32 on CIFAR-10-LT:
#: "Cross Entropy*" (IB only, reproduced by the authors) and "Ours (S = 1)" (Switching).
PAPER_TABLE1 = {("cifar10-lt", 100, "ib"): 73.1, ("cifar10-lt", 100, "switching"): 79.7,
                ("cifar10-lt", 50, "ib"): 77.9, ("cifar10-lt", 50, "switching"): 82.9,
                ("cifar10-lt", 10, "ib"): 86.4, ("cifar10-lt", 10, "switching"): 88.4}


def summarise(run_dir: Path) -> dict:
    rec = load_record(run_dir)
    src = rec.source
    acc = rec.per_class_test_accuracy()[-1]
    groups = shot_group_means(acc, rec.counts)
    key = (str(src.get("dataset")), int(round(float(src.get("imbalance") or 0))), rec.label)
    return {"run": run_dir.name, "dataset": key[0], "imbalance": key[1], "schedule": key[2],
            "seed": rec.seed, "epochs": int(rec.epochs[-1]) if rec.epochs.size else 0,
            "complete": rec.complete, "balanced_test_accuracy": float(acc.mean()), "groups": groups,
            "paper_accuracy": PAPER_TABLE1.get(key), "wall_seconds": rec.manifest.get("timings", {}).get("total_seconds"),
            "device": rec.manifest.get("environment", {}).get("device")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="+", required=True, help="run record folders")
    p.add_argument("--records", default="experiments/records", help="where compact records go")
    p.add_argument("--json", help="write the summary here too")
    a = p.parse_args(argv)
    rows = []
    for r in map(Path, a.runs):
        if not (r / "manifest.json").is_file():
            print(f"table1_summary.py: skipping {r}: not a run record", file=sys.stderr)
            continue
        if load_record(r).manifest.get("status") != "complete":
            print(f"table1_summary.py: skipping {r}: the run is not complete (continue it with --resume)",
                  file=sys.stderr)
            continue
        dst = Path(a.records) / r.name
        if not dst.exists():
            compact_record(r, dst)
        rows.append(summarise(r))
    print(f"{'run':32} {'ep':>4} {'bal.acc':>8} {'paper':>6} {'many':>6} {'med':>6} {'few':>6} {'wall s':>7}")
    for w in rows:
        g = w["groups"]
        f = lambda v: "   -  " if v is None else f"{100 * v:6.1f}"  # noqa: E731
        print(f"{w['run']:32} {w['epochs']:>4} {100 * w['balanced_test_accuracy']:8.1f} "
              f"{w['paper_accuracy'] if w['paper_accuracy'] is not None else '-':>6} {f(g['many'])} "
              f"{f(g['medium'])} {f(g['few'])} {w['wall_seconds'] or 0:7.0f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"runs": rows, "paper_table1": {f"{k[0]}-ib{k[1]}-{k[2]}": v
                                                                          for k, v in PAPER_TABLE1.items()}},
                                           indent=1) + "\n")
    return 0 if rows else 2


if __name__ == "__main__":
    sys.exit(main())
