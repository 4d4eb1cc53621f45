"""How fast the CPU epoch would have to compute to meet issue 33's targets, against what it computes now.

Counts the multiply-adds of the network's forward pass (forward hooks on every convolution and linear
layer, one 32x32 image), takes a training step as 3 forward passes' worth (forward, and a backward
pass of about twice the forward work: the gradients with respect to inputs and to weights) and an
evaluation as one, and turns the seconds that ``bench_epoch.py`` measured (its JSON) into the
arithmetic rate achieved, per setting and phase, in GFLOP/s (1 multiply-add = 2 FLOP). Beside them:
the rate an epoch of the same work needs to take ``--target`` seconds.

A rate is comparable with the core's peak (FLOP per cycle x clock, from the vendor's documentation;
not measured here): an epoch target that needs more than the peak cannot be met by any
implementation of the same work, only by doing less of it.

    python benchmarks/epoch_arithmetic.py benchmarks/results/epoch_cpu_one_free_core.json --peak 237 \\
        --out benchmarks/results/epoch_arithmetic.txt
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import bench_epoch   # the benchmark beside this file: its epoch sizes and its extrapolation

TRAIN_PASSES = 3     # forward + backward (input gradients + weight gradients, each about one forward)


def forward_macs(model_name: str = "resnet32", num_classes: int = 10) -> int:
    """Multiply-adds of one forward pass of one 3x32x32 image (convolutions and linear layers only;
    BatchNorm, ReLU and additions are a few per cent more and are left out, so rates are lower bounds)."""
    import torch

    from ltbound.train.loop.models import build_model

    model = build_model(model_name, num_classes, 3).eval()
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, torch.nn.Conv2d):
            total += out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, torch.nn.Linear):
            total += out.numel() * mod.in_features

    for mod in model.modules():
        mod.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32))
    return total


def report(results: dict, macs: int, targets: list[float], source: str, peak: float | None = None) -> str:
    train_flop = 2 * macs * TRAIN_PASSES * bench_epoch.FULL_TRAIN
    eval_flop = 2 * macs * bench_epoch.FULL_EVAL
    lines = [f"# epoch_arithmetic.py on {source}",
             f"# ResNet-32 forward: {macs:,} multiply-adds per image; one CIFAR-10-LT(100) epoch = "
             f"{bench_epoch.FULL_TRAIN:,} trained x {TRAIN_PASSES} passes ({train_flop / 1e12:.2f} TFLOP) + "
             f"{bench_epoch.FULL_EVAL:,} evaluated ({eval_flop / 1e12:.2f} TFLOP) = {(train_flop + eval_flop) / 1e12:.2f} TFLOP",
             "# rates are lower bounds (BatchNorm, ReLU and additions not counted)", ""]
    of = lambda rate: f" ({100 * rate / peak:.0f}% of {peak:g})" if peak else ""      # noqa: E731
    if peak:
        lines.append(f"# peak: {peak:g} GFLOP/s (given with --peak, not measured)")
    for t in targets:
        need, need_train = (train_flop + eval_flop) / t / 1e9, train_flop / t / 1e9
        lines.append(f"- an epoch in {t:g} s needs {need:.0f} GFLOP/s sustained{of(need)}; "
                     f"the training step alone in {t:g} s needs {need_train:.0f} GFLOP/s{of(need_train)}")
    lines.append("")
    for kind, res in results.items():
        cpu = res["cpu"]
        lines += [f"## {kind}: cpu_capability {cpu['cpu_capability']}, native bf16 kernels {res['native_bf16']}, "
                  f"{res['threads']} thread",
                  "| setting | train s (median) | train GFLOP/s | eval s (median) | eval GFLOP/s | epoch s | epoch GFLOP/s |",
                  "|---|---|---|---|---|---|---|"]
        chosen = {n: (tuple(t), e) for n, (t, e) in res["settings"].items()}
        sizes = argparse.Namespace(train_images=res["train_images"], eval_images=res["eval_images"])
        n_rounds = len(res["rounds"]["eval"]["today"])
        for name in chosen:
            parts = np.array([bench_epoch._parts(res["rounds"], chosen, name, r, sizes) for r in range(n_rounds)])
            tr, ev = np.median(parts[:, 0]), np.median(parts[:, 1])
            rates = [train_flop / tr / 1e9, eval_flop / ev / 1e9, (train_flop + eval_flop) / (tr + ev) / 1e9]
            lines.append(f"| {name} | {tr:.0f} | {rates[0]:.0f}{of(rates[0])} | {ev:.0f} | {rates[1]:.0f}{of(rates[1])} | "
                         f"{tr + ev:.0f} | {rates[2]:.0f}{of(rates[2])} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path, help="a JSON written by bench_epoch.py (--out X.txt writes X.json)")
    p.add_argument("--target", type=float, nargs="+", default=[30.0, 45.0], help="epoch seconds to price")
    p.add_argument("--peak", type=float, default=None, metavar="GFLOPS",
                   help="the core's peak rate (from the vendor's figures) to state each rate as a share of")
    p.add_argument("--out", type=Path, default=None, help="also write the report here")
    a = p.parse_args(argv)
    if not a.results.is_file():
        p.error(f"results: no file {a.results}; run benchmarks/bench_epoch.py --out X.txt first (it writes X.json)")
    try:
        results = json.loads(a.results.read_text())
        if not all({"cpu", "settings", "rounds", "train_images", "eval_images"} <= set(r) for r in results.values()):
            raise ValueError("missing keys")
    except (ValueError, AttributeError, TypeError) as e:
        p.error(f"results: {a.results} is not a bench_epoch.py JSON ({e})")
    if a.peak is not None and not a.peak > 0:
        p.error(f"--peak must be a positive rate in GFLOP/s, got {a.peak}")
    text = report(results, forward_macs(), a.target, str(a.results), a.peak)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
