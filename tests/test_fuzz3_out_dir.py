"""Issue 30, data loss: ``python -m ltbound.train --out DIR`` never deletes or overwrites files it did not
write in this process. A folder holding record files without a manifest (a record whose manifest was
lost), or a 0-epoch record beside unrelated files, is refused (exit 2, one line) with nothing touched.

These checks fail before any data is loaded, so each takes milliseconds.
"""
import hashlib

import numpy as np
import pytest

from ltbound.records import RecordError, RecordWriter
from ltbound.train.__main__ import main

ARGS = ["--schedule", "ib", "--epochs", "1", "--warmup-epochs", "0", "--no-progress", "--amp", "off"]


def _snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}  # the lock is empty


def _lost_manifest(out):
    """What remains of a 200-epoch record whose manifest.json was lost."""
    (out / "checkpoints").mkdir(parents=True)
    (out / "epochs").mkdir()
    (out / "checkpoints" / "epoch_0200.pt").write_bytes(b"weights of epoch 200")
    (out / "state.pt").write_bytes(b"optimizer state")
    (out / "split.npz").write_bytes(b"the split")
    (out / "epochs" / "epoch_0007.npz").write_bytes(b"epoch 7")
    return out


def _zero_epoch_record_with_other_files(out):
    RecordWriter(out, manifest={"config": {"model": "foo"}}, train_indices=[0], train_labels=[0],
                 test_labels=[0]).close()
    (out / "notes.txt").write_text("mine")
    (out / "plots").mkdir()
    (out / "plots" / "fig.png").write_bytes(b"png")
    return out


@pytest.mark.parametrize("make", [_lost_manifest, _zero_epoch_record_with_other_files])
def test_train_refuses_a_folder_with_files_it_did_not_write(tmp_path, capsys, make):
    out = make(tmp_path / "run")
    before = _snapshot(out)
    code = main(["--out", str(out), *ARGS])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "nothing was deleted" in err and ("--resume" in err or "another" in err)
    assert _snapshot(out) == before


@pytest.mark.parametrize("make", [_lost_manifest, _zero_epoch_record_with_other_files])
def test_record_writer_keeps_files_it_did_not_write(tmp_path, make):
    out = make(tmp_path / "run")
    before = _snapshot(out)
    with pytest.raises(RecordError, match="nothing was deleted"):
        RecordWriter(out, manifest={"config": {}}, train_indices=np.arange(3), train_labels=[0, 1, 1],
                     test_labels=[0, 1])
    assert _snapshot(out) == before


def test_a_zero_epoch_record_with_a_trained_epoch_is_kept_for_resume(tmp_path):
    """state.pt of epoch 1 beside a 0-epoch manifest is a trained epoch that --resume records."""
    out = tmp_path / "run"
    RecordWriter(out, manifest={"config": {}}, train_indices=[0], train_labels=[0], test_labels=[0]).close()
    (out / "state.pt").write_bytes(b"epoch 1 state")
    with pytest.raises(RecordError, match="--resume|resume=True"):
        RecordWriter(out, manifest={"config": {}}, train_indices=[0], train_labels=[0], test_labels=[0])
    assert (out / "state.pt").read_bytes() == b"epoch 1 state"
