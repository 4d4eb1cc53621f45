"""Seconds per CIFAR-10-LT(100) epoch (training + the record's per-sample evaluation), per CPU kind.

Issue 33: today's trainer against the new options, measured in the same process, for both kinds
of CPU users have:

* ``native``: this CPU as it is (here AVX-512 with native bf16 kernels): ``amp="auto"`` trains
  in bf16; the record's evaluation is float32 today, bf16 with ``--eval-precision bf16``.
* ``avx2``: the same machine restricted to AVX2 kernels (``ATEN_CPU_CAPABILITY=avx2``,
  ``ONEDNN_MAX_CPU_ISA=AVX2``), as on a CPU without bf16 kernels: ``amp="auto"`` falls back
  to float32 training and evaluation. Options tried there: contiguous (NCHW) instead of
  channels-last memory, the evaluation batch.

On both: the float32 evaluation under ``torch.inference_mode`` (instead of ``no_grad``),
which computes the same numbers. Not in the trainer, measured to say what is left: the
evaluation of a copy of the model with every BatchNorm folded into the convolution before it
(``torch.fx.experimental.optimization.fuse``; the copy made for each evaluation, its cost
charged once per epoch), in float32 (it changes the last bits) and, on the native kind, with the folded
copy's weights cast to bf16 (no autocast).

Each kind runs in its own child process (the variables must be set before torch starts),
with one torch thread (the CPU runs use one core each). In that process every setting has its
own ResNet-32 (same initialisation) and the settings are timed interleaved round by round,
order alternating, with the trainer's own code: ``trainer._train_epoch`` on ``--train-steps``
batches of 64 from :class:`~ltbound.train.data.loader.DeviceLoader` (crop+flip) and
:func:`~ltbound.train.loop.evaluation.evaluate_splits` on ``--eval-images`` training images. A
round's seconds per full epoch are extrapolated: 12,406 trained images + 22,406 evaluated
(12,406 training + 10,000 test) at that round's rates. The ratio of a setting to today's is
taken round by round (the two ran seconds apart, under the same load) and its median reported.

    OMP_NUM_THREADS=1 python benchmarks/bench_epoch.py --out benchmarks/results/epoch_cpu.txt
    python benchmarks/bench_epoch.py --kinds native --rounds 3        # quicker

Synthetic CIFAR-shaped data of CIFAR-10-LT(100)'s size (pixel values do not change the
time of a dense convolution).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# this checkout's ltbound, not another one an editable install may point at
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: A full CIFAR-10-LT(100) epoch: images trained, and images evaluated per sample for the record.
FULL_TRAIN, FULL_EVAL = 12406, 12406 + 10000
KINDS = {"native": {}, "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}}


def settings(bf16_native: bool) -> dict:
    """The settings compared in one process: name -> (training setting, evaluation setting).

    A training setting is (bf16 autocast, channels-last); an evaluation setting adds its
    batch, its autocast and inference_mode. "today" is what ``python -m ltbound.train`` does by
    default on this kind.
    """
    today_train = (bf16_native, True)
    base = dict(cl=True, batch=128, bf16=False, inference=False, fold=None)
    out = {"today": (today_train, base)}
    if bf16_native:
        out["bf16 eval"] = (today_train, {**base, "bf16": True})
        out["bf16 eval batch 256"] = (today_train, {**base, "bf16": True, "batch": 256})
    else:
        out["NCHW train+eval"] = ((False, False), {**base, "cl": False})
        out["eval batch 64"] = (today_train, {**base, "batch": 64})
        out["eval batch 256"] = (today_train, {**base, "batch": 256})
    out["fp32 eval inference_mode"] = (today_train, {**base, "inference": True})
    out["(idea) fp32 eval, BN folded"] = (today_train, {**base, "fold": "float32"})
    if bf16_native:
        out["(idea) bf16 weights, BN folded"] = (today_train, {**base, "fold": "bf16"})
    return out


def folded(model, dtype):
    """An eval-mode copy of ``model`` with each BatchNorm folded into its convolution, weights in ``dtype``.

    For ``dtype=bfloat16`` the copy takes float32 input and returns float32 logits (the cast at
    both ends), like the autocast path, so the trainer's evaluation kernel runs it unchanged.
    """
    import torch
    from torch.fx.experimental.optimization import fuse
    was = model.training
    model.eval()
    try:
        net = fuse(model).to(memory_format=torch.channels_last)
    finally:
        model.train(was)
    if dtype == "float32":
        return net
    net = net.to(torch.bfloat16)

    class Cast(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x.to(torch.bfloat16)).float()
    return Cast(net)


class _NoBar:
    def update(self, n: int) -> None:
        pass


def child(args) -> dict:
    """Time every setting of this process's CPU kind; returns per-round seconds."""
    import torch
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_trainer import synthetic_cifar_lt
    from ltbound.train.loop import distributed as D
    from ltbound.train.loop.environment import cpu_bf16_supported, cpu_environment
    from ltbound.train.loop.evaluation import evaluate_splits
    from ltbound.train.data.loader import DeviceLoader
    from ltbound.train.loop.models import build_model
    from ltbound.train.loop.trainer import _train_epoch

    native = cpu_bf16_supported()
    ds = synthetic_cifar_lt(FULL_TRAIN, n_test=100)
    mean = torch.as_tensor(np.asarray(ds.mean, dtype=np.float32))
    std = torch.as_tensor(np.asarray(ds.std, dtype=np.float32))
    cpu = torch.device("cpu")
    chosen = settings(native)
    trains = sorted({t for t, _ in chosen.values()})
    models = {}
    for t in trains:
        torch.manual_seed(0)
        m = build_model("resnet32", 10)
        m = m.to(memory_format=torch.channels_last) if t[1] else m
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=2e-4, nesterov=True)
        models[t] = (m, opt)
    gen = torch.Generator().manual_seed(0)
    steps = args.train_steps
    idx = torch.randperm(FULL_TRAIN, generator=gen)[: 64 * steps]
    batches = {cl: list(DeviceLoader(ds.train.images, ds.train.labels, idx, 64, augment=True,
                                     generator=torch.Generator().manual_seed(1), mean=mean, std=std,
                                     channels_last=cl)) for cl in {t[1] for t in trains}}
    ex, ey = ds.train.images[:args.eval_images], ds.train.labels[:args.eval_images]

    def time_train(t) -> float:
        m, opt = models[t]
        t0 = time.perf_counter()
        _train_epoch(m, opt, batches[t[1]], [0.01] * steps, torch.bfloat16 if t[0] else None, cpu, _NoBar())
        return time.perf_counter() - t0

    def time_eval(name) -> float:
        t, e = chosen[name]
        ctx = torch.inference_mode() if e["inference"] else contextlib.nullcontext()
        t0 = time.perf_counter()
        net = models[t][0] if e["fold"] is None else folded(models[t][0], e["fold"])
        rounds["fold"][name].append(time.perf_counter() - t0)     # once per epoch, not per image
        t0 = time.perf_counter()
        with ctx:
            evaluate_splits(net, [(ex, ey)], D.DistInfo(), mean=mean, std=std, batch_size=e["batch"],
                            device=cpu, channels_last=e["cl"], autocast_dtype=torch.bfloat16 if e["bf16"] else None)
        return time.perf_counter() - t0

    rounds = {"train": {str(t): [] for t in trains}, "eval": {n: [] for n in chosen},
              "fold": {n: [] for n in chosen}}
    for t in trains:                          # warm-up: oneDNN primitive creation, allocator growth
        time_train(t)
    for n in chosen:
        time_eval(n)
        rounds["eval"][n].clear()
        rounds["fold"][n].clear()
    sizes = argparse.Namespace(train_images=64 * steps, eval_images=args.eval_images)
    for r in range(args.rounds):
        order = trains if r % 2 == 0 else trains[::-1]
        for t in order:
            rounds["train"][str(t)].append(time_train(t))
        names = list(chosen) if r % 2 == 0 else list(chosen)[::-1]
        for n in names:
            rounds["eval"][n].append(time_eval(n))
        print(f"  round {r + 1}/{args.rounds}: " + ", ".join(
            f"{n} {_epoch(rounds, chosen, n, r, sizes):.0f} s" for n in chosen), flush=True)
    return {"cpu": cpu_environment(), "native_bf16": native, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "settings": {n: [list(t), e] for n, (t, e) in chosen.items()},
            "rounds": rounds, "train_images": 64 * steps, "eval_images": args.eval_images,
            "loadavg_end": os.getloadavg()}


def _epoch(rounds, chosen, name, r, sizes) -> float:
    """Round r's extrapolated seconds of a full epoch of setting ``name``: (train s, eval s) summed."""
    return sum(_parts(rounds, chosen, name, r, sizes))


def _parts(rounds, chosen, name, r, sizes) -> tuple[float, float]:
    """Round r's extrapolated (training s, evaluation s) of a full epoch; ``sizes`` holds the images timed."""
    t, _ = chosen[name]
    tr = rounds["train"][str(tuple(t))][r] / sizes.train_images * FULL_TRAIN
    ev = rounds["eval"][name][r] / sizes.eval_images * FULL_EVAL + rounds["fold"][name][r]
    return tr, ev


def report(results: dict, args) -> str:
    load = os.getloadavg()
    lines = [f"# bench_epoch.py ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}), "
             f"{args.rounds} interleaved rounds per kind, {args.train_steps} training steps of 64 and "
             f"{args.eval_images} evaluated images per round and setting",
             f"# load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores: "
             + ("SHARED machine (other trainings and tests ran beside it): absolute seconds are inflated and noisy; "
                "the ratios are per round, same process, settings seconds apart" if load[0] > (os.cpu_count() or 1)
                else "a quiet machine"),
             f"# seconds = a full CIFAR-10-LT(100) epoch extrapolated: {FULL_TRAIN:,} trained + {FULL_EVAL:,} "
             "evaluated images (the record's per-sample evaluation of the training and test sets)", ""]
    for kind, res in results.items():
        cpu = res["cpu"]
        lines.append(f"## {kind}: cpu_capability {cpu['cpu_capability']}, {cpu['cpu_model']}, oneDNN {cpu['onednn']}, "
                     f"ISA variables {cpu['isa_variables'] or 'none'}, native bf16 kernels {res['native_bf16']}, "
                     f"torch {res['torch']}, {res['threads']} thread")
        chosen = {n: (tuple(t), e) for n, (t, e) in res["settings"].items()}
        a = argparse.Namespace(train_images=res["train_images"], eval_images=res["eval_images"])
        n_rounds = len(res["rounds"]["eval"]["today"])
        rows = ["| setting | train s median (best) | eval s median (best) | epoch s median (best) | "
                "vs today: median of per-round ratios (best round) |", "|---|---|---|---|---|"]
        today = [_epoch(res["rounds"], chosen, "today", r, a) for r in range(n_rounds)]
        for n, (t, e) in chosen.items():
            parts = np.array([_parts(res["rounds"], chosen, n, r, a) for r in range(n_rounds)])
            ep = parts.sum(axis=1)
            ratio = np.array(today) / ep
            label = (f"{n}: train {'bf16' if t[0] else 'fp32'} {'CL' if t[1] else 'NCHW'}, eval "
                     f"{'bf16' if e['bf16'] or e.get('fold') == 'bf16' else 'fp32'} {'CL' if e['cl'] else 'NCHW'} batch {e['batch']}"
                     + (" inference_mode" if e["inference"] else "")
                     + (f" BN folded, weights {e['fold']}" if e.get("fold") else ""))
            rows.append(f"| {label} | {np.median(parts[:, 0]):.0f} ({parts[:, 0].min():.0f}) | "
                        f"{np.median(parts[:, 1]):.0f} ({parts[:, 1].min():.0f}) | {np.median(ep):.0f} ({ep.min():.0f}) | "
                        f"{np.median(ratio):.2f}x ({min(today) / ep.min():.2f}x) |")
        lines += rows + [f"# {kind}: load average at the child's end {res['loadavg_end'][0]:.1f}", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kinds", default="native,avx2", help="comma list of: native, avx2 (default both)")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--train-steps", type=int, default=4, help="training batches of 64 per round and setting")
    p.add_argument("--eval-images", type=int, default=512, help="images evaluated per round and setting")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the CPU runs use)")
    p.add_argument("--out", default=None, help="write the report (and the raw timings as .json beside it)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        Path(args.json).write_text(json.dumps(child(args)))
        return 0
    results = {}
    for kind in [k.strip() for k in args.kinds.split(",") if k.strip()]:
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), **KINDS[kind]}
        for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
            if k not in KINDS[kind]:
                env.pop(k, None)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "r.json"
            print(f"--- {kind}", flush=True)
            subprocess.run([sys.executable, __file__, "--child", kind, "--json", str(out),
                            "--rounds", str(args.rounds), "--train-steps", str(args.train_steps),
                            "--eval-images", str(args.eval_images), "--threads", str(args.threads)],
                           env=env, check=True)
            results[kind] = json.loads(out.read_text())
    text = report(results, args)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
        Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
