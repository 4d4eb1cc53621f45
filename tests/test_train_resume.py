"""Crash safety and resume: a run stopped or killed at any point resumes to the same record, bitwise (CPU)."""
import numpy as np
import os

import pytest
import torch

from ltbound.records import load_record
from ltbound.train.loop.trainer import TrainConfig, train

SHORT = dict(epochs=4, milestones=[2], switch_offset=1, warmup_epochs=1, progress=False)
_TIMING_KEYS = {"seconds", "eval_seconds", "cpu_seconds", "eval_cpu_seconds"}


class Crash(RuntimeError):
    """Stands in for a kill signal at a chosen point of the epoch loop."""


def _crash_at(event, epoch):
    def hook(ev, ep):
        if (ev, ep) == (event, epoch):
            raise Crash(f"simulated crash at {ev} of epoch {ep}")
    return hook


def _assert_same_record(a_dir, b_dir):
    a, b = load_record(a_dir), load_record(b_dir)
    assert a.complete and b.complete
    assert a.epochs.tolist() == b.epochs.tolist()
    for field in ("train_loss", "train_correct", "test_correct", "test_loss", "train_labels", "test_labels",
                  "train_indices"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    strip = lambda h: {k: v for k, v in h.items() if k not in _TIMING_KEYS}   # noqa: E731
    assert [strip(h) for h in a.history] == [strip(h) for h in b.history]
    for key in ("config", "dataset", "schedule", "checkpoint_epochs"):
        assert a.manifest[key] == b.manifest[key], key
    for e in a.manifest["checkpoint_epochs"]:
        ka = torch.load(a_dir / "checkpoints" / f"epoch_{e:04d}.pt", weights_only=True)["model"]
        kb = torch.load(b_dir / "checkpoints" / f"epoch_{e:04d}.pt", weights_only=True)["model"]
        assert all(torch.equal(ka[k], kb[k]) for k in ka), f"checkpoint {e} differs"


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    return train(TrainConfig(out=out, **SHORT))


def test_stop_after_then_resume_gives_the_same_record(straight, tmp_path):
    out = tmp_path / "run"
    train(TrainConfig(out=out, **SHORT), stop_after=2)
    partial = load_record(out)
    assert not partial.complete and partial.epochs.tolist() == [1, 2]
    with pytest.raises(ValueError, match="already holds a run record"):   # no resume flag: refused
        train(TrainConfig(out=out, **SHORT))
    train(TrainConfig(out=out, resume=True, **SHORT))
    _assert_same_record(straight, out)


@pytest.mark.parametrize("event", ["trained", "state", "recorded"])
def test_crash_at_any_point_of_an_epoch_resumes_to_the_same_record(straight, tmp_path, event):
    """'trained': epoch 3 trained, nothing saved; 'state': state.pt holds epoch 3 but the record
    only 2 (the resume re-evaluates the saved model); 'recorded': epoch 3 fully recorded."""
    out = tmp_path / "run"
    with pytest.raises(Crash):
        train(TrainConfig(out=out, **SHORT), on_event=_crash_at(event, 3))
    rec = load_record(out)                             # readable after the crash
    assert not rec.complete
    assert rec.epochs.tolist() == ([1, 2, 3] if event == "recorded" else [1, 2])
    state_epoch = torch.load(out / "state.pt", weights_only=False)["epoch"]
    assert state_epoch == (2 if event == "trained" else 3)
    train(TrainConfig(out=out, resume=True, **SHORT))
    _assert_same_record(straight, out)


def test_resume_of_a_finished_run_changes_nothing(straight, tmp_path):
    import shutil
    out = tmp_path / "copy"
    shutil.copytree(straight, out)
    before = (out / "epochs" / "epoch_0004.npz").read_bytes()
    train(TrainConfig(out=out, resume=True, **SHORT))
    assert (out / "epochs" / "epoch_0004.npz").read_bytes() == before
    _assert_same_record(straight, out)


def test_resume_with_another_configuration_is_refused(tmp_path):
    out = tmp_path / "run"
    train(TrainConfig(out=out, **SHORT), stop_after=1)
    with pytest.raises(ValueError, match="another configuration"):
        train(TrainConfig(out=out, resume=True, seed=5, **SHORT))
    # operational settings (progress bars, resume itself) may differ
    train(TrainConfig(out=out, resume=True, **(SHORT | dict(progress=True))), stop_after=2)
    assert load_record(out).epochs.tolist() == [1, 2]


def test_resume_into_an_empty_folder_starts_a_new_run(tmp_path):
    out = train(TrainConfig(out=tmp_path / "fresh", resume=True, **SHORT), stop_after=1)
    assert load_record(out).epochs.tolist() == [1]


def test_state_out_of_step_with_the_record_is_refused(tmp_path):
    out = tmp_path / "run"
    train(TrainConfig(out=out, **SHORT), stop_after=2)
    state = torch.load(out / "state.pt", weights_only=False)
    state["epoch"] = 4
    torch.save(state, out / "state.pt")
    with pytest.raises(ValueError, match="record has 2 epochs but state.pt holds epoch 4"):
        train(TrainConfig(out=out, resume=True, **SHORT))


def test_stop_after_must_be_a_positive_epoch(tmp_path):
    with pytest.raises(ValueError, match="stop_after"):
        train(TrainConfig(out=tmp_path / "run", **SHORT), stop_after=0)


# ----------------------------------------------------------------------------- fork
def test_switching_forked_off_an_ib_run_equals_a_straight_switching_run(tmp_path):
    """A second stage branched off a first-stage run is the run an uninterrupted schedule writes.

    SHORT switches at epoch 4 (IB through 3), so an IB record of 2 or 3 epochs can be
    continued as Switching; the result must match a Switching run from scratch bit for bit.
    """
    straight = train(TrainConfig(out=tmp_path / "switching", schedule="switching", checkpoint_epochs="all", **SHORT))
    ib = train(TrainConfig(out=tmp_path / "ib", schedule="ib", checkpoint_epochs="all", **SHORT), stop_after=3)
    forked = train(TrainConfig(out=tmp_path / "fork", schedule="switching", checkpoint_epochs="all",
                               fork_from=ib, **SHORT))
    _assert_same_record(straight, forked)
    info = load_record(forked).manifest["forked_from"]
    assert info["epoch"] == 3 and info["schedule"] == "ib" and len(info["manifest_sha256"]) == 64


def test_fork_refuses_what_would_not_reproduce(tmp_path):
    six = {**SHORT, "epochs": 6}                       # switching: IB through epoch 3, CR from 4
    ib = train(TrainConfig(out=tmp_path / "ib", schedule="ib", **six), stop_after=4)
    with pytest.raises(ValueError, match="epoch 4 was trained with sampler IB"):
        train(TrainConfig(out=tmp_path / "a", schedule="switching", fork_from=ib, **six))
    with pytest.raises(ValueError, match="differ in seed"):
        train(TrainConfig(out=tmp_path / "b", schedule="ib", fork_from=ib, seed=1, **six))
    with pytest.raises(ValueError, match="differ in amp"):
        train(TrainConfig(out=tmp_path / "c", schedule="ib", amp="off", fork_from=ib, **six))
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)                 # another thread count: other float sums
    try:
        with pytest.raises(ValueError, match="ran in another environment.*torch_threads"):
            train(TrainConfig(out=tmp_path / "e", schedule="ib", fork_from=ib, **six))
    finally:
        torch.set_num_threads(threads)
    with pytest.raises(ValueError, match="not a run record"):
        train(TrainConfig(out=tmp_path / "d", fork_from=tmp_path, **SHORT))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_fork_of_a_source_that_advances_during_the_copy_retries_then_refuses(tmp_path, monkeypatch):
    """A running source may write epoch e+1 while it is copied: the copy is checked and redone."""
    import shutil
    from pathlib import Path
    from ltbound.train.runs import fork as fork_mod
    real_copy2 = shutil.copy2
    ib = train(TrainConfig(out=tmp_path / "ib", schedule="ib", checkpoint_epochs="all", **SHORT), stop_after=3)
    straight = train(TrainConfig(out=tmp_path / "switching", schedule="switching", checkpoint_epochs="all", **SHORT))
    advanced = torch.load(ib / "state.pt", weights_only=False)
    advanced["epoch"] = 4                               # what a writer one epoch further would have saved
    calls = {"n": 0}

    def copy2(src, dst, *a, **k):
        if Path(src).name == "state.pt" and calls["n"] < calls["limit"]:
            calls["n"] += 1
            torch.save(advanced, dst)
            return dst
        return real_copy2(src, dst, *a, **k)

    monkeypatch.setattr(fork_mod.shutil, "copy2", copy2)
    calls["limit"] = 1                                  # the first copy is inconsistent, the second is not
    forked = train(TrainConfig(out=tmp_path / "fork", schedule="switching", checkpoint_epochs="all",
                               fork_from=ib, **SHORT))
    _assert_same_record(straight, forked)
    calls.update(n=0, limit=fork_mod.COPY_ATTEMPTS)     # never consistent: refused, naming the cause
    with pytest.raises(ValueError, match="kept changing while it was copied"):
        train(TrainConfig(out=tmp_path / "fork2", schedule="switching", fork_from=ib, **SHORT))


# ----------------------------------------------------------------------------- snapshots (issue 33)
def _packed_at(tmp_path, epoch, **pack_kw):
    """A run stopped after ``epoch``, packed into a snapshot; the run folder itself is deleted."""
    import shutil

    from ltbound.train.runs.snapshot import pack_run
    run = tmp_path / "machine-a" / "run"
    train(TrainConfig(out=run, **SHORT), stop_after=epoch)
    index = pack_run(run, tmp_path / "snap", **pack_kw)
    shutil.rmtree(tmp_path / "machine-a")          # the machine is gone: only the snapshot is left
    return index


def test_run_restored_from_a_snapshot_equals_an_uninterrupted_run(straight, tmp_path, capsys):
    """Pack after epoch 2, lose the run, restore elsewhere via the command line, resume: the same record, bitwise.
    restore prints the command that continues it (the trainer's, for a trainer run)."""
    from ltbound.train.__main__ import main
    index = _packed_at(tmp_path, 2, checkpoints="all")
    assert index["epochs_completed"] == 2 and index["checkpoints_left"] == {}
    run = tmp_path / "machine-b" / "run"
    assert main(["restore", str(tmp_path / "snap"), str(run)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"continue with: python -m ltbound.train --out {run} --resume")
    assert main(["--out", str(run), "--resume"]) == 0
    _assert_same_record(straight, run)
    restores = load_record(run).manifest["restores"]
    assert restores[0]["after_epoch"] == 2 and restores[0]["checkpoints_not_carried"] == []


def test_snapshot_without_checkpoints_keeps_their_hashes_and_says_they_are_missing(straight, tmp_path):
    from ltbound.records import RecordError, checkpoint_path
    from ltbound.train.runs.snapshot import restore_snapshot
    index = _packed_at(tmp_path, 3)                   # the switch checkpoint (epoch m_n + S = 3) stays behind
    left = sorted(index["checkpoints_left"])
    assert left == ["checkpoints/epoch_0003.pt"]
    run = restore_snapshot(tmp_path / "snap", tmp_path / "run")
    train(TrainConfig(out=run, resume=True, **SHORT))
    a, b = load_record(straight), load_record(run)
    for field in ("train_loss", "test_loss", "test_correct"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    # hashes kept for the checkpoint left behind (a checkpoint file names its run folder, so its hash is the
    # packed run's, not the straight run's), and the final weights equal the straight run's
    assert sorted(b.manifest["checkpoints"]) == sorted(a.manifest["checkpoints"])
    final = [torch.load(r / "checkpoints" / "epoch_0004.pt", weights_only=True)["model"] for r in (straight, run)]
    assert all(torch.equal(final[0][k], final[1][k]) for k in final[0])
    assert b.manifest["restores"][0]["checkpoints_not_carried"] == left
    checkpoint_path(run, 4)                                                # written after the restore: present
    with pytest.raises(RecordError, match="missing"):
        checkpoint_path(run, 3)


def test_damaged_or_edited_snapshots_are_refused(tmp_path):
    from ltbound.records import RecordError
    from ltbound.train.__main__ import main
    from ltbound.train.runs.snapshot import read_snapshot, restore_snapshot
    _packed_at(tmp_path, 1)
    snap = tmp_path / "snap"
    read_snapshot(snap)
    epoch = snap / "epochs" / "epoch_0001.npz"
    data = bytearray(epoch.read_bytes())
    data[100] ^= 1
    epoch.write_bytes(bytes(data))
    with pytest.raises(RecordError, match="epoch_0001.npz does not match"):
        restore_snapshot(snap, tmp_path / "run")
    assert not (tmp_path / "run").exists()                                  # nothing written
    data[100] ^= 1
    epoch.write_bytes(bytes(data))
    (snap / "notes.txt").write_text("x")
    with pytest.raises(RecordError, match="does not list"):
        read_snapshot(snap)
    (snap / "notes.txt").unlink()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("keep me")
    assert main(["restore", str(snap), str(busy)]) == 2                     # never writes into a full folder
    assert [p.name for p in busy.iterdir()] == ["mine.txt"]


def test_pack_replaces_only_an_earlier_snapshot_of_the_same_run(tmp_path):
    from ltbound.records import RecordError
    from ltbound.train.runs.snapshot import pack_run, read_snapshot
    run = tmp_path / "run"
    train(TrainConfig(out=run, **SHORT), stop_after=1)
    pack_run(run, tmp_path / "snap")
    train(TrainConfig(out=run, resume=True, **SHORT), stop_after=2)
    assert pack_run(run, tmp_path / "snap")["epochs_completed"] == 2        # same run, later: replaced
    assert read_snapshot(tmp_path / "snap")["epochs_completed"] == 2
    other = tmp_path / "other"
    train(TrainConfig(out=other, seed=1, **SHORT), stop_after=1)
    with pytest.raises(RecordError, match="another run"):
        pack_run(other, tmp_path / "snap")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "data.csv").write_text("1,2")
    with pytest.raises(RecordError, match="not a snapshot"):
        pack_run(run, tmp_path / "plain")
    assert (tmp_path / "plain" / "data.csv").read_text() == "1,2"
    with pytest.raises(ValueError, match="no checkpoint of epochs"):
        pack_run(run, tmp_path / "snap2", checkpoints="7")


def test_resume_on_another_cpu_capability_is_refused_unless_allowed_and_then_recorded(tmp_path):
    """torch's kernels follow the CPU capability (AVX-512 / AVX2 / DEFAULT): another one continues another run."""
    import json

    from ltbound.records import write_manifest
    run = tmp_path / "run"
    train(TrainConfig(out=run, **SHORT), stop_after=1)
    manifest = json.loads((run / "manifest.json").read_text())
    here = manifest["environment"]["cpu_capability"]
    assert here == torch.backends.cpu.get_cpu_capability()
    assert {"cpu_model", "onednn", "blas"} <= set(manifest["environment"])
    manifest["environment"]["cpu_capability"] = "ANOTHER"          # as if written on another kind of CPU
    write_manifest(run, manifest)
    with pytest.raises(ValueError, match="cpu_capability: 'ANOTHER' then"):
        train(TrainConfig(out=run, resume=True, **SHORT), stop_after=2)
    train(TrainConfig(out=run, resume=True, allow_env_change=True, **SHORT), stop_after=2)
    resumed = load_record(run).manifest
    assert resumed["resumes"][-1]["environment_changes"] == {"cpu_capability": ["ANOTHER", here]}
    # a record written before the capability was recorded: unknown, not a change; recorded from then on
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["environment"]["cpu_capability"]
    write_manifest(run, manifest)
    train(TrainConfig(out=run, resume=True, **SHORT), stop_after=3)
    assert load_record(run).manifest["environment"]["cpu_capability"] == here
    # The same capability on a CPU whose oneDNN kernels differ (an AMD Zen 4 reports AVX512 as an Intel Xeon
    # with AMX does; oneDNN runs bf16 convolutions on AVX-512 BF16 there, on AMX tiles here), or on another
    # vendor's CPU (the same oneDNN ISA still gave other last digits): refused too.
    # The CPU model is not compared (same kernels, same bits) but the resume entry keeps what it was.
    from ltbound.train.loop.environment import cpu_name, cpu_vendor, onednn_isa
    manifest = json.loads((run / "manifest.json").read_text())
    zen4 = "Intel AVX-512 with Intel DL Boost and bfloat16 support"
    manifest["environment"].update(onednn_isa=zen4, cpu_vendor="AuthenticAMD", cpu_model="AMD EPYC",
                                   device_name="AMD EPYC")
    write_manifest(run, manifest)
    with pytest.raises(ValueError, match="onednn_isa: 'Intel AVX-512 with Intel DL Boost and bfloat16 support' then"):
        train(TrainConfig(out=run, resume=True, **SHORT), stop_after=4)
    train(TrainConfig(out=run, resume=True, allow_env_change=True, **SHORT), stop_after=4)
    entry = load_record(run).manifest["resumes"][-1]
    assert entry["environment_changes"] == {"onednn_isa": [zen4, onednn_isa()], "cpu_vendor": ["AuthenticAMD", cpu_vendor()]}
    assert entry["other_environment_changes"] == {"cpu_model": ["AMD EPYC", cpu_name()],
                                                  "device_name": ["AMD EPYC", cpu_name()]}


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN")
def test_onednn_isa_names_the_kernels_oneDNN_runs_and_follows_its_cap():
    """What oneDNN reports, not what torch's capability says: capped at AVX2 it says AVX2, uncapped it names
    this CPU's highest set (AVX-512 or AMX on the machines here) and stays the same when asked again."""
    import subprocess
    import sys

    from ltbound.train.loop.environment import onednn_isa
    here = onednn_isa()
    assert here and onednn_isa() == here                           # cached: oneDNN prints its header once
    probe = "from ltbound.train.loop.environment import onednn_isa; print(onednn_isa())"
    capped = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"})
    assert capped.returncode == 0, capped.stderr
    assert capped.stdout.strip() == "Intel AVX2"
    from ltbound.train.loop.environment import ISA_VARIABLES
    if torch.backends.cpu.get_cpu_capability() == "AVX512" and not any(v in os.environ for v in ISA_VARIABLES):
        assert here != "Intel AVX2" and "AVX" in here


def test_snapshot_taken_while_an_epoch_is_evaluated_resumes_to_the_same_record(straight, tmp_path):
    """For minutes in every epoch state.pt is one epoch ahead of the record (trained, not yet evaluated):
    a snapshot taken then carries that state, and the restored run records that epoch first."""
    from ltbound.train.runs.snapshot import pack_run, restore_snapshot
    run = tmp_path / "run"
    with pytest.raises(Crash):
        train(TrainConfig(out=run, checkpoint_epochs="none", **SHORT), on_event=_crash_at("state", 3))
    index = pack_run(run, tmp_path / "snap")
    assert (index["epochs_completed"], index["state_epoch"]) == (2, 3)
    restored = restore_snapshot(tmp_path / "snap", tmp_path / "elsewhere")
    train(TrainConfig(out=restored, resume=True, checkpoint_epochs="none", **SHORT))
    a, b = load_record(straight), load_record(restored)
    for field in ("train_loss", "train_correct", "test_correct", "test_loss"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def test_a_missed_cpu_change_is_written_into_its_resume_entry_and_the_record_still_reads(tmp_path):
    """scripts/amend_resume_environment.py: the AMD → Intel resume of 2026-12-06 that compared only the capability."""
    import importlib.util
    import json
    from pathlib import Path

    from ltbound.train.loop.environment import cpu_name
    spec = importlib.util.spec_from_file_location("amend", Path(__file__).resolve().parents[1] / "scripts"
                                                  / "amend_resume_environment.py")
    amend = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(amend)
    run = tmp_path / "run"
    train(TrainConfig(out=run, **SHORT), stop_after=1)
    old = json.loads((run / "manifest.json").read_text())["environment"]
    old.update(cpu_model="AMD EPYC", device_name="AMD EPYC")      # written elsewhere, by a writer that did not
    del old["onednn_isa"], old["cpu_vendor"]                      # state oneDNN's ISA nor the vendor
    train(TrainConfig(out=run, resume=True, **SHORT), stop_after=2)
    with pytest.raises(SystemExit, match="no resume after epoch 5"):
        amend.amend(run, 5, old, "test")
    entry = amend.amend(run, 1, old, "a test snapshot")
    assert entry["other_environment_changes"] == {"cpu_model": ["AMD EPYC", cpu_name()],
                                                  "device_name": ["AMD EPYC", cpu_name()]}
    assert set(entry["unrecorded_environment_fields"]) == {"onednn_isa", "cpu_vendor"}
    assert entry["amended"].endswith("from a test snapshot; the resume compared only torch's CPU capability then")
    assert load_record(run).manifest["resumes"][0] == entry       # sealed again: the record verifies
    with pytest.raises(SystemExit, match="amended already"):
        amend.amend(run, 1, old, "again")
    train(TrainConfig(out=run, resume=True, **SHORT), stop_after=3)   # and the run continues
    assert load_record(run).manifest["resumes"][0] == entry
