"""experiments/difference_sample_size.py: the planning estimate of how many D_cert images a certified ordering needs."""
from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests._scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "experiments" / "results" / "certify-digits" / "results.json"


@pytest.fixture(scope="module")
def script():
    return load_script(ROOT / "experiments" / "difference_sample_size.py", "difference_sample_size")


def test_planned_losses_hold_the_asked_disagreement_exactly(script):
    la, lb, y = script.planned_losses(np.array([0.1, 0.0]), np.array([0.05, 0.5]), [20, 4], 5)
    assert la.shape == lb.shape == (5, 24) and y.tolist() == [0] * 20 + [1] * 4
    p_plus, p_minus = script.measured_rates(la, lb, y, 2)
    np.testing.assert_allclose(p_plus, [0.1, 0.0])
    np.testing.assert_allclose(p_minus, [0.05, 0.5])
    assert not np.any((la == 1) & (lb == 1))


def test_measured_block_reproduces_the_runs_certified_interval_at_scale_one(script):
    """The certificate sees the loss matrices only through the per-class shares of A-alone and B-alone errors,
    so the measured plan at scale 1 is the committed digits run's certified difference, to the printed digit."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert script.main([str(DIGITS)]) == 0
    out = buf.getvalue()
    diff = next(d for d in json.loads(DIGITS.read_text())["differences"] if (d["a"], d["b"]) == ("switching", "ib"))
    check = re.search(r"check: scale 1 gives \[([-+.\d]+), ([-+.\d]+)\], the run certified \[([-+.\d]+), ([-+.\d]+)\]",
                      out)
    assert check, out
    assert check.group(1, 2) == check.group(3, 4) == (f"{diff['lower']:+.4f}", f"{diff['upper']:+.4f}")
    rows = [line.split() for line in out.splitlines() if re.match(r"measured +\d", line)]
    widths = [float(r[5].rstrip("]")) - float(r[4].strip("[,")) for r in rows]
    assert len(rows) == len(script.SCALES) and all(a > b for a, b in zip(widths, widths[1:]))


def test_the_verdict_comes_out_either_way(script):
    """Equal error rates never prove an ordering at any scale; a large one-way disagreement proves it."""
    cfg = {"delta": 0.05, "mc_delta_fraction": 0.1}
    counts = np.array([50, 20, 5])
    same = script.plan(np.full(3, 0.1), np.full(3, 0.1), counts, 10, 0.5, 0.5, 9, cfg)
    assert all(r["lower"] < 0 < r["upper"] for r in same)
    apart = script.plan(np.zeros(3), np.full(3, 0.6), counts, 10, 0.5, 0.5, 9, cfg)
    assert apart[-1]["upper"] < 0 and min(r["scale"] for r in apart if r["upper"] < 0) <= 4
