"""benchmarks/epoch_times.py: seconds per epoch per machine, from a record's history and resume entries."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests._scripts import ROOT, load_script

SEED1 = ROOT / "experiments" / "records" / "cifar10-lt-100-full"


@pytest.fixture(scope="module")
def times():
    return load_script("benchmarks/epoch_times.py")


def _manifest(done, resumes=(), fork=None, cpu_model="B", seconds=None):
    """A manifest with only what the timing reads; epoch e took e s of training and 1 s of evaluation."""
    seconds = seconds or (lambda e: float(e))
    hist = [{"epoch": e, "seconds": seconds(e), "eval_seconds": 1.0, "cpu_seconds": seconds(e) / 2,
             "eval_cpu_seconds": 0.5} for e in range(1, done + 1)]
    m = {"epochs_completed": done, "history": hist, "resumes": list(resumes), "environment": {"cpu_model": cpu_model}}
    if fork is not None:
        m["forked_from"] = {"epoch": fork}
    return m


def test_stretches_follow_resumes_and_undo_cpu_changes_backwards(times):
    m = _manifest(20, resumes=[{"after_epoch": 5, "other_environment_changes": {"cpu_model": ["A", "B"]}},
                               {"after_epoch": 12, "environment_changes": {}}])
    assert times.stretches(m) == [{"first": 1, "last": 5, "cpu_model": "A", "start": "start"},
                                  {"first": 6, "last": 12, "cpu_model": "B", "start": "resume"},
                                  {"first": 13, "last": 20, "cpu_model": "B", "start": "resume"}]
    rows = {r["cpu_model"]: r for r in times.epoch_times(m, settle=2)}
    assert rows["A"]["epochs"] == 3 and (rows["A"]["first_epoch"], rows["A"]["last_epoch"]) == (3, 5)
    kept_b = [8, 9, 10, 11, 12, 15, 16, 17, 18, 19, 20]            # 6-7 and 13-14 settle
    assert rows["B"]["epochs"] == len(kept_b)
    assert rows["B"]["train_median"] == float(np.median(kept_b))
    assert rows["B"]["epoch_median"] == float(np.median(kept_b)) + 1.0
    assert rows["B"]["epoch_fastest"] == 9.0
    assert rows["B"]["cpu_share_median"] == pytest.approx(float(np.median([(e / 2 + 0.5) / (e + 1) for e in kept_b])))


def test_a_fork_is_timed_from_its_own_first_epoch_and_settle_zero_keeps_all(times):
    m = _manifest(10, fork=6)
    assert times.stretches(m) == [{"first": 7, "last": 10, "cpu_model": "B", "start": "fork"}]
    (row,) = times.epoch_times(m, settle=0)
    assert (row["first_epoch"], row["last_epoch"], row["epochs"]) == (7, 10, 4)
    (row,) = times.epoch_times(m, settle=0, from_epoch=8, to_epoch=9)
    assert row["epochs"] == 2 and row["train_median"] == 8.5
    assert times.epoch_times(m, settle=4) == []                    # every epoch settles: nothing to count


def test_a_history_without_cpu_seconds_gives_no_share(times):
    m = _manifest(6)
    for h in m["history"]:
        del h["cpu_seconds"]
    (row,) = times.epoch_times(m, settle=0)
    assert row["cpu_share_median"] is None and row["cpu_model"] == "B"


def test_committed_seed1_pair_splits_at_the_machine_change(times):
    from ltbound.records import read_manifest
    m = read_manifest(SEED1 / "ib-seed1")
    models = [s["cpu_model"] for s in times.stretches(m)]
    assert models[0] == "AMD EPYC" and set(models[1:]) == {"Intel(R) Xeon(R) Processor"}
    rows = {r["cpu_model"]: r for r in times.epoch_times(m)}
    hist = {h["epoch"]: h for h in m["history"]}
    amd = [hist[e]["seconds"] + hist[e]["eval_seconds"] for e in range(3, 74)]
    assert rows["AMD EPYC"]["epoch_median"] == pytest.approx(float(np.median(amd)))
    # the Xeon epochs are faster than the AMD ones (docs/benchmarks.md: 49 s against 64 s)
    assert rows["Intel(R) Xeon(R) Processor"]["epoch_median"] < rows["AMD EPYC"]["epoch_median"]


def _run(*args):
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "epoch_times.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_command_prints_a_row_per_machine_and_writes_json(tmp_path):
    out = tmp_path / "t.json"
    res = _run(SEED1 / "ib-seed1", SEED1 / "switching-seed1", "--json", out)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("Intel(R) Xeon(R) Processor  bf16") == 2 and "AMD EPYC" in res.stdout
    doc = json.loads(out.read_text())
    assert [len(r["machines"]) for r in doc["runs"]] == [2, 1]
    assert _run(SEED1 / "ib-seed1", "--json", out).returncode == 2          # no overwrite without --overwrite


def test_an_edited_manifest_or_bad_range_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "rec"
    bad.mkdir()
    shutil.copy(SEED1 / "ib-seed1" / "manifest.json", bad / "manifest.json")
    text = (bad / "manifest.json").read_text()
    (bad / "manifest.json").write_text(text.replace('"seconds": 5', '"seconds": 6', 1))
    res = _run(bad)
    assert res.returncode == 2 and "checksum mismatch" in res.stderr and "Traceback" not in res.stderr
    res = _run(SEED1 / "ib-seed1", "--from-epoch", 9, "--to-epoch", 3)
    assert res.returncode == 2 and "--from-epoch 9 is after --to-epoch 3" in res.stderr
