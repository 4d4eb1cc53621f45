"""What bf16 evaluation changes in a run record: per-sample losses, correctness, accuracies and bounds vs float32.

Issue 33 allows the record's per-sample evaluation in bf16 (``--eval-precision bf16``, about
half the evaluation time on a CPU with native bf16 kernels) if it is shown what it changes. This
takes a real run record evaluated in float32 (the default) with its checkpoints, and
re-evaluates each checkpoint exactly as the trainer's bf16 path does
(:func:`ltbound.train.loop.evaluation.per_sample_losses` with bf16 autocast, the record's evaluation
batch, channels-last), on every training image and every test image, then stores the result
as a record would (float16) and compares it with the record's float32 numbers:

* per-sample cross-entropy: largest and median absolute difference (nats), largest and
  median relative difference |Δ| / loss over samples with loss >= 0.01 nats, 99th percentiles;
* correctness bits that flip (training and test);
* training accuracy and balanced test accuracy both ways;
* :func:`ltbound.estimate_bounds` (Eq. 6 / Eq. 7 with p = IB, target-prior bound), on the
  loss matrix over the checkpoints (one row per checkpoint, θ = the last), for the 0-1 loss
  (M = 1) and the cross-entropy (observed range): the bound totals both ways, their difference,
  and the Monte Carlo standard error each states (the same sign draws serve both, seed 0).

First, a float32 re-evaluation of the last checkpoint's first ``--check`` training images
must give the recorded losses bitwise (the record is what the float32 path writes; the
comparison is with it).

    python -m ltbound.train --dataset cifar10-lt --data-dir DIR --schedule ib --epochs 5 \
        --warmup-epochs 1 --milestones 4 --checkpoint-epochs all --out RUN
    OMP_NUM_THREADS=1 python benchmarks/eval_precision.py RUN --data-dir DIR \
        --out benchmarks/results/eval_precision.txt
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's ltbound

import torch  # noqa: E402

from ltbound import estimate_bounds  # noqa: E402
from ltbound.records import load_record  # noqa: E402
from ltbound.train.data.datasets import load_dataset  # noqa: E402
from ltbound.train.loop.evaluation import per_sample_losses  # noqa: E402
from ltbound.train.loop.models import build_model  # noqa: E402
from ltbound.train.loss_matrices.theta import load_state_dict  # noqa: E402


#: the tolerance tests/test_eval_precision.py pins on a small CNN: |Δ loss| <= TOL_ABS + TOL_REL * loss
TOL_ABS, TOL_REL = 0.02, 0.05


def balanced_accuracy(correct: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes of the per-class accuracy (classes without a sample left out)."""
    c = int(labels.max()) + 1
    hits = np.bincount(labels, weights=correct.astype(np.float64), minlength=c)
    n = np.bincount(labels, minlength=c)
    return float(np.mean(hits[n > 0] / n[n > 0]))


def accuracy_se(correct: np.ndarray, labels: np.ndarray | None) -> float:
    """Binomial standard error of an accuracy (labels None) or of a balanced accuracy (mean of per-class ones)."""
    if labels is None:
        a = float(correct.mean())
        return float(np.sqrt(a * (1 - a) / correct.size))
    c = int(labels.max()) + 1
    n = np.bincount(labels, minlength=c)
    acc = np.bincount(labels, weights=correct.astype(np.float64), minlength=c) / np.maximum(n, 1)
    keep = n > 0
    return float(np.sqrt(np.sum(acc[keep] * (1 - acc[keep]) / n[keep])) / keep.sum())


def loss_stats(a: np.ndarray, b: np.ndarray) -> dict:
    """Differences of per-sample losses b vs a (both (n,) nats): absolute, and relative where a >= 0.01."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    d = np.abs(b64 - a64)
    big = a64 >= 0.01
    rel = d[big] / a64[big]
    return {"of_tolerance": float((d / (TOL_ABS + TOL_REL * a64)).max()),"max_abs": float(d.max()), "median_abs": float(np.median(d)), "p99_abs": float(np.quantile(d, 0.99)),
            "max_rel": float(rel.max()), "median_rel": float(np.median(rel)), "p99_rel": float(np.quantile(rel, 0.99)),
            "max_abs_at_loss": float(a64[int(d.argmax())]), "mean_signed": float((b64 - a64).mean())}


def bounds(losses: np.ndarray, labels: np.ndarray, *, zero_one: bool) -> dict:
    """Bound totals (Eq. 6, Eq. 7 with p = IB, target prior) and the Rademacher term's MC standard error."""
    kw = dict(loss_range=1.0) if zero_one else dict(loss_range=None, empirical_range=True)
    r = estimate_bounds(losses, labels, "IB", theta_index=-1, seed=0, **kw)   # θ = the last checkpoint
    out = {}
    for key, res in (("ib", r.ib), ("sampling", r.sampling), ("target", r.target)):
        terms = {t.name: t.value for t in res.terms}
        rad = next(t for t in res.terms if t.name == "rademacher")
        out[key] = {"total": res.total, "terms": terms, "rademacher_std_error": rad.error,
                    # what the bound itself allows for the sample it was computed from: its
                    # McDiarmid confidence term plus its Monte Carlo deviation term
                    "allowance": terms.get("confidence", 0.0) + terms.get("monte_carlo", 0.0)}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a float32-evaluated run record with checkpoints (--checkpoint-epochs all)")
    p.add_argument("--data-dir", default=None,
                   help="the run's data (default: the recorded data_dir; the split is checked against the record)")
    p.add_argument("--epochs", default=None, help="comma list of checkpoint epochs (default: all)")
    p.add_argument("--check", type=int, default=256, help="images of the bitwise float32 re-evaluation check")
    p.add_argument("--out", default=None, help="write the report here (and the numbers as .json beside it)")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="keep each checkpoint's bf16 evaluation here and reuse it (a run still training: "
                        "evaluate its first checkpoints now, the rest later)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    rec = load_record(a.run)
    m = rec.manifest
    env, cfg = m["environment"], m["config"]
    if env.get("eval_precision", "float32") != "float32":
        p.error(f"{a.run} was evaluated in {env['eval_precision']}; this compares against a float32 record")
    epochs = sorted(int(e) for e in (a.epochs.split(",") if a.epochs else m["checkpoint_epochs"]))
    ds = load_dataset(cfg["dataset"], data_dir=a.data_dir or cfg.get("data_dir"), imbalance=cfg["imbalance"],
                      split_seed=cfg.get("split_seed", 0), max_test_per_class=cfg.get("max_test_per_class"))
    if not np.array_equal(np.asarray(ds.train.indices), rec.train_indices):
        p.error("the data set does not give the record's training split")
    mean, std = ds.mean, ds.std
    batch, cl = int(env["eval_batch_size"]), bool(env["channels_last"])
    net = build_model(cfg["model"], ds.num_classes, in_channels=int(ds.train.images.shape[1]))
    net = net.to(memory_format=torch.channels_last) if cl else net
    row = {int(e): i for i, e in enumerate(rec.epochs)}
    tr_labels, te_labels = rec.train_labels, rec.test_labels

    def evaluate(images, labels, dtype):
        loss, correct = per_sample_losses(net, images, labels, mean=mean, std=std, batch_size=batch,
                                          autocast_dtype=dtype, channels_last=cl)
        return loss.numpy().astype(np.float16), correct.numpy()      # stored as a record stores them

    # the record is the float32 path's output: check it bitwise on a slice of the last checkpoint
    net.load_state_dict(load_state_dict(Path(a.run) / "checkpoints" / f"epoch_{epochs[-1]:04d}.pt"))
    k = min(a.check, rec.n)
    l32, c32 = evaluate(ds.train.images[:k], ds.train.labels[:k], None)
    check_ok = bool(np.array_equal(l32, rec.train_loss[row[epochs[-1]], :k])
                    and np.array_equal(c32, rec.train_correct[row[epochs[-1]], :k]))
    per_epoch, bf = {}, {"train_loss": [], "train_correct": [], "test_loss": [], "test_correct": []}
    for e in epochs:
        cached = Path(a.cache) / f"bf16_epoch_{e:04d}.npz" if a.cache else None
        if cached is not None and cached.is_file():
            z = np.load(cached)
            trl, trc, tel, tec = z["train_loss"], z["train_correct"], z["test_loss"], z["test_correct"]
        else:
            net.load_state_dict(load_state_dict(Path(a.run) / "checkpoints" / f"epoch_{e:04d}.pt"))
            trl, trc = evaluate(ds.train.images, ds.train.labels, torch.bfloat16)
            tel, tec = evaluate(ds.test.images, ds.test.labels, torch.bfloat16)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                np.savez(cached, train_loss=trl, train_correct=trc, test_loss=tel, test_correct=tec)
        for key, v in (("train_loss", trl), ("train_correct", trc), ("test_loss", tel), ("test_correct", tec)):
            bf[key].append(v)
        i = row[e]
        per_epoch[e] = {
            "train_loss": loss_stats(rec.train_loss[i], trl), "test_loss": loss_stats(rec.test_loss[i], tel),
            "train_flips": int((trc != rec.train_correct[i]).sum()), "test_flips": int((tec != rec.test_correct[i]).sum()),
            "train_acc": [float(rec.train_correct[i].mean()), float(trc.mean())],
            "test_balanced_acc": [balanced_accuracy(rec.test_correct[i], te_labels), balanced_accuracy(tec, te_labels)],
            "train_acc_se": accuracy_se(rec.train_correct[i], None),
            "test_balanced_acc_se": accuracy_se(rec.test_correct[i], te_labels)}
        print(f"epoch {e}: {json.dumps(per_epoch[e])}", flush=True)
    rows = [row[e] for e in epochs]
    bound = {}
    for name, f32, b16, zero_one in (
            ("0-1 loss", 1.0 - rec.train_correct[rows].astype(np.float32),
             1.0 - np.stack(bf["train_correct"]).astype(np.float32), True),
            ("cross-entropy", rec.train_loss[rows].astype(np.float32), np.stack(bf["train_loss"]).astype(np.float32),
             False)):
        bound[name] = {"float32": bounds(f32, tr_labels, zero_one=zero_one),
                       "bf16": bounds(b16, tr_labels, zero_one=zero_one)}
    text = report(a, rec, epochs, k, check_ok, per_epoch, bound)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")
        Path(a.out).with_suffix(".json").write_text(json.dumps(
            {"check_ok": check_ok, "per_epoch": per_epoch, "bounds": bound}, indent=1) + "\n")
    return 0 if check_ok else 1


def report(a, rec, epochs, k, check_ok, per_epoch, bound) -> str:
    m = rec.manifest
    env, cfg = m["environment"], m["config"]
    lines = [f"# benchmarks/eval_precision.py ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}): bf16 (autocast) vs "
             "float32 per-sample evaluation on real checkpoints",
             f"# run: {cfg['dataset']} imbalance {cfg['imbalance']:g}, {cfg['model']}, schedule {cfg['schedule']}, "
             f"{cfg['epochs']} epochs (lr {cfg['lr']:g}, warm-up {cfg['warmup_epochs']}, milestones {cfg['milestones']}), "
             f"trained with amp={env['amp']}; n = {rec.n} training, {rec.test_labels.size} test images",
             f"# evaluation as the trainer's: batch {env['eval_batch_size']}, channels-last {env['channels_last']}, "
             f"{env.get('cpu_capability')} ({env.get('cpu_model')}), torch {torch.__version__}; both stored as float16 "
             "(as in a record)",
             f"# float32 re-evaluation of the last checkpoint's first {k} training images equals the record bitwise: "
             f"{check_ok}", "",
             "| epoch | split | max abs Δ loss (at loss) | median abs Δ | p99 abs Δ | max rel Δ | median rel Δ | "
             "p99 rel Δ | mean signed Δ | flipped correct | accuracy fp32 → bf16 (Δ; binomial SE) |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in epochs:
        s = per_epoch[e]
        for split, acc in (("train", "train_acc"), ("test", "test_balanced_acc")):
            d = s[f"{split}_loss"]
            n_split = rec.n if split == "train" else rec.test_labels.size
            lines.append(f"| {e} | {split} | {d['max_abs']:.4f} ({d['max_abs_at_loss']:.2f}) | {d['median_abs']:.5f} | "
                         f"{d['p99_abs']:.4f} | {100 * d['max_rel']:.2f}% | {100 * d['median_rel']:.3f}% | "
                         f"{100 * d['p99_rel']:.2f}% | {d['mean_signed']:+.5f} | {s[f'{split}_flips']} of {n_split} | "
                         f"{'balanced ' if split == 'test' else ''}{s[acc][0]:.4f} → {s[acc][1]:.4f} "
                         f"(Δ {s[acc][1] - s[acc][0]:+.4f}; SE {s[acc + '_se']:.4f}) |")
    worst = max(max(per_epoch[e]["train_loss"]["of_tolerance"], per_epoch[e]["test_loss"]["of_tolerance"])
                for e in epochs)
    lines += ["", f"# largest |Δ loss| / ({TOL_ABS} + {TOL_REL} * loss) over every sample and epoch: {worst:.2f} "
              "(<= 1: within the tolerance tests/test_eval_precision.py pins on a small CNN)"]
    lines += ["", "# relative Δ over samples with float32 loss >= 0.01 nats. Bounds: loss matrix over the checkpoints "
              f"{epochs} (θ = epoch {epochs[-1]}), p = IB, delta 0.05, seed 0 (the same sign draws both ways); "
              "MC SE = the Rademacher term's Monte Carlo standard error",
              "# allowance = the bound's confidence (McDiarmid) + Monte Carlo terms, what it charges for the sample; "
              "Δ objective = the change of the empirical (weighted) risk term",
              "", "| loss | bound | float32 total | bf16 total | Δ total | Δ objective | Δ Rademacher (MC SE) | "
              "allowance | abs Δ total / allowance |", "|---|---|---|---|---|---|---|---|---|"]
    for name, b in bound.items():
        for key, label in (("ib", "Eq. 6 (IB)"), ("sampling", "Eq. 7, p = IB"), ("target", "target prior")):
            f, h = b["float32"][key], b["bf16"][key]
            d = h["total"] - f["total"]
            d_obj = h["terms"]["objective"] - f["terms"]["objective"]
            d_rad = h["terms"]["rademacher"] - f["terms"]["rademacher"]
            lines.append(f"| {name} | {label} | {f['total']:.5f} | {h['total']:.5f} | {d:+.5f} | {d_obj:+.5f} | "
                         f"{d_rad:+.6f} ({f['rademacher_std_error']:.5f}) | {f['allowance']:.4f} | "
                         f"{abs(d) / f['allowance']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
