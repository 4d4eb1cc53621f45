"""Throughput of the loss-matrix path (ltbound.train.loss_matrices.bridge) with a real ResNet-32 on real CIFAR-10 images.

Measures images per second *per model* (samples x models / seconds) of
:func:`ltbound.train.loss_matrices.bridge.data_loss_matrix` for three ways a user hands over the data:

* ``tensor-uint8``: one uint8 tensor in memory, ``pixels='uint8'``;
* ``loader-totensor``: torchvision ``ImageFolder`` + ``ToTensor()`` in a ``DataLoader``
  (JPEG decoding inside the measured time), ``pixels='unit'``;
* ``perturb``: :func:`ltbound.train.loss_matrices.bridge.model_loss_matrix` with ``k`` perturbations of the
  model (``k + 1`` models, the data read once);
* ``bare-forward``: the floor, ``net(x)`` under ``no_grad`` on pre-normalised float batches
  in memory, channels-last as the bridge runs it, nothing else.

The machine is shared, so wall time alone says little: each case also reports images per
CPU-second of this process (``time.process_time``) and its ratio to the floor measured in
the same run.

The images are the first ``--per-class`` training JPEGs of each class, extracted from the
archive into a temporary folder (not timed). Weights are random (seeded): speed does not
depend on them.

    python benchmarks/bench_loss_matrix.py --archive ../shared/data/cifar10-jpeg.tar.xz
    python benchmarks/bench_loss_matrix.py --archive ... --per-class 300 --batch-size 128 256 --k 4
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests._cifar_subset, run from anywhere
from tests._cifar_subset import extract_subset  # noqa: E402

from ltbound.train.loss_matrices.bridge import data_loss_matrix, model_loss_matrix  # noqa: E402
from ltbound.train.loop.models import resnet32  # noqa: E402

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", required=True, help="the CIFAR-10 JPEG archive (train/<class>/*.jpg inside)")
    ap.add_argument("--per-class", type=int, default=300, help="training images per class (default 300: 3,000)")
    ap.add_argument("--batch-size", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--k", type=int, default=4, help="perturbations of the 'perturb' case")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args(argv)
    from torchvision import datasets, transforms

    torch.manual_seed(0)
    net = resnet32(10)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = extract_subset(Path(a.archive), Path(tmp), train_per_class=a.per_class, test_per_class=0)
        folder = datasets.ImageFolder(root / "train", transforms.PILToTensor())
        images = torch.stack([folder[i][0] for i in range(len(folder))])
        labels = torch.tensor(folder.targets)
        n = labels.numel()
        for bs in a.batch_size:
            normed = ((images.float() / 255 - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None])

            def bare(bs=bs, normed=normed):
                cl = copy.deepcopy(net).eval().to(memory_format=torch.channels_last)   # as the bridge runs it
                with torch.no_grad():
                    for i in range(0, n, bs):
                        cl(normed[i:i + bs].contiguous(memory_format=torch.channels_last))

            cases = {
                "bare-forward": (1, bare),
                "tensor-uint8": (1, lambda: data_loss_matrix(net, (images, labels), pixels="uint8", mean=MEAN,
                                                             std=STD, batch_size=bs, device=a.device, progress=False)),
                "loader-totensor": (1, lambda: data_loss_matrix(
                    net, torch.utils.data.DataLoader(datasets.ImageFolder(root / "train", transforms.ToTensor()),
                                                     batch_size=bs),
                    pixels="unit", mean=MEAN, std=STD, device=a.device, progress=False)),
                "perturb": (a.k + 1, lambda: model_loss_matrix(net, (images, labels), k=a.k, radius=0.01, seed=0,
                                                               pixels="uint8", mean=MEAN, std=STD, batch_size=bs,
                                                               device=a.device, progress=False)),
            }
            floor = None
            for name, (models, fn) in cases.items():
                t0, c0 = time.perf_counter(), time.process_time()
                fn()
                dt, dc = time.perf_counter() - t0, time.process_time() - c0
                per_cpu = n * models / dc
                floor = per_cpu if name == "bare-forward" else floor
                rows.append({"case": name, "batch_size": bs, "images": n, "models": models, "seconds": round(dt, 2),
                             "cpu_seconds": round(dc, 2), "images_per_s_per_model": round(n * models / dt, 1),
                             "images_per_cpu_s_per_model": round(per_cpu, 1),
                             "vs_bare_forward": round(per_cpu / floor, 3)})
                print(f"{name:16s} batch {bs:4d}: {n} images x {models} models in {dt:6.2f} s wall, {dc:6.2f} s CPU = "
                      f"{n * models / dt:7.1f} img/s, {per_cpu:7.1f} img/CPU-s per model "
                      f"({per_cpu / floor:.2f}x the bare forward pass)", flush=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {a.device}")
    if a.json:
        Path(a.json).write_text(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                                            "device": a.device, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
