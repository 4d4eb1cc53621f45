"""Training throughput: the trainer's pipelines, and its CPU settings before and after issue 10.

Two comparisons, each with its ratio measured in the same run:

1. (default) the device-resident pipeline against a torchvision-style reference. Both runs go through :func:`ltbound.train.train` with the same data, model, batch size,
sample stream (instance-balanced sampler, same seed) and epoch count; they differ only in
the pipeline:

* fast (``fast=True``): the uint8 data set lives on the device; each batch is one index
  gather, one vectorised crop+flip and one normalisation on the device; no host read inside
  an epoch; on CUDA also channels-last and bfloat16 autocast.
* reference (``fast=False``): a ``Dataset`` returning PIL images through
  ``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip``, ``ToTensor``, ``Normalize``, a
  ``DataLoader`` with ``--workers`` worker processes, float32, contiguous (NCHW) memory.

Throughput is training images per second of the trainer's own per-epoch timing (the
evaluation after each epoch is not counted). With two or more epochs the first is left out
(warm-up: cuDNN autotuning, worker start-up, allocator growth).

2. ``--cpu-table``: the CPU settings before issue 10 ("old": float32 training, float32
   evaluation at batch 1024) against today's default ("new": bf16 autocast training where
   the CPU has native bf16 kernels, float32 evaluation at batch 128), both channels-last, on
   synthetic data and (with ``--data-dir``) on CIFAR-10-LT imbalance 100 from the JPEG
   archive. It times the trainer's own training step (``trainer._train_epoch`` on one batch
   of 64 from :class:`~ltbound.train.data.loader.DeviceLoader`, crop+flip) and its own per-sample
   evaluation (:func:`~ltbound.train.loop.evaluation.evaluate_splits` on 1,024 training images),
   the settings interleaved round by round in one process with alternating order, so that
   other load on the machine hits them alike; the seconds of a full CIFAR-10-LT(100) epoch
   (train 12,406 images + per-sample evaluation of 12,406 train + 10,000 test images) are
   extrapolated from the rates. ``--only-compile`` instead compares today's settings with
   ``torch.compile`` (inductor C++, cold cache) of the step and of the evaluation, and
   charges the compile time (including the recompile for an epoch's last, partial batch)
   over a 40-epoch run.

Usage (from the repository root, with ltbound importable: ``pip install -e .``)::

    python benchmarks/bench_trainer.py                       # synthetic CIFAR-shaped data
    python benchmarks/bench_trainer.py --dataset cifar10-lt --data-dir ../shared/data/cifar10-jpeg.tar.xz
    python benchmarks/bench_trainer.py --device cuda --epochs 3 --json bench.json
    python benchmarks/bench_trainer.py --cpu-table --data-dir ../shared/data/cifar10-jpeg.tar.xz \
        --out benchmarks/results/trainer_cpu.txt
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ltbound._table import format_table
from ltbound.records import load_record
from ltbound.bounds.sampling import long_tailed_counts
from ltbound.train.data.datasets import ImageSplit, LTDataset, load_dataset, split_hash
from ltbound.train.loop.config import DEFAULT_EVAL_BATCH
from ltbound.train.loop.environment import cpu_bf16_supported, cpu_name
from ltbound.train.loop.trainer import TrainConfig, train

#: A full CIFAR-10-LT epoch at imbalance 100: images trained, and images evaluated per sample
#: (the whole training set and the 10,000 test images) for the record.
FULL_TRAIN, FULL_TEST = 12406, 10000
#: Run length over which a compile time is charged (the issue's "realistic run").
COMPILE_EPOCHS = 40


def synthetic_cifar_lt(n_train: int, *, imbalance: float = 100.0, n_test: int = 200, seed: int = 0) -> LTDataset:
    """Random uint8 images of CIFAR's shape (3x32x32, 10 classes) with CIFAR-10-LT class proportions.

    The per-class counts follow the CIFAR-LT protocol (Eq. of :func:`long_tailed_counts`)
    scaled so that they sum to about ``n_train``; pixel values carry no signal (throughput only).
    """
    base = long_tailed_counts(5000, 10, imbalance)
    counts = np.maximum(1, np.round(base * n_train / base.sum())).astype(np.int64)
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(10), counts)
    x = rng.integers(0, 256, size=(y.size, 3, 32, 32), dtype=np.uint8)
    ty = np.repeat(np.arange(10), max(1, n_test // 10))
    tx = rng.integers(0, 256, size=(ty.size, 3, 32, 32), dtype=np.uint8)
    idx = np.arange(y.size, dtype=np.int64)
    return LTDataset(
        name="synthetic-cifar10-lt", num_classes=10, class_names=[str(j) for j in range(10)],
        train=ImageSplit(torch.from_numpy(x), torch.from_numpy(y), idx),
        test=ImageSplit(torch.from_numpy(tx), torch.from_numpy(ty), np.arange(ty.size, dtype=np.int64)),
        counts=counts, imbalance=float(counts.max() / counts.min()), split_hash=split_hash(idx),
        mean=(0.5, 0.5, 0.5), std=(0.29, 0.29, 0.29), augment="crop-flip", default_model="resnet32")


def _epoch_rates(record_dir: Path) -> list[float]:
    """Training images/s of each epoch of a record, leaving out the first when there are several."""
    hist = load_record(record_dir).history
    steady = hist[1:] if len(hist) > 1 else hist
    return [h["samples"] / h["seconds"] for h in steady]


def _summary(rates: list[float]) -> dict:
    return {"best_images_per_second": max(rates), "median_images_per_second": float(np.median(rates)),
            "epoch_images_per_second": [round(r, 2) for r in rates]}


# ============================================================================ CPU table
def cpu_settings() -> dict:
    """The CPU settings compared (all channels-last, the fast pipeline, the trainer's own step and evaluation)."""
    bf16 = cpu_bf16_supported()
    return {"old": dict(bf16=False, eval_batch=1024, compile=False),        # before issue 10
            "new": dict(bf16=bf16, eval_batch=DEFAULT_EVAL_BATCH["cpu"], compile=False),   # today's default
            "new+compile": dict(bf16=bf16, eval_batch=DEFAULT_EVAL_BATCH["cpu"], compile=True)}


class _NoBar:
    def update(self, n: int) -> None:
        pass


class _Variant:
    """One setting: a ResNet-32 with its optimiser; times one training step or one evaluation."""

    def __init__(self, ds: LTDataset, bf16: bool, eval_batch: int, compile: bool):
        from ltbound.train.loop.models import build_model
        torch.manual_seed(0)
        self.model = build_model("resnet32", ds.num_classes).to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9, weight_decay=2e-4)
        self.net = torch.compile(self.model) if compile else self.model
        self.amp = torch.bfloat16 if bf16 else None
        self.eval_batch = eval_batch
        self.mean = torch.as_tensor(np.asarray(ds.mean, dtype=np.float32))
        self.std = torch.as_tensor(np.asarray(ds.std, dtype=np.float32))

    def train_step(self, x, y) -> float:
        from ltbound.train.loop.trainer import _train_epoch    # the trainer's own step
        t0 = time.perf_counter()
        _train_epoch(self.net, self.optimizer, [(x, y)], [0.01], self.amp, torch.device("cpu"), _NoBar())
        return time.perf_counter() - t0

    def evaluate(self, images, labels) -> float:
        from ltbound.train.loop import distributed as D
        from ltbound.train.loop.evaluation import evaluate_splits
        t0 = time.perf_counter()
        evaluate_splits(self.net, [(images, labels)], D.DistInfo(), mean=self.mean, std=self.std,
                        batch_size=self.eval_batch, device=torch.device("cpu"), channels_last=True)
        return time.perf_counter() - t0


def measure_cpu(ds: LTDataset, names: list[str], steps: int, *, label: str) -> dict:
    """Interleaved timings: step k of every setting runs back to back (order alternating), so load hits all alike.

    Returns, per setting, the seconds of each timed training step (batch 64, crop+flip) and of
    each per-sample evaluation of 1,024 training images, and the first calls' extra seconds
    (warm-up; with ``torch.compile`` the compilation, including the recompile for an epoch's
    last, partial batch: 12,406 = 193 x 64 + 54 and 96 x 128 + 118).
    """
    from ltbound.train.data.loader import DeviceLoader
    settings = cpu_settings()
    variants = {n: _Variant(ds, **settings[n]) for n in names}
    gen = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(ds.train), generator=gen)[: 64 * (steps + 2)]
    mean = torch.as_tensor(np.asarray(ds.mean, dtype=np.float32))
    std = torch.as_tensor(np.asarray(ds.std, dtype=np.float32))
    batches = list(DeviceLoader(ds.train.images, ds.train.labels, idx, 64, augment=True, generator=gen,
                                mean=mean, std=std, channels_last=True))
    ex, ey = ds.train.images[:1024], ds.train.labels[:1024]
    out = {n: {"train_s": [], "eval_s": [], "first_train_s": 0.0, "first_eval_s": 0.0} for n in names}
    for n, v in variants.items():            # warm-up / compile: a full and a partial batch each
        x, y = batches[-1]
        t_full, t_part = v.train_step(x, y), v.train_step(x[:54], y[:54])
        e_full, e_part = v.evaluate(ex, ey), v.evaluate(ex[:118], ey[:118])
        out[n]["first_train_s"], out[n]["first_eval_s"] = t_full + t_part, e_full + e_part
        print(f"{label} {n:>12}: first calls train {t_full:.1f}+{t_part:.1f} s, eval {e_full:.1f}+{e_part:.1f} s",
              flush=True)
    for k in range(steps):
        order = names if k % 2 == 0 else names[::-1]
        for n in order:
            out[n]["train_s"].append(variants[n].train_step(*batches[k]))
        for n in order:
            out[n]["eval_s"].append(variants[n].evaluate(ex, ey))
        print(f"{label} step {k + 1}/{steps}: " + ", ".join(
            f"{n} train {64 / out[n]['train_s'][-1]:.0f} eval {1024 / out[n]['eval_s'][-1]:.0f} img/s" for n in names),
            flush=True)
    return out


def _rates(m: dict, stat) -> tuple[float, float]:
    return 64 / stat(m["train_s"]), 1024 / stat(m["eval_s"])


def _epoch_seconds(train_ips: float, eval_ips: float) -> float:
    return FULL_TRAIN / train_ips + (FULL_TRAIN + FULL_TEST) / eval_ips


def cpu_table(args) -> int:
    # A cold inductor cache, so the compile time measured is what a first run pays.
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="ltbound-inductor-"))
    sources = {}
    if not args.only_compile:
        sources["synthetic"] = synthetic_cifar_lt(2048, n_test=100)
    if args.data_dir:
        t0 = time.perf_counter()
        sources["cifar10-lt(100)"] = load_dataset("cifar10-lt", data_dir=args.data_dir, imbalance=100)
        print(f"loaded CIFAR-10-LT(100) from {args.data_dir} in {time.perf_counter() - t0:.0f} s", flush=True)
    names = ["new", "new+compile"] if args.only_compile else ["old", "new"]
    results = {src: measure_cpu(ds, names, args.steps, label=src) for src, ds in sources.items()}
    report = format_cpu_table(results, args.steps)
    print(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(report + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


def format_cpu_table(results: dict, steps: int) -> str:
    load = os.getloadavg()
    settings = cpu_settings()
    lines = [f"# bench_trainer.py --cpu-table  ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
             f"# {cpu_name()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, native bf16 "
             f"kernels: {cpu_bf16_supported()}. Load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}:",
             ("# above the core count: the machine was shared with other jobs, so absolute rates are noisy;"
              if load[0] > (os.cpu_count() or 1) + 0.5 else "# at most the core count (this benchmark's own threads):"
              " a quiet machine;"),
             "# the settings ran interleaved step by step in one process (order alternating), so ratios compare like with like.",
             f"# ResNet-32, channels-last, the trainer's own training step (batch 64, crop+flip) and per-sample evaluation",
             f"# (1,024 training images per call); {steps} interleaved rounds after warm-up. 'best' = fastest round (least",
             "# disturbed by the load), 'median' = median round. Epoch s = a full CIFAR-10-LT(100) epoch with its record,",
             f"# extrapolated: {FULL_TRAIN:,} / train rate + {FULL_TRAIN + FULL_TEST:,} / eval rate.", ""]
    rows = []
    for src, by in results.items():
        base = {stat: _epoch_seconds(*_rates(by["old"], stat)) for stat in (min, np.median)} if "old" in by else None
        for n, m in by.items():
            st = settings[n]
            label = (f"{'bf16' if st['bf16'] else 'fp32'} train, fp32 eval batch {st['eval_batch']}"
                     + (", torch.compile" if st["compile"] else "") + (" (old)" if n == "old" else f" ({n})"))
            (tb, eb), (tm, em) = _rates(m, min), _rates(m, np.median)
            sb, sm = _epoch_seconds(tb, eb), _epoch_seconds(tm, em)
            ratio = "-" if base is None else f"{base[min] / sb:.2f}x ({base[np.median] / sm:.2f}x)"
            rows.append([src, label, f"{tb:.0f} ({tm:.0f})", f"{eb:.0f} ({em:.0f})", f"{sb:.0f} ({sm:.0f})", ratio])
    lines.append(format_table(rows, ["data", "setting", "train img/s best (median)", "eval img/s best (median)",
                                     "epoch s best (median)", "speed-up vs old best (median)"], style="markdown"))
    for src, by in results.items():
        if "new+compile" not in by:
            continue
        e, c = by["new"], by["new+compile"]
        lines.append("")
        for part, n_img, key, first in (("training", FULL_TRAIN, "train_s", "first_train_s"),
                                        ("evaluation", FULL_TRAIN + FULL_TEST, "eval_s", "first_eval_s")):
            per = 64 if part == "training" else 1024
            # compile = first calls beyond the eager model's own first calls
            compile_s = c[first] - e[first]
            eager = COMPILE_EPOCHS * n_img * float(np.median(e[key])) / per
            comp = compile_s + COMPILE_EPOCHS * n_img * float(np.median(c[key])) / per
            lines.append(f"# torch.compile, {part} ({src}): compile {compile_s:.0f} s; median "
                         f"{per / np.median(c[key]):.0f} vs {per / np.median(e[key]):.0f} img/s eager; over "
                         f"{COMPILE_EPOCHS} epochs {comp:.0f} s compiled vs {eager:.0f} s eager -> "
                         f"{'compile wins' if comp < eager else 'eager wins'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default=None, choices=("synthetic", "cifar10-lt"),
                   help="synthetic random CIFAR-shaped data (default without --data-dir) or cifar10-lt")
    p.add_argument("--data-dir", default=None, help="CIFAR-10 folder or archive for --dataset cifar10-lt")
    p.add_argument("--imbalance", type=float, default=100.0)
    p.add_argument("--n-train", type=int, default=None,
                   help="synthetic training images (default 512 on CPU, 12406 = CIFAR-10-LT(100) on CUDA)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (default 2 on CPU, 3 on CUDA; the first epoch of a run is not timed)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default 64, the paper's)")
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the reference pipeline")
    p.add_argument("--repeats", type=int, default=2,
                   help="runs of each pipeline, alternating their order (the best and the median epoch are "
                        "reported; the best is the least disturbed by other load on the machine)")
    p.add_argument("--compile", action="store_true", help="also torch.compile the fast pipeline's model")
    p.add_argument("--json", default=None, metavar="OUT", help="write the results as JSON")
    p.add_argument("--cpu-table", action="store_true",
                   help="instead: old vs new CPU settings and torch.compile, synthetic and (with --data-dir) real data")
    p.add_argument("--only-compile", action="store_true",
                   help="--cpu-table: torch.compile against eager (today's settings) instead of old against new")
    p.add_argument("--steps", type=int, default=16, help="--cpu-table: interleaved timed rounds per data set")
    p.add_argument("--out", default=None, help="--cpu-table: also write the table to this text file")
    args = p.parse_args(argv)
    if args.cpu_table:
        return cpu_table(args)

    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else (
        "cpu" if args.device == "auto" else args.device)
    on_cuda = device.startswith("cuda")
    epochs = args.epochs or (3 if on_cuda else 2)
    dataset_name = args.dataset or ("cifar10-lt" if args.data_dir else "synthetic")
    if dataset_name == "cifar10-lt":
        ds = load_dataset("cifar10-lt", data_dir=args.data_dir, imbalance=args.imbalance, max_test_per_class=20)
    else:
        ds = synthetic_cifar_lt(args.n_train or (12406 if on_cuda else 512), imbalance=args.imbalance)

    common = dict(schedule="ib", preset="cifar", epochs=epochs, batch_size=args.batch_size, milestones=[],
                  warmup_epochs=0, device=device, checkpoint_epochs="none", progress=False, workers=args.workers)
    rates: dict[str, list[float]] = {"fast": [], "reference": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(max(1, args.repeats)):
            order = ("fast", "reference") if r % 2 == 0 else ("reference", "fast")
            for name in order:
                fast = name == "fast"
                cfg = TrainConfig(out=Path(tmp) / f"{name}-{r}", fast=fast, compile=args.compile and fast, **common)
                print(f"--- {name} pipeline, run {r + 1}", flush=True)
                rates[name] += _epoch_rates(train(cfg, dataset=ds))
    results = {name: _summary(v) for name, v in rates.items()}
    best = results["fast"]["best_images_per_second"] / results["reference"]["best_images_per_second"]
    median = results["fast"]["median_images_per_second"] / results["reference"]["median_images_per_second"]
    dev_name = torch.cuda.get_device_name() if on_cuda else "cpu"
    summary = {"device": device, "device_name": dev_name, "torch": torch.__version__,
               "threads": torch.get_num_threads(), "dataset": ds.name, "n_train": len(ds.train),
               "batch_size": args.batch_size, "epochs": epochs, "repeats": args.repeats, "model": "resnet32",
               "reference_workers": args.workers, "fast": results["fast"], "reference": results["reference"],
               "speedup_best": best, "speedup_median": median}
    print(f"device {device} ({dev_name}), torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{ds.name}, n={len(ds.train)}, resnet32, batch {args.batch_size}, {epochs} epoch(s) x {args.repeats} runs")
    for name, label in (("fast", "fast pipeline:     "), ("reference", "reference pipeline:")):
        res = results[name]
        print(f"{label} best {res['best_images_per_second']:9.1f} images/s, "
              f"median {res['median_images_per_second']:9.1f} images/s")
    print(f"speed-up (fast / reference): best {best:.2f}x, median {median:.2f}x "
          f"(reference: DataLoader, PIL transforms, {args.workers} workers)")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
