"""Training throughput: the trainer's device-resident pipeline against a torchvision-style reference.

Both runs go through :func:`ltbound.train.train` with the same data, model, batch size,
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

Usage (from the repository root, with ltbound importable: ``pip install -e .``)::

    python benchmarks/bench_trainer.py                       # synthetic CIFAR-shaped data
    python benchmarks/bench_trainer.py --dataset cifar10-lt --data-dir ../shared/data/cifar10-jpeg.tar.xz
    python benchmarks/bench_trainer.py --device cuda --epochs 3 --json bench.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from ltbound.records import load_record
from ltbound.sampling import long_tailed_counts
from ltbound.train.data import ImageSplit, LTDataset, load_dataset, split_hash
from ltbound.train.trainer import TrainConfig, train


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
    args = p.parse_args(argv)

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
