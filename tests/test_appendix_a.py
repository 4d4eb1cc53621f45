"""Appendix A on run records (experiments/appendix_a.py): its numbers are the library's (Eq. 8-13),
and it refuses what cannot be averaged. Records are tiny synthetic ones written with RecordWriter."""
import importlib.util
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from ltbound.regularity import events as rg

from ltbound.regularity import correlation
from ltbound.records import RecordWriter, load_record
from tests._scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "appendix_a.py"
COUNTS = (16, 8, 5, 3)          # long-tailed training counts n_j, C = 4 (4! = 24 permutations: exact)
TEST_PER_CLASS = 6
EPOCHS = 6


@pytest.fixture(scope="module")
def appendix_a():
    return load_script(SCRIPT, "appendix_a")


def _record(path, *, seed, train_indices=None, counts=COUNTS, epochs=EPOCHS, finish=True, dataset="synthetic-lt"):
    """A record of ``epochs`` epochs whose correctness is random but biased towards large classes."""
    labels = np.repeat(np.arange(len(counts)), counts)
    test_labels = np.repeat(np.arange(len(counts)), TEST_PER_CLASS)
    idx = np.arange(labels.size) * 2 if train_indices is None else np.asarray(train_indices)
    rng = np.random.default_rng(seed)
    w = RecordWriter(path, manifest={"config": {"schedule": "ib", "seed": seed, "preset": "tiny", "epochs": epochs},
                                     "dataset": {"name": dataset, "num_classes": len(counts)},
                                     "environment": {"device": "cpu", "device_name": "test"},
                                     "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}]},
                     train_indices=idx, train_labels=labels, test_labels=test_labels)
    p_train = np.linspace(0.9, 0.3, len(counts))[labels]
    p_test = np.linspace(0.8, 0.2, len(counts))[test_labels]
    for e in range(1, epochs + 1):
        w.write_epoch(e, train_loss=np.full(labels.size, 0.5), train_correct=rng.random(labels.size) < p_train,
                      test_correct=rng.random(test_labels.size) < p_test, summary={"sampler": "IB", "q": 1.0})
    if finish:
        w.finish()
    w.close()
    return path


def _run(mod, tmp_path, *args):
    out = tmp_path / "out"
    assert mod.main([*map(str, args), "--out", str(out), "--permutations", "500", "--seed", "3"]) == 0
    return out, json.loads((out / "appendix_a.json").read_text())


def _refusal(mod, capsys, *args):
    """Run main expecting argparse's exit 2; return its one message line."""
    with pytest.raises(SystemExit) as exc:
        mod.main([*map(str, args)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_json_numbers_are_the_library_functions_on_run_averaged_events(appendix_a, tmp_path, capsys):
    """Eq. 8, 9 averaged over runs, then Eq. 10-12 per class and Eq. 13 against the training counts."""
    paths = [_record(tmp_path / f"r{s}", seed=s) for s in (0, 1, 2)]
    _, res = _run(appendix_a, tmp_path, "--records", *paths)
    recs = [load_record(p) for p in paths]
    counts = recs[0].counts
    for which, corr_attr, labels in (("train", "train_correct", recs[0].train_labels),
                                     ("test", "test_correct", recs[0].test_labels)):
        learned = np.mean([rg.learned_events(getattr(r, corr_attr)) for r in recs], axis=0)      # Eq. 9
        forgotten = np.mean([rg.forgetting_events(getattr(r, corr_attr)) for r in recs], axis=0)  # Eq. 8
        want = rg.class_irregularity(learned, forgotten, labels, len(COUNTS))                    # Eq. 10-12
        got = res[which]
        np.testing.assert_allclose(got["frobenius"], want.frobenius, rtol=1e-12)
        np.testing.assert_allclose(got["irregularity"], want.irregularity, rtol=1e-12)
        np.testing.assert_allclose(got["covariance"], want.covariance, rtol=1e-12, atol=1e-15)
        assert got["cardinality"] == want.cardinality.tolist()
        corr = got["correlation"]
        assert corr["pearson"] == pytest.approx(correlation.cardinality_irregularity_correlation(want.irregularity, counts))
        assert corr["pearson"] == pytest.approx(np.corrcoef(counts, want.irregularity)[0, 1])
        assert corr["spearman"] == pytest.approx(stats.spearmanr(counts, want.irregularity)[0])
        assert corr == correlation.correlation_test(counts, want.irregularity, num_permutations=500, seed=3).to_dict()
    assert res["num_runs"] == 3 and res["num_epochs"] == EPOCHS
    assert res["paper"] == {"runs": 10, "epochs": 200}
    assert res["published"]["pearson"] == -0.6112
    assert [r["seed"] for r in res["records"]] == [0, 1, 2]
    assert {(r["device"], r["preset"], r["epochs_completed"]) for r in res["records"]} == {("cpu", "tiny", EPOCHS)}
    assert res["balanced"] is None and res["figures"]["fig8"] is None and res["figures"]["fig10"] is None
    printed = capsys.readouterr().out
    assert "Figs. 8 and 10" in printed and "not drawn" in printed
    assert "E = 6 epochs" in printed and "paper: 10 runs averaged, 200 epochs" in printed


def test_exact_permutation_p_values_match_enumeration():
    """C! <= num_permutations: p is the share of all C! pairings at least as extreme (no randomness)."""
    x = np.array([16.0, 8.0, 5.0, 3.0, 2.0])
    y = np.array([0.1, 0.5, 0.3, 0.9, 0.7])
    t = correlation.correlation_test(x, y, num_permutations=120, seed=0)
    sims = np.array([np.corrcoef(x, y[list(p)])[0, 1] for p in itertools.permutations(range(5))])
    assert t.exact and t.num_permutations == 120 and t.seed is None
    assert t.p_pearson == pytest.approx(np.mean(np.abs(sims) >= abs(t.pearson) - 1e-12))
    assert t.p_pearson_negative == pytest.approx(np.mean(sims <= t.pearson + 1e-12))
    assert t.spearman == pytest.approx(stats.spearmanr(x, y)[0])


def test_random_permutation_p_values_are_seeded_and_never_zero():
    x, y = np.arange(10.0), np.arange(10.0)[::-1] ** 1.5
    a = correlation.correlation_test(x, y, num_permutations=1000, seed=7)
    assert a == correlation.correlation_test(x, y, num_permutations=1000, seed=7)
    assert not a.exact and a.p_pearson_negative == pytest.approx(1 / 1001)   # only the observed order is as low


def test_incomplete_record_is_refused_unless_allowed(appendix_a, tmp_path, capsys):
    run = _record(tmp_path / "running", seed=0, finish=False)
    line = _refusal(appendix_a, capsys, "--records", run, "--out", tmp_path / "o")
    assert "incomplete" in line and "--allow-incomplete" in line and "--records" in line
    _, res = _run(appendix_a, tmp_path, "--records", run, "--allow-incomplete")
    assert res["records"][0]["status"] == "running"
    assert any("incomplete" in n for n in res["notes"])


def test_records_of_different_splits_are_refused(appendix_a, tmp_path, capsys):
    a = _record(tmp_path / "a", seed=0)
    b = _record(tmp_path / "b", seed=1, train_indices=np.arange(sum(COUNTS)) * 2 + 1)   # other samples, same labels
    line = _refusal(appendix_a, capsys, "--records", a, b, "--out", tmp_path / "o")
    assert "--records" in line and "different training splits" in line


def test_a_record_given_twice_is_refused(appendix_a, tmp_path, capsys):
    a = _record(tmp_path / "a", seed=0)
    line = _refusal(appendix_a, capsys, "--records", a, a, "--out", tmp_path / "o")
    assert "--records" in line and "twice" in line


def test_records_of_different_lengths_are_refused(appendix_a, tmp_path, capsys):
    a = _record(tmp_path / "a", seed=0)
    b = _record(tmp_path / "b", seed=1, epochs=EPOCHS - 1)
    line = _refusal(appendix_a, capsys, "--records", a, b, "--out", tmp_path / "o")
    assert "--records" in line and "epochs" in line


def test_bad_input_names_the_flag(appendix_a, tmp_path, capsys):
    assert "--records" in _refusal(appendix_a, capsys, "--records", tmp_path / "nowhere", "--out", tmp_path / "o")
    run = _record(tmp_path / "r", seed=0)
    assert "--permutations" in _refusal(appendix_a, capsys, "--records", run, "--out", tmp_path / "o",
                                        "--permutations", "0")


def test_command_line_error_is_one_line_without_traceback(tmp_path):
    res = subprocess.run([sys.executable, str(SCRIPT), "--records", str(tmp_path / "missing"), "--out",
                          str(tmp_path / "o")], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("appendix_a.py: error: --records:")


def test_balanced_run_is_matched_sample_by_sample(appendix_a, tmp_path, capsys):
    """Figs. 8, 10: the long-tailed samples' events in a balanced run, found through train_indices."""
    lt = _record(tmp_path / "lt", seed=0)
    lt_rec = load_record(lt)                      # source positions 0, 2, ..., 62
    balanced = 16                                 # n_j of the balanced run: every source position 0..63
    extra_idx = np.setdiff1d(np.arange(balanced * len(COUNTS)), lt_rec.train_indices)
    extra_labels = np.repeat(np.arange(len(COUNTS)), balanced - np.array(COUNTS))
    rng = np.random.default_rng(5)
    perm = rng.permutation(balanced * len(COUNTS))          # the balanced run stores them in another order
    bal_idx = np.concatenate([lt_rec.train_indices, extra_idx])[perm]
    bal_labels = np.concatenate([lt_rec.train_labels, extra_labels])[perm]
    bal = tmp_path / "bal"
    w = RecordWriter(bal, manifest={"config": {"schedule": "ib", "seed": 0, "epochs": 4},
                                    "dataset": {"name": "synthetic-lt", "num_classes": len(COUNTS)},
                                    "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}]},
                     train_indices=bal_idx, train_labels=bal_labels, test_labels=lt_rec.test_labels)
    for e in range(1, 5):
        w.write_epoch(e, train_loss=np.full(bal_idx.size, 0.5), train_correct=rng.random(bal_idx.size) < 0.6,
                      test_correct=rng.random(lt_rec.test_labels.size) < 0.6, summary={"sampler": "IB", "q": 1.0})
    w.finish()
    w.close()
    out, res = _run(appendix_a, tmp_path, "--records", lt, "--balanced-records", bal)
    b = load_record(bal)
    pos = [int(np.flatnonzero(b.train_indices == i)[0]) for i in lt_rec.train_indices]   # loop oracle
    want = rg.class_irregularity(rg.learned_events(b.train_correct)[pos], rg.forgetting_events(b.train_correct)[pos],
                                 lt_rec.train_labels, len(COUNTS))
    np.testing.assert_allclose(res["balanced"]["train"]["irregularity"], want.irregularity, rtol=1e-12)
    assert res["balanced"]["train"]["cardinality"] == list(COUNTS)
    assert res["balanced"]["num_epochs"] == 4
    assert "Balanced run(s) holding the same samples" in capsys.readouterr().out
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "fig8_balanced_train_events.png").is_file() and (out / "fig10_balanced_test_events.png").is_file()


def test_balanced_run_without_the_samples_is_refused(appendix_a, tmp_path, capsys):
    lt = _record(tmp_path / "lt", seed=0)
    other = _record(tmp_path / "other", seed=1, train_indices=np.arange(sum(COUNTS)) * 2 + 1)
    line = _refusal(appendix_a, capsys, "--records", lt, "--balanced-records", other, "--out", tmp_path / "o")
    assert "--balanced-records" in line and "not all in the balanced run" in line


def test_figures_7_and_9_are_written(appendix_a, tmp_path):
    pytest.importorskip("matplotlib", reason="plot_events needs matplotlib (pip install 'ltbound[plots]')")
    out, res = _run(appendix_a, tmp_path, "--records", _record(tmp_path / "r", seed=0))
    for name in ("fig7_train_events.png", "fig9_test_events.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert res["figures"]["fig7"] == str(out / "fig7_train_events.png")


def test_paper_check_averages_the_same_way(appendix_a, tmp_path):
    """paper_checks' averaged_pearson (now on ltbound.regularity.events.averaged_events) gives the script's train Pearson."""
    from paper_checks.check_appendix_a_records import averaged_pearson
    paths = [_record(tmp_path / f"r{s}", seed=s) for s in (0, 1)]
    _, res = _run(appendix_a, tmp_path, "--records", *paths)
    p, irregularity = averaged_pearson([load_record(q) for q in paths])
    assert p == pytest.approx(res["train"]["correlation"]["pearson"], rel=1e-12)
    np.testing.assert_allclose(irregularity, res["train"]["irregularity"], rtol=1e-12)
