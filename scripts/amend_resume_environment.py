"""Write into a run record's resume entry an environment change that the resume did not see.

Before 2026-12-06 a resume compared only torch's CPU capability, so a run snapshotted on an AMD Zen 4
and continued on an Intel Xeon with AMX (both ``AVX512``) resumed without a word, and the manifest's
``environment`` was overwritten with the Xeon's: the record no longer said where its first epochs ran.
This adds to that resume entry what differed, taken from the environment the run had before (a
committed ``snapshot.json`` or an older ``manifest.json``), under ``other_environment_changes`` (the
fields the resume does not compare: the CPU model) and ``unrecorded_environment_fields`` (those it
now compares but the old environment did not state: oneDNN's ISA, the vendor), with a note saying
where they came from. The run's data are not touched; the manifest is resealed with its checksum.
Run it only on a stopped run (a training process rewrites its manifest every epoch).

    python scripts/amend_resume_environment.py RUN --after-epoch 84 \
        --old <(git show 08ad208:experiments/snapshots/c10-50-ib-full/snapshot.json) --source "snapshot 08ad208"
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ltbound.records import DETERMINISM_FIELDS, load_record, write_manifest
from ltbound.records.write import environment_changes, other_environment_changes


def amend(run: Path, after_epoch: int, old_env: dict, source: str) -> dict:
    """The amended resume entry (also written into ``run``'s manifest)."""
    manifest = load_record(run).manifest                     # verifies the record before anything is written
    entries = [e for e in manifest.get("resumes") or [] if e.get("after_epoch") == after_epoch]
    if not entries:
        raise SystemExit(f"{run} has no resume after epoch {after_epoch} "
                         f"(it has: {[e.get('after_epoch') for e in manifest.get('resumes') or []]})")
    entry, new_env = entries[0], manifest["environment"]
    if "amended" in entry:
        raise SystemExit(f"{run}: the resume after epoch {after_epoch} is amended already ({entry['amended']})")
    other = other_environment_changes(old_env, new_env)
    changed = environment_changes(old_env, new_env)
    unstated = {k: new_env[k] for k in DETERMINISM_FIELDS if k in new_env and k not in old_env}
    if changed != entry.get("environment_changes", {}):
        raise SystemExit(f"{run}: the entry's environment_changes {entry.get('environment_changes')} are not what "
                         f"the old environment gives ({changed}); is --old the environment before this resume?")
    if not other and not unstated:
        raise SystemExit(f"{run}: nothing differs from the old environment; nothing to amend")
    entry["other_environment_changes"] = other
    if unstated:
        entry["unrecorded_environment_fields"] = {k: [None, v] for k, v in unstated.items()}
    entry["amended"] = (f"{time.strftime('%Y-%m-%d', time.gmtime())}: added after the fact from {source}; "
                        "the resume compared only torch's CPU capability then")
    write_manifest(run, manifest)
    load_record(run)                                         # the resealed record reads back
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a stopped run record (epochs layout)")
    ap.add_argument("--after-epoch", type=int, required=True, help="the resume entry to amend")
    ap.add_argument("--old", required=True, help="a snapshot.json or manifest.json holding the environment before")
    ap.add_argument("--source", required=True, help="where --old comes from, for the note (e.g. 'snapshot 08ad208')")
    args = ap.parse_args(argv)
    old = json.loads(Path(args.old).read_text())
    if not isinstance(old.get("environment"), dict):
        ap.error(f"--old {args.old} has no 'environment' object; give a snapshot.json or a manifest.json")
    print(json.dumps(amend(args.run, args.after_epoch, old["environment"], args.source), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
