"""benchmarks/epoch_arithmetic.py counts ResNet-32's work right and prices an epoch from bench_epoch's seconds."""
import json
import sys

import pytest

from tests._scripts import ROOT, load_script

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def arithmetic():
    sys.path.insert(0, str(ROOT / "benchmarks"))      # the script imports bench_epoch from beside it
    try:
        yield load_script("benchmarks/epoch_arithmetic.py")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_resnet32_multiply_adds_match_the_count_by_hand(arithmetic):
    # He et al.'s CIFAR ResNet-32 with option-A shortcuts (no shortcut convolutions):
    stem = 32 * 32 * 16 * (3 * 9)
    stage1 = 10 * 32 * 32 * 16 * (16 * 9)
    stage2 = 16 * 16 * 32 * (16 * 9) + 9 * 16 * 16 * 32 * (32 * 9)
    stage3 = 8 * 8 * 64 * (32 * 9) + 9 * 8 * 8 * 64 * (64 * 9)
    assert arithmetic.forward_macs() == stem + stage1 + stage2 + stage3 + 64 * 10 == 68_862_592


def test_rates_are_the_epoch_work_over_the_measured_seconds(arithmetic):
    bench = arithmetic.bench_epoch
    # 2 rounds; 64 trained images took 1 s and 128 evaluated images 0.5 s in each; 1e9 multiply-adds per image.
    res = {"k": {"cpu": {"cpu_capability": "X"}, "native_bf16": False, "threads": 1,
                 "settings": {"today": [[False, True], {"cl": True, "batch": 128}]},
                 "rounds": {"train": {"(False, True)": [1.0, 1.0]}, "eval": {"today": [0.5, 0.5]},
                            "fold": {"today": [0.0, 0.0]}},
                 "train_images": 64, "eval_images": 128}}
    cells = next(line for line in arithmetic.report(res, 10**9, [30.0], "x").splitlines()
                 if line.startswith("| today")).split("|")[2:-1]
    assert [c.strip() for c in cells[:4]] == [f"{bench.FULL_TRAIN / 64:.0f}", "384",          # 2e9 FLOP x 3 x 64 / 1 s
                                              f"{bench.FULL_EVAL / 256:.0f}", "512"]          # 2e9 FLOP x 128 / 0.5 s
    need = (2e9 * 3 * bench.FULL_TRAIN + 2e9 * bench.FULL_EVAL) / 30 / 1e9
    assert f"an epoch in 30 s needs {need:.0f} GFLOP/s" in arithmetic.report(res, 10**9, [30.0], "x")
    with_peak = arithmetic.report(res, 10**9, [30.0], "x", peak=768.0)
    assert "| 384 (50% of 768) |" in with_peak and f"({100 * need / 768:.0f}% of 768)" in with_peak


def test_a_file_that_is_not_a_bench_epoch_json_is_refused(arithmetic, tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"native": {"cpu": {}}}))
    with pytest.raises(SystemExit):
        arithmetic.main([str(bad)])
    assert "is not a bench_epoch.py JSON" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        arithmetic.main([str(ROOT / "benchmarks" / "results" / "epoch_cpu_one_free_core.json"), "--peak", "0"])
    assert "--peak must be a positive rate" in capsys.readouterr().err
