#!/usr/bin/env bash
# The long CPU runs of issue 33 (Table 1's 200-epoch CPU rows), session by session.
#
#   bash scripts/long_runs.sh start    # first thing in a session: restore what RUNS lacks, start both chains
#   bash scripts/long_runs.sh start seed1   # ... or only the chains named
#   bash scripts/long_runs.sh stop seed1    # end a chain and its trainings (they resume exactly; the epoch
#                                           # under way is lost); `start` it again to continue
#   bash scripts/long_runs.sh status   # epoch reached by every run, and whether its process is alive
#   bash scripts/long_runs.sh pause    # SIGSTOP every training (for a timing or the test suite) ...
#   bash scripts/long_runs.sh cont     # ... and SIGCONT
#   bash scripts/long_runs.sh pack     # last thing in a session: snapshot every unfinished run, then commit
#
# Chains (each one process, one thread, on whichever core is free; `scripts/cpu_table1.sh`, SERIAL=1):
#   imb50  CIFAR-10-LT(50), seed 0, float32 evaluation (pairs with the committed imbalance-100 seed-0 pair):
#          IB to epoch 200, then Switching forked off its epoch-101 copy.
#   seed1  CIFAR-10-LT(100), seed 1, bf16 evaluation (docs/benchmarks.md: 1.4x per epoch; what it changes
#          is measured there): IB, then its Switching fork.
#   png100 CIFAR-10-LT(100), seed 0, trained on the lossless PNG pixels (PNG_ARCHIVE, default
#          ../shared/data/cifar10-png.tar.xz; its 1,000 test images), bf16 evaluation: how much of the gap to
#          Table 1 the data closes at 200 epochs (docs/cifar-cpu.md). Runs named c10-100-*-full-png.
# A chain whose runs are complete compacts them into experiments/records/ (table1_summary) and exits.
# Each chain runs under autogroup niceness 19 (setsid makes a new autogroup, where `nice` alone has no
# effect against other sessions' work), so tests and builds take the cores first.
# Environment: RUNS (/root/cifar-full/runs), SNAPSHOTS (experiments/snapshots), ARCHIVE (cpu_table1.sh's
# default, the JPEG archive), ALLOW_ENV_CHANGE (1 to continue on another kind of CPU; recorded),
# PARALLEL (1: the chains started train the Switching fork beside IB's epochs 102-200 instead of after
# them, two processes per chain; the records are the same, the pair ends sooner when a core is free).
set -euo pipefail
{   # read whole before it runs: a checkout or pull that rewrites this file under a running chain
    # cannot make bash read the rest from a shifted offset (it once ended a chain in a syntax error)
cd "$(dirname "$0")/.."
RUNS=${RUNS:-/root/cifar-full/runs}
SNAPSHOTS=${SNAPSHOTS:-experiments/snapshots}
SERIAL=1; [ "${PARALLEL:-0}" = 1 ] && SERIAL=0
export RUNS PRESET=cifar SERIAL NICE=19
mkdir -p "$RUNS/logs"

chain_vars() {   # chain_vars NAME: the environment of one chain, into the array vars
  case "$1" in
    imb50) vars=(IMBS=50 SEED=0) ;;
    seed1) vars=(IMBS=100 SEED=1 "EXTRA=--eval-precision bf16") ;;
    png100) vars=(IMBS=100 SEED=0 "ARCHIVE=${PNG_ARCHIVE:-../shared/data/cifar10-png.tar.xz}"
                  "EXTRA=--eval-precision bf16") ;;
  esac
}

CHAINS=(imb50 seed1 png100)
trainings() { pgrep -f "ltbound.train .*--out $RUNS/" || true; }
chosen() {   # the chains named after the command (all by default), checked
  names=("${@:-${CHAINS[@]}}")
  for n in "${names[@]}"; do
    case " ${CHAINS[*]} " in *" $n "*) ;; *) echo "unknown chain '$n' (chains: ${CHAINS[*]})" >&2; exit 2;; esac
  done
}
alive() { [ -f "$RUNS/logs/chain-$1.pid" ] && kill -0 "$(cat "$RUNS/logs/chain-$1.pid")" 2> /dev/null; }

case "${1:-status}" in
  start)
    SNAPSHOTS="$SNAPSHOTS" bash scripts/cpu_table1.sh restore      # once, before any chain (no race)
    shift; chosen "$@"
    for name in "${names[@]}"; do
      if alive "$name"; then echo "$name: already running"; continue; fi
      chain_vars "$name"
      setsid nohup env "${vars[@]}" bash scripts/cpu_table1.sh >> "$RUNS/logs/chain-$name.log" 2>&1 < /dev/null &
      echo $! > "$RUNS/logs/chain-$name.pid"
      sleep 1        # let setsid() make the chain's own autogroup before it is niced (else the shell's is)
      echo 19 > "/proc/$!/autogroup" 2>/dev/null || true
      echo "$name: started (pid $!, log $RUNS/logs/chain-$name.log)"
    done ;;
  status)
    for m in "$RUNS"/c10-*/manifest.json; do
      [ -f "$m" ] || continue
      python3 - "$m" <<'PY'
import json, statistics, sys
m = json.load(open(sys.argv[1]))
# the time left at the median pace of the last 10 epochs (training + evaluation, wall seconds)
recent = [float(h.get("seconds") or 0) + float(h.get("eval_seconds") or 0) for h in m.get("history", [])[-10:]]
left = (m["epochs_planned"] or 0) - m["epochs_completed"]
pace = (f", {statistics.median(recent):.0f} s per epoch lately, about {left * statistics.median(recent) / 3600:.1f} h "
        f"to go on one core" if recent and left > 0 else "")
print(f"{sys.argv[1].split('/')[-2]:<32} epoch {m['epochs_completed']:>3}/{m['epochs_planned']} {m['status']} "
      f"eval {m['environment'].get('eval_precision', 'float32')}{pace}")
PY
    done
    for name in "${CHAINS[@]}"; do alive "$name" && echo "chain $name: running" || echo "chain $name: not running"; done
    echo "trainings alive: $(trainings | wc -l)" ;;
  stop)
    shift; chosen "$@"
    for name in "${names[@]}"; do
      # setsid made each chain a session of its own: its scripts, trainings and fork watcher end together.
      if alive "$name"; then pkill -TERM -s "$(cat "$RUNS/logs/chain-$name.pid")" || true; echo "$name: stopped"
      else echo "$name: not running"; fi
    done ;;
  pause) for p in $(trainings); do kill -STOP "$p"; done; echo "paused: $(trainings | tr '\n' ' ')" ;;
  cont) for p in $(trainings); do kill -CONT "$p"; done; echo "continued: $(trainings | tr '\n' ' ')" ;;
  pack) SNAPSHOTS="$SNAPSHOTS" bash scripts/cpu_table1.sh pack ;;
  *) echo "usage: bash scripts/long_runs.sh start|stop [CHAIN...] | status|pause|cont|pack" >&2; exit 2 ;;
esac
exit
}
