"""Profile the trainer's fast path with torch.profiler: where does a training epoch spend its time?

    python benchmarks/profile_trainer.py                      # CPU, synthetic CIFAR-shaped data
    python benchmarks/profile_trainer.py --device cuda --n-train 12406 --json prof.json

Runs one warm-up epoch, then profiles one epoch of ResNet-32 at batch 64 (the paper's recipe)
plus its per-sample evaluation, and prints the operators that take the most time (self time),
the number of operator calls per training step, and the device-to-host copies (synchronisations)
seen per step. Issue 7 asks for this on an H100; on CPU it shows the same structure.

    python benchmarks/profile_trainer.py --split [--eval-precision bf16]

``--split`` (issue 33) instead profiles the training steps and the record's per-sample
evaluation separately, with the trainer's own functions (``trainer._train_epoch`` on
``--steps`` batches, :func:`~ltbound.train.loop.evaluation.evaluate_splits` on ``--eval-images``
images), one torch thread, and prints each one's operator table: where an epoch's two halves
spend their time, and so what skipping work (normalisation once per epoch, say) could save.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's ltbound

from ltbound.train.loop.trainer import TrainConfig, train



def main(argv=None) -> int:
    from bench_trainer import synthetic_cifar_lt  # noqa: E402  (sibling script in benchmarks/)

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--n-train", type=int, default=1024)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--json", help="write the summary here")
    p.add_argument("--split", action="store_true", help="profile training and evaluation separately (CPU)")
    p.add_argument("--steps", type=int, default=4, help="--split: training batches profiled")
    p.add_argument("--eval-images", type=int, default=512, help="--split: images evaluated")
    p.add_argument("--eval-precision", default="float32", choices=("float32", "bf16"), help="--split: evaluation")
    a = p.parse_args(argv)
    if a.split:
        return split_profile(a)
    ds = synthetic_cifar_lt(a.n_train)
    steps = -(-len(ds.train.labels) // a.batch_size)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if a.device.startswith("cuda") else [])
    with tempfile.TemporaryDirectory() as tmp:
        cfg = dict(dataset="cifar10-lt", schedule="ib", batch_size=a.batch_size, device=a.device,
                   progress=False, quiet=True, milestones=[100], warmup_epochs=0, checkpoint_epochs=[])
        train(TrainConfig(out=str(Path(tmp) / "warm"), epochs=1, **cfg), dataset=ds)   # warm-up
        t0 = time.perf_counter()
        with profile(activities=activities) as prof:
            train(TrainConfig(out=str(Path(tmp) / "prof"), epochs=1, **cfg), dataset=ds)
        wall = time.perf_counter() - t0
    events = prof.key_averages()
    sort = "self_cuda_time_total" if a.device.startswith("cuda") else "self_cpu_time_total"
    print(events.table(sort_by=sort, row_limit=a.top))
    calls = sum(e.count for e in events)
    d2h = sum(e.count for e in events if e.key in ("aten::item", "aten::_local_scalar_dense"))
    summary = {"device": a.device, "torch": torch.__version__, "n_train": a.n_train, "batch_size": a.batch_size,
               "steps": steps, "wall_seconds_profiled_epoch": round(wall, 3),
               "operator_calls_per_step": round(calls / steps, 1), "scalar_reads_per_step": round(d2h / steps, 3)}
    print(json.dumps(summary, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=1) + "\n")
    return 0


class _NoBar:
    def update(self, n: int) -> None:
        pass


def split_profile(a) -> int:
    """Operator tables of the training steps and of the per-sample evaluation, each on its own."""
    from bench_trainer import synthetic_cifar_lt  # noqa: E402  (sibling script in benchmarks/)

    from ltbound.train.loop import distributed as D
    from ltbound.train.loop.environment import cpu_bf16_supported, cpu_environment
    from ltbound.train.loop.evaluation import evaluate_splits
    from ltbound.train.data.loader import DeviceLoader
    from ltbound.train.loop.models import build_model
    from ltbound.train.loop.trainer import _train_epoch

    torch.set_num_threads(1)
    ds = synthetic_cifar_lt(max(a.n_train, 64 * (a.steps + 2), a.eval_images), n_test=100)
    mean, std = torch.tensor(ds.mean), torch.tensor(ds.std)
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    model = build_model("resnet32", 10).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=2e-4, nesterov=True)
    amp = torch.bfloat16 if cpu_bf16_supported() else None          # what amp="auto" trains in
    batches = list(DeviceLoader(ds.train.images, ds.train.labels, torch.arange(64 * (a.steps + 2)), a.batch_size,
                                augment=True, generator=torch.Generator().manual_seed(0), mean=mean, std=std,
                                channels_last=True))
    ex, ey = ds.train.images[:a.eval_images], ds.train.labels[:a.eval_images]
    eval_dtype = torch.bfloat16 if a.eval_precision == "bf16" else None

    def evaluate():
        evaluate_splits(model, [(ex, ey)], D.DistInfo(), mean=mean, std=std, batch_size=128, device=cpu,
                        channels_last=True, autocast_dtype=eval_dtype)

    _train_epoch(model, opt, batches[:2], [0.01] * 2, amp, cpu, _NoBar())         # warm-up
    evaluate()
    print(f"# {cpu_environment()['cpu_capability']}, training amp {'bf16' if amp else 'off'}, evaluation "
          f"{a.eval_precision}, 1 thread, ResNet-32 channels-last, batch {a.batch_size} / eval batch 128")
    for name, fn, images in (("training", lambda: _train_epoch(model, opt, batches[2:], [0.01] * a.steps, amp, cpu,
                                                                _NoBar()), a.steps * a.batch_size),
                             ("evaluation", evaluate, a.eval_images)):
        t0 = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
        print(f"\n## {name}: {images} images, {time.perf_counter() - t0:.2f} s under the profiler")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=a.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
