"""The experiment experiments/certify.py: a very small end-to-end run, its results.json, flag checks, CIFAR dry run."""
import json
from pathlib import Path

import numpy as np
import pytest
from tests._scripts import load_script

pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "certify.py"


def _script():
    return load_script(SCRIPT, "certify_script")


TINY = ["--schedules", "ib", "switching", "--epochs", "3", "--milestones", "1", "--warmup-epochs", "0",
        "--sigma-grid", "0.01", "--posterior-epochs", "1", "--num-samples", "6", "--test-samples", "2",
        "--max-test-per-class", "5", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("certify") / "out"
    mod = _script()
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = mod.main([*TINY, "--out", str(out)])
    assert rc == 0
    return out, buf.getvalue()


@pytest.mark.slow
def test_tiny_experiment_writes_results_json_and_figure(tiny_run):
    out, stdout = tiny_run
    res = json.loads((out / "results.json").read_text())
    for key in ("command", "configuration", "dataset", "environment", "timings", "runs", "differences"):
        assert key in res
    assert [r["schedule"] for r in res["runs"]] == ["ib", "switching"]
    for r in res["runs"]:
        for loss in ("zero-one", "bounded-ce"):
            for method in ("union", "pooled-chernoff"):
                c = r["certificates"][loss][method]
                assert 0.0 <= c["empirical"] <= c["bound"] <= 1.0
                assert c["delta_split"]["prior_grid_size"] == 1 and c["num_samples"] == 6
        for key in ("stochastic_balanced_error", "stochastic_lower_bound", "deterministic_balanced_error",
                    "deterministic_certificate", "prior_balanced_error"):
            assert key in r["test"]
        assert (Path(r["record"]) / "pacbayes" / "result.npz").is_file()
    assert res["timings"]["cpu_seconds"] > 0
    assert (out / "certify.png").stat().st_size > 1000
    assert "cert 0-1" in stdout and "non-vacuous" in stdout and f"results in {out}" in stdout


@pytest.mark.slow
def test_the_certified_difference_is_printed_and_recomputable(tiny_run):
    """Each pair's certified difference is printed with its verdict, and certificates.npz alone
    recomputes it and every single-schedule certificate in results.json."""
    from ltbound.certificates.certificate_files import read_certificate_file, recompute_certificates

    out, stdout = tiny_run
    res = json.loads((out / "results.json").read_text())
    (d,) = res["differences"]
    assert (d["a"], d["b"]) == ("switching", "ib") and d["text"] in stdout
    assert d["lower"] <= d["empirical"] <= d["upper"] and d["prior_grid_size"] == 1
    assert ("NOT PROVED" in d["text"]) == (d["verdict"] == "not proved")
    rec = recompute_certificates(out / "certificates.npz")
    assert rec["differences"][0]["upper"] == d["upper"] and rec["differences"][0]["lower"] == d["lower"]
    for r in res["runs"]:
        got = rec["runs"][r["schedule"]]
        assert got["sigma_index"] == r["sigma_index"]
        assert got["zero-one"] == min(c["bound"] for c in r["certificates"]["zero-one"].values())
    f = read_certificate_file(out / "certificates.npz")
    assert f["losses"]["ib"]["zero-one"][0].shape == (6, f["cert_labels"].size)
    assert res["runs"][0]["config"]["draw_seeds"] == "per-schedule"


def _write_pair(path, la, lb, labels, kl=0.5):
    from ltbound.certificates.certificate_files import write_certificate_file

    return write_certificate_file(
        path, schedules=["ib", "switching"], sigma_grid=[0.01], prior_indices=np.arange(labels.size, 2 * labels.size),
        cert_indices=np.arange(labels.size), train_indices=np.arange(2 * labels.size), cert_labels=labels,
        num_classes=int(labels.max()) + 1, zero_one={"ib": [la], "switching": [lb]},
        bce={"ib": [la * 0.5], "switching": [lb * 0.5]}, kls={"ib": [kl], "switching": [kl]},
        budget={"delta": 0.05, "methods": ["union", "pooled-chernoff"], "mc_delta_fraction": 0.1, "mc_bound": "best",
                "mc_draws": "per-sample", "target_prior": "balanced", "draw_seeds": "per-schedule",
                "difference": {"delta": 0.05, "method": "pooled-chernoff", "sides": "two-sided", "loss": "zero-one",
                               "pairs": [["switching", "ib"]]}})


@pytest.mark.parametrize("switching_errs,verdict,word", [(0.05, "switching lower", "PROVED LOWER"),
                                                        (0.28, "not proved", "NOT PROVED"),
                                                        (0.6, "ib lower", "PROVED HIGHER")])
def test_difference_verdict_can_come_out_either_way(tmp_path, switching_errs, verdict, word):
    """From a certificate file alone: IB errs on 30% of 400 images per class, Switching on 5%, 28% or
    60% of them (mostly where IB errs): proved lower, not proved, proved higher."""
    mod = _script()
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 400)
    u = rng.random((4, labels.size))
    la = (u < 0.3).astype(np.uint8)
    lb = (u < switching_errs).astype(np.uint8)
    path = _write_pair(tmp_path / "c.npz", la, lb, labels)
    (d,) = mod.differences([], path)
    assert d["verdict"] == verdict and word in d["text"] and f"[{d['lower']:+.4f}, {d['upper']:+.4f}]" in d["text"]


def test_shared_draw_seeds_give_no_difference(tmp_path):
    from ltbound.certificates.certificate_files import recompute_certificates, write_certificate_file

    labels = np.repeat(np.arange(2), 10)
    path = _write_pair(tmp_path / "c.npz", np.zeros((2, 20), np.uint8), np.zeros((2, 20), np.uint8), labels)
    data = dict(np.load(path))
    budget = json.loads(str(data["budget"]))
    budget["draw_seeds"] = "shared"
    data["budget"] = np.asarray(json.dumps(budget))
    np.savez_compressed(tmp_path / "shared.npz", **data)
    with pytest.raises(ValueError, match="shared one seed"):
        recompute_certificates(tmp_path / "shared.npz")
    with pytest.raises(ValueError, match="zero_one must hold only 0 and 1"):
        write_certificate_file(tmp_path / "bad.npz", schedules=["a"], sigma_grid=[0.1], prior_indices=[0],
                               cert_indices=[1], train_indices=[0, 1], cert_labels=[0], num_classes=1,
                               zero_one={"a": [np.full((1, 1), 2)]}, bce={"a": [np.zeros((1, 1))]}, kls={"a": [0.0]},
                               budget={})


def test_cifar_path_dry_run_checks_every_setting(tmp_path, capsys):
    """The CIFAR-10-LT command is accepted (recipe, schedules, device, data path) without training."""
    mod = _script()
    rc = mod.main(["--dataset", "cifar10-lt", "--data-dir", str(tmp_path), "--preset", "cifar-short",
                   "--num-samples", "100", "--device", "cpu", "--dry-run", "--out", str(tmp_path / "o")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "dry run: cifar10-lt" in out and '"num_samples": 100' in out
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flags, word", [(["--sigma-grid", "0.01,0"], "--sigma-grid"),
                                         (["--prior-fraction", "1"], "--prior-fraction"),
                                         (["--tail-prior-fraction", "0"], "--tail-prior-fraction"),
                                         (["--num-samples", "0"], "--num-samples"),
                                         (["--schedules", "nope"], "--schedules"),
                                         (["--dataset", "cifar10-lt"], "--data-dir")])
def test_bad_flags_are_refused_naming_the_flag(flags, word, capsys, monkeypatch):
    monkeypatch.delenv("LTBOUND_DATA_DIR", raising=False)
    with pytest.raises(SystemExit) as e:
        _script().main([*flags, "--dry-run"])
    assert e.value.code == 2
    assert word in capsys.readouterr().err


@pytest.mark.slow
def test_an_interrupted_certification_resumes_to_the_same_result(tiny_run, tmp_path):
    """A run stopped after the priors (its second prior's σ never stored, no results.json) is
    continued with --resume: the stored posterior is read back, the missing one trained again,
    and every certificate equals the uninterrupted run's. Without --resume the folder is refused."""
    import shutil

    src, _ = tiny_run
    out = tmp_path / "out"
    shutil.copytree(src, out)
    (out / "results.json").unlink()
    manifest_path = out / "runs" / "switching" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for rel in ("pacbayes/sigma_0.npz", "pacbayes/result.npz"):     # as if stopped before they were written
        del manifest["files"][rel]
        (out / "runs" / "switching" / rel).unlink()
    from ltbound.records import write_manifest
    write_manifest(out / "runs" / "switching", manifest)          # with its checksum, as the writer leaves it
    mod = _script()
    with pytest.raises(SystemExit):
        mod.main([*TINY, "--out", str(out)])
    assert mod.main([*TINY, "--out", str(out), "--resume"]) == 0
    want = json.loads((src / "results.json").read_text())
    got = json.loads((out / "results.json").read_text())
    for a, b in zip(want["runs"], got["runs"]):
        assert a["certificates"] == b["certificates"], a["schedule"]
        untimed = [[{k: v for k, v in h.items() if k != "seconds"} for h in p["history"]] for p in a["per_sigma"]]
        assert untimed == [[{k: v for k, v in h.items() if k != "seconds"} for h in p["history"]]
                           for p in b["per_sigma"]]
        assert [{k: v for k, v in p.items() if k != "history"} for p in a["per_sigma"]] == \
            [{k: v for k, v in p.items() if k != "history"} for p in b["per_sigma"]]


@pytest.mark.slow
@pytest.mark.parametrize("added", ["all", "none"])
def test_an_interrupted_certification_continues_on_another_machine_from_its_snapshots(tiny_run, tmp_path, added):
    """The session's end: an unfinished certification (Switching's σ not yet stored) is packed, prior run by
    prior run, with its stored posteriors (`python -m ltbound.train pack RUN SNAP --checkpoints all`) or without
    them (`--added-files none`: they are trained again), restored into a new folder (`restore`) and continued
    with --resume: every certificate equals the uninterrupted run's."""
    import shutil

    from ltbound.records import write_manifest
    from ltbound.train.runs.snapshot import continue_command, pack_run, read_snapshot, restore_snapshot

    src, _ = tiny_run
    old = tmp_path / "machine-a"
    shutil.copytree(src, old)
    manifest = json.loads((old / "runs" / "switching" / "manifest.json").read_text())
    for rel in ("pacbayes/sigma_0.npz", "pacbayes/result.npz"):     # as if stopped before they were written
        del manifest["files"][rel]
        (old / "runs" / "switching" / rel).unlink()
    write_manifest(old / "runs" / "switching", manifest)
    new = tmp_path / "machine-b"
    for sched in ("ib", "switching"):
        index = pack_run(old / "runs" / sched, tmp_path / "snapshots" / sched, checkpoints="all", added_files=added)
        assert (sched == "ib" and added == "all") == ("pacbayes/result.npz" in index["added_files"])
        assert (sched == "ib" and added == "none") == ("pacbayes/result.npz" in index["added_files_left"])
        assert all(rel in read_snapshot(tmp_path / "snapshots" / sched)["files"] for rel in index["added_files"])
        restore_snapshot(tmp_path / "snapshots" / sched, new / "runs" / sched)
        # a prior trained on D_prior only: the trainer's CLI would refuse it, certify.py continues it
        assert continue_command(new / "runs" / sched).startswith(f"python experiments/certify.py --out {new} --resume")
        subset = json.loads((new / "runs" / sched / "manifest.json").read_text())["dataset"]["subset"]
        assert subset["role"] == "certification prior" and subset["n_prior"] < subset["of_n_train"]
    shutil.rmtree(old)                                               # the first machine is gone
    # a prior written before the subset mark, its certification not started (no pacbayes/ file): either command
    older = tmp_path / "older" / "runs" / "switching"
    shutil.copytree(new / "runs" / "switching", older)
    manifest = json.loads((older / "manifest.json").read_text())
    del manifest["dataset"]["subset"]
    manifest["files"] = {k: v for k, v in manifest["files"].items() if not k.startswith("pacbayes/")}
    manifest["restores"] = [{**r, "added_files_not_carried": []} for r in manifest["restores"]]
    write_manifest(older, manifest)
    hint = continue_command(older)
    assert hint.startswith(f"python -m ltbound.train --out {older} --resume; or, if") and "certify.py" in hint
    assert _script().main([*TINY, "--out", str(new), "--resume"]) == 0
    want = json.loads((src / "results.json").read_text())
    got = json.loads((new / "results.json").read_text())
    assert [r["certificates"] for r in got["runs"]] == [r["certificates"] for r in want["runs"]]
    assert [d["upper"] for d in got["differences"]] == [d["upper"] for d in want["differences"]]


@pytest.mark.slow
def test_report_reads_certified_schedules_back_and_lists_pending_ones(tiny_run, tmp_path):
    """--report trains nothing: it verifies and tabulates what is certified in --out. With one
    schedule's result missing it reports the other and names the missing one as pending; with
    nothing certified it refuses."""
    import contextlib
    import io
    import shutil

    src, stdout = tiny_run
    out = tmp_path / "out"
    shutil.copytree(src, out)
    mod = _script()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert mod.main(["--schedules", "ib", "switching", "--out", str(out), "--report"]) == 0
    rep = json.loads((out / "report.json").read_text())
    want = json.loads((src / "results.json").read_text())
    assert rep["complete"] and rep["pending"] == []
    assert [r["certificates"] for r in rep["runs"]] == [r["certificates"] for r in want["runs"]]
    table_row = next(line for line in stdout.splitlines() if line.startswith("ib "))
    assert table_row in buf.getvalue()
    (out / "runs" / "switching" / "pacbayes" / "result.npz").unlink()
    with contextlib.redirect_stdout(io.StringIO()):
        assert mod.main(["--schedules", "ib", "switching", "--out", str(out), "--report"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert not rep["complete"] and rep["pending"] == ["switching"] and len(rep["runs"]) == 1
    (out / "runs" / "ib" / "pacbayes" / "result.npz").unlink()
    assert mod.main(["--schedules", "ib", "switching", "--out", str(out), "--report"]) == 2
