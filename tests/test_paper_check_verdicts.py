"""Every paper check can come out more than one way: each is fed data under which its verdict changes.

The registered checks run on the paper's own numbers (tests/test_paper_checks.py pins those
verdicts). Here the functions that decide the verdict are called with other data — numbers
under which the claim holds, and numbers under which it fails — and the test asserts the
verdict follows the data, so that no verdict is fixed before a check runs.
"""
from __future__ import annotations

import numpy as np
import pytest

from paper_checks import check_significance as sig
from paper_checks._check import FAILS, HOLDS, HOLDS_ONLY_IF
from tests._scripts import load_script


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


# ----------------------------------------------------------------------------- library-consistency checks
# These checks compare the library with exact oracles; their claim fails when the computation
# they test is wrong. Each is fed a mutated computation and must say so.
def test_eq1_sampling_fails_on_a_wrong_sampler(monkeypatch):
    from paper_checks import check_eq1_sampling as mod
    assert mod.eq1_sampling().status == HOLDS
    real = mod.sampling_distribution
    monkeypatch.setattr(mod, "sampling_distribution", lambda counts, q: real(counts, q) * (1 + 1e-9))
    out = mod.eq1_sampling()
    assert out.status == FAILS and "exceeds" in out.condition


def test_cifar_counts_fail_on_another_profile(monkeypatch):
    from paper_checks import check_cifar_counts as mod
    assert mod.cifar_counts().status == HOLDS
    real = mod.long_tailed_counts
    monkeypatch.setattr(mod, "long_tailed_counts", lambda n_max, c, beta: real(n_max, c, beta) + 1)
    assert mod.cifar_counts().status == FAILS


def test_exchange_eq21_verdict_follows_the_counterexamples(monkeypatch):
    """Eq. 21 searched over any class means: counterexamples (Lbar_1 > Lbar_C) -> holds only if, naming
    the smallest; searched only where Lbar_C > Lbar_1 (assumption 3): none -> holds (never reachable
    on today's main, whose condition text was fixed); a broken identity -> fails."""
    from paper_checks import check_exchange_eq21 as mod
    out = mod.exchange_eq21(num_draws=200)
    assert out.status == HOLDS_ONLY_IF
    assert "counts [2, 1], means [1, 0], residual -1/3" in out.condition
    assert f"{out.evidence['draws_residual_nonpositive']} of 200 random instances" in out.condition
    held = mod.exchange_eq21(num_draws=200, tail_mean_larger=True)
    assert held.status == HOLDS and held.evidence["smallest_counterexample"] is None
    assert held.evidence["draws_residual_nonpositive"] == 0 and held.evidence["draws_head_mean_larger"] == 0
    real = mod.residual
    monkeypatch.setattr(mod, "residual", lambda counts, means, p: 2.0 * real(counts, means, p))
    out = mod.exchange_eq21(num_draws=200)
    assert out.status == FAILS and "does not hold" in out.condition


def test_exchange_eq21_without_a_small_counterexample_does_not_crash(monkeypatch):
    """No counterexample from the exhaustive search: on today's main a TypeError (None['counts'])."""
    from paper_checks import check_exchange_eq21 as mod
    monkeypatch.setattr(mod, "smallest_counterexample", lambda tail_mean_larger=False: None)
    out = mod.exchange_eq21(num_draws=200)            # the random draws still find residuals <= 0
    assert out.status == HOLDS_ONLY_IF and "no small integer instance found" in out.condition
    assert "Smallest counterexample (any class means): none found" in out.summary


def test_increase_b2_verdict_follows_the_violations(monkeypatch):
    """Under monotone means only (assumption 3) the chain has no violation -> holds; adding the weaker
    assumptions finds the chain and conclusion counterexamples -> holds only if, naming them; a broken
    residual -> fails."""
    from paper_checks import check_increase_b2 as mod
    out = mod.increase_b2(num_draws=150)
    assert out.status == HOLDS_ONLY_IF
    assert "counts [2, 1, 1], means [1, 0, 1], p'_C = 1/2: residual 1/12 < printed bound 1/4" in out.condition
    assert "residual -1/12 < 0 < printed bound 1/4" in out.condition
    assert mod.increase_b2(num_draws=150, kinds=("monotone",)).status == HOLDS
    # only the tail mean largest: the printed chain fails, the conclusion survives
    tail = mod.increase_b2(num_draws=150, kinds=("monotone", "tail largest"))
    assert tail.status == HOLDS_ONLY_IF and "the conclusion (>= 0) survives" in tail.condition
    with pytest.raises(ValueError, match="kinds"):
        mod.increase_b2(kinds=("sorted",))
    monkeypatch.setattr(mod, "residual", lambda counts, means, p: -1.0)
    assert mod.increase_b2(num_draws=150).status == FAILS


def test_increase_b2_without_small_counterexamples_does_not_crash(monkeypatch):
    """No counterexample from the exhaustive search: on today's main a TypeError (None['counts'])."""
    from paper_checks import check_increase_b2 as mod
    monkeypatch.setattr(mod, "smallest", lambda kind: None)
    out = mod.increase_b2(num_draws=150)              # the random draws still violate the weaker assumptions
    assert out.status == HOLDS_ONLY_IF and "none found by the exhaustive search" in out.condition


def _mcdiarmid_problem(table):
    from paper_checks import check_eq7_mcdiarmid as mod
    prior = mod.COUNTS / mod.COUNTS.sum()
    return table, table.mean(axis=1) @ prior, 1.0          # losses in [0, M] with M = 1


@pytest.mark.slow   # four brute-force runs of the check (about 3 s each)
def test_eq7_mcdiarmid_verdict_follows_the_measured_moves(monkeypatch):
    """The default tiny problem: label changes move Φ beyond p_j M / n_j -> holds only if (fixed counts).
    A constant loss moves nothing at all -> holds (today's main kept its verdict). A loss that depends
    on the class only: same-class replacements move nothing, label changes do -> holds only if.
    A halved confidence term -> fails."""
    from paper_checks import check_eq7_mcdiarmid as mod
    out = mod.eq7_mcdiarmid()
    assert out.status == HOLDS_ONLY_IF and "4.86x (CR)" in out.condition
    const = mod.eq7_mcdiarmid(_mcdiarmid_problem(np.full((5, mod.SUPPORT, 2), 0.4)))
    assert const.status == HOLDS
    assert all(v["max_change_over_c_j"] == 0.0 for v in const.evidence["label_changes"].values())
    by_class = np.zeros((5, mod.SUPPORT, 2))
    by_class[0, :, 1], by_class[1:, :, 1] = 1.0, 0.5
    out = mod.eq7_mcdiarmid(_mcdiarmid_problem(by_class))
    assert out.status == HOLDS_ONLY_IF and "1.50x (CR)" in out.condition
    assert all(np.all(v["max_change"] == 0) for v in out.evidence["fixed_counts"].values())
    real = mod.confidence_term
    monkeypatch.setattr(mod, "confidence_term", lambda *a, **k: 0.5 * real(*a, **k))
    assert mod.eq7_mcdiarmid().status == FAILS


# ----------------------------------------------------------------------------- Theorem 1
def test_theorem1_verdict_is_computed_from_the_counts():
    """Long-tailed counts: CR's confidence term is wider, so the condition is not sufficient (fails).
    Equal counts: CR = IB, Eq. 7 = Eq. 6 − condition, so the condition suffices (holds)."""
    from paper_checks import check_theorem1 as mod
    assert mod.theorem1().status == FAILS
    out = mod.theorem1(cases=[("balanced-10", [100] * 10), ("balanced-3", [7, 7, 7])])
    assert out.status == HOLDS
    assert all(abs(g) <= 1e-12 for g in out.evidence["confidence_gap_cr_minus_ib"].values())
    assert mod.theorem1_verdict({"a": 0.0, "b": 0.01})[0] == FAILS


def test_theorem1_broken_library_identity_is_an_error_not_a_verdict(monkeypatch):
    from types import SimpleNamespace

    from paper_checks import _check
    from paper_checks import check_theorem1 as mod
    monkeypatch.setattr(mod, "theorem1_gap", lambda *a, **k: SimpleNamespace(condition=0.5, argmin=0))
    verdict = _check.get("theorem1").run()
    assert verdict.status == _check.ERROR and "identity broken" in verdict.summary


def test_theorem1_simulation_and_records_verdicts_follow_the_numbers():
    from paper_checks.check_theorem1 import records_verdict, simulation_verdict
    below = {"mean_gap": -0.05, "gap_se": 0.01, "fraction_eq7_below": 0.9, "condition_expected_q": 1.0, "q_n": 0.2}
    above = {"mean_gap": 0.068, "gap_se": 0.005, "fraction_eq7_below": 0.03, "condition_expected_q": 0.5, "q_n": 0.181}
    noisy = dict(below, gap_se=0.04)     # negative mean within 2 standard errors of 0
    assert simulation_verdict(below)[0] == HOLDS_ONLY_IF
    status, condition = simulation_verdict(above)
    assert status == FAILS and "premise Q_n > 0 holds here" in condition
    assert "premise Q_n > 0 fails here" in simulation_verdict(dict(above, q_n=-0.3))[1]
    assert simulation_verdict(noisy)[0] == FAILS
    assert records_verdict(0, 0, 6)[0] == FAILS
    assert records_verdict(6, 0, 6)[0] == HOLDS
    assert records_verdict(2, 1, 6)[0] == HOLDS_ONLY_IF


# ----------------------------------------------------------------------------- coverage, Table 12, records
def test_eq7_coverage_verdict_follows_the_coverages():
    from types import SimpleNamespace

    from paper_checks.check_eq7_coverage import coverage_verdict

    def bound(lt, bal):
        return SimpleNamespace(name="Eq. 6 (IB)", equation="Eq. 6", coverage={"lt": lt, "balanced": bal})
    assert coverage_verdict([bound(1.0, 0.0)], 0.05, 200)[0] == HOLDS_ONLY_IF
    assert coverage_verdict([bound(1.0, 1.0)], 0.05, 200)[0] == HOLDS
    assert coverage_verdict([bound(0.80, 1.0)], 0.05, 200)[0] == FAILS
    # within 3 binomial standard errors of 1 − δ still counts as covering
    assert coverage_verdict([bound(0.93, 0.93)], 0.05, 200)[0] == HOLDS


def test_table12_checks_change_verdict_with_the_table():
    import dataclasses

    import numpy as np

    from ltbound.regularity.paper_table import table12
    from paper_checks import check_table12 as mod
    t = table12()
    assert mod.table12_arithmetic().status == HOLDS
    irr = t.irregularity.copy()
    irr[3] += 0.01                                    # one row no longer F-norm / cardinality
    assert mod.table12_arithmetic(dataclasses.replace(t, irregularity=irr)).status == FAILS
    assert mod.table12_significance().status == HOLDS_ONLY_IF     # Pearson p = 0.060, Spearman p = 1.5e-6
    n = t.cardinality.astype(float)
    linear = dataclasses.replace(t, irregularity=1.0 - n / n.max() + 1e-3 * np.arange(10))
    assert mod.table12_significance(linear).status == HOLDS
    flat = dataclasses.replace(t, irregularity=np.array([0.3, 0.1, 0.5, 0.2, 0.4, 0.1, 0.3, 0.5, 0.2, 0.4]))
    assert mod.table12_significance(flat).status == FAILS


def test_appendix_a_and_digits_proxy_verdicts_follow_the_numbers():
    from paper_checks.check_appendix_a_records import pearson_verdict
    from paper_checks.check_table1_orderings import proxy_verdict
    assert pearson_verdict(-0.6)[0] == HOLDS and pearson_verdict(0.1)[0] == FAILS
    firm = {"IB=>CR": [90.0, 91.0], "IB=>CB": [85.0, 86.0], "IB=>IB": [80.0, 81.0]}
    loose = {"IB=>CR": [90.0, 80.0], "IB=>CB": [85.0, 84.0], "IB=>IB": [80.0, 81.0]}
    wrong = {"IB=>CR": [80.0, 81.0], "IB=>CB": [85.0, 86.0], "IB=>IB": [90.0, 91.0]}
    assert proxy_verdict(firm, 2)[0] == HOLDS
    assert proxy_verdict(loose, 2)[0] == HOLDS_ONLY_IF
    assert proxy_verdict(wrong, 2)[0] == FAILS


def _table1_record(path, schedule, test_correct, *, preset="cifar-short", epochs=1, seed=0, eval_precision=None):
    """A record standing in for a CIFAR run of ``schedule`` with the given test correctness (every
    planned epoch is written, since a record marked complete must hold its plan; they are tiny)."""
    from ltbound.records import RecordWriter, load_record
    labels = np.repeat(np.arange(2), 50)
    test_labels = np.repeat(np.arange(2), test_correct.size // 2)
    env = {"device": "cpu", **({"eval_precision": eval_precision} if eval_precision else {})}
    w = RecordWriter(path, manifest={"config": {"schedule": schedule, "seed": seed, "preset": preset, "epochs": epochs},
                                     "dataset": {"num_classes": 2},
                                     "environment": env,
                                     "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}]},
                     train_indices=np.arange(labels.size), train_labels=labels, test_labels=test_labels)
    for epoch in range(1, epochs + 1):
        w.write_epoch(epoch, train_loss=np.full(labels.size, 0.5), train_correct=np.ones(labels.size, bool),
                      test_correct=test_correct, summary={"sampler": "IB", "q": 1.0, "mean_train_loss": 0.5})
    w.finish()
    return load_record(path)


def test_table1_records_verdict_follows_paired_tests(tmp_path):
    """IB=>CR vs IB=>IB on one test set: significant either way, or within the paired test's noise.

    One run per schedule and no IB=>CB: never a plain *holds* (it was, on today's main): the
    verdict says that the McNemar test compares two models, not two schedules, and that IB=>CB
    was not judged.
    """
    from paper_checks._check import FAILS, HOLDS_ONLY_IF, NOT_RUN
    from paper_checks.check_table1_orderings import records_verdict
    rng = np.random.default_rng(0)
    base = rng.random(400) < 0.7
    better = base | (rng.random(400) < 0.5)              # fixes about half of the errors
    worse = base & (rng.random(400) < 0.6)
    noise = base.copy()
    noise[:3] = ~noise[:3]                                # three flips: no detectable difference
    ib = _table1_record(tmp_path / "ib", "ib", base)
    out = records_verdict([ib, _table1_record(tmp_path / "sw1", "switching", better)])
    assert out.status == HOLDS_ONLY_IF and "CPU, 1 epochs (preset cifar-short)" in out.summary
    assert out.evidence["pairs"][0]["difference_points"] > 5 and out.evidence["pairs"][0]["comparison"]["p_value"] < 1e-6
    assert "two trained models" in out.condition and "not two schedules" in out.condition
    assert "not judged: IB=>CB (no record)" in out.condition and out.evidence["rows_not_judged"] == ["IB=>CB"]
    low = records_verdict([ib, _table1_record(tmp_path / "sw2", "switching", worse)])
    assert low.status == FAILS and "IB=>CR vs IB=>IB is significantly reversed" in low.condition
    assert "two trained models" in low.condition
    flat = records_verdict([ib, _table1_record(tmp_path / "sw3", "switching", noise)])
    assert flat.status == HOLDS_ONLY_IF and "within its uncertainty" in flat.condition
    assert records_verdict([ib]).status == NOT_RUN
    # records of the paper's full recipe take precedence over shortened ones
    full = [_table1_record(tmp_path / "f-ib", "ib", better, preset="cifar", epochs=200),
            _table1_record(tmp_path / "f-sw", "switching", base, preset="cifar", epochs=200)]
    out = records_verdict([ib, _table1_record(tmp_path / "sw4", "switching", better)] + full)
    assert out.status == FAILS and out.evidence["full_recipe"] and "200 epochs" in out.summary


def test_table1_records_verdict_names_mixed_evaluation_precision(tmp_path):
    """Two seeds per schedule, the second evaluated in bf16: the summary says the cell pools both precisions;
    a cell of one precision says nothing of it."""
    from paper_checks.check_table1_orderings import records_verdict
    rng = np.random.default_rng(2)
    base = [rng.random(400) < 0.7 for _ in range(2)]
    recs = [_table1_record(tmp_path / f"{s}{k}", s, base[k] | (s == "switching") & (rng.random(400) < 0.5), seed=k,
                           eval_precision="bf16" if k else None) for s in ("ib", "switching") for k in (0, 1)]
    out = records_verdict(recs)
    assert "evaluation precision differs between runs: bf16 / float32" in out.summary
    assert out.evidence["eval_precisions"] == ["bf16", "float32"]
    plain = records_verdict([r for r in recs if r.seed == 0])
    assert "evaluation precision" not in plain.summary and plain.evidence["eval_precisions"] == ["float32"]


def test_table1_records_verdict_without_ib_cr_is_not_holds(tmp_path):
    """Fed only IB=>CB and IB=>IB records (no IB=>CR at all), today's main said *holds*."""
    from paper_checks._check import HOLDS, HOLDS_ONLY_IF, HOLDS_WHERE_JUDGED
    from paper_checks.check_table1_orderings import records_verdict
    rng = np.random.default_rng(1)
    base = rng.random(400) < 0.6
    cb = base | (rng.random(400) < 0.5)
    out = records_verdict([_table1_record(tmp_path / "ib", "ib", base), _table1_record(tmp_path / "cb", "ib-cb", cb)])
    assert out.status == HOLDS_ONLY_IF and "not judged: IB=>CR (no record)" in out.condition
    # over seeds (3 per row, paired by seed, every gap clear) the missing row alone keeps it from holds
    recs = []
    for seed in range(3):
        s_rng = np.random.default_rng(10 + seed)
        b = s_rng.random(400) < 0.6
        recs += [_table1_record(tmp_path / f"ib{seed}", "ib", b, seed=seed),
                 _table1_record(tmp_path / f"cb{seed}", "ib-cb", b | (s_rng.random(400) < 0.5), seed=seed)]
    out = records_verdict(recs)
    assert out.status == HOLDS_WHERE_JUDGED and "not judged: IB=>CR (no record)" in out.condition
    assert out.evidence["pairs"][0]["comparison"]["method"] == "paired t"
    # one run against three seeds cannot be tested over seeds: said so, never holds
    mixed = records_verdict(recs[:2] + [recs[3]] + [_table1_record(tmp_path / "cr-one", "switching",
                                                                   np.ones(400, bool), seed=0)])
    assert mixed.status == HOLDS_ONLY_IF and "IB=>CR vs IB=>CB" in mixed.condition
    assert "too few seeds on a side to be tested" in mixed.condition
    # the third row makes it a plain holds
    for seed in range(3):
        s_rng = np.random.default_rng(10 + seed)
        b = s_rng.random(400) < 0.6
        cr = b | (s_rng.random(400) < 0.5) | (s_rng.random(400) < 0.5)
        recs.append(_table1_record(tmp_path / f"cr{seed}", "switching", cr, seed=seed))
    assert records_verdict(recs).status == HOLDS


# ----------------------------------------------------------------------------- Tables 1-3: the "best" sentences
def test_best_claims_on_the_published_cells_give_the_pinned_verdicts():
    from paper_checks import check_best_claims as mod
    got = {name: mod.evaluate(claim) for name, claim in mod.CLAIMS.items()}
    assert {n: o.status for n, o in got.items()} == {
        "best_table1_cifar10": HOLDS,          # BBN† 79.8 > 79.7 at ratio 100, a lead of 1-19 images: comparable
        "best_table1_cifar100": HOLDS,         # +2.1, +2.5, +0.4 over BBN†
        "margin_table1_bbn": HOLDS,
        "best_table2_inat": HOLDS_ONLY_IF,     # LDAM-DRW† 68.0, printed once for both budgets
        "margin_table2_crt": HOLDS,
        "further_table2_s": FAILS,             # S=40 70.0 < S=1 70.4 at 200 epochs
        "best_table3": HOLDS,
        "margin_table3": FAILS,                # 0.6 / 0.9 are the margins over cRT, not over LWS (0.2 / 0.5)
        "best_overall": HOLDS_ONLY_IF,
    }
    assert "LDAM-DRW†" in got["best_table2_inat"].condition and "90 epochs" in got["best_table2_inat"].condition
    assert "70.4 >= Ours (S=10 / S=40) 70.0" in got["further_table2_s"].condition
    cond = got["margin_table3"].condition
    assert "+0.2, stated +0.6" in cond and "+0.5, stated +0.9" in cond and "Decouple-cRT†" in cond
    columns = {s["column"]: s for s in mod.standings(mod.TABLE1)}
    assert columns["CIFAR-10-LT(100)"]["best"] == ["BBN†"] and not columns["CIFAR-10-LT(100)"]["ours_is_best"]
    assert columns["CIFAR-10-LT(100)"]["ours"]["Ours (S=1)"]["images"] == (-19, -1)
    assert all(s["ours_is_best"] for c, s in columns.items() if c != "CIFAR-10-LT(100)")
    assert mod.standings(mod.TABLE3)[0]["best_baseline"] == "Decouple-LWS†"


def test_best_claims_verdicts_follow_the_cells():
    """Each verdict is computed from the cells: altered cells turn holds into fails and back."""
    from dataclasses import replace

    from paper_checks import check_best_claims as mod

    def verdict(name, *edits, table=None):
        tables = dict(mod.TABLES)
        for tname, method, column, value in edits:
            tables[tname] = mod.with_cell(tables[tname], method, column, value)
        if table is not None:
            tables[table.name] = table
        return mod.evaluate(mod.CLAIMS[name], tables)

    c10, c100 = "CIFAR-10-LT(100)", "CIFAR-100-LT(10)"
    # CIFAR-10: a BBN lead beyond the unpaired threshold (1.1 points) is no longer "comparable".
    out = verdict("best_table1_cifar10", ("Table 1", "BBN†", c10, 81.5))
    assert out.status == FAILS and "BBN† 81.5 significantly > Ours (S=1) 79.7" in out.condition
    # CIFAR-100: any baseline level with ours breaks "best".
    out = verdict("best_table1_cifar100", ("Table 1", "LDAM-DRW†", c100, 59.5))
    assert out.status == FAILS and "LDAM-DRW† 59.5 >= Ours (S=1) 59.5" in out.condition
    assert verdict("margin_table1_bbn", ("Table 1", "BBN†", "CIFAR-100-LT(100)", 42.0)).status == FAILS
    # Table 2: LDAM-DRW lowered in both columns -> holds; as a two-number row with 68.0 at 90 epochs -> fails.
    lowered = verdict("best_table2_inat", *(("Table 2", "LDAM-DRW†", c, 66.0) for c in (mod.INAT90, mod.INAT200)))
    assert lowered.status == HOLDS
    budgeted = replace(mod.TABLE2, rows=tuple(replace(r, cells=(68.0, 66.0), one_number=False)
                                              if r.method == "LDAM-DRW†" else r for r in mod.TABLE2.rows))
    assert verdict("best_table2_inat", table=budgeted).status == FAILS
    assert verdict("further_table2_s", ("Table 2", "Ours (S=10 / S=40)", mod.INAT200, 70.5)).status == HOLDS
    assert verdict("margin_table2_crt", ("Table 2", "Decouple-cRT†", mod.INAT90, 65.0)).status == FAILS
    # Table 3: with LWS at cRT's 47.3 the stated 0.6 / 0.9 are the margins over the best Decouple row.
    assert verdict("margin_table3", ("Table 3", "Decouple-LWS†", mod.IMNET, 47.3)).status == HOLDS
    assert verdict("best_table3", ("Table 3", "Decouple-LWS†", mod.IMNET, 48.0)).status == FAILS
    # the overall claim holds once LDAM-DRW's single number is below ours
    assert verdict("best_overall", *(("Table 2", "LDAM-DRW†", c, 66.0)
                                     for c in (mod.INAT90, mod.INAT200))).status == HOLDS


def test_best_claims_published_cells_are_well_formed():
    from paper_checks import check_best_claims as mod
    shapes = {name: (len(t.rows), len(t.columns), sum(r.ours for r in t.rows)) for name, t in mod.TABLES.items()}
    assert shapes == {"Table 1": (11, 6, 1), "Table 2": (12, 2, 2), "Table 3": (8, 1, 2)}
    for t in mod.TABLES.values():
        assert mod.table_problems(t) == []
        assert all(0.0 <= v <= 100.0 for r in t.rows for v in r.cells)
        assert all(round(10 * v) == pytest.approx(10 * v) for r in t.rows for v in r.cells)  # printed to 0.1
    assert [r.method for r in mod.TABLE2.rows if r.one_number] == [
        "Cross Entropy†", "CE-DRW†", "CE-DRS†", "CB-Focal†", "LDAM-DRW†"]
    # the validation catches what a typing slip would produce, and judge() refuses such a table
    bad = mod.with_cell(mod.TABLE1, "BBN†", "CIFAR-10-LT(50)", 120.0)
    assert any("outside [0, 100]" in p for p in mod.table_problems(bad))
    split = mod.with_cell(mod.TABLE2, "LDAM-DRW†", mod.INAT90, 60.0)
    assert any("one-number row" in p for p in mod.table_problems(split))
    with pytest.raises(ValueError, match="malformed table"):
        mod.evaluate(mod.CLAIMS["best_table1_cifar10"], {**mod.TABLES, "Table 1": bad})
    with pytest.raises(ValueError, match="needs"):
        mod.Assertion("Table 3", mod.IMNET, "Ours (S=1)", mod.MARGIN)


def test_best_claims_cells_agree_with_the_other_tables():
    """Where the paper prints the same run twice, the typed cells agree (Tables 4, 5, 6)."""
    from paper_checks import check_best_claims as mod
    from paper_checks.check_significance import TABLE1_IB_VS_SWITCHING, TABLE5
    from paper_checks.check_table1_orderings import PUBLISHED as TABLE6

    def cell(table, method, column):
        return table.rows[[r.method for r in table.rows].index(method)].cells[table.column(column)]

    for (dataset, beta), row in TABLE6.items():      # Table 6: IB => CR is Ours, IB => IB is Cross Entropy*
        column = f"{'CIFAR-10-LT' if dataset == 'cifar10-lt' else 'CIFAR-100-LT'}({beta})"
        assert cell(mod.TABLE1, "Ours (S=1)", column) == row["IB=>CR"]
        assert cell(mod.TABLE1, "Cross Entropy*", column) == row["IB=>IB"]
    # Table 5 (imbalance 50): S = 1 is Table 1's Ours, "CE (IB only)" 77.9 / 44.9 is Cross Entropy*
    assert (cell(mod.TABLE1, "Ours (S=1)", "CIFAR-10-LT(50)"), cell(mod.TABLE1, "Ours (S=1)", "CIFAR-100-LT(50)")) \
        == TABLE5[1]
    assert (cell(mod.TABLE1, "Cross Entropy*", "CIFAR-10-LT(50)"),
            cell(mod.TABLE1, "Cross Entropy*", "CIFAR-100-LT(50)")) == (77.9, 44.9)
    # Table 4, column "All", typed here from the paper independently of Tables 1 and 3
    table4_all = {
        ("Table 1", "CIFAR-100-LT(100)"): {"Cross Entropy*": 40.7, "Decouple-cRT*": 40.1, "Decouple-LWS*": 40.2,
                                           "BBN†": 42.6, "Ours (S=1)": 44.7},
        ("Table 3", "ImageNet-LT"): {"Cross Entropy†": 41.6, "Decouple-cRT†": 47.3, "Decouple-LWS†": 47.7,
                                     "BBN*": 45.9, "Ours (S=1)": 47.9},
    }
    for (tname, column), rows in table4_all.items():
        for method, value in rows.items():
            assert cell(mod.TABLES[tname], method, column) == value, (tname, method)
    for c in TABLE1_IB_VS_SWITCHING:                  # check_significance typed the same cells
        assert cell(mod.TABLE1, "Ours (S=1)", c.name) == c.ours
        assert cell(mod.TABLE1, "Cross Entropy*", c.name) == c.other


def test_correct_counts_and_image_ranges_are_exact():
    from fractions import Fraction

    from paper_checks.check_best_claims import correct_counts, resolution
    assert correct_counts(79.7, 10_000) == (7965, 7974)       # [79.65, 79.75) of 10,000
    assert correct_counts(47.9, 50_000) == (23_925, 23_974)
    lo, hi = correct_counts(66.7, 24_426)
    assert Fraction(lo * 100, 24_426) >= Fraction("66.65") > Fraction((lo - 1) * 100, 24_426)
    assert Fraction(hi * 100, 24_426) < Fraction("66.75") <= Fraction((hi + 1) * 100, 24_426)
    r = resolution(88.4, 88.3, 10_000)
    assert r["images"] == (1, 19) and r["within_rounding"]
    assert resolution(50.0, 50.0, 10_000)["verdict"] == "tie"


# ----------------------------------------------------------------------------- Table 9: which decomposition
def test_table9_decomposition_verdict_follows_the_table():
    """Published: totals = bias² + variance, ordered as the accuracies, within 0.96-1.01 of 1 − accuracy
    but 0.004 / 0.008 off on two rows -> holds only if (the accuracy column is other runs). The same
    table with accuracy = 1 − total -> holds; squared-error-like totals (1.5 x the error) -> fails;
    a broken sum or a swapped order -> fails."""
    from paper_checks import check_table9_decomposition as mod
    out = mod.table9_decomposition()
    assert out.status == HOLDS_ONLY_IF and out.evidence["consistent_with"] == "0-1 loss"
    assert out.evidence["rows_off_by_more_than_rounding"] == {"Cross Entropy (IB only)": -0.004,
                                                              "Cross Entropy (CR only)": 0.002,
                                                              "Decouple-cRT": -0.008}
    assert "Decouple-cRT differs by -0.008" in out.condition
    exact = {m: (round(1 - t, 3), b, v, t) for m, (a, b, v, t) in mod.TABLE9.items()}
    assert mod.assess(exact).status == HOLDS
    brier = {m: (a, 1.5 * b, 1.5 * v, round(1.5 * b, 4) + round(1.5 * v, 4)) for m, (a, b, v, t) in mod.TABLE9.items()}
    out = mod.assess(brier)
    assert out.status == FAILS and "times the error rate" in out.condition
    assert out.evidence["consistent_with"] == "not 0-1 loss"
    broken = dict(mod.TABLE9, BBN=(0.822, 0.032, 0.146, 0.185))
    assert "total != bias² + variance" in mod.assess(broken).condition
    swapped = dict(mod.TABLE9, BBN=(0.822, 0.030, 0.140, 0.170))
    out = mod.assess(swapped)
    assert out.status == FAILS and "lowest total does not go with the highest accuracy" in out.condition


def test_table9_cells_agree_with_the_other_tables():
    """Table 9's accuracies repeat single-run cells of Tables 1 and 6; the study
    (experiments/paper_studies/table9.py, which leaves BBN out) and the check quote the same cells."""
    import sys
    from pathlib import Path

    from paper_checks import check_best_claims as best
    from paper_checks.check_table1_orderings import PUBLISHED
    from paper_checks.check_table9_decomposition import TABLE9

    def cell(method):
        t = best.TABLE1
        return t.rows[[r.method for r in t.rows].index(method)].cells[t.column("CIFAR-10-LT(50)")]

    acc = {m: round(100 * v[0], 1) for m, v in TABLE9.items()}
    assert acc["Cross Entropy (IB only)"] == cell("Cross Entropy*") == PUBLISHED[("cifar10-lt", 50)]["IB=>IB"]
    assert acc["Decouple-cRT"] == cell("Decouple-cRT*")
    assert acc["BBN"] == cell("BBN†")
    assert acc["Ours (S = 1)"] == cell("Ours (S=1)") == PUBLISHED[("cifar10-lt", 50)]["IB=>CR"]
    assert acc["Cross Entropy (CR only)"] == 76.3                      # Table 6, CR => CR at imbalance 50
    script = Path(__file__).resolve().parents[1] / "experiments" / "paper_tables.py"
    mod = load_script(script, "paper_tables_t9")
    study = {"IB only": "Cross Entropy (IB only)", "CR only": "Cross Entropy (CR only)",
             "Decouple-cRT": "Decouple-cRT", "Switching (S = 1)": "Ours (S = 1)"}
    paper_t9 = sys.modules["paper_studies"].table9.PAPER_T9      # the study (loaded by paper_tables.py)
    assert {study[k]: v for k, v in paper_t9.items()} == {m: TABLE9[m] for m in study.values()}


# ----------------------------------------------------------------------------- certified difference
def _diff(dataset, imbalance, lower, upper):
    verdict = "switching lower" if upper < 0 else "ib lower" if lower > 0 else "not proved"
    return {"dataset": dataset, "imbalance": imbalance, "lower": lower, "upper": upper,
            "empirical": (lower + upper) / 2, "verdict": verdict}


def test_certified_difference_verdict_follows_the_intervals():
    """Proved lower everywhere: holds; a certified reversal: fails; an interval containing 0: holds only if
    (the test set is then the evidence); digits is a proxy that never decides; no CIFAR run: not run."""
    from paper_checks._check import HOLDS_WHERE_JUDGED, NOT_RUN
    from paper_checks.check_certified_difference import certified_verdict
    digits = {"certify-digits": _diff("digits-lt", 20.0, -0.30, +0.21)}
    proved = {"a": _diff("cifar10-lt", 100.0, -0.20, -0.01), "b": _diff("cifar10-lt", 50.0, -0.15, -0.02)}
    part = certified_verdict({**proved, **digits})
    assert part.status == HOLDS_WHERE_JUDGED and "cifar10-lt(10), cifar100-lt(100)" in part.condition
    every = {f"{ds}{imb}": _diff(ds, float(imb), -0.2, -0.01) for ds in ("cifar10-lt", "cifar100-lt")
             for imb in (100, 50, 10)}
    assert certified_verdict(every).status == HOLDS and certified_verdict(every).evidence["columns_not_judged"] == []
    out = certified_verdict({**proved, "c": _diff("cifar10-lt", 10.0, +0.01, +0.05)})
    assert out.status == FAILS and "cifar10-lt(10)" in out.condition
    open_ = certified_verdict({"a": proved["a"], "b": _diff("cifar10-lt", 50.0, -0.15, +0.06)})
    assert open_.status == HOLDS_ONLY_IF and "cifar10-lt(50) [-0.1500, +0.0600]" in open_.condition
    assert "cifar10-lt(100)" not in open_.condition          # only the unproved one is named
    none = certified_verdict(digits)
    assert none.status == NOT_RUN and "proxy, not judged" in none.summary and "certify.py" in none.condition
    assert certified_verdict({**every, "d": _diff("digits-lt", 20.0, +0.1, +0.2)}).status == HOLDS   # a proxy
    assert "not judged: cifar10-lt(10)" in open_.condition


def test_certified_difference_reads_only_what_certificates_npz_reproduces(tmp_path):
    """The committed folders verify (the check's verdict on them is holds only if: not proved at 100 or 50);
    a results.json edited to claim a proof is refused, not believed."""
    import json
    import shutil

    from paper_checks.check_certified_difference import RESULTS, certified_verdict, committed_differences
    got = committed_differences()
    assert {"certify-cifar10-lt-100", "certify-cifar10-lt-50", "certify-digits"} <= set(got)
    assert certified_verdict(got).status == HOLDS_ONLY_IF
    shutil.copytree(RESULTS / "certify-cifar10-lt-50", tmp_path / "certify-x")
    res = json.loads((tmp_path / "certify-x" / "results.json").read_text())
    res["differences"][0].update(upper=-0.01, verdict="switching lower")
    (tmp_path / "certify-x" / "results.json").write_text(json.dumps(res))
    with pytest.raises(ValueError, match="certify-x: results.json's Switching − IB difference"):
        committed_differences(tmp_path)
