"""What each suspected cause of the gap to Table 1 costs, measured one factor at a time (issue 29).

Reads run records of one short recipe that differ in one factor each from a base run
(fp32 training on the JPEG archive): training precision (bf16), training images (the lossless
PNG archive: the same images, same split, same seed), and seeds. Every pair of runs is compared
image by image on the same test images (``ltbound.compare_on_test_set``: the balanced-accuracy
difference with its interval and exact McNemar p-value); for the data factor each model is also
scored on the other archive's test images (the 1,000 test images the PNG archive holds losslessly,
and their JPEG versions), so the comparison is paired on both test sets. Writes results.json and
table.txt.

    python experiments/gap_decomposition.py --base RUN_JPEG_FP32 --bf16 RUN_JPEG_BF16 \\
        --png RUN_PNG_FP32 --seed-runs RUN_JPEG_FP32_SEED1 ... \\
        --jpeg ../shared/data/cifar10-jpeg.tar.xz --png-data ../shared/data/cifar10-png.tar.xz --out OUT
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


#: the epoch at which every run is read (None: each run's last); set by main from --epoch
EPOCH: int | None = None


def _final_correct(rec) -> np.ndarray:
    """Per-image test correctness at :data:`EPOCH` (every run at the same epoch), else at the run's last."""
    if EPOCH is None:
        return np.asarray(rec.test_correct[-1], dtype=bool)
    where = np.flatnonzero(np.asarray(rec.epochs) == EPOCH)
    if where.size != 1:
        raise SystemExit(f"gap_decomposition.py: {rec.path} holds no epoch {EPOCH} (it has {int(rec.epochs[-1])}); "
                         "choose an --epoch every run has reached")
    return np.asarray(rec.test_correct[int(where[0])], dtype=bool)


def score_on(run: str, train_data_dir: str, test_set) -> np.ndarray:
    """Correctness of ``run``'s final model on ``test_set`` (its images and labels), fp32 as in records.

    The final model is the last checkpoint, or, for a run that kept none, the resume state's
    weights (``state.pt``), accepted only when they are those of the record's last epoch.
    """
    from pathlib import Path

    from ltbound.records import checkpoint_epochs, load_record
    from ltbound.train import load_dataset
    from ltbound.train.loss_matrices.bridge import record_model
    from ltbound.train.loop.evaluation import per_sample_losses
    from ltbound.train.loop.models import build_model
    from ltbound.train.runs.state import read_state
    rec = load_record(run)
    src = rec.source
    ds = load_dataset(src["dataset"], data_dir=train_data_dir, imbalance=src["imbalance"],
                      split_seed=src.get("split_seed") or 0, max_test_per_class=1)
    if checkpoint_epochs(run) and checkpoint_epochs(run)[-1] == int(rec.epochs[-1]):
        model, _ = record_model(run, dataset=ds)
    else:
        state = read_state(Path(run) / "state.pt")
        if int(state["epoch"]) != int(rec.epochs[-1]) or ds.split_hash != src.get("split_hash"):
            raise ValueError(f"{run}: its resume state is not the final model of its record (or other data)")
        model = build_model(src["model"], ds.num_classes, in_channels=int(ds.train.images.shape[1]))
        model.load_state_dict(state["model"])
        model.eval()
    _, correct = per_sample_losses(model, test_set.images, test_set.labels, mean=ds.mean, std=ds.std,
                                   batch_size=256)
    return correct.numpy().astype(bool)


def row(name: str, rec) -> dict:
    from ltbound import accuracy_intervals
    acc = accuracy_intervals(_final_correct(rec), rec.test_labels, train_counts=rec.counts, num_classes=rec.num_classes)
    e = int(rec.epochs[-1]) if EPOCH is None else EPOCH
    env = rec.manifest.get("environment", {})
    secs = [float(h.get("seconds") or 0) for h in rec.history]
    ev = [float(h.get("eval_seconds") or 0) for h in rec.history]
    return {"run": name, "record": str(rec.path), "data_dir": rec.manifest["config"].get("data_dir"),
            "amp": env.get("amp"), "seed": rec.seed, "epoch": e,
            "epochs_completed": int(rec.epochs[-1]), "epochs_planned": rec.manifest.get("epochs_planned"), "n_test": int(rec.test_labels.size),
            "balanced_accuracy": [float(v) for v in acc.balanced],
            "groups": {g: None if iv is None else float(iv[0]) for g, iv in acc.groups.items()},
            "train_seconds_median": float(np.median(secs)), "eval_seconds_median": float(np.median(ev)),
            "cpu_capability": env.get("cpu_capability")}


def paired(name: str, a: np.ndarray, b: np.ndarray, labels: np.ndarray, what: str) -> dict:
    from ltbound import compare_on_test_set
    pc = compare_on_test_set(a, b, labels, seed=0)
    return {"comparison": name, "test_set": what, "difference": float(pc.difference),
            "interval": [float(pc.low), float(pc.high)], "p_value": float(pc.p_value),
            "verdict": pc.verdict, "n_test": int(labels.size)}


def against_seed_spread(factor: str, factor_pairs: list[dict], seed_pairs: list[dict]) -> dict:
    """Whether a factor's effect is detectable and larger than what changing the seed alone does.

    ``factor_pairs``: :func:`paired` results with the factor on minus off, one per seed;
    ``seed_pairs``: :func:`paired` results of runs that differ only in the seed, on the same test
    set. A McNemar test on one pair of models says whether the two *models* differ on these test
    images; whether the *factor* matters needs the seed-to-seed spread too. With one or two seeds
    no test has useful power, so the rule is descriptive and strict:

    - "not detectable": the two models of some factor pair are not told apart (McNemar p ≥ 0.05);
    - "beyond the seed spread": every factor difference is detectable, all have the same sign, and
      each is larger in size than every seed difference;
    - "within the seed spread": detectable, but not larger than a seed difference;
    - "seed spread not measured": detectable, no seed pair given.
    """
    if not factor_pairs:
        raise ValueError("factor_pairs is empty: give at least one comparison with the factor on and off")
    f = [float(c["difference"]) for c in factor_pairs]
    s = [float(c["difference"]) for c in seed_pairs]
    # the comparison's own verdict (exact McNemar p < 0.05), so this agrees with the printed pair lines
    detectable = [c["verdict"] in ("better", "worse") for c in factor_pairs]
    same_sign = all(v > 0 for v in f) or all(v < 0 for v in f)
    if not all(detectable):
        verdict = "not detectable"
    elif not s:
        verdict = "seed spread not measured"
    elif same_sign and min(abs(v) for v in f) > max(abs(v) for v in s):
        verdict = "beyond the seed spread"
    else:
        verdict = "within the seed spread"
    return {"factor": factor, "factor_differences": f, "factor_detectable": detectable,
            "seed_differences": s, "verdict": verdict, "seed_pairs": len(s)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gap_decomposition.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="record: fp32, JPEG archive, seed 0")
    p.add_argument("--bf16", help="record: as --base, bf16 autocast training")
    p.add_argument("--png", help="record: as --base, trained on the lossless PNG archive (its 1,000 test images)")
    p.add_argument("--seed-runs", nargs="*", default=[], help="records: as --base, other seeds")
    p.add_argument("--png-seed-runs", nargs="*", default=[],
                   help="records: as --png, other seeds (each paired with the --seed-runs run of its seed)")
    p.add_argument("--jpeg", required=True, help="the JPEG archive (--base's data)")
    p.add_argument("--png-data", help="the PNG archive (--png's data)")
    p.add_argument("--epoch", type=int, default=None,
                   help="read every run at this epoch (runs still training: their last common epoch); the "
                        "cross-archive scoring of final models then needs each model at that epoch and is skipped")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    global EPOCH
    EPOCH = a.epoch
    from ltbound.records import load_record
    from ltbound.train import load_dataset

    out = Path(a.out)
    if (out / "results.json").exists():
        p.error(f"--out {out} already holds results.json; choose a new folder")
    base = load_record(a.base)
    rows, pairs = [row("base (fp32, JPEG, seed 0)", base)], []
    y = base.test_labels
    if a.bf16:
        r = load_record(a.bf16)
        rows.append(row("bf16 training", r))
        pairs.append(paired("bf16 - fp32 (training precision)", _final_correct(r), _final_correct(base), y, "JPEG 10,000"))
    for i, s in enumerate(a.seed_runs):
        r = load_record(s)
        rows.append(row(f"seed {r.seed}", r))
        pairs.append(paired(f"seed {r.seed} - seed {base.seed}", _final_correct(r), _final_correct(base), y, "JPEG 10,000"))
    if a.png:
        r = load_record(a.png)
        rows.append(row("PNG training (lossless)", r))
        kw = dict(imbalance=float(base.source["imbalance"]), split_seed=int(base.source["split_seed"]))
        jpeg_ds, png_ds = load_dataset("cifar10-lt", data_dir=a.jpeg, **kw), load_dataset("cifar10-lt", data_dir=a.png_data, **kw)
        # the PNG archive's test images are the first n_j JPEG test images of each class: same images, lossless
        idx = _png_test_in_jpeg(jpeg_ds, png_ds)
        yp = png_ds.test.labels.numpy()
        if not np.array_equal(y[idx], yp):
            raise SystemExit("gap_decomposition.py: the PNG test images do not map onto the JPEG test set by class")
        # the whole pipeline: trained and tested on lossless pixels, against trained and tested on JPEG
        pairs.append(paired("PNG pipeline - JPEG pipeline (each trained and tested on its own archive)",
                            _final_correct(r), _final_correct(base)[idx], yp, "the same 1,000 test images"))
    spread = []
    if a.png:
        seeds_jpeg = {rj.seed: rj for rj in map(load_record, a.seed_runs)}
        data_pairs = [pairs[-1]]                     # the PNG - JPEG pipeline pair just above
        seed_pairs_1000 = []
        for sd, rj in seeds_jpeg.items():
            c = paired(f"seed {sd} - seed {base.seed} (JPEG pipeline)", _final_correct(rj)[idx], _final_correct(base)[idx],
                       yp, "JPEG versions of the 1,000")
            pairs.append(c)
            seed_pairs_1000.append(c)
        png_seed_recs = {ps: load_record(ps) for ps in a.png_seed_runs}    # read and verified once
        for ps, rp in png_seed_recs.items():
            rows.append(row(f"PNG training, seed {rp.seed}", rp))
            c = paired(f"seed {rp.seed} - seed {r.seed} (PNG pipeline)", _final_correct(rp), _final_correct(r), yp,
                       "lossless 1,000")
            pairs.append(c)
            seed_pairs_1000.append(c)
            if rp.seed in seeds_jpeg:
                c = paired(f"PNG pipeline - JPEG pipeline, seed {rp.seed}", _final_correct(rp),
                           _final_correct(seeds_jpeg[rp.seed])[idx], yp, "the same 1,000 test images")
                pairs.append(c)
                data_pairs.append(c)
        spread.append(against_seed_spread("data pipeline (PNG vs JPEG, each tested on its own archive)",
                                          data_pairs, seed_pairs_1000))
    if a.bf16:
        spread.insert(0, against_seed_spread("training precision (bf16 vs fp32)", [pairs[0]],
                                             [c for c in pairs if c["comparison"].startswith("seed ")
                                              and c["test_set"] == "JPEG 10,000"]))
    if a.png and EPOCH is None:
        png_on_jpeg = score_on(a.png, a.png_data, jpeg_ds.test)
        pairs.append(paired("PNG-trained - JPEG-trained", png_on_jpeg, _final_correct(base), y, "JPEG 10,000"))
        # The training images alone, on the largest test set: every model scored on the 10,000 JPEG test images.
        train_pairs, train_seed_pairs = [pairs[-1]], [c for c in pairs if c["test_set"] == "JPEG 10,000"
                                                      and c["comparison"].startswith("seed ")]
        for ps, rp in png_seed_recs.items():
            if rp.seed not in seeds_jpeg:
                continue
            other = score_on(ps, a.png_data, jpeg_ds.test)
            c = paired(f"PNG-trained - JPEG-trained, seed {rp.seed}", other, _final_correct(seeds_jpeg[rp.seed]), y,
                       "JPEG 10,000")
            pairs.append(c)
            train_pairs.append(c)
            c = paired(f"seed {rp.seed} - seed {r.seed} (PNG-trained)", other, png_on_jpeg, y, "JPEG 10,000")
            pairs.append(c)
            train_seed_pairs.append(c)
        spread.append(against_seed_spread("training images (PNG vs JPEG), every model tested on the JPEG 10,000",
                                          train_pairs, train_seed_pairs))
        jpeg_on_png = score_on(a.base, a.jpeg, png_ds.test)
        pairs.append(paired("PNG-trained - JPEG-trained", _final_correct(r), jpeg_on_png, yp, "lossless 1,000"))
        pairs.append(paired("JPEG-trained: lossless - JPEG versions of the same 1,000 test images", jpeg_on_png,
                            _final_correct(base)[idx], yp, "1,000 (both forms)"))
    doc = {"epoch": EPOCH, "rows": rows, "pairs": pairs, "against_seed_spread": spread, "command": ["python", "experiments/gap_decomposition.py", *sys.argv[1:]]}
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    text = table(doc)
    (out / "table.txt").write_text(text + "\n")
    print(text)
    return 0


def _png_test_in_jpeg(jpeg_ds, png_ds) -> np.ndarray:
    """Positions in the JPEG test set of the PNG archive's test images (the first n_j of each class)."""
    yj = jpeg_ds.test.labels.numpy()
    yp = png_ds.test.labels.numpy()
    idx = []
    for c in range(int(yj.max()) + 1):
        idx.extend(np.flatnonzero(yj == c)[: int((yp == c).sum())].tolist())
    order = np.argsort(np.concatenate([np.flatnonzero(yp == c) for c in range(int(yp.max()) + 1)]), kind="stable")
    return np.asarray(idx)[order]


def table(doc: dict) -> str:
    lines = [f"every run read at epoch {doc['epoch']} (runs still training: their last common epoch)" if doc.get("epoch")
             else "every run read at its last epoch",
             "run                          balanced acc (95%)        many   medium  few    train s/ep  eval s/ep  test n",
             "---------------------------  ------------------------  -----  ------  -----  ----------  ---------  ------"]
    for r in doc["rows"]:
        b, g = r["balanced_accuracy"], r["groups"]
        f = lambda v: "  -  " if v is None else f"{100 * v:5.1f}"   # noqa: E731
        lines.append(f"{r['run']:27}  {100 * b[0]:5.1f} ({100 * b[1]:5.1f}, {100 * b[2]:5.1f})     {f(g.get('many'))}  "
                     f"{f(g.get('medium'))}   {f(g.get('few'))}  {r['train_seconds_median']:10.1f}  "
                     f"{r['eval_seconds_median']:9.1f}  {r['n_test']:6d}")
    lines.append("")
    lines.append("paired on the same test images (balanced-accuracy difference, 95% interval, exact McNemar / randomization p):")
    for c in doc["pairs"]:
        lines.append(f"  {c['comparison']} [{c['test_set']}]: {100 * c['difference']:+.1f} points "
                     f"[{100 * c['interval'][0]:+.1f}, {100 * c['interval'][1]:+.1f}], p = {c['p_value']:.3g} -> {c['verdict']}")
    if doc.get("against_seed_spread"):
        lines.append("")
        lines.append("each factor against the seed spread (differences of runs that differ only in the seed, same test set):")
        for v in doc["against_seed_spread"]:
            fd = ", ".join(f"{100 * d:+.1f}" for d in v["factor_differences"])
            sd = ", ".join(f"{100 * d:+.1f}" for d in v["seed_differences"]) or "none"
            lines.append(f"  {v['factor']}: factor {fd} points; seed {sd} -> {v['verdict']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
