"""A run record's data found from any folder: data_dir > $LTBOUND_DATA_DIR > the record's path.

The trap: a record kept ``data_dir`` as typed ("data", relative), so re-evaluating its model
(``--theta perturb``) from another folder failed, and ``--data-dir`` was ignored.
"""
import json
import os

import numpy as np
import pytest
from PIL import Image

from ltbound.train.loss_matrices.bridge import record_data_dir, record_model
from ltbound.train.loop.trainer import TrainConfig, train


def _tree(root, per_class=(6, 6), test_per_class=2, shift=0):
    """root/{train,test}/<class>/k.png, 8x8 RGB, pixels encode class and index."""
    for split, counts in (("train", per_class), ("test", (test_per_class,) * len(per_class))):
        for c, k in enumerate(counts):
            d = root / split / f"c{c}"
            d.mkdir(parents=True, exist_ok=True)
            for i in range(k):
                Image.fromarray(np.full((8, 8, 3), 20 * c + 3 * i + shift, np.uint8)).save(d / f"{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def relative_run(tmp_path_factory):
    """A one-epoch run started in folder A with data_dir='data' (relative to A)."""
    a = tmp_path_factory.mktemp("A")
    _tree(a / "data")
    cwd = os.getcwd()
    os.chdir(a)
    try:
        run = train(TrainConfig(out="run", dataset="image-folder", data_dir="data", imbalance=2.0, preset="digits",
                                model="digits_net", schedule="ib", epochs=1, warmup_epochs=0, milestones=(),
                                batch_size=4, device="cpu", amp="off", progress=False, quiet=True))
    finally:
        os.chdir(cwd)
    return a, a / run


def test_records_store_the_data_dir_absolute(relative_run):
    a, run = relative_run
    stored = json.loads((run / "manifest.json").read_text())["config"]["data_dir"]
    assert stored == str((a / "data").resolve())


def _relative_manifest(run):
    """The record as older versions wrote it: data_dir exactly as typed, relative."""
    m = json.loads((run / "manifest.json").read_text())
    m["config"]["data_dir"] = "data"
    return m


def test_relative_record_path_from_another_folder_names_the_fix(relative_run, tmp_path, monkeypatch):
    a, run = relative_run
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LTBOUND_DATA_DIR", raising=False)
    with pytest.raises(ValueError, match=r"the record's data_dir data \(relative, so read from .*\) does not "
                                         r"exist; pass data_dir .* or set LTBOUND_DATA_DIR"):
        record_data_dir(_relative_manifest(run))


def test_data_dir_and_environment_override_the_record(relative_run, tmp_path, monkeypatch):
    a, run = relative_run
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LTBOUND_DATA_DIR", raising=False)
    assert record_data_dir(_relative_manifest(run), a / "data") == str((a / "data").resolve())
    net, ds = record_model(run, data_dir=a / "data")
    assert ds.train.labels.tolist() == [0] * 6 + [1] * 3 and not net.training      # imbalance 2: 6 and 3
    monkeypatch.setenv("LTBOUND_DATA_DIR", str(a / "data"))
    assert record_data_dir(_relative_manifest(run)) == str((a / "data").resolve())
    _, ds_env = record_model(run)
    assert ds_env.split_hash == ds.split_hash


def test_data_of_another_split_is_refused_by_the_split_hash(relative_run, tmp_path):
    _, run = relative_run
    other = _tree(tmp_path / "other", per_class=(7, 7))
    with pytest.raises(ValueError, match="split hash"):
        record_model(run, data_dir=other)


def test_digits_records_need_no_data_dir():
    assert record_data_dir({"config": {"dataset": "digits-lt", "data_dir": None}}) is None
