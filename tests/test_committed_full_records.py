"""The paper's 200-epoch recipe on CPU: the CIFAR-10-LT pairs committed under
experiments/records/cifar10-lt-{100,50}-full/ (imbalance 100 seed 0: issue 21; imbalance 100 seed 1,
evaluated in bf16, and imbalance 50 seed 0: issue 33).

Preset ``cifar`` (ResNet-32, batch 64, SGD 0.9, wd 2e-4, lr 0.1 with 5 warm-up epochs, ×0.1 after
epoch 100, 200 epochs, S = 1), JPEG CIFAR-10, split seed 0, one CPU thread; Switching is
forked off the IB run of its seed at epoch 101. These tests load the compact records as a clean clone does
(hashes, shapes, status), check what the full recipe adds to a compact record (the final stage's
per-epoch test losses, provenance back to the source run), and check that the numbers documented
beside them (``table1_cpu_full.json``, the docs table, the ``compare_bounds --records`` results)
are what the loader, ``table1_summary`` and ``ltbound.compare`` compute from them today.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ltbound
from ltbound.records import load_record
from ltbound.bounds.sampling import long_tailed_counts
from tests._docs import documentation
from tests._scripts import load_script

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "experiments" / "records"
RESULTS = REPO / "experiments" / "results"
SCHEDULES = ("ib", "switching")
N_TRAIN = {100: 12406, 50: 13996}             # the LDAM profile, 5,000 images in the largest class
EPOCHS = 200
FIRST_FINAL_EPOCH = {"ib": 101, "switching": 102}  # lr × 0.1 after epoch 100; CR from epoch 101 + S = 102
FORK_EPOCH = 101


def _committed_cells() -> list[tuple[int, int]]:
    """The (imbalance, seed) cells whose IB and Switching records are both committed."""
    return [(imb, k) for imb in (100, 50) for k in range(10)
            if all((RECORDS / f"cifar10-lt-{imb}-full" / f"{s}-seed{k}" / "manifest.json").is_file()
                   for s in SCHEDULES)]


CELLS = _committed_cells()
SEEDS_100 = [k for imb, k in CELLS if imb == 100]
# imbalance 100 seed 1 ran with --eval-precision bf16 (docs/benchmarks.md); the others evaluated in float32
EVAL_PRECISION = {(100, 0): "float32", (100, 1): "bf16", (50, 0): "float32"}
# the checkpoints' SHA-256: taken at compaction where the run was started by code that did not hash
# checkpoints yet (imbalance 100 seed 0), when each checkpoint was written otherwise
CHECKPOINTS_HASHED = {(100, 0): "at compaction", (100, 1): "when written", (50, 0): "when written"}


def _path(sch: str, imb: int = 100, seed: int = 0) -> Path:
    return RECORDS / f"cifar10-lt-{imb}-full" / f"{sch}-seed{seed}"


def _sfx(seed: int) -> str:
    return "" if seed == 0 else f"-seed{seed}"


def test_every_cell_is_committed():
    assert CELLS == [(100, 0), (100, 1), (50, 0)]


def _summary_module():
    return load_script(REPO / "experiments" / "table1_summary.py", "table1_summary")


@pytest.fixture(scope="module")
def all_records():
    return {(sch, imb, seed): load_record(_path(sch, imb, seed)) for sch in SCHEDULES for imb, seed in CELLS}


@pytest.mark.parametrize("imb, seed", CELLS)
@pytest.mark.parametrize("sch", SCHEDULES)
def test_full_record_is_complete_and_has_the_documented_shape(all_records, sch, imb, seed):
    rec = all_records[sch, imb, seed]
    n_train = N_TRAIN[imb]
    assert rec.complete and rec.manifest["layout"] == "compact"
    assert (rec.preset, rec.epochs_planned) == ("cifar", EPOCHS)
    assert rec.epochs.tolist() == list(range(1, EPOCHS + 1))
    assert rec.n == n_train and rec.counts.tolist() == long_tailed_counts(5000, 10, imb).tolist()
    assert rec.test_labels.size == 10_000
    final = np.arange(FIRST_FINAL_EPOCH[sch], EPOCHS + 1)
    assert rec.final_stage_epochs().tolist() == final.tolist()
    # Θ̂ = the final-stage checkpoints: their training losses and (new for the full recipe) the test
    # losses of every one of them, so the test risk of each member of Θ̂ is known
    assert rec.loss_epochs.tolist() == final.tolist() and rec.test_loss_epochs.tolist() == final.tolist()
    assert rec.train_loss.shape == (final.size, n_train) and np.isfinite(rec.train_loss).all()
    assert rec.test_loss.shape == (final.size, 10_000) and np.isfinite(rec.test_loss).all()
    assert rec.manifest["environment"]["device"] == "cpu"        # labelled as CPU results
    assert rec.manifest["environment"]["eval_precision"] == EVAL_PRECISION[imb, seed]
    assert rec.manifest["config"]["seed"] == seed and rec.source["imbalance"] == imb
    assert (_path(sch, imb, seed) / "record.npz").stat().st_size < 8_000_000


@pytest.mark.parametrize("imb, seed", CELLS)
@pytest.mark.parametrize("sch", SCHEDULES)
def test_full_record_names_its_source_run(all_records, sch, imb, seed):
    """Provenance: the compact copy keeps the source folder's name and the SHA-256 of every data file
    the source held (split and each of the 200 epoch files), so it can be matched to the run."""
    m = all_records[sch, imb, seed].manifest
    assert m["compacted_from"] == f"c10-{imb}-{sch}-full{_sfx(seed)}"
    files = m["source_files"]
    assert "split.npz" in files
    assert sorted(k for k in files if k.startswith("epochs/")) == [f"epochs/epoch_{e:04d}.npz"
                                                                    for e in range(1, EPOCHS + 1)]
    assert all(len(v["sha256"]) == 64 and v["size"] > 0 for v in files.values())
    # the checkpoints of Θ̂ (epochs 100-200) stay outside the repository; their hashes come along
    link = m["source_record"]
    assert link["checkpoints_hashed"] == CHECKPOINTS_HASHED[imb, seed]
    assert sorted(link["checkpoints"]) == [f"checkpoints/epoch_{e:04d}.pt" for e in range(100, EPOCHS + 1)]


@pytest.mark.parametrize("imb, seed", CELLS)
def test_full_switching_continues_the_ib_run(all_records, imb, seed):
    ib, sw = all_records["ib", imb, seed], all_records["switching", imb, seed]
    assert sw.manifest["forked_from"]["epoch"] == FORK_EPOCH
    assert np.array_equal(ib.train_correct[:FORK_EPOCH], sw.train_correct[:FORK_EPOCH])
    assert np.array_equal(ib.test_correct[:FORK_EPOCH], sw.test_correct[:FORK_EPOCH])
    assert not np.array_equal(ib.test_correct[FORK_EPOCH:], sw.test_correct[FORK_EPOCH:])
    assert sw.sampler[FORK_EPOCH:] == ["CR"] * (EPOCHS - FORK_EPOCH) and ib.sampler == ["IB"] * EPOCHS
    assert ib.source["split_hash"] == sw.source["split_hash"] == all_records["ib", imb, 0].source["split_hash"]


def test_full_recipe_table_is_what_table1_summary_computes(all_records):
    """``table1_cpu_full.json`` and the docs table against a recomputation; the paper's Table 1 cell
    is inside or outside each interval as the docs say."""
    mod = _summary_module()
    doc = json.loads((RECORDS / "table1_cpu_full.json").read_text())
    by_name = {Path(r["record"]).relative_to("experiments/records").as_posix(): r for r in doc["runs"]}
    assert len(by_name) == len(all_records)
    text = " ".join(documentation().split())
    for sch, imb, seed in all_records:
        now = mod.summarise(all_records[sch, imb, seed])
        was = by_name[f"cifar10-lt-{imb}-full/{sch}-seed{seed}"]
        for key in ("balanced_test_accuracy", "balanced_low", "balanced_high", "best_balanced_test_accuracy",
                    "best_epoch", "epoch_seconds_sum", "epoch_seconds_fastest", "epoch_seconds_median"):
            assert now[key] == pytest.approx(was[key], abs=1e-12), key
        assert now["groups"] == was["groups"]
        acc, low, high = (100 * now[k] for k in ("balanced_test_accuracy", "balanced_low", "balanced_high"))
        assert f"**{acc:.1f}** ({low:.1f}, {high:.1f})" in text
        assert f"{now['epoch_seconds_sum']:,.0f} s" in text
        paper = was["paper_accuracy"]
        inside = low <= paper <= high        # the docs say which, and by how much when outside
        assert f"Table 1's {paper:.1f} lies {'inside' if inside else 'outside'} the interval" in text
        if not inside:
            assert f"{paper - acc:+.1f} points" in text
    pairs = mod.pair_tests([all_records[k] for k in sorted(all_records, key=lambda k: (k[1], k[2], k[0]))])
    assert [(p["imbalance"], p["seed"], p["verdict"]) for p in pairs] == \
        [(q["imbalance"], q["seed"], q["verdict"]) for q in doc["switching_vs_ib"]]
    assert sorted((int(p["imbalance"]), p["seed"]) for p in pairs) == sorted(CELLS)
    for p, q in zip(pairs, doc["switching_vs_ib"]):
        assert p["difference"] == pytest.approx(q["difference"], abs=1e-12)
        assert p["p_value"] == pytest.approx(q["p_value"], rel=1e-9)
    # seed 0 predates the recorded image format: read from its archive's name, so both seeds share a cell
    assert mod._image_format(all_records["ib", 100, 0]) == {"image_format": "jpeg",
                                                       "image_format_from": "archive name cifar10-jpeg.tar.xz"}
    assert mod._image_format(all_records["ib", 100, 1]) == {"image_format": "jpeg", "image_format_from": "record"}
    # over seeds: the paired t over the per-seed differences, as the json and the docs say (imbalance 100
    # only: imbalance 50 has one seed, so no seed test)
    (over,) = mod.seed_tests([mod.summarise(r) for r in all_records.values()])
    (was,) = doc["switching_vs_ib_over_seeds"]
    assert int(over["imbalance"]) == 100
    assert over["seeds"] == was["seeds"] == SEEDS_100 and over["eval_precisions"] == ["bf16", "float32"]
    for key in ("mean_difference", "mean_low", "mean_high", "sd_ib", "sd_switching"):
        assert over[key] == pytest.approx(was[key], abs=1e-9), key
    assert over["exceeds_seed_spread"] == was["exceeds_seed_spread"]
    verdict = "exceeds its seed-to-seed spread" if over["exceeds_seed_spread"] else "within its seed-to-seed spread"
    assert (f"mean {over['mean_difference']:+.1f} points [{over['mean_low']:+.1f}, {over['mean_high']:+.1f}]"
            in text and verdict in text)


@pytest.mark.parametrize("imb, seed", CELLS)
@pytest.mark.parametrize("loss", ["", "-zero-one"])
def test_full_recipe_bounds_are_what_compare_computes(all_records, loss, imb, seed):
    records = {sch: all_records[sch, imb, seed] for sch in SCHEDULES}
    doc = json.loads((RESULTS / f"cifar10-lt-{imb}-cpu-full{_sfx(seed)}{loss}" / "results.json").read_text())
    cfg = doc["configuration"]
    assert cfg["theta"] == "checkpoints" and cfg["loss"] == ("zero-one" if loss else "ce-clipped")
    comp = ltbound.compare([records["ib"], records["switching"]], loss=cfg["loss"], cap=cfg["cap"],
                           delta=cfg["delta"], num_draws=cfg["num_draws"], mc_std_error=cfg.get("mc_error"), seed=0,
                           mc_delta_fraction=cfg["mc_delta_fraction"])
    was = doc["comparison"]["summary"]
    for label in SCHEDULES:
        for key in ("eq6_total", "eq7_total", "target_total", "test_risk_lt", "test_risk_balanced"):
            assert comp.summary[label][key]["mean"] == pytest.approx(was[label][key]["mean"], abs=1e-9), (label, key)
    if not loss:                       # the docs table's numbers, rounded as printed there
        text = documentation()
        for label in SCHEDULES:
            for key in ("eq6_total", "eq7_total", "target_total", "test_risk_lt", "test_risk_balanced"):
                assert f"{comp.summary[label][key]['mean']:.3f}" in text, (label, key)


def _row(schedule, seed, acc, precision="float32"):
    return {"dataset": "cifar10-lt", "imbalance": 100, "preset": "cifar", "image_format": "jpeg",
            "schedule": schedule, "seed": seed, "balanced_test_accuracy": acc, "eval_precision": precision}


def test_seed_tests_say_whether_the_difference_exceeds_its_seed_spread():
    """Two or more seeds of both schedules in a cell: the paired t-interval of the per-seed differences decides;
    steady differences exceed the spread, differences that change sign do not; one seed gives no seed test;
    records of another recipe or image format are never paired with these; mixed evaluation precision is named."""
    mod = _summary_module()
    steady = [_row("ib", k, a) for k, a in enumerate((0.650, 0.655, 0.648))] + \
             [_row("switching", k, a) for k, a in enumerate((0.700, 0.706, 0.699))]
    (q,) = mod.seed_tests(steady)
    assert q["seeds"] == [0, 1, 2] and q["exceeds_seed_spread"] and q["mean_low"] > 0
    assert q["per_seed_difference"] == pytest.approx([5.0, 5.1, 5.1])
    flips = [_row("ib", 0, 0.65), _row("ib", 1, 0.70), _row("switching", 0, 0.70), _row("switching", 1, 0.65, "bf16")]
    (q,) = mod.seed_tests(flips)
    assert not q["exceeds_seed_spread"] and q["mean_low"] < 0 < q["mean_high"]
    assert q["eval_precisions"] == ["bf16", "float32"]
    assert mod.seed_tests(steady[:1] + steady[3:4]) == []
    other = [{**w, "image_format": "png"} for w in steady[1:2] + steady[4:5]]
    assert mod.seed_tests(steady[:1] + steady[3:4] + other) == []


def test_appendix_a_on_the_200_epoch_run_is_what_its_record_gives(all_records):
    """experiments/results/appendix-a-cifar10-lt-50-cpu-full/: Eq. 10-13 recomputed from the committed imbalance-50
    IB record (the permutation p-values are not recomputed: 100,000 permutations), and the docs' rounding of them."""
    from ltbound.regularity.correlation import cardinality_irregularity_correlation
    from ltbound.regularity.events import averaged_events, class_irregularity

    rec = all_records["ib", 50, 0]
    doc = json.loads((RESULTS / "appendix-a-cifar10-lt-50-cpu-full" / "appendix_a.json").read_text())
    assert doc["num_runs"] == 1 and doc["num_epochs"] == 200
    learned, forgotten = averaged_events([rec], "train")                                   # Eq. 8, 9
    stats = class_irregularity(learned, forgotten, rec.train_labels, rec.num_classes)      # Eq. 10-12
    assert np.allclose(stats.irregularity, doc["train"]["irregularity"], rtol=1e-12)
    assert stats.frobenius == pytest.approx(doc["train"]["frobenius"], rel=1e-12)
    pearson = cardinality_irregularity_correlation(stats.irregularity, rec.counts)         # Eq. 13
    assert pearson == pytest.approx(doc["train"]["correlation"]["pearson"], abs=1e-12)
    assert f"**{pearson:.3f}**".replace("-", "−") in documentation()
