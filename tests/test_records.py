"""The run record format: round trips, crash safety, refusal of foreign folders, compaction."""
import json

import numpy as np
import pytest

from ltbound.records import RecordError, RecordWriter, compact_record, load_record

N, M = 37, 21


def _writer(path, resume=False, config=None):
    rng = np.random.default_rng(0)
    return RecordWriter(
        path, manifest={"config": config or {"schedule": "switching", "milestones": [2]},
                        "dataset": {"name": "toy", "num_classes": 3},
                        "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0},
                                     {"start_epoch": 4, "sampler": "CR", "q": -1.0}]},
        train_indices=np.arange(N) * 2, train_labels=rng.integers(0, 3, N),
        test_labels=np.repeat(np.arange(3), 7), resume=resume)


def _epoch_arrays(e):
    rng = np.random.default_rng(e)
    tc, sc, tl = rng.random(N) < 0.6, rng.random(M) < 0.5, rng.exponential(size=N)
    # test losses a real evaluation could give: <= ln C (3 classes) if correct, >= ln 2 if not
    x = rng.exponential(size=M)
    return dict(train_loss=tl, train_correct=tc, test_correct=sc,
                test_loss=np.where(sc, np.log(3) * -np.expm1(-x), np.log(2) + x))


def _write(w, e):
    a = _epoch_arrays(e)
    w.write_epoch(e, **a, summary={"lr": 0.1 / e, "sampler": "IB" if e < 4 else "CR",
                                   "q": 1.0 if e < 4 else -1.0, "test_acc": float(a["test_correct"].mean())})
    return a


def test_round_trip_preserves_every_array(tmp_path):
    w = _writer(tmp_path / "run")
    written = [_write(w, e) for e in range(1, 6)]
    w.finish(timings={"total_seconds": 1.5})
    rec = load_record(tmp_path / "run")
    assert rec.complete and rec.epochs.tolist() == [1, 2, 3, 4, 5]
    assert rec.train_loss.shape == (5, N) and rec.train_loss.dtype == np.float32
    for e, a in enumerate(written):
        np.testing.assert_array_equal(rec.train_correct[e], a["train_correct"])
        np.testing.assert_array_equal(rec.test_correct[e], a["test_correct"])
        # float16 storage: relative error at most 2**-11
        np.testing.assert_allclose(rec.train_loss[e], a["train_loss"], rtol=2 ** -11, atol=1e-7)
    assert rec.sampler == ["IB", "IB", "IB", "CR", "CR"]
    np.testing.assert_allclose(rec.lr, [0.1, 0.05, 0.1 / 3, 0.025, 0.02])
    assert rec.final_stage_epochs().tolist() == [4, 5]
    assert rec.loss_matrix(loss="zero-one").shape == (2, N)
    assert rec.manifest["timings"]["total_seconds"] == 1.5


def test_partial_epoch_file_without_manifest_update_is_ignored(tmp_path):
    """A crash between the epoch file and the manifest leaves the earlier epochs readable."""
    w = _writer(tmp_path / "run")
    _write(w, 1)
    _write(w, 2)
    # simulate the crash: epoch 3's file lands, the manifest is never updated
    (tmp_path / "run" / "epochs" / "epoch_0003.npz").write_bytes(b"garbage from a killed process")
    rec = load_record(tmp_path / "run")
    assert rec.epochs.tolist() == [1, 2] and not rec.complete
    # and a leftover temp file from an interrupted atomic write is harmless
    (tmp_path / "run" / ".manifest.json.abc.tmp").write_text("{")
    assert load_record(tmp_path / "run").epochs.tolist() == [1, 2]


def test_resume_continues_and_refuses_other_config(tmp_path):
    w = _writer(tmp_path / "run")
    _write(w, 1)
    w.close()
    with pytest.raises(RecordError, match="already holds a run record"):
        _writer(tmp_path / "run")
    with pytest.raises(RecordError, match="another configuration"):
        _writer(tmp_path / "run", resume=True, config={"schedule": "ib"})
    w2 = _writer(tmp_path / "run", resume=True)
    assert w2.epochs_completed == 1
    assert w2.manifest["resumes"][-1]["after_epoch"] == 1
    with pytest.raises(RecordError, match="epoch must be 2"):
        _write(w2, 3)
    _write(w2, 2)
    assert load_record(tmp_path / "run").epochs.tolist() == [1, 2]


def test_non_record_folder_is_refused(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(RecordError, match="not empty"):
        _writer(tmp_path / "x")
    with pytest.raises(RecordError, match="no manifest.json"):
        load_record(tmp_path / "x")
    with pytest.raises(RecordError, match="does not exist"):
        load_record(tmp_path / "missing")


def test_bad_epoch_arrays_are_refused(tmp_path):
    w = _writer(tmp_path / "run")
    a = _epoch_arrays(1)
    with pytest.raises(ValueError, match="train_loss"):
        w.write_epoch(1, **{**a, "train_loss": np.full(N, np.nan)}, summary={})
    with pytest.raises(ValueError, match="test_correct"):
        w.write_epoch(1, **{**a, "test_correct": a["test_correct"][:-1]}, summary={})


def test_compact_record_reads_back_the_same(tmp_path):
    w = _writer(tmp_path / "run")
    for e in range(1, 6):
        _write(w, e)
    w.finish()
    w.close()
    full = load_record(tmp_path / "run")
    compact_record(tmp_path / "run", tmp_path / "small")
    small = load_record(tmp_path / "small")
    assert small.manifest["layout"] == "compact"
    np.testing.assert_array_equal(small.train_correct, full.train_correct)
    np.testing.assert_array_equal(small.test_correct, full.test_correct)
    assert small.loss_epochs.tolist() == [4, 5]
    np.testing.assert_array_equal(small.loss_matrix(), full.loss_matrix())
    np.testing.assert_array_equal(small.balanced_test_accuracy(), full.balanced_test_accuracy())
    with pytest.raises(ValueError, match="not among"):
        small.loss_matrix([1])
    with pytest.raises(RecordError, match="not empty"):
        compact_record(tmp_path / "run", tmp_path / "small")


def test_newer_version_is_refused(tmp_path):
    _writer(tmp_path / "run").close()
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    m["version"] = 99
    (tmp_path / "run" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(RecordError, match="newer"):
        load_record(tmp_path / "run")


def test_shot_group_means_skips_empty_groups_and_missing_classes():
    from ltbound.bounds.sampling import shot_group_means
    counts = np.array([500, 150, 60, 30, 10])      # many: 0, 1; medium: 2, 3; few: 4
    got = shot_group_means([1.0, 0.5, np.nan, 0.25, 0.0], counts)
    assert got == {"many": 0.75, "medium": 0.25, "few": 0.0}
    assert shot_group_means([1.0, 0.5], [500, 150])["few"] is None
    with pytest.raises(ValueError, match="one value per class"):
        shot_group_means([1.0], counts)


def test_a_reworded_preset_note_does_not_block_resume_but_a_setting_does(tmp_path):
    """The CPU CIFAR runs needed a frozen copy of the code because a preset's description
    (its expected epoch time) changed; only what changes training may refuse a resume."""
    cfg = {"schedule": "ib", "recipe": {"name": "p", "epochs": 3, "lr": 0.1, "note": "about 30 s per epoch"}}
    w = _writer(tmp_path / "run", config=cfg)
    _write(w, 1)
    w.close()
    reworded = {**cfg, "recipe": {**cfg["recipe"], "note": "about 40 s per epoch"}}
    w2 = _writer(tmp_path / "run", resume=True, config=reworded)
    assert w2.epochs_completed == 1
    w2.close()
    other_lr = {**cfg, "recipe": {**cfg["recipe"], "lr": 0.2}}
    with pytest.raises(RecordError, match="another configuration.*recipe"):
        _writer(tmp_path / "run", resume=True, config=other_lr)
