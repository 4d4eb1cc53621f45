"""How far a rerun of the main job lies from the committed one: means moved, the largest change, in standard errors.

A rerun of ``python experiments/compare_bounds.py --out OUT`` on another CPU (or under
``ONEDNN_MAX_CPU_ISA`` / ``ATEN_CPU_CAPABILITY``) trains other last digits; this prints, over the summary
means of its ``results.json`` against ``experiments/results/digits-lt-20-main-job/results.json``: how many
differ at all, the largest absolute difference, and the largest difference in standard errors of the
committed mean over seeds (std / sqrt(seeds); statistics without seed spread are left out of that ratio),
with the environment each run states. docs/findings.md quotes it for an Intel Xeon with AMX.

    python experiments/compare_bounds.py --out /tmp/mj && python experiments/main_job_drift.py /tmp/mj
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

COMMITTED = Path(__file__).resolve().parents[1] / "experiments" / "results" / "digits-lt-20-main-job"


def drift(now: dict, then: dict) -> dict:
    """{moved, total, largest (|Δ|, schedule, statistic), largest_se (Δ / SE, schedule, statistic)} of two summaries."""
    moved, total, largest, largest_se = 0, 0, (-1.0, "", ""), (-1.0, "", "")
    for label, stats in then.items():
        for name, was in stats.items():
            total += 1
            d = abs(now[label][name]["mean"] - was["mean"])
            moved += d > 0
            largest = max(largest, (d, label, name))
            n = len(was.get("values") or []) or 1
            if was.get("std"):
                largest_se = max(largest_se, (d / (was["std"] / math.sqrt(n)), label, name))
    return {"moved": moved, "total": total, "largest": largest, "largest_se": largest_se}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("rerun", type=Path, help="the --out folder of a compare_bounds.py rerun (holds results.json)")
    a = p.parse_args(argv)
    try:
        now, then = (json.loads((d / "results.json").read_text()) for d in (a.rerun, COMMITTED))
        result = drift(now["comparison"]["summary"], then["comparison"]["summary"])
    except (OSError, KeyError, json.JSONDecodeError) as e:
        p.error(f"rerun {a.rerun}: not a compare_bounds.py results folder of the main job ({type(e).__name__}: {e})")
    for tag, r in (("committed", then), ("rerun", now)):
        env = r.get("environment", {})
        print(f"{tag}: {env.get('cpu_model')}, capability {env.get('cpu_capability')}, oneDNN ISA "
              f"{env.get('onednn_isa', 'not recorded')}, ISA variables {env.get('isa_variables') or 'none'}")
    d, label, name = result["largest"]
    z, zl, zn = result["largest_se"]
    print(f"{result['moved']} of {result['total']} means differ; largest |difference| {d:.2g} ({label} {name}); "
          f"largest in standard errors of the committed mean {z:.2f} ({zl} {zn})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
