"""Short digits-lt training runs on CPU, shared by the checks that need real run records.

The CIFAR runs of the paper need a GPU; as a CPU proxy the checks train scikit-learn's 8x8
digits (n = 438 training images at imbalance 20, 10 classes) with the project's trainer
(:mod:`ltbound.train.loop.trainer`), shortened to :data:`EPOCHS` epochs so that the three
schedules x :data:`SEEDS` fit in the runner's time budget on 2 cores. Runs are trained once
per process into a temporary folder (removed at exit) and cached.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from ltbound.records import RunRecord, load_record

#: Schedules of Table 6's first block: IB => IB, IB => CB, IB => CR (Switching).
SCHEDULES = ("ib", "ib-cb", "switching")
SEEDS = (0, 1)
#: The digits preset shortened: 15 epochs, one x0.1 decay after epoch 10, switch at 12 (S = 1).
EPOCHS = 15
MILESTONES = (10,)
BATCH_SIZE = 64
IMBALANCE = 20.0

_ROOT: Path | None = None


def _root() -> Path:
    global _ROOT
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix="paper_checks_digits_"))
        atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)
    return _ROOT


@lru_cache(maxsize=None)
def digits_record(schedule: str, seed: int) -> RunRecord:
    """Train (once per process) and load the digits-lt run of ``schedule`` and ``seed``."""
    from ltbound.train.loop.trainer import TrainConfig, train   # torch: imported only when a run is needed
    out = _root() / f"{schedule}-seed{seed}"
    config = TrainConfig(out=str(out), dataset="digits-lt", imbalance=IMBALANCE, schedule=schedule, seed=seed,
                         epochs=EPOCHS, milestones=MILESTONES, batch_size=BATCH_SIZE, device="cpu",
                         checkpoint_epochs="none", progress=False)
    # The trainer prints one line per epoch; keep the runner's stdout (table or JSON) clean.
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        path = train(config)
    return load_record(path)


def digits_records(schedules: tuple[str, ...] = SCHEDULES, seeds: tuple[int, ...] = SEEDS) -> list[RunRecord]:
    """The digits runs of every schedule and seed (trained on first use)."""
    return [digits_record(s, seed) for s in schedules for seed in seeds]


def command() -> str:
    """The CLI equivalent of one run (for the evidence)."""
    return (f"python -m ltbound.train --dataset digits-lt --imbalance {IMBALANCE:g} --schedule switching "
            f"--epochs {EPOCHS} --milestones {','.join(map(str, MILESTONES))} --batch-size {BATCH_SIZE} "
            "--device cpu --out DIR")
