"""The fast paper checks, run in CI: their verdicts and key evidence numbers.

Each check of ``paper_checks`` tests one claim of the paper and returns a verdict; these
tests pin the verdicts and the numbers behind them (counts, the recomputed Pearson
coefficient, the confidence ratios, the exchange identity, the counterexamples), so that a
regression in the library or in a check shows up here. Where cheap, a number is compared
with an independent exact oracle (fractions) as well as with its published or pinned value.
The slow checks (digits training, simulation studies) are not run here; the runner's
``--fast`` selection is tested to exclude exactly them.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from paper_checks import _check, run_all
from paper_checks._check import ERROR, FAILS, HOLDS, HOLDS_ONLY_IF, NOT_RUN, Outcome

REPO = Path(__file__).resolve().parents[1]
SLOW = {"eq7_coverage", "theorem1_simulation", "theorem1_records", "appendix_a_records", "table1_digits_proxy"}


@pytest.fixture(scope="module")
def verdicts():
    """Every fast check, run once for the module: name -> Verdict."""
    checks = run_all.select(run_all.load_checks(), None, fast=True)
    return {c.name: c.run() for c in checks}


# ----------------------------------------------------------------------------- runner

def test_fast_selection_is_exactly_the_non_slow_checks():
    checks = run_all.load_checks()
    names = {c.name for c in checks}
    assert SLOW <= names
    fast = {c.name for c in run_all.select(checks, None, fast=True)}
    assert fast == names - SLOW
    assert {c.name for c in checks if c.slow} == SLOW


def test_no_fast_check_errors(verdicts):
    errors = {n: v.summary for n, v in verdicts.items() if v.status == ERROR}
    assert not errors


def test_every_verdict_names_place_command_and_condition(verdicts):
    for v in verdicts.values():
        assert v.where and v.claim and v.summary
        assert v.command == f"python paper_checks/run_all.py --only {v.name}"
        assert v.module_command.startswith("python -m paper_checks.check_")
        if v.status in (HOLDS_ONLY_IF, _check.HOLDS_WHERE_JUDGED, NOT_RUN, FAILS):
            assert v.condition
        json.dumps(v.to_dict())          # JSON-safe


def test_only_unknown_name_is_refused():
    with pytest.raises(SystemExit, match="unknown check name"):
        run_all.select(run_all.load_checks(), ["no_such_check"], fast=False)


def test_main_json_output(capsys):
    assert run_all.main(["--only", "table12", "cifar_counts", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [v["name"] for v in out["verdicts"]] == ["table12", "cifar_counts"]
    assert all(v["status"] == HOLDS for v in out["verdicts"])


def test_main_table_output(capsys):
    assert run_all.main(["--only", "eq1_sampling"]) == 0
    out = capsys.readouterr().out
    assert "eq1_sampling" in out and "holds" in out and "python -m paper_checks.check_eq1_sampling" in out
    assert "1 checks (holds: 1)" in out


def test_runs_as_a_script_from_the_repository_root():
    """`python paper_checks/run_all.py` works without sys.path changes or an installed package."""
    proc = subprocess.run([sys.executable, "paper_checks/run_all.py", "--only", "cifar_counts", "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdicts"][0]["status"] == HOLDS


def test_outcome_refuses_bad_status_and_missing_condition():
    with pytest.raises(ValueError, match="status"):
        Outcome("maybe", "x")
    with pytest.raises(ValueError, match="status"):
        Outcome(ERROR, "x")
    with pytest.raises(ValueError, match="condition"):
        Outcome(HOLDS_ONLY_IF, "x")
    with pytest.raises(ValueError, match="condition"):
        Outcome(NOT_RUN, "x")
    with pytest.raises(ValueError, match="condition"):
        Outcome(_check.HOLDS_WHERE_JUDGED, "x")       # what was not judged must be said


def test_verdict_text_names_what_was_not_judged():
    out = Outcome(_check.HOLDS_WHERE_JUDGED, "x", condition="not judged: IB=>CB (no record)")
    c = _check.Check(name="partial", claim="c", where="w", slow=False, func=lambda: out, module="paper_checks.x")
    assert c.run().verdict_text == "holds where judged: not judged: IB=>CB (no record)"


def test_a_raising_check_becomes_an_error_verdict():
    def broken() -> Outcome:
        raise RuntimeError("boom")
    c = _check.Check(name="broken", claim="c", where="w", slow=False, func=broken, module="paper_checks.x")
    v = c.run()
    assert v.status == ERROR and "boom" in v.summary and "RuntimeError" in v.evidence["traceback"]


def test_check_name_registered_from_two_files_is_refused():
    run_all.load_checks()              # registers "table12" (from its own file) in this process
    def other() -> Outcome:
        return Outcome(HOLDS, "x")
    other.__code__ = other.__code__.replace(co_filename="/elsewhere/check_other.py")
    with pytest.raises(ValueError, match="registered twice"):
        _check.check("table12", claim="c", where="w")(other)
    with pytest.raises(ValueError, match="name"):
        _check.check("bad name!", claim="c", where="w")


# ----------------------------------------------------------------------------- Eq. 1, counts

def test_eq1_named_samplers_match_exact_oracles(verdicts):
    v = verdicts["eq1_sampling"]
    assert v.status == HOLDS
    assert max(v.evidence["max_abs_error_named"].values()) <= 1e-13
    assert max(v.evidence["max_abs_error_extreme"].values()) <= 1e-13
    assert v.evidence["limits"] and v.evidence["finite_and_normalised"]


def test_cifar_counts_match_published(verdicts):
    v = verdicts["cifar_counts"]
    assert v.status == HOLDS
    assert list(v.evidence["cifar10_lt_100"]) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    assert list(v.evidence["cifar10_lt_50"]) == [5000, 3237, 2096, 1357, 878, 568, 368, 238, 154, 100]
    assert v.evidence["totals"] == {"CIFAR-10-LT(100)": 12406, "CIFAR-10-LT(50)": 13996,
                                    "CIFAR-100-LT(100)": 10847, "CIFAR-100-LT(50)": 12608}


# ----------------------------------------------------------------------------- Table 12

def test_table12_pearson_reproduced_from_published_columns(verdicts):
    v = verdicts["table12"]
    assert v.status == HOLDS
    assert v.evidence["rows_disagreeing"] == []
    p = v.evidence["pearson"]
    assert round(p["cardinality vs published irregularity"], 3) == -0.611
    assert round(p["cardinality vs published irregularity"], 4) == -0.6112
    # the unrounded F-norm / cardinality column gives -0.61115 -> -0.6111: the paper used the rounded column
    assert round(p["cardinality vs F-norm/cardinality (unrounded)"], 4) == -0.6111
    assert v.evidence["pairs_reproducing_published"] == ["cardinality vs published irregularity"]


def test_table12_significance_is_conditional(verdicts):
    v = verdicts["table12_significance"]
    assert v.status == HOLDS_ONLY_IF
    assert round(v.evidence["pearson_p_value"], 3) == 0.060
    assert round(v.evidence["spearman_rho"], 3) == -0.976
    assert round(v.evidence["pearson_if_constant_f_norm"], 4) == -0.6231


# ----------------------------------------------------------------------------- App. B.2

def test_exchange_identity_and_counterexample(verdicts):
    v = verdicts["exchange_eq21"]
    assert v.status == HOLDS_ONLY_IF
    e = v.evidence
    assert e["symbolic_identity"] and e["positive_proved_under_assumption"] and e["printed_first_line_is_zero"]
    assert e["max_abs_error_closed_form"] < 1e-12 and e["max_abs_error_pair_swap"] < 1e-12
    assert e["sign_matches"] == e["draws"]
    cex = e["smallest_counterexample"]
    assert cex["counts"] == [2, 1] and cex["means"] == [1, 0]
    # exact oracle: swapping p_1 = 2/3 and p_2 = 1/3 gives (1/3 - 2/3)(1 - 0)
    assert Fraction(cex["residual_exact"]) == (Fraction(1, 3) - Fraction(2, 3)) * (1 - 0) == Fraction(-1, 3)
    assert cex["residual"] == pytest.approx(-1 / 3, abs=1e-12)


def test_increase_chain_lines_and_counterexamples(verdicts):
    v = verdicts["increase_b2"]
    assert v.status == HOLDS_ONLY_IF
    e = v.evidence
    assert e["symbolic_ok"] and e["line2_needs_ib"]
    assert e["printed_ge_but_equal"] == ["line 4", "line 5", "line 6"]
    assert e["real_inequalities"] == ["line 3", "line 7"]
    mono = e["random_search"]["monotone"]
    assert mono["residual_below_printed_bound"] == 0 and mono["residual_negative"] == 0
    assert e["random_search"]["tail largest"]["residual_negative"] == 0
    assert e["random_search"]["tail largest"]["residual_below_printed_bound"] > 0
    assert e["random_search"]["last two ordered"]["residual_negative"] > 0
    chain, concl = e["smallest_chain_counterexample"], e["smallest_conclusion_counterexample"]
    assert (chain["counts"], chain["means"]) == ([2, 1, 1], [1, 0, 1])
    assert Fraction(chain["residual"]) < Fraction(chain["printed_bound"])
    # exact oracle for the conclusion counterexample: p = (1/2, 1/4, 1/4) -> p' = (1/3, 1/6, 1/2)
    p_new, p_ib, means = [Fraction(1, 3), Fraction(1, 6), Fraction(1, 2)], [Fraction(1, 2), Fraction(1, 4), Fraction(1, 4)], [2, 0, 1]
    assert concl["counts"] == [2, 1, 1] and concl["means"] == means
    assert Fraction(concl["residual"]) == sum((a - b) * m for a, b, m in zip(p_new, p_ib, means)) == Fraction(-1, 12)
    assert e["q_family_negative"]["monotone"] == 0 and e["q_family_derivative_proved"]


# ----------------------------------------------------------------------------- Eq. 7 / Theorem 1

def test_mcdiarmid_differences_bounded_and_attained(verdicts):
    v = verdicts["eq7_mcdiarmid"]
    assert v.status == HOLDS_ONLY_IF
    e = v.evidence
    for q in ("IB", "CB", "CR"):
        assert max(e["fixed_counts"][q]["ratio"]) <= 1 + 1e-12
        assert e["attained"][q]
        assert e["fixed_counts"][q]["mcdiarmid_measured"] <= e["fixed_counts"][q]["mcdiarmid_eq16"] + 1e-12
    assert e["label_changes"]["CR"]["max_change_over_c_j"] > 1
    assert e["label_changes"]["CR"]["replacements_emptying_a_class"] > 0


def _ratio_oracle(counts: list[int], q: int) -> float:
    """sqrt(n Σ p_j²/n_j) with p_j = n_j^q / Σ n_i^q in exact rationals (q in {0, -1})."""
    w = [Fraction(c) ** q for c in counts]
    z = sum(w)
    return math.sqrt(float(sum(counts) * sum((x / z) ** 2 / c for x, c in zip(w, counts))))


def test_theorem1_confidence_ratios_and_gap(verdicts):
    from ltbound.bounds.sampling import long_tailed_counts
    v = verdicts["theorem1"]
    assert v.status == FAILS
    r = v.evidence["confidence_ratio"]
    pinned = {"CIFAR-10-LT(50) CR": 4.949, "CIFAR-10-LT(50) CB": 1.981, "CIFAR-10-LT(100) CR": 7.165,
              "CIFAR-10-LT(100) CB": 2.483, "CIFAR-100-LT(50) CR": 4.307, "CIFAR-100-LT(50) CB": 1.808,
              "CIFAR-100-LT(100) CR": 6.215, "CIFAR-100-LT(100) CB": 2.225}
    assert {k: round(x, 3) for k, x in r.items()} == pinned
    for name, n_max, c in (("CIFAR-10-LT", 5000, 10), ("CIFAR-100-LT", 500, 100)):
        for beta in (50, 100):
            counts = long_tailed_counts(n_max, c, beta).tolist()
            assert r[f"{name}({beta}) CR"] == pytest.approx(_ratio_oracle(counts, -1), rel=1e-12)
            assert r[f"{name}({beta}) CB"] == pytest.approx(_ratio_oracle(counts, 0), rel=1e-12)
    e = v.evidence
    assert e["max_empirical_condition"] <= 0 and e["zero_at_argmin"]
    assert e["eq7_below_eq6"] == 0 and e["min_eq7_minus_eq6"] > 0
    assert e["ls_minus_l_positive_monotone"] == 0
    assert all(g > 0 for g in e["confidence_gap_cr_minus_ib"].values())


def test_table1_orderings_never_fakes_gpu_results(verdicts):
    from paper_checks._check import HOLDS_WHERE_JUDGED
    from paper_checks._records import committed_records
    from paper_checks.check_table1_orderings import ROWS
    v = verdicts["table1_orderings"]
    records = committed_records()
    if not records:
        assert v.status == NOT_RUN
        assert "python -m ltbound.train" in v.condition or "gpu_table1" in v.condition
        return
    assert v.status in (HOLDS, HOLDS_ONLY_IF, HOLDS_WHERE_JUDGED, FAILS, NOT_RUN)
    rows = {ROWS.get(r.label.lower()) for r in records}
    if "IB=>CB" not in rows:
        # the committed CPU records hold IB=>CR and IB=>IB only: the verdict cannot be a plain holds
        assert v.status != HOLDS and "not judged: IB=>CB (no record)" in v.condition
    if all(len(g["accuracy"][r]) == 1 for g in v.evidence["groups"].values() for r in g["accuracy"]):
        assert "two trained models" in v.condition and "not two schedules" in v.condition


def _committed_record(path: Path, schedule: str, accuracy: float, seed: int = 0, preset: str | None = None,
                      epochs: int | None = None) -> None:
    """A CIFAR-10-LT(100) record (the protocol's split, split seed 0) whose final balanced test accuracy is ``accuracy``.

    60 test images per class: a 0.5-point gap is 3 discordant images (within the paired test's
    noise), a 10-point gap 60 (beyond it).
    """
    import numpy as np
    from ltbound.records import RecordWriter
    from ltbound.bounds.sampling import long_tailed_counts, long_tailed_indices
    from ltbound.train.data.datasets import split_hash
    source = np.repeat(np.arange(10), 5000)               # the class-folder layout: labels known from the counts
    idx = long_tailed_indices(source, long_tailed_counts(5000, 10, 100), 0)
    per_class = 60
    test_labels = np.repeat(np.arange(10), per_class)
    total = round(accuracy * per_class * 10)
    hits = [total // 10 + (c < total % 10) for c in range(10)]      # nested: discordant pairs one way
    correct = np.concatenate([np.arange(per_class) < k for k in hits])
    config = {"schedule": schedule, "seed": seed, "split_seed": 0}
    if preset is not None:
        config.update(preset=preset, epochs=epochs)
    w = RecordWriter(path, manifest={"config": config,
                                     "dataset": {"name": "cifar10-lt", "num_classes": 10, "imbalance": 100,
                                                 "split_hash": split_hash(idx)},
                                     "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}]},
                     train_indices=idx, train_labels=source[idx], test_labels=test_labels)
    for epoch in range(1, (epochs or 1) + 1):     # a planned length must be recorded in full to finish
        w.write_epoch(epoch, train_loss=np.ones(idx.size), train_correct=np.ones(idx.size, bool),
                      test_correct=correct, summary={"lr": 0.1, "sampler": "IB", "q": 1.0})
    w.finish()


@pytest.mark.parametrize("accuracies, status", [
    ({"ib": 0.6, "ib-cb": 0.7, "switching": 0.8}, HOLDS_ONLY_IF),    # significant, but one run per schedule
    ({"ib": 0.6, "ib-cb": 0.8, "switching": 0.7}, FAILS),
    ({"ib": 0.6, "ib-cb": 0.7, "switching": 0.705}, HOLDS_ONLY_IF),   # CR - CB within the paired test's noise
])
def test_table1_orderings_reads_committed_records(tmp_path, monkeypatch, accuracies, status):
    """With records under experiments/records/ the check compares them (here a stand-in folder)."""
    from paper_checks import _records
    from paper_checks.check_table1_orderings import table1_orderings
    for schedule, acc in accuracies.items():
        _committed_record(tmp_path / "cifar10-lt-100" / f"{schedule}-seed0", schedule, acc)
    monkeypatch.setattr(_records, "RECORDS_DIR", tmp_path)
    out = table1_orderings()
    assert out.status == status
    acc = out.evidence["groups"]["cifar10-lt(100)"]["accuracy"]
    assert acc == {"IB=>IB": [pytest.approx(100 * accuracies["ib"])],
                   "IB=>CB": [pytest.approx(100 * accuracies["ib-cb"])],
                   "IB=>CR": [pytest.approx(100 * accuracies["switching"])]}
    assert out.evidence["groups"]["cifar10-lt(100)"]["published"]["IB=>CR"] == 79.7


def test_table1_orderings_prefers_a_full_recipe_pair(tmp_path, monkeypatch):
    """Short records say Switching is better; a 200-epoch pair of the paper's recipe says it is worse.
    The verdict follows the full pair when there is one (labelled "paper recipe"), and the short
    records while the full recipe holds one row only (an unfinished pair is no evidence)."""
    from paper_checks import _records
    from paper_checks.check_table1_orderings import table1_orderings
    for schedule, acc in {"ib": 0.6, "switching": 0.7}.items():
        _committed_record(tmp_path / "cifar10-lt-100" / f"{schedule}-seed0", schedule, acc, preset="cifar-short",
                          epochs=60)
    _committed_record(tmp_path / "cifar10-lt-100-full" / "ib-seed0", "ib", 0.8, preset="cifar", epochs=200)
    monkeypatch.setattr(_records, "RECORDS_DIR", tmp_path)
    out = table1_orderings()
    group = out.evidence["groups"]["cifar10-lt(100)"]
    assert not group["full_recipe"] and group["sources"] == ["CPU, 60 epochs (preset cifar-short)"]
    assert out.status == HOLDS_ONLY_IF
    _committed_record(tmp_path / "cifar10-lt-100-full" / "switching-seed0", "switching", 0.7, preset="cifar",
                      epochs=200)
    out = table1_orderings()
    group = out.evidence["groups"]["cifar10-lt(100)"]
    assert group["full_recipe"] and group["sources"] == ["CPU, 200 epochs, paper recipe"]
    assert out.status == FAILS and group["accuracy"]["IB=>CR"] == [pytest.approx(70.0)]


def test_table1_orderings_holds_only_on_every_row_and_column_over_seeds(tmp_path, monkeypatch):
    """Three rows x 3 seeds, each gap 10 points: holds where judged (five columns of Table 6 have no
    records); with the published table cut to this one column, a plain holds. Without IB=>CB the
    same seeds leave the middle row not judged."""
    from paper_checks import _records
    from paper_checks import check_table1_orderings as mod
    from paper_checks._check import HOLDS_WHERE_JUDGED
    base = {"ib": 0.6, "ib-cb": 0.7, "switching": 0.8}
    for schedule, acc in base.items():
        for seed, shift in enumerate((0.0, 0.01, -0.005)):
            _committed_record(tmp_path / "cifar10-lt-100" / f"{schedule}-seed{seed}", schedule, acc + shift, seed)
    monkeypatch.setattr(_records, "RECORDS_DIR", tmp_path)
    out = mod.table1_orderings()
    assert out.status == HOLDS_WHERE_JUDGED
    assert "cifar10-lt(50)" in out.condition and "cifar100-lt(10)" in out.condition
    pairs = out.evidence["groups"]["cifar10-lt(100)"]["pairs"]
    assert [p["comparison"]["method"] for p in pairs] == ["paired t", "paired t"]     # paired by seed
    monkeypatch.setattr(mod, "PUBLISHED", {("cifar10-lt", 100): mod.PUBLISHED[("cifar10-lt", 100)]})
    assert mod.table1_orderings().status == HOLDS
    import shutil
    for seed in range(3):
        shutil.rmtree(tmp_path / "cifar10-lt-100" / f"ib-cb-seed{seed}")
    out = mod.table1_orderings()
    assert out.status == HOLDS_WHERE_JUDGED and "not judged: IB=>CB (no record)" in out.condition
