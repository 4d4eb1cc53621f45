"""ltbound.compare orderings: ties unless a difference is real, DISAGREES only for a real disagreement."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from ltbound.comparison.compare_runs import compare, total_error
from ltbound.statistics.verdicts import THESE_RUNS, difference_test, holm, orderings as _orderings
from ltbound.records import RecordWriter


def _res(total, se=0.0):
    return SimpleNamespace(total=total, rademacher=SimpleNamespace(std_error=se), residual=None)


def _run(label, seed, acc, bound, se=0.0):
    rep = SimpleNamespace(ib=_res(bound, se), sampling=_res(bound, se), target=_res(bound, se))
    # no per-image results and no measured risks: only accuracy over seeds and the bound totals count
    return SimpleNamespace(label=label, seed=seed, balanced_test_accuracy=acc, report=rep, test_correct=None,
                           test_labels=None, test_risk_lt=float("nan"), test_risk_lt_se=float("nan"),
                           test_risk_balanced=float("nan"), test_risk_balanced_se=float("nan"))


def _summary(runs):
    out = {}
    for r in runs:
        out.setdefault(r.label, {"acc": [], "b": []})
        out[r.label]["acc"].append(r.balanced_test_accuracy)
        out[r.label]["b"].append(r.report.ib.total)
    return {lb: {"balanced_test_accuracy": {"mean": float(np.mean(v["acc"]))},
                 **{k: {"mean": float(np.mean(v["b"]))} for k in ("eq6_total", "eq7_total", "target_total")}}
            for lb, v in out.items()}


def _verdict(runs):
    return _orderings(_summary(runs), runs)["eq6_total"]["verdict"]


def test_ordering_verdict_takes_every_value():
    acc_a, acc_b = [0.90, 0.91, 0.92], [0.80, 0.81, 0.80]
    # A clearly more accurate; its bound clearly lower -> agrees; clearly higher -> DISAGREES
    agree = [_run("A", s, a, 0.3 + 0.001 * s) for s, a in enumerate(acc_a)] + \
            [_run("B", s, a, 0.5 + 0.001 * s) for s, a in enumerate(acc_b)]
    assert _verdict(agree) == "agrees"
    disagree = [_run("A", s, a, 0.5 + 0.001 * s) for s, a in enumerate(acc_a)] + \
               [_run("B", s, a, 0.3 + 0.001 * s) for s, a in enumerate(acc_b)]
    assert _verdict(disagree) == "DISAGREES"
    # the case: totals 0.5216 / 0.5218, each with Monte Carlo error 0.001 -> tied, not DISAGREES
    close = [_run("A", s, a, 0.5218, se=0.0005) for s, a in enumerate(acc_a)] + \
            [_run("B", s, a, 0.5216, se=0.0005) for s, a in enumerate(acc_b)]
    o = _orderings(_summary(close), close)
    assert o["eq6_total"]["verdict"] == "tied" and o["eq6_total"]["agrees"] is None
    assert o["eq6_total"]["pairs"]["A vs B"]["relation"] == 0
    # accuracy not separable (noisy seeds) -> tied whatever the bound says
    noisy = [_run("A", s, a, 0.5) for s, a in enumerate([0.9, 0.7, 0.8])] + \
            [_run("B", s, a, 0.3) for s, a in enumerate([0.8, 0.85, 0.75])]
    assert _verdict(noisy) == "tied"
    # one seed: no seed variance, so no verdict
    one = [_run("A", 0, 0.9, 0.5), _run("B", 0, 0.8, 0.3)]
    o = _orderings(_summary(one), one)
    assert o["eq6_total"]["verdict"] == "too few seeds" and o["too_few_seeds"] == ["A", "B"]
    assert o["accuracy_pairs"]["A vs B"]["verdict"] == "too few seeds"


def test_difference_test_counts_each_error_once():
    """Seeds: the spread of the per-seed differences already holds the resampling error, which
    only floors it; t with k − 1 degrees of freedom. One run each: resampling error, normal."""
    from scipy import stats
    # paired, differences 0.01, 0.03, 0.02: mean 0.02, sd 0.01, t = 0.02 / (0.01 / sqrt 3) on 2 df
    r = difference_test([0.31, 0.33, 0.32], [0.0] * 3, [0, 1, 2], [0.30, 0.30, 0.30], [0.0] * 3, [0, 1, 2])
    assert r["method"] == "paired t" and r["df"] == 2
    assert r["error"] == pytest.approx(0.01 / np.sqrt(3))
    assert r["p_value"] == pytest.approx(2 * stats.t.sf(0.02 / (0.01 / np.sqrt(3)), 2))
    assert r["p_value"] == pytest.approx(stats.ttest_rel([0.31, 0.33, 0.32], [0.30] * 3).pvalue)
    # the same seeds in another order are paired seed by seed
    shuffled = difference_test([0.33, 0.31, 0.32], [0.0] * 3, [1, 0, 2], [0.30] * 3, [0.0] * 3, [0, 1, 2])
    assert shuffled["p_value"] == pytest.approx(r["p_value"])
    # errors larger than the spread: the floor mean(σ_a² + σ_b²), not spread + errors
    r = difference_test([0.31, 0.33, 0.32], [0.02] * 3, [0, 1, 2], [0.30] * 3, [0.02] * 3, [0, 1, 2])
    assert r["error"] == pytest.approx(np.sqrt(2 * 0.02 ** 2 / 3))
    # other seeds: Welch, as scipy's unequal-variance t
    r = difference_test([0.31, 0.33, 0.32], [0.0] * 3, [0, 1, 2], [0.30, 0.28, 0.33, 0.29], [0.0] * 4, [3, 4, 5, 6])
    ref = stats.ttest_ind([0.31, 0.33, 0.32], [0.30, 0.28, 0.33, 0.29], equal_var=False)
    assert r["method"] == "Welch t" and r["p_value"] == pytest.approx(ref.pvalue)
    # one run each: the resampling errors in quadrature, normal reference
    r = difference_test([0.5], [0.03], [0], [0.4], [0.04], [0])
    assert r["method"] == THESE_RUNS and r["error"] == pytest.approx(0.05) and r["df"] is None
    assert r["p_value"] == pytest.approx(2 * stats.norm.sf(2.0))
    # one run against two: nothing to test
    assert np.isnan(difference_test([0.5], [0.0], [0], [0.4, 0.41], [0.0] * 2, [0, 1])["p_value"])


def test_holm_adjusts_as_the_step_down_procedure():
    # sorted 0.01, 0.02, 0.04 -> 3·0.01, max(0.03, 2·0.02), max(0.04, 1·0.04)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    got = holm([0.01, float("nan"), 0.03])                # NaN is not in the family (m = 2)
    assert got[0] == pytest.approx(0.02) and np.isnan(got[1]) and got[2] == pytest.approx(0.03)


def test_holm_keeps_a_pair_tied_that_one_test_alone_would_separate():
    """Three schedules, three accuracy pairs: p = 0.046 alone is below 0.05, but not after Holm."""
    acc = {"A": [0.910, 0.913, 0.907], "B": [0.90, 0.90, 0.90], "C": [0.95, 0.85, 0.90]}
    runs = [_run(lb, s, a, 0.5 + 0.0001 * s) for lb, v in acc.items() for s, a in enumerate(v)]
    pairs = _orderings(_summary(runs), runs)["accuracy_pairs"]
    ab = pairs["A vs B"]           # differences 0.010, 0.013, 0.007: t = 5.77 on 2 df, p = 0.029
    assert ab["p_value"] == pytest.approx(0.0288, abs=5e-4)
    assert ab["p_holm"] == pytest.approx(3 * ab["p_value"]) and ab["verdict"] == "no detectable difference"
    # alone (two schedules, one pair) the same runs are separated
    two = [r for r in runs if r.label != "C"]
    assert _orderings(_summary(two), two)["accuracy_pairs"]["A vs B"]["verdict"] == "better"


def test_total_error_adds_rademacher_and_bootstrap_in_quadrature():
    q = SimpleNamespace(ci_low=-0.1, ci_high=0.1, level=0.95)
    res = SimpleNamespace(rademacher=SimpleNamespace(std_error=0.01), residual=q)
    assert total_error(res) == pytest.approx(np.hypot(0.02, 0.1 / 1.959963984540054))


def _record(path, seed, test_correct, schedule="ib"):
    labels = np.array([0] * 6 + [1] * 2)
    w = RecordWriter(path, manifest={"config": {"schedule": schedule, "seed": seed},
                                     "dataset": {"num_classes": 2},
                                     "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}]},
                     train_indices=np.arange(labels.size), train_labels=labels,
                     test_labels=np.array([0, 1] * 10))
    w.write_epoch(1, train_loss=np.full(labels.size, 0.5), train_correct=np.ones(labels.size, bool),
                  test_correct=np.asarray(test_correct, bool), summary={"sampler": "IB", "q": 1.0})
    w.finish()
    return path


def test_runs_carry_accuracy_intervals_and_certified_risk(tmp_path):
    correct = np.array([1, 0] * 10, bool)          # class 0 all right, class 1 all wrong
    comp = compare([_record(tmp_path / "a", 0, correct)], loss="zero-one", cap=None, num_draws=50, num_bootstrap=0)
    run = comp.runs[0]
    assert run.accuracy["balanced"]["estimate"] == pytest.approx(0.5)
    assert run.accuracy["balanced"]["low"] < 0.5 < run.accuracy["balanced"]["high"]
    cert = run.certified_balanced_risk
    assert cert["kind"] == "rigorous" and cert["empirical"] == pytest.approx(0.5)
    # a balanced test set with π balanced: the exact pooled limit of 10 errors in 20 (issue 23)
    assert cert["method"] == "pooled-binomial"
    assert cert["bound"] == pytest.approx(stats.beta.isf(0.05, 11, 10))
    d = comp.to_dict()
    json.dumps(d)
    assert d["runs"][0]["certified_balanced_risk"]["bound"] == pytest.approx(cert["bound"])
    table = comp.table()
    assert "McDiarmid 0.025" in table and "certified_balanced_risk" in table
    assert "not assessed: fewer than 2 seeds" in table


def test_mc_delta_fraction_sets_the_split(tmp_path):
    comp = compare([_record(tmp_path / "a", 0, np.array([1, 0] * 10, bool))], loss="zero-one", cap=None, num_draws=50,
                   num_bootstrap=0, mc_delta_fraction=0.2)
    split = comp.runs[0].report.ib.delta_split
    assert split["mcdiarmid"] == pytest.approx(0.04) and split["monte_carlo"] == pytest.approx(0.01)
    assert "McDiarmid 0.04" in comp.table()
    with pytest.raises(ValueError, match="mc_delta_fraction"):
        compare([tmp_path / "a"], mc_delta_fraction=1.0)


@pytest.mark.parametrize("b_right, verdict", [(0, "better"), (18, "no detectable difference")])
def test_one_run_per_schedule_is_compared_image_by_image(tmp_path, b_right, verdict):
    """Single runs (the CPU CIFAR records): McNemar on the shared test images, said to be about the models."""
    m = 20                                                 # _record's test set: labels [0, 1] * 10
    a = np.ones(m, bool)                                   # A right on every image
    b = np.arange(m) < b_right                             # B right on the first b_right images
    ra = _record(tmp_path / "a", 0, a, schedule="switching")
    rb = _record(tmp_path / "b", 0, b, schedule="ib")
    comp = compare([ra, rb], loss="zero-one", cap=None, num_draws=50, num_bootstrap=0)
    o = comp.orderings
    assert o["single_runs"] is True and "too_few_seeds" not in o
    pair = o["accuracy_pairs"]["switching vs ib"]
    assert pair["verdict"] == verdict
    assert o["eq6_total"]["verdict"] != "too few seeds"
    assert "one run per schedule" in comp.table()
