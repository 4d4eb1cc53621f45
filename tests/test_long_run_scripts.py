"""scripts/cpu_table1.sh restore / pack and scripts/long_runs.sh status: the shell plumbing that carries the long
CPU runs from one machine to the next (issue 33), exercised on a tiny digits run standing in for a CIFAR one."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ltbound.train.loop.trainer import TrainConfig, train

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _sh(*args, **env):
    return subprocess.run(["bash", *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **{k: str(v) for k, v in env.items()}})


def test_a_snapshot_is_restored_reported_and_packed_again_by_the_scripts(tmp_path):
    run = tmp_path / "machine-a" / "c10-7-ib-full"
    train(TrainConfig(out=run, epochs=4, milestones=[2], switch_offset=1, warmup_epochs=1, progress=False),
          stop_after=2)
    snaps = tmp_path / "snapshots"
    assert _sh("scripts/cpu_table1.sh", "pack", RUNS=run.parent, SNAPSHOTS=snaps).returncode == 0
    assert json.loads((snaps / run.name / "snapshot.json").read_text())["epochs_completed"] == 2
    shutil.rmtree(run.parent)                                     # the first machine is gone
    runs = tmp_path / "machine-b" / "runs"
    archive = tmp_path / "data.tar.xz"
    archive.write_bytes(b"")                                      # restore only records where the data lie
    out = _sh("scripts/cpu_table1.sh", "restore", RUNS=runs, SNAPSHOTS=snaps, ARCHIVE=archive)
    assert out.returncode == 0, out.stderr
    assert f"continue with: python -m ltbound.train --out {runs / run.name} --resume" in out.stdout
    manifest = json.loads((runs / run.name / "manifest.json").read_text())
    assert manifest["epochs_completed"] == 2 and manifest["config"]["data_dir"] == str(archive.resolve())
    again = _sh("scripts/cpu_table1.sh", "restore", RUNS=runs, SNAPSHOTS=snaps, ARCHIVE=archive)
    assert again.returncode == 0 and "run restored" not in again.stdout     # a run that is there is left alone
    status = _sh("scripts/long_runs.sh", "status", RUNS=runs)
    assert status.returncode == 0 and f"{run.name:<32} epoch   2/4 running" in status.stdout
    assert "chain imb50: not running" in status.stdout and "trainings alive: 0" in status.stdout
    # packed again on the second machine: the same run files (the manifest now also records the restore)
    assert _sh("scripts/long_runs.sh", "pack", RUNS=runs, SNAPSHOTS=tmp_path / "snap2").returncode == 0
    first, second = (json.loads((d / run.name / "snapshot.json").read_text())["files"]
                     for d in (snaps, tmp_path / "snap2"))
    assert set(first) == set(second)
    assert all(first[k]["sha256"] == second[k]["sha256"] for k in first if k != "manifest.json")


def test_long_runs_refuses_an_unknown_command():
    out = _sh("scripts/long_runs.sh", "launch")
    assert out.returncode == 2 and "usage: bash scripts/long_runs.sh start|status|pause|cont|pack" in out.stderr
