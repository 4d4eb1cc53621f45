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
    # the IB copy a Switching fork starts from is packed while the fork waits for it, and not once it has started
    copy = run.parent / "snap" / f"{run.name}@2"
    shutil.copytree(run, copy)
    assert _sh("scripts/cpu_table1.sh", "pack", RUNS=run.parent, SNAPSHOTS=tmp_path / "s1").returncode == 0
    assert (tmp_path / "s1" / copy.name / "snapshot.json").is_file()
    fork = run.parent / "c10-7-switching-full"
    fork.mkdir()
    (fork / "manifest.json").write_text('{"status": "complete"}')   # (a complete run is never packed)
    out = _sh("scripts/cpu_table1.sh", "pack", RUNS=run.parent, SNAPSHOTS=tmp_path / "s2")
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "s2").iterdir()) == [run.name]
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
    assert "s per epoch lately, about 0.0 h to go on one core" in status.stdout
    assert "chain imb50: not running" in status.stdout and "trainings alive: 0" in status.stdout
    # packed again on the second machine: the same run files (the manifest now also records the restore)
    assert _sh("scripts/long_runs.sh", "pack", RUNS=runs, SNAPSHOTS=tmp_path / "snap2").returncode == 0
    first, second = (json.loads((d / run.name / "snapshot.json").read_text())["files"]
                     for d in (snaps, tmp_path / "snap2"))
    assert set(first) == set(second)
    assert all(first[k]["sha256"] == second[k]["sha256"] for k in first if k != "manifest.json")


def test_long_runs_refuses_an_unknown_command():
    out = _sh("scripts/long_runs.sh", "launch")
    assert out.returncode == 2 and "usage: bash scripts/long_runs.sh start|stop [CHAIN...]" in out.stderr
    wrong = _sh("scripts/long_runs.sh", "stop", "imb500")
    assert wrong.returncode == 2 and "unknown chain 'imb500' (chains: imb50 seed1 png100)" in wrong.stderr


_FAKE_PYTHON = r"""#!/usr/bin/env bash
# Stands in for python: the preset lookups and the fork watcher's manifest reads run for real; a training
# writes its manifest (IB: the fork epoch, then complete) and logs when it ends; the summary logs its call.
[ "$1" = -c ] && exec python3 "$@"
if [ "$1" = -m ]; then
  out=$(printf '%s\n' "$@" | grep -A1 -x -- --out | tail -1); mkdir -p "$out"
  case "$*" in
    *--fork-from*) sleep 1 ;;
    *) echo '{"epochs_completed": 31}' > "$out/manifest.json"; sleep 5 ;;
  esac
  echo '{"epochs_completed": 60, "status": "complete"}' > "$out/manifest.json"
  echo "end $(basename "$out")" >> "$FAKE_LOG"; exit 0
fi
echo "summary $(basename "$1")" >> "$FAKE_LOG"
"""


def _parallel_pair_with_a_stand_in_python(tmp_path):
    """The log the stand-in writes, and cpu_table1.sh's environment for one pair (imbalance 7) trained side by side."""
    fake = tmp_path / "python"
    fake.write_text(_FAKE_PYTHON)
    fake.chmod(0o755)
    log = tmp_path / "log"
    return log, {"RUNS": str(tmp_path / "runs"), "RECORDS": str(tmp_path / "records"), "PYTHON": str(fake),
                 "IMBS": "7", "SERIAL": "0", "FAKE_LOG": str(log)}


def test_a_parallel_pair_is_summarised_only_after_both_its_runs_end(tmp_path):
    # SERIAL=0 trains the Switching fork beside IB (long_runs.sh PARALLEL=1); the summary once ran as soon as
    # the pair had *started* its runs, so it skipped both as unfinished and the chain ended under them.
    log, env = _parallel_pair_with_a_stand_in_python(tmp_path)
    out = _sh("scripts/cpu_table1.sh", **env)
    assert out.returncode == 0, out.stderr
    events = log.read_text().split("\n")[:-1]
    assert sorted(events[:2]) == ["end c10-7-ib", "end c10-7-switching"], events
    assert events[2:] == ["summary table1_summary.py"], events
    assert (tmp_path / "runs" / "snap" / "c10-7-ib@31" / "manifest.json").is_file()   # the fork's copy


def test_runs_from_a_png_archive_are_named_apart_from_the_jpeg_runs(tmp_path):
    """The png100 chain trains the cell of a committed JPEG pair (imbalance 100, seed 0) on the lossless pixels:
    its runs (and so their snapshots and compacted_from names) must never share a name with the JPEG runs."""
    log, env = _parallel_pair_with_a_stand_in_python(tmp_path)
    out = _sh("scripts/cpu_table1.sh", **env, ARCHIVE=tmp_path / "cifar10-png.tar.xz")
    assert out.returncode == 0, out.stderr
    assert sorted(log.read_text().split("\n")[:2]) == ["end c10-7-ib-png", "end c10-7-switching-png"]
    assert (tmp_path / "runs" / "snap" / "c10-7-ib-png@31").is_dir()


def test_a_chain_survives_its_script_being_rewritten_under_it(tmp_path):
    """bash reads a script as it goes: a pull that rewrote cpu_table1.sh under a running chain once made it read
    the end from a shifted offset (a syntax error instead of the summary). The script is now read whole first."""
    import time
    script = tmp_path / "cpu_table1.sh"
    shutil.copy(REPO / "scripts" / "cpu_table1.sh", script)
    log, env = _parallel_pair_with_a_stand_in_python(tmp_path)
    env = {**os.environ, **env}
    proc = subprocess.Popen(["bash", str(script)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(2)                                                 # the runs are training (the stand-in sleeps)
    script.write_text("# " + "a longer header, as a newer version might have\n# " * 40 + "\n" + script.read_text())
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert log.read_text().split("\n")[-2] == "summary table1_summary.py"
