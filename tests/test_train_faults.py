"""Trainer faults (issue 11, items 3, 4 and 7): each ends in one line on stderr, never a traceback,
and never in a folder that needs deleting by hand.

Runs are two IB epochs on the embedded digits data; one partial run (epoch 1 of 2) is made
once and copied for every resume case.
"""
import errno
import json
import os
import shutil

import pytest
import torch

from ltbound.records import LOCK_NAME, RecordWriter, _Lock, load_record
from ltbound.train.__main__ import main
from ltbound.train.loop.config import TrainConfig
from ltbound.train.loop.trainer import train

ARGS = ["--schedule", "ib", "--epochs", "2", "--milestones", "1", "--warmup-epochs", "0", "--no-progress",
        "--checkpoint-epochs", "end", "--amp", "off"]
CONFIG = dict(schedule="ib", epochs=2, milestones=[1], warmup_epochs=0, progress=False, checkpoint_epochs="end",
              amp="off", quiet=True)


def _run(capsys, *args):
    code = main([*args, *ARGS])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip()


def _one_line(err):
    assert len(err.splitlines()) == 1, err
    assert err.startswith("ltbound.train: error: ")
    return err


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    """A run stopped after epoch 1 of 2 (record 'running', state.pt at epoch 1)."""
    out = tmp_path_factory.mktemp("partial") / "run"
    train(TrainConfig(out=out, **CONFIG), stop_after=1)
    return out


@pytest.fixture
def run_copy(partial, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(partial, dst)
    return dst


def test_out_under_a_file_or_in_proc_is_refused_before_loading_data(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    code, err = _run(capsys, "--out", str(tmp_path / "afile" / "run"))
    assert code == 2 and "lies under" in _one_line(err) and "which is a file" in err
    code, err = _run(capsys, "--out", "/proc/ltbound-run")
    assert code == 2 and "cannot write the run record folder /proc/ltbound-run" in _one_line(err)


def test_unknown_model_leaves_nothing_that_blocks_a_rerun(tmp_path, capsys):
    out = tmp_path / "run"
    code, err = _run(capsys, "--out", str(out), "--model", "foo")
    assert code == 2 and "model must be one of" in _one_line(err)
    assert not out.exists()
    # even a 0-epoch record (a run that failed before its first epoch) does not block a rerun
    RecordWriter(out, manifest={"config": {"model": "foo"}}, train_indices=[0], train_labels=[0],
                 test_labels=[0]).close()
    code, err = _run(capsys, "--out", str(out), "--epochs", "1")
    assert code == 0, err
    assert load_record(out).complete


def test_first_write_debris_is_taken_over_by_a_rerun(tmp_path, capsys):
    """What a kill during the very first write leaves: split and temp files, no manifest."""
    out = tmp_path / "run"
    (out / "epochs").mkdir(parents=True)
    (out / "split.npz").write_bytes(b"half a split")
    (out / ".manifest.json.x1.tmp").write_bytes(b"{")
    (out / LOCK_NAME).write_bytes(b"")
    code, err = _run(capsys, "--out", str(out), "--epochs", "1")
    assert code == 0, err
    assert load_record(out).complete and not list(out.rglob("*.tmp"))


def test_diverging_run_says_where_and_what_to_change(tmp_path, capsys):
    code, err = _run(capsys, "--out", str(tmp_path / "run"), "--lr", "1e6")
    assert code == 2
    line = _one_line(err)
    assert "training diverged" in line and "epoch 1" in line and "step" in line and "lower lr" in line
    assert "(flags: " in line                                   # the CLI names the flag of `lr`/`warmup_epochs`


def test_resume_refuses_a_damaged_epoch_file(run_copy, capsys):
    f = run_copy / "epochs" / "epoch_0001.npz"
    f.write_bytes(f.read_bytes()[:50])
    code, err = _run(capsys, "--out", str(run_copy), "--resume")
    assert code == 2 and "epoch_0001.npz" in _one_line(err)
    assert load_record  # the record was not marked complete
    assert json.loads((run_copy / "manifest.json").read_text())["status"] == "running"


def test_resume_refuses_a_truncated_state(run_copy, capsys):
    f = run_copy / "state.pt"
    f.write_bytes(f.read_bytes()[:1000])
    code, err = _run(capsys, "--out", str(run_copy), "--resume")
    assert code == 2 and "state.pt (the resume state) is damaged or truncated" in _one_line(err)


def test_a_second_writer_exits_with_a_clear_message(run_copy, capsys):
    held = _Lock(run_copy)                       # another process writing this record
    try:
        code, err = _run(capsys, "--out", str(run_copy), "--resume")
        assert code == 2 and "another process is writing the run record" in _one_line(err)
    finally:
        held.release()


def test_resume_in_another_environment_is_refused_unless_allowed(run_copy, capsys):
    threads = torch.get_num_threads()
    other = 1 if threads != 1 else 2
    torch.set_num_threads(other)
    try:
        code, err = _run(capsys, "--out", str(run_copy), "--resume")
        assert code == 2 and "torch_threads" in _one_line(err) and "--allow-env-change" in err
        code, err = _run(capsys, "--out", str(run_copy), "--resume", "--allow-env-change")
        assert code == 0, err
    finally:
        torch.set_num_threads(threads)
    m = load_record(run_copy).manifest
    assert m["resumes"][-1]["environment_changes"]["torch_threads"] == [threads, other]
    assert m["environment"]["torch_threads"] == other


def test_resume_removes_temp_files_and_files_follow_the_umask(run_copy, capsys):
    (run_copy / ".state.pt.abc123.tmp").write_bytes(b"left by a kill")
    (run_copy / "epochs" / ".epoch_0002.npz.def.tmp").write_bytes(b"left by a kill")
    old = os.umask(0o027)
    try:
        code, err = _run(capsys, "--out", str(run_copy), "--resume")
    finally:
        os.umask(old)
    assert code == 0, err
    assert not list(run_copy.rglob("*.tmp"))
    for rel in ("state.pt", "manifest.json", "epochs/epoch_0002.npz", "checkpoints/epoch_0002.pt"):
        assert (run_copy / rel).stat().st_mode & 0o777 == 0o640, rel


def test_full_disk_is_one_line_and_keeps_the_record(run_copy, capsys, monkeypatch):
    import ltbound.train.runs.state as state

    def no_space(obj, path):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0\n"
                           "PytorchStreamWriter failed writing file data/0: file write failed")
    monkeypatch.setattr(state.torch, "save", no_space)
    code, err = _run(capsys, "--out", str(run_copy), "--resume")
    assert code == 1 and "cannot write" in _one_line(err) and "epoch_0002.pt" in err and "free disk space" in err
    assert not list(run_copy.rglob("*.tmp"))
    assert load_record(run_copy).epochs.tolist() == [1]
    monkeypatch.undo()

    import ltbound.records.write as records     # the writer's own reference to the atomic write
    real = records._atomic_write_bytes

    def enospc(path, data):
        if path.name.startswith("epoch_"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)
    monkeypatch.setattr(records, "_atomic_write_bytes", enospc)
    code, err = _run(capsys, "--out", str(run_copy), "--resume")
    assert code == 1 and "No space left on device" in _one_line(err) and "--resume" in err
    assert load_record(run_copy).epochs.tolist() == [1]
