"""experiments/main_job_drift.py: counts what moved between two main-job summaries, and can find nothing or something."""
import copy
import json
from pathlib import Path

from tests._scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


def test_drift_is_zero_on_the_committed_run_and_finds_a_moved_mean():
    mod = load_script(ROOT / "experiments" / "main_job_drift.py", "main_job_drift")
    summary = json.loads((mod.COMMITTED / "results.json").read_text())["comparison"]["summary"]
    same = mod.drift(summary, summary)
    assert same["moved"] == 0 and same["total"] == sum(len(v) for v in summary.values())
    moved = copy.deepcopy(summary)
    acc = moved["ib"]["balanced_test_accuracy"]
    se = acc["std"] / len(acc["values"]) ** 0.5
    acc["mean"] += 2 * se
    out = mod.drift(moved, summary)
    assert out["moved"] == 1 and out["largest"][1:] == ("ib", "balanced_test_accuracy")
    assert abs(out["largest_se"][0] - 2.0) < 1e-9
