"""End to end: the main job (experiments/compare_bounds.py) and ltbound.compare."""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "compare_bounds.py"


def _run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def _finite_numbers(obj, path="results"):
    """Yield (path, value) for every number in a JSON tree."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _finite_numbers(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _finite_numbers(v, f"{path}[{i}]")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield path, obj


@pytest.fixture(scope="module")
def default_run(main_job_default_run):
    """The default command as is (3 seeds x 3 schedules x 30 digits epochs; conftest.py), the run
    tests/test_main_job_results.py compares with the committed results."""
    return main_job_default_run


@pytest.mark.slow
def test_default_command_prints_the_table(default_run):
    out, stdout = default_run
    assert "loss: ce-clipped (M = 5)" in stdout
    for title in ("Eq. 6 (IB objective)", "Eq. 7 (final-stage p)", "Target prior uniform"):
        assert title in stdout
    for sched in ("ib", "switching", "ib-cb"):
        assert sched in stdout
    assert "* = estimate" in stdout and "2·R̂*" in stdout and "−Q̂_n*" in stdout and "|Θ̂|" in stdout
    assert f"results in {out}" in stdout


@pytest.mark.slow
def test_results_json_is_complete_finite_and_terms_sum_to_bounds(default_run):
    out, _ = default_run
    res = json.loads((out / "results.json").read_text())
    for key in ("command", "configuration", "records", "environment", "timings", "comparison"):
        assert key in res
    assert res["configuration"]["seeds"] == 3 and res["configuration"]["delta"] == 0.05
    assert res["environment"]["numpy"] and res["timings"]["total_seconds"] > 0
    comp = res["comparison"]
    assert len(comp["runs"]) == 9
    for run in comp["runs"]:
        assert 0 <= run["balanced_test_accuracy"] <= 1
        for which in ("ib", "sampling", "target"):
            b = run["bounds"][which]
            assert math.isclose(sum(t["value"] for t in b["terms"]), b["total"], rel_tol=1e-9, abs_tol=1e-12)
            assert {t["kind"] for t in b["terms"]} <= {"rigorous", "estimate"}
            assert b["certificate"] is False  # a Rademacher term over a trained Θ̂ is an estimate
        # Theorem 1's condition with the empirical Q_n can never be positive (see tests of theory)
        assert run["bounds"]["condition"] <= 1e-12
    for path, v in _finite_numbers(res):
        assert math.isfinite(v), path
    assert set(comp["summary"]) == {"ib", "switching", "ib-cb"}
    assert "by_test_accuracy" in comp["orderings"]


@pytest.mark.slow
def test_figure_is_a_png(default_run):
    out, _ = default_run
    data = (out / "bounds.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


@pytest.mark.slow
def test_records_option_reads_trainer_records(default_run, tmp_path):
    out, _ = default_run
    runs = sorted(str(p) for p in (out / "runs").iterdir())
    res = _run("--records", *runs, "--out", str(tmp_path / "again"), "--quiet", "--loss", "ce-clipped",
               "--cap", "3", "--num-draws", "200")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "loss: ce-clipped (M = 3)" in res.stdout
    again = json.loads((tmp_path / "again" / "results.json").read_text())
    assert again["records"] == runs
    # clipped cross-entropy of trained models is positive: the objective terms are not all zero
    assert any(t["value"] > 0 for r in again["comparison"]["runs"] for t in r["bounds"]["ib"]["terms"]
               if t["name"] == "objective")


@pytest.mark.parametrize("args, message", [
    (["--records", "/nonexistent/record"], "not a run record folder"),
    (["--dataset", "mnist"], "invalid choice"),
    (["--loss", "ce-clipped", "--cap", "0"], "--cap must be > 0"),
    (["--cap", "-1"], "--cap must be > 0"),
    (["--delta", "1.5"], "--delta must lie in (0, 1)"),
    (["--delta", "0"], "--delta must lie in (0, 1)"),
    (["--schedules", "ib", "nope"], "unknown ['nope']"),
    (["--dataset", "cifar10-lt"], "needs --data-dir"),
    (["--mc-delta-fraction", "1"], "--mc-delta-fraction must lie in (0, 1)"),
    # issue 24: flags that the chosen mode would ignore are refused, naming them
    (["--k", "3"], "--k applies only to --theta perturb"),
    (["--radius", "0.1", "--k", "2"], "--k and --radius apply only to --theta perturb"),
    (["--records", "experiments/records/cifar10-lt-50/ib-seed0", "--k", "4"], "--k applies only to --theta perturb"),
    (["--loss", "zero-one", "--cap", "3"], "--cap 3 applies only to --loss ce-clipped"),
])
def test_bad_arguments_exit_2_with_a_clear_message(args, message, tmp_path):
    res = _run(*args, "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("where", ["under-a-file", "proc-new", "proc-existing"])
def test_out_where_nothing_can_be_written_is_refused_before_any_work(where, tmp_path):
    """Issue 24: --out under a file or in /proc printed a traceback (after the whole comparison for
    /proc/self, which exists but takes no files); now one line naming --out, exit status 2."""
    (tmp_path / "file").write_text("x")
    out = {"under-a-file": tmp_path / "file" / "sub", "proc-new": Path("/proc/ltbound-no-such"),
           "proc-existing": Path("/proc/self")}[where]
    if where.startswith("proc") and not Path("/proc/self").is_dir():
        pytest.skip("no /proc on this system")
    res = _run("--records", "experiments/records/cifar10-lt-50/ib-seed0", "--out", str(out), "--quiet")
    assert res.returncode == 2, res.stderr[-2000:]
    assert f"--out {out}" in res.stderr and "Traceback" not in res.stderr
    assert res.stdout == ""                      # refused before the comparison ran


def test_compare_refuses_records_of_different_splits(tmp_path):
    from ltbound.comparison.compare_runs import compare
    from ltbound.records import RecordWriter

    def make(path, labels, seed=0):
        w = RecordWriter(path, manifest={"config": {"schedule": "ib", "seed": seed},
                                         "dataset": {"num_classes": 2},
                                         "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}]},
                         train_indices=np.arange(labels.size), train_labels=labels,
                         test_labels=np.array([0, 1, 0, 1]))
        w.write_epoch(1, train_loss=np.full(labels.size, 0.5), train_correct=np.ones(labels.size, bool),
                      test_correct=np.array([1, 0, 1, 1], bool), summary={"sampler": "IB", "q": 1.0})
        w.finish()
        return path

    a = make(tmp_path / "a", np.array([0, 0, 0, 1]))
    b = make(tmp_path / "b", np.array([0, 0, 1, 1]), seed=1)      # another seed: not a duplicate run
    with pytest.raises(ValueError, match="different splits"):
        compare([a, b])
    with pytest.raises(ValueError, match="needs cap"):
        compare([a], loss="ce-clipped", cap=None)
    with pytest.raises(ValueError, match="delta"):
        compare([a], delta=1.0)
    comp = compare([a], loss="zero-one", cap=None, num_draws=50, num_bootstrap=0)
    run = comp.runs[0]
    # test risks from the record: one error among 4 balanced test samples (class 1)
    assert run.test_risk_balanced == pytest.approx(0.25)
    assert run.test_risk_lt == pytest.approx(0.75 * 0.0 + 0.25 * 0.5)
    assert "ib" in comp.table()


def test_a_record_marked_complete_short_of_its_plan_exits_2(tmp_path):
    """Issue 24: a manifest saying 'complete' with fewer epochs than planned was compared with exit 0."""
    from ltbound.records import RecordWriter, write_manifest
    labels = np.array([0, 0, 0, 1])
    path = tmp_path / "r"
    with RecordWriter(path, manifest={"config": {"schedule": "ib", "seed": 0, "epochs": 2},
                                      "dataset": {"num_classes": 2},
                                      "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}]},
                      train_indices=np.arange(4), train_labels=labels, test_labels=np.array([0, 1, 0, 1])) as w:
        for e in (1, 2):
            w.write_epoch(e, train_loss=np.full(4, 0.5), train_correct=np.ones(4, bool),
                          test_correct=np.array([1, 0, 1, 1], bool), summary={"sampler": "IB", "q": 1.0})
        w.finish()
    m = json.loads((path / "manifest.json").read_text())
    m["history"], m["epochs_completed"] = m["history"][:1], 1
    write_manifest(path, m)
    res = _run("--records", str(path), "--out", str(tmp_path / "o"), "--quiet", "--loss", "zero-one")
    assert res.returncode == 2, res.stdout[-2000:]
    assert "'complete' but only 1 of the 2 planned epochs" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_theta_perturb_uses_perturbed_final_models(default_run, tmp_path):
    """--theta perturb: Θ̂ = K perturbations of each run's final checkpoint plus the model itself."""
    out, _ = default_run
    runs = sorted(str(p) for p in (out / "runs").iterdir())[:1]
    res = _run("--records", *runs, "--theta", "perturb", "--k", "3", "--radius", "0.05",
               "--out", str(tmp_path / "p"), "--quiet", "--num-draws", "100")
    assert res.returncode == 0, res.stderr[-3000:]
    run = json.loads((tmp_path / "p" / "results.json").read_text())["comparison"]["runs"][0]
    assert run["theta"] == "given" and run["bounds"]["ib"]["num_params"] == 4 and run["num_params"] == 4
    # the header and results.json say how Θ̂ was formed, not just "given"
    assert "Θ̂ = final model + 3 perturbations (relative radius 0.05)" in res.stdout
    comp = json.loads((tmp_path / "p" / "results.json").read_text())["comparison"]
    assert comp["theta_label"] == "final model + 3 perturbations (relative radius 0.05)"
    assert run["theta_index"] == 0 and run["bounds"]["ib"]["theta_index"] == 0   # row 0 is the model
    # the bound speaks of the final model: its objective is the record's last-epoch training loss
    from ltbound.records import load_record
    rec = load_record(runs[0])
    assert run["bounds"]["ib"]["terms"][0]["value"] == pytest.approx(
        float(np.minimum(rec.train_loss[-1], 5.0).mean()), rel=2e-3)


def test_header_names_how_the_given_theta_was_formed(tmp_path):
    """theta='given' said only "Θ̂ = given" for K perturbations of the final model; theta_label
    names them (header, results), and without it the header still says "given"."""
    from ltbound.comparison.compare_runs import compare
    from ltbound.records import RecordWriter

    labels = np.array([0, 0, 0, 1])
    w = RecordWriter(tmp_path / "a", manifest={"config": {"schedule": "ib", "seed": 0}, "dataset": {"num_classes": 2},
                                               "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}]},
                     train_indices=np.arange(4), train_labels=labels, test_labels=np.array([0, 1, 0, 1]))
    w.write_epoch(1, train_loss=np.full(4, 0.5), train_correct=np.ones(4, bool),
                  test_correct=np.array([1, 0, 1, 1], bool), summary={"sampler": "IB", "q": 1.0})
    w.finish()
    mat = np.array([[0.5, 0.5, 0.5, 0.5], [0.4, 0.6, 0.5, 0.7], [0.6, 0.5, 0.4, 0.5]])
    kw = dict(loss="ce-clipped", cap=5.0, theta="given", losses=[mat], theta_index=0, num_draws=20, num_bootstrap=0)
    named = compare([tmp_path / "a"], theta_label="final model + 2 perturbations (relative radius 0.05)", **kw)
    assert "Θ̂ = final model + 2 perturbations (relative radius 0.05);" in named.table()
    assert named.to_dict()["theta"] == "given" and named.to_dict()["theta_label"].startswith("final model + 2")
    assert "Θ̂ = given;" in compare([tmp_path / "a"], **kw).table()
    with pytest.raises(ValueError, match="theta_label must be a non-empty string"):
        compare([tmp_path / "a"], theta_label="  ", **kw)


# ----------------------------------------------------------------------------- refused before training
@pytest.mark.parametrize("args, message", [
    # digits preset: milestone 20, S = 1, so switching's CR starts at epoch 22
    (["--schedules", "ib", "switching", "--epochs", "10"],
     "--schedules switching: switch epoch 22 is beyond the run's 10 epochs"),
    (["--epochs", "3", "--warmup-epochs", "3", "--milestones", "1"], "warmup_epochs 3 is not below epochs 3"),
    (["--milestones", "5,x"], "--milestones must be a comma list"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
    (["--preset", "nope"], "preset must be one of"),
    (["--data-dir", "no/such/archive.tar.xz"], "does not exist"),
])
def test_a_run_that_would_be_refused_is_refused_before_any_training(args, message, tmp_path):
    """Every schedule's settings are checked first: nothing is trained, no folder is made."""
    res = _run(*args, "--out", str(tmp_path / "o"))
    assert res.returncode == 2, res.stdout[-2000:]
    assert message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


def test_cifar_switch_beyond_the_run_is_refused_without_reading_the_data(tmp_path):
    """The issue's case: CIFAR at --epochs 1 used to train IB for minutes, then refuse."""
    archive = tmp_path / "cifar10-jpeg.tar.xz"
    archive.write_bytes(b"")                   # exists; refused before anything opens it
    res = _run("--dataset", "cifar10-lt", "--data-dir", str(archive), "--epochs", "1", "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert "switch epoch 102 is beyond the run's 1 epochs" in res.stderr
    assert "[flags: --epochs, --milestones, --switch-offset]" in res.stderr
    assert "--download" not in res.stderr


def test_recipe_flags_reach_every_run_and_short_warmup_is_capped(tmp_path):
    """--milestones / --switch-offset / --batch-size / --max-test-per-class go to the trainer; the
    digits preset's 2 warm-up epochs are capped to 1 in a 2-epoch run (and it says so)."""
    out = tmp_path / "o"
    res = _run("--seeds", "1", "--schedules", "switching", "--epochs", "2", "--milestones", "1",
               "--switch-offset", "0", "--batch-size", "64", "--max-test-per-class", "10", "--num-draws", "50",
               "--out", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    assert "warm-up capped to 1 so that the run reaches lr" in res.stderr and "[flag: --warmup-epochs]" in res.stderr
    assert "[run 1/1] switching seed 0" in res.stdout and "epoch   2/2" in res.stdout   # per-epoch lines
    manifest = json.loads((out / "runs" / "switching-seed0" / "manifest.json").read_text())
    cfg = manifest["config"]
    assert (cfg["milestones"], cfg["switch_offset"], cfg["batch_size"], cfg["warmup_epochs"]) == ([1], 0, 64, 1)
    assert [p["start_epoch"] for p in manifest["schedule"]] == [1, 2]
    assert manifest["dataset"]["n_test"] == 100
    results = json.loads((out / "results.json").read_text())
    assert results["configuration"]["warmup_epochs"] == 1
    assert results["comparison"]["runs"][0]["num_params"] == 1      # final stage: epoch 2 only
    assert "|Θ̂|" in res.stdout


@pytest.mark.slow
def test_runs_that_share_their_first_epochs_are_forked_and_equal_straight_runs(tmp_path):
    """Issue 23 (time): Switching and IB -> CB repeat IB's epochs up to the switch. compare_bounds
    trains that prefix once per seed and forks the other two off it; each record is bitwise the
    one a run trained from epoch 1 writes, so the comparison does not change."""
    import torch
    from ltbound.train.loop.config import TrainConfig
    from ltbound.train.loop.trainer import train

    out = tmp_path / "o"
    # digits, 6 epochs, milestone 3, S = 0: the second sampler from epoch 4, so 3 shared epochs
    recipe = ["--epochs", "6", "--milestones", "3", "--switch-offset", "0"]
    res = _run("--seeds", "1", "--schedules", "ib", "switching", "ib-cb", *recipe, "--num-draws", "50",
               "--out", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    assert "(forked from ib-seed0 after epoch 3)" in res.stdout
    for sched in ("switching", "ib-cb"):
        forked = out / "runs" / f"{sched}-seed0"
        manifest = json.loads((forked / "manifest.json").read_text())
        assert manifest["forked_from"]["epoch"] == 3 and manifest["forked_from"]["path"].endswith("ib-seed0")
        # compare_bounds trains digits on one torch thread (its --threads default); a straight run on
        # another thread count sums in another order and differs in the last bits (CI has 2 cores)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            straight = train(TrainConfig(dataset="digits-lt", schedule=sched, epochs=6, milestones=[3],
                                         switch_offset=0, seed=0, device="cpu",
                                         out=str(tmp_path / f"straight-{sched}"), quiet=True, progress=False))
        finally:
            torch.set_num_threads(threads)
        for e in range(1, 7):
            a = np.load(forked / "epochs" / f"epoch_{e:04d}.npz")
            b = np.load(straight / "epochs" / f"epoch_{e:04d}.npz")
            assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files), (sched, e)
