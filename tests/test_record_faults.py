"""Fault injection on run records: every damage the format can see is a RecordError naming the
file, never a wrong number or a traceback from zipfile/numpy/json.

Each record file is truncated, emptied, bit-flipped, shortened (a well-formed file with arrays
one sample short), swapped (for another epoch's or another split's) and deleted; the manifest
is replaced by `[]`, `null`, random bytes and consistent-but-wrong values; two writers race for
one folder; a writer is killed during its very first write.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ltbound.records import (RecordError, RecordWriter, compact_record, load_record, manifest_checksum,
                             write_manifest)

N, M, C = 29, 12, 3
ENV = {"device": "cpu", "torch": "2.x", "torch_threads": 2, "amp": "off"}


def _manifest(config=None, env=None):
    labels = np.random.default_rng(1).integers(0, C, N)
    import hashlib
    return {"config": config or {"schedule": "switching", "seed": 3, "milestones": [2]},
            "dataset": {"name": "toy", "num_classes": C, "counts": np.bincount(labels, minlength=C).tolist(),
                        "split_hash": hashlib.sha256((np.arange(N) * 3).astype("<i8").tobytes()).hexdigest()},
            "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}, {"start_epoch": 3, "sampler": "CR", "q": -1.0}],
            "environment": env or ENV}, labels


def _make(path, epochs=3, finish=True, **kw):
    manifest, labels = _manifest(**kw)
    w = RecordWriter(path, manifest=manifest, train_indices=np.arange(N) * 3, train_labels=labels,
                     test_labels=np.arange(M) % C)
    for e in range(1, epochs + 1):
        rng = np.random.default_rng(100 + e)
        tc, sc = rng.random(N) < 0.3 + 0.2 * e, rng.random(M) < 0.2 + 0.2 * e
        tl = rng.exponential(size=N)
        x = rng.exponential(size=M)   # as a real evaluation: test loss <= ln C if correct, >= ln 2 if not
        w.write_epoch(e, train_loss=tl, train_correct=tc, test_correct=sc,
                      test_loss=np.where(sc, np.log(C) * -np.expm1(-x), np.log(2) + x),
                      summary={"lr": 0.1, "sampler": "IB" if e < 3 else "CR", "q": 1.0 if e < 3 else -1.0,
                               "train_acc": float(tc.mean()), "test_acc": float(sc.mean()),
                               "mean_train_loss": float(tl.mean())})
    if finish:
        w.finish()
    w.close()
    return path


def _as_v1(path):
    """Rewrite a record's manifest as format version 1 wrote it (no hashes, no v2 fields)."""
    m = json.loads((path / "manifest.json").read_text())
    for k in ("files", "checksum", "run", "source", "final_stage_start_epoch", "resumes"):
        m.pop(k, None)
    m["version"] = 1
    (path / "manifest.json").write_text(json.dumps(m))
    return path


def _npz(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


# ------------------------------------------------------------------------- damage to data files
def truncate(f):
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def empty(f):
    f.write_bytes(b"")


def flip(f):
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x10
    f.write_bytes(bytes(data))


def delete(f):
    f.unlink()


def shorten(f):
    """A well-formed file whose per-sample arrays are one sample short (or labels reordered)."""
    a = _npz(f)
    if "train_labels" in a and "epochs" not in a:                          # split: one sample short
        a = {"train_indices": a["train_indices"][:-1], "train_labels": a["train_labels"][:-1],
             "test_labels": a["test_labels"]}
    elif "epochs" in a:                                                      # compact record
        a["train_loss"] = a["train_loss"][:, :-1]
    else:                                                                    # epoch file
        a["train_correct"] = a["train_correct"][:-1]
    np.savez_compressed(f, **a)


def shuffle_labels(f):
    a = _npz(f)
    a["train_labels"] = np.random.default_rng(0).permutation(a["train_labels"])
    np.savez_compressed(f, **a)


def swap_epoch(f):
    """Replace this epoch file by another epoch's (a mixed-up copy)."""
    other = f.with_name("epoch_0001.npz" if f.name != "epoch_0001.npz" else "epoch_0003.npz")
    f.write_bytes(other.read_bytes())


DAMAGE = [truncate, empty, flip, delete, shorten]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    v2 = _make(root / "v2")
    v1 = _as_v1(_make(root / "v1"))
    compact = compact_record(v2, root / "compact")
    return {"v2": v2, "v1": v1, "compact": compact}


def _copy(src, dst):
    import shutil
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("version", ["v2", "v1"])
@pytest.mark.parametrize("rel", ["split.npz", "epochs/epoch_0001.npz", "epochs/epoch_0002.npz",
                                 "epochs/epoch_0003.npz"])
@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__)
def test_damaged_data_file_is_detected(pristine, tmp_path, version, rel, damage):
    rec = _copy(pristine[version], tmp_path / "r")
    load_record(rec)                                    # intact: loads
    damage(rec / rel)
    with pytest.raises(RecordError) as err:
        load_record(rec)
    assert str(rec) in str(err.value)


@pytest.mark.parametrize("version", ["v2", "v1"])
@pytest.mark.parametrize("epoch", [1, 2, 3])
def test_epoch_file_swapped_for_another_epochs_is_detected(pristine, tmp_path, version, epoch):
    """v2: the hash; v1: the file's accuracies disagree with the epoch's history entry."""
    rec = _copy(pristine[version], tmp_path / "r")
    swap_epoch(rec / "epochs" / f"epoch_000{epoch}.npz")
    with pytest.raises(RecordError, match=f"epoch_000{epoch}.npz"):
        load_record(rec)


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__)
def test_damaged_compact_record_is_detected(pristine, tmp_path, damage):
    rec = _copy(pristine["compact"], tmp_path / "c")
    load_record(rec)
    damage(rec / "record.npz")
    with pytest.raises(RecordError, match="record.npz"):
        load_record(rec)


def test_swapped_or_shuffled_split_is_detected(pristine, tmp_path):
    rec = _copy(pristine["v2"], tmp_path / "r")
    shuffle_labels(rec / "split.npz")                   # same counts, same indices: only the hash sees it
    with pytest.raises(RecordError, match="split.npz (has|does not match)"):
        load_record(rec)
    # version 1 has no hashes, but reordered indices break dataset.split_hash
    v1 = _copy(pristine["v1"], tmp_path / "v1")
    a = _npz(v1 / "split.npz")
    a["train_indices"] = a["train_indices"][::-1].copy()
    np.savez_compressed(v1 / "split.npz", **a)
    with pytest.raises(RecordError, match="split_hash"):
        load_record(v1)


# ------------------------------------------------------------------------- damage to the manifest
@pytest.mark.parametrize("content, message", [
    (b"[]", "must hold a JSON object, got list"),
    (b"null", "must hold a JSON object, got NoneType"),
    (bytes(range(256)) * 4, "not valid JSON"),
    (b"", "not valid JSON"),
    (b'{"format": "ltbound-run-record", "version": 2, "status"', "not valid JSON"),
])
def test_unreadable_manifest_is_a_record_error(pristine, tmp_path, content, message):
    rec = _copy(pristine["v2"], tmp_path / "r")
    (rec / "manifest.json").write_bytes(content)
    with pytest.raises(RecordError, match=message):
        load_record(rec)


def test_any_edit_of_a_v2_manifest_is_detected(pristine, tmp_path):
    rec = _copy(pristine["v2"], tmp_path / "r")
    m = json.loads((rec / "manifest.json").read_text())
    m["history"][1]["lr"] = 0.2
    (rec / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(RecordError, match="checksum mismatch"):
        load_record(rec)
    flip(_copy(pristine["v2"], tmp_path / "f") / "manifest.json")
    with pytest.raises(RecordError):
        load_record(tmp_path / "f")


@pytest.mark.parametrize("edit, message", [
    ({"version": 0}, "format version 0"),
    ({"version": 1.9}, "format version 1.9"),
    ({"version": "2"}, "format version '2'"),
    ({"version": None}, "format version None"),
    ({"version": 99}, "newer than this ltbound reads"),
    ({"epochs_completed": 5.7}, "epochs_completed must be an integer >= 0, got 5.7"),
    ({"epochs_completed": -2}, "epochs_completed must be an integer >= 0, got -2"),
    ({"epochs_completed": True}, "epochs_completed must be an integer"),
    ({"epochs_completed": 4}, "history must hold epochs 1..4"),
    ({"epochs_completed": 2}, "history must hold epochs 1..2"),
    ({"status": "done"}, "status must be one of"),
    ({"history": "x"}, "history must be a list"),
    ({"files": {}}, "lists no hash for split.npz"),
    ({"files": []}, "files must map"),
    ({"n_train": N + 1}, "manifest's n_train"),
    ({"dataset": {"num_classes": 2}}, "must lie in"),
])
def test_consistent_but_wrong_manifest_values_are_refused(pristine, tmp_path, edit, message):
    """Values a buggy writer could seal with a valid checksum are still checked one by one."""
    rec = _copy(pristine["v2"], tmp_path / "r")
    m = json.loads((rec / "manifest.json").read_text())
    m.update(edit)
    if m.get("version") is None:
        m.pop("version")
    write_manifest(rec, m)
    with pytest.raises(RecordError, match=message):
        load_record(rec)


def test_version_missing_is_refused(pristine, tmp_path):
    rec = _copy(pristine["v1"], tmp_path / "r")
    m = json.loads((rec / "manifest.json").read_text())
    del m["version"]
    (rec / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(RecordError, match="format version None"):
        load_record(rec)


def test_v1_records_still_load_with_the_v2_fields_derived(pristine):
    old, new = load_record(pristine["v1"]), load_record(pristine["v2"])
    assert old.version == 1 and new.version == 2
    for attr in ("label", "seed", "final_stage_start_epoch", "source"):
        assert getattr(old, attr) == getattr(new, attr)
    assert new.label == "switching" and new.seed == 3 and new.final_stage_start_epoch == 3
    np.testing.assert_array_equal(old.train_loss, new.train_loss)


def test_compact_record_keeps_the_source_hashes(pristine):
    small = load_record(pristine["compact"])
    full = json.loads((pristine["v2"] / "manifest.json").read_text())
    assert small.manifest["source_files"] == full["files"]
    assert set(small.manifest["files"]) == {"record.npz"}
    assert small.manifest["checksum"] == manifest_checksum(small.manifest)


# ------------------------------------------------------------------------- writers
def test_resume_verifies_the_files_on_disk(pristine, tmp_path):
    rec = _copy(pristine["v2"], tmp_path / "r")
    truncate(rec / "epochs" / "epoch_0002.npz")
    manifest, labels = _manifest()
    with pytest.raises(RecordError, match="epoch_0002.npz"):
        RecordWriter(rec, manifest=manifest, train_indices=np.arange(N) * 3, train_labels=labels,
                     test_labels=np.arange(M) % C, resume=True)


def test_resume_upgrades_a_v1_record_and_removes_temp_files(pristine, tmp_path):
    rec = _copy(pristine["v1"], tmp_path / "r")
    (rec / "epochs" / ".epoch_0004.npz.abc.tmp").write_bytes(b"partial")
    manifest, labels = _manifest()
    with RecordWriter(rec, manifest=manifest, train_indices=np.arange(N) * 3, train_labels=labels,
                      test_labels=np.arange(M) % C, resume=True) as w:
        assert w.manifest["version"] == 2 and w.manifest["upgraded_from_version"] == 1
    assert not list(rec.rglob("*.tmp"))
    got = load_record(rec)
    assert got.version == 2 and set(got.manifest["files"]) == {"split.npz", *(f"epochs/epoch_000{e}.npz" for e in (1, 2, 3))}


def test_resume_in_another_environment_is_refused_unless_allowed(pristine, tmp_path):
    rec = _copy(pristine["v2"], tmp_path / "r")
    manifest, labels = _manifest(env={**ENV, "torch_threads": 1})
    kw = dict(manifest=manifest, train_indices=np.arange(N) * 3, train_labels=labels, test_labels=np.arange(M) % C,
              resume=True)
    with pytest.raises(RecordError, match=r"torch_threads: 2 then 1.*allow_env_change=True"):
        RecordWriter(rec, **kw)
    with RecordWriter(rec, allow_env_change=True, **kw):
        pass
    m = load_record(rec).manifest
    assert m["resumes"][-1]["environment_changes"] == {"torch_threads": [2, 1]}
    assert m["environment"]["torch_threads"] == 1


def test_two_writers_in_one_process_are_refused(tmp_path):
    manifest, labels = _manifest()
    kw = dict(manifest=manifest, train_indices=np.arange(N) * 3, train_labels=labels, test_labels=np.arange(M) % C)
    with RecordWriter(tmp_path / "r", **kw):
        with pytest.raises(RecordError, match="another process is writing"):
            RecordWriter(tmp_path / "r", resume=True, **kw)
    with RecordWriter(tmp_path / "r", resume=True, **kw):       # the lock is gone with the first writer
        pass


CHILD = textwrap.dedent("""
    import os, signal, sys, numpy as np
    sys.path.insert(0, {root!r})
    import ltbound.records as R
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "kill-before-manifest":
        import ltbound.records.write as W       # the writer's own reference
        W.write_manifest = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    elif mode == "kill-in-split-write":
        real = os.replace
        def replace(src, dst):
            if str(dst).endswith("split.npz"):
                os.kill(os.getpid(), signal.SIGKILL)
            return real(src, dst)
        os.replace = replace
    w = R.RecordWriter(path, manifest={{"config": {{"schedule": "ib"}}}}, train_indices=np.arange(4),
                       train_labels=[0, 0, 1, 1], test_labels=[0, 1])
    if mode == "hold":
        print("ready", flush=True)
        sys.stdin.readline()
""")


def _child(mode, path, **kw):
    code = CHILD.format(root=str(Path(__file__).resolve().parents[1]))
    return subprocess.Popen([sys.executable, "-c", code, mode, str(path)], text=True, **kw)


def test_a_second_process_cannot_write_a_record_being_written(tmp_path):
    holder = _child("hold", tmp_path / "r", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(RecordError, match="another process is writing"):
            RecordWriter(tmp_path / "r", manifest={"config": {"schedule": "ib"}}, train_indices=np.arange(4),
                         train_labels=[0, 0, 1, 1], test_labels=[0, 1], resume=True)
    finally:
        holder.communicate("\n", timeout=60)
    RecordWriter(tmp_path / "r", manifest={"config": {"schedule": "ib"}}, train_indices=np.arange(4),
                 train_labels=[0, 0, 1, 1], test_labels=[0, 1], resume=True).close()


@pytest.mark.parametrize("mode", ["kill-before-manifest", "kill-in-split-write"])
def test_kill_during_the_first_write_leaves_a_folder_a_new_writer_takes(tmp_path, mode):
    child = _child(mode, tmp_path / "r")
    assert child.wait(timeout=120) == -signal.SIGKILL
    assert any((tmp_path / "r").iterdir())                       # something was left behind
    with pytest.raises(RecordError, match="no manifest.json"):
        load_record(tmp_path / "r")
    _make(tmp_path / "r", epochs=1)                              # no manual deletion needed
    assert load_record(tmp_path / "r").epochs.tolist() == [1]
    assert not list((tmp_path / "r").rglob("*.tmp"))


def test_a_folder_with_foreign_files_is_never_cleared(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "split.npz").write_bytes(b"x")
    (tmp_path / "r" / "notes.txt").write_text("mine")
    with pytest.raises(RecordError, match="not empty"):
        _make(tmp_path / "r", epochs=1)
    assert (tmp_path / "r" / "notes.txt").read_text() == "mine"


def test_a_record_with_no_epoch_is_replaced_by_a_new_run(tmp_path):
    _make(tmp_path / "r", epochs=0, finish=False, config={"schedule": "ib", "model": "foo"})
    _make(tmp_path / "r", epochs=1)                               # another config: nothing was lost
    assert load_record(tmp_path / "r").label == "switching"


def test_record_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        _make(tmp_path / "r", epochs=1)
    finally:
        os.umask(old)
    for rel in ("manifest.json", "split.npz", "epochs/epoch_0001.npz"):
        assert (tmp_path / "r" / rel).stat().st_mode & 0o777 == 0o640, rel


def test_an_added_loss_matrix_is_hashed_and_verified(pristine, tmp_path):
    from ltbound.records import add_file, read_file
    rec = _copy(pristine["v2"], tmp_path / "r")
    losses = np.random.default_rng(0).random((4, N))
    add_file(rec, "loss_matrices/perturb.npz", losses=losses)
    np.testing.assert_array_equal(read_file(rec, "loss_matrices/perturb.npz")["losses"], losses)
    load_record(rec)
    flip(rec / "loss_matrices" / "perturb.npz")
    with pytest.raises(RecordError, match="perturb.npz"):
        load_record(rec)
    with pytest.raises(RecordError, match="perturb.npz"):
        read_file(rec, "loss_matrices/perturb.npz")
    with pytest.raises(ValueError, match="rel must be a new .npz path"):
        add_file(rec, "../outside.npz", losses=losses)
    delete(rec / "loss_matrices" / "perturb.npz")
    with pytest.raises(RecordError, match="perturb.npz is missing"):
        load_record(rec)


# ------------------------------------------------------------------------- issue 24: records say what they hold
def _reseal(path, edit):
    """Apply ``edit`` to a v2 manifest and seal it again: a consistent edit the checksum cannot see."""
    m = json.loads((path / "manifest.json").read_text())
    edit(m)
    write_manifest(path, m)


def _rewrite_npz(path, rel, edit):
    """Rewrite one data file and record its new hash, as a consistent editor would."""
    a = _npz(path / rel)
    edit(a)
    np.savez_compressed(path / rel, **a)
    data = (path / rel).read_bytes()
    import hashlib
    _reseal(path, lambda m: m["files"].__setitem__(rel, {"sha256": hashlib.sha256(data).hexdigest(),
                                                         "size": len(data)}))


def test_complete_status_with_fewer_epochs_than_planned_is_refused(tmp_path):
    """A run planned for 3 epochs whose manifest says 'complete' after 2 was loaded and compared."""
    rec = _make(tmp_path / "r", config={"schedule": "switching", "seed": 3, "milestones": [2], "epochs": 3})
    assert load_record(rec).epochs_planned == 3

    def cut(m):
        m["history"], m["epochs_completed"] = m["history"][:2], 2
        m["files"].pop("epochs/epoch_0003.npz")
    _reseal(rec, cut)
    (rec / "epochs" / "epoch_0003.npz").unlink()
    with pytest.raises(RecordError, match="'complete' but only 2 of the 3 planned epochs"):
        load_record(rec)
    _reseal(rec, lambda m: m.update(status="running"))          # the same epochs, honestly running: fine
    assert not load_record(rec).complete
    _reseal(rec, lambda m: m.update(epochs_planned=1))
    with pytest.raises(RecordError, match="exceeds the 1 epochs the run planned"):
        load_record(rec)


def test_a_writer_cannot_finish_before_the_planned_epochs(tmp_path):
    with pytest.raises(RecordError, match="2 of its 3 planned epochs"):
        _make(tmp_path / "r", epochs=2, config={"schedule": "ib", "seed": 0, "epochs": 3})


def test_v2_record_without_planned_epochs_and_preset_migrates(tmp_path):
    """Readers use top-level epochs_planned and preset; a manifest written before them derives them from config."""
    rec = _make(tmp_path / "r", config={"schedule": "ib", "seed": 0, "epochs": 3, "preset": "digits"})
    m = json.loads((rec / "manifest.json").read_text())
    assert m["epochs_planned"] == 3 and m["preset"] == "digits"        # the writer puts them at the top
    _reseal(rec, lambda m: [m.pop("epochs_planned"), m.pop("preset")])
    r = load_record(rec)
    assert (r.epochs_planned, r.preset) == (3, "digits")
    assert "epochs_planned" not in json.loads((rec / "manifest.json").read_text())   # read, not rewritten
    assert (load_record(_make(tmp_path / "toy")).epochs_planned, load_record(tmp_path / "toy").preset) == (None, None)


def test_checkpoints_are_hashed_when_recorded_and_verified_when_read(tmp_path):
    from ltbound.records import checkpoint_epochs, checkpoint_path
    manifest, labels = _manifest()
    with RecordWriter(tmp_path / "r", manifest=manifest, train_indices=np.arange(N) * 3, train_labels=labels,
                      test_labels=np.arange(M) % C) as w:
        for e in (1, 2):
            w.checkpoint_path(e).write_bytes(bytes([e]) * 1000)        # saved before its epoch is recorded
            w.write_epoch(e, train_loss=np.ones(N), train_correct=np.ones(N, bool), test_correct=np.ones(M, bool),
                          summary={})
    rec = tmp_path / "r"
    assert sorted(json.loads((rec / "manifest.json").read_text())["checkpoints"]) == \
        ["checkpoints/epoch_0001.pt", "checkpoints/epoch_0002.pt"]
    assert checkpoint_epochs(rec) == [1, 2] and checkpoint_path(rec, 2) == rec / "checkpoints" / "epoch_0002.pt"
    flip(rec / "checkpoints" / "epoch_0002.pt")
    with pytest.raises(RecordError, match="epoch_0002.pt does not match its SHA-256"):
        checkpoint_path(rec, 2)
    delete(rec / "checkpoints" / "epoch_0002.pt")
    assert checkpoint_epochs(rec) == [1, 2]         # the manifest's list: a deleted last checkpoint is not skipped
    with pytest.raises(RecordError, match="epoch_0002.pt is missing"):
        checkpoint_path(rec, 2)
    (rec / "checkpoints" / "epoch_0003.pt").write_bytes(b"planted")
    with pytest.raises(RecordError, match="holds no checkpoint of epoch 3"):
        checkpoint_path(rec, 3)


def test_checkpoints_of_a_record_written_before_their_hashes_warn(tmp_path):
    from ltbound.records import checkpoint_epochs, checkpoint_path
    rec = _make(tmp_path / "r")
    (rec / "checkpoints").mkdir()
    (rec / "checkpoints" / "epoch_0003.pt").write_bytes(b"weights")
    _reseal(rec, lambda m: m.pop("checkpoints"))
    with pytest.warns(UserWarning, match="not verified"):
        assert checkpoint_epochs(rec) == [3]
    with pytest.warns(UserWarning, match="not verified"):
        assert checkpoint_path(rec, 3).read_bytes() == b"weights"
    # a resume hashes them from then on, and says which were found unverified
    manifest, labels = _manifest()
    RecordWriter(rec, manifest=manifest, train_indices=np.arange(N) * 3, train_labels=labels,
                 test_labels=np.arange(M) % C, resume=True).close()
    m = json.loads((rec / "manifest.json").read_text())
    assert list(m["checkpoints"]) == ["checkpoints/epoch_0003.pt"]
    assert m["resumes"][-1]["checkpoints_hashed_unverified"] == ["checkpoints/epoch_0003.pt"]


def test_training_losses_the_history_contradicts_are_refused(pristine, tmp_path):
    """An epoch file rewritten with other losses (same correctness, hash updated) passed every check."""
    rec = _copy(pristine["v2"], tmp_path / "r")
    _rewrite_npz(rec, "epochs/epoch_0002.npz", lambda a: a.update(train_loss=(a["train_loss"] * 1.5).astype(np.float16)))
    with pytest.raises(RecordError, match="epoch_0002.npz: its training losses average .* mean_train_loss"):
        load_record(rec)


def test_compact_loss_epochs_the_manifest_contradicts_are_refused(pristine, tmp_path):
    rec = compact_record(pristine["v2"], tmp_path / "c", loss_epochs="all")
    assert load_record(rec).loss_epochs.tolist() == [1, 2, 3]

    def keep_last(a):
        a["loss_epochs"], a["train_loss"] = a["loss_epochs"][-1:], a["train_loss"][-1:]
    _rewrite_npz(rec, "record.npz", keep_last)
    with pytest.raises(RecordError, match=r"loss_epochs \[3\] differs from the manifest's \[1, 2, 3\]"):
        load_record(rec)


def test_compact_record_keeps_final_stage_test_losses_and_links_its_source(tmp_path):
    src = _make(tmp_path / "full", epochs=5)
    full = load_record(src)
    small = load_record(compact_record(src, tmp_path / "small"))
    final = full.final_stage_epochs()
    assert final.tolist() == [3, 4, 5]                   # every final-stage epoch, not only the last
    assert small.test_loss_epochs.tolist() == final.tolist()
    np.testing.assert_array_equal(small.test_loss, full.test_loss[final - 1].astype(np.float16).astype(np.float32))
    link = small.manifest["source_record"]
    assert link["path"] == str(src.resolve())
    assert link["manifest_checksum"] == full.manifest["checksum"]
    assert link["checkpoints"] == full.manifest["checkpoints"]
    assert link["checkpoints_hashed"] == "when written"
    assert small.manifest["source_files"] == full.manifest["files"]
    assert small.manifest["test_loss_epochs"] == final.tolist()


def test_compacting_a_run_written_before_checkpoints_were_hashed_hashes_them_then(tmp_path):
    """A run started by older code has checkpoint files but no hashes in its manifest (the 200-epoch CPU
    runs of issue 21): its compact copy hashes the files it finds and says when it did."""
    import json
    from ltbound.records.format import write_manifest
    from ltbound.records._io import file_entry
    src = _make(tmp_path / "full", epochs=5)
    manifest = json.loads((src / "manifest.json").read_text())
    del manifest["checkpoints"]
    manifest.pop("checksum", None)
    write_manifest(src, manifest)
    (src / "checkpoints").mkdir(exist_ok=True)
    hashed = {}
    for e in (4, 5):
        data = f"weights of epoch {e}".encode()
        (src / "checkpoints" / f"epoch_{e:04d}.pt").write_bytes(data)
        hashed[f"checkpoints/epoch_{e:04d}.pt"] = file_entry(data)
    with pytest.warns(UserWarning, match="not verified"):
        from ltbound.records import checkpoint_epochs
        assert checkpoint_epochs(src)
    link = load_record(compact_record(src, tmp_path / "small")).manifest["source_record"]
    assert link["checkpoints_hashed"] == "at compaction" and link["checkpoints"] == hashed


def _cifar_record(path, train_indices, train_labels, *, split_seed=0, imbalance=100.0, name="cifar10-lt"):
    import hashlib
    manifest = {"config": {"schedule": "ib", "seed": 0, "split_seed": split_seed},
                "dataset": {"name": name, "num_classes": 10, "imbalance": imbalance,
                            "split_hash": hashlib.sha256(np.asarray(train_indices, "<i8").tobytes()).hexdigest()},
                "schedule": [{"start_epoch": 1, "sampler": "IB", "q": 1.0}]}
    n = len(train_indices)
    with RecordWriter(path, manifest=manifest, train_indices=train_indices, train_labels=train_labels,
                      test_labels=np.arange(20) % 10) as w:
        w.write_epoch(1, train_loss=np.ones(n), train_correct=np.ones(n, bool), test_correct=np.ones(20, bool),
                      summary={})
    return path


def test_a_foreign_split_with_its_hash_updated_is_refused_where_the_protocol_is_known(tmp_path):
    """CIFAR-10-LT in the class-folder layout: the subset follows from (imbalance, split seed) alone."""
    from ltbound.bounds.sampling import long_tailed_counts, long_tailed_indices
    source = np.repeat(np.arange(10), 5000)            # sorted class folders, 5,000 images each
    counts = long_tailed_counts(5000, 10, 100)
    ours = long_tailed_indices(source, counts, 0)
    assert load_record(_cifar_record(tmp_path / "ok", ours, source[ours])).split_check == "protocol"
    other = long_tailed_indices(source, counts, 1)     # split seed 1's subset, labelled split seed 0
    with pytest.raises(RecordError, match="not the subset that cifar10-lt's protocol selects .* split_seed 0"):
        load_record(_cifar_record(tmp_path / "seed1", other, source[other]))
    assert load_record(_cifar_record(tmp_path / "s1", other, source[other], split_seed=1)).split_check == "protocol"
    fifty = long_tailed_indices(source, long_tailed_counts(5000, 10, 50), 0)
    with pytest.raises(RecordError, match="class counts .* at imbalance 100 keeps"):
        load_record(_cifar_record(tmp_path / "imb50", fifty, source[fifty]))


def test_where_the_source_order_is_unknown_the_split_check_says_so(tmp_path):
    """torchvision's pickled order is not in the record: counts are checked, the subset cannot be."""
    from ltbound.bounds.sampling import long_tailed_counts, long_tailed_indices
    source = np.random.default_rng(0).permutation(np.repeat(np.arange(10), 5000))
    idx = long_tailed_indices(source, long_tailed_counts(5000, 10, 100), 0)
    assert load_record(_cifar_record(tmp_path / "tv", idx, source[idx])).split_check == "counts"
    assert load_record(_make(tmp_path / "toy")).split_check == "unverified"
