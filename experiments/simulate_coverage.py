"""Coverage study of the paper's bounds on the synthetic long-tailed problem (ltbound.simulation.problems).

    python experiments/simulate_coverage.py --preset wide --draws 1000 --out study.json
    python experiments/simulate_coverage.py --preset narrow --draws 1000
    python experiments/simulate_coverage.py --preset wide --loss ramp --draws 1000

Prints the coverage table (each bound against the long-tailed and the balanced risk), Q_n,
R_n and Theorem 1's condition; ``--out`` writes the CoverageResult as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ltbound._outputs import add_overwrite_flag, refuse_existing, write_output
from ltbound.simulation.coverage import run_coverage
from ltbound.simulation.problems import LOSSES, PRESETS, make_problem


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="experiments/simulate_coverage.py",
                                 description="Coverage of the Sect. 3.1 bounds on a synthetic long-tailed problem.")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="wide")
    ap.add_argument("--loss", choices=LOSSES, default="zero-one")
    ap.add_argument("--draws", type=int, default=1000, help="training sets D")
    ap.add_argument("--sign-draws", type=int, default=200, help="Rademacher sign vectors per D")
    ap.add_argument("--delta", type=float, default=0.05)
    ap.add_argument("--samplers", default="IB,CB,CR", help="comma-separated sampler names")
    ap.add_argument("--seed", type=int, default=0, help="seed of the draws (the problem uses --problem-seed)")
    ap.add_argument("--problem-seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="write the CoverageResult as JSON here")
    add_overwrite_flag(ap)
    args = ap.parse_args(argv)
    if args.out is not None:
        refuse_existing(ap, "--out", [args.out], args.overwrite)
    problem = make_problem(**{**PRESETS[args.preset], "loss": args.loss, "seed": args.problem_seed})
    result = run_coverage(problem, num_draws=args.draws, delta=args.delta,
                          samplers=tuple(s.strip() for s in args.samplers.split(",")),
                          num_sign_draws=args.sign_draws, seed=args.seed)
    print(f"preset {args.preset}: {result.seconds:.1f} s")
    print(result.table())
    if args.out is not None:
        try:
            write_output(args.out, json.dumps({"preset": args.preset, **result.to_dict()}, indent=1), "--out")
        except OSError as e:
            print(f"simulate_coverage.py: error: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
