"""Profile the trainer's fast path with torch.profiler: where does a training epoch spend its time?

    python benchmarks/profile_trainer.py                      # CPU, synthetic CIFAR-shaped data
    python benchmarks/profile_trainer.py --device cuda --n-train 12406 --json prof.json

Runs one warm-up epoch, then profiles one epoch of ResNet-32 at batch 64 (the paper's recipe)
plus its per-sample evaluation, and prints the operators that take the most time (self time),
the number of operator calls per training step, and the device-to-host copies (synchronisations)
seen per step. Issue 7 asks for this on an H100; on CPU it shows the same structure.
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

from ltbound.train.trainer import TrainConfig, train



def main(argv=None) -> int:
    from bench_trainer import synthetic_cifar_lt  # noqa: E402  (sibling script in benchmarks/)

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--n-train", type=int, default=1024)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--json", help="write the summary here")
    a = p.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
