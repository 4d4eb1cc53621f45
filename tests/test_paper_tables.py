"""The paper's ablation studies (experiments/paper_tables.py) at their smallest size."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from ltbound.records import load_record
from tests._scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "paper_tables.py"
ROWS = {"5": 8, "6": 16, "7": 3, "8": 12, "9": 4, "10": 6, "11": 10}


def _module():
    return load_script(SCRIPT, "paper_tables")


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)


def _numbers(obj, path="json"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield path, obj


SMALL = ("--seeds", "2", "--epochs", "4", "--max-test-per-class", "10", "--quiet")


@pytest.fixture(scope="module")
def small_all(tmp_path_factory):
    """Every study at the smallest size: 2 seeds (Table 9's minimum), 4 digits epochs, 100 test images."""
    out = tmp_path_factory.mktemp("pt") / "out"
    res = _run("--table", "all", "--out", str(out), *SMALL)
    assert res.returncode == 0, res.stderr[-3000:]
    docs = {n: json.loads((out / f"table{n}" / "results.json").read_text()) for n in ROWS}
    return out, res.stdout, docs


# ---------------------------------------------------------------------------- statistics
def test_paired_difference_by_hand():
    mod = _module()
    d = mod.paired_difference({0: 3.0, 1: 5.0, 2: 4.0}, {0: 1.0, 1: 2.0, 2: 3.0})
    # differences 2, 3, 1: mean 2, sd 1, t_{0.975, 2} = 4.3027
    assert d["diff"] == pytest.approx(2.0)
    assert d["high"] - d["diff"] == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    one = mod.paired_difference({0: 1.0}, {0: 0.0})
    assert one["n"] == 1 and math.isnan(one["low"])


@pytest.mark.parametrize("ours_a, ours_b, expected", [
    ({0: 80.0, 1: 81.0, 2: 80.5}, {0: 70.0, 1: 70.5, 2: 71.0}, "same ordering"),
    ({0: 70.0, 1: 70.5, 2: 71.0}, {0: 80.0, 1: 81.0, 2: 80.5}, "different"),
    ({0: 80.0, 1: 70.0, 2: 75.0}, {0: 72.0, 1: 78.0, 2: 75.5}, "not detectable at this size"),
])
def test_verdict_comes_out_every_way(ours_a, ours_b, expected):
    mod = _module()
    rows = [mod.row("a", 82.9, ours_a), mod.row("b", 77.9, ours_b), mod.row("c", 82.5, ours_a)]
    v = mod.ordering_verdict(rows)
    assert v["verdict"] == expected
    # a vs c differ by 0.4 in the paper (< 1 point): not a claim, so only a-b and b-c are compared
    assert {(p["a"], p["b"]) for p in v["pairs"]} == {("a", "b"), ("b", "c")}


# ---------------------------------------------------------------------------- end to end
def test_every_table_has_its_shape_and_finite_numbers(small_all):
    out, stdout, docs = small_all
    for n, k in ROWS.items():
        doc = docs[n]
        assert len(doc["rows"]) == k, n
        assert doc["verdict"]["verdict"] in ("same ordering", "different", "not detectable at this size")
        assert f"verdict: {doc['verdict']['verdict']}" in stdout
        for path, v in _numbers(doc["rows"]):
            assert math.isfinite(v), (n, path)
        for r in doc["rows"]:
            assert r["paper"] is None or 0 < r["paper"] <= 100
    assert "First \\ second".lower() in stdout.lower()


def test_json_numbers_are_the_records(small_all):
    out, _, docs = small_all
    for n in ("5", "6", "7", "11"):
        for r in docs[n]["rows"]:
            for seed, v in r["values"].items():
                rec = load_record(r["runs"][seed])
                assert v == pytest.approx(100 * rec.balanced_test_accuracy()[-1], abs=1e-9), (n, r["label"])
    for doc in docs.values():
        for run in doc["runs"]:
            rec = load_record(run["path"])
            assert rec.complete and run["config"] == rec.manifest["config"]
            assert run["final_balanced_test_accuracy"] == pytest.approx(rec.balanced_test_accuracy()[-1])
    # Table 8's joint rows are the runs themselves; Table 10's switching/CR is Table 8's CR joint + cRT
    t8 = {(r["second"], r["joint"], r["retrain"]): r for r in docs["8"]["rows"]}
    t10 = {(r["feature"], r["retrain"]): r for r in docs["10"]["rows"]}
    assert t8[("CR", True, True)]["values"] == t10[("switching", "CR")]["values"]
    t6 = {r["label"]: r for r in docs["6"]["rows"]}
    assert t8[("CB", True, False)]["values"] == t6["IB → CB"]["values"]
    for r in docs["9"]["rows"]:
        assert r["total"] == pytest.approx(r["bias2"] + r["variance"], abs=1e-9)
        assert r["num_models"] == 2
        # 0-1 loss beside it: Kohavi-Wolpert bias² + variance = mean error = 1 − the models' mean accuracy
        assert r["zero_one_total"] == pytest.approx(r["kw_bias2"] + r["kw_variance"], abs=1e-9)
        assert r["zero_one_total"] == pytest.approx(1 - r["accuracy"], abs=1e-9)
        assert r["zero_one"]["loss"] == pytest.approx(r["zero_one"]["bias"] + r["zero_one"]["net_variance"], abs=1e-9)
    assert docs["9"]["verdict_zero_one"]["verdict"] in ("same ordering", "different", "not detectable at this size")
    for f in docs["11"]["figures"]:
        assert Path(f).stat().st_size > 5000


def test_studies_share_runs_and_rerunning_trains_nothing(small_all):
    out, _, docs = small_all
    # Table 5's S = 1 row is Table 6's IB -> CR (same configuration, one record)
    t5 = {r["label"]: r for r in docs["5"]["rows"]}
    t6 = {r["label"]: r for r in docs["6"]["rows"]}
    assert t5["S = 1"]["runs"] == t6["IB → CR"]["runs"]
    assert docs["7"]["reused_runs"] > 0            # IB -> CR came from Table 6
    before = sorted(p.name for p in (out / "runs").iterdir())
    res = _run("--table", "all", "--out", str(out), *SMALL)
    assert res.returncode == 0, res.stderr[-3000:]
    assert sorted(p.name for p in (out / "runs").iterdir()) == before
    for n in ROWS:
        again = json.loads((out / f"table{n}" / "results.json").read_text())
        assert again["trained_runs"] == 0 and again["reused_runs"] > 0, n
        assert [r.get("values", r.get("total")) for r in again["rows"]] == \
               [r.get("values", r.get("total")) for r in docs[n]["rows"]], n


def test_bad_arguments_are_refused():
    res = _run("--table", "9", "--seeds", "1")
    assert res.returncode == 2 and "--seeds >= 2" in res.stderr
    res = _run("--table", "5", "--epochs", "3")
    assert res.returncode == 2 and "--epochs must be >= 4" in res.stderr
    res = _run("--table", "6", "--dataset", "cifar10-lt")
    assert res.returncode == 2 and "--data-dir" in res.stderr


def test_cifar_configuration_dry_run(cifar_subset_dir, tmp_path):
    """Table 8 (checkpoints, ResNet-32 features, cRT) on a tiny CIFAR-10 subset, 4 epochs, on the CPU."""
    res = _run("--table", "8", "--dataset", "cifar10-lt", "--data-dir", str(cifar_subset_dir), "--seeds", "1",
               "--epochs", "4", "--batch-size", "16", "--max-test-per-class", "10", "--device", "cpu",
               "--threads", "1", "--out", str(tmp_path), "--quiet")
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads((tmp_path / "table8" / "results.json").read_text())
    assert len(doc["rows"]) == 12 and not doc["proxy"]
    assert doc["setup"]["base_recipe"]["preset"] == "cifar" and doc["setup"]["retrain"]["epochs"] == 10
    for _, v in _numbers(doc["rows"]):
        assert math.isfinite(v)
