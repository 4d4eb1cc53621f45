"""The experiment experiments/certify.py: a very small end-to-end run, its results.json, flag checks, CIFAR dry run."""
import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "certify.py"


def _script():
    spec = importlib.util.spec_from_file_location("certify_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
    for key in ("command", "configuration", "dataset", "environment", "timings", "runs", "comparisons"):
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
def test_differing_certificates_say_what_they_prove(tiny_run):
    """When the two certificates differ, the printed statement names both readings; the verdict follows the rule."""
    out, stdout = tiny_run
    res = json.loads((out / "results.json").read_text())
    for c in res["comparisons"]:
        assert "does not prove" in c["text"] and "lower confidence bound" in c["text"]
        assert c["proved"] == (c["certificate_lower"] < c["lower_bound_of_higher"])
        assert c["text"] in stdout


def test_comparison_verdict_can_come_out_either_way():
    mod = _script()

    class Run:
        def __init__(self, name, cert, lcb):
            self.schedule, self._c, self.test = name, cert, {"stochastic_lower_bound": lcb}

        def best(self, loss="zero-one"):
            return {"bound": self._c}

    proved = mod.comparisons([Run("a", 0.2, 0.15), Run("b", 0.5, 0.3)], 0.05)[0]
    assert proved["proved"] and proved["lower"] == "a" and "IS proved" in proved["text"]
    not_proved = mod.comparisons([Run("a", 0.4, 0.15), Run("b", 0.5, 0.3)], 0.05)[0]
    assert not not_proved["proved"] and "NOT proved" in not_proved["text"]
    assert mod.comparisons([Run("a", 0.4, 0.1), Run("b", 0.4, 0.1)], 0.05) == []
    assert mod.comparisons([Run("a", 1.0 - 1e-12, 0.0), Run("b", 1.0, 0.0)], 0.05) == []   # equal as printed


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
