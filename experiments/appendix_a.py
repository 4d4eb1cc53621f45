"""Appendix A of the Switching paper on real run records: class size vs irregularity (Eq. 8-13).

The paper trains ResNet-32 on CIFAR-10-LT (imbalance 50) 10 times for 200 epochs, averages
each sample's events over the runs, and reports per class the F-norm of the covariance of
the (L, F) points (Eq. 10, 11) and the irregularity I_j = F-norm / n_j (Eq. 12) in Table 12,
with a Pearson coefficient (Eq. 13) of -0.6112 between n_j and I_j. This script does the
same on run records written by ``python -m ltbound.train``:

    python experiments/appendix_a.py --records RUN [RUN ...] --out OUTDIR [--allow-incomplete]
    python experiments/appendix_a.py --records RUN ... --balanced-records BAL ... --out OUTDIR

* Training set: cumulative learned events L (Eq. 9) and forgetting events F (Eq. 8) of
  every sample, averaged over the runs (:func:`ltbound.regularity.events.averaged_events`), then
  Eq. 10-12 per class, beside Table 12's published F-norm and irregularity.
* Test set: the same on cumulative generalized and mal-generalizing events (App. A.1;
  Fig. 9). The paper publishes no numbers for it, only the figure.
* Eq. 13 between the *training* counts n_j and the irregularity of each set, beside the
  published -0.6112. With only 10 classes a coefficient of that size can arise by chance,
  so the Spearman rank coefficient and permutation p-values (exact when C! is at most
  ``--permutations``, else seeded random permutations) are given for every coefficient,
  the published one included.

Writes OUTDIR/appendix_a.json (every number, the provenance of each record) and, with
matplotlib, OUTDIR/fig7_train_events.png and OUTDIR/fig9_test_events.png
(:func:`ltbound.regularity.plots.plot_events`).

Figs. 8 and 10 show the *same samples* learned on the balanced CIFAR-10. They are drawn
only when records of a balanced run are given with ``--balanced-records``: each long-tailed
training sample is found in the balanced run through ``train_indices`` (positions in the
source training set; labels must agree sample by sample), and the test sets must have the
same labels in the same order (the record keeps no test indices, so this is all that can be
checked). Without them, the output says that Figs. 8 and 10 are not drawn.

Assumptions: all records given to one flag share their split (same ``train_indices``, same
test labels) and their number of completed epochs E; events are counted over those E epochs
(acc^0 := 0, a never-correct sample has L = F = 0; see :mod:`ltbound.regularity.events`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ltbound._outputs import add_overwrite_flag, refuse_existing
from ltbound._table import format_table
from ltbound.records import RecordError, json_default, load_record
from ltbound.regularity.correlation import correlation_test
from ltbound.regularity.events import averaged_events, class_irregularity, match_samples
from ltbound.regularity.paper_table import table12
from ltbound.regularity.plots import plot_events

#: What App. A.2 averages: 10 ResNet-32 runs of 200 epochs.
PAPER_RUNS, PAPER_EPOCHS = 10, 200
NO_BALANCED = ("Figs. 8 and 10 (the same samples learned on the balanced CIFAR-10) are not drawn: "
               "no balanced run was given (--balanced-records)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="appendix_a.py",
        description=("Appendix A of the Switching paper on run records: per-class F-norm and irregularity "
                     "(Eq. 10-12) of run-averaged training and test events (Eq. 8, 9), their Pearson "
                     "coefficient with the class counts (Eq. 13) beside Table 12, with Spearman and "
                     "permutation p-values."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--records", nargs="+", required=True, metavar="DIR",
                   help="run records of the long-tailed runs (same split and epochs); events are averaged over them")
    p.add_argument("--out", required=True, metavar="OUTDIR", help="folder for appendix_a.json and the figures")
    add_overwrite_flag(p)
    p.add_argument("--allow-incomplete", action="store_true",
                   help="also use records whose run has not finished (status running); events then cover "
                        "only the completed epochs")
    p.add_argument("--balanced-records", nargs="+", default=None, metavar="DIR",
                   help="records of runs on the balanced data set holding the same samples (Figs. 8 and 10)")
    p.add_argument("--permutations", type=int, default=100_000, metavar="B",
                   help="random permutations for the p-values (all C! permutations when C! <= B)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random permutations (numpy Generator)")
    return p


# ----------------------------------------------------------------------------- input
def load_runs(parser: argparse.ArgumentParser, folders: list[str], flag: str, allow_incomplete: bool) -> list:
    """Load and verify records (hashes, shapes: :func:`load_record`); refuse what cannot be used."""
    runs = []
    if len({Path(f).resolve() for f in folders}) < len(folders):
        parser.error(f"{flag}: a record is given twice; each run must count once in the average")
    for folder in folders:
        if not (Path(folder) / "manifest.json").is_file():
            parser.error(f"{flag}: {folder} is not a run record folder (no manifest.json there)")
        try:
            rec = load_record(folder)
        except RecordError as e:
            parser.error(f"{flag}: {e}")
        if rec.train_correct.shape[0] == 0:
            parser.error(f"{flag}: {folder} has no completed epoch; there are no events to count")
        if not rec.complete and not allow_incomplete:
            planned = rec.epochs_planned
            parser.error(f"{flag}: {folder} is incomplete (status {rec.status}, {rec.train_correct.shape[0]} of "
                         f"{planned} epochs); pass --allow-incomplete to count events over the completed epochs")
        runs.append(rec)
    return runs


def provenance(rec) -> dict:
    """Where a record's numbers come from: device, epochs, preset, data set, run."""
    env = rec.manifest.get("environment") or {}
    src = rec.source
    return {"path": str(rec.path), "label": rec.label, "seed": rec.seed, "status": rec.status,
            "epochs_completed": int(rec.train_correct.shape[0]), "epochs_planned": rec.epochs_planned,
            "preset": rec.preset, "device": env.get("device"), "device_name": env.get("device_name"),
            "dataset": src.get("dataset"), "imbalance": src.get("imbalance"), "model": src.get("model"),
            "split_hash": src.get("split_hash")}


def averaged(parser: argparse.ArgumentParser, runs: list, flag: str, which: str) -> tuple[np.ndarray, np.ndarray]:
    """Run-averaged (L, F) of the training or test samples; a mismatch is a one-line error."""
    try:
        return averaged_events(runs, which)
    except ValueError as e:
        parser.error(f"{flag}: {e}")


# ----------------------------------------------------------------------------- numbers
def set_statistics(learned: np.ndarray, forgotten: np.ndarray, labels: np.ndarray, num_classes: int,
                   train_counts: np.ndarray, a: argparse.Namespace) -> dict:
    """Eq. 10-12 per class, and Eq. 13 (with Spearman, p-values) against the training counts."""
    stats = class_irregularity(learned, forgotten, labels, num_classes)             # Eq. 10-12
    try:
        corr = correlation_test(train_counts, stats.irregularity,                    # Eq. 13
                                num_permutations=a.permutations, seed=a.seed).to_dict()
    except ValueError as e:   # constant irregularity or counts (e.g. a balanced split): undefined
        corr = {"undefined": str(e)}
    return {**stats.to_dict(), "correlation": corr}


def balanced_statistics(parser: argparse.ArgumentParser, lt: object, bal_runs: list, counts: np.ndarray,
                        a: argparse.Namespace) -> tuple[dict, tuple, tuple]:
    """Eq. 8-13 of the long-tailed run's samples as learned by the balanced runs (Figs. 8, 10)."""
    flag = "--balanced-records"
    ref = bal_runs[0]
    if lt.source.get("dataset") and ref.source.get("dataset") and lt.source["dataset"] != ref.source["dataset"]:
        parser.error(f"{flag}: the balanced runs use data set {ref.source['dataset']}, the long-tailed ones "
                     f"{lt.source['dataset']}; they must share the source data set")
    try:
        pos = match_samples(lt.train_indices, ref.train_indices)
    except ValueError as e:
        parser.error(f"{flag}: the long-tailed training samples are not all in the balanced run ({e})")
    if not np.array_equal(ref.train_labels[pos], lt.train_labels):
        parser.error(f"{flag}: matched samples have other labels in the balanced run; not the same source data")
    if not np.array_equal(ref.test_labels, lt.test_labels):
        parser.error(f"{flag}: the balanced runs have another test set (test_labels differ)")
    tl, tf = averaged(parser, bal_runs, flag, "train")
    sl, sf = averaged(parser, bal_runs, flag, "test")
    train_ev = (tl[pos], tf[pos])
    test_ev = (sl, sf)
    out = {"records": [provenance(r) for r in bal_runs], "num_runs": len(bal_runs),
           "num_epochs": int(ref.train_correct.shape[0]),
           "train": set_statistics(*train_ev, lt.train_labels, lt.num_classes, counts, a),
           "test": set_statistics(*test_ev, lt.test_labels, lt.num_classes, counts, a)}
    return out, train_ev, test_ev


def published_statistics(a: argparse.Namespace) -> dict:
    """Table 12 as published, with the same significance test on its (n_j, I_j) columns."""
    pub = table12()
    corr = correlation_test(pub.cardinality, pub.irregularity, num_permutations=a.permutations, seed=a.seed)
    return {**pub.to_dict(), "correlation": corr.to_dict()}


# ----------------------------------------------------------------------------- report
def _p(p: float) -> str:
    """A p-value in 8 characters; small ones in scientific notation rather than 0.0000."""
    return f"{p:>8.4f}" if p >= 1e-3 else f"{p:>8.1e}"


def _corr_row(name: str, corr: dict) -> list[str]:
    if "undefined" in corr:
        return [name, "undefined", "", "", "", "", ""]
    return [name, f"{corr['pearson']:+.4f}", _p(corr['p_pearson']), _p(corr['p_pearson_negative']),
            f"{corr['spearman']:+.4f}", _p(corr['p_spearman']), _p(corr['p_spearman_negative'])]


def _provenance_line(p: dict) -> str:
    return (f"  {p['path']}: {p['label']} seed {p['seed']}, {p['status']} ({p['epochs_completed']} of "
            f"{p['epochs_planned']} epochs), device {p['device']} ({p['device_name']}), preset {p['preset']}, "
            f"{p['dataset']} imbalance {p['imbalance']}, {p['model']}")


def report(res: dict) -> str:
    """The printed summary: provenance, per-class tables, Eq. 13 with significance."""
    pub = res["published"]
    lines = [f"Appendix A on {res['num_runs']} run(s), events counted over E = {res['num_epochs']} epochs "
             f"(paper: {PAPER_RUNS} runs averaged, {PAPER_EPOCHS} epochs)"]
    bal = res["balanced"]
    lines += [_provenance_line(p) for p in res["records"]]
    if bal:
        lines.append(f"Balanced run(s) holding the same samples (Figs. 8, 10): {bal['num_runs']}, "
                     f"E = {bal['num_epochs']} epochs")
        lines += [_provenance_line(p) for p in bal["records"]]
    tr, te = res["train"], res["test"]
    show_pub = len(tr["cardinality"]) == len(pub["cardinality"])
    head, widths = ["class", "n_j", "F-norm", "irreg"], [5, 6, 10, 8]
    if show_pub:
        head, widths = head + ["|", "Table 12: n_j", "F-norm", "irreg"], widths + [1, 13, 10, 8]
    if bal:
        head, widths = head + ["|", "balanced F-norm", "irreg"], widths + [1, 15, 8]
    rows = []
    for j, n in enumerate(tr["cardinality"]):
        row = [j, n, f"{tr['frobenius'][j]:.4f}", f"{tr['irregularity'][j]:.4f}"]
        if show_pub:
            row += ["|", pub["cardinality"][j], f"{pub['frobenius'][j]:.4f}", f"{pub['irregularity'][j]:.4f}"]
        if bal:
            row += ["|", f"{bal['train']['frobenius'][j]:.4f}", f"{bal['train']['irregularity'][j]:.4f}"]
        rows.append(row)
    lines += ["", "Training set: learned L (Eq. 9), forgetting F (Eq. 8); F-norm (Eq. 11), irregularity (Eq. 12)",
              format_table(rows, head, align="r", sep=" ", rule=None, min_widths=widths)]
    head, widths = ["class", "n_train", "n_test", "F-norm", "irreg"], [5, 7, 6, 10, 8]
    if bal:
        head, widths = head + ["|", "balanced F-norm", "irreg"], widths + [1, 15, 8]
    rows = []
    for j, n in enumerate(te["cardinality"]):
        row = [j, tr["cardinality"][j], n, f"{te['frobenius'][j]:.4f}", f"{te['irregularity'][j]:.4f}"]
        if bal:
            row += ["|", f"{bal['test']['frobenius'][j]:.4f}", f"{bal['test']['irregularity'][j]:.4f}"]
        rows.append(row)
    lines += ["", "Test set: generalized and mal-generalizing events (App. A.1; Fig. 9); the paper gives no numbers",
              format_table(rows, head, align="r", sep=" ", rule=None, min_widths=widths)]
    perm = res["published"]["correlation"]
    how = (f"exact over all {perm['num_permutations']} permutations" if perm["exact"]
           else f"{perm['num_permutations']} random permutations, seed {perm['seed']}, "
                f"smallest possible p {1 / (perm['num_permutations'] + 1):.1e}")
    named = [("train (this run)" if res["num_runs"] == 1 else "train (averaged runs)", tr["correlation"]),
             ("test", te["correlation"])]
    if bal:
        named += [("balanced, train", bal["train"]["correlation"]), ("balanced, test", bal["test"]["correlation"])]
    named.append(("paper Table 12 (train)", pub["correlation"]))
    rows = [_corr_row(name, corr) for name, corr in named]
    rows[-1].append(f"  [published {pub['pearson']}]")
    lines += ["", f"Eq. 13 against the training counts n_j, C = {len(tr['cardinality'])} classes "
                  f"(p-values: {how}; p(<=) is one-sided for a negative sign)",
              format_table(rows, ["", "Pearson", "p", "p(<=)", "Spearman", "p", "p(<=)", ""], align="lrrrrrrl",
                           sep=" ", rule=None, min_widths=(24, 8, 8, 8, 9, 8, 8), rstrip=True)]
    lines += [f"  {name}: undefined ({corr['undefined']})" for name, corr in named if "undefined" in corr]
    lines += [""] + [f"Note: {n}" for n in res["notes"]]
    figs = ", ".join(f"{k}: {v}" for k, v in res["figures"].items() if v)
    lines.append(f"Wrote {res['json']}" + (f"; figures {figs}" if figs else ""))
    return "\n".join(lines)


#: the files this script writes into --out (the balanced-run figures only with --balanced-records)
OUTPUT_NAMES = ("appendix_a.json", "fig7_train_events.png", "fig8_balanced_train_events.png",
                "fig9_test_events.png", "fig10_balanced_test_events.png")


def figures(out: Path, train_ev: tuple, test_ev: tuple, lt, bal_ev: tuple | None, notes: list) -> dict:
    """Figs. 7 and 9 (and 8, 10 with balanced runs) with plot_events; none without matplotlib."""
    wanted = {"fig7": ("fig7_train_events.png", train_ev, lt.train_labels, "Fig. 7: training samples, long-tailed"),
              "fig9": ("fig9_test_events.png", test_ev, lt.test_labels, "Fig. 9: test samples, long-tailed")}
    if bal_ev is not None:
        wanted["fig8"] = ("fig8_balanced_train_events.png", bal_ev[0], lt.train_labels,
                          "Fig. 8: the same training samples, balanced run")
        wanted["fig10"] = ("fig10_balanced_test_events.png", bal_ev[1], lt.test_labels,
                           "Fig. 10: test samples, balanced run")
    made = {"fig7": None, "fig8": None, "fig9": None, "fig10": None}
    for key, (name, (l, f), labels, title) in wanted.items():
        try:
            made[key] = str(plot_events(l, f, labels, lt.num_classes, out / name, title=title))
        except ImportError as e:
            notes.append(f"figures not drawn: {e}")
            break
    return made


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.permutations < 1:
        parser.error(f"--permutations must be >= 1, got {a.permutations}")
    if a.seed < 0:
        parser.error(f"--seed must be >= 0, got {a.seed}")
    out = Path(a.out)
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out} exists and is not a folder")
    refuse_existing(parser, "--out", [out / name for name in OUTPUT_NAMES], a.overwrite)
    runs = load_runs(parser, a.records, "--records", a.allow_incomplete)
    bal_runs = load_runs(parser, a.balanced_records, "--balanced-records", a.allow_incomplete) \
        if a.balanced_records else None
    lt = runs[0]
    counts = lt.counts
    train_ev = averaged(parser, runs, "--records", "train")     # Eq. 8, 9 averaged over runs
    test_ev = averaged(parser, runs, "--records", "test")
    try:
        train = set_statistics(*train_ev, lt.train_labels, lt.num_classes, counts, a)
        test = set_statistics(*test_ev, lt.test_labels, lt.num_classes, counts, a)
    except ValueError as e:   # e.g. a class with no test sample
        parser.error(f"--records: {e}")
    notes = []
    balanced, bal_ev = None, None
    if bal_runs:
        try:
            balanced, bal_train, bal_test = balanced_statistics(parser, lt, bal_runs, counts, a)
            bal_ev = (bal_train, bal_test)
        except ValueError as e:
            parser.error(f"--balanced-records: {e}")
    else:
        notes.append(NO_BALANCED)
    published = published_statistics(a)
    if counts.tolist() != published["cardinality"]:
        notes.append(f"the records' class counts {counts.tolist()} are not Table 12's {published['cardinality']}")
    if len({r.label for r in runs}) > 1:
        notes.append(f"runs of different schedules are averaged: {sorted({r.label for r in runs})}")
    if any(not r.complete for r in runs + (bal_runs or [])):
        notes.append("some records are incomplete (--allow-incomplete): events cover only their completed epochs")
    out.mkdir(parents=True, exist_ok=True)
    res = {"command": ["python", "experiments/appendix_a.py", *(argv if argv is not None else sys.argv[1:])],
           "records": [provenance(r) for r in runs], "num_runs": len(runs),
           "num_epochs": int(lt.train_correct.shape[0]), "paper": {"runs": PAPER_RUNS, "epochs": PAPER_EPOCHS},
           "permutations": a.permutations, "seed": a.seed, "train": train, "test": test,
           "published": published, "balanced": balanced, "notes": notes}
    res["figures"] = figures(out, train_ev, test_ev, lt, bal_ev, notes)
    res["json"] = str(out / "appendix_a.json")
    (out / "appendix_a.json").write_text(json.dumps(res, indent=1, default=json_default) + "\n")
    print(report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
