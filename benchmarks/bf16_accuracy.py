"""Does bf16 training change the result? Final balanced test accuracy, bf16 autocast vs float32, same seeds.

Trains the default digits-lt run (imbalance 20, the 'digits' preset, schedule ``--schedule``)
for each seed with ``--amp auto`` (bf16 autocast where the CPU has native bf16 kernels) and
with ``--amp off`` (float32), each as its own ``python -m ltbound.train`` process (all at
once, one torch thread each, so a shared machine finishes them sooner), and prints the
final-epoch balanced test accuracy of every run, the mean ± std (sample std, ddof=1) of each
precision and of the paired differences. The two should agree within run-to-run (seed)
noise. The evaluation that fills the records is float32 in both.

    python benchmarks/bf16_accuracy.py --seeds 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ltbound.records import load_record


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    p.add_argument("--schedule", default="switching")
    a = p.parse_args(argv)
    runs = [(seed, amp) for seed in range(a.seeds) for amp in ("auto", "off")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        procs = {}
        for seed, amp in runs:
            cmd = [sys.executable, "-m", "ltbound.train", "--dataset", "digits-lt", "--schedule", a.schedule,
                   "--seed", str(seed), "--amp", amp, "--no-progress", "--out", str(Path(tmp) / f"{amp}-{seed}")]
            procs[seed, amp] = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                text=True, start_new_session=True)
        acc: dict[str, list[float]] = {"auto": [], "off": []}
        used = {}
        for (seed, amp), proc in procs.items():
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"run seed {seed} amp {amp} failed: {err.strip()}")
            rec = load_record(Path(tmp) / f"{amp}-{seed}")
            used[amp] = rec.manifest["environment"]["amp"]
            acc[amp].append(float(rec.balanced_test_accuracy()[-1]))
            print(f"seed {seed} amp {amp:>4} ({used[amp]}): final balanced test accuracy {acc[amp][-1]:.4f}", flush=True)
    x, y = np.array(acc["auto"]), np.array(acc["off"])
    ddof = 1 if a.seeds > 1 else 0
    print(f"digits-lt, schedule {a.schedule}, {a.seeds} seeds, final balanced test accuracy (mean ± std):")
    print(f"  amp auto ({used['auto']}): {x.mean():.4f} ± {x.std(ddof=ddof):.4f}")
    print(f"  amp off  ({used['off']}): {y.mean():.4f} ± {y.std(ddof=ddof):.4f}")
    print(f"  paired difference auto - off: {(x - y).mean():+.4f} ± {(x - y).std(ddof=ddof):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
