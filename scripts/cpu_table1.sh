#!/usr/bin/env bash
# Issue 15: the CIFAR-10-LT rows of Table 1 (IB only and Switching, imbalance 100 and 50, seed 0)
# on CPU with the 60-epoch `cifar-short` recipe, then compacted into experiments/records/.
#
# Switching uses IB through epoch 31 (m_n = 30, S = 1), so each Switching run is *forked* off its
# IB run at epoch 31 (`--fork-from`): the trainer copies the IB record's first 31 epochs and
# resume state, checks that settings, sampler and environment agree, and trains epochs 32-60
# with CR. The result is bitwise the record of a straight Switching run (tests/test_train_resume.py
# shows it on digits; on CIFAR the first two epochs of a straight Switching run and the IB run
# were compared file by file and were identical). That saves 62 of 240 epochs.
#
# Runs: one process per run, one thread each (OMP_NUM_THREADS=1), all four at once on 2 cores,
# resumable: rerun this script after an interruption and every run continues with --resume.
#   bash scripts/cpu_table1.sh                 # ~1.5-3 h of 2 cores, depending on other load
# Environment: ARCHIVE (default ../shared/data/cifar10-jpeg.tar.xz), RUNS (out/cpu_table1),
# RECORDS (experiments/records), PYTHON (python3), SEED (0; runs of another seed are named
# c10-IMB-SCHEDULE-seedN; from a PNG archive, -png is appended), IMBS (the imbalances, default "100 50"), NICE (niceness, default 0),
# PRESET (cifar-short; `cifar` is the paper's 200-epoch recipe, runs then named c10-IMB-SCHEDULE-full),
# SERIAL (0; 1 runs one process at a time: IB, then the Switching fork, imbalance after imbalance,
# so the runs hold one core however many there are).
# The paper's recipe on one core (issue 21; ~300 epochs of ~80 s per imbalance):
#   PRESET=cifar SERIAL=1 NICE=19 RUNS=/root/cifar-full/runs bash scripts/cpu_table1.sh
# Runs longer than a machine lives (issue 33): SNAPSHOTS=DIR (e.g. experiments/snapshots) restores
# every run of DIR that RUNS lacks before training (`python -m ltbound.train restore`, pointed at
# ARCHIVE; `bash scripts/cpu_table1.sh restore` does only that), and `bash scripts/cpu_table1.sh pack`
# writes a snapshot of every unfinished run of RUNS
# (and of the IB copy a Switching fork still waits for, not one a fork has started from) into SNAPSHOTS, to commit. ALLOW_ENV_CHANGE=1
# lets the runs continue on another kind of CPU (recorded in each manifest's resumes). EXTRA: more trainer
# arguments for runs started anew (e.g. EXTRA="--eval-precision bf16"; a run that exists continues as recorded).
set -euo pipefail
{   # read whole before it runs: a checkout or pull that rewrites this file under a running chain
    # cannot make bash read the rest from a shifted offset (it once ended a chain in a syntax error)
ARCHIVE=$(realpath -m "${ARCHIVE:-../shared/data/cifar10-jpeg.tar.xz}")   # -m: pack and status need no data
RUNS=$(realpath -m "${RUNS:-out/cpu_table1}")
RECORDS=${RECORDS:-experiments/records}
PY=${PYTHON:-python3}
SEED=${SEED:-0}
IMBS=${IMBS:-100 50}
NICE=${NICE:-0}
PRESET=${PRESET:-cifar-short}
SERIAL=${SERIAL:-0}
SNAPSHOTS=${SNAPSHOTS:-}
ALLOW_ENV_CHANGE=${ALLOW_ENV_CHANGE:-0}
read -r -a EXTRA_ARGS <<< "${EXTRA:-}"
SFX=""; [ "$PRESET" = cifar ] && SFX="-full"; [ "$SEED" != 0 ] && SFX="$SFX-seed$SEED"
# runs on the lossless PNG pixels never share a folder (or a snapshot name) with the JPEG runs of a cell
case "$(basename "$ARCHIVE")" in *png*) SFX="$SFX-png" ;; esac
mkdir -p "$RUNS/logs" "$RUNS/snap"
# The fork point (last IB epoch, m_n + S) and the checkpointed epochs (Θ̂: the final stage, from
# the last learning-rate milestone to the end) come from the preset, not from typed numbers.
read -r FORK CKPT < <("$PY" -c "
from ltbound.schedule import PRESETS, get_schedule
r = PRESETS['$PRESET']; s = get_schedule('switching', r)
print(s.phases[1].start_epoch - 1, ','.join(['switch', 'end'] + [str(e) for e in range(r.milestones[-1], r.epochs + 1)]))")

pack_all() {   # a snapshot of every unfinished run (and waiting fork copy) into SNAPSHOTS
  [ -n "$SNAPSHOTS" ] || { echo "pack: set SNAPSHOTS=DIR (e.g. experiments/snapshots)" >&2; exit 2; }
  for run in "$RUNS"/c10-* "$RUNS"/snap/c10-*; do
    [ -f "$run/manifest.json" ] || continue
    grep -q '"status": "complete"' "$run/manifest.json" && continue   # complete: compact and commit it instead
    local carry=none
    if [ "$(basename "$(dirname "$run")")" = snap ]; then
      carry=all                                               # the copy a fork starts from keeps its checkpoints
      local fork; fork=$(basename "$run"); fork=${fork%@*}          # c10-50-ib-full@101 -> c10-50-switching-full
      [ -f "$RUNS/${fork/-ib/-switching}/manifest.json" ] && continue   # the fork has started from it: not needed
    fi
    "$PY" -m ltbound.train pack "$run" "$SNAPSHOTS/$(basename "$run")" --checkpoints "$carry"
  done
}

restore_missing() {   # runs of SNAPSHOTS that RUNS lacks, laid out again before anything trains
  [ -n "$SNAPSHOTS" ] && [ -d "$SNAPSHOTS" ] || return 0
  for s in "$SNAPSHOTS"/c10-*; do
    [ -f "$s/snapshot.json" ] || continue
    local name; name=$(basename "$s")
    local dst="$RUNS/$name"; case "$name" in *@*) dst="$RUNS/snap/$name";; esac
    [ -e "$dst" ] || "$PY" -m ltbound.train restore "$s" "$dst" --data-dir "$ARCHIVE"
  done
}

if [ "${1:-}" = pack ]; then pack_all; exit 0; fi
if [ "${1:-}" = restore ]; then restore_missing; exit 0; fi   # lay out SNAPSHOTS' runs only, train nothing
restore_missing

train() {   # train IMB SCHEDULE OUT [extra...]
  local imb=$1 sch=$2 out=$3; shift 3
  if [ -f "$out/manifest.json" ]; then
    # A run that exists continues as recorded: --out and --resume alone (its record holds the settings
    # and the data path it was started or restored with; restating them could only disagree).
    local resume=(--resume); [ "$ALLOW_ENV_CHANGE" = 1 ] && resume+=(--allow-env-change)
    OMP_NUM_THREADS=1 nice -n "$NICE" "$PY" -m ltbound.train --out "$out" --no-progress "${resume[@]}" \
      >> "$RUNS/logs/$(basename "$out").log" 2>&1
    return
  fi
  OMP_NUM_THREADS=1 nice -n "$NICE" "$PY" -m ltbound.train --dataset cifar10-lt --data-dir "$ARCHIVE" --imbalance "$imb" \
    --preset "$PRESET" --schedule "$sch" --seed "$SEED" --split-seed 0 --device cpu --checkpoint-epochs "$CKPT" \
    --no-progress --out "$out" "${EXTRA_ARGS[@]}" "$@" >> "$RUNS/logs/$(basename "$out").log" 2>&1
}

snapshot_at() {   # copy RUN once its record holds EPOCH epochs (state.pt is then at EPOCH too)
  local run=$1 epoch=$2 dst=$3
  until [ -d "$dst" ]; do
    n=$("$PY" -c "import json; print(json.load(open('$run/manifest.json'))['epochs_completed'])" 2>/dev/null || echo 0)
    if [ "$n" = "$epoch" ]; then cp -a "$run" "$dst.tmp" && mv "$dst.tmp" "$dst"; fi
    if [ "$n" -gt "$epoch" ] && [ ! -d "$dst" ]; then echo "missed the fork point of $run" >&2; return 1; fi
    sleep 3
  done
}

pair() {   # pair IMB: the IB run, and Switching forked off its snapshot at the fork epoch
  local imb=$1
  local ib="$RUNS/c10-$imb-ib$SFX" sw="$RUNS/c10-$imb-switching$SFX" snap="$RUNS/snap/c10-$imb-ib$SFX@$FORK"
  if [ "$SERIAL" = 1 ]; then
    if [ ! -f "$sw/manifest.json" ]; then
      # The snapshot watcher only copies; IB trains alone, then Switching continues from the copy.
      if [ ! -d "$snap" ]; then ( snapshot_at "$ib" "$FORK" "$snap" ) & local w=$!; fi
      train "$imb" ib "$ib"
      [ -n "${w:-}" ] && wait "$w"
      train "$imb" switching "$sw" --fork-from "$snap"
    else
      train "$imb" ib "$ib"; train "$imb" switching "$sw"
    fi
    return
  fi
  ( train "$imb" ib "$ib" ) &
  if [ ! -f "$sw/manifest.json" ]; then
    ( snapshot_at "$ib" "$FORK" "$snap" && train "$imb" switching "$sw" --fork-from "$snap" ) &
  else
    ( train "$imb" switching "$sw" ) &
  fi
  wait   # both runs of the pair: the summary below must not start before they end
}
for imb in $IMBS; do
  if [ "$SERIAL" = 1 ]; then pair "$imb"; else pair "$imb" & fi
done
wait
"$PY" experiments/table1_summary.py --runs "$RUNS"/c10-*-ib$SFX "$RUNS"/c10-*-switching$SFX --records "$RECORDS"
exit
}
