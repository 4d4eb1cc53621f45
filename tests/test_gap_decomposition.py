"""experiments/gap_decomposition.py: the PNG archive's test images located in the JPEG test set, and runs
read at one epoch (issue 29)."""
import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("gap_decomposition", ROOT / "experiments" / "gap_decomposition.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gap_decomposition"] = mod
    spec.loader.exec_module(mod)
    return mod


def _ds(labels):
    return SimpleNamespace(test=SimpleNamespace(labels=torch.as_tensor(labels)))


def test_png_test_images_are_the_first_of_each_class_in_the_jpeg_test_set():
    gd = _module()
    jpeg = np.repeat(np.arange(3), 5)                       # 5 test images per class, class-major
    png = np.array([0, 0, 1, 2, 2, 2])                      # the first 2 / 1 / 3 of each class, class-major
    idx = gd._png_test_in_jpeg(_ds(jpeg), _ds(png))
    assert idx.tolist() == [0, 1, 5, 10, 11, 12]
    shuffled = np.array([2, 0, 1, 2, 0, 2])                 # another order of the PNG set: positions follow it
    idx = gd._png_test_in_jpeg(_ds(jpeg), _ds(shuffled))
    assert jpeg[idx].tolist() == shuffled.tolist() and sorted(idx.tolist()) == [0, 1, 5, 10, 11, 12]


def test_runs_are_read_at_one_epoch_or_refused():
    gd = _module()
    rec = SimpleNamespace(epochs=np.array([1, 2, 3]), test_correct=np.array([[0, 0], [1, 0], [1, 1]], dtype=bool),
                          path="run")
    gd.EPOCH = None
    assert gd._final_correct(rec).tolist() == [True, True]
    gd.EPOCH = 2
    assert gd._final_correct(rec).tolist() == [True, False]
    gd.EPOCH = 5
    with pytest.raises(SystemExit, match="holds no epoch 5"):
        gd._final_correct(rec)


def _pair(diff, lo, hi):
    return {"difference": diff, "interval": [lo, hi],
            "verdict": "no detectable difference" if lo <= 0 <= hi else "better" if diff > 0 else "worse"}


def test_a_factor_counts_only_when_detectable_and_beyond_the_seed_spread():
    gd = _module()
    seeds = [_pair(0.01, -0.01, 0.03), _pair(-0.02, -0.04, 0.0)]
    assert gd.against_seed_spread("data", [_pair(0.05, 0.03, 0.07), _pair(0.04, 0.02, 0.06)], seeds)["verdict"] \
        == "beyond the seed spread"
    # as large as one seed difference: not separable from the seed
    assert gd.against_seed_spread("data", [_pair(0.05, 0.03, 0.07)], [_pair(0.06, 0.04, 0.08)])["verdict"] \
        == "within the seed spread"
    # the two seed pairs of the factor disagree in sign
    assert gd.against_seed_spread("data", [_pair(0.05, 0.03, 0.07), _pair(-0.04, -0.06, -0.02)], seeds)["verdict"] \
        == "within the seed spread"
    # larger than the seed difference, but the models themselves are not told apart on these images
    assert gd.against_seed_spread("bf16", [_pair(0.007, 0.0, 0.013)], [_pair(0.003, -0.004, 0.011)])["verdict"] \
        == "not detectable"
    assert gd.against_seed_spread("data", [_pair(-0.05, -0.07, -0.03)], seeds)["verdict"] == "beyond the seed spread"
    assert gd.against_seed_spread("data", [_pair(0.05, 0.03, 0.07)], [])["verdict"] == "seed spread not measured"
    with pytest.raises(ValueError, match="factor_pairs"):
        gd.against_seed_spread("data", [], seeds)
