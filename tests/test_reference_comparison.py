"""experiments/reference_comparison.py reads the reference's logs robustly, and docs/reference-comparison.md
states the numbers of the committed results file."""
import json
import math
import re
from pathlib import Path

import pytest
from tests._scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "reference_comparison.py"
RESULTS = ROOT / "experiments" / "results" / "reference-comparison" / "results.json"
DOC = ROOT / "docs" / "reference-comparison.md"


def _module():
    return load_script(SCRIPT, "reference_comparison")


def _reference_folder(tmp_path: Path, log: str, seed: int = 3) -> Path:
    run = tmp_path / "ldam" / "cifar10_resnet32_CE_None_exp_0.01_s0"
    run.mkdir(parents=True)
    (run / "args.txt").write_text(
        f"Namespace(dataset='cifar10', arch='resnet32', loss_type='CE', imb_type='exp', imb_factor=0.01, "
        f"train_rule='None', rand_number=0, exp_str='s0', workers=0, epochs=2, start_epoch=0, batch_size=128, "
        f"lr=0.1, momentum=0.9, weight_decay=0.0002, print_freq=1000, resume='', evaluate=False, pretrained=False, "
        f"seed={seed}, gpu=None, root_log='x', root_model='y', data_root='d', milestone=12, milestone_gamma=0.1, "
        f"milestone2=100000)")
    (run / "log_test.csv").write_text(log)
    return tmp_path / "ldam"


_TWO_EPOCHS = """Test: [0/100]\tTime 0.1\tLoss 2.3\tPrec@1 10.000 (10.000)
val Results: Prec@1 20.970 Prec@5 69.000 Loss 2.70137
val Class Accuracy: [0.850,0.536,0.708,0.001,0.000,0.000,0.002,0.000,0.000,0.000]
Epoch 1 timing: train_seconds 311.607 eval_seconds 90.713 train_cpu_seconds 85.475 eval_cpu_seconds 20.202 lr 0.020000
Best Prec@1: 20.970

val Results: Prec@1 30.000 Prec@5 80.000 Loss 2.0
val Class Accuracy: [0.900,0.700,0.500,0.300,0.200,0.100,0.100,0.100,0.050,0.050]
Epoch 2 timing: train_seconds 300.000 eval_seconds 90.000 train_cpu_seconds 80.000 eval_cpu_seconds 20.000 lr 0.040000
Best Prec@1: 30.000

"""


def test_reference_log_is_read_epoch_by_epoch(tmp_path):
    run = _module().read_reference(_reference_folder(tmp_path, _TWO_EPOCHS))
    assert run["seed"] == 3 and run["epochs_planned"] == 2
    assert run["recipe"]["batch_size"] == "128" and run["recipe"]["milestone"] == "12"
    assert [e["epoch"] for e in run["epochs"]] == [1, 2]
    assert run["epochs"][0]["top1"] == pytest.approx(0.2097)
    assert run["epochs"][1]["per_class"][0] == 0.9
    assert run["epochs"][1]["train_cpu_seconds"] == 80.0 and run["epochs"][1]["lr"] == 0.04


def test_reference_log_whose_lines_do_not_pair_up_is_refused(tmp_path):
    broken = _TWO_EPOCHS.replace("val Class Accuracy: [0.900,0.700,0.500,0.300,0.200,0.100,0.100,0.100,0.050,0.050]\n", "")
    with pytest.raises(SystemExit, match="do not pair up"):
        _module().read_reference(_reference_folder(tmp_path, broken))


def test_run_still_training_is_read_up_to_its_last_full_epoch(tmp_path):
    # The results line of epoch 3 is written before its timing line: epoch 3 is not counted yet.
    log = _TWO_EPOCHS + "val Results: Prec@1 31.000 Prec@5 80.000 Loss 2.0\nval Class Accuracy: [" + ",".join(["0.310"] * 10) + "]\n"
    run = _module().read_reference(_reference_folder(tmp_path, log))
    assert [e["epoch"] for e in run["epochs"]] == [1, 2]


def test_cpu_monitor_gives_each_epochs_cpu_seconds(tmp_path):
    tsv = tmp_path / "cpu.tsv"
    tsv.write_text("1.0\t7\tltb-s0\t5.0\t0\n4.0\t7\tltb-s0\t50.0\t0\n7.0\t7\tltb-s0\t105.0\t1\n"
                   "10.0\t7\tltb-s0\t150.0\t1\n13.0\t7\tltb-s0\t207.5\t2\n"
                   "1.0\t8\tldam-s0\t120.0\t1\n4.0\t8\tldam-s0\t220.0\t2\nnot a sample\n")
    cpu = _module().read_cpu_monitor(tsv)
    assert cpu["ltb-s0"] == {1: 100.0, 2: 102.5}
    assert cpu["ldam-s0"] == {1: 120.0, 2: 100.0}     # monitor started after epoch 1: it includes the start


def test_cpu_monitor_keeps_each_process_apart_when_a_run_resumes(tmp_path):
    # ltb-s1 stopped after epoch 2 (process 7) and resumed in process 9, whose CPU clock restarts at 0;
    # ldam-s1 was restarted from scratch in process 10: its numbers replace the first process's.
    tsv = tmp_path / "cpu.tsv"
    tsv.write_text("1\t7\tltb-s1\t1.0\t0\n2\t7\tltb-s1\t101.0\t1\n3\t7\tltb-s1\t203.0\t2\n"
                   "1\t8\tldam-s1\t1.0\t0\n2\t8\tldam-s1\t91.0\t1\n"
                   "4\t9\tltb-s1\t2.0\t2\n5\t9\tltb-s1\t106.0\t3\n"
                   "4\t10\tldam-s1\t0.5\t0\n5\t10\tldam-s1\t80.5\t1\n6\t10\tldam-s1\t161.5\t2\n")
    cpu = _module().read_cpu_monitor(tsv)
    assert cpu["ltb-s1"] == {1: 100.0, 2: 102.0, 3: 104.0}    # not 106 - 203 across the two processes
    assert cpu["ldam-s1"] == {1: 80.0, 2: 81.0}


RESULTS_60 = ROOT / "experiments" / "results" / "reference-comparison-60" / "results.json"


def _doc_section(marker: str) -> str:
    """The docs text between <!-- MARKER:begin --> and <!-- MARKER:end --> (each table has its own)."""
    doc = DOC.read_text()
    m = re.search(rf"<!-- {marker}:begin -->(.*?)<!-- {marker}:end -->", doc, re.S)
    assert m is not None, f"docs/reference-comparison.md has no {marker} block"
    return m.group(1)


@pytest.mark.parametrize("path,marker", [(RESULTS, "table"), (RESULTS_60, "table60")], ids=["16-epoch", "60-epoch"])
def test_docs_table_states_the_committed_numbers(path, marker):
    if not path.is_file():
        pytest.skip(f"{path.parent.name}/results.json is not committed yet")
    res = json.loads(path.read_text())
    assert res["reference"]["commit"] in DOC.read_text()
    doc = _doc_section(marker)
    assert doc.strip() == _module().table(res).strip(), "the docs table is what `reference_comparison.py table` prints"
    for run in res["runs"]:
        if "final" not in run:          # a run that has not finished an epoch yet has no row
            continue
        acc = f"{100 * run['final']['balanced_acc']:.1f}"
        row = re.search(rf"^\| {run['side']} \| {run['seed']} \|.*$", doc, re.M)
        assert row is not None, f"no docs row for {run['side']} seed {run['seed']}"
        assert f"| {acc} |" in row.group(0), (row.group(0), acc)
    for key in ("ltbound_minus_reference", "ltbound_minus_reference_at_common_epoch",
                "ltbound_minus_reference_final_stage"):
        if res.get(key):
            assert f"{100 * res[key]['difference']:+.1f} points" in doc


def _one_run(side: str, seed: int, accs: list[float], lrs: list[float]) -> dict:
    eps = [{"epoch": e + 1, "lr": lr, "balanced_acc": a, "groups": {"many": a + 0.1, "medium": a - 0.1}}
           for e, (a, lr) in enumerate(zip(accs, lrs))]
    return {"side": side, "seed": seed, "per_epoch": eps, "complete": True}


def test_final_stage_is_the_epochs_at_the_last_learning_rate():
    mod = _module()
    run = _one_run("ltbound", 0, [0.1, 0.2, 0.5, 0.6, 0.7], [0.1, 0.1, 0.01, 0.01, 0.01])
    fs = mod.final_stage(run)
    assert fs["epochs"] == [3, 5] and fs["mean"] == pytest.approx(0.6) and fs["lr"] == 0.01
    assert fs["many_mean"] == pytest.approx(0.7) and fs["medium_mean"] == pytest.approx(0.5)
    # an lr equal to the final one earlier in the run (warm-up passing through it) does not count
    run = _one_run("ltbound", 0, [0.1, 0.2, 0.5, 0.6], [0.01, 0.1, 0.01, 0.01])
    assert mod.final_stage(run)["epochs"] == [3, 4]
    assert mod.final_stage({**run, "complete": False}) is None


def test_borrowed_seed_spread_decides_whether_one_seed_per_side_differs(tmp_path):
    """With one seed per side, a difference is judged against the seed spread of another results file:
    the same 2-point difference is within its uncertainty when seeds spread by 2 points, and exceeds it
    when they spread by 0.3."""
    mod = _module()
    one = lambda m: {"epoch": 60, "n_seeds": 1, "seeds": [0], "balanced_acc": [m], "mean": m, "sd": None}  # noqa: E731
    verdicts = {}
    for sd in (0.02, 0.003):
        other = tmp_path / f"r{sd}.json"
        other.write_text(json.dumps({"sides": {"ltbound": {"sd": sd}, "reference": {"sd": sd}},
                                     "runs": [{"epochs_planned": 16}]}))
        b = mod.borrowed_seed_sd(other)
        assert b["sd"] == pytest.approx(sd) and b["epochs_there"] == 16
        d = mod.compare(one(0.60), one(0.62), b["sd"])
        assert d["seed_spread"] == "borrowed" and d["standard_error"] == pytest.approx(
            math.sqrt(2 * max(sd ** 2, 0.61 * 0.39 / 1e4)), rel=0.02)
        verdicts[sd] = d["exceeds_uncertainty"]
    assert verdicts == {0.02: False, 0.003: True}
    assert mod.compare(one(0.60), one(0.62))["seed_spread"] == "not measured"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"sides": {"ltbound": {"sd": None}}, "runs": []}))
    with pytest.raises(SystemExit, match="no side with two or more complete seeds"):
        mod.borrowed_seed_sd(bad)


def test_curves_find_the_largest_gaps_and_count_lead_changes():
    mod = _module()
    a = _one_run("ltbound", 0, [0.30, 0.20, 0.42, 0.35, 0.60, 0.62], [0.1, 0.1, 0.1, 0.1, 0.01, 0.01])
    b = _one_run("reference", 0, [0.25, 0.30, 0.30, 0.40, 0.61, 0.60], [0.1, 0.1, 0.1, 0.1, 0.01, 0.01])
    a["final_stage"] = mod.final_stage(a)
    c = mod.curves(a, b)
    assert c["final_stage_first"] == 5 and c["lead_changes_before"] == 3      # + - + -
    assert c["largest_before"] == (3, pytest.approx(0.12))                   # not epoch 2's -0.10
    assert c["largest_in_final_stage"] == (6, pytest.approx(0.02))
