"""Every paper check can come out more than one way: each is fed data under which its verdict changes.

The registered checks run on the paper's own numbers (tests/test_paper_checks.py pins those
verdicts). Here the functions that decide the verdict are called with other data — numbers
under which the claim holds, and numbers under which it fails — and the test asserts the
verdict follows the data, so that no verdict is fixed before a check runs.
"""
from __future__ import annotations

import pytest

from paper_checks import check_significance as sig
from paper_checks._check import FAILS, HOLDS, HOLDS_ONLY_IF


# ----------------------------------------------------------------------------- significance
def test_assess_returns_each_verdict():
    big = sig.assess(sig.Comparison("big", 80.0, 75.0, 10_000, "t"))
    small = sig.assess(sig.Comparison("small", 80.3, 80.0, 10_000, "t"))
    worse = sig.assess(sig.Comparison("worse", 79.9, 80.0, 10_000, "t"))
    assert (big["verdict"], small["verdict"], worse["verdict"]) == (sig.SIGNIFICANT, sig.NEEDS_PAIRED,
                                                                  sig.NOT_DETECTABLE)
    # threshold: z sqrt(2 a (1 − a) / N) at a = 0.775, in points
    assert big["unpaired_threshold"] == pytest.approx(100 * 1.959964 * (2 * 0.775 * 0.225 / 10_000) ** 0.5, rel=1e-5)
    assert big["paired_floor"] == pytest.approx(0.06)
    # a margin within rounding of the paired floor is not detectable on a small test set (6/300 = 2 points)
    assert sig.assess(sig.Comparison("tiny", 50.0, 48.5, 300, "t"))["verdict"] == sig.NOT_DETECTABLE


def test_outcome_status_follows_the_comparisons():
    strong = [sig.assess(sig.Comparison("a", 80.0, 70.0, 10_000, "t"))]
    paired = strong + [sig.assess(sig.Comparison("b", 80.3, 80.0, 10_000, "t"))]
    weak = paired + [sig.assess(sig.Comparison("c", 79.9, 80.0, 10_000, "t"))]
    assert sig._outcome(strong, "x").status == HOLDS
    assert sig._outcome(paired, "x").status == HOLDS_ONLY_IF
    assert sig._outcome(weak, "x").status == FAILS


def test_paper_numbers_give_the_pinned_verdicts():
    assert sig.significance_table1().status == HOLDS            # margins 4.0-6.6 points vs thresholds <= 1.38
    assert sig.significance_baselines().status == HOLDS_ONLY_IF  # e.g. ImageNet-LT 47.9 vs 47.7
    assert sig.significance_table6().status == HOLDS_ONLY_IF     # only CIFAR-10-LT(100) is significant
    out = sig.significance_table5()
    assert out.status == HOLDS_ONLY_IF and out.condition.startswith("S <= 50")


def test_s_sweep_returns_each_verdict():
    flat = {0: (82.6, 49.7), 1: (82.9, 49.5), 10: (82.8, 49.4)}
    assert sig.s_sweep(flat).status == HOLDS
    steep = {0: (78.0, 45.0), 1: (82.9, 49.5), 10: (82.8, 49.4)}
    assert sig.s_sweep(steep).status == FAILS
    assert sig.s_sweep(sig.TABLE5).status == HOLDS_ONLY_IF
