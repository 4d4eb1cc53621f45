"""Committed snapshots of unfinished runs (experiments/snapshots/) are intact and described (issue 33)."""
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = ROOT / "experiments" / "snapshots"
FOUND = sorted(p for p in SNAPSHOTS.glob("*") if (p / "snapshot.json").is_file())


@pytest.mark.skipif(not FOUND, reason="no snapshot is committed (every long run is complete or none was started)")
@pytest.mark.parametrize("snap", FOUND, ids=[p.name for p in FOUND])
def test_committed_snapshot_is_intact_unfinished_and_listed(snap):
    from ltbound.records.format import read_manifest
    from ltbound.train.runs.snapshot import read_snapshot
    index = read_snapshot(snap)                             # every file's size and SHA-256
    manifest = read_manifest(snap)                          # the manifest's own checksum
    assert manifest["status"] != "complete", "a complete run is compacted into experiments/records/, not snapshotted"
    assert index["epochs_completed"] == manifest["epochs_completed"] == len(manifest["history"])
    readme = (SNAPSHOTS / "README.md").read_text()
    assert f"| {snap.name} |" in readme and f"| {index['epochs_completed']} |" in readme, \
        "experiments/snapshots/README.md lists each snapshot with the epoch it reached"
    assert json.loads((snap / "manifest.json").read_text())["config"]["data_dir"]
