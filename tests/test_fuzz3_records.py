"""Issue 30, records that contradict themselves: each edit below is resealed (manifest checksum and
file hashes recomputed, as anyone can), loaded silently and changed numbers before; now the
cross-checks of ltbound.records.consistency refuse it, naming what contradicts what.
"""
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ltbound.records import RecordError, load_record, write_manifest
from ltbound.records._io import file_entry
from tests._scripts import load_script

ROOT = Path(__file__).resolve().parents[1] / "experiments" / "records"
FULL_IB = ROOT / "cifar10-lt-100-full" / "ib-seed0"          # test losses of all 100 final-stage epochs
SWITCHING = ROOT / "cifar10-lt-50" / "switching-seed0"


def _copy(src, tmp_path):
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


def _manifest(path):
    return json.loads((path / "manifest.json").read_text())


def _reseal_npz(path, **changes):
    """Rewrite record.npz with ``changes`` and reseal its hash and the manifest (a consistent edit)."""
    with np.load(path / "record.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    (path / "record.npz").write_bytes(buf.getvalue())
    m = _manifest(path)
    m["files"]["record.npz"] = file_entry(buf.getvalue())
    write_manifest(path, m)


def test_an_edited_schedule_contradicts_the_history(tmp_path):
    rec = _copy(SWITCHING, tmp_path)
    m = _manifest(rec)
    m["schedule"] = [{"start_epoch": 1, "sampler": "CR", "q": -1.0}]          # an IB-then-CR run claiming CR only
    write_manifest(rec, m)
    with pytest.raises(RecordError, match="schedule says epoch 1 used sampler CR .* history entry says IB"):
        load_record(rec)


def test_a_moved_final_stage_contradicts_the_milestones(tmp_path):
    rec = _copy(ROOT / "cifar10-lt-100" / "ib-seed0", tmp_path)
    m = _manifest(rec)
    m["final_stage_start_epoch"] = 55                                           # Θ̂ from 6 epochs instead of 30
    write_manifest(rec, m)
    with pytest.raises(RecordError, match="final_stage_start_epoch is 55 but .* give 31"):
        load_record(rec)


@pytest.mark.parametrize("edit", ["rows reversed", "columns permuted", "another run"])
def test_test_losses_must_agree_with_the_correctness_bits(tmp_path, edit):
    rec = _copy(FULL_IB, tmp_path)
    with np.load(rec / "record.npz") as z:
        loss = z["test_loss"]
    if edit == "rows reversed":
        loss = loss[::-1]
    elif edit == "columns permuted":
        loss = loss[:, np.random.default_rng(0).permutation(loss.shape[1])]
    else:
        with np.load(ROOT / "cifar10-lt-100-full" / "switching-seed0" / "record.npz") as z:
            other = z["test_loss"]                                               # 99 final-stage epochs
        loss = np.concatenate([other[:1], other])
    _reseal_npz(rec, test_loss=np.ascontiguousarray(loss))
    with pytest.raises(RecordError, match="do not belong to these correctness bits"):
        load_record(rec)


@pytest.mark.parametrize("label", ["ib\nswitching-seed9 | 99.9", "/abs", "../..", "a/b", "."])
def test_a_label_that_is_no_name_is_refused(tmp_path, label):
    rec = _copy(SWITCHING, tmp_path)
    m = _manifest(rec)
    m["run"]["label"] = label
    write_manifest(rec, m)
    with pytest.raises(RecordError, match="is not a name"):
        load_record(rec)


def test_a_version_2_record_relabelled_version_1_warns(tmp_path):
    rec = _copy(SWITCHING, tmp_path)
    m = _manifest(rec)
    for k in ("files", "checksum"):
        m.pop(k)
    m["version"] = 1
    (rec / "manifest.json").write_text(json.dumps(m))
    with pytest.warns(UserWarning, match="version 1 run record: its files carry no SHA-256"):
        load_record(rec)


def test_the_committed_records_pass_every_cross_check():
    for rec in sorted(ROOT.glob("*/*/manifest.json")):
        assert load_record(rec.parent).label in ("ib", "switching")


def test_table1_summary_pairs_only_records_of_one_test_set_in_one_order(tmp_path, capsys):
    """A Switching record whose test images come in another order (all its test arrays permuted
    alike, resealed) was paired with IB by McNemar: p 6.8e-48 -> 5.7e-14, silently."""
    from ltbound.records._io import BITORDER
    rec = _copy(SWITCHING, tmp_path)
    with np.load(rec / "record.npz") as z:
        labels, bits, loss = z["test_labels"], z["test_correct"], z["test_loss"]
    perm = np.random.default_rng(0).permutation(labels.size)
    correct = np.unpackbits(bits, axis=-1, count=labels.size, bitorder=BITORDER)[:, perm]
    _reseal_npz(rec, test_labels=labels[perm], test_loss=np.ascontiguousarray(loss[:, perm]),
                test_correct=np.packbits(correct, axis=-1, bitorder=BITORDER))
    assert load_record(rec).label == "switching"              # a consistent record on its own
    mod = load_script(ROOT.parent / "table1_summary.py", "_t1")
    with pytest.raises(SystemExit) as exit_info:
        mod.main(["--compacted", str(ROOT / "cifar10-lt-50" / "ib-seed0"), str(rec)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "same test images in the same order" in err


@pytest.mark.parametrize("field, value", [("split_seed", 1), ("split_hash", "0" * 64)])
def test_a_source_that_names_another_split_is_refused(tmp_path, field, value):
    """source.split_seed / split_hash are what --theta perturb rebuilds the training images from."""
    rec = _copy(SWITCHING, tmp_path)
    m = _manifest(rec)
    m["source"][field] = value
    write_manifest(rec, m)
    with pytest.raises(RecordError, match=field):          # split_seed: also the protocol check
        load_record(rec)
