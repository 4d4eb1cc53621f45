"""ltbound.compare on run records: incomplete and duplicate records, one loss vocabulary, status
reported, and the public name `compare` always the function (never the module)."""
import json
import subprocess
import sys

import numpy as np
import pytest

import ltbound
from ltbound.records import RecordError, RecordWriter, check_loss, load_record

LABELS = np.array([0, 0, 0, 0, 1, 1])
TEST = np.array([0, 1, 0, 1])


def _record(path, *, schedule="ib", seed=0, epochs=2, finish=True, split_seed=None):
    config = {"schedule": schedule, "seed": seed, **({} if split_seed is None else {"split_seed": split_seed})}
    with RecordWriter(path, manifest={"config": config,
                                      "dataset": {"num_classes": 2},
                                      "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}]},
                      train_indices=np.arange(LABELS.size), train_labels=LABELS, test_labels=TEST) as w:
        for e in range(1, epochs + 1):
            # the seed shows in the losses: two seeds of one experiment never hold identical results
            w.write_epoch(e, train_loss=np.linspace(0.1, 2.0, LABELS.size) / e * (1 + seed),
                          train_correct=np.arange(LABELS.size) % 2 == 0, test_correct=np.array([1, 0, 1, 1], bool),
                          test_loss=np.where([1, 0, 1, 1], 0.6, 0.7), summary={"sampler": "IB", "q": 1.0})
        if finish:
            w.finish()
    return path


def test_compare_is_the_function_whatever_was_imported_before():
    """Importing every submodule (ltbound.comparison.compare_runs included) must not shadow ltbound.compare."""
    code = ("import importlib, pkgutil, ltbound\n"
            "for m in pkgutil.walk_packages(ltbound.__path__, 'ltbound.'):\n"
            "    importlib.import_module(m.name)\n"
            "ltbound.bounds_for_record\n"
            "from ltbound import compare\n"
            "assert callable(ltbound.compare) and ltbound.compare is compare, type(ltbound.compare)\n"
            "assert compare.__module__ == 'ltbound.comparison.compare_runs'\n"
            "modules = {m.name for m in pkgutil.iter_modules(ltbound.__path__)}\n"
            "clash = sorted(modules & set(ltbound.__all__))\n"
            "assert not clash, clash\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def test_incomplete_record_is_refused_unless_allowed(tmp_path):
    running = _record(tmp_path / "r", finish=False)
    with pytest.raises(RecordError, match="not complete.*allow_incomplete=True"):
        ltbound.compare([running], loss="zero-one", cap=None, num_draws=20, num_bootstrap=0)
    with pytest.raises(RecordError, match="not complete"):
        ltbound.bounds_for_record(running, num_draws=20, num_bootstrap=0)
    comp = ltbound.compare([running], loss="zero-one", cap=None, num_draws=20, num_bootstrap=0,
                           allow_incomplete=True)
    assert comp.runs[0].status == "running"
    assert comp.to_dict()["runs"][0]["status"] == "running"
    assert comp.to_dict()["runs"][0]["epochs_completed"] == 2


def test_duplicate_records_are_refused_unless_allowed(tmp_path):
    a = _record(tmp_path / "a")
    twin = _record(tmp_path / "twin")            # another folder, same label and seed
    other_seed = _record(tmp_path / "s1", seed=1)
    with pytest.raises(RecordError, match="same folder"):
        ltbound.compare([a, tmp_path / "." / "a"], loss="zero-one", cap=None, num_draws=20, num_bootstrap=0)
    with pytest.raises(RecordError, match="same run .*seed 0"):
        ltbound.compare([a, twin], loss="zero-one", cap=None, num_draws=20, num_bootstrap=0)
    comp = ltbound.compare([a, other_seed], loss="zero-one", cap=None, num_draws=20, num_bootstrap=0)
    assert comp.summary["ib"]["balanced_test_accuracy"]["values"] == [0.75, 0.75]
    comp = ltbound.compare([a, a], loss="zero-one", cap=None, num_draws=20, num_bootstrap=0, allow_duplicates=True)
    assert len(comp.runs) == 2


def test_a_copy_with_its_seed_relabelled_is_not_a_second_seed(tmp_path):
    """Issue 24: a run copied and its manifest's seed rewritten (checksum resealed) counted as seed 2."""
    import shutil
    from ltbound.records import write_manifest
    a = _record(tmp_path / "a")
    shutil.copytree(a, tmp_path / "copy")
    m = json.loads((tmp_path / "copy" / "manifest.json").read_text())
    m["config"]["seed"] = m["run"]["seed"] = 7
    write_manifest(tmp_path / "copy", m)
    assert load_record(tmp_path / "copy").seed == 7            # a well-formed record on its own
    with pytest.raises(RecordError, match="per-sample results are identical .*seeds 0 and 7"):
        ltbound.compare([a, tmp_path / "copy"], loss="zero-one", cap=None, num_draws=20, num_bootstrap=0)
    other = _record(tmp_path / "s1", seed=1)                   # a real second seed still compares
    assert len(ltbound.compare([a, other], loss="zero-one", cap=None, num_draws=20, num_bootstrap=0).runs) == 2


def test_runs_of_different_split_seeds_are_not_seeds_of_one_experiment(tmp_path):
    """Issue 24: records of split seeds 0 and 1 (same labels) were averaged as two seeds."""
    a = _record(tmp_path / "a", split_seed=0)
    b = _record(tmp_path / "b", seed=1, split_seed=1)
    with pytest.raises(ValueError, match="different splits .*split_seed 0 vs 1"):
        ltbound.compare([a, b], loss="zero-one", cap=None, num_draws=20, num_bootstrap=0)
    with pytest.raises(ValueError, match="different splits"):   # allow_duplicates does not lift it
        ltbound.compare([a, b], loss="zero-one", cap=None, num_draws=20, num_bootstrap=0, allow_duplicates=True)
    c = _record(tmp_path / "c", seed=1, split_seed=0)
    assert len(ltbound.compare([a, c], loss="zero-one", cap=None, num_draws=20, num_bootstrap=0).runs) == 2


@pytest.mark.parametrize("loss, cap, message", [
    ("zero_one", None, "loss must be one of"),
    ("mse", None, "loss must be one of"),
    ("ce", None, "loss must be one of"),               # raw cross-entropy is unbounded: no bound uses it
    ("ce-clipped", None, "needs cap"),
    ("ce-clipped", 0.0, "cap must be a finite number > 0"),
    ("ce-clipped", float("nan"), "cap must be a finite number > 0"),
    ("ce-clipped", "5", "cap must be a finite number > 0"),
    ("zero-one", 5.0, "cap applies only to loss='ce-clipped'"),
])
def test_one_loss_vocabulary_with_the_cap_exactly_when_needed(tmp_path, loss, cap, message):
    rec = _record(tmp_path / "a")
    with pytest.raises(ValueError, match=message):
        ltbound.compare([rec], loss=loss, cap=cap, num_draws=20, num_bootstrap=0)
    with pytest.raises(ValueError, match=message):
        ltbound.bounds_for_record(rec, loss=loss, cap=cap, num_draws=20, num_bootstrap=0)


def test_loss_names_mean_what_they_say(tmp_path):
    rec = load_record(_record(tmp_path / "a"))
    ce = rec.loss_matrix(loss="ce")
    np.testing.assert_array_equal(rec.loss_matrix(loss="ce-clipped", cap=1.0), np.minimum(ce, 1.0))
    np.testing.assert_array_equal(rec.loss_matrix(loss="zero-one"), 1.0 - rec.train_correct.astype(float))
    with pytest.raises(ValueError, match="cap applies only"):
        rec.loss_matrix(loss="ce", cap=1.0)
    assert check_loss("ce-clipped", 5) == ("ce-clipped", 5.0)
    clipped = ltbound.bounds_for_record(rec, loss="ce-clipped", cap=1.0, num_draws=20, num_bootstrap=0)
    zero_one = ltbound.bounds_for_record(rec, loss="zero-one", num_draws=20, num_bootstrap=0)
    assert clipped.report.ib.loss_range == 1.0
    # the final model's training risk: mean clipped CE vs mean 0-1 loss of the same epoch
    assert clipped.train_risk == pytest.approx(float(np.minimum(ce[-1], 1.0).mean()), rel=1e-6)
    assert zero_one.train_risk == pytest.approx(0.5)


def _main_job(*args):
    from pathlib import Path
    script = Path(__file__).resolve().parents[1] / "experiments" / "compare_bounds.py"
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=600)


def test_main_job_reports_a_damaged_record_in_one_line(tmp_path):
    rec = _record(tmp_path / "a")
    epoch = rec / "epochs" / "epoch_0002.npz"
    epoch.write_bytes(epoch.read_bytes()[:40])                # truncated
    res = _main_job("--records", str(rec), "--loss", "zero-one", "--num-draws", "20", "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "epoch_0002.npz" in lines[0] and lines[0].startswith("compare_bounds.py: error:")


def test_main_job_refuses_an_incomplete_record_unless_asked_and_writes_its_status(tmp_path):
    import json
    rec = _record(tmp_path / "a", finish=False)
    res = _main_job("--records", str(rec), "--loss", "zero-one", "--num-draws", "20", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "not complete" in res.stderr and "Traceback" not in res.stderr
    assert "--allow-incomplete" in res.stderr and "allow_incomplete=True" not in res.stderr   # the CLI's flag
    res = _main_job("--records", str(rec), "--loss", "zero-one", "--num-draws", "20", "--allow-incomplete",
                    "--out", str(tmp_path / "o2"), "--quiet")
    assert res.returncode == 0, res.stderr[-2000:]
    runs = json.loads((tmp_path / "o2" / "results.json").read_text())["comparison"]["runs"]
    assert [r["status"] for r in runs] == ["running"]


def test_default_cap_is_5_for_clipped_ce_and_none_for_zero_one(tmp_path):
    rec = _record(tmp_path / "a")
    assert ltbound.compare([rec], num_draws=20, num_bootstrap=0).loss_range == 5.0
    assert ltbound.compare([rec], loss="zero-one", num_draws=20, num_bootstrap=0).loss_range == 1.0
